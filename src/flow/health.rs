//! TCP network health of one flow, after Wireshark's TCP analysis (`tcp_analyze_sequence_number()`
//! in packet-tcp.c; Wireshark user guide, "TCP Analysis"), so a user can cross-check every count
//! with `tcp.analysis.*` display filters.
//!
//! Each segment is classified once, in Wireshark's order of checks; the counts are kept for the
//! whole flow and for the handshake window, per direction, each with the (capped) list of frames
//! behind it. Where alpnscope differs from Wireshark it says so in the README. State is a few
//! numbers per direction: memory does not grow with the flow.

use super::anomaly::{Anomaly, AnomalySet, Counts, MAX_FRAMES_PER_COUNT};
use super::{SeqNumber, Side};
use crate::capture::Timestamp;
use crate::decode::Segment;

/// Wireshark's window for a fast retransmission after duplicate ACKs.
const FAST_RETRANSMISSION_NS: i64 = 20_000_000;
/// Wireshark's out-of-order threshold while the connection's first RTT is unknown (3 ms).
const OUT_OF_ORDER_NS: i64 = 3_000_000;

/// A data segment that was retransmitted: where it sat in the sequence space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resent {
    /// Frame of the copy.
    pub frame: u64,
    /// First sequence number.
    pub seq: SeqNumber,
    /// Payload length.
    pub len: u32,
}

/// A RST or FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    /// Sender.
    pub side: Side,
    /// Frame.
    pub frame: u64,
    /// Its TTL / hop limit.
    pub ttl: u8,
    /// Time.
    pub time: Timestamp,
}

/// Most distinct TTLs counted per direction.
const MAX_TTLS: usize = 8;

/// A direction's TTL histogram: (value, packets) for its first [`MAX_TTLS`] distinct values, kept
/// inline (a flow's packets carry one or two values; a list on the heap cost two allocations a
/// flow).
#[derive(Debug, Default, Clone, Copy)]
struct TtlCounts {
    values: [u8; MAX_TTLS],
    packets: [u64; MAX_TTLS],
    len: u8,
}

impl TtlCounts {
    /// Counts a packet with `ttl`.
    fn note(&mut self, ttl: u8) {
        let len = usize::from(self.len);
        if let Some(i) = self.values[..len].iter().position(|t| *t == ttl) {
            self.packets[i] += 1;
        } else if len < MAX_TTLS {
            self.values[len] = ttl;
            self.packets[len] = 1;
            self.len += 1;
        }
    }

    /// The (value, packets) pairs, in the order the values first came.
    fn iter(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        let len = usize::from(self.len);
        self.values[..len]
            .iter()
            .copied()
            .zip(self.packets[..len].iter().copied())
    }

    /// Takes one packet off `ttl`'s count.
    fn take_one(&mut self, ttl: u8) {
        let len = usize::from(self.len);
        if let Some(i) = self.values[..len].iter().position(|t| *t == ttl) {
            self.packets[i] = self.packets[i].saturating_sub(1);
        }
    }

    /// The most common value (the highest among equals).
    fn usual(&self) -> Option<u8> {
        self.iter()
            .filter(|(_, n)| *n > 0)
            .max_by_key(|(ttl, n)| (*n, *ttl))
            .map(|(ttl, _)| ttl)
    }
}

#[derive(Debug, Default, Clone)]
struct Direction {
    /// Highest sequence number seen plus its length (SYN and FIN count one).
    next_seq: Option<SeqNumber>,
    /// Time of the segment that last advanced `next_seq`.
    next_seq_time: Timestamp,
    /// Last acknowledgement this direction sent.
    last_ack: Option<SeqNumber>,
    /// Last window this direction advertised.
    last_window: Option<u32>,
    /// Window scale shift from this direction's SYN (RFC 7323).
    window_shift: Option<u8>,
    /// Duplicate ACKs in a row (Wireshark's `dupacknum`). -1: the peer was just flagged for
    /// acknowledging bytes of this direction the capture never saw, and this direction has not
    /// sent an ACK since (so the same missing bytes are not flagged twice).
    dup_acks: i32,
    /// Time of this direction's last segment (Wireshark's `lastacktime`: the time its last ACK
    /// number was sent, duplicate or not).
    last_ack_time: Timestamp,
    /// What the direction's last segment was flagged with (Wireshark's `lastsegmentflags`): the
    /// ACK of a keep-alive is no duplicate ACK.
    last_flags: AnomalySet,
    /// Wireshark's `maxseqtobeacked`: the end of the bytes of this direction seen without a hole
    /// since it last moved; an ACK from the peer beyond it acknowledges bytes the capture missed.
    max_to_ack: Option<SeqNumber>,
    /// Initial sequence number of this direction's SYN.
    isn: Option<SeqNumber>,
    /// TTL histogram.
    ttls: TtlCounts,
    /// Data segments of the handshake window, for naming retransmitted messages.
    first_segments: Vec<Resent>,
    /// Retransmitted data segments in the handshake window.
    resent: Vec<Resent>,
    /// Open holes left by "previous segment not captured", to tell later whether they were
    /// filled (reordering, retransmission) or acknowledged by the peer (a capture gap).
    holes: Vec<Hole>,
    filled_holes: u64,
}

