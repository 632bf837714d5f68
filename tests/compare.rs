//! `alpnscope compare` on the fixtures captured on both sides of a real middlebox: a haproxy
//! TCP forwarder, a TLS-terminating haproxy and an ALPN-stripping Python forwarder (four curls
//! each). Frame numbers were checked against tshark by hand.

mod common;

use common::{numbers, project_path, run, strings};
use serde_json::Value;
use std::process::Command;

/// `compare --format json` on the fixture pair NAME-client.pcap / NAME-server.pcap.
fn compare_json(name: &str, extra: &[&str]) -> Value {
    let a = project_path(&format!("fixtures/{name}-client.pcap"));
    let b = project_path(&format!("fixtures/{name}-server.pcap"));
    let mut args = vec!["compare", "--format", "json"];
    args.extend_from_slice(extra);
    args.extend([a.to_str().unwrap(), b.to_str().unwrap()]);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A pair: (A flow id, B flow id, match, confidence, [change kinds]).
type PairRow = (u64, u64, String, String, Vec<String>);

/// Per pair: its row.
fn pair_rows(doc: &Value) -> Vec<PairRow> {
    doc["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["a"]["id"].as_u64().unwrap(),
                p["b"]["id"].as_u64().unwrap(),
                p["match"].as_str().unwrap().to_string(),
                p["confidence"].as_str().unwrap().to_string(),
                p["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["kind"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// A finding: (kind, count, pairs, A frames, B frames).
type FindingRow = (String, u64, Vec<u64>, Vec<u64>, Vec<u64>);

/// Per finding: its row.
fn finding_rows(doc: &Value) -> Vec<FindingRow> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["count"].as_u64().unwrap(),
                numbers(&f["pairs"]),
                numbers(&f["frames_a"]),
                numbers(&f["frames_b"]),
            )
        })
        .collect()
}

fn row(
    a: u64,
    b: u64,
    m: &str,
    c: &str,
    changes: &[&str],
) -> (u64, u64, String, String, Vec<String>) {
    (
        a,
        b,
        m.to_string(),
        c.to_string(),
        changes.iter().map(|s| s.to_string()).collect(),
    )
}

