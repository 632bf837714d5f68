//! Conclusions across flows (`diagnosis`), on captures that show each rule.

mod common;

use common::{numbers, project_path, run};
use serde_json::Value;

fn diagnosis(fixtures: &[&str]) -> Vec<Value> {
    let paths: Vec<String> = fixtures
        .iter()
        .map(|f| {
            project_path(&format!("fixtures/{f}"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["diagnosis"].as_array().unwrap().clone()
}

fn kinds(d: &[Value]) -> Vec<&str> {
    d.iter().map(|x| x["kind"].as_str().unwrap()).collect()
}

#[test]
fn server_without_alpn_seen_by_two_different_clients() {
    let d = diagnosis(&["tls12-server-no-alpn.pcap"]);
    assert_eq!(kinds(&d), ["server_without_alpn"]);
    assert_eq!(d[0]["server"], "alpn.test");
    assert_eq!(numbers(&d[0]["flows"]), [0, 1]);
    assert_eq!(numbers(&d[0]["evidence_frames"]), [4, 6, 21, 23]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(c.contains("2 different clients"), "{c}");
    assert!(
        c.contains("http2 on;") && c.contains("alpn h2,http/1.1"),
        "{c}"
    );
}

#[test]
fn server_that_never_picks_h2() {
    let d = diagnosis(&["tls12-nginx-http1-only.pcap"]);
    assert_eq!(kinds(&d), ["server_without_h2"]);
}

#[test]
fn no_protocol_in_common_and_network_failures() {
    let d = diagnosis(&["alert-120-no-application-protocol.pcap"]);
    assert_eq!(kinds(&d), ["no_common_protocol"]);
    assert!(d[0]["conclusion"].as_str().unwrap().contains("spdy/3.1"));
    let d = diagnosis(&["reset-injected-ttl.pcap"]);
    assert_eq!(kinds(&d), ["network"]);
    assert!(
        d[0]["conclusion"]
            .as_str()
            .unwrap()
            .contains("resets that a middlebox injected")
    );
    let d = diagnosis(&["client-hello-unanswered.pcap"]);
    assert_eq!(kinds(&d), ["network"]);
    assert!(d[0]["conclusion"].as_str().unwrap().contains("packet loss"));
}

#[test]
fn same_offer_different_answers_points_at_the_server_side() {
    let d = diagnosis(&["tls12-h2-agreed.pcap", "tls12-server-no-alpn.pcap"]);
    assert_eq!(kinds(&d), ["inconsistent_server"]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(c.contains("agreed in flows 0, 1"), "{c}");
    assert!(c.contains("refused in flows 2, 3"), "{c}");
}

#[test]
fn healthy_and_hidden_captures() {
    assert!(diagnosis(&["tls12-h2-agreed.pcap"]).is_empty());
    assert!(
        diagnosis(&["http-connect-proxy.pcap"]).is_empty(),
        "same outcome through the proxy and directly"
    );
    assert_eq!(kinds(&diagnosis(&["tls13-hidden.pcap"])), ["needs_keys"]);
}

fn diagnosis_with(fixture: &str, extra: &[&str]) -> Vec<Value> {
    let path = project_path(&format!("fixtures/{fixture}"));
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    let out = run(&args);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["diagnosis"].as_array().unwrap().clone()
}

/// curl (two ways), openssl s_client and Python against a server selecting h2 and one without
/// ALPN.
#[test]
fn several_real_clients_against_two_servers() {
    let d = diagnosis(&["diagnosis-clients.pcap"]);
    assert_eq!(
        kinds(&d),
        ["client_side", "no_common_protocol", "server_without_alpn"]
    );
    assert_eq!(d[0]["server"], "a.alpn.test");
    assert_eq!(numbers(&d[0]["flows"]), [2]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(
        c.contains("agreed with some clients (flows 0, 4, 6, offering h2, http/1.1)"),
        "{c}"
    );
    assert!(
        c.contains("refused others (flows 2, offering http/1.1"),
        "{c}"
    );
    assert_eq!(d[2]["server"], "b.alpn.test");
    assert_eq!(numbers(&d[2]["flows"]), [1, 3, 5, 7]);
    assert!(
        d[2]["conclusion"]
            .as_str()
            .unwrap()
            .contains("4 different clients")
    );
}

#[test]
fn outcome_depends_on_the_proxy_path() {
    let d = diagnosis(&["diagnosis-proxy-path.pcap"]);
    assert_eq!(kinds(&d), ["path"]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(
        c.contains("through the proxy agreed on http/1.1 (flows 0, 2)"),
        "{c}"
    );
    assert!(
        c.contains("at 127.0.0.1:8443 agreed on h2 (flows 4, 5)"),
        "{c}"
    );
}

#[test]
fn different_certificate_issuers_point_at_interception() {
    let keys = project_path("fixtures/diagnosis-interception.keys");
    let d = diagnosis_with(
        "diagnosis-interception.pcap",
        &["--keylog", keys.to_str().unwrap()],
    );
    assert_eq!(kinds(&d), ["interception"]);
    let c = d[0]["conclusion"].as_str().unwrap();
    assert!(
        c.contains("Corp Inspection CA") && c.contains("Real Shop CA"),
        "{c}"
    );
    // Without the keys the TLS 1.3 certificates stay hidden: no such conclusion.
    assert_eq!(
        kinds(&diagnosis_with("diagnosis-interception.pcap", &[])),
        ["needs_keys"]
    );
}
