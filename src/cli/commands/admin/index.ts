import { group } from "../../spec.js";
import keys from "./keys/index.js";

export default group({ name: "admin", summary: "administer the Warrant installation", children: [keys] });
