#!/usr/bin/env python3
"""Cross-check alpnscope's QUIC flows against Wireshark (tshark 4.0) on many captures.

Usage:
    bench/tshark-compare-quic.py [--alpnscope BIN] [--tshark BIN] [--jobs N] [--details]
                                 [--json OUT] CAPTURE_OR_DIRECTORY...

Only for this cross-check: tshark is never used by the tests. Standard library only; the TCP
counterpart is bench/tshark-compare.py.

For every capture (directories are searched for *.pcap, *.pcapng, *.cap, *.trace, *.gz):
- tshark lists the QUIC connections (quic.connection.number) that hold a long-header Initial
  packet (quic.long.packet_type 0, or quic.long.packet_type_v2 1 in QUIC v2): per connection the
  first frame, the client (the sender of the first ClientHello, else of the first Initial), the
  SNI (tls.handshake.extensions_server_name) and ALPN list (tls.handshake.extensions_alpn_str) of
  the first ClientHello (Initial packets are readable without keys), whether a ServerHello came,
  the ALPN of the EncryptedExtensions when tshark decrypted them (secrets embedded in a pcapng, or
  --keylog), the version of the server's first long-header packet (else the client's), and a
  CONNECTION_CLOSE of the server carrying TLS alert 120 (quic.cc.error_code.tls_alert);
- `alpnscope analyze --format jsonl` (target/release/alpnscope by default) lists its flows; the
  QUIC ones (transport "quic") are compared.
A tshark connection is matched to the alpnscope QUIC flow with the same two endpoints whose frames
(first_frame..last_frame) hold the connection's first frame (the same first frame preferred).

Compared per connection (each a percentage of the QUIC connections tshark finds, after
exclusions):
- found: alpnscope reports a QUIC flow for it;
- number: its quic.connection_number is tshark's quic.connection.number;
- sni: its SNI equals tshark's (both absent counts as equal);
- offered: its alpn_offered equals tshark's list (alpnscope's \\xNN escapes decoded as UTF-8
  with replacement characters, as tshark prints them);
- version: its quic.version equals tshark's;
- selected: alpn_selected equals the EncryptedExtensions' ALPN tshark decrypted (only where it
  decrypted them);
- verdict: alpnscope's verdict is the one tshark's facts imply (README verdict table, QUIC rules):
  the server's CONNECTION_CLOSE with TLS alert 120 -> no_common_protocol; no ServerHello, or
  no ClientHello read (the offer unknown) -> incomplete; EncryptedExtensions decrypted: no server ALPN -> not_offered when the client offered
  nothing, else server_declined; a selection the client did not offer -> selected_unoffered; the
  first non-GREASE offer -> agreed, another offered one -> downgraded; not decrypted ->
  not_offered when the client offered nothing, else hidden;
- handshake_end: quic.handshake_end_frame is the client's Finished that tshark decrypted, else
  the client's first short-header packet tshark shows, else null (no end).
"sni" and "offered" are compared where tshark read a ClientHello. Also listed: QUIC flows
alpnscope reports that tshark does not (on ports or versions tshark does not take for QUIC).

Disagreements that are not alpnscope's errors are listed in EXCLUSIONS below, each with its
reason; a failing check they name is reported as excluded, not counted. `--details` prints every
disagreement; `--json OUT` writes all per-connection results.

Reproduce the README's figures: fetch the captures listed in bench/public-quic-captures.tsv (each
`git show COMMIT:PATH` of its repository, saved under the listed name) into one directory, then
`cargo build --release && bench/tshark-compare-quic.py DIRECTORY`.
"""

import argparse
import concurrent.futures
import fnmatch
import gzip
import json
import os
import subprocess
import sys

from tshark_common import captures, endpoint, is_grease, pct, unescape

# (capture file-name glob, quic.connection.number or None for all, check, reason): disagreements
# where Wireshark is wrong or the two count different things. Each was looked at by hand.
# check: one of CHECKS, or "*" (the connection entirely).
CID_SPLIT = ("the client goes on to a connection ID Wireshark did not see issued (in packets it "
             "cannot decrypt), on the same 4-tuple: Wireshark numbers those packets as a "
             "connection of their own, alpnscope keeps them in the connection they continue")
VN_KEYS = ("tshark 4.0 does not read the ClientHello of the client's Initial after a Version "
           "Negotiation (it keeps the first Initial's keys; fixtures/quic_expected.py notes the "
           "same of quic-version-negotiation.pcap), so its facts imply not_offered; alpnscope "
           "reads the offer and says hidden")
