/** Entry of `npm run bench:storage`: the Cloud Storage bench (bench/storage.ts). */
import { main } from "./storage.js";

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
