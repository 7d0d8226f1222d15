/**
 * The kv console in real Chromium (Debian's, through playwright-core) against the real server process
 * on SQLite, which serves the console's built files at `/console/`: sign-in (token in sessionStorage
 * only), stores (create, settings, typed-confirmation delete), entries (create, compare-and-swap edit
 * with a conflict from a Node client, delete with a tombstone in the history), the virtualised key list
 * over paged listing with filters, the live tail showing a Node client's write, a scoped token that
 * cannot see another store, token create (secret shown once) and revoke, the server view, keyboard
 * focus, an axe-core check of every main view at 1280x800 and 390 px wide, the first load's gzipped
 * size, and `--no-console`. Screenshots of each main view go to `e2e/screenshots/` for review.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHttpClient, type KvClient } from '@kv/core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KvServerProcess,
  launchChromium,
  startKvServer,
} from '../../../packages/browser/e2e/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(here, 'screenshots');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The budget for the first load (JS + CSS), gzipped. */
const FIRST_LOAD_BUDGET_BYTES = 150 * 1024;

let server: KvServerProcess;
let browser: Browser;
let node: KvClient;
const stamp = Date.now().toString(36);
const name = (what: string): string => `c-${what}-${stamp}`;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  [server, browser] = await Promise.all([startKvServer(), launchChromium()]);
  node = createHttpClient({ url: server.url, token: server.token, retry: false });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** A new page at `viewport`, signed in with `token` (through the form, as a user does). */
async function signedIn(
  token: string,
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.goto(`${server.url}/console/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { context, page };
}

async function shot(page: Page, file: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${file}.png`), fullPage: true });
}

