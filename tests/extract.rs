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

/// Runs `--extract --include-keys` with a key log that `change` alters once the analysis has
/// read it; returns the outcome and the paths of the key log and of the extract.
///
/// The analysis reads the key logs before any capture, and reports a key log it cannot read
/// itself ("cannot open"); only the second read, for the extract, can meet a file that went
/// away or changed. The capture comes through a named pipe so the test decides when the
/// analysis ends: the key log is changed after the analysis opened the pipe (hence after it read
/// the key log) and before the pipe is closed.
#[cfg(unix)]
fn extract_with_key_log_changed(
    name: &str,
    change: fn(&str),
) -> (std::process::Output, String, String) {
    use std::io::Write;
    let fifo = temp(&format!("{name}.fifo"));
    let keys = temp(&format!("{name}.keys"));
    let out_path = temp(&format!("{name}.pcapng"));
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_file(&out_path);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::copy(fixture("tls13-no-alpn-server-keylog.keys"), &keys).unwrap();
    let capture = std::fs::read(fixture("tls13-no-alpn-server-keylog.pcap")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args([
            "analyze",
            "--extract",
            &out_path,
            "--include-keys",
            "--keylog",
            &keys,
            &fifo,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (done, written) = std::sync::mpsc::channel();
    {
        let (fifo, keys) = (fifo.clone(), keys.clone());
        std::thread::spawn(move || {
            let result = (|| -> std::io::Result<()> {
                // Opening for writing waits until alpnscope opens the pipe for reading.
                let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo)?;
                pipe.write_all(&capture)?;
                change(&keys);
                Ok(())
            })();
            let _ = done.send(result);
        });
    }
    // Had the key log been read without complaint, the extract would open the pipe again and
    // wait for a writer forever: give up after a minute.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("alpnscope did not finish: it went on past the key log");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    // A run that stopped before opening the pipe leaves the writer waiting for a reader.
    written
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|_| {
            panic!(
                "alpnscope did not read the capture: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .unwrap();
    let _ = std::fs::remove_file(&fifo);
    (out, keys, out_path)
}

#[cfg(unix)]
#[test]
fn key_log_removed_before_the_extract_is_an_error() {
    let (out, keys, out_path) =
        extract_with_key_log_changed("removed-keys", |keys| std::fs::remove_file(keys).unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("alpnscope: error: cannot read key log {keys}: ")),
        "{err}"
    );
    assert!(err.contains("(os error 2)"), "the cause is shown: {err}");
    // The report streams out while the capture is read; the extract that follows fails.
    assert!(
        !out.stdout.is_empty(),
        "the report was written before the extract"
    );
    assert!(!std::path::Path::new(&out_path).exists(), "no extract");
}

#[cfg(unix)]
#[test]
fn key_log_rewritten_before_the_extract_is_an_error() {
    let (out, keys, out_path) = extract_with_key_log_changed("rewritten-keys", |keys| {
        std::fs::write(keys, "not a key log\n").unwrap()
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "alpnscope: error: cannot read key log {keys}: line 1: not three space-separated fields"
        )),
        "{err}"
    );
    assert!(!std::path::Path::new(&out_path).exists(), "no extract");
}
