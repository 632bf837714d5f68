//! The flow table on hand-built packets: fragments, the flow cap, a server bug.

use super::*;
use crate::analysis::network::NetworkCause;
use crate::capture::{CaptureFormat, CaptureSummary};
use crate::report::model::{CorrectedField, Decryption, DiagnosisKind};
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

/// The summary of a small pcap of raw IP frames.
pub(super) fn summary() -> CaptureSummary {
    CaptureSummary {
        format: CaptureFormat::Pcap,
        link_types: vec![LinkType::RAW],
        snaplen: 65535,
        packets: 0,
        bytes: 0,
        first_time: None,
        last_time: None,
        warnings: Vec::new(),
        statistics: None,
        filter: None,
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

/// The report of `packets`, frames 1, 2, … of one capture, with the default options.
fn report_of(packets: &[Vec<u8>]) -> Report {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    analyzer.into_report(vec![capture])
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

/// A client packet from port `port` to 192.0.2.2:443: a SYN (sequence number 1), or data
/// (sequence number 2).
fn client_packet(port: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    let builder = PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64);
    if syn {
        builder
            .tcp(port, 443, 1, 1000)
            .syn()
            .write(&mut packet, payload)
    } else {
        builder
            .tcp(port, 443, 2, 1000)
            .ack(1)
            .write(&mut packet, payload)
    }
    .unwrap();
    packet
}

/// A flow as the eviction test checks it: client port, first and last frame, verdict, network
/// cause, detail.
type FlowRow<'a> = (u16, u64, u64, VerdictKind, Option<NetworkCause>, &'a str);

#[test]
fn a_full_flow_table_evicts_the_least_recently_active_flow_without_tls() {
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        flow_limit: 3,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let packets = [
        client_packet(40000, true, &[]),     // 1: A
        client_packet(40000, false, &hello), // 2: A's ClientHello
        client_packet(40001, true, &[]),     // 3: B
        client_packet(40002, true, &[]),     // 4: C
        client_packet(40001, true, &[]),     // 5: B again (retransmitted SYN)
        client_packet(40003, true, &[]),     // 6: D evicts C (A showed TLS, B is newer)
        client_packet(40004, true, &[]),     // 7: E evicts B
        client_packet(40005, true, &[]),     // 8: F evicts D
    ];
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    assert_eq!(analyzer.active_flows(), 3);
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.flows_not_tracked, 0);
    assert!(capture.warnings.iter().any(|w| w
        == "3 flows were closed early to make room in the full flow table (3 flows, the cap): each time the least recently active flow that had shown no TLS record, else one whose ClientHello the server had not answered; their reports end where they were closed"));
    let report = analyzer.into_report(vec![capture]);
    let flows: Vec<FlowRow<'_>> = report
        .flows
        .iter()
        .map(|f| {
            (
                f.client.port,
                f.first_frame,
                f.last_frame,
                f.verdict,
                f.network_cause,
                f.detail.as_str(),
            )
        })
        .collect();
    let evicted = |last: u64| {
        format!(
            "the flow table was full; this flow was closed early to make room after frame {last} (no TLS record until then), so what it did next was not analysed"
        )
    };
    let (e5, e4, e6) = (evicted(5), evicted(4), evicted(6));
    use VerdictKind::Incomplete;
    assert_eq!(
        flows,
        [
            (
                40000,
                1,
                2,
                Incomplete,
                None,
                "no ServerHello before the capture ended (ClientHello in frame 2, last packet of the flow in frame 2)"
            ),
            (40001, 3, 5, Incomplete, None, e5.as_str()),
            (40002, 4, 4, Incomplete, None, e4.as_str()),
            (40003, 6, 6, Incomplete, None, e6.as_str()),
            (
                40004,
                7,
                7,
                Incomplete,
                Some(NetworkCause::SynUnanswered),
                "no answer to the SYN (frame 7) before the capture ended"
            ),
            (
                40005,
                8,
                8,
                Incomplete,
                Some(NetworkCause::SynUnanswered),
                "no answer to the SYN (frame 8) before the capture ended"
            ),
        ]
    );
}

