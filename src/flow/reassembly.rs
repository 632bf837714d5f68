//! One direction of a TCP stream, put back in sequence order.
//!
//! Segments come in capture order; bytes go out in sequence order, each chunk tagged with the
//! frame that carried it. Retransmitted and overlapping bytes go out once (the first copy wins,
//! as in Wireshark). A segment ahead of the expected sequence number waits in a bounded buffer
//! until the hole before it fills. A hole is declared a [`Chunk::Gap`] — never glued over — when
//! the peer acknowledges past it (the capture missed data the receiver got), when the buffer cap
//! is reached, when the snaplen cut a segment's payload, or when the stream is finished.
//!
//! Invariants: `pending` is sorted by sequence number, every pending segment starts after
//! `next`, and `pending_bytes` is the sum of their lengths, never above [`MAX_PENDING_BYTES`].

use super::SeqNumber;

/// Most out-of-order bytes held per direction before a hole is given up as a gap.
pub const MAX_PENDING_BYTES: usize = 256 * 1024;
/// Most out-of-order segments held per direction.
const MAX_PENDING_SEGMENTS: usize = 256;
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
