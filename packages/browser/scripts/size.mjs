// Measures what @kv/browser costs a browser bundle: builds (1) the whole package as a library with all
// its dependencies bundled (@kv/core, ky, idb) and (2) the example page, both minified by Vite, and
// reports raw and gzipped sizes (node:zlib, level 9). Fails when the bundle pulls in a Node built-in.
// Usage: node packages/browser/scripts/size.mjs [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, defaultClientConditions } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const entry = join(pkg, 'src/index.ts');

const shared = {
  configFile: false,
  logLevel: 'warn',
  publicDir: false,
  envFile: false,
  resolve: {
    alias: { '@kv/browser': entry },
    conditions: ['@kv/source', ...defaultClientConditions],
  },
};

/** Sizes of the JavaScript chunks of a Vite build output. */
function measure(output) {
  const outputs = Array.isArray(output) ? output.flatMap((o) => o.output) : output.output;
  const chunks = outputs.filter((o) => o.type === 'chunk');
  const code = chunks.map((c) => c.code).join('\n');
  const modules = [...new Set(chunks.flatMap((c) => Object.keys(c.modules)))];
  const nodeBuiltins = modules.filter(
    (id) => id.startsWith('node:') || id.includes('__vite-browser-external'),
  );
  return {
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).byteLength,
    modules: modules.length,
    packages: [...new Set(modules.map(packageOf))].sort(),
    nodeBuiltins,
  };
}

function packageOf(id) {
  if (id.startsWith('\0')) return 'vite runtime';
  const nm = id.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = id.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? id);
  }
  const m = /\/packages\/([^/]+)\//.exec(id);
  return m ? `@kv/${m[1]}` : id;
}

const cacheDir = await mkdtemp(join(tmpdir(), 'kv-size-'));
try {
  const library = await build({
    ...shared,
    cacheDir,
    build: {
      write: false,
      target: 'es2022',
      minify: true,
      reportCompressedSize: false,
      lib: { entry, formats: ['es'], fileName: 'kv-browser' },
      rollupOptions: { external: [] },
    },
  });
  const example = await build({
    ...shared,
    cacheDir,
    root: join(pkg, 'example'),
    build: { write: false, target: 'es2022', minify: true, reportCompressedSize: false },
  });
  const result = { library: measure(library), example: measure(example) };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(`| bundle (Vite, minified) | size | gzipped | contents |
| --- | --- | --- | --- |
| \`@kv/browser\`, whole public API, dependencies included | ${kib(result.library.bytes)} | ${kib(result.library.gzipBytes)} | ${result.library.packages.join(', ')} |
| example page (\`createClient\` with cache, live, offline writes) | ${kib(result.example.bytes)} | ${kib(result.example.gzipBytes)} | ${result.example.packages.join(', ')} |`);
  }
  const leaked = [...result.library.nodeBuiltins, ...result.example.nodeBuiltins];
  if (leaked.length > 0) {
    console.error(`Node built-ins in the browser bundle: ${leaked.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  await rm(cacheDir, { recursive: true, force: true });
}
