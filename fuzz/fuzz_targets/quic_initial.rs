//! One UDP payload through the QUIC layers (`alpnscope::quic`): sniffing, the packets of the
//! datagram, Initial keys derived from each long packet's own Destination Connection ID, both
//! directions' keys tried, frames, CRYPTO reassembly, the TLS handshake layer and hello parsing.
//!
//! Invariants besides "no panic":
//! - `sniff` and `packets` agree: a first packet read as a long header of a known version (or a
//!   Version Negotiation) is sniffed as that version, and a sniffed one is never read as a short
//!   header or an unknown version;
//! - the packets of a datagram are consecutive slices of it, in order;
//! - a packet that opens seals back, with the same keys, to exactly its bytes;
//! - the CRYPTO bytes handed out are the stream's contiguous prefix;
//! - a packet built and sealed here from the input (version, type, connection IDs, packet number
//!   and payload taken from it) parses back to the same fields and opens to the same payload
//!   with the sender's keys, and not with the other direction's.
#![no_main]

use alpnscope::quic::crypto::{CryptoSpaces, CryptoStream, Space};
use alpnscope::quic::frame::{Frame, frames};
use alpnscope::quic::keys::{InitialKeys, PacketKeys, verify_retry};
use alpnscope::quic::packet::{LongHeader, LongPacket, Packet, packets, sniff};
use alpnscope::quic::version::{LongType, Version};
use alpnscope::tls::handshake::{Reassembler, Step};
use alpnscope::tls::{ClientHello, HandshakeType, ServerHello};
use libfuzzer_sys::fuzz_target;

/// The client-chosen connection ID of RFC 9001 and RFC 9369 Appendix A.
const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// Versions the built packet uses, one per input byte value modulo their count.
const VERSIONS: [Version; 6] = [
    Version::V1,
    Version::V2,
    Version(0xff00_001d),
    Version(0xff00_0017),
    Version::MVFST_DRAFT_22,
    Version::MVFST_DRAFT_27,
];

fuzz_target!(|data: &[u8]| {
    check_sniff(data);
    let mut crypto = [CryptoSpaces::default(), CryptoSpaces::default()];
    let mut buf = Vec::new();
    let mut next_offset = 0;
    for packet in packets(data) {
        let Ok(packet) = packet else { break };
        match packet {
            Packet::Long(long) => {
                assert_eq!(long.offset, next_offset);
                assert_eq!(
                    data.get(long.offset..long.offset + long.bytes.len()),
                    Some(long.bytes)
                );
                next_offset = long.offset + long.bytes.len();
                open_both_ways(&long, &mut buf, &mut crypto);
            }
            Packet::Retry(retry) => {
                let _ = verify_retry(&retry, retry.dcid);
                break;
            }
            Packet::VersionNegotiation(vn) => {
                assert!(vn.versions().count() <= vn.count());
                break;
            }
            Packet::Short { offset, len } | Packet::Padding { offset, len } => {
                assert_eq!(offset, next_offset);
                assert_eq!(offset + len, data.len());
                break;
            }
            Packet::UnknownVersion { .. } => break,
        }
    }
    for spaces in &mut crypto {
        for space in [Space::Initial, Space::Handshake] {
            read_messages(spaces.get_mut(space));
        }
    }
    round_trip(data);
});

/// `sniff` against the parser's reading of the first packet.
fn check_sniff(data: &[u8]) {
    let sniffed = sniff(data);
    match packets(data).next() {
        Some(Ok(Packet::Long(_) | Packet::Retry(_))) => {
            // The version as sent; a reserved one (read with another's keys) starts a connection
            // only in a client Initial's padded datagram, as `sniff` says.
            let version = data
                .get(1..5)
                .map(|v| Version(u32::from_be_bytes([v[0], v[1], v[2], v[3]])));
            let initial_sized = data.len() >= 1200 && data[0] & 0x30 == 0;
            if version.is_some_and(|v| v.is_reserved()) && !initial_sized {
                assert_eq!(sniffed, None);
            } else {
                assert_eq!(sniffed, version);
            }
        }
        Some(Ok(Packet::VersionNegotiation(_))) => assert_eq!(sniffed, Some(Version::NEGOTIATION)),
        Some(Ok(Packet::Short { .. } | Packet::UnknownVersion { .. } | Packet::Padding { .. })) => {
            assert_eq!(sniffed, None)
        }
        Some(Err(_)) | None => {}
    }
}

