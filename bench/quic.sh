#!/usr/bin/env bash
# QUIC throughput benchmark: alpnscope's packets/s on a capture of mostly QUIC traffic against the TCP
# benchmark captures, as medians of several runs.
#
# Usage: bench/quic.sh [QUIC_CAPTURE [TCP_CAPTURE ...]]
#   QUIC_CAPTURE  default target/bench/quic.pcap (bench/make_quic_bench.sh, as root)
#   TCP_CAPTURE   default every one of these that exists:
#                   target/bench/mtu.pcap  Ethernet-sized packets, the comparison the QUIC issue asks for
#                                          (MTU=1500 OUTNAME=mtu.pcap bash ../shared/bench/make_bench.sh target/bench)
#                   target/bench/big.pcap  the 1 GiB capture of bench/run.sh (64 KiB loopback segments)
# Env: ALPNSCOPE=PATH  binary to measure (default: build target/release/alpnscope)
#      RUNS=N          timed runs per capture (default 5)
#
# Each run is `alpnscope analyze --format json -o /dev/null CAPTURE`, timed with wait4(2) and
# GNU time, after `cat CAPTURE > /dev/null` warmed the page cache. The table gives medians: CPU
# time (user + sys) —
# the figure to compare on a shared machine, where wall time also counts other processes' turns —
# wall time, and peak RSS. packets/s and MB/s are from the median CPU time (wall in brackets);
# QUIC/TCP is the ratio of packets/s per CPU second (the issue's target: at least 0.5).
# Exit status: 0 measured, 1 a run failed, 2 no capture / missing tool.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
QUIC="${1:-$ROOT/target/bench/quic.pcap}"
shift || true
TCP=("$@")
if [[ ${#TCP[@]} -eq 0 ]]; then
  for f in "$ROOT/target/bench/mtu.pcap" "$ROOT/target/bench/big.pcap"; do
    [[ -f "$f" ]] && TCP+=("$f")
  done
fi
if [[ ! -f "$QUIC" ]]; then
  echo "quic.sh: QUIC capture not found: $QUIC" >&2
  echo "Create it (as root, a few minutes) with: sudo bash $ROOT/bench/make_quic_bench.sh" >&2
  exit 2
fi
if [[ ${#TCP[@]} -eq 0 ]]; then
  echo "quic.sh: no TCP capture to compare with; create one (as root, several minutes) with:" >&2
  echo "  sudo MTU=1500 OUTNAME=mtu.pcap bash $(realpath -m "$ROOT/../shared/bench/make_bench.sh") $ROOT/target/bench" >&2
  exit 2
fi
command -v python3 >/dev/null || { echo "quic.sh: needs python3" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "quic.sh: needs /usr/bin/time (apt-get install -y time)" >&2; exit 2; }

if [[ -n "${ALPNSCOPE:-}" ]]; then
  BIN="$ALPNSCOPE"
else
  echo "building alpnscope (cargo build --release) ..." >&2
  (cd "$ROOT" && cargo build --release --quiet)
  BIN="$ROOT/target/release/alpnscope"
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# timed.py ERRFILE CMD...: runs CMD under GNU time (stdout to /dev/null, stderr to ERRFILE) and
# prints "wall user sys maxrss_kb": CPU times from wait4(2), to the microsecond (GNU time prints
# hundredths); peak RSS from GNU time, whose child starts small (a child of Python inherits
# Python's peak RSS in its own).
cat > "$TMP/timed.py" <<'EOF'
import os, subprocess, sys, tempfile, time
with tempfile.NamedTemporaryFile("r") as rss:
    t0 = time.perf_counter()
    child = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + sys.argv[2:],
                             stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"))
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    peak = rss.read().split()[-1]
print(f"{wall:.6f} {usage.ru_utime:.6f} {usage.ru_stime:.6f} {peak}")
sys.exit(os.waitstatus_to_exitcode(status))
EOF

# measure NAME FILE: RUNS timed runs, then one untimed run for the packet count and the QUIC tallies.
# Appends "name file bytes packets quic_flows one_rtt cpu wall rss_kb" to $TMP/rows.
measure() {
  local name=$1 file=$2 i
  : > "$TMP/$name.runs"
  for ((i = 1; i <= RUNS; i++)); do
    cat "$file" > /dev/null
    if ! python3 "$TMP/timed.py" "$TMP/$name.err" "$BIN" analyze --format json -o /dev/null "$file" \
      >> "$TMP/$name.runs"; then
      echo "quic.sh: alpnscope failed on $file" >&2
      tail -20 "$TMP/$name.err" >&2
      exit 1
    fi
  done
  "$BIN" analyze --format json -o "$TMP/$name.json" "$file" 2> /dev/null
  python3 - "$name" "$file" "$TMP/$name.json" "$TMP/$name.runs" >> "$TMP/rows" <<'EOF'
import json, os, statistics, sys
name, path, report, runs = sys.argv[1:5]
d = json.load(open(report))
packets = sum(c["packets"] for c in d["captures"])
quic = [f for f in d["flows"] if f.get("quic")]
one_rtt = sum(f["quic"].get("one_rtt_packets", 0) for f in quic)
decode = [c.get("decode", {}) for c in d["captures"]]
udp = f'{sum(x.get("quic", 0) for x in decode)}/{sum(x.get("other_ip", 0) for x in decode)}/{sum(x.get("tcp", 0) for x in decode)}'
rows = [line.split() for line in open(runs)]
cpu = statistics.median(float(u) + float(s) for _, u, s, _ in rows)
wall = statistics.median(float(w) for w, _, _, _ in rows)
rss = statistics.median(int(m) for _, _, _, m in rows)
print(name, path, os.path.getsize(path), packets, len(quic), one_rtt, udp, cpu, wall, rss)
EOF
}

: > "$TMP/rows"
measure quic "$QUIC"
i=0
for f in "${TCP[@]}"; do
  i=$((i + 1))
  measure "tcp$i" "$f"
done

python3 - "$TMP/rows" "$RUNS" "$BIN" "$("$BIN" --version)" <<'EOF'
import sys
rows = [line.split() for line in open(sys.argv[1])]
runs, binary, version = sys.argv[2], sys.argv[3], sys.argv[4]
print()
print("alpnscope QUIC benchmark")
print(f"  binary    {binary} ({version})")
print(f"  method    {runs} runs per capture of 'analyze --format json -o /dev/null', page cache warmed;")
print("            medians; CPU = user + sys from wait4(2), peak RSS from /usr/bin/time; MB = 10^6 bytes;")
print("            packets/s and MB/s per CPU second (per wall second in brackets)")
print()
print(f"{'capture':<28} {'MB':>8} {'packets':>10} {'CPU s':>7} {'wall s':>7} {'packets/s':>23} {'MB/s':>15} {'RSS MiB':>8}")
quic_pps = None
for name, path, size, packets, qflows, one_rtt, kinds, cpu, wall, rss in rows:
    size, packets, cpu, wall, rss = int(size), int(packets), float(cpu), float(wall), int(rss)
    pps, pps_w = packets / cpu, packets / wall
    mbs, mbs_w = size / 1e6 / cpu, size / 1e6 / wall
    label = path.rsplit("/", 1)[-1]
    print(f"{label:<28} {size / 1e6:8.1f} {packets:10d} {cpu:7.3f} {wall:7.3f} {pps:11,.0f} ({pps_w:9,.0f}) "
          f"{mbs:6.1f} ({mbs_w:6.1f}) {rss / 1024:8.1f}")
    if name == "quic":
        quic_pps = pps
        q, other, tcp = kinds.split("/")
        print(f"{'':<28} {q} QUIC datagrams in {qflows} connections ({one_rtt} 1-RTT packets), "
              f"{other} other IP (DNS, ICMP), {tcp} TCP")
print()
for name, path, size, packets, qflows, one_rtt, kinds, cpu, wall, rss in rows:
    if name == "quic":
        continue
    ratio = quic_pps / (int(packets) / float(cpu))
    verdict = "MET" if ratio >= 0.5 else "MISSED"
    print(f"QUIC/TCP packets/s vs {path.rsplit('/', 1)[-1]:<12} {ratio:5.2f}   (target >= 0.50: {verdict})")
EOF
