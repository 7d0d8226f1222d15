/**
 * Per-file databases on the run's test cluster (`global-setup.ts`): {@link useDatabase} creates a fresh
 * database before the file's tests and drops it after them.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { createDatabase, dropDatabase, type PgCluster } from './cluster.js';

/** URL builder for the run's cluster. @throws Error with the reason the cluster could not start */
export function testCluster(): Pick<PgCluster, 'url'> {
  const provided = inject('pgCluster');
  if ('error' in provided) throw new Error(`PostgreSQL test cluster unavailable: ${provided.error}`);
  const { socketDir } = provided;
  return {
    url: (database: string) =>
      `postgresql://postgres@/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}`,
  };
}

let seq = 0;

/**
 * Creates a fresh database for this test file (in `beforeAll`) and drops it after the file (in
 * `afterAll`). Returns a function giving its URL, or with `fresh()` a further new database (also dropped
 * after the file).
 */
export function useDatabase(): { url: () => string; fresh: () => Promise<string> } {
  const names: string[] = [];
  let first: string | undefined;
  const make = async (): Promise<string> => {
    const cluster = testCluster();
    const name = `kv_${process.pid}_${Date.now().toString(36)}_${++seq}`;
    const url = await createDatabase(cluster, name);
    names.push(name);
    return url;
  };
  beforeAll(async () => {
    first = await make();
  });
  afterAll(async () => {
    const cluster = testCluster();
    for (const name of names) await dropDatabase(cluster, name);
  });
  return {
    url: () => {
      if (first === undefined) throw new Error('useDatabase(): the database is made in beforeAll');
      return first;
    },
    fresh: make,
  };
}
