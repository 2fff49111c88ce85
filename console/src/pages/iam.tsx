import type { PageProps } from "../routes";

export function IamPage(_props: PageProps) {
  return <h1>IAM</h1>;
}