/// Bytes of one direction the capture has not seen (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    /// First missing sequence number.
    pub start: SeqNumber,
    /// First sequence number after the hole (the segment that revealed it starts here).
    pub end: SeqNumber,
    /// The frame that revealed the hole.
    pub frame: u64,
    /// The peer acknowledged the missing bytes: it received them, the capture did not.
    pub acked: bool,
}

impl Hole {
    /// Missing bytes.
    pub fn len(&self) -> u32 {
        self.end.diff(self.start).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// True for an empty hole (never recorded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A SYN/ACK whose initial sequence number differs from another SYN/ACK of the same connection
/// (SYN cookies or a SYN proxy answering twice, a stale SYN/ACK of an earlier connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynAckAnswer {
    /// Frame of the SYN/ACK.
    pub frame: u64,
    /// Its initial sequence number.
    pub isn: SeqNumber,
}

/// The SYN/ACKs of a connection that carried different initial sequence numbers, and the one
/// the client's ACK used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynAckIsns {
    /// Sender of the SYN/ACKs.
    pub side: Option<Side>,
    /// One entry per distinct initial sequence number, in capture order (at most
    /// `MAX_SYN_ACK_ISNS`, 4); empty while every SYN/ACK carried the same one.
    pub answers: Vec<SynAckAnswer>,
    /// Frame of the SYN/ACK whose ISN + 1 the client acknowledged (or the server's first data
    /// started at), once known.
    pub used: Option<u64>,
}

/// Most SYN/ACKs with distinct initial sequence numbers remembered per connection.
pub const MAX_SYN_ACK_ISNS: usize = 4;

/// Most data segments remembered per direction to name retransmitted handshake messages.
const MAX_TRACKED_SEGMENTS: usize = 64;
/// Most open holes tracked per direction.
const MAX_HOLES: usize = 16;

/// TCP analysis of one flow.
#[derive(Debug, Default, Clone)]
pub struct TcpHealth {
    dirs: [Direction; 2],
    /// Counts over the whole flow, per side.
    pub flow: [Counts; 2],
    /// Counts in the handshake window, per side.
    pub handshake: [Counts; 2],
    /// RST segments (first few).
    pub resets: Vec<Teardown>,
    /// First FIN per side.
    pub fins: Vec<Teardown>,
    /// First SYN (no ACK): frame and time.
    pub syn: Option<(u64, Timestamp)>,
    /// First SYN/ACK: frame and time.
    pub syn_ack: Option<(u64, Timestamp)>,
    /// The client's ACK completing the three-way handshake: frame and time.
    pub handshake_ack: Option<(u64, Timestamp)>,
    /// SYN copies: frames of every SYN (first few).
    pub syn_frames: Vec<u64>,
    /// SYN/ACKs with different initial sequence numbers, and the one the client used.
    pub syn_ack_isns: SynAckIsns,
    /// Last frame seen from each side.
    last_frames: [u64; 2],
    /// Time of the most recent SYN (Wireshark's `ts_mru_syn`).
    mru_syn: Option<Timestamp>,
    /// The connection's first RTT: from the most recent SYN to the first segment with ACK and
    /// without SYN (Wireshark's `ts_first_rtt`), ns. The out-of-order threshold once known.
    first_rtt: Option<i64>,
    /// Heap bytes of the lists but the counts, kept as they grow ([`push_counted`]). A clone's
    /// lists hold only their items, so a clone may hold fewer: only the original is charged.
    list_bytes: usize,
}

