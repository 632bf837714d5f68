//! What the network did to a flow's handshake: timing, retransmitted handshake messages, resets
//! with their TTLs, and the sentence that names the most likely network cause.
//!
//! Takes a flow's [`FlowFacts`]; emits its [`NetworkView`] ([`assess`]) and, for a handshake that
//! got no ServerHello, the typed [`NetworkCause`] with its sentence and frames
//! ([`incomplete_cause`]). Pure functions: no I/O, no clock. This module builds the view and the
//! `network` finding of a handshake that got its ServerHello (loss, reordering, a server that went
//! silent); its parts live beside it:
//!
//! - `gaps`: bytes the peers received but the capture missed, and the capture's own drop counters;
//! - `timing`: connect time, hello times, the late-ServerHello rule (slow server or loss, told
//!   apart by the server's IP IDs);
//! - `incomplete`: the network's cause of a handshake without ServerHello.

mod gaps;
mod incomplete;
mod timing;

pub use gaps::{CaptureGap, capture_gap_sentence, capture_gaps, has_unacknowledged_holes};
pub use incomplete::{NetworkCause, incomplete_cause};
pub use timing::{IpIdRun, SlowServer};

use super::facts::{FlowEnd, FlowFacts, Role};
use crate::capture::Timestamp;
use crate::flow::{Anomaly, Side, TcpHealth};
use gaps::{dropped_by_the_capture, unacknowledged_holes};
use serde::Serialize;
use timing::{HelloTimes, LateServerHello, connect_time, late_server_hello};

/// Where the capture was taken, inferred from the three-way handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePoint {
    /// SYN → SYN/ACK is most of the round trip: the capture is near the client.
    Client,
    /// SYN/ACK → ACK is most of the round trip: the capture is near the server.
    Server,
    /// Not enough of the handshake was captured.
    Unknown,
}

impl CapturePoint {
    /// "client", "server" or "unknown".
    pub fn name(self) -> &'static str {
        match self {
            CapturePoint::Client => "client",
            CapturePoint::Server => "server",
            CapturePoint::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for CapturePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A RST and how its TTL compares with its sender's other packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSeen {
    /// Sender.
    pub from: Role,
    /// Frame.
    pub frame: u64,
    /// TTL / hop limit of the RST.
    pub ttl: u8,
    /// Most common TTL of the sender's other packets.
    pub usual_ttl: Option<u8>,
    /// Time of the RST.
    pub time: Timestamp,
}

impl ResetSeen {
    /// True when the RST's TTL differs from its side's other packets: a middlebox sent it.
    pub fn looks_injected(&self) -> bool {
        self.usual_ttl.is_some_and(|usual| usual != self.ttl)
    }
}

/// A handshake message sent more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetransmittedMessage {
    /// "SYN", "SYN/ACK", "ClientHello", "ServerHello".
    pub message: &'static str,
    /// How many times it was sent.
    pub times: usize,
    /// Frames of every copy.
    pub frames: Vec<u64>,
}

/// The network view of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkView {
    /// SYN → ACK of the three-way handshake, ms.
    pub connect_ms: Option<f64>,
    /// Inferred capture point.
    pub capture_point: CapturePoint,
    /// Last ClientHello segment → ServerHello, ms.
    pub client_hello_to_server_hello_ms: Option<f64>,
    /// First → last ClientHello segment, ms.
    pub client_hello_span_ms: Option<f64>,
    /// First packet → end of the TLS handshake, ms.
    pub handshake_ms: Option<f64>,
    /// Handshake messages sent more than once.
    pub retransmitted_messages: Vec<RetransmittedMessage>,
    /// RSTs.
    pub resets: Vec<ResetSeen>,
    /// Losses in the handshake window (both directions).
    pub handshake_losses: u64,
    /// Losses over the whole flow.
    pub flow_losses: u64,
    /// A sentence about loss when the handshake completed anyway (or went on past the hello).
    pub finding: Option<String>,
    /// The handshake lost or re-sent packets (or very likely did, before the capture point).
    pub handshake_loss: bool,
    /// Handshake bytes that one side received but the capture did not see.
    pub capture_gaps: Vec<CaptureGap>,
    /// The server took long to answer a ClientHello it had acknowledged at once (no loss).
    pub slow_server: Option<SlowServer>,
}

