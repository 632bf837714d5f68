#!/usr/bin/env bash
# Build the QUIC benchmark capture: real aioquic HTTP/3 traffic (bench/py-quic-bulk.py) on the loopback
# of a private network namespace, recorded with tcpdump, so the capture holds only this traffic.
#
# Usage (root): bench/make_quic_bench.sh [OUTDIR]   (default: target/bench under the project root)
# Env: OUTNAME   capture name (default quic.pcap)
#      SCALE     multiplies every connection count (default 1: about 327 MB, 360,000 to 375,000
#                packets, 460 QUIC connections; 1.5 to 2.5 minutes of traffic, aioquic being Python)
#      DATAGRAM  the peers' largest UDP payload (default 1350, as browsers send)
#
# Traffic, all at once (every client bounded in count and wrapped in `timeout`):
#   bulk      3 clients x 64 connections downloading 1 MB over HTTP/3 (IPv4), 16 at a time each
#   large     16 connections downloading 4 MB (IPv4)
#   ipv6      32 connections downloading 1 MB over [::1]
#   short     2 clients x 100 connections fetching 4 KB (handshake-heavy, as page loads are)
#   mismatch  20 connections offering only hq-interop to the h3 server (closed with
#             no_application_protocol during the handshake)
#   dns       20,000 DNS queries and answers over UDP port 53: UDP that is not QUIC
# The capture is mostly 1-RTT short-header packets: what alpnscope must only count, never decrypt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$(realpath -m "${1:-$ROOT/target/bench}")"
OUTNAME="${OUTNAME:-quic.pcap}"; SCALE="${SCALE:-1}"; DATAGRAM="${DATAGRAM:-1350}"
PEER="$ROOT/bench/py-quic-bulk.py"
for tool in tcpdump openssl python3 timeout ip; do
  command -v "$tool" >/dev/null || { echo "make_quic_bench: needs $tool" >&2; exit 2; }
done
python3 -c 'import aioquic' 2>/dev/null || { echo "make_quic_bench: needs aioquic (pip install aioquic)" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "make_quic_bench: run as root (network namespace, tcpdump)" >&2; exit 2; }

NS=alpnqbench
mkdir -p "$B/run"
cd "$B"
[[ -f quic-cert.pem ]] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout quic-key.pem -out quic-cert.pem -days 30 -subj /CN=bench.local \
  -addext "subjectAltName=DNS:bench.local,IP:127.0.0.1,IP:::1" 2>/dev/null

PIDS=()
ip netns add $NS
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n "${TD:-}" ]] && kill "$TD" 2>/dev/null || true
  sleep 1
  ip netns del $NS 2>/dev/null || true
}
trap cleanup EXIT
ip netns exec $NS ip link set lo up

# Background processes are started with `ip netns exec` itself (which execs the command), never
# through a shell function: `kill $!` must reach the server or tcpdump, not a subshell.
ip netns exec $NS python3 "$PEER" server --listen 127.0.0.1 --port 443 --cert quic-cert.pem \
  --key quic-key.pem --datagram "$DATAGRAM" > run/quic-server4.log 2>&1 &
PIDS+=($!)
ip netns exec $NS python3 "$PEER" server --listen ::1 --port 443 --cert quic-cert.pem \
  --key quic-key.pem --datagram "$DATAGRAM" > run/quic-server6.log 2>&1 &
PIDS+=($!)
ip netns exec $NS python3 "$PEER" dns-server --listen 127.0.0.1 --port 53 > run/dns-server.log 2>&1 &
PIDS+=($!)
sleep 2

rm -f "$OUTNAME"
ip netns exec $NS tcpdump -i lo -s 0 -B 131072 -U -w "$B/$OUTNAME" 2> run/quic-tcpdump.log &
TD=$!
sleep 2

n() { echo $(( $1 * SCALE )); }
client() { # client LOG ARGS...: one bounded client in the background
  local log=$1; shift
  timeout 600 ip netns exec $NS python3 "$PEER" client --datagram "$DATAGRAM" "$@" 2> "run/$log.log" &
  CLIENTS+=($!)
}
CLIENTS=()
t0=$(date +%s)
for i in 1 2 3; do
  client bulk$i --connect 127.0.0.1 --port 443 --count "$(n 64)" --parallel 16 --size 1000000
done
client large --connect 127.0.0.1 --port 443 --count "$(n 16)" --parallel 8 --size 4000000
client ipv6 --connect ::1 --port 443 --count "$(n 32)" --parallel 8 --size 1000000
for i in 1 2; do
  client short$i --connect 127.0.0.1 --port 443 --count "$(n 100)" --parallel 4 --size 4000
done
client mismatch --connect 127.0.0.1 --port 443 --count "$(n 20)" --parallel 2 --alpn hq-interop --timeout 5
timeout 600 ip netns exec $NS python3 "$PEER" dns-client --connect 127.0.0.1 --port 53 \
  --count "$(n 20000)" 2> run/dns-client.log &
CLIENTS+=($!)
for c in "${CLIENTS[@]}"; do wait "$c" || true; done
t1=$(date +%s)
sleep 2
kill "$TD"; wait "$TD" 2>/dev/null || true
TD=
echo "traffic phase: $((t1 - t0)) s"
cat run/bulk*.log run/large.log run/ipv6.log run/short*.log run/mismatch.log run/dns-client.log
cat run/quic-tcpdump.log
ls -l "$B/$OUTNAME"
