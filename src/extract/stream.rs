//! One direction of an extracted flow, put back in sequence order for redaction, so that a
//! name or an address split across two TCP segments is found whole.
//!
//! The extract reads its capture twice. The first pass hands each segment of the chosen frames
//! to [`Direction::collect`]; [`Direction::finish`] then lays the bytes out by sequence number
//! (the first copy of a byte wins, as in the reassembler), finds the fields of a proxy preamble
//! (`CONNECT`, SOCKS) and every known name and address, and decides which bytes may be shown:
//! those of a direction that is TLS, after at most one proxy preamble. The second pass asks
//! [`Direction::patch`] for each segment: a byte is replaced by the replacement chosen for its
//! sequence offset — so a retransmitted or overlapping copy of a name is rewritten exactly like
//! the first — and a segment's payload is cut (as a snaplen would) from the first byte that
//! may not be shown: bytes of a direction that is not TLS, bytes beyond the per-direction or
//! whole-extract budget, bytes the first pass did not see.
//!
//! Memory: at most [`MAX_DIRECTION_BYTES`] per direction and [`MAX_STORED_BYTES`] for the
//! whole extract are kept; whatever is past those limits is cut, never shown unscanned.

use super::proxy::{self, Field};
use super::scrub::Scrubber;
use crate::flow::SeqNumber;
use crate::report::redact::address_text;
use crate::tls::preamble::{MAX_PREAMBLE_BYTES, Preamble, classify};
use crate::tls::starttls;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most payload bytes kept per direction (handshakes take a few KiB; certificate chains tens).
pub(super) const MAX_DIRECTION_BYTES: usize = 1 << 20;
/// Most payload bytes kept for all directions of one extract.
pub(super) const MAX_STORED_BYTES: usize = 64 << 20;

/// What may be written of one byte of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Cut: not TLS, past a budget, or not seen by the first pass.
    No,
    /// Written as it is in the segment.
    Kept,
    /// Written as the replacement at this offset.
    Replaced(u8),
}

/// One direction of a chosen flow: its segments during the first pass, then what to write.
#[derive(Debug, Default)]
pub(super) struct Direction {
    /// Sequence number of the SYN, when one was seen.
    isn: Option<SeqNumber>,
    /// `(sequence number of the first byte, bytes)` in capture order.
    segments: Vec<(SeqNumber, Vec<u8>)>,
    /// Bytes in `segments`.
    stored: usize,
    /// Sequence number of offset 0 of `shown`.
    base: Option<SeqNumber>,
    /// Per offset from `base`: what to write.
    shown: Vec<Shown>,
    /// True when the direction's bytes are not TLS (after any proxy preamble).
    not_tls: bool,
}

/// The sequence number of the first payload byte: a SYN's own sequence number comes first
/// (RFC 9293 §3.4).
fn first_byte(seq: u32, syn: bool) -> SeqNumber {
    SeqNumber(seq).plus(u32::from(syn))
}

impl Direction {
    /// First pass: one segment of this direction. `budget` is what the whole extract may still
    /// keep.
    pub fn collect(&mut self, seq: u32, syn: bool, payload: &[u8], budget: &mut usize) {
        if syn {
            self.isn = Some(SeqNumber(seq));
        }
        if payload.is_empty() {
            return;
        }
        if self.stored + payload.len() > MAX_DIRECTION_BYTES || payload.len() > *budget {
            return;
        }
        *budget -= payload.len();
        self.stored += payload.len();
        self.segments.push((first_byte(seq, syn), payload.to_vec()));
    }

    /// True when the payload of this direction is left out: it is not TLS.
    pub fn not_tls(&self) -> bool {
        self.not_tls
    }

