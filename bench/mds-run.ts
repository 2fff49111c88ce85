/** Entry of `npm run bench:mds`: the metadata-server bench (bench/mds.ts). */
import { main } from "./mds.js";

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
