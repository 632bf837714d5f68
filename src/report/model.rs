//! The report model: one set of serde types that every renderer reads. Field names are the JSON
//! contract (schema version 1) documented in the README; add fields, never rename them.

use crate::analysis::network::{CapturePoint, NetworkCause};
use crate::analysis::{Role, VerdictKind};
use crate::tls::preamble::ProxyKind;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

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

/// Version of the JSON schema.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The tool that made the report.
    pub tool: Tool,
    /// One entry per capture read.
    pub captures: Vec<CaptureReport>,
    /// Conclusions across flows, per server.
    pub diagnosis: Vec<Diagnosis>,
    /// Flows in order of their first frame.
    pub flows: Vec<FlowReport>,
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
    /// The server refused every offer with alert no_application_protocol.
    NoCommonProtocol,
    /// TLS 1.3 selections are encrypted: a key log would show them.
    NeedsKeys,
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
            DiagnosisKind::NoCommonProtocol => "no_common_protocol",
            DiagnosisKind::NeedsKeys => "needs_keys",
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
    /// Flows behind it.
    pub flows: Vec<u64>,
    /// Frames behind it (the first 32).
    pub evidence_frames: Vec<u64>,
}

/// What was read from one capture.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CaptureReport {
    /// Path as given (`-` for stdin).
    pub path: String,
    /// "pcap", "pcap-ns" or "pcapng".
    pub format: String,
    /// Link types, e.g. "ETHERNET (1)".
    pub link_types: Vec<String>,
    /// Largest snaplen declared.
    pub snaplen: u32,
    /// Packet blocks read.
    pub packets: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// File size in bytes (null for stdin).
    pub size: Option<u64>,
    /// SHA-256 of the file (Markdown reports only; null otherwise).
    pub sha256: Option<String>,
    /// First packet time (RFC 3339).
    pub first_time: Option<String>,
    /// Last packet time (RFC 3339).
    pub last_time: Option<String>,
    /// False when the file was cut off or corrupt.
    pub complete: bool,
    /// Problems with the file and frames that could not be decoded.
    pub warnings: Vec<String>,
    /// How the frames decoded.
    pub decode: DecodeCounts,
    /// The capture's own counters: libpcap's statistics of a live capture, or a pcapng file's
    /// Interface Statistics Blocks (null for pcap files and pcapng files without them).
    pub statistics: Option<CaptureStatistics>,
}

/// The capturer's own counters. Live, all three are libpcap's; a pcapng file fills those its
/// Interface Statistics Blocks record (the last block of each interface, summed over the
/// interfaces) and leaves the others null: `received` from `isb_ifrecv`, `dropped` from
/// `isb_osdrop`, `interface_dropped` from `isb_ifdrop` (where dumpcap puts libpcap's drops).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct CaptureStatistics {
    /// Packets received for the capture (live: by the kernel; file: `isb_ifrecv`).
    pub received: Option<u64>,
    /// Dropped by the operating system for lack of buffer space (live: the capture too slow;
    /// file: `isb_osdrop`).
    pub dropped: Option<u64>,
    /// Dropped by the interface or its driver (file: `isb_ifdrop`).
    pub interface_dropped: Option<u64>,
}

impl CaptureStatistics {
    /// Packets the capture itself dropped (OS and interface).
    pub fn total_dropped(&self) -> u64 {
        self.dropped
            .unwrap_or(0)
            .saturating_add(self.interface_dropped.unwrap_or(0))
    }
}

/// Frames by decoding outcome.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// TCP segments.
    pub tcp: u64,
    /// IP but not TCP.
    pub other_ip: u64,
    /// Not IP.
    pub not_ip: u64,
    /// IP fragments.
    pub fragments: u64,
    /// Datagrams reassembled from fragments.
    pub datagrams_reassembled: u64,
    /// Fragmented datagrams that could not be reassembled.
    pub datagrams_incomplete: u64,
    /// Malformed frames (lying lengths, bad headers), skipped.
    pub malformed: u64,
    /// Frames cut by the snaplen inside the headers.
    pub truncated_headers: u64,
    /// Frames whose payload the snaplen cut.
    pub truncated_payload: u64,
    /// Frames of an unsupported link type.
    pub unsupported_link: u64,
    /// Packets of new flows left out because the flow table was full.
    pub flows_not_tracked: u64,
}

/// An IP address and port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// TLS over TCP.
    Tcp,
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
    /// Decryption stopped at bytes of the client's stream missing from the capture (the records
    /// after a gap cannot be opened, whatever the keys).
    #[serde(rename = "decryption stopped at a gap in the client stream")]
    StoppedAtClientGap,
    /// Decryption stopped at bytes of the server's stream missing from the capture.
    #[serde(rename = "decryption stopped at a gap in the server stream")]
    StoppedAtServerGap,
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