    /// Between the passes: lays the bytes out in sequence order and chooses every replacement.
    pub fn finish(&mut self, from_client: bool, scrubber: &mut Scrubber<'_>) {
        let segments = std::mem::take(&mut self.segments);
        let Some(first) = segments.first().map(|(seq, _)| *seq) else {
            return;
        };
        // Offset 0: the byte after the SYN, or the earliest byte seen.
        let base = match self.isn {
            Some(isn) => isn.plus(1),
            None => segments
                .iter()
                .map(|(seq, _)| *seq)
                .min_by_key(|seq| seq.diff(first))
                .unwrap_or(first),
        };
        self.base = Some(base);
        let mut bytes = Vec::new();
        let mut filled: Vec<bool> = Vec::new();
        for (seq, data) in &segments {
            let Ok(at) = usize::try_from(seq.diff(base)) else {
                continue;
            };
            if at >= MAX_DIRECTION_BYTES {
                continue;
            }
            let end = (at + data.len()).min(MAX_DIRECTION_BYTES);
            if end > bytes.len() {
                bytes.resize(end, 0);
                filled.resize(end, false);
            }
            for (i, b) in data.iter().enumerate().take(end.saturating_sub(at)) {
                if !filled[at + i] {
                    bytes[at + i] = *b;
                    filled[at + i] = true;
                }
            }
        }
        drop(segments);
        let original = bytes.clone();
        let show = self.tls_part(&mut bytes, from_client, scrubber);
        if let Some(show) = show {
            scrubber.patterns(&mut bytes[..show.end]);
            for (i, state) in self.shown.iter_mut().enumerate() {
                *state = match (filled.get(i), bytes.get(i), original.get(i)) {
                    (Some(true), Some(new), Some(old)) if i < show.end => {
                        if new == old {
                            Shown::Kept
                        } else {
                            Shown::Replaced(*new)
                        }
                    }
                    _ => Shown::No,
                };
            }
        }
    }

    /// Rewrites the fields of a proxy preamble in `bytes` and says how much of it may be shown
    /// (`None`: nothing). Sizes `shown`.
    fn tls_part(
        &mut self,
        bytes: &mut [u8],
        from_client: bool,
        scrubber: &mut Scrubber<'_>,
    ) -> Option<std::ops::Range<usize>> {
        self.shown = vec![Shown::No; bytes.len()];
        let after_preamble = match classify(bytes) {
            // An SSLv2-format ClientHello holds no names.
            Preamble::Tls | Preamble::Sslv2ClientHello { .. } => return Some(0..bytes.len()),
            Preamble::Proxy { len, .. } => len.min(bytes.len()),
            Preamble::NeedMore | Preamble::Other => return self.starttls_part(bytes),
        };
        for span in proxy::spans(bytes, after_preamble, from_client) {
            let Some(field) = bytes.get_mut(span.range) else {
                continue;
            };
            replace_field(field, span.field, scrubber);
        }
        match classify(&bytes[after_preamble..]) {
            Preamble::Tls => Some(0..bytes.len()),
            // Only the preamble (the tunnel's bytes are not TLS, or too few to tell).
            _ => {
                if after_preamble < bytes.len() {
                    self.not_tls = true;
                }
                Some(0..after_preamble)
            }
        }
    }

    /// A direction that opens a plaintext protocol negotiating TLS (STARTTLS and its kin): the
    /// text before TLS keeps only its keywords and reply codes (every other word becomes `x`s:
    /// host names in greetings and `EHLO`, reply texts, IMAP tags alike in both directions), so
    /// the extract still shows the request and the answer. A text exchange that never switched
    /// (a refusal) is shown so far as it was read (at most [`MAX_PREAMBLE_BYTES`]); a binary one
    /// (LDAP, PostgreSQL) only up to its TLS. Anything else is not TLS: `None`.
    fn starttls_part(&mut self, bytes: &mut [u8]) -> Option<std::ops::Range<usize>> {
        let Some(start) = starttls::tls_start(bytes) else {
            self.not_tls = true;
            return None;
        };
        let text = starttls::is_text(bytes);
        let plaintext = match (start, text) {
            (Some(at), _) => at,
            (None, true) => bytes.len().min(MAX_PREAMBLE_BYTES),
            (None, false) => {
                self.not_tls = true;
                return None;
            }
        };
        if text && let Some(head) = bytes.get_mut(..plaintext) {
            starttls::keep_keywords(head);
        }
        if start.is_none() {
            self.not_tls = true;
            return Some(0..plaintext);
        }
        Some(0..bytes.len())
    }

