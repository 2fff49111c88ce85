import { writeFileSync } from "node:fs";
import { command } from "../../../../spec.js";
import { saPath } from "../target.js";

export default command({
  name: "create",
  summary: "create a key for a service account and write its JSON key file",
  description:
    "Writes a Google-format service-account key file (type service_account, RSA 2048, token_uri pointing " +
    "at this Warrant server) to OUTPUT_FILE with mode 0600. Warrant keeps only the public key: the file " +
    "is the only copy of the private key. At most 10 keys per account.",
  positionals: [{ name: "OUTPUT_FILE", help: "Where to write the key file (refuses to overwrite)." }],
  flags: [
    { name: "iam-account", type: "string", required: true, metavar: "EMAIL", help: "The service account." },
  ],
  examples: [
    "warrant iam service-accounts keys create key.json --iam-account=app@my-project.iam.gserviceaccount.com",
  ],
  async run(ctx) {
    const file = ctx.arg("OUTPUT_FILE");
    const email = ctx.str("iam-account")!;
    const key = (await ctx.session.api().request("POST", `${saPath(email)}/keys`, { body: {} })) as {
      name: string;
      privateKeyData: string;
    };
    try {
      writeFileSync(file, Buffer.from(key.privateKeyData, "base64"), { mode: 0o600, flag: "wx" });
    } catch (e) {
      // The key exists server-side but its only private copy could not be saved: remove it.
      await ctx.session.api().request("DELETE", `/v1/${key.name.replace(/^projects\/[^/]+/, "projects/-")}`);
      throw e;
    }
    ctx.status(`created key [${key.name.split("/").pop()}] of type [json] as [${file}] for [${email}]`);
    return 0;
  },
});
