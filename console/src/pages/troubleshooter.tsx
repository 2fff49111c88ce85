import type { PageProps } from "../routes";

export function TroubleshooterPage(_props: PageProps) {
  return <h1>Policy troubleshooter</h1>;
}
