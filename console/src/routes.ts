/**
 * The console's pages, one per file in ./pages, in the order the navigation shows them. A page
 * that works on one project reads it from the URL (`?project=`); the layout's switcher sets it.
 * To add a page: write pages/<name>.tsx exporting a component, and add one line here.
 */
import type { ComponentType } from "react";
import { AuditPage } from "./pages/audit";
import { IamPage } from "./pages/iam";
import { InstancesPage } from "./pages/instances";
import { ProjectPage } from "./pages/project";
import { ServiceAccountsPage } from "./pages/service-accounts";
import { StoragePage } from "./pages/storage";
import { TroubleshooterPage } from "./pages/troubleshooter";

export interface PageProps {
  /** The project chosen in the switcher (`?project=`); empty until the user has one. */
  project: string;
}

export interface RouteDef {
  /** Path under /console, e.g. `/iam`. */
  path: string;
  /** Navigation label and the document title. */
  title: string;
  component: ComponentType<PageProps>;
  /** Whether the page shows the project switcher's project (false: installation-wide pages). */
  projectScoped: boolean;
}

export const routes: RouteDef[] = [
  { path: "/", title: "Project", component: ProjectPage, projectScoped: true },
  { path: "/iam", title: "IAM", component: IamPage, projectScoped: true },
  {
    path: "/service-accounts",
    title: "Service accounts",
    component: ServiceAccountsPage,
    projectScoped: true,
  },
  { path: "/instances", title: "Instances", component: InstancesPage, projectScoped: true },
  { path: "/storage", title: "Storage", component: StoragePage, projectScoped: true },
  { path: "/audit", title: "Audit log", component: AuditPage, projectScoped: true },
  {
    path: "/troubleshooter",
    title: "Policy troubleshooter",
    component: TroubleshooterPage,
    projectScoped: true,
  },
];

export function routeFor(path: string): RouteDef | undefined {
  return routes.find((r) => r.path === path);
}
