//! `--format ecs`: the report as Elastic Common Schema documents, one JSON document per line,
//! for Elasticsearch, OpenSearch and the shippers in front of them (Filebeat, Vector, Fluent Bit).
//!
//! Takes the report model (already filtered and redacted); emits, like JSON Lines, one document
//! per flow as the flow arrives, then at the end one document per capture, one per diagnosis
//! finding and one summary. The fields ECS defines (version [`ECS_VERSION`]) carry the values
//! ECS describes — `@timestamp`, `event.*`, `source.*`, `destination.*`, `network.*`, `tls.*`;
//! everything ECS has no field for stays under `alpnscope`, with the names and shapes of the
//! JSON report (`alpnscope.verdict` is the flow's `verdict`). A field whose value the packets do
//! not prove is left out, never guessed (`network.protocol` without an ALPN selection or a
//! STARTTLS protocol, `tls.established` where the handshake's end was not seen).
//!
//! Wire types are kept apart from the report model and borrow from it: rendering a flow
//! allocates only its cipher-suite names.

use super::model::{
    AlertLevel, CaptureReport, Correction, Diagnosis, DnsHttpsReport, FlowReport, Report,
    ServiceRecordType, Summary, Tool, Transport,
};
use crate::analysis::VerdictKind;
use serde::Serialize;
use std::io::{self, Write};
use std::net::IpAddr;

/// The ECS release whose field definitions these documents follow (`ecs.version`); the fields
/// used and their types are listed, from that release's `generated/ecs/ecs_flat.yml`, in
/// `tests/data/ecs-fields.json`.
pub const ECS_VERSION: &str = "9.4.0";

/// `event.module`, and the prefix of every `event.dataset`.
const MODULE: &str = "alpnscope";

/// A flow document.
#[derive(Serialize)]
struct FlowDoc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: &'a str,
    ecs: EcsVersion,
    /// The verdict's sentence, the field Kibana's Discover shows first.
    message: &'a str,
    event: Event,
    source: Endpoint,
    destination: Endpoint,
    network: Network<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls<'a>>,
    alpnscope: FlowExtra<'a>,
}

/// `ecs.version`.
#[derive(Serialize)]
struct EcsVersion {
    version: &'static str,
}

const ECS: EcsVersion = EcsVersion {
    version: ECS_VERSION,
};

/// `event.*`: the four categorization fields, the dataset and module.
#[derive(Serialize)]
struct Event {
    kind: &'static str,
    category: [&'static str; 1],
    #[serde(rename = "type")]
    types: &'static [&'static str],
    dataset: &'static str,
    module: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
}

/// `source.*` / `destination.*`.
#[derive(Serialize)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

/// `network.*`.
#[derive(Serialize)]
struct Network<'a> {
    /// "tcp", or "udp" for QUIC (ECS: the IANA transport name).
    transport: &'static str,
    /// "ipv4" or "ipv6".
    #[serde(rename = "type")]
    ip_type: &'static str,
    /// "6" or "17" (a keyword in ECS).
    iana_number: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    community_id: &'a str,
}

/// `tls.*`.
#[derive(Serialize)]
struct Tls<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_protocol: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_protocol: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    established: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<TlsClient<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<TlsServer<'a>>,
}

/// `tls.client.*`.
#[derive(Serialize)]
struct TlsClient<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    server_name: Option<&'a str>,
    supported_ciphers: Vec<String>,
}

/// `tls.server.*`: the certificate's names, when a key log decrypted it.
#[derive(Serialize)]
struct TlsServer<'a> {
    x509: X509<'a>,
}

/// `tls.server.x509.*`.
#[derive(Serialize)]
struct X509<'a> {
    subject: DistinguishedName<'a>,
    issuer: DistinguishedName<'a>,
    /// The subjectAltName entries without the report's `DNS:` / `IP:` tags (ECS lists bare
    /// names and addresses: `*.elastic.co`).
    alternative_names: Vec<&'a str>,
}

