//! ClientHello and ServerHello bodies (RFC 8446 §4.1.2–4.1.4) → the fields this tool reports.
//!
//! The ClientHello's fixed part is parsed by `tls-parser`; the ServerHello's here, so that the
//! layout of the TLS 1.3 drafts before draft-22 is read too. Extensions are walked here so that
//! their order, unknown types, GREASE values and encoding faults are all kept. A hello whose fixed
//! part does not parse is a [`HelloError`]; a fault inside an extension is noted on the hello and
//! the rest kept. Two other shapes are read: an SSLv2-format ClientHello record (RFC 5246
//! Appendix E.2, [`ClientHello::parse_sslv2`]), and a hello the capture holds only the start of
//! ([`ClientHello::parse_cut`], [`ServerHello::parse_cut`]), marked with its [`Cut`].

use super::alpn::{AlpnList, escape_bytes};
use super::extensions::{Extension, Extensions};
use super::types::{ExtensionType, TlsVersion};
use std::borrow::Cow;
use std::fmt;

/// The SHA-256 of "HelloRetryRequest": a ServerHello with this random is an HRR (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A hello whose fixed fields do not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloError {
    /// Which hello.
    pub message: &'static str,
}

impl fmt::Display for HelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not parse (fixed fields truncated or inconsistent)",
            self.message
        )
    }
}

/// What a ClientHello offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// legacy_version.
    pub legacy_version: u16,
    /// The 32-byte random (identifies the connection in key logs).
    pub random: [u8; 32],
    /// Cipher suites in order (GREASE included).
    pub cipher_suites: Vec<u16>,
    /// Extension types in order (GREASE included).
    pub extensions: Vec<u16>,
    /// server_name (host_name entry), escaped losslessly.
    pub sni: Option<String>,
    /// ALPN list; `None` when the extension is absent.
    pub alpn: Option<AlpnList>,
    /// The protocols the client has application settings for (ALPS, extension 17513 or 17613:
    /// an ALPN-style list); `None` when neither extension is present. Chrome sends the settings
    /// themselves in its own EncryptedExtensions, which never carries the server's selection.
    pub alps: Option<AlpnList>,
    /// supported_versions list (GREASE included).
    pub supported_versions: Vec<u16>,
    /// signature_algorithms in order.
    pub signature_algorithms: Vec<u16>,
    /// Encoding faults found in the extensions.
    pub faults: Vec<&'static str>,
    /// Sent in the SSLv2 record format (RFC 5246 Appendix E.2), which has no extensions.
    pub sslv2: bool,
    /// Set when the capture holds only the start of the hello (see [`ClientHello::parse_cut`]):
    /// extensions after the cut are unknown, so an absent ALPN extension proves nothing.
    pub cut: Option<Cut>,
}

impl ClientHello {
    /// Parses an SSLv2-format ClientHello record (its 2-byte header included) as RFC 5246
    /// Appendix E.2 reads it: the version, the cipher specs whose first byte is 0 as TLS cipher
    /// suites (the SSL 2.0 ones are left out), the challenge right-aligned in a 32-byte random.
    /// It cannot carry extensions.
    pub fn parse_sslv2(record: &[u8]) -> Result<ClientHello, HelloError> {
        let error = HelloError {
            message: "SSLv2-format ClientHello",
        };
        let (&[_, _, _, v0, v1, c0, c1, s0, s1, r0, r1], rest) =
            record.split_first_chunk::<11>().ok_or(error.clone())?;
        let specs_len = usize::from(u16::from_be_bytes([c0, c1]));
        let session_id_len = usize::from(u16::from_be_bytes([s0, s1]));
        let challenge_len = usize::from(u16::from_be_bytes([r0, r1]));
        let (specs, rest) = rest.split_at_checked(specs_len).ok_or(error.clone())?;
        let rest = rest.get(session_id_len..).ok_or(error.clone())?;
        let challenge = rest.get(..challenge_len).ok_or(error.clone())?;
        // The challenge, right-aligned in 32 bytes (its first 32 when longer).
        let mut random = [0u8; 32];
        let n = challenge.len().min(32);
        random[32 - n..].copy_from_slice(&challenge[..n]);
        let cipher_suites = specs
            .chunks_exact(3)
            .filter_map(|spec| match spec {
                [0, a, b] => Some(u16::from_be_bytes([*a, *b])),
                _ => None,
            })
            .collect();
        Ok(ClientHello {
            legacy_version: u16::from_be_bytes([v0, v1]),
            random,
            cipher_suites,
            sslv2: true,
            ..ClientHello::default()
        })
    }

