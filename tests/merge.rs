//! `--merge`: several captures read as one, numbered as `mergecap` numbers them.

mod common;

use common::{numbers, project_path, run, strings};
use serde_json::Value;

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// `alpnscope analyze --format json ARGS…`, asserting exit 0.
fn json(args: &[&str]) -> Value {
    let mut all = vec!["analyze", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn rotated() -> Vec<String> {
    (0..3)
        .map(|i| fixture(&format!("rotated-{i}.pcap")))
        .collect()
}

#[test]
fn rotated_files_merged_are_one_flow_across_the_rotation() {
    let files = rotated();
    let mut args = vec!["--merge"];
    args.extend(files.iter().map(String::as_str));
    let report = json(&args);
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(strings(&flow["alpn_offered"]), ["h2", "http/1.1"]);
    assert_eq!(
        (flow["first_frame"].as_u64(), flow["last_frame"].as_u64()),
        (Some(1), Some(16))
    );
    // ClientHello in rotated-1.pcap, ServerHello (1.5 s later) in rotated-2.pcap.
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 6]);
    assert_eq!(flow["capture"], 0);
    let captures = report["captures"].as_array().unwrap();
    assert_eq!(captures.len(), 1);
    let capture = &captures[0];
    assert_eq!(capture["packets"], 16);
    assert_eq!(capture["complete"], true);
    assert_eq!(
        capture["path"].as_str().unwrap(),
        files.join(" + ").as_str()
    );
    let merged = capture["merged"].as_array().unwrap();
    let packets: Vec<u64> = merged
        .iter()
        .map(|f| f["packets"].as_u64().unwrap())
        .collect();
    assert_eq!(packets, [0, 5, 11]);
    assert!(
        merged
            .iter()
            .all(|f| f["copies"] == 0 && f["complete"] == true)
    );
    assert_eq!(merged[2]["path"].as_str().unwrap(), files[2]);

    // Without --merge each file is a capture of its own: the ClientHello seems unanswered and
    // the ServerHello seems to start mid-connection.
    let apart = json(&files.iter().map(String::as_str).collect::<Vec<_>>());
    let verdicts: Vec<&str> = apart["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["incomplete", "incomplete"]);
    assert_eq!(apart["captures"].as_array().unwrap().len(), 3);
    assert!(apart["captures"][0]["merged"].is_null());
    // The capture where the connection goes on says so, and what to do.
    assert_eq!(
        strings(&apart["captures"][2]["warnings"]),
        [
            "1 TCP connection open when the previous capture ended continues here without a new handshake (flow 1 continues flow 0): if the files are rotated parts of one capture (tcpdump -C/-G), read them as one with --merge"
        ]
    );
    assert_eq!(
        strings(&apart["captures"][1]["warnings"]),
        Vec::<String>::new()
    );
}

/// Frames of equal timestamps: mergecap (Wireshark's merge) takes the file given last; the
/// report of the merge is the report of mergecap's file, frame for frame.
#[test]
fn equal_timestamps_merge_as_mergecap_merges_them() {
    let whole = fixture("tls12-h2-agreed.pcap");
    let cut = fixture("tls12-h2-agreed-s60.pcap");
    for (order, merged_by_mergecap) in [
        ([whole.as_str(), cut.as_str()], "merge-ties-ab.pcapng"),
        ([cut.as_str(), whole.as_str()], "merge-ties-ba.pcapng"),
    ] {
        let ours = json(&["--merge", order[0], order[1]]);
        let theirs = json(&[fixture(merged_by_mergecap).as_str()]);
        assert_eq!(ours["flows"], theirs["flows"], "{merged_by_mergecap}");
        assert_eq!(
            ours["diagnosis"], theirs["diagnosis"],
            "{merged_by_mergecap}"
        );
        assert_eq!(ours["captures"][0]["packets"], 66);
    }
    // The two orders differ: the cut copy's frames come first in one of them.
    let ab = json(&["--merge", whole.as_str(), cut.as_str()]);
    let ba = json(&["--merge", cut.as_str(), whole.as_str()]);
    assert_ne!(ab["flows"], ba["flows"]);
}

/// A compressed file merges as it is; the merge of a gzip copy is the merge of the file.
#[test]
fn compressed_files_merge() {
    let plain = json(&[
        "--merge",
        fixture("tls12-h2-agreed.pcap").as_str(),
        fixture("tls12-h2-agreed-s60.pcap").as_str(),
    ]);
    let gzip = json(&[
        "--merge",
        fixture("tls12-h2-agreed.pcap.gz").as_str(),
        fixture("tls12-h2-agreed-s60.pcap").as_str(),
    ]);
    assert_eq!(plain["flows"], gzip["flows"]);
    assert_eq!(gzip["captures"][0]["merged"][0]["compression"], "gzip");
}

/// Captures of both ends of a path: each packet is seen twice, and the second copy is not
/// taken for a retransmission; the loss between the capture points stays one.
#[test]
fn both_ends_of_a_path_count_each_packet_once() {
    let report = json(&[
        "--merge",
        fixture("both-sides-client.pcap").as_str(),
        fixture("both-sides-server.pcap").as_str(),
    ]);
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow["verdict"], "agreed");
    // mergecap's numbers: ClientHello 7, its retransmission 8 (client side; 9 is the server's
    // copy of 8), ServerHello 12.
    assert_eq!(numbers(&flow["evidence_frames"]), [7, 12]);
    assert_eq!(
        flow["network"],
        "the handshake suffered packet loss but completed: ClientHello sent 2 times: frames 7, 8"
    );
    assert_eq!(
        (flow["first_frame"].as_u64(), flow["last_frame"].as_u64()),
        (Some(1), Some(36))
    );
    // Captured at two points: no connect time or capture point from mixed vantage points.
    assert_eq!(flow["tcp"]["connect_ms"], Value::Null);
    assert_eq!(flow["tcp"]["capture_point"], "unknown");
    assert_eq!(
        strings(&flow["notes"]),
        [
            "captured at two points: 18 copies of its packets (the same packet in the other merged file) left out; times are those of each packet's first capture, so no connect time or capture point is given"
        ]
    );
    let merged = report["captures"][0]["merged"].as_array().unwrap();
    let copies: Vec<u64> = merged
        .iter()
        .map(|f| f["copies"].as_u64().unwrap())
        .collect();
    // 19 + 18 frames, 19 packets: the server never saw the dropped ClientHello.
    assert_eq!(copies, [8, 10]);
    assert_eq!(report["captures"][0]["packets"], 37);
    let warnings = strings(&report["captures"][0]["warnings"]);
    assert!(
        warnings.iter().any(|w| w.ends_with(
            "both-sides-server.pcap: 10 frames repeat packets another file captured first (the same IP packet but for TTL or hop limit, within 2 s: one packet captured at two points of its path); each packet was analysed once"
        )),
        "{warnings:?}"
    );
}

