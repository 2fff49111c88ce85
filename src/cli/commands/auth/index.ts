import { group } from "../../spec.js";
import applicationDefault from "./application-default/index.js";
import printAccessToken from "./print-access-token.js";

export default group({
  name: "auth",
  summary: "manage the credentials the CLI uses",
  children: [printAccessToken, applicationDefault],
});
