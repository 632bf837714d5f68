//! Flows: the bidirectional key of a TCP connection, serial sequence-number arithmetic, and
//! per-direction reassembly with hard caps.
//!
//! Nothing here knows about TLS: the reassembler takes segments in capture order and hands out
//! the byte stream in sequence order, with every hole it could not fill reported as a gap.

mod anomaly;
mod health;
mod key;
mod reassembly;
mod seq;

pub use anomaly::{Anomaly, AnomalySet, Count, Counts, MAX_FRAMES_PER_COUNT};
pub use health::{Hole, Resent, SynAckAnswer, SynAckIsns, TcpHealth, Teardown};
pub use key::{Endpoint, FlowKey, FlowKeyHasher, Side, Transport};
pub use reassembly::{
    Chunk, Conflict, MAX_COMPARED_BYTES, MAX_PENDING_BYTES, Reassembler, ReassemblyStats,
};
pub use seq::SeqNumber;
