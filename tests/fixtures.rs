//! Runs the binary on every fixture in `fixtures/` and checks exact flows, ALPN lists, verdicts
//! and frame numbers against `fixtures/EXPECTED.md` (cross-checked with tshark when the fixtures
//! were made).

mod common;

use common::{analyze_json, numbers, project_path, strings};
use serde_json::Value;

/// What one flow must show.
struct Expect {
    client_port: u16,
    server_port: u16,
    first_frame: u64,
    sni: Option<&'static str>,
    offered: &'static [&'static str],
    selected: Option<&'static str>,
    version: Option<&'static str>,
    verdict: &'static str,
    client_hello_frames: &'static [u64],
    evidence: &'static [u64],
}

const H2_H1: &[&str] = &["h2", "http/1.1"];

fn check(fixture: &str, expected: &[Expect]) -> Value {
    let path = project_path(&format!("fixtures/{fixture}"));
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flows = doc["flows"].as_array().expect("flows");
    assert_eq!(flows.len(), expected.len(), "{fixture}: flow count");
    for (i, (flow, want)) in flows.iter().zip(expected).enumerate() {
        let at = format!("{fixture} flow {i}");
        assert_eq!(flow["id"], i as u64, "{at}: id");
        assert_eq!(
            flow["client"]["port"], want.client_port,
            "{at}: client port"
        );
        assert_eq!(
            flow["server"]["port"], want.server_port,
            "{at}: server port"
        );
        assert_eq!(flow["first_frame"], want.first_frame, "{at}: first frame");
        assert_eq!(flow["sni"].as_str(), want.sni, "{at}: sni");
        assert_eq!(
            strings(&flow["alpn_offered"]),
            want.offered,
            "{at}: offered"
        );
        assert_eq!(
            flow["alpn_selected"].as_str(),
            want.selected,
            "{at}: selected"
        );
        let source = want.selected.map(|_| "server_hello");
        assert_eq!(flow["alpn_source"].as_str(), source, "{at}: source");
        assert_eq!(flow["tls_version"].as_str(), want.version, "{at}: version");
        assert_eq!(flow["verdict"], want.verdict, "{at}: verdict");
        assert_eq!(
            numbers(&flow["client_hello"]["frames"]),
            want.client_hello_frames,
            "{at}: ClientHello frames"
        );
        assert_eq!(
            numbers(&flow["evidence_frames"]),
            want.evidence,
            "{at}: evidence"
        );
        assert_eq!(flow["transport"], "tcp");
        assert!(
            !flow["detail"].as_str().unwrap_or("").is_empty(),
            "{at}: detail"
        );
    }
    doc
}

fn agreed(
    cport: u16,
    first: u64,
    ch: u64,
    sh: u64,
    offered: &'static [&'static str],
    sel: &'static str,
) -> Expect {
    Expect {
        client_port: cport,
        server_port: 8443,
        first_frame: first,
        sni: Some("alpn.test"),
        offered,
        selected: Some(sel),
        version: Some("1.2"),
        verdict: "agreed",
        client_hello_frames: match ch {
            4 => &[4],
            6 => &[6],
            9 => &[9],
            11 => &[11],
            12 => &[12],
            22 => &[22],
            23 => &[23],
            49 => &[49],
            51 => &[51],
            _ => panic!("add the frame list"),
        },
        evidence: match (ch, sh) {
            (4, 6) => &[4, 6],
            (6, 8) => &[6, 8],
            (9, 15) => &[9, 15],
            (11, 13) => &[11, 13],
            (49, 55) => &[49, 55],
            (51, 53) => &[51, 53],
            (11, 16) => &[11, 16],
            (12, 14) => &[12, 14],
            (22, 24) => &[22, 24],
            (23, 25) => &[23, 25],
            _ => panic!("add the evidence list"),
        },
    }
}

