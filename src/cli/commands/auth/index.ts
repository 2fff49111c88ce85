import { group } from "../../spec.js";
import applicationDefault from "./application-default/index.js";
import list from "./list.js";
import login from "./login.js";
import printAccessToken from "./print-access-token.js";
import printIdentityToken from "./print-identity-token.js";

export default group({
  name: "auth",
  summary: "manage the credentials the CLI uses",
  children: [login, list, printAccessToken, printIdentityToken, applicationDefault],
});
