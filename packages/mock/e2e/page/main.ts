// The page the e2e test drives: @kv/mock's handlers in msw's service worker (`setupWorker`), and
// @kv/browser's client talking to a base URL that does not resolve. The engine runs here, in the page;
// the service worker only forwards each request to it and the response back.
import { createClient, isKvError, RevisionMismatchError } from '@kv/browser';
import { createKvMock } from '@kv/mock';
import { setupWorker } from 'msw/browser';
import type { ErrorReport, MockPage, ScenarioReport, WatchReport } from './report.js';

const baseUrl = 'http://kv.test';
const mock = createKvMock({ baseUrl, seed: { seeded: { greeting: 'hello from seed' } } });
const worker = setupWorker(...mock.handlers);

const mocked: Array<{ method: string; url: string }> = [];
const unhandled: string[] = [];
worker.events.on('response:mocked', ({ request }) => {
  mocked.push({ method: request.method, url: request.url });
});

function errorReport(error: unknown): ErrorReport {
  return {
    className: error instanceof Error ? error.constructor.name : typeof error,
    isRevisionMismatch: error instanceof RevisionMismatchError,
    isKvError: isKvError(error),
    code: isKvError(error) ? error.code : undefined,
    status: isKvError(error) ? error.status : undefined,
  };
}

/**
 * Another client (no cache) changes `doc`; the cached client's live watch, streamed through the service
 * worker, must bring the change into its cache: reads then return it with no request.
 */
