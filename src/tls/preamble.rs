//! Plaintext that may precede TLS in the same TCP stream: an HTTP `CONNECT` exchange or a
//! SOCKS4/4a/5 handshake. Each direction is read on its own; the parser says how many bytes the
//! preamble took and, for a client, which target it asked the proxy for. A direction that is not
//! TLS is named by its first bytes ([`Plaintext`]): an HTTP/1.x request or status line, or
//! something else. A client direction may also open with an SSLv2-format ClientHello (RFC 5246
//! Appendix E.2), which is TLS that does not start with a TLS record ([`sslv2_client_hello`]).
//! Nothing here allocates except a proxy target.

use super::types::ContentType;
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Most bytes a preamble may take before the stream is judged not to be TLS.
pub const MAX_PREAMBLE_BYTES: usize = 8192;

/// The kind of proxy hop seen before TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    /// HTTP `CONNECT host:port`.
    HttpConnect,
    /// SOCKS version 4 or 4a.
    Socks4,
    /// SOCKS version 5.
    Socks5,
    /// HAProxy's PROXY protocol, version 1 (a text line), sent by a load balancer or proxy
    /// that relays the connection: its target is the original destination it announces.
    ProxyProtocolV1,
    /// HAProxy's PROXY protocol, version 2 (binary).
    ProxyProtocolV2,
}

impl ProxyKind {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::HttpConnect => "http_connect",
            ProxyKind::Socks4 => "socks4",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::ProxyProtocolV1 => "proxy_protocol_v1",
            ProxyKind::ProxyProtocolV2 => "proxy_protocol_v2",
        }
    }
}

/// The outcome of looking at the start of a direction's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preamble {
    /// Not enough bytes yet to decide.
    NeedMore,
    /// The bytes begin with a TLS record.
    Tls,
    /// A proxy preamble of `len` bytes, then (presumably) TLS.
    Proxy {
        /// Which proxy protocol.
        kind: ProxyKind,
        /// The requested target (client side only).
        target: Option<String>,
        /// Bytes the preamble takes.
        len: usize,
    },
    /// An SSLv2-format ClientHello of `len` bytes (its 2-byte record header included; RFC 5246
    /// Appendix E.2), then TLS records.
    Sslv2ClientHello {
        /// Bytes the SSLv2 record takes.
        len: usize,
    },
    /// Something else.
    Other,
}

/// Bytes of an SSLv2 CLIENT-HELLO before its variable fields: the 2-byte record header, then
/// msg_type, version, cipher_spec_length, session_id_length and challenge_length.
const SSLV2_HELLO_FIXED: usize = 11;

/// Whether `b` starts with an SSLv2-format ClientHello offering SSL 3.0 or TLS (RFC 5246
/// Appendix E.2, RFC 6101 Appendix E.1): a 2-byte record header with the high bit set, message
/// type 1, a version with major 3, cipher specs of 3 bytes, a session id of 0 or 16 bytes and a
/// challenge of 16 to 32 bytes that exactly fill the record. `None` while the bytes are too few
/// to tell.
pub fn sslv2_client_hello(b: &[u8]) -> Option<Preamble> {
    let other = Some(Preamble::Other);
    let need = |have: usize, want: usize| (have < want).then_some(Preamble::NeedMore);
    match b {
        [] => None,
        [h, ..] if h & 0x80 == 0 => other,
        [_] | [_, _] => None,
        [_, _, ty, ..] if *ty != 1 => other,
        [_, _, _] => None,
        [_, _, _, major, ..] if *major != 3 => other,
        _ => {
            let Some(&[h0, h1, _, _, _, c0, c1, s0, s1, r0, r1]) =
                b.first_chunk::<SSLV2_HELLO_FIXED>()
            else {
                return Some(Preamble::NeedMore);
            };
            let record = usize::from(h0 & 0x7f) << 8 | usize::from(h1);
            let specs = usize::from(u16::from_be_bytes([c0, c1]));
            let session_id = usize::from(u16::from_be_bytes([s0, s1]));
            let challenge = usize::from(u16::from_be_bytes([r0, r1]));
            let consistent = specs % 3 == 0
                && specs > 0
                && matches!(session_id, 0 | 16)
                && (16..=32).contains(&challenge)
                && record == SSLV2_HELLO_FIXED - 2 + specs + session_id + challenge;
            if !consistent {
                return other;
            }
            need(b.len(), record + 2).or(Some(Preamble::Sslv2ClientHello { len: record + 2 }))
        }
    }
}

