//! QUIC flows end to end: every `fixtures/quic-*.pcap` with and without its key log against
//! what `fixtures/quic-expected.json` records (tshark 4.0's view of each connection, with
//! aioquic's cross-check where tshark could not open a packet), plus the verdicts and details
//! alpnscope gives; and the QUIC connections of the shared JA4 corpus: found, with SNI, offer
//! and the JA4 project's expected `q…` fingerprint.

mod common;

use common::{analyze_json, numbers, project_path, strings};
use serde_json::Value;
use std::collections::BTreeSet;

fn expected() -> Value {
    let text = std::fs::read_to_string(project_path("fixtures/quic-expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The QUIC flows of a report.
fn quic_flows(doc: &Value) -> Vec<&Value> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["transport"] == "quic")
        .collect()
}

/// The flow of Wireshark's QUIC connection `number`.
fn flow_of<'a>(flows: &[&'a Value], number: &Value, at: &str) -> &'a Value {
    let found: Vec<&&Value> = flows
        .iter()
        .filter(|f| f["quic"]["connection_number"] == *number)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{at}: one flow for QUIC connection {number}"
    );
    found[0]
}

/// Frames of `packets[key]` in an expected connection (empty when absent).
fn frames(v: &Value, key: &str) -> Vec<u64> {
    numbers(&v[key])
}

/// The verdict, detail and evidence alpnscope gives each fixture (without, with its key log).
fn judged(name: &str, keys: bool) -> (&'static str, &'static str, Vec<u64>) {
    const HIDDEN_H3: &str = "TLS 1.3: the server's choice among h3 is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log";
    const AGREED_H3: &str = "the server selected h3, the client's first choice";
    let evidence = |frames: &[u64]| frames.to_vec();
    match (name, keys) {
        ("quic-alpn-mismatch.pcap", _) => (
            "no_common_protocol",
            "the server closed the connection with a CONNECTION_CLOSE in its Initial packet (frame 2): error 0x178, CRYPTO_ERROR for TLS alert no_application_protocol (120), reason \"No common ALPN protocols\"; it supports none of the offered protocols (hq-interop)",
            evidence(&[1, 2]),
        ),
        ("quic-snaplen-300.pcap", _) => (
            "incomplete",
            "no ClientHello could be read: the capture cut 3 of this connection's datagrams short (first in frame 1: a snaplen), and a QUIC packet opens only whole, so the offer is unknown; the server answered with a ServerHello (frame 2, TLS 1.3), read with the Initial keys of the cut packet's connection ID; capture whole packets (tcpdump -s 0)",
            evidence(&[1, 2]),
        ),
        ("quic-udp-blocked-tcp-fallback.pcap", _) => (
            "incomplete",
            "the client sent 4 Initial packets over 1.4 s (frames 1–4) and the server sent nothing back: UDP to this server may be blocked on the path, or nothing listens for QUIC on this port",
            evidence(&[1, 4]),
        ),
        ("quic-h3-29-only-server.pcap", false) => (
            "hidden",
            "TLS 1.3: the server's choice among h3, h3-29 is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log",
            evidence(&[1, 2]),
        ),
        ("quic-h3-29-only-server.pcap", true) => (
            "downgraded",
            "the client preferred h3 but the server selected h3-29 (offered: h3, h3-29): the server does not enable h3 here, or ranks it below h3-29",
            evidence(&[1, 2]),
        ),
        ("quic-hello-two-initials.pcap", false) => ("hidden", "", evidence(&[1, 2, 4])),
        ("quic-hello-two-initials.pcap", true) => ("agreed", AGREED_H3, evidence(&[1, 2, 4])),
        ("quic-first-initial-dropped.pcap", false) => ("hidden", HIDDEN_H3, evidence(&[1, 3])),
        ("quic-first-initial-dropped.pcap", true) => ("agreed", AGREED_H3, evidence(&[1, 3])),
        // After a Retry or a Version Negotiation, the ClientHello that counts is the one the
        // client sent again (frame 3), answered in frame 4.
        ("quic-retry.pcap" | "quic-version-negotiation.pcap", false) => {
            ("hidden", HIDDEN_H3, evidence(&[3, 4]))
        }
        ("quic-retry.pcap" | "quic-version-negotiation.pcap", true) => {
            ("agreed", AGREED_H3, evidence(&[3, 4]))
        }
        (_, false) => ("hidden", HIDDEN_H3, evidence(&[1, 2])),
        (_, true) => ("agreed", AGREED_H3, evidence(&[1, 2])),
    }
}

