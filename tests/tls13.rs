//! TLS 1.3 with key logs (EncryptedExtensions, certificates, HelloRetryRequest), and the
//! captures of resets, mid-stream pickup and several interfaces. Expected values are those of
//! `fixtures/EXPECTED.md` (tshark with the same key logs).

mod common;

use common::{analyze_json, numbers, project_path, run, strings};
use serde_json::Value;

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn only_flow(doc: &Value) -> &Value {
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    &flows[0]
}

#[test]
fn every_cipher_suite_decrypts_encrypted_extensions() {
    for (name, port, suite) in [
        ("tls13-aes128-keylog", 58680, "TLS_AES_128_GCM_SHA256"),
        ("tls13-aes256-keylog", 58688, "TLS_AES_256_GCM_SHA384"),
        ("tls13-chacha-keylog", 60590, "TLS_CHACHA20_POLY1305_SHA256"),
        ("tls13-curl-keylog", 60596, "TLS_AES_256_GCM_SHA384"),
        ("tls13-ccm-keylog", 44938, "TLS_AES_128_CCM_SHA256"),
    ] {
        let keys = fixture(&format!("{name}.keys"));
        let doc = analyze_json(&fixture(&format!("{name}.pcap")), &["--keylog", &keys]);
        let flow = only_flow(&doc);
        assert_eq!(flow["client"]["port"], port, "{name}");
        assert_eq!(flow["server_hello"]["cipher_suite"], suite, "{name}");
        assert_eq!(flow["verdict"], "agreed", "{name}");
        assert_eq!(flow["alpn_selected"], "h2", "{name}");
        assert_eq!(flow["alpn_source"], "encrypted_extensions", "{name}");
        assert_eq!(flow["decryption"], "decrypted", "{name}");
        assert_eq!(
            numbers(&flow["encrypted_extensions"]["frames"]),
            [6],
            "{name}"
        );
        assert_eq!(
            strings(&flow["encrypted_extensions"]["alpn"]),
            ["h2"],
            "{name}"
        );
        assert_eq!(numbers(&flow["evidence_frames"]), [4, 6], "{name}");
        let cert = &flow["server_certificate"];
        assert_eq!(cert["subject"], "CN=alpn.test", "{name}");
        assert_eq!(cert["issuer"], "CN=alpn.test", "{name}");
        assert!(
            strings(&cert["san"]).contains(&"DNS:alpn.test".to_string()),
            "{name}"
        );
    }
}

#[test]
fn without_keys_the_same_flow_is_hidden_and_says_how_to_get_them() {
    let doc = analyze_json(&fixture("tls13-aes128-keylog.pcap"), &[]);
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "hidden");
    assert!(flow["decryption"].is_null());
    let detail = flow["detail"].as_str().unwrap();
    assert!(detail.contains("SSLKEYLOGFILE"), "{detail}");
    assert!(detail.contains("-keylogfile"), "{detail}");
    assert!(detail.contains("--keylog"), "{detail}");
}

#[test]
fn tls13_server_without_alpn_declines() {
    let keys = fixture("tls13-no-alpn-server-keylog.keys");
    let doc = analyze_json(
        &fixture("tls13-no-alpn-server-keylog.pcap"),
        &["--keylog", &keys],
    );
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "server_declined");
    assert_eq!(flow["alpn_selected"], Value::Null);
    assert!(flow["encrypted_extensions"]["alpn"].is_null());
    let detail = flow["detail"].as_str().unwrap();
    assert!(
        detail.contains("EncryptedExtensions (frame 6) has no ALPN extension"),
        "{detail}"
    );
}

