//! Command-line habits: flag forms, error messages that fit the error, key logs of every kind,
//! counted nouns, help layout, and the tcpdump-style forms.

mod common;

use common::{project_path, run};
use serde_json::Value;
use std::path::PathBuf;

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alpnscope-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    project_path(&format!("fixtures/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// `--redact capture.pcap` reads the capture; the mode goes only after `=`.
#[test]
fn redact_takes_its_mode_only_after_an_equals_sign() {
    let capture = fixture("client-no-alpn.pcap");
    let report = json(&run(&[
        "analyze",
        "--format",
        "json",
        "--redact-key",
        "k",
        "--redact",
        &capture,
    ]));
    assert_eq!(report["captures"][0]["path"], "capture 0");
    let sni = report["flows"][0]["sni"].as_str().unwrap();
    assert!(sni.starts_with("site-") && sni.ends_with(".test"), "{sni}");
    let full = json(&run(&[
        "analyze",
        "--format",
        "json",
        "--redact=sni-full",
        &capture,
    ]));
    let sni = full["flows"][0]["sni"].as_str().unwrap();
    assert!(sni.ends_with(".invalid"), "{sni}");
    // A mode after a space is a capture name now: a missing one, named by its position since
    // the run is redacted; the other capture is reported.
    let out = run(&["analyze", "--redact", "sni-full", &capture]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: cannot open input 0: no such file or directory\n\
         alpnscope: error: 1 of 2 captures could not be read (named above); the report covers \
         the others\n"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\nsummary 2 TLS flows, "));
}

/// `--flow N` that names no reported flow is an error naming the flows there are, and writes no
/// extract.
#[test]
fn a_flow_id_that_matches_no_flow_is_an_error() {
    let dir = temp_dir("flow");
    let extract = dir.join("x.pcapng");
    let out = run(&[
        "analyze",
        "--extract",
        extract.to_str().unwrap(),
        "--flow",
        "1",
        "--flow",
        "7",
        &fixture("client-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: --flow 7: no such flow in the report; the flows reported are 0, 1\n"
    );
    assert!(!extract.exists());
    // With a filter, the ids are those the filter kept.
    let out = run(&[
        "analyze",
        "--extract",
        extract.to_str().unwrap(),
        "--flow",
        "0",
        "--verdict",
        "agreed",
        &fixture("client-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: --flow 0: no such flow in the report; the flows reported (after --sni, \
         --server, --verdict or --problems) are none\n"
    );
    let out = run(&[
        "analyze",
        "--extract",
        extract.to_str().unwrap(),
        "--flow",
        "1",
        &fixture("client-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(extract.exists());
}

/// A missing file says so in words, without the "not a capture" hint or `(os error 2)`.
#[test]
fn a_missing_file_is_named_in_words() {
    let out = run(&["analyze", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: cannot open /nonexistent/capture.pcap: no such file or directory\n"
    );
    let out = run(&[
        "analyze",
        "--keylog",
        "/nonexistent/keys.log",
        &fixture("client-no-alpn.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: cannot open /nonexistent/keys.log: no such file or directory\n"
    );
    let out = run(&[
        "analyze",
        "-o",
        "/nonexistent/report.txt",
        &fixture("client-no-alpn.pcap"),
    ]);
    assert_eq!(
        stderr(&out),
        "alpnscope: error: cannot create /nonexistent/report.txt: no such file or directory\n"
    );
}

/// The first 10 bytes of a real pcap (and the first 20 of a real pcapng): a truncated header,
/// from a file and from standard input, without the "not a capture" hint.
#[test]
fn a_capture_cut_inside_its_header_is_a_truncated_header() {
    let dir = temp_dir("header");
    let pcap = std::fs::read(fixture("client-no-alpn.pcap")).unwrap();
    let short = dir.join("ten.pcap");
    std::fs::write(&short, &pcap[..10]).unwrap();
    let out = run(&["analyze", short.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "alpnscope: error: {}: truncated header: a pcap file cut off after 10 of the 24 bytes \
             of its file header, so it holds no packets\n",
            short.display()
        )
    );
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["analyze", "-"])
        .stdin(std::fs::File::open(&short).unwrap())
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(2));
    assert_eq!(
        stderr(&piped),
        "alpnscope: error: -: truncated header: a pcap file cut off after 10 of the 24 bytes \
         of its file header, so it holds no packets\n"
    );
    let pcapng = std::fs::read(fixture("tls12-h2-agreed.pcapng")).unwrap();
    let short = dir.join("twenty.pcapng");
    std::fs::write(&short, &pcapng[..20]).unwrap();
    let out = run(&["analyze", short.to_str().unwrap()]);
    assert_eq!(
        stderr(&out),
        format!(
            "alpnscope: error: {}: truncated header: a pcapng file cut off after 20 of the 108 \
             bytes of its section header block, so it holds no packets\n",
            short.display()
        )
    );
}

/// The hint about pcap and pcapng is for files that are not captures.
#[test]
fn the_not_a_capture_hint_is_for_non_captures_only() {
    let out = run(&["analyze", &project_path("README.md").to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).ends_with(
            ": not a pcap or pcapng file (no pcap magic number or pcapng section header at the \
             start)\n  (alpnscope reads pcap and pcapng captures, e.g. from tcpdump -w or Wireshark)\n"
        ),
        "{}",
        stderr(&out)
    );
}

/// A real key log rewritten as other tools write theirs (CRLF line ends, comments, NSS `RSA`
/// lines, TLS 1.2 `CLIENT_RANDOM` lines, a byte order mark) reveals the same selection.
#[test]
fn key_logs_with_other_kinds_of_lines_are_read() {
    let dir = temp_dir("keylog");
    let keys = std::fs::read_to_string(fixture("tls13-curl-keylog.keys")).unwrap();
    let mut mixed = String::from("\u{feff}# SSL/TLS secrets log file, generated by NSS\r\n");
    mixed.push_str("RSA 0a1b2c3d4e5f6071 0303aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677\r\n");
    mixed.push_str(&format!(
        "CLIENT_RANDOM {} {}\r\n",
        "ab".repeat(32),
        "cd".repeat(48)
    ));
    mixed.push_str("\r\n");
    for line in keys.lines() {
        mixed.push_str(line);
        mixed.push_str("\r\n");
    }
    let path = dir.join("mixed.keys");
    std::fs::write(&path, mixed).unwrap();
    let capture = fixture("tls13-curl-keylog.pcap");
    let plain = json(&run(&[
        "analyze",
        "--format",
        "json",
        "--keylog",
        &fixture("tls13-curl-keylog.keys"),
        &capture,
    ]));
    let mixed = json(&run(&[
        "analyze",
        "--format",
        "json",
        "--keylog",
        path.to_str().unwrap(),
        &capture,
    ]));
    assert_eq!(plain["flows"][0]["verdict"], "agreed");
    assert_eq!(plain["flows"][0]["alpn_selected"], "h2");
    assert_eq!(plain["flows"][0]["alpn_source"], "encrypted_extensions");
    assert_eq!(mixed["flows"], plain["flows"]);
}

/// One of a thing is singular in the text summary and the findings.
#[test]
fn one_flow_is_singular() {
    let out = run(&["analyze", &fixture("ch-split-3-segments.pcap")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nsummary 1 TLS flow, 0 TCP flows without TLS\n"),
        "{text}"
    );
    assert!(text.contains("(127.0.0.1:8443) in its one flow: log the client's keys"));
    assert!(text.contains(" (pcap, ETHERNET (1), 26 packets)\n"));
    let out = run(&["analyze", &fixture("tls13-hidden.pcap")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(127.0.0.1:8443) in both flows: log"),
        "{text}"
    );
    // QUIC flows are TLS flows: the rest are counted as TCP flows without TLS, not "other".
    let out = run(&["analyze", &fixture("quic-udp-blocked-tcp-fallback.pcap")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nsummary 2 TLS flows (1 over QUIC), 0 TCP flows without TLS\n"),
        "{text}"
    );
}

/// `--help` wraps the verdict glossary with its indentation, at the terminal width.
#[test]
fn help_wraps_continuation_lines_with_their_indentation() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["analyze", "--help"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let glossary = help.split("Verdicts (one per TLS flow):\n").nth(1).unwrap();
    let glossary = glossary.split("\n\n").next().unwrap();
    let lines: Vec<&str> = glossary.lines().collect();
    assert!(lines.len() > 9, "{glossary}");
    for line in &lines {
        assert!(line.chars().count() < 80, "{line:?}");
        let verdict = line.get(2..22).map(str::trim_end);
        assert!(
            line.starts_with(&" ".repeat(23))
                || verdict.is_some_and(|v| !v.is_empty() && !v.contains(' ')),
            "{line:?}"
        );
    }
    assert_eq!(
        lines[0],
        "  agreed               the server selected the client's first choice (GREASE"
    );
    assert_eq!(
        lines[1],
        format!("{}values in the offer skipped)", " ".repeat(23))
    );
    assert!(help.contains("\nExit status: 0 analysed, 1 a flow has a verdict named by"));
}

/// The text report of a command line.
fn text_of(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `alpnscope FILE…`, `alpnscope -r FILE -r FILE` and options first are `analyze`.
#[test]
fn tcpdump_forms_are_analyze() {
    let a = fixture("client-no-alpn.pcap");
    let b = fixture("tls12-h2-agreed.pcap");
    let analyze = text_of(&["analyze", &a, &b]);
    assert!(
        analyze.contains("\nsummary 4 TLS flows, 0 TCP flows without TLS\n"),
        "{analyze}"
    );
    assert_eq!(text_of(&[&a, &b]), analyze);
    assert_eq!(text_of(&["-r", &a, "-r", &b]), analyze);
    assert_eq!(text_of(&["analyze", "-r", &a, &b]), analyze);
    assert_eq!(
        text_of(&["--color", "never", "-r", &a, &b]),
        text_of(&["analyze", "--color", "never", &a, &b])
    );
    // A missing file is named by `analyze`, not taken for a subcommand.
    let out = run(&["missing.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "alpnscope: error: cannot open missing.pcap: no such file or directory\n"
    );
    // Subcommands keep their meaning; a mistyped one is still a usage error.
    let out = run(&["anlyze"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unrecognized subcommand 'anlyze'"));
}

/// `-c N` stops after N packets, as tcpdump -c: from a file, from standard input, and over
/// several captures; the capture says where it stopped.
#[test]
fn count_stops_after_n_packets() {
    let a = fixture("client-no-alpn.pcap");
    let report = json(&run(&["-c", "10", "--format", "json", "-r", &a]));
    assert_eq!(report["captures"][0]["packets"], 10);
    assert_eq!(report["captures"][0]["complete"], false);
    assert_eq!(
        report["captures"][0]["warnings"],
        serde_json::json!([
            "reading stopped after frame 10, as -c/--count asked: flows are reported up to that frame"
        ])
    );
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1, "the second flow starts at frame 16");
    assert_eq!(flows[0]["verdict"], "not_offered");
    assert_eq!(flows[0]["last_frame"], 10);
    let piped = std::process::Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["-c", "10", "--format", "json", "-"])
        .stdin(std::fs::File::open(&a).unwrap())
        .output()
        .unwrap();
    let from_stdin = json(&piped);
    assert_eq!(from_stdin["captures"][0]["packets"], 10);
    assert_eq!(from_stdin["flows"], report["flows"]);
    // Over three captures: 31 packets of the first, 9 of the second, none of the third.
    let report = json(&run(&[
        "--format",
        "json",
        "-c",
        "40",
        &a,
        &fixture("tls12-h2-agreed.pcap"),
        &fixture("vlan.pcap"),
    ]));
    let captures = report["captures"].as_array().unwrap();
    assert_eq!(captures.len(), 2);
    assert_eq!(
        (
            captures[0]["packets"].as_u64(),
            captures[1]["packets"].as_u64()
        ),
        (Some(31), Some(9))
    );
    assert_eq!(captures[0]["warnings"], serde_json::json!([]));
    assert_eq!(
        captures[1]["warnings"],
        serde_json::json!([
            "reading stopped after frame 9, as -c/--count asked: flows are reported up to that frame",
            "the next capture was not read (-c/--count)"
        ])
    );
}

/// `-w FILE` (and `--write`) is `--extract`.
#[test]
fn w_writes_the_handshake_extract() {
    let dir = temp_dir("write");
    let out_path = dir.join("h.pcapng");
    let out_path = out_path.to_str().unwrap();
    let out = run(&[
        "-r",
        &fixture("tls12-h2-agreed.pcap"),
        "-w",
        out_path,
        "--flow",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("alpnscope: wrote ")
            && err.ends_with(&format!(" packets of 1 flow to {out_path}\n")),
        "{err}"
    );
    let again = json(&run(&["--format", "json", out_path]));
    assert_eq!(again["flows"][0]["verdict"], "agreed");
    let via_write = dir.join("w.pcapng");
    let out = run(&[
        "analyze",
        "--write",
        via_write.to_str().unwrap(),
        "--flow",
        "0",
        &fixture("tls12-h2-agreed.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&via_write).unwrap(),
        std::fs::read(out_path).unwrap()
    );
}

/// The stdout of a command line that succeeds.
fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `alpnscope completions SHELL` prints a completion script generated from the flags.
#[test]
fn completions_are_generated_from_the_flags() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.starts_with("_alpnscope() {\n"), "{bash}");
    for flag in [
        "--read",
        "--count",
        "--extract",
        "--redact",
        "--fail-on",
        "--problems",
    ] {
        assert!(bash.contains(flag), "bash lacks {flag}");
    }
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef alpnscope\n"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains(
        "complete -c alpnscope -n \"__fish_alpnscope_using_subcommand analyze\" -s r -l read -d 'Capture file to read, as tcpdump -r (repeatable; read before the CAPTURE arguments)' -r\n"
    ));
    assert!(stdout_of(&["completions", "elvish"]).contains("alpnscope"));
    assert!(stdout_of(&["completions", "powershell"]).contains("alpnscope"));
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `alpnscope man [COMMAND]` prints roff pages generated from the flags.
#[test]
fn man_pages_are_generated_from_the_flags() {
    let version = env!("CARGO_PKG_VERSION");
    let main = stdout_of(&["man"]);
    assert!(
        main.contains(&format!(".TH alpnscope 1  \"alpnscope {version}\" \n")),
        "{main}"
    );
    assert!(main.contains(".SH SUBCOMMANDS"), "{main}");
    let analyze = stdout_of(&["man", "analyze"]);
    assert!(
        analyze.contains(&format!(
            ".TH alpnscope-analyze 1  \"alpnscope-analyze {version}\" \n"
        )),
        "{analyze}"
    );
    assert!(analyze.contains("\\fB\\-r\\fR, \\fB\\-\\-read\\fR \\fI<FILE>\\fR\n"));
    // The glossary goes one line per verdict, for roff to fill.
    assert!(analyze.contains("  not_offered          the client sent no ALPN extension\n"));
    let live = stdout_of(&["man", "live"]);
    assert!(live.contains("\\fB\\-\\-fail\\-on\\fR"), "{live}");
    assert_eq!(run(&["man", "bogus"]).status.code(), Some(2));
}

/// The JSON report of a capture without what names the file (path, size, digest) or the run.
fn flows_and_summary(report: &Value) -> (Value, Value, Value) {
    (
        report["flows"].clone(),
        report["summary"].clone(),
        report["captures"][0]["packets"].clone(),
    )
}

/// gzip, zstd and xz captures are read directly, from files and from standard input,
/// recognised by their magic numbers; they give the uncompressed capture's report.
#[test]
fn compressed_captures_are_read_directly() {
    let plain = json(&run(&[
        "--format",
        "json",
        &fixture("tls12-h2-agreed.pcap"),
    ]));
    let expected = flows_and_summary(&plain);
    assert_eq!(plain["flows"].as_array().unwrap().len(), 2);
    assert_eq!(plain["flows"][0]["alpn_selected"], "h2");
    assert_eq!(plain["captures"][0]["packets"], 33);
    assert!(plain["captures"][0]["compression"].is_null());
    let dir = temp_dir("compressed");
    for (name, compression) in [
        ("tls12-h2-agreed.pcap.gz", "gzip"),
        ("tls12-h2-agreed.pcapng.zst", "zstd"),
        ("tls12-h2-agreed.pcap.xz", "xz"),
    ] {
        let path = fixture(name);
        let report = json(&run(&["--format", "json", &path]));
        assert_eq!(flows_and_summary(&report), expected, "{name}");
        assert_eq!(report["captures"][0]["compression"], compression, "{name}");
        let text = String::from_utf8(run(&[&path]).stdout).unwrap();
        let format = if name.contains("pcapng") {
            "pcapng"
        } else {
            "pcap"
        };
        assert!(
            text.contains(&format!(
                "capture {path} ({format}, {compression}-compressed, ETHERNET (1), 33 packets)"
            )),
            "{text}"
        );
        // The size is the file's, as on disk.
        assert_eq!(
            report["captures"][0]["size"].as_u64(),
            Some(std::fs::metadata(&path).unwrap().len()),
            "{name}"
        );
        let piped = std::process::Command::new(env!("CARGO_BIN_EXE_alpnscope"))
            .args(["--format", "json", "-"])
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap();
        let piped = json(&piped);
        assert_eq!(flows_and_summary(&piped), expected, "{name} on stdin");
        assert_eq!(
            piped["captures"][0]["compression"], compression,
            "{name} on stdin"
        );
        // By magic number, not by name.
        let renamed = dir.join(format!("{name}.capture"));
        std::fs::copy(&path, &renamed).unwrap();
        let report = json(&run(&["--format", "json", renamed.to_str().unwrap()]));
        assert_eq!(flows_and_summary(&report), expected, "{name} renamed");
    }
    // Concatenated gzip members (`cat a.gz b.gz`) are one stream.
    let gz = std::fs::read(fixture("tls12-h2-agreed.pcap.gz")).unwrap();
    let plain_bytes = std::fs::read(fixture("tls12-h2-agreed.pcap")).unwrap();
    let split = dir.join("members.pcap.gz");
    let mut two = Vec::new();
    for part in [&plain_bytes[..1000], &plain_bytes[1000..]] {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, part).unwrap();
        two.extend(encoder.finish().unwrap());
    }
    std::fs::write(&split, two).unwrap();
    let report = json(&run(&["--format", "json", split.to_str().unwrap()]));
    assert_eq!(flows_and_summary(&report), expected, "two gzip members");
    assert!(gz.starts_with(&[0x1f, 0x8b]));
    // A compressed capture cut short (a truncated download) is reported up to its last whole
    // frame, with a warning, as a cut capture is.
    let cut = dir.join("cut.pcap.gz");
    std::fs::write(&cut, &gz[..2000]).unwrap();
    let out = run(&["--format", "json", cut.to_str().unwrap()]);
    let report = json(&out);
    assert_eq!(
        report["captures"][0]["warnings"],
        serde_json::json!([
            "capture corrupt after frame 21 (read error: the input ended early): the rest of the file was not read"
        ])
    );
    assert_eq!(report["flows"][0]["verdict"], "agreed");
    assert_eq!(report["flows"][0]["alpn_selected"], "h2");
    // An extract reads the compressed capture again.
    let extract = dir.join("e.pcapng");
    let out = run(&[
        "-r",
        &fixture("tls12-h2-agreed.pcap.xz"),
        "-w",
        extract.to_str().unwrap(),
        "--flow",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = json(&run(&["--format", "json", extract.to_str().unwrap()]));
    assert_eq!(again["flows"][0]["alpn_selected"], "http/1.1");
}

/// A directory is searched recursively for captures in a stable order; with several captures
/// one bad file is named, the others are reported, and the exit status is 2.
#[test]
fn directories_are_searched_and_a_bad_file_is_named() {
    let dir = temp_dir("tree");
    std::fs::create_dir_all(dir.join("b-later/deeper")).unwrap();
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::copy(fixture("client-no-alpn.pcap"), dir.join("a.pcap")).unwrap();
    std::fs::copy(
        fixture("tls12-h2-agreed.pcap.gz"),
        dir.join("b-later/deeper/c.pcap.gz"),
    )
    .unwrap();
    std::fs::copy(fixture("vlan.pcap"), dir.join("b-later/b.pcapng")).unwrap();
    std::fs::copy(fixture("vlan.pcap"), dir.join(".hidden/skipped.pcap")).unwrap();
    std::fs::write(dir.join("notes.txt"), "not read: not a capture name\n").unwrap();
    let root = dir.to_str().unwrap();
    let report = json(&run(&["--format", "json", root]));
    let paths: Vec<String> = report["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["path"]
                .as_str()
                .unwrap()
                .strip_prefix(root)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        paths,
        ["/a.pcap", "/b-later/b.pcapng", "/b-later/deeper/c.pcap.gz"]
    );
    // One bad file among them.
    std::fs::write(dir.join("b-later/bad.pcap"), "this is no capture\n").unwrap();
    let out = run(&["--format", "json", root]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "alpnscope: error: {root}/b-later/bad.pcap: not a pcap or pcapng file (no pcap magic \
             number or pcapng section header at the start)\n  (alpnscope reads pcap and pcapng \
             captures, e.g. from tcpdump -w or Wireshark)\nalpnscope: error: 1 of 4 captures \
             could not be read (named above); the report covers the others\n"
        )
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["captures"].as_array().unwrap().len(), 3);
    let ids: Vec<(u64, u64)> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_u64().unwrap(), f["capture"].as_u64().unwrap()))
        .collect();
    // Captures are numbered over those read: the bad one takes no number.
    assert_eq!(ids.first(), Some(&(0, 0)));
    assert_eq!(ids.last().map(|(_, c)| *c), Some(2));
    // An empty directory is an error.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&[empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "alpnscope: error: cannot open {}: the directory holds no capture (files named \
             *.pcap, *.pcapng, *.cap, also compressed as .gz, .zst or .xz)\n",
            empty.display()
        )
    );
}

/// `--threads 2` reads, parses and decodes every capture on a second thread: the report, the
/// warnings and the exit status are those of `--threads 1`, for every fixture. `--threads 0`
/// is refused.
#[test]
fn threads_never_change_the_report() {
    let dir = project_path("fixtures");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    captures.sort();
    assert!(captures.len() > 100, "{} fixtures", captures.len());
    for capture in &captures {
        let capture = capture.to_str().unwrap();
        let mut outputs = Vec::new();
        for threads in ["1", "2"] {
            let out = run(&[
                "analyze",
                capture,
                "--all",
                "--format",
                "json",
                "--threads",
                threads,
            ]);
            let mut report: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
            report["tool"]["command_line"] = Value::Null;
            outputs.push((report, stderr(&out), out.status.code()));
        }
        assert!(outputs[0] == outputs[1], "{capture}");
    }
    let out = run(&[
        "analyze",
        &fixture("tls12-h2-agreed.pcap"),
        "--threads",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--threads"), "{}", stderr(&out));
}