/// Pushes `item` onto `list`, adding what the list's growth took from the heap to `bytes`.
fn push_counted<T>(list: &mut Vec<T>, item: T, bytes: &mut usize) {
    let before = list.capacity();
    list.push(item);
    *bytes += (list.capacity() - before) * std::mem::size_of::<T>();
}

/// Most RSTs remembered.
const MAX_RESETS: usize = 4;

impl TcpHealth {
    /// An empty analysis.
    pub fn new() -> TcpHealth {
        TcpHealth::default()
    }

    /// Heap bytes held by the capped lists. O(1): the memory budget asks after every packet.
    pub fn heap_bytes(&self) -> usize {
        debug_assert_eq!(self.list_bytes, self.lists_heap_bytes());
        let counts: usize = self
            .flow
            .iter()
            .chain(&self.handshake)
            .map(Counts::heap_bytes)
            .sum();
        self.list_bytes + counts
    }

    /// Heap bytes of the lists but the counts, summed over the lists.
    fn lists_heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let dirs: usize = self
            .dirs
            .iter()
            .map(|d| {
                (d.first_segments.capacity() + d.resent.capacity()) * size_of::<Resent>()
                    + d.holes.capacity() * size_of::<Hole>()
            })
            .sum();
        dirs + (self.resets.capacity() + self.fins.capacity()) * size_of::<Teardown>()
            + self.syn_frames.capacity() * size_of::<u64>()
            + self.syn_ack_isns.answers.capacity() * size_of::<SynAckAnswer>()
    }

    /// The usual TTL of `side`'s packets (the most common value).
    pub fn usual_ttl(&self, side: Side) -> Option<u8> {
        self.dirs[side.index()].ttls.usual()
    }

    /// The usual TTL of `side`'s packets other than its RSTs.
    pub fn usual_ttl_without_resets(&self, side: Side) -> Option<u8> {
        let mut ttls = self.dirs[side.index()].ttls;
        for r in self.resets.iter().filter(|r| r.side == side) {
            ttls.take_one(r.ttl);
        }
        ttls.usual()
    }

    /// Initial sequence number of `side`'s first SYN; for a side that answered the SYN with
    /// several initial sequence numbers, the one the client used (the latest while unknown).
    pub fn isn(&self, side: Side) -> Option<SeqNumber> {
        self.dirs[side.index()].isn
    }

    /// Frame of `side`'s first FIN.
    pub fn fin_frame(&self, side: Side) -> Option<u64> {
        self.fins.iter().find(|f| f.side == side).map(|f| f.frame)
    }

    /// True once either side sent a RST or both sides sent a FIN.
    pub fn closed(&self) -> bool {
        !self.resets.is_empty() || self.fins.len() == 2
    }

    /// True once a RST or any FIN was sent: the connection is closing or closed.
    pub fn closing(&self) -> bool {
        !self.resets.is_empty() || !self.fins.is_empty()
    }

    /// The last frame `side` sent (0 when none).
    pub fn last_frame(&self, side: Side) -> u64 {
        self.last_frames[side.index()]
    }

    /// Retransmitted data segments of `side` in the handshake window.
    pub fn resent(&self, side: Side) -> &[Resent] {
        &self.dirs[side.index()].resent
    }

    /// The first data segments of `side` in the handshake window.
    pub fn first_segments(&self, side: Side) -> &[Resent] {
        &self.dirs[side.index()].first_segments
    }

    /// Holes of `side` that were later filled (reordering) and that stayed open (data missing).
    pub fn holes(&self, side: Side) -> (u64, u64) {
        let d = &self.dirs[side.index()];
        (d.filled_holes, d.holes.len() as u64)
    }

    /// The holes of `side` still open (the first 16), in the order they appeared.
    pub fn open_holes(&self, side: Side) -> &[Hole] {
        &self.dirs[side.index()].holes
    }

    /// Classifies one segment from `side`. `in_handshake` says whether it falls in the handshake
    /// window. Returns what Wireshark would flag on it.
    pub fn segment(
        &mut self,
        side: Side,
        seg: &Segment<'_>,
        frame: u64,
        time: Timestamp,
        in_handshake: bool,
    ) -> AnomalySet {
        let mut found = AnomalySet::default();
        let i = side.index();
        self.last_frames[i] = frame;
        self.note_ttl(i, seg.ttl);
        let other_isn = self.note_control_flags(side, seg, frame, time, &mut found);
        self.choose_isn(side, seg, time);
        let window = u32::from(seg.window) << self.dirs[i].window_shift.unwrap_or(0).min(14);
        // A SYN/ACK with another initial sequence number starts its side's sequence space
        // anew: it is no hole and no retransmission.
        let classify = !found.contains(Anomaly::SynRetransmission) && !other_isn;
        // Wireshark's zero-window probe: one byte at the next sequence number into a closed
        // window. It skips the checks up to duplicate ACKs and does not advance `next_seq`.
        let zero_window_probe = seg.payload_len == 1
            && self.dirs[i].next_seq == Some(SeqNumber(seg.seq))
            && self.dirs[side.other().index()].last_window == Some(0);
        if classify && !zero_window_probe {
            self.classify_sequence(side, seg, frame, window, &mut found);
        }
        // Wireshark checks for an ACK of unseen bytes after the duplicate ACK and before the
        // retransmission family (whose fast-retransmission test reads the counter it changes).
        self.acked_unseen(side, seg, &mut found);
        if classify {
            self.classify_retransmission(side, seg, frame, time, in_handshake, &mut found);
        }
        self.advance(i, seg, time, window, found, zero_window_probe);
        self.note_first_rtt(seg, time);
        if seg.flags.ack() && !seg.flags.rst() {
            self.acknowledge_holes(side.other().index(), SeqNumber(seg.ack));
        }
        if in_handshake
            && seg.payload_len > 0
            && !found
                .iter()
                .any(|a| a.is_loss() || a == Anomaly::OutOfOrder)
        {
            let first = &mut self.dirs[i].first_segments;
            if first.len() < MAX_TRACKED_SEGMENTS {
                let segment = Resent {
                    frame,
                    seq: SeqNumber(seg.seq),
                    len: seg.payload_len,
                };
                push_counted(first, segment, &mut self.list_bytes);
            }
        }
        for kind in found.iter() {
            self.flow[i].add(kind, frame);
            if in_handshake {
                self.handshake[i].add(kind, frame);
            }
        }
        found
    }

    /// Wireshark's first RTT: the most recent SYN's time, then at the first segment with ACK
    /// and without SYN (either side), the time since it.
    fn note_first_rtt(&mut self, seg: &Segment<'_>, time: Timestamp) {
        let flags = seg.flags;
        if flags.syn() && !flags.ack() {
            self.mru_syn = Some(time);
        } else if !flags.syn()
            && flags.ack()
            && self.first_rtt.is_none()
            && let Some(syn) = self.mru_syn
        {
            self.first_rtt = Some(time.nanos_since(syn));
        }
    }

    /// The out-of-order threshold: the first RTT, 3 ms while it is unknown (or zero).
    fn out_of_order_threshold(&self) -> i64 {
        self.first_rtt
            .filter(|r| *r != 0)
            .unwrap_or(OUT_OF_ORDER_NS)
    }

    /// Adds a TTL to direction `i`'s histogram (small: a flow's packets carry one or two values).
    fn note_ttl(&mut self, i: usize, ttl: u8) {
        self.dirs[i].ttls.note(ttl);
    }

    /// SYN, SYN/ACK, the handshake's ACK, RST and FIN: the connection's control events, and a
    /// SYN sent again. Returns true for a SYN/ACK with another initial sequence number than the
    /// side's earlier SYN/ACKs (see [`TcpHealth::another_isn`]).
    fn note_control_flags(
        &mut self,
        side: Side,
        seg: &Segment<'_>,
        frame: u64,
        time: Timestamp,
        found: &mut AnomalySet,
    ) -> bool {
        let flags = seg.flags;
        let mut other_isn = false;
        if flags.syn() && flags.ack() && self.another_isn(side, SeqNumber(seg.seq), frame, time) {
            other_isn = true;
            self.dirs[side.index()].window_shift = seg.window_scale;
        } else if flags.syn() {
            if flags.ack() {
                self.syn_ack.get_or_insert((frame, time));
            } else {
                self.syn.get_or_insert((frame, time));
                if self.syn_frames.len() < MAX_FRAMES_PER_COUNT {
                    push_counted(&mut self.syn_frames, frame, &mut self.list_bytes);
                }
            }
            let seq = SeqNumber(seg.seq);
            let earlier_answer = self.syn_ack_isns.answers.iter().any(|a| a.isn == seq);
            let d = &mut self.dirs[side.index()];
            if d.isn == Some(seq) || (flags.ack() && earlier_answer) {
                found.push(Anomaly::SynRetransmission);
            }
            d.isn.get_or_insert(seq);
            d.window_shift = seg.window_scale;
        }
        let teardown = Teardown {
            side,
            frame,
            ttl: seg.ttl,
            time,
        };
        if flags.rst() && self.resets.len() < MAX_RESETS {
            push_counted(&mut self.resets, teardown, &mut self.list_bytes);
        }
        if flags.fin() && !self.fins.iter().any(|f| f.side == side) {
            push_counted(&mut self.fins, teardown, &mut self.list_bytes);
        }
        if !flags.syn()
            && flags.ack()
            && self.syn_ack.is_some()
            && self.handshake_ack.is_none()
            && self.syn.is_some()
        {
            self.handshake_ack = Some((frame, time));
        }
        other_isn
    }

    /// A SYN/ACK from `side` whose initial sequence number `isn` differs from the one its
    /// earlier SYN/ACK carried, before `side` sent any data: records it and, unless the client
    /// already acknowledged one, makes it the side's current sequence space (the client takes
    /// the SYN/ACK it receives first; [`TcpHealth::choose_isn`] follows its ACK). Returns false
    /// for a first SYN/ACK, a copy with a known ISN, or one after data.
    fn another_isn(&mut self, side: Side, isn: SeqNumber, frame: u64, time: Timestamp) -> bool {
        let Some(first) = self.dirs[side.index()].isn else {
            return false;
        };
        let answers = &self.syn_ack_isns.answers;
        let known = first == isn || answers.iter().any(|a| a.isn == isn);
        let data_sent = self.dirs[side.index()]
            .next_seq
            .is_some_and(|n| n.diff(first) > 1);
        if known || data_sent || self.syn_ack.is_none() {
            return false;
        }
        let choice = &mut self.syn_ack_isns;
        if choice.answers.is_empty() {
            if let Some((frame, _)) = self.syn_ack {
                let answer = SynAckAnswer { frame, isn: first };
                push_counted(&mut choice.answers, answer, &mut self.list_bytes);
            }
            choice.side = Some(side);
        }
        if choice.answers.len() < MAX_SYN_ACK_ISNS {
            let answer = SynAckAnswer { frame, isn };
            push_counted(&mut choice.answers, answer, &mut self.list_bytes);
        }
        if choice.used.is_none() {
            self.restart_sequence(side, isn, time);
        }
        true
    }

    /// With several SYN/ACK ISNs on record and none chosen yet: the client's ACK of one ISN + 1,
    /// or the server's first data starting there, says which one the connection uses.
    fn choose_isn(&mut self, side: Side, seg: &Segment<'_>, time: Timestamp) {
        let choice = &self.syn_ack_isns;
        let Some(server) = choice.side else { return };
        if choice.used.is_some() || seg.flags.syn() {
            return;
        }
        let start = if side == server {
            (seg.payload_len > 0).then_some(SeqNumber(seg.seq))
        } else {
            seg.flags.ack().then_some(SeqNumber(seg.ack))
        };
        let Some(answer) = start.and_then(|s| choice.answers.iter().find(|a| a.isn.plus(1) == s))
        else {
            return;
        };
        let answer = *answer;
        self.syn_ack_isns.used = Some(answer.frame);
        if self.dirs[server.index()].isn != Some(answer.isn) {
            self.restart_sequence(server, answer.isn, time);
        }
    }

    /// `side`'s sequence space starts again at `isn` (a SYN/ACK with another ISN).
    fn restart_sequence(&mut self, side: Side, isn: SeqNumber, time: Timestamp) {
        let d = &mut self.dirs[side.index()];
        d.isn = Some(isn);
        d.next_seq = Some(isn.plus(1));
        d.next_seq_time = time;
        d.max_to_ack = Some(isn.plus(1));
        d.holes.clear();
    }

    /// Wireshark's sequence-number checks up to duplicate ACKs, in its order: zero window,
    /// previous segment not captured, keep-alive, window full, duplicate ACK.
    fn classify_sequence(
        &mut self,
        side: Side,
        seg: &Segment<'_>,
        frame: u64,
        window: u32,
        found: &mut AnomalySet,
    ) {
        let (i, o) = (side.index(), side.other().index());
        let flags = seg.flags;
        let seq = SeqNumber(seg.seq);
        let len = seg.payload_len;
        let syn_fin = u32::from(flags.syn()) + u32::from(flags.fin());
        // Zero window (not on SYN/FIN/RST).
        if seg.window == 0 && !flags.syn() && !flags.fin() && !flags.rst() {
            found.push(Anomaly::ZeroWindow);
        }
        let Some(next) = self.dirs[i].next_seq else {
            return;
        };
        let d = seq.diff(next);
        // Previous segment not captured: data beyond the highest byte seen.
        if d > 0 && !flags.rst() {
            found.push(Anomaly::PreviousSegmentNotCaptured);
            let holes = &mut self.dirs[i].holes;
            if holes.len() < MAX_HOLES {
                let hole = Hole {
                    start: next,
                    end: seq,
                    frame,
                    acked: false,
                };
                push_counted(holes, hole, &mut self.list_bytes);
            }
        }
        // Keep-alive: at most one byte, one below the next expected sequence number.
        let keep_alive = len <= 1 && d == -1 && !flags.syn() && !flags.fin() && !flags.rst();
        if keep_alive {
            found.push(Anomaly::KeepAlive);
        }
        // Window full: this segment fills the receiver's advertised window.
        if len > 0
            && !keep_alive
            && let (Some(ack), Some(win)) = (self.dirs[o].last_ack, self.dirs[o].last_window)
            && seq.plus(len) == ack.plus(win)
            && win > 0
        {
            found.push(Anomaly::WindowFull);
        }
        // Duplicate ACK: no data, same ACK and window as before, nothing new; not the ACK of the
        // peer's keep-alive (Wireshark's "keep-alive ACK", checked first). Like Wireshark, the
        // fields decide, not the ACK flag.
        let d_state = &self.dirs[i];
        if len == 0
            && syn_fin == 0
            && !flags.rst()
            && !self.dirs[o].last_flags.contains(Anomaly::KeepAlive)
            && d == 0
            && d_state.last_ack == Some(SeqNumber(seg.ack))
            && d_state.last_window == Some(window)
            && window > 0
        {
            found.push(Anomaly::DuplicateAck);
        }
    }

    /// Wireshark's "ACKed segment that wasn't captured" (`tcp.analysis.ack_lost_segment`): an
    /// ACK beyond the peer's [`Direction::max_to_ack`]. The bound then moves to the highest byte
    /// seen, so the same missing bytes are flagged once; when nothing new was seen since, only
    /// the first such ACK after the peer's last change of ACK is flagged.
    fn acked_unseen(&mut self, side: Side, seg: &Segment<'_>, found: &mut AnomalySet) {
        let peer = &mut self.dirs[side.other().index()];
        // Wireshark keeps sequence numbers raw and takes 0 for "not seen yet".
        let Some(bound) = peer.max_to_ack.filter(|b| b.0 != 0) else {
            return;
        };
        if !seg.flags.ack() || !SeqNumber(seg.ack).after(bound) {
            return;
        }
        match peer.next_seq {
            Some(next) if next.after(bound) => {
                peer.max_to_ack = Some(next);
                found.push(Anomaly::AckedUnseen);
            }
            _ => {
                if peer.dup_acks == 0 {
                    found.push(Anomaly::AckedUnseen);
                }
                peer.dup_acks = -1;
            }
        }
    }

    /// The retransmission family, Wireshark 4.0's last sequence-number check, in its order
    /// (tshark 4.0.17 flags acknowledged data that arrives within the reordering time as
    /// spurious, so that check comes first): payload the peer already acknowledged is a
    /// spurious retransmission (checked even when the sequence number advanced); else data (or
    /// a SYN/FIN) that does not advance the sequence number and is no keep-alive is a fast
    /// retransmission (the peer sent 2+ duplicate ACKs of this sequence number, its last segment
    /// < 20 ms ago), out of order (< the first RTT, 3 ms while unknown, after the segment that
    /// last advanced `next_seq`, and not ending exactly there, a FIN counting one), or a
    /// retransmission.
    fn classify_retransmission(
        &mut self,
        side: Side,
        seg: &Segment<'_>,
        frame: u64,
        time: Timestamp,
        in_handshake: bool,
        found: &mut AnomalySet,
    ) {
        let (i, o) = (side.index(), side.other().index());
        let flags = seg.flags;
        let seq = SeqNumber(seg.seq);
        let len = seg.payload_len;
        if !(len > 0 || flags.syn() || flags.fin()) || flags.syn() {
            return;
        }
        if found.contains(Anomaly::KeepAlive) {
            return;
        }
        let next = self.dirs[i].next_seq.filter(|n| n.0 != 0);
        // Wireshark: a segment of 2+ bytes starting one below `next_seq` (after a possible
        // zero-window probe) adds new data.
        let not_advanced =
            next.is_some_and(|n| n.after(seq)) && !(len > 1 && next == Some(seq.plus(1)));
        // Wireshark computes these time differences unsigned: a clock going back never passes.
        let since = |t: Timestamp| time.nanos_since(t) as u64;
        // A FIN takes one sequence number of its own.
        let end = seq.plus(len + u32::from(flags.fin()));
        let peer = &self.dirs[o];
        let peer_ack = peer.last_ack.filter(|a| a.0 != 0);
        let kind = if len > 0 && peer_ack.is_some_and(|a| !seq.plus(len).after(a)) {
            Anomaly::SpuriousRetransmission
        } else if not_advanced
            && peer.dup_acks >= 2
            && peer_ack == Some(seq)
            && since(peer.last_ack_time) < FAST_RETRANSMISSION_NS as u64
        {
            Anomaly::FastRetransmission
        } else if not_advanced
            && since(self.dirs[i].next_seq_time) < self.out_of_order_threshold() as u64
            && next != Some(end)
        {
            Anomaly::OutOfOrder
        } else if not_advanced {
            Anomaly::Retransmission
        } else {
            return;
        };
        if kind != Anomaly::OutOfOrder && in_handshake && len > 0 {
            let resent = &mut self.dirs[i].resent;
            if resent.len() < MAX_TRACKED_SEGMENTS {
                push_counted(resent, Resent { frame, seq, len }, &mut self.list_bytes);
            }
        }
        self.close_holes(i, seq, end);
        found.push(kind);
    }

    /// Direction `i`'s state after the segment: duplicate-ACK run, last ACK and window, and the
    /// highest sequence number seen.
    fn advance(
        &mut self,
        i: usize,
        seg: &Segment<'_>,
        time: Timestamp,
        window: u32,
        found: AnomalySet,
        zero_window_probe: bool,
    ) {
        let flags = seg.flags;
        let syn_fin = u32::from(flags.syn()) + u32::from(flags.fin());
        let d = &mut self.dirs[i];
        // Like Wireshark, every segment's acknowledgement field counts, ACK flag or not.
        if found.contains(Anomaly::DuplicateAck) {
            // After an ACK of unseen bytes (-1), Wireshark starts counting again at 1.
            d.dup_acks = d.dup_acks.max(0) + 1;
        } else if d.last_ack != Some(SeqNumber(seg.ack)) {
            d.dup_acks = 0;
        }
        d.last_ack = Some(SeqNumber(seg.ack));
        d.last_ack_time = time;
        d.last_flags = found;
        d.last_window = Some(window);
        if zero_window_probe {
            return;
        }
        let end = SeqNumber(seg.seq).plus(seg.payload_len + syn_fin);
        match d.next_seq {
            None => {
                d.next_seq = Some(end);
                d.next_seq_time = time;
            }
            Some(n) if end.after(n) => {
                d.next_seq = Some(end);
                d.next_seq_time = time;
            }
            _ => {}
        }
        // The bound for ACKs of unseen bytes follows the bytes seen without a hole: it moves
        // when a segment starts exactly at it (or when it is not set yet).
        let seq = SeqNumber(seg.seq);
        if d.max_to_ack.is_none_or(|b| b.0 == 0 || b == seq) {
            d.max_to_ack = d.next_seq;
        }
    }

    /// An ACK from the peer of direction `i` up to `ack`: the holes it covers were received.
    fn acknowledge_holes(&mut self, i: usize, ack: SeqNumber) {
        for hole in &mut self.dirs[i].holes {
            if !hole.end.after(ack) {
                hole.acked = true;
            }
        }
    }

    fn close_holes(&mut self, i: usize, seq: SeqNumber, end: SeqNumber) {
        let d = &mut self.dirs[i];
        let before = d.holes.len();
        d.holes
            .retain(|h| !(!seq.after(h.start) && !h.end.after(end)));
        d.filled_holes += (before - d.holes.len()) as u64;
    }
}

#[cfg(test)]
mod tests;
