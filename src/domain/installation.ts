/** The installation record `warrant serve` writes on first start. */
export interface Installation {
  organizationId: string;
  createdAt: string;
  defaultProject: string;
}
