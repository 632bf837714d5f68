//! Live capture only: the correction of a flow streamed before its conclusion was final.

use super::FlowReport;
use crate::analysis::VerdictKind;
use serde::Serialize;

/// What the re-check of a flow reported live changed in its conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrectedField {
    /// The verdict, or the network's part in a failed handshake.
    Verdict,
    /// The `network` finding appeared, changed its conclusion or went away.
    Network,
    /// `tcp.handshake_loss`.
    HandshakeLoss,
}

/// What a flow reported live had concluded, before its correction.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousConclusion {
    /// The verdict streamed.
    pub verdict: VerdictKind,
    /// Its sentence.
    pub detail: String,
    /// The network finding streamed.
    pub network: Option<String>,
    /// `tcp.handshake_loss` streamed.
    pub handshake_loss: bool,
}

/// A flow reported live before it left the flow table, whose conclusion changed when it was
/// checked again on leaving (a JSON line with `"type": "correction"`). The report at the end
/// holds `flow`, not the flow streamed first.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    /// The flow's `id`.
    pub id: u64,
    /// What changed, in this order: verdict, network, handshake_loss.
    pub changed: Vec<CorrectedField>,
    /// One sentence for a person.
    pub reason: String,
    /// What the flow streamed first had concluded.
    pub previous: PreviousConclusion,
    /// The flow as it is now.
    pub flow: FlowReport,
}
