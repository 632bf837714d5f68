//! QUIC versions: the 32-bit Version field of a long header, and what a known version changes —
//! the Initial salt (RFC 9001 §5.2), the HKDF labels of packet and header protection (RFC 9001
//! §5.1, RFC 9369 §3.3.2), the long-header type codes (RFC 9369 §3.2) and the Retry form.
//!
//! [`Version`] keeps any value (unknown ones are kept, never an error); [`Version::known`]
//! turns the versions this tool can decrypt into a [`KnownVersion`]. Which salt a version uses
//! follows Wireshark's `packet-quic.c` (`quic_draft_version`, `quic_derive_initial_secrets`):
//! draft-23…28 use draft-23's salt; draft-29…32 draft-29's; draft-33 and draft-34 already carry
//! the salt RFC 9001 kept for version 1; mvfst `0xfaceb001` is based on draft-22 and uses its
//! salt, `0xfaceb002` and `0xfaceb00e` are based on draft-27 and use draft-23's; Google's T050
//! and T051 have salts of their own and are draft-27 otherwise; a reserved version
//! (`0x?a?a?a?a`) is read as draft-29.

use std::fmt;

/// The Version field of a long header (RFC 9000 §17.2). Any value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Version(pub u32);

impl Version {
    /// Version Negotiation packets carry version 0 (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Version = Version(0);
    /// QUIC version 1 (RFC 9000).
    pub const V1: Version = Version(0x0000_0001);
    /// QUIC version 2 (RFC 9369 §3.1).
    pub const V2: Version = Version(0x6b33_43cf);
    /// Facebook mvfst, based on draft-22.
    pub const MVFST_DRAFT_22: Version = Version(0xface_b001);
    /// Facebook mvfst, based on draft-27.
    pub const MVFST_DRAFT_27: Version = Version(0xface_b002);
    /// Facebook mvfst, experimental (based on draft-27).
    pub const MVFST_EXPERIMENTAL: Version = Version(0xface_b00e);
    /// Google QUIC T050 (`T050`): Google's header and TLS 1.3 in CRYPTO frames, draft-27-like.
    pub const GQUIC_T050: Version = Version(0x5430_3530);
    /// Google QUIC T051 (`T051`).
    pub const GQUIC_T051: Version = Version(0x5430_3531);

    /// The IETF draft version `n` (`0xff0000nn`).
    pub const fn draft(n: u8) -> Version {
        Version(0xff00_0000 | n as u32)
    }

    /// The draft number, for an IETF draft version (`0xff0000nn`).
    pub fn draft_number(self) -> Option<u8> {
        (self.0 >> 8 == 0x00ff_0000).then_some(self.0 as u8)
    }

    /// Versions of the form `0x?a?a?a?a`, reserved to exercise version negotiation (RFC 9000
    /// §15): a client may offer one; no one speaks it.
    pub fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// The version, when this tool can read its Initial packets. A reserved version is read
    /// as draft-29, as Wireshark reads it (`quic_draft_version`) and as clients that force
    /// Version Negotiation built their Initial in the draft days (nDPI's
    /// `quic_interop_V.pcapng`): its packets open only when those keys are right (the AEAD
    /// tag), so nothing wrong is read.
    pub fn known(self) -> Option<KnownVersion> {
        if self.is_reserved() {
            return Some(KnownVersion::Draft(Draft(29)));
        }
        match self {
            Version::V1 => Some(KnownVersion::V1),
            Version::V2 => Some(KnownVersion::V2),
            Version::MVFST_DRAFT_22 => Some(KnownVersion::Mvfst(Mvfst::Draft22)),
            Version::MVFST_DRAFT_27 => Some(KnownVersion::Mvfst(Mvfst::Draft27)),
            Version::MVFST_EXPERIMENTAL => Some(KnownVersion::Mvfst(Mvfst::Experimental)),
            Version::GQUIC_T050 => Some(KnownVersion::Gquic(Gquic::T050)),
            Version::GQUIC_T051 => Some(KnownVersion::Gquic(Gquic::T051)),
            _ => match self.draft_number() {
                Some(n @ Draft::FIRST..=Draft::LAST) => Some(KnownVersion::Draft(Draft(n))),
                _ => None,
            },
        }
    }

