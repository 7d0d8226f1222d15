#!/usr/bin/env bash
# The README's first quick-start command (`npm start`): on a machine with only Node >= 20 and npm,
# installs and builds the workspace, starts the kv server on its embedded SQLite (./data/kv.sqlite,
# http://127.0.0.1:8787), runs the demo against it on real data, and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
pnpm() { npx -y "pnpm@${PNPM_VERSION}" "$@"; }
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$node_prefix/include/node/node.h" ] && export npm_config_nodedir="$node_prefix"
fi

pnpm install --frozen-lockfile
pnpm exec turbo run build --output-logs=errors-only

export KV_HOST="${KV_HOST:-127.0.0.1}" KV_PORT="${KV_PORT:-8787}" KV_DATA_FILE="${KV_DATA_FILE:-./data/kv.sqlite}"
node apps/server/dist/main.js &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM EXIT

url="http://${KV_HOST}:${KV_PORT}"
for _ in $(seq 1 100); do
  if node -e "fetch('$url/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then break; fi
  sleep 0.1
done

KV_URL="$url" node apps/server/dist/demo.js --url "$url"
echo "kv is serving on $url (data: $KV_DATA_FILE). Press Ctrl-C to stop."
wait $server
