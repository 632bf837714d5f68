//! Conformance against a peer: the FoxIO JA4 project's captures and the values its tools print
//! (`../shared/corpus/ja4`). For every TLS-over-TCP stream their Python tool lists, alpnscope must
//! find the flow (same addresses and ports), with the same SNI, the same first offered ALPN, the
//! same ServerHello ALPN (from JA4S part a) and exactly the same JA4 string.

mod common;

use common::{analyze_json, project_path};
use serde_json::Value;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    let dir = project_path("../shared/corpus/ja4");
    assert!(
        dir.join("captures").is_dir(),
        "the shared corpus must be at {} (it is provided beside the project)",
        dir.display()
    );
    dir
}

/// The JA4 two-character ALPN code of a value (specification, "ALPN Extension Value").
fn alpn_code(value: Option<&str>) -> String {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return "00".into();
    };
    let bytes = unescape(v);
    let (a, b) = (bytes[0], bytes[bytes.len() - 1]);
    if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() {
        format!("{}{}", a as char, b as char)
    } else {
        let hex = format!("{a:02x}{b:02x}");
        format!("{}{}", &hex[..1], &hex[3..])
    }
}

/// Reverses alpnscope's `\xNN` escaping.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn endpoints(flow: &Value) -> [(String, String); 2] {
    let e = |side: &str| {
        (
            flow[side]["ip"].as_str().unwrap().to_string(),
            flow[side]["port"].to_string(),
        )
    };
    let mut v = [e("client"), e("server")];
    v.sort();
    v
}

