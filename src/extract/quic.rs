//! QUIC flows in an extract: where their handshake ends, and the rewriting of their packets in
//! a redacted extract.
//!
//! The cut mirrors TCP's (the client's first protected record after a TLS 1.3 ServerHello): a
//! QUIC flow is extracted up to the client's first datagram that carries a 1-RTT (short-header)
//! packet — the client has its 1-RTT keys then, so its Finished went out in that datagram or
//! before ([`ends_handshake`]). Everything before it is kept: Initial and Handshake packets of
//! both sides, a Retry, a Version Negotiation, a CONNECTION_CLOSE; a flow whose client never
//! got that far is kept to its last frame.
//!
//! Redaction. The names of a QUIC handshake travel in Initial packets, protected with keys
//! anyone derives from the client's first Destination Connection ID (RFC 9001 §5.2). The first
//! pass ([`QuicFlow::collect`]) opens each Initial packet of the flow and lays out the CRYPTO
//! bytes of each direction by offset — a new stream for each new attempt of the client (after
//! a Retry or a Version Negotiation its ClientHello starts again at offset 0) — so a name split
//! across two Initial packets is found whole; [`QuicFlow::finish`] runs the scrubber's patterns
//! over each stream and keeps the replacement chosen for each offset. The second pass
//! ([`QuicFlow::rewrite`]) opens each Initial packet again, writes the replacements of its
//! CRYPTO bytes, applies the patterns once more to its plaintext alone (a CONNECTION_CLOSE
//! reason, a copy whose bytes differ) and to its Token, and protects it again with the same
//! keys, packet number and header (RFC 9001 §5.3, §5.4): same lengths, so Wireshark and
//! alpnscope open the rewritten packet as they opened the original and read the stand-ins. A
//! Retry whose token was rewritten is signed again (RFC 9001 §5.8). Handshake, 0-RTT and 1-RTT
//! packets are ciphertext whose keys a redacted extract never carries (as TLS 1.3 records over
//! TCP): they keep their bytes, under the same patterns as any TCP segment.
//!
//! What cannot be redacted is cut, as a snaplen would cut it, from the first packet of the
//! datagram that cannot be: an Initial packet that no Initial keys of the flow open (the
//! client's first Initial is not in the capture, a reserved version, which defines no keys, a
//! packet its sender protected with other keys),
//! bytes that do not parse as QUIC packets, CRYPTO bytes the first pass did not keep (past
//! [`MAX_STREAM_BYTES`], the extract's budget, or a stream beyond [`MAX_STREAMS`]), a Retry
//! whose rewritten token cannot be signed again. Never is a byte shown that was not read.
//!
//! Memory: at most [`MAX_STREAMS`] streams of [`MAX_STREAM_BYTES`] per flow, charged to the
//! extract's budget, and [`MAX_KEY_SETS`] Initial key sets.

use super::scrub::Scrubber;
use crate::quic::crypto::MAX_CRYPTO_BYTES;
use crate::quic::frame::{Frame, frames_of};
use crate::quic::keys::{InitialKeys, retry_tag};
use crate::quic::packet::{ConnectionId, LongPacket, Packet, RETRY_TAG_LEN, packets};
use crate::quic::version::{KnownVersion, LongType};

/// Most CRYPTO stream bytes kept per direction and attempt: the QUIC reader's own cap.
pub(super) const MAX_STREAM_BYTES: usize = MAX_CRYPTO_BYTES as usize;
/// Most Initial CRYPTO streams kept per flow (two directions of a few attempts).
pub(super) const MAX_STREAMS: usize = 8;
/// Most Initial key sets derived per flow (versions × connection IDs).
pub(super) const MAX_KEY_SETS: usize = 4;

/// True when `payload`, sent by the client, ends the handshake part of a QUIC flow: it carries
/// a 1-RTT (short-header) packet.
pub(super) fn ends_handshake(payload: &[u8]) -> bool {
    packets(payload).any(|p| matches!(p, Ok(Packet::Short { .. })))
}

/// One direction's Initial CRYPTO bytes of one attempt.
#[derive(Debug)]
struct Stream {
    from_client: bool,
    attempt: usize,
    /// The bytes by offset (first pass; dropped by [`QuicFlow::finish`]).
    bytes: Vec<u8>,
    /// Which offsets were received (and kept).
    filled: Vec<bool>,
    /// Per offset: the byte to write instead, chosen by [`QuicFlow::finish`].
    replaced: Vec<Option<u8>>,
}