#[test]
fn idle_flows_leave_by_their_last_activity_even_when_the_clock_goes_back() {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    let s = |secs: i64| Timestamp(secs * 1_000_000_000);
    // (client port, capture time in s): A active at 0 and 500, B at 100, C at 300 then 200.
    let packets = [
        (40000, 0),
        (40001, 100),
        (40002, 300),
        (40002, 200),
        (40000, 500),
    ];
    for (i, (port, secs)) in packets.into_iter().enumerate() {
        let packet = client_packet(port, true, &[]);
        analyzer.frame(&Frame {
            number: i as u64 + 1,
            timestamp: s(secs),
            link_type: LinkType::RAW,
            data: &packet,
            original_len: packet.len() as u32,
        });
    }
    assert_eq!(analyzer.active_flows(), 3);
    analyzer.tick(s(700));
    assert_eq!(analyzer.active_flows(), 3);
    // B (last at 100) and C (last at 200) are idle past 600 s; A (last at 500) is not.
    analyzer.tick(s(801));
    assert_eq!(analyzer.active_flows(), 1);
    assert_eq!(analyzer.finished_flows(), 2);
    analyzer.tick(s(1101));
    assert_eq!(analyzer.active_flows(), 0);
    let capture = analyzer.end_capture("test", &summary());
    assert!(capture.warnings.is_empty(), "{:?}", capture.warnings);
    let report = analyzer.into_report(vec![capture]);
    let ends: Vec<(u16, u64)> = report
        .flows
        .iter()
        .map(|f| (f.client.port, f.last_frame))
        .collect();
    assert_eq!(ends, [(40000, 5), (40001, 2), (40002, 4)]);
}

/// A server packet from 192.0.2.2:443 to the client port `port`: data at sequence number
/// `seq`, acknowledging `ack`.
fn server_packet(port: u16, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 2], [192, 0, 2, 1], 64)
        .tcp(443, port, seq, 1000)
        .ack(ack)
        .write(&mut packet, payload)
        .unwrap();
    packet
}

#[test]
fn a_full_flow_table_of_answered_flows_leaves_new_connections_out() {
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        flow_limit: 1,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let packets = [
        client_packet(40000, true, &[]),
        client_packet(40000, false, &hello),
        server_packet(
            40000,
            1,
            2 + hello.len() as u32,
            &server_hello_record(b"h2"),
        ),
        client_packet(40001, true, &[]),
        client_packet(40002, true, &[]),
    ];
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    assert_eq!(analyzer.active_flows(), 1);
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.flows_not_tracked, 2);
    assert_eq!(
        capture.warnings,
        vec![
            "2 packets of new connections were not analysed: 1 flows were already tracked (the cap), the server had answered every one of them"
        ]
    );
}

/// A table full of flows whose ClientHello is unanswered (or incomplete) still takes a new
/// connection: the least recently active of them is closed early, and says so.
#[test]
fn a_full_flow_table_of_unanswered_hellos_makes_room_for_a_new_connection() {
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        flow_limit: 2,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let packets = [
        client_packet(40000, true, &[]),           // 1: A
        client_packet(40000, false, &hello),       // 2: A's ClientHello
        client_packet(40001, true, &[]),           // 3: B
        client_packet(40001, false, &hello[..30]), // 4: B's ClientHello, incomplete
        client_packet(40000, false, &[]),          // 5: A again (an ACK)
        client_packet(40002, true, &[]),           // 6: C evicts B (least recently active)
        client_packet(40003, true, &[]),           // 7: D evicts C (no TLS record)
    ];
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.flows_not_tracked, 0);
    let report = analyzer.into_report(vec![capture]);
    let flows: Vec<(u16, u64, &str)> = report
        .flows
        .iter()
        .map(|f| (f.client.port, f.last_frame, f.detail.as_str()))
        .collect();
    assert_eq!(
        flows,
        [
            (
                40000,
                5,
                "no ServerHello before the capture ended (ClientHello in frame 2, last packet of the flow in frame 5)"
            ),
            (
                40001,
                4,
                "the flow table was full; this flow was closed early to make room after frame 4 before its ClientHello was complete (first TLS record in frame 4), so what it offered was not analysed"
            ),
            (
                40002,
                6,
                "the flow table was full; this flow was closed early to make room after frame 6 (no TLS record until then), so what it did next was not analysed"
            ),
            (
                40003,
                7,
                "no answer to the SYN (frame 7) before the capture ended"
            ),
        ]
    );
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
    let report = report_of(&packets);
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
    let ready: Vec<FlowReport> = analyzer
        .take_ready()
        .into_iter()
        .map(|s| match s {
            Streamed::Flow(flow) => flow,
            Streamed::Correction(c) => panic!("no correction expected: {c:?}"),
        })
        .collect();
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
    let report = report_of(&packets);
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

