//! DNS HTTPS and SVCB answers (RFC 9460) against what the servers negotiate, on
//! `fixtures/dns-https-records.pcap` (Knot DNS, dig over UDP and TCP, curl, nginx, aioquic;
//! the values cross-checked with tshark's `dns.svcb.*` fields, see fixtures/README.md).

mod common;

use common::{analyze_json, numbers, project_path, run};
use serde_json::{Value, json};

const FIXTURE: &str = "fixtures/dns-https-records.pcap";

fn fixture() -> String {
    project_path(FIXTURE).to_str().unwrap().to_string()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_answer_is_listed_over_udp_and_tcp_even_without_a_connection() {
    let doc = analyze_json(&fixture(), &[]);
    // Times as tshark shows them (frame.time_epoch): 1796046790.498372 is 13:53:10.498372Z.
    let time = |frame: u64| match frame {
        2 => "2026-11-30T13:53:10.498372Z",
        23 => "2026-11-30T13:53:11.379189Z",
        47 => "2026-11-30T13:53:12.270423Z",
        53 => "2026-11-30T13:53:15.734896Z",
        _ => "2026-11-30T13:53:16.071577Z",
    };
    let record = |frame: u64, rtype: &str, name: &str, target: &str, alpn: Value| {
        json!({"capture": 0, "frame": frame, "time": time(frame), "record_type": rtype, "name": name,
               "priority": 1, "target": target, "alpn": alpn, "no_default_alpn": false,
               "port": null, "ech": false, "ipv4hint": [], "ipv6hint": [], "notes": []})
    };
    let mut apex = record(2, "https", "alpn.test", ".", json!(["h2", "http/1.1"]));
    apex["ech"] = json!(true);
    apex["ipv4hint"] = json!(["127.0.0.1"]);
    apex["ipv6hint"] = json!(["::1"]);
    let mut tcp = record(23, "https", "_8443._https.alpn.test", ".", json!(["h2"]));
    tcp["port"] = json!(8443);
    let mut h3 = record(47, "https", "h3.alpn.test", "alpn.test", json!(["h3"]));
    h3["no_default_alpn"] = json!(true);
    let mut www = apex.clone();
    www["frame"] = json!(53);
    www["time"] = json!(time(53));
    www["query"] = json!("www.alpn.test");
    let mut svcb = record(55, "svcb", "_dns.alpn.test", "ns.alpn.test", json!(["dot"]));
    svcb["port"] = json!(853);
    assert_eq!(doc["dns_https"], json!([apex, tcp, h3, www, svcb]));
    // The document's order: flows, captures, then the DNS list (complete only at the end).
    let raw = stdout(&["analyze", "--format", "json", &fixture()]);
    let at = |key: &str| raw.find(&format!("\"{key}\":")).unwrap();
    assert!(at("flows") < at("captures"));
    assert!(at("captures") < at("dns_https"));
    assert!(at("dns_https") < at("diagnosis"));
    let decode = &doc["captures"][0]["decode"];
    // 8 UDP datagrams (4 queries, 4 responses) and the one response over TCP.
    assert_eq!(decode["dns_messages"], 9);
    assert_eq!(decode["other_ip"], 8);
    assert_eq!(decode.get("dns_malformed"), None);
    assert_eq!(decode.get("dns_https_omitted"), None);
}

#[test]
fn flows_carry_what_dns_advertised_for_their_name_and_port() {
    let doc = analyze_json(&fixture(), &[]);
    let flows = doc["flows"].as_array().unwrap();
    let got: Vec<(u64, &str, Option<&str>, Value)> = flows
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["verdict"].as_str().unwrap(),
                f["alpn_selected"].as_str(),
                f["dns_advertised"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                0,
                "downgraded",
                Some("http/1.1"),
                json!({"name": "alpn.test", "alpn": ["h2", "http/1.1"],
                       "no_default_alpn": false, "frame": 2, "matched_by": "name"})
            ),
            (
                2,
                "agreed",
                Some("h2"),
                json!({"name": "_8443._https.alpn.test", "alpn": ["h2"],
                       "no_default_alpn": false, "frame": 23, "matched_by": "name"})
            ),
            (
                3,
                "incomplete",
                None,
                json!({"name": "h3.alpn.test", "alpn": ["h3"],
                       "no_default_alpn": true, "frame": 47, "matched_by": "name"})
            ),
        ]
    );
}

