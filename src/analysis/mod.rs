//! A flow's handshake facts → one verdict with a detail for a person and the frames behind it.
//!
//! Pure functions over [`FlowFacts`]: no I/O, no clock, no knowledge of the capture format.

mod application;
mod facts;
pub mod network;
mod quic;
mod verdict;

pub use application::Application;
pub use facts::{
    AlertSeen, Eviction, FlowEnd, FlowFacts, KeyStatus, PlaintextSeen, Role, StartTlsOutcome,
    StartTlsSeen, StoppedReading, WindowPacket, alert_name,
};
pub use quic::{
    CloseSeen, FrameList, HandshakeEnd, HandshakeEndEvidence, MAX_QUIC_FRAMES, QuicFacts,
    QuicPacketType, RetrySeen, VersionNegotiationSeen,
};
pub use verdict::{Verdict, VerdictKind, judge};