/// Live use: a capture fed frame by frame to a streaming analyzer; each event with the number of
/// the frame after which it was ready (0: at the end of the capture).
fn stream_fixture(name: &str) -> (Vec<(u64, Streamed)>, Report) {
    use crate::capture::CaptureEvent;
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let capture = std::fs::read(path).unwrap();
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        stream: true,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let mut events = Vec::new();
    let summary = crate::capture::read_capture(&capture[..], |event| {
        if let CaptureEvent::Frame(frame) = event {
            analyzer.frame(&frame);
            events.extend(analyzer.take_ready().into_iter().map(|s| (frame.number, s)));
        }
    })
    .unwrap();
    let report = analyzer.end_capture(name, &summary);
    events.extend(analyzer.take_ready().into_iter().map(|s| (0, s)));
    (events, analyzer.into_report(vec![report]))
}

/// Working connections streamed at their ServerHello say nothing of the network, and leaving
/// the table changes nothing.
#[test]
fn flows_streamed_at_the_server_hello_make_no_network_statement() {
    for name in ["tls12-h2-agreed.pcap", "tls13-hidden.pcap"] {
        let (events, report) = stream_fixture(name);
        let streamed: Vec<(u64, u64, VerdictKind, Option<String>, bool)> = events
            .iter()
            .map(|(at, s)| match s {
                Streamed::Flow(f) => (*at, f.id, f.verdict, f.network.clone(), f.handshake_loss()),
                Streamed::Correction(c) => panic!("{name}: no correction expected: {c:?}"),
            })
            .collect();
        let expected = if name == "tls12-h2-agreed.pcap" {
            [
                (6, 0, VerdictKind::Agreed, None, false),
                (24, 1, VerdictKind::Agreed, None, false),
            ]
        } else {
            [
                (6, 0, VerdictKind::Hidden, None, false),
                (25, 1, VerdictKind::Hidden, None, false),
            ]
        };
        assert_eq!(streamed, expected, "{name}");
        assert!(report.flows.iter().all(|f| f.network.is_none()), "{name}");
        assert_eq!(report.summary.handshake_loss_flows, 0, "{name}");
    }
}