/// The notes of each fixture (the same with and without keys).
fn notes(name: &str, keys: bool) -> Vec<&'static str> {
    match (name, keys) {
        ("quic-compatible-v1-to-v2.pcap", _) => vec![
            "1 Initial packet did not open with the Initial keys of their version (frame 3): a peer's bug, a damaged packet, or another connection's",
        ],
        ("quic-first-initial-dropped.pcap", _) => {
            vec!["the client re-sent its Initial data once (frame 2)"]
        }
        ("quic-h3-29-only-server.pcap", true) => vec![
            "the server selected h3-29, a draft HTTP/3 token: clients are dropping the drafts since RFC 9114 (h3); enable h3 on the server",
        ],
        ("quic-udp-blocked-tcp-fallback.pcap", _) => {
            vec!["the client re-sent its Initial data 3 times (frames 2, 3, 4)"]
        }
        // Without keys a re-sent Handshake packet cannot be told from a new one.
        ("quic-handshake-packet-lost.pcap", true) => {
            vec!["the server re-sent its Handshake data once (frame 7)"]
        }
        _ => vec![],
    }
}

/// Every QUIC fixture, without and with its key log: each connection tshark finds is one QUIC
/// flow with tshark's endpoints, frames, versions, connection IDs, Retry, Version Negotiation,
/// SNI, offer, client Initials and (with keys) selection; the CONNECTION_CLOSE readable without
/// 1-RTT keys; and alpnscope's verdict, detail, evidence and notes.
#[test]
fn every_quic_fixture_matches_its_expected_connections() {
    let expected = expected();
    let fixtures = expected["fixtures"].as_object().unwrap();
    assert_eq!(fixtures.len(), 14, "every QUIC fixture is listed");
    for (name, fixture) in fixtures {
        let path = project_path(&format!("fixtures/{name}"));
        let key_file = fixture["keys"]
            .as_str()
            .map(|k| project_path(&format!("fixtures/{k}")));
        let mut modes = vec![None];
        modes.extend(
            key_file
                .iter()
                .map(|k| Some(k.to_str().unwrap().to_string())),
        );
        for keys in modes {
            let at = format!("{name} (keys: {})", keys.is_some());
            let extra: Vec<&str> = match &keys {
                Some(k) => vec!["--keylog", k.as_str()],
                None => vec![],
            };
            let doc = analyze_json(path.to_str().unwrap(), &extra);
            let flows = quic_flows(&doc);
            let connections = fixture["connections"].as_array().unwrap();
            assert_eq!(flows.len(), connections.len(), "{at}: QUIC flows");
            for c in connections {
                let flow = flow_of(&flows, &c["quic_connection"], &at);
                check_connection(name, keys.is_some(), fixture, c, flow, &at);
            }
            // TCP flows of a mixed capture keep their tcp.stream; QUIC flows have none.
            for flow in doc["flows"].as_array().unwrap() {
                let quic = flow["transport"] == "quic";
                assert_eq!(flow["tcp_stream"].is_null(), quic, "{at}: tcp_stream");
                assert_eq!(flow["tcp"].is_null(), quic, "{at}: tcp object");
                assert_eq!(flow["quic"].is_null(), !quic, "{at}: quic object");
            }
        }
    }
}

