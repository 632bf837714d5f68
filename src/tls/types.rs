//! Protocol numbers of TLS, kept open: versions, extension types, record content types and
//! handshake message types.
//!
//! Each is a newtype over the wire integer with named associated constants for the values this
//! tool knows and a `Display` that prints the name, or the number when there is none. A value
//! outside the list is kept as it is, never an error: peers send unassigned and GREASE values
//! (RFC 8701), and the report must show exactly what was on the wire. GREASE is recognised by its
//! bit pattern ([`is_grease`]), not by a list.

use std::fmt;

/// True for the 16-bit GREASE code points of RFC 8701 §2: `0x?A?A` with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A protocol version as carried in hellos and `supported_versions` (RFC 8446 §4.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    /// SSL 2.0 (only seen as a JA4 code).
    pub const SSL20: TlsVersion = TlsVersion(0x0002);
    /// SSL 3.0 (RFC 6101).
    pub const SSL30: TlsVersion = TlsVersion(0x0300);
    /// TLS 1.0 (RFC 2246).
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    /// TLS 1.1 (RFC 4346).
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    /// TLS 1.2 (RFC 5246).
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    /// TLS 1.3 (RFC 8446).
    pub const TLS13: TlsVersion = TlsVersion(0x0304);
    /// DTLS 1.0 (RFC 4347).
    pub const DTLS10: TlsVersion = TlsVersion(0xfeff);
    /// DTLS 1.2 (RFC 6347).
    pub const DTLS12: TlsVersion = TlsVersion(0xfefd);
    /// DTLS 1.3 (RFC 9147).
    pub const DTLS13: TlsVersion = TlsVersion(0xfefc);

    /// High byte of the TLS 1.3 draft versions `0x7fNN` (draft NN).
    const DRAFT_PREFIX: u16 = 0x7f;
    /// The IETF drafts whose version numbers peers sent in supported_versions (draft-14 to
    /// draft-28, `0x7f0e`–`0x7f1c`).
    const DRAFTS: std::ops::RangeInclusive<u8> = 14..=28;
    /// Facebook's drafts (Fizz, Wireshark's names): draft 23 and draft 26.
    pub const FACEBOOK_DRAFT23: TlsVersion = TlsVersion(0xfb17);
    /// See [`TlsVersion::FACEBOOK_DRAFT23`].
    pub const FACEBOOK_DRAFT26: TlsVersion = TlsVersion(0xfb1a);
    /// BoringSSL's TLS 1.3 experiments of 2017 (`TLS1_3_EXPERIMENT_VERSION` to
    /// `TLS1_3_EXPERIMENT3_VERSION`, `0x7e01`–`0x7e03`): TLS 1.3 variants Chrome tried against
    /// middleboxes.
    const EXPERIMENTS: std::ops::RangeInclusive<u16> = 0x7e01..=0x7e03;

    /// The name of a known version ("TLS 1.3"); `None` for drafts, GREASE and unknown values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            TlsVersion::SSL20 => "SSL 2.0",
            TlsVersion::SSL30 => "SSL 3.0",
            TlsVersion::TLS10 => "TLS 1.0",
            TlsVersion::TLS11 => "TLS 1.1",
            TlsVersion::TLS12 => "TLS 1.2",
            TlsVersion::TLS13 => "TLS 1.3",
            TlsVersion::DTLS10 => "DTLS 1.0",
            TlsVersion::DTLS12 => "DTLS 1.2",
            TlsVersion::DTLS13 => "DTLS 1.3",
            _ => return None,
        })
    }

    /// The draft number of a TLS 1.3 draft version (`0x7f17` is draft 23; Facebook's `0xfb17`
    /// is draft 23 too).
    pub fn tls13_draft(self) -> Option<u8> {
        let [high, low] = self.0.to_be_bytes();
        match self {
            TlsVersion::FACEBOOK_DRAFT23 | TlsVersion::FACEBOOK_DRAFT26 => Some(low),
            _ => (u16::from(high) == Self::DRAFT_PREFIX).then_some(low),
        }
    }

    /// True for a pre-standard TLS 1.3: an IETF draft (14–28), Facebook's drafts, BoringSSL's
    /// experiments. For this tool they are TLS 1.3 in every way that matters: the ServerHello
    /// carries no selection, which travels encrypted in the EncryptedExtensions.
    pub fn is_tls13_prestandard(self) -> bool {
        let ietf_draft = self
            .tls13_draft()
            .is_some_and(|d| Self::DRAFTS.contains(&d) && self.0 >> 8 == Self::DRAFT_PREFIX);
        ietf_draft
            || matches!(
                self,
                TlsVersion::FACEBOOK_DRAFT23 | TlsVersion::FACEBOOK_DRAFT26
            )
            || Self::EXPERIMENTS.contains(&self.0)
    }

    /// True for TLS 1.3 (RFC 8446) and its pre-standard versions.
    pub fn is_tls13(self) -> bool {
        self == TlsVersion::TLS13 || self.is_tls13_prestandard()
    }

    /// The protocol family: [`TlsVersion::TLS13`] for every TLS 1.3 version (final or
    /// pre-standard), the version itself otherwise.
    pub fn family(self) -> TlsVersion {
        if self.is_tls13() {
            TlsVersion::TLS13
        } else {
            self
        }
    }

    /// True for a GREASE value (RFC 8701).
    pub fn is_grease(self) -> bool {
        is_grease(self.0)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            f.write_str(name)
        } else if matches!(
            *self,
            TlsVersion::FACEBOOK_DRAFT23 | TlsVersion::FACEBOOK_DRAFT26
        ) {
            write!(f, "TLS 1.3 Facebook draft {}", self.0 & 0xff)
        } else if Self::EXPERIMENTS.contains(&self.0) {
            write!(f, "TLS 1.3 experiment 0x{:04x}", self.0)
        } else if let Some(draft) = self.tls13_draft() {
            write!(f, "TLS 1.3 draft {draft}")
        } else if self.is_grease() {
            write!(f, "GREASE 0x{:04x}", self.0)
        } else {
            write!(f, "0x{:04x}", self.0)
        }
    }
}

