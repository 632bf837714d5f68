//! `alpnscope live` on the loopback interface, with real TLS handshakes between rustls peers:
//! a server selecting h2, one without ALPN, and one that rejects the offer with alert
//! no_application_protocol. Live capture needs root: these tests run as root in CI (`.ci/run`);
//! elsewhere they say they were not run, and under CI without root they fail.

#![cfg(feature = "live")]

mod common;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

fn may_capture() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "live-capture tests need root in CI: run .ci/run as root"
    );
    eprintln!("live-capture tests NOT RUN: they need root (run them as root, as .ci/run does)");
    false
}

fn data(name: &str) -> String {
    common::project_path(&format!("tests/data/{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

/// A TLS 1.2 server on 127.0.0.1:`port` that accepts one connection with the given ALPN list.
fn serve_once(port: u16, alpn: &[&[u8]]) -> thread::JoinHandle<()> {
    let certs = vec![CertificateDer::from_pem_file(data("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(data("server-key.pem")).unwrap();
    let mut config =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                break;
            }
        }
        let _ = conn.complete_io(&mut tcp);
        conn.send_close_notify();
        let _ = conn.complete_io(&mut tcp);
    })
}

/// A TLS 1.3 server on 127.0.0.1:`port` selecting h2, for one connection.
fn serve_once_tls13(port: u16) -> thread::JoinHandle<()> {
    let certs = vec![CertificateDer::from_pem_file(data("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(data("server-key.pem")).unwrap();
    let mut config =
        rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                break;
            }
        }
        conn.send_close_notify();
        let _ = conn.complete_io(&mut tcp);
    })
}

/// Appends NSS key log lines to a file, creating it at the first line, as SSLKEYLOGFILE does.
#[derive(Debug)]
struct FileKeyLog(std::path::PathBuf);

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .unwrap();
        writeln!(f, "{label} {} {}", hex(client_random), hex(secret)).unwrap();
    }
}

/// A TLS 1.2 client offering h2 and http/1.1; returns the protocol the server selected.
fn connect(port: u16) -> Option<Vec<u8>> {
    connect_with(port, &rustls::version::TLS12, None)
}

/// A TLS 1.3 client offering h2 and http/1.1, logging its keys to `keylog` when given.
fn connect_tls13(port: u16, keylog: Option<&std::path::Path>) -> Option<Vec<u8>> {
    connect_with(port, &rustls::version::TLS13, keylog)
}

/// A rustls client of one TLS version offering h2 and http/1.1; returns the protocol the
/// server selected, `None` when the handshake failed.
fn connect_with(
    port: u16,
    version: &'static rustls::SupportedProtocolVersion,
    keylog: Option<&std::path::Path>,
) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(data("ca.pem")).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_protocol_versions(&[version])
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if let Some(path) = keylog {
        config.key_log = Arc::new(FileKeyLog(path.to_path_buf()));
    }
    let name = ServerName::try_from("alpn.test").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    while conn.is_handshaking() {
        if conn.complete_io(&mut tcp).is_err() {
            return None;
        }
    }
    let selected = conn.alpn_protocol().map(<[u8]>::to_vec);
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    let _ = tcp.flush();
    selected
}

