//! Redaction of the packets written by `--extract`: addresses replaced by the report's keyed
//! pseudonyms (IP and TCP checksums recomputed), MAC addresses by locally administered
//! pseudonyms (keyed), and known host names and addresses inside the payload (SNI, certificate
//! names, proxy targets, and every parent domain of a name: `alpn.test` of `h1.alpn.test`,
//! wherever it appears, e.g. in a URL inside the certificate; addresses in binary and as text)
//! overwritten with keyed stand-ins of the same length, so every length field, sequence number
//! and TLS structure stays valid (IP, TCP and UDP checksums recomputed). The payload rewrite itself is chosen per direction over the
//! reassembled bytes (`stream.rs`), so a name split across segments is found; the patterns are
//! applied once more to each segment alone, for a retransmitted copy whose bytes differ. Only
//! bytes in the clear can be rewritten: TLS 1.3 certificates are encrypted, which is why a
//! redacted extract never carries handshake secrets (the CLI refuses `--redact` with
//! `--include-keys`).

use crate::capture::LinkType;
use crate::decode::{self, link};
use crate::report::redact::{Redactor, address_text};
use etherparse::{LaxNetSlice, TransportSlice};
use std::net::IpAddr;

/// The transport payload [`Scrubber::frame`] hands to its rewriter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Carried {
    /// A TCP segment's payload: its sequence number and SYN flag.
    Tcp {
        /// Sequence number.
        seq: u32,
        /// SYN flag.
        syn: bool,
    },
    /// A UDP datagram's payload.
    Udp,
}

/// Rewrites packets for a redacted extract.
pub struct Scrubber<'r> {
    redactor: &'r mut Redactor,
    /// (original, same-length placeholder) byte strings replaced in payloads.
    names: Vec<(Vec<u8>, Vec<u8>)>,
}

