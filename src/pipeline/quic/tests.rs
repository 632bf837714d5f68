//! The QUIC connection on hand-built packets: the edge cases the fixtures do not reach.

use super::super::tests::summary;
use super::super::{Analyzer, AnalyzerOptions, Slot};
use crate::capture::{Frame, LinkType, Timestamp};
use crate::quic::keys::InitialKeys;
use crate::quic::packet::LongHeader;
use crate::quic::version::{KnownVersion, LongType};
use crate::quic::wire::put_varint;
use crate::report::model::Report;
use crate::tls::testing::client_hello_message;
use etherparse::PacketBuilder;

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

/// An IPv4 UDP packet from `src` to `dst` (ports 50000 and 443) carrying `payload`.
fn udp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let (sport, dport) = if src == CLIENT {
        (50000, 443)
    } else {
        (443, 50000)
    };
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A CRYPTO frame carrying `data` from offset 0.
fn crypto(data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x06];
    put_varint(&mut frame, 0);
    put_varint(&mut frame, data.len() as u64);
    frame.extend_from_slice(data);
    frame
}

/// A client Initial of version 1 to `dcid` with packet number `pn`, carrying a ClientHello
/// offering h3 from CRYPTO offset 0, padded to 1200 bytes.
fn client_initial(dcid: &[u8], pn: u64) -> Vec<u8> {
    client_initial_offering(dcid, pn, &[b"h3"])
}

/// [`client_initial`] with a ClientHello offering `alpn` (random: 32 bytes of 1).
fn client_initial_offering(dcid: &[u8], pn: u64, alpn: &[&[u8]]) -> Vec<u8> {
    let mut payload = crypto(&client_hello_message(alpn));
    payload.resize(1100, 0);
    let keys = InitialKeys::derive(KnownVersion::V1, dcid).unwrap();
    let header = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid,
        scid: &[0xc1; 8],
        token: &[],
    };
    let packet = keys.client.seal_long(&header, pn, 2, &payload).unwrap();
    udp(CLIENT, SERVER, &packet)
}

fn frame(number: u64, data: &[u8]) -> Frame<'_> {
    Frame {
        number,
        timestamp: Timestamp(number as i64 * 1_000_000),
        link_type: LinkType::RAW,
        data,
        original_len: data.len() as u32,
    }
}

/// Frames 1, 2, … through one analyzer; the analyzer before the capture ends, for a look.
fn analyzer_of(packets: &[Vec<u8>]) -> Analyzer {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    analyzer
}

fn report_of(packets: &[Vec<u8>]) -> Report {
    let mut analyzer = analyzer_of(packets);
    let capture = analyzer.end_capture("test", &summary());
    analyzer.into_report(vec![capture])
}

/// UDP that is not a QUIC long header of a known version starts no flow and is counted as
/// other IP, as before QUIC was read: a DNS query, a short-header packet, a Version
/// Negotiation packet (only an answer), a long header of an unknown version.
#[test]
fn udp_that_starts_no_quic_connection_is_other_ip() {
    let mut vn = vec![0x80, 0, 0, 0, 0, 8];
    vn.extend_from_slice(&[1; 8]);
    vn.extend_from_slice(&[8, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1]);
    let mut unknown = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
    unknown.extend_from_slice(&[1; 8]);
    unknown.extend_from_slice(&[0; 40]);
    let packets = [
        udp(
            CLIENT,
            SERVER,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00",
        ),
        udp(CLIENT, SERVER, &[0x40; 60]),
        udp(SERVER, CLIENT, &vn),
        udp(CLIENT, SERVER, &unknown),
    ];
    let report = report_of(&packets);
    assert!(report.flows.is_empty());
    let decode = report.captures[0].decode;
    assert_eq!((decode.quic, decode.other_ip), (0, 4));
}

