//! Flow reports from facts: [`flow_report`] turns one flow's [`FlowFacts`] and its verdict into
//! the [`FlowReport`] every renderer reads. It reads nothing but the facts, so a TCP connection
//! and any other transport that produces facts are reported alike.

use super::model::*;
use crate::analysis::{self, FlowFacts, KeyStatus, Role, Verdict};
use crate::capture::{CaptureSummary, LinkType};
use crate::flow::{Anomaly, Endpoint, Side};
use crate::tls::decrypt::DecryptError;
use crate::tls::hello::version_name;
use crate::tls::{ClientHello, ServerHello, StreamFault, TlsVersion, ja4};
use std::collections::BTreeMap;

/// Where a flow report belongs: its capture and its report-wide id.
#[derive(Debug, Clone, Copy)]
pub struct FlowPlace {
    /// Index of the capture.
    pub capture: usize,
    /// Flow ids of earlier captures: the id is `stream_base` plus the flow's index in its
    /// capture.
    pub stream_base: u64,
}

/// The report of one HTTPS or SVCB record answered in frame `frame` of capture `capture`.
pub fn dns_https_report(
    capture: usize,
    frame: u64,
    time: crate::capture::Timestamp,
    record: &crate::dns::ServiceRecord,
) -> DnsHttpsReport {
    let p = &record.params;
    DnsHttpsReport {
        capture,
        frame,
        time: time.rfc3339_micros(),
        rtype: if record.rtype == crate::dns::RecordType::SVCB {
            ServiceRecordType::Svcb
        } else {
            ServiceRecordType::Https
        },
        name: record.owner.0.clone(),
        query: (record.query.folded() != record.owner.folded()).then(|| record.query.0.clone()),
        priority: record.priority,
        target: record.target.0.clone(),
        alpn: p.alpn.iter().map(|a| a.escaped()).collect(),
        no_default_alpn: p.no_default_alpn,
        port: p.port,
        ech: p.ech,
        ipv4hint: p.ipv4hint.iter().map(|a| a.to_string()).collect(),
        ipv6hint: p.ipv6hint.iter().map(|a| a.to_string()).collect(),
        notes: p.notes.iter().map(|n| n.to_string()).collect(),
    }
}

fn endpoint_report(e: Endpoint) -> EndpointReport {
    EndpointReport {
        ip: e.ip,
        port: e.port,
    }
}