/// A running `alpnscope live` with its output lines arriving on channels.
struct Live {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

fn start_live(args: &[&str], envs: &[(&str, &str)]) -> Live {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alpnscope"));
    command
        .arg("live")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let (out_tx, stdout) = channel();
    let (err_tx, stderr) = channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    Live {
        child,
        stdout,
        stderr,
    }
}

impl Live {
    /// Waits for a stderr line containing `text`.
    fn wait_stderr(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(100))
                && line.contains(text)
            {
                return line;
            }
        }
        panic!("alpnscope live never said '{text}'");
    }

    /// The next stdout line, within 10 s.
    fn next_line(&self) -> Value {
        let line = self
            .stdout
            .recv_timeout(Duration::from_secs(10))
            .expect("a report line within 10 s");
        serde_json::from_str(&line).unwrap()
    }

    fn interrupt(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
    }

    /// Waits for the process to end (at most 10 s) and returns its exit code.
    fn wait(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread may still be passing on the last lines: take them until it
                // meets the end of the pipe (the channel disconnects).
                let mut rest = Vec::new();
                while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
                    rest.push(line);
                }
                return (status.code(), rest);
            }
            assert!(Instant::now() < deadline, "alpnscope live did not stop");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn uid_of(pid: u32) -> u32 {
    let mut status = String::new();
    std::fs::File::open(format!("/proc/{pid}/status"))
        .unwrap()
        .read_to_string(&mut status)
        .unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn streams_each_handshake_and_stops_on_sigint() {
    if !may_capture() {
        return;
    }
    let pcap = std::env::temp_dir().join(format!("alpnscope-live-{}.pcap", std::process::id()));
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp portrange 19443-19445",
            "--format",
            "jsonl",
            "--no-drop-privileges",
            "--write",
            pcap.to_str().unwrap(),
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    let expected = [
        (19443u16, vec![&b"h2"[..]], Some(b"h2".to_vec()), "agreed"),
        (19444, vec![], None, "server_declined"),
        (19445, vec![&b"foo"[..]], None, "no_common_protocol"),
    ];
    for (port, alpn, selected, verdict) in &expected {
        let server = serve_once(*port, alpn);
        assert_eq!(&connect(*port), selected, "port {port}");
        server.join().unwrap();
        // Each report streams out before the capture stops.
        let flow = live.next_line();
        assert_eq!(flow["server"]["port"], *port);
        assert_eq!(flow["verdict"], *verdict, "port {port}: {flow}");
        assert_eq!(flow["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    }
    live.interrupt();
    let (code, rest) = live.wait();
    assert_eq!(code, Some(0));
    let summary: Value = serde_json::from_str(rest.last().expect("a summary line")).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["summary"]["tls_flows"], 3);
    assert_eq!(summary["captures"][0]["format"], "live");
    assert!(
        summary["captures"][0]["statistics"]["received"]
            .as_u64()
            .unwrap()
            > 0
    );

    // The written capture gives the same verdicts to `analyze`.
    let doc = common::analyze_json(pcap.to_str().unwrap(), &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3);
    for (flow, (port, _, _, verdict)) in flows.iter().zip(&expected) {
        assert_eq!(flow["server"]["port"], *port);
        assert_eq!(flow["verdict"], *verdict);
    }
    assert_eq!(flows[0]["alpn_selected"], "h2");
    assert_eq!(
        flows[2]["alerts"][0]["description"],
        "no_application_protocol"
    );
}

#[test]
fn stops_after_count_packets_and_after_duration_on_an_idle_link() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp port 19446",
            "--count",
            "5",
            "--format",
            "jsonl",
            "--no-drop-privileges",
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    let server = serve_once(19446, &[b"h2"]);
    connect(19446);
    server.join().unwrap();
    let (code, lines) = live.wait();
    assert_eq!(code, Some(0));
    let summary: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(summary["captures"][0]["packets"], 5);

    let started = Instant::now();
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp port 19447",
            "--duration",
            "1",
            "--format",
            "jsonl",
            "--no-drop-privileges",
        ],
        &[],
    );
    let (code, lines) = live.wait();
    assert_eq!(code, Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an idle link delayed the stop"
    );
    let summary: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["tls_flows"], 0);
}

#[test]
fn drops_root_privileges_after_opening_the_capture() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &["-i", "lo", "--filter", "tcp port 19448", "--duration", "3"],
        &[("SUDO_UID", "65534"), ("SUDO_GID", "65534")],
    );
    let line = live.wait_stderr("dropped root privileges");
    assert!(line.contains("uid 65534"), "{line}");
    live.wait_stderr("capturing on lo");
    assert_eq!(uid_of(live.child.id()), 65534);
    live.interrupt();
    assert_eq!(live.wait().0, Some(0));

    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp port 19449",
            "--duration",
            "3",
            "--no-drop-privileges",
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    assert_eq!(uid_of(live.child.id()), 0);
    live.interrupt();
    assert_eq!(live.wait().0, Some(0));
}

#[test]
fn bad_filter_and_missing_permission_exit_2() {
    if !may_capture() {
        return;
    }
    let out = common::run(&[
        "live",
        "-i",
        "lo",
        "--filter",
        "tcp port nonsense",
        "--duration",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad capture filter 'tcp port nonsense'"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args(["live", "-i", "lo", "--duration", "1"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no permission to capture on lo"), "{err}");
    assert!(
        err.contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{err}"
    );
}

