//! Link headers: Ethernet (with VLAN tags, via etherparse), Linux cooked v1/v2, BSD NULL/LOOP, PPP
//! and raw IP, each reduced to an etherparse [`LaxSlicedPacket`] starting at the network layer.

use crate::capture::LinkType;
use etherparse::err::{LenError, ip::LaxHeaderSliceError, packet::SliceError};
use etherparse::{EtherType, LaxSlicedPacket};
use std::fmt;

/// Why the link layer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// This tool does not decode the link type.
    Unsupported,
    /// The frame is shorter than its link header (a header read by hand: SLL, SLL2, NULL…).
    TooShort,
    /// The frame is shorter than its Ethernet II header, as etherparse found.
    Ethernet(LenError),
}

impl LinkError {
    /// True when the frame is shorter than its link header.
    pub fn is_too_short(&self) -> bool {
        matches!(self, LinkError::TooShort | LinkError::Ethernet(_))
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Unsupported => write!(f, "link type not decoded"),
            LinkError::TooShort | LinkError::Ethernet(_) => {
                write!(f, "frame shorter than its link header")
            }
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Ethernet(e) => Some(e),
            LinkError::Unsupported | LinkError::TooShort => None,
        }
    }
}

/// SLL v1 header: packet type, ARPHRD, address length, 8-byte address, protocol.
const SLL_HEADER: usize = 16;
/// SLL2 header: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
const SLL2_HEADER: usize = 20;
/// NULL/LOOP header: the address family as a 32-bit integer.
const NULL_HEADER: usize = 4;
/// EtherType of the PPPoE session stage (RFC 2516 §4).
const PPPOE_SESSION: u16 = 0x8864;
/// PPPoE header: version and type (0x11), code (0 in the session stage), session ID, length.
const PPPOE_HEADER: usize = 6;
/// PPP protocol numbers of IPv4 (RFC 1332) and IPv6 (RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// Slices `data` according to `link_type`. `Ok(None)` means a valid frame that carries no IP.
pub fn slice(link_type: LinkType, data: &[u8]) -> Result<Option<LaxSlicedPacket<'_>>, LinkError> {
    match link_type {
        LinkType::ETHERNET => {
            let packet = LaxSlicedPacket::from_ethernet(data).map_err(LinkError::Ethernet)?;
            // etherparse stops at a PPPoE session header (after any VLAN tags): read on.
            if packet.net.is_none()
                && let Some(inner) = packet
                    .ether_payload()
                    .filter(|p| p.ether_type.0 == PPPOE_SESSION)
            {
                return Ok(pppoe_session(inner.payload));
            }
            Ok(Some(packet))
        }
        LinkType::LINUX_SLL => {
            let protocol = be16(data, 14).ok_or(LinkError::TooShort)?;
            Ok(ether_payload(protocol, &data[SLL_HEADER..]))
        }
        LinkType::LINUX_SLL2 => {
            let protocol = be16(data, 0).ok_or(LinkError::TooShort)?;
            if data.len() < SLL2_HEADER {
                return Err(LinkError::TooShort);
            }
            Ok(ether_payload(protocol, &data[SLL2_HEADER..]))
        }
        LinkType::NULL | LinkType::LOOP => {
            let family = data.get(..NULL_HEADER).ok_or(LinkError::TooShort)?;
            let family = [family[0], family[1], family[2], family[3]];
            // NULL stores the family in the capturing host's byte order, which the file does not
            // record; accept either order.
            let values = [u32::from_le_bytes(family), u32::from_be_bytes(family)];
            let payload = &data[NULL_HEADER..];
            if values.contains(&2) || values.iter().any(|v| matches!(v, 24 | 28 | 30)) {
                Ok(from_ip(payload))
            } else {
                Ok(None)
            }
        }
        LinkType::PPP => {
            // RFC 1662's address and control bytes are optional in LINKTYPE_PPP.
            let rest = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
            // The Protocol field: one byte when compressed (an odd first byte, RFC 1661 §2),
            // else two.
            let (protocol, payload) = match rest {
                [first, payload @ ..] if first & 1 == 1 => (u16::from(*first), payload),
                [high, low, payload @ ..] => (u16::from_be_bytes([*high, *low]), payload),
                _ => return Err(LinkError::TooShort),
            };
            match protocol {
                PPP_IPV4 | PPP_IPV6 => Ok(from_ip(payload)),
                _ => Ok(None),
            }
        }
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType(12) | LinkType::IPV4 | LinkType::IPV6 => {
            if data.is_empty() {
                return Err(LinkError::TooShort);
            }
            Ok(from_ip(data))
        }
        _ => Err(LinkError::Unsupported),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn ether_payload(protocol: u16, payload: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    if protocol == PPPOE_SESSION {
        return pppoe_session(payload);
    }
    match EtherType(protocol) {
        EtherType::IPV4
        | EtherType::IPV6
        | EtherType::VLAN_TAGGED_FRAME
        | EtherType::PROVIDER_BRIDGING
        | EtherType::VLAN_DOUBLE_TAGGED_FRAME => Some(LaxSlicedPacket::from_ether_type(
            EtherType(protocol),
            payload,
        )),
        _ => None,
    }
}

/// The IP packet in a PPPoE session frame (DSL access links, RFC 2516 §4): `None` for the
/// discovery stage, PPP control protocols (LCP, IPCP…) and a header that does not fit.
fn pppoe_session(data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    let header = data.get(..PPPOE_HEADER)?;
    if header[0] != 0x11 || header[1] != 0 {
        return None;
    }
    match be16(data, PPPOE_HEADER)? {
        PPP_IPV4 | PPP_IPV6 => from_ip(data.get(PPPOE_HEADER + 2..)?),
        _ => None,
    }
}

fn from_ip(data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    // A header that does not parse at all still counts as IP; the caller reports it malformed,
    // with etherparse's error kept as the stop error (as etherparse's own slicing below an
    // Ethernet header stores it).
    match LaxSlicedPacket::from_ip(data) {
        Ok(p) => Some(p),
        Err(e) => Some(LaxSlicedPacket {
            link: None,
            link_exts: Default::default(),
            net: None,
            transport: None,
            stop_err: Some((
                match e {
                    LaxHeaderSliceError::Len(e) => SliceError::Len(e),
                    LaxHeaderSliceError::Content(e) => SliceError::Ip(e),
                },
                etherparse::err::Layer::IpHeader,
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sll2_and_null_reach_ip() {
        let ip = [
            0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(&ip);
        assert!(
            slice(LinkType::LINUX_SLL2, &sll2)
                .unwrap()
                .unwrap()
                .net
                .is_some()
        );

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert!(slice(LinkType::NULL, &null).unwrap().unwrap().net.is_some());
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip);
        assert!(slice(LinkType::LOOP, &lo).unwrap().unwrap().net.is_some());

        assert_eq!(
            slice(LinkType::LINUX_SLL2, &[8, 0, 1]).err(),
            Some(LinkError::TooShort)
        );

        // PPP: with and without address and control, a compressed protocol field, and a
        // control protocol (LCP) that carries no IP.
        for header in [&[0xff, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21]] {
            let mut ppp = header.to_vec();
            ppp.extend_from_slice(&ip);
            assert!(
                slice(LinkType::PPP, &ppp).unwrap().unwrap().net.is_some(),
                "{header:?}"
            );
        }
        assert!(slice(LinkType::PPP, &[0xc0, 0x21, 1, 1]).unwrap().is_none());
        assert_eq!(slice(LinkType::PPP, &[]).err(), Some(LinkError::TooShort));
    }

    #[test]
    fn errors_keep_etherparse_causes() {
        use std::error::Error;
        let Err(e) = slice(LinkType::ETHERNET, &[0; 10]) else {
            panic!("a 10-byte Ethernet frame");
        };
        assert!(e.is_too_short());
        assert_eq!(e.to_string(), "frame shorter than its link header");
        let cause = e.source().expect("etherparse's length error");
        let len = cause.downcast_ref::<LenError>().expect("a LenError");
        assert_eq!((len.required_len, len.len), (14, 10));

        // Raw IP whose version nibble is neither 4 nor 6: etherparse's own error is kept.
        let packet = slice(LinkType::RAW, &[0x75; 40]).unwrap().unwrap();
        assert!(packet.net.is_none());
        assert!(matches!(packet.stop_err, Some((SliceError::Ip(_), _))));
        let packet = slice(LinkType::RAW, &[0x45, 0, 0]).unwrap().unwrap();
        assert!(matches!(packet.stop_err, Some((SliceError::Len(_), _))));
    }
}
