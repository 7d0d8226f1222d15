import {
  base64ToBytes,
  parseSse,
  RevisionCompactedError,
  type SseMessage,
  utf8Decode,
} from '@kv/core/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { commit as commitTo, sweepExpired } from './commit.js';
import { MemoryStorage } from './memory-storage.js';
import type { CommitRequest, CommitResult, Mutation, PutOp, Storage } from './storage.js';
import { openWatchStream, parseWatchQuery, WatchHub, type WatchQuery } from './watch.js';

const STORE = 'w';
const now = (): number => Date.now();

function putOp(key: string, value: string, extra: Partial<PutOp> = {}): PutOp {
  return {
    type: 'put',
    key,
    value: new TextEncoder().encode(value),
    contentType: 'text/plain; charset=utf-8',
    metadata: null,
    scopes: [],
    expiresAt: null,
    resume: false,
    newId: crypto.randomUUID(),
    ...extra,
  };
}

interface Rig {
  storage: Storage;
  hub: WatchHub;
  /** The sweeper's write, waking the hub as the engine's sweeper does. */
  sweep(nowMs: number, limit: number): Promise<number>;
  put(key: string, value: string, extra?: Partial<PutOp>): Promise<number>;
  del(key: string): Promise<number>;
  watch(query: WatchQuery): Promise<{ next(): Promise<SseMessage>; stop(): void }>;
}

const rigs: Array<{ hub: WatchHub; controllers: AbortController[] }> = [];
afterEach(() => {
  for (const r of rigs.splice(0)) {
    for (const c of r.controllers) c.abort();
    r.hub.close();
  }
});

async function rig(changeLogLimit = 10_000): Promise<Rig> {
  const raw = new MemoryStorage({ changeLogLimit });
  const hub = new WatchHub(raw, 20);
  const storage = raw;
  // What the engine does on its writes (EngineContext.commit, the sweeper): wake the hub after them.
  const notifyingCommit = async (store: string, request: CommitRequest): Promise<CommitResult> => {
    const result = await commitTo(raw, store, request);
    if (result.ok) hub.notify(store);
    return result;
  };
  const sweep = async (nowMs: number, limit: number): Promise<number> => {
    const { expired, stores } = await sweepExpired(raw, nowMs, limit);
    for (const store of stores) hub.notify(store);
    return expired;
  };
  await storage.createStore(
    STORE,
    { history: 5, defaultTtlMs: null, maxValueBytes: 1 << 20 },
    now(),
    'secret',
  );
  const controllers: AbortController[] = [];
  rigs.push({ hub, controllers });
  const commit = async (mutation: Mutation): Promise<number> => {
    const r = await notifyingCommit(STORE, { mode: 'atomic', mutations: [mutation], nowMs: now() });
    if (!r.ok) throw new Error('commit failed');
    return r.revision;
  };
  return {
    storage,
    hub,
    sweep,
    put: (key, value, extra) => commit(putOp(key, value, extra)),
    del: (key) => commit({ type: 'delete', key }),
    async watch(query) {
      const controller = new AbortController();
      controllers.push(controller);
      const body = await openWatchStream({
        storage,
        hub,
        store: STORE,
        query,
        signal: controller.signal,
        now,
      });
      const it = parseSse(body);
      return {
        async next() {
          const r = await it.next();
          if (r.done) throw new Error('stream ended');
          return r.value;
        },
        stop: () => controller.abort(),
      };
    },
  };
}

const data = (m: SseMessage): Record<string, unknown> => JSON.parse(m.data) as Record<string, unknown>;
const textOf = (m: SseMessage): string => utf8Decode(base64ToBytes(data(m).value as string));

