import { addBindingCommand } from "../../iam-commands.js";
import { projectTarget } from "./target.js";

export default addBindingCommand(projectTarget);