/// `….subject` / `….issuer`.
#[derive(Serialize)]
struct DistinguishedName<'a> {
    distinguished_name: &'a str,
}

/// `alpnscope.*` of a flow: the flow's JSON fields that ECS has no field for, named as in the
/// JSON report. Left out because ECS carries them as they are: `client`, `server` (`source`,
/// `destination`), `start` (`@timestamp`), `sni` (`tls.client.server_name`), `alpn_selected`
/// (`tls.next_protocol`) and `community_id` (`network.community_id`).
#[derive(Serialize)]
struct FlowExtra<'a> {
    id: u64,
    capture: usize,
    tcp_stream: Option<u64>,
    transport: Transport,
    first_frame: u64,
    last_frame: u64,
    tls_version: &'a Option<std::borrow::Cow<'static, str>>,
    alpn_offered: &'a [String],
    alpn_source: &'a Option<super::model::AlpnSource>,
    verdict: VerdictKind,
    detail: &'a str,
    evidence_frames: &'a [u64],
    client_hello: &'a Option<super::model::ClientHelloReport>,
    server_hello: &'a Option<super::model::ServerHelloReport>,
    encrypted_extensions: &'a Option<Box<super::model::EncryptedExtensionsReport>>,
    server_certificate: &'a Option<Box<super::model::CertificateReport>>,
    decryption: &'a Option<super::model::Decryption>,
    alerts: &'a [super::model::AlertReport],
    proxy: &'a Option<Box<super::model::ProxyReport>>,
    starttls: &'a Option<Box<super::model::StartTlsReport>>,
    tcp: &'a Option<Box<super::model::TcpReport>>,
    quic: &'a Option<Box<super::model::QuicReport>>,
    network: &'a Option<String>,
    notes: &'a [String],
    /// Live only: this document corrects the flow's earlier one.
    #[serde(skip_serializing_if = "Option::is_none")]
    correction: Option<CorrectionExtra<'a>>,
}

/// `alpnscope.correction` (live): what changed since the flow's first document.
#[derive(Serialize)]
struct CorrectionExtra<'a> {
    changed: &'a [super::model::CorrectedField],
    reason: &'a str,
    previous: &'a super::model::PreviousConclusion,
}

/// A document at the end of the report: a capture, a diagnosis finding or the summary.
#[derive(Serialize)]
struct EndDoc<'a, T: Serialize> {
    #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    ecs: EcsVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    event: Event,
    alpnscope: T,
}

/// `alpnscope.capture`, the capture's index as a flow's `alpnscope.capture` has it (one field,
/// one type in every document: an index maps a name once), and `alpnscope.capture_file`, the
/// capture's JSON object.
#[derive(Serialize)]
struct CaptureExtra<'a> {
    capture: usize,
    capture_file: &'a CaptureReport,
}

/// A DNS HTTPS or SVCB record's document: ECS `dns.*` for the answer, the record's JSON object
/// under `alpnscope.dns_https`.
#[derive(Serialize)]
struct DnsDoc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: &'a str,
    ecs: EcsVersion,
    message: String,
    event: Event,
    dns: Dns<'a>,
    alpnscope: DnsExtra<'a>,
}

/// `dns.*`: an answer (ECS: one event with the question and its answers).
#[derive(Serialize)]
struct Dns<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    question: DnsQuestion<'a>,
    answers: [DnsAnswer<'a>; 1],
}

/// `dns.question.*`.
#[derive(Serialize)]
struct DnsQuestion<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    rtype: &'static str,
}

/// One of `dns.answers`.
#[derive(Serialize)]
struct DnsAnswer<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    rtype: &'static str,
    /// The record's data in RFC 9460's presentation form (`1 . alpn=h2,h3 port=8443`; `ech`
    /// without its value, which is not kept).
    data: String,
}

