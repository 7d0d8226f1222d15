// Measures what @kv/browser costs a browser bundle: builds (1) the whole package as a library with all
// its dependencies bundled (@kv/core, ky, idb) and (2) the example page (with its own vite.config.ts),
// both minified by Vite, and reports raw and gzipped sizes (node:zlib, level 9). Fails when a bundle
// pulls in a Node built-in or is over its gzip budget. `test/size.test.ts` runs the same measurement in
// `vitest run`; types are in size.d.mts.
// Usage: node packages/browser/scripts/size.mjs [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, defaultClientConditions } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
/** Source entry of @kv/browser. */
export const entry = join(pkg, 'src/index.ts');
/** Directory of the example page (index.html, main.ts, vite.config.ts). */
export const exampleRoot = join(pkg, 'example');

/** Gzipped size limits in bytes: the whole public API with dependencies, and the example page. */
export const BUDGETS = { library: 43.5 * 1024, example: 32.5 * 1024 };

const shared = {
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

/**
 * Bundles `libraryEntry` as an ES library with every dependency included, minified, in memory, and
 * measures it.
 * @param {string} libraryEntry
 * @param {string} cacheDir - Vite's cache directory
 */
export async function measureLibrary(libraryEntry, cacheDir) {
  const output = await build({
    ...shared,
    configFile: false,
    cacheDir,
    build: {
      write: false,
      target: 'es2022',
      minify: true,
      reportCompressedSize: false,
      lib: { entry: libraryEntry, formats: ['es'], fileName: 'kv-browser' },
      rollupOptions: { external: [] },
    },
  });
  return measure(output);
}

/**
 * Builds the example page with its own vite.config.ts, minified, in memory, and measures it.
 * @param {string} cacheDir - Vite's cache directory
 */
export async function measureExample(cacheDir) {
  const output = await build({
    ...shared,
    configFile: join(exampleRoot, 'vite.config.ts'),
    root: exampleRoot,
    cacheDir,
    build: { write: false, target: 'es2022', minify: true, reportCompressedSize: false },
  });
  return measure(output);
}

/** Measures the library and the example page (in a temporary Vite cache directory). */
export async function measureBundles() {
  const cacheDir = await mkdtemp(join(tmpdir(), 'kv-size-'));
  try {
    return { library: await measureLibrary(entry, cacheDir), example: await measureExample(cacheDir) };
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

/**
 * What is wrong with a measurement: Node built-ins in a bundle, or a bundle over its budget.
 * @param {Awaited<ReturnType<typeof measureBundles>>} result
 */
export function problems(result) {
  const out = [];
  for (const name of /** @type {const} */ (['library', 'example'])) {
    const m = result[name];
    if (m.nodeBuiltins.length > 0)
      out.push(`${name}: Node built-ins in the bundle: ${m.nodeBuiltins.join(', ')}`);
    if (m.gzipBytes > BUDGETS[name]) {
      out.push(`${name}: ${m.gzipBytes} bytes gzipped, over the budget of ${BUDGETS[name]} bytes`);
    }
  }
  return out;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await measureBundles();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(`| bundle (Vite, minified) | size | gzipped | budget | contents |
| --- | --- | --- | --- | --- |
| \`@kv/browser\`, whole public API, dependencies included | ${kib(result.library.bytes)} | ${kib(result.library.gzipBytes)} | ${kib(BUDGETS.library)} | ${result.library.packages.join(', ')} |
| example page (\`createClient\` with cache, live, offline writes) | ${kib(result.example.bytes)} | ${kib(result.example.gzipBytes)} | ${kib(BUDGETS.example)} | ${result.example.packages.join(', ')} |`);
  }
  const found = problems(result);
  if (found.length > 0) {
    console.error(found.join('\n'));
    process.exitCode = 1;
  }
}
