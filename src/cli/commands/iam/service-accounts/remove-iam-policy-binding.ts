import { removeBindingCommand } from "../../../iam-commands.js";
import { saTarget } from "./target.js";

export default removeBindingCommand(saTarget);