/// A hello extension type (IANA "TLS ExtensionType Values").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: ExtensionType = ExtensionType(0x0000);
    /// status_request (RFC 6066).
    pub const STATUS_REQUEST: ExtensionType = ExtensionType(0x0005);
    /// supported_groups (RFC 8422, RFC 7919).
    pub const SUPPORTED_GROUPS: ExtensionType = ExtensionType(0x000a);
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: ExtensionType = ExtensionType(0x000b);
    /// signature_algorithms (RFC 8446).
    pub const SIGNATURE_ALGORITHMS: ExtensionType = ExtensionType(0x000d);
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: ExtensionType = ExtensionType(0x0010);
    /// signed_certificate_timestamp (RFC 6962).
    pub const SIGNED_CERTIFICATE_TIMESTAMP: ExtensionType = ExtensionType(0x0012);
    /// padding (RFC 7685).
    pub const PADDING: ExtensionType = ExtensionType(0x0015);
    /// encrypt_then_mac (RFC 7366).
    pub const ENCRYPT_THEN_MAC: ExtensionType = ExtensionType(0x0016);
    /// extended_master_secret (RFC 7627).
    pub const EXTENDED_MASTER_SECRET: ExtensionType = ExtensionType(0x0017);
    /// compress_certificate (RFC 8879).
    pub const COMPRESS_CERTIFICATE: ExtensionType = ExtensionType(0x001b);
    /// session_ticket (RFC 5077).
    pub const SESSION_TICKET: ExtensionType = ExtensionType(0x0023);
    /// pre_shared_key (RFC 8446).
    pub const PRE_SHARED_KEY: ExtensionType = ExtensionType(0x0029);
    /// early_data (RFC 8446).
    pub const EARLY_DATA: ExtensionType = ExtensionType(0x002a);
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: ExtensionType = ExtensionType(0x002b);
    /// psk_key_exchange_modes (RFC 8446).
    pub const PSK_KEY_EXCHANGE_MODES: ExtensionType = ExtensionType(0x002d);
    /// key_share (RFC 8446).
    pub const KEY_SHARE: ExtensionType = ExtensionType(0x0033);
    /// next_protocol_negotiation (draft NPN, never standardised).
    pub const NPN: ExtensionType = ExtensionType(0x3374);
    /// application_settings, ALPS (draft-vvv-tls-alps), the code point Chrome used first.
    pub const APPLICATION_SETTINGS_OLD: ExtensionType = ExtensionType(0x4469);
    /// application_settings, ALPS (draft-vvv-tls-alps), the newer code point.
    pub const APPLICATION_SETTINGS: ExtensionType = ExtensionType(0x44cd);
    /// encrypted_client_hello (draft-ietf-tls-esni).
    pub const ENCRYPTED_CLIENT_HELLO: ExtensionType = ExtensionType(0xfe0d);
    /// renegotiation_info (RFC 5746).
    pub const RENEGOTIATION_INFO: ExtensionType = ExtensionType(0xff01);

    /// The IANA name of a known extension type; `None` for GREASE and unknown values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ExtensionType::SERVER_NAME => "server_name",
            ExtensionType::STATUS_REQUEST => "status_request",
            ExtensionType::SUPPORTED_GROUPS => "supported_groups",
            ExtensionType::EC_POINT_FORMATS => "ec_point_formats",
            ExtensionType::SIGNATURE_ALGORITHMS => "signature_algorithms",
            ExtensionType::ALPN => "application_layer_protocol_negotiation",
            ExtensionType::SIGNED_CERTIFICATE_TIMESTAMP => "signed_certificate_timestamp",
            ExtensionType::PADDING => "padding",
            ExtensionType::ENCRYPT_THEN_MAC => "encrypt_then_mac",
            ExtensionType::EXTENDED_MASTER_SECRET => "extended_master_secret",
            ExtensionType::COMPRESS_CERTIFICATE => "compress_certificate",
            ExtensionType::SESSION_TICKET => "session_ticket",
            ExtensionType::PRE_SHARED_KEY => "pre_shared_key",
            ExtensionType::EARLY_DATA => "early_data",
            ExtensionType::SUPPORTED_VERSIONS => "supported_versions",
            ExtensionType::PSK_KEY_EXCHANGE_MODES => "psk_key_exchange_modes",
            ExtensionType::KEY_SHARE => "key_share",
            ExtensionType::NPN => "next_protocol_negotiation",
            ExtensionType::APPLICATION_SETTINGS_OLD => "application_settings_old",
            ExtensionType::APPLICATION_SETTINGS => "application_settings",
            ExtensionType::ENCRYPTED_CLIENT_HELLO => "encrypted_client_hello",
            ExtensionType::RENEGOTIATION_INFO => "renegotiation_info",
            _ => return None,
        })
    }

    /// True for a GREASE value (RFC 8701).
    pub fn is_grease(self) -> bool {
        is_grease(self.0)
    }
}

