//! One direction of a TCP stream, put back in sequence order.
//!
//! Segments come in capture order; bytes go out in sequence order, each chunk tagged with the
//! frame that carried it. Retransmitted and overlapping bytes go out once (the first copy wins,
//! as in Wireshark). A segment ahead of the expected sequence number waits in a bounded buffer
//! until the hole before it fills. A hole is declared a [`Chunk::Gap`] — never glued over — when
//! the peer acknowledges past it (the capture missed data the receiver got), when the buffer cap
//! is reached, when the snaplen cut a segment's payload, or when the stream is finished.
//!
//! A copy that repeats bytes already seen is compared with the first copy while those bytes are
//! still held: the first [`MAX_COMPARED_BYTES`] delivered bytes of the direction (its hellos),
//! kept until the reassembler turns passive, and the segments waiting in the buffer. A copy that
//! differs is a [`Conflict`] in the [`ReassemblyStats`]; the first copy still wins. A keep-alive
//! probe (one byte at the last sequence number sent, any value) is not compared. A sender can
//! thus not show the capture one ClientHello and the server another without it being said.
//!
//! Invariants: `pending` is sorted by sequence number, every pending segment starts after
//! `next`, and `pending_bytes` is the sum of their lengths, never above [`MAX_PENDING_BYTES`].
//! `kept` holds the delivered bytes from `kept_start` on, contiguous, never more than
//! [`MAX_COMPARED_BYTES`], and `kept_frames` (at most [`MAX_KEPT_FRAMES`]) says which frame
//! delivered each part of it.

use super::SeqNumber;

/// Most out-of-order bytes held per direction before a hole is given up as a gap.
pub const MAX_PENDING_BYTES: usize = 256 * 1024;
/// Most out-of-order segments held per direction.
const MAX_PENDING_SEGMENTS: usize = 256;
/// Delivered bytes kept per direction, from its first byte, to compare retransmitted copies
/// with; enough for the hellos, released when the reassembler turns passive.
pub const MAX_COMPARED_BYTES: usize = 16 * 1024;
/// Most frames whose delivered bytes are kept (one entry per delivering frame).
const MAX_KEPT_FRAMES: usize = 64;
/// An acknowledgement this far ahead is not taken as evidence of missing data.
const MAX_PLAUSIBLE_ACK_JUMP: i64 = 1 << 30;

/// A piece of the reassembled stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// In-order bytes and the frame that carried them.
    Data {
        /// Frame number.
        frame: u64,
        /// Bytes.
        bytes: &'a [u8],
    },
    /// Bytes that the capture does not hold.
    Gap {
        /// The frame at which the hole became certain.
        frame: u64,
        /// Missing byte count.
        len: u32,
    },
}

/// A segment whose bytes differ from a copy of the same sequence range seen before; the first
/// copy is the one delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// The frame carrying the differing copy.
    pub frame: u64,
    /// The frame that carried the first copy of the first differing byte.
    pub first_frame: u64,
    /// Bytes of the segment that repeat bytes still held, and were compared.
    pub compared: u32,
    /// Of those, the bytes that differ.
    pub differing: u32,
}

/// Counters kept while reassembling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Segments with payload.
    pub segments: u64,
    /// Segments whose bytes had all been seen before.
    pub retransmitted_segments: u64,
    /// Segments that partly repeated bytes already seen.
    pub overlapping_segments: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order_segments: u64,
    /// Holes declared.
    pub gaps: u32,
    /// Bytes missing in those holes.
    pub gap_bytes: u64,
    /// Times the out-of-order buffer cap forced a gap.
    pub cap_hits: u32,
    /// Segments whose copy of bytes still held differs from the first copy.
    pub conflicting_segments: u64,
    /// The first of those.
    pub first_conflict: Option<Conflict>,
}

#[derive(Debug)]
struct Pending {
    seq: SeqNumber,
    frame: u64,
    data: Vec<u8>,
    wire_len: u32,
}