#[test]
fn tls12_h2_agreed() {
    let expected = [
        agreed(42452, 1, 4, 6, H2_H1, "h2"),
        agreed(42462, 19, 22, 24, &["http/1.1"], "http/1.1"),
    ];
    let doc = check("tls12-h2-agreed.pcap", &expected);
    let capture = &doc["captures"][0];
    assert_eq!(capture["format"], "pcap");
    assert_eq!(capture["packets"], 33);
    assert_eq!(capture["complete"], true);
    assert_eq!(strings(&capture["link_types"]), ["ETHERNET (1)"]);
    assert_eq!(doc["summary"]["tls_flows"], 2);
    // curl --http1.1 offers only http/1.1: getting it is its first choice, agreed.
    assert_eq!(doc["summary"]["verdicts"]["agreed"], 2);
    assert_eq!(doc["summary"]["verdicts"]["downgraded"], 0);
    assert_eq!(
        doc["flows"][0]["server_hello"]["cipher_suite"],
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
    );
}

#[test]
fn pcapng_conversion_reads_the_same() {
    let expected = [
        agreed(42452, 1, 4, 6, H2_H1, "h2"),
        agreed(42462, 19, 22, 24, &["http/1.1"], "http/1.1"),
    ];
    let doc = check("tls12-h2-agreed.pcapng", &expected);
    assert_eq!(doc["captures"][0]["format"], "pcapng");
    let pcap = analyze_json(
        project_path("fixtures/tls12-h2-agreed.pcap")
            .to_str()
            .unwrap(),
        &[],
    );
    assert_eq!(
        doc["flows"][0]["start"], pcap["flows"][0]["start"],
        "same timestamps"
    );
}

#[test]
fn nanosecond_pcap() {
    let expected = [
        agreed(42478, 1, 4, 6, H2_H1, "h2"),
        agreed(42482, 19, 22, 24, &["http/1.1"], "http/1.1"),
    ];
    let doc = check("tls12-h2-nano.pcap", &expected);
    assert_eq!(doc["captures"][0]["format"], "pcap-ns");
}

/// nginx without http2: curl offers h2, http/1.1 and gets its second choice.
#[test]
fn nginx_without_http2_downgrades_to_http1() {
    let doc = check(
        "tls12-nginx-http1-only.pcap",
        &[Expect {
            verdict: "downgraded",
            ..agreed(44402, 1, 4, 6, H2_H1, "http/1.1")
        }],
    );
    assert_eq!(
        doc["flows"][0]["detail"],
        "the client preferred h2 but the server selected http/1.1 (offered: h2, http/1.1): the server does not enable h2 here, or ranks it below http/1.1"
    );
    assert_eq!(doc["summary"]["verdicts"]["downgraded"], 1);
    assert_eq!(doc["summary"]["verdicts"]["agreed"], 0);
    assert_eq!(doc["summary"]["servers"][0]["verdicts"]["downgraded"], 1);
}

#[test]
fn server_without_alpn_declines() {
    let doc = check(
        "tls12-server-no-alpn.pcap",
        &[
            Expect {
                client_port: 44378,
                server_port: 8443,
                first_frame: 1,
                sni: Some("alpn.test"),
                offered: H2_H1,
                selected: None,
                version: Some("1.2"),
                verdict: "server_declined",
                client_hello_frames: &[4],
                evidence: &[4, 6],
            },
            Expect {
                client_port: 44390,
                server_port: 8443,
                first_frame: 18,
                sni: Some("alpn.test"),
                offered: &["h2"],
                selected: None,
                version: Some("1.2"),
                verdict: "server_declined",
                client_hello_frames: &[21],
                evidence: &[21, 23],
            },
        ],
    );
    let detail = doc["flows"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("server did not agree on a protocol"),
        "{detail}"
    );
    assert_eq!(doc["summary"]["verdicts"]["server_declined"], 2);
}

