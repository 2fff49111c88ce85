/** The zones and machine types Warrant offers (a fixed catalog: there is no real capacity behind them). */
export const ZONES: readonly string[] = [
  "asia-east1-a",
  "asia-east1-b",
  "asia-northeast1-a",
  "europe-west1-b",
  "europe-west1-c",
  "europe-west4-a",
  "us-central1-a",
  "us-central1-b",
  "us-central1-c",
  "us-central1-f",
  "us-east1-b",
  "us-east1-c",
  "us-west1-a",
  "us-west1-b",
];

export const regionOf = (zone: string) => zone.replace(/-[a-z]$/, "");

export const MACHINE_TYPES: readonly string[] = [
  "e2-micro",
  "e2-small",
  "e2-medium",
  "e2-standard-2",
  "e2-standard-4",
  "n1-standard-1",
  "n2-standard-2",
  "n2-standard-4",
];
export const DEFAULT_MACHINE_TYPE = "n1-standard-1";
