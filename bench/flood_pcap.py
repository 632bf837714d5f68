#!/usr/bin/env python3
"""Writes a flood capture (classic pcap, Ethernet, microseconds) for bench/flood.sh.

Usage: flood_pcap.py KIND N REAL OUT
  KIND  syn   N SYN-only connections (10.0.0.0/8 -> 192.0.2.10:443, each its own 4-tuple)
        frag  N first fragments (offset 0, more-fragments set) of distinct IPv4 datagrams
              (10.0.0.0/8 -> 192.0.2.10, protocol TCP), none ever completed
  N     number of flood packets, 10 us apart
  REAL  a classic pcap with Ethernet frames (e.g. fixtures/tls12-h2-agreed.pcap): the packets of
        its first TCP connection are interleaved with the flood, starting half-way through it
  OUT   the capture to write

Standard library only. The flood's packets carry valid IPv4 header checksums and no TCP
checksum (alpnscope does not check them).
"""

import struct
import sys

STEP_US = 10


def read_pcap(path):
    """(link type, [(ts_us, frame bytes)]) of a classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, nanos = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, nanos = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, nanos = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        endian, nanos = ">", True
    else:
        sys.exit(f"flood_pcap.py: {path}: not a classic pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    packets, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[pos : pos + 16])
        pos += 16
        us = sec * 1_000_000 + (frac // 1000 if nanos else frac)
        packets.append((us, data[pos : pos + incl]))
        pos += incl
    return linktype, packets


def first_connection(packets):
    """The packets of the first IPv4 TCP connection (by its port pair) in Ethernet frames."""
    def ports(frame):
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            return None
        ihl = (frame[14] & 0x0F) * 4
        sport, dport = struct.unpack("!HH", frame[14 + ihl : 18 + ihl])
        return frozenset((sport, dport))

    key = next((ports(f) for _, f in packets if ports(f) is not None), None)
    if key is None:
        sys.exit("flood_pcap.py: no IPv4 TCP packet in the real capture")
    return [(t, f) for t, f in packets if ports(f) == key]


def checksum(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


ETHERNET = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
SERVER = bytes([192, 0, 2, 10])


def ipv4(src, ident, flags_offset, payload):
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags_offset, 64, 6, 0, src, SERVER
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return ETHERNET + header + payload


def source(i):
    """A distinct source address per 50 000 packets (ports 10000-59999 within it)."""
    n = i // 50_000
    return bytes([10, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]), 10_000 + i % 50_000


def syn(i):
    src, port = source(i)
    tcp = struct.pack("!HHIIBBHHH", port, 443, 1_000 + i, 0, 0x50, 0x02, 64_240, 0, 0)
    return ipv4(src, i & 0xFFFF, 0x4000, tcp)


def first_fragment(i):
    # A distinct datagram per packet: the source address changes every 50 000 packets and the
    # identification within them.
    src, port = source(i)
    tcp = struct.pack("!HHIIBBHHH", port, 443, 1_000 + i, 0, 0x50, 0x02, 64_240, 0, 0)
    return ipv4(src, i % 50_000, 0x2000, tcp + bytes(32))


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("syn", "frag"):
        sys.exit(__doc__)
    kind, n, real_path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    linktype, real = read_pcap(real_path)
    if linktype != 1:
        sys.exit(f"flood_pcap.py: {real_path}: link type {linktype}, Ethernet (1) needed")
    real = first_connection(real)
    make = syn if kind == "syn" else first_fragment
    start_us = 1_700_000_000 * 1_000_000
    shift = start_us + (n // 2) * STEP_US - real[0][0]
    real = [(t + shift, f) for t, f in real]
    with open(out, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1))
        record = struct.Struct("<IIII")

        def write(us, frame):
            f.write(record.pack(us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)

        r = 0
        for i in range(n):
            t = start_us + i * STEP_US
            while r < len(real) and real[r][0] <= t:
                write(*real[r])
                r += 1
            write(t, make(i))
        for t, frame in real[r:]:
            write(t, frame)
    print(f"{out}: {n} {kind} flood packets and {len(real)} packets of the real connection")


if __name__ == "__main__":
    main()