/// The report of one flow, from its facts and verdict.
pub fn flow_report(facts: &FlowFacts, verdict: Verdict, place: FlowPlace) -> FlowReport {
    let ch = facts.client_hello();
    let sh = facts.server_hello();
    let ee_alpn = facts
        .encrypted_extensions
        .as_ref()
        .and_then(|(alpn, _)| alpn.as_ref());
    let (selected_list, alpn_source) = match (sh.and_then(|(h, _)| h.alpn.as_ref()), ee_alpn) {
        (Some(a), _) => (Some(a), Some(AlpnSource::ServerHello)),
        (None, Some(a)) => (Some(a), Some(AlpnSource::EncryptedExtensions)),
        (None, None) => (None, None),
    };
    let alpn_selected = selected_list
        .and_then(|a| a.protocols.first())
        .map(|p| p.escaped());
    let alpn_source = alpn_selected.as_ref().and(alpn_source);
    let alpn_selected_for_notes = alpn_selected.clone();
    let view = analysis::network::assess(facts);
    let mut report = FlowReport {
        id: place.stream_base + facts.index,
        capture: place.capture,
        tcp_stream: facts.tcp_stream,
        transport: if facts.quic.is_some() {
            Transport::Quic
        } else {
            Transport::Tcp
        },
        client: endpoint_report(facts.client),
        server: endpoint_report(facts.server),
        community_id: String::new(),
        first_frame: facts.first_frame,
        last_frame: facts.last_frame,
        start: facts.first_time.rfc3339_micros(),
        // The first ClientHello's (a HelloRetryRequest makes the client send a second).
        client_hello_time: facts
            .client_hellos
            .first()
            .and_then(|(_, frames)| frames.first())
            .and_then(|first| frame_time(facts, *first)),
        sni: ch.and_then(|(h, _)| h.sni.clone()),
        alpn_offered: ch
            .map(|(h, _)| h.offered().iter().map(|p| p.escaped()).collect())
            .unwrap_or_default(),
        alpn_source,
        alpn_selected,
        tls_version: sh.map(|(h, _)| version_name(h.version())),
        verdict: verdict.kind,
        detail: verdict.detail,
        evidence_frames: verdict.evidence_frames,
        network_cause: verdict.network_cause,
        plain_http_to_tls_port: verdict.plain_http_to_tls_port,
        application: analysis::Application::of(facts),
        client_hello: ch.map(|(h, frames)| client_hello_report(facts, h, frames)),
        server_hello: sh.map(|(h, frames)| server_hello_report(facts, h, frames)),
        encrypted_extensions: facts.encrypted_extensions.as_ref().map(|(alpn, frames)| {
            Box::new(EncryptedExtensionsReport {
                frames: frames.clone(),
                alpn: alpn
                    .as_ref()
                    .map(|a| a.protocols.iter().map(|p| p.escaped()).collect()),
            })
        }),
        server_certificate: facts.server_certificate.as_ref().map(|(names, frames)| {
            Box::new(CertificateReport {
                subject: names.subject.clone(),
                issuer: names.issuer.clone(),
                san: names.san.clone(),
                frames: frames.clone(),
            })
        }),
        decryption: decryption(facts),
        alerts: alerts(facts),
        proxy: facts.proxy.as_ref().map(|(kind, target)| {
            Box::new(ProxyReport {
                kind: *kind,
                target: target.clone(),
            })
        }),
        starttls: facts.starttls.as_ref().and_then(|s| {
            let outcome = s.outcome(facts.server_hello().is_some())?;
            let found = outcome == crate::analysis::StartTlsOutcome::AfterUnknownPlaintext;
            Some(Box::new(StartTlsReport {
                protocol: s.protocol,
                command: s.command.as_ref().map(|(c, _)| c.clone()),
                frame: s.command.as_ref().map(|(_, f)| *f).or(s.found_hello[0]),
                reply_frame: if found {
                    s.found_hello[1]
                } else {
                    s.reply_frame
                },
                outcome,
            }))
        }),
        tcp: facts
            .quic
            .is_none()
            .then(|| Box::new(tcp_report(facts, &view))),
        quic: facts
            .quic
            .as_ref()
            .map(|q| Box::new(super::quic::quic_report(facts, q))),
        network: view.finding.clone(),
        dns_advertised: None,
        notes: notes(facts, alpn_selected_for_notes.as_deref()),
    };
    report.community_id = super::community_id::of_flow(&report);
    if let Some(caveat) = filter_caveat(facts, report.verdict) {
        report.detail.push_str(&caveat);
    }
    report
}

