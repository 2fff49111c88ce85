/**
 * A server under test of `npm run bench:storage`, in its own process (forked by bench/storage.ts) so
 * that its peak memory can be read from /proc/PID/status and its CPU time counted apart from the
 * client's. Two kinds:
 *
 * - `warrant`: `startServer` on 127.0.0.1 in the given state directory, with the given enforcement.
 * - `bare`: the baseline, a bare node:http server on 127.0.0.1 that copies streams and nothing else:
 *   `PUT|POST /up` pipes the request body into a new file of `dir` (`?fsync=1`: fdatasync before
 *   answering), `DELETE /up` removes it, `GET /down?file=NAME` streams `dir/NAME` back.
 *
 * IPC: the parent sends `start`; the child answers `ready` with its URL. `cpu` is answered with the
 * process's CPU time so far. The child closes its server and exits when the parent disconnects.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { open, stat, unlink } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { EnforcementMode } from "../src/server/iam/access-control.js";

export type ServerSpec =
  | { type: "start"; kind: "warrant"; stateDir: string; enforcement: EnforcementMode }
  | { type: "start"; kind: "bare"; dir: string };

export interface Ready {
  type: "ready";
  url: string;
  adminCredentialFile?: string;
}

function bare(dir: string): Server {
  const uploaded = join(dir, "bare-upload.bin");
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(String(err));
    };
    if (url.pathname === "/up" && (req.method === "PUT" || req.method === "POST")) {
      const file = createWriteStream(uploaded, { flags: "wx", mode: 0o600 });
      pipeline(req, file)
        .then(async () => {
          if (url.searchParams.get("fsync") === "1") {
            const fh = await open(uploaded, "r");
            await fh.datasync();
            await fh.close();
          }
          const body = JSON.stringify({ size: file.bytesWritten });
          res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
          res.end(body);
        })
        .catch(fail);
      return;
    }
    if (url.pathname === "/up" && req.method === "DELETE") {
      unlink(uploaded).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(204).end(),
      );
      return;
    }
    if (url.pathname === "/down" && req.method === "GET") {
      const file = join(dir, basename(url.searchParams.get("file") ?? ""));
      stat(file)
        .then(async (s) => {
          res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": s.size });
          // The blob store reads 256 KiB at a time (src/server/storage/blob-store.ts): so does the baseline.
          await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res);
        })
        .catch(fail);
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

process.once("message", async (spec: ServerSpec) => {
  try {
    let ready: Ready;
    let close: () => Promise<void>;
    if (spec.kind === "warrant") {
      // Imported only here, so that the bare server's memory is node:http's alone.
      const { startServer } = await import("../src/server/app.js");
      const server = await startServer({
        stateDir: spec.stateDir,
        host: "127.0.0.1",
        port: 0,
        enforcement: spec.enforcement,
        log: () => {},
      });
      ready = { type: "ready", url: server.url, adminCredentialFile: server.adminCredentialFile };
      close = () => server.close();
    } else {
      const server = bare(spec.dir);
      await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
      ready = { type: "ready", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      close = () =>
        new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        });
    }
    process.on("message", (m: { type?: string }) => {
      if (m?.type === "cpu") {
        const c = process.cpuUsage();
        process.send?.({ type: "cpu", us: c.user + c.system });
      }
    });
    process.once("disconnect", () => {
      close().finally(() => process.exit(0));
    });
    process.send?.(ready);
  } catch (err) {
    process.send?.({ type: "error", message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  }
});