    /// A name for the version, when it has one.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Version::NEGOTIATION => Some("version negotiation"),
            Version::V1 => Some("QUIC v1"),
            Version::V2 => Some("QUIC v2"),
            Version::MVFST_DRAFT_22 => Some("mvfst (draft-22)"),
            Version::MVFST_DRAFT_27 => Some("mvfst (draft-27)"),
            Version::MVFST_EXPERIMENTAL => Some("mvfst (experimental)"),
            Version::GQUIC_T050 => Some("gQUIC T050"),
            Version::GQUIC_T051 => Some("gQUIC T051"),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    /// The name, `draft-NN`, or the number in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            f.write_str(name)
        } else if let Some(n) = self.draft_number() {
            write!(f, "draft-{n}")
        } else {
            write!(f, "0x{:08x}", self.0)
        }
    }
}

/// An IETF draft version this tool reads: draft-23 to draft-34.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Draft(u8);

impl Draft {
    /// The first draft read (draft-22 and earlier differ in more than the salt).
    pub const FIRST: u8 = 23;
    /// The last draft (RFC 9000 followed it).
    pub const LAST: u8 = 34;

    /// Its number.
    pub fn number(self) -> u8 {
        self.0
    }
}

/// Facebook's mvfst versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mvfst {
    /// `0xfaceb001`, based on draft-22.
    Draft22,
    /// `0xfaceb002`, based on draft-27.
    Draft27,
    /// `0xfaceb00e`, experimental, based on draft-27.
    Experimental,
}

/// Google QUIC versions with TLS 1.3 in IETF-style Initial packets (their own salts; Wireshark's
/// `packet-quic.c` reads them as draft-27 otherwise). Q050 carries Google's own crypto
/// handshake, not TLS, and is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gquic {
    /// `T050`.
    T050,
    /// `T051`.
    T051,
}

/// A version whose Initial packets this tool can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownVersion {
    /// QUIC version 1 (RFC 9000, RFC 9001).
    V1,
    /// QUIC version 2 (RFC 9369).
    V2,
    /// An IETF draft, 23 to 34.
    Draft(Draft),
    /// Facebook mvfst.
    Mvfst(Mvfst),
    /// Google QUIC with TLS.
    Gquic(Gquic),
}

/// Long-header packet types (RFC 9000 §17.2), whatever their code in a given version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial (RFC 9000 §17.2.2).
    Initial,
    /// 0-RTT (RFC 9000 §17.2.3).
    ZeroRtt,
    /// Handshake (RFC 9000 §17.2.4).
    Handshake,
    /// Retry (RFC 9000 §17.2.5).
    Retry,
}

/// The HKDF-Expand-Label labels of packet protection, without the `tls13 ` prefix
/// (RFC 9001 §5.1, §5.4, §6.1; RFC 9369 §3.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    /// The AEAD key.
    pub key: &'static str,
    /// The AEAD IV.
    pub iv: &'static str,
    /// The header protection key.
    pub hp: &'static str,
    /// The next secret after a key update.
    pub ku: &'static str,
}

/// What follows the connection IDs of a Retry packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryForm {
    /// Token, then a 16-byte Retry Integrity Tag (RFC 9001 §5.8; drafts from draft-25), computed
    /// with this AES-128-GCM key and nonce.
    Tag {
        /// The fixed key.
        key: [u8; 16],
        /// The fixed nonce.
        nonce: [u8; 12],
    },
    /// Token, then a 16-byte tag whose key this tool does not hold (draft-25 to draft-32 used
    /// other fixed keys): the tag is kept, not checked.
    UncheckedTag,
    /// Original Destination Connection ID (length byte and bytes), then the token, no tag
    /// (drafts before draft-25, and mvfst's draft-22 version).
    OriginalDcid,
}

/// RFC 9001 §5.2 initial_salt of version 1 (also draft-33 and draft-34).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1 initial_salt of version 2.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 initial_salt (draft-29 to draft-32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 §5.2 initial_salt (draft-23 to draft-28, mvfst draft-27).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-22 §5.2 initial_salt (mvfst draft-22).
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];