/// What the capture filter took from a flow, in words: "3 from the client, 7 from the server".
fn filter_dropped_words(facts: &FlowFacts) -> Option<String> {
    let [client, server] = facts.filter_dropped;
    let part = |n: u64, who: &str| (n > 0).then(|| format!("{n} from the {who}"));
    let parts: Vec<String> = [part(client, "client"), part(server, "server")]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// For a flow whose verdict is not `agreed`, when the capture filter dropped some of its
/// packets: the sentence that says the missing piece may be among them, so that a ServerHello
/// the filter took is not taken for one the server never sent.
fn filter_caveat(facts: &FlowFacts, verdict: crate::analysis::VerdictKind) -> Option<String> {
    use crate::analysis::VerdictKind;
    if matches!(verdict, VerdictKind::Agreed | VerdictKind::NotTls) {
        return None;
    }
    let words = filter_dropped_words(facts)?;
    Some(format!(
        " — but the capture filter dropped packets of this connection ({words}): what is missing may be among them"
    ))
}

/// The time of `frame`, when it is the flow's first or in its TCP handshake window (a QUIC
/// flow keeps no frame times: its ClientHello is usually in its first datagram).
fn frame_time(facts: &FlowFacts, frame: u64) -> Option<crate::capture::Timestamp> {
    if frame == facts.first_frame {
        return Some(facts.first_time);
    }
    facts
        .frame_times
        .iter()
        .find(|(number, _)| *number == frame)
        .map(|(_, time)| *time)
}

fn client_hello_report(facts: &FlowFacts, h: &ClientHello, frames: &[u64]) -> ClientHelloReport {
    ClientHelloReport {
        frames: frames.to_vec(),
        random: crate::hex::encode(&h.random),
        legacy_version: version_name(h.legacy_version),
        supported_versions: h
            .supported_versions
            .iter()
            .map(|v| version_name(*v))
            .collect(),
        cipher_suites: HexCodes(h.cipher_suites.clone()),
        extensions: HexCodes(h.extensions.clone()),
        alpn_grease: h.offered().iter().any(|p| p.is_grease()),
        alpn_malformed: h
            .alpn
            .as_ref()
            .and_then(|a| a.malformed)
            .map(str::to_string),
        sslv2_format: h.sslv2,
        cut: h.cut.map(cut_report),
        alps: h
            .alps
            .as_ref()
            .map(|a| a.protocols.iter().map(|p| p.escaped()).collect()),
        // JA4 fingerprints the connection's first ClientHello, as the JA4 tools do.
        ja4: Some(facts.client_hellos.first().map_or(h, |(first, _)| first))
            .filter(|first| first.cut.is_none())
            .map(|first| {
                let transport = if facts.quic.is_some() {
                    ja4::Ja4Transport::Quic
                } else {
                    ja4::Ja4Transport::Tcp
                };
                ja4::ja4(first, transport)
            }),
        after_hello_retry_request: facts.hello_retry_request().is_some()
            && facts.client_hellos.len() > 1,
    }
}

fn server_hello_report(facts: &FlowFacts, h: &ServerHello, frames: &[u64]) -> ServerHelloReport {
    ServerHelloReport {
        frames: frames.to_vec(),
        version: version_name(h.version()),
        cipher_suite: tls_parser::TlsCipherSuite::from_id(h.cipher_suite)
            .map(|c| c.name.to_string())
            .unwrap_or_else(|| format!("0x{:04x}", h.cipher_suite)),
        extensions: HexCodes(h.extensions.clone()),
        alpn: h
            .alpn
            .as_ref()
            .map(|a| a.protocols.iter().map(|p| p.escaped()).collect()),
        hello_retry_request_frames: facts.hello_retry_request().map(|(_, f)| f.clone()),
        npn: h.npn,
        cut: h.cut.map(cut_report),
    }
}

fn cut_report(cut: crate::tls::hello::Cut) -> CutReport {
    CutReport {
        captured: cut.captured,
        length: cut.len,
    }
}

/// The key-log outcome of a TLS 1.3 flow (none without a key log or for older versions).
fn decryption(facts: &FlowFacts) -> Option<Decryption> {
    let tls13 = facts
        .server_hello()
        .is_some_and(|(h, _)| h.tls_version() == TlsVersion::TLS13);
    // Keys that do not open a record with no gap before it outweigh a gap in the other side.
    let unsupported_draft = facts.faults.iter().any(|(_, _, f)| {
        matches!(
            f,
            StreamFault::Decryption(DecryptError::UnsupportedVersion(_))
        )
    });
    let keys_failed = facts
        .faults
        .iter()
        .any(|(_, _, f)| matches!(f, StreamFault::Decryption(_)));
    let stopped_at_gap = facts.faults.iter().find_map(|(role, _, f)| {
        matches!(f, StreamFault::DecryptionAfterGap { .. }).then_some(*role)
    });
    match facts.keys {
        _ if !tls13 => None,
        KeyStatus::NoKeyLog => None,
        KeyStatus::NoEntry => Some(Decryption::NoEntry),
        KeyStatus::Found if unsupported_draft => Some(Decryption::UnsupportedDraft),
        KeyStatus::Found if keys_failed => Some(Decryption::Failed),
        KeyStatus::Found => Some(match stopped_at_gap {
            Some(Role::Client) => Decryption::StoppedAtClientGap,
            Some(Role::Server) => Decryption::StoppedAtServerGap,
            None => Decryption::Decrypted,
        }),
    }
}

fn alerts(facts: &FlowFacts) -> Vec<AlertReport> {
    facts
        .alerts
        .iter()
        .map(|a| AlertReport {
            from: a.from,
            level: match a.level {
                1 => AlertLevel::Warning,
                2 => AlertLevel::Fatal,
                0 => AlertLevel::Encrypted,
                _ => AlertLevel::Unknown,
            },
            description: a
                .description
                .map(analysis::alert_name)
                .unwrap_or("encrypted"),
            code: a.description,
            frame: a.frame,
            decrypted: a.decrypted,
        })
        .collect()
}

/// Reassembly gaps, caps hit, stream faults and odd handshakes, in words.
fn notes(facts: &FlowFacts, alpn_selected: Option<&str>) -> Vec<String> {
    let client = facts.client_side;
    let mut notes: Vec<String> = Vec::new();
    if facts.copies > 0 {
        notes.push(format!(
            "captured at two points: {} of its packets (the same packet in the other merged file) left out; times are those of each packet's first capture, so no connect time or capture point is given",
            crate::report::words::plural(facts.copies, "copy")
        ));
    }
    if let Some(words) = filter_dropped_words(facts) {
        let total: u64 = facts.filter_dropped.iter().sum();
        notes.push(format!(
            "the capture filter dropped {} of this connection ({words}): they are not analysed",
            crate::report::words::plural(total, "packet")
        ));
    }
    for (role, frame, fault) in &facts.faults {
        notes.push(format!("{} stream, frame {frame}: {fault}", role.name()));
    }
    for side in [Side::A, Side::B] {
        let stats = facts.reassembly[side.index()];
        let who = if side == client { "client" } else { "server" };
        if stats.cap_hits > 0 {
            notes.push(format!(
                "{who} stream: out-of-order buffer cap ({} KiB) reached {} times",
                crate::flow::MAX_PENDING_BYTES / 1024,
                stats.cap_hits
            ));
        }
        if stats.gaps > 0 {
            notes.push(format!(
                "{who} stream: {}, {} missing from the capture",
                super::plural(u64::from(stats.gaps), "gap"),
                super::plural(stats.gap_bytes, "byte")
            ));
        }
        if stats.shed_holes > 0 {
            notes.push(format!(
                "{who} stream: alpnscope gave up waiting for {} bytes missing in {} holes at frame {} to stay within its memory budget (--memory) and read the {} bytes after them; the capture may hold the missing bytes later",
                stats.shed_hole_bytes,
                stats.shed_holes,
                stats.first_shed_frame.unwrap_or(0),
                stats.shed_pending_bytes
            ));
        }
        if let Some(c) = stats.first_conflict {
            let more = match stats.conflicting_segments {
                0 | 1 => String::new(),
                n => format!("; {n} segments in all carry bytes that differ from the first copy"),
            };
            let values = if side == client {
                other_hello_values(facts)
            } else {
                String::new()
            };
            notes.push(format!(
                "{who} stream: frame {} carries different bytes for {} of {} bytes already seen in frame {} (first copy kept, as Wireshark does){values}{more}",
                c.frame, c.differing, c.compared, c.first_frame
            ));
        }
        let suppressed = facts.suppressed_events[side.index()];
        if suppressed > 0 {
            notes.push(format!(
                "{who} stream: {suppressed} TLS records not listed (more than {} alerts, {} ChangeCipherSpecs or {} events in all)",
                crate::tls::event::MAX_ALERT_EVENTS,
                crate::tls::event::MAX_CHANGE_CIPHER_SPEC_EVENTS,
                crate::tls::event::MAX_EVENTS
            ));
        }
    }
    if let Some(stopped) = facts.stopped_reading {
        notes.push(format!(
            "alpnscope stopped reading this flow after frame {} to stay within its memory budget (--memory), releasing {} buffered bytes; its verdict was final, later handshake messages were not read",
            stopped.frame, stopped.bytes
        ));
    }
    if let Some(note) = syn_ack_isns_note(facts) {
        notes.push(note);
    }
    if facts.truncated_frames > 0 {
        notes.push(format!(
            "{} cut by the snaplen",
            super::plural(facts.truncated_frames, "frame")
        ));
    }
    if facts.client_hellos.len() > 1
        && facts.hello_retry_request().is_none()
        && facts.quic.is_none()
    {
        notes.push(format!(
            "{} ClientHellos without a HelloRetryRequest",
            facts.client_hellos.len()
        ));
    }
    if let Some(quic) = &facts.quic {
        notes.extend(super::quic::quic_notes(facts, quic, alpn_selected));
    }
    notes.extend(h2_forbidden_suite_note(facts, alpn_selected));
    notes
}

/// SYN/ACKs with different initial sequence numbers, as a fact (SYN cookies or a SYN proxy
/// answering twice, a stale SYN/ACK): "the server answered the SYN twice with different initial
/// sequence numbers (frames 2, 4); the client used the one in frame 4".
fn syn_ack_isns_note(facts: &FlowFacts) -> Option<String> {
    let isns = &facts.health.syn_ack_isns;
    let side = isns.side?;
    if isns.answers.len() < 2 {
        return None;
    }
    let (who, peer) = if side == facts.client_side {
        ("client", "server")
    } else {
        ("server", "client")
    };
    let times = match isns.answers.len() {
        2 => "twice".to_string(),
        n => format!("{n} times"),
    };
    let frames: Vec<String> = isns.answers.iter().map(|a| a.frame.to_string()).collect();
    let used = match isns.used {
        Some(frame) => format!("the {peer} used the one in frame {frame}"),
        None => format!("no ACK of the {peer} shows which one it used"),
    };
    Some(format!(
        "the {who} answered the SYN {times} with different initial sequence numbers (frames {}); {used}",
        frames.join(", ")
    ))
}

/// How the ClientHello of the other copy of a retransmitted client segment differs from the one
/// analysed, in SNI and ALPN: "; that copy's ClientHello names SNI … instead of …".
fn other_hello_values(facts: &FlowFacts) -> String {
    let (Some(other), Some((first, _))) = (&facts.other_client_hello, facts.client_hellos.first())
    else {
        return String::new();
    };
    let sni = |h: &crate::tls::ClientHello| h.sni.clone().unwrap_or_else(|| "(none)".into());
    let alpn = |h: &crate::tls::ClientHello| match &h.alpn {
        Some(list) => list
            .protocols
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        None => "(no ALPN extension)".into(),
    };
    let mut differences = Vec::new();
    if other.sni != first.sni {
        differences.push(format!(
            "names SNI {} instead of {}",
            sni(other),
            sni(first)
        ));
    }
    if other.alpn != first.alpn {
        differences.push(format!(
            "offers ALPN {} instead of {}",
            alpn(other),
            alpn(first)
        ));
    }
    if differences.is_empty() {
        return String::new();
    }
    format!("; that copy's ClientHello {}", differences.join(" and "))
}

fn counts_report(
    counts: &[crate::flow::Counts; 2],
    client: Side,
) -> BTreeMap<&'static str, DirectionCounts> {
    let mut out = BTreeMap::new();
    for kind in Anomaly::ALL {
        let side_count = |side: Side| {
            let c = counts[side.index()].get(kind);
            (c.count > 0).then(|| CountReport {
                count: c.count,
                frames: c.frames.clone(),
            })
        };
        let entry = DirectionCounts {
            client: side_count(client),
            server: side_count(client.other()),
        };
        if entry.client.is_some() || entry.server.is_some() {
            out.insert(kind.name(), entry);
        }
    }
    out
}