/// The key log does not exist when the capture starts: the client creates it during its
/// handshake, and the capture waits for it.
#[test]
fn follows_a_key_log_written_during_the_capture() {
    if !may_capture() {
        return;
    }
    let keys = std::env::temp_dir().join(format!("alpnscope-live-{}.keys", std::process::id()));
    let _ = std::fs::remove_file(&keys);
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp portrange 19450-19451",
            "--format",
            "jsonl",
            "--no-drop-privileges",
            "--keylog",
            keys.to_str().unwrap(),
        ],
        &[],
    );
    let waiting = live.wait_stderr("does not exist yet");
    assert_eq!(
        waiting,
        format!(
            "alpnscope: key log {} does not exist yet: waiting for it (clients create it at their first connection)",
            keys.display()
        )
    );
    live.wait_stderr("capturing on lo");
    // The client creates the key log and writes its handshake secrets while the capture runs.
    let server = serve_once_tls13(19450);
    assert_eq!(connect_tls13(19450, Some(&keys)), Some(b"h2".to_vec()));
    server.join().unwrap();
    let flow = live.next_line();
    assert_eq!(flow["server"]["port"], 19450);
    assert_eq!(flow["verdict"], "agreed", "{flow}");
    assert_eq!(flow["alpn_selected"], "h2");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert_eq!(flow["decryption"], "decrypted");
    // A client that logs nothing: after a short wait the flow is reported without keys.
    let server = serve_once_tls13(19451);
    connect_tls13(19451, None);
    server.join().unwrap();
    let flow = live.next_line();
    assert_eq!(flow["server"]["port"], 19451);
    assert_eq!(flow["verdict"], "hidden", "{flow}");
    assert_eq!(
        flow["decryption"],
        "no key-log entry for this ClientHello random"
    );
    live.interrupt();
    assert_eq!(live.wait().0, Some(0));
    let _ = std::fs::remove_file(&keys);
}

/// Exit code 2 and no `--write` file when the capture cannot start: a key log that is not one,
/// a bad filter, an output that cannot be created.
#[test]
fn an_early_error_leaves_no_write_file() {
    if !may_capture() {
        return;
    }
    let dir = std::env::temp_dir();
    let pcap = dir.join(format!("alpnscope-live-early-{}.pcap", std::process::id()));
    let pcap = pcap.to_str().unwrap();
    let bad_keys = dir.join(format!("alpnscope-live-early-{}.keys", std::process::id()));
    std::fs::write(&bad_keys, "this is not a key log\n").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--keylog", bad_keys.to_str().unwrap()],
            "line 1: the label is not an upper-case NSS key log label",
        ),
        (
            &["--filter", "tcp port nonsense"],
            "bad capture filter 'tcp port nonsense'",
        ),
        (
            &["-o", "/nonexistent-alpnscope-dir/report.json"],
            "cannot create /nonexistent-alpnscope-dir/report.json",
        ),
    ];
    for (extra, error) in cases {
        let mut args = vec!["live", "-i", "lo", "--duration", "1", "--write", pcap];
        args.extend_from_slice(extra);
        let out = common::run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(error), "{extra:?}: {err}");
        assert!(
            !std::path::Path::new(pcap).exists(),
            "{extra:?} left {pcap} behind"
        );
    }
    let _ = std::fs::remove_file(&bad_keys);
}

/// Working TLS 1.2 and TLS 1.3 connections, each streamed at its ServerHello while still
/// open: no statement about the network (nothing has gone wrong), and no correction later.
#[test]
fn working_connections_get_no_network_statement() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp portrange 19461-19464",
            "--format",
            "jsonl",
            "--no-drop-privileges",
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    let mut verdicts = Vec::new();
    for port in 19461u16..=19464 {
        if port % 2 == 1 {
            let server = serve_once(port, &[b"h2"]);
            assert_eq!(connect(port), Some(b"h2".to_vec()));
            server.join().unwrap();
        } else {
            let server = serve_once_tls13(port);
            assert_eq!(connect_tls13(port, None), Some(b"h2".to_vec()));
            server.join().unwrap();
        }
        let flow = live.next_line();
        assert_eq!(flow["server"]["port"], port);
        assert_eq!(flow["network"], Value::Null, "port {port}: {flow}");
        assert_eq!(flow["tcp"]["handshake_loss"], false, "port {port}: {flow}");
        verdicts.push(flow["verdict"].as_str().unwrap().to_string());
    }
    assert_eq!(verdicts, ["agreed", "hidden", "agreed", "hidden"]);
    // The closed connections still linger in the flow table: stopping the capture checks them
    // again at once.
    live.interrupt();
    let (code, rest) = live.wait();
    assert_eq!(code, Some(0));
    assert_eq!(rest.len(), 1, "only the summary line: {rest:?}");
    let summary: Value = serde_json::from_str(&rest[0]).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["summary"]["tls_flows"], 4);
    assert_eq!(summary["summary"]["handshake_loss_flows"], 0);
    assert!(!rest[0].contains("stopped answering"), "{}", rest[0]);
}

