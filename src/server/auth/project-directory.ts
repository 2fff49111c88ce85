/**
 * An in-memory view of projects for the API hot path (`GET /v1/projects/{project}` and every route
 * that loads its project first), so an authenticated call does not read the datastore for data
 * this node already holds. Like `ServiceAccountDirectory`, an entry (a project, or that there is
 * none) is served from memory for at most `ttlMs`, and dropped at once when this process writes
 * the project or the datastore's change feed says another node did (cluster-sync.ts): a project
 * created anywhere is seen here within the change feed's delay, and within `ttlMs` should a
 * notice ever be missed.
 *
 * Cached projects are frozen: handlers share them and answer them as they are.
 */
import type { Repositories } from "../../datastore/repositories.js";
import type { Project } from "../../domain/project.js";
import { DIRECTORY_TTL_MS } from "./service-account-directory.js";

interface Cached {
  value: Project | undefined;
  at: number;
}

/** Bounds the cache (requests name projects, existing or not). */
export const PROJECT_DIRECTORY_ENTRIES = 10_000;

export class ProjectDirectory {
  private readonly projects = new Map<string, Cached>();
  /** Bumped on every invalidation, so a read that raced one never caches what it read. */
  private generation = 0;

  constructor(
    private readonly repos: Repositories,
    private readonly ttlMs = DIRECTORY_TTL_MS,
    private readonly capacity = PROJECT_DIRECTORY_ENTRIES,
  ) {}

  /** The project, or undefined when there is none; served from memory while fresh. */
  async get(projectId: string): Promise<Project | undefined> {
    const c = this.projects.get(projectId);
    if (c !== undefined && Date.now() - c.at < this.ttlMs) return c.value;
    const g = this.generation;
    const value = freeze(await this.repos.projects.get(projectId));
    if (g === this.generation) {
      if (this.projects.size >= this.capacity && !this.projects.has(projectId)) {
        const oldest = this.projects.keys().next().value;
        if (oldest !== undefined) this.projects.delete(oldest);
      }
      this.projects.set(projectId, { value, at: Date.now() });
    }
    return value;
  }

  /** This process or another node wrote the project. */
  invalidate(projectId: string): void {
    this.generation++;
    this.projects.delete(projectId);
  }

  /** Changes may have been missed (or the periodic re-read): drop everything. */
  invalidateAll(): void {
    this.generation++;
    this.projects.clear();
  }

  get size(): number {
    return this.projects.size;
  }
}

function freeze(p: Project | undefined): Project | undefined {
  if (p === undefined) return undefined;
  if (p.labels) Object.freeze(p.labels);
  if (p.parent) Object.freeze(p.parent);
  return Object.freeze(p);
}
