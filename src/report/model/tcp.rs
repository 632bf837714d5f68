//! What the network did to a flow: TCP timing and health after Wireshark's TCP analysis, with
//! per-direction counts and the frames behind them, resets, FINs, re-sent handshake messages,
//! capture gaps and a slow server.

use crate::analysis::Role;
use crate::analysis::network::CapturePoint;
use serde::Serialize;
use std::collections::BTreeMap;

/// TCP timing and health of a flow (Wireshark's TCP analysis definitions).
#[derive(Debug, Clone, Serialize)]
pub struct TcpReport {
    /// SYN → ACK of the three-way handshake, ms.
    pub connect_ms: Option<f64>,
    /// Where the capture was taken.
    pub capture_point: CapturePoint,
    /// Last ClientHello segment → ServerHello, ms.
    pub client_hello_to_server_hello_ms: Option<f64>,
    /// First → last ClientHello segment, ms.
    pub client_hello_span_ms: Option<f64>,
    /// First packet → end of the TLS handshake, ms (null when it did not complete).
    pub handshake_ms: Option<f64>,
    /// Frame that ended the handshake window.
    pub handshake_end_frame: Option<u64>,
    /// The handshake lost or re-sent packets (or very likely did, before the capture point).
    pub handshake_loss: bool,
    /// Some segment of the flow was lost or re-sent (not in JSON: the summary counts it).
    #[serde(skip)]
    pub flow_loss: bool,
    /// Counts in the handshake window, by kind (kinds with no event omitted).
    pub handshake: BTreeMap<&'static str, DirectionCounts>,
    /// Counts over the whole flow, by kind.
    pub flow: BTreeMap<&'static str, DirectionCounts>,
    /// Holes per direction.
    pub holes: BTreeMap<Role, HoleReport>,
    /// RSTs.
    pub resets: Vec<ResetReport>,
    /// First FIN per side.
    pub fins: Vec<FinReport>,
    /// Handshake messages sent more than once.
    pub retransmitted_messages: Vec<MessageReport>,
    /// Handshake bytes the capture missed although the peer received them (acknowledged, never
    /// resent): gaps in the capture, not network loss.
    pub capture_gaps: Vec<CaptureGapReport>,
    /// The server acknowledged the ClientHello at once but sent its ServerHello long after, and
    /// nothing was lost: a slow server, not the network.
    pub slow_server: Option<SlowServerReport>,
}

/// A count and the frames behind it (the first 16).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CountReport {
    /// How many.
    pub count: u64,
    /// Frames (capped).
    pub frames: Vec<u64>,
}

/// One kind of TCP event, per direction (a side with none is omitted).
#[derive(Debug, Clone, Serialize, Default)]
pub struct DirectionCounts {
    /// Segments sent by the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<CountReport>,
    /// Segments sent by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<CountReport>,
}

/// Holes in one direction's sequence space.
#[derive(Debug, Clone, Serialize, Default)]
pub struct HoleReport {
    /// Later filled by an out-of-order or retransmitted segment (reordering).
    pub filled: u64,
    /// Never filled: data missing from the capture.
    pub open: u64,
}

/// A RST.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    /// Sender.
    pub from: Role,
    /// Frame.
    pub frame: u64,
    /// TTL / hop limit of the RST.
    pub ttl: u8,
    /// Most common TTL of the sender's other packets.
    pub usual_ttl: Option<u8>,
}

/// A FIN.
#[derive(Debug, Clone, Serialize)]
pub struct FinReport {
    /// Sender.
    pub from: Role,
    /// Frame.
    pub frame: u64,
}

/// A handshake message sent more than once.
#[derive(Debug, Clone, Serialize)]
pub struct MessageReport {
    /// "SYN", "SYN/ACK", "ClientHello", "ServerHello".
    pub message: &'static str,
    /// Copies sent.
    pub times: usize,
    /// Frames of the copies.
    pub frames: Vec<u64>,
}

/// A server slow to answer the ClientHello.
#[derive(Debug, Clone, Serialize)]
pub struct SlowServerReport {
    /// Last ClientHello segment → ServerHello, ms.
    pub wait_ms: f64,
    /// The server's first ACK of the whole ClientHello.
    pub ack_frame: u64,
    /// Last ClientHello segment → that ACK, ms.
    pub ack_ms: f64,
    /// First frame of the ServerHello.
    pub server_hello_frame: u64,
    /// The server's IPv4 identifications run on from the ACK to the ServerHello: it sent
    /// nothing in between (false: the packets cannot tell, e.g. IPv6).
    pub nothing_sent_between: bool,
    /// The sentence for people.
    pub detail: String,
}

/// Bytes of one side's handshake that the capture missed and the peer received.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureGapReport {
    /// Whose bytes.
    pub from: Role,
    /// Missing bytes, when the next captured segment shows where they end (else 0).
    pub bytes: u64,
    /// The first captured segment after the gap.
    pub before_frame: Option<u64>,
    /// The peer's first ACK for bytes the capture never saw.
    pub acked_in: Option<u64>,
    /// Frames that show the gap (the first 8).
    pub frames: Vec<u64>,
}