/// Milliseconds between two times, with microsecond precision.
fn ms(from: Timestamp, to: Timestamp) -> f64 {
    (to.nanos_since(from) / 1000) as f64 / 1000.0
}

/// The role of `side`, given the client's side.
fn role_of(side: Side, client: Side) -> Role {
    if side == client {
        Role::Client
    } else {
        Role::Server
    }
}

/// The time of a frame of the handshake window.
fn time_of(facts: &FlowFacts, frame: u64) -> Option<Timestamp> {
    facts
        .frame_times
        .binary_search_by_key(&frame, |(f, _)| *f)
        .ok()
        .map(|i| facts.frame_times[i].1)
}

/// Every copy of the message carried by `frames`, from `side`'s retransmission log.
fn copies(health: &TcpHealth, side: Side, frames: &[u64]) -> Option<(usize, Vec<u64>)> {
    // Nearly always: nothing was sent again.
    if health.resent(side).is_empty() {
        return None;
    }
    let originals: Vec<_> = health
        .first_segments(side)
        .iter()
        .filter(|s| frames.contains(&s.frame))
        .collect();
    let start = originals
        .iter()
        .map(|s| s.seq)
        .min_by(|a, b| a.diff(*b).cmp(&0))?;
    let end = originals
        .iter()
        .map(|s| s.seq.plus(s.len))
        .max_by(|a, b| a.diff(*b).cmp(&0))?;
    let resent: Vec<_> = health
        .resent(side)
        .iter()
        .filter(|r| r.seq.diff(end) < 0 && r.seq.plus(r.len).diff(start) > 0)
        .collect();
    if resent.is_empty() {
        return None;
    }
    // Rounds: copies of the message's first byte.
    let rounds = resent
        .iter()
        .filter(|r| r.seq.diff(start) <= 0 && r.seq.plus(r.len).diff(start) > 0)
        .count()
        .max(1);
    let mut all: Vec<u64> = frames.to_vec();
    all.extend(resent.iter().map(|r| r.frame));
    all.sort_unstable();
    all.dedup();
    Some((1 + rounds, all))
}

/// Builds the network view of a flow.
pub fn assess(facts: &FlowFacts) -> NetworkView {
    let health = &facts.health;
    let ch_frames = facts
        .client_hello()
        .map(|(_, f)| f.as_slice())
        .unwrap_or(&[]);
    let sh_frames = facts
        .server_hello()
        .map(|(_, f)| f.as_slice())
        .unwrap_or(&[]);
    // Captured at two points (a merge of both ends): the handshake's packets come from two
    // places, so the connect time and the capture point they imply mean nothing.
    let (connect_ms, capture_point) = if facts.copies > 0 {
        (None, CapturePoint::Unknown)
    } else {
        connect_time(health)
    };
    let hellos = HelloTimes::of(facts, ch_frames, sh_frames);
    let handshake_losses = health.handshake.iter().map(|c| c.losses()).sum();
    let mut view = NetworkView {
        connect_ms,
        capture_point,
        client_hello_to_server_hello_ms: hellos.client_hello_to_server_hello_ms,
        client_hello_span_ms: hellos.client_hello_span_ms,
        handshake_ms: hellos.handshake_ms,
        retransmitted_messages: retransmitted_messages(facts, ch_frames, sh_frames),
        resets: resets_seen(facts),
        handshake_losses,
        flow_losses: health.flow.iter().map(|c| c.losses()).sum(),
        finding: None,
        handshake_loss: handshake_losses > 0,
        capture_gaps: capture_gaps(facts),
        slow_server: None,
    };
    if facts.server_hello().is_some() {
        let (finding, loss, slow) = completed_finding(facts, &view);
        view.finding = finding;
        view.handshake_loss |= loss;
        view.slow_server = slow;
    }
    view
}