/// True when `b` starts with a plausible TLS record header (RFC 8446 §5.1).
pub fn looks_like_record(b: &[u8]) -> Option<bool> {
    let head = b.get(..5);
    match b {
        [] => None,
        [t, ..] if !ContentType(*t).is_record_type() => Some(false),
        [_] => None,
        [_, major, ..] if *major != 3 => Some(false),
        [_, _] => None,
        [_, _, minor, ..] if *minor > 4 => Some(false),
        _ => head
            .map(|h| u16::from_be_bytes([h[3], h[4]]) <= 18432 + 256)
            .or(None),
    }
}

/// Classifies the first bytes of one direction.
pub fn classify(b: &[u8]) -> Preamble {
    classify_from(b, 0)
}

/// Classifies the first bytes of one direction, knowing that its first `searched` bytes hold
/// no whole blank line (`\r\n\r\n`): an HTTP header block arriving a byte at a time is
/// searched once, not once per byte.
fn classify_from(b: &[u8], searched: usize) -> Preamble {
    match looks_like_record(b) {
        Some(true) => return Preamble::Tls,
        None => return Preamble::NeedMore,
        Some(false) => {}
    }
    match sslv2_client_hello(b) {
        None => return Preamble::NeedMore,
        Some(Preamble::Other) => {}
        Some(hello) => return hello,
    }
    if let Some(proxy) = proxy_protocol(b) {
        return proxy;
    }
    if b.starts_with(b"CONNECT ") {
        return http_block(b, searched, |head| {
            let line = head.split(|&c| c == b'\r').next().unwrap_or(&[]);
            let target = line.split(|&c| c == b' ').nth(1).unwrap_or(&[]);
            Some(super::alpn::escape_bytes(target))
        });
    }
    if b.starts_with(b"HTTP/1.") {
        // Wait for the whole status code, so that the status line is named alike however it
        // was segmented (`HTTP/1.x ddd` is 12 bytes).
        if b.len() < 12 {
            return Preamble::NeedMore;
        }
        if b.get(9) != Some(&b'2') {
            return Preamble::Other;
        }
        return http_block(b, searched, |_| None);
    }
    if "CONNECT ".as_bytes().starts_with(&b[..b.len().min(8)])
        || "HTTP/1.".as_bytes().starts_with(&b[..b.len().min(7)])
    {
        return Preamble::NeedMore;
    }
    if unfinished_request_line(b) {
        return Preamble::NeedMore;
    }
    match b {
        [4, 1, ..] => socks4_request(b),
        [0, 0x5a..=0x5d, ..] => sized(b, 8, ProxyKind::Socks4, None),
        [0] => Preamble::NeedMore,
        // A SOCKS4 request's version byte, alone in its segment.
        [4] => Preamble::NeedMore,
        [5] => Preamble::NeedMore,
        [5, ..] => match socks5_client(b) {
            Preamble::Other => socks5_server(b),
            client => client,
        },
        _ => Preamble::Other,
    }
}

/// Longest PROXY protocol v1 header, CRLF included (the specification's 107 bytes).
const MAX_PROXY_V1_LINE: usize = 107;
/// The 12-byte signature that opens a PROXY protocol v2 header.
pub const PROXY_V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// PROXY protocol v2 header before its addresses: signature, version and command, family and
/// transport, address length.
const PROXY_V2_FIXED: usize = 16;

