//! Packets the capture missed are not packets the network lost: hellos that the peers
//! evidently exchanged (the other side acknowledged them, the handshake went on) are reported
//! as missing from the capture, never as a failed handshake or a network finding.

mod common;

use common::{analyze_json, numbers, run};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    common::project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// `capture-gaps.pcap`: three completed handshakes with one hello cut out of each by editcap.
#[test]
fn hellos_cut_from_the_capture_are_missing_not_failed() {
    let doc = analyze_json(&fixture("capture-gaps.pcap"), &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3);
    let expected = [
        (
            "the ServerHello is missing from the capture: 694 bytes of the server's stream before frame 8 were not captured, but the client acknowledged them in frame 6 and the handshake went on (the client's ChangeCipherSpec in frame 7, the server's ChangeCipherSpec in frame 8), so it completed; what the server selected is unknown",
            vec![4, 6, 7, 8, 10],
            json!([{"from": "server", "bytes": 694, "before_frame": 8, "acked_in": 6, "frames": [6, 8, 10]}]),
            Value::Null,
        ),
        (
            "the ClientHello is not in the capture (220 bytes of the client's stream before frame 23 are missing from it; the server acknowledged them in frame 21), so the offer is unknown; the server selected h2",
            vec![21, 22, 23, 25],
            json!([{"from": "client", "bytes": 220, "before_frame": 23, "acked_in": 21, "frames": [21, 23, 25]}]),
            json!(
                "the capture missed 220 bytes of the client's stream before frame 23 (the server acknowledged them in frame 21), and nothing was resent: the peers received them, so the network delivered them and the capture did not record them (dropped by the capture, or sent on a path the capture point does not see)"
            ),
        ),
        (
            "the ServerHello is missing from the capture: 822 bytes of the server's stream before frame 44 were not captured, but the client acknowledged them in frame 42 and the handshake went on (the client's ChangeCipherSpec in frame 43, the server's protected records in frame 44), so it completed; what the server selected is unknown",
            vec![40, 42, 43, 44, 47],
            json!([{"from": "server", "bytes": 822, "before_frame": 44, "acked_in": 42, "frames": [42, 44, 47]}]),
            Value::Null,
        ),
    ];
    for (flow, (detail, evidence, gaps, network)) in flows.iter().zip(expected) {
        assert_eq!(flow["verdict"], "incomplete");
        assert_eq!(flow["detail"], detail);
        assert_eq!(numbers(&flow["evidence_frames"]), evidence);
        assert_eq!(flow["tcp"]["capture_gaps"], gaps);
        assert_eq!(flow["network"], network);
        assert_eq!(flow["tcp"]["handshake_loss"], false);
    }
    // No network finding, no loss counted; the capture itself is named as the cause.
    assert_eq!(doc["diagnosis"], json!([]));
    assert_eq!(doc["summary"]["handshake_loss_flows"], 0);
    assert_eq!(doc["summary"]["loss_flows"], 0);
    assert_eq!(
        doc["captures"][0]["warnings"],
        json!([
            "the capture itself missed packets in 3 handshakes: the peers acknowledged data it never saw, and nothing was resent (capture drops, e.g. tcpdump's \"packets dropped by kernel\"); those flows say what is missing instead of blaming the network"
        ])
    );
    // The text report never blames the path.
    let out = run(&["analyze", &fixture("capture-gaps.pcap")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("fix the path"), "{text}");
    assert!(!text.contains("packet loss"), "{text}");
}

/// `capture-drops.pcap`: 400 curl → nginx handshakes that all completed (every curl got its
/// HTTP/2 200), captured by a tcpdump that dropped 774 packets. No handshake may be reported as
/// failed, and no finding may blame the network.
#[test]
fn a_capture_with_kernel_drops_counts_no_completed_handshake_as_failed() {
    let doc = analyze_json(&fixture("capture-drops.pcap"), &[]);
    let verdicts = &doc["summary"]["verdicts"];
    assert_eq!(verdicts["agreed"], 383);
    assert_eq!(verdicts["incomplete"], 8);
    assert_eq!(doc["summary"]["tls_flows"], 391);
    assert_eq!(doc["diagnosis"], json!([]));
    let allowed = [
        "the ServerHello is missing from the capture: ",
        "the ClientHello is not in the capture",
        "handshake not captured: the capture has neither this connection's start nor its hellos (the connection predates the capture, or the capture dropped them)",
        "no ServerHello in the capture: the flow's packets stop at frame 2875 after the ClientHello (frame 2874) although the capture went on",
    ];
    let mut incomplete = Vec::new();
    for flow in doc["flows"].as_array().unwrap() {
        let detail = flow["detail"].as_str().unwrap();
        let network = flow["network"].as_str().unwrap_or("");
        for claim in ["failed", "stopped answering", "lost before", "fix the path"] {
            assert!(
                !detail.contains(claim) && !network.contains(claim),
                "{flow}"
            );
        }
        if flow["verdict"] == "incomplete" {
            assert!(
                allowed.iter().any(|a| detail.starts_with(a)),
                "flow {}: {detail}",
                flow["id"]
            );
            incomplete.push(flow["id"].as_u64().unwrap());
        }
    }
    assert_eq!(incomplete, [32, 89, 90, 92, 151, 155, 217, 302]);
    let gaps: Vec<u64> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["tcp"]["capture_gaps"].as_array().unwrap().is_empty())
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(gaps, [29, 275, 302, 316, 347, 378]);
    assert_eq!(
        doc["captures"][0]["warnings"][0],
        "the capture itself missed packets in 6 handshakes: the peers acknowledged data it never saw, and nothing was resent (capture drops, e.g. tcpdump's \"packets dropped by kernel\"); those flows say what is missing instead of blaming the network"
    );
}