    /// Parses a ClientHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<ClientHello, HelloError> {
        let fixed = FixedPart::of(body).ok_or(HelloError {
            message: "ClientHello",
        })?;
        let mut hello = ClientHello {
            legacy_version: fixed.version,
            random: *fixed.random,
            cipher_suites: u16_list(fixed.cipher_suites),
            ..ClientHello::default()
        };
        let block = fixed.extensions.unwrap_or(&[]);
        hello.extensions = Vec::with_capacity(Extensions::new(block).count());
        // The walk's fault comes first, then those found inside extensions.
        let mut inner_faults = Vec::new();
        let mut extensions = Extensions::new(block);
        for Extension { ty, data, .. } in extensions.by_ref() {
            hello.extensions.push(ty.0);
            match ty {
                ExtensionType::SERVER_NAME => hello.sni = parse_sni(data, &mut inner_faults),
                ExtensionType::ALPN => hello.alpn = Some(AlpnList::parse(data)),
                ExtensionType::APPLICATION_SETTINGS | ExtensionType::APPLICATION_SETTINGS_OLD => {
                    // draft-vvv-tls-alps §3: `ProtocolName supported_protocols<2..2^16-1>`.
                    hello.alps.get_or_insert_with(|| AlpnList::parse(data));
                }
                ExtensionType::SUPPORTED_VERSIONS => {
                    // One length byte, then 2-byte versions.
                    hello.supported_versions = u16_list(data.get(1..).unwrap_or(&[]));
                }
                ExtensionType::SIGNATURE_ALGORITHMS => {
                    hello.signature_algorithms = u16_list(data.get(2..).unwrap_or(&[]));
                }
                _ => {}
            }
        }
        hello.faults = extensions.fault().into_iter().chain(inner_faults).collect();
        Ok(hello)
    }

    /// Parses the first `body.len()` bytes of a ClientHello whose body is `len` bytes long, of
    /// which the capture holds only these: the version and random must be there; the cipher
    /// suites and the extensions that are whole are read, the one the cut runs through is not.
    pub fn parse_cut(body: &[u8], len: usize) -> Option<ClientHello> {
        let (&version, rest) = body.split_first_chunk::<2>()?;
        let (random, rest) = rest.split_first_chunk::<32>()?;
        let mut hello = ClientHello {
            legacy_version: u16::from_be_bytes(version),
            random: *random,
            cut: Some(Cut {
                captured: body.len(),
                len,
            }),
            ..ClientHello::default()
        };
        let field = |rest: &[u8], len_bytes: usize| -> (Vec<u8>, Option<usize>) {
            let declared = match rest.get(..len_bytes) {
                Some([l]) => usize::from(*l),
                Some([l0, l1]) => usize::from(u16::from_be_bytes([*l0, *l1])),
                _ => return (Vec::new(), None),
            };
            let data = rest.get(len_bytes..).unwrap_or(&[]);
            let have = data.get(..declared).unwrap_or(data);
            let next = (have.len() == declared).then_some(len_bytes + declared);
            (have.to_vec(), next)
        };
        let (_, Some(next)) = field(rest, 1) else {
            return Some(hello);
        };
        let rest = rest.get(next..).unwrap_or(&[]);
        let (suites, next) = field(rest, 2);
        hello.cipher_suites = u16_list(&suites);
        let Some(next) = next else {
            return Some(hello);
        };
        let rest = rest.get(next..).unwrap_or(&[]);
        let (_, Some(next)) = field(rest, 1) else {
            return Some(hello);
        };
        let rest = rest.get(next..).unwrap_or(&[]);
        let block = rest.get(2..).unwrap_or(&[]);
        let mut faults = Vec::new();
        for Extension {
            ty,
            data,
            truncated,
        } in Extensions::new(block)
        {
            if truncated {
                break;
            }
            hello.extensions.push(ty.0);
            match ty {
                ExtensionType::SERVER_NAME => hello.sni = parse_sni(data, &mut faults),
                ExtensionType::ALPN => hello.alpn = Some(AlpnList::parse(data)),
                ExtensionType::SUPPORTED_VERSIONS => {
                    hello.supported_versions = u16_list(data.get(1..).unwrap_or(&[]));
                }
                _ => {}
            }
        }
        hello.faults = faults;
        Some(hello)
    }

    /// True when the capture cut the hello before its ALPN extension could be read: whether the
    /// client offered ALPN is unknown.
    pub fn offer_unknown(&self) -> bool {
        self.cut.is_some() && self.alpn.is_none()
    }

    /// The protocols offered (empty when the extension is absent).
    pub fn offered(&self) -> &[super::ProtocolName] {
        self.alpn.as_ref().map_or(&[], |a| a.protocols.as_slice())
    }

    /// The highest version offered: supported_versions when present (GREASE ignored), else
    /// legacy_version.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !TlsVersion(*v).is_grease())
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// [`ClientHello::max_version`] as a [`TlsVersion`], pre-standard TLS 1.3 counted as
    /// [`TlsVersion::TLS13`].
    pub fn max_tls_version(&self) -> TlsVersion {
        TlsVersion(self.max_version()).family()
    }
}