/// Opens `long` with the Initial keys of its own DCID and of the RFC vectors' client DCID (so
/// the seeds' server Initials open too), client's then server's; what opens must seal back to
/// the same bytes, and its frames go to that direction's CRYPTO streams.
fn open_both_ways(long: &LongPacket<'_>, buf: &mut Vec<u8>, crypto: &mut [CryptoSpaces; 2]) {
    for dcid in [long.dcid, &RFC_DCID] {
        let Ok(keys) = InitialKeys::derive(long.version, dcid) else {
            panic!("Initial keys always derive");
        };
        for (side, keys) in [&keys.client, &keys.server].into_iter().enumerate() {
            let Ok(opened) = keys.open_long(long, None, buf) else {
                continue;
            };
            let (header, pn, payload) = (
                opened.header.to_vec(),
                opened.packet_number,
                opened.payload.to_vec(),
            );
            assert_eq!(
                keys.seal(&header, long.pn_offset, pn, &payload).as_deref(),
                Ok(long.bytes)
            );
            if let Some(space) = Space::of(long.ty) {
                read_frames(&payload, crypto[side].get_mut(space));
            }
        }
    }
}

/// Walks the frames of a payload, CRYPTO data into `stream`.
fn read_frames(payload: &[u8], stream: &mut CryptoStream) {
    for frame in frames(payload) {
        match frame {
            Ok(Frame::Crypto { offset, data }) => stream.insert(1, offset, data),
            Ok(Frame::ConnectionClose(close)) => {
                let _ = close.tls_alert();
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// Hands a stream's contiguous bytes to the TLS handshake layer and parses what completes.
fn read_messages(stream: &mut CryptoStream) {
    let before = stream.delivered() as usize;
    let prefix = stream.contiguous().to_vec();
    let mut handed = Vec::new();
    let mut reassembler = Reassembler::default();
    stream.read_new(|frame, mut bytes| {
        handed.extend_from_slice(bytes);
        while !bytes.is_empty() {
            let (step, rest) = reassembler.read(frame, bytes, false);
            if let Step::Done(message) = step {
                if message.ty == HandshakeType::CLIENT_HELLO {
                    let _ = ClientHello::parse(&message.body);
                } else if message.ty == HandshakeType::SERVER_HELLO {
                    let _ = ServerHello::parse(&message.body);
                }
            }
            bytes = rest;
        }
    });
    assert_eq!(prefix.get(before..), Some(handed.as_slice()));
}

/// Builds a packet from the input, seals it, reads and opens it back.
fn round_trip(data: &[u8]) {
    let [v, flags, dcid_len, pn_lo, rest @ ..] = data else {
        return;
    };
    let Some(version) = VERSIONS[usize::from(*v) % VERSIONS.len()].known() else {
        panic!("the listed versions are known");
    };
    let ty = if flags & 1 == 0 {
        LongType::Initial
    } else {
        LongType::Handshake
    };
    let pn_len = usize::from(flags >> 1 & 3) + 1;
    let (dcid, rest) = rest.split_at(usize::from(*dcid_len % 21).min(rest.len()));
    let (token, payload) = rest.split_at(usize::from(flags >> 3).min(rest.len()));
    // At least 4 bytes of packet number and payload for the header protection sample.
    let mut payload = payload.to_vec();
    payload.resize(payload.len().max(4 - pn_len.min(4)), 0);
    let packet_number = u64::from(*pn_lo) + u64::from(*v) * 256;
    // The token doubles as the source connection ID (at most 20 bytes).
    let scid = token.get(..20).unwrap_or(token);
    let header = LongHeader {
        version,
        ty,
        dcid,
        scid,
        token,
    };
    let keys = match InitialKeys::derive(version, dcid) {
        Ok(keys) => keys,
        Err(e) => panic!("Initial keys always derive: {e}"),
    };
    let sealed = seal(&keys.client, &header, packet_number, pn_len, &payload);
    let Some(Ok(Packet::Long(long))) = packets(&sealed).next() else {
        panic!("a built packet parses");
    };
    assert_eq!(
        (long.version, long.ty, long.dcid, long.scid),
        (version, ty, dcid, scid)
    );
    assert_eq!(
        long.token,
        if ty == LongType::Initial {
            token
        } else {
            &[] as &[u8]
        }
    );
    assert_eq!(long.bytes, sealed.as_slice());
    let mut buf = Vec::new();
    let largest = packet_number.checked_sub(1);
    let opened = keys
        .client
        .open_long(&long, largest, &mut buf)
        .map(|o| (o.packet_number, o.payload.to_vec()));
    assert_eq!(opened, Ok((packet_number, payload.clone())));
    assert!(keys.server.open_long(&long, largest, &mut buf).is_err());
    // The fuzzed payload as frames of an opened packet.
    let mut stream = CryptoStream::new();
    read_frames(&payload, &mut stream);
    read_messages(&mut stream);
}

fn seal(
    keys: &PacketKeys,
    header: &LongHeader<'_>,
    pn: u64,
    pn_len: usize,
    payload: &[u8],
) -> Vec<u8> {
    match keys.seal_long(header, pn, pn_len, payload) {
        Ok(sealed) => sealed,
        Err(e) => panic!("a padded payload seals: {e}"),
    }
}
