//! The tally draws the same conclusions whatever order the flows arrive in, and stays bounded.

use super::*;
use crate::analysis::VerdictKind;
use crate::pipeline::files::{AnalyzeOptions, analyze_files};
use crate::report::model::Report;
use crate::report::summary::summarize;

fn report_of(fixture: &str, keys: Option<&str>) -> Report {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
    let options = AnalyzeOptions {
        keylogs: keys.map(|k| vec![format!("{dir}{k}")]).unwrap_or_default(),
        ..AnalyzeOptions::default()
    };
    analyze_files(&[format!("{dir}{fixture}")], &options, &mut |_| {}).unwrap()
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

#[test]
fn flows_in_any_order_draw_the_same_conclusions() {
    for (fixture, keys) in [
        ("diagnosis-clients.pcap", None),
        ("diagnosis-proxy-path.pcap", None),
        ("diagnosis-two-ports.pcap", None),
        (
            "diagnosis-interception.pcap",
            Some("diagnosis-interception.keys"),
        ),
        ("http-to-tls-port.pcap", None),
        ("offer-order.pcap", None),
        ("server-npn-only.pcap", None),
        (
            "quic-udp-blocked-tcp-fallback.pcap",
            Some("quic-udp-blocked-tcp-fallback.keys"),
        ),
    ] {
        let report = report_of(fixture, keys);
        assert!(!report.diagnosis.is_empty(), "{fixture}");
        let mut flows = report.flows.clone();
        flows.reverse();
        // Interleaved: odd positions first.
        let (odd, even): (Vec<_>, Vec<_>) = flows
            .iter()
            .cloned()
            .enumerate()
            .partition(|(i, _)| i % 2 == 1);
        let shuffled: Vec<FlowReport> = odd.into_iter().chain(even).map(|(_, f)| f).collect();
        for order in [&flows, &shuffled] {
            assert_eq!(json(&diagnose(order)), json(&report.diagnosis), "{fixture}");
            let non_tls = report.summary.non_tls_flows;
            assert_eq!(
                json(&summarize(order, non_tls)),
                json(&report.summary),
                "{fixture}"
            );
        }
    }
}

#[test]
fn a_conclusion_lists_the_smallest_ids_and_counts_the_rest() {
    let report = report_of("tls12-server-no-alpn.pcap", None);
    let one = report.flows[0].clone();
    // 1,500 flows to one server, arriving newest first.
    let flows: Vec<FlowReport> = (0..1500)
        .rev()
        .map(|id| FlowReport { id, ..one.clone() })
        .collect();
    let d = diagnose(&flows);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].kind, DiagnosisKind::ServerWithoutAlpn);
    assert_eq!(d[0].flows.len(), MAX_DIAGNOSIS_FLOWS);
    assert_eq!(d[0].flows[..3], [0, 1, 2]);
    assert_eq!(d[0].flows_omitted, 500);
    assert!(
        d[0].conclusion
            .contains("in 1500 flows (0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 1490 more)"),
        "{}",
        d[0].conclusion
    );
    assert_eq!(d[0].evidence_frames, one.evidence_frames);
}

#[test]
fn servers_beyond_the_cap_are_counted_not_diagnosed() {
    let report = report_of("tls12-server-no-alpn.pcap", None);
    let one = report.flows[0].clone();
    let servers = MAX_DIAGNOSED_SERVERS as u64 + 5;
    let mut tally = DiagnosisTally::default();
    for id in 0..servers {
        let mut flow = FlowReport { id, ..one.clone() };
        flow.server.port = 1 + (id % 60_000) as u16;
        flow.server.ip = std::net::IpAddr::from([10, 0, (id >> 16) as u8, 1]);
        tally.add(&flow);
    }
    assert_eq!(tally.servers.len(), MAX_DIAGNOSED_SERVERS);
    assert_eq!(tally.flows_not_diagnosed, 5);
    assert_eq!(tally.conclusions().len(), MAX_DIAGNOSED_SERVERS);
}

/// The fallback capture's flows: the unanswered QUIC attempt (flow 0) and the TCP connection.
fn fallback_flows() -> (FlowReport, FlowReport) {
    let report = report_of(
        "quic-udp-blocked-tcp-fallback.pcap",
        Some("quic-udp-blocked-tcp-fallback.keys"),
    );
    (report.flows[0].clone(), report.flows[1].clone())
}

