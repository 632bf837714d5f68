//! What a QUIC flow showed beyond its TLS handshake: version, connection number and IDs, Retry,
//! Version Negotiation, the CONNECTION_CLOSE readable without 1-RTT keys, the client's
//! Initial packets, each side's Handshake packets, and the end of the handshake.

use crate::analysis::Role;
use serde::Serialize;

/// The `quic` object of a QUIC flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuicReport {
    /// The version the handshake ran in (the server's Initial's, else the client's, else the
    /// first long-header packet's when no Initial opened), as `0x00000001`.
    pub version: Option<String>,
    /// The version's name ("QUIC v1", "QUIC v2", "draft-29"), when it has one.
    pub version_name: Option<String>,
    /// The version of the client's first Initial, when it differs from `version` (a compatible
    /// version switch, RFC 9368, or a version chosen after Version Negotiation).
    pub client_version: Option<String>,
    /// Wireshark's `quic.connection.number` within the capture (0-based).
    pub connection_number: u64,
    /// The Destination Connection ID of the client's first Initial (hex): the Initial keys come
    /// from it.
    pub client_dcid: Option<String>,
    /// The server's Source Connection ID (hex).
    pub server_scid: Option<String>,
    /// The server's Retry.
    pub retry: Option<RetryReport>,
    /// The server's Version Negotiation.
    pub version_negotiation: Option<VersionNegotiationReport>,
    /// The first CONNECTION_CLOSE in an Initial or Handshake packet (those of 1-RTT packets
    /// are encrypted with keys this tool never uses).
    pub close: Option<CloseReport>,
    /// The client's Initial packets: how many, and the first frames.
    pub client_initials: FramesReport,
    /// The client's Initial packets that repeated CRYPTO data sent before (re-sent).
    pub client_initials_resent: FramesReport,
    /// Milliseconds from the client's first Initial to the server's first Initial.
    pub server_initial_ms: Option<f64>,
    /// Milliseconds from the client's first Initial to the end of the handshake
    /// (`handshake_end_frame`), as `tcp.handshake_ms` is from the first packet; null when no
    /// packet shows the end (or the capture's clock ran backwards).
    pub handshake_ms: Option<f64>,
    /// The frame that shows the end of the handshake.
    pub handshake_end_frame: Option<u64>,
    /// What that frame shows.
    pub handshake_end_evidence: Option<HandshakeEndEvidenceReport>,
    /// Handshake packets per sender, opened or not.
    pub handshake_packets: BySender<FramesReport>,
    /// Handshake packets whose CRYPTO data repeated offsets their sender sent before (re-sent),
    /// per sender; null for a sender none of whose Handshake packets opened (no keys: a re-sent
    /// Handshake packet cannot be told).
    pub handshake_resent: BySender<Option<FramesReport>>,
    /// Initial packets that did not open with the keys of their version.
    pub undecryptable_initials: FramesReport,
    /// Short-header (1-RTT) packets of either side: counted, never decrypted.
    pub one_rtt_packets: u64,
}

/// What shows the end of a QUIC handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeEndEvidenceReport {
    /// The client's Finished, read in its Handshake packets with the key log's secrets.
    ClientFinished,
    /// The client's first short-header (1-RTT) packet, not decrypted: the client held 1-RTT
    /// keys, which it gets from the server's Finished; its own Finished is not read.
    ClientFirstShortHeader,
}

/// One value per sender.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BySender<T> {
    /// The client's.
    pub client: T,
    /// The server's.
    pub server: T,
}

/// How many packets, and the first frames that carried them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FramesReport {
    /// How many in all.
    pub count: u64,
    /// The first ones (at most [`crate::analysis::MAX_QUIC_FRAMES`]).
    pub frames: Vec<u64>,
}

/// A Retry packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    /// Its frame.
    pub frame: u64,
    /// Its Source Connection ID (hex): the client's next Initial keys come from it.
    pub scid: String,
    /// Its integrity tag checked against the client's original Destination Connection ID.
    pub integrity: RetryIntegrityReport,
}

/// The outcome of checking a Retry Integrity Tag (RFC 9001 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryIntegrityReport {
    /// The tag matches.
    Valid,
    /// The tag does not match.
    Invalid,
    /// The version's tag key is not known here, or it has no tag.
    NotChecked,
}

/// A Version Negotiation packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionNegotiationReport {
    /// Its frame.
    pub frame: u64,
    /// The versions it lists, as `0x00000001`.
    pub versions: Vec<String>,
}

/// The long-header packet type a CONNECTION_CLOSE was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuicPacketTypeReport {
    /// An Initial packet.
    Initial,
    /// A Handshake packet.
    Handshake,
}

/// Which kind of error a CONNECTION_CLOSE carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseFrameType {
    /// Frame type 0x1c: a QUIC transport error (a TLS alert is a crypto error, 0x100 + alert).
    Transport,
    /// Frame type 0x1d: an application's error.
    Application,
}

/// A CONNECTION_CLOSE frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseReport {
    /// Its frame.
    pub frame: u64,
    /// Who sent it.
    pub from: Role,
    /// Transport (0x1c) or application (0x1d) close.
    pub frame_type: CloseFrameType,
    /// The error code, as `0x178`.
    pub error_code: String,
    /// The transport error's name (`CRYPTO_ERROR`, `CONNECTION_REFUSED`, …), when known.
    pub error_name: Option<String>,
    /// The TLS alert of a crypto error (0x178 → 120).
    pub tls_alert: Option<u8>,
    /// The alert's name.
    pub tls_alert_name: Option<String>,
    /// The reason phrase (lossy UTF-8, at most 256 bytes).
    pub reason: String,
    /// The packet it was read from.
    pub packet_type: QuicPacketTypeReport,
}
