//! Where a proxy preamble (HTTP `CONNECT`, SOCKS4/4a, SOCKS5) names a host or a person: the
//! fields a redacted extract rewrites before the TLS bytes. Takes the start of one direction's
//! reassembled bytes and the preamble length that `tls::preamble` found there; returns byte
//! ranges, all inside that length. Reads with `get` only: nothing here can panic on any input.

use std::ops::Range;

/// What a preamble field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// A 4-byte IPv4 address (SOCKS4 DSTIP, SOCKS5 ATYP 1, replies).
    Ipv4,
    /// A 16-byte IPv6 address (SOCKS5 ATYP 4).
    Ipv6,
    /// A host as text: a name or an address literal (`CONNECT` target, `Host:`, SOCKS4a and
    /// SOCKS5 domain names). Brackets and port are not part of it.
    Host,
    /// Anything else a person could be named by: SOCKS user ids and passwords, HTTP header
    /// values (`Proxy-Authorization`, `User-Agent`, `Via`…).
    Secret,
}

/// One field of a preamble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Span {
    /// Bytes of the direction.
    pub range: Range<usize>,
    /// What they hold.
    pub field: Field,
}

/// HTTP header fields whose values say nothing about hosts or people, kept as they are.
const PLAIN_HEADERS: [&str; 5] = [
    "content-length",
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
];

/// The fields of the preamble of `len` bytes at the start of `b`, sent by the client
/// (`from_client`) or by the proxy.
pub(super) fn spans(b: &[u8], len: usize, from_client: bool) -> Vec<Span> {
    let b = b.get(..len).unwrap_or(b);
    let mut out = Vec::new();
    match b.first() {
        Some(b'C' | b'H') => http(b, &mut out),
        Some(4) if from_client => socks4_request(b, &mut out),
        Some(0) if !from_client => push(&mut out, 4..8, Field::Ipv4, b),
        Some(5) if from_client => socks5_request(b, &mut out),
        Some(5) => socks5_reply(b, &mut out),
        Some(b'P') if from_client => proxy_v1(b, &mut out),
        Some(b'\r') if from_client => proxy_v2(b, &mut out),
        _ => {}
    }
    out
}

/// PROXY protocol v1: `PROXY TCP4 source destination source-port destination-port\r\n`, the
/// two addresses as text.
fn proxy_v1(b: &[u8], out: &mut Vec<Span>) {
    let line_len = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
    let mut at = 0;
    for (i, field) in b
        .get(..line_len)
        .unwrap_or_default()
        .split(|&c| c == b' ')
        .enumerate()
    {
        if matches!(i, 2 | 3) {
            push(out, at..at + field.len(), Field::Host, b);
        }
        at += field.len() + 1;
    }
}

/// PROXY protocol v2: the binary addresses of TCP over IPv4 or IPv6, a UNIX socket's paths,
/// and the TLVs after them (which may name the authority, a unique ID, TLS details) as secret.
fn proxy_v2(b: &[u8], out: &mut Vec<Span>) {
    let (Some(&family), Some(len)) = (b.get(13), b.get(14..16)) else {
        return;
    };
    let end = 16 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    let addresses = match family >> 4 {
        1 => {
            push(out, 16..20, Field::Ipv4, b);
            push(out, 20..24, Field::Ipv4, b);
            12
        }
        2 => {
            push(out, 16..32, Field::Ipv6, b);
            push(out, 32..48, Field::Ipv6, b);
            36
        }
        3 => {
            push(out, 16..end.min(16 + 216), Field::Secret, b);
            216
        }
        _ => 0,
    };
    push(out, (16 + addresses).min(end)..end, Field::Secret, b);
}

fn push(out: &mut Vec<Span>, range: Range<usize>, field: Field, b: &[u8]) {
    // A field that the bytes do not hold whole, or an empty one, is not a field.
    if range.start < range.end && range.end <= b.len() {
        out.push(Span { range, field });
    }
}

/// The host part of `host`, `host:port`, `[v6]` or `[v6]:port` at `at`.
fn host_part(b: &[u8], at: usize, out: &mut Vec<Span>, whole: &[u8]) {
    let (start, end) = match b.first() {
        Some(b'[') => match b.iter().position(|&c| c == b']') {
            Some(close) => (1, close),
            None => (1, b.len()),
        },
        _ => {
            let end = match b.iter().rposition(|&c| c == b':') {
                Some(colon)
                    if b.get(colon + 1..)
                        .is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit)) =>
                {
                    colon
                }
                _ => b.len(),
            };
            (0, end)
        }
    };
    push(out, at + start..at + end, Field::Host, whole);
}