/** Serious and critical axe-core violations on the page as it is (rule id and the first target). */
async function axeViolations(page: Page): Promise<string[]> {
  // Through the DevTools protocol (not a <script> tag), so the console's CSP stays as it is.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<unknown> } }).axe;
    return (await axe.run()) as {
      passes: unknown[];
      violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
    };
  });
  // axe ran its rules on this page (a page it could not check would pass nothing).
  expect(result.passes.length).toBeGreaterThan(10);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('the console in Chromium against the server', { timeout: 60_000 }, () => {
  it('is served with a strict CSP and loads under 150 KB gzipped, with no other origin', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const responses: Array<{ url: string; type: string; bytes: number }> = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const sizes = new Map<string, number>();
    const urls = new Map<string, { url: string; type: string }>();
    cdp.on('Network.responseReceived', (e) =>
      urls.set(e.requestId, { url: e.response.url, type: e.response.mimeType }),
    );
    cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const res = await page.goto(`${server.url}/console`);
    expect(res?.url()).toBe(`${server.url}/console/`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByLabel('Token').waitFor();
    await page.waitForLoadState('networkidle');
    for (const [id, info] of urls) responses.push({ ...info, bytes: sizes.get(id) ?? 0 });
    expect(responses.every((r) => r.url.startsWith(server.url))).toBe(true);
    const assets = responses.filter((r) => /\.(js|css)$/.test(r.url));
    expect(assets.map((r) => r.type).sort()).toEqual(['text/css', 'text/javascript']);
    const total = assets.reduce((sum, r) => sum + r.bytes, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(FIRST_LOAD_BUDGET_BYTES);
    // No CSP violation or script error on load.
    expect(errors).toEqual([]);
    await shot(page, '01-sign-in');
    expect(await axeViolations(page)).toEqual([]);
    await context.close();
  });

  it('refuses a wrong token, and keeps a good one in sessionStorage only', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/console/`);
    await page.getByLabel('Token').fill('kv_not-a-real-token-000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Token rejected');
    await page.getByLabel('Token').fill(server.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Stores' }).waitFor();
    const where = await page.evaluate(() => ({
      session: sessionStorage.getItem('kv-console-token'),
      local: JSON.stringify(localStorage),
      href: location.href,
      cookie: document.cookie,
    }));
    expect(where.session).toBe(server.token);
    expect(where.local).not.toContain(server.token);
    expect(where.href).not.toContain(server.token);
    expect(where.cookie).toBe('');
    // A reload keeps the session (same tab); a new tab (context) does not.
    await page.reload();
    await page.getByRole('heading', { name: 'Stores' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('kv-console-token'))).toBeNull();
    await context.close();
  });

  it('creates a store, edits its settings and deletes it after a typed confirmation', async () => {
    const { context, page } = await signedIn(server.token);
    const store = name('made');
    const create = page.getByRole('form', { name: 'Create a store' });
    await create.getByLabel('Name').fill(store);
    await create.getByLabel('History').fill('5');
    await create.getByRole('button', { name: 'Create store' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: store, exact: true }) });
    await row.waitFor();
    expect(await node.stores.get(store)).toMatchObject({ name: store, history: 5, keyCount: 0 });
    await shot(page, '02-stores');

    await row.getByRole('button', { name: 'Settings' }).click();
    const settings = page.getByRole('form', { name: `Settings of ${store}` });
    await settings.getByLabel('Default TTL').fill('3600');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await expect
      .poll(async () => (await node.stores.get(store))?.defaultTtlMs, { timeout: 10_000 })
      .toBe(3_600_000);

    await row.getByRole('button', { name: 'Settings' }).click();
    await settings.getByRole('button', { name: 'Delete store' }).click();
    const confirm = settings.getByRole('button', { name: 'Delete store' });
    expect(await confirm.isDisabled()).toBe(true);
    await settings.getByLabel(`Type ${store}`).fill('wrong');
    expect(await confirm.isDisabled()).toBe(true);
    expect(await node.stores.get(store)).toBeDefined();
    await settings.getByLabel(`Type ${store}`).fill(store);
    await confirm.click();
    await row.waitFor({ state: 'detached' });
    expect(await node.stores.get(store)).toBeUndefined();
    await context.close();
  });

  it('adds, edits (compare-and-swap, with a conflict from a Node client) and deletes an entry', async () => {
    const store = name('entries');
    await node.stores.create(store, { history: 10 });
    const { context, page } = await signedIn(server.token);
    await page.goto(`${server.url}/console/#/stores/${store}`);
    const form = page.getByRole('form', { name: 'New entry' });
    await form.getByLabel('Key').fill('user.1');
    await form.getByLabel('Value').fill('{"name":"Ada","tags":["a","b"],"nested":{"deep":{"deeper":1}}}');
    await form.getByLabel('Scopes').fill('team-a, team-b');
    await form.getByLabel('Metadata').fill('{"owner":"e2e"}');
    await form.getByRole('button', { name: 'Create entry' }).click();
    await page.getByRole('heading', { name: 'user.1' }).waitFor();
    const created = await node.store(store).getEntry('user.1');
    expect(created?.value).toEqual({ name: 'Ada', tags: ['a', 'b'], nested: { deep: { deeper: 1 } } });
    expect(created).toMatchObject({ scopes: ['team-a', 'team-b'], metadata: { owner: 'e2e' } });
    await page.getByText('team-a, team-b').waitFor();
    // JSON pretty-printed and foldable: the deepest object starts folded.
    expect(await page.locator('.value.json details').count()).toBe(4);
    expect(await page.locator('.value.json details[open]').count()).toBe(3);

    // Creating the same key again is refused, never an overwrite.
    await page.goto(`${server.url}/console/#/stores/${store}`);
    await form.getByLabel('Key').fill('user.1');
    await form.getByLabel('Value').fill('"other"');
    await form.getByRole('button', { name: 'Create entry' }).click();
    await expect(form.getByRole('alert').textContent()).resolves.toContain('key_exists');
    expect((await node.store(store).getEntry('user.1'))?.revision).toBe(created?.revision);

    // Edit: saved with If-Match on the revision shown.
    await page.goto(`${server.url}/console/#/stores/${store}/entries/user.1`);
    const editor = page.getByRole('form', { name: /Edit/ });
    await editor.getByLabel('Value').fill('{"name":"Ada Lovelace"}');
    await editor.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(async () => (await node.store(store).getEntry('user.1'))?.value, { timeout: 10_000 })
      .toEqual({ name: 'Ada Lovelace' });
    const edited = await node.store(store).getEntry('user.1');
    await page.locator('.revision', { hasText: String(edited!.revision) }).waitFor();

    // A second client changes the entry while the user edits: the save is a conflict, not an overwrite.
    await page.getByRole('form', { name: /Edit/ }).getByLabel('Value').fill('{"name":"from the console"}');
    const other = await node.store(store).update('user.1', { name: 'from node' }, edited!.revision);
    // The open view learns of the change live.
    await page.getByText(`Changed live: put at revision ${other.revision}`).waitFor();
    await page.getByRole('form', { name: /Edit/ }).getByRole('button', { name: 'Save' }).click();
    await page.locator('.note.conflict', { hasText: `now revision ${other.revision}` }).waitFor();
    expect((await node.store(store).getEntry('user.1'))?.value).toEqual({ name: 'from node' });
    // The user's text is kept.
    expect(await page.getByRole('form', { name: /Edit/ }).getByLabel('Value').inputValue()).toBe(
      '{"name":"from the console"}',
    );
    await shot(page, '04-entry-conflict');
    // Starting over edits the current version: that save goes through.
    await page.getByRole('button', { name: 'Edit the current version instead' }).click();
    await page.getByRole('heading', { name: `Edit (from revision ${other.revision})` }).waitFor();
    expect(await page.getByRole('form', { name: /Edit/ }).getByLabel('Value').inputValue()).toContain(
      'from node',
    );

    // Expiry with a countdown, then delete: the history keeps a tombstone.
    await page.getByLabel('Expire in (seconds)').fill('3600');
    await page.getByRole('button', { name: 'Set expiry' }).click();
    await page.locator('.countdown', { hasText: /^(59m|1h 00m)/ }).waitFor();
    expect((await node.store(store).getEntry('user.1'))?.expiresAt).not.toBeNull();
    await page.getByRole('button', { name: 'Copy signed URL (1 h)' }).click();
    const signed = await page.locator('input.signed-url').inputValue();
    const plain = await fetch(signed);
    expect(await plain.json()).toEqual({ name: 'from node' });
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByText('No live entry under this key').waitFor();
    expect(await node.store(store).get('user.1')).toBeUndefined();
    const history = page.getByRole('table').filter({ hasText: 'Operation' });
    await history.locator('tr.tombstone', { hasText: 'delete' }).waitFor();
    expect(await history.locator('tbody tr').count()).toBeGreaterThanOrEqual(4);
    await shot(page, '05-entry-history');
    await context.close();
  });

  it('lists a large store page by page in a virtualised list, with prefix, wildcard and LIKE filters', async () => {
    const store = name('big');
    await node.stores.create(store);
    const items = Array.from({ length: 1000 }, (_, i) => ({
      key: `${i % 2 === 0 ? 'even' : 'odd'}.${String(i).padStart(4, '0')}`,
      value: { i },
    }));
    await node.store(store).setMany(items);
    const { context, page } = await signedIn(server.token);
    const listings: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes(`/v1/stores/${store}/entries?`)) listings.push(r.url());
    });
    await page.goto(`${server.url}/console/#/stores/${store}`);
    const status = page.locator('p.status');
    await status.filter({ hasText: /^200 keys loaded/ }).waitFor();
    // Only the rows in view (plus a few) are in the DOM.
    const rows = page.locator('section.vlist li');
    expect(await rows.count()).toBeLessThan(60);
    expect(await rows.first().textContent()).toContain('even.0000');
    await shot(page, '03-entries');
    // Scrolling to the end fetches the next pages with the cursor, until complete.
    for (let i = 0; i < 10 && !(await status.textContent())?.includes('(all)'); i++) {
      await page.locator('section.vlist').evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await page.waitForTimeout(150);
    }
    await status.filter({ hasText: '1,000 keys loaded (all)' }).waitFor();
    await page.locator('section.vlist').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await rows.filter({ hasText: 'odd.0999' }).waitFor();
    expect(await rows.count()).toBeLessThan(60);
    expect(await rows.last().textContent()).toContain('odd.0999');
    // 1,000 keys in pages of 200: five pages (a sixth, empty one if the fifth could not tell it was last).
    expect(listings.length).toBeGreaterThanOrEqual(5);
    expect(listings.length).toBeLessThanOrEqual(6);
    expect(listings.slice(1).every((u) => u.includes('cursor='))).toBe(true);

    const filters = page.getByRole('form', { name: 'Filter keys' });
    const filterBy = async (mode: string, pattern: string): Promise<void> => {
      await filters.getByLabel('Filter by').selectOption(mode);
      await filters.getByLabel('Pattern').fill(pattern);
      await filters.getByRole('button', { name: 'Apply' }).click();
    };
    await filterBy('prefix', 'odd.09');
    await status.filter({ hasText: '50 keys loaded (all)' }).waitFor();
    await filterBy('match', 'even.*');
    await status.filter({ hasText: /^200 keys loaded/ }).waitFor();
    expect(await rows.first().textContent()).toContain('even.0000');
    await filterBy('like', '%.099_');
    await status.filter({ hasText: '10 keys loaded (all)' }).waitFor();
    // A write elsewhere is announced (the store's watch), and the list reloads on request.
    await node.store(store).set('odd.0999x', { late: true });
    await page.getByText('1 change since the list was loaded.').waitFor();
    await filterBy('prefix', 'odd.0999');
    await status.filter({ hasText: '2 keys loaded (all)' }).waitFor();
    expect(await page.getByText('since the list was loaded').count()).toBe(0);
    await context.close();
  });

  it('tails the live watch: a write by the Node client shows up; pause and resume from its revision', async () => {
    const store = name('live');
    await node.stores.create(store);
    const { context, page } = await signedIn(server.token);
    await page.goto(`${server.url}/console/#/stores/${store}/live`);
    await page.getByText('Watching').waitFor();
    const first = await node.store(store).set('order.1', { total: 5 });
    const tail = page.getByRole('table').filter({ hasText: 'Event' });
    await tail.getByRole('row').filter({ hasText: 'order.1' }).waitFor();
    expect(await tail.getByRole('row').filter({ hasText: 'order.1' }).textContent()).toContain(
      String(first.revision),
    );
    await shot(page, '06-live');

    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused').waitFor();
    const missed = await node.store(store).set('order.2', { total: 7 });
    await page.waitForTimeout(300);
    expect(await tail.getByRole('row').filter({ hasText: 'order.2' }).count()).toBe(0);
    await page.getByRole('button', { name: `Resume after ${first.revision}` }).click();
    await tail.getByRole('row').filter({ hasText: 'order.2' }).waitFor();
    expect(await tail.getByRole('row').filter({ hasText: 'order.2' }).textContent()).toContain(
      String(missed.revision),
    );
    await context.close();
  });

  it('shows a scoped token only what it may: another store is "not allowed"', async () => {
    const mine = name('mine');
    const theirs = name('theirs');
    await node.stores.create(mine);
    await node.stores.create(theirs);
    await node.store(mine).set('visible', 'yes');
    await node.store(theirs).set('key-of-another-store', 'no');
    const scoped = await node.tokens.create({ capabilities: [`kv[${mine}]:*`], description: 'console e2e' });
    const { context, page } = await signedIn(scoped.token);
    // The store list needs kv.admin:stores: a 403 shown as such, with "open a store" still there.
    await page.getByText('Not allowed.').waitFor();
    await page.getByRole('heading', { name: 'Open a store' }).waitFor();
    await shot(page, '07-scoped-stores');
    await page.goto(`${server.url}/console/#/stores/${mine}`);
    await page.locator('section.vlist li', { hasText: 'visible' }).waitFor();
    await page.goto(`${server.url}/console/#/stores/${theirs}`);
    await page.getByText('Not allowed.').first().waitFor();
    expect(await page.locator('section.vlist li').count()).toBe(0);
    expect(await page.content()).not.toContain('key-of-another-store');
    await context.close();
  });

  it('creates a token with the capability picker, shows its secret once, and revokes it', async () => {
    const store = name('tok');
    await node.stores.create(store);
    await node.store(store).set('k', 'v');
    const { context, page } = await signedIn(server.token);
    await page.goto(`${server.url}/console/#/tokens`);
    const form = page.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Description').fill('made in the console');
    await form.getByLabel('Rate limit: requests (empty = no limit)').fill('100');
    await form.getByLabel('Rate limit window').selectOption('3600');
    await form.getByLabel('Store (empty = every store)').fill(store);
    await form.getByLabel('list', { exact: true }).uncheck();
    await form.getByLabel('exists', { exact: true }).check();
    expect(await form.locator('output.caps').textContent()).toBe(`kv[${store}]:get kv[${store}]:exists`);
    // Several stores in one token: keep a row, pick the next; forgetting the kept rows undoes it.
    await form.getByRole('button', { name: 'Keep these and add another store' }).click();
    await form.getByLabel('Store (empty = every store)').fill('other-store');
    expect(await form.locator('output.caps').textContent()).toBe(
      `kv[${store}]:get kv[${store}]:exists kv[other-store]:get kv[other-store]:exists`,
    );
    await form.getByRole('button', { name: 'Forget the kept ones (2)' }).click();
    await form.getByLabel('Store (empty = every store)').fill(store);
    expect(await form.locator('output.caps').textContent()).toBe(`kv[${store}]:get kv[${store}]:exists`);
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.locator('input.secret-value').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await shot(page, '08-tokens');
    const made = createHttpClient({ url: server.url, token: secret, retry: false });
    expect(await made.store(store).get('k')).toBe('v');
    await expect(made.store(store).list()).rejects.toMatchObject({ status: 403 });
    const listed = (await node.tokens.list()).find((t) => t.description === 'made in the console');
    expect(listed?.capabilities).toEqual([`kv[${store}]:get`, `kv[${store}]:exists`]);
    expect(listed?.expiresAt).not.toBeNull();
    expect(listed?.rateLimit).toEqual({ requests: 100, perSeconds: 3600 });
    await page.locator(`tr[data-token-id="${listed!.id}"]`, { hasText: '100 / 3600 s' }).waitFor();

    // Shown once: after "Done" and a reload the secret is nowhere on the page.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByRole('heading', { name: 'Tokens' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('button', { name: `Revoke token ${listed!.id}` }).click();
    await page.locator(`tr[data-token-id="${listed!.id}"]`, { hasText: 'revoked' }).waitFor();
    await expect(made.store(store).get('k')).rejects.toMatchObject({ status: 401 });
    await context.close();
  });

  it('shows the server: health, version, storage and a metrics summary', async () => {
    const { context, page } = await signedIn(server.token);
    await page.goto(`${server.url}/console/#/server`);
    const version = JSON.parse(readFileSync(join(here, '../../server/package.json'), 'utf8')) as {
      version: string;
    };
    const dd = (term: string) =>
      page.locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
    await dd('Version').filter({ hasText: version.version }).waitFor();
    expect(await dd('Storage').textContent()).toBe('sqlite');
    expect(await dd('Health').textContent()).toBe('up');
    expect(await dd('Ready').textContent()).toBe('ready');
    expect(Number((await dd('Requests (since start)').textContent())?.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(await dd('p99 latency').textContent()).toMatch(/^\d+(\.\d)? ms$/);
    await shot(page, '09-server');
    await context.close();
  });

  it('is keyboard-navigable with a visible focus', async () => {
    const { context, page } = await signedIn(server.token);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      return { text: el.textContent, visible: el.matches(':focus-visible'), outline: style.outlineStyle };
    });
    expect(focus).toEqual({ text: 'Stores', visible: true, outline: 'solid' });
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Tokens' }).waitFor();
    await context.close();
  });

  it.each([
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ])('passes axe-core with no serious violation on every main view (%s)', async (label, viewport) => {
    const store = name(`axe-${label}`);
    await node.stores.create(store);
    await node
      .store(store)
      .set('doc', { a: [1, 2, { b: 'c' }] }, { metadata: { by: 'e2e' }, scopes: ['s1'] });
    await node.store(store).set('blob', new Uint8Array([0, 1, 2, 254, 255]));
    // A 1x1 PNG: previewed through a blob: URL, which the console's CSP allows.
    const png = Uint8Array.from(
      atob(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      ),
      (c) => c.charCodeAt(0),
    );
    await node.store(store).set('pixel', png, { contentType: 'image/png' });
    const { context, page } = await signedIn(server.token, viewport);
    // Every CSP violation and script error while the views render (they share one document: the
    // routes are fragments).
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.evaluate(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const views: Array<[string, string, string]> = [
      ['stores', '#/stores', 'Stores'],
      ['entries', `#/stores/${store}`, store],
      ['entry', `#/stores/${store}/entries/doc`, 'doc'],
      ['entry-bytes', `#/stores/${store}/entries/blob`, 'blob'],
      ['entry-image', `#/stores/${store}/entries/pixel`, 'pixel'],
      ['live', `#/stores/${store}/live`, `Live: ${store}`],
      ['tokens', '#/tokens', 'Tokens'],
      ['server', '#/server', 'Server'],
    ];
    for (const [view, hash, heading] of views) {
      await page.goto(`${server.url}/console/${hash}`);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      if (view === 'entries') await page.locator('section.vlist li').first().waitFor();
      if (view === 'entry-bytes') {
        expect(await page.locator('pre.value.hex').textContent()).toContain('00 01 02 fe ff');
      }
      if (view === 'entry-image') {
        const img = page.locator('img.preview');
        await img.waitFor();
        await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBe(1);
      }
      expect({ view, violations: await axeViolations(page) }).toEqual({ view, violations: [] });
      // Nothing overflows the viewport sideways (tables scroll inside their own box).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      expect({ view, overflow }).toEqual({ view, overflow: 0 });
      if (label === 'phone') await shot(page, `10-phone-${view}`);
    }
    expect(errors).toEqual([]);
    // The virtualised rows are placed by inline style properties (allowed by the CSP: CSSOM, not markup).
    await page.goto(`${server.url}/console/#/stores/${store}`);
    const tops = await page
      .locator('section.vlist li')
      .evaluateAll((lis) => lis.map((li) => (li as HTMLElement).offsetTop));
    expect(tops).toEqual(tops.map((_, i) => i * 36));
    await context.close();
  });
});

describe('--no-console', () => {
  it('turns the console off: its paths answer 404 like any unknown path', async () => {
    const off = await startKvServer({ storage: 'memory', args: ['--no-console'] });
    try {
      expect((await fetch(`${off.url}/console/`)).status).toBe(404);
      expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
      const on = await fetch(`${server.url}/console/`);
      expect(on.status).toBe(200);
      expect(await on.text()).toContain('<div id="app">');
    } finally {
      await off.stop();
    }
  });
});