/// A PROXY protocol header (HAProxy's "The PROXY protocol", versions 1 and 2) at the start of
/// `b`, as a load balancer sends it before relaying the client's bytes; `None` when `b` does
/// not start with one (or the start of one).
fn proxy_protocol(b: &[u8]) -> Option<Preamble> {
    let head = &b[..b.len().min(PROXY_V2_SIGNATURE.len())];
    if !head.is_empty() && PROXY_V2_SIGNATURE.starts_with(head) {
        if b.len() < PROXY_V2_FIXED {
            return Some(Preamble::NeedMore);
        }
        let version = b[12] >> 4;
        let len = PROXY_V2_FIXED + usize::from(u16::from_be_bytes([b[14], b[15]]));
        if version != 2 {
            return Some(Preamble::Other);
        }
        if b.len() < len {
            return Some(Preamble::NeedMore);
        }
        let addresses = &b[PROXY_V2_FIXED..len];
        // Command 1 (PROXY) over TCP (transport 1) from IPv4 (family 1) or IPv6 (family 2):
        // source address, destination address, source port, destination port.
        let target = match (b[12] & 0x0f, b[13]) {
            (1, 0x11) if addresses.len() >= 12 => {
                let ip = Ipv4Addr::new(addresses[4], addresses[5], addresses[6], addresses[7]);
                Some(format!(
                    "{ip}:{}",
                    u16::from_be_bytes([addresses[10], addresses[11]])
                ))
            }
            (1, 0x21) if addresses.len() >= 36 => {
                let mut octets = [0; 16];
                octets.copy_from_slice(&addresses[16..32]);
                let ip = Ipv6Addr::from(octets);
                Some(format!(
                    "[{ip}]:{}",
                    u16::from_be_bytes([addresses[34], addresses[35]])
                ))
            }
            _ => None,
        };
        return Some(Preamble::Proxy {
            kind: ProxyKind::ProxyProtocolV2,
            target,
            len,
        });
    }
    let head = &b[..b.len().min(6)];
    if !b"PROXY ".starts_with(head) || head.len() < 2 {
        return None;
    }
    if head.len() < 6 {
        return Some(Preamble::NeedMore);
    }
    let line = &b[..b.len().min(MAX_PROXY_V1_LINE)];
    let Some(end) = line.windows(2).position(|w| w == b"\r\n") else {
        return Some(if b.len() >= MAX_PROXY_V1_LINE {
            Preamble::Other
        } else {
            Preamble::NeedMore
        });
    };
    // PROXY TCP4|TCP6 source destination source-port destination-port, or PROXY UNKNOWN.
    let fields: Vec<&[u8]> = line[..end].split(|&c| c == b' ').collect();
    let target = match fields.as_slice() {
        [_, family, _, dst, _, port] if matches!(*family, b"TCP4" | b"TCP6") => {
            let dst = std::str::from_utf8(dst).ok()?;
            let port = std::str::from_utf8(port).ok()?;
            let ip: std::net::IpAddr = dst.parse().ok()?;
            port.parse::<u16>().ok()?;
            Some(match ip {
                std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
                std::net::IpAddr::V4(ip) => format!("{ip}:{port}"),
            })
        }
        [_, b"UNKNOWN", ..] => None,
        _ => return Some(Preamble::Other),
    };
    Some(Preamble::Proxy {
        kind: ProxyKind::ProxyProtocolV1,
        target,
        len: end + 2,
    })
}

/// HTTP methods recognised at the start of a request line (RFC 9110 §9, RFC 5789).
const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// What the first bytes of a direction that is not TLS are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plaintext {
    /// An HTTP/1.x request line: a method, a space, a target, then ` HTTP/1.`.
    HttpRequest {
        /// The method (one of a fixed list).
        method: &'static str,
    },
    /// An HTTP/1.x status line: `HTTP/1.x` and a three-digit status code.
    HttpResponse {
        /// The status code.
        status: u16,
    },
    /// Neither TLS nor HTTP/1.x (or an HTTP line split across segments).
    Other,
}

/// Names the first bytes of a direction that is not TLS. Only `b` is read: a request line
/// whose ` HTTP/1.` is not in it is [`Plaintext::Other`].
pub fn plaintext(b: &[u8]) -> Plaintext {
    if let Some(status) = http_status(b) {
        return Plaintext::HttpResponse { status };
    }
    match http_request_method(b) {
        Some(method) => Plaintext::HttpRequest { method },
        None => Plaintext::Other,
    }
}

/// Longest request line waited for before the bytes are judged (they are not TLS either way).
const MAX_REQUEST_LINE: usize = 2048;

/// True when `b` could still become an HTTP/1.x request line (a method, a space, a target, then
/// ` HTTP/1.`) but does not hold all of it yet: wait for more, so that how the bytes were
/// segmented never changes what they are called.
fn unfinished_request_line(b: &[u8]) -> bool {
    if b.len() >= MAX_REQUEST_LINE {
        return false;
    }
    HTTP_METHODS.into_iter().any(|m| {
        let m = m.as_bytes();
        if b.len() <= m.len() {
            // A prefix of the method and its space.
            return m.starts_with(b);
        }
        if !b.starts_with(m) || b.get(m.len()) != Some(&b' ') {
            return false;
        }
        let rest = b.get(m.len() + 1..).unwrap_or(&[]);
        let target_len = rest.iter().take_while(|c| c.is_ascii_graphic()).count();
        let version = rest.get(target_len..).unwrap_or(&[]);
        version.len() < b" HTTP/1.".len() && b" HTTP/1.".starts_with(version)
    })
}

/// The method of an HTTP/1.x request line at the start of `b` (RFC 9112 §3: method SP
/// request-target SP HTTP-version), when the whole line up to `HTTP/1.` is in `b`.
fn http_request_method(b: &[u8]) -> Option<&'static str> {
    let method = HTTP_METHODS
        .into_iter()
        .find(|m| b.starts_with(m.as_bytes()) && b.get(m.len()) == Some(&b' '))?;
    let rest = b.get(method.len() + 1..)?;
    let target_len = rest.iter().take_while(|c| c.is_ascii_graphic()).count();
    let version = rest.get(target_len..)?;
    (target_len > 0 && version.starts_with(b" HTTP/1.")).then_some(method)
}