/// Each side's Handshake packets (opened or not), the re-sent ones (with keys only), and the
/// end of the handshake: with keys the client's Finished, without them its first 1-RTT packet,
/// in tshark's frame and at tshark's time from the first client Initial.
fn check_handshake(keys: bool, restarted: bool, c: &Value, q: &Value, at: &str) {
    let packets = &c["packets"];
    for side in ["client", "server"] {
        assert_eq!(
            numbers(&q["handshake_packets"][side]["frames"]),
            frames(packets, &format!("{side}_handshake")),
            "{at}: {side} Handshake packets"
        );
        let resent = &q["handshake_resent"][side];
        if !keys || frames(packets, &format!("{side}_handshake")).is_empty() {
            assert!(resent.is_null(), "{at}: {side} re-sent Handshakes unknown");
        } else {
            // tshark 4.0 cannot open the Handshake packets after a Retry or Version
            // Negotiation; those loopback captures lost nothing.
            let expected = if restarted {
                vec![]
            } else {
                frames(&c["crypto_resent"], &format!("{side}_handshake"))
            };
            assert_eq!(
                numbers(&resent["frames"]),
                expected,
                "{at}: {side} re-sent Handshakes"
            );
        }
    }
    // tshark 4.0 reads no Finished after a Retry or Version Negotiation: there the client's
    // first 1-RTT packet (which comes with its Finished in these captures) stands for it.
    let (end, evidence) = match (keys, restarted) {
        (true, false) => (&c["client_finished"], "client_finished"),
        (true, true) => (&c["client_first_1rtt"], "client_finished"),
        (false, _) => (&c["client_first_1rtt"], "client_first_short_header"),
    };
    if end.is_null() {
        assert!(q["handshake_end_frame"].is_null(), "{at}: no handshake end");
        assert!(q["handshake_ms"].is_null(), "{at}: no handshake time");
        assert!(q["handshake_end_evidence"].is_null(), "{at}: no evidence");
    } else {
        assert_eq!(
            q["handshake_end_frame"], end["frame"],
            "{at}: handshake end"
        );
        assert_eq!(
            q["handshake_ms"].as_f64(),
            end["ms_after_first_client_initial"].as_f64(),
            "{at}: handshake time"
        );
        assert_eq!(q["handshake_end_evidence"], evidence, "{at}: evidence");
    }
}

