//! The direction parser on hand-built records: every layer together, under any chunking.

use super::*;
use crate::tls::decrypt::DecryptError;
use crate::tls::event::{MAX_ALERT_EVENTS, MAX_CHANGE_CIPHER_SPEC_EVENTS, MAX_EVENTS};
use crate::tls::preamble::Plaintext;
use crate::tls::testing::{
    client_hello_message, protected_record, record, tls13_server_hello_record,
};

fn offered(events: &[TlsEvent]) -> Vec<(Vec<String>, Vec<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            TlsEvent::ClientHello { hello, frames } => Some((
                hello.offered().iter().map(|p| p.escaped()).collect(),
                frames.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn hello_split_over_records_and_chunks() {
    let msg = client_hello_message(&[b"h2", b"http/1.1"]);
    let (a, b) = msg.split_at(20);
    let mut stream = record(22, a);
    stream.extend(record(22, b));
    // Every chunking of the stream yields the same hello.
    for cut in 1..stream.len() {
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(1, &stream[..cut], &mut events);
        p.feed(2, &stream[cut..], &mut events);
        let got = offered(&events);
        assert_eq!(got.len(), 1, "cut {cut}");
        assert_eq!(got[0].0, ["h2", "http/1.1"]);
        let expected_frames = if cut <= 5 { vec![2] } else { vec![1, 2] };
        assert_eq!(got[0].1, expected_frames, "cut {cut}");
    }
}

#[test]
fn alert_and_application_data() {
    let mut stream = record(21, &[2, 120]);
    stream.extend(record(23, &[0; 10]));
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(7, &stream, &mut events);
    assert_eq!(
        events,
        vec![
            TlsEvent::Alert {
                level: 2,
                description: Some(120),
                frame: 7,
                decrypted: false,
            },
            TlsEvent::ApplicationData { frame: 7 },
        ]
    );
    assert!(p.is_done());
}

/// A plaintext start alpnscope does not know: "not TLS" is held back while the first
/// MAX_WATCHED_BYTES are searched for a hello record, and stands when the stream ends there
/// (`pending_not_tls`) or after them.
#[test]
fn not_tls() {
    let not_tls = TlsEvent::NotTls {
        frame: 3,
        start: Some(Plaintext::Other),
        bytes: 21,
    };
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(3, b"SSH-2.0-OpenSSH_9.6\r\n", &mut events);
    assert!(events.is_empty());
    assert_eq!(p.pending_not_tls(), Some(&not_tls));
    assert!(!p.is_done());
    p.feed(4, &[0x16; MAX_WATCHED_BYTES], &mut events);
    assert_eq!(events, [not_tls]);
    assert!(p.is_done());
    assert_eq!(p.pending_not_tls(), None);
}

#[test]
fn gap_then_resync_at_next_record() {
    let msg = client_hello_message(&[b"h2"]);
    let stream = record(22, &msg);
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(1, &stream[..10], &mut events);
    p.gap(2, 30, &mut events);
    p.feed(3, &[0xde, 0xad], &mut events);
    p.feed(4, &record(21, &[2, 40]), &mut events);
    assert!(matches!(
        events[0],
        TlsEvent::Fault {
            fault: StreamFault::Gap { len: 30 },
            frame: 2
        }
    ));
    assert_eq!(
        events[1],
        TlsEvent::Alert {
            level: 2,
            description: Some(40),
            frame: 4,
            decrypted: false,
        }
    );
}

#[test]
fn lying_handshake_length_does_not_buffer_unbounded() {
    let mut stream = record(22, &[1, 0xff, 0xff, 0xff]);
    stream.extend(record(22, &[0; 100]));
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(1, &stream, &mut events);
    assert!(matches!(
        events[0],
        TlsEvent::Fault {
            fault: StreamFault::HelloTooLarge { .. },
            ..
        }
    ));
}

#[test]
fn decrypts_encrypted_extensions_and_an_alert_with_the_handshake_secret() {
    let secret = [7u8; 32];
    let mut p = DirectionParser::new(false);
    p.set_handshake_secret(secret.to_vec());
    let mut events = Vec::new();
    p.feed(1, &tls13_server_hello_record(), &mut events);
    // EncryptedExtensions with ALPN h2, then a fatal no_application_protocol alert.
    let ee = [8, 0, 0, 11, 0, 9, 0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2', 22];
    p.feed(2, &protected_record(&secret, 0, &ee), &mut events);
    p.feed(
        3,
        &protected_record(&secret, 1, &[2, 120, 21, 0, 0]),
        &mut events,
    );
    assert!(matches!(&events[0], TlsEvent::ServerHello { .. }));
    match &events[1] {
        TlsEvent::EncryptedExtensions { alpn, frames } => {
            assert_eq!(alpn.as_ref().unwrap().protocols[0].escaped(), "h2");
            assert_eq!(frames, &[2]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        events[2],
        TlsEvent::Alert {
            level: 2,
            description: Some(120),
            frame: 3,
            decrypted: true
        }
    );
}

#[test]
fn wrong_secret_is_reported_and_stops_the_direction() {
    let mut p = DirectionParser::new(false);
    p.set_handshake_secret(vec![1; 32]);
    let mut events = Vec::new();
    p.feed(1, &tls13_server_hello_record(), &mut events);
    p.feed(
        2,
        &protected_record(&[2; 32], 0, &[8, 0, 0, 2, 0, 0, 22]),
        &mut events,
    );
    assert!(events.iter().any(|e| matches!(
        e,
        TlsEvent::Fault {
            fault: StreamFault::Decryption(DecryptError::Authentication),
            ..
        }
    )));
    assert!(p.is_done());
}

#[test]
fn a_record_that_fails_after_a_gap_is_blamed_on_the_gap() {
    let secret = [2; 32];
    let mut p = DirectionParser::new(false);
    p.set_handshake_secret(secret.to_vec());
    let mut events = Vec::new();
    p.feed(1, &tls13_server_hello_record(), &mut events);
    // EncryptedExtensions (record 0) opens; record 1 is lost; record 2 cannot open as
    // record 1.
    p.feed(
        2,
        &protected_record(&secret, 0, &[8, 0, 0, 2, 0, 0, 22]),
        &mut events,
    );
    p.gap(3, 40, &mut events);
    p.feed(
        4,
        &protected_record(&secret, 2, &[20, 0, 0, 1, 0, 22]),
        &mut events,
    );
    assert!(events.contains(&TlsEvent::Fault {
        frame: 4,
        fault: StreamFault::DecryptionAfterGap {
            missing: 40,
            before_frame: 4,
            opened_before: true
        }
    }));
    assert!(p.is_done());
}

#[test]
fn thousands_of_alert_records_emit_a_bounded_number_of_events() {
    let mut stream = Vec::new();
    for _ in 0..5000 {
        stream.extend(record(21, &[1, 0]));
    }
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    // Every chunking of the flood is bounded the same way.
    for chunk in stream.chunks(999) {
        p.feed(1, chunk, &mut events);
    }
    assert_eq!(events.len(), MAX_ALERT_EVENTS as usize);
    assert!(events.iter().all(|e| matches!(e, TlsEvent::Alert { .. })));
    assert_eq!(p.suppressed_events(), 5000 - u64::from(MAX_ALERT_EVENTS));
    // A later event of another kind still gets through.
    p.feed(2, &record(23, &[0; 4]), &mut events);
    assert_eq!(events.last(), Some(&TlsEvent::ApplicationData { frame: 2 }));
}

#[test]
fn encrypted_alerts_and_change_cipher_specs_are_capped() {
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(1, &tls13_server_hello_record(), &mut events);
    for _ in 0..3000 {
        p.feed(2, &record(20, &[1]), &mut events);
        p.feed(3, &record(21, &[0; 19]), &mut events);
    }
    let count = |f: fn(&TlsEvent) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, TlsEvent::ServerHello { .. })), 1);
    assert_eq!(
        count(|e| matches!(e, TlsEvent::ChangeCipherSpec { .. })),
        MAX_CHANGE_CIPHER_SPEC_EVENTS as usize
    );
    assert_eq!(
        count(|e| matches!(e, TlsEvent::Alert { level: 0, .. })),
        MAX_ALERT_EVENTS as usize
    );
    assert!(!p.is_done());
}

#[test]
fn a_flood_of_hellos_is_capped_in_total() {
    let hello = record(22, &client_hello_message(&[b"h2"]));
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    for frame in 0..1000 {
        p.feed(frame, &hello, &mut events);
    }
    assert_eq!(events.len(), MAX_EVENTS as usize);
    assert_eq!(p.suppressed_events(), 1000 - u64::from(MAX_EVENTS));
}

/// Found by the `tls_chunking` fuzz target (its input, verbatim): bytes after a TLS 1.3
/// ServerHello in the same, still incomplete record are treated alike whether they arrive with it
/// or later (dropped: what follows the ServerHello is encrypted).
#[test]
fn bytes_after_a_tls13_server_hello_in_its_record_do_not_depend_on_chunking() {
    const STREAM: &str = "160303007e020000540303cf21ad74e59a6111be1d8c021e29b891c22d11167abb8c5e079e09e2c8a8339c2002c8055183ab11c3fe1ca43aecb98b2919a50ae6a953bdb47b40a36b65053f70130200000c002b0002030400330000141d0203030001011603a3007a020000760303d1f89137c588a047505c2b000203324a07";
    let stream: Vec<u8> = (0..STREAM.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&STREAM[i..i + 2], 16).unwrap())
        .collect();
    let run = |chunk: usize| {
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        for piece in stream.chunks(chunk) {
            p.feed(1, piece, &mut events);
        }
        format!("{events:?}")
    };
    let whole = run(stream.len());
    assert_eq!(whole, run(1));
    assert!(whole.contains("ServerHello"), "{whole}");
    assert!(!whole.contains("HelloTooLarge"), "{whole}");
}

/// Chrome's Finished flight: its own EncryptedExtensions (ALPS, extension 17513) before its
/// Finished. The client's direction never emits it: only the server's EncryptedExtensions
/// select (the client's carries no ALPN, and taking it for the server's read as a decline).
#[test]
fn a_clients_own_encrypted_extensions_are_not_emitted() {
    let secret = [3; 32];
    let mut p = DirectionParser::new(false);
    p.set_handshake_secret(secret.to_vec());
    let mut events = Vec::new();
    p.feed(1, &record(22, &client_hello_message(&[b"h2"])), &mut events);
    p.peer_selected_tls13(0x1301, &mut events);
    // EncryptedExtensions { application_settings (17513), empty } then Finished.
    let mut inner = vec![8, 0, 0, 6, 0, 4, 0x44, 0x69, 0, 0];
    inner.extend_from_slice(&[20, 0, 0, 2, 0, 0, 22]);
    p.feed(2, &protected_record(&secret, 0, &inner), &mut events);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            TlsEvent::ClientHello { .. } => "client_hello",
            TlsEvent::EncryptedExtensions { .. } => "encrypted_extensions",
            TlsEvent::Finished { .. } => "finished",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["client_hello", "finished"]);
}

/// An SSLv2-format ClientHello (RFC 5246 Appendix E.2), whole or split anywhere, then TLS
/// records: one ClientHello event without extensions, and the records read as usual.
#[test]
fn sslv2_client_hello_then_records() {
    let hello = crate::tls::testing::sslv2_hello();
    let mut stream = hello.clone();
    stream.extend(record(21, &[2, 40]));
    for cut in 1..stream.len() {
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(4, &stream[..cut], &mut events);
        p.feed(5, &stream[cut..], &mut events);
        let hello_frame = if cut < hello.len() { 5 } else { 4 };
        // An alert is placed at the frame its record starts in.
        let alert_frame = if cut > hello.len() { 4 } else { 5 };
        let [
            TlsEvent::ClientHello { hello, frames },
            TlsEvent::Alert {
                level: 2,
                description: Some(40),
                frame,
                ..
            },
        ] = events.as_slice()
        else {
            panic!("cut {cut}: {events:?}");
        };
        assert_eq!(*frame, alert_frame, "cut {cut}");
        assert!(hello.sslv2 && hello.alpn.is_none(), "cut {cut}");
        assert_eq!(hello.cipher_suites, [0xc02f, 0x002f]);
        assert_eq!(frames, &[hello_frame], "cut {cut}");
        assert!(p.seen_tls());
    }
    // A record with the high bit set that is not a CLIENT-HELLO is not TLS.
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(1, &[0x80, 0x10, 4, 3, 3, 0, 0, 0, 0, 0, 0], &mut events);
    assert!(events.is_empty());
    assert!(matches!(p.pending_not_tls(), Some(TlsEvent::NotTls { .. })));
}

/// A snaplen cuts the ServerHello: at the gap, what the capture holds of it is emitted as a
/// cut ServerHello, and TLS 1.3 (shown by its cipher suite) makes the direction encrypted.
#[test]
fn a_server_hello_cut_by_a_gap_is_read_as_far_as_it_goes() {
    let sh = tls13_server_hello_record();
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    // Record header, handshake header, version, random, session id, cipher suite, compression.
    let captured = 5 + 4 + 2 + 32 + 1 + 2 + 1;
    p.feed(6, &sh[..captured], &mut events);
    p.gap(6, (sh.len() - captured) as u32, &mut events);
    let [
        TlsEvent::ServerHello { hello, frames },
        TlsEvent::Fault { frame: 6, .. },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(frames, &[6]);
    assert_eq!(
        hello.cut,
        Some(crate::tls::hello::Cut {
            captured: captured - 9,
            len: sh.len() - 9
        })
    );
    assert_eq!(hello.tls_version(), crate::tls::TlsVersion::TLS13);
    // A gap outside a hello emits no hello.
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    p.feed(1, &sh, &mut events);
    p.gap(2, 10, &mut events);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, TlsEvent::ServerHello { .. }))
            .count(),
        1
    );
}

