//! Network health on captures with real impairments (nftables drops, an injected reset, a TUN
//! forwarder that reorders). Frame numbers and counts are tshark's `tcp.analysis.*` flags on the
//! same files (`fixtures/EXPECTED.md`), except where the README says alpnscope differs.

mod common;

use common::{analyze_json, numbers, project_path};
use serde_json::Value;

fn flow_of(name: &str) -> Value {
    let path = project_path(&format!("fixtures/{name}"));
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "{name}");
    flows[0].clone()
}

/// Frames of one count: `tcp.<scope>.<kind>.<side>.frames`.
fn frames(flow: &Value, scope: &str, kind: &str, side: &str) -> Vec<u64> {
    numbers(&flow["tcp"][scope][kind][side]["frames"])
}

fn kinds(flow: &Value, scope: &str) -> Vec<String> {
    flow["tcp"][scope]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn lost_client_hello_recovered_by_rto() {
    let flow = flow_of("loss-client-hello-rto.pcap");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(frames(&flow, "handshake", "retransmissions", "client"), [5]);
    assert_eq!(kinds(&flow, "handshake"), ["retransmissions"]);
    assert_eq!(kinds(&flow, "flow"), ["retransmissions"]);
    let msg = &flow["tcp"]["retransmitted_messages"][0];
    assert_eq!(msg["message"], "ClientHello");
    assert_eq!(msg["times"], 2);
    assert_eq!(numbers(&msg["frames"]), [4, 5]);
    assert_eq!(flow["tcp"]["handshake_loss"], true);
    assert_eq!(flow["tcp"]["capture_point"], "client");
    assert!(
        flow["network"]
            .as_str()
            .unwrap()
            .contains("ClientHello sent 2 times: frames 4, 5")
    );
    // Retransmission timeout: the copy leaves about 200 ms after the original.
    let wait = flow["tcp"]["client_hello_to_server_hello_ms"]
        .as_f64()
        .unwrap();
    assert!(wait > 200.0 && wait < 220.0, "{wait}");
}

#[test]
fn server_hello_lost_before_the_capture_point_shows_as_a_timeout() {
    let flow = flow_of("loss-server-hello.pcap");
    assert_eq!(flow["verdict"], "agreed");
    assert!(
        kinds(&flow, "flow").is_empty(),
        "tshark flags nothing either"
    );
    assert_eq!(flow["tcp"]["handshake_loss"], true);
    // The server's ACK of the ClientHello (frame 5, IP ID 0xcc23) and the only ServerHello copy
    // (frame 6, 0xcc25) skip one IP ID, while its later packets count up one by one (tshark:
    // ip.id): the original ServerHello left the server and never reached the capture point.
    assert_eq!(
        flow["network"],
        "the handshake suffered packet loss but completed: the ServerHello came 208.986 ms after the ClientHello on a connection with a 0.052 ms round trip, and the server's IP ID skipped from 0xcc23 (frame 5) to 0xcc25 (frame 6): 1 server packet was lost before the capture point and resent after a retransmission timeout"
    );
    assert!(flow["tcp"]["slow_server"].is_null());
}

#[test]
fn a_slow_server_is_not_packet_loss() {
    // Python ssl server whose SNI callback sleeps 300 ms: its kernel ACKs the ClientHello
    // (frame 4) at once in frame 5, the ServerHello follows in frame 6 with the next IP ID.
    let path = project_path("fixtures/slow-server-hello.pcap");
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(flow["tcp"]["handshake_loss"], false);
    assert!(flow["network"].is_null());
    assert!(kinds(flow, "handshake").is_empty(), "tshark flags nothing");
    let slow = &flow["tcp"]["slow_server"];
    assert_eq!(slow["wait_ms"], 300.955);
    assert_eq!(slow["ack_frame"], 5);
    assert_eq!(slow["ack_ms"], 0.019);
    assert_eq!(slow["server_hello_frame"], 6);
    assert_eq!(slow["nothing_sent_between"], true);
    assert_eq!(
        slow["detail"],
        "server slow to answer (300.955 ms): it acknowledged the ClientHello in frame 5 after 0.019 ms but sent its ServerHello only in frame 6, and sent nothing in between (IP IDs 0xc9a7, 0xc9a8 in a row)"
    );
    assert_eq!(doc["summary"]["handshake_loss_flows"], 0);
    let kinds: Vec<&str> = doc["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["needs_keys"]);
}

#[test]
fn syn_retransmission() {
    let flow = flow_of("syn-retransmission.pcap");
    assert_eq!(
        frames(&flow, "handshake", "syn_retransmissions", "client"),
        [2]
    );
    assert_eq!(kinds(&flow, "flow"), ["syn_retransmissions"]);
    let msg = &flow["tcp"]["retransmitted_messages"][0];
    assert_eq!(msg["message"], "SYN");
    assert_eq!(numbers(&msg["frames"]), [1, 2]);
    let connect = flow["tcp"]["connect_ms"].as_f64().unwrap();
    assert!(connect > 1000.0 && connect < 1100.0, "{connect}");
}

/// Linux SYN cookies answered the SYN and its retransmission with two ISNs (frames 2 and 4);
/// the client acknowledged the second. The server stream starts there: the ServerHello is
/// read, and neither a hole nor a capture gap is reported for the other ISN.
#[test]
fn two_syn_acks_with_different_isns() {
    let flow = flow_of("syn-ack-two-isns.pcap");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(numbers(&flow["evidence_frames"]), [6, 8]);
    assert_eq!(
        flow["notes"],
        serde_json::json!([
            "the server answered the SYN twice with different initial sequence numbers (frames 2, 4); the client used the one in frame 4"
        ])
    );
    assert_eq!(frames(&flow, "flow", "syn_retransmissions", "client"), [3]);
    assert_eq!(kinds(&flow, "flow"), ["syn_retransmissions"]);
    assert_eq!(flow["tcp"]["capture_gaps"], serde_json::json!([]));
    assert_eq!(
        flow["network"],
        "the handshake suffered packet loss but completed: SYN sent 2 times: frames 1, 3"
    );
}

#[test]
fn client_hello_never_answered() {
    let flow = flow_of("client-hello-unanswered.pcap");
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(
        frames(&flow, "handshake", "retransmissions", "client"),
        [5, 6, 7, 8, 9, 10, 11]
    );
    assert_eq!(
        numbers(&flow["evidence_frames"]),
        [4, 5, 6, 7, 8, 9, 10, 11]
    );
    let detail = flow["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "ClientHello sent 8 times (frames 4, 5, 6, 7, 8, 9, 10, 11) and never answered"
        ),
        "{detail}"
    );
    assert!(flow["tcp"]["handshake_ms"].is_null());
}

#[test]
fn reset_injected_by_a_middlebox() {
    let flow = flow_of("reset-injected-ttl.pcap");
    assert_eq!(flow["verdict"], "incomplete");
    let reset = &flow["tcp"]["resets"][0];
    assert_eq!(reset["from"], "server");
    assert_eq!(reset["frame"], 5);
    assert_eq!(reset["ttl"], 64);
    assert_eq!(reset["usual_ttl"], 63);
    let detail = flow["detail"].as_str().unwrap();
    assert!(detail.contains("TTL 64 vs 63"), "{detail}");
    assert!(
        detail.contains("likely injected by a middlebox"),
        "{detail}"
    );
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 5]);
}

