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
/// Capacity the kept bytes grow to by doubling before they double past it: the largest block
/// glibc's per-thread cache holds (1,032 bytes) less room for rounding.
const KEPT_SMALL_CAPACITY: usize = 1000;
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
    /// A hole given up by [`Reassembler::shed_pending`] to free memory: the bytes were missing
    /// when alpnscope stopped waiting, not necessarily missing from the capture.
    Shed {
        /// The frame at which the hole was given up.
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
    /// Holes given up to free memory ([`Reassembler::shed_pending`]); not counted in `gaps`.
    pub shed_holes: u32,
    /// Bytes missing in those holes.
    pub shed_hole_bytes: u64,
    /// Out-of-order bytes that were waiting behind them, delivered when the holes were given up.
    pub shed_pending_bytes: u64,
    /// The frame at which holes were first given up.
    pub first_shed_frame: Option<u64>,
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

    /// The stream starts at `isn + 1` after all: the peer used another SYN/ACK's initial
    /// sequence number than the first one seen. Only before any data segment.
    pub fn restart(&mut self, isn: SeqNumber) {
        if self.stats.segments == 0 {
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

    /// Heap bytes held: out-of-order segments waiting behind a hole, the delivered bytes kept
    /// for comparison, and a conflicting copy. O(1).
    pub fn held_bytes(&self) -> usize {
        self.pending_bytes
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.kept.capacity()
            + self.kept_frames.capacity() * std::mem::size_of::<(usize, u64)>()
            + self.conflicting_copy.as_ref().map_or(0, Vec::capacity)
    }

    /// Out-of-order bytes waiting behind a hole.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Frees the out-of-order segments by giving up the holes before them (memory pressure):
    /// each hole goes out as a [`Chunk::Shed`] and the segments after it are delivered.
    /// Returns the bytes that were waiting.
    pub fn shed_pending(&mut self, frame: u64, out: &mut dyn FnMut(Chunk<'_>)) -> usize {
        let waiting = self.pending_bytes;
        while let Some(first) = self.pending.first() {
            let until = first.seq;
            if let Some(next) = self.next {
                let len = until.diff(next);
                if len > 0 {
                    let len = len as u32;
                    self.stats.shed_holes += 1;
                    self.stats.shed_hole_bytes += u64::from(len);
                    self.stats.first_shed_frame.get_or_insert(frame);
                    self.next = Some(until);
                    out(Chunk::Shed { frame, len });
                }
            }
            let before = self.pending.len();
            self.drain(out);
            if self.pending.len() == before {
                // Not expected: the first segment starts at `next` after the hole.
                break;
            }
        }
        self.stats.shed_pending_bytes += waiting as u64;
        self.pending = Vec::new();
        self.pending_bytes = 0;
        waiting
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
        let bytes = &bytes[..bytes.len().min(room)];
        let needed = self.kept.len() + bytes.len();
        if needed > self.kept.capacity() {
            // Doubling, but not past a kilobyte unless the bytes need it: a ClientHello and
            // what follows it stay in a block the allocator keeps at hand.
            let doubled = (self.kept.capacity() * 2).min(KEPT_SMALL_CAPACITY);
            self.kept
                .reserve_exact(needed.max(doubled) - self.kept.len());
        }
        self.kept_frames.push((self.kept.len(), frame));
        self.kept.extend_from_slice(bytes);
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
mod tests;
