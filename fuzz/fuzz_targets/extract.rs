//! Arbitrary bytes as a capture file, analysed as `alpnscope analyze --all` reads it (the file
//! driver, [`alpnscope_fuzz::analyze_file`]), then every flow extracted as
//! `alpnscope analyze --all --extract OUT [--redact]` writes it ([`alpnscope::extract::extract`],
//! reading the capture file again): once plain, once redacted in each name mode (each with a
//! fresh redactor that first redacts the flow reports, as the report writer does before the
//! extract is written). Invariants:
//! - no panic, and the extract is written (the capture reads again as it read the first time);
//! - each extract reads back through the product's own reader as a whole pcapng (no warning),
//!   with as many frames as the extract says it wrote;
//! - every flow is extracted, over TCP and QUIC;
//! - its frames are exactly the input's frames that decode as a TCP segment of a reported TCP
//!   flow within its frames (the first, to the end of its handshake or its last), or as a UDP
//!   datagram of a reported QUIC flow within its frames (the first, to the client's first
//!   datagram holding a 1-RTT packet — as `alpnscope::quic::packet::packets` reads it — or its
//!   last), in input order: never a frame more (so never more frames than the input), never
//!   one left out; the plain extract has them byte for byte (bytes, time, length on the wire,
//!   link type);
//! - a redacted frame keeps the original's time, length on the wire and link type, is no longer
//!   than the original (a payload is cut at most), and still decodes as the same TCP segment
//!   (ports, sequence and acknowledgement numbers, flags) or UDP datagram (ports, a payload no
//!   longer than the original's) between the pseudonyms of the original's addresses: no IPv4
//!   or IPv6 address of the input's flows is left in a packet
//!   header, and no pseudonym is the address it stands for (but for `::1` and `::`, which name
//!   nobody and stay). That a pseudonym of one address may equal another flow's address is a
//!   coincidence of keyed digests (few addresses have as many digits in their class), not a
//!   leak, and is allowed;
//! - each MAC address of an Ethernet, Linux cooked (v1, v2) link header is replaced by a
//!   locally administered unicast one, the same original by the same stand-in.
//!
//! Searching the payload for names and addresses, as `tests/redacted_extracts.rs` does on real
//! captures, would flag random bytes: a name can sit in a TCP option or an IP header, and a
//! replacement next to other bytes can spell a name again. Those checks stay with the real
//! captures.
#![no_main]

use alpnscope::capture::{self, CaptureEvent, LinkType};
use alpnscope::decode::{Decoded, decode_frame};
use alpnscope::extract;
use alpnscope::quic::packet::{Packet as QuicPacket, packets as quic_packets};
use alpnscope::report::model::{FlowReport, Report, Transport};
use alpnscope::report::redact::{Redactor, SniMode};
use alpnscope_fuzz::{MemFile, analyze_file, analyzer_options_for, redactor};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

/// The TCP segment of a frame, as far as redaction may not change it (but its addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tcp {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    ack: u32,
    flags: u8,
}

/// A UDP datagram of a frame: its endpoints and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Udp {
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    payload: Vec<u8>,
}

/// A frame of the input or of an extract, with its TCP segment or UDP datagram when it decodes
/// as one.
#[derive(Debug, Clone)]
struct Packet {
    number: u64,
    link_type: LinkType,
    /// Nanoseconds; an extract writes times before 1970 as 0.
    timestamp: i64,
    original_len: u32,
    data: Vec<u8>,
    tcp: Option<Tcp>,
    udp: Option<Udp>,
}

/// Every frame of `bytes`, read with the product's reader, and its summary.
fn packets(
    bytes: &[u8],
) -> (
    Result<capture::CaptureSummary, capture::CaptureError>,
    Vec<Packet>,
) {
    let mut found = Vec::new();
    let summary = capture::read_capture_slice(bytes, |event| {
        let CaptureEvent::Frame(frame) = event else {
            return;
        };
        let (tcp, udp) = match decode_frame(&frame) {
            Decoded::Tcp(seg) => (
                Some(Tcp {
                    src: (seg.src_ip, seg.src_port),
                    dst: (seg.dst_ip, seg.dst_port),
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags.0,
                }),
                None,
            ),
            Decoded::Udp(d) => (
                None,
                Some(Udp {
                    src: (d.src_ip, d.src_port),
                    dst: (d.dst_ip, d.dst_port),
                    payload: d.payload.to_vec(),
                }),
            ),
            _ => (None, None),
        };
        found.push(Packet {
            number: frame.number,
            link_type: frame.link_type,
            timestamp: frame.timestamp.0.max(0),
            original_len: frame.original_len,
            data: frame.data.to_vec(),
            tcp,
            udp,
        });
    });
    (summary, found)
}