    /// Second pass: rewrites the payload of one segment and returns how many of its bytes may
    /// be written (the rest is cut).
    pub fn patch(&self, seq: u32, syn: bool, payload: &mut [u8]) -> usize {
        let Some(base) = self.base else {
            return 0;
        };
        let Ok(start) = usize::try_from(first_byte(seq, syn).diff(base)) else {
            return 0;
        };
        for (i, b) in payload.iter_mut().enumerate() {
            match self.shown.get(start + i) {
                Some(Shown::Kept) => {}
                Some(Shown::Replaced(r)) => *b = *r,
                Some(Shown::No) | None => return i,
            }
        }
        payload.len()
    }
}

/// Overwrites one preamble field with its pseudonym (same length) or with `x`s.
fn replace_field(field: &mut [u8], kind: Field, scrubber: &mut Scrubber<'_>) {
    let redactor = scrubber.redactor();
    match kind {
        Field::Ipv4 => {
            if let Ok(octets) = <[u8; 4]>::try_from(&*field) {
                let ip = Ipv4Addr::from(octets);
                if !ip.is_unspecified()
                    && let IpAddr::V4(p) = redactor.address(IpAddr::V4(ip))
                {
                    field.copy_from_slice(&p.octets());
                }
            }
        }
        Field::Ipv6 => {
            if let Ok(octets) = <[u8; 16]>::try_from(&*field)
                && let IpAddr::V6(p) = redactor.address(IpAddr::V6(Ipv6Addr::from(octets)))
            {
                field.copy_from_slice(&p.octets());
            }
        }
        Field::Host => {
            let text = String::from_utf8_lossy(field).into_owned();
            let stand_in = match text.parse::<IpAddr>() {
                Ok(ip) => address_text(redactor.address(ip), field.len()).map(String::into_bytes),
                Err(_) => Some(redactor.placeholder(&text)),
            };
            match stand_in {
                Some(s) if s.len() == field.len() => field.copy_from_slice(&s),
                // No stand-in of that length: hidden all the same.
                _ => field.fill(b'x'),
            }
        }
        Field::Secret => field.fill(b'x'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::redact::{Redactor, SniMode};

    /// A direction collected from `(seq, syn, bytes)` segments and finished.
    fn direction(
        segments: &[(u32, bool, &[u8])],
        from_client: bool,
        names: &[&str],
        redactor: &mut Redactor,
    ) -> Direction {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut scrubber = Scrubber::new(redactor, &names, &[]);
        let mut d = Direction::default();
        let mut budget = MAX_STORED_BYTES;
        for (seq, syn, bytes) in segments {
            d.collect(*seq, *syn, bytes, &mut budget);
        }
        d.finish(from_client, &mut scrubber);
        d
    }

    /// The segments as the second pass writes them.
    fn written(d: &Direction, segments: &[(u32, bool, &[u8])]) -> Vec<Vec<u8>> {
        segments
            .iter()
            .map(|(seq, syn, bytes)| {
                let mut copy = bytes.to_vec();
                let keep = d.patch(*seq, *syn, &mut copy);
                copy.truncate(keep);
                copy
            })
            .collect()
    }

    /// A TLS record header and the start of a handshake, then `name` split at `cut`.
    fn hello_with(name: &[u8]) -> Vec<u8> {
        let mut b = vec![0x16, 3, 1, 0, 200, 1, 0, 0, 196];
        b.extend_from_slice(&[0; 20]);
        b.extend_from_slice(name);
        b.extend_from_slice(&[0; 20]);
        b
    }

    #[test]
    fn a_name_split_across_segments_and_its_retransmission_read_alike() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let stream = hello_with(b"www.alpn.test");
        let cut = 29 + 5; // inside the name: "www.a" | "lpn.test"
        let (one, two) = stream.split_at(cut);
        // SYN at 999, the first half, the second half, then an overlapping retransmission of
        // both halves' middle.
        let overlap = &stream[cut - 3..cut + 4];
        let segments: Vec<(u32, bool, &[u8])> = vec![
            (999, true, &[]),
            (1000, false, one),
            (1000 + cut as u32, false, two),
            (1000 + cut as u32 - 3, false, overlap),
        ];
        let d = direction(&segments, true, &["www.alpn.test"], &mut r);
        let out = written(&d, &segments);
        let joined = [out[1].clone(), out[2].clone()].concat();
        assert_eq!(joined.len(), stream.len());
        let stand_in = r.placeholder("www.alpn.test");
        assert_eq!(&joined[29..42], &stand_in[..]);
        assert_eq!(&out[3][..], &joined[cut - 3..cut + 4]);
        assert_eq!(&joined[..29], &stream[..29]);
    }

    #[test]
    fn a_socks5_target_is_rewritten_and_a_plaintext_direction_cut() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let mut client = b"\x05\x01\x00\x05\x01\x00\x01\x0a\x01\x02\x03\x20\xfb".to_vec();
        client.extend_from_slice(&hello_with(b"alpn.test"));
        let segments: Vec<(u32, bool, &[u8])> =
            vec![(5, false, &client[..9]), (14, false, &client[9..])];
        let d = direction(&segments, true, &["alpn.test"], &mut r);
        let out = written(&d, &segments).concat();
        assert_eq!(out.len(), client.len());
        let p = r.address("10.1.2.3".parse().unwrap());
        let IpAddr::V4(p) = p else { panic!() };
        assert_eq!(&out[7..11], &p.octets());
        assert_eq!(&out[..7], &client[..7]);
        assert!(!d.not_tls());

        let http = b"GET / HTTP/1.1\r\nHost: alpn.test\r\n\r\n";
        let segments: Vec<(u32, bool, &[u8])> = vec![(1, false, &http[..]), (1, false, &http[..])];
        let d = direction(&segments, true, &[], &mut r);
        assert!(d.not_tls());
        assert_eq!(written(&d, &segments), [Vec::<u8>::new(), Vec::new()]);
    }

    /// STARTTLS: the plaintext before TLS keeps its keywords and codes only; a refusal's text
    /// exchange is shown so redacted, and counts as not TLS.
    #[test]
    fn a_starttls_exchange_keeps_its_keywords() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let mut client = b"EHLO laptop.corp\r\nSTARTTLS\r\n".to_vec();
        let plain = client.len();
        client.extend_from_slice(&hello_with(b"alpn.test"));
        let segments: Vec<(u32, bool, &[u8])> =
            vec![(1, false, &client[..18]), (19, false, &client[18..])];
        let d = direction(&segments, true, &["alpn.test"], &mut r);
        let out = written(&d, &segments).concat();
        assert_eq!(&out[..plain], b"EHLO xxxxxxxxxxx\r\nSTARTTLS\r\n");
        assert_eq!(out.len(), client.len());
        assert!(!d.not_tls());

        let server = b"220 mx.corp ESMTP\r\n454 4.7.0 TLS not available\r\n";
        let segments: Vec<(u32, bool, &[u8])> = vec![(1, false, &server[..])];
        let d = direction(&segments, false, &[], &mut r);
        assert_eq!(
            written(&d, &segments),
            [b"220 xxxxxxx xxxxx\r\n454 4.7.0 TLS xxx xxxxxxxxx\r\n".to_vec()]
        );
        assert!(d.not_tls());
    }

    #[test]
    fn bytes_the_first_pass_did_not_keep_are_cut() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let stream = hello_with(b"alpn.test");
        let segments: Vec<(u32, bool, &[u8])> = vec![(0, false, &stream[..])];
        let d = direction(&segments, true, &[], &mut r);
        // A segment the first pass never saw, after the stream's end, and one before its start.
        let mut later = vec![1u8; 10];
        assert_eq!(d.patch(stream.len() as u32, false, &mut later), 0);
        let mut earlier = vec![1u8; 10];
        assert_eq!(d.patch(u32::MAX - 20, false, &mut earlier), 0);
        // One that runs past the end keeps the bytes that were seen.
        let mut across = stream[stream.len() - 4..].to_vec();
        across.extend_from_slice(&[7; 6]);
        assert_eq!(d.patch(stream.len() as u32 - 4, false, &mut across), 4);
    }
}
