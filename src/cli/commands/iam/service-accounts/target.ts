import { seg } from "../../../api.js";
import type { PolicyTarget } from "../../../iam-commands.js";

export const SA_POSITIONAL = {
  name: "SERVICE_ACCOUNT",
  help: "Email (NAME@PROJECT.iam.gserviceaccount.com) or unique ID of the service account.",
};

export function saPath(idOrEmail: string): string {
  return `/v1/projects/-/serviceAccounts/${seg(idOrEmail)}`;
}

export const saTarget: PolicyTarget = {
  kind: "serviceAccount",
  noun: "service account",
  positional: SA_POSITIONAL,
  resourcePath: (_ctx, id) => saPath(id),
  commandPrefix: "warrant iam service-accounts",
  exampleId: "app@my-project.iam.gserviceaccount.com",
};

export const SA_COLUMNS = "displayName:label='DISPLAY NAME', email, disabled";
