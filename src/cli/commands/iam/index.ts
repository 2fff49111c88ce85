import { group } from "../../spec.js";
import roles from "./roles/index.js";
import serviceAccounts from "./service-accounts/index.js";

export default group({
  name: "iam",
  summary: "manage service accounts and roles",
  children: [serviceAccounts, roles],
});