/// Where a pass is in the flow: what the packets so far told.
#[derive(Debug, Default)]
struct Walk {
    /// The client's first Initial's Destination Connection ID (a Retry's tag covers it).
    original_dcid: Option<ConnectionId>,
    /// Connection IDs Initial keys come from, the latest first: a Retry's Source Connection ID,
    /// the original one.
    key_dcids: Vec<ConnectionId>,
    /// Largest Initial packet number opened: client, server.
    largest: [Option<u64>; 2],
    /// The client's attempt: one more after each Retry or Version Negotiation.
    attempt: usize,
}

/// A chosen QUIC flow of a redacted extract.
#[derive(Debug, Default)]
pub(super) struct QuicFlow {
    keys: Vec<(KnownVersion, ConnectionId, Box<InitialKeys>)>,
    streams: Vec<Stream>,
    walk: Walk,
}

/// What a pass does with each opened Initial packet's plaintext.
enum Pass<'a, 's> {
    /// First pass: keep its CRYPTO bytes, within the extract's budget.
    Collect { budget: &'a mut usize },
    /// Second pass: rewrite the datagram's copy.
    Write {
        out: &'a mut [u8],
        scrubber: &'a Scrubber<'s>,
    },
}

impl QuicFlow {
    /// First pass: one datagram of the flow. `budget` is what the whole extract may still keep.
    pub fn collect(&mut self, payload: &[u8], from_client: bool, budget: &mut usize) {
        self.walk(payload, from_client, &mut Pass::Collect { budget });
    }

    /// Between the passes: chooses the replacement of every CRYPTO byte, and starts the second
    /// pass where the first began.
    pub fn finish(&mut self, scrubber: &Scrubber<'_>) {
        for stream in &mut self.streams {
            let mut patched = std::mem::take(&mut stream.bytes);
            let original = patched.clone();
            scrubber.patterns(&mut patched);
            stream.replaced = patched
                .iter()
                .zip(&original)
                .zip(&stream.filled)
                .map(|((new, old), filled)| (*filled && new != old).then_some(*new))
                .collect();
        }
        self.walk = Walk::default();
    }

    /// Second pass: rewrites `out`, a copy of the datagram's `payload`, and returns how many of
    /// its bytes may be written (the rest is cut).
    pub fn rewrite(
        &mut self,
        payload: &[u8],
        from_client: bool,
        out: &mut [u8],
        scrubber: &Scrubber<'_>,
    ) -> usize {
        if out.len() != payload.len() {
            return 0;
        }
        self.walk(payload, from_client, &mut Pass::Write { out, scrubber })
    }

    /// Walks the packets of one datagram; returns where the datagram must be cut (its length
    /// when it is whole).
    fn walk(&mut self, payload: &[u8], from_client: bool, pass: &mut Pass<'_, '_>) -> usize {
        let mut at = 0;
        let mut buf = Vec::new();
        for packet in packets(payload) {
            let Ok(packet) = packet else {
                return at;
            };
            let start = at;
            match packet {
                Packet::Long(long) if long.ty == LongType::Initial => {
                    at = long.offset + long.bytes.len();
                    if !self.initial(&long, from_client, pass, &mut buf) {
                        return start;
                    }
                }
                Packet::Long(long) => {
                    at = long.offset + long.bytes.len();
                    patterns(pass, start..at);
                }
                Packet::Retry(retry) => {
                    at = payload.len();
                    let start = at.saturating_sub(retry.bytes.len());
                    if from_client {
                        patterns(pass, start..at);
                        continue;
                    }
                    if let Some(scid) = ConnectionId::new(retry.scid)
                        && !self.walk.key_dcids.contains(&scid)
                        && self.walk.key_dcids.len() < MAX_KEY_SETS
                    {
                        self.walk.key_dcids.insert(0, scid);
                        self.walk.attempt += 1;
                    }
                    if !self.retry(&retry, start, pass) {
                        return start;
                    }
                }
                Packet::VersionNegotiation(_) => {
                    at = payload.len();
                    if !from_client {
                        self.walk.attempt = self.walk.attempt.saturating_add(1);
                    }
                    patterns(pass, start..at);
                }
                // A version alpnscope does not read: nothing tells what its bytes hold.
                Packet::UnknownVersion { .. } => return start,
                Packet::Short { offset, len } | Packet::Padding { offset, len } => {
                    at = offset + len;
                    patterns(pass, offset..at);
                }
            }
        }
        at.min(payload.len())
    }

