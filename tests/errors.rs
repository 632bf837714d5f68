//! Bad input and command-line behaviour: exit codes, messages, and partial reports.

mod common;

use common::{project_path, run};
use std::io::Write;
use std::process::{Command, Stdio};

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("alpnscope-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn not_a_capture_exits_2_with_a_clear_message() {
    let path = temp_file(
        "notes.txt",
        b"this is a text file, not a packet capture at all\n",
    );
    let out = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
    assert!(err.starts_with("alpnscope: error:"), "{err}");
    assert!(
        err.contains(
            "(alpnscope reads pcap and pcapng captures, e.g. from tcpdump -w or Wireshark)"
        ),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn empty_file_exits_2() {
    let path = temp_file("empty.pcap", b"");
    let out = run(&["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}

#[test]
fn missing_file_exits_2() {
    let out = run(&["analyze", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open /nonexistent/capture.pcap"));
    // The "not a capture" hint is for files that are not captures.
    assert!(!err.contains("alpnscope reads pcap"), "{err}");
}

/// A directory is searched for captures (see tests/cli.rs); one without any exits 2.
#[test]
fn directory_without_captures_exits_2_and_says_so() {
    let dir =
        std::env::temp_dir().join(format!("alpnscope-test-nocaptures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "no capture here\n").unwrap();
    let out = run(&["analyze", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the directory holds no capture"),
        "{stderr}"
    );
}

#[test]
fn usage_error_exits_2() {
    assert_eq!(run(&["analyze"]).status.code(), Some(2));
    assert_eq!(
        run(&["analyze", "--format", "yaml", "x.pcap"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn truncated_capture_reports_flows_read_so_far() {
    let full = std::fs::read(project_path("fixtures/tls12-h2-agreed.pcap")).unwrap();
    // Cut inside frame 20 (the second connection's SYN/ACK): the first flow is complete.
    let mut offset = 24;
    for _ in 0..19 {
        let caplen = u32::from_le_bytes(full[offset + 8..offset + 12].try_into().unwrap()) as usize;
        offset += 16 + caplen;
    }
    let path = temp_file("cut.pcap", &full[..offset + 30]);
    let out = run(&["analyze", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["captures"][0]["complete"], false);
    assert_eq!(doc["captures"][0]["packets"], 19);
    let warning = doc["captures"][0]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("after frame 19"), "{warning}");
    assert_eq!(doc["flows"][0]["verdict"], "agreed");
    // The second connection got only as far as its SYN (frame 19) to a TLS server.
    assert_eq!(doc["flows"][1]["verdict"], "incomplete");
    assert_eq!(
        doc["flows"][1]["detail"],
        "no answer to the SYN (frame 19) before the capture ended"
    );
    assert_eq!(doc["summary"]["non_tls_flows"], 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("after frame 19"));
}

#[test]
fn reads_a_capture_from_stdin() {
    let bytes = std::fs::read(project_path("fixtures/tls12-h2-agreed.pcap")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["analyze", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for chunk in bytes.chunks(7) {
            stdin.write_all(chunk).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "two flows and a summary line");
    assert_eq!(lines[0]["alpn_selected"], "h2");
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["captures"][0]["path"], "-");
}

#[test]
fn help_explains_every_verdict_and_version_prints() {
    let out = run(&["analyze", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for verdict in [
        "agreed",
        "server_declined",
        "no_common_protocol",
        "selected_unoffered",
        "not_offered",
        "hidden",
        "incomplete",
    ] {
        assert!(help.contains(verdict), "--help lacks {verdict}");
    }
    assert!(help.contains("Exit status"));
    let out = run(&["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn all_lists_non_tls_flows() {
    let path = project_path("../shared/corpus/ja4/captures/ssh.pcapng");
    let out = run(&[
        "analyze",
        "--format",
        "json",
        "--all",
        path.to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flows = doc["flows"].as_array().unwrap();
    assert!(!flows.is_empty());
    assert!(flows.iter().all(|f| f["verdict"] == "not_tls"));
    assert_eq!(
        doc["summary"]["non_tls_flows"].as_u64(),
        Some(flows.len() as u64)
    );
}

#[test]
fn markdown_report_has_metadata_and_problem_sections() {
    let path = project_path("fixtures/tls12-server-no-alpn.pcap");
    let out = run(&["analyze", "--format", "markdown", path.to_str().unwrap()]);
    assert!(out.status.success());
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# alpnscope report\n\n## Findings\n\n- **server without alpn** — server-side: alpn.test (127.0.0.1:8443) never negotiates ALPN"));
    assert!(md.contains("| server | SNI | flows | protocols selected | verdicts |"));
    assert!(md.contains("| `127.0.0.1:8443` | `alpn.test` | 2 | - | `server_declined` 2 |"));
    assert!(md.contains("| Wireshark filter | `tcp.stream eq 1` |"));
    assert!(md.contains("Generated by alpnscope"));
    assert!(md.contains("with `alpnscope analyze --format markdown"));
    let digest = {
        use sha2::Digest;
        let bytes = std::fs::read(&path).unwrap();
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(md.contains(&digest), "markdown shows the file's sha256");
}

#[test]
fn text_report_is_plain_without_a_terminal_and_coloured_on_request() {
    let path = project_path("fixtures/tls12-h2-agreed.pcap");
    let out = run(&["analyze", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'));
    assert!(text.contains("verdict   agreed: the server selected h2"));
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "fits 100 columns"
    );
    let out = run(&["analyze", "--color", "always", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b[32magreed\x1b[0m"));
}

/// The Markdown report of three captures, compared with `tests/snapshots/ticket-report.md`,
/// which was reviewed by eye (and against Wireshark for the frame numbers and stream indexes).
#[test]
fn markdown_ticket_report_matches_the_reviewed_snapshot() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .current_dir(root)
        .args([
            "analyze",
            "--format",
            "markdown",
            "fixtures/tls12-server-no-alpn.pcap",
            "fixtures/loss-client-hello-rto.pcap",
            "fixtures/reset-injected-ttl.pcap",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected =
        std::fs::read_to_string(project_path("tests/snapshots/ticket-report.md")).unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    assert!(
        got == expected,
        "Markdown report changed; review it and update the snapshot:\n{got}"
    );
}

/// `alpnscope analyze … | head`: a reader that goes away early is not an error, in any format.
#[test]
fn closed_stdout_exits_0_quietly_in_every_format() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let capture = common::project_path("fixtures/diagnosis-clients.pcap");
    let capture = capture.to_str().unwrap();
    for format in ["json", "jsonl", "text", "markdown"] {
        // Enough flows that the report is far larger than a pipe buffer.
        let mut child = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
            .args(["analyze", "--format", format])
            .args(std::iter::repeat_n(capture, 40))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
    }
}

/// A little-endian pcapng: section header, one Ethernet interface, one 60-byte packet, then one
/// Enhanced Packet Block of `last_block` bytes in all.
fn pcapng_with_block_of(last_block: usize) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let total = (12 + body.len()) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&total.to_le_bytes());
    }
    fn packet(len: usize) -> Vec<u8> {
        let mut body = Vec::with_capacity(20 + len);
        body.extend_from_slice(&0u32.to_le_bytes()); // interface
        body.extend_from_slice(&[0; 8]); // timestamp
        body.extend_from_slice(&(len as u32).to_le_bytes());
        body.extend_from_slice(&(len as u32).to_le_bytes());
        body.resize(20 + len, 0);
        body
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]); // version 1.0
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    block(&mut out, 0x0A0D_0D0A, &shb);
    block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]); // Ethernet, no snaplen
    block(&mut out, 6, &packet(60));
    block(&mut out, 6, &packet(last_block - 32));
    out
}

/// `(packets, complete, warnings)` of a capture read from a file and from stdin; both readers
/// must agree.
fn read_both_ways(name: &str, bytes: &[u8]) -> (u64, bool, Vec<String>) {
    let path = temp_file(name, bytes);
    let from_file = run(&["analyze", "--format", "json", path.to_str().unwrap()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["analyze", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let from_stdin = child.wait_with_output().unwrap();
    std::fs::remove_file(&path).unwrap();
    let outcome = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let capture = &doc["captures"][0];
        (
            capture["packets"].as_u64().unwrap(),
            capture["complete"].as_bool().unwrap(),
            common::strings(&capture["warnings"]),
        )
    };
    let file = outcome(&from_file);
    assert_eq!(file, outcome(&from_stdin), "file and stdin readers differ");
    file
}

#[test]
fn a_block_of_64_mib_is_read_and_a_larger_one_is_corrupt() {
    let limit = 64 << 20;
    assert_eq!(
        read_both_ways("block-64mib.pcapng", &pcapng_with_block_of(limit)),
        (2, true, vec![])
    );
    assert_eq!(
        read_both_ways("block-over.pcapng", &pcapng_with_block_of(limit + 4)),
        (
            1,
            false,
            vec![
                "capture corrupt after frame 1 (a block claims more than 64 MiB): the rest of the file was not read"
                    .to_string()
            ]
        )
    );
}
