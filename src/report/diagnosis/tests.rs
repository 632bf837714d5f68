//! The tally draws the same conclusions whatever order the flows arrive in, and stays bounded.

use super::*;
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
