#!/usr/bin/env bash
# The README's test command (`npm test`): install (frozen lockfile), build, type-check, lint, run every test
# once, then print one line "N passed, N failed[, N skipped]" counted from vitest's JSON report.
# Exits non-zero when any step or any test fails. Needs only Node >= 20 and npm (pnpm comes through npx).
set -uo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
pnpm() { npx -y "pnpm@${PNPM_VERSION}" "$@"; }
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 CI="${CI:-true}"
# No colour codes in a log: vitest colours whenever CI is set, unless NO_COLOR is.
if [ ! -t 1 ]; then export NO_COLOR=1; fi
# better-sqlite3 compiles from source when no prebuilt binary can be downloaded: build against the
# headers of the Node that runs us instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$node_prefix/include/node/node.h" ] && export npm_config_nodedir="$node_prefix"
fi

step() {
  local name="$1" began=$SECONDS
  echo "::: $name"
  shift
  if ! "$@"; then
    echo "::: step failed: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "::: $name took $((SECONDS - began)) s"
}

# The last run's report would otherwise be linted (Biome does not read .gitignore here).
rm -f .vitest-report.json
step "install" pnpm install --frozen-lockfile
step "build" pnpm exec turbo run build --output-logs=errors-only
step "typecheck" pnpm exec turbo run typecheck --output-logs=errors-only
# Biome does not read NO_COLOR: say it.
biome_colors=()
if [ -n "${NO_COLOR:-}" ]; then biome_colors=(--colors=off); fi
step "lint" pnpm exec biome ci "${biome_colors[@]}" .
# Each published package as a user installs it: scripts/pack.mjs packs it the way it is published
# (pnpm pack: real versions, publishConfig.exports), then publint checks the tarball (exports order,
# files, bins) and Are The Types Wrong checks its types resolve under node16 and bundlers (ESM only,
# so the CommonJS-importer case is not asked for). The tarballs' install is tests/install.
check_packages() {
  local packed=".packed" tgz
  rm -rf "$packed"
  node scripts/pack.mjs "$packed" >/dev/null || return 1
  # The workspace's own binaries (installed above): no npx start-up per tarball.
  local bin=node_modules/.bin
  for tgz in "$packed"/*.tgz; do
    "$bin/publint" run "$tgz" --strict || return 1
    "$bin/attw" "$tgz" --profile esm-only --quiet || { "$bin/attw" "$tgz" --profile esm-only; return 1; }
  done
  rm -rf "$packed"
}
step "publint + attw" check_packages

report=".vitest-report.json"
rm -f "$report"
echo "::: tests (every vitest project; pnpm test:fast runs the subset without browser or server processes)"
began=$SECONDS
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report"
status=$?
# The machine's load matters when comparing runs: say it, next to the time the tests took.
echo "::: tests took $((SECONDS - began)) s (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown))"

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
