//! The flow table on hand-built packets: fragments, the flow cap, a server bug.

use super::*;
use crate::capture::{CaptureFormat, CaptureSummary};
use crate::report::model::{Decryption, DiagnosisKind};
use etherparse::PacketBuilder;

/// A minimal TLS 1.2 ClientHello record offering `h2`.
fn client_hello_record() -> Vec<u8> {
    let alpn = [0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2'];
    let mut body = vec![3, 3];
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&[0, 0, 2, 0xc0, 0x2f, 1, 0]);
    body.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
    body.extend_from_slice(&alpn);
    body.extend_from_slice(&[0; 600]); // padding inside the record, after the hello
    let mut msg = vec![1, 0];
    msg.extend_from_slice(&((body.len() - 600) as u16).to_be_bytes());
    msg.extend_from_slice(&body[..body.len() - 600]);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    record.extend(msg);
    record
}

fn summary() -> CaptureSummary {
    CaptureSummary {
        format: CaptureFormat::Pcap,
        link_types: vec![LinkType::RAW],
        snaplen: 65535,
        packets: 0,
        bytes: 0,
        first_time: None,
        last_time: None,
        warnings: Vec::new(),
    }
}

fn frame(number: u64, data: &[u8]) -> Frame<'_> {
    Frame {
        number,
        timestamp: Timestamp(number as i64 * 1000),
        link_type: LinkType::RAW,
        data,
        original_len: data.len() as u32,
    }
}

/// Splits an IPv4 packet (20-byte header) into two fragments at `at` payload bytes.
fn fragment(packet: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
    let payload = &packet[20..];
    let mut first = packet[..20].to_vec();
    first.extend_from_slice(&payload[..at]);
    first[2..4].copy_from_slice(&((20 + at) as u16).to_be_bytes());
    first[6] = 0x20; // more fragments, offset 0
    first[7] = 0;
    let mut second = packet[..20].to_vec();
    second.extend_from_slice(&payload[at..]);
    second[2..4].copy_from_slice(&((20 + payload.len() - at) as u16).to_be_bytes());
    let offset = (at / 8) as u16;
    second[6..8].copy_from_slice(&offset.to_be_bytes());
    (first, second)
}

#[test]
fn client_hello_in_ipv4_fragments_is_reassembled() {
    let record = client_hello_record();
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(40000, 443, 1, 1000)
        .ack(1)
        .write(&mut packet, &record)
        .unwrap();
    let (first, second) = fragment(&packet, 48);
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    // The second fragment arrives first.
    analyzer.frame(&frame(1, &second));
    analyzer.frame(&frame(2, &first));
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.fragments, 2);
    assert_eq!(capture.decode.datagrams_reassembled, 1);
    let report = analyzer.into_report(vec![capture]);
    let flow = &report.flows[0];
    assert_eq!(flow.alpn_offered, ["h2"]);
    assert_eq!(flow.client_hello.as_ref().unwrap().frames, [2]);
    assert_eq!(flow.client.port, 40000);
    assert_eq!(flow.verdict, VerdictKind::Incomplete);
}

#[test]
fn missing_fragment_is_reported() {
    let record = client_hello_record();
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(40000, 443, 1, 1000)
        .write(&mut packet, &record)
        .unwrap();
    let (_, second) = fragment(&packet, 48);
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    analyzer.frame(&frame(1, &second));
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.datagrams_incomplete, 1);
    assert!(
        capture
            .warnings
            .iter()
            .any(|w| w.contains("could not be reassembled"))
    );
}

#[test]
fn flow_table_is_capped_and_counts_what_it_left_out() {
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        flow_limit: 2,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let mut packets = Vec::new();
    for port in 0..5u16 {
        let mut packet = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp(40000 + port, 443, 1, 1000)
            .syn()
            .write(&mut packet, &[])
            .unwrap();
        packets.push(packet);
    }
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    assert_eq!(analyzer.active_flows(), 2);
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.flows_not_tracked, 3);
    assert!(capture.warnings.iter().any(|w| w.contains("the cap")));
}

/// A TLS 1.2 ServerHello record selecting `alpn`.
fn server_hello_record(alpn: &[u8]) -> Vec<u8> {
    let mut ext = vec![0x00, 0x10];
    ext.extend_from_slice(&((alpn.len() + 3) as u16).to_be_bytes());
    ext.extend_from_slice(&((alpn.len() + 1) as u16).to_be_bytes());
    ext.push(alpn.len() as u8);
    ext.extend_from_slice(alpn);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[4; 32]);
    body.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut msg = vec![2, 0];
    msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
    msg.extend(body);
    let mut record = vec![0x16, 3, 3];
    record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    record.extend(msg);
    record
}

