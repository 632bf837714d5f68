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

#[test]
fn redacted_extract_carries_no_original_address_name_or_mac() {
    let dir = std::env::temp_dir().join(format!("alpnscope-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("redacted.pcapng");
    let vlan = fixture("vlan.pcap");
    let out = run(&[
        "analyze",
        "--redact",
        "--redact-key",
        "k",
        "--extract",
        out_path.to_str().unwrap(),
        "--flow",
        "0",
        "--flow",
        "1",
        &vlan,
        &fixture("tls12-server-no-alpn.pcap"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_path).unwrap();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for ip in [[192u8, 0, 2, 1], [192, 0, 2, 2], [127, 0, 0, 1]] {
        assert!(!contains(&ip), "address {ip:?} left in the packets");
    }
    assert!(!contains(b"alpn.test"), "server name left in the packets");
    for mac in macs(&vlan).into_iter().filter(|m| m != "ff:ff:ff:ff:ff:ff") {
        let raw: Vec<u8> = mac
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        assert!(!contains(&raw), "MAC {mac} left in the packets");
    }
    // Still a valid capture with the same handshakes.
    let doc = common::analyze_json(out_path.to_str().unwrap(), &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["verdict"], "agreed");
    assert_eq!(flows[0]["alpn_selected"], "h2");
    assert_eq!(flows[1]["verdict"], "server_declined");
    if let Ok(out) = std::process::Command::new("tshark")
        .args([
            "-r",
            out_path.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
        ])
        .output()
    {
        let rows = String::from_utf8_lossy(&out.stdout);
        assert!(
            rows.lines().all(|l| !l.contains('0')),
            "bad checksums: {rows}"
        );
    } else {
        eprintln!("tshark not installed: checksums of the redacted extract not cross-checked");
    }
}
