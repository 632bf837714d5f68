"""What bench/tshark-compare.py and bench/tshark-compare-quic.py share: reading alpnscope's
lossless ALPN rendering as tshark prints strings, GREASE, endpoints, the captures of a directory
tree, percentages. Standard library only."""

import os

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".trace", ".gz", ".dmp")


def unescape(name):
    """alpnscope's lossless rendering (\\xNN) back to bytes, read as tshark prints strings."""
    raw = bytearray()
    i = 0
    while i < len(name):
        if name[i] == "\\" and name[i + 1:i + 2] == "x":
            raw.append(int(name[i + 2:i + 4], 16))
            i += 4
        else:
            raw += name[i].encode()
            i += 1
    return raw.decode("utf-8", "replace")


def is_grease(name):
    """RFC 8701 GREASE ALPN value as tshark prints it: two equal bytes 0x?A."""
    b = name.encode("latin-1", "replace")
    return len(b) == 2 and b[0] == b[1] and b[0] & 0x0F == 0x0A


def endpoint(obj):
    return (obj["ip"], str(obj["port"]))


def captures(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                out += [os.path.join(root, f) for f in files if f.endswith(CAPTURE_SUFFIXES)]
        else:
            out.append(p)
    return sorted(out)


def pct(n, d):
    return "%.2f %%" % (100.0 * n / d) if d else "n/a"
