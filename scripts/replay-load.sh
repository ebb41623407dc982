#!/usr/bin/env bash
# Replay load through the public API, as a new user would meet it: 16 API clients call
# POST /api/v1/deliveries/{id}/replay (a bearer-auth connection with a signing secret)
# while the worker delivers every replay to a local receiver. Prints the API answers by
# status, accepted/s, and how long the worker took to deliver them all.
#
#   scripts/replay-load.sh [path/to/hookdesk] [seconds] [clients]
#   DATABASE_URL=postgres://… scripts/replay-load.sh …   (default: a fresh SQLite file)
#
# Needs: wrk, python3, curl (loopback only). Not part of the test suite: figures, not
# assertions; the hammer test (tests/it/hammer.rs) asserts zero 5xx.
set -euo pipefail
BIN=${1:-target/release/hookdesk}
SECS=${2:-20}
CLIENTS=${3:-16}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
cleanup() { kill "${HD_PID:-}" "${RX_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RX_PORT=$(free_port)
HD_PORT=$(free_port)

python3 "$HERE/receiver.py" "$RX_PORT" "$DIR/received" &
RX_PID=$!

export HOOKDESK_ADMIN_PASSWORD=load-test-password-1
export HOOKDESK_ALLOWED_NETWORKS=127.0.0.1/32
export HOOKDESK_LISTEN=127.0.0.1:$HD_PORT
export DATABASE_URL=${DATABASE_URL:-sqlite://$DIR/hookdesk.db}
export HOOKDESK_SECRET_KEY_FILE=$DIR/hookdesk.key
export RUST_LOG=${RUST_LOG:-warn}
cd "$DIR"
"$BIN" serve > "$DIR/serve.log" 2>&1 &
HD_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HD_PORT/healthz" >/dev/null && break; sleep 0.1; done

TOKEN=$("$BIN" token create --user admin --name load | grep -o 'hdk_[A-Za-z0-9_-]*' | head -1)
API="http://127.0.0.1:$HD_PORT/api/v1"
auth=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
CONN=$(curl -sf "${auth[@]}" -d "{\"name\":\"receiver\",\"base_url\":\"http://127.0.0.1:$RX_PORT/\",\"auth_kind\":\"bearer\",\"auth_secret\":\"s3cret-token\"}" "$API/connections" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf "${auth[@]}" -X POST "$API/connections/$CONN/signing-secret" >/dev/null
WH=$(curl -sf "${auth[@]}" -d "{\"name\":\"load\",\"connection_id\":$CONN,\"ticket_types\":[\"Incident\"],\"method\":\"POST\",\"url\":\"hook\",\"request_content_type\":\"json\",\"body_template\":\"{\\\"id\\\":\\\"{{ticket.displayid}}\\\",\\\"subject\\\":\\\"{{ticket.subject}}\\\"}\"}" "$API/webhooks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
DID=$(curl -sf "${auth[@]}" -d '{}' "$API/webhooks/$WH/test" | python3 -c 'import json,sys; print(json.load(sys.stdin)["delivery_id"])')

cat > "$DIR/replay.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do agg[k] = (agg[k] or 0) + v end
  end
  for k, v in pairs(agg) do io.write(string.format("status %d: %d\n", k, v)) end
  io.write(string.format("latency p50 %.1f ms, p99 %.1f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
START=$(date +%s.%N)
wrk -t2 -c"$CLIENTS" -d"${SECS}s" --latency -s "$DIR/replay.lua" "$API/deliveries/$DID/replay" > "$DIR/wrk.out"
grep -E "^status|Requests/sec|^latency" "$DIR/wrk.out"
ACCEPTED=$(grep -E "^status 201" "$DIR/wrk.out" | awk '{print $3}')
ACCEPTED=${ACCEPTED:-0}
# Wait (bounded) until the worker has delivered the test-send and every accepted replay.
WANT=$((ACCEPTED + 1))
received() { cat "$DIR/received" 2>/dev/null || echo "0 0"; }
for _ in $(seq 1 600); do
  read -r _ GOT <<< "$(received)"
  [ "$GOT" -ge "$WANT" ] && break
  sleep 0.2
done
END=$(date +%s.%N)
read -r REQS GOT <<< "$(received)"
python3 - "$START" "$END" "$SECS" "$ACCEPTED" "$GOT" "$WANT" "$REQS" <<PY
import sys
start, end, secs, acc, got, want, reqs = map(float, sys.argv[1:])
print(f"accepted {acc:.0f} replays = {acc/secs:.0f}/s; delivered {got-1:.0f} of {want-1:.0f} "
      f"in {end-start:.1f} s = {(got-1)/(end-start):.0f}/s end to end; "
      f"{reqs-got:.0f} requests were repeats of a webhook-id already received")
PY
echo "server log lines mentioning 'locked' or 'busy': $(grep -ciE 'locked|busy' "$DIR/serve.log" || true)"
