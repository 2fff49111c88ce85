import { group } from "../../../spec.js";
import login from "./login.js";
import revoke from "./revoke.js";

export default group({
  name: "application-default",
  summary: "manage Application Default Credentials for users of this installation",
  description:
    "Write (login) and revoke an `authorized_user` credential in the file that Application Default " +
    "Credentials read, as `gcloud auth application-default` does, issued by this Warrant server.",
  children: [login, revoke],
});
