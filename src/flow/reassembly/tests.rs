//! Reassembly scenarios from short segment lists: order, overlap, gaps, caps, conflicting copies.

use super::*;

/// What a consumer saw: the bytes, with `?` for each missing byte (`!` for each byte of a hole
/// given up to free memory).
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
            Chunk::Shed { len, frame } => {
                self.bytes.extend(std::iter::repeat_n(b'!', len as usize));
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

#[test]
fn shedding_gives_up_every_hole_and_reads_the_data_after_them() {
    let mut r = Reassembler::new();
    let mut seen = Seen::default();
    r.syn(SeqNumber(999));
    {
        let mut sink = seen.sink();
        r.segment(SeqNumber(1000), 1, b"ab", 2, &mut sink);
        // Holes at 1002..1004 and 1006..1007.
        r.segment(SeqNumber(1004), 2, b"cd", 2, &mut sink);
        r.segment(SeqNumber(1007), 3, b"efg", 3, &mut sink);
        assert_eq!(r.pending_bytes(), 5);
        assert!(r.held_bytes() >= 5 + 2);
        assert_eq!(r.shed_pending(4, &mut sink), 5);
        assert_eq!(r.pending_bytes(), 0);
        // The stream goes on after the data that waited.
        r.segment(SeqNumber(1010), 5, b"h", 1, &mut sink);
    }
    assert_eq!(seen.bytes, b"ab!!cd!efgh");
    assert_eq!(seen.frames, vec![1, 4, 2, 4, 3, 5]);
    let stats = r.stats();
    assert_eq!(
        (
            stats.shed_holes,
            stats.shed_hole_bytes,
            stats.shed_pending_bytes,
            stats.first_shed_frame
        ),
        (2, 3, 5, Some(4))
    );
    // Holes given up are not counted as capture gaps.
    assert_eq!((stats.gaps, stats.gap_bytes), (0, 0));
}

#[test]
fn shedding_without_waiting_data_changes_nothing() {
    let mut r = Reassembler::new();
    let mut seen = Seen::default();
    r.syn(SeqNumber(999));
    let mut sink = seen.sink();
    r.segment(SeqNumber(1000), 1, b"ab", 2, &mut sink);
    assert_eq!(r.shed_pending(2, &mut sink), 0);
    assert_eq!(r.stats().shed_holes, 0);
}
