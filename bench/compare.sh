#!/usr/bin/env bash
# compare benchmark: `alpnscope compare A B` against `alpnscope analyze A` + `analyze B` on two
# captures of the same N TLS 1.2 connections, taken on both sides of a real middlebox.
#
# Usage (as root): bench/compare.sh [N] [forward|terminate]   (default: 10000 forward)
# Env:   ALPNSCOPE=PATH   binary to measure (default: build target/release/alpnscope)
#
# Three namespaces in a line as in fixtures/make-fixtures.sh's compare scenarios: a Python
# client (198.51.100.1) makes N sequential TLS 1.2 connections (forward: ALPN h2,http/1.1,
# every tenth http/1.1 only; terminate: http/1.1 only, one GET each)
# through haproxy on 198.51.100.254:8443 (`mode tcp`: forwards the hello; `terminate`: `mode
# http` with its own TLS towards the backend, offering http/1.1) to nginx with http2 on
# 192.0.2.2:8443. tcpdump writes target/bench/compare-MODE-N-{client,server}.pcap (kept, not
# in git; regenerated when missing). Then each run once, page cache warm, under /usr/bin/time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-10000}"
MODE="${2:-forward}"
OUT="$ROOT/target/bench"
A="$OUT/compare-$MODE-$N-client.pcap"
B="$OUT/compare-$MODE-$N-server.pcap"
mkdir -p "$OUT"
[[ $EUID -eq 0 ]] || { echo "compare.sh: run as root (network namespaces)" >&2; exit 2; }
for t in ip tcpdump haproxy nginx openssl python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compare.sh: missing $t" >&2; exit 2; }
done

if [[ ! -s "$A" || ! -s "$B" ]]; then
  WORK="$(mktemp -d /tmp/alpncmpbench.XXXXXX)"
  PIDS=()
  cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in cli mid srv; do ip netns del "alpncmpb-$ns" 2>/dev/null; done
    rm -rf "$WORK"
  }
  trap cleanup EXIT
  for ns in cli mid srv; do
    ip netns del "alpncmpb-$ns" 2>/dev/null || true
    ip netns add "alpncmpb-$ns"
    ip -n "alpncmpb-$ns" link set lo up
    ip netns exec "alpncmpb-$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  done
  ip link add c0 netns alpncmpb-cli type veth peer name r0 netns alpncmpb-mid
  ip link add s0 netns alpncmpb-srv type veth peer name r1 netns alpncmpb-mid
  ip -n alpncmpb-cli addr add 198.51.100.1/24 dev c0
  ip -n alpncmpb-mid addr add 198.51.100.254/24 dev r0
  ip -n alpncmpb-mid addr add 192.0.2.254/24 dev r1
  ip -n alpncmpb-srv addr add 192.0.2.2/24 dev s0
  for l in cli:c0 mid:r0 mid:r1 srv:s0; do
    ip -n "alpncmpb-${l%%:*}" link set "${l#*:}" up
    ip netns exec "alpncmpb-${l%%:*}" ethtool -K "${l#*:}" tso off gso off gro off >/dev/null 2>&1 || true
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 30 -subj "/CN=alpn.test" >/dev/null 2>&1
  cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/both.pem"
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
user root;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 192.0.2.2:8443 ssl http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        location / { return 200 "ok\n"; }
    }
}
EOF
  ip netns exec alpncmpb-srv nginx -p "$WORK/nginx" -c "$WORK/nginx.conf" >/dev/null 2>&1 &
  PIDS+=($!)
  if [[ $MODE == forward ]]; then
    PROXY="frontend fe
    mode tcp
    bind 198.51.100.254:8443
    default_backend be
backend be
    mode tcp
    server s1 192.0.2.2:8443"
  else
    PROXY="frontend fe
    mode http
    bind 198.51.100.254:8443 ssl crt $WORK/both.pem alpn h2,http/1.1
    default_backend be
backend be
    mode http
    http-reuse never
    server s1 192.0.2.2:8443 ssl verify none sni str(alpn.test) alpn http/1.1 ssl-max-ver TLSv1.2"
  fi
  printf 'global\n    maxconn 4096\ndefaults\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n%s\n' \
    "$PROXY" >"$WORK/haproxy.cfg"
  ip netns exec alpncmpb-mid haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  PIDS+=($!)
  sleep 1
  ip netns exec alpncmpb-cli tcpdump -i c0 -n -U -s 0 -w "$A" >/dev/null 2>&1 &
  PIDS+=($!); CCAP=$!
  ip netns exec alpncmpb-srv tcpdump -i s0 -n -U -s 0 -w "$B" >/dev/null 2>&1 &
  PIDS+=($!); SCAP=$!
  sleep 1
  ip netns exec alpncmpb-cli python3 - "$N" "$MODE" <<'EOF'
import socket, ssl, sys
n = int(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
terminate = sys.argv[2] == "terminate"
for i in range(n):
    # Terminated: http/1.1 only, so that every connection sends a request and haproxy opens
    # its backend connection (an h2 client would need a real HTTP/2 request).
    ctx.set_alpn_protocols(["http/1.1"] if terminate or i % 10 == 9 else ["h2", "http/1.1"])
    with socket.create_connection(("198.51.100.254", 8443), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="alpn.test") as tls:
            if tls.selected_alpn_protocol() != "h2":
                tls.sendall(b"GET / HTTP/1.1\r\nHost: alpn.test\r\nConnection: close\r\n\r\n")
                try:
                    while tls.recv(4096):
                        pass
                except (OSError, ssl.SSLError):
                    pass
            else:
                # The h2 preface and an empty SETTINGS frame, then close.
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
EOF
  sleep 1
  kill -INT "$CCAP" "$SCAP"; wait "$CCAP" "$SCAP" 2>/dev/null || true
fi

BIN="${ALPNSCOPE:-}"
if [[ -z "$BIN" ]]; then
  (cd "$ROOT" && cargo build --release --quiet)
  BIN="$ROOT/target/release/alpnscope"
fi
cat "$A" "$B" >/dev/null
measure() {  # measure LABEL CMD...
  local label=$1 t
  shift
  t=$( { /usr/bin/time -f '%e s, %M KiB max RSS' "$@" >/dev/null; } 2>&1 | tail -1)
  printf '%-22s %s\n' "$label" "$t"
}
ls -l "$A" "$B" | awk '{print $5, $9}'
measure "analyze A" "$BIN" analyze --format json -o /dev/null "$A"
measure "analyze B" "$BIN" analyze --format json -o /dev/null "$B"
measure "compare A B (json)" "$BIN" compare --format json -o /dev/null "$A" "$B"
measure "compare A B (text)" "$BIN" compare -o /dev/null "$A" "$B"
"$BIN" compare "$A" "$B" | tail -1
