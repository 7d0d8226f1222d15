/**
 * vitest global setup of the `server-postgres` project: one throwaway cluster for the run (see
 * `cluster.ts`), stopped by PID at the end. Each test file makes its own database on it
 * (`database.ts`). When the cluster cannot start (no binaries, initdb failure), the reason is handed to
 * the test files, whose `beforeAll` throws it: every PostgreSQL test fails with that message.
 */
import type { TestProject } from 'vitest/node';
import { type PgCluster, startCluster } from './cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test cluster: its socket directory, or why it could not start. */
    pgCluster: { socketDir: string } | { error: string };
  }
}

let cluster: PgCluster | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    cluster = await startCluster();
    project.provide('pgCluster', { socketDir: cluster.socketDir });
  } catch (e) {
    project.provide('pgCluster', { error: (e as Error).message });
  }
  return async () => {
    await cluster?.stop();
  };
}
