import { addBindingCommand } from "../../../iam-commands.js";
import { saTarget } from "./target.js";

export default addBindingCommand(saTarget);
