//! CRYPTO stream reassembly (RFC 9000 §19.6, RFC 9001 §4.1.3): the CRYPTO frames of one
//! direction and one packet number space, by offset, back into the TLS handshake bytes.
//!
//! Frames come in capture order: out of order, repeated (a lost packet re-sent), overlapping
//! (re-sent with other boundaries), split many times and shuffled within a packet (Chrome's
//! "chaos protection"), spread over several packets and datagrams (a post-quantum key share
//! pushes the ClientHello past one Initial). A [`CryptoStream`] puts the bytes back by offset;
//! the first copy of a byte wins, and a later copy that differs is counted as a conflict.
//!
//! What comes out is the TLS handshake layer without records: handshake messages back to back
//! from offset 0, exactly what [`crate::tls::handshake::Reassembler::read`] takes (QUIC carries
//! no TLS records, RFC 9001 §4). [`CryptoStream::read_new`] hands out each newly contiguous run
//! with the frame number that first carried it, for that reassembler's evidence frames;
//! [`CryptoStream::contiguous`] is the whole prefix received so far.
//!
//! # Bounds
//!
//! Only offsets below [`MAX_CRYPTO_BYTES`] (64 KiB, the largest hello the TLS layer buffers) are
//! kept, and at most [`MAX_PIECES`] separate ranges are held ahead of the contiguous prefix;
//! bytes refused by either cap are counted and flagged in [`CryptoStats`], never silently lost.
//! Nothing panics on any input.
//!
//! Invariants: `data` holds offsets `[0, data.len())`, holes zero-filled, never longer than
//! [`MAX_CRYPTO_BYTES`]; every byte below `delivered` was received; `pieces` are the received
//! ranges from `delivered` on, sorted, disjoint, each within `data`, at most [`MAX_PIECES`]
//! plus one (the range that extended the contiguous prefix, until read or compacted).

use super::version::LongType;

/// Stream offsets kept per direction and packet number space: 64 KiB, as the TLS layer's
/// largest buffered hello ([`crate::tls::MAX_HELLO_BYTES`]).
pub const MAX_CRYPTO_BYTES: u64 = 64 * 1024;
/// Separate ranges held beyond the contiguous prefix.
pub const MAX_PIECES: usize = 64;

/// The packet number spaces that carry CRYPTO frames this tool reads (RFC 9000 §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// Initial packets: ClientHello and ServerHello, readable without keys.
    Initial,
    /// Handshake packets: EncryptedExtensions, Certificate, …; need the handshake secrets.
    Handshake,
}

impl Space {
    /// The space of a long-header packet type (0-RTT and Retry carry no CRYPTO frames).
    pub fn of(ty: LongType) -> Option<Space> {
        match ty {
            LongType::Initial => Some(Space::Initial),
            LongType::Handshake => Some(Space::Handshake),
            LongType::ZeroRtt | LongType::Retry => None,
        }
    }
}

/// Counters of one CRYPTO stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CryptoStats {
    /// CRYPTO frames given (with data).
    pub frames: u64,
    /// Frames all of whose bytes had been received before (re-sent).
    pub repeated_frames: u64,
    /// Frames that partly repeated bytes received before.
    pub overlapping_frames: u64,
    /// Frames that brought bytes beyond a hole.
    pub out_of_order_frames: u64,
    /// Frames whose repeated bytes differ from the first copy (the first copy is kept).
    pub conflicting_frames: u64,
    /// Bytes given again that had been received before.
    pub repeated_bytes: u64,
    /// Bytes at offsets from [`MAX_CRYPTO_BYTES`] on, not kept.
    pub beyond_cap_bytes: u64,
    /// Bytes not kept because [`MAX_PIECES`] ranges were already held.
    pub too_many_pieces_bytes: u64,
}

impl CryptoStats {
    /// True when a cap refused bytes: the stream may stay incomplete for that reason alone.
    pub fn capped(&self) -> bool {
        self.beyond_cap_bytes > 0 || self.too_many_pieces_bytes > 0
    }
}

/// A received range not handed out yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    start: u64,
    end: u64,
    /// The frame that first carried it.
    frame: u64,
}

