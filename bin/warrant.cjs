#!/usr/bin/env node
// The CLI is compiled by `npm ci` (the `prepare` script); this shim keeps the bin path stable.
//
// CommonJS on purpose: libuv sizes its threadpool once, when it is first used, from
// UV_THREADPOOL_SIZE, and loading an ES module already uses it. This file runs before that, so it
// can size the pool for signing (bin/threadpool-size.cjs). A value already in the environment is kept.
"use strict";
const { threadpoolSize } = require("./threadpool-size.cjs");

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(threadpoolSize());

import("../dist/src/cli/main.js")
  .then(({ main }) => main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
