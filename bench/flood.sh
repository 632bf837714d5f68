#!/usr/bin/env bash
# Flood benchmark: alpnscope's time and memory on hostile captures, each holding one real TLS 1.2
# connection among the flood.
#
# Usage: bench/flood.sh [KIND[=N] ...]   (default: every kind at the size below)
# Env:   ALPNSCOPE=PATH   binary to measure (default: build target/release/alpnscope)
#        TIMEOUT=SECONDS  kill a run after this long (default 600)
#        REAL=PCAP        the real connection (default fixtures/tls12-h2-agreed.pcap, its first flow)
#        ARGS="..."       more arguments for `alpnscope analyze` (e.g. ARGS="--memory 16M")
#
# Kinds (bench/flood_pcap.py writes them, unless present, to target/bench/flood-KIND-N.pcap):
#   syn=1000000    SYN-only connections 10 us apart
#   frag=1000000   first fragments of distinct IPv4 datagrams 10 us apart
#   hello=200000   connections each sending 8 KiB of a ClientHello that claims 65,000 bytes
#                  (the real connection after all of them)
#   ooo=4000       connections each holding 255 KiB out of order behind a hole
#   short=1000000  complete short connections (ClientHello, alert, FINs), one per millisecond
# The real connection is interleaved half-way through the flood (hello: after it). For each,
# warms the page cache, runs `alpnscope analyze --format json -o /dev/null` once under
# /usr/bin/time -v, then checks (untimed) that the real connection is reported `agreed` and
# prints the capture warnings.
# Exit status: 0 measured and the real flow agreed, 1 a run failed or the real flow is not agreed,
# 2 missing tool.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
declare -A SIZE=([syn]=1000000 [frag]=1000000 [hello]=200000 [ooo]=4000 [short]=1000000)
KINDS=()
for arg in "${@:-syn frag hello ooo short}"; do
  for a in $arg; do
    kind="${a%%=*}"
    [[ -n "${SIZE[$kind]:-}" ]] || { echo "flood.sh: unknown kind '$kind' (syn frag hello ooo short)" >&2; exit 2; }
    [[ "$a" == *=* ]] && SIZE[$kind]="${a#*=}"
    KINDS+=("$kind")
  done
done
read -r -a EXTRA <<< "${ARGS:-}"
TIMEOUT="${TIMEOUT:-600}"
REAL="${REAL:-$ROOT/fixtures/tls12-h2-agreed.pcap}"

for tool in python3 timeout; do
  command -v "$tool" >/dev/null || { echo "flood.sh: needs $tool" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "flood.sh: needs /usr/bin/time (apt-get install -y time)" >&2; exit 2; }

if [[ -n "${ALPNSCOPE:-}" ]]; then
  BIN="$ALPNSCOPE"
else
  echo "building alpnscope (cargo build --release) ..." >&2
  (cd "$ROOT" && cargo build --release --quiet)
  BIN="$ROOT/target/release/alpnscope"
fi

OUT="$ROOT/target/bench"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

status=0
printf '%-6s %9s %9s %10s %13s  %s\n' "flood" "N" "MB" "wall s" "peak RSS MiB" "real flow"
for kind in "${KINDS[@]}"; do
  N="${SIZE[$kind]}"
  FILE="$OUT/flood-$kind-$N.pcap"
  if [[ ! -f "$FILE" ]]; then
    python3 "$ROOT/bench/flood_pcap.py" "$kind" "$N" "$REAL" "$FILE" >&2
  fi
  MB=$(awk -v s="$(stat -c %s "$FILE")" 'BEGIN { printf "%.1f", s / 1e6 }')
  cat "$FILE" > /dev/null
  t0=$EPOCHREALTIME rc=0
  timeout "$TIMEOUT" /usr/bin/time -v -o "$TMP/$kind.time" \
    "$BIN" analyze "${EXTRA[@]}" --format json -o /dev/null "$FILE" 2> "$TMP/$kind.err" || rc=$?
  t1=$EPOCHREALTIME
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  if [[ $rc -eq 124 ]]; then
    printf '%-6s %9s %9s %10s %13s  %s\n' "$kind" "$N" "$MB" ">$TIMEOUT" "-" "killed after $TIMEOUT s"
    status=1
    continue
  elif [[ $rc -ne 0 ]]; then
    echo "flood.sh: alpnscope failed on $FILE (exit $rc)" >&2
    tail -20 "$TMP/$kind.err" >&2
    status=1
    continue
  fi
  RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$TMP/$kind.time")
  # Untimed: only the agreed flows, with the capture's warnings.
  "$BIN" analyze "${EXTRA[@]}" --format json --verdict agreed -o "$TMP/$kind.json" "$FILE" 2> /dev/null
  REAL_FLOW=$(python3 - "$TMP/$kind.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
agreed = [f for f in d["flows"] if f["verdict"] == "agreed"]
for w in d["captures"][0]["warnings"]:
    print("    warning: " + w, file=sys.stderr)
if len(agreed) == 1:
    f = agreed[0]
    print(f"agreed ({f['alpn_selected']}, port {f['client']['port']} -> {f['server']['port']})")
else:
    print(f"NOT agreed ({len(agreed)} agreed flows)")
EOF
  )
  [[ "$REAL_FLOW" == agreed* ]] || status=1
  printf '%-6s %9s %9s %10s %13s  %s\n' "$kind" "$N" "$MB" "$WALL" "$RSS" "$REAL_FLOW"
done
echo "binary: $BIN ($("$BIN" --version)); $(nproc) cores; page cache warmed; one run each" >&2
exit $status