#[test]
fn a_fallback_needs_unanswered_quic_then_tcp_from_the_same_client() {
    let (quic, tcp) = fallback_flows();
    let kinds = |flows: &[FlowReport]| -> Vec<DiagnosisKind> {
        diagnose(flows).iter().map(|d| d.kind).collect()
    };
    assert_eq!(
        kinds(&[quic.clone(), tcp.clone()]),
        [DiagnosisKind::QuicFallback]
    );
    // TCP before the QUIC attempt: no fallback.
    let earlier_tcp = FlowReport {
        id: 0,
        ..tcp.clone()
    };
    let later_quic = FlowReport {
        id: 1,
        ..quic.clone()
    };
    assert_eq!(kinds(&[later_quic, earlier_tcp]), []);
    // Another client's TCP connection.
    let mut other = tcp.clone();
    other.client.ip = std::net::IpAddr::from([192, 0, 2, 9]);
    assert_eq!(kinds(&[quic.clone(), other]), []);
    // The TCP connection in another capture.
    let elsewhere = FlowReport {
        capture: 1,
        ..tcp.clone()
    };
    assert_eq!(kinds(&[quic.clone(), elsewhere]), []);
    // Another name on the same address and port.
    let other_name = FlowReport {
        sni: Some("other.test".into()),
        ..tcp.clone()
    };
    assert_eq!(kinds(&[quic.clone(), other_name]), []);
    // A QUIC flow that is incomplete for another reason (one Initial, then silence).
    let not_unanswered = FlowReport {
        network_cause: None,
        ..quic.clone()
    };
    assert_eq!(kinds(&[not_unanswered, tcp]), []);
}

#[test]
fn fallbacks_of_several_clients_are_one_finding_bounded_per_client() {
    let (quic, tcp) = fallback_flows();
    let mut flows = Vec::new();
    // 20 clients (only the 16 smallest addresses are followed), each with its QUIC attempt and
    // then 10 TCP connections (the first is the fallback); the smallest ids go to the largest
    // addresses, so the clients kept are not the first flows'.
    for client in 0..20u8 {
        let ip = std::net::IpAddr::from([192, 0, 2, 119 - client]);
        let base = u64::from(client) * 100;
        let mut q = FlowReport {
            id: base,
            ..quic.clone()
        };
        q.client.ip = ip;
        flows.push(q);
        for n in 1..=10 {
            let mut t = FlowReport {
                id: base + n,
                ..tcp.clone()
            };
            t.client.ip = ip;
            flows.push(t);
        }
    }
    flows.reverse();
    let d = diagnose(&flows);
    let fallback: Vec<&Diagnosis> = d
        .iter()
        .filter(|d| d.kind == DiagnosisKind::QuicFallback)
        .collect();
    assert_eq!(fallback.len(), 1);
    let expected_ids: Vec<u64> = (20 - MAX_FALLBACK_CLIENTS as u64..20)
        .flat_map(|c| [c * 100, c * 100 + 1])
        .collect();
    assert_eq!(fallback[0].flows, expected_ids);
    let mut reordered = flows.clone();
    reordered.reverse();
    assert_eq!(json(&diagnose(&reordered)), json(&d));
    assert!(
        fallback[0].conclusion.starts_with(
            "HTTP/3 failed and the clients fell back to TCP: 16 clients sent QUIC Initial packets to alpn.test (192.0.2.2:443) that got nothing back, then connected over TCP to the same port (192.0.2.115: QUIC flow 400 (frames 1–4) then TCP flow 401 (frames 5–23), which agreed on h2; 192.0.2.114: QUIC flow 500 (frames 1–4) then TCP flow 501 (frames 5–23), which agreed on h2;"
        ),
        "{}",
        fallback[0].conclusion
    );
    assert!(
        fallback[0].conclusion.contains(
            "which agreed on h2, and 11 more; flows 400, 401, 500, 501, 600, 601, 700, 701, 800, 801 and 22 more); the packets show only"
        ),
        "{}",
        fallback[0].conclusion
    );
}

#[test]
fn a_quic_attempt_without_h3_is_named_quic() {
    let (mut quic, tcp) = fallback_flows();
    quic.alpn_offered = vec!["doq".into()];
    let d = diagnose(&[quic, tcp]);
    assert_eq!(d.len(), 1);
    assert!(
        d[0].conclusion
            .starts_with("QUIC failed and the client fell back to TCP: 192.0.2.1 sent 4 QUIC"),
        "{}",
        d[0].conclusion
    );
}

