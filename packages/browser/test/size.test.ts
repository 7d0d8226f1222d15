/**
 * The bundle checks of `scripts/size.mjs`, run by `vitest run`: the whole @kv/browser API bundled for
 * the browser with its dependencies (Vite, minified) holds no Node built-in and stays under its gzip
 * budget, and the example page builds with its own config under its budget. Figures:
 * docs/performance.md, "Browser".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUDGETS, type BundleSize, measureBundles, measureLibrary, problems } from '../scripts/size.mjs';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kv-size-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('browser bundle', { timeout: 60_000 }, () => {
  it('has no Node built-in and stays under the gzip budgets; the example page builds', async () => {
    const result = await measureBundles();
    expect(result.library.nodeBuiltins).toEqual([]);
    expect(result.example.nodeBuiltins).toEqual([]);
    expect(result.library.packages).toEqual(expect.arrayContaining(['@kv/browser', '@kv/core', 'idb']));
    expect(result.example.packages).toContain('@kv/browser');
    expect(result.example.bytes).toBeGreaterThan(0);
    expect(result.library.gzipBytes).toBeLessThanOrEqual(BUDGETS.library);
    expect(result.example.gzipBytes).toBeLessThanOrEqual(BUDGETS.example);
    expect(problems(result)).toEqual([]);
  });

  it('catches a Node built-in that gets into a bundle', async () => {
    const leaky = join(dir, 'leaky.ts');
    // A namespace import bundles (a named one would fail the build): Vite swaps in its browser stub.
    await writeFile(
      leaky,
      "import * as fs from 'node:fs';\nexport const canRead = (): boolean => typeof fs.readFileSync === 'function';\n",
    );
    const measured = await measureLibrary(leaky, join(dir, 'vite-cache'));
    expect(measured.nodeBuiltins).not.toEqual([]);
    const clean: BundleSize = { ...measured, nodeBuiltins: [], gzipBytes: 1 };
    expect(problems({ library: measured, example: clean })).toEqual([
      expect.stringContaining('library: Node built-ins in the bundle'),
    ]);
  });

  it('reports a bundle over its budget', () => {
    const size = (gzipBytes: number): BundleSize => ({
      bytes: gzipBytes * 3,
      gzipBytes,
      modules: 1,
      packages: [],
      nodeBuiltins: [],
    });
    expect(problems({ library: size(BUDGETS.library), example: size(BUDGETS.example) })).toEqual([]);
    expect(problems({ library: size(BUDGETS.library + 1), example: size(BUDGETS.example) })).toEqual([
      `library: ${BUDGETS.library + 1} bytes gzipped, over the budget of ${BUDGETS.library} bytes`,
    ]);
  });
});
