/**
 * `warrant projects import`: recreates a real project's IAM in Warrant from what the real gcloud
 * prints — `gcloud projects get-iam-policy P --format=json`, `gcloud iam service-accounts list
 * --format=json`, `gcloud iam roles list --project P --format=json` (or `describe` output, which
 * carries permissions) and `gcloud iam policies list|get … --kind=denypolicies --format=json`.
 * `planImport` decides, without I/O, what can be carried over and why the rest cannot; `applyImport`
 * makes the calls. Accounts are recreated without keys (their unique ids are Warrant's own).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import YAML from "yaml";
import { conditionError } from "../domain/iam/condition.js";
import { validateDenyPolicy } from "../domain/iam/deny.js";
import { parseMember } from "../domain/iam/members.js";
import type { Binding } from "../domain/iam/policy.js";
import { KNOWN_PERMISSIONS, parseCustomRoleName, predefinedRole } from "../domain/iam/roles.js";
import type { ApiClient } from "./api.js";
import { ApiError, CliError } from "./errors.js";
import { type LroOperation, waitLro } from "./operations.js";

export interface ImportInputs {
  policy?: unknown;
  serviceAccounts?: unknown;
  roles?: unknown;
  denyPolicies?: unknown;
}

export interface ImportPlan {
  projectId: string;
  serviceAccounts: {
    accountId: string;
    email: string;
    displayName?: string;
    description?: string;
    disabled: boolean;
  }[];
  roles: {
    roleId: string;
    title?: string;
    description?: string;
    stage?: string;
    includedPermissions: string[];
  }[];
  bindings: Binding[];
  denyPolicies: { policyId: string; body: Record<string, unknown> }[];
  /** What was not carried over, one sentence each. */
  skipped: string[];
}

const BASIC_ROLES = new Set(["roles/owner", "roles/editor", "roles/viewer"]);

