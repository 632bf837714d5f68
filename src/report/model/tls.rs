//! What a flow's TLS handshake showed: the hellos, the decrypted EncryptedExtensions and
//! certificate, the key-log outcome, alerts, and a proxy hop before TLS.

use crate::analysis::Role;
use crate::analysis::StartTlsOutcome;
use crate::tls::preamble::ProxyKind;
use crate::tls::starttls::StartTlsProtocol;
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// 16-bit code points (cipher suites, extension types) kept as numbers and written to JSON as
/// 4-digit lowercase hex strings, so a report with many flows stays small in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HexCodes(pub Vec<u16>);

/// One code as 4 lowercase hex digits, without allocating.
struct Hex4(u16);

impl Serialize for Hex4 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let v = self.0;
        let digits = [12, 8, 4, 0].map(|shift| DIGITS[usize::from((v >> shift) & 0xf)]);
        serializer.serialize_str(std::str::from_utf8(&digits).unwrap_or("????"))
    }
}

impl Serialize for HexCodes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|v| Hex4(*v)))
    }
}

/// Which message carried the server's ALPN selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpnSource {
    /// The ServerHello (TLS 1.2 and older).
    ServerHello,
    /// The decrypted EncryptedExtensions (TLS 1.3).
    EncryptedExtensions,
}

/// What a key log did for a TLS 1.3 flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decryption {
    /// The handshake was decrypted.
    #[serde(rename = "decrypted")]
    Decrypted,
    /// The key log has no entry for the flow's ClientHello random.
    #[serde(rename = "no key-log entry for this ClientHello random")]
    NoEntry,
    /// The key log's secrets do not decrypt the flow.
    #[serde(rename = "decryption failed: keys do not match this flow")]
    Failed,
    /// A pre-standard TLS 1.3 (a draft before draft-20, a BoringSSL experiment) whose record
    /// protection differs from RFC 8446's: the keys are there, alpnscope cannot use them.
    #[serde(rename = "not decrypted: alpnscope does not follow this TLS 1.3 draft's key schedule")]
    UnsupportedDraft,
    /// Decryption stopped at bytes of the client's stream missing from the capture (the records
    /// after a gap cannot be opened, whatever the keys).
    #[serde(rename = "decryption stopped at a gap in the client stream")]
    StoppedAtClientGap,
    /// Decryption stopped at bytes of the server's stream missing from the capture.
    #[serde(rename = "decryption stopped at a gap in the server stream")]
    StoppedAtServerGap,
}

/// ClientHello details.
#[derive(Debug, Clone, Serialize)]
pub struct ClientHelloReport {
    /// Frames carrying the hello.
    pub frames: Vec<u64>,
    /// The 32-byte random in hex: the key a key log files this connection's secrets under.
    pub random: String,
    /// legacy_version, e.g. "1.2".
    pub legacy_version: Cow<'static, str>,
    /// supported_versions, e.g. ["1.3", "1.2"] (GREASE shown as hex).
    pub supported_versions: Vec<Cow<'static, str>>,
    /// Cipher suites as 4-digit hex, in order.
    pub cipher_suites: HexCodes,
    /// Extension types as 4-digit hex, in order.
    pub extensions: HexCodes,
    /// True when the ALPN list holds a GREASE value.
    pub alpn_grease: bool,
    /// What is wrong with the ALPN extension, if anything.
    pub alpn_malformed: Option<String>,
    /// True when the hello came in the SSLv2 record format (RFC 5246 Appendix E.2), which has
    /// no extensions and so no ALPN.
    pub sslv2_format: bool,
    /// Set when the capture holds only the start of the hello (a snaplen, a capture cut short).
    pub cut: Option<CutReport>,
    /// The protocols the client's application_settings extension (ALPS, 17513 or 17613) lists,
    /// null when it sent none: a fact of the client, never the server's selection.
    pub alps: Option<Vec<String>>,
    /// JA4 fingerprint; `None` when the capture cut the ClientHello short (a fingerprint of
    /// part of a hello would name another client).
    pub ja4: Option<String>,
    /// True when this hello followed a HelloRetryRequest.
    pub after_hello_retry_request: bool,
}

