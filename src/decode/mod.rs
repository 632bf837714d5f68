//! Link layer → IP → TCP/UDP: a captured frame in, a [`Segment`] or [`UdpDatagram`] view (or the
//! reason there is none) out.
//!
//! Parsing is lax (etherparse's `LaxSlicedPacket`): a frame cut by the snaplen is decoded as far
//! as its bytes go, and the segment keeps both the captured payload and the payload length the IP
//! header declares, so reassembly can tell missing bytes from absent ones. Link headers etherparse
//! lacks (SLL2, NULL, LOOP) are read by hand in [`link`]. Nothing here panics on any input: every
//! length is checked before it is used, and bad frames come back as [`Decoded::Malformed`].

mod defrag;
mod fast;
pub mod link;
mod spans;

pub use defrag::{Datagram, Defragmenter, Fragment};
pub use spans::{DecodedSpans, Span};

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
    match fast::decode(frame) {
        Some(decoded) => decoded,
        None => decode_frame_sliced(frame),
    }
}

/// [`decode_frame`] without its fast path: etherparse's slice of the whole packet, for every
/// link type, tag, tunnel and fragment alpnscope reads. [`decode_frame`] gives the same for
/// every frame (the fuzz target `decode` holds it to that); public for that comparison.
pub fn decode_frame_sliced<'a>(frame: &Frame<'a>) -> Decoded<'a> {
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

/// Most IP headers in one frame: the outer one and the tunnelled ones inside it (IP in IP).
pub(crate) const MAX_IP_LAYERS: usize = 3;

/// Decodes a sliced packet down to its TCP segment: the IP layer, then the TCP header.
fn segment_of<'a>(packet: &LaxSlicedPacket<'a>, frame_truncated: bool) -> Decoded<'a> {
    segment_within(packet, frame_truncated, MAX_IP_LAYERS)
}

/// [`segment_of`], reading through at most `layers` IP headers: an IPv4 or IPv6 packet
/// carried in IPv4 or IPv6 (IP protocol 4 or 41: RFC 2003 IPIP, RFC 4213 6in4/SIT, RFC 2473
/// 4in6 and 6in6) is decoded from its inner header.
fn segment_within<'a>(
    packet: &LaxSlicedPacket<'a>,
    frame_truncated: bool,
    layers: usize,
) -> Decoded<'a> {
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
        Ok(ip) if layers > 1 && is_tunnel(ip.payload.ip_number) => match tunnelled(packet) {
            Some(inner) => segment_within(&inner, frame_truncated, layers - 1),
            None if is_ip_in_ip(ip.payload.ip_number)
                && (frame_truncated || ip.payload.incomplete) =>
            {
                Decoded::TruncatedHeaders
            }
            // UDP that carries no tunnel: a datagram of its own (QUIC, or other UDP).
            None if ip.payload.ip_number == etherparse::IpNumber::UDP => {
                tcp_segment(packet, &ip, frame_truncated)
            }
            None => Decoded::OtherIp,
        },
        Ok(ip) => tcp_segment(packet, &ip, frame_truncated),
        Err(decoded) => decoded,
    }
}

/// True for the IP protocols that may carry a tunnel alpnscope reads (IP in IP, GRE, UDP).
fn is_tunnel(protocol: etherparse::IpNumber) -> bool {
    is_ip_in_ip(protocol)
        || protocol == etherparse::IpNumber::GRE
        || protocol == etherparse::IpNumber::UDP
}

/// The packet a tunnel carries in `packet`'s IP payload: IP in IP, GRE, or a UDP tunnel (VXLAN,
/// Geneve, GTP-U); `None` when its payload is none of them (or does not fit). Its slices point
/// into the same bytes as `packet`'s, so a writer can find their offsets.
pub(crate) fn tunnelled<'a>(packet: &LaxSlicedPacket<'a>) -> Option<LaxSlicedPacket<'a>> {
    let payload = packet.ip_payload()?;
    let protocol = payload.ip_number;
    if is_ip_in_ip(protocol) {
        LaxSlicedPacket::from_ip(payload.payload).ok()
    } else if protocol == etherparse::IpNumber::GRE {
        gre_payload(payload.payload)
    } else if protocol == etherparse::IpNumber::UDP {
        udp_tunnel(packet)
    } else {
        None
    }
}

