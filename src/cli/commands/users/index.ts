import { group } from "../../spec.js";
import create from "./create.js";
import del from "./delete.js";
import describe from "./describe.js";
import disable from "./disable.js";
import enable from "./enable.js";
import list from "./list.js";
import setPassword from "./set-password.js";

export default group({
  name: "users",
  summary: "manage the installation's human users",
  description:
    "The user directory: a `user:EMAIL` token works only while EMAIL is an active user here. Grant users " +
    "roles with the usual add-iam-policy-binding commands; give one a credential on their machine with " +
    "`warrant auth application-default login --user EMAIL`.",
  children: [create, list, describe, disable, enable, setPassword, del],
});