/// `capture-drops.pcapng`: 300 curl → nginx handshakes that all completed, captured by a
/// dumpcap paused with SIGSTOP behind a 1 MiB buffer. dumpcap wrote its counters into an
/// Interface Statistics Block (`isb_ifrecv` 2881, `isb_ifdrop` 6274, no `isb_osdrop`): they are
/// kept in the capture's statistics and named in a warning, and no flow blames the network.
#[test]
fn a_pcapng_capture_reports_its_own_drops() {
    let doc = analyze_json(&fixture("capture-drops.pcapng"), &[]);
    let capture = &doc["captures"][0];
    assert_eq!(capture["packets"], 2881);
    assert_eq!(
        capture["statistics"],
        json!({"received": 2881, "dropped": null, "interface_dropped": 6274})
    );
    assert_eq!(
        capture["warnings"],
        json!([
            "the capture itself dropped 6274 packets (interface 6274, OS not recorded): handshake data missing from its flows is put down to these drops, not counted as network loss"
        ])
    );
    let summary = &doc["summary"];
    assert_eq!(summary["tls_flows"], 145);
    assert_eq!(summary["verdicts"]["agreed"], 143);
    assert_eq!(summary["verdicts"]["incomplete"], 2);
    assert_eq!(summary["handshake_loss_flows"], 0);
    assert_eq!(doc["diagnosis"], json!([]));
    let incomplete: Vec<u64> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "incomplete")
        .map(|f| {
            assert!(
                f["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("handshake not captured: "),
                "{f}"
            );
            f["id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(incomplete, [48, 50]);
    assert!(
        doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["network"].is_null())
    );
    // A pcap file has no such counters.
    let doc = analyze_json(&fixture("capture-drops.pcap"), &[]);
    assert_eq!(doc["captures"][0]["statistics"], Value::Null);
}

/// The Markdown report says why it has no finding: problem flows without a pattern, explained
/// by the capture's own gaps, not "every flow agreed".
#[test]
fn markdown_names_the_capture_gaps_when_no_finding_applies() {
    let out = run(&[
        "analyze",
        "--format",
        "markdown",
        &fixture("capture-gaps.pcap"),
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains(
            "## Findings\n\n- No conclusion across flows: the 3 problem flows below share no server, client or network cause. The capture itself missed packets in 3 handshakes (see its warnings): those flows say what is missing.\n"
        ),
        "{md}"
    );
    assert!(!md.contains("nothing to fix"));
}
