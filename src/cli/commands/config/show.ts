import { resolve } from "node:path";
import {
  configFileFor,
  resolveServeConfig,
  SERVE_SETTINGS,
  serveFlags,
  showRows,
} from "../../serve-config.js";
import { command } from "../../spec.js";

export default command({
  name: "show",
  summary: "print the effective `warrant serve` configuration and where each setting comes from",
  description:
    "Resolves every `warrant serve` setting as the server would at start — its flag, else its environment " +
    "variable, else the config file (<state-dir>/warrant.yaml, or --config FILE), else the default — and prints " +
    "KEY (the config-file key), VALUE and SOURCE. It takes the same flags as `warrant serve`, so " +
    "`warrant config show ARGS` shows what `warrant serve ARGS` would use. Unknown keys and bad values are " +
    "refused exactly as at start. A datastore URL's password is masked. Needs no running server.",
  flags: serveFlags(),
  examples: [
    "warrant config show",
    "warrant config show --state-dir /var/lib/warrant",
    "warrant config show --config /etc/warrant/warrant.yaml --port 9090 --format=json",
  ],
  async run(ctx) {
    const { env, cwd } = ctx.rt;
    const stateDir = resolve(cwd, ctx.str("state-dir") ?? (env.WARRANT_STATE_DIR || ".warrant"));
    const file = configFileFor(stateDir, ctx.str("config"), cwd);
    const cfg = resolveServeConfig(
      (name) =>
        SERVE_SETTINGS.find((s) => s.flag === name)?.type === "boolean" ? ctx.bool(name) : ctx.str(name),
      env,
      file,
    );
    ctx.status(
      file
        ? `Config file: ${file}`
        : `No config file (${resolve(stateDir, "warrant.yaml")} does not exist; --config names another).`,
    );
    ctx.out.list(showRows(cfg), "key,value,source");
    return 0;
  },
});
