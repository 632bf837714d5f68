//! Captures that a sender shaped to mislead or to exhaust the analyser, made from real ones by
//! rewriting bytes: an over-long ClientHello, and retransmitted ClientHellos whose copies differ.

mod common;

use common::{analyze_json, project_path, strings};

/// Byte offsets of each record's packet data in a little-endian classic pcap file.
fn pcap_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut records = Vec::new();
    let mut offset = 24;
    while offset + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
        records.push((offset + 16, caplen as usize));
        offset += 16 + caplen as usize;
    }
    records
}

/// Offset in the file of the TCP payload of an Ethernet + IPv4 packet at `start`.
fn tcp_payload(bytes: &[u8], start: usize) -> usize {
    let ip = start + 14;
    let tcp = ip + usize::from(bytes[ip] & 0x0f) * 4;
    tcp + usize::from(bytes[tcp + 12] >> 4) * 4
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("alpnscope-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// tls12-h2-agreed.pcap with the first ClientHello's handshake header (frame 4) claiming
/// 70000 bytes, cut after `frames` frames.
fn over_long_client_hello(frames: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(project_path("fixtures/tls12-h2-agreed.pcap")).unwrap();
    let records = pcap_records(&bytes);
    let payload = tcp_payload(&bytes, records[3].0);
    // Record header (type 22), then the handshake header: type 1 and a 24-bit length.
    assert_eq!(bytes[payload], 0x16);
    assert_eq!(bytes[payload + 5], 0x01);
    assert_eq!(&bytes[payload + 6..payload + 9], &[0, 0, 211]);
    bytes[payload + 6..payload + 9].copy_from_slice(&70000u32.to_be_bytes()[1..]);
    let (start, len) = records[frames - 1];
    bytes.truncate(start + len);
    bytes
}

#[test]
fn an_over_long_client_hello_is_named_not_taken_for_a_missing_one() {
    let path = temp_file("over-long-unanswered.pcap", &over_long_client_hello(5));
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(
        flow["detail"],
        "the ClientHello claims 70000 bytes (frame 4), more than the 64 KiB alpnscope reads; its offer is not analysed"
    );
    assert_eq!(common::numbers(&flow["evidence_frames"]), [4]);
    assert_eq!(
        strings(&flow["notes"]),
        ["client stream, frame 4: hello of 70000 bytes exceeds the 65536-byte cap: not parsed"]
    );

    let path = temp_file("over-long-answered.pcap", &over_long_client_hello(33));
    let doc = analyze_json(path.to_str().unwrap(), &[]);
    let flow = &doc["flows"][0];
    assert_eq!(flow["verdict"], "incomplete");
    assert_eq!(
        flow["detail"],
        "the ClientHello claims 70000 bytes (frame 4), more than the 64 KiB alpnscope reads; its offer is not analysed; the server selected h2"
    );
    assert_eq!(common::numbers(&flow["evidence_frames"]), [4, 6]);
    assert_eq!(doc["flows"][1]["verdict"], "agreed");
}

#[test]
fn a_retransmitted_client_hello_with_another_sni_is_a_note_and_the_first_copy_wins() {
    // fixtures/make-conflicting-copies.py: frame 5 repeats frame 4's ClientHello with the SNI
    // "alpn.test" rewritten to "evil.test" and the ALPN "h2" to "h3".
    let doc = analyze_json("fixtures/conflicting-client-hello-copies.pcap", &[]);
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow["verdict"], "agreed");
    assert_eq!(
        flow["detail"],
        "the server selected h2, the client's first choice"
    );
    assert_eq!(flow["sni"], "alpn.test");
    assert_eq!(common::numbers(&flow["evidence_frames"]), [4, 7]);
    assert_eq!(
        strings(&flow["notes"]),
        [
            "client stream: frame 5 carries different bytes for 5 of 220 bytes already seen in frame 4 (first copy kept, as Wireshark does); that copy's ClientHello names SNI evil.test instead of alpn.test and offers ALPN h3, http/1.1 instead of h2, http/1.1"
        ]
    );
    // The capture it was made from: the same copies, identical, and no note.
    let doc = analyze_json("fixtures/loss-client-hello-rto.pcap", &[]);
    assert_eq!(strings(&doc["flows"][0]["notes"]), Vec::<String>::new());
}
