//! Link layer → IP → TCP/UDP: a captured frame in, a [`Segment`] or [`UdpDatagram`] view (or the
//! reason there is none) out.
//!
//! Parsing is lax (etherparse's `LaxSlicedPacket`): a frame cut by the snaplen is decoded as far
//! as its bytes go, and the segment keeps both the captured payload and the payload length the IP
//! header declares, so reassembly can tell missing bytes from absent ones. Link headers etherparse
//! lacks (SLL2, NULL, LOOP) are read by hand in [`link`]. Nothing here panics on any input: every
//! length is checked before it is used, and bad frames come back as [`Decoded::Malformed`].

mod defrag;
pub mod link;

pub use defrag::{Datagram, Defragmenter, Fragment};

use crate::capture::{Frame, LinkType};
use etherparse::err::packet::SliceError;
use etherparse::err::tcp::HeaderSliceError as TcpHeaderSliceError;
use etherparse::{
    Ipv6ExtensionSlice, LaxIpPayloadSlice, LaxIpv4Slice, LaxIpv6Slice, LaxNetSlice,
    LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice,
};
use std::fmt;
use std::net::IpAddr;

/// TCP flag bits as they appear in the header's flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;

    /// True when every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    /// FIN set.
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
}

/// A TCP segment decoded from one frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    pub dst_ip: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Advertised window (unscaled).
    pub window: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification field; `None` for IPv6 (which has none outside fragments) and for a
    /// datagram reassembled from fragments.
    pub ip_id: Option<u16>,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire (≥ `payload.len()` when the snaplen cut the frame).
    pub payload_len: u32,
    /// Window scale shift announced in a SYN's options (RFC 7323 §2.2).
    pub window_scale: Option<u8>,
}

/// A UDP datagram decoded from one frame (or from reassembled IP fragments).
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    pub dst_ip: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire (≥ `payload.len()` when the snaplen cut the frame).
    pub payload_len: u32,
}

/// Which layer a malformed frame failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The link header (Ethernet, SLL, NULL…).
    Link,
    /// The IPv4/IPv6 header or its extensions.
    Ip,
    /// The TCP header.
    Tcp,
}

/// Why a frame could not be decoded. The etherparse error behind it, when there is one, is its
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is shorter than its link header.
    LinkTooShort(link::LinkError),
    /// The IP header does not parse.
    IpHeader(SliceError),
    /// An IPv6 fragment whose fragment header cannot be read.
    Ipv6FragmentHeader,
    /// The IP length field is shorter than the headers it carries.
    IpLength {
        /// Payload length the IP header declares after its own headers (`None`: the length
        /// field does not even cover those).
        declared_payload: Option<usize>,
        /// Length of the TCP header inside that payload.
        tcp_header: usize,
    },
    /// The TCP header does not parse (etherparse's error, when it gave one).
    TcpHeader(Option<SliceError>),
    /// The TCP header of a reassembled datagram does not parse.
    ReassembledTcpHeader(TcpHeaderSliceError),
}

impl DecodeError {
    /// Layer at which decoding stopped.
    pub fn layer(&self) -> Layer {
        match self {
            DecodeError::LinkTooShort(_) => Layer::Link,
            DecodeError::IpHeader(_)
            | DecodeError::Ipv6FragmentHeader
            | DecodeError::IpLength { .. } => Layer::Ip,
            DecodeError::TcpHeader(_) | DecodeError::ReassembledTcpHeader(_) => Layer::Tcp,
        }
    }

    /// What was wrong, in words.
    fn reason(&self) -> &'static str {
        match self {
            DecodeError::LinkTooShort(_) => "frame shorter than its link header",
            DecodeError::IpHeader(_) => "IP header does not parse",
            DecodeError::Ipv6FragmentHeader => "IPv6 fragment without a readable fragment header",
            DecodeError::IpLength { .. } => "IP length field shorter than the headers it carries",
            DecodeError::TcpHeader(_) => "TCP header does not parse (bad data offset or too short)",
            DecodeError::ReassembledTcpHeader(_) => {
                "TCP header in a reassembled datagram does not parse"
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = match self.layer() {
            Layer::Link => "link",
            Layer::Ip => "IP",
            Layer::Tcp => "TCP",
        };
        write!(f, "{layer} layer: {}", self.reason())
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The link error says the same as this one; its cause is etherparse's.
            DecodeError::LinkTooShort(e) => e.source(),
            DecodeError::IpHeader(e) | DecodeError::TcpHeader(Some(e)) => Some(e),
            DecodeError::ReassembledTcpHeader(e) => Some(e),
            DecodeError::Ipv6FragmentHeader
            | DecodeError::IpLength { .. }
            | DecodeError::TcpHeader(None) => None,
        }
    }
}

