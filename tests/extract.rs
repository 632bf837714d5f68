//! `--extract`: handshake-only pcapng files, read back by `alpnscope analyze` (always) and by
//! tshark (when installed).

mod common;

use common::{analyze_json, project_path, run};

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("alpnscope-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn problem_flows_round_trip_with_only_handshake_secrets() {
    let out_path = temp("problems.pcapng");
    let keys = fixture("tls13-no-alpn-server-keylog.keys");
    let out = run(&[
        "analyze",
        "--extract",
        &out_path,
        "--include-keys",
        "--keylog",
        &keys,
        &fixture("tls13-no-alpn-server-keylog.pcap"),
        &fixture("reset-injected-ttl.pcap"),
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrote 13 packets of 2 flows"), "{err}");
    assert!(err.contains("handshake secrets of 1 of them"), "{err}");

    let bytes = std::fs::read(&out_path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("alpnscope flow 0: server_declined"));
    assert!(text.contains("alpnscope flow 1: incomplete"));
    assert!(text.contains("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    assert!(
        !text.contains("TRAFFIC_SECRET_0"),
        "no application traffic secret"
    );
    assert!(!text.contains("EXPORTER_SECRET"));

    // The extract alone (secrets embedded) gives the same verdicts.
    let doc = analyze_json(&out_path, &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["verdict"], "server_declined");
    assert_eq!(flows[0]["alpn_source"], serde_json::Value::Null);
    assert_eq!(flows[0]["decryption"], "decrypted");
    assert_eq!(flows[1]["verdict"], "incomplete");
    assert!(
        flows[1]["detail"]
            .as_str()
            .unwrap()
            .contains("likely injected by a middlebox")
    );
    assert_eq!(doc["captures"][0]["format"], "pcapng");
    assert_eq!(doc["captures"][0]["packets"], 13);

    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("tshark")
            .args([
                "-r",
                &out_path,
                "-d",
                "tcp.port==8443,tls",
                "-Y",
                "tls.handshake.type==1 || tls.handshake.type==2 || tls.handshake.type==8",
                "-T",
                "fields",
                "-e",
                "frame.number",
                "-e",
                "tls.handshake.type",
            ])
            .output()
            .unwrap();
        let rows = String::from_utf8_lossy(&out.stdout);
        assert!(
            rows.contains("8"),
            "tshark decrypts EncryptedExtensions with the embedded secrets: {rows}"
        );
        assert!(rows.lines().count() >= 3, "{rows}");
    } else {
        eprintln!("tshark not installed: the Wireshark check of the extract was not run");
    }
}

#[test]
fn chosen_flows_and_errors() {
    let out_path = temp("chosen.pcapng");
    let out = run(&[
        "analyze",
        "--extract",
        &out_path,
        "--flow",
        "1",
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert!(out.status.success());
    let doc = analyze_json(&out_path, &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["client"]["port"], 42462);
    assert_eq!(flows[0]["alpn_selected"], "http/1.1");

    let out = run(&[
        "analyze",
        "--extract",
        &out_path,
        "--redact",
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--extract with --redact is refused"
    );
    let out = run(&[
        "analyze",
        "--include-keys",
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--include-keys needs --extract and --keylog"
    );
}