describe('watch stream', () => {
  it('delivers current values, then ready with the start revision, then every write in order', async () => {
    const r = await rig();
    await r.put('a', '1');
    await r.put('b', '2');
    const w = await r.watch({});
    const first = await w.next();
    const second = await w.next();
    expect([first.event, data(first).key, textOf(first)]).toEqual(['put', 'a', '1']);
    expect([second.event, data(second).key]).toEqual(['put', 'b']);
    expect(first.id).toBeUndefined();
    const ready = await w.next();
    expect(ready.event).toBe('ready');
    expect(ready.id).toBe('2');
    const rev = await r.put('a', '3');
    const del = await r.del('b');
    const e1 = await w.next();
    const e2 = await w.next();
    expect([e1.event, e1.id, textOf(e1)]).toEqual(['put', String(rev), '3']);
    expect([e2.event, e2.id, data(e2).key, data(e2).value]).toEqual(['delete', String(del), 'b', undefined]);
  });

  it('updatesOnly skips the snapshot; fromRevision replays exactly the writes after it', async () => {
    const r = await rig();
    const revs = [await r.put('k.1', 'a'), await r.put('k.2', 'b'), await r.put('k.3', 'c')];
    const live = await r.watch({ updatesOnly: true });
    expect((await live.next()).event).toBe('ready');
    const replay = await r.watch({ fromRevision: revs[0]! });
    const m1 = await replay.next();
    const m2 = await replay.next();
    expect([m1.id, m2.id]).toEqual([String(revs[1]), String(revs[2])]);
    const rev4 = await r.put('k.4', 'd');
    expect((await live.next()).id).toBe(String(rev4));
    expect((await replay.next()).id).toBe(String(rev4));
  });

  it('filters by NATS match, prefix and key', async () => {
    const r = await rig();
    const byMatch = await r.watch({ match: 'user.*', updatesOnly: true });
    const byPrefix = await r.watch({ prefix: 'user.1', updatesOnly: true });
    const byKey = await r.watch({ key: 'user.2', updatesOnly: true });
    for (const w of [byMatch, byPrefix, byKey]) expect((await w.next()).event).toBe('ready');
    await r.put('user.1.name', 'x'); // not user.* (two tokens after user)
    await r.put('user.1', 'y');
    await r.put('config', 'z');
    await r.put('user.2', 'w');
    expect(data(await byMatch.next()).key).toBe('user.1');
    expect(data(await byMatch.next()).key).toBe('user.2');
    expect(data(await byPrefix.next()).key).toBe('user.1.name');
    expect(data(await byPrefix.next()).key).toBe('user.1');
    expect(data(await byKey.next()).key).toBe('user.2');
  });

  it('resume: true first delivers live entries marked resume as resume events (AntiRaid KeyResume)', async () => {
    const r = await rig();
    await r.put('job.1', 'running', { resume: true });
    await r.put('job.2', 'plain');
    const w = await r.watch({ resume: true, updatesOnly: true });
    const m = await w.next();
    expect([m.event, data(m).key, data(m).resume, textOf(m)]).toEqual(['resume', 'job.1', true, 'running']);
    expect((await w.next()).event).toBe('ready');
  });

  it('delivers expire events written by the sweeper (AntiRaid KeyExpiry)', async () => {
    const r = await rig();
    await r.put('temp', 'x', { expiresAt: now() - 1 });
    const w = await r.watch({ updatesOnly: true });
    expect((await w.next()).event).toBe('ready');
    expect(await r.sweep(now(), 100)).toBe(1);
    const m = await w.next();
    expect([m.event, data(m).key]).toEqual(['expire', 'temp']);
  });

  it('delivers the expire of a key written again before the sweeper reached it', async () => {
    const r = await rig();
    await r.put('temp', 'x', { expiresAt: now() - 1 });
    const w = await r.watch({ updatesOnly: true });
    expect((await w.next()).event).toBe('ready');
    await r.put('temp', 'y');
    const expire = await w.next();
    expect([expire.event, data(expire).key, expire.id]).toEqual(['expire', 'temp', '2']);
    const put = await w.next();
    expect([put.event, data(put).key, textOf(put), put.id]).toEqual(['put', 'temp', 'y', '3']);
    expect(await r.sweep(now(), 100)).toBe(0);
  });

  it('includeHistory replays each key history oldest first before ready', async () => {
    const r = await rig();
    await r.put('h', 'v1');
    await r.put('h', 'v2');
    const w = await r.watch({ includeHistory: true });
    expect(textOf(await w.next())).toBe('v1');
    expect(textOf(await w.next())).toBe('v2');
    expect((await w.next()).event).toBe('ready');
  });

  it('a resume point older than the change log is refused with RevisionCompactedError', async () => {
    const r = await rig(5);
    for (let i = 0; i < 20; i++) await r.put(`k${i}`, String(i));
    await expect(r.watch({ fromRevision: 1 })).rejects.toBeInstanceOf(RevisionCompactedError);
  });

  it('a watcher that falls behind the change log gets an error event and the stream ends', async () => {
    const r = await rig(10);
    const w = await r.watch({ updatesOnly: true });
    expect((await w.next()).event).toBe('ready');
    for (let i = 0; i < 30; i++) await r.put(`k${i}`, String(i));
    const m = await w.next();
    expect(m.event).toBe('error');
    expect((data(m).error as { code: string }).code).toBe('revision_compacted');
    await expect(w.next()).rejects.toThrow('stream ended');
  });

  it('under concurrent writers every acknowledged revision is delivered once, in order', async () => {
    const r = await rig();
    const w = await r.watch({ updatesOnly: true });
    expect((await w.next()).event).toBe('ready');
    const acknowledged: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, writer) => {
        for (let i = 0; i < 50; i++) acknowledged.push(await r.put(`w${writer}.${i % 7}`, String(i)));
      }),
    );
    const seen: number[] = [];
    while (seen.length < acknowledged.length) seen.push(Number((await w.next()).id));
    expect(seen).toEqual([...acknowledged].sort((a, b) => a - b));
  });

  it('parses query options and Last-Event-ID', () => {
    const q = parseWatchQuery(new URL('http://x/w?match=a.*&updatesOnly=true&resume=1'), null);
    expect(q).toEqual({ match: 'a.*', updatesOnly: true, resume: true });
    expect(parseWatchQuery(new URL('http://x/w?fromRevision=3'), '9').fromRevision).toBe(9);
    expect(() => parseWatchQuery(new URL('http://x/w?fromRevision=-1'), null)).toThrow(/revision/);
    expect(() => parseWatchQuery(new URL('http://x/w?includeHistory=true&updatesOnly=true'), null)).toThrow();
    expect(() => parseWatchQuery(new URL('http://x/w?match=a..b'), null)).not.toThrow();
  });
});

