import type { PageProps } from "../routes";

export function ServiceAccountsPage(_props: PageProps) {
  return <h1>Service accounts</h1>;
}