/// Outcome of decoding one frame.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(Segment<'a>),
    /// A UDP datagram.
    Udp(UdpDatagram<'a>),
    /// IP, but neither TCP nor a readable UDP header (ICMP…).
    OtherIp,
    /// Not IP at all (ARP, LLDP…).
    NotIp,
    /// An IPv4 or IPv6 fragment, to be reassembled by a [`Defragmenter`].
    Fragment(Fragment<'a>),
    /// The frame's link type cannot be decoded.
    UnsupportedLink(LinkType),
    /// Lengths or headers that do not add up.
    Malformed(DecodeError),
    /// The snaplen cut the frame before the TCP header ended.
    TruncatedHeaders,
}

/// Decodes one captured frame down to its TCP segment.
pub fn decode_frame<'a>(frame: &Frame<'a>) -> Decoded<'a> {
    let packet = match link::slice(frame.link_type, frame.data) {
        Ok(Some(packet)) => packet,
        Ok(None) => return Decoded::NotIp,
        Err(link::LinkError::Unsupported) => return Decoded::UnsupportedLink(frame.link_type),
        Err(e) => {
            return if frame.is_truncated() {
                Decoded::TruncatedHeaders
            } else {
                Decoded::Malformed(DecodeError::LinkTooShort(e))
            };
        }
    };
    segment_of(&packet, frame.is_truncated())
}

/// The IP layer of a frame: what a TCP segment needs from it.
struct IpView<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    /// IPv4 identification field (`None` for IPv6).
    ip_id: Option<u16>,
    /// Payload length the IP header declares after its own headers (`None`: the length field
    /// does not even cover those).
    declared_payload: Option<usize>,
    payload: &'a LaxIpPayloadSlice<'a>,
}

/// Decodes a sliced packet down to its TCP segment: the IP layer, then the TCP header.
fn segment_of<'a>(packet: &LaxSlicedPacket<'a>, frame_truncated: bool) -> Decoded<'a> {
    let Some(net) = &packet.net else {
        return match &packet.stop_err {
            Some(_) if frame_truncated => Decoded::TruncatedHeaders,
            Some((e, _)) => Decoded::Malformed(DecodeError::IpHeader(e.clone())),
            None => Decoded::NotIp,
        };
    };
    let ip = match net {
        LaxNetSlice::Ipv4(v4) => ipv4(v4),
        LaxNetSlice::Ipv6(v6) => ipv6(v6),
        LaxNetSlice::Arp(_) => return Decoded::NotIp,
    };
    match ip {
        Ok(ip) => tcp_segment(packet, &ip, frame_truncated),
        Err(decoded) => decoded,
    }
}

/// The IPv4 layer, or the fragment it carries.
fn ipv4<'p, 'a>(v4: &'p LaxIpv4Slice<'a>) -> Result<IpView<'p>, Decoded<'a>> {
    let h = v4.header();
    let declared = usize::from(h.total_len()).checked_sub(usize::from(h.ihl()) * 4);
    let payload = v4.payload();
    if payload.fragmented {
        return Err(fragment_or_truncated(
            Fragment {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
                id: u32::from(h.identification()),
                protocol: payload.ip_number.0,
                offset: usize::from(h.fragments_offset().value()) * 8,
                more: h.more_fragments(),
                data: payload.payload,
            },
            payload.incomplete,
        ));
    }
    Ok(IpView {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        ttl: h.ttl(),
        ip_id: Some(h.identification()),
        declared_payload: declared,
        payload,
    })
}