/// `alpnscope.capture` and `alpnscope.dns_https`, the record's JSON object.
#[derive(Serialize)]
struct DnsExtra<'a> {
    capture: usize,
    dns_https: &'a DnsHttpsReport,
}

/// The record's data in RFC 9460's presentation form, as far as it is kept.
fn svcb_data(record: &DnsHttpsReport) -> String {
    let mut data = format!("{} {}", record.priority, record.target);
    if !record.alpn.is_empty() {
        data.push_str(&format!(" alpn={}", record.alpn.join(",")));
    }
    if record.no_default_alpn {
        data.push_str(" no-default-alpn");
    }
    if let Some(port) = record.port {
        data.push_str(&format!(" port={port}"));
    }
    if record.ech {
        data.push_str(" ech");
    }
    if !record.ipv4hint.is_empty() {
        data.push_str(&format!(" ipv4hint={}", record.ipv4hint.join(",")));
    }
    if !record.ipv6hint.is_empty() {
        data.push_str(&format!(" ipv6hint={}", record.ipv6hint.join(",")));
    }
    data
}

/// The document of one DNS HTTPS or SVCB record.
fn dns_doc(record: &DnsHttpsReport) -> DnsDoc<'_> {
    let rtype = match record.rtype {
        ServiceRecordType::Https => "HTTPS",
        ServiceRecordType::Svcb => "SVCB",
    };
    DnsDoc {
        timestamp: &record.time,
        ecs: ECS,
        message: record.describe(),
        event: Event {
            kind: "event",
            category: ["network"],
            types: &["protocol"],
            dataset: "alpnscope.dns_https",
            module: MODULE,
            outcome: None,
        },
        dns: Dns {
            kind: "answer",
            question: DnsQuestion {
                name: record.query.as_deref().unwrap_or(&record.name),
                rtype,
            },
            answers: [DnsAnswer {
                name: &record.name,
                rtype,
                data: svcb_data(record),
            }],
        },
        alpnscope: DnsExtra {
            capture: record.capture,
            dns_https: record,
        },
    }
}

/// `alpnscope.diagnosis`.
#[derive(Serialize)]
struct DiagnosisExtra<'a> {
    diagnosis: &'a Diagnosis,
}

/// `alpnscope.summary` and `alpnscope.tool`.
#[derive(Serialize)]
struct SummaryExtra<'a> {
    schema_version: u32,
    tool: &'a Tool,
    summary: &'a Summary,
}

/// Appends the ECS document of `flow` and a newline to `out`.
pub fn flow_line(flow: &FlowReport, out: &mut Vec<u8>) -> io::Result<()> {
    write_flow(flow, None, out)
}

/// Writes the ECS document of a corrected flow (live): the flow as it is now, with
/// `alpnscope.correction`.
pub fn correction_line(correction: &Correction, out: &mut dyn Write) -> io::Result<()> {
    let mut line = Vec::new();
    write_flow(&correction.flow, Some(correction), &mut line)?;
    out.write_all(&line)?;
    out.flush()
}

fn write_flow(
    flow: &FlowReport,
    correction: Option<&Correction>,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let doc = FlowDoc {
        timestamp: &flow.start,
        ecs: ECS,
        message: &flow.detail,
        event: flow_event(flow),
        source: Endpoint {
            ip: flow.client.ip,
            port: flow.client.port,
        },
        destination: Endpoint {
            ip: flow.server.ip,
            port: flow.server.port,
        },
        network: Network {
            transport: match flow.transport {
                Transport::Tcp => "tcp",
                Transport::Quic => "udp",
            },
            ip_type: if flow.client.ip.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            iana_number: match flow.transport {
                Transport::Tcp => "6",
                Transport::Quic => "17",
            },
            protocol: application_protocol(flow),
            community_id: &flow.community_id,
        },
        tls: tls(flow),
        alpnscope: FlowExtra {
            id: flow.id,
            capture: flow.capture,
            tcp_stream: flow.tcp_stream,
            transport: flow.transport,
            first_frame: flow.first_frame,
            last_frame: flow.last_frame,
            tls_version: &flow.tls_version,
            alpn_offered: &flow.alpn_offered,
            alpn_source: &flow.alpn_source,
            verdict: flow.verdict,
            detail: &flow.detail,
            evidence_frames: &flow.evidence_frames,
            client_hello: &flow.client_hello,
            server_hello: &flow.server_hello,
            encrypted_extensions: &flow.encrypted_extensions,
            server_certificate: &flow.server_certificate,
            decryption: &flow.decryption,
            alerts: &flow.alerts,
            proxy: &flow.proxy,
            starttls: &flow.starttls,
            tcp: &flow.tcp,
            quic: &flow.quic,
            network: &flow.network,
            notes: &flow.notes,
            correction: correction.map(|c| CorrectionExtra {
                changed: &c.changed,
                reason: &c.reason,
                previous: &c.previous,
            }),
        },
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::from)?;
    out.push(b'\n');
    Ok(())
}

