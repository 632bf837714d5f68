//! `--redact`: no original address, server name or MAC address anywhere in any output format.

mod common;

use common::{project_path, run};

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// The source and destination MAC addresses of the first Ethernet frame of a pcap.
fn macs(pcap: &str) -> Vec<String> {
    let bytes = std::fs::read(pcap).unwrap();
    let frame = &bytes[24 + 16..24 + 16 + 12];
    frame
        .chunks(6)
        .map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect()
}

#[test]
fn no_original_address_name_or_mac_in_any_format() {
    let captures = [
        fixture("http-connect-proxy.pcap"),
        fixture("vlan.pcap"),
        fixture("reset-injected-ttl.pcap"),
        fixture("tls13-aes128-keylog.pcap"),
    ];
    let keys = fixture("tls13-aes128-keylog.keys");
    let originals = [
        "alpn.test",
        "127.0.0.1",
        "192.0.2.1",
        "192.0.2.2",
        "198.51.100.1",
    ];
    let mut mac_list = macs(&captures[1]);
    mac_list.extend(macs(&captures[0]));
    for format in ["text", "json", "jsonl", "markdown"] {
        let mut args = vec!["analyze", "--format", format, "--redact", "--keylog", &keys];
        args.extend(captures.iter().map(String::as_str));
        let out = run(&args);
        assert!(out.status.success(), "{format}");
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        for original in originals
            .iter()
            .map(|s| s.to_string())
            .chain(mac_list.iter().cloned())
        {
            assert!(
                !text.contains(&original),
                "{format} output contains {original}"
            );
        }
        assert!(
            text.contains("host-"),
            "{format}: names are pseudonymised, not dropped"
        );
    }
}

#[test]
fn pseudonyms_are_stable_for_a_key_and_keep_the_address_class() {
    let path = fixture("http-connect-proxy.pcap");
    let a = run(&[
        "analyze",
        "--format",
        "json",
        "--redact",
        "--redact-key",
        "ticket-42",
        &path,
    ]);
    let b = run(&[
        "analyze",
        "--format",
        "json",
        "--redact",
        "--redact-key",
        "ticket-42",
        &path,
    ]);
    assert_eq!(a.stdout, b.stdout, "same input and key, same report");
    let c = run(&[
        "analyze",
        "--format",
        "json",
        "--redact",
        "--redact-key",
        "other",
        &path,
    ]);
    assert_ne!(a.stdout, c.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let flow = &doc["flows"][0];
    let client: std::net::IpAddr = flow["client"]["ip"].as_str().unwrap().parse().unwrap();
    assert!(client.is_loopback(), "loopback stays loopback");
    assert_eq!(flow["server"]["port"], 3128, "ports are kept");
    let sni = flow["sni"].as_str().unwrap();
    assert!(sni.starts_with("host-") && sni.ends_with(".test"), "{sni}");
    let target = flow["proxy"]["target"].as_str().unwrap();
    assert!(
        target.ends_with(":8443") && !target.starts_with("127.0.0.1"),
        "{target}"
    );

    let full = run(&[
        "analyze",
        "--format",
        "json",
        "--redact=sni-full",
        "--redact-key",
        "k",
        &path,
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert!(
        doc["flows"][0]["sni"]
            .as_str()
            .unwrap()
            .ends_with(".invalid")
    );
}