/// The handshake messages sent more than once: SYN, SYN/ACK, ClientHello, ServerHello.
fn retransmitted_messages(
    facts: &FlowFacts,
    ch_frames: &[u64],
    sh_frames: &[u64],
) -> Vec<RetransmittedMessage> {
    let health = &facts.health;
    let client = facts.client_side;
    let server = client.other();
    let mut messages = Vec::new();
    if health.syn_frames.len() > 1 {
        messages.push(RetransmittedMessage {
            message: "SYN",
            times: health.syn_frames.len(),
            frames: health.syn_frames.clone(),
        });
    }
    let syn_ack_copies = health.handshake[server.index()].get(Anomaly::SynRetransmission);
    if syn_ack_copies.count > 0 {
        let mut frames: Vec<u64> = health.syn_ack.map(|(f, _)| f).into_iter().collect();
        frames.extend(&syn_ack_copies.frames);
        messages.push(RetransmittedMessage {
            message: "SYN/ACK",
            times: 1 + syn_ack_copies.count as usize,
            frames,
        });
    }
    for (message, side, frames) in [
        ("ClientHello", client, ch_frames),
        ("ServerHello", server, sh_frames),
    ] {
        if let Some((times, frames)) = copies(&facts.health, side, frames) {
            messages.push(RetransmittedMessage {
                message,
                times,
                frames,
            });
        }
    }
    messages
}

/// Every RST, with the usual TTL of its sender's other packets.
fn resets_seen(facts: &FlowFacts) -> Vec<ResetSeen> {
    let health = &facts.health;
    health
        .resets
        .iter()
        .map(|r| ResetSeen {
            from: role_of(r.side, facts.client_side),
            frame: r.frame,
            ttl: r.ttl,
            usual_ttl: health.usual_ttl_without_resets(r.side),
            time: r.time,
        })
        .collect()
}

/// "ClientHello sent 2 times: frames 4, 9" for each retransmitted handshake message.
fn describe_messages(view: &NetworkView) -> Vec<String> {
    view.retransmitted_messages
        .iter()
        .map(|m| {
            let frames: Vec<String> = m.frames.iter().map(u64::to_string).collect();
            format!(
                "{} sent {} times: frames {}",
                m.message,
                m.times,
                frames.join(", ")
            )
        })
        .collect()
}

/// "4, 9, 12".
fn frames_text(frames: &[u64]) -> String {
    let frames: Vec<String> = frames.iter().map(u64::to_string).collect();
    frames.join(", ")
}

