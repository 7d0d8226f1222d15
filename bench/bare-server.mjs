// The ceiling for any Node HTTP server on this machine: node:http answering the kv routes the benchmark
// uses (GET/PUT one entry) from a Map, with no framework, validation or storage. Prints its URL as a
// JSON line like kv-server does. Usage: node bench/bare-server.mjs [--port <port>]
import { createServer } from 'node:http';

const values = new Map();
let revision = 0;
const PREFIX = '/v1/stores/bench/entries/';

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (!url.startsWith(PREFIX)) {
    res.writeHead(url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(url === '/healthz' ? '{"ok":true}' : '{"error":{"code":"route_not_found"}}');
    return;
  }
  const key = decodeURIComponent(url.slice(PREFIX.length));
  if (req.method === 'GET') {
    const entry = values.get(key);
    if (entry === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"key_not_found"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', etag: `"${entry.revision}"` });
    res.end(entry.value);
    return;
  }
  if (req.method === 'PUT') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const created = !values.has(key);
      values.set(key, { value: Buffer.concat(chunks), revision: ++revision });
      res.writeHead(created ? 201 : 200, { 'content-type': 'application/json' });
      res.end(`{"revision":${revision},"created":${created}}`);
    });
    return;
  }
  res.writeHead(405);
  res.end();
});

const portArg = process.argv.indexOf('--port');
server.listen(portArg === -1 ? 0 : Number(process.argv[portArg + 1]), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
