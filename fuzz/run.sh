#!/usr/bin/env bash
# Runs one fuzz target for SECONDS with its flags, from the seeded corpus fuzz/corpus/TARGET/
# (fuzz/seed.sh); any further arguments go to libFuzzer (e.g. -runs=10000000). Used by .ci/run
# and for the long runs (README "Tests"):
#   fuzz/run.sh TARGET SECONDS [LIBFUZZER_FLAG...]
# FUZZ_SANITIZER=none builds without AddressSanitizer (about three times the executions a second;
# safe Rust needs it little, and panics and broken invariants are caught either way).
# FUZZ_TRACE_COMPARES=no builds without comparison tracing (cargo fuzz --no-trace-compares), in its
# own target directory: the renderers' string escaping and comparisons cost less than half the
# time of an execution of capture, extract or pcapng_secrets then; the fuzzer is guided by
# coverage of branches only (the seeds, real captures, already hold the values compared with).
#
# capture, extract and pcapng_secrets read inputs of at most 16 KiB: a capture of a few handshakes, with
# room for certificates. Left to itself libFuzzer takes the largest seed (164 KB) as the limit,
# and every execution reads, analyses and renders captures that size; longer seeds are cut to
# 16 KiB, which still reads as a capture (its last record truncated).
#
# quic_initial reads one UDP payload: at most 2048 bytes, room for a 1200-byte client Initial
# (RFC 9000 §14.1) with other packets coalesced after it.
#
# dns_response reads one DNS message: at most 4096 bytes, the usual EDNS(0) UDP payload size.
#
# bpf_filter reads a filter expression, a NUL and one frame: at most 512 bytes.
#
# decode reads two bytes (link type, cut) and one frame: at most 2048 bytes, an Ethernet-sized
# frame with room for tunnel headers.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1
seconds=$2
shift 2
flags=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
case $target in
  capture | extract | pcapng_secrets) flags+=(-max_len=16384) ;;
  quic_initial) flags+=(-max_len=2048) ;;
  dns_response) flags+=(-max_len=4096) ;;
  bpf_filter) flags+=(-max_len=512) ;;
  decode) flags+=(-max_len=2048) ;;
esac
build=(--sanitizer "${FUZZ_SANITIZER:-address}")
if [ "${FUZZ_TRACE_COMPARES:-yes}" = no ]; then
  build+=(--no-trace-compares --target-dir fuzz/target/no-trace-compares)
fi
exec cargo +nightly fuzz run "${build[@]}" "$target" -- "${flags[@]}" "$@"
