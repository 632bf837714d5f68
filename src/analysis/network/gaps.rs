//! The capture's own gaps in a handshake: bytes one side evidently received (the peer
//! acknowledged them, nobody resent them) that the capture did not see, and data nobody
//! acknowledged in a capture whose drop counters say it dropped packets.
//!
//! Takes [`FlowFacts`]; emits [`CaptureGap`]s and the sentences that name them. Promises that
//! what the capture dropped is never counted as network loss.

use super::frames_text;
use super::role_of;
use crate::analysis::{FlowFacts, Role};
use crate::flow::{Anomaly, Side};

/// Bytes of one side's stream in the handshake window that the other side evidently received
/// (it acknowledged them, and they were never retransmitted) but the capture did not see: the
/// capture dropped them, the network did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureGap {
    /// Whose bytes are missing.
    pub from: Role,
    /// Missing bytes, where the capture shows where they end (0 when only an ACK shows them).
    pub bytes: u64,
    /// The first captured segment after the missing bytes.
    pub before_frame: Option<u64>,
    /// The peer's first ACK for the missing bytes.
    pub acked_in: Option<u64>,
    /// Frames that show the gap (the segments after it, the peer's ACKs for it), the first few.
    pub frames: Vec<u64>,
}

impl CaptureGap {
    /// "695 bytes of the server's stream before frame 8", or "bytes of the client's stream" when
    /// only an ACK shows them.
    pub fn describe(&self) -> String {
        let who = self.from.name();
        match (self.bytes, self.before_frame) {
            (0, _) | (_, None) => format!("bytes of the {who}'s stream"),
            (bytes, Some(frame)) => {
                format!("{bytes} bytes of the {who}'s stream before frame {frame}")
            }
        }
    }

    /// "the server acknowledged them in frame 4", when an ACK shows it.
    pub fn acknowledgement(&self) -> String {
        let peer = match self.from {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        match self.acked_in {
            Some(frame) => format!("the {} acknowledged them in frame {frame}", peer.name()),
            None => format!("the {} acknowledged them", peer.name()),
        }
    }
}

/// Most frames named per capture gap.
const MAX_GAP_FRAMES: usize = 8;

/// The capture gaps of a flow's handshake window, client first.
pub fn capture_gaps(facts: &FlowFacts) -> Vec<CaptureGap> {
    let health = &facts.health;
    let client = facts.client_side;
    let in_window = |frame: u64| facts.handshake_end.is_none_or(|end| frame <= end);
    let mut gaps = Vec::new();
    for side in [client, client.other()] {
        let peer = side.other();
        let acked: Vec<_> = health
            .open_holes(side)
            .iter()
            .filter(|h| h.acked && in_window(h.frame))
            .collect();
        let unseen = &health.handshake[peer.index()]
            .get(Anomaly::AckedUnseen)
            .frames;
        if acked.is_empty() && unseen.is_empty() {
            continue;
        }
        let mut frames: Vec<u64> = acked.iter().map(|h| h.frame).collect();
        frames.extend(unseen.iter().copied());
        frames.sort_unstable();
        frames.dedup();
        frames.truncate(MAX_GAP_FRAMES);
        gaps.push(CaptureGap {
            from: role_of(side, client),
            bytes: acked.iter().map(|h| u64::from(h.len())).sum(),
            before_frame: acked.first().map(|h| h.frame),
            acked_in: unseen.first().copied(),
            frames,
        });
    }
    gaps
}

/// The frames after holes of `side`'s stream in the handshake window that nobody acknowledged:
/// lost on the network, or dropped by the capture.
pub(super) fn unacknowledged_holes(facts: &FlowFacts, side: Side) -> Vec<u64> {
    let gaps = facts.health.handshake[side.index()].get(Anomaly::PreviousSegmentNotCaptured);
    facts
        .health
        .open_holes(side)
        .iter()
        .filter(|h| !h.acked && gaps.frames.contains(&h.frame))
        .map(|h| h.frame)
        .collect()
}

/// True when a handshake lacks data nobody acknowledged: whether that counts as network loss
/// depends on whether the capture says it dropped packets ([`FlowFacts::capture_drops`]).
pub fn has_unacknowledged_holes(facts: &FlowFacts) -> bool {
    [Side::A, Side::B]
        .into_iter()
        .any(|side| !unacknowledged_holes(facts, side).is_empty())
}

/// Handshake data nobody acknowledged, in a capture whose own counters say it dropped packets:
/// the capture is the likely cause, and the flow says so instead of counting loss.
pub(super) fn dropped_by_the_capture(facts: &FlowFacts) -> Option<String> {
    if facts.capture_drops == 0 {
        return None;
    }
    let client = facts.client_side;
    let missing: Vec<String> = [(client, "client"), (client.other(), "server")]
        .into_iter()
        .filter_map(|(side, who)| {
            let frames = unacknowledged_holes(facts, side);
            (!frames.is_empty()).then(|| {
                let noun = if frames.len() == 1 { "frame" } else { "frames" };
                format!("{who} data before {noun} {}", frames_text(&frames))
            })
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{} missing from a capture that dropped {} packets itself (its own counters): not counted as network loss",
        missing.join(" and "),
        facts.capture_drops
    ))
}

/// What the capture missed, when the peers evidently received it.
pub fn capture_gap_sentence(gaps: &[CaptureGap]) -> Option<String> {
    if gaps.is_empty() {
        return None;
    }
    let missed: Vec<String> = gaps
        .iter()
        .map(|g| format!("{} ({})", g.describe(), g.acknowledgement()))
        .collect();
    Some(format!(
        "the capture missed {}, and nothing was resent: the peers received them, so the network delivered them and the capture did not record them (dropped by the capture, or sent on a path the capture point does not see)",
        missed.join(" and ")
    ))
}
