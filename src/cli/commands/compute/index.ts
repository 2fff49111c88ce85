import { group } from "../../spec.js";
import instances from "./instances/index.js";

export default group({
  name: "compute",
  summary: "manage Compute Engine resources",
  children: [instances],
});
