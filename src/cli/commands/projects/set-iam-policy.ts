import { setIamPolicyCommand } from "../../iam-commands.js";
import { projectTarget } from "./target.js";

export default setIamPolicyCommand(projectTarget);
