#!/usr/bin/env python3
"""HTTP/3 bulk transfers on aioquic, for the QUIC benchmark capture (bench/make_quic_bench.sh).

Only make_quic_bench.sh runs this (pip install aioquic; alpnscope itself never needs it).

  server: py-quic-bulk.py server --listen ADDR --port N --cert CERT --key KEY [--alpn h3]
      Serves HTTP/3 until killed: a GET for "/BYTES" is answered with 200 and BYTES bytes
      (a repeated pseudo-random block; QUIC encrypts it anyway).

  client: py-quic-bulk.py client --connect ADDR --port N --count C --size BYTES
              [--parallel K] [--alpn h3] [--sni NAME]
      Opens C QUIC connections, at most K at a time; each offers --alpn, sends one GET for
      "/BYTES", reads the whole body and closes the connection (application CONNECTION_CLOSE).
      Prints one line on stderr: connections that completed, failed, bytes received.

  dns-server: py-quic-bulk.py dns-server --listen ADDR --port N
  dns-client: py-quic-bulk.py dns-client --connect ADDR --port N --count C
      Not QUIC: the UDP a real capture holds beside it.  The client sends C DNS queries
      (type A, names q<i>.bench.local), one at a time; the server answers each with one A
      record.

Both QUIC ends use datagrams of up to --datagram bytes (default 1350, as browsers send; aioquic's
own default is 1200).
"""
import argparse
import asyncio
import os
import socket
import ssl
import sys

from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ProtocolNegotiated

BLOCK = os.urandom(64 * 1024)
# Socket buffers as large as net.core.{r,w}mem_max allow: with the default 208 KiB the
# loopback drops datagrams of parallel transfers, and aioquic's loss recovery then crawls.
SOCKET_BUFFER = 4 * 1024 * 1024


def big_buffers(sock):
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass
MAX_BODY = 64 * 1024 * 1024


