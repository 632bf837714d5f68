//! The TLS 1.2 cipher suites HTTP/2 forbids (RFC 9113 §9.2.2 and Appendix A, from RFC 7540
//! Appendix A): those without an ephemeral key exchange (DHE or ECDHE, with or without PSK)
//! and those whose cipher is not an AEAD one (null, stream and block ciphers: everything but
//! GCM, CCM and ChaCha20-Poly1305). A client that checks (browsers, Go) ends an HTTP/2
//! connection negotiated on one with INADEQUATE_SECURITY. The suite's key exchange and cipher
//! come from tls-parser's IANA table; a suite it does not know is not judged.

use tls_parser::{TlsCipherKx, TlsCipherMac, TlsCipherSuite};

/// True when `suite` is a TLS 1.2 cipher suite HTTP/2 forbids. TLS 1.3 suites (which have no
/// key exchange of their own, and are all AEAD), GREASE values and suites tls-parser does not
/// know are not.
pub fn h2_forbids(suite: u16) -> bool {
    let Some(known) = TlsCipherSuite::from_id(suite) else {
        return false;
    };
    if known.kx == TlsCipherKx::Tls13 {
        return false;
    }
    let ephemeral = matches!(known.kx, TlsCipherKx::Dhe | TlsCipherKx::Ecdhe);
    !(ephemeral && known.mac == TlsCipherMac::Aead)
}

/// True when `suites` holds one HTTP/2 allows for TLS 1.2: an ephemeral key exchange with an
/// AEAD cipher (TLS 1.3 suites, GREASE and unknown values do not count).
pub fn offers_h2_suite(suites: &[u16]) -> bool {
    suites.iter().any(|s| {
        TlsCipherSuite::from_id(*s).is_some_and(|k| k.kx != TlsCipherKx::Tls13 && !h2_forbids(*s))
    })
}

/// The IANA name of `suite`, else its code in hex.
pub fn suite_name(suite: u16) -> String {
    TlsCipherSuite::from_id(suite)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| format!("0x{suite:04x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_suites_are_the_non_ephemeral_and_the_non_aead() {
        for (suite, forbidden) in [
            (0xc009, true),  // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: a block cipher
            (0xc013, true),  // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
            (0x002f, true),  // TLS_RSA_WITH_AES_128_CBC_SHA, TLS 1.2's mandatory suite
            (0x009c, true),  // TLS_RSA_WITH_AES_128_GCM_SHA256: no ephemeral key exchange
            (0xc02d, true),  // TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256: static ECDH
            (0x00a8, true),  // TLS_PSK_WITH_AES_128_GCM_SHA256
            (0xc09c, true),  // TLS_RSA_WITH_AES_128_CCM
            (0x0005, true),  // TLS_RSA_WITH_RC4_128_SHA: a stream cipher
            (0xc02b, false), // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            (0xc02f, false), // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, HTTP/2's mandatory one
            (0x009e, false), // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
            (0x00aa, false), // TLS_DHE_PSK_WITH_AES_128_GCM_SHA256
            (0xc0ac, false), // TLS_ECDHE_ECDSA_WITH_AES_128_CCM
            (0xcca8, false), // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            (0x1301, false), // TLS_AES_128_GCM_SHA256 (TLS 1.3)
            (0x0a0a, false), // GREASE
        ] {
            assert_eq!(h2_forbids(suite), forbidden, "0x{suite:04x}");
        }
    }

    #[test]
    fn an_offer_allows_h2_with_one_ephemeral_aead_suite() {
        assert!(!offers_h2_suite(&[0xc009, 0xc013, 0x1301, 0x0a0a]));
        assert!(offers_h2_suite(&[0xc009, 0xc02b]));
        assert_eq!(suite_name(0xc009), "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0x0a0a), "0x0a0a");
    }
}
