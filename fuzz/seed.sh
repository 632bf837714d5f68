#!/usr/bin/env bash
# Seeds the fuzz corpora from the fixtures: fuzz/corpus/<target>/ (not committed; libFuzzer adds
# what it finds there). Captures over 256 KiB are left out: they slow every execution down.
#   capture         every fixtures/*.pcap and *.pcapng
#   extract         the same
#   pcapng_secrets  two-byte length + key log + capture: each fixtures/X.keys with its X.pcap*,
#                   and every capture with an empty key log
#   keylog          every fixtures/*.keys
#   tls_chunking    mode 0, no split point, then the TCP payload of one direction (in capture
#                   order, retransmissions left out, at most 16 KiB) of each Ethernet pcap's
#                   connections: real hellos, certificates, alerts and encrypted records
#   quic_initial    the sample packets of RFC 9001 and RFC 9369 Appendix A
#                   (src/quic/testdata/*.hex): client and server Initials, Retry, the ChaCha20
#                   short-header packet; and the two server Initials coalesced with zero padding
#   dns_response    the payloads of UDP datagrams to or from port 53 in the Ethernet pcaps
#                   (dns-https-records.pcap: HTTPS and SVCB answers, a CNAME, queries)
#   bpf_filter      each expression of tests/data/bpf-expressions.txt, a NUL, and a first frame
#                   of one of the link types the built-in filter reads
#   decode          a link-type byte, a cut byte and a frame: the first 16 frames of each classic
#                   pcap fixture of a link type the target picks
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../fixtures
max=$((256 * 1024))
mkdir -p corpus/capture corpus/extract corpus/pcapng_secrets corpus/keylog corpus/tls_chunking \
  corpus/quic_initial corpus/dns_response

# A two-byte big-endian length prefix.
be16() { printf "\\x$(printf %02x $(($1 >> 8)))\\x$(printf %02x $(($1 & 255)))"; }