fn tcp_report(facts: &FlowFacts, view: &analysis::network::NetworkView) -> TcpReport {
    let health = &facts.health;
    let client = facts.client_side;
    let mut holes = BTreeMap::new();
    for (side, role) in [(client, Role::Client), (client.other(), Role::Server)] {
        let (filled, open) = health.holes(side);
        if filled + open > 0 {
            holes.insert(role, HoleReport { filled, open });
        }
    }
    TcpReport {
        connect_ms: view.connect_ms,
        capture_point: view.capture_point,
        client_hello_to_server_hello_ms: view.client_hello_to_server_hello_ms,
        client_hello_span_ms: view.client_hello_span_ms,
        handshake_ms: view.handshake_ms,
        handshake_end_frame: facts.handshake_end,
        handshake_loss: view.handshake_loss,
        flow_loss: health.flow.iter().any(|counts| counts.losses() > 0),
        handshake: counts_report(&health.handshake, client),
        flow: counts_report(&health.flow, client),
        holes,
        resets: view
            .resets
            .iter()
            .map(|r| ResetReport {
                from: r.from,
                frame: r.frame,
                ttl: r.ttl,
                usual_ttl: r.usual_ttl,
            })
            .collect(),
        fins: health
            .fins
            .iter()
            .map(|f| FinReport {
                from: if f.side == client {
                    Role::Client
                } else {
                    Role::Server
                },
                frame: f.frame,
            })
            .collect(),
        retransmitted_messages: view
            .retransmitted_messages
            .iter()
            .map(|m| MessageReport {
                message: m.message,
                times: m.times,
                frames: m.frames.clone(),
            })
            .collect(),
        capture_gaps: view
            .capture_gaps
            .iter()
            .map(|g| CaptureGapReport {
                from: g.from,
                bytes: g.bytes,
                before_frame: g.before_frame,
                acked_in: g.acked_in,
                frames: g.frames.clone(),
            })
            .collect(),
        slow_server: view.slow_server.as_ref().map(|s| SlowServerReport {
            wait_ms: s.wait_ms,
            ack_frame: s.ack_frame,
            ack_ms: s.ack_ms,
            server_hello_frame: s.server_hello_frame,
            nothing_sent_between: matches!(
                s.ip_ids,
                analysis::network::IpIdRun::Consecutive { .. }
            ),
            detail: s.describe(),
        }),
    }
}

