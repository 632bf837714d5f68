//! The verdicts only a QUIC connection can have, and their sentences: a CONNECTION_CLOSE read
//! without keys in the server's Initial (crypto error 0x178 is TLS alert 120,
//! no_application_protocol), a ClientHello nothing answered (UDP blocked on the path, or nothing
//! listening for QUIC), a Version Negotiation or Retry the handshake did not get past, and
//! Initial packets no key opens. A QUIC connection whose server answered with a ServerHello is
//! judged as TLS 1.3 over TCP is, by the caller.
//!
//! Takes [`FlowFacts`] and their [`QuicFacts`]; emits a verdict and sentence, or `None` to let
//! the TLS rules decide, and adds the frames behind it to the evidence. It states what the
//! packets show: a silent server is said to be silent, with the causes that fit, never one
//! cause as a fact.

use super::list;
use crate::analysis::alert_name;
use crate::analysis::network::NetworkCause;
use crate::analysis::{
    CloseSeen, FlowEnd, FlowFacts, QuicFacts, QuicPacketType, Role, VerdictKind,
};
use crate::quic::frame::TransportError;
use crate::quic::version::Version;

/// Silence at the end of a capture that is worth naming (shorter: the capture just ended).
const SILENCE_BEFORE_CAPTURE_END_NS: i64 = 1_000_000_000;

