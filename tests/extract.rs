//! `--extract`: handshake-only pcapng files, read back by `alpnscope analyze`. (That Wireshark
//! reads them the same way — EncryptedExtensions decrypted with the embedded secrets — was
//! checked by hand with tshark; tests never need it.)

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
        Some(0),
        "--redact takes no mode after a space: the capture is read, and the extract redacted"
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
    assert!(
        err.contains(&format!("key log {keys}: no such file or directory\n")),
        "the cause is shown, in words: {err}"
    );
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
            "alpnscope: error: cannot read key log {keys}: line 1: the label is not an upper-case NSS key log label"
        )),
        "{err}"
    );
    assert!(!std::path::Path::new(&out_path).exists(), "no extract");
}

/// The QUIC fixtures: (name, packets up to the client's first datagram with a 1-RTT packet,
/// 1-RTT packets among them).
const QUIC_FIXTURES: [(&str, u64, u64); 11] = [
    ("quic-alpn-mismatch", 2, 0),
    ("quic-compatible-v1-to-v2", 3, 2),
    ("quic-first-initial-dropped", 4, 2),
    ("quic-h3-29-only-server", 3, 2),
    ("quic-h3-agreed", 3, 2),
    ("quic-hello-two-initials", 5, 2),
    ("quic-ipv6", 3, 2),
    ("quic-port-4433", 3, 2),
    ("quic-retry", 5, 2),
    ("quic-v2", 3, 2),
    ("quic-version-negotiation", 5, 2),
];

/// `--keylog FILE` for a fixture that has one.
fn keylog_args(name: &str) -> Vec<String> {
    let keys = fixture(&format!("{name}.keys"));
    if std::path::Path::new(&keys).is_file() {
        vec!["--keylog".to_string(), keys]
    } else {
        Vec::new()
    }
}

/// A flow's JSON without the fields an extract cut after the handshake changes.
fn without_the_end(flow: &serde_json::Value) -> serde_json::Value {
    let mut flow = flow.clone();
    flow["last_frame"] = serde_json::Value::Null;
    flow["quic"]["one_rtt_packets"] = serde_json::Value::Null;
    flow
}