/// What the flow table counted while reading one capture.
#[derive(Debug, Clone, Copy)]
pub struct CaptureTally<'a> {
    /// Frames by decoding outcome.
    pub decode: DecodeCounts,
    /// Frames per unsupported link type.
    pub unsupported_links: &'a BTreeMap<u32, u64>,
    /// Largest length frames were cut at by the snaplen (0: none were cut).
    pub cut_at: u32,
    /// The flow table's cap.
    pub flow_limit: usize,
    /// Flows closed early to make room in the full flow table.
    pub flows_evicted: u64,
    /// Flows whose handshake lacks packets that the peers received.
    pub capture_gap_flows: u64,
    /// The memory budget for flow state and what was shed to stay within it.
    pub memory: MemoryUse,
}

/// The report of one capture: what the reader and the flow table saw, and what to warn about.
pub fn capture_report(
    path: &str,
    summary: &CaptureSummary,
    tally: &CaptureTally<'_>,
) -> CaptureReport {
    let decode = tally.decode;
    let mut warnings: Vec<String> = summary.warnings.iter().map(|w| w.to_string()).collect();
    for (lt, n) in tally.unsupported_links {
        warnings.push(format!(
            "{n} frames of unsupported link type {} skipped (alpnscope reads Ethernet, Linux cooked SLL/SLL2, raw IP, NULL, LOOP and PPP)",
            LinkType(*lt)
        ));
    }
    if decode.malformed > 0 {
        warnings.push(format!(
            "{} malformed frames skipped (length fields or headers that do not add up)",
            decode.malformed
        ));
    }
    if tally.flows_evicted > 0 {
        warnings.push(format!(
            "{} flows were closed early to make room in the full flow table ({} flows, the cap): each time the least recently active flow that had shown no TLS record, else one whose ClientHello the server had not answered; their reports end where they were closed",
            tally.flows_evicted, tally.flow_limit
        ));
    }
    warnings.extend(memory_warning(tally));
    // Packets the memory budget left out are in the memory warning.
    let over_the_cap = decode
        .flows_not_tracked
        .saturating_sub(tally.memory.refused_packets);
    if over_the_cap > 0 {
        warnings.push(format!(
            "{over_the_cap} packets of new connections were not analysed: {} flows were already tracked (the cap), the server had answered every one of them",
            tally.flow_limit
        ));
    }
    if decode.datagrams_incomplete > 0 {
        warnings.push(format!(
            "{} fragmented IP datagrams could not be reassembled (fragments missing, too old or inconsistent); their bytes are gaps in their flows",
            decode.datagrams_incomplete
        ));
    }
    if decode.truncated_payload + decode.truncated_headers > 0 {
        warnings.push(format!(
            "{} frames were cut by the snaplen ({} bytes); capture with -s 0 to see whole handshakes",
            decode.truncated_payload + decode.truncated_headers,
            // The length frames were cut at; the file header's snaplen can be larger
            // (editcap -s, or a capture re-written with a smaller snaplen).
            if tally.cut_at > 0 {
                tally.cut_at
            } else {
                summary.snaplen
            }
        ));
    }
    if tally.capture_gap_flows > 0 {
        let n = tally.capture_gap_flows;
        warnings.push(format!(
            "the capture itself missed packets in {n} handshake{}: the peers acknowledged data it never saw, and nothing was resent (capture drops, e.g. tcpdump's \"packets dropped by kernel\"); those flows say what is missing instead of blaming the network",
            if n == 1 { "" } else { "s" }
        ));
    }
    let statistics = summary.statistics.map(|c| CaptureStatistics {
        received: c.received,
        dropped: c.os_dropped,
        interface_dropped: c.interface_dropped,
    });
    warnings.extend(statistics.as_ref().and_then(capture_drops_warning));
    if let Some(f) = summary.filter.as_ref().filter(|f| f.dropped > 0) {
        // The expression stays out of the sentence: it may name hosts, and warnings are
        // redacted as text.
        warnings.push(format!(
            "the capture filter dropped {} of the {} packets read: each flow is analysed from \
             the packets it passed, so what it dropped (a server's replies, part of a handshake) \
             is missing from the verdicts as if never sent",
            f.dropped,
            f.dropped.saturating_add(f.matched)
        ));
    }
    CaptureReport {
        path: path.to_string(),
        format: summary.format.name().to_string(),
        link_types: summary.link_types.iter().map(|l| l.to_string()).collect(),
        snaplen: summary.snaplen,
        packets: summary.packets,
        bytes: summary.bytes,
        compression: None,
        size: None,
        sha256: None,
        first_time: summary.first_time.map(|t| t.rfc3339_micros()),
        last_time: summary.last_time.map(|t| t.rfc3339_micros()),
        complete: summary.complete(),
        warnings,
        decode,
        statistics,
        memory: tally.memory,
        merged: None,
        filter: summary
            .filter
            .as_ref()
            .map(|f| crate::report::model::CaptureFilter {
                expression: f.expression.clone(),
                matched: f.matched,
                dropped: f.dropped,
            }),
    }
}

