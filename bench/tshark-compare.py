#!/usr/bin/env python3
"""Cross-check alpnscope against Wireshark (tshark 4.0) on many captures, flow by flow.

Usage:
    bench/tshark-compare.py [--alpnscope BIN] [--tshark BIN] [--jobs N] [--details]
                            [--json OUT] CAPTURE_OR_DIRECTORY...

Only for this cross-check: tshark is never used by the tests. Standard library only.

For every capture (directories are searched for *.pcap, *.pcapng, *.cap, *.trace, *.gz):
- tshark lists the TLS-over-TCP connections: each tcp.stream carrying a ClientHello
  (tls.handshake.type == 1, SSLv2-format hellos included), with the client (the sender of the first
  ClientHello), the ALPN list of that first ClientHello (tls.handshake.extensions_alpn_str), the
  protocol the server selected (the ALPN in the server's ServerHello, or in its EncryptedExtensions
  when tshark decrypted them with secrets embedded in the capture), the TLS version from the
  ServerHello (supported_versions, else its version field), whether the server sent alert 120, and
  per-stream counts of tcp.analysis.retransmission, fast_retransmission, spurious_retransmission,
  mapped to alpnscope's kinds as fixtures/tcp-flags-expected.sh does (a segment counts once, in
  its most specific kind; a retransmitted SYN is a syn_retransmission);
- `alpnscope analyze --all --format jsonl` (the release build, target/release/alpnscope) lists its
  flows.
A tshark stream is matched to the alpnscope flow with the same two endpoints whose frames
(first_frame..last_frame) hold the stream's first ClientHello frame; "first frame differs" counts
the matches whose first frames are not equal.

Compared per matched flow (each a percentage of the TLS flows tshark finds, after exclusions):
- found: alpnscope reports the flow with a verdict other than not_tls;
- offered: alpnscope's alpn_offered equals tshark's list (alpnscope's \\xNN escapes are decoded and
  read as UTF-8 with replacement characters, as tshark prints them);
- selected: alpn_selected equals tshark's;
- verdict: alpnscope's verdict is the one tshark's facts imply, in the order of the README's
  verdict table: the server's alert 120 -> no_common_protocol; no ServerHello -> incomplete;
  TLS 1.3 (drafts too) without the EncryptedExtensions decrypted -> not_offered when the client
  offered nothing, else hidden; a server ALPN extension naming other than exactly one protocol, or
  one the client did not offer (or GREASE) -> selected_unoffered; the first non-GREASE offer ->
  agreed, another offered one -> downgraded; no server ALPN extension -> not_offered when the
  client offered nothing, else server_declined;
- retransmissions: the per-flow counts of retransmissions, fast_retransmissions,
  spurious_retransmissions and syn_retransmissions equal tshark's.
Also listed: TLS flows alpnscope finds that tshark does not (STARTTLS, proxies, odd ports).

Also listed: TLS flows tshark finds and alpnscope does not, with the protocol stack tshark saw
(tunnels, TLS after a plaintext start alpnscope does not know).

tshark runs with tcp.reassemble_out_of_order:TRUE (as alpnscope reassembles; the tcp.analysis
flags do not depend on it). A HelloRetryRequest is not the ServerHello. A gzip-compressed capture
is given to alpnscope decompressed on its standard input, as alpnscope's error message says.

Disagreements that are not alpnscope's errors (Wireshark wrong, or the two counting different
things) are listed in EXCLUSIONS below, each with its reason; a failing check they name is
reported as excluded, not counted. `--details` prints every disagreement; `--json OUT` writes all
per-flow results.

Reproduce the README's figures: fetch the captures listed in bench/public-captures.tsv (each
`git show COMMIT:PATH` of its repository, saved under the listed name) into one directory, then
`cargo build --release && bench/tshark-compare.py DIRECTORY`.
"""

import argparse
import concurrent.futures
import fnmatch
import gzip
import json
import os
import re
import subprocess
import sys

from tshark_common import captures, endpoint, is_grease, pct, unescape

# (capture file-name glob, tcp.stream or None for every stream, check, reason): disagreements
# where Wireshark is wrong or the two count different things. Each was looked at by hand.
# check: "found", "offered", "selected", "verdict", "retransmissions" or "*" (the flow entirely).
TWO_ISNS = ("the server answered the SYN twice with different initial sequence numbers; "
            "Wireshark reads the server's data against the first one, so it misses the "
            "ServerHello and flags the server's segments as retransmissions; alpnscope follows "
            "the ISN the client's ACK uses (issue 11 item 3; tests/tcp_flags.rs DIFFERS)")