/// The packet inside GRE (RFC 2784, RFC 2890: the checksum, key and sequence number fields
/// when their flags say so): IPv4, IPv6, Ethernet (transparent bridging, 0x6558) and ERSPAN
/// type II mirrored frames (0x88be). `None` for other payloads, enhanced GRE (PPTP) and a
/// header that does not fit.
fn gre_payload(b: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    let flags = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    if flags & 0x0007 != 0 {
        return None;
    }
    let optional = [0x8000, 0x2000, 0x1000]
        .iter()
        .filter(|&&bit| flags & bit != 0)
        .count();
    let rest = b.get(4 + 4 * optional..)?;
    match u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) {
        0x0800 | 0x86dd => LaxSlicedPacket::from_ip(rest).ok(),
        0x6558 => LaxSlicedPacket::from_ethernet(rest).ok(),
        // ERSPAN type II: an 8-byte header, then the mirrored Ethernet frame.
        0x88be => LaxSlicedPacket::from_ethernet(rest.get(8..)?).ok(),
        _ => None,
    }
}

/// UDP ports of the tunnels whose inner packets are read: VXLAN (RFC 7348), Geneve (RFC 8926),
/// GTP-U (3GPP TS 29.281).
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;
const GTP_U_PORT: u16 = 2152;

/// The packet inside a UDP tunnel (VXLAN and Geneve carry Ethernet frames, GTP-U IP packets),
/// by the tunnel's well-known destination port; `None` for other UDP and for a header that does
/// not fit.
fn udp_tunnel<'a>(packet: &LaxSlicedPacket<'a>) -> Option<LaxSlicedPacket<'a>> {
    let Some(TransportSlice::Udp(udp)) = &packet.transport else {
        return None;
    };
    let payload = udp.payload();
    match udp.destination_port() {
        // Flags (the I bit: a valid VNI), reserved, VNI, reserved; then Ethernet.
        VXLAN_PORT if payload.first().is_some_and(|f| f & 0x08 != 0) => {
            LaxSlicedPacket::from_ethernet(payload.get(8..)?).ok()
        }
        // Version 0, options length in 4-byte words, flags, protocol type (Transparent Ethernet
        // Bridging 0x6558), VNI, reserved, options; then Ethernet.
        GENEVE_PORT => {
            let (first, protocol) = (*payload.first()?, payload.get(2..4)?);
            if first >> 6 != 0 || protocol != [0x65, 0x58] {
                return None;
            }
            let options = usize::from(first & 0x3f) * 4;
            LaxSlicedPacket::from_ethernet(payload.get(8 + options..)?).ok()
        }
        GTP_U_PORT => LaxSlicedPacket::from_ip(gtp_u_payload(payload)?).ok(),
        _ => None,
    }
}

/// The user packet of a GTP-U G-PDU (version 1, protocol type GTP, message type 255): after the
/// 8-byte header, the optional sequence number, N-PDU number and next extension type (when any
/// of the E, S, PN flags is set), and the chain of extension headers.
fn gtp_u_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *b.get(1)? != 0xff {
        return None;
    }
    if flags & 0x07 == 0 {
        return b.get(8..);
    }
    let mut at = 12;
    let mut next = *b.get(11)?;
    while next != 0 {
        // Each extension header: its length in 4-byte units, contents, the next type.
        let len = usize::from(*b.get(at)?) * 4;
        if len == 0 {
            return None;
        }
        next = *b.get(at + len - 1)?;
        at += len;
    }
    b.get(at..)
}