/// The IPv6 layer, or the fragment it carries.
fn ipv6<'p, 'a>(v6: &'p LaxIpv6Slice<'a>) -> Result<IpView<'p>, Decoded<'a>> {
    let h = v6.header();
    let declared = usize::from(h.payload_length()).checked_sub(v6.extensions().slice().len());
    let payload = v6.payload();
    if payload.fragmented {
        let fragment_header = v6
            .extensions()
            .clone()
            .into_iter()
            .find_map(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            });
        let Some(f) = fragment_header else {
            return Err(Decoded::Malformed(DecodeError::Ipv6FragmentHeader));
        };
        return Err(fragment_or_truncated(
            Fragment {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
                id: f.identification(),
                protocol: payload.ip_number.0,
                offset: usize::from(f.fragment_offset().value()) * 8,
                more: f.more_fragments(),
                data: payload.payload,
            },
            payload.incomplete,
        ));
    }
    Ok(IpView {
        src: IpAddr::V6(h.source_addr()),
        dst: IpAddr::V6(h.destination_addr()),
        ttl: h.hop_limit(),
        ip_id: None,
        declared_payload: declared,
        payload,
    })
}

/// The TCP header on top of an unfragmented IP layer, and the payload length on the wire.
fn tcp_segment<'a>(
    packet: &LaxSlicedPacket<'a>,
    ip: &IpView<'_>,
    frame_truncated: bool,
) -> Decoded<'a> {
    if ip.payload.ip_number == etherparse::IpNumber::UDP {
        return udp_datagram(packet, ip);
    }
    if ip.payload.ip_number != etherparse::IpNumber::TCP {
        return Decoded::OtherIp;
    }
    let tcp = match &packet.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        _ if frame_truncated || ip.payload.incomplete => return Decoded::TruncatedHeaders,
        _ => {
            let cause = match &packet.stop_err {
                Some((e, etherparse::err::Layer::TcpHeader)) => Some(e.clone()),
                _ => None,
            };
            return Decoded::Malformed(DecodeError::TcpHeader(cause));
        }
    };
    let header_len = tcp.header_slice().len();
    let captured = tcp.payload();
    // No usable length field (a zero IPv4 total length from TSO on the capturing host, an IPv6
    // jumbogram) leaves only the captured length to go by.
    let wire_len = match ip.declared_payload {
        Some(n) if n >= header_len => n - header_len,
        Some(_) | None if !ip.payload.incomplete => captured.len(),
        _ => {
            return Decoded::Malformed(DecodeError::IpLength {
                declared_payload: ip.declared_payload,
                tcp_header: header_len,
            });
        }
    };
    Decoded::Tcp(segment(
        ip.src,
        ip.dst,
        (ip.ttl, ip.ip_id),
        tcp,
        wire_len.max(captured.len()),
    ))
}

/// The UDP header on top of an unfragmented IP layer; a header that does not parse (cut by the
/// snaplen, or damaged) is counted with the other IP packets, as before UDP was decoded.
fn udp_datagram<'a>(packet: &LaxSlicedPacket<'a>, ip: &IpView<'_>) -> Decoded<'a> {
    let Some(TransportSlice::Udp(udp)) = &packet.transport else {
        return Decoded::OtherIp;
    };
    let captured = udp.payload();
    // The IP header's length is the one the capture kept (a UDP length of 0 means a jumbogram).
    let wire_len = match ip.declared_payload {
        Some(n) if n >= 8 => n - 8,
        _ => captured.len(),
    };
    Decoded::Udp(udp_view(ip.src, ip.dst, ip.ttl, udp, wire_len))
}

fn udp_view<'a>(
    src_ip: IpAddr,
    dst_ip: IpAddr,
    ttl: u8,
    udp: &UdpSlice<'a>,
    wire_len: usize,
) -> UdpDatagram<'a> {
    let payload = udp.payload();
    UdpDatagram {
        src_ip,
        dst_ip,
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        ttl,
        payload,
        payload_len: u32::try_from(wire_len.max(payload.len())).unwrap_or(u32::MAX),
    }
}

