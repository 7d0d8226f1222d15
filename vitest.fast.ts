/**
 * `pnpm test:fast` sets `KV_TEST_FAST=1`: the projects then leave out the files that start a browser or a
 * server process (`e2e/` of browser and mock, `apps/server/test/`), for the edit-test loop. `npm test`
 * runs everything (docs/architecture.md, "Working in the repo").
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by vitest's config, never by a turbo task.
export const FAST = process.env.KV_TEST_FAST === '1';
