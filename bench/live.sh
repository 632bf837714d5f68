#!/usr/bin/env bash
# Live capture under load: does alpnscope's parsing make the kernel drop packets that a capture
# without parsing keeps? Runs the same real traffic twice on the loopback of a private network
# namespace (Ethernet-sized packets, offloads off): once captured by `alpnscope live`, once by
# `tcpdump -w /dev/null`, and prints what each received and what the kernel dropped for it.
#
# Usage: sudo bench/live.sh [DOWNLOADS [PARALLEL]]   (default 8 downloads of 64 MiB, 4 at a time)
# Env:   RATE=N   curl --limit-rate per download (default: unlimited);  HANDSHAKES=N small TLS
#        requests beside the downloads (default 400).
# Needs root, nginx, curl, tcpdump, openssl, ethtool; builds alpnscope with --features live.
# Exit status: 0 measured, 1 a run failed, 2 missing tool or not root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOWNLOADS=${1:-8}
PARALLEL=${2:-4}
HANDSHAKES=${HANDSHAKES:-400}
RATE_FLAG=()
[[ -n "${RATE:-}" ]] && RATE_FLAG=(--limit-rate "$RATE")

[[ $EUID -eq 0 ]] || { echo "live.sh: needs root (network namespace, capture)" >&2; exit 2; }
for tool in nginx curl tcpdump openssl ethtool ip; do
  command -v "$tool" >/dev/null || { echo "live.sh: needs $tool" >&2; exit 2; }
done

echo "building alpnscope (cargo build --release --features live) ..." >&2
(cd "$ROOT" && cargo build --release --features live --quiet)
BIN="$ROOT/target/release/alpnscope"

W="$(mktemp -d)"
NS=alpnlive$$
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$W/key.pem" -out "$W/cert.pem" -days 1 -subj /CN=live.local 2>/dev/null
mkdir -p "$W/www"
head -c 64M /dev/urandom > "$W/www/bulk.bin"
head -c 2048 /dev/urandom | base64 > "$W/www/small.html"
cat > "$W/nginx.conf" <<CONF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx-error.log warn;
daemon on;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W; uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen 127.0.0.1:8443 ssl http2; server_name live.local; root $W/www;
           ssl_certificate $W/cert.pem; ssl_certificate_key $W/key.pem; }
}
CONF

ip netns add "$NS"
cleanup() {
  [[ -f "$W/nginx.pid" ]] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
ip netns exec "$NS" ip link set lo mtu 1500 up
ip netns exec "$NS" ethtool -K lo gso off tso off gro off >/dev/null
ip netns exec "$NS" nginx -c "$W/nginx.conf"
sleep 0.5

CURL=(curl -sk --resolve live.local:8443:127.0.0.1 -o /dev/null)
traffic() {
  seq 1 "$DOWNLOADS" | timeout 300 xargs -P "$PARALLEL" -I{} \
    ip netns exec "$NS" "${CURL[@]}" "${RATE_FLAG[@]}" --http2 https://live.local:8443/bulk.bin &
  local bulk=$!
  seq 1 "$HANDSHAKES" | timeout 300 xargs -P 2 -I{} \
    ip netns exec "$NS" "${CURL[@]}" --http2 https://live.local:8443/small.html || true
  wait "$bulk" || true
}

# One run: the capture command in the background, the traffic, then SIGINT and its statistics.
run() { # NAME CMD...
  local name=$1; shift
  ip netns exec "$NS" "$@" > "$W/$name.out" 2> "$W/$name.err" &
  local pid=$!
  sleep 2
  local t0=$EPOCHREALTIME
  traffic
  local t1=$EPOCHREALTIME
  sleep 1
  # CPU seconds (user + system) the capture process used so far: `ip netns exec` execs it.
  CPU_RUN=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat")
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  SECONDS_RUN=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

run alpnscope "$BIN" live -i lo -f 'tcp port 8443' --format json -o "$W/alpnscope.json"
read -r A_RECEIVED A_DROPPED A_FLOWS < <(python3 - "$W/alpnscope.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
stats = report["captures"][0].get("statistics") or {}
print(stats.get("received"), stats.get("dropped"), len(report["flows"]))
PY
)
A_SECONDS=$SECONDS_RUN
A_CPU=$CPU_RUN
# The same kernel buffer as alpnscope's (16 MiB).
run tcpdump tcpdump -i lo -s 0 -B 16384 -w /dev/null 'tcp port 8443'
T_RECEIVED=$(sed -nE 's/^([0-9]+) packets received by filter.*/\1/p' "$W/tcpdump.err")
T_DROPPED=$(sed -nE 's/^([0-9]+) packets dropped by kernel.*/\1/p' "$W/tcpdump.err")
T_SECONDS=$SECONDS_RUN
T_CPU=$CPU_RUN

echo
echo "live capture under load: $DOWNLOADS downloads of 64 MiB ($PARALLEL at a time${RATE:+, at most $RATE/s each}) and $HANDSHAKES small requests, over TLS on the loopback (MTU 1500)"
printf '%-32s %10s %8s %12s %12s %10s\n' command "traffic s" "cpu s" received dropped flows
printf '%-32s %10s %8s %12s %12s %10s\n' "alpnscope live --format json" "$A_SECONDS" "$A_CPU" "$A_RECEIVED" "$A_DROPPED" "$A_FLOWS"
printf '%-32s %10s %8s %12s %12s %10s\n' "tcpdump -B 16384 -w /dev/null" "$T_SECONDS" "$T_CPU" "$T_RECEIVED" "$T_DROPPED" -
