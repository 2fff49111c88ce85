/**
 * The benches run Warrant in their own process, so they size libuv's threadpool as `warrant serve`
 * does (bin/threadpool-size.cjs: the server signs minted tokens there). The pool is sized when it is
 * first used, which loading this module already did: the bench runs itself again in a child with
 * UV_THREADPOOL_SIZE set, unless it is set already (then that size is measured).
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// From dist/bench/: the source file, not a compiled copy.
const { threadpoolSize } = require("../../bin/threadpool-size.cjs") as { threadpoolSize(): number };

/** Runs this process's script again with the server's threadpool size; its exit code, or undefined when already sized. */
export function rerunWithServerThreadpool(): number | undefined {
  if (process.env.UV_THREADPOOL_SIZE) return undefined;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: String(threadpoolSize()) },
  });
  return child.status ?? 1;
}