fn check_connection(name: &str, keys: bool, fixture: &Value, c: &Value, flow: &Value, at: &str) {
    let q = &flow["quic"];
    assert_eq!(flow["client"]["ip"], c["client"]["addr"], "{at}: client");
    assert_eq!(
        flow["client"]["port"], c["client"]["port"],
        "{at}: client port"
    );
    assert_eq!(flow["server"]["ip"], c["server"]["addr"], "{at}: server");
    assert_eq!(
        flow["server"]["port"], c["server"]["port"],
        "{at}: server port"
    );
    assert_eq!(flow["first_frame"], c["first_frame"], "{at}: first frame");
    assert_eq!(flow["last_frame"], c["last_frame"], "{at}: last frame");
    assert_eq!(flow["sni"], c["sni"], "{at}: SNI");
    assert_eq!(
        strings(&flow["alpn_offered"]),
        strings(&c["alpn_offered"]),
        "{at}: offered"
    );
    let version = if c["version_first_server_initial"].is_null() {
        &c["version_first_client_initial"]
    } else {
        &c["version_first_server_initial"]
    };
    assert_eq!(q["version"], *version, "{at}: version");
    let client_version = &c["version_first_client_initial"];
    if client_version == version {
        assert!(q["client_version"].is_null(), "{at}: client version");
    } else {
        assert_eq!(q["client_version"], *client_version, "{at}: client version");
    }
    assert_eq!(q["client_dcid"], c["client_dcid"], "{at}: client DCID");
    assert_eq!(q["server_scid"], c["server_scid"], "{at}: server SCID");
    match c["retry"].as_object() {
        Some(retry) => {
            assert_eq!(q["retry"]["frame"], retry["frame"], "{at}: Retry frame");
            assert_eq!(q["retry"]["scid"], retry["scid"], "{at}: Retry SCID");
            assert_eq!(q["retry"]["integrity"], "valid", "{at}: Retry tag");
        }
        None => assert!(q["retry"].is_null(), "{at}: no Retry"),
    }
    match c["version_negotiation"].as_object() {
        Some(vn) => {
            assert_eq!(q["version_negotiation"]["frame"], vn["frame"], "{at}: VN");
            assert_eq!(
                q["version_negotiation"]["versions"], vn["supported_versions"],
                "{at}: VN versions"
            );
        }
        None => assert!(q["version_negotiation"].is_null(), "{at}: no VN"),
    }
    // Only closes in Initial and Handshake packets are readable (1-RTT keys are never used).
    let readable: Vec<&Value> = c["close"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|close| close["packet_type"] == "initial" || close["packet_type"] == "handshake")
        .collect();
    match readable.first() {
        Some(close) => {
            let got = &q["close"];
            assert_eq!(got["frame"], close["frame"], "{at}: close frame");
            assert_eq!(got["from"], close["from"], "{at}: close from");
            assert_eq!(
                got["packet_type"], close["packet_type"],
                "{at}: close packet"
            );
            assert_eq!(got["frame_type"], "transport", "{at}: close type");
            assert_eq!(got["error_code"], close["error_code"], "{at}: close error");
            assert_eq!(got["tls_alert"], close["tls_alert"], "{at}: close alert");
            assert_eq!(
                got["tls_alert_name"], close["tls_alert_name"],
                "{at}: close alert name"
            );
            assert_eq!(got["error_name"], "CRYPTO_ERROR", "{at}: close error name");
            assert_eq!(got["reason"], close["reason"], "{at}: close reason");
        }
        None => assert!(q["close"].is_null(), "{at}: no readable close"),
    }
    let packets = &c["packets"];
    assert_eq!(
        numbers(&q["client_initials"]["frames"]),
        frames(packets, "client_initial"),
        "{at}: client Initials"
    );
    // Each frame with a 1-RTT packet holds one (the short header runs to the datagram's end).
    let one_rtt = frames(packets, "client_1rtt").len() + frames(packets, "server_1rtt").len();
    assert_eq!(q["one_rtt_packets"], one_rtt as u64, "{at}: 1-RTT packets");
    // tshark counts the ClientHello sent again after a Retry or Version Negotiation as
    // re-sent CRYPTO data; alpnscope does not (the client started over, as asked).
    let restarted = !c["retry"].is_null() || !c["version_negotiation"].is_null();
    let resent = if restarted {
        vec![]
    } else {
        frames(&c["crypto_resent"], "client_initial")
    };
    assert_eq!(
        numbers(&q["client_initials_resent"]["frames"]),
        resent,
        "{at}: re-sent Initials"
    );
    check_handshake(keys, restarted, c, q, at);
    // Initial packets tshark could not open, but for those aioquic opened with the keys of
    // their own version (tshark 4.0 keeps the first keys after a Retry or Version Negotiation).
    let opened_by_aioquic: BTreeSet<u64> = c["aioquic_cross_check"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .filter(|check| {
                    check["packets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|p| p["version"] == p["initial_keys_of_version"])
                })
                .filter_map(|check| check["frame"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    let mut undecryptable: Vec<u64> = ["client_initial", "server_initial"]
        .iter()
        .flat_map(|k| frames(&c["decryption_failed"], k))
        .filter(|f| !opened_by_aioquic.contains(f))
        .collect();
    undecryptable.sort_unstable();
    assert_eq!(
        numbers(&q["undecryptable_initials"]["frames"]),
        undecryptable,
        "{at}: undecryptable Initials"
    );
    // With keys, the selection is the EncryptedExtensions'. tshark 4.0 could not open the
    // Handshake packets after a Retry or Version Negotiation; the client reported h3 there.
    let selected = if !keys {
        Value::Null
    } else if restarted {
        assert!(
            fixture["client_reported"]
                .as_str()
                .unwrap()
                .starts_with("ALPN h3,"),
            "{at}: the client's own report"
        );
        Value::from("h3")
    } else {
        c["alpn_selected"].clone()
    };
    assert_eq!(flow["alpn_selected"], selected, "{at}: selected");
    if keys && !selected.is_null() {
        assert_eq!(flow["alpn_source"], "encrypted_extensions", "{at}: source");
    }
    let client_hello = &c["client_hello"];
    if !client_hello.is_null() && !restarted {
        assert_eq!(
            flow["client_hello"]["random"], client_hello["random"],
            "{at}: ClientHello random"
        );
    }
    if !client_hello.is_null() {
        assert!(
            flow["client_hello"]["ja4"]
                .as_str()
                .unwrap()
                .starts_with("q13d"),
            "{at}: JA4 of QUIC"
        );
    } else {
        assert!(flow["client_hello"].is_null(), "{at}: no ClientHello");
    }
    let (verdict, detail, evidence) = judged(name, keys);
    assert_eq!(flow["verdict"], verdict, "{at}: verdict");
    if !detail.is_empty() {
        assert_eq!(flow["detail"], detail, "{at}: detail");
    }
    assert_eq!(
        numbers(&flow["evidence_frames"]),
        evidence,
        "{at}: evidence"
    );
    assert_eq!(strings(&flow["notes"]), notes(name, keys), "{at}: notes");
}

/// The fallback capture: the QUIC attempt is flow 0 (first packet), the TCP connection that
/// followed flow 1 with tcp.stream 0, and the text names both with their Wireshark filters.
#[test]
fn quic_and_tcp_flows_share_one_numbering() {
    let path = project_path("fixtures/quic-udp-blocked-tcp-fallback.pcap");
    let keys = project_path("fixtures/quic-udp-blocked-tcp-fallback.keys");
    let doc = analyze_json(
        path.to_str().unwrap(),
        &["--keylog", keys.to_str().unwrap()],
    );
    let flows = doc["flows"].as_array().unwrap();
    let got: Vec<(u64, &str, Value, Value, &str)> = flows
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["transport"].as_str().unwrap(),
                f["tcp_stream"].clone(),
                f["quic"]["connection_number"].clone(),
                f["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "quic", Value::Null, Value::from(0), "incomplete"),
            (1, "tcp", Value::from(0), Value::Null, "agreed"),
        ]
    );
    assert_eq!(doc["captures"][0]["decode"]["quic"], 4);
    let out = common::run(&["analyze", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "flow 0  QUIC  192.0.2.1:39195 → 192.0.2.2:443  frames 1–4"
    );
    assert!(
        text.contains("  quic      QUIC v1, quic.connection.number == 0\n"),
        "{text}"
    );
    let out = common::run(&["analyze", "--format", "markdown", path.to_str().unwrap()]);
    let markdown = String::from_utf8(out.stdout).unwrap();
    assert!(
        markdown.contains("### Flow 0: `incomplete` — 192.0.2.1:39195 → 192.0.2.2:443 (QUIC)\n")
    );
    assert!(markdown.contains("| Wireshark filter | `quic.connection.number == 0` |\n"));
    assert!(markdown.contains("| Wireshark filter | `tcp.stream eq 0` |\n"));
}

fn corpus_capture(name: &str) -> std::path::PathBuf {
    let path = project_path("../shared/corpus/ja4").join(name);
    assert!(
        path.is_file(),
        "the shared corpus must be at {} (it is provided beside the project)",
        path.display()
    );
    path
}

/// The 51 QUIC connections tshark finds in the shared JA4 corpus: each is one QUIC flow with
/// tshark's first frame and ports, its SNI and offer, and the JA4 project's expected `q…`
/// fingerprint.
#[test]
fn the_corpus_quic_connections_are_found_with_their_ja4() {
    let expected = expected();
    let corpus = expected["corpus"].as_object().unwrap();
    let mut total = 0;
    for (name, capture) in corpus {
        let doc = analyze_json(corpus_capture(name).to_str().unwrap(), &[]);
        let flows = quic_flows(&doc);
        let connections = capture["connections"].as_array().unwrap();
        assert_eq!(flows.len(), connections.len(), "{name}: QUIC flows");
        for c in connections {
            let at = format!("{name} connection {}", c["quic_connection"]);
            let flow = flow_of(&flows, &c["quic_connection"], &at);
            assert_eq!(flow["first_frame"], c["first_frame"], "{at}: first frame");
            assert_eq!(
                flow["client"]["port"], c["client"]["port"],
                "{at}: client port"
            );
            assert_eq!(
                flow["server"]["port"], c["server"]["port"],
                "{at}: server port"
            );
            assert_eq!(flow["sni"], c["sni"], "{at}: SNI");
            assert_eq!(
                strings(&flow["alpn_offered"]),
                strings(&c["alpn_offered"]),
                "{at}: offered"
            );
            assert_eq!(
                flow["client_hello"]["ja4"], c["ja4_corpus_expected"],
                "{at}: JA4"
            );
            assert_eq!(flow["quic"]["client_dcid"], c["client_dcid"], "{at}: DCID");
            total += 1;
        }
    }
    assert_eq!(total, 51);
}

/// The corpus capture with its own secrets (a pcapng Decryption Secrets Block): the QUIC
/// connection's EncryptedExtensions selects h3, as Wireshark shows (frame 50).
#[test]
fn the_corpus_quic_capture_with_secrets_selects_h3() {
    let path = corpus_capture("captures/chrome-cloudflare-quic-with-secrets.pcapng");
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flows = quic_flows(&doc);
    assert_eq!(flows.len(), 1);
    let flow = flows[0];
    assert_eq!(flow["sni"], "cloudflare-quic.com");
    assert_eq!(flow["alpn_selected"], "h3");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(
        numbers(&flow["encrypted_extensions"]["frames"]),
        [50],
        "EncryptedExtensions frame"
    );
    assert_eq!(flow["server_hello"]["frames"], serde_json::json!([49]));
    assert_eq!(flow["tls_version"], "1.3");
}

/// The conclusion drawn across the fallback capture's two flows.
const FALLBACK_FINDING: &str = "HTTP/3 failed and the client fell back to TCP: 192.0.2.1 sent 4 QUIC Initial packets to alpn.test (192.0.2.2:443) in flow 0 (frames 1–4) and got nothing back, then connected over TCP to the same port in flow 1 (frames 5–23), which agreed on h2; the packets show only that UDP went unanswered, not why: UDP blocked on the path (a firewall that passes only TCP) or nothing listening for QUIC on UDP port 443 — not proven which; a capture at the server tells them apart (Initial packets that arrive there: nothing listens for QUIC)";

/// The fallback capture: curl's QUIC Initials to 192.0.2.2:443 dropped by nftables, then its
/// TCP connection to the same port: one `quic_fallback` finding naming both flows, their
/// frames and the TCP outcome (h2 with keys, hidden without), in JSON, text and Markdown.
#[test]
fn unanswered_quic_then_tcp_is_a_fallback_finding() {
    let path = project_path("fixtures/quic-udp-blocked-tcp-fallback.pcap");
    let keys = project_path("fixtures/quic-udp-blocked-tcp-fallback.keys");
    let doc = analyze_json(
        path.to_str().unwrap(),
        &["--keylog", keys.to_str().unwrap()],
    );
    assert_eq!(
        doc["diagnosis"],
        serde_json::json!([{
            "kind": "quic_fallback",
            "server": "alpn.test (192.0.2.2:443)",
            "conclusion": FALLBACK_FINDING,
            "flows": [0, 1],
            "evidence_frames": [1, 4, 8, 10],
        }])
    );
    let out = common::run(&["analyze", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let findings: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "findings")
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        findings,
        [
            "findings",
            "  - HTTP/3 failed and the client fell back to TCP: 192.0.2.1 sent 4 QUIC Initial packets to",
            "    alpn.test (192.0.2.2:443) in flow 0 (frames 1–4) and got nothing back, then connected over TCP",
            "    to the same port in flow 1 (frames 5–23), whose protocol TLS 1.3 hides (a key log shows it); the",
            "    packets show only that UDP went unanswered, not why: UDP blocked on the path (a firewall that",
            "    passes only TCP) or nothing listening for QUIC on UDP port 443 — not proven which; a capture at",
            "    the server tells them apart (Initial packets that arrive there: nothing listens for QUIC)",
            // The TCP listener is a server of its own: all of its flows are hidden.
            "  - TLS 1.3 hides the choice of alpn.test (192.0.2.2:443) in its one flow: log the client's keys",
            "    (SSLKEYLOGFILE) and rerun with --keylog to see it",
        ]
    );
    assert!(
        text.contains("\nsummary 2 TLS flows (1 over QUIC), 0 TCP flows without TLS\n"),
        "{text}"
    );
    assert_eq!(doc["summary"]["quic_flows"], 1);
    let out = common::run(&[
        "analyze",
        "--format",
        "markdown",
        "--keylog",
        keys.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let markdown = String::from_utf8(out.stdout).unwrap();
    let bullet =
        format!("- **quic fallback** — {FALLBACK_FINDING} (flows 0, 1; frames 1, 4, 8, 10)\n");
    assert!(markdown.contains(&bullet), "{markdown}");
}

/// The summary lists a QUIC and a TCP server on one address and port as two servers, each with
/// its own verdicts (and, in Markdown, its own protocols selected): UDP 443 went unanswered
/// (incomplete), TCP 443 agreed on h2.
#[test]
fn the_summary_keeps_quic_and_tcp_on_one_port_apart() {
    let path = project_path("fixtures/quic-udp-blocked-tcp-fallback.pcap");
    let keys = project_path("fixtures/quic-udp-blocked-tcp-fallback.keys");
    let (path, keys) = (path.to_str().unwrap(), keys.to_str().unwrap());
    let doc = analyze_json(path, &["--keylog", keys]);
    assert_eq!(
        doc["summary"]["servers"],
        serde_json::json!([
            {"server": "192.0.2.2:443", "transport": "quic", "sni": ["alpn.test"], "flows": 1,
             "verdicts": {"incomplete": 1}},
            {"server": "192.0.2.2:443", "transport": "tcp", "sni": ["alpn.test"], "flows": 1,
             "verdicts": {"agreed": 1}},
        ])
    );
    let out = common::run(&["analyze", "--keylog", keys, path]);
    let text = String::from_utf8(out.stdout).unwrap();
    let servers: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("  server "))
        .collect();
    assert_eq!(
        servers,
        [
            "  server                                   flows  SNI                     verdicts",
            "  192.0.2.2:443 over QUIC                      1  alpn.test               incomplete 1",
            "  192.0.2.2:443                                1  alpn.test               agreed 1",
        ]
    );
    let out = common::run(&["analyze", "--format", "markdown", "--keylog", keys, path]);
    let markdown = String::from_utf8(out.stdout).unwrap();
    let table = "| server | SNI | flows | protocols selected | verdicts |\n\
                 |---|---|---:|---|---|\n\
                 | `192.0.2.2:443` over QUIC | `alpn.test` | 1 | - | `incomplete` 1 |\n\
                 | `192.0.2.2:443` | `alpn.test` | 1 | `h2` | `agreed` 1 |\n";
    assert!(markdown.contains(table), "{markdown}");
}

/// A server Handshake packet lost on the path (quic-handshake-packet-lost.pcap, captured at the
/// server): with the key log the re-sent Handshake data (frame 7) and the client's Finished
/// (frame 8) are read; without it the Handshake packets are only counted, and the end of the
/// handshake is the client's first 1-RTT packet (the same frame here). tshark's view of the same
/// frames is checked by `every_quic_fixture_matches_its_expected_connections`.
#[test]
fn a_lost_server_handshake_packet_is_re_sent_data_with_keys_only() {
    let path = project_path("fixtures/quic-handshake-packet-lost.pcap");
    let keys = project_path("fixtures/quic-handshake-packet-lost.keys");
    let (path, keys) = (path.to_str().unwrap(), keys.to_str().unwrap());
    let quic_line = |extra: &[&str]| {
        let mut args = vec!["analyze"];
        args.extend_from_slice(extra);
        args.push(path);
        let text = String::from_utf8(common::run(&args).stdout).unwrap();
        let lines: Vec<String> = text.lines().skip(1).take(3).map(str::to_string).collect();
        let notes: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("  note "))
            .map(str::to_string)
            .collect();
        (lines, notes)
    };
    let (lines, notes) = quic_line(&["--keylog", keys]);
    assert_eq!(
        lines,
        [
            "  quic      QUIC v1, quic.connection.number == 0; server's first Initial after 6.331 ms; handshake",
            "            13.442 ms (to the client's Finished in frame 8); Handshake packets: 3 from the client, 4",
            "            from the server",
        ]
    );
    assert_eq!(
        notes,
        ["  note      the server re-sent its Handshake data once (frame 7)"]
    );
    let (lines, notes) = quic_line(&[]);
    assert_eq!(
        lines,
        [
            "  quic      QUIC v1, quic.connection.number == 0; server's first Initial after 6.331 ms; handshake",
            "            13.442 ms (to the client's first 1-RTT packet in frame 8); Handshake packets: 3 from the",
            "            client, 4 from the server",
        ]
    );
    assert!(notes.is_empty(), "{notes:?}");
    let quic = &analyze_json(path, &["--keylog", keys])["flows"][0]["quic"];
    assert_eq!(quic["handshake_ms"], 13.442);
    assert_eq!(quic["handshake_end_frame"], 8);
    assert_eq!(quic["handshake_end_evidence"], "client_finished");
    assert_eq!(
        quic["handshake_packets"],
        serde_json::json!({"client": {"count": 3, "frames": [3, 6, 8]},
                           "server": {"count": 4, "frames": [2, 4, 5, 7]}})
    );
    assert_eq!(
        quic["handshake_resent"],
        serde_json::json!({"client": {"count": 0, "frames": []},
                           "server": {"count": 1, "frames": [7]}})
    );
    let quic = &analyze_json(path, &[])["flows"][0]["quic"];
    assert_eq!(quic["handshake_end_evidence"], "client_first_short_header");
    assert_eq!(
        quic["handshake_resent"],
        serde_json::json!({"client": null, "server": null})
    );
}

/// The records of a classic little-endian pcap file: the file header and each record's bytes.
fn pcap_records(bytes: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let (header, mut rest) = bytes.split_at(24);
    assert_eq!(header[0], 0xd4, "a little-endian microsecond pcap");
    let mut records = Vec::new();
    while rest.len() >= 16 {
        let caplen = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let (record, tail) = rest.split_at(16 + caplen);
        records.push(record);
        rest = tail;
    }
    (header, records)
}

/// Metamorphic: only what the capture saw twice is re-sent. Without the server's lost datagram
/// (frame 4 taken out: a capture that missed it too) its data in frame 7 — now 6 — is the first
/// copy, so nothing is called re-sent, and the handshake still ends with the client's Finished
/// (now frame 7); a copy of frame 5 added right after it is re-sent data.
#[test]
fn handshake_data_is_re_sent_only_when_the_capture_saw_it_before() {
    let bytes = std::fs::read(project_path("fixtures/quic-handshake-packet-lost.pcap")).unwrap();
    let keys = project_path("fixtures/quic-handshake-packet-lost.keys");
    let (header, records) = pcap_records(&bytes);
    assert_eq!(records.len(), 15);
    let dir = std::env::temp_dir().join(format!("alpnscope-quic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let quic_of = |name: &str, records: &[&[u8]]| {
        let path = dir.join(name);
        let mut out = header.to_vec();
        for r in records {
            out.extend_from_slice(r);
        }
        std::fs::write(&path, out).unwrap();
        let doc = analyze_json(
            path.to_str().unwrap(),
            &["--keylog", keys.to_str().unwrap()],
        );
        doc["flows"][0]["quic"].clone()
    };
    let mut dropped = records.clone();
    dropped.remove(3);
    let quic = quic_of("dropped.pcap", &dropped);
    assert_eq!(
        quic["handshake_resent"],
        serde_json::json!({"client": {"count": 0, "frames": []},
                           "server": {"count": 0, "frames": []}})
    );
    assert_eq!(
        numbers(&quic["handshake_packets"]["server"]["frames"]),
        [2, 4, 6]
    );
    assert_eq!(quic["handshake_end_frame"], 7);
    assert_eq!(quic["handshake_end_evidence"], "client_finished");
    let mut copied = records.clone();
    copied.insert(5, records[4]);
    let quic = quic_of("copied.pcap", &copied);
    assert_eq!(
        quic["handshake_resent"]["server"],
        serde_json::json!({"count": 2, "frames": [6, 8]})
    );
    assert_eq!(quic["handshake_end_frame"], 9);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// quic-h3-agreed.pcap cut to 300 bytes a frame (fixtures/make-fixtures.sh quic_snaplen_300): no
/// client Initial opens, but the cut Initial still names the connection ID its keys come from,
/// and those open the server's whole Initial packet in frame 2 — the ServerHello, as tshark
/// shows it. The client is the side that sent the cut Initial; the offer stays unknown.
#[test]
fn a_snaplen_cut_client_initial_still_opens_the_servers_initial() {
    let path = project_path("fixtures/quic-snaplen-300.pcap");
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flows = quic_flows(&doc);
    assert_eq!(flows.len(), 1);
    let flow = flows[0];
    assert_eq!(flow["client"]["port"], 55122);
    assert_eq!(flow["server"]["port"], 443);
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(
        flow["detail"],
        "no ClientHello could be read: the capture cut 3 of this connection's datagrams short (first in frame 1: a snaplen), and a QUIC packet opens only whole, so the offer is unknown; the server answered with a ServerHello (frame 2, TLS 1.3), read with the Initial keys of the cut packet's connection ID; capture whole packets (tcpdump -s 0)"
    );
    assert_eq!(numbers(&flow["evidence_frames"]), [1, 2]);
    assert_eq!(flow["tls_version"], "1.3");
    assert_eq!(numbers(&flow["server_hello"]["frames"]), [2]);
    assert!(flow["client_hello"].is_null());
    assert_eq!(flow["alpn_selected"], Value::Null);
    let q = &flow["quic"];
    assert_eq!(q["client_dcid"], "6b4d757214bdbb61");
    assert_eq!(q["server_scid"], "6446622bca48f4c9");
    assert_eq!(numbers(&q["client_initials"]["frames"]), [1, 3]);
    assert_eq!(q["undecryptable_initials"]["count"], 0);
    // The selection is in the EncryptedExtensions, which the capture cut: unknown, not "none".
    let out = common::run(&["analyze", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\n  selected  (encrypted)  (TLS 1.3)\n"),
        "{text}"
    );
}