/// The verdict of a QUIC connection when its QUIC facts decide it: a CONNECTION_CLOSE before
/// the ServerHello, or no ServerHello at all. `None` when the server's ServerHello was read.
/// Client Initials re-sent and never answered set `network_cause` to
/// [`NetworkCause::QuicInitialsUnanswered`] (the diagnosis looks for the client's TCP fallback).
pub(super) fn judge_quic(
    facts: &FlowFacts,
    quic: &QuicFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> Option<(VerdictKind, String)> {
    let client_hello = facts.client_hello();
    if let Some((_, frames)) = client_hello {
        evidence.extend(frames);
    }
    if let Some(close) = &quic.close
        && let Some(judgement) = judge_close(facts, close, evidence)
    {
        return Some(judgement);
    }
    let Some((_, ch_frames)) = client_hello else {
        return Some((
            VerdictKind::Incomplete,
            no_client_hello(facts, quic, evidence),
        ));
    };
    if facts.server_hello().is_some() {
        return None;
    }
    let ch_last = ch_frames.last().copied().unwrap_or(0);
    Some((
        VerdictKind::Incomplete,
        no_server_hello(facts, quic, ch_last, evidence, network_cause),
    ))
}

/// "a CONNECTION_CLOSE in its Initial packet (frame 2): error 0x178, CRYPTO_ERROR for TLS alert
/// no_application_protocol (120), reason "…"".
fn close_text(close: &CloseSeen) -> String {
    let error = if close.application {
        format!("application error 0x{:x}", close.error_code)
    } else {
        match (close.tls_alert, TransportError(close.error_code).name()) {
            (Some(alert), _) => format!(
                "error 0x{:x}, CRYPTO_ERROR for TLS alert {} ({alert})",
                close.error_code,
                alert_name(alert)
            ),
            (None, Some(name)) => format!("error 0x{:x} ({name})", close.error_code),
            (None, None) => format!("error 0x{:x}", close.error_code),
        }
    };
    let packet = match close.packet_type {
        QuicPacketType::Initial => "Initial",
        QuicPacketType::Handshake => "Handshake",
    };
    let reason = if close.reason.is_empty() {
        String::new()
    } else {
        format!(", reason \"{}\"", close.reason.escape_debug())
    };
    format!(
        "a CONNECTION_CLOSE in its {packet} packet (frame {}): {error}{reason}",
        close.frame
    )
}

/// A CONNECTION_CLOSE that decides the verdict: TLS alert 120 from the server (no common
/// protocol), or any close before the ServerHello (the handshake stopped there).
fn judge_close(
    facts: &FlowFacts,
    close: &CloseSeen,
    evidence: &mut Vec<u64>,
) -> Option<(VerdictKind, String)> {
    if close.from == Role::Server && close.tls_alert == Some(120) {
        evidence.push(close.frame);
        let offered = facts
            .client_hello()
            .map(|(h, _)| list(h.offered()))
            .unwrap_or_default();
        return Some((
            VerdictKind::NoCommonProtocol,
            format!(
                "the server closed the connection with {}; it supports none of the offered protocols ({offered})",
                close_text(close)
            ),
        ));
    }
    if facts.server_hello().is_some() {
        return None;
    }
    evidence.push(close.frame);
    let what = match (close.from, close.tls_alert) {
        (Role::Server, Some(_)) => "the server's TLS stack rejected the ClientHello",
        (Role::Server, None) => "the server ended the handshake",
        (Role::Client, _) => "the client ended the handshake",
    };
    Some((
        VerdictKind::Incomplete,
        format!(
            "no ServerHello: the {} closed the connection with {}; {what}",
            close.from.name(),
            close_text(close)
        ),
    ))
}

/// Why a QUIC connection has no ClientHello.
fn no_client_hello(facts: &FlowFacts, quic: &QuicFacts, evidence: &mut Vec<u64>) -> String {
    if let Some(&frame) = quic.cut_datagrams.frames.first() {
        evidence.push(frame);
        // The cut client Initial still named its connection ID, whose keys open the server's.
        let answered = match facts.server_hello() {
            Some((hello, frames)) => {
                evidence.extend(frames);
                let first = frames.first().copied().unwrap_or(0);
                let last = frames.last().copied().unwrap_or(first);
                format!(
                    "; the server answered with a ServerHello ({}, TLS {}), read with the Initial keys of the cut packet's connection ID",
                    frames_text(first, last),
                    crate::tls::hello::version_name(hello.version())
                )
            }
            None => String::new(),
        };
        return format!(
            "no ClientHello could be read: the capture cut {} of this connection's datagrams short (first in frame {frame}: a snaplen), and a QUIC packet opens only whole, so the offer is unknown{answered}; capture whole packets (tcpdump -s 0)",
            quic.cut_datagrams.count
        );
    }
    if let Some(&frame) = quic.undecryptable_initials.frames.first() {
        evidence.push(frame);
        return format!(
            "no ClientHello could be read: {} (first in frame {frame}) did not open with the keys of its connection ID, and the client's first Initial is not in the capture (it began after the connection started, or missed it), so the offer is unknown",
            packets(quic.undecryptable_initials.count)
        );
    }
    evidence.push(facts.first_frame);
    format!(
        "no ClientHello in the capture: the connection's packets (frames {}–{}) hold no client Initial with the start of a ClientHello, so the offer is unknown",
        facts.first_frame, facts.last_frame
    )
}

/// Why a QUIC ClientHello got no ServerHello.
fn no_server_hello(
    facts: &FlowFacts,
    quic: &QuicFacts,
    ch_last: u64,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> String {
    let initials = &quic.client_initials;
    let first = initials.frames.first().copied().unwrap_or(ch_last);
    let last = initials.frames.last().copied().unwrap_or(ch_last);
    if let Some(vn) = &quic.version_negotiation
        && quic.first_server_initial.is_none()
    {
        evidence.push(vn.frame);
        let versions: Vec<String> = vn.versions.iter().map(Version::to_string).collect();
        let client = quic
            .client_version
            .map_or_else(|| "its version".to_string(), |v| v.to_string());
        return format!(
            "no ServerHello: the server answered the client's {client} Initial with Version Negotiation (frame {}) listing {}, and the client did not go on in one of them in the capture",
            vn.frame,
            if versions.is_empty() {
                "no version".to_string()
            } else {
                versions.join(", ")
            }
        );
    }
    if let Some(retry) = &quic.retry
        && quic.first_server_initial.is_none()
    {
        evidence.push(retry.frame);
        return format!(
            "no ServerHello: the server sent a Retry (frame {}) and answered none of the client's Initial packets after it in the capture",
            retry.frame
        );
    }
    if let Some((frame, _)) = quic.first_server_initial {
        evidence.push(frame);
        return match quic
            .undecryptable_initials
            .frames
            .iter()
            .find(|f| **f >= frame)
        {
            Some(undecryptable) => format!(
                "no ServerHello could be read: the server's Initial packets (first in frame {frame}) did not open with the keys of the client's connection ID (first failure in frame {undecryptable}), so its answer is unknown"
            ),
            None => format!(
                "no ServerHello in the capture: the server's Initial packets (first in frame {frame}) carry none, and the handshake went no further in the capture"
            ),
        };
    }
    evidence.push(last);
    if quic.server_datagrams > 0 {
        return format!(
            "no ServerHello: the server sent {} datagrams, none an Initial packet this tool could read",
            quic.server_datagrams
        );
    }
    match facts.end {
        FlowEnd::CaptureStopped => {
            return format!(
                "capture stopped before the server answered (client Initial packets: {})",
                frames_text(first, last)
            );
        }
        FlowEnd::Evicted(eviction) => {
            return format!(
                "no ServerHello before {}; this flow was closed early to make room after frame {}, so what it did next was not analysed",
                eviction.reason(),
                facts.last_frame
            );
        }
        _ => {}
    }
    let span = facts.last_time.nanos_since(facts.first_time) as f64 / 1e9;
    let after = facts.capture_time.nanos_since(facts.last_time);
    let went_on = matches!(facts.end, FlowEnd::Idle) || after >= SILENCE_BEFORE_CAPTURE_END_NS;
    let sent = frames_text(first, last);
    if after < 0 {
        // The capture's last frame is older than this flow's: its clock ran backwards
        // (merged or synthetic captures), so "how long after" means nothing.
        return format!(
            "no answer from the server in the capture: the client sent {} ({sent}), and the capture's timestamps run backwards after them, so how long it went on without an answer is unknown",
            packets(initials.count)
        );
    }
    if !went_on {
        return format!(
            "no answer from the server before the capture ended: the client's {} ({sent}) came {:.0} ms before the end of the capture, too soon to tell whether the server answers",
            packets(initials.count),
            after as f64 / 1e6
        );
    }
    if initials.count > 1 {
        *network_cause = Some(NetworkCause::QuicInitialsUnanswered);
        return format!(
            "the client sent {} over {span:.1} s ({sent}) and the server sent nothing back: UDP to this server may be blocked on the path, or nothing listens for QUIC on this port",
            packets(initials.count)
        );
    }
    // A client whose Initial gets no answer sends it again within about a second (RFC 9002
    // §6.2): one copy and then silence says the answer, or the client's next packets, are
    // missing from the capture, or that the client gave up on QUIC.
    format!(
        "no answer in the capture: the client sent 1 Initial packet ({sent}) and then nothing more in the {:.1} s the capture went on, not even a copy of it, which a client waiting for an answer sends: the capture likely misses the rest of this connection (a capture filter, or another path), or the client gave up on QUIC",
        after as f64 / 1e9
    )
}

/// "frame 4", "frames 1–4".
fn frames_text(first: u64, last: u64) -> String {
    if first == last {
        format!("frame {first}")
    } else {
        format!("frames {first}–{last}")
    }
}

/// "1 Initial packet", "4 Initial packets".
fn packets(n: u64) -> String {
    if n == 1 {
        "1 Initial packet".to_string()
    } else {
        format!("{n} Initial packets")
    }
}

/// A QUIC flow whose ServerHello was read but whose EncryptedExtensions the key log's
/// secrets did not open: the keys were there, the packets did not open with them.
pub(super) fn handshake_keys_failed(facts: &FlowFacts, quic: &QuicFacts) -> Option<String> {
    if !quic.handshake_keys_failed {
        return None;
    }
    let (client_hello, _) = facts.client_hello()?;
    Some(format!(
        "TLS 1.3 over QUIC: the server's choice among {} is in the encrypted EncryptedExtensions, and the key log has this connection's handshake secrets, but they opened none of its {} Handshake packets (first in frame {}): the secrets do not belong to this connection, or the cipher suite is not one this tool opens for QUIC",
        list(client_hello.offered()),
        quic.handshake_not_opened.count,
        quic.handshake_not_opened
            .frames
            .first()
            .copied()
            .unwrap_or(0)
    ))
}