#[test]
fn count_stops_the_merge_after_n_merged_frames() {
    let files = rotated();
    let mut args = vec!["--merge", "-c", "6"];
    args.extend(files.iter().map(String::as_str));
    let report = json(&args);
    let capture = &report["captures"][0];
    assert_eq!(capture["packets"], 6);
    assert_eq!(capture["complete"], false);
    assert_eq!(
        strings(&capture["warnings"]),
        ["reading stopped after frame 6, as -c/--count asked: flows are reported up to that frame"]
    );
    let merged = capture["merged"].as_array().unwrap();
    let taken: Vec<u64> = merged
        .iter()
        .map(|f| f["merged_packets"].as_u64().unwrap())
        .collect();
    assert_eq!(taken, [0, 5, 1]);
    assert_eq!(report["flows"][0]["last_frame"], 6);
}

/// A file that is no capture is named and left out; the others are merged; exit status 2.
#[test]
fn a_bad_file_is_left_out_of_the_merge() {
    let files = rotated();
    let not_a_capture = fixture("README.md");
    let out = run(&[
        "analyze",
        "--format",
        "json",
        "--merge",
        files[1].as_str(),
        not_a_capture.as_str(),
        files[2].as_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{not_a_capture}: not a pcap or pcapng file")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["flows"][0]["verdict"], "hidden");
    assert_eq!(report["captures"][0]["merged"].as_array().unwrap().len(), 2);
}

/// An extract of a merged capture reads the files merged again: the flow that spans the
/// rotation is written whole, and copies from the other end of the path are left out.
#[test]
fn extracts_of_a_merged_capture_hold_the_flow_across_the_files() {
    let dir = std::env::temp_dir().join(format!("alpnscope-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("rotated.pcapng");
    let files = rotated();
    let mut args = vec!["--merge", "-w", out.to_str().unwrap(), "--flow", "0"];
    args.extend(files.iter().map(String::as_str));
    let run_out = run(&args);
    assert!(run_out.status.success());
    assert!(
        String::from_utf8_lossy(&run_out.stderr).contains("wrote 8 packets of 1 flow"),
        "{}",
        String::from_utf8_lossy(&run_out.stderr)
    );
    let extract = json(&[out.to_str().unwrap()]);
    let flow = &extract["flows"][0];
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 6]);

    let out = dir.join("sides.pcapng");
    let run_out = run(&[
        "--merge",
        "-w",
        out.to_str().unwrap(),
        "--flow",
        "0",
        "--redact",
        fixture("both-sides-client.pcap").as_str(),
        fixture("both-sides-server.pcap").as_str(),
    ]);
    assert!(run_out.status.success());
    let stderr = String::from_utf8_lossy(&run_out.stderr);
    assert!(stderr.contains("wrote 10 packets of 1 flow"), "{stderr}");
    // A redacted run names no file, on stderr either.
    assert!(!stderr.contains("both-sides"), "{stderr}");
    assert!(
        stderr.contains("capture 0: capture 0 file 1: 10 frames repeat"),
        "{stderr}"
    );
    let extract = json(&[out.to_str().unwrap()]);
    let flow = &extract["flows"][0];
    assert_eq!(flow["verdict"], "agreed");
    // The ClientHello and its retransmission, without the server's copies.
    assert_eq!(
        flow["network"],
        "the handshake suffered packet loss but completed: ClientHello sent 2 times: frames 4, 5"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_markdown_and_redaction_name_the_merged_files() {
    let files = rotated();
    let mut args = vec!["analyze", "--merge"];
    args.extend(files.iter().map(String::as_str));
    let text = String::from_utf8(run(&args).stdout).unwrap();
    assert!(
        text.contains(&format!(
            "  merged from 3 files in timestamp order (frames numbered as in `mergecap -w merged.pcapng FILE…`):\n    {} (pcap, 0 packets)\n",
            files[0]
        )),
        "{text}"
    );
    args.extend(["--format", "markdown"]);
    let markdown = String::from_utf8(run(&args).stdout).unwrap();
    assert!(
        markdown.contains("Capture 0 merges these files in timestamp order"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| pcap | 967 bytes | `4fc07394"),
        "{markdown}"
    );
    let mut redacted = vec!["analyze", "--format", "json", "--redact", "--merge"];
    redacted.extend(files.iter().map(String::as_str));
    let out = run(&redacted);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let capture = &report["captures"][0];
    assert_eq!(capture["path"], "capture 0");
    let paths = strings(
        &capture["merged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].clone())
            .collect::<Value>(),
    );
    assert_eq!(
        paths,
        ["capture 0 file 0", "capture 0 file 1", "capture 0 file 2"]
    );
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(!all.contains("rotated-"), "{all}");
}

/// A capture filter on a merge drops frames after they are numbered: the frames it passes keep
/// mergecap's numbers, and -c counts the frames it passed.
#[test]
fn a_filter_on_a_merge_keeps_the_merged_numbers() {
    let files = rotated();
    let mut args = vec!["--merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["tcp[tcpflags] & tcp-syn == 0"]);
    let report = json(&args);
    let flow = &report["flows"][0];
    // The SYN (1) and SYN/ACK (2) dropped: the flow starts at frame 3, its RST is still 16.
    assert_eq!(
        (flow["first_frame"].as_u64(), flow["last_frame"].as_u64()),
        (Some(3), Some(16))
    );
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 6]);
    let capture = &report["captures"][0];
    assert_eq!(capture["packets"], 16);
    assert_eq!(
        capture["filter"],
        serde_json::json!({"expression": "tcp[tcpflags] & tcp-syn == 0", "matched": 14, "dropped": 2})
    );
    let mut counted = vec!["--merge", "-c", "3"];
    counted.extend(files.iter().map(String::as_str));
    counted.extend(["tcp[tcpflags] & tcp-syn == 0"]);
    let report = json(&counted);
    let capture = &report["captures"][0];
    // Three frames passed (3, 4, 5) after two dropped: reading stopped after frame 5.
    assert_eq!(capture["packets"], 5);
    assert_eq!(capture["filter"]["matched"], 3);
    assert_eq!(
        strings(&capture["warnings"])[0],
        "reading stopped after frame 5, as -c/--count asked: flows are reported up to that frame"
    );
}
