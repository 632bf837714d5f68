//! The common frame read without building etherparse's whole-packet slice: a TCP segment in an
//! unfragmented IPv4 packet, or in an IPv6 packet without extension headers, on Ethernet II
//! (no VLAN tag), Linux cooked v1/v2 or raw IP, captured whole. Anything else — a tag, a
//! tunnel, a fragment, options that do not add up, a frame cut by the snaplen, UDP — is left
//! to the full decoder ([`super::decode_frame_sliced`]), and so is any doubt: where this reads a
//! frame, it gives exactly what the full decoder gives (a differential test checks every
//! fixture and corpus frame and 350,000 altered ones).
//!
//! Why: the full decoder moves etherparse's packet slice (a struct of several hundred bytes)
//! by value through every layer; on a capture of small packets that was a quarter of the
//! decoding thread's time.

use super::{Decoded, Segment, TcpFlags, segment};
use crate::capture::{Frame, LinkType};
use etherparse::TcpSlice;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EtherType of IPv4 and IPv6.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Link header lengths: Ethernet II, Linux cooked v1 and v2.
const ETHERNET_HEADER: usize = 14;
const SLL_HEADER: usize = 16;
const SLL2_HEADER: usize = 20;
/// IP protocol number of TCP.
const TCP: u8 = 6;
/// Fixed IPv6 header.
const IPV6_HEADER: usize = 40;

/// The frame's TCP segment when it is the common case described above; `None` leaves the frame
/// to the full decoder.
pub(super) fn decode<'a>(frame: &Frame<'a>) -> Option<Decoded<'a>> {
    if frame.is_truncated() {
        return None;
    }
    let ip = ip_packet(frame.link_type, frame.data)?;
    match ip.first()? >> 4 {
        4 => ipv4(ip),
        6 => ipv6(ip),
        _ => None,
    }
}