/// Google QUIC T050's initial salt (as in Wireshark's `packet-quic.c`).
const SALT_GQUIC_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google QUIC T051's initial salt (as in Wireshark's `packet-quic.c`).
const SALT_GQUIC_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// Labels of version 1 and the drafts.
const LABELS_V1: Labels = Labels {
    key: "quic key",
    iv: "quic iv",
    hp: "quic hp",
    ku: "quic ku",
};
/// Labels of version 2 (RFC 9369 §3.3.2).
const LABELS_V2: Labels = Labels {
    key: "quicv2 key",
    iv: "quicv2 iv",
    hp: "quicv2 hp",
    ku: "quicv2 ku",
};

impl KnownVersion {
    /// The Version field value.
    pub fn version(self) -> Version {
        match self {
            KnownVersion::V1 => Version::V1,
            KnownVersion::V2 => Version::V2,
            KnownVersion::Draft(d) => Version::draft(d.0),
            KnownVersion::Mvfst(Mvfst::Draft22) => Version::MVFST_DRAFT_22,
            KnownVersion::Mvfst(Mvfst::Draft27) => Version::MVFST_DRAFT_27,
            KnownVersion::Mvfst(Mvfst::Experimental) => Version::MVFST_EXPERIMENTAL,
            KnownVersion::Gquic(Gquic::T050) => Version::GQUIC_T050,
            KnownVersion::Gquic(Gquic::T051) => Version::GQUIC_T051,
        }
    }

    /// The draft this version follows (34 for version 1, whose constants draft-33 fixed;
    /// `None` for version 2).
    fn draft_basis(self) -> Option<u8> {
        match self {
            KnownVersion::V1 => Some(34),
            KnownVersion::V2 => None,
            KnownVersion::Draft(d) => Some(d.0),
            KnownVersion::Mvfst(Mvfst::Draft22) => Some(22),
            KnownVersion::Mvfst(Mvfst::Draft27 | Mvfst::Experimental) => Some(27),
            KnownVersion::Gquic(_) => Some(27),
        }
    }

    /// The salt of HKDF-Extract for Initial secrets (RFC 9001 §5.2).
    pub fn initial_salt(self) -> &'static [u8; 20] {
        match self {
            KnownVersion::Gquic(Gquic::T050) => return &SALT_GQUIC_T050,
            KnownVersion::Gquic(Gquic::T051) => return &SALT_GQUIC_T051,
            _ => {}
        }
        match self.draft_basis() {
            None => &SALT_V2,
            Some(..=22) => &SALT_DRAFT_22,
            Some(23..=28) => &SALT_DRAFT_23,
            Some(29..=32) => &SALT_DRAFT_29,
            Some(_) => &SALT_V1,
        }
    }

    /// The packet protection labels.
    pub fn labels(self) -> &'static Labels {
        match self {
            KnownVersion::V2 => &LABELS_V2,
            _ => &LABELS_V1,
        }
    }

    /// The type of a long header from its first byte (bits 0x30): RFC 9000 §17.2 for version 1
    /// and the drafts, rotated in version 2 (RFC 9369 §3.2).
    pub fn long_type(self, first_byte: u8) -> LongType {
        let code = (first_byte >> 4) & 0b11;
        // Version 2 adds one to every version 1 code (modulo 4).
        let v1_code = if self == KnownVersion::V2 {
            (code + 3) & 0b11
        } else {
            code
        };
        match v1_code {
            0b00 => LongType::Initial,
            0b01 => LongType::ZeroRtt,
            0b10 => LongType::Handshake,
            _ => LongType::Retry,
        }
    }

    /// The two type bits of `ty` in this version (the inverse of [`KnownVersion::long_type`]).
    pub fn long_type_code(self, ty: LongType) -> u8 {
        let v1 = match ty {
            LongType::Initial => 0b00,
            LongType::ZeroRtt => 0b01,
            LongType::Handshake => 0b10,
            LongType::Retry => 0b11,
        };
        if self == KnownVersion::V2 {
            (v1 + 1) & 0b11
        } else {
            v1
        }
    }

    /// What a Retry packet of this version holds after its connection IDs.
    pub fn retry_form(self) -> RetryForm {
        match self {
            // RFC 9001 §5.8.
            KnownVersion::V1 => RetryForm::Tag {
                key: [
                    0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3,
                    0x68, 0xc8, 0x4e,
                ],
                nonce: [
                    0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
                ],
            },
            // RFC 9369 §3.3.3.
            KnownVersion::V2 => RetryForm::Tag {
                key: [
                    0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad,
                    0x7c, 0xcc, 0x92,
                ],
                nonce: [
                    0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
                ],
            },
            // The Retry Integrity Tag arrived in draft-25 (draft-ietf-quic-tls-25 §5.8).
            _ if self.draft_basis().is_some_and(|d| d < 25) => RetryForm::OriginalDcid,
            _ => RetryForm::UncheckedTag,
        }
    }
}

