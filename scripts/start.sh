#!/usr/bin/env bash
# The README's first quick-start command (`npm start`): on a machine with only Node >= 20 and npm,
# installs and builds the workspace, starts the kv server on its embedded SQLite (./data/kv.sqlite,
# http://127.0.0.1:8787), runs the demo against it on real data, and keeps serving until Ctrl-C.
# The server's JSON logs go to <data dir>/kv-server.log; its admin token is in <data file>.admin-token
# (mode 0600, created on first start), where the demo and the kv CLI find it.
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
# The kv CLI looks for the admin token beside $KV_DATA (default ./data/kv.sqlite).
export KV_DATA="${KV_DATA:-$KV_DATA_FILE}"
log="$(dirname "$KV_DATA_FILE")/kv-server.log"
mkdir -p "$(dirname "$KV_DATA_FILE")"
node apps/server/dist/main.js >>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM EXIT

url="http://${KV_HOST}:${KV_PORT}"
ready=0
for _ in $(seq 1 100); do
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  if node -e "fetch('$url/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "kv-server did not start; the end of $log:" >&2
  tail -n 5 "$log" >&2
  exit 1
fi
echo "kv-server is listening on $url (data: $KV_DATA_FILE, logs: $log)"

KV_URL="$url" node apps/server/dist/demo.js --url "$url"
token_note="the admin token is in $KV_DATA_FILE.admin-token"
[ -n "${KV_ADMIN_TOKEN:-}" ] && token_note="the admin token is \$KV_ADMIN_TOKEN"
echo
echo "kv is serving on $url (data: $KV_DATA_FILE; $token_note; logs: $log)."
echo "Console: $url/console/ (sign in with the admin token)"
echo "Try: KV_URL=$url node packages/node/dist/cli.js ls demo-cities --prefix city.IS. --limit 5"
echo "Press Ctrl-C to stop."
wait $server
