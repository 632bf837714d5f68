//! Live use: a flow streamed while still open is checked again when it leaves the flow table.
//! Only a changed conclusion — the verdict (or the network's part in a failure), the `network`
//! finding, or handshake loss — makes a [`Correction`]; counters that merely grew since (frames,
//! loss after the handshake) do not.

use crate::report::model::{CorrectedField, Correction, FlowReport, PreviousConclusion};

/// The correction of `streamed` by `now`, the same flow judged when it left the table, or `None`
/// when its conclusion stands. `now` gets a note that says what changed.
pub(super) fn correct(streamed: &FlowReport, mut now: FlowReport) -> Option<Correction> {
    let mut changed = Vec::new();
    let mut reasons = Vec::new();
    if now.verdict != streamed.verdict || now.network_cause != streamed.network_cause {
        changed.push(CorrectedField::Verdict);
        reasons.push(if now.verdict == streamed.verdict {
            format!("verdict {}: {}", now.verdict, now.detail)
        } else {
            format!(
                "verdict {} (was {}): {}",
                now.verdict, streamed.verdict, now.detail
            )
        });
    }
    if now.network.is_some() != streamed.network.is_some() {
        changed.push(CorrectedField::Network);
    }
    if now.handshake_loss() != streamed.handshake_loss() {
        changed.push(CorrectedField::HandshakeLoss);
    }
    if changed.iter().any(|c| *c != CorrectedField::Verdict) {
        reasons.push(match (&now.network, now.handshake_loss()) {
            (Some(network), _) => format!("network: {network}"),
            (None, _) if streamed.network.is_some() => {
                "the network finding no longer holds".to_string()
            }
            (None, true) => "the handshake lost packets after the flow was reported".to_string(),
            (None, false) => "the handshake loss reported earlier is not confirmed".to_string(),
        });
    }
    if changed.is_empty() {
        return None;
    }
    let reason = format!(
        "seen to frame {} after it was reported: {}",
        now.last_frame,
        reasons.join("; ")
    );
    now.notes
        .push(format!("corrected after it was reported live: {reason}"));
    Some(Correction {
        id: now.id,
        changed,
        reason,
        previous: PreviousConclusion {
            verdict: streamed.verdict,
            detail: streamed.detail.clone(),
            network: streamed.network.clone(),
            handshake_loss: streamed.handshake_loss(),
        },
        flow: now,
    })
}