/// Whether `packet` belongs in the extract of `flows`: a TCP segment between a TCP flow's client
/// and server, from its first frame to the end of its handshake (or its last frame), or a UDP
/// datagram between a QUIC flow's, from its first frame to the end of its handshake
/// (`quic_ends`).
fn selected(packet: &Packet, flows: &[FlowReport], quic_ends: &[Option<u64>]) -> bool {
    flows.iter().zip(quic_ends).any(|(f, quic_end)| {
        let client = (f.client.ip, f.client.port);
        let server = (f.server.ip, f.server.port);
        let (src, dst, last) = match (&packet.tcp, &packet.udp, &f.tcp, f.transport) {
            (Some(tcp), _, Some(flow_tcp), Transport::Tcp) => (
                tcp.src,
                tcp.dst,
                flow_tcp.handshake_end_frame.unwrap_or(f.last_frame),
            ),
            (_, Some(udp), None, Transport::Quic) => {
                (udp.src, udp.dst, quic_end.unwrap_or(f.last_frame))
            }
            _ => return false,
        };
        (f.first_frame..=last).contains(&packet.number)
            && ((src == client && dst == server) || (src == server && dst == client))
    })
}

/// Where each QUIC flow's handshake ends in `input`: the client's first datagram of the flow
/// that holds a 1-RTT (short-header) packet. `None` for TCP flows and QUIC flows without one.
fn quic_handshake_ends(input: &[Packet], flows: &[FlowReport]) -> Vec<Option<u64>> {
    flows
        .iter()
        .map(|f| {
            if f.transport != Transport::Quic {
                return None;
            }
            let client = (f.client.ip, f.client.port);
            let server = (f.server.ip, f.server.port);
            input
                .iter()
                .filter(|p| (f.first_frame..=f.last_frame).contains(&p.number))
                .find(|p| {
                    p.udp.as_ref().is_some_and(|u| {
                        u.src == client
                            && u.dst == server
                            && quic_packets(&u.payload)
                                .any(|q| matches!(q, Ok(QuicPacket::Short { .. })))
                    })
                })
                .map(|p| p.number)
        })
        .collect()
}

/// The file extracts are written to.
fn extract_file() -> &'static MemFile {
    static FILE: OnceLock<MemFile> = OnceLock::new();
    FILE.get_or_init(|| MemFile::new(c"alpnscope-fuzz-extract.pcapng"))
}

/// Extracts every flow of `report`, redacted by `redactor` if given, and reads the extract back.
fn extract_all(report: &Report, redactor: Option<&mut Redactor>) -> Vec<Packet> {
    let ids: Vec<u64> = report.flows.iter().map(|f| f.id).collect();
    let out = extract_file();
    let written = match extract::extract(report, &ids, None, redactor, None, out.path()) {
        Ok(written) => written,
        Err(e) => panic!("the extract was not written: {e}"),
    };
    assert_eq!(written.flows, report.flows.len(), "every flow is extracted");
    let bytes = out.contents();
    let (summary, packets) = packets(&bytes);
    let summary = match summary {
        Ok(summary) => summary,
        Err(e) => panic!("the extract does not read back: {e}"),
    };
    assert_eq!(summary.format, capture::CaptureFormat::Pcapng);
    assert!(
        summary.warnings.is_empty(),
        "the extract reads back with warnings: {:?}",
        summary.warnings
    );
    assert_eq!(
        packets.len() as u64,
        written.packets,
        "the extract holds the frames it says it wrote"
    );
    packets
}

/// The MAC address fields of a link header: (start, length).
fn mac_fields(link_type: LinkType) -> &'static [(usize, usize)] {
    match link_type {
        LinkType::ETHERNET => &[(0, 6), (6, 6)],
        LinkType::LINUX_SLL => &[(6, 8)],
        LinkType::LINUX_SLL2 => &[(12, 8)],
        _ => &[],
    }
}