#[test]
fn captures_on_the_any_pseudo_interface() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &[
            "-i",
            "any",
            "--filter",
            "tcp port 19452",
            "--format",
            "jsonl",
            "--no-drop-privileges",
        ],
        &[],
    );
    live.wait_stderr("capturing on any");
    let server = serve_once(19452, &[b"h2"]);
    assert_eq!(connect(19452), Some(b"h2".to_vec()));
    server.join().unwrap();
    let flow = live.next_line();
    assert_eq!(flow["verdict"], "agreed");
    live.interrupt();
    let (code, rest) = live.wait();
    assert_eq!(code, Some(0));
    let summary: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    let link = summary["captures"][0]["link_types"][0].as_str().unwrap();
    assert!(link.starts_with("LINUX_SLL"), "{link}");
}

/// `alpnscope live … | head -1`: when the reader goes away, the capture ends quietly with 0.
#[test]
fn a_closed_stdout_ends_the_capture_quietly() {
    if !may_capture() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_alpnscope"))
        .args([
            "live",
            "-i",
            "lo",
            "--filter",
            "tcp port 19460",
            "--format",
            "jsonl",
            "--no-drop-privileges",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (err_tx, err_rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let started = Instant::now();
    while !err_rx
        .recv_timeout(Duration::from_millis(100))
        .is_ok_and(|l| l.contains("capturing on lo"))
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never started");
    }
    // Read the first report line, then close the pipe, as `head -1` does.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let server = serve_once(19460, &[b"h2"]);
    connect(19460);
    server.join().unwrap();
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"verdict\":\"agreed\""), "{first}");
    drop(stdout);
    // The next report finds the pipe closed.
    let server = serve_once(19460, &[b"h2"]);
    connect(19460);
    server.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "alpnscope live did not stop");
        thread::sleep(Duration::from_millis(50));
    };
    let said: Vec<String> = err_rx.try_iter().collect();
    assert_eq!(status.code(), Some(0), "{said:?}");
    assert!(!said.iter().any(|l| l.contains("error")), "{said:?}");
}

/// `live` takes the flow filters, `--fail-on` and `--redact` of `analyze`, and tcpdump's short
/// options: only the problem flows stream out, redacted, the summary counts them, and a
/// `--fail-on` verdict makes the exit status 1.
#[test]
fn filters_fail_on_and_redact_apply_to_live() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &[
            "-i",
            "lo",
            "-f",
            "tcp portrange 19463-19465",
            "--format",
            "jsonl",
            "--no-drop-privileges",
            "--problems",
            "--fail-on",
            "server_declined",
            "--redact",
            "--redact-key",
            "k",
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    for (port, alpn) in [
        (19463u16, vec![&b"h2"[..]]),
        (19464, vec![]),
        (19465, vec![&b"foo"[..]]),
    ] {
        let server = serve_once(port, &alpn);
        connect(port);
        server.join().unwrap();
    }
    // The agreed flow (19463) is left out: the first line is the declined one.
    let declined = live.next_line();
    assert_eq!(declined["verdict"], "server_declined", "{declined}");
    assert_eq!(declined["server"]["port"], 19464);
    assert_ne!(
        declined["server"]["ip"], "127.0.0.1",
        "redacted: {declined}"
    );
    assert!(
        declined["sni"]
            .as_str()
            .is_some_and(|s| s.starts_with("site-")),
        "redacted: {declined}"
    );
    let refused = live.next_line();
    assert_eq!(refused["verdict"], "no_common_protocol", "{refused}");
    live.interrupt();
    let (code, rest) = live.wait();
    assert_eq!(code, Some(1), "--fail-on server_declined matched");
    let last = rest.last().expect("a summary line");
    let summary: Value = serde_json::from_str(last).unwrap();
    // Tallied from the final flows as they left the table (none is kept): the two the filter
    // keeps, redacted.
    assert_eq!(summary["summary"]["tls_flows"], 2);
    assert_eq!(summary["summary"]["verdicts"]["server_declined"], 1);
    assert_eq!(summary["summary"]["verdicts"]["no_common_protocol"], 1);
    assert_eq!(summary["summary"]["verdicts"]["agreed"], 0);
    assert_eq!(summary["captures"][0]["path"], "capture 0");
    assert!(!last.contains("127.0.0.1"), "redacted: {last}");
    assert!(
        !summary["tool"]["command_line"]
            .as_str()
            .unwrap_or("")
            .contains("19463"),
        "{last}"
    );
}

