import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CliError } from "../../../../errors.js";
import { command } from "../../../../spec.js";
import { LOCATION_FLAG, poolsPath } from "../shared.js";

/** `k=v,k2=v2` → {k: v, k2: v2}; values may hold `=` (CEL comparisons). */
export function parseMapping(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(",")) {
    const i = part.indexOf("=");
    if (i <= 0) throw new CliError(`--attribute-mapping: '${part}' is not ATTRIBUTE=EXPRESSION.`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export default command({
  name: "create-oidc",
  summary: "create an OIDC provider in a workload identity pool",
  description:
    "Trusts ID tokens of ISSUER_URI: their keys come from --jwk-json-path, else from the issuer's " +
    "discovery document. --attribute-mapping must map google.subject.",
  positionals: [{ name: "ID", help: "Provider ID." }],
  flags: [
    LOCATION_FLAG,
    { name: "workload-identity-pool", type: "string", required: true, help: "Pool ID." },
    {
      name: "issuer-uri",
      type: "string",
      required: true,
      help: "The issuer's URL (https, or http on loopback).",
    },
    {
      name: "attribute-mapping",
      type: "string",
      required: true,
      help: "Comma-separated ATTRIBUTE=CEL pairs, e.g. google.subject=assertion.sub,attribute.repository=assertion.repository.",
    },
    { name: "attribute-condition", type: "string", help: "CEL condition a token must satisfy." },
    { name: "allowed-audiences", type: "string", help: "Comma-separated accepted `aud` values." },
    { name: "jwk-json-path", type: "string", help: "File holding the issuer's JWKS (instead of discovery)." },
    { name: "display-name", type: "string", help: "Human-readable name." },
    { name: "description", type: "string", help: "Free-form description." },
    { name: "disabled", type: "boolean", help: "Create the provider disabled." },
  ],
  examples: [
    "warrant iam workload-identity-pools providers create-oidc ci-oidc --workload-identity-pool=ci-pool " +
      "--issuer-uri=https://token.actions.example --attribute-mapping=google.subject=assertion.sub " +
      "--attribute-condition=\"assertion.repository == 'org/app'\"",
  ],
  async run(ctx) {
    const id = ctx.arg("ID");
    const jwksPath = ctx.str("jwk-json-path");
    let jwks: string | undefined;
    if (jwksPath !== undefined)
      try {
        jwks = readFileSync(resolve(ctx.rt.cwd, jwksPath), "utf8");
      } catch (err) {
        throw new CliError(`--jwk-json-path: cannot read ${jwksPath}: ${(err as Error).message}`);
      }
    const audiences = ctx.str("allowed-audiences");
    const body: Record<string, unknown> = {
      disabled: ctx.bool("disabled"),
      attributeMapping: parseMapping(ctx.str("attribute-mapping")!),
      oidc: {
        issuerUri: ctx.str("issuer-uri"),
        ...(audiences ? { allowedAudiences: audiences.split(",") } : {}),
        ...(jwks !== undefined ? { jwksJson: jwks } : {}),
      },
    };
    for (const [flag, field] of [
      ["attribute-condition", "attributeCondition"],
      ["display-name", "displayName"],
      ["description", "description"],
    ] as const) {
      const v = ctx.str(flag);
      if (v !== undefined) body[field] = v;
    }
    const pool = poolsPath(ctx, ctx.str("workload-identity-pool")!);
    const op = (await ctx.session
      .api()
      .request("POST", `${pool}/providers?workloadIdentityPoolProviderId=${encodeURIComponent(id)}`, {
        body,
      })) as {
      response?: unknown;
    };
    ctx.status(`Created workload identity pool provider [${id}].`);
    ctx.out.one(op.response, { quietByDefault: true });
    return 0;
  },
});