for capture in "$fixtures"/*.pcap "$fixtures"/*.pcapng; do
  [ "$(stat -c %s "$capture")" -le "$max" ] || continue
  name=$(basename "$capture")
  cp "$capture" "corpus/capture/$name"
  cp "$capture" "corpus/extract/$name"
  { be16 0; cat "$capture"; } >"corpus/pcapng_secrets/$name"
done
for keys in "$fixtures"/*.keys; do
  name=$(basename "$keys" .keys)
  cp "$keys" "corpus/keylog/$name.keys"
  len=$(stat -c %s "$keys")
  for capture in "$fixtures/$name".pcap "$fixtures/$name".pcapng; do
    [ -e "$capture" ] && [ "$(stat -c %s "$capture")" -le "$max" ] || continue
    { be16 "$len"; cat "$keys"; cat "$capture"; } >"corpus/pcapng_secrets/$(basename "$capture")+keys"
  done
done

python3 - "$fixtures" "$max" <<'PY'
import glob, os, struct, sys
fixtures, limit = sys.argv[1], int(sys.argv[2])
for path in sorted(glob.glob(os.path.join(fixtures, "*.pcap"))):
    data = open(path, "rb").read()
    if len(data) > limit or len(data) < 24:
        continue
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        continue
    if struct.unpack(order + "I", data[20:24])[0] != 1:  # Ethernet only
        continue
    streams, seen, at = {}, set(), 24
    while at + 16 <= len(data):
        caplen = struct.unpack(order + "I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ihl = (frame[14] & 15) * 4
        tcp = frame[14 + ihl:]
        if len(tcp) < 20:
            continue
        total = struct.unpack(">H", frame[16:18])[0]
        payload = frame[14 + ihl + (tcp[12] >> 4) * 4:14 + total]
        key = (frame[26:34], tcp[:4])
        seq = struct.unpack(">I", tcp[4:8])[0]
        if not payload or (key, seq) in seen:
            continue
        seen.add((key, seq))
        streams.setdefault(key, bytearray()).extend(payload)
    dns = 0
    at = 24
    while at + 16 <= len(data):
        caplen = struct.unpack(order + "I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        udp = frame[14 + (frame[14] & 15) * 4:]
        if len(udp) < 8 or 53 not in struct.unpack(">HH", udp[:4]):
            continue
        name = "%s.dns%d" % (os.path.basename(path), dns)
        with open(os.path.join("corpus", "dns_response", name), "wb") as out:
            out.write(bytes(udp[8:]))
        dns += 1
    for n, stream in enumerate(streams.values()):
        if n >= 8:
            break
        name = "%s.%d" % (os.path.basename(path), n)
        with open(os.path.join("corpus", "tls_chunking", name), "wb") as out:
            out.write(b"\x00\x00" + bytes(stream[:16384]))
PY
python3 - ../src/quic/testdata <<'PY'
import glob, os, sys
vectors = sys.argv[1]
packets = {}
for path in sorted(glob.glob(os.path.join(vectors, "*.hex"))):
    name = os.path.basename(path)[:-4]
    if name.endswith("-crypto-frame") or name.endswith("-payload"):
        continue  # plaintext, not datagrams
    packets[name] = bytes.fromhex("".join(open(path).read().split()))
packets["coalesced-server-initials"] = (
    packets["rfc9001-server-initial"] + packets["rfc9369-server-initial"] + bytes(40))
for name, data in packets.items():
    with open(os.path.join("corpus", "quic_initial", name), "wb") as out:
        out.write(data)
PY
# bpf_filter: each expression of the agreement test, a NUL, and the first frame of a capture of
# each link type the built-in filter reads (Ethernet, Ethernet with VLAN tags, IPv6, raw IP,
# Linux cooked v2).
mkdir -p corpus/bpf_filter
python3 - "$fixtures" ../tests/data/bpf-expressions.txt <<'PY'
import os, struct, sys
fixtures, expressions = sys.argv[1], sys.argv[2]
frames = []
for name in ["tls12-h2-agreed.pcap", "vlan.pcap", "qinq.pcap", "ipv6.pcap", "raw-ip.pcap", "sll2-any.pcap"]:
    data = open(os.path.join(fixtures, name), "rb").read()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    caplen = struct.unpack(order + "I", data[32:36])[0]
    frames.append(data[40:40 + caplen])
lines = [l for l in open(expressions).read().splitlines() if l and not l.startswith("#")]
for i, expression in enumerate(lines):
    frame = frames[i % len(frames)]
    with open(os.path.join("corpus", "bpf_filter", f"expression-{i:02}"), "wb") as out:
        out.write(expression.encode() + b"\0" + frame)
PY
# decode: a picking byte for the link type, a byte saying whether the frame was cut, and the
# frame: the first 16 frames of every classic pcap fixture of a link type the target picks.
mkdir -p corpus/decode
python3 - "$fixtures" <<'PY'
import glob, os, struct, sys
picks = {1: 0, 113: 3, 276: 4, 101: 5, 12: 6, 14: 7, 228: 8, 229: 9, 0: 10, 9: 11}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.pcap"))):
    data = open(path, "rb").read()
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif data[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        continue
    link_type = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    if link_type not in picks:
        continue
    at = 24
    for n in range(16):
        if at + 16 > len(data):
            break
        caplen, wire = struct.unpack(order + "II", data[at + 8:at + 16])
        frame = data[at + 16:at + 16 + caplen]
        at += 16 + caplen
        name = "%s.%d" % (os.path.basename(path), n)
        with open(os.path.join("corpus", "decode", name), "wb") as out:
            out.write(bytes([picks[link_type], 1 if wire > caplen else 0]) + frame[:2046])
PY
echo "seeded: $(for t in corpus/*; do printf '%s %s  ' "${t#corpus/}" "$(ls "$t" | wc -l)"; done)"