RETRY_KEYLOG = ("the key log holds the secrets of the ClientHello sent after the Retry or Version "
                "Negotiation (fixtures/quic-expected.json: random_in_key_log false); tshark 4.0 "
                "looks them up by the first ClientHello and opens no Handshake packet, alpnscope "
                "reads the EncryptedExtensions (aioquic's client log agrees: h3)")
PADDING_1RTT = ("the client coalesced a short-header packet with the Destination Connection ID of "
                "its long-header packets after them (RFC 9000 §12.2); tshark 4.0 calls it "
                "\"(Random) padding data appended to the datagram\", so its first client short "
                "header comes later")
GQUIC_Q050 = ("Google QUIC Q050: Google's own crypto handshake (CHLO) inside IETF-style Initial "
              "packets, not TLS; alpnscope reads TLS handshakes only")
EXCLUSIONS = [
    ("*arkime_synthetic.pcap", 0, "found",
     "synthetic: the same client Initial (same connection IDs) replayed from two 4-tuples; "
     "Wireshark follows connection IDs across addresses and makes one connection of both, "
     "alpnscope one flow per 4-tuple (alpnscope flows 35 and 55)"),
    ("*arkime_synthetic.pcap", 1, "number",
     "Wireshark counts the two replayed connections above as one, so its next number is one less"),
    ("*pcap_gquic.pcap", None, "found", GQUIC_Q050),
    ("*quic_q50.pcap", None, "found", GQUIC_Q050),
    ("*quic-forcing-vn-with-data.pcapng", 0, "verdict", VN_KEYS),
    ("*tcpdump__tests_quic_vn.pcap", 0, "verdict", VN_KEYS),
    ("*quic-go_zerortt.pcap", 2, "found", CID_SPLIT),
    ("*quic-go_zerortt.pcap", 1, "handshake_end", PADDING_1RTT),
    ("*quicv2-echo-443.pcap", 0, "handshake_end", PADDING_1RTT),
    ("*quicv2-echo-dpd-custom-port-4433.pcap", 0, "handshake_end", PADDING_1RTT),
    ("*quicv2-echo-443.pcap", 1, "found", CID_SPLIT),
    ("*quicv2-echo-dpd-custom-port-4433.pcap", 1, "found", CID_SPLIT),
    ("*quic-mvfst-22_decryption_error.pcap", 0, "handshake_end",
     "no client Initial opens (the capture exists for its decryption error), so alpnscope does "
     "not know which side is the client and names no client packet as the end of the handshake"),
    ("quic-retry.pcap", 0, "verdict", RETRY_KEYLOG),
    ("quic-version-negotiation.pcap", 0, "verdict", RETRY_KEYLOG),
]

AGG = "\x1f"
FIELDS = [
    "frame.number", "quic.connection.number", "ip.src", "ipv6.src", "udp.srcport", "ip.dst",
    "ipv6.dst", "udp.dstport", "quic.header_form", "quic.long.packet_type",
    "quic.long.packet_type_v2", "quic.version", "tls.handshake.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
    "tls.handshake.extension.type", "quic.cc.error_code.tls_alert", "frame.protocols",
]
CHECKS = ["found", "number", "sni", "offered", "version", "selected", "verdict", "handshake_end"]
QUIC_V2 = 0x6B3343CF


def split(value):
    return value.split(AGG) if value else []


def datagram_endpoints(row):
    """The (address, port) source and destination of a row's datagram: the innermost IP header
    carries it."""
    protocols = split(row["frame.protocols"])[-1].split(":")
    inner = max((i for i, p in enumerate(protocols) if p in ("ip", "ipv6")), default=-1)
    family = "ipv6" if inner >= 0 and protocols[inner] == "ipv6" else "ip"
    src = (split(row[family + ".src"])[-1:] or [""])[0], split(row["udp.srcport"])[-1:]
    dst = (split(row[family + ".dst"])[-1:] or [""])[0], split(row["udp.dstport"])[-1:]
    return (src[0], src[1][0] if src[1] else ""), (dst[0], dst[1][0] if dst[1] else "")