/// The UDP payloads of a real aioquic handshake (`fixtures/quic-h3-agreed.pcap`, both
/// directions, in order), as (from the client, payload).
fn quic_fixture_datagrams() -> Vec<(bool, Vec<u8>)> {
    use alpnscope::capture::{CaptureEvent, read_capture};
    use alpnscope::decode::{Decoded, decode_frame};
    let bytes = std::fs::read(common::project_path("fixtures/quic-h3-agreed.pcap")).unwrap();
    let mut datagrams = Vec::new();
    read_capture(&bytes[..], |event| {
        if let CaptureEvent::Frame(frame) = event
            && let Decoded::Udp(udp) = decode_frame(&frame)
        {
            datagrams.push((udp.dst_port == 443, udp.payload.to_vec()));
        }
    })
    .unwrap();
    datagrams
}

/// QUIC live: a real aioquic handshake's datagrams replayed over loopback between two UDP
/// sockets (the Initial keys come from the connection ID, not the addresses), the key log
/// written only after the handshake: the flow waits for its keys, then is reported with the
/// EncryptedExtensions read: h3 agreed.
#[test]
fn reports_a_quic_connection_that_waits_for_its_keys() {
    if !may_capture() {
        return;
    }
    let keys =
        std::env::temp_dir().join(format!("alpnscope-live-quic-{}.keys", std::process::id()));
    std::fs::write(&keys, "").unwrap();
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "udp portrange 19460-19461",
            "--format",
            "jsonl",
            "--no-drop-privileges",
            "--keylog",
            keys.to_str().unwrap(),
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    let client = std::net::UdpSocket::bind("127.0.0.1:19460").unwrap();
    let server = std::net::UdpSocket::bind("127.0.0.1:19461").unwrap();
    let datagrams = quic_fixture_datagrams();
    assert_eq!(datagrams.len(), 8);
    for (from_client, payload) in &datagrams {
        let (socket, to) = if *from_client {
            (&client, "127.0.0.1:19461")
        } else {
            (&server, "127.0.0.1:19460")
        };
        socket.send_to(payload, to).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    // The selection is in the EncryptedExtensions: without keys yet, the flow waits.
    assert!(
        live.stdout
            .recv_timeout(Duration::from_millis(700))
            .is_err(),
        "no report before the keys"
    );
    let text =
        std::fs::read_to_string(common::project_path("fixtures/quic-h3-agreed.keys")).unwrap();
    std::fs::write(&keys, text).unwrap();
    let flow = live.next_line();
    assert_eq!(flow["transport"], "quic", "{flow}");
    assert_eq!(flow["client"]["port"], 19460);
    assert_eq!(flow["server"]["port"], 19461);
    assert_eq!(flow["sni"], "alpn.test");
    assert_eq!(flow["verdict"], "agreed", "{flow}");
    assert_eq!(flow["alpn_selected"], "h3");
    assert_eq!(flow["alpn_source"], "encrypted_extensions");
    assert_eq!(flow["decryption"], "decrypted");
    live.interrupt();
    assert_eq!(live.wait().0, Some(0));
    let _ = std::fs::remove_file(&keys);
}

/// `--format ecs` streams one ECS document per flow while capturing, then the capture, findings
/// and summary documents when it stops.
#[test]
fn streams_ecs_documents() {
    if !may_capture() {
        return;
    }
    let live = start_live(
        &[
            "-i",
            "lo",
            "--filter",
            "tcp port 19470",
            "--format",
            "ecs",
            "--no-drop-privileges",
        ],
        &[],
    );
    live.wait_stderr("capturing on lo");
    let server = serve_once(19470, &[b"h2"]);
    assert_eq!(connect(19470), Some(b"h2".to_vec()));
    server.join().unwrap();
    let doc = live.next_line();
    assert_eq!(doc["event"]["dataset"], "alpnscope.flow");
    assert_eq!(doc["event"]["outcome"], "success");
    assert_eq!(doc["destination"]["port"], 19470);
    assert_eq!(doc["network"]["transport"], "tcp");
    assert_eq!(doc["network"]["protocol"], "http");
    assert_eq!(doc["tls"]["next_protocol"], "h2");
    assert_eq!(doc["alpnscope"]["verdict"], "agreed");
    let ip =
        |side: &str| -> std::net::IpAddr { doc[side]["ip"].as_str().unwrap().parse().unwrap() };
    let port = |side: &str| doc[side]["port"].as_u64().unwrap() as u16;
    assert_eq!(
        doc["network"]["community_id"],
        alpnscope::report::community_id::community_id_v1(
            (ip("source"), port("source")),
            (ip("destination"), port("destination")),
            6,
            0
        )
    );
    live.interrupt();
    let (code, rest) = live.wait();
    assert_eq!(code, Some(0));
    let datasets: Vec<String> = rest
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"]["dataset"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(datasets, ["alpnscope.capture", "alpnscope.summary"]);
}