/// RFC 9112 §3 and §5: a request or status line, then `name: value` lines up to the empty
/// line.
fn http(b: &[u8], out: &mut Vec<Span>) {
    let mut at = 0;
    let mut first = true;
    while at < b.len() {
        let rest = b.get(at..).unwrap_or_default();
        let line_len = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(rest.len());
        let line = rest.get(..line_len).unwrap_or_default();
        if first {
            if line.starts_with(b"CONNECT ") {
                let target = line.get(8..).unwrap_or_default();
                let target_len = target
                    .iter()
                    .position(|&c| c == b' ')
                    .unwrap_or(target.len());
                host_part(target.get(..target_len).unwrap_or_default(), at + 8, out, b);
            }
            first = false;
        } else if let Some(colon) = line.iter().position(|&c| c == b':') {
            let name = String::from_utf8_lossy(line.get(..colon).unwrap_or_default())
                .trim()
                .to_ascii_lowercase();
            let value = line.get(colon + 1..).unwrap_or_default();
            let lead = value
                .iter()
                .take_while(|c| **c == b' ' || **c == b'\t')
                .count();
            let value_at = at + colon + 1 + lead;
            let value = value.get(lead..).unwrap_or_default();
            let trimmed = value.len()
                - value
                    .iter()
                    .rev()
                    .take_while(|c| **c == b' ' || **c == b'\t')
                    .count();
            let value = value.get(..trimmed).unwrap_or_default();
            if name == "host" {
                host_part(value, value_at, out, b);
            } else if !PLAIN_HEADERS.contains(&name.as_str()) {
                push(out, value_at..value_at + value.len(), Field::Secret, b);
            }
        }
        at += line_len + 2;
    }
}

/// SOCKS4: VN=4 CD DSTPORT DSTIP USERID NUL, and for SOCKS4a (DSTIP 0.0.0.x) HOST NUL.
fn socks4_request(b: &[u8], out: &mut Vec<Span>) {
    let is_4a = matches!(b.get(4..8), Some([0, 0, 0, x]) if *x != 0);
    if !is_4a {
        push(out, 4..8, Field::Ipv4, b);
    }
    let rest = b.get(8..).unwrap_or_default();
    let Some(user_len) = rest.iter().position(|&c| c == 0) else {
        push(out, 8..b.len(), Field::Secret, b);
        return;
    };
    push(out, 8..8 + user_len, Field::Secret, b);
    if is_4a {
        let host_at = 8 + user_len + 1;
        let host = b.get(host_at..).unwrap_or_default();
        let host_len = host.iter().position(|&c| c == 0).unwrap_or(host.len());
        push(out, host_at..host_at + host_len, Field::Host, b);
    }
}

/// SOCKS5 ATYP, address and port at `at` (RFC 1928 §4, §5).
fn socks5_address(b: &[u8], at: usize, out: &mut Vec<Span>) {
    match b.get(at) {
        Some(1) => push(out, at + 1..at + 5, Field::Ipv4, b),
        Some(3) => {
            let len = usize::from(b.get(at + 1).copied().unwrap_or(0));
            push(out, at + 2..at + 2 + len, Field::Host, b);
        }
        Some(4) => push(out, at + 1..at + 17, Field::Ipv6, b),
        _ => {}
    }
}

/// SOCKS5 client: greeting, optional RFC 1929 username/password, then the request.
fn socks5_request(b: &[u8], out: &mut Vec<Span>) {
    let methods = usize::from(b.get(1).copied().unwrap_or(0));
    let mut at = 2 + methods;
    if b.get(at) == Some(&1) {
        // RFC 1929 §2: VER=1 ULEN UNAME PLEN PASSWD
        let ulen = usize::from(b.get(at + 1).copied().unwrap_or(0));
        push(out, at + 2..at + 2 + ulen, Field::Secret, b);
        let plen_at = at + 2 + ulen;
        let plen = usize::from(b.get(plen_at).copied().unwrap_or(0));
        push(out, plen_at + 1..plen_at + 1 + plen, Field::Secret, b);
        at = plen_at + 1 + plen;
    }
    // VER CMD RSV, then the address.
    socks5_address(b, at + 3, out);
}