#[test]
fn loss_during_bulk_data_is_not_handshake_loss() {
    let flow = flow_of("bulk-loss-after-handshake.pcap");
    assert_eq!(flow["verdict"], "agreed");
    assert!(kinds(&flow, "handshake").is_empty());
    assert_eq!(flow["tcp"]["handshake_loss"], false);
    assert!(flow["network"].is_null());
    assert_eq!(flow["tcp"]["handshake_end_frame"], 9);
    assert_eq!(frames(&flow, "flow", "retransmissions", "server"), [11]);
    assert_eq!(
        frames(&flow, "flow", "fast_retransmissions", "server"),
        [92, 107]
    );
    assert_eq!(
        frames(&flow, "flow", "previous_segment_not_captured", "server"),
        [85, 96, 100, 119]
    );
    assert_eq!(
        frames(&flow, "flow", "duplicate_acks", "client"),
        [88, 90, 99, 101, 129]
    );
    assert_eq!(frames(&flow, "flow", "out_of_order", "server"), [109, 130]);
    assert_eq!(frames(&flow, "flow", "window_full", "server"), [115, 128]);
    assert_eq!(
        frames(&flow, "flow", "zero_window", "client"),
        [116, 117, 131]
    );
    assert_eq!(flow["tcp"]["holes"]["server"]["filled"], 4);
    assert_eq!(flow["tcp"]["holes"]["server"]["open"], 0);
}