/// A client Initial in a reserved version (0x?a?a?a?a, RFC 9000 §15), sent to force Version
/// Negotiation, opens with version 1's keys as Wireshark reads it: its offer is reported (real
/// bytes from nDPI's quic_interop_V.pcapng, compared with tshark's SNI and ALPN list).
#[test]
fn a_reserved_version_initial_is_read_with_v1_keys() {
    let initial = crate::quic::testdata::ndpi_reserved_version_initial();
    let report = report_of(&[udp(CLIENT, SERVER, &initial)]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(flow.sni.as_deref(), Some("nghttp2.org"), "{}", flow.detail);
    assert_eq!(
        flow.alpn_offered,
        [
            "hq-30", "h3-30", "hq-29", "h3-29", "hq-28", "h3-28", "hq-27", "h3-27"
        ]
    );
    let quic = flow.quic.as_ref().unwrap();
    assert_eq!(quic.version.as_deref(), Some("0x0a0a0a0a"));
    assert_eq!(quic.version_name, None);
    assert_eq!(quic.client_dcid.as_deref(), Some("c18ef59ef8c3c544"));
    // One that does not open (a byte of its payload changed) is no fault: a reserved version
    // defines no keys, so it is not counted as an Initial that failed to open.
    let mut damaged = initial.clone();
    damaged[600] ^= 1;
    let report = report_of(&[udp(CLIENT, SERVER, &damaged)]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    let quic = flow.quic.as_ref().unwrap();
    assert_eq!(quic.undecryptable_initials.count, 0);
    assert!(flow.notes.is_empty(), "{:?}", flow.notes);
}

/// A Google QUIC T051 client Initial (own salt, CRYPTO frame type 0x08) is read as Wireshark
/// reads it (real bytes from nDPI's quic_t51.pcap; tshark shows this SNI and ALPN).
#[test]
fn a_gquic_t051_initial_is_read() {
    let initial = crate::quic::testdata::ndpi_gquic_t051_initial();
    let report = report_of(&[udp(CLIENT, SERVER, &initial)]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(
        flow.sni.as_deref(),
        Some("www.google.com"),
        "{}",
        flow.detail
    );
    assert_eq!(flow.alpn_offered, ["h3-T051"]);
    let quic = flow.quic.as_ref().unwrap();
    assert_eq!(quic.version.as_deref(), Some("0x54303531"));
    assert_eq!(quic.version_name.as_deref(), Some("gQUIC T051"));
    assert_eq!(quic.client_dcid.as_deref(), Some("ff9415b5b005860d"));
}

/// A HelloRetryRequest in the server's Initial is not the ServerHello: the client's second
/// ClientHello and the real ServerHello follow in the same CRYPTO streams (real bytes: frames
/// 1–6 of nDPI's quic-29.pcap, draft-29 with a Retry first; tshark shows the HelloRetryRequest
/// in frame 4, the second ClientHello in frame 5, the ServerHello in frame 6).
#[test]
fn a_hello_retry_request_is_not_the_server_hello() {
    let packets: Vec<Vec<u8>> = include_str!("../../quic/testdata/ndpi-draft29-retry-hrr.txt")
        .lines()
        .map(|line| {
            let (side, hex) = line.split_once(' ').unwrap();
            let payload = crate::quic::testdata::hex(hex);
            if side == "c" {
                udp(CLIENT, SERVER, &payload)
            } else {
                udp(SERVER, CLIENT, &payload)
            }
        })
        .collect();
    let report = report_of(&packets);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(
        flow.verdict,
        crate::analysis::VerdictKind::Hidden,
        "{}",
        flow.detail
    );
    assert_eq!(flow.server_hello.as_ref().unwrap().frames, [6]);
    let hello = flow.client_hello.as_ref().unwrap();
    assert!(hello.after_hello_retry_request);
    assert_eq!(hello.frames, [5]);
    assert_eq!(flow.alpn_offered, ["h3-29"]);
}

/// Frames at the given times (seconds), through one analyzer, each cut to `keep` bytes when
/// given (the frame's original length stays whole, as a snaplen leaves it).
fn report_at(packets: &[(i64, Vec<u8>, Option<usize>)]) -> Report {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    for (i, (seconds, packet, keep)) in packets.iter().enumerate() {
        let data = &packet[..keep.unwrap_or(packet.len()).min(packet.len())];
        analyzer.frame(&Frame {
            number: i as u64 + 1,
            timestamp: Timestamp(seconds * 1_000_000_000),
            link_type: LinkType::RAW,
            data,
            original_len: packet.len() as u32,
        });
    }
    let capture = analyzer.end_capture("test", &summary());
    analyzer.into_report(vec![capture])
}

/// Initial packets the capture cut short (a snaplen) do not open: the verdict says so and
/// asks for whole packets, instead of calling the client's first Initial missing.
#[test]
fn cut_initials_ask_for_whole_packets() {
    let dcid = [0xd1; 8];
    let report = report_at(&[
        (1, client_initial(&dcid, 0), Some(256)),
        (2, client_initial(&dcid, 1), Some(256)),
    ]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(
        flow.detail,
        "no ClientHello could be read: the capture cut 2 of this connection's datagrams short (first in frame 1: a snaplen), and a QUIC packet opens only whole, so the offer is unknown; capture whole packets (tcpdump -s 0)"
    );
    assert_eq!(flow.evidence_frames, [1]);
}

/// A capture whose clock runs backwards after unanswered Initials (merged or synthetic
/// captures) gets no "N ms before the end" with a negative N.
#[test]
fn unanswered_initials_before_a_clock_that_runs_backwards() {
    let dcid = [0xd1; 8];
    // Another host's datagram, stamped long before.
    let mut other = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 9], [10, 0, 0, 10], 64)
        .udp(5353, 53)
        .write(&mut other, b"\x12\x34\x01\x00")
        .unwrap();
    let report = report_at(&[
        (100, client_initial(&dcid, 0), None),
        (101, client_initial(&dcid, 1), None),
        (5, other, None),
    ]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(
        flow.detail,
        "no answer from the server in the capture: the client sent 2 Initial packets (frames 1–2), and the capture's timestamps run backwards after them, so how long it went on without an answer is unknown"
    );
}

/// A client that sends its Initial five times: one connection, Initial keys derived once
/// (not per packet), four copies counted as re-sent.
#[test]
fn initial_keys_are_derived_once_per_connection() {
    let dcid = [0xd1; 8];
    let packets: Vec<Vec<u8>> = (0..5).map(|pn| client_initial(&dcid, pn)).collect();
    let analyzer = analyzer_of(&packets);
    let [Slot::Quic(connection)] = analyzer.flows.values().collect::<Vec<_>>()[..] else {
        panic!("one QUIC connection");
    };
    assert_eq!(connection.initial_keys.len(), 1);
    assert_eq!(connection.facts.client_initials.frames, [1, 2, 3, 4, 5]);
    assert_eq!(connection.facts.resent_client_initials.frames, [2, 3, 4, 5]);
    assert_eq!(connection.client_hellos.len(), 1);
}

/// A new client Initial on the same 4-tuple with another Destination Connection ID and a new
/// ClientHello starts a new connection (as TCP port reuse does); the first is finished, and
/// the two are numbered in order of first packet.
#[test]
fn a_new_client_initial_on_the_same_ports_is_a_new_connection() {
    let packets = [
        client_initial(&[0xd1; 8], 0),
        client_initial(&[0xd1; 8], 1),
        client_initial(&[0xd2; 8], 0),
    ];
    let report = report_of(&packets);
    let flows: Vec<(u64, u64, u64, Option<String>)> = report
        .flows
        .iter()
        .map(|f| {
            let quic = f.quic.as_ref().unwrap();
            (
                f.id,
                quic.connection_number,
                f.first_frame,
                quic.client_dcid.clone(),
            )
        })
        .collect();
    assert_eq!(
        flows,
        [
            (0, 0, 1, Some("d1d1d1d1d1d1d1d1".to_string())),
            (1, 1, 3, Some("d2d2d2d2d2d2d2d2".to_string())),
        ]
    );
    assert_eq!(report.flows[0].last_frame, 2);
}

/// A Retry whose integrity tag does not match the client's original connection ID is reported
/// as invalid, and the handshake that went no further is incomplete, naming the Retry.
#[test]
fn a_retry_with_a_wrong_tag_is_reported_invalid() {
    let dcid = [0xd1; 8];
    let mut retry = vec![0xf0, 0, 0, 0, 1, 8];
    retry.extend_from_slice(&[0xc1; 8]); // the client's SCID
    retry.push(8);
    retry.extend_from_slice(&[0x5e; 8]); // the new connection ID
    retry.extend_from_slice(b"token");
    retry.extend_from_slice(&[0xaa; 16]);
    let packets = [client_initial(&dcid, 0), udp(SERVER, CLIENT, &retry)];
    let report = report_of(&packets);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    let retry = flow.quic.as_ref().unwrap().retry.as_ref().unwrap();
    assert_eq!((retry.frame, retry.scid.as_str()), (2, "5e5e5e5e5e5e5e5e"));
    assert_eq!(
        retry.integrity,
        crate::report::model::RetryIntegrityReport::Invalid
    );
    assert_eq!(
        flow.detail,
        "no ServerHello: the server sent a Retry (frame 2) and answered none of the client's Initial packets after it in the capture"
    );
    assert_eq!(flow.evidence_frames, [1, 2]);
}

/// A server Initial whose connection's first client Initial is not in the capture cannot be
/// opened: the flow is reported without an offer, saying why. Keys from its own connection ID
/// are tried once, not for each copy.
#[test]
fn a_server_initial_without_the_client_initial_is_unreadable() {
    let dcid = [0xd1; 8];
    let keys = InitialKeys::derive(KnownVersion::V1, &dcid).unwrap();
    let header = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid: &[0xc1; 8],
        scid: &[0x5e; 8],
        token: &[],
    };
    let packets: Vec<Vec<u8>> = (0..3)
        .map(|pn| {
            udp(
                SERVER,
                CLIENT,
                &keys.server.seal_long(&header, pn, 2, &[0; 100]).unwrap(),
            )
        })
        .collect();
    let analyzer = analyzer_of(&packets);
    let [Slot::Quic(connection)] = analyzer.flows.values().collect::<Vec<_>>()[..] else {
        panic!("one QUIC connection");
    };
    assert_eq!(
        (connection.probed.len(), connection.initial_keys.len()),
        (1, 0)
    );
    let report = report_of(&packets[..1]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(flow.verdict, crate::analysis::VerdictKind::Incomplete);
    assert_eq!(
        flow.detail,
        "no ClientHello could be read: 1 Initial packet (first in frame 1) did not open with the keys of its connection ID, and the client's first Initial is not in the capture (it began after the connection started, or missed it), so the offer is unknown"
    );
    assert_eq!((flow.client.port, flow.server.port), (50000, 443));
}

/// A client offering only a draft HTTP/3 token gets the note that servers dropped the drafts.
#[test]
fn an_offer_of_draft_tokens_only_is_noted() {
    let report = report_of(&[client_initial_offering(&[0xd1; 8], 0, &[b"h3-29"])]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(flow.alpn_offered, ["h3-29"]);
    assert_eq!(
        flow.notes,
        [
            "the client offered only draft HTTP/3 tokens (h3-29): servers have dropped the drafts since RFC 9114 (h3); a current client offers h3"
        ]
    );
    assert_eq!(
        flow.client_hello.as_ref().and_then(|h| h.ja4.as_deref()),
        Some("q12i0101h9_0f2cb44170f4_000000000000"),
        "JA4 over QUIC: q, TLS 1.2 (no supported_versions), no SNI, h3-29 as h9"
    );
}

/// A key log with this ClientHello's secrets that do not open its Handshake packets: the
/// selection stays hidden, and the detail says the secrets did not open them rather than
/// advising to log keys.
#[test]
fn handshake_secrets_that_do_not_open_the_handshake_packets_are_named() {
    use crate::quic::keys::PacketKeys;
    let dcid = [0xd1; 8];
    let keys = InitialKeys::derive(KnownVersion::V1, &dcid).unwrap();
    let server_hello = &crate::tls::testing::tls13_server_hello_record()[5..];
    let mut payload = crypto(server_hello);
    payload.resize(100, 0);
    let initial = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid: &[0xc1; 8],
        scid: &[0x5e; 8],
        token: &[],
    };
    let mut datagram = keys.server.seal_long(&initial, 0, 2, &payload).unwrap();
    let handshake = LongHeader {
        ty: LongType::Handshake,
        ..initial
    };
    let wrong = PacketKeys::from_tls_secret(0x1301, KnownVersion::V1, &[7; 32]).unwrap();
    datagram.extend(wrong.seal_long(&handshake, 0, 2, &[0; 60]).unwrap());
    let packets = [client_initial(&dcid, 0), udp(SERVER, CLIENT, &datagram)];

    let random = "01".repeat(32);
    let secret = "02".repeat(32);
    let log = format!(
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET {random} {secret}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {random} {secret}\n"
    );
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.add_key_log(&log).unwrap();
    analyzer.begin_capture(0);
    for (i, packet) in packets.iter().enumerate() {
        analyzer.frame(&frame(i as u64 + 1, packet));
    }
    let capture = analyzer.end_capture("test", &summary());
    let report = analyzer.into_report(vec![capture]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(flow.verdict, crate::analysis::VerdictKind::Hidden);
    assert_eq!(
        flow.detail,
        "TLS 1.3 over QUIC: the server's choice among h3 is in the encrypted EncryptedExtensions, and the key log has this connection's handshake secrets, but they opened none of its 1 Handshake packets (first in frame 2): the secrets do not belong to this connection, or the cipher suite is not one this tool opens for QUIC"
    );
}

/// The end of the handshake without keys is the client's first short-header packet: bytes
/// after a client's long-header packets count only when they carry the same Destination
/// Connection ID (frame 3's trailing bytes do not, frame 4's do); a datagram that starts with a
/// short header is one. Times count from the client's first Initial.
#[test]
fn without_keys_a_client_short_header_ends_the_handshake() {
    let dcid = [0xd1; 8];
    let keys = InitialKeys::derive(KnownVersion::V1, &dcid).unwrap();
    let server_header = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid: &[0xc1; 8],
        scid: &[0x5e; 8],
        token: &[],
    };
    let client_header = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid: &[0x5e; 8],
        scid: &[0xc1; 8],
        token: &[],
    };
    let client_with = |pn: u64, tail: &[u8]| {
        let mut datagram = keys
            .client
            .seal_long(&client_header, pn, 2, &[0; 60])
            .unwrap();
        datagram.extend_from_slice(tail);
        udp(CLIENT, SERVER, &datagram)
    };
    let mut short = vec![0x41];
    short.extend_from_slice(&[0x5e; 8]);
    short.extend_from_slice(&[0x77; 30]);
    let packets = [
        client_initial(&dcid, 0),
        udp(
            SERVER,
            CLIENT,
            &keys
                .server
                .seal_long(&server_header, 0, 2, &[0; 100])
                .unwrap(),
        ),
        client_with(1, &[0x33; 40]),
        client_with(2, &short),
        udp(CLIENT, SERVER, &short),
    ];
    let report = report_of(&packets);
    let quic = report.flows[0].quic.as_ref().unwrap();
    assert_eq!(quic.one_rtt_packets, 3);
    assert_eq!(quic.handshake_end_frame, Some(4));
    assert_eq!(quic.handshake_ms, Some(3.0));
    assert_eq!(
        quic.handshake_end_evidence,
        Some(crate::report::model::HandshakeEndEvidenceReport::ClientFirstShortHeader)
    );
    let report = report_of(&[packets[0].clone(), packets[1].clone(), packets[4].clone()]);
    let quic = report.flows[0].quic.as_ref().unwrap();
    assert_eq!(quic.handshake_end_frame, Some(3));
    let report = report_of(&packets[..3]);
    let quic = report.flows[0].quic.as_ref().unwrap();
    assert_eq!(quic.handshake_end_frame, None);
    // A stray server Initial (of another connection ID) first: the times still count from the
    // client's first Initial (frame 2), not from the flow's first packet.
    let other = InitialKeys::derive(KnownVersion::V1, &[0xee; 8]).unwrap();
    let stray = udp(
        SERVER,
        CLIENT,
        &other
            .server
            .seal_long(&server_header, 0, 2, &[0; 100])
            .unwrap(),
    );
    let mut later = vec![stray];
    later.extend(packets.iter().cloned());
    let report = report_of(&later);
    let flow = &report.flows[0];
    let quic = flow.quic.as_ref().unwrap();
    assert_eq!(flow.first_frame, 1);
    assert_eq!(quic.undecryptable_initials.frames, [1]);
    assert_eq!(quic.server_initial_ms, Some(1.0));
    assert_eq!(quic.handshake_end_frame, Some(5));
    assert_eq!(quic.handshake_ms, Some(3.0));
}

/// A cut Initial names the client only until a packet of the other side says otherwise: a
/// capture that starts with the server's Initial cut short, then the client's whole Initial,
/// is read with the client's keys and the client on the right side.
#[test]
fn a_cut_initial_of_the_server_does_not_make_it_the_client() {
    let dcid = [0xd1; 8];
    let keys = InitialKeys::derive(KnownVersion::V1, &dcid).unwrap();
    let header = LongHeader {
        version: KnownVersion::V1,
        ty: LongType::Initial,
        dcid: &[0xc1; 8],
        scid: &[0x5e; 8],
        token: &[],
    };
    let server = udp(
        SERVER,
        CLIENT,
        &keys.server.seal_long(&header, 0, 2, &[0; 1100]).unwrap(),
    );
    let report = report_at(&[(1, server, Some(300)), (2, client_initial(&dcid, 0), None)]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!((flow.client.port, flow.server.port), (50000, 443));
    assert_eq!(flow.alpn_offered, ["h3"]);
    let quic = flow.quic.as_ref().unwrap();
    assert_eq!(quic.client_dcid.as_deref(), Some("d1d1d1d1d1d1d1d1"));
    assert_eq!(quic.client_initials.frames, [2]);
}

/// A client forcing Version Negotiation with a reserved version whose Initial no key opens,
/// the server's Version Negotiation, then the client's v1 Initial: the negotiation is recorded,
/// the client is the side the server answered, and its v1 Initial is read.
#[test]
fn version_negotiation_after_an_unopened_reserved_initial_is_recorded() {
    let mut reserved = crate::quic::testdata::ndpi_reserved_version_initial();
    reserved[600] ^= 1;
    // Version Negotiation: form bit, version 0, the client's connection IDs swapped, QUIC v1.
    let mut vn = vec![0x80, 0, 0, 0, 0];
    let (dcid_len, scid_at) = (usize::from(reserved[5]), 6 + usize::from(reserved[5]));
    let scid = &reserved[scid_at + 1..scid_at + 1 + usize::from(reserved[scid_at])];
    vn.push(scid.len() as u8);
    vn.extend_from_slice(scid);
    vn.push(dcid_len as u8);
    vn.extend_from_slice(&reserved[6..6 + dcid_len]);
    vn.extend_from_slice(&[0, 0, 0, 1]);
    let dcid = [0xd1; 8];
    let report = report_of(&[
        udp(CLIENT, SERVER, &reserved),
        udp(SERVER, CLIENT, &vn),
        client_initial(&dcid, 0),
    ]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!((flow.client.port, flow.server.port), (50000, 443));
    assert_eq!(flow.alpn_offered, ["h3"]);
    let quic = flow.quic.as_ref().unwrap();
    let negotiation = quic.version_negotiation.as_ref().unwrap();
    assert_eq!(
        (negotiation.frame, &negotiation.versions[..]),
        (2, &["0x00000001".to_string()][..])
    );
    // No server Initial: the version is the client's first, the reserved one.
    assert_eq!(quic.version.as_deref(), Some("0x0a0a0a0a"));
    assert_eq!(quic.client_initials.frames, [1, 3]);
    assert_eq!(quic.client_dcid.as_deref(), Some("d1d1d1d1d1d1d1d1"));
}

/// Live use (`--await-keys`): the Handshake packets of a QUIC connection whose key log is
/// written after its handshake are held; the flow waits for the keys, and when they come the
/// EncryptedExtensions are read: h3 agreed. Without them, the selection stays hidden.
#[test]
fn quic_handshake_packets_wait_for_late_keys() {
    use super::super::{FlowReport, Streamed};
    use crate::capture::CaptureEvent;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
    let capture = std::fs::read(format!("{dir}quic-h3-agreed.pcap")).unwrap();
    let keys = std::fs::read_to_string(format!("{dir}quic-h3-agreed.keys")).unwrap();
    let read = |analyzer: &mut Analyzer| {
        analyzer.begin_capture(0);
        crate::capture::read_capture(&capture[..], |event| {
            if let CaptureEvent::Frame(frame) = event {
                analyzer.frame(&frame);
            }
        })
        .unwrap();
    };
    let options = AnalyzerOptions {
        stream: true,
        await_keys: true,
        ..AnalyzerOptions::default()
    };
    let mut analyzer = Analyzer::new(options.clone());
    read(&mut analyzer);
    // The whole connection is in (8 frames within 20 ms): it still waits for its keys.
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
    let [flow] = &ready[..] else {
        panic!("one flow ready: {ready:?}");
    };
    assert_eq!(flow.alpn_selected.as_deref(), Some("h3"));
    assert_eq!(flow.verdict, crate::analysis::VerdictKind::Agreed);
    assert_eq!(
        flow.decryption,
        Some(crate::report::model::Decryption::Decrypted)
    );

    // The keys never come: hidden, the key log having no entry for the connection.
    let mut analyzer = Analyzer::new(options);
    read(&mut analyzer);
    let capture = analyzer.end_capture("test", &summary());
    let report = analyzer.into_report(vec![capture]);
    let [flow] = &report.flows[..] else {
        panic!("one flow");
    };
    assert_eq!(flow.verdict, crate::analysis::VerdictKind::Hidden);
    assert_eq!(
        flow.decryption,
        Some(crate::report::model::Decryption::NoEntry)
    );
}

/// A real HTTP/3 connection read with its key log (so Handshake packets are opened too), then
/// its 1-RTT datagrams a thousand times more, as a bulk transfer sends them: only the Initial
/// and Handshake packets of the first three datagrams are opened (the client's first Initial
/// twice: once to learn that it is the client's, once to read it), and no short-header packet
/// ever is — the 5,010 of them are only counted.
#[test]
fn one_rtt_packets_are_never_decrypted() {
    use crate::capture::CaptureEvent;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
    let capture = std::fs::read(format!("{dir}quic-h3-agreed.pcap")).unwrap();
    let keys = std::fs::read_to_string(format!("{dir}quic-h3-agreed.keys")).unwrap();
    let mut frames: Vec<(u64, Timestamp, LinkType, Vec<u8>)> = Vec::new();
    crate::capture::read_capture(&capture[..], |event| {
        if let CaptureEvent::Frame(f) = event {
            frames.push((f.number, f.timestamp, f.link_type, f.data.to_vec()));
        }
    })
    .unwrap();
    assert_eq!(frames.len(), 8);
    // Frames 4 to 8 hold only short-header packets: sent again and again after the capture.
    let one_rtt = frames[3..].to_vec();
    for round in 0..1000 {
        for (number, time, link_type, data) in &one_rtt {
            let number = number + 5 * (round + 1);
            frames.push((number, *time, *link_type, data.clone()));
        }
    }
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.add_key_log(&keys).unwrap();
    analyzer.begin_capture(0);
    let decryptions = |analyzer: &Analyzer| match analyzer.flows.values().next() {
        Some(Slot::Quic(c)) => (c.facts.decryptions, c.facts.one_rtt_packets),
        _ => panic!("one QUIC connection"),
    };
    let mut per_frame = Vec::new();
    let mut before = 0;
    for (number, timestamp, link_type, data) in &frames {
        analyzer.frame(&Frame {
            number: *number,
            timestamp: *timestamp,
            link_type: *link_type,
            data,
            original_len: data.len() as u32,
        });
        let (after, _) = decryptions(&analyzer);
        per_frame.push(after - before);
        before = after;
    }
    assert_eq!(per_frame[..8], [2, 2, 2, 0, 0, 0, 0, 0]);
    assert!(per_frame[8..].iter().all(|d| *d == 0));
    assert_eq!(decryptions(&analyzer), (6, 2 + 5 + 5000));
    let capture = analyzer.end_capture("quic-h3-agreed.pcap", &summary());
    let report = analyzer.into_report(vec![capture]);
    assert_eq!(report.flows[0].alpn_selected.as_deref(), Some("h3"));
}
