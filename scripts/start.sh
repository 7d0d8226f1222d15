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
# Job control puts the server in a process group of its own, so Ctrl-C reaches only this script, whose
# trap sends the server exactly one SIGTERM and waits for its graceful shutdown (in-flight requests end,
# the WAL is checkpointed). Were the server in the terminal's group too, it would get Ctrl-C's SIGINT
# and then the trap's SIGTERM, and a second signal makes it exit at once.
set -m
node apps/server/dist/main.js >>"$log" &
server=$!
set +m
stopped=0
stop_server() {
  [ "$stopped" = 1 ] && return
  stopped=1
  if kill -0 "$server" 2>/dev/null; then
    echo
    echo "stopping kv-server (graceful shutdown)..."
    kill -TERM "$server" 2>/dev/null
  fi
  local code=0
  wait "$server" 2>/dev/null || code=$?
  echo "kv-server stopped (exit $code; data: $KV_DATA_FILE)."
}
trap 'stop_server; exit 130' INT
trap 'stop_server; exit 143' TERM
trap stop_server EXIT

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

KV_URL="$url" node apps/demo/dist/demo.js --url "$url"
token_note="the admin token is in $KV_DATA_FILE.admin-token"
[ -n "${KV_ADMIN_TOKEN:-}" ] && token_note="the admin token is \$KV_ADMIN_TOKEN"
echo
echo "kv is serving on $url (data: $KV_DATA_FILE; $token_note; logs: $log)."
# The kv CLI's defaults are the server's: name only what differs from them.
try_env=""
[ "$url" != "http://127.0.0.1:8787" ] && try_env="KV_URL=$url "
[ "$KV_DATA_FILE" != "./data/kv.sqlite" ] && try_env="${try_env}KV_DATA_FILE=$KV_DATA_FILE "
echo "Console: $url/console/ (sign in with the admin token)"
echo "Try: ${try_env}node packages/node/dist/cli.js ls demo-cities --prefix city.IS. --limit 5"
echo "Press Ctrl-C to stop."
wait "$server" || true