/// ServerHello details.
#[derive(Debug, Clone, Serialize)]
pub struct ServerHelloReport {
    /// Frames carrying the hello.
    pub frames: Vec<u64>,
    /// Negotiated version.
    pub version: Cow<'static, str>,
    /// Selected cipher suite (IANA name or hex).
    pub cipher_suite: String,
    /// Extension types as 4-digit hex, in order.
    pub extensions: HexCodes,
    /// The ALPN extension's list, when present.
    pub alpn: Option<Vec<String>>,
    /// Frames of a HelloRetryRequest, when one preceded it.
    pub hello_retry_request_frames: Option<Vec<u64>>,
    /// True when the server sent the NPN extension.
    pub npn: bool,
    /// Set when the capture holds only the start of the hello (a snaplen, a capture cut short).
    pub cut: Option<CutReport>,
}

/// How much of a hello the capture holds, when it cut it short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CutReport {
    /// Bytes of the hello's body captured.
    pub captured: usize,
    /// The body's length as its header declares it.
    pub length: usize,
}

/// Decrypted EncryptedExtensions.
#[derive(Debug, Clone, Serialize)]
pub struct EncryptedExtensionsReport {
    /// Frame(s) of the record holding it.
    pub frames: Vec<u64>,
    /// The ALPN extension's list, null when absent.
    pub alpn: Option<Vec<String>>,
}

/// Names of the server's certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateReport {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// subjectAltName entries.
    pub san: Vec<String>,
    /// Frame(s) of the record holding it.
    pub frames: Vec<u64>,
}

/// The level of an alert record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// Level 1.
    Warning,
    /// Level 2.
    Fatal,
    /// The record is encrypted and was not decrypted.
    Encrypted,
    /// A level other than 1 or 2.
    Unknown,
}

/// An alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertReport {
    /// Sender.
    pub from: Role,
    /// Level.
    pub level: AlertLevel,
    /// Name, e.g. "no_application_protocol" ("encrypted" when unreadable).
    pub description: &'static str,
    /// Code, null when encrypted.
    pub code: Option<u8>,
    /// Frame.
    pub frame: u64,
    /// True when it was read by decrypting with a key log.
    pub decrypted: bool,
}

impl AlertLevel {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            AlertLevel::Warning => "warning",
            AlertLevel::Fatal => "fatal",
            AlertLevel::Encrypted => "encrypted",
            AlertLevel::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A plaintext protocol's switch to TLS in the stream (STARTTLS and its kin).
#[derive(Debug, Clone, Serialize)]
pub struct StartTlsReport {
    /// The protocol (`smtp`, `imap`, `pop3`, `ftp`, `nntp`, `ldap`, `postgresql`); null when the
    /// packets do not tell (a bare `STARTTLS` whose answer was not captured).
    pub protocol: Option<StartTlsProtocol>,
    /// The client's request as sent (`STARTTLS`, `a002 STARTTLS`, `AUTH TLS`, `SSLRequest`…).
    pub command: Option<String>,
    /// Frame of the client's request.
    pub frame: Option<u64>,
    /// Frame of the server's answer (the positive one TLS followed, or the refusal); for MySQL,
    /// whose server consents before the request, its greeting.
    pub reply_frame: Option<u64>,
    /// How it ended: TLS followed, the server refused, or its greeting did not offer TLS.
    pub outcome: StartTlsOutcome,
}

impl StartTlsReport {
    /// True when no TLS handshake took place (refused, or not offered): the flow is not
    /// counted as a TLS flow.
    pub fn without_tls(&self) -> bool {
        self.outcome.without_tls()
    }
}

/// Proxy hop.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyReport {
    /// Which proxy protocol.
    pub kind: ProxyKind,
    /// Target requested from the proxy.
    pub target: Option<String>,
}