/// One direction's CRYPTO stream in one packet number space.
#[derive(Debug, Clone, Default)]
pub struct CryptoStream {
    data: Vec<u8>,
    delivered: u64,
    pieces: Vec<Piece>,
    stats: CryptoStats,
    /// The bytes were let go ([`CryptoStream::release`]): only the ranges received are kept.
    released: bool,
}

/// `u64` offset to an index into `data`; offsets are below [`MAX_CRYPTO_BYTES`].
fn at(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

impl CryptoStream {
    /// An empty stream.
    pub fn new() -> CryptoStream {
        CryptoStream::default()
    }

    /// Takes the data of one CRYPTO frame at stream `offset`, carried by capture frame `frame`.
    /// Call [`CryptoStream::read_new`] after it to hand on what became contiguous.
    pub fn insert(&mut self, frame: u64, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.stats.frames += 1;
        let len = data.len() as u64;
        let end = offset.saturating_add(len);
        let kept_end = end.min(MAX_CRYPTO_BYTES);
        self.stats.beyond_cap_bytes += len - kept_end.saturating_sub(offset).min(len);

        // Walk the received set ([0, delivered) and the pieces) over [offset, kept_end): the
        // parts already received are compared with the first copy, the others are fresh.
        let mut repeated = 0u64;
        let mut conflict = false;
        let mut fresh: Vec<(u64, u64)> = Vec::new();
        let released = self.released;
        let differs = |old: &[u8], from: u64, to: u64| {
            if released {
                // The first copy is gone: nothing to compare with.
                return false;
            }
            let first = old.get(at(from)..at(to)).unwrap_or(&[]);
            first
                != data
                    .get(at(from.saturating_sub(offset))..at(to.saturating_sub(offset)))
                    .unwrap_or(&[])
        };
        let mut cursor = offset;
        let received = std::iter::once((0, self.delivered))
            .chain(self.pieces.iter().map(|p| (p.start, p.end)));
        for (start, stop) in received {
            if cursor >= kept_end {
                break;
            }
            if stop <= cursor {
                continue;
            }
            if start > cursor {
                let to = start.min(kept_end);
                fresh.push((cursor, to));
                cursor = to;
            }
            if cursor < kept_end {
                let to = stop.min(kept_end);
                repeated += to - cursor;
                conflict |= differs(&self.data, cursor, to);
                cursor = to;
            }
        }
        if cursor < kept_end {
            fresh.push((cursor, kept_end));
        }

        let contiguous = self.contiguous_end();
        if fresh.iter().any(|(start, _)| *start > contiguous) {
            self.stats.out_of_order_frames += 1;
        }
        for (start, stop) in fresh {
            if !self.add_piece(frame, start, stop, data, offset) {
                self.stats.too_many_pieces_bytes += stop - start;
            }
        }
        self.stats.repeated_bytes += repeated;
        if repeated == len {
            self.stats.repeated_frames += 1;
        } else if repeated > 0 {
            self.stats.overlapping_frames += 1;
        }
        if conflict {
            self.stats.conflicting_frames += 1;
        }
    }

    /// Merges the pieces of the contiguous prefix not handed out yet into one (keeping the
    /// first one's frame): only reached when [`CryptoStream::read_new`] is not called.
    fn compact_prefix(&mut self) {
        let mut end = self.delivered;
        let count = self
            .pieces
            .iter()
            .take_while(|p| {
                let joins = p.start == end;
                if joins {
                    end = p.end;
                }
                joins
            })
            .count();
        if count > 1 {
            self.pieces.drain(1..count);
            if let Some(first) = self.pieces.first_mut() {
                first.end = end;
            }
        }
    }

    /// Records `[start, end)` (within `data`, which sits at `offset`) as received from
    /// `frame`, merging with a neighbour from the same frame. False when [`MAX_PIECES`] ranges
    /// are held already and it neither merges nor extends the contiguous prefix (a range that
    /// fills the first hole is always taken).
    fn add_piece(&mut self, frame: u64, start: u64, end: u64, data: &[u8], offset: u64) -> bool {
        let index = self.pieces.partition_point(|p| p.start < start);
        let merges_before = index
            .checked_sub(1)
            .and_then(|i| self.pieces.get(i))
            .is_some_and(|p| p.end == start && p.frame == frame);
        let merges_after = self
            .pieces
            .get(index)
            .is_some_and(|p| p.start == end && p.frame == frame);
        let extends_prefix = start == self.contiguous_end();
        if !merges_before && !merges_after && !extends_prefix && self.pieces.len() >= MAX_PIECES {
            let before = self.pieces.len();
            self.compact_prefix();
            if self.pieces.len() == before {
                return false;
            }
            return self.add_piece(frame, start, end, data, offset);
        }
        if !self.released && self.data.len() < at(end) {
            self.data.resize(at(end), 0);
        }
        let source = data
            .get(at(start.saturating_sub(offset))..at(end.saturating_sub(offset)))
            .unwrap_or(&[]);
        if let Some(dest) = self.data.get_mut(at(start)..at(end)) {
            dest.copy_from_slice(source);
        }
        match (merges_before, merges_after) {
            (true, true) => {
                let after_end = self.pieces.get(index).map_or(end, |p| p.end);
                self.pieces.remove(index);
                if let Some(p) = self.pieces.get_mut(index - 1) {
                    p.end = after_end;
                }
            }
            (true, false) => {
                if let Some(p) = self.pieces.get_mut(index - 1) {
                    p.end = end;
                }
            }
            (false, true) => {
                if let Some(p) = self.pieces.get_mut(index) {
                    p.start = start;
                }
            }
            (false, false) => self.pieces.insert(index, Piece { start, end, frame }),
        }
        if self.pieces.len() > MAX_PIECES {
            self.compact_prefix();
        }
        true
    }

    /// End of the contiguous prefix: every byte before it was received.
    pub fn contiguous_end(&self) -> u64 {
        let mut end = self.delivered;
        for p in &self.pieces {
            if p.start != end {
                break;
            }
            end = p.end;
        }
        end
    }

    /// The contiguous prefix received so far, from offset 0 (handshake messages back to back).
    pub fn contiguous(&self) -> &[u8] {
        self.data.get(..at(self.contiguous_end())).unwrap_or(&[])
    }

    /// Hands each newly contiguous run to `sink` with the frame that first carried it, in
    /// stream order, and marks it delivered; returns how many bytes were handed out (after
    /// [`CryptoStream::release`] the runs are only marked delivered: nothing is handed out).
    pub fn read_new(&mut self, mut sink: impl FnMut(u64, &[u8])) -> usize {
        let mut taken = 0;
        let mut handed = 0;
        for p in &self.pieces {
            if p.start != self.delivered {
                break;
            }
            if !self.released {
                sink(
                    p.frame,
                    self.data.get(at(p.start)..at(p.end)).unwrap_or(&[]),
                );
                handed += at(p.end - p.start);
            }
            self.delivered = p.end;
            taken += 1;
        }
        self.pieces.drain(..taken);
        handed
    }

    /// Bytes handed out by [`CryptoStream::read_new`] so far (the stream offset reached).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The first hole: from the end of the contiguous prefix to the next range received, when
    /// bytes beyond a hole are held.
    pub fn first_hole(&self) -> Option<(u64, u64)> {
        let end = self.contiguous_end();
        self.pieces
            .iter()
            .find(|p| p.start > end)
            .map(|p| (end, p.start))
    }

    /// The highest offset received (end of the furthest byte kept, or of the furthest range
    /// after [`CryptoStream::release`]).
    pub fn received_end(&self) -> u64 {
        let ranges = self.pieces.last().map_or(self.delivered, |p| p.end);
        (self.data.len() as u64).max(ranges)
    }

    /// Counters.
    pub fn stats(&self) -> &CryptoStats {
        &self.stats
    }

    /// Heap bytes held.
    pub fn held_bytes(&self) -> usize {
        self.data.capacity() + self.pieces.capacity() * std::mem::size_of::<Piece>()
    }

    /// Frees the buffer once the handshake messages were read; later frames are only counted.
    /// The ranges received are kept (at most [`MAX_PIECES`] beyond the contiguous prefix), so a
    /// later copy of bytes received before still counts as repeated; [`CryptoStream::read_new`]
    /// hands out no more bytes.
    pub fn release(&mut self) {
        self.data = Vec::new();
        self.pieces.shrink_to_fit();
        self.released = true;
    }
}

/// The CRYPTO streams of one direction: Initial and Handshake.
#[derive(Debug, Clone, Default)]
pub struct CryptoSpaces {
    /// Initial packets' CRYPTO stream.
    pub initial: CryptoStream,
    /// Handshake packets' CRYPTO stream.
    pub handshake: CryptoStream,
}

impl CryptoSpaces {
    /// The stream of `space`.
    pub fn get_mut(&mut self, space: Space) -> &mut CryptoStream {
        match space {
            Space::Initial => &mut self.initial,
            Space::Handshake => &mut self.handshake,
        }
    }

    /// The stream of `space`.
    pub fn get(&self, space: Space) -> &CryptoStream {
        match space {
            Space::Initial => &self.initial,
            Space::Handshake => &self.handshake,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::frame::{Frame, frames};
    use crate::quic::testdata;
    use crate::tls::handshake::{Reassembler, Step};
    use crate::tls::{ClientHello, HandshakeType};

    /// The test stream: 50 distinct bytes.
    fn stream() -> Vec<u8> {
        (0..50u8)
            .map(|b| b.wrapping_mul(37).wrapping_add(11))
            .collect()
    }

    /// A fragment of `stream`: `(offset, end)`.
    type Fragment = (usize, usize);

    /// Feeds `fragments` in order (frame n + 1 for the n-th), reading after each as a consumer
    /// does; checks that the bytes handed out are the stream, each byte tagged with the frame
    /// that first carried it, that every repeated byte was counted, and returns the stats.
    fn feed(fragments: &[Fragment]) -> CryptoStats {
        let stream = stream();
        let mut first_frame = vec![0u64; stream.len()];
        let mut s = CryptoStream::new();
        let mut out = Vec::new();
        let mut out_frames = Vec::new();
        let mut given = 0;
        for (n, &(start, end)) in fragments.iter().enumerate() {
            let frame = n as u64 + 1;
            for f in &mut first_frame[start..end] {
                if *f == 0 {
                    *f = frame;
                }
            }
            s.insert(frame, start as u64, &stream[start..end]);
            given += end - start;
            s.read_new(|frame, bytes| {
                out.extend_from_slice(bytes);
                out_frames.extend(std::iter::repeat_n(frame, bytes.len()));
            });
            assert_eq!(s.contiguous(), &stream[..out.len()]);
            assert_eq!(s.delivered(), out.len() as u64);
        }
        assert_eq!(out, stream, "{fragments:?}");
        assert_eq!(out_frames, first_frame, "{fragments:?}");
        assert_eq!(s.first_hole(), None);
        let stats = *s.stats();
        assert_eq!(stats.repeated_bytes, (given - stream.len()) as u64);
        assert_eq!(stats.frames, fragments.len() as u64);
        assert!(!stats.capped());
        stats
    }

    /// Every ordering of `items` (Heap's algorithm).
    fn permutations(items: &[Fragment], mut each: impl FnMut(&[Fragment])) {
        let mut a = items.to_vec();
        let n = a.len();
        let mut c = vec![0; n];
        each(&a);
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    a.swap(0, i);
                } else {
                    a.swap(c[i], i);
                }
                each(&a);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    /// The property: any split of the stream into up to 6 pieces, plus a duplicate of one piece
    /// and a fragment overlapping two neighbours, fed in every order, gives the same bytes with
    /// the right frames, and every repeated byte is counted.
    #[test]
    fn every_order_of_every_split_gives_the_stream() {
        let len = stream().len();
        let cut_sets: &[&[usize]] = &[
            &[],
            &[25],
            &[1, 49],
            &[10, 20, 30],
            &[3, 4, 40, 41],
            &[7, 15, 22, 31, 44],
            &[1, 2, 3, 20, 48],
        ];
        let mut runs = 0;
        for cuts in cut_sets {
            let bounds: Vec<usize> = std::iter::once(0)
                .chain(cuts.iter().copied())
                .chain(std::iter::once(len))
                .collect();
            let mut fragments: Vec<Fragment> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
            // A duplicate of the middle piece, and (with two pieces or more) a fragment from
            // inside the first piece to inside the second.
            fragments.push(fragments[fragments.len() / 2]);
            if fragments.len() > 2 {
                let (a, b) = (fragments[0], fragments[1]);
                fragments.push(((a.0 + a.1) / 2, (b.0 + b.1).div_ceil(2)));
            }
            permutations(&fragments, |order| {
                feed(order);
                runs += 1;
            });
        }
        // n pieces plus the duplicate and the overlap (none for one piece): (n + 2)! orders.
        assert_eq!(runs, 2 + 24 + 120 + 720 + 5040 + 40320 + 40320);
    }

    #[test]
    fn repeats_overlaps_and_holes_are_counted() {
        let stats = feed(&[(10, 20), (0, 10), (0, 10), (5, 15), (20, 50)]);
        assert_eq!(
            stats,
            CryptoStats {
                frames: 5,
                repeated_frames: 2,
                overlapping_frames: 0,
                out_of_order_frames: 1,
                conflicting_frames: 0,
                repeated_bytes: 20,
                beyond_cap_bytes: 0,
                too_many_pieces_bytes: 0,
            }
        );
        let stats = feed(&[(0, 10), (5, 30), (40, 50), (25, 45)]);
        assert_eq!(stats.overlapping_frames, 2);
        assert_eq!(stats.out_of_order_frames, 1);
        assert_eq!(stats.repeated_frames, 0);
    }

    #[test]
    fn a_differing_copy_is_a_conflict_and_the_first_copy_wins() {
        let mut s = CryptoStream::new();
        s.insert(1, 0, b"hello");
        s.insert(2, 10, b"world");
        s.insert(3, 8, b"XXwoRld");
        s.insert(4, 0, b"hellO");
        s.insert(5, 5, b"     ");
        // Frame 3 brought "XX", frame 5 the three spaces before them; each differed where it
        // repeated, as frame 4 did.
        assert_eq!(s.contiguous(), b"hello   XXworld");
        assert_eq!(s.stats().conflicting_frames, 3);
        assert_eq!(s.stats().overlapping_frames, 2);
        assert_eq!(s.stats().repeated_frames, 1);
        let mut runs = Vec::new();
        s.read_new(|frame, bytes| runs.push((frame, bytes.to_vec())));
        assert_eq!(
            runs,
            [
                (1, b"hello".to_vec()),
                (5, b"   ".to_vec()),
                (3, b"XX".to_vec()),
                (2, b"world".to_vec())
            ]
        );
    }

    #[test]
    fn bytes_beyond_64_kib_are_refused_and_flagged() {
        let mut s = CryptoStream::new();
        s.insert(1, MAX_CRYPTO_BYTES - 2, b"abcd");
        s.insert(2, MAX_CRYPTO_BYTES + 100, b"xyz");
        s.insert(3, u64::MAX - 1, b"zz");
        assert_eq!(s.stats().beyond_cap_bytes, 2 + 3 + 2);
        assert!(s.stats().capped());
        assert_eq!(s.received_end(), MAX_CRYPTO_BYTES);
        assert_eq!(s.first_hole(), Some((0, MAX_CRYPTO_BYTES - 2)));
        assert!(s.held_bytes() <= MAX_CRYPTO_BYTES as usize + MAX_PIECES * 24);
    }

    #[test]
    fn too_many_pieces_are_refused_until_the_hole_fills() {
        let mut s = CryptoStream::new();
        // Every other byte from offset 1 on, one frame each: MAX_PIECES held, then refused.
        for i in 0..MAX_PIECES as u64 + 10 {
            s.insert(i + 1, 1 + 2 * i, b"x");
        }
        assert_eq!(s.stats().too_many_pieces_bytes, 10);
        assert!(s.stats().capped());
        // The first byte fills the first hole; the prefix moves on and room comes back.
        s.insert(1000, 0, b"y");
        assert_eq!(s.read_new(|_, _| ()), 2);
        s.insert(1001, 2, b"z");
        assert_eq!(s.read_new(|_, _| ()), 2);
        assert_eq!(s.first_hole(), Some((4, 5)));
        s.insert(1002, 1 + 2 * (MAX_PIECES as u64 + 5), b"x");
        assert_eq!(s.stats().too_many_pieces_bytes, 10);
    }

    #[test]
    fn without_read_new_the_prefix_is_compacted_not_refused() {
        let mut s = CryptoStream::new();
        for i in 0..200u64 {
            s.insert(i + 1, i, b"a");
        }
        assert_eq!(s.contiguous().len(), 200);
        assert!(!s.stats().capped());
        let mut runs = 0;
        assert_eq!(s.read_new(|_, _| runs += 1), 200);
        assert!(runs <= MAX_PIECES);
    }

    /// The RFC 9001 §A.2 ClientHello, its CRYPTO frame split in five and fed shuffled,
    /// reassembles into the bytes the TLS handshake layer reads: the hello with its SNI and
    /// ALPN, as the pipeline will hand it on.
    #[test]
    fn a_shuffled_client_hello_reaches_the_tls_handshake_layer() {
        let frame = testdata::rfc9001_client_crypto_frame();
        let Some(Ok(Frame::Crypto { offset: 0, data })) = frames(&frame).next() else {
            panic!();
        };
        let cuts = [0, 3, 50, 51, 200, data.len()];
        let pieces: Vec<_> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let mut s = CryptoStream::new();
        let mut reassembler = Reassembler::default();
        let mut messages = Vec::new();
        for (frame_number, &(a, b)) in [4u64, 2, 5, 1, 3]
            .iter()
            .zip(&[pieces[3], pieces[1], pieces[4], pieces[0], pieces[2]])
        {
            s.insert(*frame_number, a as u64, &data[a..b]);
            s.read_new(|frame, mut bytes| {
                while !bytes.is_empty() {
                    let (step, rest) = reassembler.read(frame, bytes, false);
                    if let Step::Done(message) = step {
                        messages.push(message);
                    }
                    bytes = rest;
                }
            });
        }
        let [message] = messages.as_slice() else {
            panic!("{messages:?}");
        };
        assert_eq!(message.ty, HandshakeType::CLIENT_HELLO);
        assert_eq!(message.frames, [1, 2, 3, 4, 5]);
        let hello = ClientHello::parse(&message.body).unwrap();
        assert_eq!(hello.sni.as_deref(), Some("example.com"));
        let offered: Vec<_> = hello.offered().iter().map(|p| p.0.clone()).collect();
        assert_eq!(offered, [b"alpn".to_vec()]);
        assert!(
            hello.extensions.contains(&0x39),
            "quic_transport_parameters"
        );
    }

    #[test]
    fn spaces_are_apart() {
        let mut spaces = CryptoSpaces::default();
        spaces.get_mut(Space::Handshake).insert(1, 0, b"hs");
        assert_eq!(spaces.get(Space::Initial).contiguous(), b"");
        assert_eq!(spaces.get(Space::Handshake).contiguous(), b"hs");
        assert_eq!(Space::of(LongType::Initial), Some(Space::Initial));
        assert_eq!(Space::of(LongType::ZeroRtt), None);
        spaces.handshake.read_new(|_, _| {});
        spaces.handshake.release();
        assert_eq!(spaces.handshake.held_bytes(), 0);
    }

    /// After `release` no byte is kept or handed out, but the ranges are: a copy of bytes
    /// received before the release — within the prefix, or beyond a hole — counts as repeated,
    /// and bytes never received count as new.
    #[test]
    fn released_stream_still_tells_repeats() {
        let stream = stream();
        let mut s = CryptoStream::new();
        s.insert(1, 0, &stream[0..10]);
        s.insert(2, 20, &stream[20..30]);
        assert_eq!(s.read_new(|_, _| {}), 10);
        s.release();
        assert_eq!(
            s.held_bytes(),
            s.pieces.capacity() * std::mem::size_of::<Piece>()
        );
        s.insert(3, 20, &stream[20..30]);
        s.insert(4, 0, &stream[0..10]);
        s.insert(5, 10, &stream[10..20]);
        assert_eq!(
            s.read_new(|_, _| panic!("a released stream hands out nothing")),
            0
        );
        assert_eq!(s.delivered(), 30);
        s.insert(6, 10, &stream[10..20]);
        s.insert(7, 30, &stream[30..40]);
        let stats = s.stats();
        assert_eq!((stats.frames, stats.repeated_frames), (7, 3));
        assert_eq!(stats.conflicting_frames, 0);
        assert_eq!(stats.repeated_bytes, 30);
        assert!(s.data.is_empty());
    }
}