class BulkPeer(QuicConnectionProtocol):
    """Both ends: HTTP/3 once the handshake agreed one of aioquic's H3 tokens."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = None
        self.received = 0
        self.done = None

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self.h3 = H3Connection(self._quic)
        if self.h3 is None:
            return
        for ev in self.h3.handle_event(event):
            if self._quic.configuration.is_client:
                if isinstance(ev, DataReceived):
                    self.received += len(ev.data)
                if isinstance(ev, (HeadersReceived, DataReceived)) and ev.stream_ended:
                    if self.done is not None and not self.done.done():
                        self.done.set_result(None)
            elif isinstance(ev, HeadersReceived) and ev.stream_ended:
                self._answer(ev)

    def _answer(self, ev):
        path = dict(ev.headers).get(b":path", b"/0")
        try:
            size = min(int(path.lstrip(b"/") or b"0"), MAX_BODY)
        except ValueError:
            size = 0
        self.h3.send_headers(ev.stream_id, [
            (b":status", b"200"),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(size).encode()),
        ])
        if size == 0:
            self.h3.send_data(ev.stream_id, b"", end_stream=True)
        while size > 0:
            chunk = BLOCK[:min(size, len(BLOCK))]
            size -= len(chunk)
            self.h3.send_data(ev.stream_id, chunk, end_stream=size == 0)
        self.transmit()


async def run_server(args):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=args.alpn.split(","),
                            max_datagram_size=args.datagram)
    cfg.load_cert_chain(args.cert, args.key)
    server = await serve(args.listen, args.port, configuration=cfg, create_protocol=BulkPeer)
    big_buffers(server._transport.get_extra_info("socket"))
    print(f"listening on {args.listen} port {args.port}", flush=True)
    await asyncio.Future()


async def one(args, sem, stats):
    async with sem:
        cfg = QuicConfiguration(is_client=True, alpn_protocols=args.alpn.split(","),
                                server_name=args.sni, verify_mode=ssl.CERT_NONE,
                                max_datagram_size=args.datagram)
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in args.connect else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        big_buffers(sock)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        transport, proto = await loop.create_datagram_endpoint(
            lambda: BulkPeer(QuicConnection(configuration=cfg)), sock=sock)
        # the peer address exactly as recvfrom() gives it back (IPv6: a 4-tuple)
        addr = (args.connect, args.port, 0, 0) if family == socket.AF_INET6 else (args.connect, args.port)
        try:
            proto.connect(addr)
            await asyncio.wait_for(proto.wait_connected(), args.timeout)
            if proto.h3 is None:
                stats["failed"] += 1
                return
            proto.done = loop.create_future()
            sid = proto._quic.get_next_available_stream_id()
            proto.h3.send_headers(sid, [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", args.sni.encode()),
                (b":path", f"/{args.size}".encode()),
                (b"user-agent", b"py-quic-bulk"),
            ], end_stream=True)
            proto.transmit()
            await asyncio.wait_for(proto.done, args.timeout)
            stats["bytes"] += proto.received
            stats["ok"] += 1
            proto.close()
            await asyncio.wait_for(proto.wait_closed(), args.timeout)
        except (ConnectionError, asyncio.TimeoutError, OSError) as e:
            stats["failed"] += 1
            stats["last_error"] = repr(e)
        finally:
            transport.close()


async def run_client(args):
    sem = asyncio.Semaphore(args.parallel)
    stats = {"ok": 0, "failed": 0, "bytes": 0, "last_error": None}
    await asyncio.gather(*(one(args, sem, stats) for _ in range(args.count)))
    print(f"py-quic-bulk client {args.connect}:{args.port} size {args.size}: {stats['ok']} completed, "
          f"{stats['failed']} failed, {stats['bytes']} bytes received"
          + (f" (last error {stats['last_error']})" if stats["last_error"] else ""),
          file=sys.stderr, flush=True)
    return 0 if stats["failed"] == 0 else 1


def dns_query(i):
    """A DNS query (RFC 1035 §4.1) for A q<i>.bench.local, id i."""
    name = b"".join(bytes([len(part)]) + part for part in (f"q{i}".encode(), b"bench", b"local")) + b"\0"
    return (i & 0xFFFF).to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"


def dns_answer(query):
    """The query turned into a response with one A record 127.0.0.1 (name by pointer)."""
    return (query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + query[12:]
            + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01")


def run_dns_server(args):
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((args.listen, args.port))
    print(f"dns listening on {args.listen} port {args.port}", flush=True)
    while True:
        query, peer = sock.recvfrom(2048)
        if len(query) >= 12:
            sock.sendto(dns_answer(query), peer)


def run_dns_client(args):
    family = socket.AF_INET6 if ":" in args.connect else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    answered = 0
    for i in range(args.count):
        sock.sendto(dns_query(i), (args.connect, args.port))
        try:
            sock.recvfrom(2048)
            answered += 1
        except socket.timeout:
            pass
    print(f"py-quic-bulk dns-client {args.connect}:{args.port}: {answered} of {args.count} answered",
          file=sys.stderr, flush=True)
    return 0 if answered == args.count else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--listen", default="::")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--alpn", default="h3")
    s.add_argument("--datagram", type=int, default=1350)
    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--sni", default="bench.local")
    c.add_argument("--alpn", default="h3")
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--size", type=int, default=1 << 20)
    c.add_argument("--parallel", type=int, default=4)
    c.add_argument("--timeout", type=float, default=120.0)
    c.add_argument("--datagram", type=int, default=1350)
    d = sub.add_parser("dns-server")
    d.add_argument("--listen", default="127.0.0.1")
    d.add_argument("--port", type=int, default=53)
    d = sub.add_parser("dns-client")
    d.add_argument("--connect", default="127.0.0.1")
    d.add_argument("--port", type=int, default=53)
    d.add_argument("--count", type=int, default=1000)
    args = p.parse_args()
    if args.mode == "server":
        asyncio.run(run_server(args))
    elif args.mode == "dns-server":
        run_dns_server(args)
    elif args.mode == "dns-client":
        sys.exit(run_dns_client(args))
    else:
        sys.exit(asyncio.run(run_client(args)))


if __name__ == "__main__":
    main()
