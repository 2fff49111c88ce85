import { renderDoctor, runDoctor } from "../doctor.js";
import { command } from "../spec.js";

export default command({
  name: "doctor",
  summary: "say which credential each client would use in this shell, and what is wrong with it",
  description:
    "Checks this shell's environment, as each client reads it, and prints every problem with its fix: " +
    "the credential the warrant CLI acts as; each step of Application Default Credentials " +
    "(GOOGLE_APPLICATION_CREDENTIALS, the well-known file, the metadata server), what it found and which " +
    "credential ADC picks; whether the metadata server answers, as whom and with which scopes; the identity's " +
    "token scopes and its roles on the default project; whether the proxy and CA variables are consistent " +
    "(a proxy without a CA, a CA variable naming a missing file, NO_PROXY); whether this machine's clock is " +
    "skewed against the server's; and the same for gcloud (CLOUDSDK_CONFIG, CLOUDSDK_AUTH_ACCESS_TOKEN_FILE, " +
    "GCE_METADATA_ROOT, CLOUDSDK_API_ENDPOINT_OVERRIDES_*, CLOUDSDK_CORE_PROJECT, CLOUDSDK_PROXY_*, " +
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE). It talks only to the hosts the environment names, and never prints " +
    "a secret. Exit status 1 when a problem was found. --format=json prints the sections and their findings " +
    "(level ok, info or problem; text; fix).",
  examples: ["warrant doctor", 'eval "$(warrant env --instance demo-vm)"; warrant doctor'],
  async run(ctx) {
    const sections = await runDoctor(ctx.rt, ctx.session);
    if (ctx.out.explicit) ctx.out.one({ sections });
    else ctx.rt.stdout.write(renderDoctor(sections));
    return sections.some((s) => s.findings.some((f) => f.level === "problem")) ? 1 : 0;
  },
});
