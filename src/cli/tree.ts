import admin from "./commands/admin/index.js";
import agent from "./commands/agent.js";
import auth from "./commands/auth/index.js";
import ca from "./commands/ca/index.js";
import compute from "./commands/compute/index.js";
import config from "./commands/config/index.js";
import doctor from "./commands/doctor.js";
import env from "./commands/env.js";
import groups from "./commands/groups/index.js";
import { makeHelpCommand } from "./commands/help.js";
import iam from "./commands/iam/index.js";
import logs from "./commands/logs/index.js";
import projects from "./commands/projects/index.js";
import serve from "./commands/serve.js";
import storage from "./commands/storage/index.js";
import users from "./commands/users/index.js";
import version from "./commands/version.js";
import { type GroupSpec, group } from "./spec.js";

export const ROOT: GroupSpec = group({
  name: "warrant",
  summary: "self-hosted Google Cloud IAM and Compute Engine service-account auth",
  description:
    'Run a server with `warrant serve`, point your shell at it with `eval "$(warrant env)"`, then use the ' +
    "gcloud-style commands below (or the real gcloud, via `warrant env --gcloud`).",
  children: [
    serve,
    agent,
    env,
    projects,
    iam,
    users,
    groups,
    compute,
    storage,
    auth,
    logs,
    ca,
    admin,
    config,
    doctor,
    makeHelpCommand(() => ROOT),
    version,
  ],
});
