//! The network's part in a handshake that got no ServerHello: a refused connection, a SYN or a
//! ClientHello never answered (or resent when the capture ended), a RST, an injected RST.
//!
//! Takes [`FlowFacts`] and its [`NetworkView`]; emits a typed [`NetworkCause`], the sentence for a
//! person and the frames behind it. Promises not to say "never answered" before the flow was
//! watched long enough ([`watched_long_enough`]), and to give a flow still open (live use) no
//! cause that rests on an answer never coming.

use super::{NetworkView, ResetSeen, ms, time_of};
use crate::analysis::{FlowEnd, FlowFacts, Role};
use serde::Serialize;

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
    /// QUIC: the client sent several Initial packets and the server sent nothing back. UDP
    /// blocked on the path, or nothing listening for QUIC on the port: the packets do not say
    /// which, so this does not blame the network (see [`NetworkCause::blames_the_network`]).
    QuicInitialsUnanswered,
}

impl NetworkCause {
    /// True when the packets show the network (or a middlebox on it) stopped the handshake; a
    /// single unanswered SYN does not: the capture may have ended or dropped the rest. Nor do
    /// unanswered QUIC Initials: a server with nothing listening for QUIC is just as silent.
    pub fn blames_the_network(self) -> bool {
        !matches!(
            self,
            NetworkCause::SynUnanswered
                | NetworkCause::ClientHelloResent
                | NetworkCause::QuicInitialsUnanswered
        )
    }
}

/// The most likely network cause of a handshake that got no ServerHello: the cause, a sentence
/// for a person, and the frames behind it. A flow reported while still open (live use) gets no
/// cause that rests on an answer never coming: only what its packets already show (a RST).
pub fn incomplete_cause(
    facts: &FlowFacts,
    view: &NetworkView,
) -> Option<(NetworkCause, String, Vec<u64>)> {
    // A flow evicted from the full flow table was, like one still open, not followed to its
    // end: only what its packets already show counts.
    let observation_over = !facts.still_open() && !matches!(facts.end, FlowEnd::Evicted(_));
    let ch = facts.client_hello();
    if ch.is_none() && !facts.is_tls() {
        return syn_cause(facts, view, observation_over);
    }
    let (_, ch_frames) = ch?;
    let ch_last = *ch_frames.last()?;
    if let Some(reset) = view.resets.first()
        && (reset.looks_injected() || !facts.closed_before(reset.from, reset.frame))
    {
        return Some(reset_cause(facts, reset, ch_last));
    }
    client_hello_cause(facts, view, observation_over)
}

/// The cause for a connection that got no SYN/ACK: refused by a RST, or a SYN unanswered (once,
/// or resent before the capture ended) or never answered.
fn syn_cause(
    facts: &FlowFacts,
    view: &NetworkView,
    observation_over: bool,
) -> Option<(NetworkCause, String, Vec<u64>)> {
    let health = &facts.health;
    if health.syn.is_none() || health.syn_ack.is_some() {
        return None;
    }
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
    Some((
        NetworkCause::SynNeverAnswered,
        format!(
            "SYN never answered (sent {} times: frames {}) — the server is down, or a firewall drops the connection",
            health.syn_frames.len(),
            frames.join(", ")
        ),
        health.syn_frames.clone(),
    ))
}

/// The cause for a RST after the ClientHello (last frame `ch_last`): injected by a middlebox when
/// its TTL says so, else a reset by that side.
fn reset_cause(
    facts: &FlowFacts,
    reset: &ResetSeen,
    ch_last: u64,
) -> (NetworkCause, String, Vec<u64>) {
    let ch_time = time_of(facts, ch_last);
    let after = ch_time
        .filter(|t| reset.time >= *t)
        .map(|t| format!(" {:.3} ms after the ClientHello", ms(t, reset.time)))
        .unwrap_or_default();
    let side = reset.from.name();
    if reset.looks_injected() {
        return (
            NetworkCause::InjectedReset,
            format!(
                "reset by the {side}'s side (RST in frame {}){after}, TTL {} vs {} on the {side}'s other packets — likely injected by a middlebox",
                reset.frame,
                reset.ttl,
                reset.usual_ttl.unwrap_or(0)
            ),
            vec![ch_last, reset.frame],
        );
    }
    (
        NetworkCause::Reset,
        format!(
            "the connection was reset by the {side} side (RST in frame {}){after}, before any ServerHello (ClientHello in frame {ch_last})",
            reset.frame
        ),
        vec![ch_last, reset.frame],
    )
}

/// The cause for a ClientHello the client resent without an answer, once the observation is
/// over: never answered, or resent when the capture ended.
fn client_hello_cause(
    facts: &FlowFacts,
    view: &NetworkView,
    observation_over: bool,
) -> Option<(NetworkCause, String, Vec<u64>)> {
    let m = view
        .retransmitted_messages
        .iter()
        .find(|m| m.message == "ClientHello")
        .filter(|_| observation_over)?;
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
    Some((
        NetworkCause::ClientHelloNeverAnswered,
        format!(
            "ClientHello sent {} times (frames {}) and never answered — packet loss or a firewall dropping it",
            m.times,
            frames.join(", ")
        ),
        m.frames.clone(),
    ))
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
