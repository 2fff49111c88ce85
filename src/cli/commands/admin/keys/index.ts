import { group } from "../../../spec.js";
import list from "./list.js";
import rotate from "./rotate.js";

export default group({
  name: "keys",
  summary: "manage the token-signing key ring",
  children: [list, rotate],
});
