// The kv console's load figures in real Chromium against the real server process (SQLite), run with
// `node bench/console.mjs` after `npx turbo run build`. Prints JSON and the lines recorded in
// docs/performance.md ("Console").
//
// Measured (median of RUNS fresh browser contexts, so no HTTP or IndexedDB cache):
// - first load: bytes of JS + CSS on the wire (gzip), and the time from navigation start until the
//   sign-in form's token field is in the page (the app has run; it is interactive);
// - a 100,000-key store: time from navigation start (a signed-in tab opening the store's URL) until the
//   first row of the key list is in the page, and, inside the running app, from the hash change that
//   opens the store until its first row.

import { launchChromium, startKvServer } from '../packages/browser/e2e/harness.mjs';
import { createHttpClient } from '../packages/core/dist/index.js';

const KEYS = 100_000;
const BATCH = 10_000;
const RUNS = 7;
const STORE = 'console-bench';
const TIMEOUT_MS = 30_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Records in `window.__marks` when the selectors first match (from navigation start, in ms). */
function markWhenPresent(selectors) {
  window.__marks = {};
  const check = () => {
    for (const [name, selector] of Object.entries(selectors)) {
      if (window.__marks[name] === undefined && document.querySelector(selector) !== null) {
        window.__marks[name] = performance.now();
      }
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  addEventListener('hashchange', () => {
    window.__marks.hashchange = performance.now();
    window.__marks.row = undefined;
  });
}

const server = await startKvServer();
const browser = await launchChromium();
try {
  const node = createHttpClient({ url: server.url, token: server.token, retry: false });
  await node.stores.create(STORE);
  const started = Date.now();
  for (let from = 0; from < KEYS; from += BATCH) {
    const items = [];
    for (let i = from; i < from + BATCH; i++) {
      items.push({
        key: `city.${String(i % 250).padStart(3, '0')}.${String(i).padStart(6, '0')}`,
        value: { i },
      });
    }
    await node.store(STORE).setMany(items);
  }
  const info = await node.stores.get(STORE);
  console.error(`seeded ${info.keyCount} keys in ${Date.now() - started} ms`);

  const firstLoad = [];
  const storeCold = [];
  const storeInApp = [];
  let wireBytes = 0;
  for (let run = 0; run < RUNS; run++) {
    // First load: a fresh context, the sign-in page.
    {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript(markWhenPresent, { input: '#token' });
      const page = await context.newPage();
      const sizes = [];
      page.on('requestfinished', async (request) => {
        if (/\.(js|css)$/.test(request.url())) sizes.push((await request.sizes()).responseBodySize);
      });
      await page.goto(`${server.url}/console/`);
      await page.waitForFunction(() => window.__marks.input !== undefined, null, { timeout: TIMEOUT_MS });
      firstLoad.push(await page.evaluate(() => window.__marks.input));
      await page.waitForLoadState('networkidle');
      wireBytes = sizes.reduce((a, b) => a + b, 0);
      await context.close();
    }
    // A signed-in tab (token in sessionStorage) opening the 100,000-key store directly, then the same
    // store again from inside the app (stores view -> hash change).
    {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript((token) => sessionStorage.setItem('kv-console-token', token), server.token);
      await context.addInitScript(markWhenPresent, { row: 'section.vlist li', stores: 'table.grid' });
      const page = await context.newPage();
      await page.goto(`${server.url}/console/#/stores/${STORE}`);
      await page.waitForFunction(() => window.__marks.row !== undefined, null, { timeout: TIMEOUT_MS });
      storeCold.push(await page.evaluate(() => window.__marks.row));
      await page.evaluate(() => {
        location.hash = '#/stores';
      });
      await page.waitForFunction(() => document.querySelector('table.grid') !== null, null, {
        timeout: TIMEOUT_MS,
      });
      await page.evaluate((store) => {
        location.hash = `#/stores/${store}`;
      }, STORE);
      await page.waitForFunction(() => window.__marks.row !== undefined, null, { timeout: TIMEOUT_MS });
      storeInApp.push(await page.evaluate(() => window.__marks.row - window.__marks.hashchange));
      await context.close();
    }
  }
  const result = {
    keys: info.keyCount,
    runs: RUNS,
    firstLoadJsCssGzipBytes: wireBytes,
    firstLoadInteractiveMs: Math.round(median(firstLoad)),
    storeFirstPageFromNavigationMs: Math.round(median(storeCold)),
    storeFirstPageInAppMs: Math.round(median(storeInApp)),
    loadavg: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `| first load, JS + CSS gzipped | ${(wireBytes / 1024).toFixed(1)} KB |\n` +
      `| first load, navigation to sign-in form (median of ${RUNS}) | ${result.firstLoadInteractiveMs} ms |\n` +
      `| ${KEYS.toLocaleString('en')}-key store, navigation to first row | ${result.storeFirstPageFromNavigationMs} ms |\n` +
      `| ${KEYS.toLocaleString('en')}-key store, in-app open to first row | ${result.storeFirstPageInAppMs} ms |`,
  );
} finally {
  await browser.close();
  await server.stop();
}