#[test]
fn alert_120_is_no_common_protocol() {
    let doc = check(
        "alert-120-no-application-protocol.pcap",
        &[
            Expect {
                client_port: 44414,
                server_port: 8443,
                first_frame: 1,
                sni: Some("alpn.test"),
                offered: &["spdy/3.1"],
                selected: None,
                version: None,
                verdict: "no_common_protocol",
                client_hello_frames: &[4],
                evidence: &[4, 6],
            },
            Expect {
                client_port: 44420,
                server_port: 8443,
                first_frame: 11,
                sni: Some("alpn.test"),
                offered: &["spdy/3.1"],
                selected: None,
                version: None,
                verdict: "no_common_protocol",
                client_hello_frames: &[14],
                evidence: &[14, 16],
            },
        ],
    );
    let alert = &doc["flows"][0]["alerts"][0];
    assert_eq!(alert["from"], "server");
    assert_eq!(alert["level"], "fatal");
    assert_eq!(alert["description"], "no_application_protocol");
    assert_eq!(alert["code"], 120);
    assert_eq!(alert["frame"], 6);
}

#[test]
fn client_without_alpn() {
    check(
        "client-no-alpn.pcap",
        &[
            Expect {
                client_port: 57876,
                server_port: 8443,
                first_frame: 1,
                sni: Some("alpn.test"),
                offered: &[],
                selected: None,
                version: Some("1.2"),
                verdict: "not_offered",
                client_hello_frames: &[4],
                evidence: &[4, 6],
            },
            Expect {
                client_port: 57884,
                server_port: 8443,
                first_frame: 16,
                sni: Some("alpn.test"),
                offered: &[],
                selected: None,
                version: Some("1.3"),
                verdict: "not_offered",
                client_hello_frames: &[19],
                evidence: &[19, 21],
            },
        ],
    );
}

#[test]
fn tls13_is_hidden() {
    let doc = check(
        "tls13-hidden.pcap",
        &[
            Expect {
                client_port: 57894,
                server_port: 8443,
                first_frame: 1,
                sni: Some("alpn.test"),
                offered: H2_H1,
                selected: None,
                version: Some("1.3"),
                verdict: "hidden",
                client_hello_frames: &[4],
                evidence: &[4, 6],
            },
            Expect {
                client_port: 57900,
                server_port: 8443,
                first_frame: 20,
                sni: Some("alpn.test"),
                offered: H2_H1,
                selected: None,
                version: Some("1.3"),
                verdict: "hidden",
                client_hello_frames: &[23],
                evidence: &[23, 25],
            },
        ],
    );
    let detail = doc["flows"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("SSLKEYLOGFILE"), "{detail}");
}

#[test]
fn client_hello_split_over_three_segments() {
    let doc = analyze_json(
        project_path("fixtures/ch-split-3-segments.pcap")
            .to_str()
            .unwrap(),
        &[],
    );
    let flow = &doc["flows"][0];
    assert_eq!(numbers(&flow["client_hello"]["frames"]), [4, 5, 6]);
    assert_eq!(numbers(&flow["server_hello"]["frames"]), [10]);
    assert_eq!(flow["verdict"], "hidden");
    let offered = strings(&flow["alpn_offered"]);
    assert_eq!(offered.len(), 35);
    assert_eq!(offered[..3], ["h2", "http/1.1", "spdy/3.1"]);
    assert_eq!(offered[34], "radius/1.1");
    assert!(flow["sni"].as_str().unwrap().ends_with(".alpn.test"));
    assert_eq!(numbers(&flow["evidence_frames"]), [4, 5, 6, 10]);
}

#[test]
fn ipv6() {
    let doc = check("ipv6.pcap", &[agreed(47968, 1, 4, 6, H2_H1, "h2")]);
    assert_eq!(doc["flows"][0]["client"]["ip"], "::1");
    assert_eq!(doc["summary"]["servers"][0]["server"], "[::1]:8443");
}

#[test]
fn linux_cooked_captures() {
    let doc = check("sll2-any.pcap", &[agreed(41130, 1, 4, 6, H2_H1, "h2")]);
    assert_eq!(
        strings(&doc["captures"][0]["link_types"]),
        ["LINUX_SLL2 (276)"]
    );
    let doc = check("sll-any.pcap", &[agreed(41132, 1, 4, 6, H2_H1, "h2")]);
    assert_eq!(
        strings(&doc["captures"][0]["link_types"]),
        ["LINUX_SLL (113)"]
    );
}

