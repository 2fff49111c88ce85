import type { PageProps } from "../routes";

export function AuditPage(_props: PageProps) {
  return <h1>Audit log</h1>;
}
