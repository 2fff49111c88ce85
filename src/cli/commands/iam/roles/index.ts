import { group } from "../../../spec.js";
import create from "./create.js";
import describe from "./describe.js";
import list from "./list.js";

export default group({
  name: "roles",
  summary: "list and inspect predefined roles; create custom roles",
  children: [list, describe, create],
});