/// The refusal is worded by transport: over QUIC it is a CONNECTION_CLOSE with crypto error
/// 0x178, over TCP an alert; the QUIC and the TCP listener on one address and port are two
/// servers, each with its own conclusion.
#[test]
fn no_common_protocol_names_the_quic_close() {
    let quic = report_of("quic-alpn-mismatch.pcap", None).flows[0].clone();
    let mut tcp = report_of("alert-120-no-application-protocol.pcap", None).flows[0].clone();
    tcp.id = 1;
    tcp.server = quic.server.clone();
    let d = diagnose(&[quic, tcp]);
    let conclusions: Vec<&str> = d.iter().map(|d| d.conclusion.as_str()).collect();
    assert_eq!(
        conclusions,
        [
            "no protocol in common: alpn.test (127.0.0.1:4433 over QUIC) rejected the offer (hq-interop) with a CONNECTION_CLOSE for TLS alert no_application_protocol (QUIC crypto error 0x178) in flow 0 — the client asks for protocols the server does not serve",
            "no protocol in common: alpn.test (127.0.0.1:4433) rejected the offer (spdy/3.1) with alert no_application_protocol in flow 1 — the client asks for protocols the server does not serve",
        ]
    );
    assert_eq!(d[0].server, "alpn.test (127.0.0.1:4433 over QUIC)");
}

/// QUIC flows are counted among the TLS flows and on their own.
#[test]
fn the_summary_counts_quic_flows() {
    let report = report_of("quic-udp-blocked-tcp-fallback.pcap", None);
    assert_eq!(report.summary.tls_flows, 2);
    assert_eq!(report.summary.quic_flows, 1);
    assert_eq!(report.summary.non_tls_flows, 0);
    let tcp_only = report_of("alert-120-no-application-protocol.pcap", None);
    assert_eq!(tcp_only.summary.quic_flows, 0);
    assert!(!json(&tcp_only.summary).contains("quic_flows"));
    assert!(json(&report.summary).contains("\"quic_flows\":1"));
}

/// QUIC agrees h3 where TCP gets no ALPN back: the transports differ, and the TCP listener gets
/// its own conclusion (never "client-side", as one server of both would).
#[test]
fn quic_agreeing_where_tcp_declines_compares_the_transports() {
    let quic = report_of("quic-h3-agreed.pcap", Some("quic-h3-agreed.keys")).flows[0].clone();
    assert_eq!(quic.verdict, VerdictKind::Agreed);
    let mut tcp = report_of("tls12-server-no-alpn.pcap", None).flows[0].clone();
    assert_eq!(tcp.verdict, VerdictKind::ServerDeclined);
    tcp.id = 1;
    tcp.server = quic.server.clone();
    tcp.sni = quic.sni.clone();
    let d = diagnose(&[quic.clone(), tcp.clone()]);
    let kinds: Vec<DiagnosisKind> = d.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DiagnosisKind::TransportsDiffer,
            DiagnosisKind::ServerWithoutAlpn
        ]
    );
    assert_eq!(
        d[0].conclusion,
        "alpn.test (127.0.0.1:443) answers differently over QUIC and over TCP: over QUIC agreed on h3 (flow 0), over TCP server_declined (flow 1) — the QUIC and the TCP listener are configured apart (another TLS setup, or a proxy or CDN in front of one of them): the TCP one needs the fix"
    );
    assert_eq!(d[0].flows, [0, 1]);
    // Both negotiating (h3 over QUIC, h2 over TCP) is no finding.
    let h2 = report_of(
        "quic-udp-blocked-tcp-fallback.pcap",
        Some("quic-udp-blocked-tcp-fallback.keys"),
    )
    .flows[1]
        .clone();
    let h2 = FlowReport {
        id: 1,
        server: quic.server.clone(),
        sni: quic.sni.clone(),
        ..h2
    };
    assert_eq!(diagnose(&[quic, h2]).len(), 0);
}

/// A proxy carries TCP only: a direct QUIC flow to the name and port is no evidence that the
/// path changes the outcome (h3 over QUIC beside http/1.1 through the proxy is a difference of
/// transport, which `transports_differ` judges, not of path).
#[test]
fn a_direct_quic_flow_is_not_compared_with_the_proxied_ones() {
    let report = report_of("diagnosis-proxy-path.pcap", None);
    let proxied: Vec<FlowReport> = report
        .flows
        .iter()
        .filter(|f| f.proxy.is_some())
        .cloned()
        .collect();
    assert_eq!(
        proxied.iter().map(|f| f.id).collect::<Vec<_>>(),
        [0, 2],
        "the proxied flows"
    );
    let mut quic = report_of("quic-h3-agreed.pcap", Some("quic-h3-agreed.keys")).flows[0].clone();
    quic.id = 9;
    quic.sni = proxied[0].sni.clone();
    quic.server.port = 8443;
    let mut flows = proxied.clone();
    flows.push(quic.clone());
    let kinds: Vec<DiagnosisKind> = diagnose(&flows).iter().map(|d| d.kind).collect();
    assert!(!kinds.contains(&DiagnosisKind::Path), "{kinds:?}");
    // A direct TCP flow that agrees where the proxied ones downgrade still shows the path.
    let direct = report
        .flows
        .iter()
        .find(|f| f.proxy.is_none() && f.verdict == VerdictKind::Agreed)
        .unwrap()
        .clone();
    flows.push(direct);
    let d = diagnose(&flows);
    let path: Vec<&Diagnosis> = d.iter().filter(|d| d.kind == DiagnosisKind::Path).collect();
    assert_eq!(path.len(), 1);
    assert!(!path[0].flows.contains(&9), "{:?}", path[0].flows);
    assert!(!path[0].conclusion.contains("h3"), "{}", path[0].conclusion);
}

