/**
 * The model-based property test of the storage suite: a seeded random sequence of commits (each and
 * atomic, with preconditions), clock advances, sweeps and history-depth changes runs against the
 * storage and {@link StorageModel}; after every step the two must agree on commit results, reads,
 * scans, history, scopes, stats and the change log.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { commit } from '../commit.js';
import type { CommitRequest, Mutation, Precondition, ScanQuery, Storage } from '../storage.js';
import { storeConfig, sweep, T0 } from './helpers.js';
import { StorageModel } from './model.js';
import { createPrng } from './prng.js';
import type { StorageFactoryOptions, StorageSuiteOptions } from './suite.js';

/** Keys with shared prefixes and non-ASCII characters whose UTF-16 and UTF-8 orders differ. */
const KEYS = [
  'a',
  'a/1',
  'a/2',
  'ab',
  'b',
  'b/x',
  'c',
  'A',
  'Z',
  '~',
  'é',
  'é/1',
  'ü',
  '\uFFFF',
  '😀',
  '😀/x',
  'k:1',
  'k:10',
  'k:2',
  'z',
];
const PREFIXES = ['a', 'a/', 'b', 'é', '😀', 'k:', 'k:1', 'zz', '\uFFFF'];
const BOUNDS = [...KEYS, 'aa', 'k:', 'é0', '\uE000', '😁'];
const SCOPES = ['blue', 'green', 'red'];
const STORES = [
  { name: 'p1', history: 1 },
  { name: 'p3', history: 3 },
];
const CHANGE_LOG_LIMIT = 40;

/** Registers one property test per seed. */
export function describePropertyTests(
  open: (options: StorageFactoryOptions) => Promise<Storage>,
  options: StorageSuiteOptions,
): void {
  const steps = options.propertySteps ?? 2000;
  const seeds = options.propertySeeds ?? [1, 2, 3];
  const timeout = options.propertyTimeoutMs ?? 60_000;
  describe('model-based property test', () => {
    for (const seed of seeds) {
      it(
        `agrees with the model over ${steps} random steps (seed ${seed})`,
        async () => {
          const storage = await open({ changeLogLimit: CHANGE_LOG_LIMIT });
          await runProperty(storage, seed, steps);
        },
        timeout,
      );
    }
  });
}

