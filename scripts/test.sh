#!/usr/bin/env bash
# The README's test command (`npm test`): install (frozen lockfile), build, type-check, lint, run every test
# once, then print one line "N passed, N failed[, N skipped]" counted from vitest's JSON report.
# Exits non-zero when any step or any test fails. Needs only Node >= 20 and npm (pnpm comes through npx).
set -uo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
pnpm() { npx -y "pnpm@${PNPM_VERSION}" "$@"; }
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 CI="${CI:-true}"
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded: build against the
# headers of the Node that runs us instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$node_prefix/include/node/node.h" ] && export npm_config_nodedir="$node_prefix"
fi

step() {
  echo "::: $1"
  shift
  if ! "$@"; then
    echo "::: step failed: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
}

step "install" pnpm install --frozen-lockfile
step "build" pnpm exec turbo run build --output-logs=errors-only
step "typecheck" pnpm exec turbo run typecheck --output-logs=errors-only
step "lint" pnpm exec biome ci .
# Each published package as a user installs it (npm pack): exports order, files, types (STYLE.md).
publint_all() {
  local dir
  for dir in packages/core packages/engine packages/node packages/browser packages/mock packages/keyv packages/unstorage; do
    (cd "$dir" && pnpm exec publint --pack npm --strict) || return 1
  done
}
step "publint" publint_all

report=".vitest-report.json"
rm -f "$report"
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?

if [ ! -s "$report" ]; then
  echo "::: vitest wrote no report (exit $status)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
summary="$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  // Suites that failed to load count as failures even when they report no test.
  const failed = r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
  let line = `${r.numPassedTests} passed, ${failed} failed`;
  if (skipped > 0) line += `, ${skipped} skipped`;
  console.log(line);
  process.exit(failed > 0 || r.numTotalTests === 0 ? 1 : 0);
' "$report")"
counted=$?
echo "$summary"
if [ $status -ne 0 ] || [ $counted -ne 0 ]; then exit 1; fi