fn fragment_or_truncated(fragment: Fragment<'_>, incomplete: bool) -> Decoded<'_> {
    if incomplete {
        // A fragment cut by the snaplen cannot complete its datagram.
        Decoded::TruncatedHeaders
    } else {
        Decoded::Fragment(fragment)
    }
}

/// The segment view of a TCP header; `(ttl, ip_id)` come from its IP header.
fn segment<'a>(
    src_ip: IpAddr,
    dst_ip: IpAddr,
    (ttl, ip_id): (u8, Option<u16>),
    tcp: &TcpSlice<'a>,
    wire_len: usize,
) -> Segment<'a> {
    Segment {
        src_ip,
        dst_ip,
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(tcp.header_slice().get(13).copied().unwrap_or(0)),
        window: tcp.window_size(),
        ttl,
        ip_id,
        payload: tcp.payload(),
        payload_len: u32::try_from(wire_len).unwrap_or(u32::MAX),
        window_scale: if tcp.syn() {
            tcp.options_iterator().find_map(|o| match o {
                Ok(etherparse::TcpOptionElement::WindowScale(shift)) => Some(shift),
                _ => None,
            })
        } else {
            None
        },
    }
}

/// Decodes the TCP segment or UDP datagram inside a reassembled IP datagram.
pub fn decode_datagram(datagram: &Datagram) -> Decoded<'_> {
    if datagram.protocol == etherparse::IpNumber::UDP.0 {
        return match UdpSlice::from_slice(&datagram.payload) {
            Ok(udp) => {
                let len = udp.payload().len();
                Decoded::Udp(udp_view(
                    datagram.src,
                    datagram.dst,
                    datagram.ttl,
                    &udp,
                    len,
                ))
            }
            Err(_) => Decoded::OtherIp,
        };
    }
    if datagram.protocol != etherparse::IpNumber::TCP.0 {
        return Decoded::OtherIp;
    }
    match TcpSlice::from_slice(&datagram.payload) {
        Ok(tcp) => {
            let len = tcp.payload().len();
            Decoded::Tcp(segment(
                datagram.src,
                datagram.dst,
                (datagram.ttl, None),
                &tcp,
                len,
            ))
        }
        Err(e) => Decoded::Malformed(DecodeError::ReassembledTcpHeader(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use etherparse::PacketBuilder;

    fn frame(link_type: LinkType, data: &[u8], original_len: u32) -> Frame<'_> {
        Frame {
            number: 1,
            timestamp: Timestamp(0),
            link_type,
            data,
            original_len,
        }
    }

    fn tcp_ipv4(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1000, 65535)
            .ack(7)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn decodes_ethernet_ipv4_tcp() {
        let bytes = tcp_ipv4(b"hello");
        let Decoded::Tcp(seg) =
            decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32))
        else {
            panic!("not tcp");
        };
        assert_eq!(seg.src_port, 40000);
        assert_eq!(seg.dst_port, 443);
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.ack, 7);
        assert_eq!(seg.ttl, 64);
        assert_eq!(seg.ip_id, Some(0));
        assert_eq!(seg.payload, b"hello");
        assert_eq!(seg.payload_len, 5);
        assert!(seg.flags.ack() && !seg.flags.syn());
    }

    #[test]
    fn snaplen_cut_keeps_wire_length() {
        let bytes = tcp_ipv4(&[0x16; 300]);
        let cut = &bytes[..14 + 20 + 20 + 10];
        let Decoded::Tcp(seg) = decode_frame(&frame(LinkType::ETHERNET, cut, bytes.len() as u32))
        else {
            panic!("not tcp");
        };
        assert_eq!(seg.payload.len(), 10);
        assert_eq!(seg.payload_len, 300);
    }

    #[test]
    fn cut_inside_tcp_header_is_truncated_headers() {
        let bytes = tcp_ipv4(b"x");
        let cut = &bytes[..14 + 20 + 8];
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, cut, bytes.len() as u32)),
            Decoded::TruncatedHeaders
        ));
    }

    #[test]
    fn lying_tcp_data_offset_is_malformed() {
        let mut bytes = tcp_ipv4(b"abc");
        bytes[14 + 20 + 12] = 0xf0; // data offset 15 words = 60 bytes, more than present
        let len = bytes.len() as u32;
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &bytes, len)),
            Decoded::Malformed(_) | Decoded::TruncatedHeaders
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for len in 0..200usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            for lt in [0, 1, 101, 108, 113, 228, 229, 276, 999] {
                let _ = decode_frame(&frame(LinkType(lt), &bytes, len as u32));
            }
        }
    }

    #[test]
    fn malformed_frames_keep_etherparse_causes() {
        use std::error::Error;
        let malformed = |d: Decoded<'_>| match d {
            Decoded::Malformed(e) => e,
            other => panic!("not malformed: {other:?}"),
        };

        let e = malformed(decode_frame(&frame(LinkType::ETHERNET, &[0; 10], 10)));
        assert_eq!(e.layer(), Layer::Link);
        assert_eq!(
            e.to_string(),
            "link layer: frame shorter than its link header"
        );
        let len = e
            .source()
            .unwrap()
            .downcast_ref::<etherparse::err::LenError>();
        assert_eq!(len.map(|l| (l.required_len, l.len)), Some((14, 10)));

        let e = malformed(decode_frame(&frame(LinkType::RAW, &[0x75; 40], 40)));
        assert_eq!(e.to_string(), "IP layer: IP header does not parse");
        assert!(matches!(e, DecodeError::IpHeader(SliceError::Ip(_))));
        assert!(e.source().unwrap().is::<SliceError>());

        let mut bytes = tcp_ipv4(b"abc");
        bytes[14 + 20 + 12] = 0x10; // data offset 1 word, below the 5 of a bare header
        let len = bytes.len() as u32;
        let e = malformed(decode_frame(&frame(LinkType::ETHERNET, &bytes, len)));
        assert_eq!(
            e.to_string(),
            "TCP layer: TCP header does not parse (bad data offset or too short)"
        );
        assert!(matches!(
            e,
            DecodeError::TcpHeader(Some(SliceError::Tcp(_)))
        ));
        assert!(e.source().is_some());

        let datagram = Datagram {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            ttl: 64,
            protocol: etherparse::IpNumber::TCP.0,
            payload: vec![0; 5],
        };
        let e = malformed(decode_datagram(&datagram));
        assert_eq!(
            e.to_string(),
            "TCP layer: TCP header in a reassembled datagram does not parse"
        );
        assert!(e.source().unwrap().is::<TcpHeaderSliceError>());
    }

    /// A UDP datagram keeps its addresses, ports, TTL, payload and wire length, also when the
    /// snaplen cut it and when it was reassembled from fragments.
    #[test]
    fn decodes_udp_datagrams() {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([0x20; 16], [0x30; 16], 47)
            .udp(50000, 4433);
        let mut bytes = Vec::new();
        builder.write(&mut bytes, &[0xc3; 100]).unwrap();
        let len = bytes.len() as u32;
        let Decoded::Udp(udp) = decode_frame(&frame(LinkType::ETHERNET, &bytes, len)) else {
            panic!("not udp");
        };
        assert_eq!((udp.src_port, udp.dst_port, udp.ttl), (50000, 4433, 47));
        assert_eq!((udp.payload.len(), udp.payload_len), (100, 100));
        assert_eq!(
            udp.src_ip,
            "2020:2020:2020:2020:2020:2020:2020:2020"
                .parse::<IpAddr>()
                .unwrap()
        );

        let cut = &bytes[..14 + 40 + 8 + 30];
        let Decoded::Udp(udp) = decode_frame(&frame(LinkType::ETHERNET, cut, len)) else {
            panic!("not udp");
        };
        assert_eq!((udp.payload.len(), udp.payload_len), (30, 100));

        let datagram = Datagram {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            ttl: 9,
            protocol: etherparse::IpNumber::UDP.0,
            payload: [&[0x01, 0xbb, 0x00, 0xbb, 0x00, 0x0a, 0, 0][..], &[7, 8]].concat(),
        };
        let Decoded::Udp(udp) = decode_datagram(&datagram) else {
            panic!("not udp");
        };
        assert_eq!((udp.src_port, udp.dst_port, udp.ttl), (443, 187, 9));
        assert_eq!((udp.payload, udp.payload_len), (&[7, 8][..], 2));
    }

    #[test]
    fn unsupported_link_type_is_named() {
        assert!(matches!(
            decode_frame(&frame(LinkType(147), &[0; 40], 40)),
            Decoded::UnsupportedLink(LinkType(147))
        ));
    }
}