/// Reassembles one direction of a TCP stream.
#[derive(Debug, Default)]
pub struct Reassembler {
    next: Option<SeqNumber>,
    fin_seq: Option<SeqNumber>,
    pending: Vec<Pending>,
    pending_bytes: usize,
    passive: bool,
    stats: ReassemblyStats,
    /// Sequence number of `kept[0]`, once a byte was delivered.
    kept_start: Option<SeqNumber>,
    kept: Vec<u8>,
    /// `(offset in kept, frame)` for each frame that delivered kept bytes, in order.
    kept_frames: Vec<(usize, u64)>,
    /// The kept bytes as the first conflicting segment would have them (at most
    /// [`MAX_COMPARED_BYTES`]), kept after the reassembler turns passive.
    conflicting_copy: Option<Vec<u8>>,
}

impl Reassembler {
    /// A reassembler that will start at the first SYN or data segment it sees.
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// The start of the stream (from its first delivered byte) with the bytes of the first
    /// conflicting segment in place of the first copy's, when that segment repeated kept bytes:
    /// what the receiver got if it kept the other copy. At most [`MAX_COMPARED_BYTES`].
    pub fn conflicting_copy(&self) -> Option<&[u8]> {
        self.conflicting_copy.as_deref()
    }

    /// The next expected sequence number, once known.
    pub fn next_seq(&self) -> Option<SeqNumber> {
        self.next
    }

