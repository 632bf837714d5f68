//! What the report says across flows: conclusions per server (diagnosis) and counts over all
//! flows (summary).

use super::{EndpointReport, Transport};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a cross-flow conclusion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisKind {
    /// The server never negotiates ALPN.
    ServerWithoutAlpn,
    /// The server negotiates ALPN but never h2, although clients offer it.
    ServerWithoutH2,
    /// The clients are at fault: some offer h2, some do not; or they send plain HTTP to a
    /// TLS port.
    ClientSide,
    /// The same offer gets different answers from the server.
    InconsistentServer,
    /// The answer depends on the path (a proxy in some paths).
    Path,
    /// Certificates from different issuers: TLS interception.
    Interception,
    /// Handshakes failed on loss or resets, not on configuration.
    Network,
    /// The server violates RFC 7301.
    ServerBug,
    /// The server selects h2 with a TLS 1.2 cipher suite HTTP/2 forbids (RFC 9113 §9.2.2).
    H2ForbiddenCipher,
    /// The server answered with NPN, the mechanism before ALPN, and no ALPN extension.
    ServerNpnOnly,
    /// Clients ranked http/1.1 above h2 and got http/1.1, their own first choice.
    ClientPrefersHttp1,
    /// The server refused every offer with alert no_application_protocol.
    NoCommonProtocol,
    /// TLS 1.3 selections are encrypted: a key log would show them.
    NeedsKeys,
    /// A client's QUIC Initials went unanswered and it then connected to the same server over
    /// TCP: HTTP/3 failed and the client fell back.
    QuicFallback,
    /// One address, port and SNI reached over QUIC and over TCP: one transport gets a protocol
    /// selected, the other never does.
    TransportsDiffer,
    /// A DNS HTTPS record (RFC 9460) advertised a protocol the clients offered, and the server
    /// did not negotiate it (or its QUIC port did not answer).
    DnsAdvertisedNotNegotiated,
}

impl DiagnosisKind {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            DiagnosisKind::ServerWithoutAlpn => "server_without_alpn",
            DiagnosisKind::ServerWithoutH2 => "server_without_h2",
            DiagnosisKind::ClientSide => "client_side",
            DiagnosisKind::InconsistentServer => "inconsistent_server",
            DiagnosisKind::Path => "path",
            DiagnosisKind::Interception => "interception",
            DiagnosisKind::Network => "network",
            DiagnosisKind::ServerBug => "server_bug",
            DiagnosisKind::H2ForbiddenCipher => "h2_forbidden_cipher",
            DiagnosisKind::ServerNpnOnly => "server_npn_only",
            DiagnosisKind::ClientPrefersHttp1 => "client_prefers_http1",
            DiagnosisKind::NoCommonProtocol => "no_common_protocol",
            DiagnosisKind::NeedsKeys => "needs_keys",
            DiagnosisKind::QuicFallback => "quic_fallback",
            DiagnosisKind::TransportsDiffer => "transports_differ",
            DiagnosisKind::DnsAdvertisedNotNegotiated => "dns_advertised_not_negotiated",
        }
    }
}

impl std::fmt::Display for DiagnosisKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A conclusion across the flows to one server.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// What kind of conclusion.
    pub kind: DiagnosisKind,
    /// The server (SNI and address, or address).
    pub server: String,
    /// One sentence.
    pub conclusion: String,
    /// Flows behind it: the smallest ids, at most
    /// [`crate::report::diagnosis::MAX_DIAGNOSIS_FLOWS`].
    pub flows: Vec<u64>,
    /// Flows behind it beyond those listed in `flows` (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub flows_omitted: u64,
    /// Frames behind it (the first 32).
    pub evidence_frames: Vec<u64>,
    /// The smallest 32 evidence frames of its flows in each capture (frame numbers restart in
    /// every capture), by capture index; not in JSON.
    #[serde(skip)]
    pub evidence_by_capture: Vec<(usize, Vec<u64>)>,
}

/// For `skip_serializing_if`: absent when zero.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts over all flows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// TLS flows (over TCP and over QUIC).
    pub tls_flows: u64,
    /// Of the TLS flows, those over QUIC (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub quic_flows: u64,
    /// TCP flows without TLS.
    pub non_tls_flows: u64,
    /// TLS flows per verdict (every verdict listed, zero included).
    pub verdicts: BTreeMap<&'static str, u64>,
    /// TLS flows per server and transport, in order of first appearance.
    pub servers: Vec<ServerSummary>,
    /// TLS flows whose handshake lost or re-sent packets.
    pub handshake_loss_flows: u64,
    /// TLS flows with loss anywhere.
    pub loss_flows: u64,
    /// TLS flows with a RST.
    pub reset_flows: u64,
    /// Listed flows whose server refused to start TLS after a plaintext start, or whose
    /// greeting did not offer it (a MySQL server without CLIENT_SSL): no TLS handshake took
    /// place, so they count in none of the TLS counts (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub starttls_refused_flows: u64,
    /// TLS flows to servers beyond those listed in `servers` (absent when none; see
    /// [`crate::report::summary::MAX_SUMMARY_SERVERS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub servers_omitted: u64,
}

/// Flows to one server endpoint over one transport: a QUIC listener and a TCP listener on one
/// address and port are two servers (configured apart; one may work while the other does not).
#[derive(Debug, Clone, Serialize)]
pub struct ServerSummary {
    /// "ip:port" (`[ip]:port` for IPv6).
    pub server: String,
    /// TCP or QUIC.
    pub transport: Transport,
    /// The same endpoint, typed (not in JSON).
    #[serde(skip)]
    pub endpoint: EndpointReport,
    /// SNI values seen, in order.
    pub sni: Vec<String>,
    /// Flow count.
    pub flows: u64,
    /// Flows per verdict (non-zero only).
    pub verdicts: BTreeMap<&'static str, u64>,
}

impl ServerSummary {
    /// `127.0.0.1:443`, or `127.0.0.1:443 over QUIC` (as the diagnosis names a QUIC server).
    pub fn label(&self) -> String {
        match self.transport {
            Transport::Tcp => self.server.clone(),
            Transport::Quic => format!("{} over QUIC", self.server),
        }
    }
}