/// The status code of an HTTP/1.x status line at the start of `b` (RFC 9112 §4).
fn http_status(b: &[u8]) -> Option<u16> {
    match b {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', d @ ..] if d.len() >= 3 => {
            let digits = [d[0], d[1], d[2]];
            digits.iter().all(u8::is_ascii_digit).then(|| {
                digits
                    .iter()
                    .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
            })
        }
        _ => None,
    }
}

/// What the start of a direction turned out to be (see [`StartDetector`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start<'b> {
    /// Not enough bytes yet; they are kept.
    NeedMore,
    /// TLS: read these bytes (everything kept so far and this chunk) as records.
    Tls(Cow<'b, [u8]>),
    /// A proxy preamble; the bytes after it are to be classified again.
    Proxy {
        /// Which proxy protocol.
        kind: ProxyKind,
        /// The requested target (client side only).
        target: Option<String>,
        /// The bytes after the preamble.
        rest: Cow<'b, [u8]>,
    },
    /// An SSLv2-format ClientHello (`hello`, its record header included), then TLS records
    /// (`rest`).
    Sslv2ClientHello {
        /// The SSLv2 record.
        hello: Cow<'b, [u8]>,
        /// The bytes after it.
        rest: Cow<'b, [u8]>,
    },
    /// Not TLS, or more than [`MAX_PREAMBLE_BYTES`] without a decision.
    NotTls {
        /// What the first bytes are.
        start: Plaintext,
        /// How many bytes were looked at.
        bytes: usize,
    },
}

/// Classifies the start of one direction as chunks arrive, keeping the first bytes while they
/// are too few to decide (at most [`MAX_PREAMBLE_BYTES`] plus one chunk).
#[derive(Debug, Default)]
pub struct StartDetector {
    buf: Vec<u8>,
    /// Leading bytes of `buf` known to hold no blank line (see [`classify_from`]).
    searched: usize,
    /// No proxy preamble may come first (the peer's direction is not TLS).
    tls_only: bool,
}

impl StartDetector {
    /// True when no bytes are kept.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The peer's direction is not TLS, so this one carries no proxy exchange: TLS or not TLS
    /// is decided from its first bytes alone (a proxy's `HTTP/1.1 200` is then not TLS).
    pub fn tls_only(&mut self) {
        self.tls_only = true;
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops the kept bytes.
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.searched = 0;
    }

    /// Looks at the next chunk.
    pub fn push<'b>(&mut self, bytes: &'b [u8]) -> Start<'b> {
        let buffered = !self.buf.is_empty();
        if buffered {
            self.buf.extend_from_slice(bytes);
        }
        let view: &[u8] = if buffered { &self.buf } else { bytes };
        let preamble = if self.tls_only {
            match looks_like_record(view) {
                Some(true) => Preamble::Tls,
                Some(false) => Preamble::Other,
                None => Preamble::NeedMore,
            }
        } else {
            classify_from(view, self.searched)
        };
        if preamble != Preamble::NeedMore {
            self.searched = 0;
        }
        // Waiting for the end of an HTTP header block, which is not in `view`?
        let http_block = view.starts_with(b"CONNECT ") || view.starts_with(b"HTTP/1.");
        match preamble {
            Preamble::NeedMore => {
                if !buffered {
                    self.buf.extend_from_slice(bytes);
                }
                if http_block {
                    self.searched = self.buf.len();
                }
                if self.buf.len() > MAX_PREAMBLE_BYTES {
                    let start = Start::NotTls {
                        start: plaintext(&self.buf),
                        bytes: self.buf.len(),
                    };
                    self.clear();
                    start
                } else {
                    Start::NeedMore
                }
            }
            Preamble::Sslv2ClientHello { len } => {
                if buffered {
                    let rest = self.buf.split_off(len.min(self.buf.len()));
                    let hello = std::mem::take(&mut self.buf);
                    Start::Sslv2ClientHello {
                        hello: Cow::Owned(hello),
                        rest: Cow::Owned(rest),
                    }
                } else {
                    let (hello, rest) = bytes.split_at_checked(len).unwrap_or((bytes, &[]));
                    Start::Sslv2ClientHello {
                        hello: Cow::Borrowed(hello),
                        rest: Cow::Borrowed(rest),
                    }
                }
            }
            Preamble::Tls if buffered => Start::Tls(Cow::Owned(std::mem::take(&mut self.buf))),
            Preamble::Tls => Start::Tls(Cow::Borrowed(bytes)),
            Preamble::Proxy { kind, target, len } => {
                let rest = if buffered {
                    let rest = self.buf.split_off(len.min(self.buf.len()));
                    self.buf.clear();
                    Cow::Owned(rest)
                } else {
                    Cow::Borrowed(bytes.get(len..).unwrap_or(&[]))
                };
                Start::Proxy { kind, target, rest }
            }
            Preamble::Other => {
                let start = Start::NotTls {
                    start: plaintext(view),
                    bytes: view.len(),
                };
                self.clear();
                start
            }
        }
    }
}