EXCLUSIONS = [
    ("*tcp-fastopen-10-syn-data-ignore_input.pcap", 0, "verdict", TWO_ISNS),
    ("*KakaoTalk_chat.pcap", 2, "verdict", TWO_ISNS),
    ("*KakaoTalk_chat.pcap", 2, "retransmissions", TWO_ISNS),
    ("*tls_multiple_synack_different_seq.pcapng", 0, "retransmissions", TWO_ISNS),
    ("*KakaoTalk_chat.pcap", 18, "verdict",
     "the record carrying the ServerHello (1717 bytes) is not whole in the capture, the "
     "ServerHello in it is: Wireshark dissects whole records only, alpnscope reads the message"),
    ("*4in6tunnel.pcap", 0, "selected",
     "the capture ends inside the record carrying the ServerHello, the ServerHello in it is whole: "
     "Wireshark dissects whole records only, alpnscope reads the message"),
    ("*4in6tunnel.pcap", 0, "verdict",
     "the capture ends inside the record carrying the ServerHello, the ServerHello in it is whole: "
     "Wireshark dissects whole records only, alpnscope reads the message"),
    ("*haproxy.pcap", 0, "found",
     "synthetic: one packet, without the connection's SYN, holding a PROXY protocol line and a "
     "ClientHello; alpnscope reads a stream whose start it did not see by finding TLS records, not "
     "a preamble (with the SYN, as in fixtures/proxy-protocol.pcap, the PROXY header is read)"),
]
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"

AGG = "\x1f"
FIELDS = [
    "frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
    "tcp.dstport", "tcp.flags.syn", "tls.handshake.type", "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version", "tls.handshake.version",
    "tls.alert_message.desc", "tls.handshake.extension.type", "tls.handshake.random",
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission", "frame.protocols",
]
RETRANS_KINDS = ["retransmissions", "fast_retransmissions", "spurious_retransmissions",
                 "syn_retransmissions"]
CHECKS = ["found", "offered", "selected", "verdict", "retransmissions"]


def last(value):
    """The last occurrence of an aggregated field (the innermost header in a tunnel)."""
    return value.split(AGG)[-1] if value else ""