/// True when the flow carried a TLS handshake (not `not_tls`, not a refused STARTTLS).
fn is_tls(flow: &FlowReport) -> bool {
    flow.verdict != VerdictKind::NotTls && !flow.starttls.as_ref().is_some_and(|s| s.without_tls())
}

/// `event.*` of a flow: an event of category network, type connection (and protocol when it
/// carried a TLS handshake), with an outcome where the verdict decides one.
fn flow_event(flow: &FlowReport) -> Event {
    Event {
        kind: "event",
        category: ["network"],
        types: if is_tls(flow) {
            &["connection", "protocol"]
        } else {
            &["connection"]
        },
        dataset: "alpnscope.flow",
        module: MODULE,
        outcome: outcome(flow.verdict),
    }
}

/// `event.outcome` of the ALPN negotiation: success when the server selected a protocol the
/// client offered, failure when the negotiation broke (no common protocol, a selection the
/// client never offered), unknown when the packets cannot tell (the selection is encrypted, no
/// ServerHello was captured). Absent where neither fits: the client sent no ALPN, the server
/// ignored it (the connection may well have worked without ALPN), or the flow is not TLS.
fn outcome(verdict: VerdictKind) -> Option<&'static str> {
    match verdict {
        VerdictKind::Agreed | VerdictKind::Downgraded => Some("success"),
        VerdictKind::NoCommonProtocol | VerdictKind::SelectedUnoffered => Some("failure"),
        VerdictKind::Hidden | VerdictKind::Incomplete => Some("unknown"),
        VerdictKind::ServerDeclined | VerdictKind::NotOffered | VerdictKind::NotTls => None,
    }
}

/// `network.protocol`: the application protocol, lowercase, as ECS names it (`http`, `dns`):
/// from the selected ALPN identifier (IANA's registry), else from the plaintext protocol that
/// started TLS (STARTTLS), else `http` for a client that sent a plain HTTP request to a TLS
/// port. Never from the port.
fn application_protocol(flow: &FlowReport) -> Option<&'static str> {
    if let Some(selected) = &flow.alpn_selected {
        return alpn_application(selected);
    }
    if flow.plain_http_to_tls_port {
        return Some("http");
    }
    flow.starttls
        .as_ref()
        .and_then(|s| s.protocol)
        .map(|p| p.name())
}