/// What a ServerHello (or HelloRetryRequest) answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// legacy_version.
    pub legacy_version: u16,
    /// The selected cipher suite.
    pub cipher_suite: u16,
    /// Extension types in order.
    pub extensions: Vec<u16>,
    /// supported_versions selection (TLS 1.3), if present.
    pub selected_version: Option<u16>,
    /// ALPN extension, if present (TLS ≤ 1.2, or a misbehaving 1.3 server).
    pub alpn: Option<AlpnList>,
    /// True when the random marks this as a HelloRetryRequest.
    pub is_hello_retry_request: bool,
    /// True when the server answered with the NPN extension.
    pub npn: bool,
    /// Encoding faults found in the extensions.
    pub faults: Vec<&'static str>,
    /// Set when the capture holds only the start of the hello (see [`ServerHello::parse_cut`]).
    pub cut: Option<Cut>,
    /// The cut runs through the ALPN extension: the server sent one (it did not decline), but
    /// the protocol it names is not in the capture.
    pub alpn_cut: bool,
}

impl ServerHello {
    /// Parses a ServerHello body (after the 4-byte handshake header): the RFC 8446 §4.1.3
    /// layout (TLS 1.0–1.3 and the TLS 1.3 drafts from draft-22 on, legacy_version 0x0303),
    /// SSL 3.0's (extensions optional), and the layout of the TLS 1.3 drafts before draft-22
    /// (version, random, cipher suite, extensions: no session id, no compression method).
    pub fn parse(body: &[u8]) -> Result<ServerHello, HelloError> {
        let (mut hello, complete) = ServerHello::parse_prefix(body)?;
        // In a whole hello a truncated extension is a fault, not a cut.
        hello.alpn_cut = false;
        if complete {
            Ok(hello)
        } else {
            Err(HelloError {
                message: "ServerHello",
            })
        }
    }

    /// Parses the first `body.len()` bytes of a ServerHello whose body is `len` bytes long, of
    /// which the capture holds only these (a snaplen, a capture cut short): the fixed fields up
    /// to the cipher suite must be there; the extensions that are whole are read, the one the
    /// cut runs through is not. `None` when the cipher suite is not in the bytes.
    pub fn parse_cut(body: &[u8], len: usize) -> Option<ServerHello> {
        let (mut hello, _) = ServerHello::parse_prefix(body).ok()?;
        hello.faults.clear();
        hello.cut = Some(Cut {
            captured: body.len(),
            len,
        });
        Some(hello)
    }

