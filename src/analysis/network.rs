//! What the network did to a flow's handshake: timing, retransmitted handshake messages, resets
//! with their TTLs, and the sentence that names the most likely network cause.

use super::facts::{FlowEnd, FlowFacts, Role, WindowPacket};
use crate::capture::Timestamp;
use crate::flow::{Anomaly, SeqNumber, Side, TcpHealth};
use serde::Serialize;

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

/// The network's part in a handshake that got no ServerHello, as [`incomplete_cause`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkCause {
    /// The server's side answered the SYN with a RST.
    ConnectionRefused,
    /// A SYN unanswered in a capture that ended (or dropped the rest) before a copy, or before
    /// enough copies, was due: no proof against the network (see
    /// [`NetworkCause::blames_the_network`]).
    SynUnanswered,
    /// The SYN was sent several times and never answered.
    SynNeverAnswered,
    /// A RST whose TTL differs from its sender's other packets: a middlebox sent it.
    InjectedReset,
    /// A RST before any ServerHello.
    Reset,
    /// The ClientHello was sent several times and never answered.
    ClientHelloNeverAnswered,
    /// The ClientHello was sent several times, and the capture ended soon after the last copy:
    /// loss, but no proof that the handshake failed.
    ClientHelloResent,
    /// The flow went idle after the ClientHello without an answer.
    ServerSilent,
}

impl NetworkCause {
    /// True when the packets show the network (or a middlebox on it) stopped the handshake; a
    /// single unanswered SYN does not: the capture may have ended or dropped the rest.
    pub fn blames_the_network(self) -> bool {
        !matches!(
            self,
            NetworkCause::SynUnanswered | NetworkCause::ClientHelloResent
        )
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

/// How the server's IPv4 identification runs from its ACK of the ClientHello to its
/// ServerHello. Stacks that number a connection's packets one by one (Linux does, per socket)
/// show in it whether the server sent packets in between that the capture never saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpIdRun {
    /// The ServerHello's identification follows the ACK's: the server sent nothing in between.
    Consecutive {
        /// Identification of the ACK.
        ack: u16,
        /// Identification of the ServerHello's first segment.
        server_hello: u16,
    },
    /// Identifications were skipped while the server's other packets count up one by one:
    /// `missing` packets it sent in between never reached the capture point.
    Skipped {
        /// Identification of the ACK.
        ack: u16,
        /// Identification of the ServerHello's first segment.
        server_hello: u16,
        /// Packets missing in between.
        missing: u16,
    },
    /// Nothing to tell from them (IPv6, zero or random identifications).
    Unknown,
}

/// Most packets a skipped IP ID run may stand for: a lost server flight, resent.
const MAX_SKIPPED_IDS: u16 = 16;

/// A ServerHello that came long after the ClientHello although the server acknowledged the
/// ClientHello promptly and nothing was resent: the server was slow to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowServer {
    /// Last ClientHello segment → ServerHello, ms.
    pub wait_ms: f64,
    /// The server's first ACK of the whole ClientHello.
    pub ack_frame: u64,
    /// Last ClientHello segment → that ACK, ms.
    pub ack_ms: f64,
    /// First frame of the ServerHello.
    pub server_hello_frame: u64,
    /// What the server's IP identifications show about packets in between.
    pub ip_ids: IpIdRun,
}

impl SlowServer {
    /// "server slow to answer (300.955 ms): it acknowledged the ClientHello in frame 5 after
    /// 0.019 ms but sent its ServerHello only in frame 6, …".
    pub fn describe(&self) -> String {
        let base = format!(
            "server slow to answer ({:.3} ms): it acknowledged the ClientHello in frame {} after {:.3} ms but sent its ServerHello only in frame {}",
            self.wait_ms, self.ack_frame, self.ack_ms, self.server_hello_frame
        );
        match self.ip_ids {
            IpIdRun::Consecutive { ack, server_hello } => format!(
                "{base}, and sent nothing in between (IP IDs {ack:#06x}, {server_hello:#06x} in a row)"
            ),
            // A Skipped run is loss, never a slow server; described alike for completeness.
            IpIdRun::Skipped { .. } | IpIdRun::Unknown => format!(
                "{base}; a ServerHello lost before the capture point and resent would look the same (no IP IDs tell them apart)"
            ),
        }
    }
}

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

