//! What the pipeline saw of a QUIC connection beyond its TLS handshake: versions, connection
//! IDs, Retry and Version Negotiation, the first CONNECTION_CLOSE readable without 1-RTT keys,
//! the client's Initial packets (and which of them were re-sent), the server's first answer,
//! each side's Handshake packets (and, with keys, which were re-sent) and what shows the end of
//! the handshake.
//!
//! Plain data, filled in by the pipeline's QUIC connection and read by the verdict and the
//! report. Every list is bounded ([`MAX_QUIC_FRAMES`]).

use super::facts::Role;
use crate::capture::Timestamp;
use crate::quic::keys::RetryIntegrity;
use crate::quic::packet::ConnectionId;
use crate::quic::version::Version;

/// Most frame numbers kept per list of a QUIC connection's facts (re-sent Initials, undecryptable
/// packets); the rest are counted.
pub const MAX_QUIC_FRAMES: usize = 16;

/// The long-header packet type a frame was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuicPacketType {
    /// An Initial packet (readable without keys).
    Initial,
    /// A Handshake packet (readable with a key log's handshake secrets).
    Handshake,
}

/// A Retry packet the server sent (RFC 9000 §17.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySeen {
    /// Its frame.
    pub frame: u64,
    /// Its Source Connection ID: the client's next Initial keys come from it.
    pub scid: ConnectionId,
    /// Its integrity tag checked against the client's original Destination Connection ID.
    pub integrity: RetryIntegrity,
}

/// A Version Negotiation packet the server sent (RFC 9000 §17.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNegotiationSeen {
    /// Its frame.
    pub frame: u64,
    /// The versions it lists (at most [`crate::quic::packet::MAX_VN_VERSIONS`]).
    pub versions: Vec<Version>,
}

/// The first CONNECTION_CLOSE frame read (in an Initial or Handshake packet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseSeen {
    /// Its frame.
    pub frame: u64,
    /// Who sent it.
    pub from: Role,
    /// Frame type 0x1d (an application error) rather than 0x1c (a transport error).
    pub application: bool,
    /// The error code.
    pub error_code: u64,
    /// The TLS alert of a CRYPTO_ERROR (0x100 + alert, RFC 9001 §4.8).
    pub tls_alert: Option<u8>,
    /// The reason phrase (lossy UTF-8, at most [`crate::quic::frame::MAX_REASON_BYTES`]).
    pub reason: String,
    /// The packet it was read from.
    pub packet_type: QuicPacketType,
}

/// Frames of some kind of packet: how many, and the first [`MAX_QUIC_FRAMES`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameList {
    /// How many in all.
    pub count: u64,
    /// The first ones, ascending.
    pub frames: Vec<u64>,
}

impl FrameList {
    /// Adds a frame (once: a frame already last in the list is not added again).
    pub fn add(&mut self, frame: u64) {
        if self.frames.last() == Some(&frame) {
            return;
        }
        self.count += 1;
        if self.frames.len() < MAX_QUIC_FRAMES {
            self.frames.push(frame);
        }
    }
}

/// What shows that a QUIC handshake ended, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeEndEvidence {
    /// The client's Finished, read in its Handshake CRYPTO data (needs the handshake keys): the
    /// client verified the server's Finished and sent its own (RFC 9001 §4.1.1).
    ClientFinished,
    /// The client's first short-header (1-RTT) packet, not decrypted: a client has 1-RTT keys
    /// only after the server's Finished (RFC 9001 §4.1.4, §5.7), and sends its own Finished with
    /// them. Whether the server received that Finished is not shown.
    ClientFirstShortHeader,
}

/// The end of a QUIC handshake as the packets show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeEnd {
    /// The frame that shows it.
    pub frame: u64,
    /// Its time.
    pub time: Timestamp,
    /// What that frame carries.
    pub evidence: HandshakeEndEvidence,
}