    /// The fields in `body` as far as they go, and whether the fixed part (up to the
    /// compression method) was whole; an extensions block that runs past the end is a fault
    /// noted on the hello. Errors when the bytes end before the cipher suite or the layout is
    /// unknown.
    fn parse_prefix(body: &[u8]) -> Result<(ServerHello, bool), HelloError> {
        let error = HelloError {
            message: "ServerHello",
        };
        let (&version, rest) = body.split_first_chunk::<2>().ok_or(error.clone())?;
        let legacy_version = u16::from_be_bytes(version);
        let (random, rest) = rest.split_first_chunk::<32>().ok_or(error.clone())?;
        let v = TlsVersion(legacy_version);
        // Before draft-22 a TLS 1.3 ServerHello named its version here and had no session id
        // and no compression method (draft-ietf-tls-tls13-21 §4.1.3). Drafts before draft-16
        // (no supported_versions yet) wrote 0x0304 itself, which the RFC layout never carries
        // (RFC 8446 §4.1.3: legacy_version 0x0303).
        let draft_layout = v.is_tls13_prestandard() || v == TlsVersion::TLS13;
        if !draft_layout && !(TlsVersion::SSL30..=TlsVersion::TLS12).contains(&v) {
            return Err(error);
        }
        let rest = if draft_layout {
            rest
        } else {
            let (&[sid_len], rest) = rest.split_first_chunk::<1>().ok_or(error.clone())?;
            if sid_len > 32 {
                return Err(error);
            }
            rest.get(usize::from(sid_len)..).ok_or(error.clone())?
        };
        let (&cipher, rest) = rest.split_first_chunk::<2>().ok_or(error.clone())?;
        let mut hello = ServerHello {
            legacy_version,
            cipher_suite: u16::from_be_bytes(cipher),
            is_hello_retry_request: *random == HELLO_RETRY_REQUEST_RANDOM,
            ..ServerHello::default()
        };
        let rest = if draft_layout {
            rest
        } else {
            match rest.split_first() {
                Some((_compression, rest)) => rest,
                None => return Ok((hello, false)),
            }
        };
        // The extensions block is optional (RFC 5246 §7.4.1.3).
        if rest.is_empty() {
            return Ok((hello, true));
        }
        let Some((&ext_len, block)) = rest.split_first_chunk::<2>() else {
            return Ok((hello, false));
        };
        let declared = usize::from(u16::from_be_bytes(ext_len));
        let whole = block.len() >= declared;
        let (extensions, faults) = walk(block.get(..declared).unwrap_or(block));
        for Extension {
            ty,
            data,
            truncated,
        } in extensions
        {
            hello.extensions.push(ty.0);
            if truncated {
                hello.alpn_cut = ty == ExtensionType::ALPN;
                continue;
            }
            match ty {
                ExtensionType::ALPN => hello.alpn = Some(AlpnList::parse(data)),
                ExtensionType::SUPPORTED_VERSIONS => {
                    hello.selected_version = data.first_chunk::<2>().map(|b| u16::from_be_bytes(*b))
                }
                ExtensionType::NPN => hello.npn = true,
                _ => {}
            }
        }
        hello.faults = faults;
        if !whole {
            hello
                .faults
                .insert(0, "extensions block runs past the end of the hello");
        }
        Ok((hello, true))
    }

    /// The negotiated version: supported_versions when present, else legacy_version; for a
    /// ServerHello cut before its supported_versions extension, TLS 1.3 when its cipher suite
    /// exists only in TLS 1.3.
    pub fn version(&self) -> u16 {
        match self.selected_version {
            Some(v) => v,
            None if self.cut.is_some() && is_tls13_suite(self.cipher_suite) => TlsVersion::TLS13.0,
            None => self.legacy_version,
        }
    }

    /// [`ServerHello::version`] as a [`TlsVersion`], with the pre-standard TLS 1.3 versions
    /// (drafts, experiments) counted as [`TlsVersion::TLS13`]: they select the same way.
    pub fn tls_version(&self) -> TlsVersion {
        TlsVersion(self.version()).family()
    }

    /// How TLS 1.3 shows in a ServerHello cut short: by its supported_versions, else by its
    /// cipher suite; `None` for a whole hello or one that shows no TLS 1.3.
    pub fn cut_tls13_evidence(&self) -> Option<Tls13Evidence> {
        self.cut?;
        match self.selected_version {
            Some(v) if TlsVersion(v).is_tls13() => Some(Tls13Evidence::SupportedVersions),
            Some(_) => None,
            None if is_tls13_suite(self.cipher_suite) => Some(Tls13Evidence::CipherSuite),
            None => None,
        }
    }
}

/// What shows that a ServerHello cut short chose TLS 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls13Evidence {
    /// Its supported_versions extension.
    SupportedVersions,
    /// Its cipher suite, one that exists only in TLS 1.3 (RFC 8446 §B.4, RFC 8998).
    CipherSuite,
}

/// A hello the capture holds only the start of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Bytes of the body captured.
    pub captured: usize,
    /// The body's length as its header declares it.
    pub len: usize,
}

/// True for the cipher suites defined for TLS 1.3 only: RFC 8446 §B.4 (0x1301–0x1305) and
/// RFC 8998 (0x00c6, 0x00c7).
pub fn is_tls13_suite(suite: u16) -> bool {
    matches!(suite, 0x1301..=0x1305 | 0x00c6 | 0x00c7)
}