/// True for the IP protocol numbers of IPv4 (4) and IPv6 (41) carried in IP.
fn is_ip_in_ip(protocol: etherparse::IpNumber) -> bool {
    protocol == etherparse::IpNumber::IPV4 || protocol == etherparse::IpNumber::IPV6
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
    // jumbogram) leaves only the captured length to go by. Neither does one that claims more
    // bytes than a frame the capture holds whole: the frame's own length shows the datagram
    // ended there (Wireshark's "total length exceeds packet length"), no snaplen cut it.
    let wire_len = match ip.declared_payload {
        Some(n) if n >= header_len && !frame_truncated && ip.payload.incomplete => captured.len(),
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

    /// A TCP segment in IP, as the bytes after a link header.
    fn inner_tcp(v6: bool) -> Vec<u8> {
        let builder = if v6 {
            PacketBuilder::ipv6([0x20; 16], [0x21; 16], 61)
        } else {
            PacketBuilder::ipv4([198, 51, 100, 1], [198, 51, 100, 2], 61)
        };
        let mut out = Vec::new();
        builder
            .tcp(40000, 443, 1000, 65535)
            .ack(7)
            .write(&mut out, b"hello")
            .unwrap();
        out
    }

    /// An outer IPv4 or IPv6 header with `protocol` around `inner`, in Ethernet.
    fn outer(v6: bool, protocol: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6]);
        if v6 {
            builder.ipv6([0x30; 16], [0x31; 16], 64).write(
                &mut out,
                etherparse::IpNumber(protocol),
                inner,
            )
        } else {
            builder.ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64).write(
                &mut out,
                etherparse::IpNumber(protocol),
                inner,
            )
        }
        .unwrap();
        out
    }

    /// IPv6 in IPv4 (6in4, protocol 41), IPv4 in IPv6 (4in6, next header 4), IPv4 in IPv4 and
    /// IPv6 in IPv6: the segment is the inner packet's (nDPI's 6in4tunnel.pcap and
    /// 4in6tunnel.pcap hold real ones).
    #[test]
    fn ip_in_ip_is_decoded_from_the_inner_header() {
        for (outer_v6, inner_v6) in [(false, true), (true, false), (false, false), (true, true)] {
            let protocol = if inner_v6 { 41 } else { 4 };
            let bytes = outer(outer_v6, protocol, &inner_tcp(inner_v6));
            let decoded = decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32));
            let Decoded::Tcp(seg) = decoded else {
                panic!("{outer_v6} {inner_v6}: {decoded:?}");
            };
            let src = if inner_v6 {
                IpAddr::from([0x20; 16])
            } else {
                IpAddr::from([198, 51, 100, 1])
            };
            assert_eq!(
                (seg.src_ip, seg.dst_port, seg.ttl, seg.payload),
                (src, 443, 61, &b"hello"[..])
            );
        }
        // Three IP headers deep: still read; a fourth layer is not (the cap).
        let bytes = outer(false, 4, &outer(false, 4, &inner_tcp(false))[14..]);
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32)),
            Decoded::Tcp(_)
        ));
        let four = outer(
            false,
            4,
            &outer(false, 4, &outer(false, 4, &inner_tcp(false))[14..])[14..],
        );
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &four, four.len() as u32)),
            Decoded::OtherIp
        ));
    }

    /// A TCP segment in Ethernet, as a tunnel's inner frame.
    fn inner_ethernet() -> Vec<u8> {
        let mut out = vec![2; 6];
        out.extend([1; 6]);
        out.extend([0x08, 0x00]);
        out.extend(inner_tcp(false));
        out
    }

    /// `tunnel` (its header and inner packet) in UDP to `port`, in IPv4 in Ethernet.
    fn in_udp(port: u16, tunnel: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(50000, port)
            .write(&mut out, tunnel)
            .unwrap();
        out
    }

    /// VXLAN, Geneve and GTP-U (with and without its optional fields and an extension header):
    /// the segment is the inner packet's (nDPI's vxlan.pcap, zeek's geneve-47101.pcap and
    /// gtp6_gtp_0x32.pcap hold real ones); other UDP, or a tunnel header that does not fit, is
    /// a UDP datagram of its own (which the flow table reads as QUIC or counts as other IP).
    #[test]
    fn udp_tunnels_are_decoded_from_the_inner_packet() {
        let mut vxlan = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
        vxlan.extend(inner_ethernet());
        let mut geneve = vec![
            0x02, 0, 0x65, 0x58, 0, 0, 0x2a, 0, 0x01, 0x02, 0x01, 0x01, 9, 9, 9, 9,
        ];
        geneve.extend(inner_ethernet());
        let ip = inner_tcp(false);
        let mut gtp = vec![0x30, 0xff];
        gtp.extend((ip.len() as u16).to_be_bytes());
        gtp.extend([0, 0, 0, 1]);
        gtp.extend(&ip);
        // E flag: sequence number, N-PDU number, next type 0x85 (PDU session container), one
        // 4-byte extension header, then no more.
        let mut gtp_ext = vec![
            0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x09, 0,
        ];
        gtp_ext.extend(&ip);
        for (name, port, tunnel) in [
            ("vxlan", VXLAN_PORT, &vxlan),
            ("geneve", GENEVE_PORT, &geneve),
            ("gtp", GTP_U_PORT, &gtp),
            ("gtp with an extension", GTP_U_PORT, &gtp_ext),
        ] {
            let bytes = in_udp(port, tunnel);
            let decoded = decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32));
            let Decoded::Tcp(seg) = decoded else {
                panic!("{name}: {decoded:?}");
            };
            assert_eq!(
                (seg.src_ip, seg.dst_port, seg.payload),
                (IpAddr::from([198, 51, 100, 1]), 443, &b"hello"[..]),
                "{name}"
            );
        }
        for (port, tunnel) in [
            (53, &vxlan[..]),
            (VXLAN_PORT, &vxlan[..4]),
            (GENEVE_PORT, &geneve[..10]),
            (GTP_U_PORT, &gtp_ext[..14]),
        ] {
            let bytes = in_udp(port, tunnel);
            assert!(matches!(
                decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32)),
                Decoded::Udp(UdpDatagram { dst_port, .. }) if dst_port == port
            ));
        }
    }

    /// GRE with IPv4, IPv6, Ethernet and ERSPAN II inside, with its optional key and sequence
    /// number fields; enhanced GRE (version 1) is not read.
    #[test]
    fn gre_is_decoded_from_the_inner_packet() {
        let ip = inner_tcp(false);
        let mut erspan = vec![0x10, 0, 0x88, 0xbe, 0, 0, 0, 7];
        erspan.extend([0x10, 0x01, 0, 0, 0, 0, 0, 0]);
        erspan.extend(inner_ethernet());
        let mut bridged = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 42];
        bridged.extend(inner_ethernet());
        let mut plain = vec![0, 0, 0x08, 0x00];
        plain.extend(&ip);
        for (name, gre) in [("ip", &plain), ("ethernet", &bridged), ("erspan", &erspan)] {
            let bytes = outer(false, 47, gre);
            let decoded = decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32));
            let Decoded::Tcp(seg) = decoded else {
                panic!("{name}: {decoded:?}");
            };
            assert_eq!((seg.dst_port, seg.payload), (443, &b"hello"[..]), "{name}");
        }
        let mut pptp = vec![0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0];
        pptp.extend(&ip);
        let bytes = outer(false, 47, &pptp);
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32)),
            Decoded::OtherIp
        ));
    }

    /// PPPoE session frames (RFC 2516 §4) carrying IPv4 and IPv6, after VLAN tags too (arkime's
    /// pppoe.pcap and zeek's pppoe-over-qinq.pcap hold real ones); PPP control traffic is not IP.
    #[test]
    fn pppoe_session_frames_carry_ip() {
        for (v6, ppp) in [(false, 0x0021u16), (true, 0x0057)] {
            for vlan in [false, true] {
                let ip = inner_tcp(v6);
                let mut bytes = vec![2; 6];
                bytes.extend([1; 6]);
                if vlan {
                    bytes.extend([0x81, 0x00, 0x00, 0x64]);
                }
                bytes.extend([0x88, 0x64, 0x11, 0x00, 0x12, 0x34]);
                bytes.extend(((ip.len() + 2) as u16).to_be_bytes());
                bytes.extend(ppp.to_be_bytes());
                bytes.extend(&ip);
                let decoded = decode_frame(&frame(LinkType::ETHERNET, &bytes, bytes.len() as u32));
                let Decoded::Tcp(seg) = decoded else {
                    panic!("{v6} {vlan}: {decoded:?}");
                };
                assert_eq!((seg.dst_port, seg.payload), (443, &b"hello"[..]));
            }
        }
        // LCP (0xc021) in a session frame, and a discovery frame (0x8863): not IP.
        let mut lcp = vec![2; 6];
        lcp.extend([1; 6]);
        lcp.extend([
            0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0xc0, 0x21, 1, 1, 0, 4,
        ]);
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &lcp, lcp.len() as u32)),
            Decoded::NotIp
        ));
        lcp[12..14].copy_from_slice(&[0x88, 0x63]);
        assert!(matches!(
            decode_frame(&frame(LinkType::ETHERNET, &lcp, lcp.len() as u32)),
            Decoded::NotIp
        ));
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
    fn ip_length_beyond_a_whole_frame_is_not_a_cut() {
        // A SYN/ACK whose IPv4 total length claims 4148 bytes in a 66-byte frame the capture
        // holds whole (nDPI's tls_invalid_reads.pcap, frame 2): no payload, nothing missing.
        let mut bytes = tcp_ipv4(b"");
        bytes[14 + 2..14 + 4].copy_from_slice(&4148u16.to_be_bytes());
        let len = bytes.len() as u32;
        let Decoded::Tcp(seg) = decode_frame(&frame(LinkType::ETHERNET, &bytes, len)) else {
            panic!("not tcp");
        };
        assert_eq!(seg.payload.len(), 0);
        assert_eq!(seg.payload_len, 0);
        // The same claim in a frame the snaplen cut keeps the declared length.
        let Decoded::Tcp(seg) = decode_frame(&frame(LinkType::ETHERNET, &bytes, 4162)) else {
            panic!("not tcp");
        };
        assert_eq!(seg.payload_len, 4148 - 40);
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