/// The application protocol of an ALPN identifier of IANA's registry ("TLS Application-Layer
/// Protocol Negotiation (ALPN) Protocol IDs"); None for identifiers that name no application
/// protocol ECS would list (`acme-tls/1`) or that alpnscope does not know.
fn alpn_application(id: &str) -> Option<&'static str> {
    Some(match id {
        "http/0.9" | "http/1.0" | "http/1.1" | "h2" | "h2c" | "h3" | "spdy/1" | "spdy/2"
        | "spdy/3" | "spdy/3.1" | "hq-interop" => "http",
        // HTTP/3 drafts (h3-29 …) and QUIC's HTTP/0.9 drafts (hq-29 …).
        _ if id.starts_with("h3-") || id.starts_with("hq-") => "http",
        "dot" | "doq" => "dns",
        "imap" => "imap",
        "pop3" => "pop3",
        "ftp" => "ftp",
        "managesieve" => "managesieve",
        "xmpp-client" | "xmpp-server" => "xmpp",
        "stun.turn" | "stun.nat-discovery" => "stun",
        "webrtc" | "c-webrtc" => "webrtc",
        "coap" => "coap",
        "mqtt" => "mqtt",
        "smb" => "smb",
        "irc" => "irc",
        "nntp" | "nnsp" => "nntp",
        "sunrpc" => "sunrpc",
        "postgresql" => "postgresql",
        "sip/2" => "sip",
        "tds/8.0" => "tds",
        "radius/1.0" | "radius/1.1" => "radius",
        _ => return None,
    })
}

/// `tls.*`, or None for a flow without a TLS handshake.
fn tls(flow: &FlowReport) -> Option<Tls<'_>> {
    if !is_tls(flow) {
        return None;
    }
    let (version, version_protocol) = match flow.tls_version.as_deref() {
        Some("SSL 3.0") => (Some("3.0"), Some("ssl")),
        Some("1.0") => (Some("1.0"), Some("tls")),
        Some("1.1") => (Some("1.1"), Some("tls")),
        Some("1.2") => (Some("1.2"), Some("tls")),
        Some("1.3") => (Some("1.3"), Some("tls")),
        // A TLS 1.3 draft or experiment is not "1.3" (alpnscope.tls_version names it).
        _ => (None, None),
    };
    Some(Tls {
        version,
        version_protocol,
        cipher: flow.server_hello.as_ref().map(|h| h.cipher_suite.as_str()),
        next_protocol: flow.alpn_selected.as_deref(),
        established: established(flow),
        client: flow.client_hello.as_ref().map(|h| TlsClient {
            server_name: flow.sni.as_deref(),
            supported_ciphers: h.cipher_suites.0.iter().map(|&c| cipher_name(c)).collect(),
        }),
        server: flow.server_certificate.as_ref().map(|c| TlsServer {
            x509: X509 {
                subject: DistinguishedName {
                    distinguished_name: &c.subject,
                },
                issuer: DistinguishedName {
                    distinguished_name: &c.issuer,
                },
                alternative_names: c
                    .san
                    .iter()
                    .map(|name| {
                        name.strip_prefix("DNS:")
                            .or_else(|| name.strip_prefix("IP:"))
                            .unwrap_or(name)
                    })
                    .collect(),
            },
        }),
    })
}

/// A cipher suite's IANA name, or `0x….` for a code without one (GREASE, private use), as
/// the JSON report's `server_hello.cipher_suite` writes it.
fn cipher_name(code: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(code)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{code:04x}"))
}

/// `tls.established`, only where the packets prove it. True for TLS 1.2 and older when the
/// server's ChangeCipherSpec ended the handshake (it has accepted the client's Finished) and no
/// alert was seen, not even an encrypted one. Never true for TLS 1.3: the client's Finished is
/// the last handshake message, and a server that then refuses (`certificate_required`) says so
/// in a record protected with traffic keys alpnscope never derives — indistinguishable from
/// application data (`tls13-alert-after-sh.pcap`). False when a fatal alert, or a QUIC
/// CONNECTION_CLOSE carrying one, came before the handshake ended. Absent otherwise.
fn established(flow: &FlowReport) -> Option<bool> {
    let ended = flow
        .tcp
        .as_ref()
        .is_some_and(|t| t.handshake_end_frame.is_some());
    if ended {
        let before_tls13 = matches!(
            flow.tls_version.as_deref(),
            Some("SSL 3.0" | "1.0" | "1.1" | "1.2")
        );
        return (before_tls13 && flow.alerts.is_empty()).then_some(true);
    }
    let fatal = flow.alerts.iter().any(|a| a.level == AlertLevel::Fatal);
    (fatal || flow.verdict == VerdictKind::NoCommonProtocol).then_some(false)
}