/// Milliseconds between two times, with microsecond precision.
fn ms(from: Timestamp, to: Timestamp) -> f64 {
    (to.nanos_since(from) / 1000) as f64 / 1000.0
}

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
    let (connect_ms, capture_point) = connect_time(health);
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

/// SYN → ACK time and the capture point it implies, when the whole three-way handshake was
/// captured.
fn connect_time(health: &TcpHealth) -> (Option<f64>, CapturePoint) {
    let (Some((_, syn)), Some((_, syn_ack)), Some((_, ack))) =
        (health.syn, health.syn_ack, health.handshake_ack)
    else {
        return (None, CapturePoint::Unknown);
    };
    // One leg must clearly dominate the round trip (1.5 times the other); on loopback or a
    // capture between the two ends, neither does and the point stays unknown.
    let (to_server, to_client) = (
        i128::from(syn_ack.nanos_since(syn)),
        i128::from(ack.nanos_since(syn_ack)),
    );
    let point = if 2 * to_server > 3 * to_client {
        CapturePoint::Client
    } else if 2 * to_client > 3 * to_server {
        CapturePoint::Server
    } else {
        CapturePoint::Unknown
    };
    (Some(ms(syn, ack)), point)
}

/// The hello timings of a flow, as far as the captured frames show them.
struct HelloTimes {
    client_hello_span_ms: Option<f64>,
    client_hello_to_server_hello_ms: Option<f64>,
    handshake_ms: Option<f64>,
}