async function runProperty(storage: Storage, seed: number, steps: number): Promise<void> {
  const rng = createPrng(seed);
  const model = new StorageModel(CHANGE_LOG_LIMIT);
  let now = T0;
  let idSeq = 0;
  const issuedIds: string[] = [];
  for (const { name, history } of STORES) {
    await storage.createStore(name, storeConfig({ history }), T0, 'secret');
    model.createStore(name, storeConfig({ history }));
  }

  const randomPrecondition = (store: string, key: string): Precondition => {
    const live = model.get(store, key, now);
    const roll = rng.int(0, 3);
    if (roll === 0) return { kind: 'absent' };
    if (roll === 1) return { kind: 'exists' };
    const right = live?.revision ?? rng.int(1, 5);
    return { kind: 'revision', revision: rng.chance(0.7) ? right : right + rng.int(1, 3) };
  };

  const randomMutation = (store: string): Mutation => {
    const key = rng.pick(KEYS);
    const roll = rng.next();
    let mutation: Mutation;
    if (roll < 0.55) {
      const newId = `id-${seed}-${++idSeq}`;
      issuedIds.push(newId);
      mutation = {
        type: 'put',
        key,
        value: Uint8Array.from({ length: rng.int(0, 6) }, () => rng.int(0, 255)),
        contentType: rng.pick(['text/plain', 'application/json', 'application/octet-stream']),
        metadata: rng.chance(0.3) ? { n: rng.int(0, 9), tag: rng.pick(['x', 'é']) } : null,
        scopes: SCOPES.filter(() => rng.chance(0.35)),
        expiresAt: rng.chance(0.35) ? now + rng.int(-3, 40) : null,
        resume: rng.chance(0.2),
        newId,
      };
    } else if (roll < 0.75) {
      mutation = { type: 'delete', key };
    } else if (roll < 0.83) {
      mutation = { type: 'purge', key };
    } else {
      mutation = { type: 'setExpiry', key, expiresAt: rng.chance(0.3) ? null : now + rng.int(-2, 30) };
    }
    if (rng.chance(0.3)) mutation.precondition = randomPrecondition(store, key);
    return mutation;
  };

  const randomScan = (): ScanQuery => {
    const query: ScanQuery = { limit: rng.int(0, 25), values: rng.chance(0.5), nowMs: now };
    if (rng.chance(0.4)) query.prefix = rng.pick(PREFIXES);
    if (rng.chance(0.4)) query.after = rng.pick(BOUNDS);
    if (rng.chance(0.3)) query.scope = rng.pick(SCOPES);
    if (rng.chance(0.5)) query.reverse = true;
    return query;
  };

  const compareStore = async (store: string, at: string, touched: Iterable<string>, full: boolean) => {
    const where = `seed ${seed}, ${at}, store ${store}`;
    const record = await storage.getStore(store);
    expect(
      { revision: record?.revision, keyCount: record?.keyCount, totalBytes: record?.totalBytes },
      `${where}: stats`,
    ).toEqual(model.stats(store));
    expect(await storage.getMany(store, KEYS, now, true), `${where}: getMany`).toEqual(
      KEYS.map((key) => model.get(store, key, now)),
    );
    const all: ScanQuery = { limit: 1000, values: true, nowMs: now };
    expect(await storage.scan(store, all), `${where}: full scan`).toEqual(model.scan(store, all));
    const query = randomScan();
    expect(await storage.scan(store, query), `${where}: scan ${JSON.stringify(query)}`).toEqual(
      model.scan(store, query),
    );
    expect(await storage.listScopes(store, now), `${where}: listScopes`).toEqual(
      model.listScopes(store, now),
    );
    const keys = full ? KEYS : [...new Set([...touched, rng.pick(KEYS)])];
    for (const key of keys) {
      expect(await storage.history(store, key), `${where}: history of ${key}`).toEqual(
        model.history(store, key),
      );
    }
    if (!full) return;
    for (const id of issuedIds) {
      expect(await storage.getById(store, id, now), `${where}: getById ${id}`).toEqual(
        model.getById(store, id, now),
      );
    }
    expect(await storage.changeLogFloor(store), `${where}: changeLogFloor`).toBe(model.changeLogFloor(store));
    const after = Math.max(0, model.stats(store).revision - rng.int(0, CHANGE_LOG_LIMIT + 10));
    const limit = rng.int(1, CHANGE_LOG_LIMIT + 5);
    expect(await storage.changes(store, after, limit), `${where}: changes(${after}, ${limit})`).toEqual(
      model.changes(store, after, limit),
    );
  };

  for (let step = 1; step <= steps; step++) {
    const at = `step ${step}`;
    const roll = rng.next();
    const touched = new Map<string, Set<string>>(STORES.map((s) => [s.name, new Set<string>()]));
    if (roll < 0.6) {
      const store = rng.pick(STORES).name;
      const mode = rng.chance(0.3) ? 'atomic' : 'each';
      const request: CommitRequest = {
        mode,
        mutations: Array.from({ length: rng.int(1, 4) }, () => randomMutation(store)),
        nowMs: now,
      };
      if (mode === 'atomic' && rng.chance(0.5)) {
        request.checks = Array.from({ length: rng.int(1, 2) }, () => {
          const key = rng.pick(KEYS);
          return { key, precondition: randomPrecondition(store, key) };
        });
      }
      for (const m of request.mutations) touched.get(store)!.add(m.key);
      const expected = model.commit(store, request);
      expect(
        await commit(storage, store, request),
        `seed ${seed}, ${at}: commit ${describeRequest(request)}`,
      ).toEqual(expected);
    } else if (roll < 0.8) {
      now += rng.int(1, 15);
    } else if (roll < 0.95) {
      const limit = rng.int(0, 5);
      expect(await sweep(storage, now, limit), `seed ${seed}, ${at}: sweepExpired(${limit})`).toBe(
        model.sweepExpired(now, limit),
      );
      for (const s of STORES) for (const key of KEYS) touched.get(s.name)!.add(key);
    } else {
      const store = rng.pick(STORES).name;
      const depth = rng.pick([1, 2, 3, 5]);
      await storage.updateStore(store, { history: depth }, now);
      model.setHistoryDepth(store, depth);
      for (const key of KEYS) touched.get(store)!.add(key);
    }
    const full = step % 100 === 0 || step === steps;
    for (const { name } of STORES) await compareStore(name, at, touched.get(name)!, full);
  }
}

function describeRequest(request: CommitRequest): string {
  return JSON.stringify(request, (_key, value: unknown) =>
    value instanceof Uint8Array ? `<${value.length} bytes>` : value,
  );
}
