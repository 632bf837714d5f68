//! The report model: one set of serde types that every renderer reads. Field names are the JSON
//! contract (schema version 1) documented in the README; add fields, never rename them.
//!
//! The report and its flows are here; their parts live by concept in `tls` (hellos, certificate,
//! alerts), `tcp` (timing and health), `capture` (what was read), `across` (diagnosis and
//! summary) and `live` (corrections), all re-exported here.

mod across;
mod capture;
mod dns;
mod live;
mod quic;
mod tcp;
mod tls;

pub use across::{Diagnosis, DiagnosisKind, ServerSummary, Summary};
pub use capture::{
    CaptureFilter, CaptureReport, CaptureStatistics, DecodeCounts, MemoryUse, MergedFile,
};
pub use dns::{DnsAdvertised, DnsHttpsReport, DnsMatch, ServiceRecordType};
pub use live::{CorrectedField, Correction, PreviousConclusion};
pub use quic::{
    BySender, CloseFrameType, CloseReport, FramesReport, HandshakeEndEvidenceReport,
    QuicPacketTypeReport, QuicReport, RetryIntegrityReport, RetryReport, VersionNegotiationReport,
};
pub use tcp::{
    CaptureGapReport, CountReport, DirectionCounts, FinReport, HoleReport, MessageReport,
    ResetReport, SlowServerReport, TcpReport,
};
pub use tls::{
    AlertLevel, AlertReport, AlpnSource, CertificateReport, ClientHelloReport, CutReport,
    Decryption, EncryptedExtensionsReport, HexCodes, ProxyReport, ServerHelloReport,
    StartTlsReport,
};

use crate::analysis::network::NetworkCause;
use crate::analysis::{Application, VerdictKind};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// Version of the JSON schema.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that made the report.
    pub tool: Tool,
    /// Flows in order of their first frame (see [`crate::pipeline::MAX_WAITING_REPORTS`] for
    /// the exception). Before the captures: a report is written while its flows arrive.
    pub flows: Vec<FlowReport>,
    /// One entry per capture read.
    pub captures: Vec<CaptureReport>,
    /// Every DNS HTTPS and SVCB record answered in the captures, in frame order (at most
    /// [`crate::pipeline::MAX_DNS_HTTPS_RECORDS`]; `captures[].decode.dns_https_omitted`
    /// counts the rest), whether or not a connection followed.
    pub dns_https: Vec<DnsHttpsReport>,
    /// Conclusions across flows, per server.
    pub diagnosis: Vec<Diagnosis>,
    /// Counts over the flows.
    pub summary: Summary,
}

/// Tool identification.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// "alpnscope".
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// The command line that made the report, when known.
    pub command_line: Option<String>,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: "alpnscope",
            version: env!("CARGO_PKG_VERSION"),
            command_line: None,
        }
    }
}