/// The offer-order capture's port 8443: flow 0 ranked http/1.1 above h2 and got it, flow 1 ranked
/// h2 first and got h2. Where the h2-first client is passed over instead (downgraded to
/// http/1.1), the server is the cause: `server_without_h2`, and nothing blames the client's order.
#[test]
fn a_client_that_ranks_http1_first_is_not_blamed_where_the_server_passes_over_h2() {
    let report = report_of("offer-order.pcap", None);
    let (http1_first, h2_first) = (report.flows[0].clone(), report.flows[1].clone());
    let kinds = |flows: &[FlowReport]| -> Vec<DiagnosisKind> {
        diagnose(flows).iter().map(|d| d.kind).collect()
    };
    assert_eq!(
        kinds(&[http1_first.clone(), h2_first.clone()]),
        [DiagnosisKind::ClientPrefersHttp1]
    );
    // Two clients (two JA4s) that rank http/1.1 first: named together, in the plural.
    let mut other = FlowReport {
        id: 2,
        ..http1_first.clone()
    };
    if let Some(ch) = other.client_hello.as_mut() {
        ch.ja4 = Some("t12d2808h1_000000000000_000000000000".into());
    }
    let d = diagnose(&[http1_first.clone(), h2_first.clone(), other]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].flows, [0, 2]);
    assert_eq!(
        d[0].conclusion,
        "client-side: clients ranked http/1.1 above h2 (offering http/1.1, h2; JA4 t12d2808h1_000000000000_000000000000, t12d2808h1_d943125447b4_e7e480e5a997) and alpn.test (127.0.0.1:8443) selected http/1.1, the clients' own first choice, in flows 0, 2; the same server selected h2 for clients that ranked h2 above http/1.1 (flow 1), so it has h2 and follows the client's order: put h2 first in those clients' ALPN lists (curl --http2 does)"
    );
    let passed_over = FlowReport {
        alpn_selected: Some("http/1.1".into()),
        verdict: VerdictKind::Downgraded,
        ..h2_first.clone()
    };
    assert_eq!(
        kinds(&[http1_first.clone(), passed_over]),
        [DiagnosisKind::ServerWithoutH2]
    );
    // http/1.1 above h2 but below the client's first choice: not the client's own first
    // choice, so not this finding.
    let below_first = FlowReport {
        alpn_offered: vec!["spdy/3.1".into(), "http/1.1".into(), "h2".into()],
        verdict: VerdictKind::Downgraded,
        ..http1_first
    };
    assert_eq!(kinds(&[below_first, h2_first]), []);
}

/// diagnosis-clients.pcap's server A selected h2 (flows 0, 4, 6) and refused curl --http1.1's
/// `http/1.1` (flow 2). Had that client offered `http/1.1, h2`, its offer would hold h2, which
/// the server selects: the protocol names would not explain the refusal.
#[test]
fn turned_down_offers_that_hold_a_protocol_the_server_selects() {
    let report = report_of("diagnosis-clients.pcap", None);
    let mut flows: Vec<FlowReport> = report
        .flows
        .iter()
        .filter(|f| f.server.port == 8443)
        .cloned()
        .collect();
    assert_eq!(flows.iter().map(|f| f.id).collect::<Vec<_>>(), [0, 2, 4, 6]);
    flows[1].alpn_offered = vec!["http/1.1".into(), "h2".into()];
    let d = diagnose(&flows);
    assert_eq!(d[0].kind, DiagnosisKind::ClientSide);
    assert_eq!(
        d[0].conclusion,
        "client-side: a.alpn.test (127.0.0.1:8443) selected a protocol for some clients (flows 0, 4, 6, offering h2, http/1.1) but not for others (refused with alert no_application_protocol in flow 2, offering http/1.1, h2; fingerprints t12d2807h1_d943125447b4_a44c6288192a): their offers hold h2, which it selected for the others, so the protocol names do not explain it — compare the rest of what those clients send (TLS version, cipher suites, extensions)"
    );
}
