import { setIamPolicyCommand } from "../../../iam-commands.js";
import { saTarget } from "./target.js";

export default setIamPolicyCommand(saTarget);