/// A flow streamed at its ServerHello whose handshake lost a packet afterwards (the client's
/// second flight, frame 8, resent in frame 9): one correction when it leaves the table, and the
/// final report holds the corrected flow.
#[test]
fn a_loss_after_the_streamed_server_hello_is_corrected() {
    let (events, report) = stream_fixture("loss-after-server-hello.pcap");
    assert_eq!(events.len(), 2, "{events:?}");
    let (at, Streamed::Flow(first)) = &events[0] else {
        panic!("a flow first: {events:?}");
    };
    assert_eq!(*at, 6);
    assert_eq!(first.id, 0);
    assert_eq!(first.verdict, VerdictKind::Agreed);
    assert_eq!(first.network, None);
    assert!(!first.handshake_loss());
    assert_eq!(first.last_frame, 6);
    let (at, Streamed::Correction(correction)) = &events[1] else {
        panic!("then a correction: {events:?}");
    };
    assert_eq!(*at, 0);
    let loss =
        "the handshake suffered packet loss but completed: 1 client retransmission (frame 9)";
    assert_eq!(correction.id, 0);
    assert_eq!(
        correction.changed,
        [CorrectedField::Network, CorrectedField::HandshakeLoss]
    );
    assert_eq!(
        correction.reason,
        format!("seen to frame 19 after it was reported: network: {loss}")
    );
    assert_eq!(correction.previous.verdict, VerdictKind::Agreed);
    assert_eq!(correction.previous.network, None);
    assert!(!correction.previous.handshake_loss);
    assert_eq!(correction.flow.verdict, VerdictKind::Agreed);
    assert_eq!(correction.flow.network.as_deref(), Some(loss));
    assert!(correction.flow.handshake_loss());
    assert_eq!(correction.flow.last_frame, 19);
    assert_eq!(
        correction.flow.notes.last().map(String::as_str),
        Some(
            format!(
                "corrected after it was reported live: {}",
                correction.reason
            )
            .as_str()
        )
    );
    let mut line = Vec::new();
    crate::report::json::render_correction_line(correction, &mut line).unwrap();
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.starts_with(r#"{"type":"correction","id":0,"changed":["network","handshake_loss"],"reason":"seen to frame 19"#),
        "{line}"
    );
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["previous"]["verdict"], "agreed");
    assert_eq!(json["previous"]["network"], serde_json::Value::Null);
    assert_eq!(json["flow"]["network"], loss);
    assert_eq!(json["flow"]["last_frame"], 19);

    // The report at the end holds the corrected flow.
    assert_eq!(report.flows.len(), 1);
    assert_eq!(report.flows[0].network.as_deref(), Some(loss));
    assert_eq!(report.flows[0].last_frame, 19);
    assert_eq!(report.summary.handshake_loss_flows, 1);
}