impl HelloTimes {
    /// Times the hellos carried by `ch_frames` and `sh_frames`, and the whole handshake.
    fn of(facts: &FlowFacts, ch_frames: &[u64], sh_frames: &[u64]) -> HelloTimes {
        let ch_first = ch_frames.first().and_then(|f| time_of(facts, *f));
        let ch_last = ch_frames.last().and_then(|f| time_of(facts, *f));
        let sh_first = sh_frames.first().and_then(|f| time_of(facts, *f));
        let between = |a: Option<Timestamp>, b: Option<Timestamp>| Some(ms(a?, b?));
        let handshake_ms = match (facts.handshake_end, facts.frame_times.first()) {
            (Some(end), Some((_, start))) => time_of(facts, end).map(|t| ms(*start, t)),
            _ => None,
        };
        HelloTimes {
            client_hello_span_ms: between(ch_first, ch_last),
            client_hello_to_server_hello_ms: between(ch_last, sh_first),
            handshake_ms,
        }
    }
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

/// The frames after holes of `side`'s stream in the handshake window that nobody acknowledged:
/// lost on the network, or dropped by the capture.
fn unacknowledged_holes(facts: &FlowFacts, side: Side) -> Vec<u64> {
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
fn dropped_by_the_capture(facts: &FlowFacts) -> Option<String> {
    if facts.capture_drops == 0 {
        return None;
    }
    let client = facts.client_side;
    let missing: Vec<String> = [(client, "client"), (client.other(), "server")]
        .into_iter()
        .filter_map(|(side, who)| {
            let frames = unacknowledged_holes(facts, side);
            (!frames.is_empty())
                .then(|| format!("{who} data before frames {}", frames_text(&frames)))
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
        "the capture missed {}, and nothing was resent: the capture dropped these packets, not the network",
        missed.join(" and ")
    ))
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
            loss.push(format!(
                "{} {who} {} (frames {})",
                unnamed.len(),
                kind.name().replace('_', " "),
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
            "{who} data missing from the capture before frames {}",
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
            "{who} segments out of order (frames {})",
            frames_text(frames)
        ));
    }
    (loss, reordering)
}

/// What a ServerHello that came late, with no loss in sight, says.
enum LateServerHello {
    /// A segment was lost before the capture point: the sentence.
    Lost(String),
    /// The server was slow to answer.
    Slow(SlowServer),
}

/// A ServerHello that comes long after the ClientHello (≥ 150 ms and more than 20 round trips)
/// when no loss was seen. A server that acknowledged the ClientHello before its ServerHello had
/// received it: the wait is the server's, unless its IP IDs show packets sent in between that the
/// capture never saw (a ServerHello lost before the capture point and resent after a
/// retransmission timeout). Without such an ACK, the ClientHello or the ServerHello was most
/// likely lost before the capture point.
fn late_server_hello(facts: &FlowFacts, view: &NetworkView) -> Option<LateServerHello> {
    let (Some(wait), Some(rtt)) = (view.client_hello_to_server_hello_ms, view.connect_ms) else {
        return None;
    };
    if wait < 150.0 || wait <= 20.0 * rtt.max(0.05) {
        return None;
    }
    let came = format!(
        "the ServerHello came {wait:.3} ms after the ClientHello on a connection with a {rtt:.3} ms round trip"
    );
    let Some((ack, server_hello)) = client_hello_ack(facts) else {
        return Some(LateServerHello::Lost(format!(
            "{came}: a segment was likely lost before the capture point and resent after a retransmission timeout"
        )));
    };
    let ip_ids = ip_id_run(facts, ack, server_hello);
    if let IpIdRun::Skipped {
        ack: from,
        server_hello: to,
        missing,
    } = ip_ids
    {
        let packets = if missing == 1 {
            "1 server packet was".to_string()
        } else {
            format!("{missing} server packets were")
        };
        return Some(LateServerHello::Lost(format!(
            "{came}, and the server's IP ID skipped from {from:#06x} (frame {}) to {to:#06x} (frame {}): {packets} lost before the capture point and resent after a retransmission timeout",
            ack.frame, server_hello.frame
        )));
    }
    let ch_last = facts.client_hello()?.1.last().copied()?;
    let ack_ms = ms(time_of(facts, ch_last)?, time_of(facts, ack.frame)?);
    Some(LateServerHello::Slow(SlowServer {
        wait_ms: wait,
        ack_frame: ack.frame,
        ack_ms,
        server_hello_frame: server_hello.frame,
        ip_ids,
    }))
}

/// The server's first packet that acknowledges the whole ClientHello, when it comes before the
/// ServerHello, and the ServerHello's first packet.
fn client_hello_ack(facts: &FlowFacts) -> Option<(WindowPacket, WindowPacket)> {
    let client = facts.client_side;
    let ch_frames = &facts.client_hello()?.1;
    let sh_first = *facts.server_hello()?.1.first()?;
    let end: SeqNumber = facts
        .health
        .first_segments(client)
        .iter()
        .filter(|s| ch_frames.contains(&s.frame))
        .map(|s| s.seq.plus(s.len))
        .max_by(|a, b| a.diff(*b).cmp(&0))?;
    let server = client.other();
    let packets = &facts.window_packets;
    let ack = packets.iter().find(|p| {
        p.side == server && p.frame < sh_first && p.ack.is_some_and(|a| a.diff(end) >= 0)
    })?;
    let server_hello = packets.iter().find(|p| p.frame == sh_first)?;
    Some((*ack, *server_hello))
}

/// How the server's IP identification runs from `ack` to `server_hello`. A skip counts only when
/// the server's other packets of the handshake window count up one by one (at least one such
/// step, none otherwise): then the skipped values are packets the capture never saw.
fn ip_id_run(facts: &FlowFacts, ack: WindowPacket, server_hello: WindowPacket) -> IpIdRun {
    let (Some(from), Some(to)) = (ack.ip_id, server_hello.ip_id) else {
        return IpIdRun::Unknown;
    };
    let step = to.wrapping_sub(from);
    if step == 1 {
        return IpIdRun::Consecutive {
            ack: from,
            server_hello: to,
        };
    }
    if !(2..=MAX_SKIPPED_IDS + 1).contains(&step) {
        return IpIdRun::Unknown;
    }
    // The server's other steps, from one captured packet to its next (the SYN/ACK often
    // carries 0 and is left out).
    let ids: Vec<(u64, u16)> = facts
        .window_packets
        .iter()
        .filter(|p| p.side == ack.side && p.frame >= ack.frame)
        .filter_map(|p| Some((p.frame, p.ip_id?)))
        .collect();
    let steps: Vec<u16> = ids
        .windows(2)
        .filter_map(|w| match w {
            [(frame, a), (_, b)] if *frame != ack.frame => Some(b.wrapping_sub(*a)),
            _ => None,
        })
        .collect();
    if steps.is_empty() || steps.iter().any(|s| *s != 1) {
        return IpIdRun::Unknown;
    }
    IpIdRun::Skipped {
        ack: from,
        server_hello: to,
        missing: step - 1,
    }
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

/// The most likely network cause of a handshake that got no ServerHello: the cause, a sentence
/// for a person, and the frames behind it. A flow reported while still open (live use) gets no
/// cause that rests on an answer never coming: only what its packets already show (a RST).
pub fn incomplete_cause(
    facts: &FlowFacts,
    view: &NetworkView,
) -> Option<(NetworkCause, String, Vec<u64>)> {
    let health = &facts.health;
    let observation_over = !facts.still_open();
    let ch = facts.client_hello();
    if ch.is_none() && !facts.is_tls() {
        if health.syn.is_some() && health.syn_ack.is_none() {
            if let Some(reset) = view.resets.iter().find(|r| r.from == Role::Server) {
                return Some((
                    NetworkCause::ConnectionRefused,
                    format!(
                        "connection refused: the server side answered the SYN with a RST (frame {})",
                        reset.frame
                    ),
                    vec![health.syn_frames[0], reset.frame],
                ));
            }
            if !observation_over {
                return None;
            }
            let frames: Vec<String> = health.syn_frames.iter().map(u64::to_string).collect();
            let cut_off = !watched_long_enough(facts, &health.syn_frames);
            if health.syn_frames.len() > 1 && cut_off {
                return Some((
                    NetworkCause::SynUnanswered,
                    format!(
                        "SYN sent {} times (frames {}) with no answer before the capture ended",
                        health.syn_frames.len(),
                        frames.join(", ")
                    ),
                    health.syn_frames.clone(),
                ));
            }
            if health.syn_frames.len() == 1 && facts.end != FlowEnd::Idle {
                let silent_ns = facts.capture_time.nanos_since(facts.last_time);
                let detail = if silent_ns >= 1_000_000_000 {
                    // A SYN lost on the network is resent after a second.
                    format!(
                        "no answer to the SYN (frame {}) in the capture, and no copy of it although the capture went on for {:.1} s: the capture dropped the rest of this connection, or the client gave up at once",
                        health.syn_frames[0],
                        silent_ns as f64 / 1e9
                    )
                } else {
                    format!(
                        "no answer to the SYN (frame {}) before the capture ended",
                        health.syn_frames[0]
                    )
                };
                return Some((
                    NetworkCause::SynUnanswered,
                    detail,
                    health.syn_frames.clone(),
                ));
            }
            return Some((
                NetworkCause::SynNeverAnswered,
                format!(
                    "SYN never answered (sent {} times: frames {}) — the server is down, or a firewall drops the connection",
                    health.syn_frames.len(),
                    frames.join(", ")
                ),
                health.syn_frames.clone(),
            ));
        }
        return None;
    }
    let (_, ch_frames) = ch?;
    let ch_last = *ch_frames.last()?;
    let ch_time = time_of(facts, ch_last);
    if let Some(reset) = view.resets.first() {
        let after = ch_time
            .filter(|t| reset.time >= *t)
            .map(|t| format!(" {:.3} ms after the ClientHello", ms(t, reset.time)))
            .unwrap_or_default();
        let side = reset.from.name();
        if reset.looks_injected() {
            return Some((
                NetworkCause::InjectedReset,
                format!(
                    "reset by the {side}'s side (RST in frame {}){after}, TTL {} vs {} on the {side}'s other packets — likely injected by a middlebox",
                    reset.frame,
                    reset.ttl,
                    reset.usual_ttl.unwrap_or(0)
                ),
                vec![ch_last, reset.frame],
            ));
        }
        return Some((
            NetworkCause::Reset,
            format!(
                "the connection was reset by the {side} side (RST in frame {}){after}, before any ServerHello (ClientHello in frame {ch_last})",
                reset.frame
            ),
            vec![ch_last, reset.frame],
        ));
    }
    if let Some(m) = view
        .retransmitted_messages
        .iter()
        .find(|m| m.message == "ClientHello")
        .filter(|_| observation_over)
    {
        let frames: Vec<String> = m.frames.iter().map(u64::to_string).collect();
        // "Never" needs the flow to have ended, or the capture to have watched long enough after
        // the last copy for another one to be due; a capture cut off right after a copy shows
        // loss, not a failed handshake.
        if !watched_long_enough(facts, &m.frames) {
            return Some((
                NetworkCause::ClientHelloResent,
                format!(
                    "ClientHello sent {} times (frames {}) with no answer before the capture ended",
                    m.times,
                    frames.join(", ")
                ),
                m.frames.clone(),
            ));
        }
        return Some((
            NetworkCause::ClientHelloNeverAnswered,
            format!(
                "ClientHello sent {} times (frames {}) and never answered — packet loss or a firewall dropping it",
                m.times,
                frames.join(", ")
            ),
            m.frames.clone(),
        ));
    }
    None
}

/// How long the client must have been seen resending an unanswered message, or the capture
/// must go on after the flow's last packet, when the flow did not end, before "never answered"
/// is said (a retransmission timeout has grown to seconds by the third copy).
const NEVER_ANSWERED_WATCH_NS: i64 = 3_000_000_000;

/// True when a message resent in `copies` (frames) went unanswered long enough to say it was
/// never answered: the flow ended, or the copies span [`NEVER_ANSWERED_WATCH_NS`], or the
/// capture went on that long after the flow's last packet. A capture cut off right after a copy
/// shows loss, not a failed handshake.
fn watched_long_enough(facts: &FlowFacts, copies: &[u64]) -> bool {
    let watched_ns = facts.capture_time.nanos_since(facts.last_time);
    let first = copies.first().and_then(|f| time_of(facts, *f));
    let last = copies.last().and_then(|f| time_of(facts, *f));
    let resent_for_ns = match (first, last) {
        (Some(first), Some(last)) => last.nanos_since(first),
        _ => 0,
    };
    facts.ended()
        || facts.end == FlowEnd::Idle
        || watched_ns >= NEVER_ANSWERED_WATCH_NS
        || resent_for_ns >= NEVER_ANSWERED_WATCH_NS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Server packets (side B) with these frames and IP IDs.
    fn facts(ids: &[(u64, Option<u16>)]) -> FlowFacts {
        FlowFacts {
            client_side: Side::A,
            window_packets: ids
                .iter()
                .map(|&(frame, ip_id)| WindowPacket {
                    frame,
                    side: Side::B,
                    ack: None,
                    ip_id,
                })
                .collect(),
            ..FlowFacts::default()
        }
    }

    fn run(ids: &[(u64, Option<u16>)]) -> IpIdRun {
        let f = facts(ids);
        let (ack, sh) = (f.window_packets[0], f.window_packets[1]);
        ip_id_run(&f, ack, sh)
    }

    #[test]
    fn ip_ids_in_a_row_prove_nothing_was_sent_between() {
        assert_eq!(
            run(&[(5, Some(0xffff)), (6, Some(0))]),
            IpIdRun::Consecutive {
                ack: 0xffff,
                server_hello: 0
            }
        );
    }

    #[test]
    fn a_skip_counts_only_when_the_other_packets_count_up_by_one() {
        assert_eq!(
            run(&[(5, Some(10)), (6, Some(13)), (9, Some(14)), (12, Some(15))]),
            IpIdRun::Skipped {
                ack: 10,
                server_hello: 13,
                missing: 2
            }
        );
        // Random (or global) identifications: no skip can be read from them.
        assert_eq!(
            run(&[(5, Some(10)), (6, Some(13)), (9, Some(900))]),
            IpIdRun::Unknown
        );
        // No other step to compare with.
        assert_eq!(run(&[(5, Some(10)), (6, Some(12))]), IpIdRun::Unknown);
        // Zero identifications, IPv6.
        assert_eq!(run(&[(5, Some(0)), (6, Some(0))]), IpIdRun::Unknown);
        assert_eq!(run(&[(5, None), (6, None)]), IpIdRun::Unknown);
    }

    #[test]
    fn a_slow_server_without_ip_ids_says_what_it_cannot_rule_out() {
        let slow = SlowServer {
            wait_ms: 300.5,
            ack_frame: 5,
            ack_ms: 0.02,
            server_hello_frame: 6,
            ip_ids: IpIdRun::Unknown,
        };
        assert_eq!(
            slow.describe(),
            "server slow to answer (300.500 ms): it acknowledged the ClientHello in frame 5 after 0.020 ms but sent its ServerHello only in frame 6; a ServerHello lost before the capture point and resent would look the same (no IP IDs tell them apart)"
        );
    }
}