/// Every entry of a hello's extensions block, and the fault that cut the walk short, if any
/// (first in the list, as the entries' own faults come after it).
fn walk(block: &[u8]) -> (Vec<Extension<'_>>, Vec<&'static str>) {
    let mut walk = Extensions::new(block);
    let extensions: Vec<Extension<'_>> = walk.by_ref().collect();
    (extensions, walk.fault().into_iter().collect())
}

/// The host_name entry of a server_name extension (RFC 6066 §3).
fn parse_sni(data: &[u8], faults: &mut Vec<&'static str>) -> Option<String> {
    let mut rest = data.get(2..)?;
    while let Some((&[kind, l0, l1], after)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some((name, next)) = after.split_at_checked(len) else {
            faults.push("server_name entry runs past the end of the extension");
            return None;
        };
        if kind == 0 {
            return Some(escape_bytes(name));
        }
        rest = next;
    }
    None
}

/// The fields of a ClientHello body before its extensions, and its extensions block, read as
/// `tls_parser::parse_tls_handshake_client_hello` reads them (a differential test holds it to
/// that) without its vectors of cipher suites and compression methods.
struct FixedPart<'a> {
    version: u16,
    random: &'a [u8; 32],
    /// The cipher suites' bytes, two a suite.
    cipher_suites: &'a [u8],
    /// The extensions block, when its length and bytes are there whole.
    extensions: Option<&'a [u8]>,
}

