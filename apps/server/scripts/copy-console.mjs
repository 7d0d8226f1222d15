// Copies the built console (apps/console/dist, built first by turbo: @kv/console is a dependency of
// this package) into dist/console, where the server's /console/ route reads it (src/console.ts) and
// from where the package's `files` ship it. Fails when the console was not built.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, '../../console/dist');
const to = join(here, '../dist/console');
if (!existsSync(join(from, 'index.html'))) {
  console.error(`copy-console: ${from}/index.html is missing: build @kv/console first (pnpm build)`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