def tshark_connections(tshark, path, keylog):
    """quic.connection.number -> facts of the QUIC connections tshark finds in one capture."""
    cmd = [tshark, "-n", "-r", path, "-Y", "quic", "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=" + AGG, "-E", "separator=\t"]
    if keylog:
        cmd[1:1] = ["-o", "tls.keylog_file:" + keylog]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=900).stdout.decode("utf-8", "replace")
    conns = {}
    # Short-header packets tshark gives no connection number (a connection ID it did not see
    # issued): by endpoints, for the handshake_end check, which goes by the 4-tuple as
    # alpnscope does.
    orphans = []
    for line in out.split("\n"):
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, cols))
        frame = int(row["frame.number"])
        if not cols[1]:
            if "0" in split(row["quic.header_form"]):
                src, dst = datagram_endpoints(row)
                orphans.append((frame, src, dst))
            continue
        number = int(split(row["quic.connection.number"])[0])
        src, dst = datagram_endpoints(row)
        c = conns.setdefault(number, {
            "number": number, "first_frame": frame, "endpoints": {src, dst}, "client": None,
            "server": None, "initial_frame": None, "initial_from": None, "ch_frame": None,
            "sni": None, "offered": None, "server_hello": False, "ee": False,
            "selected": [], "server_alpn": False, "versions": [], "alert120": False,
            "client_finished": None, "client_short": [], "protocols": row["frame.protocols"]})
        c["endpoints"] |= {src, dst}
        versions = [int(v, 16) for v in split(row["quic.version"])]
        forms = split(row["quic.header_form"])
        # Packet types, one per long-header packet, in the version's own coding.
        types_v1 = split(row["quic.long.packet_type"])
        types_v2 = split(row["quic.long.packet_type_v2"])
        initial = False
        long_versions = [v for v in versions if v != 0]
        if any(v == QUIC_V2 for v in long_versions):
            initial = "1" in types_v2
        if any(v != QUIC_V2 for v in long_versions):
            initial |= "0" in types_v1
        if initial and c["initial_frame"] is None:
            c["initial_frame"], c["initial_from"] = frame, src
        if long_versions and "1" in forms:
            c["versions"].append((src, long_versions[0]))
        hs = split(row["tls.handshake.type"])
        alpn = split(row["tls.handshake.extensions_alpn_str"])
        if "1" in hs and c["ch_frame"] is None:
            c["ch_frame"], c["client"] = frame, src
            sni = split(row["tls.handshake.extensions_server_name"])
            c["sni"] = sni[0] if sni else None
            c["offered"] = alpn
        client = c["client"] or c["initial_from"]
        if client is not None and src == client:
            if "20" in hs and c["client_finished"] is None:
                c["client_finished"] = frame
        if "0" in forms:
            # Sorted out by side once the client is known (below).
            c["client_short"].append((src, frame))
        if client is not None and src != client:
            if "2" in hs:
                c["server_hello"] = True
            if "8" in hs:
                c["ee"] = True
                c["selected"] += alpn
                c["server_alpn"] |= "16" in split(row["tls.handshake.extension.type"])
            if "120" in split(row["quic.cc.error_code.tls_alert"]):
                c["alert120"] = True
    for c in conns.values():
        c["client"] = c["client"] or c["initial_from"]
        if c["client"] is not None:
            others = [e for e in c["endpoints"] if e != c["client"]]
            c["server"] = others[0] if others else c["client"]
        server_versions = [v for s, v in c["versions"] if s != c["client"]]
        client_versions = [v for s, v in c["versions"] if s == c["client"]]
        c["version"] = (server_versions or client_versions or [None])[0]
    for c in conns.values():
        # Orphan short headers from the client to the server, before the next connection on
        # the same endpoints begins.
        later = [o["first_frame"] for o in conns.values()
                 if o["endpoints"] == c["endpoints"] and o["first_frame"] > c["first_frame"]]
        end = min(later, default=None)
        c["client_short"] += [(src, f) for f, src, dst in orphans
                              if {src, dst} == c["endpoints"] and f > c["first_frame"]
                              and (end is None or f < end)]
        shorts = sorted(f for s, f in c["client_short"] if s == c["client"])
        c["handshake_end"] = c["client_finished"] or (shorts[0] if shorts else None)
    return {k: v for k, v in conns.items() if v["initial_frame"] is not None}