    /// Opens one Initial packet and collects or rewrites it; false when it cannot be opened or
    /// rewritten (the datagram is cut there).
    fn initial(
        &mut self,
        long: &LongPacket<'_>,
        from_client: bool,
        pass: &mut Pass<'_, '_>,
        buf: &mut Vec<u8>,
    ) -> bool {
        if from_client && self.walk.original_dcid.is_none() {
            self.walk.original_dcid = ConnectionId::new(long.dcid);
            self.walk.key_dcids.extend(self.walk.original_dcid);
        }
        let side = usize::from(!from_client);
        let largest = self.walk.largest[side];
        let dcids = self.walk.key_dcids.clone();
        let mut opened = None;
        for dcid in dcids {
            let Some(keys) = self.keys(long.version, dcid) else {
                continue;
            };
            let keys = if from_client {
                &keys.client
            } else {
                &keys.server
            };
            if let Ok(o) = keys.open_long(long, largest, buf) {
                opened = Some((dcid, o.packet_number, o.header.len()));
                break;
            }
        }
        let Some((dcid, packet_number, header_len)) = opened else {
            return false;
        };
        self.walk.largest[side] = largest.max(Some(packet_number));
        let attempt = self.walk.attempt;
        let header_len = header_len.min(buf.len());
        let (header, plaintext) = buf.split_at_mut(header_len);
        let plaintext_len = plaintext.len().saturating_sub(crate::quic::keys::TAG_LEN);
        let plaintext = &mut plaintext[..plaintext_len];
        match pass {
            Pass::Collect { budget } => {
                self.collect_crypto(long.version, plaintext, from_client, attempt, budget);
                true
            }
            Pass::Write { out, scrubber } => {
                let before = (header.to_vec(), plaintext.to_vec());
                if !self.patch_crypto(long.version, plaintext, from_client, attempt) {
                    return false;
                }
                scrubber.patterns(plaintext);
                // The Token sits in the header, before the packet number, where it was sent.
                if let Some(token) = offset_in(long.bytes, long.token)
                    .and_then(|t| header.get_mut(t..t + long.token.len()))
                {
                    scrubber.patterns(token);
                }
                if (&before.0[..], &before.1[..]) == (&header[..], &plaintext[..]) {
                    return true;
                }
                let Some(keys) = self.keys(long.version, dcid) else {
                    return false;
                };
                let keys = if from_client {
                    &keys.client
                } else {
                    &keys.server
                };
                let Ok(sealed) = keys.seal(header, long.pn_offset, packet_number, plaintext) else {
                    return false;
                };
                match out.get_mut(long.offset..long.offset + long.bytes.len()) {
                    Some(place) if place.len() == sealed.len() => {
                        place.copy_from_slice(&sealed);
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    /// The Initial keys of `version` from `dcid`, derived once (at most [`MAX_KEY_SETS`]).
    fn keys(&mut self, version: KnownVersion, dcid: ConnectionId) -> Option<&InitialKeys> {
        let found = self
            .keys
            .iter()
            .position(|(v, d, _)| *v == version && *d == dcid);
        let index = match found {
            Some(i) => i,
            None if self.keys.len() < MAX_KEY_SETS => {
                let keys = InitialKeys::derive(version, dcid.as_bytes()).ok()?;
                self.keys.push((version, dcid, Box::new(keys)));
                self.keys.len() - 1
            }
            None => return None,
        };
        self.keys.get(index).map(|(_, _, k)| k.as_ref())
    }

    /// The stream of a direction and attempt; created if there is room (at most
    /// [`MAX_STREAMS`]).
    fn stream(&mut self, from_client: bool, attempt: usize) -> Option<&mut Stream> {
        let found = self
            .streams
            .iter()
            .position(|s| s.from_client == from_client && s.attempt == attempt);
        let index = match found {
            Some(i) => i,
            None if self.streams.len() < MAX_STREAMS => {
                self.streams.push(Stream {
                    from_client,
                    attempt,
                    bytes: Vec::new(),
                    filled: Vec::new(),
                    replaced: Vec::new(),
                });
                self.streams.len() - 1
            }
            None => return None,
        };
        self.streams.get_mut(index)
    }

    /// First pass: keeps the CRYPTO bytes of an opened Initial packet.
    fn collect_crypto(
        &mut self,
        version: KnownVersion,
        plaintext: &[u8],
        from_client: bool,
        attempt: usize,
        budget: &mut usize,
    ) {
        for frame in frames_of(version, plaintext) {
            let Ok(Frame::Crypto { offset, data }) = frame else {
                continue;
            };
            let Ok(start) = usize::try_from(offset) else {
                continue;
            };
            let end = start.saturating_add(data.len());
            if data.is_empty() || end > MAX_STREAM_BYTES {
                continue;
            }
            let Some(stream) = self.stream(from_client, attempt) else {
                return;
            };
            let grow = end.saturating_sub(stream.bytes.len());
            if grow > *budget {
                continue;
            }
            *budget -= grow;
            if end > stream.bytes.len() {
                stream.bytes.resize(end, 0);
                stream.filled.resize(end, false);
            }
            let (Some(bytes), Some(filled)) = (
                stream.bytes.get_mut(start..end),
                stream.filled.get_mut(start..end),
            ) else {
                continue;
            };
            for ((byte, filled), new) in bytes.iter_mut().zip(filled).zip(data) {
                // The first copy of a byte wins, as in the reassembler.
                if !*filled {
                    *byte = *new;
                    *filled = true;
                }
            }
        }
    }

    /// Second pass: writes the replacements chosen for the CRYPTO bytes of an opened Initial
    /// packet; false when one of its bytes was not kept by the first pass (never shown
    /// unscanned).
    fn patch_crypto(
        &mut self,
        version: KnownVersion,
        plaintext: &mut [u8],
        from_client: bool,
        attempt: usize,
    ) -> bool {
        let mut edits = Vec::new();
        let mut whole = true;
        {
            let stream = self
                .streams
                .iter()
                .find(|s| s.from_client == from_client && s.attempt == attempt);
            for frame in frames_of(version, plaintext) {
                let Ok(Frame::Crypto { offset, data }) = frame else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                let (Some(stream), Ok(start), Some(at)) =
                    (stream, usize::try_from(offset), offset_in(plaintext, data))
                else {
                    whole = false;
                    break;
                };
                for i in 0..data.len() {
                    match stream.filled.get(start + i) {
                        Some(true) => {
                            if let Some(Some(r)) = stream.replaced.get(start + i) {
                                edits.push((at + i, *r));
                            }
                        }
                        _ => whole = false,
                    }
                }
            }
        }
        for (at, b) in edits {
            if let Some(byte) = plaintext.get_mut(at) {
                *byte = b;
            }
        }
        whole
    }

    /// Second pass: a server's Retry at `start` of the datagram, its token rewritten and the
    /// packet signed again when that changed it; false when it cannot be signed again.
    fn retry(
        &self,
        retry: &crate::quic::packet::Retry<'_>,
        start: usize,
        pass: &mut Pass<'_, '_>,
    ) -> bool {
        let Pass::Write { out, scrubber } = pass else {
            return true;
        };
        let Some(token_at) = offset_in(retry.bytes, retry.token) else {
            return false;
        };
        let Some(place) = out.get_mut(start..start + retry.bytes.len()) else {
            return false;
        };
        let Some(token) = place.get_mut(token_at..token_at + retry.token.len()) else {
            return false;
        };
        scrubber.patterns(token);
        if *place == *retry.bytes {
            return true;
        }
        let (Some(_), Some(original)) = (retry.tag, self.walk.original_dcid) else {
            return false;
        };
        let Some((signed, old_tag)) = place
            .len()
            .checked_sub(RETRY_TAG_LEN)
            .and_then(|at| place.split_at_mut_checked(at))
        else {
            return false;
        };
        let Some(tag) = retry_tag(retry.version, signed, original.as_bytes()) else {
            return false;
        };
        old_tag.copy_from_slice(&tag);
        true
    }
}

/// Second pass: the patterns over `range` of the datagram's copy.
fn patterns(pass: &mut Pass<'_, '_>, range: std::ops::Range<usize>) {
    if let Pass::Write { out, scrubber } = pass
        && let Some(bytes) = out.get_mut(range)
    {
        scrubber.patterns(bytes);
    }
}

/// Where `inner` starts within `outer`, when it lies inside.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::keys::{RetryIntegrity, verify_retry};
    use crate::quic::packet::LongHeader;
    use crate::quic::testdata::{self, RFC_DCID};
    use crate::report::redact::{Redactor, SniMode};
    use crate::tls::ClientHello;
    use crate::tls::handshake::{Reassembler, Step};
    use std::net::IpAddr;

    const SCID: [u8; 4] = [1, 2, 3, 4];

    /// A client Initial of v1 to [`RFC_DCID`]: packet number `pn`, one CRYPTO frame of `data`
    /// at `offset`, padded; `token` in its header.
    fn client_initial(pn: u64, offset: u64, data: &[u8], token: &[u8]) -> Vec<u8> {
        let keys = InitialKeys::derive(KnownVersion::V1, &RFC_DCID).unwrap();
        let mut payload = vec![0x06];
        crate::quic::wire::put_varint(&mut payload, offset);
        crate::quic::wire::put_varint(&mut payload, data.len() as u64);
        payload.extend_from_slice(data);
        payload.resize(payload.len() + 40, 0);
        let header = LongHeader {
            version: KnownVersion::V1,
            ty: LongType::Initial,
            dcid: &RFC_DCID,
            scid: &SCID,
            token,
        };
        keys.client.seal_long(&header, pn, 2, &payload).unwrap()
    }

    /// The CRYPTO bytes of the client Initial packets of `datagrams`, by offset, and their
    /// tokens, opened with the keys of [`RFC_DCID`].
    fn opened(datagrams: &[Vec<u8>]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let keys = InitialKeys::derive(KnownVersion::V1, &RFC_DCID).unwrap();
        let mut stream = Vec::new();
        let mut tokens = Vec::new();
        let mut largest = None;
        let mut buf = Vec::new();
        for datagram in datagrams {
            for packet in packets(datagram) {
                let Ok(Packet::Long(long)) = packet else {
                    continue;
                };
                tokens.push(long.token.to_vec());
                let o = keys.client.open_long(&long, largest, &mut buf).unwrap();
                largest = largest.max(Some(o.packet_number));
                for frame in frames_of(long.version, o.payload) {
                    if let Ok(Frame::Crypto { offset, data }) = frame {
                        let at = offset as usize;
                        if stream.len() < at + data.len() {
                            stream.resize(at + data.len(), 0);
                        }
                        stream[at..at + data.len()].copy_from_slice(data);
                    }
                }
            }
        }
        (stream, tokens)
    }

    /// Both passes over `datagrams` (all from the client): the rewritten datagrams, each cut
    /// where the second pass says.
    fn redacted(datagrams: &[Vec<u8>], scrubber: &Scrubber<'_>) -> Vec<Vec<u8>> {
        let mut flow = QuicFlow::default();
        let mut budget = super::super::stream::MAX_STORED_BYTES;
        for d in datagrams {
            flow.collect(d, true, &mut budget);
        }
        flow.finish(scrubber);
        datagrams
            .iter()
            .map(|d| {
                let mut out = d.clone();
                let kept = flow.rewrite(d, true, &mut out, scrubber);
                out.truncate(kept);
                out
            })
            .collect()
    }

    #[test]
    fn a_name_split_across_two_initial_packets_is_rewritten_in_both() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let stand_in = r.placeholder("www.alpn.test");
        let names = ["www.alpn.test".to_string()];
        let scrubber = Scrubber::new(&mut r, &names, &["10.1.2.3".parse().unwrap()]);
        let hello = b"....www.alpn.test....".to_vec();
        let datagrams = vec![
            // The name "www.al" | "pn.test"; the address 10.1.2.3 in the first token.
            client_initial(0, 0, &hello[..10], &[9, 10, 1, 2, 3, 9]),
            client_initial(1, 10, &hello[10..], &[]),
        ];
        let out = redacted(&datagrams, &scrubber);
        assert_eq!(out[0].len(), datagrams[0].len());
        assert_eq!(out[1].len(), datagrams[1].len());
        assert_ne!(out, datagrams);
        let (stream, tokens) = opened(&out);
        assert_eq!(&stream[..4], b"....");
        assert_eq!(&stream[4..17], &stand_in[..]);
        assert_eq!(&stream[17..], b"....");
        let IpAddr::V4(p) = r_address("10.1.2.3") else {
            panic!()
        };
        assert_eq!(tokens[0], [&[9][..], &p.octets(), &[9]].concat());
        // The original opens to the original.
        assert_eq!(opened(&datagrams).0, hello);
    }

    /// The pseudonym of `ip` under the tests' key.
    fn r_address(ip: &str) -> IpAddr {
        Redactor::new(b"k", SniMode::KeepSuffix).address(ip.parse().unwrap())
    }

    /// RFC 9001 §A.2's client Initial: its ClientHello, rewritten, parses with the stand-in
    /// server name.
    #[test]
    fn the_rfc_9001_client_initial_carries_the_stand_in() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let stand_in = String::from_utf8(r.placeholder("example.com")).unwrap();
        let names = ["example.com".to_string()];
        let scrubber = Scrubber::new(&mut r, &names, &[]);
        let original = testdata::rfc9001_client_initial();
        let out = redacted(std::slice::from_ref(&original), &scrubber);
        assert_eq!(out[0].len(), original.len());
        let (stream, _) = opened(&out);
        let mut reassembler = Reassembler::default();
        let mut bytes = &stream[..];
        let mut hellos = Vec::new();
        while !bytes.is_empty() {
            let (step, rest) = reassembler.read(1, bytes, false);
            if let Step::Done(m) = step {
                hellos.push(ClientHello::parse(&m.body).unwrap());
            }
            bytes = rest;
        }
        let [hello] = &hellos[..] else {
            panic!("{} ClientHellos", hellos.len())
        };
        assert_eq!(hello.sni.as_deref(), Some(stand_in.as_str()));
        assert_ne!(stand_in, "example.com");
    }

    #[test]
    fn what_does_not_open_is_cut_and_a_short_packet_ends_the_handshake() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let names = ["www.alpn.test".to_string()];
        let scrubber = Scrubber::new(&mut r, &names, &[]);
        let first = client_initial(0, 0, b"www.alpn.test", &[]);
        // An Initial protected with other keys, coalesced after a good one; then a datagram
        // with a 1-RTT packet after an Initial.
        let other = InitialKeys::derive(KnownVersion::V1, &[7; 8]).unwrap();
        let header = LongHeader {
            version: KnownVersion::V1,
            ty: LongType::Initial,
            dcid: &RFC_DCID,
            scid: &SCID,
            token: &[],
        };
        let stranger = other
            .client
            .seal_long(
                &header,
                1,
                2,
                &[
                    0x06, 0, 3, b'w', b'w', b'w', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
            )
            .unwrap();
        let coalesced = [first.clone(), stranger].concat();
        let short = [client_initial(2, 13, b"", &[]), vec![0x40; 30]].concat();
        assert!(!ends_handshake(&coalesced));
        assert!(ends_handshake(&short));
        let out = redacted(&[first.clone(), coalesced, short.clone()], &scrubber);
        assert_eq!(out[0].len(), first.len());
        assert_eq!(out[1].len(), first.len(), "cut where the stranger starts");
        assert_eq!(out[1], out[0]);
        assert_eq!(out[2].len(), short.len());
        // Bytes that are not QUIC at all are cut from the start.
        let mut flow = QuicFlow::default();
        let junk = [0xc0, 0, 0, 0, 1, 30];
        assert_eq!(flow.rewrite(&junk, true, &mut junk.clone(), &scrubber), 0);
    }

    #[test]
    fn a_retry_whose_token_is_rewritten_is_signed_again() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let names = ["www.alpn.test".to_string()];
        let scrubber = Scrubber::new(&mut r, &names, &[]);
        let mut retry = vec![0xf0, 0, 0, 0, 1, 4];
        retry.extend_from_slice(&SCID);
        retry.push(8);
        retry.extend_from_slice(&[0xaa; 8]);
        retry.extend_from_slice(b"token for www.alpn.test");
        let tag = retry_tag(KnownVersion::V1, &retry, &RFC_DCID).unwrap();
        retry.extend_from_slice(&tag);

        let mut flow = QuicFlow::default();
        let mut budget = super::super::stream::MAX_STORED_BYTES;
        let initial = client_initial(0, 0, b"hello", &[]);
        flow.collect(&initial, true, &mut budget);
        flow.collect(&retry, false, &mut budget);
        flow.finish(&scrubber);
        let mut out = initial.clone();
        assert_eq!(
            flow.rewrite(&initial, true, &mut out, &scrubber),
            initial.len()
        );
        let mut rewritten = retry.clone();
        assert_eq!(
            flow.rewrite(&retry, false, &mut rewritten, &scrubber),
            retry.len()
        );
        assert_ne!(rewritten, retry);
        assert!(!rewritten.windows(4).any(|w| w == b"alpn"));
        let Some(Ok(Packet::Retry(parsed))) = packets(&rewritten).next() else {
            panic!("not a Retry")
        };
        assert_eq!(verify_retry(&parsed, &RFC_DCID), RetryIntegrity::Valid);
    }
}
