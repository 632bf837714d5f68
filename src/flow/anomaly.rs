//! The vocabulary of TCP analysis: what Wireshark would flag on a segment ([`Anomaly`]), the
//! set of flags of one segment, and the capped counts kept per direction.

/// Most frame numbers kept per count.
pub const MAX_FRAMES_PER_COUNT: usize = 16;

/// What Wireshark would flag on a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// Data or SYN/FIN sent again (`tcp.analysis.retransmission`).
    Retransmission,
    /// Retransmission right after duplicate ACKs (`tcp.analysis.fast_retransmission`).
    FastRetransmission,
    /// Retransmission of data already acknowledged (`tcp.analysis.spurious_retransmission`).
    SpuriousRetransmission,
    /// A SYN or SYN/ACK sent again.
    SynRetransmission,
    /// A segment after a hole: the previous segment was not captured (`tcp.analysis.lost_segment`).
    PreviousSegmentNotCaptured,
    /// An ACK for data the capture never saw (`tcp.analysis.ack_lost_segment`).
    AckedUnseen,
    /// A segment older than the newest one, arriving shortly after it (`tcp.analysis.out_of_order`).
    OutOfOrder,
    /// A repeated ACK with no data (`tcp.analysis.duplicate_ack`).
    DuplicateAck,
    /// A zero receive window (`tcp.analysis.zero_window`).
    ZeroWindow,
    /// The sender filled the receiver's window (`tcp.analysis.window_full`).
    WindowFull,
    /// A keep-alive (`tcp.analysis.keep_alive`): not a retransmission.
    KeepAlive,
}

impl Anomaly {
    /// Every kind, in report order.
    pub const ALL: [Anomaly; 11] = [
        Anomaly::Retransmission,
        Anomaly::FastRetransmission,
        Anomaly::SpuriousRetransmission,
        Anomaly::SynRetransmission,
        Anomaly::PreviousSegmentNotCaptured,
        Anomaly::AckedUnseen,
        Anomaly::OutOfOrder,
        Anomaly::DuplicateAck,
        Anomaly::ZeroWindow,
        Anomaly::WindowFull,
        Anomaly::KeepAlive,
    ];

    /// Name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Anomaly::Retransmission => "retransmissions",
            Anomaly::FastRetransmission => "fast_retransmissions",
            Anomaly::SpuriousRetransmission => "spurious_retransmissions",
            Anomaly::SynRetransmission => "syn_retransmissions",
            Anomaly::PreviousSegmentNotCaptured => "previous_segment_not_captured",
            Anomaly::AckedUnseen => "acked_unseen",
            Anomaly::OutOfOrder => "out_of_order",
            Anomaly::DuplicateAck => "duplicate_acks",
            Anomaly::ZeroWindow => "zero_window",
            Anomaly::WindowFull => "window_full",
            Anomaly::KeepAlive => "keep_alives",
        }
    }

    /// True for the kinds that mean a segment was lost or re-sent. A segment after a hole is
    /// not counted here: the hole may be reordering; [`super::TcpHealth::holes`] tells which.
    /// Nor is an ACK for data the capture never saw: the peer received that data, so it was
    /// missing from the capture, not lost on the network.
    pub fn is_loss(self) -> bool {
        matches!(
            self,
            Anomaly::Retransmission
                | Anomaly::FastRetransmission
                | Anomaly::SpuriousRetransmission
                | Anomaly::SynRetransmission
        )
    }
}

/// The anomalies of one segment (a bit set: no allocation per packet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalySet(u16);

impl AnomalySet {
    pub(super) fn push(&mut self, kind: Anomaly) {
        self.0 |= 1 << kind as u16;
    }

    /// True when `kind` is in the set.
    pub fn contains(&self, kind: Anomaly) -> bool {
        self.0 & (1 << kind as u16) != 0
    }

    /// True when no anomaly was found.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The anomalies, in report order.
    pub fn iter(self) -> impl Iterator<Item = Anomaly> {
        Anomaly::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

/// A count and the first frames behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    /// How many.
    pub count: u64,
    /// The first [`MAX_FRAMES_PER_COUNT`] frames.
    pub frames: Vec<u64>,
}

impl Count {
    fn add(&mut self, frame: u64) {
        self.count += 1;
        if self.frames.len() < MAX_FRAMES_PER_COUNT {
            self.frames.push(frame);
        }
    }
}

/// Counts per kind for one direction.
///
/// Allocated at the first anomaly: most connections have none, and a connection that only sent
/// a SYN must cost the flow table little (16 bytes here instead of 352).
#[derive(Debug, Default)]
pub struct Counts {
    counts: Option<Box<[Count; Anomaly::ALL.len()]>>,
    /// Heap bytes of the counts' frame lists, kept as they grow: the memory budget asks after
    /// every packet, and summing them would read every count of the flow each time.
    frames_bytes: usize,
}

impl PartialEq for Counts {
    fn eq(&self, other: &Counts) -> bool {
        self.counts == other.counts
    }
}

impl Eq for Counts {}

impl Clone for Counts {
    fn clone(&self) -> Counts {
        let counts = self.counts.clone();
        // A cloned list holds only its items: the bytes are summed again.
        let frames_bytes = counts.as_deref().map_or(0, summed_frames_bytes);
        Counts {
            counts,
            frames_bytes,
        }
    }
}

/// Heap bytes of the frame lists of `counts`, summed over them.
fn summed_frames_bytes(counts: &[Count; Anomaly::ALL.len()]) -> usize {
    counts
        .iter()
        .map(|c| c.frames.capacity() * std::mem::size_of::<u64>())
        .sum()
}

/// The count of a kind nothing was counted for.
static NO_COUNT: Count = Count {
    count: 0,
    frames: Vec::new(),
};

impl Counts {
    /// The count for a kind.
    pub fn get(&self, kind: Anomaly) -> &Count {
        match &self.counts {
            Some(counts) => &counts[kind as usize],
            None => &NO_COUNT,
        }
    }

    pub(super) fn add(&mut self, kind: Anomaly, frame: u64) {
        let count = &mut self.counts.get_or_insert_with(Box::default)[kind as usize];
        let before = count.frames.capacity();
        count.add(frame);
        self.frames_bytes += (count.frames.capacity() - before) * std::mem::size_of::<u64>();
    }

    /// Bytes held on the heap. O(1).
    pub fn heap_bytes(&self) -> usize {
        self.counts.as_ref().map_or(0, |counts| {
            debug_assert_eq!(self.frames_bytes, summed_frames_bytes(counts));
            std::mem::size_of_val(&**counts) + self.frames_bytes
        })
    }

    /// Sum over the kinds that mean loss.
    pub fn losses(&self) -> u64 {
        Anomaly::ALL
            .iter()
            .filter(|k| k.is_loss())
            .map(|k| self.get(*k).count)
            .sum()
    }
}