fn replace_all(data: &mut [u8], from: &[u8], to: &[u8]) {
    let Some(&first) = from.first() else {
        return;
    };
    if from.len() != to.len() || data.len() < from.len() {
        return;
    }
    let text = from.iter().all(|b| b.is_ascii_graphic());
    let mut i = 0;
    while i + from.len() <= data.len() {
        let window = &data[i..i + from.len()];
        // Most windows differ in their first byte: the rest is compared only where it matches
        // (every pattern is tried at every byte of every payload and stream).
        let hit = if text {
            window
                .first()
                .is_some_and(|b| b.eq_ignore_ascii_case(&first))
                && window.eq_ignore_ascii_case(from)
        } else {
            window.first() == Some(&first) && window == from
        };
        if hit {
            data[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

/// A name and each parent domain of it with at least two labels: `h1.alpn.test`,
/// `alpn.test`. Single labels (`test`) would match unrelated bytes.
fn with_parents(name: &str) -> Vec<&str> {
    let name = name.trim_end_matches('.');
    let mut found = vec![name];
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.contains('.') && !parent.starts_with('.') {
            found.push(parent);
        }
        rest = parent;
    }
    found
}

fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// The same-length replacement patterns of an address: its binary form and its text.
fn address_patterns(redactor: &mut Redactor, ip: IpAddr) -> Vec<(Vec<u8>, Vec<u8>)> {
    if ip.is_unspecified() {
        // Zeros are everywhere, and name nobody.
        return Vec::new();
    }
    let pseudonym = redactor.address(ip);
    let mut found = match (ip, pseudonym) {
        (IpAddr::V4(a), IpAddr::V4(b)) => vec![(a.octets().to_vec(), b.octets().to_vec())],
        (IpAddr::V6(a), IpAddr::V6(b)) => vec![(a.octets().to_vec(), b.octets().to_vec())],
        _ => Vec::new(),
    };
    let text = ip.to_string();
    if let Some(stand_in) = address_text(pseudonym, text.len()) {
        found.push((text.into_bytes(), stand_in.into_bytes()));
    }
    found.retain(|(from, to)| from != to);
    found
}

impl<'r> Scrubber<'r> {
    /// A scrubber using `redactor`'s pseudonyms, replacing `names` (and their parent domains)
    /// and `addresses` (binary and text forms) in payloads.
    pub fn new(redactor: &'r mut Redactor, names: &[String], addresses: &[IpAddr]) -> Scrubber<'r> {
        let mut list: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for ip in addresses {
            list.extend(address_patterns(redactor, *ip));
        }
        for name in names {
            match name.parse::<IpAddr>() {
                // Addresses (certificate subjectAltName entries, common names, proxy targets).
                Ok(ip) => list.extend(address_patterns(redactor, ip)),
                Err(_) => {
                    for candidate in with_parents(name) {
                        if candidate.len() >= 4 {
                            let stand_in = redactor.placeholder(candidate);
                            list.push((candidate.as_bytes().to_vec(), stand_in));
                        }
                    }
                }
            }
        }
        // Longer names first, so a name is not half-replaced by a shorter one inside it.
        list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        list.dedup();
        Scrubber {
            redactor,
            names: list,
        }
    }

    /// The redactor whose pseudonyms this scrubber writes.
    pub(super) fn redactor(&mut self) -> &mut Redactor {
        self.redactor
    }

    /// Replaces every known name and address in `data`.
    pub(super) fn patterns(&self, data: &mut [u8]) {
        for (from, to) in &self.names {
            replace_all(data, from, to);
        }
    }

    /// Replaces the known names in a text (packet comments).
    pub fn text(&mut self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        self.patterns(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn mac(&self, mac: &mut [u8]) {
        // Keyed: a MAC address has few enough likely values (a vendor prefix and 24 bits)
        // that an unkeyed hash could be reversed by trying them all.
        let digest = self.redactor.digest("mac", mac);
        for (i, b) in mac.iter_mut().enumerate() {
            *b = digest[i];
        }
        if let Some(first) = mac.first_mut() {
            // Locally administered, unicast.
            *first = (*first & 0xfc) | 0x02;
        }
    }

    /// A redacted copy of a frame. `payload` rewrites a TCP segment's or a UDP datagram's
    /// payload ([`Carried`] says which, with a segment's sequence number and SYN flag) and says
    /// how many of its bytes may be written: the rest is cut, as a snaplen would cut it (the
    /// lengths in the headers stay, so sequence analysis is unchanged), and the TCP or UDP
    /// checksum, which covered the original bytes, is zeroed.
    pub(super) fn frame(
        &mut self,
        link_type: LinkType,
        data: &[u8],
        payload: &mut dyn FnMut(Carried, &mut [u8]) -> usize,
    ) -> Vec<u8> {
        let mut out = data.to_vec();
        match link_type {
            LinkType::ETHERNET if out.len() >= 12 => {
                self.mac(&mut out[0..6]);
                self.mac(&mut out[6..12]);
            }
            LinkType::LINUX_SLL if out.len() >= 14 => self.mac(&mut out[6..14]),
            LinkType::LINUX_SLL2 if out.len() >= 20 => self.mac(&mut out[12..20]),
            _ => {}
        }
        // Where the IP and TCP headers sit, from the original bytes: every IP header of a
        // tunnel (outer and inner) is rewritten, the TCP segment is the innermost packet's.
        let Ok(Some(mut packet)) = link::slice(link_type, data) else {
            return out;
        };
        for _ in 1..decode::MAX_IP_LAYERS {
            let Some(inner) = decode::tunnelled(&packet) else {
                break;
            };
            self.ip_header(&packet, data, &mut out);
            if let Some(Some(TransportSlice::Udp(udp))) =
                Some(&packet.transport).map(|t| t.as_ref())
                && let Some(at) = offset_in(data, udp.slice())
            {
                // The UDP checksum covered the inner packet's original bytes: none now.
                out[at + 6..at + 8].copy_from_slice(&[0, 0]);
            }
            if let Some(etherparse::LinkSlice::Ethernet2(ethernet)) = inner.link.as_ref()
                && let Some(at) = offset_in(data, ethernet.slice())
                && out.len() >= at + 12
            {
                self.mac(&mut out[at..at + 6]);
                self.mac(&mut out[at + 6..at + 12]);
            }
            packet = inner;
        }
        let (addresses, whole) = self.ip_header(&packet, data, &mut out);
        if let Some(Some(TransportSlice::Udp(udp))) = Some(&packet.transport).map(|t| t.as_ref())
            && let Some(at) = offset_in(data, udp.slice())
        {
            return udp_datagram(out, at, udp.slice().len(), addresses, whole, payload);
        }
        self.tcp(&packet, data, out, addresses, whole, payload)
    }

    /// Rewrites the addresses of `packet`'s IP header in `out` (a copy of `data`, where the
    /// packet's slices point): the pseudonyms, and whether its payload is whole.
    fn ip_header(
        &mut self,
        packet: &etherparse::LaxSlicedPacket<'_>,
        data: &[u8],
        out: &mut [u8],
    ) -> (Option<(IpAddr, IpAddr)>, Option<()>) {
        let mut tcp_at = None;
        let mut addresses = None;
        match &packet.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                if let Some(at) = offset_in(data, h.slice()) {
                    let src = self.redactor.address(IpAddr::V4(h.source_addr()));
                    let dst = self.redactor.address(IpAddr::V4(h.destination_addr()));
                    if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
                        out[at + 12..at + 16].copy_from_slice(&s.octets());
                        out[at + 16..at + 20].copy_from_slice(&d.octets());
                        // RFC 791 header checksum.
                        let len = h.slice().len();
                        out[at + 10..at + 12].copy_from_slice(&[0, 0]);
                        let sum = checksum(&out[at..at + len], 0);
                        out[at + 10..at + 12].copy_from_slice(&sum.to_be_bytes());
                        addresses = Some((src, dst));
                    }
                }
                if !v4.payload().incomplete {
                    tcp_at = Some(());
                }
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                if let Some(at) = offset_in(data, h.slice()) {
                    let src = self.redactor.address(IpAddr::V6(h.source_addr()));
                    let dst = self.redactor.address(IpAddr::V6(h.destination_addr()));
                    if let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) {
                        out[at + 8..at + 24].copy_from_slice(&s.octets());
                        out[at + 24..at + 40].copy_from_slice(&d.octets());
                        addresses = Some((src, dst));
                    }
                }
                if !v6.payload().incomplete {
                    tcp_at = Some(());
                }
            }
            _ => {}
        }
        (addresses, tcp_at)
    }

    /// Rewrites `packet`'s TCP segment in `out` (see [`Scrubber::frame`]) and returns `out`.
    fn tcp(
        &mut self,
        packet: &etherparse::LaxSlicedPacket<'_>,
        data: &[u8],
        mut out: Vec<u8>,
        addresses: Option<(IpAddr, IpAddr)>,
        tcp_at: Option<()>,
        payload: &mut dyn FnMut(Carried, &mut [u8]) -> usize,
    ) -> Vec<u8> {
        if let Some(Some(TransportSlice::Tcp(tcp))) = Some(&packet.transport).map(|t| t.as_ref())
            && let Some(at) = offset_in(data, tcp.slice())
        {
            let header = tcp.header_slice().len();
            let end = at + tcp.slice().len();
            let syn = tcp.syn();
            let carried = Carried::Tcp {
                seq: tcp.sequence_number(),
                syn,
            };
            let kept = payload(carried, &mut out[at + header..end]);
            // Names inside one segment, also in a copy whose bytes differ from the first.
            self.patterns(&mut out[at + header..end]);
            if at + header + kept < end {
                out.truncate(at + header + kept);
                out[at + 16..at + 18].copy_from_slice(&[0, 0]);
                return out;
            }
            // RFC 9293 §3.1: the checksum covers a pseudo-header and the whole segment; only a
            // segment captured whole can be summed again.
            if let (Some((src, dst)), Some(_)) = (addresses, tcp_at) {
                out[at + 16..at + 18].copy_from_slice(&[0, 0]);
                let len = (end - at) as u32;
                let mut pseudo = Vec::with_capacity(40);
                match (src, dst) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => {
                        pseudo.extend_from_slice(&s.octets());
                        pseudo.extend_from_slice(&d.octets());
                        pseudo.extend_from_slice(&[0, 6]);
                        pseudo.extend_from_slice(&(len as u16).to_be_bytes());
                    }
                    (IpAddr::V6(s), IpAddr::V6(d)) => {
                        pseudo.extend_from_slice(&s.octets());
                        pseudo.extend_from_slice(&d.octets());
                        pseudo.extend_from_slice(&len.to_be_bytes());
                        pseudo.extend_from_slice(&[0, 0, 0, 6]);
                    }
                    _ => {}
                }
                let partial = sum_words(&pseudo, 0);
                let sum = checksum(&out[at..end], partial);
                out[at + 16..at + 18].copy_from_slice(&sum.to_be_bytes());
            }
        }
        out
    }
}

/// Rewrites the UDP datagram at `at` in `out` (`len` bytes captured, header included): its
/// payload through `payload`, then its checksum (RFC 768) over the pseudo-header of the
/// pseudonyms `addresses` — when the datagram is whole and was summed at all (an IPv4 sender
/// may send zero: no checksum); a datagram cut by `payload` gets zero.
fn udp_datagram(
    mut out: Vec<u8>,
    at: usize,
    len: usize,
    addresses: Option<(IpAddr, IpAddr)>,
    whole: Option<()>,
    payload: &mut dyn FnMut(Carried, &mut [u8]) -> usize,
) -> Vec<u8> {
    const HEADER: usize = 8;
    let end = at + len;
    if len < HEADER || out.len() < end {
        return out;
    }
    let kept = payload(Carried::Udp, &mut out[at + HEADER..end]);
    if at + HEADER + kept < end {
        out.truncate(at + HEADER + kept);
        out[at + 6..at + 8].copy_from_slice(&[0, 0]);
        return out;
    }
    let summed = out[at + 6..at + 8] != [0, 0];
    if let (Some((src, dst)), Some(()), true) = (addresses, whole, summed) {
        out[at + 6..at + 8].copy_from_slice(&[0, 0]);
        let mut pseudo = Vec::with_capacity(40);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pseudo.extend_from_slice(&s.octets());
                pseudo.extend_from_slice(&d.octets());
                pseudo.extend_from_slice(&[0, 17]);
                pseudo.extend_from_slice(&(len as u16).to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pseudo.extend_from_slice(&s.octets());
                pseudo.extend_from_slice(&d.octets());
                pseudo.extend_from_slice(&(len as u32).to_be_bytes());
                pseudo.extend_from_slice(&[0, 0, 0, 17]);
            }
            _ => {}
        }
        let sum = checksum(&out[at..end], sum_words(&pseudo, 0));
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        let sum = if sum == 0 { 0xffff } else { sum };
        out[at + 6..at + 8].copy_from_slice(&sum.to_be_bytes());
    }
    out
}

