/**
 * The kv conformance suite run on the browser client in Chromium, with its IndexedDB cache on
 * (read-through with revalidation, `maxAgeMs: 0`), against the real server process, access-control
 * cases included: every client (the admin's and those of tokens a case creates) is a `@kv/browser`
 * client in the page, and the watch cases run the page client's `store.watch()` (`page-client.ts`).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeConformance } from '@kv/conformance';
import { buildPage, launchChromium, serveStatic, startKvServer } from './harness.mjs';
import { pageClient } from './page-client.js';
import './page/globals.js';

const pageRoot = join(dirname(fileURLToPath(import.meta.url)), 'page');

describeConformance(
  '@kv/browser in Chromium (cache on) against the server',
  async () => {
    const [server, bundle, browser] = await Promise.all([
      startKvServer(),
      buildPage(pageRoot),
      launchChromium(),
    ]);
    const site = await serveStatic(bundle.dir);
    const page = await browser.newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    let clients = 0;
    /** A new `@kv/browser` client in the page that sends `token`, with its own cache database. */
    const createPageClient = async (token: string) => {
      clients += 1;
      const name = `conformance-${clients}`;
      await page.evaluate(
        ({ url, token, name }) => {
          window.clients[name] = window.kv.createClient({
            url,
            token,
            cache: { name: `kv-${name}`, maxAgeMs: 0 },
          });
        },
        { url: server.url, token, name },
      );
      return pageClient(page, name, server.url);
    };
    return {
      createClient: () => createPageClient(server.token),
      auth: { adminToken: server.token, clientWithToken: createPageClient },
      async close() {
        await browser.close();
        await site.close();
        await server.stop();
        await bundle.remove();
      },
    };
  },
  { auth: true },
);