async function liveUpdate(
  storeName: string,
  read: () => Promise<unknown>,
): Promise<NonNullable<ScenarioReport['liveUpdate']>> {
  const other = createClient({ url: baseUrl, retry: false });
  await other.store(storeName).set('doc', { title: 'changed elsewhere' });
  await other.close();
  const mark = mocked.length;
  const started = performance.now();
  let value = await read();
  while (JSON.stringify(value) !== '{"title":"changed elsewhere"}' && performance.now() - started < 3_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return { value, requests: mocked.length - mark, ms: Math.round(performance.now() - started) };
}

const page: MockPage = {
  baseUrl,

  async run({ store: storeName, cacheName }) {
    const before = mocked.length;
    const kv = createClient({
      url: baseUrl,
      retry: false,
      ...(cacheName === undefined ? {} : { cache: { name: cacheName, maxAgeMs: 60_000, live: true } }),
    });
    try {
      await kv.stores.create(storeName);
      const createdStore = (await kv.stores.get(storeName))?.name;
      const store = kv.store(storeName);
      const seeded = await kv.store('seeded').get('greeting');

      await store.set('doc', { title: 'hello', tags: ['a', 'b'], n: 1 });
      await store.set('note', 'plain text é');
      await store.set('blob', new Uint8Array([0, 1, 2, 254, 255]));
      const json = await store.getJson('doc');
      const text = await store.getText('note');
      const bytes = await store.getBytes('blob');
      const [jsonEntry, textEntry, bytesEntry] = await Promise.all([
        store.getEntry('doc'),
        store.getEntry('note'),
        store.getEntry('blob'),
      ]);

      let cachedReadRequests: number | undefined;
      if (cacheName !== undefined) {
        // `doc` was just read: a fresh cached copy answers with no request.
        const mark = mocked.length;
        await store.getJson('doc');
        cachedReadRequests = mocked.length - mark;
      }

      const first = await store.set('counter', 1);
      const casOk = await store.set('counter', 2, { ifRevision: first.revision });
      let casConflict: ErrorReport | null = null;
      try {
        await store.set('counter', 3, { ifRevision: first.revision });
      } catch (error) {
        casConflict = errorReport(error);
      }
      const afterConflict = await store.get('counter');

      await store.setMany([
        { key: 'user.1', value: { name: 'Ada' } },
        { key: 'user.2', value: { name: 'Grace' } },
        { key: 'other.1', value: 'x' },
      ]);
      const listed = (await store.list({ prefix: 'user.' })).items.map((item) => item.key);

      const bulkSet = await store.setMany([
        { key: 'bulk.a', value: 1 },
        { key: 'bulk.b', value: 'two' },
        { key: 'bulk.c', value: [3] },
      ]);
      const many = await store.getMany(['bulk.a', 'bulk.b', 'bulk.none']);
      const bulkGet = [...many].map(([key, entry]): [string, unknown] => [key, entry?.value]);
      const bulkDelete = await store.deleteMany(['bulk.a', 'bulk.c']);

      const counter = await store.getEntry('counter');
      const atomicOk = await store
        .atomic()
        .check('counter', counter?.revision ?? 0)
        .check('atomic.new', null)
        .set('atomic.new', { made: true })
        .set('counter', 10)
        .commit();
      const atomicValues = [await store.get('atomic.new'), await store.get('counter')];
      const atomicConflict = await store
        .atomic()
        .check('counter', counter?.revision ?? 0)
        .set('counter', 99)
        .commit();
      const atomicConflictValue = await store.get('counter');
      const missing = (await store.get('does-not-exist')) === undefined ? null : 'defined';

      const report: ScenarioReport = {
        storeName,
        createdStore,
        seeded,
        json,
        jsonContentType: jsonEntry?.contentType,
        text,
        textContentType: textEntry?.contentType,
        bytes: bytes === undefined ? undefined : [...bytes],
        bytesContentType: bytesEntry?.contentType,
        casOk: { revision: casOk.revision, created: casOk.created },
        casConflict,
        afterConflict,
        listed,
        bulkSet: {
          successfulKeyCount: bulkSet.successfulKeyCount,
          unsuccessfulKeys: bulkSet.unsuccessfulKeys,
        },
        bulkGet,
        bulkDelete: { successfulKeyCount: bulkDelete.successfulKeyCount },
        atomicOk: atomicOk.ok ? { ok: true } : { ok: false, failedKeys: atomicOk.failedKeys },
        atomicValues,
        atomicConflict: atomicConflict.ok
          ? { ok: true }
          : { ok: false, failedKeys: atomicConflict.failedKeys },
        atomicConflictValue,
        missing,
        mockedRequests: mocked.length - before,
      };
      if (cachedReadRequests !== undefined) report.cachedReadRequests = cachedReadRequests;
      if (cacheName !== undefined)
        report.liveUpdate = await liveUpdate(storeName, () => store.getJson('doc'));
      if (kv.cache !== undefined) {
        const { hits, misses, revalidations, notModified } = kv.cacheCounters;
        report.cacheCounters = { hits, misses, revalidations, notModified };
      }
      return report;
    } finally {
      await kv.close();
    }
  },

  async watchOnce({ store: storeName, timeoutMs }) {
    const kv = createClient({ url: baseUrl, retry: false });
    await kv.stores.create(storeName);
    const store = kv.store(storeName);
    const report: WatchReport = { events: [], connected: false, error: null, latencyMs: null };
    const watch = store.watch(
      { key: 'live', updatesOnly: true },
      {
        onError: (error, { willRetry }) => {
          report.error ??= `${error.code}${willRetry ? ' (will retry)' : ''}: ${error.message}`;
        },
      },
    );
    let putAt = 0;
    const received = (async () => {
      for await (const event of watch) {
        report.latencyMs ??= performance.now() - putAt;
        report.events.push({
          type: event.type,
          key: event.key,
          value: event.value,
          revision: event.revision,
        });
        if (report.events.length === 1) return;
      }
    })().catch((error: unknown) => {
      report.error ??= String(error);
    });
    const deadline = performance.now() + timeoutMs;
    // `lastRevision` is set by the stream's `ready` event: the watch is connected.
    while (watch.lastRevision === undefined && report.error === null && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    report.connected = watch.lastRevision !== undefined;
    putAt = performance.now();
    await store.set('live', { n: 1 });
    await Promise.race([
      received,
      new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now()))),
    ]);
    watch.stop();
    await kv.close();
    return report;
  },

  mocked: () => mocked.slice(),
  unhandled: () => unhandled.slice(),
};

window.kvMock = page;

const status = document.getElementById('status');
worker
  .start({
    quiet: true,
    onUnhandledRequest(request, print) {
      unhandled.push(`${request.method} ${request.url}`);
      print.error();
    },
  })
  .then(
    () => {
      if (status) status.textContent = 'ready';
    },
    (error: unknown) => {
      if (status) status.textContent = `worker failed: ${String(error)}`;
    },
  );
