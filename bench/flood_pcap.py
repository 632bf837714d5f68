#!/usr/bin/env python3
"""Writes a flood capture (classic pcap, Ethernet, microseconds) for bench/flood.sh.

Usage: flood_pcap.py KIND N REAL OUT
  KIND  syn    N SYN-only connections (10.0.0.0/8 -> 192.0.2.10:443, each its own 4-tuple)
        frag   N first fragments (offset 0, more-fragments set) of distinct IPv4 datagrams
               (10.0.0.0/8 -> 192.0.2.10, protocol TCP), none ever completed
        hello  N connections (SYN, SYN/ACK) each sending the first 8 KiB of a ClientHello whose
               handshake header claims 65,000 bytes (1460-byte segments), never completed; the
               real connection comes after all of them
        ooo    N connections (SYN, SYN/ACK) each sending 255 KiB behind a one-byte hole that is
               never filled (179 segments of at most 1460 bytes, nothing acknowledged)
        short  N complete short connections, one starting every millisecond: SYN, SYN/ACK, a
               small ClientHello (ALPN h2), the server's fatal handshake_failure alert with its
               FIN, the client's FIN
  N     number of flood packets (syn, frag) or connections (hello, ooo, short); packets 10 us apart
  REAL  a classic pcap with Ethernet frames (e.g. fixtures/tls12-h2-agreed.pcap): the packets of
        its first TCP connection are interleaved with the flood, starting half-way through it
        (hello: after it)
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


def ipv4(src, ident, flags_offset, payload, dst=SERVER):
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags_offset, 64, 6, 0, src, dst
    )
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return ETHERNET + header + payload


def source(i):
    """A distinct source address per 50 000 packets (ports 10000-59999 within it)."""
    n = i // 50_000
    return bytes([10, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]), 10_000 + i % 50_000


SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10


def segment(i, to_server, seq, ack, flags, payload=b""):
    """A TCP segment of connection `i` (client source(i) <-> 192.0.2.10:443)."""
    client, port = source(i)
    ports = (port, 443) if to_server else (443, port)
    tcp = struct.pack(
        "!HHIIBBHHH", ports[0], ports[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags,
        64_240, 0, 0,
    )
    if to_server:
        return ipv4(client, i & 0xFFFF, 0x4000, tcp + payload)
    return ipv4(SERVER, i & 0xFFFF, 0x4000, tcp + payload, dst=client)


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


CLIENT_ISN, SERVER_ISN = 1_000_000, 5_000_000
MSS = 1460


def record(content_type, body):
    return struct.pack("!BHH", content_type, 0x0301, len(body)) + body


def small_client_hello():
    """A ClientHello offering one TLS 1.2 suite and ALPN h2, in one record."""
    alpn = b"\x02h2"
    ext = struct.pack("!HHH", 0x0010, len(alpn) + 2, len(alpn)) + alpn
    body = (
        b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!HH", 2, 0xC02F) + b"\x01\x00"
        + struct.pack("!H", len(ext)) + ext
    )
    return record(22, struct.pack("!B", 1) + len(body).to_bytes(3, "big") + body)


def oversized_hello_start():
    """The first 8 KiB of a ClientHello whose handshake header claims 65,000 bytes."""
    body = b"\x03\x03" + bytes(range(32)) + b"\x00"
    message = b"\x01" + (65_000).to_bytes(3, "big") + body
    stream = struct.pack("!BHH", 22, 0x0301, 16_384) + message
    return stream + bytes(8 * 1024 - len(stream))


HANDSHAKE_FAILURE = struct.pack("!BHH", 21, 0x0303, 2) + b"\x02\x28"


def chunks(stream):
    return [stream[o : o + MSS] for o in range(0, len(stream), MSS)]


def opening(i):
    """SYN and SYN/ACK of connection `i`."""
    return [
        segment(i, True, CLIENT_ISN, 0, SYN),
        segment(i, False, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK),
    ]


def data(i, offset, stream):
    """The client's `stream` in MSS segments, starting `offset` bytes after its first byte."""
    frames, seq = [], CLIENT_ISN + 1 + offset
    for chunk in chunks(stream):
        frames.append(segment(i, True, seq, SERVER_ISN + 1, ACK | PSH, chunk))
        seq += len(chunk)
    return frames


def hello_flow(i, _hello=oversized_hello_start()):
    return opening(i) + data(i, 0, _hello)


def ooo_flow(i, _stream=bytes(255 * 1024)):
    # Byte 0 never arrives: everything after it waits behind the hole.
    return opening(i) + data(i, 1, _stream)


def short_flow(i, _hello=small_client_hello()):
    c, s = CLIENT_ISN + 1, SERVER_ISN + 1
    n = len(_hello)
    return opening(i) + [
        segment(i, True, c, s, ACK | PSH, _hello),
        segment(i, False, s, c + n, ACK | PSH | FIN, HANDSHAKE_FAILURE),
        segment(i, True, c + n, s + len(HANDSHAKE_FAILURE) + 1, ACK | FIN),
    ]


def flood(kind, n, start_us):
    """(time, frame) of the flood in time order, and when the real connection starts."""
    if kind in ("syn", "frag"):
        make = syn if kind == "syn" else first_fragment
        packets = ((start_us + i * STEP_US, make(i)) for i in range(n))
        return packets, start_us + (n // 2) * STEP_US
    if kind == "short":
        # One connection per millisecond, its packets 10 us apart.
        def short():
            for i in range(n):
                t = start_us + i * 1000
                for k, frame in enumerate(short_flow(i)):
                    yield t + k * STEP_US, frame
        return short(), start_us + (n // 2) * 1000 + 500
    make = hello_flow if kind == "hello" else ooo_flow
    per_flow = len(make(0))
    def flows():
        t = start_us
        for i in range(n):
            for frame in make(i):
                yield t, frame
                t += STEP_US
    middle = n if kind == "hello" else n // 2
    return flows(), start_us + middle * per_flow * STEP_US + STEP_US // 2


def main():
    kinds = ("syn", "frag", "hello", "ooo", "short")
    if len(sys.argv) != 5 or sys.argv[1] not in kinds:
        sys.exit(__doc__)
    kind, n, real_path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    linktype, real = read_pcap(real_path)
    if linktype != 1:
        sys.exit(f"flood_pcap.py: {real_path}: link type {linktype}, Ethernet (1) needed")
    real = first_connection(real)
    start_us = 1_700_000_000 * 1_000_000
    packets, real_start = flood(kind, n, start_us)
    shift = real_start - real[0][0]
    real = [(t + shift, f) for t, f in real]
    count = 0
    with open(out, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1))
        record_header = struct.Struct("<IIII")

        def write(us, frame):
            f.write(record_header.pack(us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)

        r = 0
        for t, frame in packets:
            while r < len(real) and real[r][0] <= t:
                write(*real[r])
                r += 1
            write(t, frame)
            count += 1
        for t, frame in real[r:]:
            write(t, frame)
    print(f"{out}: {count} {kind} flood packets ({n}) and {len(real)} packets of the real connection")


if __name__ == "__main__":
    main()
