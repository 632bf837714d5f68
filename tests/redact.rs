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
    // The Community IDs of the real addresses: a hash of them would undo the redaction.
    let mut plain_args = vec!["analyze", "--format", "json", "--keylog", &keys];
    plain_args.extend(captures.iter().map(String::as_str));
    let plain: serde_json::Value = serde_json::from_slice(&run(&plain_args).stdout).unwrap();
    let real_ids: Vec<String> = plain["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["community_id"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(real_ids.len(), 5);
    mac_list.extend(real_ids);
    for format in ["text", "json", "jsonl", "markdown", "ecs"] {
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
            text.contains("site-") && text.contains(".test"),
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
    assert!(sni.starts_with("site-") && sni.ends_with(".test"), "{sni}");
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
    // Four bytes can spell an address by chance anywhere in a TCP header (a checksum ending in
    // 0x7f, a zero urgent pointer and a NOP are 127.0.0.1): the addresses are looked for in the
    // IP headers and the payloads.
    let mut segments = 0;
    alpnscope::capture::read_capture_slice(&bytes, |event| {
        let alpnscope::capture::CaptureEvent::Frame(frame) = event else {
            return;
        };
        let alpnscope::decode::Decoded::Tcp(seg) = alpnscope::decode::decode_frame(&frame) else {
            panic!("frame {} is not a TCP segment", frame.number);
        };
        segments += 1;
        for octets in [[192u8, 0, 2, 1], [192, 0, 2, 2], [127, 0, 0, 1]] {
            let ip = std::net::IpAddr::from(octets);
            assert!(
                seg.src_ip != ip && seg.dst_ip != ip,
                "{ip} in frame {}",
                frame.number
            );
            assert!(
                !seg.payload.windows(4).any(|w| w == octets),
                "{ip} in the payload of frame {}",
                frame.number
            );
        }
    })
    .unwrap();
    assert_eq!(segments, 18);
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
    // The rewritten headers carry right checksums (IPv4 header and TCP, over the pseudonyms).
    let mut checked = 0;
    alpnscope::capture::read_capture_slice(&bytes, |event| {
        let alpnscope::capture::CaptureEvent::Frame(frame) = event else {
            return;
        };
        let packet = etherparse::SlicedPacket::from_ethernet(frame.data).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &packet.net else {
            panic!("frame {}: not IPv4", frame.number);
        };
        let header = ip.header();
        assert_eq!(
            header.header_checksum(),
            header.to_header().calc_header_checksum(),
            "IPv4 checksum of frame {}",
            frame.number
        );
        let Some(etherparse::TransportSlice::Tcp(tcp)) = &packet.transport else {
            panic!("frame {}: not TCP", frame.number);
        };
        assert_eq!(
            tcp.checksum(),
            tcp.calc_checksum_ipv4(header.source(), header.destination())
                .unwrap(),
            "TCP checksum of frame {}",
            frame.number
        );
        checked += 1;
    })
    .unwrap();
    assert_eq!(checked, 18);
}

/// A temporary directory whose name, like the capture file names inside it, must never appear in
/// a redacted report.
fn private_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("alpnscope-{tag}-{}", std::process::id()))
        .join("alice-acme-corp");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn redaction_refuses_embedded_keys_before_writing_anything() {
    let dir = private_dir("refuse");
    let out_path = dir.join("ticket.pcapng");
    let report_path = dir.join("report.md");
    let out = run(&[
        "analyze",
        "--redact",
        "--format",
        "markdown",
        "-o",
        report_path.to_str().unwrap(),
        "--keylog",
        &fixture("tls13-aes128-keylog.keys"),
        "--extract",
        out_path.to_str().unwrap(),
        "--include-keys",
        &fixture("tls13-aes128-keylog.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "alpnscope: error: --include-keys cannot be combined with --redact: the embedded \
             handshake secrets decrypt the TLS 1.3 server's original certificate"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("drop --include-keys"), "{stderr}");
    assert!(!out_path.exists(), "no extract written");
    assert!(!report_path.exists(), "no report written");
    // --help says so too.
    let help = run(&["analyze", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("Refused with --redact"), "{help}");
}

/// `alpn.test` and `a.alpn.test`/`b.alpn.test` in one report: the parent is hidden in every
/// name, and reads the same in all of them.
#[test]
fn a_parent_domain_is_hidden_in_every_name_alike() {
    let out = run(&[
        "analyze",
        "--format",
        "json",
        "--redact",
        "--redact-key",
        "k",
        &fixture("tls12-server-no-alpn.pcap"),
        &fixture("diagnosis-clients.pcap"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        !text.contains("alpn.test"),
        "a label of the original names left"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut snis: Vec<String> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["sni"].as_str().unwrap().to_string())
        .collect();
    snis.sort();
    snis.dedup();
    assert_eq!(snis.len(), 3, "{snis:?}");
    // The bare parent: `site-TAG.test`; the children: `host-TAG.site-TAG.test`, same site.
    let parent: Vec<&str> = snis
        .iter()
        .filter(|s| s.starts_with("site-"))
        .map(String::as_str)
        .collect();
    assert_eq!(parent.len(), 1, "{snis:?}");
    assert_eq!(parent[0].len(), "site-0000.test".len());
    for child in snis.iter().filter(|s| s.starts_with("host-")) {
        assert_eq!(child.len(), "host-0000.".len() + parent[0].len(), "{child}");
        assert!(
            child.ends_with(&format!(".{}", parent[0])),
            "{child} vs {}",
            parent[0]
        );
    }
    // The certificate names follow the same rule: CN=alpn.test is the same site.
    let cert = &doc["flows"][0]["server_certificate"];
    assert_eq!(cert["subject"], format!("CN={}", parent[0]));
}

/// No directory or file name of the captures in any format, nor in the warnings on stderr.
#[test]
fn capture_paths_never_appear_in_a_redacted_report() {
    let dir = private_dir("paths");
    let first = dir.join("edge-proxy-7.pcap");
    let second = dir.join("acme-checkout.pcap");
    // A capture with a warning (frames cut by the snaplen) that names its file on stderr.
    std::fs::copy(fixture("snaplen-96.pcap"), &first).unwrap();
    std::fs::copy(fixture("tls12-server-no-alpn.pcap"), &second).unwrap();
    let plain = run(&["analyze", first.to_str().unwrap()]);
    let plain_err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        plain_err.contains("alpnscope: warning: ") && plain_err.contains("edge-proxy-7.pcap: "),
        "unredacted warnings name the file: {plain_err}"
    );
    for format in ["text", "json", "jsonl", "markdown"] {
        let out = run(&[
            "analyze",
            "--redact",
            "--format",
            format,
            first.to_str().unwrap(),
            second.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{format}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for part in ["alice", "acme", "edge-proxy", "alpnscope-paths", ".pcap"] {
            assert!(!stdout.contains(part), "{format}: report names {part}");
            assert!(!stderr.contains(part), "{format}: stderr names {part}");
        }
        assert!(
            stderr.starts_with("alpnscope: warning: capture 0: "),
            "{format}: {stderr}"
        );
        if format != "jsonl" {
            assert!(stdout.contains("capture 1"), "{format}");
        }
        if format == "json" {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let paths: Vec<&str> = doc["captures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["path"].as_str().unwrap())
                .collect();
            assert_eq!(paths, ["capture 0", "capture 1"]);
        }
    }
}

/// TLS 1.2 sends the certificate in the clear: a redacted extract rewrites every name in it
/// (the SNI, the certificate's names and IP addresses, their parent domains).
#[test]
fn redacted_extract_of_tls12_certificates_reveals_no_name() {
    let dir = private_dir("tls12-extract");
    let capture = dir.join("acme-edge.pcap");
    std::fs::copy(fixture("many-flows.pcap"), &capture).unwrap();
    let out_path = dir.join("ticket.pcapng");
    // Flow 0: s_server (alpn.test), 300: nginx (h1.alpn.test), 350: alert 120.
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
        "300",
        "--flow",
        "350",
        capture.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_path).unwrap();
    let lower: Vec<u8> = bytes.to_ascii_lowercase();
    let contains = |needle: &[u8]| lower.windows(needle.len()).position(|w| w == needle);
    // The certificate (CN=alpn.test, DNS:alpn.test, IP:127.0.0.1, IP:192.0.2.2) was in the
    // packets before.
    let original = std::fs::read(fixture("many-flows.pcap")).unwrap();
    assert!(original.windows(9).any(|w| w == b"alpn.test"));
    // subjectAltName iPAddress entries: tag [7], length 4, the address. (A bare 4-byte search
    // would also hit a TCP checksum ending in 0x7f before a zero urgent pointer and a NOP.)
    let san_127 = [0x87, 4, 127, 0, 0, 1];
    let san_192 = [0x87, 4, 192, 0, 2, 2];
    assert!(original.windows(6).any(|w| w == san_127));
    assert!(original.windows(6).any(|w| w == san_192));
    // ("alpnscope" itself is in the packet comments.)
    for needle in [&b"alpn.test"[..], b"acme", b"alice", &san_127, &san_192] {
        assert_eq!(contains(needle), None, "{needle:?} left in the extract");
    }
    // Still three TLS 1.2 handshakes with their verdicts.
    let doc = common::analyze_json(out_path.to_str().unwrap(), &[]);
    for flow in doc["flows"].as_array().unwrap() {
        for side in ["client", "server"] {
            let ip = flow[side]["ip"].as_str().unwrap();
            assert!(ip.starts_with("127.") && ip != "127.0.0.1", "{side} {ip}");
        }
    }
    let verdicts: Vec<&str> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["server_declined", "downgraded", "no_common_protocol"]
    );
}
