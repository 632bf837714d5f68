//! The sample packets of RFC 9001 Appendix A and RFC 9369 Appendix A, byte for byte, and
//! client Initials of public captures (nDPI's test suite) that Wireshark reads, for the unit
//! tests (`testdata/*.hex`, copied from the RFCs' text; `fuzz/seed.sh` seeds the
//! `quic_initial` fuzz target from the same files).

/// The client-chosen Destination Connection ID of both appendices.
pub const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// The bytes of a hex dump (whitespace ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

macro_rules! vector {
    ($(#[$doc:meta])* $name:ident, $file:literal) => {
        $(#[$doc])*
        pub fn $name() -> Vec<u8> {
            hex(include_str!(concat!("testdata/", $file)))
        }
    };
}

vector!(
    /// RFC 9001 §A.2: the protected client Initial (1200 bytes).
    rfc9001_client_initial,
    "rfc9001-client-initial.hex"
);
vector!(
    /// RFC 9001 §A.2: the CRYPTO frame (a ClientHello) the client Initial carries before PADDING.
    rfc9001_client_crypto_frame,
    "rfc9001-client-initial-crypto-frame.hex"
);
vector!(
    /// RFC 9001 §A.3: the protected server Initial.
    rfc9001_server_initial,
    "rfc9001-server-initial.hex"
);
vector!(
    /// RFC 9001 §A.3: the server Initial's payload (ACK, CRYPTO with a ServerHello).
    rfc9001_server_payload,
    "rfc9001-server-initial-payload.hex"
);
vector!(
    /// RFC 9001 §A.4: a Retry answering the client Initial.
    rfc9001_retry,
    "rfc9001-retry.hex"
);
vector!(
    /// RFC 9001 §A.5: a short-header packet protected with ChaCha20-Poly1305.
    rfc9001_chacha20_short,
    "rfc9001-chacha20-short.hex"
);
vector!(
    /// RFC 9369 §A.2: the protected version 2 client Initial.
    rfc9369_client_initial,
    "rfc9369-client-initial.hex"
);
vector!(
    /// RFC 9369 §A.2: the CRYPTO frame of the version 2 client Initial.
    rfc9369_client_crypto_frame,
    "rfc9369-client-initial-crypto-frame.hex"
);
vector!(
    /// RFC 9369 §A.3: the protected version 2 server Initial.
    rfc9369_server_initial,
    "rfc9369-server-initial.hex"
);
vector!(
    /// RFC 9369 §A.3: the version 2 server Initial's payload.
    rfc9369_server_payload,
    "rfc9369-server-initial-payload.hex"
);
vector!(
    /// RFC 9369 §A.4: a version 2 Retry.
    rfc9369_retry,
    "rfc9369-retry.hex"
);
vector!(
    /// RFC 9369 §A.5: a short-header packet protected with ChaCha20-Poly1305 and version 2
    /// labels.
    rfc9369_chacha20_short,
    "rfc9369-chacha20-short.hex"
);
vector!(
    /// nDPI's `tests/cfgs/default/pcap/quic_interop_V.pcapng` frame 1 (UDP payload): a client
    /// Initial in the reserved version 0x0a0a0a0a, forcing Version Negotiation, protected
    /// with version 1's Initial keys (SNI nghttp2.org).
    ndpi_reserved_version_initial,
    "ndpi-reserved-version-initial.hex"
);
vector!(
    /// nDPI's `tests/cfgs/default/pcap/quic_t51.pcap` frame 1 (UDP payload): a Google QUIC
    /// T051 client Initial, its ClientHello in a CRYPTO frame of type 0x08 (SNI www.google.com,
    /// ALPN h3-T051).
    ndpi_gquic_t051_initial,
    "ndpi-gquic-t051-initial.hex"
);
