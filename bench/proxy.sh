#!/usr/bin/env bash
# The validating proxy's cost (BENCHMARKS.md, "The validating proxy"): latency added at one
# connection (p50, p99) and throughput at 64 connections, through the proxy and to the reference
# server directly, alternating, in one run; then the proxy's RSS after a million exchanges,
# half of them mints (each a new token for its model). About 5 minutes on 2 cores.
#
# Needs wrk and a release build (cargo build --release). Knobs: RUNS (3), SECONDS_EACH (10),
# TOTAL (1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/token-conformance
RUNS=${RUNS:-3}
SECONDS_EACH=${SECONDS_EACH:-10}
TOTAL=${TOTAL:-1000000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

REFERENCE_SERVER_USERS='bench@example.com:bench-pass-1' "$BIN" serve --listen 127.0.0.1:18180 \
    --db "$WORK/bench.db" >"$WORK/server.log" 2>&1 &
sleep 1
"$BIN" proxy --target http://127.0.0.1:18180 --listen 127.0.0.1:18181 >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
sleep 1
login=$(curl -s -X POST http://127.0.0.1:18180/integration/v1/createRefreshToken/ \
    -H 'content-type: application/json' \
    -d '{"username":"bench@example.com","password":"bench-pass-1","name":"bench"}')
refresh=$(echo "$login" | jq -r .refresh_token)
user=$(echo "$login" | jq -r .user_id)
access=$(curl -s -X POST http://127.0.0.1:18180/integration/v1/createAPIAccessToken/ \
    -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\",\"user_id\":$user}" \
    | jq -r .api_access_token)
export VALIDATE_BODY="{\"api_access_token\":\"$access\",\"user_id\":$user}"
export MINT_BODY="{\"refresh_token\":\"$refresh\",\"user_id\":$user}"

# wrk's latency lines are `50%  123.00us`; prints p50 and p99 in ms, and requests per second.
measure() { # url threads connections seconds
    wrk -t"$2" -c"$3" -d"$4"s --latency -s bench/proxy.lua "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
def ms(p):
    m = re.search(r"^\s+" + p + r"%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print("%.3f/%.3f %.0f" % (ms("50"), ms("99"), rps))'
}

echo "run  direct p50/p99 ms (1 conn)  proxy p50/p99 ms (1 conn)  direct req/s (64)  proxy req/s (64)"
for i in $(seq "$RUNS"); do
    d1=$(measure http://127.0.0.1:18180 1 1 "$SECONDS_EACH")
    p1=$(measure http://127.0.0.1:18181 1 1 "$SECONDS_EACH")
    d64=$(measure http://127.0.0.1:18180 2 64 "$SECONDS_EACH")
    p64=$(measure http://127.0.0.1:18181 2 64 "$SECONDS_EACH")
    echo "$i    $d1    $p1    $d64    $p64"
done

rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PROXY_PID/status"; }
echo "proxy RSS before the million: $(rss) MiB"
done_so_far=0
while [ "$done_so_far" -lt "$TOTAL" ]; do
    n=$(MIX=1 wrk -t2 -c32 -d30s -s bench/proxy.lua http://127.0.0.1:18181 \
        | awk '/requests in/ {print $1}')
    done_so_far=$((done_so_far + n))
    echo "exchanges through the proxy: $done_so_far; RSS $(rss) MiB"
done
kill -INT "$PROXY_PID"
wait "$PROXY_PID" || true
tail -3 "$WORK/proxy.log"
