import { group } from "../../../../spec.js";
import create from "./create.js";
import del from "./delete.js";
import list from "./list.js";

export default group({
  name: "keys",
  summary: "manage service-account keys (JSON key files)",
  children: [create, list, del],
});