#[test]
fn servers_that_do_not_negotiate_what_dns_advertised_are_findings() {
    let doc = analyze_json(&fixture(), &[]);
    let found: Vec<(&str, &str, Vec<u64>, Vec<u64>)> = doc["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["server"].as_str().unwrap(),
                numbers(&d["flows"]),
                numbers(&d["evidence_frames"]),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "server_without_h2",
                "alpn.test (127.0.0.1:443)",
                vec![0],
                vec![6, 8]
            ),
            (
                "dns_advertised_not_negotiated",
                "alpn.test (127.0.0.1:443)",
                vec![0],
                vec![2, 6, 8]
            ),
            (
                "dns_advertised_not_negotiated",
                "h3.alpn.test (127.0.0.1:443 over QUIC)",
                vec![3],
                vec![47, 48, 51]
            ),
        ]
    );
    assert_eq!(
        doc["diagnosis"][1]["conclusion"],
        "server-side: DNS advertised h2 but alpn.test (127.0.0.1:443) did not negotiate it: the DNS HTTPS answer (alpn.test in frame 2: alpn h2, http/1.1) lists h2, which the clients offered first among the advertised protocols, and the server answered with http/1.1 (flow 0); enable h2 on the server, or take it out of the record's alpn"
    );
    let quic = doc["diagnosis"][2]["conclusion"].as_str().unwrap();
    assert!(
        quic.starts_with("DNS advertised h3 but the server did not answer over QUIC: the DNS HTTPS answer (h3.alpn.test in frame 47: alpn h3) lists h3"),
        "{quic}"
    );
    assert!(quic.contains("the packets do not say which"), "{quic}");
}

#[test]
fn text_json_lines_and_markdown_show_the_records() {
    let path = fixture();
    let text = stdout(&["analyze", "--color", "never", &path]);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("dns https"))
        .collect();
    assert_eq!(
        lines,
        [
            "dns https frame 2: HTTPS alpn.test priority 1 target . alpn h2,http/1.1 ech ipv4hint 127.0.0.1 ipv6hint ::1",
            "dns https frame 23: HTTPS _8443._https.alpn.test priority 1 target . alpn h2 port 8443",
            "dns https frame 47: HTTPS h3.alpn.test priority 1 target alpn.test alpn h3 no-default-alpn",
            "dns https frame 53: HTTPS alpn.test priority 1 target . (asked for www.alpn.test) alpn h2,http/1.1 ech ipv4hint 127.0.0.1 ipv6hint ::1",
            "dns https frame 55: SVCB _dns.alpn.test priority 1 target ns.alpn.test alpn dot port 853",
        ]
    );
    assert!(
        text.contains("  DNS HTTPS alpn h2, http/1.1 for alpn.test (frame 2)\n"),
        "{text}"
    );

    let jsonl = stdout(&["analyze", "--format", "jsonl", &path]);
    let types: Vec<String> = jsonl
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["type"].as_str().unwrap_or("flow").to_string()
        })
        .collect();
    assert_eq!(
        types,
        [
            "flow",
            "flow",
            "flow",
            "dns_https",
            "dns_https",
            "dns_https",
            "dns_https",
            "dns_https",
            "summary"
        ]
    );
    let first: Value = serde_json::from_str(jsonl.lines().nth(3).unwrap()).unwrap();
    assert_eq!(first["frame"], 2);
    assert_eq!(first["name"], "alpn.test");

    let md = stdout(&["analyze", "--format", "markdown", &path]);
    let section: Vec<&str> = md
        .lines()
        .skip_while(|l| *l != "## DNS HTTPS records")
        .take(5)
        .collect();
    assert_eq!(
        section,
        [
            "## DNS HTTPS records",
            "",
            "| frame | type | name | priority | target | alpn | other params |",
            "|---|---|---|---|---|---|---|",
            "| 2 | HTTPS | `alpn.test` | 1 | `.` | `h2`, `http/1.1` | ech; ipv4hint 127.0.0.1; ipv6hint ::1 |",
        ]
    );
    assert!(md.contains("| DNS HTTPS | alpn h3, no-default-alpn for h3.alpn.test (frame 47) |"));
}

#[test]
fn redaction_hides_the_names_and_hints_of_dns_records() {
    let path = fixture();
    for format in ["json", "jsonl", "text", "markdown"] {
        let out = stdout(&["analyze", "--redact", "--format", format, &path]);
        assert!(!out.contains("alpn.test"), "{format}: {out}");
        assert!(!out.contains("127.0.0.1"), "{format}: {out}");
    }
}

#[test]
fn each_capture_matches_its_own_answers() {
    // The same capture twice: frame numbers restart, so capture 1's flows get capture 1's
    // answers, and the list holds both captures' records.
    let path = fixture();
    let out = run(&["analyze", "--format", "json", &path, &path]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records: Vec<(u64, u64)> = doc["dns_https"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["capture"].as_u64().unwrap(), r["frame"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        records,
        [
            (0, 2),
            (0, 23),
            (0, 47),
            (0, 53),
            (0, 55),
            (1, 2),
            (1, 23),
            (1, 47),
            (1, 53),
            (1, 55)
        ]
    );
    let advertised: Vec<(u64, u64, Value)> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["capture"].as_u64().unwrap(),
                f["dns_advertised"]["frame"].clone(),
            )
        })
        .collect();
    assert_eq!(
        advertised,
        [
            (0, 0, json!(2)),
            (2, 0, json!(23)),
            (3, 0, json!(47)),
            (4, 1, json!(2)),
            (6, 1, json!(23)),
            (7, 1, json!(47)),
        ]
    );
    let kinds: Vec<&str> = doc["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "server_without_h2",
            "dns_advertised_not_negotiated",
            "dns_advertised_not_negotiated"
        ]
    );
    assert_eq!(numbers(&doc["diagnosis"][1]["flows"]), [0, 4]);
}
