//! ClientHello and ServerHello bodies (RFC 8446 §4.1.2–4.1.4) → the fields this tool reports.
//!
//! The fixed part is parsed by `tls-parser`; extensions are walked here so that their order,
//! unknown types, GREASE values and encoding faults are all kept. A hello whose fixed part does not
//! parse is a [`HelloError`]; a fault inside an extension is noted on the hello and the rest kept.

use super::alpn::{AlpnList, escape_bytes};
use super::extensions::{Extension, Extensions};
use super::types::{ExtensionType, TlsVersion};
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
    pub random: Vec<u8>,
    /// Cipher suites in order (GREASE included).
    pub cipher_suites: Vec<u16>,
    /// Extension types in order (GREASE included).
    pub extensions: Vec<u16>,
    /// server_name (host_name entry), escaped losslessly.
    pub sni: Option<String>,
    /// ALPN list; `None` when the extension is absent.
    pub alpn: Option<AlpnList>,
    /// supported_versions list (GREASE included).
    pub supported_versions: Vec<u16>,
    /// signature_algorithms in order.
    pub signature_algorithms: Vec<u16>,
    /// Encoding faults found in the extensions.
    pub faults: Vec<&'static str>,
}

impl ClientHello {
    /// Parses a ClientHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<ClientHello, HelloError> {
        let (_, ch) =
            tls_parser::parse_tls_handshake_client_hello(body).map_err(|_| HelloError {
                message: "ClientHello",
            })?;
        let mut hello = ClientHello {
            legacy_version: ch.version.0,
            random: ch.random.to_vec(),
            cipher_suites: ch.ciphers.iter().map(|c| c.0).collect(),
            ..ClientHello::default()
        };
        let (extensions, mut faults) = walk(ch.ext.unwrap_or(&[]));
        for Extension { ty, data, .. } in extensions {
            hello.extensions.push(ty.0);
            match ty {
                ExtensionType::SERVER_NAME => hello.sni = parse_sni(data, &mut faults),
                ExtensionType::ALPN => hello.alpn = Some(AlpnList::parse(data)),
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
        hello.faults = faults;
        Ok(hello)
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

    /// [`ClientHello::max_version`] as a [`TlsVersion`].
    pub fn max_tls_version(&self) -> TlsVersion {
        TlsVersion(self.max_version())
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
}

impl ServerHello {
    /// Parses a ServerHello body (after the 4-byte handshake header).
    pub fn parse(body: &[u8]) -> Result<ServerHello, HelloError> {
        let (_, sh) =
            tls_parser::parse_tls_handshake_server_hello(body).map_err(|_| HelloError {
                message: "ServerHello",
            })?;
        let mut hello = ServerHello {
            legacy_version: sh.version.0,
            cipher_suite: sh.cipher.0,
            is_hello_retry_request: sh.random == HELLO_RETRY_REQUEST_RANDOM,
            ..ServerHello::default()
        };
        let (extensions, faults) = walk(sh.ext.unwrap_or(&[]));
        for Extension { ty, data, .. } in extensions {
            hello.extensions.push(ty.0);
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
        Ok(hello)
    }

    /// The negotiated version: supported_versions when present, else legacy_version.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }

    /// [`ServerHello::version`] as a [`TlsVersion`].
    pub fn tls_version(&self) -> TlsVersion {
        TlsVersion(self.version())
    }
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

fn u16_list(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .filter_map(|c| c.first_chunk::<2>().map(|b| u16::from_be_bytes(*b)))
        .collect()
}

/// Name of a TLS version code as the reports show it: `SSL 3.0`, `1.0` to `1.3`,
/// `1.3-draftNN`, and every other value (GREASE, DTLS, unknown) as `0x` and four hex digits.
pub fn version_name(v: u16) -> String {
    let version = TlsVersion(v);
    match version {
        TlsVersion::SSL30 => "SSL 3.0".into(),
        TlsVersion::TLS10 => "1.0".into(),
        TlsVersion::TLS11 => "1.1".into(),
        TlsVersion::TLS12 => "1.2".into(),
        TlsVersion::TLS13 => "1.3".into(),
        _ => match version.tls13_draft() {
            Some(draft) => format!("1.3-draft{draft}"),
            None => format!("0x{v:04x}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            TlsVersion(0x0a0a),
            TlsVersion::DTLS12,
            TlsVersion::SSL20,
            TlsVersion(0x1234),
        ]
        .into_iter()
        .map(|v| version_name(v.0))
        .collect();
        assert_eq!(
            names,
            [
                "SSL 3.0",
                "1.0",
                "1.1",
                "1.2",
                "1.3",
                "1.3-draft23",
                "1.3-draft0",
                "0x0a0a",
                "0xfefd",
                "0x0002",
                "0x1234"
            ]
        );
    }
}
