import { getIamPolicyCommand } from "../../iam-commands.js";
import { projectTarget } from "./target.js";

export default getIamPolicyCommand(projectTarget);