/// A ServerHello, then server data after 500 bytes nobody acknowledged: loss or a capture drop.
/// Judged with the capture's counters (`statistics`), as pcapng files give them at their end.
fn hole_after_server_hello(statistics: Option<crate::capture::CaptureCounters>) -> Report {
    let ch = client_hello_record();
    let sh = server_hello_record(b"h2");
    let after = 1 + sh.len() as u32 + 500;
    let ch_end = 1 + ch.len() as u32;
    let mut packets = Vec::new();
    for (client, seq, ack, payload) in [
        (true, 1u32, 1u32, &ch[..]),
        (false, 1, ch_end, &sh[..]),
        (false, after, ch_end, &[0x17u8, 3, 3, 0, 1, 0][..]),
    ] {
        let (src, dst, sport, dport) = if client {
            ([192, 0, 2, 1], [192, 0, 2, 2], 40000, 443)
        } else {
            ([192, 0, 2, 2], [192, 0, 2, 1], 443, 40000)
        };
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
    let mut summary = summary();
    summary.statistics = statistics;
    let capture = analyzer.end_capture("test", &summary);
    analyzer.into_report(vec![capture])
}

#[test]
fn data_nobody_acknowledged_is_missing_from_a_capture_that_dropped_packets() {
    let report = hole_after_server_hello(None);
    let flow = &report.flows[0];
    assert!(flow.handshake_loss());
    assert_eq!(
        flow.network.as_deref(),
        Some(
            "the handshake suffered packet loss: server data missing from the capture before frame 3"
        )
    );
    assert!(report.captures[0].warnings.is_empty());

    let counters = crate::capture::CaptureCounters {
        received: Some(40),
        interface_dropped: Some(7),
        os_dropped: None,
    };
    let report = hole_after_server_hello(Some(counters));
    let flow = &report.flows[0];
    assert!(!flow.handshake_loss());
    assert_eq!(
        flow.network.as_deref(),
        Some(
            "server data before frame 3 missing from a capture that dropped 7 packets itself (its own counters): not counted as network loss"
        )
    );
    assert_eq!(
        report.captures[0].warnings,
        [
            "the capture itself dropped 7 packets (interface 7, OS not recorded): handshake data missing from its flows is put down to these drops, not counted as network loss"
        ]
    );
    assert_eq!(
        report.captures[0].statistics,
        Some(crate::report::model::CaptureStatistics {
            received: Some(40),
            dropped: None,
            interface_dropped: Some(7),
        })
    );
    assert!(report.diagnosis.is_empty());
}

/// A client segment from port `port` carrying `payload` at sequence number `seq`.
fn client_data(port: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(port, 443, seq, 1000)
        .ack(1)
        .write(&mut packet, payload)
        .unwrap();
    packet
}

/// Over its memory budget, the table sheds in the documented order, one step at a time: the
/// buffers of the flow past its handshake, then the out-of-order data of the stalled flow,
/// then the flow without TLS, least recently active first; each affected flow says so.
#[test]
fn over_the_memory_budget_the_table_sheds_in_order() {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let packets = [
        client_packet(40000, true, &[]),     // 1: A
        client_packet(40000, false, &hello), // 2
        server_packet(
            40000,
            1,
            2 + hello.len() as u32,
            &server_hello_record(b"h2"),
        ), // 3
        client_packet(40001, true, &[]),     // 4: B
        client_data(40001, 12, &hello),      // 5: B's ClientHello behind a 10-byte hole
        client_packet(40002, true, &[]),     // 6: C, SYN only
        client_packet(40003, true, &[]),     // 7: D, SYN only
        client_packet(40004, true, &[]),     // 8: E, SYN only
        client_packet(40005, true, &[]),     // 9: F, SYN only
        client_packet(40006, true, &[]),     // 10: G, SYN only
    ];
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let tally = |a: &Analyzer| {
        let t = a.budget.tally;
        (
            t.stopped_reading_flows,
            t.out_of_order_flows,
            t.out_of_order_bytes,
            t.evicted_flows,
        )
    };
    assert_eq!(tally(&analyzer), (0, 0, 0, 0));
    // One byte over, twice: each time the next step of the order is taken.
    let over_by_one = |a: &mut Analyzer| {
        let used = a.budget.used();
        a.budget.set_limit(used - 1);
        a.relieve();
        assert!(!a.budget.over());
    };
    over_by_one(&mut analyzer);
    assert_eq!(tally(&analyzer), (1, 0, 0, 0));
    over_by_one(&mut analyzer);
    // B read on: its ClientHello, parsed, costs more than the 61 bytes that waited, so the
    // last step closes flows too: C, D and E, the least recently active flows without TLS
    // (each a compact SYN-only entry, a few hundred bytes).
    assert_eq!(tally(&analyzer), (1, 1, 61, 3));
    assert_eq!(analyzer.active_flows(), 4);
    analyzer.budget.set_limit(DEFAULT_MEMORY_BUDGET);
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(
        (
            capture.memory.stopped_reading_flows,
            capture.memory.out_of_order_flows,
            capture.memory.out_of_order_bytes,
            capture.memory.evicted_flows,
        ),
        (1, 1, 61, 3)
    );
    let report = analyzer.into_report(vec![capture]);
    let flows: Vec<(u16, VerdictKind, &str, Vec<&str>)> = report
        .flows
        .iter()
        .map(|f| {
            (
                f.client.port,
                f.verdict,
                f.detail.as_str(),
                f.notes.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(flows[0].0, 40000);
    assert_eq!(flows[0].1, VerdictKind::Agreed);
    assert_eq!(
        flows[0].3,
        [
            "alpnscope stopped reading this flow after frame 3 to stay within its memory budget (--memory), releasing 247 buffered bytes; its verdict was final, later handshake messages were not read"
        ]
    );
    assert_eq!(flows[1].0, 40001);
    assert_eq!(
        flows[1].3,
        [
            "client stream: alpnscope gave up waiting for 10 bytes missing in 1 holes at frame 5 to stay within its memory budget (--memory) and read the 61 bytes after them; the capture may hold the missing bytes later"
        ]
    );
    assert_eq!(
        (flows[2].0, flows[2].1, flows[2].2),
        (
            40002,
            VerdictKind::Incomplete,
            "alpnscope's memory budget for flow state (--memory) was used up; this flow was closed early to make room after frame 6 (no TLS record until then), so what it did next was not analysed"
        )
    );
    let evicted = |f: &(u16, VerdictKind, &str, Vec<&str>)| {
        f.2.starts_with("alpnscope's memory budget for flow state (--memory) was used up")
    };
    let ports_evicted: Vec<(u16, bool)> = flows[3..].iter().map(|f| (f.0, evicted(f))).collect();
    assert_eq!(
        ports_evicted,
        [(40003, true), (40004, true), (40005, false), (40006, false)]
    );
}

/// What a connection that only sent a SYN costs the flow table (charged to the memory budget):
/// a compact entry, so that a SYN flood fills the budget slowly. Its second packet makes it a
/// full connection.
#[test]
fn a_syn_only_connection_costs_the_table_little() {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    analyzer.frame(&frame(1, &client_packet(40000, true, &[])));
    let slot = analyzer.flows.values().next().unwrap();
    assert!(slot.connection().is_none(), "a SYN-only entry is compact");
    let total = slot.footprint(Timestamp(1000)).total;
    // The SYN's fields and flow numbers (128 bytes) and the table's overhead as measured (368).
    assert!(
        total <= 496,
        "a SYN-only connection is charged {total} bytes"
    );
    analyzer.frame(&frame(2, &client_packet(40000, false, &[])));
    let slot = analyzer.flows.values().next().unwrap();
    assert!(slot.connection().is_some(), "the second packet opens it");
}

/// A connection whose SYN is followed by thousands of SYN-only connections before its
/// ClientHello is still tracked from its SYN under a small memory budget, and judged right.
#[test]
fn a_syn_flood_does_not_push_out_a_real_connection() {
    let mut analyzer = Analyzer::new(AnalyzerOptions {
        memory: 1 << 20,
        ..AnalyzerOptions::default()
    });
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let mut packets = vec![client_packet(40000, true, &[])];
    packets.extend((40001..42001).map(|port| client_packet(port, true, &[])));
    packets.push(client_packet(40000, false, &hello));
    packets.push(server_packet(
        40000,
        1,
        2 + hello.len() as u32,
        &server_hello_record(b"h2"),
    ));
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.memory.evicted_flows, 0);
    let report = analyzer.into_report(vec![capture]);
    let flow = report
        .flows
        .iter()
        .find(|f| f.client.port == 40000)
        .unwrap();
    assert_eq!(
        (
            flow.first_frame,
            flow.verdict,
            flow.alpn_selected.as_deref()
        ),
        (1, VerdictKind::Agreed, Some("h2"))
    );
}

/// When flows whose server answered fill the memory budget, nothing is left to shed: new
/// connections are left out, counted and warned about, and memory stays within the budget.
#[test]
fn a_budget_full_of_answered_flows_leaves_new_connections_out() {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    let hello = client_hello_record();
    let packets = [
        client_packet(40000, true, &[]),
        client_packet(40000, false, &hello),
        server_packet(
            40000,
            1,
            2 + hello.len() as u32,
            &server_hello_record(b"h2"),
        ),
    ];
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    // The one answered flow alone is over this budget.
    analyzer.budget.set_limit(1024);
    for (i, port) in [40001, 40002].into_iter().enumerate() {
        analyzer.frame(&frame(4 + i as u64, &client_packet(port, true, &[])));
    }
    assert_eq!(analyzer.active_flows(), 1);
    let capture = analyzer.end_capture("test", &summary());
    assert_eq!(capture.decode.flows_not_tracked, 2);
    assert_eq!(capture.memory.refused_packets, 2);
    assert_eq!(capture.memory.evicted_flows, 0);
    assert_eq!(capture.warnings.len(), 1, "{:?}", capture.warnings);
    assert!(
        capture.warnings[0].contains(
            "left out 2 packets of new connections (not analysed): flows whose handshake had completed filled the budget; raise --memory to analyse them"
        ),
        "{:?}",
        capture.warnings
    );
}

/// Two SYN/ACKs with ISNs far apart (a SYN proxy answering first, then the server): the
/// client acknowledges the second, whose sequence space the ServerHello uses. The server stream
/// starts there — no gap, no hole — and the flow is agreed, with the two answers as a note.
#[test]
fn the_server_stream_starts_at_the_syn_ack_the_client_used() {
    let ch = client_hello_record();
    let sh = server_hello_record(b"h2");
    let (proxy_isn, server_isn) = (7u32, 2_000_000_000u32);
    let tcp = |from_client: bool| {
        let (src, dst, sport, dport) = if from_client {
            ([192, 0, 2, 1], [192, 0, 2, 2], 40000u16, 443u16)
        } else {
            ([192, 0, 2, 2], [192, 0, 2, 1], 443, 40000)
        };
        PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 0, 1000)
    };
    let build = |from_client: bool, seq: u32, ack: Option<u32>, syn: bool, payload: &[u8]| {
        let mut b = tcp(from_client);
        b = match ack {
            Some(a) => b.ack(a),
            None => b,
        };
        if syn {
            b = b.syn();
        }
        let mut packet = Vec::new();
        b.write(&mut packet, payload).unwrap();
        // PacketBuilder takes the sequence number at `tcp()`; set it in the header (IPv4
        // header 20 bytes, sequence number at TCP offset 4).
        packet[24..28].copy_from_slice(&seq.to_be_bytes());
        packet
    };
    let packets = vec![
        build(true, 100, None, true, &[]),
        build(false, proxy_isn, Some(101), true, &[]),
        build(false, server_isn, Some(101), true, &[]),
        build(true, 101, Some(server_isn + 1), false, &[]),
        build(true, 101, Some(server_isn + 1), false, &ch),
        build(
            false,
            server_isn + 1,
            Some(101 + ch.len() as u32),
            false,
            &sh,
        ),
    ];
    let report = report_of(&packets);
    let flow = &report.flows[0];
    assert_eq!(flow.verdict, VerdictKind::Agreed);
    assert_eq!(flow.alpn_selected.as_deref(), Some("h2"));
    assert_eq!(flow.evidence_frames, [5, 6]);
    assert_eq!(
        flow.notes,
        [
            "the server answered the SYN twice with different initial sequence numbers (frames 2, 3); the client used the one in frame 3"
        ]
    );
    assert!(flow.network.is_none(), "{:?}", flow.network);
}

/// A capture that ends inside a ServerHello split across segments: what it holds of the
/// ServerHello is read, and the verdict says the answer is unknown, not that the server never
/// answered (issue: a capture cut mid-record).
#[test]
fn a_capture_ending_inside_a_server_hello_reads_what_it_holds() {
    let ch = client_hello_record();
    let sh = server_hello_record(b"h2");
    let packets = [
        client_packet(40000, false, &ch),
        // The first 49 bytes of the 58-byte record: the ServerHello up to its extensions.
        server_packet(40000, 1, 2 + ch.len() as u32, &sh[..49]),
    ];
    let report = report_of(&packets);
    let flow = &report.flows[0];
    assert_eq!(flow.verdict, VerdictKind::Incomplete);
    assert_eq!(
        flow.detail,
        "the capture holds only 40 of the ServerHello's 49 bytes (frame 2; the capture ends before the rest of it): not enough to see whether it carries an ALPN extension, so the server's answer is unknown, not declined; the client offered h2; capture the whole handshake to see it"
    );
    assert_eq!(
        flow.server_hello.as_ref().map(|h| h.frames.clone()),
        Some(vec![2])
    );
}