export function readExport(file: string, cwd: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), "utf8");
  } catch (e) {
    throw new CliError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return YAML.parse(text);
  } catch (e) {
    throw new CliError(`${file} is neither JSON nor YAML: ${(e as Error).message}`);
  }
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function planImport(projectId: string, inputs: ImportInputs): ImportPlan {
  const plan: ImportPlan = {
    projectId,
    serviceAccounts: [],
    roles: [],
    bindings: [],
    denyPolicies: [],
    skipped: [],
  };
  const skip = (s: string) => plan.skipped.push(s);

  // Service accounts: those of the project (`NAME@PROJECT.iam.gserviceaccount.com`) only.
  const saSuffix = `@${projectId}.iam.gserviceaccount.com`;
  if (inputs.serviceAccounts !== undefined) {
    const list = Array.isArray(inputs.serviceAccounts)
      ? inputs.serviceAccounts
      : obj(inputs.serviceAccounts)?.accounts;
    if (!Array.isArray(list))
      throw new CliError(
        "The service accounts file must hold the JSON list `gcloud iam service-accounts list --format=json` prints.",
      );
    for (const raw of list) {
      const a = obj(raw);
      const email = str(a?.email)?.toLowerCase();
      if (!email) {
        skip("a service-account entry without an email");
        continue;
      }
      if (!email.endsWith(saSuffix)) {
        skip(
          `service account ${email}: not a user-managed account of project ${projectId} (Google-managed and default accounts are not recreated)`,
        );
        continue;
      }
      const accountId = email.slice(0, -saSuffix.length);
      if (!/^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/.test(accountId)) {
        skip(`service account ${email}: account id '${accountId}' is not valid in Warrant`);
        continue;
      }
      plan.serviceAccounts.push({
        accountId,
        email,
        ...(str(a?.displayName) ? { displayName: str(a?.displayName) } : {}),
        ...(str(a?.description) ? { description: str(a?.description) } : {}),
        disabled: a?.disabled === true,
      });
    }
    if (plan.serviceAccounts.length > 0)
      skip(
        `service-account keys and unique ids: the ${plan.serviceAccounts.length} account(s) are recreated with new unique ids and no keys (create keys with \`warrant iam service-accounts keys create\`)`,
      );
  }

  // Custom roles: need their permissions (`roles describe` output, or a list with --format=json of FULL roles).
  const roleNames = new Set<string>();
  if (inputs.roles !== undefined) {
    const list = Array.isArray(inputs.roles) ? inputs.roles : obj(inputs.roles)?.roles;
    if (!Array.isArray(list))
      throw new CliError(
        "The roles file must hold the JSON list `gcloud iam roles list --project P --format=json` prints.",
      );
    for (const raw of list) {
      const r = obj(raw);
      const name = str(r?.name) ?? "";
      const parsed = parseCustomRoleName(name);
      if (!parsed) {
        skip(`role ${name || "(no name)"}: only project custom roles (projects/P/roles/ID) are imported`);
        continue;
      }
      if (r?.deleted === true) {
        skip(`role ${name}: deleted`);
        continue;
      }
      const perms = Array.isArray(r?.includedPermissions)
        ? (r.includedPermissions as unknown[]).filter((p): p is string => typeof p === "string")
        : undefined;
      if (!perms) {
        skip(
          `role ${name}: the export lists no includedPermissions (\`gcloud iam roles list\` shows the BASIC view; export each role with \`gcloud iam roles describe ${parsed.roleId} --project ${projectId} --format=json\`)`,
        );
        continue;
      }
      const known = perms.filter((p) => KNOWN_PERMISSIONS.has(p));
      const unknown = perms.filter((p) => !KNOWN_PERMISSIONS.has(p));
      if (unknown.length)
        skip(
          `role ${name}: permission(s) ${unknown.join(", ")} are not in Warrant's catalog and were left out`,
        );
      if (known.length === 0) {
        skip(`role ${name}: none of its permissions exist in Warrant`);
        continue;
      }
      const stage = str(r?.stage);
      plan.roles.push({
        roleId: parsed.roleId,
        ...(str(r?.title) ? { title: str(r?.title) } : {}),
        ...(str(r?.description) ? { description: str(r?.description) } : {}),
        ...(stage ? { stage } : {}),
        includedPermissions: known,
      });
      roleNames.add(`projects/${projectId}/roles/${parsed.roleId}`);
    }
  }

  // The allow policy: every binding Warrant can hold.
  if (inputs.policy !== undefined) {
    const p = obj(inputs.policy);
    const bindings = p?.bindings;
    if (!p || (bindings !== undefined && !Array.isArray(bindings)))
      throw new CliError(
        "The policy file must hold the JSON `gcloud projects get-iam-policy P --format=json` prints.",
      );
    for (const raw of (bindings as unknown[]) ?? []) {
      const b = obj(raw);
      const role = str(b?.role) ?? "";
      const custom = parseCustomRoleName(role);
      const where = `binding of ${role || "(no role)"}`;
      if (role.includes("_withcond_")) {
        skip(
          `${where}: exported at policy version 1, its condition is not in the file (export with gcloud, which reads version 3)`,
        );
        continue;
      }
      if (custom ? custom.projectId !== projectId || !roleNames.has(role) : !predefinedRole(role)) {
        skip(
          `${where}: the role does not exist in Warrant${custom ? " (its custom role was not imported)" : ""}`,
        );
        continue;
      }
      const members: string[] = [];
      for (const m of Array.isArray(b?.members) ? b.members : []) {
        const parsed = parseMember(m);
        if (typeof parsed === "string") {
          skip(`${where}: member ${String(m)}: ${parsed}`);
          continue;
        }
        if (parsed.type === "deleted") {
          skip(`${where}: member ${m}: a deleted principal`);
          continue;
        }
        if (parsed.type === "convenience" && parsed.projectId !== projectId) {
          skip(`${where}: member ${m}: names another project`);
          continue;
        }
        members.push(m as string);
      }
      if (members.length === 0) continue;
      const c = obj(b?.condition);
      let condition: Binding["condition"];
      if (c) {
        const expression = str(c.expression) ?? "";
        const problem =
          conditionError(expression) ??
          (BASIC_ROLES.has(role) ? "basic roles cannot be conditional" : undefined);
        if (problem) {
          skip(`${where} with condition "${str(c.title) ?? expression}": ${problem}`);
          continue;
        }
        condition = {
          expression,
          ...(str(c.title) ? { title: str(c.title) } : {}),
          ...(str(c.description) ? { description: str(c.description) } : {}),
        };
      }
      plan.bindings.push({ role, members, ...(condition ? { condition } : {}) });
    }
    if (Array.isArray(p.auditConfigs) && p.auditConfigs.length)
      skip("auditConfigs: Warrant keeps an audit log of its own and does not import audit configuration");
  }

  // Deny policies: full policies (with rules) only; `policies list` prints metadata without rules.
  if (inputs.denyPolicies !== undefined) {
    const d = inputs.denyPolicies;
    const list = Array.isArray(d)
      ? d
      : Array.isArray(obj(d)?.policies)
        ? (obj(d)!.policies as unknown[])
        : obj(d)
          ? [d]
          : [];
    for (const raw of list) {
      const p = obj(raw);
      const name = str(p?.name) ?? "";
      const policyId = /\/denypolicies\/([^/]+)$/.exec(name)?.[1];
      if (!policyId) {
        skip(`deny policy ${name || "(no name)"}: no policy id in its name`);
        continue;
      }
      if (!Array.isArray(p?.rules)) {
        skip(
          `deny policy ${policyId}: the export has no rules (\`gcloud iam policies list\` prints metadata only; export it with \`gcloud iam policies get ${policyId} … --format=json\`)`,
        );
        continue;
      }
      const body = { ...(str(p?.displayName) ? { displayName: p?.displayName } : {}), rules: p?.rules };
      const valid = validateDenyPolicy(body);
      if (typeof valid === "string") {
        skip(`deny policy ${policyId}: ${valid}`);
        continue;
      }
      plan.denyPolicies.push({ policyId, body });
    }
  }
  return plan;
}

