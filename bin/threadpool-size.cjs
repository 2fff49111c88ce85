// The size of libuv's threadpool for a Warrant server, which signs minted tokens there
// (src/server/tokens/signing-pool.ts): one thread per core, and at least 2 so that one slow file
// or DNS call never holds up every signature. Not libuv's default of 4 on smaller machines: on 2
// cores, 2 signing threads mint about 5% more tokens a second than 4, which take CPU time from the
// event loop that feeds them (docs/performance.md). CommonJS, so that bin/warrant.cjs can apply it
// before the ES module loader starts the pool.
"use strict";
const { availableParallelism } = require("node:os");

exports.threadpoolSize = () => Math.max(2, availableParallelism());
