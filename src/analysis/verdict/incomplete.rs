//! The sentence of an `incomplete` verdict: why a TLS flow got no ServerHello, most telling
//! first: an unreadable or missing ClientHello (snaplen, a stream fault, bytes the capture
//! missed), a ServerHello the capture missed although the handshake went on, the network, what
//! stopped the server (alert, RST, gap, fault, FIN), then a ClientHello nothing answered; and a
//! connection to a TLS port closed before anyone sent a byte.
//!
//! Takes [`FlowFacts`]; emits the sentence, adds the frames behind it to the evidence and, when
//! the network stopped the handshake, sets its [`NetworkCause`].

use super::alert_text;
use crate::analysis::network::{self, NetworkCause};
use crate::analysis::{FlowEnd, FlowFacts, Role, alert_name};
use crate::tls::StreamFault;

/// Why a TLS flow got no ServerHello, most telling first: an unreadable or missing
/// ClientHello, the network, the server's alert, a reset, a gap or fault in the server's stream,
/// a FIN, then how the flow ended.
pub(super) fn incomplete_detail(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> String {
    let Some((_, ch_frames)) = facts.client_hello() else {
        return no_client_hello_detail(facts, evidence);
    };
    let ch_last = ch_frames.last().copied().unwrap_or(0);
    if let Some((_, hrr_frames)) = facts.hello_retry_request() {
        evidence.extend(hrr_frames);
    }
    // A ServerHello the client evidently received is missing from the capture, whatever
    // happened to the connection later.
    if let Some(detail) = server_hello_not_captured(facts, ch_last, evidence) {
        return detail;
    }
    // Alerts say more than the network; after them, the network's evidence.
    let server_alert = facts.alerts.iter().any(|a| a.from == Role::Server);
    if !server_alert && let Some(detail) = network_detail(facts, evidence, network_cause) {
        return detail;
    }
    if let Some(detail) = server_stopped_detail(facts, ch_last, evidence, network_cause) {
        return detail;
    }
    unanswered_detail(facts, ch_last, network_cause)
}

/// The client's bytes that the capture missed although the server received them, in words, with
/// the frames that show it added to the evidence.
pub(super) fn client_capture_gap(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    let gap = network::capture_gaps(facts)
        .into_iter()
        .find(|g| g.from == Role::Client)?;
    evidence.extend(&gap.frames);
    Some(format!(
        "{} are missing from it; {}",
        gap.describe(),
        gap.acknowledgement()
    ))
}

/// The sentence for a ServerHello the capture missed: the server's stream has a gap that the
/// client acknowledged, and the handshake went on after the ClientHello (a ChangeCipherSpec or
/// protected records from either side), so it completed; only the capture lacks the answer.
fn server_hello_not_captured(
    facts: &FlowFacts,
    ch_last: u64,
    evidence: &mut Vec<u64>,
) -> Option<String> {
    let gap = network::capture_gaps(facts)
        .into_iter()
        .find(|g| g.from == Role::Server)?;
    // Each side's first record after the ClientHello that only a handshake past the
    // ServerHello sends: a ChangeCipherSpec, or protected records.
    let mut went_on: Vec<(u64, String)> = Vec::new();
    for role in [Role::Client, Role::Server] {
        let ccs = facts
            .change_cipher_specs
            .iter()
            .find(|(r, f)| *r == role && *f > ch_last)
            .map(|(_, f)| (*f, "ChangeCipherSpec"));
        let protected = facts
            .application_data
            .iter()
            .find(|(r, f)| *r == role && *f > ch_last)
            .map(|(_, f)| (*f, "protected records"));
        if let Some((frame, what)) = [ccs, protected].into_iter().flatten().min() {
            went_on.push((
                frame,
                format!("the {}'s {what} in frame {frame}", role.name()),
            ));
        }
    }
    if went_on.is_empty() {
        return None;
    }
    evidence.extend(&gap.frames);
    evidence.extend(went_on.iter().map(|(frame, _)| *frame));
    let went_on: Vec<String> = went_on.into_iter().map(|(_, what)| what).collect();
    Some(format!(
        "the ServerHello is missing from the capture: {} were not captured, but {} and the handshake went on ({}), so it completed; what the server selected is unknown",
        gap.describe(),
        gap.acknowledgement(),
        went_on.join(", ")
    ))
}

/// Why a TLS flow has no ClientHello: frames cut by the snaplen, a fault in a stream, or a
/// capture that began after the handshake.
fn no_client_hello_detail(facts: &FlowFacts, evidence: &mut Vec<u64>) -> String {
    if facts.truncated_frames > 0
        && facts
            .faults
            .iter()
            .any(|(_, _, f)| matches!(f, StreamFault::Gap { .. }))
    {
        evidence.extend(facts.first_truncated_frame);
        return format!(
            "the handshake could not be read: {} frames were cut by the snaplen ({} bytes); capture with a full snaplen (tcpdump -s 0)",
            facts.truncated_frames, facts.snaplen
        );
    }
    if let Some(over_long) = over_long_client_hello(facts, evidence) {
        return over_long;
    }
    if let Some((role, frame, fault)) = facts.faults.first() {
        evidence.push(*frame);
        let rejected = match facts.alerts.iter().find(|a| a.from == Role::Server) {
            Some(alert) if *role == Role::Client && alert.frame > *frame => {
                evidence.push(alert.frame);
                format!(
                    "; the server rejected it with {} in frame {}",
                    alert_text(alert.level, alert.description),
                    alert.frame
                )
            }
            _ => String::new(),
        };
        return format!(
            "the ClientHello could not be read: {fault} in the {} stream at frame {frame}{rejected}",
            role.name()
        );
    }
    if let Some(gap) = client_capture_gap(facts, evidence) {
        return format!("the ClientHello is not in the capture ({gap}), so the offer is unknown");
    }
    evidence.extend(facts.first_tls_frame);
    let first_tls = facts.first_tls_frame.unwrap_or(0);
    if let FlowEnd::Evicted(eviction) = facts.end {
        // alpnscope's doing: the rest of the ClientHello may well have followed.
        evidence.push(facts.last_frame);
        return format!(
            "{}; this flow was closed early to make room after frame {} before its ClientHello was complete (first TLS record in frame {first_tls}), so what it offered was not analysed",
            eviction.reason(),
            facts.last_frame
        );
    }
    if let Some(partial) = facts.partial_client_hello {
        // The hello is in the capture, cut short: not a handshake the capture missed.
        let (first, last) = partial.frames;
        evidence.push(last);
        return format!(
            "the ClientHello is incomplete: it announces {} bytes, the capture holds the first {} (frames {first}–{last}) and nothing more of it, so the offer is unknown; the client stopped sending it, or the capture ended first",
            partial.announced, partial.have
        );
    }
    match facts.health.syn {
        // The capture saw the connection open: it lost the handshake's packets, not its start.
        Some((syn, _)) => format!(
            "handshake not captured: the capture saw the connection open (SYN in frame {syn}) but not its hellos; the first TLS record is in frame {first_tls}"
        ),
        None => format!(
            "handshake not captured: the capture has neither this connection's start nor its hellos (the connection predates the capture, or the capture dropped them); the first TLS record is in frame {first_tls}"
        ),
    }
}

/// The sentence for a ClientHello whose handshake header claims more than
/// [`MAX_HELLO_BYTES`](crate::tls::MAX_HELLO_BYTES): it is in the capture, but its body was
/// skipped, so the offer is not known. Adds the frame that completed its header to the evidence.
pub(super) fn over_long_client_hello(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    facts.faults.iter().find_map(|(role, frame, fault)| match fault {
        StreamFault::HelloTooLarge { len } if *role == Role::Client => {
            evidence.push(*frame);
            Some(format!(
                "the ClientHello claims {len} bytes (frame {frame}), more than the {} KiB alpnscope reads; its offer is not analysed",
                crate::tls::MAX_HELLO_BYTES / 1024
            ))
        }
        _ => None,
    })
}

/// The network's explanation of a handshake without ServerHello, with its cause and frames.
pub(super) fn network_detail(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> Option<String> {
    let view = network::assess(facts);
    let (cause, detail, frames) = network::incomplete_cause(facts, &view)?;
    evidence.extend(frames);
    *network_cause = Some(cause);
    Some(detail)
}

/// What ended the handshake after the ClientHello, when the packets show it: the server's
/// alert, a reset, a gap or fault in the server's stream, or a FIN.
fn server_stopped_detail(
    facts: &FlowFacts,
    ch_last: u64,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> Option<String> {
    if let Some(alert) = facts.alerts.iter().find(|a| a.from == Role::Server) {
        evidence.push(alert.frame);
        let name = alert
            .description
            .map(|d| format!("{} ({d})", alert_name(d)))
            .unwrap_or_else(|| "an encrypted alert".into());
        return Some(format!(
            "the server answered the ClientHello with {} alert {name} in frame {} instead of a ServerHello",
            if alert.level == 2 { "fatal" } else { "an" },
            alert.frame
        ));
    }
    // A RST from a side that had already closed (FIN) is its stack answering bytes that came
    // after the close: the application closed, the FIN below says so.
    if let Some((role, frame)) = facts.resets.first()
        && !facts.closed_before(*role, *frame)
    {
        evidence.push(*frame);
        *network_cause = Some(NetworkCause::Reset);
        return Some(format!(
            "the connection was reset by the {} side (RST in frame {frame}) after the ClientHello (frame {ch_last}) and before any ServerHello",
            role.name()
        ));
    }
    if let Some((_, frame, StreamFault::Gap { len })) =
        facts.faults.iter().find(|(r, _, _)| *r == Role::Server)
    {
        evidence.push(*frame);
        return Some(format!(
            "{len} bytes of the server's stream are missing from the capture (frame {frame}), so its ServerHello could not be read"
        ));
    }
    if let Some((_, frame, fault)) = facts.faults.iter().find(|(r, _, _)| *r == Role::Server) {
        evidence.push(*frame);
        return Some(format!(
            "the server's reply could not be read: {fault} (frame {frame})"
        ));
    }
    let (role, frame) = facts
        .fins
        .iter()
        .find(|(r, _)| *r == Role::Server)
        .or(facts.fins.first())?;
    evidence.push(*frame);
    Some(format!(
        "the {} closed the connection (FIN in frame {frame}) without a ServerHello after the ClientHello (frame {ch_last})",
        role.name()
    ))
}

/// A ClientHello that nothing ended: a HelloRetryRequest the handshake did not get past, an
/// idle flow (the server silent), or a capture that stopped or ended first.
fn unanswered_detail(
    facts: &FlowFacts,
    ch_last: u64,
    network_cause: &mut Option<NetworkCause>,
) -> String {
    if let Some((_, hrr_frames)) = facts.hello_retry_request() {
        return format!(
            "the server sent a HelloRetryRequest (frame {}) and the handshake went no further in the capture",
            hrr_frames.last().copied().unwrap_or(0)
        );
    }
    match facts.end {
        FlowEnd::Idle => {
            *network_cause = Some(NetworkCause::ServerSilent);
            format!(
                "no ServerHello: the flow went idle after the ClientHello (frame {ch_last}) and the server never answered"
            )
        }
        FlowEnd::CaptureStopped => {
            format!("capture stopped before a ServerHello (ClientHello in frame {ch_last})")
        }
        FlowEnd::Evicted(eviction) => format!(
            "no ServerHello before {}; this flow was closed early to make room after frame {} (ClientHello in frame {ch_last}), so what it did next was not analysed",
            eviction.reason(),
            facts.last_frame
        ),
        _ => {
            let silent_ns = facts.capture_time.nanos_since(facts.last_time);
            if silent_ns >= SILENCE_BEFORE_CAPTURE_END_NS {
                // Without a FIN, RST or idle timeout, silence proves nothing either way.
                format!(
                    "no ServerHello in the capture: the flow's packets stop at frame {} after the ClientHello (frame {ch_last}) although the capture went on for {:.1} s, with no FIN, RST or timeout: the server never answered, or the capture dropped the rest of the flow",
                    facts.last_frame,
                    silent_ns as f64 / 1e9
                )
            } else {
                format!(
                    "no ServerHello before the capture ended (ClientHello in frame {ch_last}, last packet of the flow in frame {})",
                    facts.last_frame
                )
            }
        }
    }
}

/// Silence at the end of a capture that is worth naming (shorter: the capture just ended).
const SILENCE_BEFORE_CAPTURE_END_NS: i64 = 1_000_000_000;

/// A connection to a TLS server that was closed or reset before anyone sent a byte: who ended
/// it, and when. Not the network's doing: a FIN or a RST from an end, with no ClientHello for it
/// to answer. `None` when the capture cannot prove that no byte was sent.
pub(super) fn closed_before_client_hello(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
) -> Option<String> {
    // Only a connection seen from its SYN, with no bytes that an end acknowledged but the
    // capture missed, proves that nothing was sent.
    let (syn, opened) = facts.health.syn?;
    if !network::capture_gaps(facts).is_empty() {
        return None;
    }
    let fin = facts.fins.first().map(|(r, f)| (*f, *r, false));
    let rst = facts.resets.first().map(|(r, f)| (*f, *r, true));
    let (frame, role, reset) = [fin, rst].into_iter().flatten().min()?;
    evidence.extend([syn, frame]);
    let after = frame_time(facts, frame)
        .map(|closed| {
            format!(
                ", {:.3} ms after it opened",
                closed.nanos_since(opened) as f64 / 1e6
            )
        })
        .unwrap_or_default();
    let (who, how) = match (role, reset) {
        (Role::Client, false) => ("the client", "closed"),
        (Role::Client, true) => ("the client's side", "reset"),
        (Role::Server, false) => ("the server", "closed"),
        (Role::Server, true) => ("the server's side", "reset"),
    };
    let packet = if reset { "RST" } else { "FIN" };
    Some(match role {
        Role::Client => format!(
            "{who} {how} the connection ({packet} in frame {frame}{after}) without sending a ClientHello: a port check (nc -z), a health check, a scanner, or a client that gave up; not a TLS or network failure"
        ),
        Role::Server => format!(
            "{who} {how} the connection ({packet} in frame {frame}{after}) before the client sent a ClientHello"
        ),
    })
}

/// The time of a frame of the handshake window.
fn frame_time(facts: &FlowFacts, frame: u64) -> Option<crate::capture::Timestamp> {
    facts
        .frame_times
        .iter()
        .find(|(f, _)| *f == frame)
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{VerdictKind, judge};

    #[test]
    fn a_connection_closed_before_any_byte_needs_its_syn_to_say_so() {
        let mut facts = FlowFacts {
            tls_candidate: true,
            fins: vec![(Role::Server, 4)],
            ..FlowFacts::default()
        };
        // Only a FIN in the capture: the capture may have missed everything before it.
        assert_eq!(judge(&facts).kind, VerdictKind::NotTls);
        facts.health.syn = Some((1, crate::capture::Timestamp(0)));
        facts.health.syn_frames = vec![1];
        facts.health.syn_ack = Some((2, crate::capture::Timestamp(0)));
        let verdict = judge(&facts);
        assert_eq!(verdict.kind, VerdictKind::Incomplete);
        assert_eq!(
            verdict.detail,
            "the server closed the connection (FIN in frame 4) before the client sent a ClientHello"
        );
        assert_eq!(verdict.evidence_frames, [1, 4]);
        assert_eq!(verdict.network_cause, None);
    }
}