/// Each QUIC fixture's flow, extracted with its handshake secrets, reads back as it read in
/// the capture: the same JSON object (SNI, offer, selection, verdict, detail, JA4, client and
/// server hellos, EncryptedExtensions, QUIC version, connection IDs, Retry, Version
/// Negotiation, evidence frames), but for its last frame and the 1-RTT packets after the
/// handshake, which the extract leaves out.
#[test]
fn quic_flows_round_trip_up_to_the_end_of_their_handshake() {
    for (name, packets, one_rtt) in QUIC_FIXTURES {
        let capture = fixture(&format!("{name}.pcap"));
        let keys = keylog_args(name);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let out_path = temp(&format!("{name}.pcapng"));
        let mut args = vec!["analyze", "--extract", &out_path, "--flow", "0"];
        if !keys.is_empty() {
            args.push("--include-keys");
        }
        args.extend(&keys);
        args.push(&capture);
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        let secrets = if keys.is_empty() {
            String::new()
        } else {
            " with the handshake secrets of 1 of them".to_string()
        };
        assert_eq!(
            err,
            format!("alpnscope: wrote {packets} packets of 1 flow to {out_path}{secrets}\n"),
            "{name}"
        );
        let original = analyze_json(&capture, &keys);
        let extracted = analyze_json(&out_path, &[]);
        assert_eq!(extracted["captures"][0]["packets"], packets, "{name}");
        let (before, after) = (&original["flows"][0], &extracted["flows"][0]);
        assert_eq!(extracted["flows"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(after["last_frame"], packets, "{name}");
        assert_eq!(after["quic"]["one_rtt_packets"], one_rtt, "{name}");
        assert_eq!(without_the_end(after), without_the_end(before), "{name}");
        let bytes = std::fs::read(&out_path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(
            text.contains("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
            !keys.is_empty(),
            "{name}"
        );
        assert!(
            !text.contains("TRAFFIC_SECRET_0"),
            "{name}: no 1-RTT secret"
        );
    }
}

/// Flows of several captures in one extract: frames numbered anew in the extract's order, the
/// comment on each flow's first packet, `quic.connection.number` counted over the extract, and
/// a TCP flow beside the QUIC ones.
#[test]
fn quic_and_tcp_flows_of_several_captures_are_numbered_in_the_extract() {
    let out_path = temp("several.pcapng");
    let keys = [
        fixture("quic-retry.keys"),
        fixture("quic-ipv6.keys"),
        fixture("quic-udp-blocked-tcp-fallback.keys"),
    ];
    let out = run(&[
        "analyze",
        "--extract",
        &out_path,
        "--include-keys",
        "--keylog",
        &keys[0],
        "--keylog",
        &keys[1],
        "--keylog",
        &keys[2],
        "--flow",
        "0",
        "--flow",
        "1",
        "--flow",
        "2",
        "--flow",
        "3",
        &fixture("quic-retry.pcap"),
        &fixture("quic-ipv6.pcap"),
        &fixture("quic-udp-blocked-tcp-fallback.pcap"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!(
            "alpnscope: wrote 20 packets of 4 flows to {out_path} with the handshake secrets of 3 of them\n"
        )
    );
    let doc = analyze_json(&out_path, &[]);
    let flows = doc["flows"].as_array().unwrap();
    let summary: Vec<(String, u64, u64, serde_json::Value, String)> = flows
        .iter()
        .map(|f| {
            (
                f["transport"].as_str().unwrap().to_string(),
                f["first_frame"].as_u64().unwrap(),
                f["last_frame"].as_u64().unwrap(),
                f["quic"]["connection_number"].clone(),
                f["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = |t: &str, first, last, number: Option<u64>, v: &str| {
        (t.to_string(), first, last, number.into(), v.to_string())
    };
    assert_eq!(
        summary,
        [
            s("quic", 1, 5, Some(0), "agreed"),
            s("quic", 6, 8, Some(1), "agreed"),
            s("quic", 9, 12, Some(2), "incomplete"),
            s("tcp", 13, 20, None, "agreed"),
        ]
    );
    // The Retry (frame 2 of its capture) and the evidence keep their place in the extract.
    assert_eq!(flows[0]["quic"]["retry"]["frame"], 2);
    assert_eq!(flows[0]["quic"]["retry"]["integrity"], "valid");
    assert_eq!(common::numbers(&flows[1]["evidence_frames"]), [6, 7]);
    assert_eq!(flows[3]["alpn_selected"], "h2");
    let text = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
    for comment in [
        "alpnscope flow 0: agreed",
        "alpnscope flow 1: agreed",
        "alpnscope flow 2: incomplete",
        "alpnscope flow 3: agreed",
    ] {
        assert!(text.contains(comment), "{comment}");
    }
}

/// The redacted key of the QUIC redaction test.
const QUIC_REDACT_KEY: &str = "quic-extract-test";

/// Checks the UDP checksum (RFC 768) of every datagram of an extract written on Ethernet (none
/// only where the payload was cut), and returns the datagrams' (source, destination) addresses and payloads.
fn udp_datagrams(bytes: &[u8]) -> Vec<(std::net::IpAddr, std::net::IpAddr, Vec<u8>)> {
    use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
    let mut found = Vec::new();
    alpnscope::capture::read_capture_slice(bytes, |event| {
        let alpnscope::capture::CaptureEvent::Frame(frame) = event else {
            return;
        };
        let n = frame.number;
        let packet = LaxSlicedPacket::from_ethernet(frame.data).unwrap();
        let (src, dst, mut sum): (std::net::IpAddr, std::net::IpAddr, u32) = match &packet.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                let (s, d) = (h.source_addr(), h.destination_addr());
                let words = [s.octets(), d.octets()].concat();
                (s.into(), d.into(), sum16(&words) + 17)
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                let (s, d) = (h.source_addr(), h.destination_addr());
                let words = [s.octets(), d.octets()].concat();
                (s.into(), d.into(), sum16(&words) + 17)
            }
            _ => panic!("frame {n} is not IP"),
        };
        let Some(TransportSlice::Udp(udp)) = &packet.transport else {
            panic!("frame {n} is not UDP");
        };
        let datagram = udp.slice();
        let length = usize::from(u16::from_be_bytes([datagram[4], datagram[5]]));
        if datagram[6..8] == [0, 0] {
            // No checksum: only for a datagram whose payload the redaction cut.
            assert!(
                datagram.len() < length,
                "frame {n}: whole, without a checksum"
            );
        } else {
            sum += datagram.len() as u32 + sum16(datagram);
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            assert_eq!(sum, 0xffff, "frame {n}: bad UDP checksum");
        }
        found.push((src, dst, udp.payload().to_vec()));
    })
    .unwrap();
    found
}

/// The sum of the big-endian 16-bit words of `data` (an odd byte padded with zero).
fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(c.get(1).copied().unwrap_or(0)))
        .sum()
}

/// A redacted extract of each QUIC fixture: no original address in an IP header, the server
/// name nowhere in the file, every UDP checksum right — and alpnscope opens the rewritten
/// Initial packets (and, with the key log, the Handshake packets left as they were) into the
/// same handshake with the stand-in name of the same length: same offer, selection, verdict,
/// JA4 and QUIC facts.
#[test]
fn redacted_quic_extracts_carry_the_stand_in_name_in_their_initial_packets() {
    for (name, packets, _) in QUIC_FIXTURES {
        let capture = fixture(&format!("{name}.pcap"));
        let keys = keylog_args(name);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let out_path = temp(&format!("{name}-redacted.pcapng"));
        let mut args = vec![
            "analyze",
            "--redact",
            "--redact-key",
            QUIC_REDACT_KEY,
            "--extract",
            &out_path,
            "--flow",
            "0",
        ];
        args.extend(&keys);
        args.push(&capture);
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        // frame 3 of quic-compatible-v1-to-v2: a v2 Initial protected with v1 keys (an aioquic
        // quirk) opens for nobody, so its datagram is cut from there.
        let cut = if name == "quic-compatible-v1-to-v2" {
            "alpnscope: redacted extract: 1 QUIC datagram is cut off as if by a snaplen from \
             the first packet that could not be opened to be redacted (an Initial packet that no \
             Initial keys of its connection open, bytes that are not QUIC packets of a version \
             alpnscope reads)\n"
        } else {
            ""
        };
        assert_eq!(
            err,
            format!("alpnscope: wrote {packets} packets of 1 flow to {out_path}\n{cut}"),
            "{name}"
        );
        let bytes = std::fs::read(&out_path).unwrap();
        let lower = bytes.to_ascii_lowercase();
        assert!(
            !lower.windows(9).any(|w| w == b"alpn.test"),
            "{name}: the server name is in the file"
        );
        let datagrams = udp_datagrams(&bytes);
        assert_eq!(datagrams.len() as u64, packets, "{name}");
        for (src, dst, payload) in &datagrams {
            for ip in [src, dst] {
                // ::1 is its own pseudonym: it names nobody.
                assert!(
                    !["127.0.0.1", "192.0.2.1", "192.0.2.2"].contains(&ip.to_string().as_str()),
                    "{name}: {ip} in an IP header"
                );
            }
            for octets in [[127u8, 0, 0, 1], [192, 0, 2, 1], [192, 0, 2, 2]] {
                assert!(
                    !payload.windows(4).any(|w| w == octets),
                    "{name}: an address in a payload"
                );
            }
        }

        let original = analyze_json(&capture, &keys);
        let redacted = analyze_json(&out_path, &keys);
        let (before, after) = (&original["flows"][0], &redacted["flows"][0]);
        assert_eq!(after["sni"], "mtsw.bwjy", "{name}");
        for field in [
            "alpn_offered",
            "alpn_selected",
            "alpn_source",
            "verdict",
            "decryption",
            "evidence_frames",
        ] {
            assert_eq!(after[field], before[field], "{name}: {field}");
        }
        assert_eq!(
            after["client_hello"]["ja4"], before["client_hello"]["ja4"],
            "{name}"
        );
        for field in [
            "version",
            "client_version",
            "client_dcid",
            "server_scid",
            "retry",
            "version_negotiation",
            "close",
        ] {
            assert_eq!(
                after["quic"][field], before["quic"][field],
                "{name}: {field}"
            );
        }
        let initials = |doc: &serde_json::Value| {
            (
                common::numbers(&doc["quic"]["client_initials"]["frames"]),
                common::numbers(&doc["quic"]["undecryptable_initials"]["frames"]),
            )
        };
        if cut.is_empty() {
            assert_eq!(initials(after), initials(before), "{name}");
        } else {
            // Frame 3, cut, holds no Initial packet any more.
            assert_eq!(initials(before), (vec![1, 3], vec![3]), "{name}");
            assert_eq!(initials(after), (vec![1], vec![]), "{name}");
        }
    }
}
