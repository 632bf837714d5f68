//! Capture filters agree with tcpdump: on every fixture and every expression of
//! `tests/data/bpf-expressions.txt`, the frames the filter passes are those `tcpdump -r FIXTURE
//! EXPR` passes (`tests/data/bpf-expected.tsv`, made by `fixtures/bpf-expected.sh`; no tcpdump
//! at test time). The built-in engine is checked in every build, libpcap's with
//! `--features live`. Then the command line: `alpnscope FILE EXPR`, `-f`, `-c` with a filter,
//! refused expressions.

mod common;

use alpnscope::capture::filter::{Engine, Filter, FilterError};
use alpnscope::capture::{CaptureError, CaptureEvent, SliceParser};
use common::{project_path, run};
use serde_json::Value;

/// One line of the expected file: capture, expression, tcpdump's frames or its refusal.
struct Expected {
    capture: String,
    expression: String,
    outcome: Result<Vec<u64>, String>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(project_path("tests/data/bpf-expected.tsv"))
        .expect("tests/data/bpf-expected.tsv (fixtures/bpf-expected.sh)");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("capture\t"))
        .map(|line| {
            let mut cols = line.splitn(3, '\t');
            let (capture, expression, frames) = (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
                cols.next().unwrap(),
            );
            let outcome = match frames.strip_prefix('!') {
                Some(error) => Err(error.to_string()),
                None => Ok(ranges(frames)),
            };
            Expected {
                capture,
                expression,
                outcome,
            }
        })
        .collect()
}

/// `1-3,7` → [1, 2, 3, 7]; `-` → [].
fn ranges(text: &str) -> Vec<u64> {
    if text == "-" {
        return Vec::new();
    }
    text.split(',')
        .flat_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap()
        })
        .collect()
}

/// The frames `filter` passes in `capture`: read in place for a plain file (as the file driver
/// reads a regular file), streamed and decompressed for a compressed one.
fn filtered(capture: &str, filter: &Filter) -> Result<Vec<u64>, CaptureError> {
    let data = std::fs::read(project_path(capture)).unwrap();
    let mut frames = Vec::new();
    let mut on_event = |e: CaptureEvent<'_>| {
        if let CaptureEvent::Frame(f) = e {
            frames.push(f.number);
        }
    };
    if [".gz", ".xz", ".zst"]
        .iter()
        .any(|ext| capture.ends_with(ext))
    {
        let (input, compression) = alpnscope::capture::decompressing(&data[..]).unwrap();
        assert!(compression.is_some(), "{capture}");
        alpnscope::capture::read_capture_filtered(
            input,
            None,
            Some(filter.matcher()),
            &mut on_event,
        )?;
    } else {
        let mut parser = SliceParser::new().with_filter(Some(filter.matcher()));
        parser.feed(&data, true, &mut on_event)?;
        parser.finish();
    }
    Ok(frames)
}

