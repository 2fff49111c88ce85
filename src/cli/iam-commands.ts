import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import YAML from "yaml";
import { CliError } from "./errors.js";
import { isDebug } from "./io.js";
import {
  addBinding,
  checkMember,
  checkRole,
  type Expr,
  type Policy,
  parseCondition,
  readModifyWrite,
  removeBinding,
} from "./policy.js";
import {
  type CommandContext,
  type CommandSpec,
  command,
  type FlagSpec,
  type PositionalSpec,
} from "./spec.js";

/** A resource with getIamPolicy/setIamPolicy methods (a project, a service account). */
export interface PolicyTarget {
  /** As gcloud prints it: "project", "serviceAccount". */
  kind: string;
  /** Human noun for help text. */
  noun: string;
  positional: PositionalSpec;
  /** API path of the resource, without the `:getIamPolicy` suffix. */
  resourcePath(ctx: CommandContext, id: string): string;
  /** e.g. "warrant projects" */
  commandPrefix: string;
  exampleId: string;
}

const REQUESTED_POLICY_VERSION = 3;

export async function getPolicy(ctx: CommandContext, path: string): Promise<Policy> {
  return ctx.session.api().request<Policy>("POST", `${path}:getIamPolicy`, {
    body: { options: { requestedPolicyVersion: REQUESTED_POLICY_VERSION } },
  });
}

export async function setPolicy(ctx: CommandContext, path: string, policy: Policy): Promise<Policy> {
  return ctx.session.api().request<Policy>("POST", `${path}:setIamPolicy`, { body: { policy } });
}

const memberFlag: FlagSpec = {
  name: "member",
  type: "string",
  required: true,
  metavar: "PRINCIPAL",
  help: "The principal, with its type prefix: user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers, allAuthenticatedUsers.",
};
const roleFlag: FlagSpec = {
  name: "role",
  type: "string",
  required: true,
  help: "Role name: roles/NAME (predefined) or projects/PROJECT/roles/ID (custom).",
};
const conditionFlag: FlagSpec = {
  name: "condition",
  type: "string",
  metavar: "KEY=VALUE,...",
  help: "Condition of the binding: `None` (default) or expression=EXPR,title=TITLE[,description=DESC].",
};

async function updateBindings(
  ctx: CommandContext,
  t: PolicyTarget,
  modify: (p: Policy) => Policy,
): Promise<number> {
  const id = ctx.arg(t.positional.name);
  const path = t.resourcePath(ctx, id);
  const policy = await readModifyWrite(
    () => getPolicy(ctx, path),
    modify,
    (p) => setPolicy(ctx, path, p),
    {
      onRetry: (attempt) => {
        if (isDebug(ctx.rt.env))
          ctx.status(`DEBUG: policy changed concurrently (attempt ${attempt}); retrying`);
      },
    },
  );
  ctx.status(`Updated IAM policy for ${t.kind} [${id}].`);
  ctx.out.one(policy);
  return 0;
}

export function getIamPolicyCommand(t: PolicyTarget): CommandSpec {
  return command({
    name: "get-iam-policy",
    summary: `get the IAM policy of a ${t.noun}`,
    description: `Prints the ${t.noun}'s IAM policy (requested version 3): bindings of roles to principals, and the etag used for safe updates.`,
    positionals: [t.positional],
    examples: [
      `${t.commandPrefix} get-iam-policy ${t.exampleId}`,
      `${t.commandPrefix} get-iam-policy ${t.exampleId} --format='value(bindings.role)'`,
    ],
    async run(ctx) {
      ctx.out.one(await getPolicy(ctx, t.resourcePath(ctx, ctx.arg(t.positional.name))));
      return 0;
    },
  });
}