describe('WatchHub with storage change hints (Storage.onChange)', () => {
  it("wakes a store's watchers on a hint for that store, counts hints between waits, listens until close", async () => {
    const listeners = new Set<(store: string) => void>();
    const storage = Object.assign(new MemoryStorage(), {
      onChange(listener: (store: string) => void): () => void {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    });
    // An hour of poll interval and wait timeout: only a hint can wake the watcher during the test.
    const hub = new WatchHub(storage, 3_600_000);
    expect(listeners.size).toBe(0);
    const controller = new AbortController();
    let woken = false;
    const waiting = hub.wait(STORE, 3_600_000, controller.signal).then(() => {
      woken = true;
    });
    expect(listeners.size).toBe(1);
    for (const listener of listeners) listener('another-store');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(woken).toBe(false);
    for (const listener of [...listeners]) listener(STORE);
    await waiting;
    expect(woken).toBe(true);
    // A hint that comes while no watcher waits (a watcher reading the log) is not lost: the watcher
    // passes the generation it read before, and its next wait returns at once.
    const generation = hub.generation(STORE);
    for (const listener of [...listeners]) listener(STORE);
    await hub.wait(STORE, 3_600_000, controller.signal, generation);
    // The hub listens until it closes.
    expect(listeners.size).toBe(1);
    hub.close();
    expect(listeners.size).toBe(0);
  });
});