def alpnscope_flows(alpnscope, path, keylog):
    """alpnscope's QUIC flow objects for one capture. A gzip-compressed capture is decompressed
    into its standard input, as its error message tells a user to."""
    cmd = [alpnscope, "analyze", "--format", "jsonl"]
    if keylog:
        cmd += ["--keylog", keylog]
    cmd.append(path)
    stdin = None
    with open(path, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            stdin = gzip.open(path).read()
            cmd[-1] = "-"
    out = subprocess.run(cmd, input=stdin, capture_output=True, timeout=900)
    flows = []
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        obj = json.loads(line)
        if obj.get("type") is None and obj.get("transport") == "quic":
            flows.append(obj)
    return flows, out.returncode


def expected_verdict(c):
    """The verdict tshark's facts imply (see the module doc)."""
    offered = c["offered"] or []
    if c["alert120"]:
        return {"no_common_protocol"}
    if not c["server_hello"] or c["offered"] is None:
        return {"incomplete"}
    if not c["ee"]:
        return {"not_offered"} if not offered else {"hidden"}
    if not c["server_alpn"]:
        return {"not_offered"} if not offered else {"server_declined"}
    if len(c["selected"]) != 1 or not offered:
        return {"selected_unoffered"}
    selected = c["selected"][0]
    if selected not in offered or is_grease(selected):
        return {"selected_unoffered"}
    first = next((o for o in offered if not is_grease(o)), None)
    return {"agreed"} if selected == first else {"downgraded"}


def excluded(capture, number, check):
    name = os.path.basename(capture)
    for glob, n, chk, reason in EXCLUSIONS:
        if fnmatch.fnmatch(name, glob) and (n is None or n == number) and chk in ("*", check):
            return reason
    return None


def keylog_of(path):
    """A key log beside the capture (NAME.keys), as the fixtures have."""
    base = path[:-3] if path.endswith(".gz") else path
    keys = os.path.splitext(base)[0] + ".keys"
    return keys if os.path.isfile(keys) else None


def compare(args, path):
    """Per-connection results for one capture."""
    keylog = keylog_of(path)
    try:
        conns = tshark_connections(args.tshark, path, keylog)
        flows, rc = alpnscope_flows(args.alpnscope, path, keylog) if conns or args.all else ([], 0)
    except (subprocess.SubprocessError, ValueError) as e:
        return {"capture": path, "error": str(e), "results": [], "extra": []}
    by_pair = {}
    for f in flows:
        by_pair.setdefault(frozenset([endpoint(f["client"]), endpoint(f["server"])]), []).append(f)
    used = set()
    results = []
    for n in sorted(conns):
        c = conns[n]
        anchor = c["initial_frame"]
        cands = [f for f in by_pair.get(frozenset(c["endpoints"]), []) if f["id"] not in used]
        flow = next((f for f in cands if f["first_frame"] == c["first_frame"]), None)
        if flow is None:
            flow = next((f for f in cands if f["first_frame"] <= anchor <= f["last_frame"]), None)
        r = {"number": n, "first_frame": c["first_frame"], "initial_frame": anchor,
             "client": "%s:%s" % c["client"], "server": "%s:%s" % c["server"],
             "protocols": c["protocols"],
             "tshark": {"sni": c["sni"], "offered": c["offered"], "selected": c["selected"],
                        "ee": c["ee"], "server_hello": c["server_hello"],
                        "version": "0x%08x" % c["version"] if c["version"] is not None else None,
                        "alert120": c["alert120"], "handshake_end": c["handshake_end"]},
             "checks": {}}
        r["checks"]["found"] = flow is not None
        if flow is not None:
            used.add(flow["id"])
            r["flow"] = flow["id"]
            q = flow["quic"]
            offered = [unescape(a) for a in flow["alpn_offered"]]
            sel = flow["alpn_selected"]
            sel = unescape(sel) if sel is not None else None
            exp = expected_verdict(c)
            r["alpnscope"] = {"number": q["connection_number"], "sni": flow["sni"],
                              "offered": offered, "selected": sel, "version": q["version"],
                              "verdict": flow["verdict"], "detail": flow["detail"],
                              "first_frame": flow["first_frame"],
                              "handshake_end": q["handshake_end_frame"]}
            r["expected_verdict"] = sorted(exp)
            r["checks"]["number"] = q["connection_number"] == n
            if c["ch_frame"] is not None:
                r["checks"]["sni"] = flow["sni"] == c["sni"]
                r["checks"]["offered"] = offered == c["offered"]
            if c["version"] is not None:
                r["checks"]["version"] = q["version"] == "0x%08x" % c["version"]
            if c["ee"]:
                r["checks"]["selected"] = sel == (c["selected"][0] if c["selected"] else None)
            r["checks"]["verdict"] = flow["verdict"] in exp
            r["checks"]["handshake_end"] = q["handshake_end_frame"] == c["handshake_end"]
        r["excluded"] = {}
        for check in CHECKS:
            reason = excluded(path, n, check)
            if reason:
                r["excluded"][check] = reason
        results.append(r)
    extra = [{"flow": f["id"], "number": f["quic"]["connection_number"],
              "client": "%s:%s" % endpoint(f["client"]), "server": "%s:%s" % endpoint(f["server"]),
              "first_frame": f["first_frame"], "verdict": f["verdict"], "detail": f["detail"]}
             for f in flows if f["id"] not in used]
    return {"capture": path, "exit": rc, "results": results, "extra": extra}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--alpnscope", default=os.path.join(root, "target/release/alpnscope"))
    ap.add_argument("--tshark", default="tshark")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--all", action="store_true",
                    help="run alpnscope on captures where tshark finds no QUIC too (lists the "
                         "QUIC flows only alpnscope reports)")
    ap.add_argument("--details", action="store_true", help="print every disagreement")
    ap.add_argument("--json", help="write every per-connection result to this file")
    args = ap.parse_args()

    files = captures(args.paths)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        reports = list(pool.map(lambda p: compare(args, p), files))

    total = {c: [0, 0] for c in CHECKS}  # [agree, compared]
    excl = {c: 0 for c in CHECKS}
    quic_captures = 0
    extra_total = []
    for rep in reports:
        name = os.path.basename(rep["capture"])
        if rep.get("error"):
            print("%s: error: %s" % (name, rep["error"]))
            continue
        if rep["results"]:
            quic_captures += 1
        bad = {c: [] for c in CHECKS}
        for r in rep["results"]:
            for c in CHECKS:
                if c not in r["checks"]:
                    continue
                if c in r["excluded"] and not r["checks"][c]:
                    excl[c] += 1
                    continue
                total[c][1] += 1
                if r["checks"][c]:
                    total[c][0] += 1
                else:
                    bad[c].append(r)
        extra_total += [(name, e) for e in rep["extra"]]
        nbad = sum(len(v) for v in bad.values())
        if nbad:
            print("%s: %d tshark QUIC connections; disagreements: %s" % (
                name, len(rep["results"]),
                ", ".join("%s %d" % (c, len(v)) for c, v in bad.items() if v)))
            if args.details:
                for c, rs in bad.items():
                    for r in rs:
                        print("  %-13s connection %d (Initial frame %d) %s -> %s: tshark %s; "
                              "alpnscope %s" % (c, r["number"], r["initial_frame"], r["client"],
                                                r["server"], json.dumps(r["tshark"]),
                                                json.dumps(r.get("alpnscope"))))
    print()
    print("captures: %d read, %d with QUIC connections (tshark)" % (len(files), quic_captures))
    n = total["found"][1] + excl["found"]
    print("QUIC connections tshark finds: %d (%d excluded from 'found')" % (n, excl["found"]))
    for c in CHECKS:
        print("  %-13s %5d of %5d  %s  (excluded %d)" % (
            c, total[c][0], total[c][1], pct(total[c][0], total[c][1]), excl[c]))
    print("QUIC connections tshark finds that alpnscope does not:")
    for rep in reports:
        for r in rep["results"]:
            if not r["checks"]["found"] and "found" not in r["excluded"]:
                print("  %s connection %d (%s -> %s, first Initial frame %d): %s" % (
                    os.path.basename(rep["capture"]), r["number"], r["client"], r["server"],
                    r["initial_frame"], r.get("protocols", "")))
    print("Excluded, each with its reason:")
    for rep in reports:
        for r in rep["results"]:
            for c, reason in sorted(r["excluded"].items()):
                if c in r["checks"] and not r["checks"][c]:
                    print("  %s connection %d, %s: %s" % (
                        os.path.basename(rep["capture"]), r["number"], c, reason))
    print("QUIC flows alpnscope reports that tshark does not match: %d" % len(extra_total))
    for name, e in extra_total:
        print("  %s flow %d (%s -> %s, frame %d): %s" % (
            name, e["flow"], e["client"], e["server"], e["first_frame"], e["verdict"]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(reports, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
