/**
 * `GET /metrics`: the server's Prometheus metrics (src/server/metrics.ts). A scraper on the same
 * host reads them without a credential; any other caller needs `monitoring.timeSeries.list` on the
 * organization (roles/monitoring.viewer, or a basic role, there). docs/operations.md lists them.
 */
import { Unauthenticated } from "../../../domain/errors.js";
import { organizationRef } from "../../../domain/resources.js";
import type { ServerDeps } from "../../deps.js";
import type { Router } from "../../http/router.js";
import type { ServerMetrics } from "../../metrics.js";

export const METRICS_PERMISSION = "monitoring.timeSeries.list";

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === "::1";
}

/**
 * `loopbackOpen` (default true): callers on the same host need no credential. Off, every caller
 * needs the permission: for a reverse proxy on the same host, which makes every caller loopback.
 */
export function registerMetrics(
  router: Router,
  deps: ServerDeps,
  metrics: ServerMetrics,
  loopbackOpen = true,
) {
  router.add(
    "GET",
    "/metrics",
    async (ctx) => {
      if (!(loopbackOpen && isLoopback(ctx.req.socket?.remoteAddress))) {
        if (ctx.caller.principal.kind === "anonymous") throw Unauthenticated.missing();
        await deps.access.require(
          ctx,
          METRICS_PERMISSION,
          organizationRef(deps.organizationId),
          (d) =>
            `Reading metrics needs ${METRICS_PERMISSION} on organizations/${deps.organizationId} (roles/monitoring.viewer there). ${d.reason}`,
        );
      }
      const text = await metrics.registry.metrics();
      ctx.res.writeHead(200, {
        "Content-Type": metrics.registry.contentType,
        "Content-Length": Buffer.byteLength(text),
        "Cache-Control": "no-store",
      });
      ctx.res.end(ctx.req.method === "HEAD" ? undefined : text);
      return undefined;
    },
    "optional",
  );
}
