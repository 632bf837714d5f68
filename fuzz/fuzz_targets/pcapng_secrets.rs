//! pcapng with a Decryption Secrets Block through the capture reader and the key-log path.
//!
//! Input: a two-byte big-endian length, that many bytes of key-log text, then a capture (pcap or
//! pcapng; the seeds pair each fixture's key log with its capture). The capture's frames are
//! written anew as pcapng: a section header, one interface per link type, the key log in a
//! Decryption Secrets Block, then the frames. Invariants:
//! - reading that pcapng back gives the secrets block's text and the same frames (link type,
//!   bytes, length on the wire, time);
//! - when the key log parses, the report of the pcapng with its embedded secrets is the report
//!   of the same frames with the key log given beforehand (`--keylog`), byte for byte in JSON;
//! - no panic; every renderer writes UTF-8 on the report and on its redaction (one name mode
//!   per input), the JSON parses, and every JSON Lines line (`capture` compares the streamed
//!   and the whole renderings).
#![no_main]

use alpnscope::capture::{self, CaptureEvent, MAX_BLOCK_BYTES};
use alpnscope::report::{self, Format};
use alpnscope::tls::keylog::KeyLog;
use alpnscope_fuzz::{
    OwnedFrame, SECRETS_TLS_KEY_LOG, analyze_with, analyzer, check_report, sni_mode,
};
use libfuzzer_sys::fuzz_target;

/// Appends one pcapng block of `block_type` with `body`, padded to 32 bits.
fn block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    let padded = body.len().next_multiple_of(4);
    let len = (12 + padded) as u32;
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    out.extend_from_slice(&len.to_le_bytes());
}

/// Writes `frames` as pcapng with `secrets` in a Decryption Secrets Block before them.
fn pcapng(secrets: &[u8], frames: &[OwnedFrame]) -> Vec<u8> {
    let mut out = Vec::new();
    // Section header: byte-order magic, version 1.0, section length unknown.
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4d_u32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut interfaces: Vec<u32> = Vec::new();
    for frame in frames {
        if !interfaces.contains(&frame.link_type) {
            interfaces.push(frame.link_type);
            let mut idb = Vec::new();
            idb.extend_from_slice(&(frame.link_type as u16).to_le_bytes());
            idb.extend_from_slice(&0u16.to_le_bytes());
            idb.extend_from_slice(&0u32.to_le_bytes()); // no snaplen
            // if_tsresol = 9: nanoseconds, then the end of options.
            idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
            block(&mut out, 1, &idb);
        }
    }
    let mut dsb = Vec::new();
    dsb.extend_from_slice(&SECRETS_TLS_KEY_LOG.to_le_bytes());
    dsb.extend_from_slice(&(secrets.len() as u32).to_le_bytes());
    dsb.extend_from_slice(secrets);
    block(&mut out, 0x0a, &dsb);
    for frame in frames {
        let interface = interfaces
            .iter()
            .position(|&l| l == frame.link_type)
            .expect("an interface per link type") as u32;
        let ts = frame.timestamp as u64;
        let mut epb = Vec::new();
        epb.extend_from_slice(&interface.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&frame.original_len.to_le_bytes());
        epb.extend_from_slice(&frame.data);
        block(&mut out, 6, &epb);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
    if rest.len() < len {
        return;
    }
    let (secrets, capture) = rest.split_at(len);

    let mut frames = Vec::new();
    if capture::read_capture(capture, |event| {
        if let CaptureEvent::Frame(frame) = event {
            frames.push(OwnedFrame::new(&frame));
        }
    })
    .is_err()
    {
        return;
    }
    // Link types pcapng cannot carry, and frames too large for one block, are out of scope.
    if frames
        .iter()
        .any(|f| f.link_type > 0xffff || f.data.len() > MAX_BLOCK_BYTES - 64 || f.timestamp < 0)
    {
        return;
    }
    let file = pcapng(secrets, &frames);

    // The reader gives back the secrets block and the frames.
    let mut read_frames = Vec::new();
    let mut read_secrets = Vec::new();
    capture::read_capture(&file[..], |event| match event {
        CaptureEvent::Frame(frame) => read_frames.push(OwnedFrame::new(&frame)),
        // No filter: nothing is dropped.
        CaptureEvent::Dropped(frame) => panic!("frame {} dropped without a filter", frame.number),
        CaptureEvent::Secrets { secrets_type, data } => {
            read_secrets.push((secrets_type, data.to_vec()))
        }
    })
    .expect("the rewritten pcapng reads");
    assert_eq!(read_secrets.len(), 1, "one Decryption Secrets Block");
    let (secrets_type, text) = &read_secrets[0];
    assert_eq!(*secrets_type, SECRETS_TLS_KEY_LOG);
    assert!(
        text.starts_with(secrets) && text[secrets.len()..].iter().all(|&b| b == 0),
        "the secrets block's text comes back (NUL padding at most)"
    );
    assert!(read_frames == frames, "the frames come back unchanged");

    // Embedded secrets and a key log given beforehand give the same report.
    let embedded = analyze_with(analyzer(), &file, true).expect("the rewritten pcapng reads");
    let embedded = check_report(&embedded, sni_mode(data));
    let text = String::from_utf8_lossy(secrets);
    if KeyLog::new().add_text(&text).is_ok() {
        let mut given = analyzer();
        given.add_key_log(&text).expect("accepted by KeyLog");
        let given = analyze_with(given, &file, false).expect("the rewritten pcapng reads");
        let mut json = Vec::new();
        report::render(&given, Format::Json, false, &mut json).expect("rendering into a Vec");
        assert!(
            embedded == json,
            "the embedded key log and the same key log given beforehand disagree"
        );
    }
});