/// Adds the big-endian 16-bit words of `data` to `sum`, unfolded. A u64 cannot overflow here:
/// that would take 2^48 words, far beyond any segment (a u32 overflowed past ~128 KiB, which
/// BIG TCP and GRO segments exceed).
fn sum_words(data: &[u8], mut sum: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// The Internet checksum (RFC 1071) of `data`, starting from a partial sum.
fn checksum(data: &[u8], partial: u64) -> u16 {
    let mut sum = sum_words(data, partial);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_ignores_case() {
        let mut data = b"xxALPN.TESTyy".to_vec();
        replace_all(&mut data, b"alpn.test", b"abcd.efgh");
        assert_eq!(&data, b"xxabcd.efghyy");
    }

    #[test]
    fn replacement_of_bytes_is_exact_and_covers_every_position() {
        // Binary (an IPv4 address): case is not ignored; hits at the start, back to back and
        // at the end; a near miss that shares the first byte is left alone.
        let mut data = vec![10, 0, 0, 1, 10, 0, 0, 1, 10, 0, 0, 2, 42, 10, 0, 0, 1];
        replace_all(&mut data, &[10, 0, 0, 1], &[10, 9, 8, 7]);
        assert_eq!(
            data,
            [10, 9, 8, 7, 10, 9, 8, 7, 10, 0, 0, 2, 42, 10, 9, 8, 7]
        );
        let mut upper = b"\x01AB".to_vec();
        replace_all(&mut upper, b"\x01ab", b"\x01cd");
        assert_eq!(&upper, b"\x01AB");
    }

    #[test]
    fn parents_of_a_name_are_scrubbed_too() {
        assert_eq!(
            with_parents("a.h1.alpn.test."),
            ["a.h1.alpn.test", "h1.alpn.test", "alpn.test"]
        );
        assert_eq!(with_parents("alpn.test"), ["alpn.test"]);
        assert_eq!(with_parents("Example Org"), ["Example Org"]);
        // A parent named outside the known names (here in a URL) gets the same stand-in as
        // the end of the child name.
        let mut redactor = Redactor::new(b"k", crate::report::redact::SniMode::KeepSuffix);
        let mut scrubber = Scrubber::new(&mut redactor, &["h1.alpn.test".to_string()], &[]);
        let text = scrubber.text("h1.alpn.test http://ocsp.alpn.test/");
        assert!(!text.contains("alpn"), "{text}");
        let (child, url) = text.split_once(' ').unwrap();
        assert!(url.ends_with(&format!("{}/", &child[3..])), "{text}");
    }

    #[test]
    fn checksum_of_a_known_ipv4_header() {
        // RFC 1071 style check: a header with its checksum sums to zero.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&header, 0), 0);
    }

    /// RFC 1071 one's-complement sum, folded after every word: slow but obviously right.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        for pair in data.chunks(2) {
            let word = u64::from(pair[0]) << 8 | u64::from(pair.get(1).copied().unwrap_or(0));
            sum += word;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn checksum_of_the_rfc_1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data, 0), !0xddf2);
        assert_eq!(reference_checksum(&data), !0xddf2);
        // An odd length pads the last byte with a zero.
        assert_eq!(checksum(&data[..7], 0), reference_checksum(&data[..7]));
    }

    #[test]
    fn checksum_of_a_segment_larger_than_256_kib() {
        // A BIG TCP / GRO segment: 300 KiB of 0xff words overflow a 32-bit accumulator.
        let ones = vec![0xffu8; 300 * 1024];
        assert_eq!(checksum(&ones, 0), 0);
        assert_eq!(reference_checksum(&ones), 0);
        // Varied bytes, an odd length and a pseudo-header partial sum.
        let mut seed = 0x2545_f491u32;
        let data: Vec<u8> = (0..(300 * 1024 + 1))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed >> 24) as u8
            })
            .collect();
        let pseudo = [192, 0, 2, 1, 192, 0, 2, 2, 0, 0, 0, 6];
        let mut whole = pseudo.to_vec();
        whole.extend_from_slice(&data);
        assert_eq!(
            checksum(&data, sum_words(&pseudo, 0)),
            reference_checksum(&whole)
        );
    }
}