#[test]
fn raw_ip_link_type() {
    let doc = check("raw-ip.pcap", &[agreed(40592, 1, 4, 6, H2_H1, "h2")]);
    assert_eq!(strings(&doc["captures"][0]["link_types"]), ["RAW (101)"]);
    assert_eq!(doc["flows"][0]["client"]["ip"], "192.0.2.1");
}

#[test]
fn vlan_and_qinq_tags() {
    for fixture in ["vlan.pcap", "qinq.pcap"] {
        let doc = check(fixture, &[agreed(42238, 3, 6, 8, H2_H1, "h2")]);
        assert_eq!(doc["flows"][0]["server"]["ip"], "192.0.2.2");
    }
}

#[test]
fn port_reuse_starts_a_new_flow() {
    let doc = check(
        "port-reuse.pcap",
        &[
            agreed(40000, 1, 4, 6, H2_H1, "h2"),
            agreed(40000, 20, 23, 25, &["http/1.1"], "http/1.1"),
        ],
    );
    assert_eq!(doc["flows"][1]["tcp_stream"], 1);
}

#[test]
fn http_connect_proxy_hop() {
    let doc = check(
        "http-connect-proxy.pcap",
        &[
            Expect {
                server_port: 3128,
                ..agreed(51748, 1, 11, 16, H2_H1, "h2")
            },
            agreed(53924, 6, 12, 14, H2_H1, "h2"),
        ],
    );
    assert_eq!(doc["flows"][0]["proxy"]["kind"], "http_connect");
    assert_eq!(doc["flows"][0]["proxy"]["target"], "127.0.0.1:8443");
    assert!(doc["flows"][1]["proxy"].is_null());
}