#[test]
fn secrets_embedded_in_pcapng_are_used() {
    let doc = analyze_json(&fixture("tls13-injected-secrets.pcapng"), &[]);
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert!(
        doc["captures"][0]["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn key_log_for_other_connections_is_named() {
    let keys = fixture("other-connections.keys");
    let doc = analyze_json(&fixture("tls13-aes128-keylog.pcap"), &["--keylog", &keys]);
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(
        flow["decryption"],
        "no key-log entry for this ClientHello random"
    );
    assert!(
        flow["detail"]
            .as_str()
            .unwrap()
            .contains("no entry for this ClientHello random")
    );
}

/// A copy of a key log with the same randoms and every secret's first hex digit changed.
fn broken_keys(name: &str) -> std::path::PathBuf {
    let keys = std::fs::read_to_string(fixture(name)).unwrap();
    let broken: String = keys
        .lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, secret)) if !l.starts_with('#') => {
                let flipped = if secret.starts_with('0') { "1" } else { "0" };
                format!("{head} {flipped}{}\n", &secret[1..])
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("alpnscope-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("broken-{name}"));
    std::fs::write(&path, broken).unwrap();
    path
}

#[test]
fn wrong_secret_for_the_right_random_is_a_decryption_failure() {
    let path = broken_keys("tls13-aes128-keylog.keys");
    let doc = analyze_json(
        &fixture("tls13-aes128-keylog.pcap"),
        &["--keylog", path.to_str().unwrap()],
    );
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(
        flow["decryption"],
        "decryption failed: keys do not match this flow"
    );
}

#[test]
fn decryption_that_stops_at_a_gap_names_the_gap_not_the_keys() {
    // editcap removed the server segment that completes its Certificate (bytes 617–822 of the
    // server stream): the client ACKs them in frame 10, the next server segment is frame 12
    // (tshark: tcp.analysis.lost_segment), whose record does not open.
    let doc = analyze_json(
        &fixture("tls13-gap-keylog.pcap"),
        &["--keylog", &fixture("tls13-gap-keylog.keys")],
    );
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(numbers(&flow["encrypted_extensions"]["frames"]), [6]);
    assert_eq!(
        flow["decryption"],
        "decryption stopped at a gap in the server stream"
    );
    assert_eq!(
        strings(&flow["notes"]),
        [
            "server stream, frame 10: 206 bytes missing from the capture",
            "server stream, frame 12: decryption stopped at a gap: 206 bytes of this stream are missing before frame 12, and the records after a gap cannot be opened (their sequence numbers are lost); the same keys opened the records before it",
            "server stream: 1 gap, 206 bytes missing from the capture",
        ]
    );
    assert_eq!(flow["tcp"]["handshake_loss"], false);

    // The same capture with wrong secrets fails at its first protected record, before the gap.
    let wrong = broken_keys("tls13-gap-keylog.keys");
    let doc = analyze_json(
        &fixture("tls13-gap-keylog.pcap"),
        &["--keylog", wrong.to_str().unwrap()],
    );
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(
        flow["decryption"],
        "decryption failed: keys do not match this flow"
    );
    assert!(strings(&flow["notes"]).contains(
        &"server stream, frame 6: decryption failed: the keys do not match this flow".to_string()
    ));
}

#[test]
fn malformed_key_log_exits_2_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("alpnscope-badkeys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.keys");
    std::fs::write(&path, "# comment\nCLIENT_HANDSHAKE_TRAFFIC_SECRET zz 00\n").unwrap();
    let out = run(&[
        "analyze",
        "--keylog",
        path.to_str().unwrap(),
        &fixture("tls13-aes128-keylog.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("not hex") || err.contains("32 bytes"), "{err}");
}

#[test]
fn key_material_never_appears_in_any_output() {
    let keys_path = fixture("tls13-aes128-keylog.keys");
    let keys = std::fs::read_to_string(&keys_path).unwrap();
    let secrets: Vec<&str> = keys
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(!secrets.is_empty());
    for format in ["text", "json", "jsonl", "markdown"] {
        let out = run(&[
            "analyze",
            "--format",
            format,
            "--keylog",
            &keys_path,
            &fixture("tls13-aes128-keylog.pcap"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        for secret in &secrets {
            assert!(
                !text.contains(&secret[..16].to_lowercase()),
                "{format} shows key material"
            );
        }
    }
}

#[test]
fn hello_retry_request_keeps_the_second_client_hello() {
    let keys = fixture("tls13-hrr-keylog.keys");
    let doc = analyze_json(&fixture("tls13-hrr-keylog.pcap"), &["--keylog", &keys]);
    let flow = only_flow(&doc);
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(numbers(&flow["client_hello"]["frames"]), [8]);
    assert_eq!(flow["client_hello"]["after_hello_retry_request"], true);
    assert_eq!(numbers(&flow["server_hello"]["frames"]), [9]);
    assert_eq!(
        numbers(&flow["server_hello"]["hello_retry_request_frames"]),
        [6]
    );
    assert_eq!(numbers(&flow["encrypted_extensions"]["frames"]), [9]);

    let doc = analyze_json(&fixture("tls13-hrr.pcap"), &[]);
    let flow = only_flow(&doc);
    assert_eq!(flow["client"]["port"], 43470);
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(numbers(&flow["client_hello"]["frames"]), [8]);
    assert_eq!(
        numbers(&flow["server_hello"]["hello_retry_request_frames"]),
        [6]
    );
}

#[test]
fn reset_after_client_hello_is_incomplete() {
    let doc = analyze_json(&fixture("reset-after-client-hello.pcap"), &[]);
    let flow = only_flow(&doc);
    assert_eq!(flow["client"]["ip"], "192.0.2.1");
    assert_eq!(flow["client"]["port"], 48944);
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 5]);
    let detail = flow["detail"].as_str().unwrap();
    assert!(
        detail.contains("reset by the server side (RST in frame 5)"),
        "{detail}"
    );
}

#[test]
fn capture_started_mid_connection() {
    let doc = analyze_json(&fixture("midstream-no-handshake.pcap"), &[]);
    let flow = only_flow(&doc);
    assert_eq!(flow["client"]["port"], 36410);
    assert_eq!(flow["server"]["port"], 8443);
    assert_eq!(flow["verdict"], "incomplete");
    assert!(flow["client_hello"].is_null());
    assert!(
        flow["detail"]
            .as_str()
            .unwrap()
            .starts_with("handshake not captured")
    );
    assert_eq!(numbers(&flow["evidence_frames"]), [1]);
}

#[test]
fn unsupported_interface_is_named_and_the_others_analysed() {
    let doc = analyze_json(&fixture("multi-interface.pcapng"), &[]);
    let capture = &doc["captures"][0];
    assert_eq!(
        strings(&capture["link_types"]),
        ["ETHERNET (1)", "NFLOG (239)"]
    );
    assert_eq!(capture["decode"]["unsupported_link"], 18);
    let warning = capture["warnings"][0].as_str().unwrap();
    assert!(warning.contains("NFLOG (239)"), "{warning}");
    let flow = only_flow(&doc);
    assert_eq!(flow["first_frame"], 19);
    assert_eq!(numbers(&flow["evidence_frames"]), [22, 24]);
    assert_eq!(flow["verdict"], "agreed");
}

/// `fixture` with every ServerHello's supported_versions (`00 2b 00 02 03 04`) made to name
/// `version` instead of TLS 1.3, written to a temporary file: the pre-standard TLS 1.3 servers
/// of 2016–2018, on a real capture (the metamorphosis changes one field; TCP checksums are not
/// checked). Returns the file and how many ServerHellos were changed.
fn with_server_version(fixture_name: &str, version: u16) -> (std::path::PathBuf, usize) {
    let mut bytes = std::fs::read(fixture(fixture_name)).unwrap();
    let from = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    let [hi, lo] = version.to_be_bytes();
    let mut changed = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if bytes[i..i + from.len()] == from {
            bytes[i + 4] = hi;
            bytes[i + 5] = lo;
            changed += 1;
        }
        i += 1;
    }
    let dir = std::env::temp_dir().join(format!("alpnscope-drafts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{version:04x}-{fixture_name}"));
    std::fs::write(&path, bytes).unwrap();
    (path, changed)
}

/// A TLS 1.3 draft server is TLS 1.3 for every purpose: hidden without keys (never
/// server_declined), decrypted with keys where the draft protects records as RFC 8446 does
/// (draft-28), and hidden with the reason where alpnscope does not follow its key schedule
/// (draft-18).
#[test]
fn pre_standard_tls13_servers_are_tls13() {
    let (path, changed) = with_server_version("tls13-hidden.pcap", 0x7f17);
    assert_eq!(changed, 2);
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    for flow in doc["flows"].as_array().unwrap() {
        assert_eq!(flow["tls_version"], "1.3 (draft 23)");
        assert_eq!(flow["server_hello"]["version"], "1.3 (draft 23)");
        assert_eq!(flow["verdict"], "hidden");
        assert!(
            flow["detail"]
                .as_str()
                .unwrap()
                .starts_with("TLS 1.3 (draft 23): the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions. To read it,"),
            "{}",
            flow["detail"]
        );
    }

    let keys = fixture("tls13-aes256-keylog.keys");
    let (path, changed) = with_server_version("tls13-aes256-keylog.pcap", 0x7f1c);
    assert_eq!(changed, 1);
    let doc = analyze_json(path.to_str().unwrap(), &["--keylog", &keys]);
    let flow = only_flow(&doc);
    assert_eq!(flow["tls_version"], "1.3 (draft 28)");
    assert_eq!(flow["decryption"], "decrypted");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert_eq!(numbers(&flow["encrypted_extensions"]["frames"]), [6]);

    let (path, _) = with_server_version("tls13-aes256-keylog.pcap", 0x7f12);
    let doc = analyze_json(path.to_str().unwrap(), &["--keylog", &keys]);
    let flow = only_flow(&doc);
    assert_eq!(flow["tls_version"], "1.3 (draft 18)");
    assert_eq!(
        flow["decryption"],
        "not decrypted: alpnscope does not follow this TLS 1.3 draft's key schedule"
    );
    assert_eq!(flow["verdict"], "hidden");
    assert_eq!(
        flow["detail"],
        "TLS 1.3 (draft 18): the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions, and alpnscope cannot decrypt TLS 1.3 draft 18: its key schedule differs from RFC 8446's, so the selection stays unknown although the key log has this connection's keys"
    );
    assert!(flow["encrypted_extensions"].is_null());
}