/// Checks `engine` against tcpdump on every line; returns the lines checked.
fn agree(engine: Engine) -> usize {
    let lines = expected();
    let fixtures: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l.capture.as_str()).collect();
    assert!(fixtures.len() >= 90, "every fixture: {}", fixtures.len());
    let mut mismatches = Vec::new();
    for line in &lines {
        let filter = Filter::with_engine(&line.expression, engine)
            .unwrap_or_else(|e| panic!("{}: {e}", line.expression));
        let got = filtered(&line.capture, &filter);
        let ok = match (&line.outcome, &got) {
            (Ok(want), Ok(got)) => want == got,
            // tcpdump refuses an expression that can match nothing on the link type; both
            // engines pass nothing of it, so one capture of a set does not end the run.
            (Err(why), Ok(got)) if why.contains("expression rejects all packets") => got.is_empty(),
            // Refused for the link type (no VLAN on cooked or raw frames, no Ethernet
            // addresses): refused too.
            (Err(why), Err(CaptureError::Filter(FilterError::Link { .. })))
                if why.contains("no VLAN support") || why.contains("ethernet addresses") =>
            {
                true
            }
            // multi-interface.pcapng mixes Ethernet and NFLOG interfaces, which tcpdump cannot
            // read; the built-in filter names the NFLOG link type it does not read, and so
            // does libpcap ("NFLOG link-layer type filtering not implemented") but for
            // expressions it can compile there (`greater`, `less`).
            (Err(why), got) if why.contains("different from the type of the first interface") => {
                let nflog = matches!(
                    got,
                    Err(CaptureError::Filter(FilterError::Link { link_type, .. }))
                        if link_type.0 == 239
                );
                match engine {
                    Engine::BuiltIn => nflog,
                    #[cfg(feature = "live")]
                    Engine::Libpcap => nflog || got.is_ok(),
                }
            }
            _ => false,
        };
        if !ok {
            mismatches.push(format!(
                "{} '{}': tcpdump {:?}, alpnscope {:?}",
                line.capture,
                line.expression,
                line.outcome,
                got.map_err(|e| e.to_string())
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} disagree:\n{}",
        mismatches.len(),
        lines.len(),
        mismatches.join("\n")
    );
    lines.len()
}

#[test]
fn the_built_in_filter_agrees_with_tcpdump_on_every_fixture() {
    let expressions = std::fs::read_to_string(project_path("tests/data/bpf-expressions.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert!(expressions >= 40);
    let checked = agree(Engine::BuiltIn);
    assert_eq!(checked % expressions, 0);
}

#[cfg(feature = "live")]
#[test]
fn libpcap_agrees_with_tcpdump_on_every_fixture() {
    agree(Engine::Libpcap);
}

/// `alpnscope ARGS --format json`: exit status, document and stderr.
fn json(args: &[&str]) -> (i32, Value, String) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = run(&all);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (transport, verdict) of each flow.
fn flows(doc: &Value) -> Vec<(String, String)> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let transport = if f["tcp"].is_null() { "quic" } else { "tcp" };
            (
                transport.to_string(),
                f["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const FALLBACK: &str = "fixtures/quic-udp-blocked-tcp-fallback.pcap";

#[test]
fn a_filter_after_the_capture_keeps_only_its_frames() {
    let capture = project_path(FALLBACK);
    let capture = capture.to_str().unwrap();
    let (code, all, _) = json(&[capture]);
    assert_eq!(code, 0);
    assert_eq!(
        flows(&all),
        [
            ("quic".into(), "incomplete".into()),
            ("tcp".into(), "hidden".into())
        ]
    );
    assert!(all["captures"][0].get("filter").is_none());
    // tcpdump's form: the words after the capture are the expression.
    let (code, tcp, _) = json(&[capture, "tcp", "port", "443"]);
    assert_eq!(code, 0);
    assert_eq!(flows(&tcp), [("tcp".into(), "hidden".into())]);
    let capture_report = &tcp["captures"][0];
    assert_eq!(capture_report["packets"], 23);
    assert_eq!(
        capture_report["filter"],
        serde_json::json!({"expression": "tcp port 443", "matched": 19, "dropped": 4})
    );
    // Frame numbers stay the file's: the TCP flow starts at frame 5, as without the filter.
    assert_eq!(tcp["flows"][0]["first_frame"], 5);
    assert_eq!(tcp["flows"][0]["last_frame"], all["flows"][1]["last_frame"]);
    assert_eq!(
        tcp["flows"][0]["evidence_frames"],
        all["flows"][1]["evidence_frames"]
    );
    // -f, and -r with the expression after it.
    let (code, udp, _) = json(&["-r", capture, "-f", "udp"]);
    assert_eq!(code, 0);
    assert_eq!(flows(&udp), [("quic".into(), "incomplete".into())]);
    assert_eq!(udp["captures"][0]["filter"]["matched"], 4);
    let (_, quoted, _) = json(&["-r", capture, "udp port 443 or tcp port 443"]);
    assert_eq!(flows(&quoted), flows(&all));
    assert_eq!(quoted["captures"][0]["filter"]["dropped"], 0);
}

#[test]
fn the_text_report_shows_the_filter() {
    let out = run(&["-r", &project_path(FALLBACK).display().to_string(), "udp"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "\n  filter 'udp': 4 packets matched, 19 dropped\n  warning: the capture filter \
             dropped 19 of the 23 packets read: each flow is analysed from the packets it \
             passed, so what it dropped (a server's replies, part of a handshake) is missing \
             from the verdicts as if never sent\n"
        ),
        "{text}"
    );
    // Nothing dropped, no warning.
    let out = run(&["-r", &project_path(FALLBACK).display().to_string(), "ip"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\n  filter 'ip': 23 packets matched, 0 dropped\n\n"),
        "{text}"
    );
}

#[test]
fn count_counts_the_frames_the_filter_passes() {
    let capture = project_path(FALLBACK).display().to_string();
    // As tcpdump -c 3 'tcp': the third TCP frame is frame 7.
    let (code, doc, stderr) = json(&["-c", "3", "-r", &capture, "tcp"]);
    assert_eq!(code, 0);
    let c = &doc["captures"][0];
    assert_eq!(c["packets"], 7);
    assert_eq!(
        c["filter"],
        serde_json::json!({"expression": "tcp", "matched": 3, "dropped": 4})
    );
    assert!(stderr.contains("reading stopped after frame 7"), "{stderr}");
}

#[test]
fn refused_expressions_are_usage_errors() {
    let capture = project_path(FALLBACK).display().to_string();
    let out = run(&["-r", &capture, "tcp", "port"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("alpnscope: error: filter 'tcp port': "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let out = run(&["-r", &capture, "-f", "port 70000"]);
    assert_eq!(out.status.code(), Some(2));
    // Both -f and words after the captures.
    let out = run(&["-r", &capture, "-f", "tcp", "udp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give it once"));
    // Only words that are no file: no capture.
    let out = run(&["analyze", "missing-capture", "tcp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no capture to read: 'missing-capture tcp'")
    );
}

#[cfg(not(feature = "live"))]
#[test]
fn the_default_build_names_the_build_that_reads_full_syntax() {
    let capture = project_path(FALLBACK).display().to_string();
    let out = run(&["-r", &capture, "tcp[12] >> 4 > 5"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "alpnscope: error: filter 'tcp[12] >> 4 > 5': arithmetic other than LOAD & MASK \
             RELOP VALUE (such as tcp[13] & 0x12 != 0) is not supported by the built-in filter \
             of this build"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--features live"), "{stderr}");
    let out = run(&["-r", &capture, "port", "https"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the name 'https'"));
}

/// A masked load compared with a constant, in every build.
#[test]
fn tcp_flags() {
    let capture = project_path(FALLBACK).display().to_string();
    // SYNs: the client's SYN (frame 5) and the server's SYN-ACK (frame 6).
    let (code, doc, stderr) = json(&["-r", &capture, "tcp[tcpflags] & tcp-syn != 0"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["captures"][0]["filter"]["matched"], 2);
    let (_, doc, _) = json(&["-r", &capture, "tcp[13] = 2"]);
    assert_eq!(doc["captures"][0]["filter"]["matched"], 1);
}

#[cfg(feature = "live")]
#[test]
fn the_libpcap_build_reads_full_syntax() {
    let capture = project_path(FALLBACK).display().to_string();
    // SYNs: the client's SYN (frame 5) and the server's SYN-ACK.
    let (code, doc, stderr) = json(&["-r", &capture, "tcp[tcpflags] & tcp-syn != 0"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["captures"][0]["filter"]["matched"], 2);
    let out = run(&["-r", &capture, "tcp[tcpflags] &"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("syntax error"));
}

#[test]
fn a_link_type_the_expression_cannot_test_is_an_error() {
    // tcpdump: "no VLAN support for Linux cooked v1".
    let out = run(&[
        "-r",
        &project_path("fixtures/sll-any.pcap").display().to_string(),
        "vlan",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot filter link type LINUX_SLL (113)"),
        "{stderr}"
    );
}

#[test]
fn redaction_hides_the_expression() {
    let capture = project_path(FALLBACK).display().to_string();
    let (code, doc, _) = json(&["--redact", "-r", &capture, "host", "192.0.2.2"]);
    assert_eq!(code, 0);
    assert_eq!(doc["captures"][0]["filter"]["expression"], "(redacted)");
    assert_eq!(doc["captures"][0]["filter"]["matched"], 23);
}

/// The engines agree beyond the fixtures' frames as they are: on the first frames of captures
/// of every link type cut at every length up to 96 bytes (where libpcap's optimised code
/// decides before a missing byte, or rejects the frame at it), and with the IPv4 fragment
/// offset, the IPv6 next header and the VLAN TPID rewritten.
#[cfg(feature = "live")]
#[test]
fn the_engines_agree_on_cut_and_altered_frames() {
    use alpnscope::capture::LinkType;
    use alpnscope::capture::filter::{parser, program};
    let expressions: Vec<String> =
        std::fs::read_to_string(project_path("tests/data/bpf-expressions.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .chain(
                [
                    "ip6 proto 6 or icmp",
                    "not (tcp port 8443 or ip6)",
                    "less 60 or tcp src portrange 40000-60000",
                    "ip6 and udp or arp and not vlan",
                    "host ::1 or port 8443 and greater 70",
                    "tcp port 443 or ip",
                    "tcp[tcpflags] & tcp-syn != 0",
                    "tcp[13] & (tcp-syn|tcp-fin) != 0 and ip[8] < 65",
                    "udp[0:2] = 443 or icmp[icmptype] = icmp-echo",
                    "ether[0] & 1 != 0 or ip6[6] = 17",
                    "len >= 100 and tcp[0:4] > 1000",
                    "ip[2:2] <= 60 or vlan and ip[9] == 6",
                    "ether src 00:00:00:00:00:00 or arp",
                ]
                .map(String::from),
            )
            .collect();
    let mut frames: Vec<(LinkType, Vec<u8>, u32)> = Vec::new();
    for capture in [
        "fixtures/vlan.pcap",
        "fixtures/qinq.pcap",
        "fixtures/ipv6.pcap",
        "fixtures/sll-any.pcap",
        "fixtures/sll2-any.pcap",
        "fixtures/raw-ip.pcap",
        "fixtures/tls12-h2-agreed.pcap",
        "fixtures/quic-ipv6.pcap",
    ] {
        let data = std::fs::read(project_path(capture)).unwrap();
        let mut taken = 0;
        alpnscope::capture::read_capture_slice(&data, |e| {
            if let CaptureEvent::Frame(f) = e
                && taken < 6
            {
                taken += 1;
                frames.push((f.link_type, f.data.to_vec(), f.original_len));
            }
        })
        .unwrap();
    }
    // Altered copies: IPv4 "more fragments"/offset set, IPv6 next header 44, TPID 0x88a8.
    let mut altered = Vec::new();
    for (link, data, len) in &frames {
        for (at, byte) in [
            (20usize, 0x20u8),
            (21, 0x08),
            (20, 0x00),
            (14 + 6, 44),
            (12, 0x88),
        ] {
            if let Some(b) = data.get(at) {
                let mut copy = data.clone();
                copy[at] = byte ^ (b & 0x01);
                altered.push((*link, copy, *len));
            }
        }
    }
    frames.extend(altered);
    let mut checked = 0u64;
    let mut disagree = Vec::new();
    for expression in &expressions {
        let expr = parser::parse(expression).unwrap();
        let libpcap = Filter::with_engine(expression, Engine::Libpcap).unwrap();
        let mut l = libpcap.matcher();
        for (link, data, len) in &frames {
            let ours = program::compile(&expr, *link).ok();
            for cut in 0..=data.len().min(96) {
                let part = &data[..cut];
                let theirs = l.matches(*link, part, *len).ok();
                let ours = ours.as_ref().map(|p| p.matches(part, *len));
                if ours != theirs {
                    disagree.push(format!(
                        "'{expression}' {link} cut {cut} of {}: {ours:?} vs {theirs:?}",
                        data.len()
                    ));
                }
                checked += 1;
            }
        }
    }
    eprintln!("{} expressions, {checked} cases", expressions.len());
    assert!(checked > 1_000_000, "{checked}");
    assert!(
        disagree.is_empty(),
        "{} of {checked} disagree:\n{}",
        disagree.len(),
        disagree[..disagree.len().min(30)].join("\n")
    );
}

/// A filter that drops one direction: each flow says how many of its packets the filter took,
/// and a verdict short of its ServerHello says the ServerHello may be among them.
#[test]
fn a_flow_says_what_the_filter_took_from_it() {
    let capture = project_path("fixtures/tls12-h2-agreed.pcap");
    let (code, doc, _) = json(&[capture.to_str().unwrap(), "dst", "port", "8443"]);
    assert_eq!(code, 0);
    let got: Vec<(&str, &str, Vec<String>)> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["verdict"].as_str().unwrap(),
                f["detail"].as_str().unwrap(),
                f["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "incomplete",
                "the client closed the connection (FIN in frame 16) without a ServerHello after the ClientHello (frame 4) — but the capture filter dropped packets of this connection (8 from the server): what is missing may be among them",
                vec!["the capture filter dropped 8 packets of this connection (8 from the server): they are not analysed".to_string()]
            ),
            (
                "incomplete",
                "the client closed the connection (FIN in frame 32) without a ServerHello after the ClientHello (frame 22) — but the capture filter dropped packets of this connection (7 from the server): what is missing may be among them",
                vec!["the capture filter dropped 7 packets of this connection (7 from the server): they are not analysed".to_string()]
            ),
        ]
    );
    // A filter that drops nothing of a flow leaves it as it was.
    let (_, whole, _) = json(&[capture.to_str().unwrap(), "port", "8443"]);
    assert_eq!(whole["flows"][0]["verdict"], "agreed");
    assert_eq!(whole["flows"][0]["notes"], serde_json::json!([]));
}

/// `-w` with a filter writes what the filter passed, as `tcpdump -r FILE -w OUT EXPR` does: the
/// extract of a flow seen through `dst port 8443` holds only the client's packets.
#[test]
fn an_extract_holds_only_what_the_filter_passed() {
    let dir = std::env::temp_dir().join(format!("alpnscope-bpf-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("client-side.pcapng");
    let capture = project_path("fixtures/tls12-h2-agreed.pcap");
    let written = run(&[
        capture.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
        "--flow",
        "0",
        "dst",
        "port",
        "8443",
    ]);
    assert!(written.status.success());
    let stderr = String::from_utf8_lossy(&written.stderr);
    // Flow 0 (frames 1-18): the 10 packets of the client; the server's 8 were dropped.
    assert!(stderr.contains("wrote 10 packets of 1 flow"), "{stderr}");
    let (_, doc, _) = json(&[out.to_str().unwrap()]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(doc["captures"][0]["packets"], 10);
    std::fs::remove_dir_all(&dir).unwrap();
}