/// Writes the documents that end the report: one per capture, one per DNS HTTPS or SVCB
/// record, one per diagnosis finding, and the summary. A capture's `@timestamp` is its first packet's time; the diagnosis and summary
/// carry the last packet time of all captures (absent when no capture held a packet).
pub fn render_end(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut line = Vec::new();
    for (index, capture) in report.captures.iter().enumerate() {
        let doc = EndDoc {
            timestamp: capture.first_time.as_deref(),
            ecs: ECS,
            message: None,
            event: Event {
                kind: "event",
                category: ["network"],
                types: &["info"],
                dataset: "alpnscope.capture",
                module: MODULE,
                outcome: None,
            },
            alpnscope: CaptureExtra {
                capture: index,
                capture_file: capture,
            },
        };
        push_line(&doc, &mut line)?;
    }
    for record in &report.dns_https {
        push_line(&dns_doc(record), &mut line)?;
    }
    // RFC 3339 times with the same precision, all in UTC: the string order is the time order.
    let last = report
        .captures
        .iter()
        .filter_map(|c| c.last_time.as_deref())
        .max();
    for diagnosis in &report.diagnosis {
        let doc = EndDoc {
            timestamp: last,
            ecs: ECS,
            message: Some(&diagnosis.conclusion),
            event: Event {
                kind: "event",
                category: ["network"],
                types: &["info"],
                dataset: "alpnscope.diagnosis",
                module: MODULE,
                outcome: None,
            },
            alpnscope: DiagnosisExtra { diagnosis },
        };
        push_line(&doc, &mut line)?;
    }
    let doc = EndDoc {
        timestamp: last,
        ecs: ECS,
        message: None,
        event: Event {
            kind: "metric",
            category: ["network"],
            types: &["info"],
            dataset: "alpnscope.summary",
            module: MODULE,
            outcome: None,
        },
        alpnscope: SummaryExtra {
            schema_version: report.schema_version,
            tool: &report.tool,
            summary: &report.summary,
        },
    };
    push_line(&doc, &mut line)?;
    out.write_all(&line)?;
    out.flush()
}

fn push_line<T: Serialize>(doc: &T, line: &mut Vec<u8>) -> io::Result<()> {
    serde_json::to_writer(&mut *line, doc).map_err(io::Error::from)?;
    line.push(b'\n');
    Ok(())
}

/// The whole report: its flows, then [`render_end`]'s documents.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut line = Vec::new();
    for flow in &report.flows {
        line.clear();
        flow_line(flow, &mut line)?;
        out.write_all(&line)?;
    }
    render_end(report, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_identifiers_map_to_ecs_application_protocols() {
        for (id, expected) in [
            ("h2", Some("http")),
            ("http/1.1", Some("http")),
            ("h3", Some("http")),
            ("h3-29", Some("http")),
            ("dot", Some("dns")),
            ("xmpp-client", Some("xmpp")),
            ("postgresql", Some("postgresql")),
            ("acme-tls/1", None),
            ("H2", None),
            ("\\x00", None),
        ] {
            assert_eq!(alpn_application(id), expected, "{id}");
        }
    }

    #[test]
    fn outcome_follows_the_verdict() {
        let names: Vec<(&str, Option<&str>)> = VerdictKind::ALL
            .iter()
            .map(|v| (v.name(), outcome(*v)))
            .collect();
        assert_eq!(
            names,
            [
                ("agreed", Some("success")),
                ("downgraded", Some("success")),
                ("server_declined", None),
                ("no_common_protocol", Some("failure")),
                ("selected_unoffered", Some("failure")),
                ("not_offered", None),
                ("hidden", Some("unknown")),
                ("incomplete", Some("unknown")),
                ("not_tls", None),
            ]
        );
    }
}