#[test]
fn reordered_server_flight() {
    let flow = flow_of("reordering.pcap");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(numbers(&flow["server_hello"]["frames"]), [8]);
    assert_eq!(
        frames(
            &flow,
            "handshake",
            "previous_segment_not_captured",
            "server"
        ),
        [6]
    );
    assert_eq!(frames(&flow, "handshake", "duplicate_acks", "client"), [7]);
    assert_eq!(frames(&flow, "handshake", "out_of_order", "server"), [8]);
    assert_eq!(flow["tcp"]["handshake_loss"], false);
    assert!(
        flow["network"]
            .as_str()
            .unwrap()
            .starts_with("the handshake saw reordering (no loss)")
    );
}

#[test]
fn the_capture_point_changes_what_is_seen() {
    let client = flow_of("both-sides-client.pcap");
    let server = flow_of("both-sides-server.pcap");
    assert_eq!(client["client"]["port"], server["client"]["port"]);
    assert_eq!(client["tcp"]["capture_point"], "client");
    assert_eq!(server["tcp"]["capture_point"], "server");
    assert_eq!(
        frames(&client, "handshake", "retransmissions", "client"),
        [5]
    );
    assert!(kinds(&server, "flow").is_empty());
    assert!(server["network"].is_null());
}

#[test]
fn summaries_count_flows_with_handshake_loss() {
    let a = project_path("fixtures/loss-client-hello-rto.pcap");
    let b = project_path("fixtures/bulk-loss-after-handshake.pcap");
    let c = project_path("fixtures/reset-injected-ttl.pcap");
    let out = common::run(&[
        "analyze",
        "--format",
        "json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["handshake_loss_flows"], 1);
    assert_eq!(doc["summary"]["loss_flows"], 2);
    assert_eq!(doc["summary"]["reset_flows"], 1);
    let out = common::run(&[
        "analyze",
        "--format",
        "markdown",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## Flows whose handshake lost packets"));
    assert!(md.contains("ClientHello sent 2 times: frames 4, 5"));
}

/// Every `acked_unseen` frame of a capture (all flows, both sides, `--all`), sorted, and the
/// total count.
fn acked_unseen(path: &str) -> (Vec<u64>, u64) {
    let doc = analyze_json(path, &["--all"]);
    let mut frames = Vec::new();
    let mut count = 0;
    for flow in doc["flows"].as_array().unwrap() {
        if let Some(sides) = flow["tcp"]["flow"]["acked_unseen"].as_object() {
            for side in sides.values() {
                frames.extend(numbers(&side["frames"]));
                count += side["count"].as_u64().unwrap();
            }
        }
    }
    frames.sort_unstable();
    (frames, count)
}

/// `acked_unseen` is Wireshark's `tcp.analysis.ack_lost_segment`, frame for frame: the lists
/// are `tshark -r FILE -Y tcp.analysis.ack_lost_segment -T fields -e frame.number` (Wireshark
/// 4.0), derived once. Consecutive ACKs of the same missing bytes are flagged once; an ACK is
/// flagged again only once the other side sent more, or its own ACK changed.
#[test]
fn acked_unseen_matches_wiresharks_ack_lost_segment() {
    let fixture = |name: &str| project_path(&format!("fixtures/{name}"));
    let corpus = |name: &str| project_path(&format!("../shared/corpus/ja4/captures/{name}"));
    let expected: [(std::path::PathBuf, Vec<u64>); 5] = [
        (fixture("capture-gaps.pcap"), vec![6, 10, 21, 25, 42, 47]),
        (
            fixture("capture-drops.pcap"),
            vec![
                566, 569, 1142, 1147, 2293, 2301, 3454, 3463, 4112, 4113, 4691, 4700, 4701, 5255,
                5267, 5825, 5826, 5827, 5838, 5844, 6154, 6156, 6157, 6158, 6161, 6171, 6725, 6728,
                6729, 6746, 7308, 7311, 7316,
            ],
        ),
        (corpus("latest.pcapng"), vec![131]),
        (corpus("socks4-https.pcap"), vec![7, 12]),
        (corpus("tls-handshake.pcapng"), vec![114, 139, 167]),
    ];
    for (path, frames) in expected {
        let path = path.to_str().unwrap();
        let (seen, count) = acked_unseen(path);
        assert_eq!(seen, frames, "{path}");
        assert_eq!(count, frames.len() as u64, "{path}");
    }
    // Captures where Wireshark flags none.
    for name in [
        "bulk-loss-after-handshake.pcap",
        "reordering.pcap",
        "loss-client-hello-rto.pcap",
    ] {
        assert_eq!(acked_unseen(fixture(name).to_str().unwrap()), (vec![], 0));
    }
}