/// An HTTP `CONNECT` request or a proxy's `2xx` answer: its header block must end (the blank
/// line) within the first [`MAX_PREAMBLE_BYTES`]. The limit is on the position, so the decision
/// never depends on how much arrived in one segment (found by the `tls_chunking` fuzz target:
/// a blank line after byte 8192 counted when it came in the same segment).
fn http_block(b: &[u8], searched: usize, target: impl Fn(&[u8]) -> Option<String>) -> Preamble {
    let head = &b[..b.len().min(MAX_PREAMBLE_BYTES)];
    // A blank line may end just after the bytes searched before.
    let from = searched.saturating_sub(3).min(head.len());
    let found = head[from..].windows(4).position(|w| w == b"\r\n\r\n");
    match found.map(|at| from + at) {
        Some(end) => Preamble::Proxy {
            kind: ProxyKind::HttpConnect,
            target: target(&b[..end]),
            len: end + 4,
        },
        None if b.len() >= MAX_PREAMBLE_BYTES => Preamble::Other,
        None => Preamble::NeedMore,
    }
}

fn sized(b: &[u8], len: usize, kind: ProxyKind, target: Option<String>) -> Preamble {
    if b.len() < len {
        Preamble::NeedMore
    } else {
        Preamble::Proxy { kind, target, len }
    }
}