export interface ImportReport {
  project: string;
  projectCreated: boolean;
  serviceAccounts: string[];
  roles: string[];
  bindings: number;
  denyPolicies: string[];
  notCarriedOver: string[];
}

const conflict = (e: unknown) => e instanceof ApiError && e.httpStatus === 409;

export async function applyImport(api: ApiClient, plan: ImportPlan): Promise<ImportReport> {
  const P = plan.projectId;
  const report: ImportReport = {
    project: P,
    projectCreated: false,
    serviceAccounts: [],
    roles: [],
    bindings: 0,
    denyPolicies: [],
    notCarriedOver: [...plan.skipped],
  };
  try {
    await api.request("GET", `/v1/projects/${P}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.httpStatus !== 404) throw e;
    await waitLro(
      api,
      await api.request<LroOperation>("POST", "/v1/projects", { body: { projectId: P, name: P } }),
    );
    report.projectCreated = true;
  }
  for (const sa of plan.serviceAccounts) {
    try {
      await api.request("POST", `/v1/projects/${P}/serviceAccounts`, {
        body: {
          accountId: sa.accountId,
          serviceAccount: {
            ...(sa.displayName ? { displayName: sa.displayName } : {}),
            ...(sa.description ? { description: sa.description } : {}),
          },
        },
      });
      report.serviceAccounts.push(sa.email);
    } catch (e) {
      if (!conflict(e)) throw e;
      report.notCarriedOver.push(`service account ${sa.email}: already exists in Warrant, left as it is`);
      continue;
    }
    if (sa.disabled)
      await api.request("POST", `/v1/projects/${P}/serviceAccounts/${sa.email}:disable`, { body: {} });
  }
  for (const r of plan.roles) {
    const { roleId, ...role } = r;
    try {
      await api.request("POST", `/v1/projects/${P}/roles`, { body: { roleId, role } });
      report.roles.push(`projects/${P}/roles/${roleId}`);
    } catch (e) {
      if (!conflict(e)) throw e;
      report.notCarriedOver.push(
        `role projects/${P}/roles/${roleId}: already exists in Warrant, left as it is`,
      );
    }
  }
  if (plan.bindings.length > 0) {
    // Merged into the current policy, so the installation's own administrators keep their access.
    const current = await api.request<{ bindings?: Binding[]; etag?: string }>(
      "POST",
      `/v1/projects/${P}:getIamPolicy`,
      {
        body: { options: { requestedPolicyVersion: 3 } },
      },
    );
    const bindings = [...(current.bindings ?? []), ...plan.bindings];
    await api.request("POST", `/v1/projects/${P}:setIamPolicy`, {
      body: { policy: { version: 3, bindings, ...(current.etag ? { etag: current.etag } : {}) } },
    });
    report.bindings = plan.bindings.length;
    // Members bound now that match nobody yet: users and groups live in Warrant's directories.
    const groups = new Set(
      ((await api.request<{ groups?: { email: string }[] }>("GET", "/warrant/v1/groups")).groups ?? []).map(
        (g) => g.email,
      ),
    );
    const named = new Set(plan.bindings.flatMap((b) => b.members));
    for (const m of [...named].sort()) {
      const parsed = parseMember(m);
      if (typeof parsed === "string") continue;
      if (parsed.type === "group" && !groups.has(parsed.email))
        report.notCarriedOver.push(
          `${m}: bound, but Warrant has no such group; it matches nobody until \`warrant groups create ${parsed.email}\` and its members are added`,
        );
      if (parsed.type === "user") {
        try {
          await api.request("GET", `/warrant/v1/users/${parsed.email}`);
        } catch (e) {
          if (!(e instanceof ApiError) || e.httpStatus !== 404) throw e;
          report.notCarriedOver.push(
            `${m}: bound, but not in Warrant's user directory; the user gets a token after \`warrant users create ${parsed.email}\``,
          );
        }
      }
    }
  }
  for (const d of plan.denyPolicies) {
    try {
      await api.request(
        "POST",
        `/v2/policies/${encodeURIComponent(`cloudresourcemanager.googleapis.com/projects/${P}`)}/denypolicies`,
        {
          query: { policyId: d.policyId },
          body: d.body,
        },
      );
      report.denyPolicies.push(d.policyId);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      report.notCarriedOver.push(
        `deny policy ${d.policyId}: ${e.message}${e.httpStatus === 403 ? " (creating deny policies needs roles/iam.denyAdmin)" : ""}`,
      );
    }
  }
  return report;
}

export function renderImportReport(r: ImportReport): string {
  const lines = [
    `Imported into project [${r.project}]${r.projectCreated ? " (created)" : ""}:`,
    `  service accounts: ${r.serviceAccounts.length}${r.serviceAccounts.length ? ` (${r.serviceAccounts.join(", ")})` : ""}`,
    `  custom roles:     ${r.roles.length}${r.roles.length ? ` (${r.roles.join(", ")})` : ""}`,
    `  bindings:         ${r.bindings}`,
    `  deny policies:    ${r.denyPolicies.length}${r.denyPolicies.length ? ` (${r.denyPolicies.join(", ")})` : ""}`,
  ];
  if (r.notCarriedOver.length) {
    lines.push("", `Not carried over (${r.notCarriedOver.length}):`);
    for (const s of r.notCarriedOver) lines.push(`  - ${s}`);
  }
  return `${lines.join("\n")}\n`;
}
