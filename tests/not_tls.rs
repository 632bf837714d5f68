//! Connections to TLS ports that never carried a ClientHello (`not-tls-probes.pcap`) and plain
//! HTTP sent to a TLS port (`http-to-tls-port.pcap`): what each one did, said exactly, and never
//! a network cause.

mod common;

use common::{analyze_json, numbers, project_path, run};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    project_path("fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// (id, verdict, evidence frames, detail) of every listed flow.
fn flows(doc: &Value) -> Vec<(u64, String, Vec<u64>, String)> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["verdict"].as_str().unwrap().to_string(),
                numbers(&f["evidence_frames"]),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn flow(id: u64, verdict: &str, frames: &[u64], detail: &str) -> (u64, String, Vec<u64>, String) {
    (id, verdict.to_string(), frames.to_vec(), detail.to_string())
}

const HIDDEN_8443: &str = "TLS 1.3: the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log";
const HIDDEN_8444: &str = "TLS 1.3: the server's choice among h2 is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log";

/// `not-tls-probes.pcap` with `--all`: nc -z, a health check, a health check closing with a RST,
/// plain bytes to nginx and s_server, a malformed ClientHello record to both, plain HTTP to
/// s_server, then a curl and an s_client handshake.
#[test]
fn connections_without_a_client_hello_say_what_happened() {
    let doc = analyze_json(&fixture("not-tls-probes.pcap"), &["--all"]);
    let gave_up = "without sending a ClientHello: a port check (nc -z), a health check, a scanner, or a client that gave up; not a TLS or network failure";
    assert_eq!(
        flows(&doc),
        [
            flow(
                0,
                "incomplete",
                &[1, 4],
                &format!(
                    "the client closed the connection (FIN in frame 4, 0.046 ms after it opened) {gave_up}"
                )
            ),
            flow(
                1,
                "incomplete",
                &[7, 10],
                &format!(
                    "the client closed the connection (FIN in frame 10, 501.530 ms after it opened) {gave_up}"
                )
            ),
            flow(
                2,
                "incomplete",
                &[13, 16],
                &format!(
                    "the client's side reset the connection (RST in frame 16, 0.137 ms after it opened) {gave_up}"
                )
            ),
            flow(
                3,
                "not_tls",
                &[20, 22, 23, 25],
                "the client sent 7 bytes that are not TLS to a TLS port (frame 20) and closed its side (FIN in frame 22); the server answered with HTTP status 400 (frame 23) and closed the connection (FIN in frame 25)"
            ),
            flow(
                4,
                "not_tls",
                &[30, 32, 33],
                "the client sent 7 bytes that are not TLS to a TLS port (frame 30) and closed its side (FIN in frame 32); the server closed the connection (FIN in frame 33) without answering"
            ),
            flow(
                5,
                "not_tls",
                &[38, 40, 41, 43],
                "the client sent 64 bytes that are not TLS to a TLS port (frame 38) and closed its side (FIN in frame 40); the server answered with HTTP status 400 (frame 41) and closed the connection (FIN in frame 43)"
            ),
            flow(
                6,
                "incomplete",
                &[48, 50],
                "the ClientHello could not be read: ClientHello does not parse (fixed fields truncated or inconsistent) in the client stream at frame 48; the server rejected it with fatal alert decode_error (50) in frame 50"
            ),
            flow(
                7,
                "incomplete",
                &[58, 60],
                "the ClientHello could not be read: ClientHello does not parse (fixed fields truncated or inconsistent) in the client stream at frame 58; the server rejected it with fatal alert decode_error (50) in frame 60"
            ),
            flow(
                8,
                "not_tls",
                &[68, 70],
                "the client sent plain HTTP to a TLS port (GET request line in frame 68); the server closed the connection (FIN in frame 70) without answering"
            ),
            flow(9, "hidden", &[76, 78], HIDDEN_8443),
            flow(10, "hidden", &[94, 96], HIDDEN_8444),
        ]
    );
    // No network cause, no loss, nothing for the path.
    for f in doc["flows"].as_array().unwrap() {
        assert_eq!(f["network"], Value::Null, "{f}");
    }
    assert_eq!(doc["summary"]["tls_flows"], 7);
    assert_eq!(doc["summary"]["non_tls_flows"], 4);
    assert_eq!(doc["summary"]["verdicts"]["incomplete"], 5);
    assert_eq!(doc["summary"]["handshake_loss_flows"], 0);
    let kinds: Vec<&str> = doc["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["needs_keys", "needs_keys", "client_side"]);
    assert_eq!(
        doc["diagnosis"][2],
        json!({
            "kind": "client_side",
            "server": "127.0.0.1:8444",
            "conclusion": "client-side: clients sent plain HTTP to the TLS port 127.0.0.1:8444 (flow 8): use https:// for this port",
            "flows": [8],
            "evidence_frames": [68, 70]
        })
    );
    let out = run(&["analyze", &fixture("not-tls-probes.pcap")]);
    let text = String::from_utf8_lossy(&out.stdout);
    for claim in [
        "fix the path",
        "network, not configuration",
        "handshake not captured",
    ] {
        assert!(!text.contains(claim), "{text}");
    }
}

/// Without `--all`, the flows that are not TLS stay counted only, but for plain HTTP to a TLS
/// port.
#[test]
fn only_plain_http_to_a_tls_port_is_listed_without_all() {
    let doc = analyze_json(&fixture("not-tls-probes.pcap"), &[]);
    let ids: Vec<u64> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2, 6, 7, 8, 9, 10]);
    assert_eq!(doc["summary"]["non_tls_flows"], 4);
}

/// `http-to-tls-port.pcap`: curl http://alpn.test:8443/ to nginx's TLS port (nginx answers 400
/// "The plain HTTP request was sent to HTTPS port"), then curl https to the same port.
#[test]
fn plain_http_to_a_tls_port_is_listed_and_a_client_side_finding() {
    let doc = analyze_json(&fixture("http-to-tls-port.pcap"), &[]);
    assert_eq!(
        flows(&doc),
        [
            flow(
                0,
                "not_tls",
                &[4, 6, 9],
                "the client sent plain HTTP to a TLS port (GET request line in frame 4); the server answered with HTTP status 400 (frame 6) and closed the connection (FIN in frame 9)"
            ),
            flow(1, "hidden", &[14, 16], HIDDEN_8443),
        ]
    );
    // Not a TLS flow: counted with the others, listed all the same.
    assert_eq!(doc["summary"]["tls_flows"], 1);
    assert_eq!(doc["summary"]["non_tls_flows"], 1);
    assert_eq!(
        doc["diagnosis"],
        json!([
            {
                "kind": "needs_keys",
                "server": "alpn.test (127.0.0.1:8443)",
                "conclusion": "TLS 1.3 hides the choice of alpn.test (127.0.0.1:8443) in its one flow: log the client's keys (SSLKEYLOGFILE) and rerun with --keylog to see it",
                "flows": [1],
                "evidence_frames": [14, 16]
            },
            {
                "kind": "client_side",
                "server": "127.0.0.1:8443",
                "conclusion": "client-side: clients sent plain HTTP to the TLS port 127.0.0.1:8443 (flow 0): use https:// for this port",
                "flows": [0],
                "evidence_frames": [4, 6, 9]
            }
        ])
    );
}