/// "64 KiB", "64 MiB", "1.5 GiB", "1000 bytes".
fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB && bytes % (GIB / 10) == 0 {
        format!("{} GiB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB && bytes % (MIB / 16) == 0 {
        format!("{} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The warning for a capture that needed more memory than the budget, if it did: what was
/// shed, in the order it is shed.
fn memory_warning(tally: &CaptureTally<'_>) -> Option<String> {
    let shed = &tally.memory;
    if shed.stopped_reading_flows
        + shed.out_of_order_flows
        + shed.evicted_flows
        + shed.refused_packets
        == 0
    {
        // Finishing closed flows early loses nothing: no warning for that alone.
        return None;
    }
    let mut what = Vec::new();
    if shed.closed_flows > 0 {
        what.push(format!(
            "finished {} closed flows before their linger time was over",
            shed.closed_flows
        ));
    }
    if shed.stopped_reading_flows > 0 {
        what.push(format!(
            "stopped reading {} flows past their handshake ({} bytes released; their verdicts stand, later handshake messages were not read)",
            shed.stopped_reading_flows, shed.stopped_reading_bytes
        ));
    }
    if shed.out_of_order_flows > 0 {
        what.push(format!(
            "gave up waiting for missing bytes in {} flows ({} bytes of out-of-order data had waited; the holes are gaps alpnscope declared, not proof of capture loss)",
            shed.out_of_order_flows, shed.out_of_order_bytes
        ));
    }
    if shed.evicted_flows > 0 {
        what.push(format!(
            "closed {} flows without a complete handshake early, least recently active first ({} bytes)",
            shed.evicted_flows, shed.evicted_bytes
        ));
    }
    if shed.refused_packets > 0 {
        what.push(format!(
            "left out {} packets of new connections (not analysed): flows whose handshake had completed filled the budget; raise --memory to analyse them",
            shed.refused_packets
        ));
    }
    Some(format!(
        "the flow state outgrew the memory budget ({}, --memory): alpnscope {}; each affected flow says so",
        size_text(shed.budget),
        what.join(", then ")
    ))
}

/// The warning for a capture whose own counters say it dropped packets, if they do.
pub fn capture_drops_warning(stats: &CaptureStatistics) -> Option<String> {
    let total = stats.total_dropped();
    if total == 0 {
        return None;
    }
    let count = |n: Option<u64>| n.map_or_else(|| "not recorded".to_string(), |n| n.to_string());
    Some(format!(
        "the capture itself dropped {total} packets (interface {}, OS {}): handshake data missing from its flows is put down to these drops, not counted as network loss",
        count(stats.interface_dropped),
        count(stats.dropped)
    ))
}

/// h2 selected over TLS 1.2 or older with a cipher suite HTTP/2 forbids (RFC 9113 §9.2.2):
/// which suite, and whether the client offered one HTTP/2 allows (then the server chose it).
fn h2_forbidden_suite_note(facts: &FlowFacts, alpn_selected: Option<&str>) -> Option<String> {
    use crate::tls::h2_ciphers::{h2_forbids, offers_h2_suite, suite_name};
    let (hello, frames) = facts.server_hello()?;
    if alpn_selected != Some("h2")
        || hello.tls_version() == crate::tls::TlsVersion::TLS13
        || !h2_forbids(hello.cipher_suite)
    {
        return None;
    }
    let offered = match facts.client_hello() {
        Some((ch, _)) if offers_h2_suite(&ch.cipher_suites) => {
            "; the client offered suites HTTP/2 allows, so the server chose this one"
        }
        Some(_) => "; the client offered no suite HTTP/2 allows",
        None => "",
    };
    Some(format!(
        "the server selected h2 with {} (frame {}), a cipher suite HTTP/2 forbids (RFC 9113 §9.2.2: no ephemeral key exchange, or not an AEAD cipher): clients that check, such as browsers, end the connection with INADEQUATE_SECURITY{offered}",
        suite_name(hello.cipher_suite),
        frames.first().copied().unwrap_or(0)
    ))
}
