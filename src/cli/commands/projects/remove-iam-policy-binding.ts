import { removeBindingCommand } from "../../iam-commands.js";
import { projectTarget } from "./target.js";

export default removeBindingCommand(projectTarget);