/// SOCKS5 proxy: method choice, optional RFC 1929 status, then the reply with BND.ADDR.
fn socks5_reply(b: &[u8], out: &mut Vec<Span>) {
    let at = if b.get(1) == Some(&2) { 4 } else { 2 };
    socks5_address(b, at + 3, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of each span, with its field.
    fn fields(b: &[u8], from_client: bool) -> Vec<(Field, String)> {
        spans(b, b.len(), from_client)
            .into_iter()
            .map(|s| (s.field, String::from_utf8_lossy(&b[s.range]).into_owned()))
            .collect()
    }

    #[test]
    fn connect_targets_and_header_values() {
        let req = b"CONNECT 10.1.2.3:443 HTTP/1.1\r\nHost: 10.1.2.3:443\r\n\
            User-Agent: curl/7.88.1\r\nProxy-Authorization: Basic YWxpY2U6cHc=\r\n\
            Proxy-Connection: Keep-Alive\r\n\r\n";
        assert_eq!(
            fields(req, true),
            [
                (Field::Host, "10.1.2.3".into()),
                (Field::Host, "10.1.2.3".into()),
                (Field::Secret, "curl/7.88.1".into()),
                (Field::Secret, "Basic YWxpY2U6cHc=".into()),
            ]
        );
        let v6 = b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n";
        assert_eq!(
            fields(v6, true),
            [
                (Field::Host, "2001:db8::1".into()),
                (Field::Host, "2001:db8::1".into()),
            ]
        );
        let name = b"CONNECT alpn.test:8443 HTTP/1.0\r\n\r\n";
        assert_eq!(fields(name, true), [(Field::Host, "alpn.test".into())]);
        let reply = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 proxy.corp\r\n\r\n";
        assert_eq!(
            fields(reply, false),
            [(Field::Secret, "1.1 proxy.corp".into())]
        );
    }

    #[test]
    fn proxy_protocol_addresses() {
        let v1 = b"PROXY TCP4 198.51.100.7 203.0.113.1 51234 443\r\n";
        assert_eq!(
            fields(v1, true),
            [
                (Field::Host, "198.51.100.7".into()),
                (Field::Host, "203.0.113.1".into()),
            ]
        );
        let mut v2 = crate::tls::preamble::PROXY_V2_SIGNATURE.to_vec();
        v2.extend([0x21, 0x11, 0, 19]);
        v2.extend([198, 51, 100, 7, 203, 0, 113, 1, 0xc8, 0x22, 1, 0xbb]);
        v2.extend([0x02, 0, 4, b'a', b'.', b't', b'x']); // PP2_TYPE_AUTHORITY
        assert_eq!(
            spans(&v2, v2.len(), true),
            [
                Span {
                    range: 16..20,
                    field: Field::Ipv4
                },
                Span {
                    range: 20..24,
                    field: Field::Ipv4
                },
                Span {
                    range: 28..35,
                    field: Field::Secret
                },
            ]
        );
    }

    #[test]
    fn socks_addresses_names_and_credentials() {
        let socks4 = [4, 1, 1, 187, 93, 184, 216, 119, b'b', b'o', b'b', 0];
        assert_eq!(
            spans(&socks4, socks4.len(), true),
            [
                Span {
                    range: 4..8,
                    field: Field::Ipv4
                },
                Span {
                    range: 8..11,
                    field: Field::Secret
                }
            ]
        );
        let socks4a = b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00alpn.test\x00";
        assert_eq!(fields(socks4a, true), [(Field::Host, "alpn.test".into())]);
        let reply4 = [0, 0x5a, 1, 187, 10, 180, 156, 249];
        assert_eq!(
            spans(&reply4, 8, false),
            [Span {
                range: 4..8,
                field: Field::Ipv4
            }]
        );
        // Greeting (no auth, user/password), RFC 1929 credentials, CONNECT to a name.
        let socks5 = b"\x05\x02\x00\x02\x01\x05alice\x02pw\x05\x01\x00\x03\x09alpn.test\x20\xfb";
        assert_eq!(
            fields(socks5, true),
            [
                (Field::Secret, "alice".into()),
                (Field::Secret, "pw".into()),
                (Field::Host, "alpn.test".into())
            ]
        );
        let mut v6 = vec![5, 1, 0, 5, 1, 0, 4];
        v6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend_from_slice(&[1, 187]);
        assert_eq!(
            spans(&v6, v6.len(), true),
            [Span {
                range: 7..23,
                field: Field::Ipv6
            }]
        );
        // Method choice user/password, auth success, reply with BND.ADDR 10.0.0.1.
        let reply5 = [5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
        assert_eq!(
            spans(&reply5, reply5.len(), false),
            [Span {
                range: 8..12,
                field: Field::Ipv4
            }]
        );
        // Cut short: no field reaches past the bytes.
        assert_eq!(spans(&reply5[..10], 10, false), []);
    }
}