#[test]
fn a_tcp_forwarder_passes_the_same_hello_unchanged() {
    let doc = compare_json("compare-forward", &[]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(
        pair_rows(&doc),
        (0..4)
            .map(|i| row(i, i, "hello", "high", &[]))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        finding_rows(&doc),
        [(
            "forwarded_unchanged".to_string(),
            4,
            vec![0, 1, 2, 3],
            vec![4, 6, 24, 26, 43, 45, 58, 60],
            vec![4, 6, 22, 24, 41, 43, 56, 58]
        )]
    );
    // The flow objects are analyze's: the same hello random on both legs, B's flows point
    // at the second capture.
    let pair = &doc["pairs"][2];
    assert_eq!(
        pair["a"]["client_hello"]["random"],
        "88db2956c7ae3e4a82ee9a44f3793c5605b19214b3bf6d42b484ac60be85289f"
    );
    assert_eq!(
        pair["a"]["client_hello"]["random"],
        pair["b"]["client_hello"]["random"]
    );
    assert_eq!(strings(&pair["a"]["alpn_offered"]), ["http/1.1"]);
    assert_eq!(
        (pair["a"]["capture"].as_u64(), pair["b"]["capture"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(pair["a"]["verdict"], "agreed");
    assert_eq!(pair["hello_delay_ms"], 0.123);
    assert_eq!(doc["clock_offset_ms"], 0.182);
    assert_eq!(doc["clock_offset_from"], "hello_pairs");
    let given = compare_json("compare-forward", &["--clock-offset", "-0.5"]);
    assert_eq!(given["clock_offset_ms"], -500.0);
    assert_eq!(given["clock_offset_from"], "option");
    assert_eq!(
        pair_rows(&given),
        pair_rows(&doc),
        "pairs by random need no clock"
    );
    assert_eq!(doc["captures"].as_array().unwrap().len(), 2);
    assert_eq!(doc["unpaired"]["a"].as_array().unwrap().len(), 0);
    assert_eq!(doc["unpaired"]["b"].as_array().unwrap().len(), 0);
}

#[test]
fn a_terminating_proxy_pairs_by_time_and_its_backend_leg_negotiates_http1() {
    let doc = compare_json("compare-terminate", &[]);
    assert_eq!(
        pair_rows(&doc),
        [
            row(
                0,
                0,
                "timing",
                "high",
                &["alpn_removed", "selected_differs"]
            ),
            row(
                1,
                1,
                "timing",
                "high",
                &["alpn_removed", "selected_differs"]
            ),
            row(2, 2, "timing", "high", &[]),
            row(
                3,
                3,
                "timing",
                "high",
                &["alpn_removed", "selected_differs"]
            ),
        ]
    );
    assert_eq!(
        doc["pairs"][0]["changes"],
        serde_json::json!([
            {"kind": "alpn_removed", "protocols": ["h2"], "extension_removed": false},
            {"kind": "selected_differs", "a": "h2", "b": "http/1.1"}
        ])
    );
    assert_ne!(
        doc["pairs"][0]["a"]["client_hello"]["random"],
        doc["pairs"][0]["b"]["client_hello"]["random"]
    );
    let a_frames = vec![4, 5, 21, 22, 52, 53];
    let b_frames = vec![4, 6, 18, 20, 45, 47];
    assert_eq!(
        finding_rows(&doc),
        [
            (
                "middlebox_offers_less".to_string(),
                3,
                vec![0, 1, 3],
                a_frames.clone(),
                b_frames.clone()
            ),
            (
                "legs_negotiate_differently".to_string(),
                3,
                vec![0, 1, 3],
                a_frames,
                b_frames
            ),
        ]
    );
    assert_eq!(
        doc["findings"][1]["detail"],
        "the backend leg negotiates http/1.1 while the client leg negotiates h2"
    );
    assert_eq!(doc["clock_offset_ms"], Value::Null);
    assert_eq!(doc["clock_offset_from"], Value::Null);
    // B's clock said (wrongly) to be 5 s behind A's: every B hello then comes 5 s after its
    // A hello, beyond the 2 s window, and nothing pairs by time.
    let skewed = compare_json("compare-terminate", &["--clock-offset", "-5"]);
    assert!(skewed["pairs"].as_array().unwrap().is_empty());
    assert_eq!(skewed["clock_offset_ms"], -5000.0);
    assert_eq!(doc["pairs"][0]["hello_delay_ms"], 1.944);
}

#[test]
fn an_alpn_stripping_forwarder_is_named() {
    let doc = compare_json("compare-strip-alpn", &[]);
    assert_eq!(
        pair_rows(&doc),
        (0..4)
            .map(|i| row(i, i, "hello", "high", &["alpn_removed"]))
            .collect::<Vec<_>>()
    );
    // Capture A alone blames the server; B shows it never saw the offer.
    assert_eq!(doc["pairs"][0]["a"]["verdict"], "server_declined");
    assert_eq!(doc["pairs"][0]["b"]["verdict"], "not_offered");
    let frames = vec![4, 6, 16, 18, 28, 30, 40, 42];
    assert_eq!(
        finding_rows(&doc),
        [(
            "middlebox_strips_alpn".to_string(),
            4,
            vec![0, 1, 2, 3],
            frames.clone(),
            frames
        )]
    );
    assert_eq!(
        doc["findings"][0]["detail"],
        "the ClientHello leaving the middlebox lacks h2 and http/1.1, which the client offered: \
         the middlebox strips ALPN (the same hello, with the same random, in both captures, \
         without its ALPN extension: the server never sees the client's offer)"
    );
}

#[test]
fn an_intercepting_proxy_shows_its_own_issuer_with_both_key_logs() {
    let keys = |side: &str| {
        project_path(&format!("fixtures/compare-intercept-{side}.keys"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let (ka, kb) = (keys("client"), keys("server"));
    let doc = compare_json("compare-intercept", &["--keylog-a", &ka, "--keylog-b", &kb]);
    assert_eq!(
        pair_rows(&doc),
        [
            row(0, 0, "timing", "high", &["alpn_removed", "issuer_differs"]),
            row(1, 1, "timing", "high", &["alpn_removed", "issuer_differs"]),
            row(2, 2, "timing", "high", &["issuer_differs"]),
            row(3, 3, "timing", "high", &["alpn_removed", "issuer_differs"]),
        ]
    );
    assert_eq!(
        doc["pairs"][0]["changes"][1],
        serde_json::json!({
            "kind": "issuer_differs",
            "a": "O=Corp Inspection CA, CN=Corp Inspection CA",
            "b": "CN=alpn.test"
        })
    );
    // TLS 1.3 on both legs: the selections come from the decrypted EncryptedExtensions.
    assert_eq!(doc["pairs"][0]["a"]["alpn_source"], "encrypted_extensions");
    assert_eq!(doc["pairs"][0]["a"]["verdict"], "downgraded");
    assert_eq!(doc["pairs"][0]["b"]["alpn_selected"], "http/1.1");
    assert_eq!(
        finding_rows(&doc),
        [
            (
                "middlebox_offers_less".to_string(),
                3,
                vec![0, 1, 3],
                vec![4, 6, 21, 23, 57, 59],
                vec![4, 6, 20, 22, 51, 53]
            ),
            (
                "certificate_issuer_differs".to_string(),
                4,
                vec![0, 1, 2, 3],
                vec![4, 6, 21, 23, 39, 41, 57, 59],
                vec![4, 6, 20, 22, 35, 37, 51, 53]
            ),
        ]
    );
    // One key log for both sides reaches both (here only A's secrets open anything).
    let doc = compare_json("compare-intercept", &["--keylog", &ka]);
    assert_eq!(doc["pairs"][0]["a"]["decryption"], "decrypted");
    assert_eq!(
        doc["pairs"][0]["b"]["decryption"],
        "no key-log entry for this ClientHello random"
    );
}

#[test]
fn without_key_logs_tls13_selections_are_not_compared() {
    let doc = compare_json("compare-intercept", &[]);
    assert_eq!(
        pair_rows(&doc),
        [
            row(0, 0, "timing", "high", &["alpn_removed"]),
            row(1, 1, "timing", "high", &["alpn_removed"]),
            row(2, 2, "timing", "high", &[]),
            row(3, 3, "timing", "high", &["alpn_removed"]),
        ]
    );
    assert_eq!(
        doc["pairs"][2]["not_comparable"],
        serde_json::json!([
            {"kind": "selection_unknown", "side": "a"},
            {"kind": "selection_unknown", "side": "b"}
        ])
    );
    let kinds: Vec<String> = finding_rows(&doc).into_iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        ["middlebox_offers_less", "cannot_compare", "cannot_compare"]
    );
}

#[test]
fn captures_of_different_runs_pair_nothing_and_blame_no_one() {
    let a = project_path("fixtures/compare-forward-client.pcap");
    let b = project_path("fixtures/compare-terminate-server.pcap");
    let out = run(&[
        "compare",
        "--format",
        "json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["pairs"].as_array().unwrap().is_empty());
    assert_eq!(doc["unpaired"]["a"].as_array().unwrap().len(), 4);
    assert_eq!(doc["unpaired"]["b"].as_array().unwrap().len(), 4);
    assert_eq!(
        finding_rows(&doc),
        [
            (
                "cannot_compare".to_string(),
                4,
                vec![],
                vec![4, 24, 43, 58],
                vec![]
            ),
            (
                "cannot_compare".to_string(),
                4,
                vec![],
                vec![],
                vec![4, 18, 31, 45]
            ),
        ]
    );
}

#[test]
fn fail_on_takes_finding_kinds_and_verdicts() {
    let a = project_path("fixtures/compare-strip-alpn-client.pcap");
    let b = project_path("fixtures/compare-strip-alpn-server.pcap");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let code = |fail_on: &str| run(&["compare", "--fail-on", fail_on, a, b]).status.code();
    assert_eq!(code("middlebox_strips_alpn"), Some(1));
    assert_eq!(code("not_offered"), Some(1), "a verdict of a B flow");
    assert_eq!(code("legs_negotiate_differently,agreed"), Some(0));
    assert_eq!(code("no_such_thing"), Some(2));
    let out = run(&["compare", "-", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most one capture from standard input")
    );
    let missing = project_path("fixtures/no-such-capture.pcap");
    let out = run(&["compare", a, missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("alpnscope: error: cannot open"));
}

/// Runs `compare` from the project root (relative paths in the output) and compares with a
/// reviewed snapshot.
fn snapshot(format: &str, name: &str, snapshot: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "compare",
            "--color",
            "never",
            "--format",
            format,
            &format!("fixtures/{name}-client.pcap"),
            &format!("fixtures/{name}-server.pcap"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = std::fs::read_to_string(project_path(snapshot)).unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    assert!(
        got == expected,
        "{snapshot} changed; review it and update the snapshot:\n{got}"
    );
}

#[test]
fn text_and_markdown_match_the_reviewed_snapshots() {
    snapshot(
        "text",
        "compare-strip-alpn",
        "tests/snapshots/compare-strip-alpn.txt",
    );
    snapshot(
        "markdown",
        "compare-terminate",
        "tests/snapshots/compare-terminate.md",
    );
}

/// A capture compared with itself: every flow pairs with itself by random and nothing changed;
/// the report is the same bytes on every run.
#[test]
fn a_capture_compared_with_itself_changes_nothing() {
    let path = project_path("fixtures/diagnosis-two-ports.pcap");
    let path = path.to_str().unwrap();
    let out = run(&["compare", "--format", "json", path, path]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = pair_rows(&doc);
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter().all(|(a, b, m, c, changes)| a == b
            && m == "hello"
            && c == "high"
            && changes.is_empty())
    );
    let kinds: Vec<String> = finding_rows(&doc).into_iter().map(|f| f.0).collect();
    assert_eq!(kinds, ["forwarded_unchanged"]);
    assert_eq!(doc["clock_offset_ms"], 0.0);
    let again = run(&["compare", "--format", "json", path, path]);
    assert_eq!(out.stdout, again.stdout);
}

/// `--redact`: no address, name or file name of the captures is left, one name gets one
/// pseudonym in both captures, and the findings still stand.
#[test]
fn a_redacted_comparison_names_nothing() {
    let keys = project_path("fixtures/compare-intercept-client.keys");
    let keys_b = project_path("fixtures/compare-intercept-server.keys");
    let doc = compare_json(
        "compare-intercept",
        &[
            "--redact",
            "--redact-key",
            "k",
            "--keylog-a",
            keys.to_str().unwrap(),
            "--keylog-b",
            keys_b.to_str().unwrap(),
        ],
    );
    let text = doc.to_string();
    for secret in [
        "alpn.test",
        "198.51.100.",
        "192.0.2.",
        "Corp Inspection",
        "fixtures/",
        "compare-intercept",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} left in the redacted report"
        );
    }
    let pair = &doc["pairs"][0];
    assert_eq!(pair["a"]["sni"], pair["b"]["sni"]);
    assert_eq!(doc["captures"][0]["path"], "capture 0");
    assert_eq!(doc["captures"][1]["path"], "capture 1");
    let kinds: Vec<String> = finding_rows(&doc).into_iter().map(|f| f.0).collect();
    assert_eq!(
        kinds,
        ["middlebox_offers_less", "certificate_issuer_differs"]
    );
}