impl fmt::Display for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if self.is_grease() => write!(f, "GREASE 0x{:04x}", self.0),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// A record's content type (RFC 8446 §5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentType(pub u8);

impl ContentType {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: ContentType = ContentType(20);
    /// alert.
    pub const ALERT: ContentType = ContentType(21);
    /// handshake.
    pub const HANDSHAKE: ContentType = ContentType(22);
    /// application_data.
    pub const APPLICATION_DATA: ContentType = ContentType(23);
    /// heartbeat (RFC 6520).
    pub const HEARTBEAT: ContentType = ContentType(24);

    /// The IANA name of a known content type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            ContentType::CHANGE_CIPHER_SPEC => "change_cipher_spec",
            ContentType::ALERT => "alert",
            ContentType::HANDSHAKE => "handshake",
            ContentType::APPLICATION_DATA => "application_data",
            ContentType::HEARTBEAT => "heartbeat",
            _ => return None,
        })
    }

    /// True for the types a TLS record header may carry (change_cipher_spec to heartbeat): any
    /// other first byte means the bytes are not a record header.
    pub fn is_record_type(self) -> bool {
        (ContentType::CHANGE_CIPHER_SPEC..=ContentType::HEARTBEAT).contains(&self)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A handshake message type (RFC 8446 §4, RFC 5246 §7.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    /// hello_request (TLS ≤ 1.2).
    pub const HELLO_REQUEST: HandshakeType = HandshakeType(0);
    /// client_hello.
    pub const CLIENT_HELLO: HandshakeType = HandshakeType(1);
    /// server_hello (also HelloRetryRequest).
    pub const SERVER_HELLO: HandshakeType = HandshakeType(2);
    /// new_session_ticket.
    pub const NEW_SESSION_TICKET: HandshakeType = HandshakeType(4);
    /// end_of_early_data.
    pub const END_OF_EARLY_DATA: HandshakeType = HandshakeType(5);
    /// encrypted_extensions (TLS 1.3).
    pub const ENCRYPTED_EXTENSIONS: HandshakeType = HandshakeType(8);
    /// certificate.
    pub const CERTIFICATE: HandshakeType = HandshakeType(11);
    /// server_key_exchange (TLS ≤ 1.2).
    pub const SERVER_KEY_EXCHANGE: HandshakeType = HandshakeType(12);
    /// certificate_request.
    pub const CERTIFICATE_REQUEST: HandshakeType = HandshakeType(13);
    /// server_hello_done (TLS ≤ 1.2).
    pub const SERVER_HELLO_DONE: HandshakeType = HandshakeType(14);
    /// certificate_verify.
    pub const CERTIFICATE_VERIFY: HandshakeType = HandshakeType(15);
    /// client_key_exchange (TLS ≤ 1.2).
    pub const CLIENT_KEY_EXCHANGE: HandshakeType = HandshakeType(16);
    /// finished.
    pub const FINISHED: HandshakeType = HandshakeType(20);
    /// key_update (TLS 1.3).
    pub const KEY_UPDATE: HandshakeType = HandshakeType(24);
    /// message_hash (TLS 1.3 transcript after a HelloRetryRequest).
    pub const MESSAGE_HASH: HandshakeType = HandshakeType(254);

    /// The IANA name of a known handshake type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            HandshakeType::HELLO_REQUEST => "hello_request",
            HandshakeType::CLIENT_HELLO => "client_hello",
            HandshakeType::SERVER_HELLO => "server_hello",
            HandshakeType::NEW_SESSION_TICKET => "new_session_ticket",
            HandshakeType::END_OF_EARLY_DATA => "end_of_early_data",
            HandshakeType::ENCRYPTED_EXTENSIONS => "encrypted_extensions",
            HandshakeType::CERTIFICATE => "certificate",
            HandshakeType::SERVER_KEY_EXCHANGE => "server_key_exchange",
            HandshakeType::CERTIFICATE_REQUEST => "certificate_request",
            HandshakeType::SERVER_HELLO_DONE => "server_hello_done",
            HandshakeType::CERTIFICATE_VERIFY => "certificate_verify",
            HandshakeType::CLIENT_KEY_EXCHANGE => "client_key_exchange",
            HandshakeType::FINISHED => "finished",
            HandshakeType::KEY_UPDATE => "key_update",
            HandshakeType::MESSAGE_HASH => "message_hash",
            _ => return None,
        })
    }

    /// True for ClientHello and ServerHello.
    pub fn is_hello(self) -> bool {
        matches!(
            self,
            HandshakeType::CLIENT_HELLO | HandshakeType::SERVER_HELLO
        )
    }
}

