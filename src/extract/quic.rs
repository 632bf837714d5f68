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
//! client's first Initial is not in the capture, a version alpnscope reads without keys),
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

    /// The stream of a direction and attempt; created if there is room.
    fn stream(&mut self, from_client: bool, attempt: usize, create: bool) -> Option<&mut Stream> {
        let found = self
            .streams
            .iter()
            .position(|s| s.from_client == from_client && s.attempt == attempt);
        let index = match found {
            Some(i) => i,
            None if create && self.streams.len() < MAX_STREAMS => {
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
            let Some(stream) = self.stream(from_client, attempt, true) else {
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
            for (i, b) in data.iter().enumerate() {
                // The first copy of a byte wins, as in the reassembler.
                if !stream.filled[start + i] {
                    stream.bytes[start + i] = *b;
                    stream.filled[start + i] = true;
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
        let tag_at = place.len().saturating_sub(RETRY_TAG_LEN);
        let Some(tag) = retry_tag(retry.version, &place[..tag_at], original.as_bytes()) else {
            return false;
        };
        place[tag_at..].copy_from_slice(&tag);
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
