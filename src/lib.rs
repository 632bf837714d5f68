//! alpnscope: why did this TLS connection end up on HTTP/1.1 (or fail) when the client asked
//! for h2? Reads packet captures, reassembles every TCP stream and reads every QUIC connection's
//! Initial packets, parses the TLS hellos and reports per flow what ALPN protocols the client
//! offered, what the server selected, and a verdict.
//!
//! The pipeline, one module per stage, dependencies pointing down:
//!
//! ```text
//! capture   pcap / pcapng file or stream (gzip, zstd, xz decompressed) ──► Frame { number,
//!           timestamp, link type, bytes }
//!    │
//! decode    link → IP → TCP / UDP (defragmented) ──► Segment { endpoints, seq, ack, flags, ttl,
//!           payload } | UdpDatagram { endpoints, ttl, payload }
//!    │
//! flow      FlowKey + Side, per-direction Reassembler, TcpHealth ──► ordered Chunks (data | gap)
//!    │
//! tls       DirectionParser: records, handshake messages, decryption ──► TlsEvents
//!    │      quic (beside tls): UDP payloads ──► Initial and Handshake packets opened ──►
//!    │      frames ──► CRYPTO bytes for tls's handshake layer
//!    │      dns (beside tls): DNS responses (port 53) ──► HTTPS / SVCB records (RFC 9460)
//!    │
//! analysis  FlowFacts ──► Verdict { kind, detail, evidence frames }; network view
//!    │
//! pipeline  flow table (Analyzer) ──► one TcpConnection or QuicConnection per flow ──► FlowFacts
//!           drivers beside it: files (files, stdin) and live (libpcap, feature `live`)
//!    │
//! report    FlowFacts + Verdict ──► FlowReport; diagnosis across flows;
//!           text | json | jsonl | markdown renderers
//!
//! extract   handshake-only pcapng of chosen flows, from a report and its capture
//! compare   two reports of captures taken on both sides of a middlebox ──► pairs (ClientHello
//!           random, or time and SNI), changes per pair, findings naming the middlebox
//! ```
//!
//! Start at [`analyze_files`] (the file driver) or [`pipeline::Analyzer`] (the flow table).

pub mod analysis;
pub mod capture;
pub mod compare;
pub mod decode;
pub mod dns;
pub mod extract;
pub mod flow;
pub mod hex;
pub mod pipeline;
pub mod quic;
pub mod report;
pub mod tls;

#[cfg(test)]
mod test_fixtures;

pub use pipeline::files::{AnalyzeError, AnalyzeOptions, Progress, analyze_files};
