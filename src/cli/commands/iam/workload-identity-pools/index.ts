import { group } from "../../../spec.js";
import create from "./create.js";
import createCredConfig from "./create-cred-config.js";
import del from "./delete.js";
import describe from "./describe.js";
import list from "./list.js";
import providers from "./providers/index.js";
import undelete from "./undelete.js";

export default group({
  name: "workload-identity-pools",
  summary: "manage workload identity pools and providers; write external_account credential files",
  children: [create, describe, list, del, undelete, providers, createCredConfig],
});