/// What a QUIC connection showed beyond its TLS handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuicFacts {
    /// Wireshark's `quic.connection.number` (0-based, in order of first packet).
    pub connection_number: u64,
    /// The version of the client's first Initial.
    pub client_version: Option<Version>,
    /// The version of the server's first Initial (a server may answer in another compatible
    /// version, RFC 9368).
    pub server_version: Option<Version>,
    /// The version of the connection's first long-header packet (either side): the version
    /// when no Initial opened, so neither side is known.
    pub first_version: Option<Version>,
    /// The Destination Connection ID of the client's first Initial.
    pub client_dcid: Option<ConnectionId>,
    /// The Source Connection ID of the server's first Initial or Handshake packet.
    pub server_scid: Option<ConnectionId>,
    /// The server's Retry.
    pub retry: Option<RetrySeen>,
    /// The server's Version Negotiation.
    pub version_negotiation: Option<VersionNegotiationSeen>,
    /// The first CONNECTION_CLOSE readable in Initial or Handshake packets.
    pub close: Option<CloseSeen>,
    /// The client's Initial packets (each datagram counted once).
    pub client_initials: FrameList,
    /// The time of the client's first Initial packet: the times of the handshake count from it.
    pub first_client_initial_time: Option<Timestamp>,
    /// The client's Initial packets whose CRYPTO frames all repeated offsets sent before
    /// (re-sent, or a copy), not counting the new ClientHello after a Retry or Version
    /// Negotiation.
    pub resent_client_initials: FrameList,
    /// The server's first Initial packet: its frame and time.
    pub first_server_initial: Option<(u64, Timestamp)>,
    /// Datagrams the server sent (any packet).
    pub server_datagrams: u64,
    /// Short-header (1-RTT) packets of either side: counted, never decrypted.
    pub one_rtt_packets: u64,
    /// Packet protections removed or tried: Initial and Handshake packets only, never a
    /// short-header packet (not reported; it shows what reading the connection cost).
    pub decryptions: u64,
    /// Initial packets that did not open with the keys of their version (another connection,
    /// a damaged packet, or a peer's bug).
    pub undecryptable_initials: FrameList,
    /// Datagrams the capture cut short (a snaplen): a packet opens only whole.
    pub cut_datagrams: FrameList,
    /// Handshake packets not opened: no key-log secrets for them, or keys that did not open them.
    pub handshake_not_opened: FrameList,
    /// The client's Handshake packets, opened or not (each datagram counted once).
    pub client_handshakes: FrameList,
    /// The server's Handshake packets, opened or not (each datagram counted once).
    pub server_handshakes: FrameList,
    /// The client's Handshake packets whose CRYPTO frames all repeated offsets it sent before
    /// (re-sent, or a copy); `None` while none of its Handshake packets opened: without the
    /// keys a re-sent Handshake packet cannot be told from a new one.
    pub resent_client_handshakes: Option<FrameList>,
    /// The server's Handshake packets whose CRYPTO frames all repeated offsets it sent before;
    /// `None` while none of its Handshake packets opened.
    pub resent_server_handshakes: Option<FrameList>,
    /// The frame whose Handshake packet completed the client's Finished in its CRYPTO data
    /// (with the handshake keys), and its time.
    pub client_finished: Option<(u64, Timestamp)>,
    /// The client's first short-header (1-RTT) packet (opening its datagram, or with the
    /// connection ID of the packets before it): its frame and time.
    pub client_first_short_header: Option<(u64, Timestamp)>,
    /// The key log had this connection's handshake secrets, and they opened none of its
    /// Handshake packets (wrong secrets, or a cipher suite not supported for QUIC).
    pub handshake_keys_failed: bool,
}

impl QuicFacts {
    /// The version the handshake ran in: the server's, else the client's, else that of the
    /// first long-header packet.
    pub fn version(&self) -> Option<Version> {
        self.server_version
            .or(self.client_version)
            .or(self.first_version)
    }

    /// The end of the handshake, by the strongest evidence the packets hold: the client's
    /// Finished when it was read, else its first 1-RTT packet.
    pub fn handshake_end(&self) -> Option<HandshakeEnd> {
        let (frame, time, evidence) = match (self.client_finished, self.client_first_short_header) {
            (Some((f, t)), _) => (f, t, HandshakeEndEvidence::ClientFinished),
            (None, Some((f, t))) => (f, t, HandshakeEndEvidence::ClientFirstShortHeader),
            (None, None) => return None,
        };
        Some(HandshakeEnd {
            frame,
            time,
            evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's Finished ends the handshake when it was read, even after a 1-RTT packet
    /// (its Handshake packet re-sent); without it the first 1-RTT packet does; nothing else.
    #[test]
    fn handshake_end_takes_the_strongest_evidence() {
        let mut quic = QuicFacts::default();
        assert_eq!(quic.handshake_end(), None);
        quic.client_first_short_header = Some((8, Timestamp(80)));
        assert_eq!(
            quic.handshake_end(),
            Some(HandshakeEnd {
                frame: 8,
                time: Timestamp(80),
                evidence: HandshakeEndEvidence::ClientFirstShortHeader
            })
        );
        quic.client_finished = Some((11, Timestamp(110)));
        assert_eq!(
            quic.handshake_end(),
            Some(HandshakeEnd {
                frame: 11,
                time: Timestamp(110),
                evidence: HandshakeEndEvidence::ClientFinished
            })
        );
    }
}