/// SOCKS4: VN=4 CD=1 DSTPORT DSTIP USERID NUL [HOST NUL for 4a].
fn socks4_request(b: &[u8]) -> Preamble {
    if b.len() < 9 {
        return Preamble::NeedMore;
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
    // The user id must end within the first 512 bytes and a SOCKS4a host name within the first
    // 768: both limits are on positions, so the decision never depends on how much arrived in
    // one segment (found by the `tls_chunking` fuzz target).
    let Some(user_end) = b
        .get(8..b.len().min(SOCKS4_USERID_END))
        .and_then(|u| u.iter().position(|&c| c == 0))
        .map(|p| 8 + p)
    else {
        return if b.len() >= SOCKS4_USERID_END {
            Preamble::Other
        } else {
            Preamble::NeedMore
        };
    };
    let is_4a = b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0;
    if !is_4a {
        return Preamble::Proxy {
            kind: ProxyKind::Socks4,
            target: Some(format!("{ip}:{port}")),
            len: user_end + 1,
        };
    }
    let host_start = user_end + 1;
    match b
        .get(host_start..b.len().min(SOCKS4A_HOST_END))
        .and_then(|r| r.iter().position(|&c| c == 0))
    {
        Some(p) => Preamble::Proxy {
            kind: ProxyKind::Socks4,
            target: Some(format!(
                "{}:{port}",
                super::alpn::escape_bytes(&b[host_start..host_start + p])
            )),
            len: host_start + p + 1,
        },
        None if b.len() >= SOCKS4A_HOST_END => Preamble::Other,
        None => Preamble::NeedMore,
    }
}

/// A SOCKS4 user id ends (its NUL) before this offset of the request.
const SOCKS4_USERID_END: usize = 512;
/// A SOCKS4a host name ends (its NUL) before this offset of the request.
const SOCKS4A_HOST_END: usize = 768;

/// SOCKS5 client: greeting, optional username/password (RFC 1929), then the CONNECT request.
fn socks5_client(b: &[u8]) -> Preamble {
    let methods = usize::from(b[1]);
    if methods == 0 {
        return Preamble::Other;
    }
    let mut at = 2 + methods;
    if b.get(at) == Some(&1) {
        // RFC 1929: VER=1 ULEN UNAME PLEN PASSWD
        let Some(&ulen) = b.get(at + 1) else {
            return Preamble::NeedMore;
        };
        let Some(&plen) = b.get(at + 2 + usize::from(ulen)) else {
            return Preamble::NeedMore;
        };
        at += 3 + usize::from(ulen) + usize::from(plen);
    }
    match b.get(at..at + 4) {
        None => Preamble::NeedMore,
        Some([5, 1, 0, _]) => match socks5_address(&b[at + 3..]) {
            Some(Some((target, len))) => Preamble::Proxy {
                kind: ProxyKind::Socks5,
                target: Some(target),
                len: at + 3 + len,
            },
            Some(None) => Preamble::Other,
            None => Preamble::NeedMore,
        },
        Some(_) => Preamble::Other,
    }
}

/// SOCKS5 server: method choice, optional auth status, then the reply.
fn socks5_server(b: &[u8]) -> Preamble {
    let mut at = 2;
    match b.get(1) {
        Some(0 | 2) => {}
        Some(_) => return Preamble::Other,
        None => return Preamble::NeedMore,
    }
    if b[1] == 2 {
        match b.get(2..4) {
            None => return Preamble::NeedMore,
            Some([1, 0]) => at = 4,
            Some(_) => return Preamble::Other,
        }
    }
    match b.get(at..at + 3) {
        None => Preamble::NeedMore,
        Some([5, 0, 0]) => match socks5_address(&b[at + 3..]) {
            Some(Some((_, len))) => Preamble::Proxy {
                kind: ProxyKind::Socks5,
                target: None,
                len: at + 3 + len,
            },
            Some(None) => Preamble::Other,
            None => Preamble::NeedMore,
        },
        Some(_) => Preamble::Other,
    }
}

/// ATYP + address + port → ("host:port", bytes used). `None` = need more, `Some(None)` = invalid.
fn socks5_address(b: &[u8]) -> Option<Option<(String, usize)>> {
    let (&atyp, rest) = b.split_first()?;
    let (host, used) = match atyp {
        1 => {
            let a = rest.get(..4)?;
            (Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(), 4)
        }
        3 => {
            let (&len, name) = rest.split_first()?;
            let name = name.get(..usize::from(len))?;
            (super::alpn::escape_bytes(name), 1 + usize::from(len))
        }
        4 => {
            let a: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            (format!("[{}]", Ipv6Addr::from(a)), 16)
        }
        _ => return Some(None),
    };
    let p = rest.get(used..used + 2)?;
    let port = u16::from_be_bytes([p[0], p[1]]);
    Some(Some((format!("{host}:{port}"), 1 + used + 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_record_start() {
        assert_eq!(classify(&[0x16, 3, 1, 0, 200]), Preamble::Tls);
        assert_eq!(classify(&[0x16, 3]), Preamble::NeedMore);
        assert_eq!(classify(b"SSH-2.0-OpenSSH"), Preamble::Other);
    }

    /// A CONNECT block fed a byte at a time is found where it ends, as when it comes whole,
    /// and searched once: the detector remembers how far it looked.
    #[test]
    fn a_header_block_fed_byte_by_byte_is_searched_once() {
        let block = b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n\x16\x03\x01";
        let mut detector = StartDetector::default();
        let mut outcome = None;
        for (i, byte) in block.iter().enumerate() {
            match detector.push(std::slice::from_ref(byte)) {
                // Once `CONNECT ` is in, every byte kept has been searched.
                Start::NeedMore => assert_eq!(detector.searched, if i >= 7 { i + 1 } else { 0 }),
                start => {
                    outcome = Some((i, format!("{start:?}")));
                    break;
                }
            }
        }
        let end = block.len() - 3 - 1;
        assert_eq!(
            outcome,
            Some((
                end,
                format!(
                    "{:?}",
                    Start::Proxy {
                        kind: ProxyKind::HttpConnect,
                        target: Some("a.test:443".to_string()),
                        rest: Cow::Owned(Vec::new()),
                    }
                )
            ))
        );
    }

    /// HAProxy's PROXY protocol before a ClientHello (nDPI's haproxy.pcap has a v1 line): the
    /// header is a proxy preamble whose target is the original destination, whatever the
    /// segmentation.
    #[test]
    fn proxy_protocol_headers() {
        let v1 = b"PROXY TCP4 11.111.11.111 222.222.222.22 52176 443\r\n\x16\x03\x01";
        assert_eq!(
            classify(v1),
            Preamble::Proxy {
                kind: ProxyKind::ProxyProtocolV1,
                target: Some("222.222.222.22:443".into()),
                len: v1.len() - 3,
            }
        );
        for cut in 1..v1.len() - 3 {
            assert_eq!(classify(&v1[..cut]), Preamble::NeedMore, "{cut}");
        }
        let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 8443\r\n";
        assert!(matches!(
            classify(v6),
            Preamble::Proxy { target: Some(t), .. } if t == "[2001:db8::2]:8443"
        ));
        assert!(matches!(
            classify(b"PROXY UNKNOWN\r\n"),
            Preamble::Proxy {
                kind: ProxyKind::ProxyProtocolV1,
                target: None,
                len: 15
            }
        ));
        assert_eq!(classify(b"PROXY TCP4 x y z w\r\n"), Preamble::Other);
        assert_eq!(classify(&[b'P'; 120]), Preamble::Other);

        let mut v2 = PROXY_V2_SIGNATURE.to_vec();
        v2.extend([
            0x21, 0x11, 0, 12, 198, 51, 100, 7, 203, 0, 113, 1, 0xc8, 0x22, 1, 0xbb,
        ]);
        assert_eq!(
            classify(&v2),
            Preamble::Proxy {
                kind: ProxyKind::ProxyProtocolV2,
                target: Some("203.0.113.1:443".into()),
                len: 28,
            }
        );
        for cut in 1..v2.len() {
            assert_eq!(classify(&v2[..cut]), Preamble::NeedMore, "{cut}");
        }
        // LOCAL (a health check): no addresses.
        let mut local = PROXY_V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert!(matches!(
            classify(&local),
            Preamble::Proxy {
                target: None,
                len: 16,
                ..
            }
        ));
    }

    #[test]
    fn http_connect() {
        let req = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01";
        assert_eq!(
            classify(req),
            Preamble::Proxy {
                kind: ProxyKind::HttpConnect,
                target: Some("example.com:443".into()),
                len: req.len() - 3
            }
        );
        assert_eq!(classify(b"CONNECT exa"), Preamble::NeedMore);
        assert_eq!(classify(b"CONN"), Preamble::NeedMore);
        let resp = b"HTTP/1.1 200 Connection established\r\n\r\n";
        assert!(matches!(classify(resp), Preamble::Proxy { len: 39, .. }));
        assert_eq!(
            classify(b"HTTP/1.1 407 Proxy Auth\r\n\r\n"),
            Preamble::Other
        );
    }

    /// Found by the `tls_chunking` fuzz target: what the first bytes are called must not depend
    /// on how they were segmented.
    #[test]
    fn unfinished_starts_wait_for_more_bytes() {
        // A SOCKS4 version byte alone.
        assert_eq!(classify(&[4]), Preamble::NeedMore);
        // A request line arriving a byte at a time is judged once it is whole.
        let line = b"GET / HTTP/1.1\r\n";
        for cut in 1..b"GET / HTTP/1.".len() {
            assert_eq!(classify(&line[..cut]), Preamble::NeedMore, "{cut}");
        }
        assert_eq!(classify(&line[..]), Preamble::Other);
        assert_eq!(
            plaintext(&line[..]),
            Plaintext::HttpRequest { method: "GET" }
        );
        // Not a method, or not a request line: judged at once.
        assert_eq!(classify(b"SSH-2.0"), Preamble::Other);
        assert_eq!(classify(b"GET /x\r\n"), Preamble::Other);
        // A status line: judged once its code is whole.
        let status = b"HTTP/1.1 400 Bad Request\r\n";
        for cut in 1..12 {
            assert_eq!(classify(&status[..cut]), Preamble::NeedMore, "{cut}");
        }
        assert_eq!(classify(&status[..]), Preamble::Other);
        assert_eq!(
            plaintext(&status[..]),
            Plaintext::HttpResponse { status: 400 }
        );
        // A SOCKS4 user id whose NUL comes after byte 512 is not SOCKS, whether the bytes come
        // in one segment or several.
        let mut socks = vec![4, 1, 0x01, 0xbb, 10, 0, 0, 1];
        socks.extend(std::iter::repeat_n(b'u', 520));
        socks.push(0);
        assert_eq!(classify(&socks), Preamble::Other);
        assert_eq!(classify(&socks[..511]), Preamble::NeedMore);
        assert_eq!(classify(&socks[..512]), Preamble::Other);
    }

    /// Found by the `tls_chunking` fuzz target: a `CONNECT` whose blank line ends after byte
    /// 8192 was a proxy when the bytes came in one segment and not TLS when they came in two.
    #[test]
    fn http_connect_blank_line_after_the_preamble_limit_is_not_tls_however_segmented() {
        let mut req = b"CONNECT example.com:443 HTTP/1.1\r\nX-Pad: ".to_vec();
        req.resize(MAX_PREAMBLE_BYTES - 3, b'a');
        req.extend_from_slice(b"\r\n\r\n\x16\x03\x01\x00\x05");
        // The blank line ends at byte 8193: one byte too far.
        assert_eq!(classify(&req), Preamble::Other);
        assert_eq!(classify(&req[..MAX_PREAMBLE_BYTES - 1]), Preamble::NeedMore);
        assert_eq!(classify(&req[..MAX_PREAMBLE_BYTES]), Preamble::Other);
        for cut in [1, 100, 8191, 8192, 8193, req.len() - 1] {
            let mut detector = StartDetector::default();
            let mut decided = detector.push(&req[..cut]);
            if decided == Start::NeedMore {
                decided = detector.push(&req[cut..]);
            }
            assert!(
                matches!(decided, Start::NotTls { .. }),
                "cut at {cut}: {decided:?}"
            );
        }
        // One byte shorter, the blank line ends at byte 8192 and the request is a proxy's.
        req.remove(50);
        assert!(matches!(
            classify(&req),
            Preamble::Proxy {
                kind: ProxyKind::HttpConnect,
                len: MAX_PREAMBLE_BYTES,
                ..
            }
        ));
    }

    #[test]
    fn plain_http_request_and_status_lines() {
        assert_eq!(
            plaintext(b"GET / HTTP/1.1\r\nHost: alpn.test:8443\r\n"),
            Plaintext::HttpRequest { method: "GET" }
        );
        assert_eq!(
            plaintext(b"OPTIONS * HTTP/1.0\r\n"),
            Plaintext::HttpRequest { method: "OPTIONS" }
        );
        assert_eq!(
            plaintext(b"HTTP/1.1 400 Bad Request\r\n"),
            Plaintext::HttpResponse { status: 400 }
        );
        // Not a request line: no target, a lowercase method, no version, a version cut off.
        for other in [
            &b"GET  HTTP/1.1\r\n"[..],
            b"get / HTTP/1.1\r\n",
            b"GET /\r\n",
            b"GET / HTTP/",
            b"GETS / HTTP/1.1\r\n",
            b"hello\r\n",
            b"HTTP/1.1 4",
            b"HTTP/2 200",
            b"",
        ] {
            assert_eq!(plaintext(other), Plaintext::Other, "{other:?}");
        }
    }

    #[test]
    fn a_direction_that_is_not_tls_is_named_by_its_first_bytes() {
        let mut detector = StartDetector::default();
        assert_eq!(
            detector.push(b"POST /api HTTP/1.1\r\n"),
            Start::NotTls {
                start: Plaintext::HttpRequest { method: "POST" },
                bytes: 20
            }
        );
        // A status line that is not a proxy's 2xx, after a byte kept back.
        let mut detector = StartDetector::default();
        assert_eq!(detector.push(b"H"), Start::NeedMore);
        assert_eq!(
            detector.push(b"TTP/1.1 400 Bad Request\r\n"),
            Start::NotTls {
                start: Plaintext::HttpResponse { status: 400 },
                bytes: 26
            }
        );
        assert!(detector.is_empty());
        // A proxy's answer is not taken as one when the peer does not speak TLS.
        let mut detector = StartDetector::default();
        detector.tls_only();
        assert_eq!(
            detector.push(b"HTTP/1.1 200 OK\r\n\r\n"),
            Start::NotTls {
                start: Plaintext::HttpResponse { status: 200 },
                bytes: 19
            }
        );
        assert!(matches!(
            detector.push(&[0x15, 3, 3, 0, 2, 2, 50]),
            Start::Tls(_)
        ));
    }

    #[test]
    fn socks() {
        let s4 = [4, 1, 1, 187, 93, 184, 216, 34, b'u', 0];
        assert_eq!(
            classify(&s4),
            Preamble::Proxy {
                kind: ProxyKind::Socks4,
                target: Some("93.184.216.34:443".into()),
                len: 10
            }
        );
        let mut s4a = vec![4, 1, 1, 187, 0, 0, 0, 1, 0];
        s4a.extend_from_slice(b"a.test\0");
        assert!(
            matches!(classify(&s4a), Preamble::Proxy { target: Some(t), .. } if t == "a.test:443")
        );
        let mut s5 = vec![5, 1, 0, 5, 1, 0, 3, 6];
        s5.extend_from_slice(b"a.test");
        s5.extend_from_slice(&[1, 187]);
        assert!(
            matches!(classify(&s5), Preamble::Proxy { kind: ProxyKind::Socks5, target: Some(t), len: 16 } if t == "a.test:443")
        );
        let server = [5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
        assert!(matches!(classify(&server), Preamble::Proxy { len: 12, .. }));
    }

    #[test]
    fn sslv2_format_client_hellos_and_what_is_not_one() {
        let hello = crate::tls::testing::sslv2_hello();
        let len = hello.len();
        assert_eq!(classify(&hello), Preamble::Sslv2ClientHello { len });
        for cut in 1..len {
            assert_eq!(classify(&hello[..cut]), Preamble::NeedMore, "cut {cut}");
        }
        let not = |patch: &dyn Fn(&mut Vec<u8>)| {
            let mut b = hello.clone();
            patch(&mut b);
            classify(&b)
        };
        // SSL 2.0 itself (version 0x0002), another message type, a record length that does not
        // match its fields, a challenge of 8 bytes, cipher specs that are not 3 bytes each.
        assert_eq!(not(&|b| b[3] = 0), Preamble::Other);
        assert_eq!(not(&|b| b[2] = 4), Preamble::Other);
        assert_eq!(not(&|b| b[1] += 1), Preamble::Other);
        assert_eq!(not(&|b| b[10] = 8), Preamble::Other);
        assert_eq!(not(&|b| b[6] = 8), Preamble::Other);
    }
}