#[test]
fn a_protocol_nobody_offered_is_a_server_bug() {
    let ch = client_hello_record();
    let sh = server_hello_record(b"spdy/1");
    let mut packets = Vec::new();
    for (src, dst, sport, dport, seq, ack, payload) in [
        (
            [192, 0, 2, 1],
            [192, 0, 2, 2],
            40000u16,
            443u16,
            1u32,
            1u32,
            &ch[..],
        ),
        (
            [192, 0, 2, 2],
            [192, 0, 2, 1],
            443,
            40000,
            1,
            1 + ch.len() as u32,
            &sh[..],
        ),
    ] {
        let mut packet = Vec::new();
        PacketBuilder::ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 1000)
            .ack(ack)
            .write(&mut packet, payload)
            .unwrap();
        packets.push(packet);
    }
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    let report = analyzer.into_report(vec![capture]);
    let flow = &report.flows[0];
    assert_eq!(flow.verdict, VerdictKind::SelectedUnoffered);
    assert_eq!(flow.alpn_selected.as_deref(), Some("spdy/1"));
    assert_eq!(flow.evidence_frames, [1, 2]);
    assert!(flow.detail.contains("RFC 7301 §3.2"), "{}", flow.detail);
    let kinds: Vec<DiagnosisKind> = report.diagnosis.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DiagnosisKind::ServerBug]);
}

/// IPv6 fragments (RFC 8200 §4.5) of one TCP segment: fixed header, fragment header, piece.
fn ipv6_fragments(segment: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
    let piece = |offset: usize, data: &[u8], more: bool| {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let offset_flags = ((offset / 8) as u16) << 3 | u16::from(more);
        p.extend_from_slice(&[6, 0]);
        p.extend_from_slice(&offset_flags.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(data);
        p
    };
    (
        piece(0, &segment[..at], true),
        piece(at, &segment[at..], false),
    )
}

#[test]
fn client_hello_in_ipv6_fragments_is_reassembled() {
    let record = client_hello_record();
    let mut packet = Vec::new();
    PacketBuilder::ipv6(
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        64,
    )
    .tcp(40000, 443, 1, 1000)
    .ack(1)
    .write(&mut packet, &record)
    .unwrap();
    let segment = &packet[40..];
    let (first, second) = ipv6_fragments(segment, 48);
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    analyzer.frame(&frame(1, &first));
    analyzer.frame(&frame(2, &second));
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.datagrams_reassembled, 1);
    let report = analyzer.into_report(vec![capture]);
    assert_eq!(report.flows[0].alpn_offered, ["h2"]);
    assert_eq!(report.flows[0].client.to_string(), "[2001:db8::1]:40000");
}

/// Live use: flows that waited for their keys are streamed in flow order when a key log
/// names all of them at once (a hash-map walk must not decide the order).
#[test]
fn flows_given_keys_late_are_streamed_in_flow_order() {
    use crate::capture::CaptureEvent;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
    let capture = std::fs::read(format!("{dir}diagnosis-interception.pcap")).unwrap();
    let keys = std::fs::read_to_string(format!("{dir}diagnosis-interception.keys")).unwrap();
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        stream: true,
        await_keys: true,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let summary = crate::capture::read_capture(&capture[..], |event| {
        if let CaptureEvent::Frame(frame) = event {
            analyzer.frame(&frame);
        }
    })
    .unwrap();
    assert!(summary.complete());
    // Every TLS 1.3 handshake still waits for its keys.
    assert!(analyzer.take_ready().is_empty());
    analyzer.add_key_log(&keys).unwrap();
    let ready = analyzer.take_ready();
    let ids: Vec<u64> = ready.iter().map(|f| f.id).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    assert!(
        ready
            .iter()
            .all(|f| f.decryption == Some(Decryption::Decrypted))
    );
}

/// A peer that floods alert records: the flow lists at most the parser's cap and says how many
/// it left out.
#[test]
fn an_alert_flood_is_capped_and_reported() {
    let ch = client_hello_record();
    let mut alerts = Vec::new();
    for _ in 0..1000 {
        alerts.extend_from_slice(&[0x15, 3, 3, 0, 2, 1, 112]); // warning unrecognized_name
    }
    let mut packets = Vec::new();
    let mut server_seq = 1u32;
    let mut first = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(40000, 443, 1, 1000)
        .ack(1)
        .write(&mut first, &ch)
        .unwrap();
    packets.push(first);
    for chunk in alerts.chunks(1400) {
        let mut packet = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 2], [192, 0, 2, 1], 64)
            .tcp(443, 40000, server_seq, 1000)
            .ack(1 + ch.len() as u32)
            .write(&mut packet, chunk)
            .unwrap();
        server_seq += chunk.len() as u32;
        packets.push(packet);
    }
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    let report = analyzer.into_report(vec![capture]);
    let flow = &report.flows[0];
    assert_eq!(
        flow.alerts.len(),
        crate::tls::event::MAX_ALERT_EVENTS as usize
    );
    assert!(
        flow.notes
            .iter()
            .any(|n| n == "server stream: 968 TLS records not listed (more than 32 alerts, 32 ChangeCipherSpecs or 128 events in all)"),
        "{:?}",
        flow.notes
    );
}