    /// A SYN with initial sequence number `isn`: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: SeqNumber) {
        if self.next.is_none() {
            self.next = Some(isn.plus(1));
        }
    }

    /// A FIN whose sequence number (after any payload) is `at`.
    pub fn fin(&mut self, at: SeqNumber) {
        self.fin_seq = Some(at);
    }

    /// Stops buffering and delivering: the consumer needs no more bytes. Counting goes on.
    pub fn make_passive(&mut self) {
        self.passive = true;
        self.pending = Vec::new();
        self.pending_bytes = 0;
        self.kept = Vec::new();
        self.kept_frames = Vec::new();
    }

    /// True once [`Reassembler::make_passive`] was called.
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// A segment starting at `seq`, with `captured` bytes present of `wire_len` sent.
    pub fn segment(
        &mut self,
        seq: SeqNumber,
        frame: u64,
        captured: &[u8],
        wire_len: u32,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        if wire_len == 0 {
            return;
        }
        let captured = &captured[..captured.len().min(wire_len as usize)];
        self.stats.segments += 1;
        let next = *self.next.get_or_insert(seq);
        let offset = seq.diff(next);
        if offset > 0 {
            self.stats.out_of_order_segments += 1;
            if !self.passive {
                self.hold(seq, frame, captured, wire_len, out);
            }
            return;
        }
        let skip = offset.unsigned_abs();
        // A keep-alive probe repeats the last byte sent with any value (usually zero), as
        // Wireshark's `tcp.analysis.keep_alive` rule knows: not a conflicting copy.
        let keep_alive = wire_len == 1 && skip == 1;
        if !keep_alive {
            self.compare_with_kept(seq, frame, captured, skip);
        }
        if skip >= u64::from(wire_len) {
            self.stats.retransmitted_segments += 1;
            return;
        }
        if skip > 0 {
            self.stats.overlapping_segments += 1;
        }
        self.deliver(frame, captured, wire_len, skip as u32, out);
        self.drain(out);
    }

    /// Compares the first `repeated` bytes of a segment at `seq` (bytes already delivered) with
    /// the kept first copy, where it is still held, and counts a [`Conflict`] when they differ.
    fn compare_with_kept(&mut self, seq: SeqNumber, frame: u64, captured: &[u8], repeated: u64) {
        let Some(start) = self.kept_start else { return };
        let repeated = usize::try_from(repeated).unwrap_or(usize::MAX);
        let copy = &captured[..captured.len().min(repeated)];
        // Where the copy starts in `kept`; bytes before `kept_start` are not held.
        let at = seq.diff(start);
        let (copy, at) = if at < 0 {
            let before = usize::try_from(at.unsigned_abs()).unwrap_or(usize::MAX);
            (copy.get(before..).unwrap_or(&[]), 0)
        } else {
            (copy, usize::try_from(at).unwrap_or(usize::MAX))
        };
        let held = self.kept.get(at..).unwrap_or(&[]);
        let compared = copy.len().min(held.len());
        let mut differing = 0;
        let mut first_differing = None;
        for (i, (a, b)) in copy.iter().zip(held).enumerate() {
            if a != b {
                differing += 1;
                first_differing.get_or_insert(at + i);
            }
        }
        let Some(first_differing) = first_differing else {
            return;
        };
        if self.stats.first_conflict.is_none() {
            let mut other = self.kept.clone();
            if let (Some(target), Some(source)) =
                (other.get_mut(at..at + compared), copy.get(..compared))
            {
                target.copy_from_slice(source);
            }
            self.conflicting_copy = Some(other);
        }
        let first_frame = self
            .kept_frames
            .iter()
            .take_while(|(offset, _)| *offset <= first_differing)
            .last()
            .map_or(0, |(_, frame)| *frame);
        self.conflict(Conflict {
            frame,
            first_frame,
            compared: compared as u32,
            differing,
        });
    }

    fn conflict(&mut self, conflict: Conflict) {
        self.stats.conflicting_segments += 1;
        self.stats.first_conflict.get_or_insert(conflict);
    }

    /// Keeps delivered bytes for comparison while they continue the kept prefix.
    fn keep(&mut self, at: SeqNumber, frame: u64, bytes: &[u8]) {
        let start = *self.kept_start.get_or_insert(at);
        if at.diff(start) != self.kept.len() as i64
            || self.kept.len() >= MAX_COMPARED_BYTES
            || self.kept_frames.len() >= MAX_KEPT_FRAMES
        {
            return;
        }
        let room = MAX_COMPARED_BYTES - self.kept.len();
        self.kept_frames.push((self.kept.len(), frame));
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The peer acknowledged everything before `ack`: a hole below it is data the capture missed.
    pub fn acknowledged(&mut self, ack: SeqNumber, frame: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(next) = self.next else { return };
        let ahead = ack.diff(next);
        if ahead <= 0 || ahead > MAX_PLAUSIBLE_ACK_JUMP || self.passive {
            return;
        }
        // The FIN takes one sequence number of its own.
        if self.fin_seq == Some(next) && ahead == 1 {
            return;
        }
        let hole_end = match self.pending.first() {
            Some(p) if ack.after(p.seq) => p.seq,
            _ => ack,
        };
        self.declare_gap(hole_end, frame, out);
        self.drain(out);
    }

    /// End of the stream (or of the capture): every remaining hole becomes a gap.
    pub fn finish(&mut self, frame: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(first) = self.pending.first() {
            let seq = first.seq;
            self.declare_gap(seq, frame, out);
            self.drain(out);
        }
    }

    fn declare_gap(&mut self, until: SeqNumber, frame: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        let Some(next) = self.next else { return };
        let len = until.diff(next);
        if len <= 0 {
            return;
        }
        let len = len as u32;
        self.stats.gaps += 1;
        self.stats.gap_bytes += u64::from(len);
        self.next = Some(until);
        if !self.passive {
            out(Chunk::Gap { frame, len });
        }
    }

    /// Delivers `captured[skip..]`, then a gap for any bytes the snaplen cut off.
    fn deliver(
        &mut self,
        frame: u64,
        captured: &[u8],
        wire_len: u32,
        skip: u32,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let Some(next) = self.next else { return };
        let fresh = wire_len - skip;
        let present = captured.get(skip as usize..).unwrap_or(&[]);
        if !self.passive && !present.is_empty() {
            self.keep(next, frame, present);
            out(Chunk::Data {
                frame,
                bytes: present,
            });
        }
        let missing = fresh - present.len() as u32;
        self.next = Some(next.plus(fresh));
        if missing > 0 {
            self.stats.gaps += 1;
            self.stats.gap_bytes += u64::from(missing);
            if !self.passive {
                out(Chunk::Gap {
                    frame,
                    len: missing,
                });
            }
        }
    }

    /// Releases every pending segment that the stream has now reached.
    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(first) = self.pending.first() {
            let Some(next) = self.next else { return };
            let offset = first.seq.diff(next);
            if offset > 0 {
                return;
            }
            let p = self.pending.remove(0);
            self.pending_bytes -= p.data.len();
            let skip = offset.unsigned_abs();
            self.compare_with_kept(p.seq, p.frame, &p.data, skip);
            if skip >= u64::from(p.wire_len) {
                self.stats.retransmitted_segments += 1;
                continue;
            }
            self.deliver(p.frame, &p.data, p.wire_len, skip as u32, out);
        }
    }

    fn hold(
        &mut self,
        seq: SeqNumber,
        frame: u64,
        captured: &[u8],
        wire_len: u32,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        while !self.pending.is_empty()
            && (self.pending_bytes + captured.len() > MAX_PENDING_BYTES
                || self.pending.len() >= MAX_PENDING_SEGMENTS)
        {
            // Give up on the oldest hole so the stream can move on.
            self.stats.cap_hits += 1;
            let seq = self.pending[0].seq;
            self.declare_gap(seq, frame, out);
            self.drain(out);
        }
        let Some(next) = self.next else { return };
        if seq.diff(next) <= 0 {
            // The forced gap moved the stream past this segment's start.
            self.segment_after_gap(seq, frame, captured, wire_len, out);
            return;
        }
        if captured.len() > MAX_PENDING_BYTES {
            self.stats.cap_hits += 1;
            return;
        }
        let at = self
            .pending
            .partition_point(|p| p.seq.diff(next) < seq.diff(next));
        if let Some(same) = self.pending.get(at)
            && same.seq == seq
            && same.wire_len >= wire_len
        {
            let compared = captured.len().min(same.data.len());
            let differing = captured
                .iter()
                .zip(&same.data)
                .filter(|(a, b)| a != b)
                .count();
            if differing > 0 {
                let first_frame = same.frame;
                self.conflict(Conflict {
                    frame,
                    first_frame,
                    compared: compared as u32,
                    differing: differing as u32,
                });
            }
            self.stats.retransmitted_segments += 1;
            return;
        }
        self.pending_bytes += captured.len();
        self.pending.insert(
            at,
            Pending {
                seq,
                frame,
                data: captured.to_vec(),
                wire_len,
            },
        );
    }

    fn segment_after_gap(
        &mut self,
        seq: SeqNumber,
        frame: u64,
        captured: &[u8],
        wire_len: u32,
        out: &mut dyn FnMut(Chunk<'_>),
    ) {
        let Some(next) = self.next else { return };
        let skip = next.diff(seq).max(0) as u64;
        if skip < u64::from(wire_len) {
            self.deliver(frame, captured, wire_len, skip as u32, out);
            self.drain(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a consumer saw: the bytes, with `?` for each missing byte.
    #[derive(Default)]
    struct Seen {
        bytes: Vec<u8>,
        frames: Vec<u64>,
    }

    impl Seen {
        fn sink(&mut self) -> impl FnMut(Chunk<'_>) + '_ {
            |c| match c {
                Chunk::Data { frame, bytes } => {
                    self.bytes.extend_from_slice(bytes);
                    self.frames.push(frame);
                }
                Chunk::Gap { len, frame } => {
                    self.bytes.extend(std::iter::repeat_n(b'?', len as usize));
                    self.frames.push(frame);
                }
            }
        }
    }

    /// Feeds `(seq, frame, bytes)` segments after a SYN with ISN 999.
    fn run(isn: u32, segments: &[(u32, u64, &[u8])]) -> (Seen, ReassemblyStats) {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        r.syn(SeqNumber(isn));
        {
            let mut sink = seen.sink();
            for &(seq, frame, bytes) in segments {
                r.segment(SeqNumber(seq), frame, bytes, bytes.len() as u32, &mut sink);
            }
            r.finish(99, &mut sink);
        }
        (seen, r.stats())
    }

    #[test]
    fn in_order() {
        let (seen, stats) = run(999, &[(1000, 1, b"abc"), (1003, 2, b"def")]);
        assert_eq!(seen.bytes, b"abcdef");
        assert_eq!(seen.frames, vec![1, 2]);
        assert_eq!(stats.gaps, 0);
    }

    #[test]
    fn out_of_order_is_released_in_order() {
        let (seen, stats) = run(
            999,
            &[(1003, 1, b"def"), (1006, 2, b"ghi"), (1000, 3, b"abc")],
        );
        assert_eq!(seen.bytes, b"abcdefghi");
        assert_eq!(seen.frames, vec![3, 1, 2]);
        assert_eq!(stats.out_of_order_segments, 2);
        assert_eq!(stats.gaps, 0);
    }

    #[test]
    fn retransmission_and_overlap_delivered_once() {
        let (seen, stats) = run(
            999,
            &[
                (1000, 1, b"abcd"),
                (1000, 2, b"abcd"),
                (1002, 3, b"cdef"),
                (1006, 4, b"g"),
            ],
        );
        assert_eq!(seen.bytes, b"abcdefg");
        assert_eq!(stats.retransmitted_segments, 1);
        assert_eq!(stats.overlapping_segments, 1);
    }

    #[test]
    fn sequence_wraparound() {
        let isn = u32::MAX - 2;
        let (seen, stats) = run(
            isn,
            &[(u32::MAX - 1, 1, b"ab"), (0, 2, b"cd"), (2, 3, b"ef")],
        );
        assert_eq!(seen.bytes, b"abcdef");
        assert_eq!(stats.gaps, 0);
    }

    #[test]
    fn unfilled_hole_is_a_gap_at_finish() {
        let (seen, stats) = run(999, &[(1000, 1, b"ab"), (1005, 2, b"fg")]);
        assert_eq!(seen.bytes, b"ab???fg");
        assert_eq!(seen.frames, vec![1, 99, 2]);
        assert_eq!(stats.gaps, 1);
        assert_eq!(stats.gap_bytes, 3);
    }

    #[test]
    fn ack_past_a_hole_declares_it() {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        r.syn(SeqNumber(0));
        let mut sink = seen.sink();
        r.segment(SeqNumber(1), 1, b"ab", 2, &mut sink);
        r.acknowledged(SeqNumber(6), 2, &mut sink);
        r.segment(SeqNumber(6), 3, b"xy", 2, &mut sink);
        drop(sink);
        assert_eq!(seen.bytes, b"ab???xy");
        assert_eq!(seen.frames, vec![1, 2, 3]);
    }

    #[test]
    fn ack_of_fin_is_not_a_gap() {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        r.syn(SeqNumber(0));
        let mut sink = seen.sink();
        r.segment(SeqNumber(1), 1, b"ab", 2, &mut sink);
        r.fin(SeqNumber(3));
        r.acknowledged(SeqNumber(4), 2, &mut sink);
        drop(sink);
        assert_eq!(seen.bytes, b"ab");
        assert_eq!(r.stats().gaps, 0);
    }

    #[test]
    fn snaplen_cut_segment_gives_gap_for_the_rest() {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        r.syn(SeqNumber(0));
        let mut sink = seen.sink();
        r.segment(SeqNumber(1), 1, b"abc", 6, &mut sink);
        r.segment(SeqNumber(7), 2, b"gh", 2, &mut sink);
        drop(sink);
        assert_eq!(seen.bytes, b"abc???gh");
    }

    #[test]
    fn mid_stream_pickup_starts_at_first_segment() {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        let mut sink = seen.sink();
        r.segment(SeqNumber(5000), 1, b"hello", 5, &mut sink);
        r.segment(SeqNumber(5005), 2, b"!", 1, &mut sink);
        drop(sink);
        assert_eq!(seen.bytes, b"hello!");
    }

    #[test]
    fn buffer_cap_forces_a_gap_and_stays_bounded() {
        let mut r = Reassembler::new();
        let mut seen = Seen::default();
        r.syn(SeqNumber(0));
        let block = vec![b'x'; 1000];
        let mut sink = seen.sink();
        // A hole at 1..=10, then far more out-of-order data than the cap.
        for i in 0..400u32 {
            r.segment(
                SeqNumber(11 + i * 1000),
                u64::from(i) + 1,
                &block,
                1000,
                &mut sink,
            );
            assert!(r.pending_bytes <= MAX_PENDING_BYTES);
        }
        drop(sink);
        assert!(r.stats().cap_hits >= 1);
        assert_eq!(r.stats().gaps, 1);
        assert_eq!(&seen.bytes[..10], b"??????????");
        assert_eq!(seen.bytes.len(), 10 + 400 * 1000 - r.pending_bytes);
    }

    /// The conflicts counted while feeding `segments` after a SYN with ISN 0.
    fn conflicts(segments: &[(u32, u64, &[u8])]) -> (Vec<u8>, u64, Option<Conflict>) {
        let (seen, stats) = run(0, segments);
        (seen.bytes, stats.conflicting_segments, stats.first_conflict)
    }

    fn conflict(frame: u64, first_frame: u64, compared: u32, differing: u32) -> Option<Conflict> {
        Some(Conflict {
            frame,
            first_frame,
            compared,
            differing,
        })
    }

    #[test]
    fn an_identical_copy_is_no_conflict() {
        let (bytes, count, first) = conflicts(&[(1, 1, b"abcd"), (1, 2, b"abcd"), (3, 3, b"cdef")]);
        assert_eq!(bytes, b"abcdef");
        assert_eq!((count, first), (0, None));
    }

    #[test]
    fn a_differing_retransmission_keeps_the_first_copy_and_is_counted() {
        let (bytes, count, first) = conflicts(&[(1, 4, b"alpn.test"), (1, 5, b"evil.test")]);
        assert_eq!(bytes, b"alpn.test");
        assert_eq!((count, first), (1, conflict(5, 4, 9, 4)));
    }

    #[test]
    fn an_overlap_compares_only_the_repeated_bytes() {
        // Frame 3 repeats "cd" as "cX" and brings "ef" new; frame 4 repeats "ab" as it was.
        let (bytes, count, first) =
            conflicts(&[(1, 1, b"ab"), (3, 2, b"cd"), (4, 3, b"Xef"), (1, 4, b"ab")]);
        assert_eq!(bytes, b"abcdef");
        assert_eq!((count, first), (1, conflict(3, 2, 1, 1)));
    }

    #[test]
    fn the_first_frame_is_the_one_that_carried_the_differing_byte() {
        let (_, count, first) = conflicts(&[(1, 1, b"ab"), (3, 2, b"cd"), (1, 3, b"abcX")]);
        assert_eq!((count, first), (1, conflict(3, 2, 4, 1)));
    }

    #[test]
    fn copies_waiting_in_the_buffer_are_compared() {
        // Two copies of "cd" wait behind the hole at 1..=2; the second differs.
        let (bytes, count, first) = conflicts(&[(3, 1, b"cd"), (3, 2, b"cD"), (1, 3, b"ab")]);
        assert_eq!(bytes, b"abcd");
        assert_eq!((count, first), (1, conflict(2, 1, 2, 1)));
    }

    #[test]
    fn a_buffered_segment_overlapping_delivered_bytes_is_compared_when_released() {
        // "bX" waits for the hole at 1; once "abc" arrives, its "b" repeats a delivered byte
        // identically, but "X" differs from the "c" already delivered.
        let (bytes, count, first) = conflicts(&[(2, 1, b"bXd"), (1, 2, b"abc")]);
        assert_eq!(bytes, b"abcd");
        assert_eq!((count, first), (1, conflict(1, 2, 2, 1)));
    }

    #[test]
    fn the_other_copy_is_the_kept_bytes_with_the_conflicting_segment_in_place() {
        let mut r = Reassembler::new();
        r.syn(SeqNumber(0));
        let mut sink = |_: Chunk<'_>| {};
        r.segment(SeqNumber(1), 1, b"abc", 3, &mut sink);
        r.segment(SeqNumber(4), 2, b"def", 3, &mut sink);
        assert_eq!(r.conflicting_copy(), None);
        r.segment(SeqNumber(3), 3, b"cX", 2, &mut sink);
        r.segment(SeqNumber(1), 4, b"Y", 1, &mut sink);
        // Only the first conflict is kept, and it outlives the passive turn.
        r.make_passive();
        assert_eq!(r.conflicting_copy(), Some(&b"abcXef"[..]));
        assert_eq!(r.stats().conflicting_segments, 2);
        assert_eq!(r.stats().first_conflict, conflict(3, 2, 2, 1));
    }

    #[test]
    fn a_keep_alive_probe_is_no_conflict() {
        // A one-byte segment repeating the last byte sent, with another value.
        let (bytes, count, _) = conflicts(&[(1, 1, b"abcd"), (4, 2, b"\0")]);
        assert_eq!(bytes, b"abcd");
        assert_eq!(count, 0);
        // One byte further back is a retransmission, and compared.
        let (_, count, first) = conflicts(&[(1, 1, b"abcd"), (3, 2, b"\0")]);
        assert_eq!((count, first), (1, conflict(2, 1, 1, 1)));
    }

    #[test]
    fn every_conflict_is_counted_and_the_first_one_kept() {
        let (_, count, first) = conflicts(&[(1, 1, b"abcd"), (1, 2, b"Xbcd"), (2, 3, b"bYd")]);
        assert_eq!((count, first), (2, conflict(2, 1, 4, 1)));
    }

    #[test]
    fn bytes_past_the_comparison_cap_or_after_a_gap_are_not_compared() {
        let block = vec![b'x'; MAX_COMPARED_BYTES];
        let start = 1 + MAX_COMPARED_BYTES as u32;
        let (_, count, _) = conflicts(&[(1, 1, &block), (start, 2, b"ab"), (start, 3, b"XY")]);
        assert_eq!(count, 0);
        // After a snaplen cut the kept bytes stop: the copy after the gap is not compared.
        let mut r = Reassembler::new();
        r.syn(SeqNumber(0));
        let mut sink = |_: Chunk<'_>| {};
        r.segment(SeqNumber(1), 1, b"ab", 4, &mut sink);
        r.segment(SeqNumber(5), 2, b"ef", 2, &mut sink);
        r.segment(SeqNumber(5), 3, b"XY", 2, &mut sink);
        r.segment(SeqNumber(1), 4, b"aZ", 2, &mut sink);
        assert_eq!(r.stats().conflicting_segments, 1);
        assert_eq!(r.stats().first_conflict, conflict(4, 1, 2, 1));
    }

    #[test]
    fn a_passive_reassembler_releases_its_kept_bytes() {
        let mut r = Reassembler::new();
        r.syn(SeqNumber(0));
        let mut sink = |_: Chunk<'_>| {};
        r.segment(SeqNumber(1), 1, b"abcd", 4, &mut sink);
        r.make_passive();
        assert!(r.kept.is_empty() && r.kept_frames.is_empty());
        r.segment(SeqNumber(1), 2, b"XXXX", 4, &mut sink);
        assert_eq!(r.stats().conflicting_segments, 0);
        assert_eq!(r.stats().retransmitted_segments, 1);
    }

    #[test]
    fn kept_bytes_stay_bounded() {
        let mut r = Reassembler::new();
        r.syn(SeqNumber(0));
        let mut sink = |_: Chunk<'_>| {};
        for i in 0..200u32 {
            r.segment(
                SeqNumber(1 + i * 100),
                u64::from(i) + 1,
                &[b'a'; 100],
                100,
                &mut sink,
            );
        }
        assert!(r.kept.len() <= MAX_COMPARED_BYTES);
        assert_eq!(r.kept_frames.len(), MAX_KEPT_FRAMES);
        assert_eq!(r.kept.len(), MAX_KEPT_FRAMES * 100);
    }

    /// Any order and duplication of the same segments gives the same bytes (a small exhaustive
    /// property test over permutations).
    #[test]
    fn any_order_same_bytes() {
        let segs: [(u32, u64, &[u8]); 4] =
            [(1, 1, b"ab"), (3, 2, b"cde"), (5, 3, b"efg"), (8, 4, b"h")];
        let mut order = [0usize, 1, 2, 3];
        let mut count = 0;
        permute(&mut order, 0, &mut |perm| {
            let mut list: Vec<(u32, u64, &[u8])> = perm.iter().map(|&i| segs[i]).collect();
            list.push(segs[perm[0]]); // one duplicate
            let (seen, stats) = run(0, &list);
            assert_eq!(seen.bytes, b"abcdefgh", "order {perm:?}");
            assert_eq!(stats.gaps, 0);
            assert!(stats.retransmitted_segments + stats.overlapping_segments >= 1);
            count += 1;
        });
        assert_eq!(count, 24);
    }

    fn permute(v: &mut [usize; 4], k: usize, f: &mut dyn FnMut(&[usize; 4])) {
        if k == v.len() {
            f(v);
            return;
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }
}
