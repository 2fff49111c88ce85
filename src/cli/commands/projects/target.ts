import { seg } from "../../api.js";
import type { PolicyTarget } from "../../iam-commands.js";

export const PROJECT_POSITIONAL = { name: "PROJECT_ID", help: "ID of the project, e.g. my-project." };

export const projectTarget: PolicyTarget = {
  kind: "project",
  noun: "project",
  positional: PROJECT_POSITIONAL,
  resourcePath: (_ctx, id) => `/v1/projects/${seg(id)}`,
  commandPrefix: "warrant projects",
  exampleId: "my-project",
};

export const PROJECT_COLUMNS = "projectId:label=PROJECT_ID, name, projectNumber:label=PROJECT_NUMBER";
