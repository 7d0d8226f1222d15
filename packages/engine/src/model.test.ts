/**
 * Property-style test through HTTP: random sequences of put / delete / purge / clock moves / sweeps,
 * driven through `engine.fetch`, must agree with a tiny model of the protocol (live entries, store
 * revision, created/deleted flags, listing order, and the `expire` write a write on an expired but
 * unswept key records first).
 */
import { compareKeys } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { entryPath, setup } from '../test/harness.js';
import { createPrng } from './testing/prng.js';

const KEYS = ['a', 'b', 'a.b', 'a/b', 'ключ', '😀', 'z%'];

interface ModelEntry {
  value: string;
  expiresAt: number | null;
  revision: number;
}

describe.each([1, 2, 3, 4])('random operation sequences agree with a model (seed %i)', (seed) => {
  it('after every step', async () => {
    const rng = createPrng(seed);
    const h = setup();
    await h.createStore('s');
    const entries = new Map<string, ModelEntry>();
    const withHistory = new Set<string>();
    let revision = 0;
    const live = (key: string): ModelEntry | undefined => {
      const e = entries.get(key);
      return e !== undefined && (e.expiresAt === null || e.expiresAt > h.now()) ? e : undefined;
    };

    // A write on an expired key the sweeper has not reached first records that key's expire write.
    const expireDue = (key: string): void => {
      if (entries.has(key) && live(key) === undefined) {
        revision++;
        entries.delete(key);
      }
    };

    for (let step = 0; step < 150; step++) {
      const key = KEYS[rng.int(0, KEYS.length - 1)] as string;
      const roll = rng.int(0, 99);
      if (roll < 75) expireDue(key);
      if (roll < 45) {
        const value = `v${step}`;
        const ttl = rng.chance(0.3) ? rng.int(1, 50) : undefined;
        const res = await h.put('s', key, value, ttl === undefined ? {} : { 'kv-ttl-ms': String(ttl) });
        expect(res.created, `step ${step} put ${key}`).toBe(live(key) === undefined);
        revision++;
        expect(res.revision).toBe(revision);
        entries.set(key, { value, expiresAt: ttl === undefined ? null : h.now() + ttl, revision });
        withHistory.add(key);
      } else if (roll < 65) {
        const res = await h.json<{ deleted: boolean; revision?: number }>('DELETE', entryPath('s', key), 200);
        const was = live(key);
        expect(res.deleted, `step ${step} delete ${key}`).toBe(was !== undefined);
        if (was !== undefined) {
          revision++;
          expect(res.revision).toBe(revision);
          entries.delete(key);
        }
      } else if (roll < 75) {
        const res = await h.json<{ deleted: boolean }>('DELETE', `${entryPath('s', key)}?purge=true`, 200);
        expect(res.deleted, `step ${step} purge ${key}`).toBe(withHistory.has(key));
        if (withHistory.has(key)) revision++;
        entries.delete(key);
        withHistory.delete(key);
      } else if (roll < 90) {
        h.advance(rng.int(1, 30));
      } else {
        const expired = [...entries].filter(([k]) => live(k) === undefined).map(([k]) => k);
        expect(await h.engine.sweepExpired(), `step ${step} sweep`).toBe(expired.length);
        for (const k of expired) entries.delete(k);
        revision += expired.length;
      }

      // The engine agrees with the model: every key, the listing and the store revision.
      for (const k of KEYS) {
        const res = await h.call('GET', entryPath('s', k));
        const e = live(k);
        expect(res.status, `step ${step} GET ${k}`).toBe(e === undefined ? 404 : 200);
        if (e !== undefined) {
          expect(await res.text()).toBe(e.value);
          expect(res.headers.get('kv-revision')).toBe(String(e.revision));
        } else {
          await res.body?.cancel();
        }
      }
      const listing = await h.json<{ items: Array<{ key: string }> }>('GET', '/v1/stores/s/entries', 200);
      expect(listing.items.map((i) => i.key)).toEqual(
        KEYS.filter((k) => live(k) !== undefined).sort(compareKeys),
      );
      expect((await h.json<{ revision: number }>('GET', '/v1/stores/s', 200)).revision).toBe(revision);
    }
  });
});
