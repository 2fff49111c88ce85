/**
 * Warrant's own admin API for the token-signing key ring (no Google equivalent): list the keys
 * and force a rotation. Administering the ring means administering the installation, so it needs
 * `resourcemanager.projects.setIamPolicy` on the organization (roles/owner there: the bootstrap
 * administrator).
 */
import { ApiError } from "../../../domain/errors.js";
import { organizationRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import { readJsonObject } from "../../http/body.js";
import type { RequestContext } from "../../http/context.js";
import type { Router } from "../../http/router.js";
import { RotationRefused } from "../../tokens/key-ring.js";

export const ADMIN_PERMISSION = "resourcemanager.projects.setIamPolicy";

export function registerSigningKeysAdmin(router: Router, deps: ServerDeps) {
  const requireAdmin = (ctx: RequestContext) =>
    deps.access.require(
      ctx,
      ADMIN_PERMISSION,
      organizationRef(deps.organizationId),
      (d) =>
        `Administering the signing keys needs ${ADMIN_PERMISSION} on organizations/${deps.organizationId} (roles/owner there). ${d.reason}`,
    );
  const view = () => ({
    keys: deps.keyRing.all().map((k) => ({
      kid: k.kid,
      state: k.state,
      algorithm: k.alg,
      createTime: k.createdAt,
      ...(k.activatedAt ? { activateTime: k.activatedAt } : {}),
      ...(k.demotedAt ? { demoteTime: k.demotedAt } : {}),
    })),
    rotationPeriod: `${deps.keyRing.policy.rotationPeriodSeconds}s`,
  });

  router.add("GET", "/warrant/v1/signingKeys", async (ctx) => {
    await requireAdmin(ctx);
    return view();
  });

  router.add("POST", "/warrant/v1/signingKeys:rotate", async (ctx) => {
    await readJsonObject(ctx.req);
    await requireAdmin(ctx);
    try {
      const r = await deps.keyRing.rotate();
      deps.audit.record({
        time: new Date().toISOString(),
        kind: "admin",
        requestId: ctx.requestId,
        action: "signingKeys.rotate",
        ...r,
      });
      return { ...r, ...view() };
    } catch (err) {
      if (err instanceof RotationRefused)
        throw new ApiError(
          400,
          "FAILED_PRECONDITION",
          "failedPrecondition",
          `Rotation refused: ${err.message}.`,
        );
      throw err;
    }
  });
}