impl fmt::Display for HandshakeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_mask() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
        assert!(TlsVersion(0x3a3a).is_grease());
        assert!(ExtensionType(0xdada).is_grease());
        assert!(!ExtensionType::ALPN.is_grease());
    }

    #[test]
    fn display_names_or_numbers() {
        assert_eq!(TlsVersion::TLS13.to_string(), "TLS 1.3");
        assert_eq!(TlsVersion(0x7f17).to_string(), "TLS 1.3 draft 23");
        assert_eq!(TlsVersion(0xfb1a).to_string(), "TLS 1.3 Facebook draft 26");
        assert_eq!(TlsVersion(0x7e02).to_string(), "TLS 1.3 experiment 0x7e02");
        assert_eq!(TlsVersion(0x2a2a).to_string(), "GREASE 0x2a2a");
        assert_eq!(TlsVersion(0x0305).to_string(), "0x0305");
        assert_eq!(
            ExtensionType::ALPN.to_string(),
            "application_layer_protocol_negotiation"
        );
        assert_eq!(
            ExtensionType(0x4469).to_string(),
            "application_settings_old"
        );
        assert_eq!(ExtensionType(0x4468).to_string(), "0x4468");
        assert_eq!(ExtensionType(0x1a1a).to_string(), "GREASE 0x1a1a");
        assert_eq!(ContentType::HANDSHAKE.to_string(), "handshake");
        assert_eq!(ContentType(99).to_string(), "99");
        assert_eq!(HandshakeType::CLIENT_HELLO.to_string(), "client_hello");
        assert_eq!(HandshakeType(99).to_string(), "99");
    }

    #[test]
    fn pre_standard_tls13_is_tls13() {
        let tls13: Vec<u16> = [
            0x0303, 0x0304, 0x7f0d, 0x7f0e, 0x7f17, 0x7f1c, 0x7f1d, 0x7e00, 0x7e01, 0x7e02, 0xfb17,
            0xfb1a, 0xfb18,
        ]
        .into_iter()
        .filter(|v| TlsVersion(*v).is_tls13())
        .collect();
        assert_eq!(
            tls13,
            [
                0x0304, 0x7f0e, 0x7f17, 0x7f1c, 0x7e01, 0x7e02, 0xfb17, 0xfb1a
            ]
        );
        assert_eq!(TlsVersion(0x7f17).family(), TlsVersion::TLS13);
        assert_eq!(TlsVersion::TLS12.family(), TlsVersion::TLS12);
        assert_eq!(TlsVersion(0xfb1a).tls13_draft(), Some(26));
        assert_eq!(TlsVersion::TLS13.tls13_draft(), None);
    }

    #[test]
    fn record_types() {
        assert!(ContentType::CHANGE_CIPHER_SPEC.is_record_type());
        assert!(ContentType::HEARTBEAT.is_record_type());
        assert!(!ContentType(19).is_record_type());
        assert!(!ContentType(25).is_record_type());
    }
}
