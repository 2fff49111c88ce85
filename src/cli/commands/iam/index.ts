import { group } from "../../spec.js";
import explain from "./explain.js";
import roles from "./roles/index.js";
import serviceAccounts from "./service-accounts/index.js";
import workloadIdentityPools from "./workload-identity-pools/index.js";

export default group({
  name: "iam",
  summary: "manage service accounts, roles and workload identity pools; explain IAM decisions",
  children: [serviceAccounts, roles, workloadIdentityPools, explain],
});