export function readPolicyFile(file: string, cwd: string): Policy {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), "utf8");
  } catch (e) {
    throw new CliError(`Cannot read policy file ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (e) {
    throw new CliError(`Policy file ${file} is neither JSON nor YAML: ${(e as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new CliError(`Policy file ${file} must hold a policy object ({bindings: [...], etag: ...}).`);
  }
  const obj = data as Record<string, unknown>;
  // Accept a setIamPolicy request body ({"policy": {...}}) too.
  if (obj.policy && typeof obj.policy === "object" && !("bindings" in obj)) return obj.policy as Policy;
  return obj as Policy;
}

export function setIamPolicyCommand(t: PolicyTarget): CommandSpec {
  return command({
    name: "set-iam-policy",
    summary: `set the IAM policy of a ${t.noun} from a JSON or YAML file`,
    description:
      "Replaces the whole policy. Include the etag from get-iam-policy so that a concurrent change is " +
      "rejected (HTTP 409) instead of silently overwritten; without an etag the policy is overwritten.",
    positionals: [t.positional, { name: "POLICY_FILE", help: "JSON or YAML file holding the policy." }],
    examples: [
      `${t.commandPrefix} get-iam-policy ${t.exampleId} --format=json > policy.json`,
      `${t.commandPrefix} set-iam-policy ${t.exampleId} policy.json`,
    ],
    async run(ctx) {
      const id = ctx.arg(t.positional.name);
      const policy = readPolicyFile(ctx.arg("POLICY_FILE"), ctx.rt.cwd);
      if (!policy.etag) ctx.status("WARNING: the policy has no etag; it will overwrite the current policy.");
      const result = await setPolicy(ctx, t.resourcePath(ctx, id), policy);
      ctx.status(`Updated IAM policy for ${t.kind} [${id}].`);
      ctx.out.one(result);
      return 0;
    },
  });
}

export function addBindingCommand(t: PolicyTarget): CommandSpec {
  return command({
    name: "add-iam-policy-binding",
    summary: `add an IAM policy binding to a ${t.noun}`,
    description:
      "Reads the policy, adds the principal to the binding for the role (and condition), and writes it " +
      "back with the etag it read. If another writer changed the policy in between (HTTP 409 ABORTED), the " +
      "read-modify-write is retried with jittered backoff, so concurrent invocations all land.",
    positionals: [t.positional],
    flags: [memberFlag, roleFlag, conditionFlag],
    examples: [
      `${t.commandPrefix} add-iam-policy-binding ${t.exampleId} --member=user:alice@example.com --role=roles/viewer`,
      `${t.commandPrefix} add-iam-policy-binding ${t.exampleId} --member=serviceAccount:app@${t.exampleId.replace(/@.*/, "")}.iam.gserviceaccount.com --role=roles/storage.objectAdmin`,
    ],
    async run(ctx) {
      const member = checkMember(ctx.str("member")!);
      const role = checkRole(ctx.str("role")!);
      const condition = parseCondition(ctx.str("condition"));
      return updateBindings(ctx, t, (p) => addBinding(p, member, role, condition));
    },
  });
}

export function removeBindingCommand(t: PolicyTarget): CommandSpec {
  return command({
    name: "remove-iam-policy-binding",
    summary: `remove an IAM policy binding from a ${t.noun}`,
    description:
      "Reads the policy, removes the principal from the binding for the role (and condition), and writes it " +
      "back with the etag it read, retrying on concurrent changes like add-iam-policy-binding.",
    positionals: [t.positional],
    flags: [
      memberFlag,
      roleFlag,
      conditionFlag,
      {
        name: "all",
        type: "boolean",
        help: "Remove the principal from the role's bindings under any condition.",
      },
    ],
    examples: [
      `${t.commandPrefix} remove-iam-policy-binding ${t.exampleId} --member=user:alice@example.com --role=roles/viewer`,
    ],
    async run(ctx) {
      const member = checkMember(ctx.str("member")!);
      const role = checkRole(ctx.str("role")!);
      const condition: Expr | "all" | undefined = ctx.bool("all")
        ? "all"
        : parseCondition(ctx.str("condition"));
      return updateBindings(ctx, t, (p) => removeBinding(p, member, role, condition));
    },
  });
}