impl fmt::Display for KnownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.version().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_and_their_salts() {
        assert_eq!(Version(1).known(), Some(KnownVersion::V1));
        assert_eq!(Version(0x6b3343cf).known(), Some(KnownVersion::V2));
        assert_eq!(Version(0).known(), None);
        assert_eq!(Version(0xff000016).known(), None, "draft-22");
        assert_eq!(Version(0xff000023).known(), None, "draft-35 never existed");
        // A reserved version (forcing Version Negotiation) is read as draft-29, as Wireshark does.
        assert_eq!(
            Version(0x1a2a3a4a).known(),
            Some(KnownVersion::Draft(Draft(29)))
        );
        assert_eq!(Version(0x1234_5678).known(), None);
        let salt = |v: u32| Version(v).known().map(|k| k.initial_salt()[0]);
        for draft in 0xff000017..=0xff00001c {
            assert_eq!(salt(draft), Some(0xc3), "0x{draft:08x}");
        }
        for draft in 0xff00001d..=0xff000020 {
            assert_eq!(salt(draft), Some(0xaf), "0x{draft:08x}");
        }
        assert_eq!(salt(0xff000021), Some(0x38));
        assert_eq!(salt(0xff000022), Some(0x38));
        assert_eq!(salt(1), Some(0x38));
        assert_eq!(salt(0x6b3343cf), Some(0x0d));
        assert_eq!(salt(0xfaceb001), Some(0x7f));
        assert_eq!(salt(0xfaceb002), Some(0xc3));
        assert_eq!(salt(0xfaceb00e), Some(0xc3));
        assert_eq!(salt(0xfaceb003), None);
    }

    #[test]
    fn long_header_types_rotate_in_v2() {
        use LongType::*;
        for (code, v1, v2) in [
            (0x00, Initial, Retry),
            (0x10, ZeroRtt, Initial),
            (0x20, Handshake, ZeroRtt),
            (0x30, Retry, Handshake),
        ] {
            let first = 0xc0 | code;
            assert_eq!(KnownVersion::V1.long_type(first), v1);
            assert_eq!(KnownVersion::V2.long_type(first), v2);
            let draft = Version::draft(29).known().unwrap();
            assert_eq!(draft.long_type(first), v1);
            assert_eq!(KnownVersion::V1.long_type_code(v1), code >> 4);
            assert_eq!(KnownVersion::V2.long_type_code(v2), code >> 4);
        }
    }

    #[test]
    fn labels_and_retry_forms() {
        assert_eq!(KnownVersion::V1.labels().hp, "quic hp");
        assert_eq!(KnownVersion::V2.labels().key, "quicv2 key");
        assert_eq!(KnownVersion::V2.labels().ku, "quicv2 ku");
        assert!(matches!(
            KnownVersion::V1.retry_form(),
            RetryForm::Tag { .. }
        ));
        let form = |v: Version| v.known().unwrap().retry_form();
        assert_eq!(form(Version::draft(24)), RetryForm::OriginalDcid);
        assert_eq!(form(Version::MVFST_DRAFT_22), RetryForm::OriginalDcid);
        assert_eq!(form(Version::draft(25)), RetryForm::UncheckedTag);
        assert_eq!(form(Version::MVFST_DRAFT_27), RetryForm::UncheckedTag);
    }

    #[test]
    fn display() {
        assert_eq!(Version(1).to_string(), "QUIC v1");
        assert_eq!(Version::draft(29).to_string(), "draft-29");
        assert_eq!(Version(0x1a2a3a4a).to_string(), "0x1a2a3a4a");
        assert!(Version(0x1a2a3a4a).is_reserved());
        assert!(!Version(1).is_reserved());
    }
}
