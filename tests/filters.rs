//! Flow selection (--sni, --server, --verdict, --problems) and the --fail-on check mode.

mod common;

use common::{analyze_json, project_path, run};

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn fail_on_sets_exit_status_1_and_still_writes_the_report() {
    let out = run(&[
        "analyze",
        "--fail-on",
        "server_declined,incomplete",
        &fixture("tls12-server-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("server_declined"));
    let out = run(&[
        "analyze",
        "--fail-on",
        "no_common_protocol",
        &fixture("tls12-server-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&[
        "analyze",
        "--fail-on",
        "declined",
        &fixture("tls12-server-no-alpn.pcap"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown verdict is a usage error"
    );
}

#[test]
fn verdict_and_problem_filters_recompute_the_summary() {
    let a = fixture("tls12-h2-agreed.pcap");
    let b = fixture("tls13-hidden.pcap");
    let out = run(&["analyze", "--format", "json", "--problems", &a, &b]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert!(flows.iter().all(|f| f["verdict"] == "hidden"));
    assert_eq!(doc["summary"]["tls_flows"], 2);
    assert_eq!(doc["summary"]["verdicts"]["agreed"], 0);

    let doc = analyze_json(&a, &["--verdict", "agreed"]);
    assert_eq!(doc["flows"].as_array().unwrap().len(), 2);
}

#[test]
fn sni_and_server_filters() {
    let path = fixture("http-connect-proxy.pcap");
    let doc = analyze_json(&path, &["--server", "127.0.0.1:8443"]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["server"]["port"], 8443);
    let doc = analyze_json(&path, &["--sni", "*.TEST"]);
    assert_eq!(doc["flows"].as_array().unwrap().len(), 2);
    let doc = analyze_json(&path, &["--sni", "*.example.com"]);
    assert!(doc["flows"].as_array().unwrap().is_empty());
    assert_eq!(doc["summary"]["tls_flows"], 0);
}
