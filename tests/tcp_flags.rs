//! Wireshark-exact TCP analysis: on every fixture and every shared-corpus capture, the frames
//! alpnscope flags per kind in each flow's `tcp.flow` equal the frames tshark 4.0 flags with the
//! matching `tcp.analysis.*` field (`tests/data/tcp-flags-expected.tsv`, made by
//! `fixtures/tcp-flags-expected.sh`; the mapping of kinds is explained there). Only the cases
//! the README lists under "Where alpnscope deliberately differs from Wireshark" are left out,
//! by name, in [`DIFFERS`].

mod common;

use common::{analyze_json, numbers, project_path};
use std::collections::{BTreeMap, BTreeSet};

/// Per-kind frame counts keep the first this many frames per side.
const FRAMES_PER_SIDE: usize = 16;

/// The kinds compared (alpnscope's names).
const KINDS: [&str; 11] = [
    "retransmissions",
    "fast_retransmissions",
    "spurious_retransmissions",
    "syn_retransmissions",
    "out_of_order",
    "keep_alives",
    "duplicate_acks",
    "zero_window",
    "window_full",
    "previous_segment_not_captured",
    "acked_unseen",
];

/// (capture, kind) pairs where alpnscope deliberately differs (README).
const DIFFERS: [(&str, &str, &str); 3] = [
    // The NFLOG copy of every packet (link type 239) is not decoded: tshark sees each packet
    // twice and flags the second copies as retransmissions.
    (
        "fixtures/multi-interface.pcapng",
        "retransmissions",
        "NFLOG frames are not decoded",
    ),
    (
        "fixtures/multi-interface.pcapng",
        "syn_retransmissions",
        "NFLOG frames are not decoded",
    ),
    // A SYN/ACK with another ISN starts the server's sequence space anew.
    (
        "fixtures/syn-ack-two-isns.pcap",
        "previous_segment_not_captured",
        "a second SYN/ACK ISN is no hole",
    ),
];
/// Likewise, the client's ACK of that second ISN acknowledges nothing unseen.
const DIFFERS_ACKED_UNSEEN: &str = "fixtures/syn-ack-two-isns.pcap";

type Expected = BTreeMap<String, BTreeMap<(u64, String), Vec<u64>>>;

fn expected() -> Expected {
    let path = project_path("tests/data/tcp-flags-expected.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: Expected = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "{line}");
        let frames = cols[3].split(',').map(|f| f.parse().unwrap()).collect();
        out.entry(cols[0].to_string())
            .or_default()
            .insert((cols[1].parse().unwrap(), cols[2].to_string()), frames);
    }
    out
}

fn differs(capture: &str, kind: &str) -> bool {
    DIFFERS.iter().any(|(c, k, _)| *c == capture && *k == kind)
        || (capture == DIFFERS_ACKED_UNSEEN && kind == "acked_unseen")
}

#[test]
fn tcp_analysis_frames_equal_tsharks() {
    let expected = expected();
    let mut captures: Vec<String> = Vec::new();
    for dir in ["fixtures", "../shared/corpus/ja4/captures"] {
        let abs = project_path(dir);
        assert!(abs.is_dir(), "{} must exist", abs.display());
        for entry in std::fs::read_dir(&abs).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                captures.push(format!("{dir}/{name}"));
            }
        }
    }
    captures.sort();
    // Every capture in the data file is still here, and the other way round.
    let listed: BTreeSet<&String> = expected.keys().collect();
    for c in &listed {
        assert!(captures.contains(c), "{c} is in the data file but gone");
    }
    assert!(captures.len() >= 90, "{} captures", captures.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for capture in &captures {
        let path = project_path(capture);
        let doc = analyze_json(path.to_str().unwrap(), &["--all"]);
        let none = BTreeMap::new();
        let want = expected.get(capture).unwrap_or(&none);
        let mut seen_streams = BTreeSet::new();
        for flow in doc["flows"].as_array().unwrap() {
            let Some(tcp_flow) = flow["tcp"]["flow"].as_object() else {
                continue;
            };
            let stream = flow["tcp_stream"].as_u64().unwrap();
            seen_streams.insert(stream);
            for kind in KINDS {
                if differs(capture, kind) {
                    continue;
                }
                let sides = tcp_flow.get(kind).and_then(|v| v.as_object());
                let count: u64 = sides
                    .map(|s| s.values().map(|c| c["count"].as_u64().unwrap()).sum())
                    .unwrap_or(0);
                let capped = sides.is_some_and(|s| {
                    s.values()
                        .any(|c| c["count"].as_u64().unwrap() > FRAMES_PER_SIDE as u64)
                });
                let got: BTreeSet<u64> = sides
                    .map(|s| s.values().flat_map(|c| numbers(&c["frames"])).collect())
                    .unwrap_or_default();
                let want: BTreeSet<u64> = want
                    .get(&(stream, kind.to_string()))
                    .map(|f| f.iter().copied().collect())
                    .unwrap_or_default();
                compared += want.len();
                let same = count == want.len() as u64
                    && if capped {
                        got.is_subset(&want)
                    } else {
                        got == want
                    };
                if !same {
                    failures.push(format!(
                        "{capture} stream {stream} {kind}: tshark {want:?}, alpnscope {count} {got:?}"
                    ));
                }
            }
        }
        // Every stream tshark flags is a flow alpnscope reports.
        for ((stream, kind), frames) in want {
            if !seen_streams.contains(stream) && !differs(capture, kind) {
                failures.push(format!(
                    "{capture} stream {stream} {kind} {frames:?}: no such flow in alpnscope's report"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 300, "only {compared} flagged frames compared");
}