impl<'a> FixedPart<'a> {
    /// `None` where the body is too short for a field, its session id is longer than 32
    /// bytes, or its cipher suites' length is odd.
    fn of(body: &'a [u8]) -> Option<FixedPart<'a>> {
        let (version, rest) = body.split_first_chunk::<2>()?;
        let (random, rest) = rest.split_first_chunk::<32>()?;
        let (&session_id_len, rest) = rest.split_first()?;
        if session_id_len > 32 {
            return None;
        }
        let rest = rest.get(usize::from(session_id_len)..)?;
        let (suites_len, rest) = rest.split_first_chunk::<2>()?;
        let suites_len = usize::from(u16::from_be_bytes(*suites_len));
        if suites_len % 2 == 1 {
            return None;
        }
        let (cipher_suites, rest) = rest.split_at_checked(suites_len)?;
        let (&compressions_len, rest) = rest.split_first()?;
        let rest = rest.get(usize::from(compressions_len)..)?;
        let extensions = rest
            .split_first_chunk::<2>()
            .and_then(|(len, block)| block.get(..usize::from(u16::from_be_bytes(*len))));
        Some(FixedPart {
            version: u16::from_be_bytes(*version),
            random,
            cipher_suites,
            extensions,
        })
    }
}

fn u16_list(data: &[u8]) -> Vec<u16> {
    // Mapped, not filtered: the list is allocated once at its size.
    data.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Name of a TLS version code as the reports show it: `SSL 3.0`, `1.0` to `1.3`,
/// `1.3 (draft NN)`, `1.3 (Facebook draft NN)`, `1.3 (experiment 0x7e0N)`, and every other value (GREASE, DTLS, unknown) as `0x` and four hex digits.
pub fn version_name(v: u16) -> Cow<'static, str> {
    let version = TlsVersion(v);
    match version {
        TlsVersion::SSL30 => "SSL 3.0".into(),
        TlsVersion::TLS10 => "1.0".into(),
        TlsVersion::TLS11 => "1.1".into(),
        TlsVersion::TLS12 => "1.2".into(),
        TlsVersion::TLS13 => "1.3".into(),
        TlsVersion::FACEBOOK_DRAFT23 | TlsVersion::FACEBOOK_DRAFT26 => {
            format!("1.3 (Facebook draft {})", v & 0xff).into()
        }
        _ if version.is_tls13_prestandard() && version.tls13_draft().is_none() => {
            format!("1.3 (experiment 0x{v:04x})").into()
        }
        _ => match version.tls13_draft() {
            Some(draft) => format!("1.3 (draft {draft})").into(),
            None => format!("0x{v:04x}").into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed part is read as tls-parser reads it: every ClientHello of the fixtures, cut
    /// at every length and altered in every byte of its fixed fields, is accepted or refused
    /// alike, and its version, random, cipher suites and extensions block are the same.
    #[test]
    fn the_fixed_part_reads_as_tls_parser_reads_it() {
        let agree = |body: &[u8]| {
            let ours = FixedPart::of(body);
            let theirs = tls_parser::parse_tls_handshake_client_hello(body).ok();
            match (ours, theirs) {
                (None, None) => {}
                (Some(ours), Some((_, theirs))) => {
                    assert_eq!(ours.version, theirs.version.0);
                    assert_eq!(&ours.random[..], theirs.random);
                    assert_eq!(
                        u16_list(ours.cipher_suites),
                        theirs.ciphers.iter().map(|c| c.0).collect::<Vec<_>>()
                    );
                    assert_eq!(ours.extensions, theirs.ext);
                }
                (ours, theirs) => panic!(
                    "{body:02x?}: ours {} theirs {}",
                    ours.is_some(),
                    theirs.is_some()
                ),
            }
        };
        let mut bodies = 0;
        for path in crate::test_fixtures::captures() {
            let data = std::fs::read(&path).unwrap();
            let _ = crate::capture::read_capture_slice(&data, |event| {
                let crate::capture::CaptureEvent::Frame(frame) = event else {
                    return;
                };
                let crate::decode::Decoded::Tcp(segment) = crate::decode::decode_frame(&frame)
                else {
                    return;
                };
                // A record that starts the segment and holds a whole ClientHello.
                let p = segment.payload;
                let Some([0x16, 3, _, _, _, 1, l0, l1, l2]) = p.get(..9) else {
                    return;
                };
                let len = usize::from(*l0) << 16 | usize::from(*l1) << 8 | usize::from(*l2);
                let Some(body) = p.get(9..9 + len) else {
                    return;
                };
                bodies += 1;
                for cut in 0..=body.len() {
                    agree(&body[..cut]);
                }
                let fixed = body.len().min(120);
                let mut altered = body.to_vec();
                for at in 0..fixed {
                    for value in [0u8, 1, 0x20, 0x21, 0x7f, 0xff] {
                        let was = altered[at];
                        altered[at] = value;
                        agree(&altered);
                        altered[at] = was;
                    }
                }
            });
        }
        assert!(bodies > 100, "{bodies} ClientHellos");
    }

    /// Bytes from a hex string (test data copied from public captures).
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A ClientHello body with the given extensions.
    pub(crate) fn client_hello_body(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&[0, 4, 0x13, 0x01, 0x0a, 0x0a]);
        b.extend_from_slice(&[1, 0]);
        let mut exts = Vec::new();
        for (ty, data) in extensions {
            exts.extend_from_slice(&ty.to_be_bytes());
            exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
            exts.extend_from_slice(data);
        }
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend(exts);
        b
    }

    #[test]
    fn client_hello_fields() {
        let sni = [0, 9, 0, 0, 6, b'a', b'.', b't', b'e', b's', b't'].to_vec();
        let alpn = [0, 3, 2, b'h', b'2'].to_vec();
        let versions = [4, 0x0a, 0x0a, 0x03, 0x04].to_vec();
        let body = client_hello_body(&[(0, sni), (0x10, alpn), (0x2b, versions)]);
        let ch = ClientHello::parse(&body).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("a.test"));
        assert_eq!(ch.offered()[0].escaped(), "h2");
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x0a0a]);
        assert_eq!(ch.extensions, vec![0, 0x10, 0x2b]);
        assert_eq!(ch.max_tls_version(), TlsVersion::TLS13);
        assert!(ch.faults.is_empty());
    }

    #[test]
    fn truncated_extension_is_a_fault_not_an_error() {
        let mut body = client_hello_body(&[(0x10, vec![0, 3, 2, b'h', b'2'])]);
        let n = body.len();
        body[n - 6] = 0x40; // extension length far too long
        let ch = ClientHello::parse(&body).unwrap();
        assert!(!ch.faults.is_empty());
    }

    #[test]
    fn sslv2_format_client_hello() {
        use crate::tls::testing::sslv2_hello;
        let ch = ClientHello::parse_sslv2(&sslv2_hello()).unwrap();
        assert!(ch.sslv2);
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.cipher_suites, [0xc02f, 0x002f]);
        assert_eq!(ch.random[..16], [0; 16]);
        assert_eq!(ch.random[16..], [0xab; 16]);
        assert_eq!(ch.alpn, None);
        assert!(ch.extensions.is_empty());
        assert!(ClientHello::parse_sslv2(&sslv2_hello()[..20]).is_err());
    }

    #[test]
    fn cut_client_hello_keeps_what_is_whole() {
        let sni = [0, 9, 0, 0, 6, b'a', b'.', b't', b'e', b's', b't'].to_vec();
        let alpn = [0, 3, 2, b'h', b'2'].to_vec();
        let body = client_hello_body(&[(0, sni), (0x10, alpn), (0x2b, vec![2, 3, 4])]);
        let whole = ClientHello::parse(&body).unwrap();
        // Cut inside supported_versions: SNI and ALPN read, the offer known.
        let cut = ClientHello::parse_cut(&body[..body.len() - 1], body.len()).unwrap();
        assert_eq!(cut.sni.as_deref(), Some("a.test"));
        assert_eq!(cut.alpn, whole.alpn);
        assert_eq!(cut.extensions, [0, 0x10]);
        assert!(!cut.offer_unknown());
        // Cut inside the ALPN extension: the offer is unknown.
        let cut = ClientHello::parse_cut(&body[..body.len() - 9], body.len()).unwrap();
        assert!(cut.offer_unknown());
        assert_eq!(cut.random, whole.random);
        // Cut in the cipher suites: the whole ones are kept.
        let cut = ClientHello::parse_cut(&body[..39], body.len()).unwrap();
        assert_eq!(cut.cipher_suites, [0x1301]);
        assert_eq!(
            cut.cut,
            Some(Cut {
                captured: 39,
                len: body.len()
            })
        );
        // No random: nothing.
        assert_eq!(ClientHello::parse_cut(&body[..30], body.len()), None);
    }

    #[test]
    fn server_hello_layouts_and_cuts() {
        // TLS 1.3 (RFC 8446 layout): supported_versions 0x0304, then key_share.
        let mut sh = vec![3, 3];
        sh.extend_from_slice(&[1; 32]);
        sh.push(32);
        sh.extend_from_slice(&[2; 32]);
        sh.extend_from_slice(&[0x13, 0x02, 0]);
        let exts = [0, 0x2b, 0, 2, 3, 4, 0, 0x33, 0, 4, 0, 0x1d, 0, 0];
        sh.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        sh.extend_from_slice(&exts);
        let whole = ServerHello::parse(&sh).unwrap();
        assert_eq!(whole.tls_version(), TlsVersion::TLS13);
        assert_eq!(whole.extensions, [0x2b, 0x33]);
        assert!(whole.faults.is_empty() && whole.cut.is_none());
        // Cut inside key_share: supported_versions shows TLS 1.3.
        let cut = ServerHello::parse_cut(&sh[..sh.len() - 3], sh.len()).unwrap();
        assert_eq!(
            cut.cut_tls13_evidence(),
            Some(Tls13Evidence::SupportedVersions)
        );
        assert!(cut.faults.is_empty());
        // Cut before any extension: the TLS 1.3-only cipher suite shows it.
        let cut = ServerHello::parse_cut(&sh[..70], sh.len()).unwrap();
        assert_eq!(cut.cut_tls13_evidence(), Some(Tls13Evidence::CipherSuite));
        assert_eq!(cut.tls_version(), TlsVersion::TLS13);
        assert_eq!(cut.legacy_version, 0x0303);
        // Cut before the cipher suite: nothing to go on.
        assert_eq!(ServerHello::parse_cut(&sh[..68], sh.len()), None);
        // A TLS 1.2 suite, cut before the extensions: TLS 1.2, no evidence of 1.3.
        let mut tls12 = sh.clone();
        tls12[67..69].copy_from_slice(&[0xc0, 0x2f]);
        let cut = ServerHello::parse_cut(&tls12[..72], tls12.len()).unwrap();
        assert_eq!(cut.cut_tls13_evidence(), None);
        assert_eq!(cut.tls_version(), TlsVersion::TLS12);
        // A TLS 1.2 ServerHello cut inside its ALPN extension: one was sent, its value is cut.
        let mut alpn12 = tls12[..70].to_vec();
        alpn12.extend_from_slice(&[0, 9, 0, 0x10, 0, 5, 0, 3, 2, b'h', b'2']);
        let cut = ServerHello::parse_cut(&alpn12[..76], alpn12.len()).unwrap();
        assert!(cut.alpn_cut && cut.alpn.is_none());
        assert_eq!(cut.extensions, [0x10]);
        let whole = ServerHello::parse_cut(&alpn12, alpn12.len()).unwrap();
        assert!(!whole.alpn_cut);
        assert_eq!(whole.alpn.unwrap().protocols[0].escaped(), "h2");
        // Draft-22 and later: the RFC layout with supported_versions naming the draft.
        let mut draft23 = sh.clone();
        draft23[76..78].copy_from_slice(&[0x7f, 0x17]);
        let d = ServerHello::parse(&draft23).unwrap();
        assert_eq!((d.version(), d.tls_version()), (0x7f17, TlsVersion::TLS13));
        assert_eq!(version_name(d.version()), "1.3 (draft 23)");
        // Before draft-22: version, random, cipher suite, extensions.
        let mut draft18 = vec![0x7f, 0x12];
        draft18.extend_from_slice(&[1; 32]);
        draft18.extend_from_slice(&[0x13, 0x01, 0, 8, 0, 0x28, 0, 4, 0, 0x1d, 0, 0]);
        let d = ServerHello::parse(&draft18).unwrap();
        assert_eq!((d.version(), d.tls_version()), (0x7f12, TlsVersion::TLS13));
        assert_eq!(d.cipher_suite, 0x1301);
        assert_eq!(d.extensions, [0x28]);
        // Before draft-16 the version field held 0x0304 itself, in the same layout: the
        // ServerHello of tls13.crypto.mozilla.org in suricata-verify's
        // tests/tls/tls13-draft14/tls13_draft14.pcap (frame 6), a TLS 1.2-style suite and a
        // key_share (40).
        let draft14 = hex(concat!(
            "03042393b6518b8dd3d7ae957155977935932a6f5e600e5b7d9774daa7bc2f2c",
            "bcc3c02b00490028004500170041042dd0952da464b93202b067c84602991409",
            "7c1887d6d068d353f8bea91988051990f726f1f2739d87d6f7e63b2bd045d19d",
            "6940e75fe8ae06fd04b350c5bf1565",
        ));
        let d = ServerHello::parse(&draft14[..]).unwrap();
        assert_eq!((d.version(), d.tls_version()), (0x0304, TlsVersion::TLS13));
        assert_eq!(version_name(d.version()), "1.3");
        assert_eq!(d.cipher_suite, 0xc02b);
        assert_eq!(d.extensions, [0x28]);
        assert!(d.alpn.is_none() && d.faults.is_empty());
        // An extensions block longer than the hello is a fault, not an error.
        let mut long = sh.clone();
        long[70] = 0x40;
        assert_eq!(
            ServerHello::parse(&long).unwrap().faults,
            ["extensions block runs past the end of the hello"]
        );
    }

    #[test]
    fn client_hello_alps() {
        let alps = [0, 3, 2, b'h', b'2'].to_vec();
        let body = client_hello_body(&[(0x4469, alps.clone()), (0x44cd, [0, 0].to_vec())]);
        let ch = ClientHello::parse(&body).unwrap();
        assert_eq!(ch.alps.unwrap().protocols[0].escaped(), "h2");
        let body = client_hello_body(&[(0x44cd, alps)]);
        assert_eq!(
            ClientHello::parse(&body).unwrap().alps.unwrap().protocols[0].escaped(),
            "h2"
        );
        assert_eq!(
            ClientHello::parse(&client_hello_body(&[])).unwrap().alps,
            None
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ClientHello::parse(&[3, 3, 1]).is_err());
        assert!(ServerHello::parse(&[9, 9]).is_err());
    }

    #[test]
    fn version_names_as_reported() {
        let names: Vec<String> = [
            TlsVersion::SSL30,
            TlsVersion::TLS10,
            TlsVersion::TLS11,
            TlsVersion::TLS12,
            TlsVersion::TLS13,
            TlsVersion(0x7f17),
            TlsVersion(0x7f00),
            TlsVersion(0xfb17),
            TlsVersion(0x7e01),
            TlsVersion(0x0a0a),
            TlsVersion::DTLS12,
            TlsVersion::SSL20,
            TlsVersion(0x1234),
        ]
        .into_iter()
        .map(|v| version_name(v.0).into_owned())
        .collect();
        assert_eq!(
            names,
            [
                "SSL 3.0",
                "1.0",
                "1.1",
                "1.2",
                "1.3",
                "1.3 (draft 23)",
                "1.3 (draft 0)",
                "1.3 (Facebook draft 23)",
                "1.3 (experiment 0x7e01)",
                "0x0a0a",
                "0xfefd",
                "0x0002",
                "0x1234"
            ]
        );
    }
}
