/**
 * Helper process for the crash-safety conformance test: commits one transaction, then opens a
 * second, writes into it, says so on stdout and waits to be killed (SIGKILL) before it commits.
 */
import { openDatastore } from "../../src/datastore/open.js";
import type { Project } from "../../src/domain/project.js";

const project = (id: string): Project => ({
  projectId: id,
  projectNumber: "1",
  name: id,
  lifecycleState: "ACTIVE",
  createTime: "2026-01-01T00:00:00Z",
});

const store = await openDatastore(process.argv[2]!);
await store.transaction((tx) =>
  tx.put("project", "committed-before-crash", project("committed-before-crash")),
);
await store.transaction(async (tx) => {
  for (let i = 0; i < 50; i++) await tx.put("project", `torn-${i}`, project(`torn-${i}`));
  process.stdout.write("mid-transaction\n");
  await new Promise(() => setInterval(() => {}, 1000));
});
