//! Link-layer header types (the LINKTYPE_ registry of tcpdump.org), kept open: unknown values
//! are carried as numbers, never an error.

use std::fmt;

/// A LINKTYPE_ value from a pcap header or a pcapng interface description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II (with optional 802.1Q / 802.1ad tags).
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP (RFC 1661), with or without the HDLC-like address and control bytes (RFC 1662).
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (OpenBSD's DLT_RAW numbering).
    pub const RAW_OPENBSD: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6, no link header.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (`tcpdump -i any` on older libpcap).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2 (`tcpdump -i any`).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name, when this tool knows it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            9 => "PPP",
            12 | 14 | 101 => "RAW",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            127 => "IEEE802_11_RADIOTAP",
            220 => "USB_LINUX_MMAPPED",
            228 => "IPV4",
            239 => "NFLOG",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => return None,
        })
    }

    /// True when the decoder can read this link type.
    pub fn is_supported(self) -> bool {
        matches!(
            self.0,
            0 | 1 | 9 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 276
        )
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "LINKTYPE {}", self.0),
        }
    }
}
