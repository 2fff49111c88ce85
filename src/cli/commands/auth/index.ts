import { group } from "../../spec.js";
import printAccessToken from "./print-access-token.js";

export default group({
  name: "auth",
  summary: "manage the credentials the CLI uses",
  children: [printAccessToken],
});