/// The `network` finding of a flow whose ServerHello was seen, whether the handshake lost
/// packets, and a server slow to answer (which is no loss).
fn completed_finding(
    facts: &FlowFacts,
    view: &NetworkView,
) -> (Option<String>, bool, Option<SlowServer>) {
    if let Some(stalled) = stalled_after_server_hello(facts) {
        return (Some(stalled), view.handshake_losses > 0, None);
    }
    let client = facts.client_side;
    let named: Vec<u64> = view
        .retransmitted_messages
        .iter()
        .flat_map(|m| m.frames.iter().copied())
        .collect();
    let mut loss = describe_messages(view);
    let mut reordering = Vec::new();
    for (side, who) in [(client, "client"), (client.other(), "server")] {
        let (side_loss, side_reordering) = side_anomalies(facts, side, who, &named);
        loss.extend(side_loss);
        reordering.extend(side_reordering);
    }
    let mut slow = None;
    if loss.is_empty() {
        match late_server_hello(facts, view) {
            Some(LateServerHello::Lost(sentence)) => loss.push(sentence),
            Some(LateServerHello::Slow(server)) => slow = Some(server),
            None => {}
        }
    }
    let lost = !loss.is_empty();
    let completed = facts.handshake_end.is_some();
    let capture = [
        capture_gap_sentence(&view.capture_gaps),
        dropped_by_the_capture(facts),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    let capture = (!capture.is_empty()).then(|| capture.join("; "));
    let finding = match (loss_and_reordering(&loss, &reordering, completed), capture) {
        (Some(network), Some(capture)) => Some(format!("{network}; {capture}")),
        (network, capture) => network.or(capture),
    };
    (finding, lost, slow)
}

/// The sentence for a server that went silent after its ServerHello, without a reset, so the
/// handshake never finished. Silence proves that only once the flow ended ([`FlowFacts::ended`]):
/// a flow reported while still open (live use), or cut off by the end of the capture, may yet
/// go on.
fn stalled_after_server_hello(facts: &FlowFacts) -> Option<String> {
    // Ended by a FIN or an idle timeout: a port reused by a new connection proves the old one
    // closed, with its last packets (and FINs) missing from the capture.
    let closed_or_idle = facts.end == FlowEnd::Idle || !facts.fins.is_empty();
    if facts.handshake_end.is_some() || !facts.ended() || !closed_or_idle {
        return None;
    }
    // Server bytes the client acknowledged were sent: the capture missed them.
    if capture_gaps(facts).iter().any(|g| g.from == Role::Server) {
        return None;
    }
    let sh_last = facts
        .server_hello()
        .and_then(|(_, f)| f.last().copied())
        .unwrap_or(0);
    if facts.health.last_frame(facts.client_side.other()) > sh_last || !facts.resets.is_empty() {
        return None;
    }
    Some(format!(
        "the server stopped answering after the ServerHello (frame {sh_last}): the handshake never finished"
    ))
}

/// One side's loss and reordering in the handshake window, as phrases; retransmissions already
/// named by a retransmitted message (`named` frames) are left out.
fn side_anomalies(
    facts: &FlowFacts,
    side: Side,
    who: &str,
    named: &[u64],
) -> (Vec<String>, Vec<String>) {
    let health = &facts.health;
    let counts = &health.handshake[side.index()];
    let mut loss = Vec::new();
    let mut reordering = Vec::new();
    for kind in [
        Anomaly::Retransmission,
        Anomaly::FastRetransmission,
        Anomaly::SpuriousRetransmission,
    ] {
        let c = counts.get(kind);
        let unnamed: Vec<u64> = c
            .frames
            .iter()
            .copied()
            .filter(|f| !named.contains(f))
            .collect();
        if !unnamed.is_empty() {
            let name = kind.name().replace('_', " ");
            let (name, frames) = match unnamed.len() {
                1 => (name.trim_end_matches('s'), "frame"),
                _ => (name.as_str(), "frames"),
            };
            loss.push(format!(
                "{} {who} {name} ({frames} {})",
                unnamed.len(),
                frames_text(&unnamed)
            ));
        }
    }
    // ACKs for unseen data and acknowledged holes are capture gaps (see `capture_gaps`), not
    // loss. A hole nobody acknowledged may be either.
    // In a capture that says it dropped packets, it is missing from the capture (see
    // `dropped_by_the_capture`).
    let (filled, open) = health.holes(side);
    let gaps = counts.get(Anomaly::PreviousSegmentNotCaptured);
    let unacknowledged = unacknowledged_holes(facts, side);
    if !unacknowledged.is_empty() && facts.capture_drops == 0 {
        loss.push(format!(
            "{who} data missing from the capture before {} {}",
            if unacknowledged.len() == 1 {
                "frame"
            } else {
                "frames"
            },
            frames_text(&unacknowledged)
        ));
    }
    let ooo = counts.get(Anomaly::OutOfOrder);
    if ooo.count > 0 || (gaps.count > 0 && filled > 0 && open == 0) {
        let frames = if ooo.count > 0 {
            &ooo.frames
        } else {
            &gaps.frames
        };
        reordering.push(format!(
            "{who} segments out of order ({} {})",
            if frames.len() == 1 { "frame" } else { "frames" },
            frames_text(frames)
        ));
    }
    (loss, reordering)
}

/// The finding sentence from the loss and reordering phrases, if there are any. "but completed"
/// only when the end of the handshake was seen: a flow reported at its ServerHello (live use)
/// has not got that far yet.
fn loss_and_reordering(loss: &[String], reordering: &[String], completed: bool) -> Option<String> {
    let suffered = if completed {
        "the handshake suffered packet loss but completed"
    } else {
        "the handshake suffered packet loss"
    };
    match (loss.is_empty(), reordering.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!("{suffered}: {}", loss.join("; "))),
        (true, false) => Some(format!(
            "the handshake saw reordering (no loss): {}",
            reordering.join("; ")
        )),
        (false, false) => Some(format!(
            "{suffered}: {}; also reordering: {}",
            loss.join("; "),
            reordering.join("; ")
        )),
    }
}
