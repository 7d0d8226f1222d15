// The page the e2e tests drive: it exposes @kv/browser and a fetch that logs every request on
// `window`, then tests call them through `page.evaluate`.
import * as kv from '@kv/browser';
import type { PageGlobals } from './globals.js';

const net: PageGlobals['net'] = { requests: [] };

const page: PageGlobals = {
  kv,
  net,
  countingFetch: (input, init) => {
    const request = new Request(input, init);
    net.requests.push({
      method: request.method,
      url: request.url,
      ifNoneMatch: request.headers.get('if-none-match'),
      ifMatch: request.headers.get('if-match'),
    });
    return fetch(request);
  },
  conflicts: [],
  clients: {},
};
Object.assign(window, page);
document.getElementById('status')!.textContent = 'ready';