def tshark_streams(tshark, path):
    """tcp.stream -> facts of the TLS-over-TCP connections tshark finds in one capture."""
    # Out-of-order segments are reassembled (alpnscope does; tshark's default does not, and then
    # misses a ServerHello whose first segment came late). The tcp.analysis flags do not change.
    cmd = [tshark, "-n", "-o", "tcp.reassemble_out_of_order:TRUE", "-r", path, "-Y", "tcp",
           "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=" + AGG, "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=900).stdout.decode("utf-8", "replace")
    streams = {}
    for line in out.split("\n"):
        cols = line.split("\t")
        if len(cols) != len(FIELDS) or not cols[1]:
            continue
        row = dict(zip(FIELDS, cols))
        frame = int(row["frame.number"])
        stream = int(last(row["tcp.stream"]))
        # The innermost IP header carries the TCP segment (IPv4 in IPv6 and the reverse).
        protocols = last(row["frame.protocols"]).split(":")
        inner = max((i for i, p in enumerate(protocols) if p in ("ip", "ipv6")), default=-1)
        v6 = inner >= 0 and protocols[inner] == "ipv6"
        family = ("ipv6" if v6 else "ip")
        src = (last(row[family + ".src"]), last(row["tcp.srcport"]))
        dst = (last(row[family + ".dst"]), last(row["tcp.dstport"]))
        s = streams.setdefault(stream, {
            "stream": stream, "first_frame": frame, "endpoints": {src, dst}, "client": None,
            "ch_frame": None, "offered": None, "selected": [], "server_alpn": False,
            "server_hello": False,
            "version": None, "decrypted": False, "alert120": False,
            "retrans": {k: 0 for k in RETRANS_KINDS}})
        types = row["tls.handshake.type"].split(AGG) if row["tls.handshake.type"] else []
        alpn = row["tls.handshake.extensions_alpn_str"]
        alpn = alpn.split(AGG) if alpn else []
        if "1" in types and s["client"] is None:
            s["client"], s["server"], s["ch_frame"] = src, dst, frame
            s["offered"] = alpn
            s["protocols"] = row["frame.protocols"]
        elif s["client"] is not None and src == s["server"]:
            # A HelloRetryRequest (a ServerHello with the RFC 8446 §4.1.3 random) selects nothing.
            hrr = HRR_RANDOM in row["tls.handshake.random"].replace(":", "").split(AGG)
            if "2" in types or "8" in types:
                s["selected"] += alpn
                s["server_alpn"] |= "16" in row["tls.handshake.extension.type"].split(AGG)
            if "8" in types:
                s["decrypted"] = True
            if "2" in types and not s["server_hello"] and not hrr:
                s["server_hello"] = True
                sv = row["tls.handshake.extensions.supported_version"]
                hv = row["tls.handshake.version"]
                s["version"] = (sv.split(AGG)[-1] if sv else hv.split(AGG)[0] if hv else None)
            if "120" in row["tls.alert_message.desc"].split(AGG):
                s["alert120"] = True
        if row["tcp.analysis.retransmission"]:
            syn = row["tcp.flags.syn"] in ("1", "True")
            if row["tcp.analysis.fast_retransmission"]:
                s["retrans"]["fast_retransmissions"] += 1
            elif row["tcp.analysis.spurious_retransmission"]:
                s["retrans"]["spurious_retransmissions"] += 1
            elif syn:
                s["retrans"]["syn_retransmissions"] += 1
            else:
                s["retrans"]["retransmissions"] += 1
    return {k: v for k, v in streams.items() if v["client"] is not None}


def alpnscope_flows(alpnscope, path):
    """alpnscope's flow objects for one capture (every TCP flow, --all). A gzip-compressed
    capture is decompressed into its standard input, as its error message tells a user to."""
    cmd = [alpnscope, "analyze", "--all", "--format", "jsonl", path]
    stdin = None
    with open(path, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            stdin = gzip.open(path).read()
            cmd[-1] = "-"
    out = subprocess.run(cmd, input=stdin, capture_output=True, timeout=900)
    flows = []
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        obj = json.loads(line)
        # TLS over TCP only: QUIC flows are compared elsewhere.
        if obj.get("type") is None and obj.get("transport", "tcp") == "tcp":
            flows.append(obj)
    return flows, out.returncode


def is_tls13(version):
    if not version:
        return False
    v = int(version, 16)
    # TLS 1.3, IETF drafts 0x7fXX, Facebook 0xfbXX, experiments 0x7eXX
    return v == 0x0304 or v >> 8 in (0x7F, 0x7E, 0xFB)


def expected_verdict(t):
    """The verdict tshark's facts imply, in alpnscope's documented order (see the module doc)."""
    offered = t["offered"]
    if t["alert120"]:
        return {"no_common_protocol"}
    if not t["server_hello"]:
        return {"incomplete"}
    if is_tls13(t["version"]) and not t["decrypted"] and not t["server_alpn"]:
        return {"not_offered"} if not offered else {"hidden"}
    if t["server_alpn"]:
        if len(t["selected"]) != 1 or not offered:
            return {"selected_unoffered"}
        selected = t["selected"][0]
        if selected not in offered or is_grease(selected):
            return {"selected_unoffered"}
        first = next((o for o in offered if not is_grease(o)), None)
        return {"agreed"} if selected == first else {"downgraded"}
    return {"not_offered"} if not offered else {"server_declined"}


def excluded(capture, stream, check):
    name = os.path.basename(capture)
    for glob, st, chk, reason in EXCLUSIONS:
        if fnmatch.fnmatch(name, glob) and (st is None or st == stream) and chk in ("*", check):
            return reason
    return None


def compare(args, path):
    """Per-flow results for one capture."""
    try:
        streams = tshark_streams(args.tshark, path)
        flows, rc = alpnscope_flows(args.alpnscope, path)
    except (subprocess.SubprocessError, ValueError) as e:
        return {"capture": path, "error": str(e), "results": [], "extra": []}
    by_pair = {}
    for f in flows:
        by_pair.setdefault(frozenset([endpoint(f["client"]), endpoint(f["server"])]), []).append(f)
    used = set()
    results = []
    for st in sorted(streams):
        t = streams[st]
        cands = by_pair.get(frozenset(t["endpoints"]), [])
        flow = next((f for f in cands if f["first_frame"] == t["first_frame"]
                     and f["first_frame"] <= t["ch_frame"] <= f["last_frame"]), None)
        if flow is None:
            flow = next((f for f in cands
                         if f["first_frame"] <= t["ch_frame"] <= f["last_frame"]), None)
        r = {"stream": st, "first_frame": t["first_frame"], "ch_frame": t["ch_frame"],
             "client": "%s:%s" % t["client"], "server": "%s:%s" % t["server"],
             "protocols": t["protocols"],
             "tshark": {"offered": t["offered"], "selected": t["selected"],
                        "version": t["version"], "server_hello": t["server_hello"],
                        "retrans": t["retrans"]},
             "checks": {}}
        if flow is not None:
            used.add(flow["id"])
            r["flow"] = flow["id"]
            r["first_frame_differs"] = flow["first_frame"] != t["first_frame"]
        found = flow is not None and flow["verdict"] != "not_tls"
        r["checks"]["found"] = found
        if found:
            offered = [unescape(a) for a in flow["alpn_offered"]]
            sel = flow["alpn_selected"]
            sel = unescape(sel) if sel is not None else None
            tsel = t["selected"][0] if t["selected"] else None
            exp = expected_verdict(t)
            retr = {k: flow["tcp"]["flow"].get(k, {}) for k in RETRANS_KINDS}
            retr = {k: sum(side.get("count", 0) for side in v.values()) for k, v in retr.items()}
            r["alpnscope"] = {"offered": offered, "selected": sel, "verdict": flow["verdict"],
                              "version": flow["tls_version"], "retrans": retr,
                              "detail": flow["detail"]}
            r["expected_verdict"] = sorted(exp)
            r["checks"]["offered"] = offered == t["offered"]
            r["checks"]["selected"] = sel == tsel
            r["checks"]["verdict"] = flow["verdict"] in exp
            r["checks"]["retransmissions"] = retr == t["retrans"]
        r["excluded"] = {}
        for c in CHECKS:
            reason = excluded(path, st, c)
            if reason:
                r["excluded"][c] = reason
        results.append(r)
    extra = [{"flow": f["id"], "tcp_stream": f["tcp_stream"],
              "client": "%s:%s" % endpoint(f["client"]), "server": "%s:%s" % endpoint(f["server"]),
              "first_frame": f["first_frame"], "verdict": f["verdict"],
              "starttls": (f.get("starttls") or {}).get("protocol"),
              "proxy": (f.get("proxy") or {}).get("kind")}
             for f in flows if f["id"] not in used and f["verdict"] != "not_tls"]
    return {"capture": path, "exit": rc, "results": results, "extra": extra}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--alpnscope", default=os.path.join(root, "target/release/alpnscope"))
    ap.add_argument("--tshark", default="tshark")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--details", action="store_true", help="print every disagreement")
    ap.add_argument("--json", help="write every per-flow result to this file")
    args = ap.parse_args()

    files = captures(args.paths)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        reports = list(pool.map(lambda p: compare(args, p), files))

    total = {c: [0, 0] for c in CHECKS}  # [agree, compared]
    excl = {c: 0 for c in CHECKS}
    first_differs = 0
    tls_captures = 0
    extra_total = []
    for rep in reports:
        name = os.path.basename(rep["capture"])
        if rep.get("error"):
            print("%s: error: %s" % (name, rep["error"]))
            continue
        if rep["results"]:
            tls_captures += 1
        bad = {c: [] for c in CHECKS}
        for r in rep["results"]:
            first_differs += bool(r.get("first_frame_differs"))
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
        nbad = sum(len(v) for v in bad.values())
        extra_total += [(name, e) for e in rep["extra"]]
        if nbad:
            print("%s: %d tshark TLS flows; disagreements: %s" % (
                name, len(rep["results"]),
                ", ".join("%s %d" % (c, len(v)) for c, v in bad.items() if v)))
            if args.details:
                for c, rs in bad.items():
                    for r in rs:
                        print("  %-15s stream %d (CH frame %d) %s -> %s: tshark %s; alpnscope %s"
                              % (c, r["stream"], r["ch_frame"], r["client"], r["server"],
                                 json.dumps(r["tshark"]), json.dumps(r.get("alpnscope"))))
    print()
    print("captures: %d read, %d with TLS over TCP (tshark)" % (len(files), tls_captures))
    n = total["found"][1] + excl["found"]
    print("TLS-over-TCP flows tshark finds: %d (%d excluded from 'found')" % (n, excl["found"]))
    for c in CHECKS:
        print("  %-16s %5d of %5d  %s  (excluded %d)" % (
            c, total[c][0], total[c][1], pct(total[c][0], total[c][1]), excl[c]))
    print("  matched with a different first frame: %d" % first_differs)
    print("TLS flows tshark finds that alpnscope does not (with the protocols tshark saw):")
    for rep in reports:
        for r in rep["results"]:
            if not r["checks"]["found"] and "found" not in r["excluded"]:
                print("  %s stream %d (%s -> %s, ClientHello frame %d): %s" % (
                    os.path.basename(rep["capture"]), r["stream"], r["client"], r["server"],
                    r["ch_frame"], r.get("protocols", "")))
    print("Excluded (not alpnscope's errors):")
    for rep in reports:
        for r in rep["results"]:
            for c, reason in sorted(r["excluded"].items()):
                if c in r["checks"] and not r["checks"][c]:
                    print("  %s stream %d, %s: %s" % (
                        os.path.basename(rep["capture"]), r["stream"], c, reason))
    print("TLS flows alpnscope finds that tshark does not: %d" % len(extra_total))
    for name, e in extra_total:
        print("  %s flow %d (%s -> %s, frame %d): %s%s%s" % (
            name, e["flow"], e["client"], e["server"], e["first_frame"], e["verdict"],
            ", starttls " + e["starttls"] if e["starttls"] else "",
            ", proxy " + e["proxy"] if e["proxy"] else ""))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(reports, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
