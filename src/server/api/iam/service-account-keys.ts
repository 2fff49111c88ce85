/** IAM v1: service-account keys, and the public key documents Google serves for each account. */

import { createPublicKey } from "node:crypto";
import { exportJWK } from "jose";
import { repositories } from "../../../datastore/repositories.js";
import { ApiError, InvalidArgument, NotFound } from "../../../domain/errors.js";
import {
  generateServiceAccountKey,
  MAX_KEYS_PER_SERVICE_ACCOUNT,
  renderKey,
  type ServiceAccountKey,
} from "../../../domain/service-account-key.js";
import { show } from "../../../domain/show.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { sendJson } from "../../http/server.js";
import { findServiceAccount } from "./service-accounts.js";

const PUBLIC_KEY_TYPES = ["TYPE_NONE", "TYPE_X509_PEM_FILE", "TYPE_RAW_PUBLIC_KEY"];

export function registerServiceAccountKeys(router: Router, deps: ServerDeps) {
  const keys = "/v1/projects/{project}/serviceAccounts/{account}/keys";
  const one = `${keys}/{key}`;

  async function load(ctx: RequestContext, permission: string) {
    const sa = await findServiceAccount(deps, ctx, permission);
    const key = await deps.repos.serviceAccountKeys.get(ctx.params.key!);
    if (!key || key.email !== sa.email)
      throw new NotFound(`Service account key ${ctx.params.key} does not exist.`);
    return { sa, key };
  }

  router.add("POST", keys, async (ctx) => {
    const body = await readJsonObject(ctx.req);
    const type = body.privateKeyType ?? "TYPE_GOOGLE_CREDENTIALS_FILE";
    if (type !== "TYPE_GOOGLE_CREDENTIALS_FILE")
      throw new InvalidArgument(
        `privateKeyType ${show(type)} is not supported; use TYPE_GOOGLE_CREDENTIALS_FILE.`,
      );
    const alg = body.keyAlgorithm ?? "KEY_ALG_RSA_2048";
    if (alg !== "KEY_ALG_RSA_2048" && alg !== "KEY_ALG_UNSPECIFIED")
      throw new InvalidArgument(`keyAlgorithm ${show(alg)} is not supported; use KEY_ALG_RSA_2048.`);
    const sa = await findServiceAccount(deps, ctx, "iam.serviceAccountKeys.create");
    const { key, keyFile } = generateServiceAccountKey(sa, ctx.baseUrl);
    await deps.store.transaction(async (tx) => {
      const r = repositories(tx);
      const userKeys = (await r.serviceAccountKeys.list(sa.email)).filter(
        (k) => k.keyType === "USER_MANAGED",
      );
      if (userKeys.length >= MAX_KEYS_PER_SERVICE_ACCOUNT)
        throw new ApiError(
          400,
          "FAILED_PRECONDITION",
          "failedPrecondition",
          `Precondition check failed: ${sa.email} already has ${MAX_KEYS_PER_SERVICE_ACCOUNT} keys, the most a service account may have. Delete one first.`,
        );
      await r.serviceAccountKeys.put(key);
    });
    deps.directory.invalidate(sa.email, key.keyId);
    return {
      ...renderKey(key),
      privateKeyType: "TYPE_GOOGLE_CREDENTIALS_FILE",
      privateKeyData: Buffer.from(`${JSON.stringify(keyFile, null, 2)}\n`).toString("base64"),
    };
  });

  router.add("GET", keys, async (ctx) => {
    const types = ctx.url.searchParams.getAll("keyTypes");
    const bad = types.find((t) => !["USER_MANAGED", "SYSTEM_MANAGED", "KEY_TYPE_UNSPECIFIED"].includes(t));
    if (bad) throw new InvalidArgument(`Invalid value for keyTypes: '${bad}'.`);
    const sa = await findServiceAccount(deps, ctx, "iam.serviceAccountKeys.list");
    const wanted = types.length === 0 || types.includes("KEY_TYPE_UNSPECIFIED") ? null : new Set(types);
    const list = (await deps.repos.serviceAccountKeys.list(sa.email)).filter(
      (k) => !wanted || wanted.has(k.keyType),
    );
    return { keys: list.map((k) => renderKey(k)) };
  });

  router.add("GET", one, async (ctx) => {
    const publicKeyType = ctx.url.searchParams.get("publicKeyType") ?? "TYPE_NONE";
    if (!PUBLIC_KEY_TYPES.includes(publicKeyType))
      throw new InvalidArgument(`Invalid value for publicKeyType: '${publicKeyType}'.`);
    const { key } = await load(ctx, "iam.serviceAccountKeys.get");
    return renderKey(key, publicKeyType);
  });

  router.add("DELETE", one, async (ctx) => {
    const { sa, key } = await load(ctx, "iam.serviceAccountKeys.delete");
    if (key.keyType === "SYSTEM_MANAGED")
      throw new InvalidArgument("System-managed keys cannot be deleted: Warrant rotates them itself.");
    await deps.store.transaction((tx) => repositories(tx).serviceAccountKeys.delete(key.keyId));
    deps.directory.invalidate(sa.email, key.keyId);
    return {};
  });

  for (const [verb, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    router.add("POST", `${one}:${verb}`, async (ctx) => {
      await readJsonObject(ctx.req);
      const { sa, key } = await load(ctx, `iam.serviceAccountKeys.${verb}`);
      const next: ServiceAccountKey = { ...key };
      if (disabled) next.disabled = true;
      else delete next.disabled;
      await deps.store.transaction((tx) => repositories(tx).serviceAccountKeys.put(next));
      deps.directory.invalidate(sa.email, key.keyId);
      return {};
    });
  }

  // Public key documents: no credential needed, as at Google. Only enabled keys of enabled accounts.
  const publicKeys = async (email: string) => {
    const sa = await deps.directory.activeAccount(email);
    return sa ? deps.directory.keysOf(sa.email) : [];
  };
  const publish = (ctx: RequestContext, body: unknown) =>
    sendJson(ctx.res, 200, body, { "Cache-Control": "public, max-age=300" });

  for (const path of ["/service_accounts/v1/metadata/x509/{email}", "/robot/v1/metadata/x509/{email}"]) {
    router.add(
      "GET",
      path,
      async (ctx) =>
        publish(
          ctx,
          Object.fromEntries(
            (await publicKeys(ctx.params.email!)).map((k) => [k.key.keyId, k.key.certificatePem]),
          ),
        ),
      "none",
    );
  }
  router.add(
    "GET",
    "/service_accounts/v1/metadata/raw/{email}",
    async (ctx) =>
      publish(
        ctx,
        Object.fromEntries(
          (await publicKeys(ctx.params.email!)).map((k) => [k.key.keyId, k.key.publicKeyPem]),
        ),
      ),
    "none",
  );
  router.add(
    "GET",
    "/service_accounts/v1/metadata/jwk/{email}",
    async (ctx) => {
      const keys = await Promise.all(
        (await publicKeys(ctx.params.email!)).map(async (k) => ({
          ...(await exportJWK(createPublicKey(k.key.publicKeyPem))),
          alg: "RS256",
          use: "sig",
          kid: k.key.keyId,
        })),
      );
      publish(ctx, { keys });
    },
    "none",
  );
}