/// An unknown plaintext start (NoMachine's `NXSH-8.10.1`, ADB's STLS messages, Gnutella's
/// upgrade): the hello record after it is found wherever it begins, however the bytes are cut
/// into chunks; the "not TLS" held back does not stand.
#[test]
fn tls_after_an_unknown_plaintext_start_is_found_under_any_chunking() {
    let mut stream = b"NXSH-8.10.1\n".to_vec();
    stream.extend(b"binary \x16\x03\x01 noise\n");
    let hello_at = stream.len();
    stream.extend(record(22, &client_hello_message(&[b"h2"])));
    for cut in 1..stream.len() {
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(1, &stream[..cut], &mut events);
        p.feed(2, &stream[cut..], &mut events);
        let summary: Vec<String> = events
            .iter()
            .map(|e| match e {
                TlsEvent::StartTls {
                    protocol,
                    step,
                    frame,
                } => {
                    format!("starttls {protocol:?} {step:?} {frame}")
                }
                TlsEvent::ClientHello { frames, .. } => format!("hello {frames:?}"),
                other => format!("{other:?}"),
            })
            .collect();
        let frame = if cut <= hello_at { 2 } else { 1 };
        assert_eq!(
            summary,
            [
                format!("starttls None FoundHello {frame}"),
                // The message's frames: those of its bytes, after the 5-byte record header.
                format!(
                    "hello {:?}",
                    if cut <= hello_at + 5 {
                        vec![2]
                    } else {
                        vec![1, 2]
                    }
                ),
            ],
            "cut at {cut}"
        );
        assert!(p.pending_not_tls().is_none());
    }
    // A byte at a time.
    let mut p = DirectionParser::new(false);
    let mut events = Vec::new();
    for byte in &stream {
        p.feed(1, std::slice::from_ref(byte), &mut events);
    }
    assert!(matches!(
        events.as_slice(),
        [
            TlsEvent::StartTls {
                step: StartTlsStep::FoundHello,
                frame: 1,
                ..
            },
            TlsEvent::ClientHello { .. }
        ]
    ));
}
