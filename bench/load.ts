/**
 * Entry of the load child that every bench forks (through `LoadChild`, bench/load-gen.ts): runs the
 * jobs its parent sends, one at a time, and exits when the parent goes away.
 */
import { type LoadJob, runLoad } from "./load-gen.js";

process.on("message", (msg: LoadJob) => {
  if (msg?.type !== "job") return;
  runLoad(msg).then(
    (result) => process.send?.(result),
    (err) => process.send?.({ type: "error", message: String(err?.stack ?? err) }),
  );
});
process.on("disconnect", () => process.exit(0));