/// Checks a redacted extract against the frames it must hold (`expected`, from the input).
fn check_redacted(report: &Report, expected: &[&Packet], mode: SniMode) {
    let mut redactor = redactor(mode);
    // As `alpnscope analyze` does: the report writer redacts each flow, then the captures.
    for flow in &report.flows {
        redactor.redact_flow(&mut flow.clone());
    }
    redactor.redact_captures(&mut report.clone());
    let extracted = extract_all(report, Some(&mut redactor));
    assert_eq!(
        extracted.len(),
        expected.len(),
        "{mode:?}: the redacted extract holds the frames of the plain one"
    );
    let mut macs: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for (original, redacted) in expected.iter().zip(&extracted) {
        let n = original.number;
        assert_eq!(
            (
                redacted.link_type,
                redacted.timestamp,
                redacted.original_len
            ),
            (
                original.link_type,
                original.timestamp,
                original.original_len
            ),
            "{mode:?}: frame {n} keeps its link type, time and length on the wire"
        );
        assert!(
            redacted.data.len() <= original.data.len(),
            "{mode:?}: frame {n} grew from {} to {} bytes",
            original.data.len(),
            redacted.data.len()
        );
        let mut pseudonym = |(ip, port): (IpAddr, u16)| (redactor.address(ip), port);
        let addresses = match (original.tcp, redacted.tcp, &original.udp, &redacted.udp) {
            (Some(before), Some(after), _, _) => {
                let wanted = Tcp {
                    src: pseudonym(before.src),
                    dst: pseudonym(before.dst),
                    ..before
                };
                assert_eq!(
                    after, wanted,
                    "{mode:?}: frame {n} is the same segment between the pseudonyms of its \
                     addresses"
                );
                [before.src.0, before.dst.0]
            }
            (None, None, Some(before), Some(after)) => {
                assert_eq!(
                    (after.src, after.dst),
                    (pseudonym(before.src), pseudonym(before.dst)),
                    "{mode:?}: frame {n} is the same datagram between the pseudonyms of its \
                     addresses"
                );
                assert!(
                    after.payload.len() <= before.payload.len(),
                    "{mode:?}: frame {n}: the datagram's payload grew"
                );
                [before.src.0, before.dst.0]
            }
            _ => panic!(
                "{mode:?}: frame {n} no longer decodes as the same TCP segment or UDP datagram"
            ),
        };
        for ip in addresses {
            let named_nobody =
                matches!(ip, IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified());
            assert!(
                named_nobody || redactor.address(ip) != ip,
                "{mode:?}: frame {n}: {ip} is its own pseudonym"
            );
        }
        for &(at, len) in mac_fields(original.link_type) {
            let (Some(from), Some(to)) = (
                original.data.get(at..at + len),
                redacted.data.get(at..at + len),
            ) else {
                continue;
            };
            assert!(
                from != to && to[0] & 0x03 == 0x02,
                "{mode:?}: frame {n}: link address {from:02x?} became {to:02x?}, not a locally \
                 administered unicast stand-in"
            );
            let stand_in = macs.entry(from.to_vec()).or_insert_with(|| to.to_vec());
            assert!(
                stand_in == to,
                "{mode:?}: frame {n}: link address {from:02x?} has two stand-ins"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((flows, rest)) = analyze_file(data, analyzer_options_for(data)) else {
        return;
    };
    let report = Report { flows, ..rest };
    // The input as the extract reads it again.
    let (summary, input) = packets(data);
    assert!(summary.is_ok(), "the capture read once reads again");
    let quic_ends = quic_handshake_ends(&input, &report.flows);
    let expected: Vec<&Packet> = input
        .iter()
        .filter(|p| selected(p, &report.flows, &quic_ends))
        .collect();

    let plain = extract_all(&report, None);
    assert!(plain.len() <= input.len());
    assert_eq!(
        plain.len(),
        expected.len(),
        "the extract holds the frames of the flows, up to the end of their handshakes"
    );
    for (original, extracted) in expected.iter().zip(&plain) {
        assert!(
            (
                extracted.link_type,
                extracted.timestamp,
                extracted.original_len,
                &extracted.data
            ) == (
                original.link_type,
                original.timestamp,
                original.original_len,
                &original.data
            ),
            "frame {} of the input is not copied as it is",
            original.number
        );
    }
    if report.flows.is_empty() {
        return;
    }
    check_redacted(&report, &expected, SniMode::KeepSuffix);
    check_redacted(&report, &expected, SniMode::Full);
});