/// HAProxy in TCP mode relays curl's TLS to nginx, opening each backend connection with a PROXY
/// protocol header (v1 from port 9443, v2 from 9444): the backend flows carry the header, then
/// the same handshake; the header's original destination is the proxy target.
#[test]
fn proxy_protocol_headers_before_tls() {
    let doc = check(
        "proxy-protocol.pcap",
        &[
            Expect {
                server_port: 9443,
                ..agreed(43734, 1, 9, 15, H2_H1, "h2")
            },
            agreed(57052, 4, 11, 13, H2_H1, "h2"),
            Expect {
                server_port: 9444,
                ..agreed(36158, 41, 49, 55, H2_H1, "h2")
            },
            agreed(57066, 44, 51, 53, H2_H1, "h2"),
        ],
    );
    let proxies: Vec<(String, String)> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["proxy"]["kind"].as_str().unwrap_or("-").to_string(),
                f["proxy"]["target"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let want = [
        ("-", "-"),
        ("proxy_protocol_v1", "127.0.0.1:9443"),
        ("-", "-"),
        ("proxy_protocol_v2", "127.0.0.1:9444"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect();
    assert_eq!(proxies, want);
}

#[test]
fn snaplen_cut_handshake_is_incomplete_and_says_why() {
    let doc = analyze_json(
        project_path("fixtures/snaplen-96.pcap").to_str().unwrap(),
        &[],
    );
    let capture = &doc["captures"][0];
    assert_eq!(capture["snaplen"], 96);
    assert_eq!(capture["decode"]["truncated_payload"], 10);
    let flow = &doc["flows"][0];
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(numbers(&flow["evidence_frames"]), [4]);
    let detail = flow["detail"].as_str().unwrap();
    assert!(detail.contains("snaplen (96 bytes)"), "{detail}");
}

/// An SSLv2-format ClientHello (py-sslv2-hello.py) answered by openssl s_server with a TLS 1.2
/// ServerHello: a TLS flow whose client could not offer ALPN, not "not TLS".
#[test]
fn sslv2_format_client_hello_is_not_offered() {
    let doc = check(
        "sslv2-client-hello.pcap",
        &[Expect {
            client_port: 38220,
            server_port: 8443,
            first_frame: 1,
            sni: None,
            offered: &[],
            selected: None,
            version: Some("1.2"),
            verdict: "not_offered",
            client_hello_frames: &[4],
            evidence: &[4, 6],
        }],
    );
    let flow = &doc["flows"][0];
    assert_eq!(
        flow["detail"],
        "the client sent an SSLv2-format ClientHello (offering up to TLS 1.2; RFC 5246 Appendix E.2), which cannot carry extensions, so it could not offer ALPN and the server could not select a protocol: the client software (or its configuration) predates ALPN"
    );
    let ch = &flow["client_hello"];
    assert_eq!(ch["sslv2_format"], true);
    assert_eq!(ch["legacy_version"], "1.2");
    // SSL_CK_RC4_128_WITH_MD5 is an SSL 2.0 cipher kind, not a TLS suite: left out.
    assert_eq!(
        strings(&ch["cipher_suites"]),
        ["009c", "002f", "c02b", "c009"]
    );
    assert!(strings(&ch["extensions"]).is_empty());
    // JA4 as FoxIO's tools compute it from Wireshark's dissection: SSLv2 cipher specs are not
    // cipher suites there, so none is counted or hashed.
    assert_eq!(ch["ja4"], "t12i000000_000000000000_000000000000");
    assert_eq!(
        flow["server_hello"]["cipher_suite"],
        "TLS_RSA_WITH_AES_128_GCM_SHA256"
    );
    assert!(flow["server_hello"]["alpn"].is_null());
    assert_eq!(doc["summary"]["tls_flows"], 1);
}

/// tls13-hidden.pcap cut to 150 bytes a frame (editcap -s 150): both hellos are cut, the
/// ServerHello after its TLS 1.3-only cipher suite. TLS 1.3 is still shown, so the selection
/// is hidden, not incomplete; and the cut ClientHello leaves the offer unknown, never "none".
#[test]
fn tls13_server_hello_cut_by_a_snaplen_is_hidden() {
    let cut = |client_port, first_frame, ch: u64, sh: u64| Expect {
        client_port,
        server_port: 8443,
        first_frame,
        sni: None,
        offered: &[],
        selected: None,
        version: Some("1.3"),
        verdict: "hidden",
        client_hello_frames: if ch == 4 { &[4] } else { &[23] },
        evidence: if sh == 6 { &[4, 6] } else { &[23, 25] },
    };
    let doc = check(
        "tls13-snaplen-150.pcap",
        &[cut(57894, 1, 4, 6), cut(57900, 20, 23, 25)],
    );
    let flows = doc["flows"].as_array().unwrap();
    for (flow, ch_len) in flows.iter().zip([508, 252]) {
        assert_eq!(
            flow["detail"].as_str().unwrap(),
            format!(
                "TLS 1.3: the capture holds only 75 of the ServerHello's 118 bytes and 75 of the ClientHello's {ch_len} bytes (cut by the capture's snaplen of 150 bytes), but the ServerHello's cipher suite TLS_AES_256_GCM_SHA384, which exists only in TLS 1.3, shows TLS 1.3, so the server's choice is in the encrypted EncryptedExtensions, and whether the client offered ALPN at all is not in the captured bytes. To read it, capture whole packets (tcpdump -s 0), log the client's keys (SSLKEYLOGFILE=keys.log) and run alpnscope analyze --keylog keys.log"
            )
        );
        assert_eq!(flow["server_hello"]["cut"]["captured"], 75);
        assert_eq!(flow["server_hello"]["cut"]["length"], 118);
        assert_eq!(flow["client_hello"]["cut"]["captured"], 75);
        assert_eq!(flow["client_hello"]["cut"]["length"], ch_len);
        // A fingerprint of part of a hello would name another client.
        assert!(flow["client_hello"]["ja4"].is_null());
        assert_eq!(
            flow["server_hello"]["cipher_suite"],
            "TLS_AES_256_GCM_SHA384"
        );
        // Cut before supported_versions: the extension list seen is empty.
        assert!(strings(&flow["server_hello"]["extensions"]).is_empty());
    }
    // The finding asks for whole packets as well as keys: keys cannot open cut records.
    assert_eq!(doc["diagnosis"][0]["kind"], "needs_keys");
    assert_eq!(
        doc["diagnosis"][0]["conclusion"],
        "TLS 1.3 hides the choice of 127.0.0.1:8443 in both flows: log the client's keys (SSLKEYLOGFILE), capture whole packets (tcpdump -s 0: the capture cut the ServerHello of 2 of them) and rerun with --keylog to see it"
    );
    // Text and Markdown never show a cut offer as "no ALPN".
    let path = project_path("fixtures/tls13-snaplen-150.pcap");
    let path = path.to_str().unwrap();
    let text = String::from_utf8(common::run(&["analyze", path]).stdout).unwrap();
    let offered: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  offered"))
        .collect();
    assert_eq!(
        offered,
        [
            "  offered   (unknown: the capture holds 75 of the ClientHello's 508 bytes)",
            "  offered   (unknown: the capture holds 75 of the ClientHello's 252 bytes)",
        ]
    );
    let markdown =
        String::from_utf8(common::run(&["analyze", "--format", "markdown", path]).stdout).unwrap();
    assert_eq!(
        markdown
            .matches("| offered | unknown (the capture cut the ClientHello short) |")
            .count(),
        2
    );
    assert!(!markdown.contains("Offered: none"), "{markdown}");
}

/// tls12-h2-agreed.pcap cut to 168 bytes a frame (editcap -s 168): the TLS 1.2 ServerHellos
/// are cut inside their ALPN extension, the ClientHellos before theirs. The server answered
/// with ALPN; nothing here may say it declined.
#[test]
fn tls12_server_hello_cut_inside_its_alpn_extension_is_not_a_decline() {
    let cut = |client_port, first_frame, ch: u64| Expect {
        client_port,
        server_port: 8443,
        first_frame,
        sni: None,
        offered: &[],
        selected: None,
        version: Some("1.2"),
        verdict: "incomplete",
        client_hello_frames: if ch == 4 { &[4] } else { &[22] },
        evidence: if ch == 4 { &[4, 6] } else { &[22, 24] },
    };
    let doc = check(
        "tls12-snaplen-168.pcap",
        &[cut(42452, 1, 4), cut(42462, 19, 22)],
    );
    let flows = doc["flows"].as_array().unwrap();
    for (flow, (sh_frame, sh_len, ch_len)) in flows.iter().zip([(6, 102, 211), (24, 108, 208)]) {
        assert_eq!(
            flow["detail"].as_str().unwrap(),
            format!(
                "the capture holds only 93 of the ServerHello's {sh_len} bytes (frame {sh_frame}; cut by the capture's snaplen of 168 bytes): its ALPN extension begins but is cut before the protocol it names: the server selected one (it did not decline), which is not in the capture; the capture holds only 93 of the ClientHello's {ch_len} bytes (cut by the capture's snaplen of 168 bytes), not its ALPN extension if it has one, so the offer is unknown; capture whole packets (tcpdump -s 0) to see it"
            )
        );
        // The ALPN extension's type is in the capture, its list is not.
        assert_eq!(
            strings(&flow["server_hello"]["extensions"]),
            ["ff01", "0000", "000b", "0010"]
        );
        assert!(flow["server_hello"]["alpn"].is_null());
        assert_eq!(flow["server_hello"]["cut"]["captured"], 93);
        assert!(flow["network"].is_null());
    }
    let path = project_path("fixtures/tls12-snaplen-168.pcap");
    let text = String::from_utf8(common::run(&["analyze", path.to_str().unwrap()]).stdout).unwrap();
    let selected: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  selected"))
        .collect();
    assert_eq!(
        selected,
        [
            "  selected  (unknown: the capture holds 93 of the ServerHello's 102 bytes)  (TLS 1.2)",
            "  selected  (unknown: the capture holds 93 of the ServerHello's 108 bytes)  (TLS 1.2)",
        ]
    );
}
