#!/usr/bin/env node
// Packs every public workspace package into a tarball, as it would be published: `pnpm pack` writes
// real versions for `workspace:^` ranges and applies each manifest's `publishConfig` (whose `exports`
// leave out the `@kv/source` condition, which points at `src/*.ts`, not shipped). Publishing goes the
// same way: `pnpm release` runs `changeset publish`, which calls `pnpm publish` in a pnpm workspace
// (docs/architecture.md, "Decisions": packing and publishing).
//
// Usage: node scripts/pack.mjs [destination directory]   (default ./packed; build first: pnpm build)
// Prints one JSON object: { "<package name>": "<absolute path of its .tgz>", ... }.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const destination = resolve(process.argv[2] ?? join(root, 'packed'));
const pnpmVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;

/** Every workspace package (`packages/*`, `apps/*`) whose manifest is not `private`. */
function publicPackages() {
  const found = [];
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, parent)).sort()) {
      const manifestPath = join(root, parent, name, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      if (manifest.private !== true) found.push({ dir: join(root, parent, name), manifest });
    }
  }
  return found;
}

mkdirSync(destination, { recursive: true });
const packages = publicPackages();
for (const { dir, manifest } of packages) {
  if (!existsSync(join(dir, 'dist'))) {
    process.stderr.write(`pack: ${manifest.name} has no dist/: build first (pnpm build)\n`);
    process.exit(1);
  }
}
// One pnpm run packs them all (`-r` with a filter per package: private ones are left out).
const filters = packages.flatMap(({ manifest }) => ['--filter', manifest.name]);
const stdout = execFileSync(
  'npx',
  ['-y', pnpmVersion, '-r', ...filters, 'pack', '--pack-destination', destination, '--json'],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
const packed = JSON.parse(stdout);
const tarballs = {};
for (const { name, filename } of Array.isArray(packed) ? packed : [packed]) {
  tarballs[name] = resolve(destination, filename);
}
if (Object.keys(tarballs).length !== packages.length) {
  process.stderr.write(
    `pack: expected ${packages.length} tarballs, pnpm wrote ${Object.keys(tarballs).length}\n`,
  );
  process.exit(1);
}
process.stdout.write(`${JSON.stringify(tarballs, null, 2)}\n`);