/// One flow: a TCP connection or a QUIC connection.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// Report-wide flow number (0-based, in order of first frame).
    pub id: u64,
    /// Index into `captures`.
    pub capture: usize,
    /// Wireshark's `tcp.stream` index within its capture; null for a flow that is not TCP.
    pub tcp_stream: Option<u64>,
    /// The transport.
    pub transport: Transport,
    /// The connecting side.
    pub client: EndpointReport,
    /// The accepting side.
    pub server: EndpointReport,
    /// Community ID v1 (seed 0) of the flow's endpoints as reported (`1:…`, TCP protocol 6,
    /// QUIC as UDP 17): the ID Zeek, Suricata and Arkime give the same connection. Under
    /// `--redact`, computed over the pseudonyms.
    pub community_id: String,
    /// First frame of the flow (1-based).
    pub first_frame: u64,
    /// Last frame of the flow seen.
    pub last_frame: u64,
    /// Time of the first frame (RFC 3339, µs).
    pub start: String,
    /// Time of the first frame of the ClientHello, when one was seen (not in JSON: `compare`
    /// pairs connections across captures by it).
    #[serde(skip)]
    pub client_hello_time: Option<crate::capture::Timestamp>,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in order (escaped losslessly).
    pub alpn_offered: Vec<String>,
    /// The protocol the server selected, when known.
    pub alpn_selected: Option<String>,
    /// Where the selection was read, or null.
    pub alpn_source: Option<AlpnSource>,
    /// Negotiated TLS version ("1.0" … "1.3").
    pub tls_version: Option<Cow<'static, str>>,
    /// The verdict.
    pub verdict: VerdictKind,
    /// One sentence explaining the verdict.
    pub detail: String,
    /// Frames that show the verdict.
    pub evidence_frames: Vec<u64>,
    /// For an incomplete handshake, the network's part in it (not in JSON: the diagnosis reads
    /// it, the JSON carries the detail).
    #[serde(skip)]
    pub network_cause: Option<NetworkCause>,
    /// A `not_tls` flow whose client sent plain HTTP to a TLS port (not in JSON: the pipeline
    /// lists it without `--all` and the diagnosis reads it; the JSON carries the detail).
    #[serde(skip)]
    pub plain_http_to_tls_port: bool,
    /// What the flow carries as far as the packets tell (not in JSON: the diagnosis gives
    /// HTTP advice only where HTTP was offered).
    #[serde(skip)]
    pub application: Application,
    /// The ClientHello (the second one after a HelloRetryRequest).
    pub client_hello: Option<ClientHelloReport>,
    /// The ServerHello.
    pub server_hello: Option<ServerHelloReport>,
    /// TLS 1.3 EncryptedExtensions, when decrypted with a key log.
    pub encrypted_extensions: Option<Box<EncryptedExtensionsReport>>,
    /// The server certificate's names, when decrypted with a key log (TLS 1.3).
    pub server_certificate: Option<Box<CertificateReport>>,
    /// TLS 1.3 key-log outcome; null without a key log or TLS 1.3.
    pub decryption: Option<Decryption>,
    /// Alerts in order.
    pub alerts: Vec<AlertReport>,
    /// Proxy hop before TLS.
    pub proxy: Option<Box<ProxyReport>>,
    /// A plaintext protocol that switched the stream to TLS, or whose request the server
    /// refused (STARTTLS and its kin).
    pub starttls: Option<Box<StartTlsReport>>,
    /// What the network did: timing, loss, resets (TCP flows; null for QUIC).
    pub tcp: Option<Box<TcpReport>>,
    /// What a QUIC flow showed beyond its TLS handshake (null for TCP).
    pub quic: Option<Box<QuicReport>>,
    /// A sentence about loss in a handshake that got its ServerHello, or null.
    pub network: Option<String>,
    /// The DNS HTTPS answer for the flow's name that came last before the flow, when the
    /// capture holds one.
    pub dns_advertised: Option<Box<DnsAdvertised>>,
    /// Reassembly gaps, caps hit, malformed data.
    pub notes: Vec<String>,
}

impl FlowReport {
    /// True when the TCP handshake lost packets (never for QUIC).
    pub fn handshake_loss(&self) -> bool {
        self.tcp.as_ref().is_some_and(|t| t.handshake_loss)
    }

    /// True when the capture itself left gaps in the flow (TCP).
    pub fn has_capture_gaps(&self) -> bool {
        self.tcp
            .as_ref()
            .is_some_and(|t| !t.capture_gaps.is_empty())
    }

    /// The TCP resets of the flow (none for QUIC).
    pub fn resets(&self) -> &[ResetReport] {
        self.tcp.as_ref().map_or(&[], |t| t.resets.as_slice())
    }

    /// The server's slow answer, when the TCP analysis found one.
    pub fn slow_server(&self) -> Option<&SlowServerReport> {
        self.tcp.as_ref().and_then(|t| t.slow_server.as_ref())
    }

    /// The Wireshark display filter that shows this flow (in its capture): `tcp.stream eq N`,
    /// or `quic.connection.number == N`.
    pub fn wireshark_filter(&self) -> String {
        match (self.tcp_stream, &self.quic) {
            (Some(stream), _) => format!("tcp.stream eq {stream}"),
            (None, Some(quic)) => format!("quic.connection.number == {}", quic.connection_number),
            (None, None) => String::new(),
        }
    }

    /// True when the capture cut the ClientHello before its ALPN extension could be read:
    /// whether the client offered ALPN is unknown (an empty `alpn_offered` is not "none").
    pub fn offer_unknown(&self) -> bool {
        self.alpn_offered.is_empty() && self.client_hello.as_ref().is_some_and(|h| h.cut.is_some())
    }
}

/// An IP address and port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct EndpointReport {
    /// Address (a string in JSON).
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

impl fmt::Display for EndpointReport {
    /// `192.0.2.1:443`, or `[2001:db8::1]:443`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = crate::flow::Endpoint {
            ip: self.ip,
            port: self.port,
        };
        endpoint.fmt(f)
    }
}

/// The transport a flow ran over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// TLS over TCP.
    Tcp,
    /// QUIC (TLS inside QUIC CRYPTO frames, over UDP).
    Quic,
}
