import { group } from "../../spec.js";
import explain from "./explain.js";
import roles from "./roles/index.js";
import serviceAccounts from "./service-accounts/index.js";

export default group({
  name: "iam",
  summary: "manage service accounts and roles; explain IAM decisions",
  children: [serviceAccounts, roles, explain],
});