#[test]
fn every_tls_stream_of_the_ja4_corpus_matches() {
    let dir = corpus();
    let mut checked = 0;
    let mut captures: Vec<PathBuf> = std::fs::read_dir(dir.join("captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    captures.sort();
    for capture in captures {
        let name = capture.file_name().unwrap().to_str().unwrap().to_string();
        let expected_path = dir.join("expected").join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&expected_path) else {
            continue;
        };
        let expected: Vec<Value> = serde_json::from_str(&text).unwrap();
        let doc = analyze_json(capture.to_str().unwrap(), &[]);
        let flows = doc["flows"].as_array().unwrap();
        for stream in &expected {
            let Some(ja4) = stream
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("JA4."))
                .map(|(_, v)| v.as_str().unwrap())
            else {
                continue;
            };
            if ja4.starts_with('q') {
                continue; // QUIC: not TLS over TCP
            }
            let mut want = [
                (
                    stream["src"].as_str().unwrap().to_string(),
                    stream["srcport"].as_str().unwrap().to_string(),
                ),
                (
                    stream["dst"].as_str().unwrap().to_string(),
                    stream["dstport"].as_str().unwrap().to_string(),
                ),
            ];
            want.sort();
            let at = format!("{name} stream {}", stream["stream"]);
            let flow = flows
                .iter()
                .find(|f| endpoints(f) == want)
                .unwrap_or_else(|| panic!("{at}: flow not found"));
            // Their tools print "99" for a non-ASCII ALPN, against their own specification
            // (see the corpus README): compare everything but that code there.
            let got = flow["client_hello"]["ja4"].as_str().unwrap();
            if name == "tls-non-ascii-alpn.pcapng" {
                assert_eq!(got[..8], ja4[..8], "{at}: JA4 part a");
                assert_eq!(got[10..], ja4[10..], "{at}: JA4 hashes");
            } else {
                assert_eq!(got, ja4, "{at}: JA4");
            }
            if let Some(domain) = stream.get("domain").and_then(Value::as_str) {
                assert_eq!(flow["sni"].as_str(), Some(domain), "{at}: SNI");
            }
            let first_offered = flow["alpn_offered"][0].as_str();
            assert_eq!(
                alpn_code(first_offered),
                got[8..10],
                "{at}: first offered ALPN"
            );
            if let Some(ja4s) = stream.get("JA4S").and_then(Value::as_str) {
                let part_a = ja4s.split('_').next().unwrap();
                let code = &part_a[part_a.len() - 2..];
                assert_eq!(
                    alpn_code(flow["server_hello"]["alpn"][0].as_str()),
                    code,
                    "{at}: ServerHello ALPN"
                );
            }
            // Wireshark's SOCKS dissector opens a stream of its own for the tunnelled
            // connection, so its tcp.stream numbers skip; elsewhere they must match.
            if !name.starts_with("socks") {
                assert_eq!(flow["tcp_stream"], stream["stream"], "{at}: tcp.stream");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 150, "TLS-over-TCP streams checked");
}

#[test]
fn non_ascii_alpn_follows_the_specification() {
    let path = corpus().join("captures/tls-non-ascii-alpn.pcapng");
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    let offered = flow["alpn_offered"][0].as_str().unwrap();
    let ja4 = flow["client_hello"]["ja4"].as_str().unwrap();
    assert_eq!(ja4[8..10], alpn_code(Some(offered)));
    assert!(
        offered.contains("\\x"),
        "non-ASCII bytes are escaped: {offered}"
    );
}

#[test]
fn captures_without_tls_have_no_tls_flows() {
    let dir = corpus().join("captures");
    for name in [
        "ssh.pcapng",
        "ssh2-malformed.pcap",
        "ssh2-moloch-crash.pcap",
        "sshv1.pcap",
        "ssh-r.pcap",
        "ssh-scp-1050.pcap",
        "dhcp.pcapng",
        "dhcpv6.pcap",
        "http1.pcapng",
        "http1-with-cookies.pcapng",
        "http-empty-useragent.pcap",
        "single-packets.pcap",
        "CVE-2018-6794.pcap",
    ] {
        let doc = analyze_json(dir.join(name).to_str().unwrap(), &[]);
        assert_eq!(doc["summary"]["tls_flows"], 0, "{name}");
        assert!(doc["flows"].as_array().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn tls_inside_proxy_tunnels_is_found() {
    let dir = corpus().join("captures");
    let doc = analyze_json(dir.join("https-connect.pcap").to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["proxy"]["kind"], "http_connect");
    assert_eq!(flow["proxy"]["target"], "ts01-b.cloudsink.net:443");
    assert_eq!(
        flow["client_hello"]["ja4"],
        "t12i860500_e18388e7f3a3_a1e935682795"
    );
    assert_eq!(flow["verdict"], "not_offered");

    let doc = analyze_json(dir.join("socks4-https.pcap").to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["proxy"]["kind"], "socks4");
    assert_eq!(flow["proxy"]["target"], "login.live.com:443");
    // The capture lacks the client's 201-byte ClientHello (the server acknowledges it in frame 7).
    assert_eq!(flow["verdict"], "incomplete");
    assert!(flow["server_hello"]["frames"][0] == 9);

    let doc = analyze_json(dir.join("socks-https-example.pcap").to_str().unwrap(), &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3);
    let proxies = [
        ("socks4", "93.184.216.119:443"),
        ("socks4", "www.example.com:443"), // SOCKS4a: the proxy resolves the name
        ("socks5", "93.184.216.119:443"),
    ];
    for (flow, (kind, target)) in flows.iter().zip(proxies) {
        assert_eq!(flow["proxy"]["kind"], kind);
        assert_eq!(flow["proxy"]["target"], target);
        assert_eq!(flow["sni"], "www.example.com");
    }
}

#[test]
fn embedded_secrets_reveal_the_tls13_selection() {
    let path = corpus().join("captures/chrome-cloudflare-quic-with-secrets.pcapng");
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flows: Vec<&Value> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["transport"] == "tcp")
        .collect();
    assert_eq!(flows.len(), 1, "one TLS-over-TCP flow");
    let flow = flows[0];
    assert_eq!(flow["tls_version"], "1.3");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(flow["decryption"], "decrypted");
    assert!(
        flow["server_hello"]["alpn"].is_null(),
        "TLS 1.3 ServerHello has no ALPN"
    );
}

/// With the captures' own secrets (pcapng Decryption Secrets Blocks), the selection is the one
/// the server's EncryptedExtensions hold, never the client's: Chrome sends its own
/// EncryptedExtensions (ALPS only, no ALPN) in its Finished flight, which once read as a
/// decline. Every TLS-over-TCP flow of the corpus with secrets is listed; the EncryptedExtensions
/// frames and ALPN are Wireshark's (`tshark -Y tls.handshake.type==8`, server side).
#[test]
fn the_servers_encrypted_extensions_decide_with_the_captures_own_secrets() {
    let dir = corpus().join("captures");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".notest.cap"))
        .collect();
    captures.sort();
    let mut decrypted = Vec::new();
    for capture in captures {
        let name = capture.file_name().unwrap().to_str().unwrap().to_string();
        let doc = analyze_json(capture.to_str().unwrap(), &[]);
        for flow in doc["flows"].as_array().unwrap() {
            if flow["decryption"].is_null() || flow["transport"] != "tcp" {
                continue;
            }
            let ee = &flow["encrypted_extensions"];
            decrypted.push((
                name.clone(),
                flow["tcp_stream"].as_u64().unwrap(),
                flow["decryption"].as_str().unwrap().to_string(),
                common::numbers(&ee["frames"]),
                common::strings(&ee["alpn"]),
                flow["alpn_selected"].as_str().map(str::to_string),
                flow["verdict"].as_str().unwrap().to_string(),
                common::numbers(&flow["evidence_frames"]),
            ));
        }
    }
    let flow = |name: &str, ee_frame: u64| {
        (
            name.to_string(),
            0,
            "decrypted".to_string(),
            vec![ee_frame],
            vec!["h2".to_string()],
            Some("h2".to_string()),
            "agreed".to_string(),
            vec![4, 6, ee_frame],
        )
    };
    assert_eq!(
        decrypted,
        [
            flow("chrome-cloudflare-quic-with-secrets.pcapng", 8),
            flow("http2-with-cookies.pcapng", 10),
        ]
    );
}

/// The client's ALPS (application_settings, 17513) is reported as a fact of the ClientHello:
/// per capture, the TLS-over-TCP flows whose ClientHello carries it (tshark: distinct
/// `tcp.stream` of `tls.handshake.type==1 && tls.handshake.extension.type==17513`), each
/// listing h2. (Chrome's QUIC ClientHellos carry ALPS for h3; the QUIC tests check those.)
#[test]
fn client_alps_is_reported_as_the_clients() {
    let dir = corpus().join("captures");
    for (name, flows) in [
        ("browsers-x509.pcapng", 3),
        ("chrome-cloudflare-quic-with-secrets.pcapng", 1),
        ("http2-with-cookies.pcapng", 1),
        ("latest.pcapng", 4),
        ("ssh2.pcapng", 1),
        ("tls-handshake.pcapng", 58),
        ("tls-non-ascii-alpn.pcapng", 1),
        ("tls-sni.pcapng", 58),
        ("tls3.pcapng", 7),
        ("tls12.pcap", 0),
        ("tls-alpn-h2.pcap", 0),
    ] {
        let doc = analyze_json(dir.join(name).to_str().unwrap(), &[]);
        let alps: Vec<Vec<String>> = doc["flows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["transport"] == "tcp" && !f["client_hello"]["alps"].is_null())
            .map(|f| common::strings(&f["client_hello"]["alps"]))
            .collect();
        assert_eq!(alps, vec![vec!["h2".to_string()]; flows], "{name}");
    }
}
