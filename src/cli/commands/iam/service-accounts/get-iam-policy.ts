import { getIamPolicyCommand } from "../../../iam-commands.js";
import { saTarget } from "./target.js";

export default getIamPolicyCommand(saTarget);