/// One TCP flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// Report-wide flow number (0-based, in order of first frame).
    pub id: u64,
    /// Index into `captures`.
    pub capture: usize,
    /// Wireshark's `tcp.stream` index within its capture.
    pub tcp_stream: u64,
    /// The transport.
    pub transport: Transport,
    /// The connecting side.
    pub client: EndpointReport,
    /// The accepting side.
    pub server: EndpointReport,
    /// First frame of the flow (1-based).
    pub first_frame: u64,
    /// Last frame of the flow seen.
    pub last_frame: u64,
    /// Time of the first frame (RFC 3339, µs).
    pub start: String,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in order (escaped losslessly).
    pub alpn_offered: Vec<String>,
    /// The protocol the server selected, when known.
    pub alpn_selected: Option<String>,
    /// Where the selection was read, or null.
    pub alpn_source: Option<AlpnSource>,
    /// Negotiated TLS version ("1.0" … "1.3").
    pub tls_version: Option<String>,
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
    /// The ClientHello (the second one after a HelloRetryRequest).
    pub client_hello: Option<ClientHelloReport>,
    /// The ServerHello.
    pub server_hello: Option<ServerHelloReport>,
    /// TLS 1.3 EncryptedExtensions, when decrypted with a key log.
    pub encrypted_extensions: Option<EncryptedExtensionsReport>,
    /// The server certificate's names, when decrypted with a key log (TLS 1.3).
    pub server_certificate: Option<CertificateReport>,
    /// TLS 1.3 key-log outcome; null without a key log or TLS 1.3.
    pub decryption: Option<Decryption>,
    /// Alerts in order.
    pub alerts: Vec<AlertReport>,
    /// Proxy hop before TLS.
    pub proxy: Option<ProxyReport>,
    /// What the network did: timing, loss, resets.
    pub tcp: TcpReport,
    /// A sentence about loss in a handshake that got its ServerHello, or null.
    pub network: Option<String>,
    /// Reassembly gaps, caps hit, malformed data.
    pub notes: Vec<String>,
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

/// ClientHello details.
#[derive(Debug, Clone, Serialize)]
pub struct ClientHelloReport {
    /// Frames carrying the hello.
    pub frames: Vec<u64>,
    /// The 32-byte random in hex: the key a key log files this connection's secrets under.
    pub random: String,
    /// legacy_version, e.g. "1.2".
    pub legacy_version: String,
    /// supported_versions, e.g. ["1.3", "1.2"] (GREASE shown as hex).
    pub supported_versions: Vec<String>,
    /// Cipher suites as 4-digit hex, in order.
    pub cipher_suites: HexCodes,
    /// Extension types as 4-digit hex, in order.
    pub extensions: HexCodes,
    /// True when the ALPN list holds a GREASE value.
    pub alpn_grease: bool,
    /// What is wrong with the ALPN extension, if anything.
    pub alpn_malformed: Option<String>,
    /// JA4 fingerprint.
    pub ja4: String,
    /// True when this hello followed a HelloRetryRequest.
    pub after_hello_retry_request: bool,
}

/// ServerHello details.
#[derive(Debug, Clone, Serialize)]
pub struct ServerHelloReport {
    /// Frames carrying the hello.
    pub frames: Vec<u64>,
    /// Negotiated version.
    pub version: String,
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

/// Proxy hop.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyReport {
    /// Which proxy protocol.
    pub kind: ProxyKind,
    /// Target requested from the proxy.
    pub target: Option<String>,
}

/// Counts over all flows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// TLS flows.
    pub tls_flows: u64,
    /// TCP flows without TLS.
    pub non_tls_flows: u64,
    /// TLS flows per verdict (every verdict listed, zero included).
    pub verdicts: BTreeMap<&'static str, u64>,
    /// TLS flows per server, in order of first appearance.
    pub servers: Vec<ServerSummary>,
    /// TLS flows whose handshake lost or re-sent packets.
    pub handshake_loss_flows: u64,
    /// TLS flows with loss anywhere.
    pub loss_flows: u64,
    /// TLS flows with a RST.
    pub reset_flows: u64,
}

/// Flows to one server endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSummary {
    /// "ip:port" (`[ip]:port` for IPv6).
    pub server: String,
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

/// What the re-check of a flow reported live changed in its conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectedField {
    /// The verdict, or the network's part in a failed handshake.
    Verdict,
    /// The `network` finding appeared, changed its conclusion or went away.
    Network,
    /// `tcp.handshake_loss`.
    HandshakeLoss,
}

/// What a flow reported live had concluded, before its correction.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousConclusion {
    /// The verdict streamed.
    pub verdict: VerdictKind,
    /// Its sentence.
    pub detail: String,
    /// The network finding streamed.
    pub network: Option<String>,
    /// `tcp.handshake_loss` streamed.
    pub handshake_loss: bool,
}

/// A flow reported live before it left the flow table, whose conclusion changed when it was
/// checked again on leaving (a JSON line with `"type": "correction"`). The report at the end
/// holds `flow`, not the flow streamed first.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    /// The flow's `id`.
    pub id: u64,
    /// What changed, in this order: verdict, network, handshake_loss.
    pub changed: Vec<CorrectedField>,
    /// One sentence for a person.
    pub reason: String,
    /// What the flow streamed first had concluded.
    pub previous: PreviousConclusion,
    /// The flow as it is now.
    pub flow: FlowReport,
}