/// The IP packet after the link header, when the link header says IPv4 or IPv6 outright.
fn ip_packet(link_type: LinkType, data: &[u8]) -> Option<&[u8]> {
    let (protocol, ip) = match link_type {
        LinkType::ETHERNET => (be16(data, 12)?, data.get(ETHERNET_HEADER..)?),
        LinkType::LINUX_SLL => (be16(data, 14)?, data.get(SLL_HEADER..)?),
        LinkType::LINUX_SLL2 => (be16(data, 0)?, data.get(SLL2_HEADER..)?),
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType(12) | LinkType::IPV4 | LinkType::IPV6 => {
            return Some(data);
        }
        _ => return None,
    };
    let version = ip.first()? >> 4;
    match (protocol, version) {
        (ETHERTYPE_IPV4, 4) | (ETHERTYPE_IPV6, 6) => Some(ip),
        _ => None,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// An unfragmented IPv4 packet carrying TCP, its total length within the bytes captured.
fn ipv4(ip: &[u8]) -> Option<Decoded<'_>> {
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    if header_len < 20 || ip.len() < header_len {
        return None;
    }
    let total_len = usize::from(be16(ip, 2)?);
    // More fragments, or a fragment offset: the full decoder reassembles.
    let fragment = be16(ip, 6)? & 0x3fff;
    if total_len < header_len || total_len > ip.len() || fragment != 0 || ip[9] != TCP {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let ttl = ip[8];
    let id = be16(ip, 4)?;
    tcp(
        IpAddr::V4(src),
        IpAddr::V4(dst),
        (ttl, Some(id)),
        &ip[header_len..total_len],
    )
}

/// An IPv6 packet whose next header is TCP, its payload length within the bytes captured.
fn ipv6(ip: &[u8]) -> Option<Decoded<'_>> {
    if ip.len() < IPV6_HEADER || ip[6] != TCP {
        return None;
    }
    let payload_len = usize::from(be16(ip, 4)?);
    // A payload length of 0 (a jumbogram) leaves the length to the full decoder.
    if payload_len == 0 || IPV6_HEADER + payload_len > ip.len() {
        return None;
    }
    let address = |at: usize| -> Option<IpAddr> {
        let bytes: [u8; 16] = ip.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(bytes)))
    };
    tcp(
        address(8)?,
        address(24)?,
        (ip[7], None),
        &ip[IPV6_HEADER..IPV6_HEADER + payload_len],
    )
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The TCP segment filling `payload` (the IP payload, as long as the IP header declares). Its
/// fixed header is read in place; a SYN's options (its window scale) through etherparse.
fn tcp(
    src: IpAddr,
    dst: IpAddr,
    ttl_and_id: (u8, Option<u16>),
    payload: &[u8],
) -> Option<Decoded<'_>> {
    let flags = TcpFlags(*payload.get(13)?);
    if flags.syn() {
        let tcp = TcpSlice::from_slice(payload).ok()?;
        let wire_len = tcp.payload().len();
        return Some(Decoded::Tcp(segment(src, dst, ttl_and_id, &tcp, wire_len)));
    }
    // The data offset, in 32-bit words: at least the five of the fixed header.
    let header_len = usize::from(payload[12] >> 4) * 4;
    if header_len < 20 || payload.len() < header_len {
        return None;
    }
    let data = &payload[header_len..];
    let (ttl, ip_id) = ttl_and_id;
    Some(Decoded::Tcp(Segment {
        src_ip: src,
        dst_ip: dst,
        src_port: be16(payload, 0)?,
        dst_port: be16(payload, 2)?,
        seq: be32(payload, 4)?,
        ack: be32(payload, 8)?,
        flags,
        window: be16(payload, 14)?,
        ttl,
        ip_id,
        payload: data,
        payload_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        window_scale: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::decode_frame_sliced as decode_sliced;
    use super::*;
    use crate::capture;

    /// The frames of every fixture and of the shared corpus next to the repository (when it is
    /// there), as (link type, bytes, length on the wire).
    fn real_frames() -> Vec<(LinkType, Vec<u8>, u32)> {
        let mut paths = crate::test_fixtures::captures();
        paths.extend(crate::test_fixtures::captures_in(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/ja4/captures"
        )));
        let mut frames = Vec::new();
        for path in paths {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let _ = capture::read_capture_slice(&data, |event| {
                if let capture::CaptureEvent::Frame(f) = event {
                    frames.push((f.link_type, f.data.to_vec(), f.original_len));
                }
            });
        }
        frames
    }

    fn same(link_type: LinkType, data: &[u8], original_len: u32) -> bool {
        let frame = Frame {
            number: 1,
            timestamp: capture::Timestamp(0),
            link_type,
            data,
            original_len,
        };
        match decode(&frame) {
            Some(fast) => {
                assert_eq!(
                    format!("{fast:?}"),
                    format!("{:?}", decode_sliced(&frame)),
                    "{link_type:?} {data:02x?} {original_len}"
                );
                true
            }
            None => false,
        }
    }

    /// Every real frame the fast path reads, it reads as the full decoder does; it reads most
    /// of them.
    #[test]
    fn real_frames_decode_as_the_full_decoder_does() {
        let frames = real_frames();
        let read = frames
            .iter()
            .filter(|(link_type, data, len)| same(*link_type, data, *len))
            .count();
        assert!(frames.len() > 10_000, "{} frames", frames.len());
        assert!(
            read * 10 > frames.len() * 8,
            "{read} of {} frames",
            frames.len()
        );
    }

    /// Real frames altered (a header byte replaced, the frame cut, another link type claimed):
    /// whatever the fast path reads, it reads as the full decoder does.
    #[test]
    fn altered_frames_decode_as_the_full_decoder_does() {
        let frames = real_frames();
        let link_types = [
            LinkType::ETHERNET,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType::RAW,
            LinkType::IPV6,
            LinkType::NULL,
        ];
        // xorshift64: the same alterations every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut tried, mut read) = (0u64, 0u64);
        for (link_type, data, original_len) in &frames {
            for _ in 0..12 {
                let mut altered = data.clone();
                let mut link_type = *link_type;
                let mut original_len = *original_len;
                match next() % 4 {
                    0 | 1 if !altered.is_empty() => {
                        // A byte of the headers (the first 96 bytes) replaced, twice at most.
                        for _ in 0..=(next() % 2) {
                            let at = (next() as usize) % altered.len().min(96);
                            altered[at] = next() as u8;
                        }
                    }
                    2 => {
                        let keep = (next() as usize) % (altered.len() + 1);
                        altered.truncate(keep);
                        if next() % 2 == 0 {
                            original_len = keep as u32;
                        }
                    }
                    _ => link_type = link_types[(next() as usize) % link_types.len()],
                }
                tried += 1;
                read += u64::from(same(link_type, &altered, original_len));
            }
        }
        assert!(tried > 300_000, "{tried} altered frames");
        assert!(read > tried / 4, "{read} of {tried} altered frames read");
    }
}
