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
    assert!(c.contains("no ALPN in flows 2, 3"), "{c}");
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
