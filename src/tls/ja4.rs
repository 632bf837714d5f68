//! The JA4 client fingerprint (FoxIO JA4 specification, BSD 3-Clause) of a ClientHello over TCP
//! or QUIC.
//!
//! `t` (TCP) or `q` (QUIC) + version + `d`/`i` + cipher count + extension count + ALPN code, `_`, 12 hex digits of the
//! SHA-256 of the sorted cipher list, `_`, 12 hex digits of the SHA-256 of the sorted extension
//! list (without SNI and ALPN) and the signature algorithms in order. GREASE is ignored throughout.

use super::hello::ClientHello;
use super::types::{ExtensionType, TlsVersion, is_grease};
use sha2::{Digest, Sha256};

/// The transport a ClientHello travelled over: JA4's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ja4Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// QUIC: `q`.
    Quic,
}

impl Ja4Transport {
    fn code(self) -> char {
        match self {
            Ja4Transport::Tcp => 't',
            Ja4Transport::Quic => 'q',
        }
    }
}

/// Computes the JA4 fingerprint of a ClientHello carried over `transport`.
///
/// An SSLv2-format ClientHello (RFC 5246 Appendix E.2) is fingerprinted as FoxIO's JA4 tools
/// (Rust, Python, the Wireshark plugin) fingerprint it: they read Wireshark's dissection, which
/// gives such a hello a handshake type (1) and version but lists its 3-byte cipher specs as
/// `tls.handshake.cipherspec`, not as cipher suites, and no extensions — so no ciphers are
/// counted or hashed: `t12i000000_000000000000_000000000000` for one offering TLS 1.2. The
/// specification itself defines only the version code `s2` for SSL 2.0.
pub fn ja4(hello: &ClientHello, transport: Ja4Transport) -> String {
    let ciphers: Vec<u16> = if hello.sslv2 {
        Vec::new()
    } else {
        hello
            .cipher_suites
            .iter()
            .copied()
            .filter(|c| !is_grease(*c))
            .collect()
    };
    let extensions: Vec<u16> = hello
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let version = version_code(hello.max_version());
    let sni = if hello.extensions.contains(&ExtensionType::SERVER_NAME.0) {
        'd'
    } else {
        'i'
    };
    let alpn = alpn_code(hello.offered().first().map(|p| p.0.as_slice()));

    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let cipher_hash = truncated_hash(&hex_list(&sorted_ciphers));

    let mut sorted_exts: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|e| ![ExtensionType::SERVER_NAME, ExtensionType::ALPN].contains(&ExtensionType(*e)))
        .collect();
    sorted_exts.sort_unstable();
    let ext_hash = if sorted_exts.is_empty() {
        "000000000000".to_string()
    } else {
        let sigs: Vec<u16> = hello
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .collect();
        let mut input = hex_list(&sorted_exts);
        if !sigs.is_empty() {
            input.push('_');
            input.push_str(&hex_list(&sigs));
        }
        truncated_hash(&input)
    };
    format!(
        "{}{version}{sni}{:02}{:02}{alpn}_{cipher_hash}_{ext_hash}",
        transport.code(),
        ciphers.len().min(99),
        extensions.len().min(99),
    )
}

fn version_code(v: u16) -> &'static str {
    match TlsVersion(v) {
        TlsVersion::TLS13 => "13",
        TlsVersion::TLS12 => "12",
        TlsVersion::TLS11 => "11",
        TlsVersion::TLS10 => "10",
        TlsVersion::SSL30 => "s3",
        TlsVersion::SSL20 => "s2",
        TlsVersion::DTLS10 => "d1",
        TlsVersion::DTLS12 => "d2",
        TlsVersion::DTLS13 => "d3",
        _ => "00",
    }
}

/// First and last character of the first ALPN value; their hex digits when either is not
/// alphanumeric ASCII; `00` when there is none.
fn alpn_code(first: Option<&[u8]>) -> String {
    let Some((&a, &b)) = first.and_then(|v| v.first().zip(v.last())) else {
        return "00".into();
    };
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        format!("{}{}", char::from(a), char::from(b))
    } else {
        // The first hex digit of the first byte and the last hex digit of the last byte.
        let hex = format!("{a:02x}{b:02x}");
        hex.chars().take(1).chain(hex.chars().skip(3)).collect()
    }
}

fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::hex::push(&mut out, &v.to_be_bytes());
    }
    out
}

fn truncated_hash(input: &str) -> String {
    if input.is_empty() {
        return "000000000000".into();
    }
    let digest = Sha256::digest(input.as_bytes());
    crate::hex::encode(&digest[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SSLv2-format hello (`sslv2-client-hello.pcap`'s bytes): no cipher suites, no extensions,
    /// as the JA4 tools read it; the version is the highest it offers.
    #[test]
    fn an_sslv2_format_hello_counts_no_ciphers() {
        let hello = ClientHello::parse_sslv2(&crate::tls::testing::sslv2_hello()).unwrap();
        assert!(!hello.cipher_suites.is_empty());
        assert_eq!(
            ja4(&hello, Ja4Transport::Tcp),
            "t12i000000_000000000000_000000000000"
        );
    }

    #[test]
    fn alpn_codes_from_the_specification() {
        assert_eq!(alpn_code(Some(b"h2")), "h2");
        assert_eq!(alpn_code(Some(b"http/1.1")), "h1");
        assert_eq!(alpn_code(Some(&[0xab])), "ab");
        assert_eq!(alpn_code(Some(&[0x20])), "20");
        assert_eq!(alpn_code(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(alpn_code(Some(&[0x20, 0x61])), "21");
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), "3b");
        assert_eq!(alpn_code(Some(&[0x61, 0x20])), "60");
        assert_eq!(alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(alpn_code(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
        assert_eq!(alpn_code(None), "00");
        assert_eq!(alpn_code(Some(b"")), "00");
    }

    #[test]
    fn specification_example_hashes() {
        let sorted = "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9";
        assert_eq!(truncated_hash(sorted), "8daaf6152771");
        let exts = "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601";
        assert_eq!(truncated_hash(exts), "e5627efa2ab1");
    }
}
