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

/// The README's CI check: `--fail-on downgraded` fails when nginx loses `http2` (curl's h2 offer
/// answered with http/1.1) and passes when it selects h2.
#[test]
fn fail_on_downgraded_catches_a_server_that_stopped_negotiating_h2() {
    let out = run(&[
        "analyze",
        "--fail-on",
        "downgraded",
        &fixture("tls12-nginx-http1-only.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict   downgraded: "));
    let out = run(&[
        "analyze",
        "--fail-on",
        "downgraded",
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

/// A downgraded flow is a problem: `--problems` and the Markdown problem sections list it,
/// `--verdict downgraded` selects it.
#[test]
fn downgraded_flows_are_problems() {
    let a = fixture("tls12-h2-agreed.pcap");
    let h1 = fixture("tls12-nginx-http1-only.pcap");
    let out = run(&["analyze", "--format", "json", "--problems", &a, &h1]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["id"], 2);
    assert_eq!(flows[0]["verdict"], "downgraded");
    assert_eq!(doc["summary"]["verdicts"]["downgraded"], 1);
    let doc = analyze_json(&a, &["--verdict", "downgraded"]);
    assert!(doc["flows"].as_array().unwrap().is_empty());
    let out = run(&["analyze", "--format", "markdown", &a, &h1]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("### Flow 2: `downgraded` — 127.0.0.1:44402 → 127.0.0.1:8443"),
        "{md}"
    );
    assert!(!md.contains("### Flow 0"), "{md}");
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

/// The findings are drawn from every flow, whatever the flow filters keep, and given for the
/// servers of the flows kept: `--problems` must not turn a server that agrees with some clients
/// into one that never negotiates, and `--sni` leaves out what concerns other servers.
#[test]
fn findings_come_from_every_flow_and_concern_the_servers_kept() {
    let path = fixture("diagnosis-clients.pcap");
    let kinds = |doc: &serde_json::Value| -> Vec<(String, String)> {
        doc["diagnosis"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().to_string(),
                    d["server"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let all = analyze_json(&path, &[]);
    let problems = analyze_json(&path, &["--problems"]);
    // The agreed flows of a.alpn.test are filtered out, but the client-side finding that
    // compares them with the refused one stays: the same findings as without the filter.
    assert_eq!(kinds(&problems), kinds(&all));
    assert!(
        kinds(&problems).contains(&(
            "client_side".to_string(),
            "a.alpn.test (127.0.0.1:8443)".to_string()
        )),
        "{:?}",
        kinds(&problems)
    );
    assert_eq!(problems["summary"]["tls_flows"], 5);
    // Only b.alpn.test's flows kept: only its finding.
    let b = analyze_json(&path, &["--sni", "b.*"]);
    assert_eq!(
        kinds(&b),
        [(
            "server_without_alpn".to_string(),
            "b.alpn.test (127.0.0.1:8444)".to_string()
        )]
    );
    // The text report says the same.
    let out = run(&["analyze", &path, "--verdict", "no_common_protocol"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client-side: a.alpn.test (127.0.0.1:8443) selected a protocol for some clients (flows 0, 4, 6,"),
        "{text}"
    );
    assert!(
        !text.contains("b.alpn.test (127.0.0.1:8444) never"),
        "{text}"
    );
}
