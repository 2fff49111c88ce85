import { CliError, UsageError } from "../errors.js";
import { command } from "../spec.js";

export default command({
  name: "agent",
  summary: "run the metadata server of one instance (Compute Engine's /computeMetadata/v1/)",
  description:
    "Serves one instance's metadata, access tokens and identity tokens, as Compute Engine's metadata server " +
    "does, on --listen. It enrolls once with the control plane using a one-time token " +
    "(`warrant compute instances issue-enrollment-token`), then proves it is that instance with the agent " +
    "credential it received, renewing it half-way through its lifetime; it never uses an administrator's " +
    "credential (if the credential is revoked with `warrant compute instances reset-agent` or expires, it " +
    "logs that it must be re-enrolled). Tokens are cached as on GCE (until " +
    "5 minutes remain); cache-miss mints are limited per instance. `warrant serve` already runs an agent per " +
    "instance in-process; this command runs one elsewhere, e.g. on the machine that plays the instance.",
  flags: [
    {
      name: "instance",
      type: "string",
      required: true,
      metavar: "NAME",
      help: "The instance this agent serves.",
    },
    { name: "zone", type: "string", required: true, metavar: "ZONE", help: "Zone of the instance." },
    {
      name: "listen",
      type: "string",
      metavar: "ADDR:PORT",
      help: "Where to serve (default 127.0.0.1:8081).",
    },
    {
      name: "control-plane",
      type: "string",
      metavar: "URL[,URL…]",
      help:
        "The control plane's node(s) (default the configured endpoint, or WARRANT_CONTROL_PLANE). With several " +
        "nodes serving one installation (docs/deployment.md), calls go to one and move to the next when it " +
        "cannot be reached or answers 502, 503 or 504, so tokens keep flowing while a node is down.",
    },
    {
      name: "enrollment-token",
      type: "string",
      metavar: "TOKEN",
      help: "One-time enrollment token (or WARRANT_ENROLLMENT_TOKEN).",
    },
    {
      name: "inject",
      type: "string",
      metavar: "FAULTS",
      help: "Fault injection for testing clients: latency=200ms,error=503@10% (token and identity answers).",
    },
    {
      name: "mints-per-second",
      type: "string",
      metavar: "N",
      help: "Cache-miss mints per second (default 50).",
    },
    {
      name: "session-tokens",
      type: "string",
      metavar: "MODE",
      help: "IMDSv2-style session tokens: off (default), optional or required (see docs/metadata-server.md).",
    },
    {
      name: "allow-remote-peers",
      type: "boolean",
      help: "Serve peers outside loopback and link-local too (refused by default).",
    },
  ],
  examples: [
    "TOKEN=$(warrant compute instances issue-enrollment-token demo-vm --zone us-central1-a --format='value(enrollmentToken)')",
    "warrant agent --instance demo-vm --zone us-central1-a --listen 127.0.0.5:8081 --enrollment-token $TOKEN",
    "warrant agent --instance demo-vm --zone us-central1-a --control-plane=http://warrant-1:8080,http://warrant-2:8080 --enrollment-token $TOKEN",
  ],
  async run(ctx) {
    const { parseFaults } = await import("../../agent/faults.js");
    const { startAgent } = await import("../../agent/agent.js");
    const listen = ctx.str("listen") ?? "127.0.0.1:8081";
    const m = /^(.+):(\d{1,5})$/.exec(listen);
    if (!m || Number(m[2]) > 65535)
      throw new UsageError(`argument --listen: expected ADDR:PORT, got '${listen}'.`);
    const token = ctx.str("enrollment-token") ?? ctx.rt.env.WARRANT_ENROLLMENT_TOKEN;
    if (!token)
      throw new CliError(
        "No enrollment token.",
        "Issue one with `warrant compute instances issue-enrollment-token NAME --zone ZONE` and pass --enrollment-token.",
      );
    const faults = ctx.str("inject") === undefined ? undefined : parseFaults(ctx.str("inject")!);
    if (typeof faults === "string") throw new UsageError(`argument --inject: ${faults}`);
    const sessions = ctx.str("session-tokens") ?? "off";
    if (sessions !== "off" && sessions !== "optional" && sessions !== "required")
      throw new UsageError("argument --session-tokens: off, optional or required.");
    const rate = ctx.str("mints-per-second");
    if (rate !== undefined && !(Number(rate) > 0))
      throw new UsageError("argument --mints-per-second: a positive number.");
    const controlPlanes = (ctx.str("control-plane") ?? ctx.rt.env.WARRANT_CONTROL_PLANE ?? "")
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean);
    for (const u of controlPlanes)
      if (!/^https?:\/\/[^/]+\/?$/.test(u))
        throw new UsageError(`argument --control-plane: expected http(s)://HOST:PORT URLs, got '${u}'.`);
    const [first, ...others] = controlPlanes.length
      ? controlPlanes.map((u) => u.replace(/\/$/, ""))
      : [ctx.session.endpoint()];
    const agent = await startAgent({
      controlPlaneUrl: first!,
      ...(others.length ? { otherControlPlaneUrls: others } : {}),
      enrollmentToken: token,
      expectInstance: `zones/${ctx.str("zone")}/instances/${ctx.str("instance")}`,
      host: m[1]!.replace(/^\[|\]$/g, ""),
      port: Number(m[2]),
      ...(faults ? { faults } : {}),
      ...(rate ? { mintsPerSecond: Number(rate) } : {}),
      ...(ctx.bool("allow-remote-peers") ? { allowRemotePeers: true } : {}),
      sessionTokens: sessions,
      log: (l) => ctx.rt.stderr.write(`${l}\n`),
    });
    ctx.rt.stdout.write(
      `Metadata server of instance [${ctx.str("instance")}] (zone ${ctx.str("zone")}) at ${agent.url}\n` +
        `export GCE_METADATA_HOST=${agent.host}:${agent.port} GCE_METADATA_IP=${agent.host}:${agent.port} GCE_METADATA_ROOT=${agent.host}:${agent.port}\n`,
    );
    await new Promise<void>((done) => {
      process.once("SIGINT", () => done());
      process.once("SIGTERM", () => done());
    });
    await agent.close();
    return 0;
  },
});
