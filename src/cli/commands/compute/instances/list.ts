import { seg } from "../../../api.js";
import { INSTANCE_COLUMNS, zonePath } from "../../../compute.js";
import { splitList } from "../../../scopes.js";
import { command } from "../../../spec.js";

interface AggregatedList {
  items?: Record<string, { instances?: unknown[] }>;
  nextPageToken?: string;
}

export default command({
  name: "list",
  summary: "list VM instances of the project",
  description: "Lists instances in all zones (aggregated list), or only in the zones given with --zones.",
  flags: [
    {
      name: "zones",
      type: "string",
      metavar: "ZONE,[ZONE,...]",
      help: "Only list instances in these zones.",
    },
  ],
  examples: [
    "warrant compute instances list",
    "warrant compute instances list --zones=us-central1-a --format='value(name,status)'",
  ],
  async run(ctx) {
    const project = ctx.session.project();
    const api = ctx.session.api();
    const zones = splitList(ctx.str("zones"));
    const instances: unknown[] = [];
    if (zones.length > 0) {
      for (const z of zones)
        instances.push(...(await api.listAll(`${zonePath(project, z)}/instances`, "items")));
    } else {
      let pageToken: string | undefined;
      const seen = new Set<string>();
      do {
        const page = await api.request<AggregatedList>(
          "GET",
          `/compute/v1/projects/${seg(project)}/aggregated/instances`,
          { query: { pageToken } },
        );
        for (const scoped of Object.values(page.items ?? {})) instances.push(...(scoped.instances ?? []));
        pageToken = page.nextPageToken && !seen.has(page.nextPageToken) ? page.nextPageToken : undefined;
        if (pageToken) seen.add(pageToken);
      } while (pageToken);
    }
    ctx.out.list(instances, INSTANCE_COLUMNS);
    return 0;
  },
});
