//! The sentences of a flow that is not TLS: a client that spoke plaintext to a TLS port (plain
//! HTTP, or other bytes), with how the server answered and ended the connection, and a flow with
//! no TLS at all.
//!
//! Takes [`FlowFacts`]; emits the sentence, the frames behind it, and whether the client sent a
//! plain HTTP request to a TLS port. A direction picked up mid-stream says nothing about what the
//! client sent.

use super::alert_text;
use crate::analysis::{FlowFacts, PlaintextSeen, Role};
use crate::tls::preamble::Plaintext;

/// The client's first bytes when they are an HTTP request line sent to a TLS port: its method
/// and frame.
pub(super) fn plain_http_to_tls_port(facts: &FlowFacts) -> Option<(&'static str, u64)> {
    let client = client_spoke_first_without_tls(facts)?;
    match (facts.tls_candidate, client.start) {
        (true, Some(Plaintext::HttpRequest { method })) => Some((method, client.frame)),
        _ => None,
    }
}

/// The client's first bytes, when the capture has them, they are not TLS, and no ClientHello
/// followed (a proxy preamble may have come first).
pub(super) fn client_spoke_first_without_tls(facts: &FlowFacts) -> Option<&PlaintextSeen> {
    facts
        .client_plaintext()
        .filter(|p| p.start.is_some() && facts.client_hello().is_none())
}

/// A client that spoke something other than TLS to a TLS port: what it sent, and how the server
/// answered and ended the connection.
pub(super) fn plaintext_detail(
    facts: &FlowFacts,
    client: &PlaintextSeen,
    evidence: &mut Vec<u64>,
) -> String {
    evidence.push(client.frame);
    let sent = match client.start {
        Some(Plaintext::HttpRequest { method }) => format!(
            "the client sent plain HTTP to a TLS port ({method} request line in frame {})",
            client.frame
        ),
        _ => format!(
            "the client sent {} bytes that are not TLS to a TLS port (frame {})",
            client.bytes, client.frame
        ),
    };
    let answer = server_answer_to_plaintext(facts);
    let server_end = first_end(facts, Role::Server);
    let first_reaction = answer
        .as_ref()
        .map(|(f, _)| *f)
        .into_iter()
        .chain(server_end.map(|(f, _)| f))
        .min();
    let client_end = first_end(facts, Role::Client)
        .filter(|(frame, _)| first_reaction.is_none_or(|reaction| *frame < reaction));
    let client_end = match client_end {
        Some((frame, reset)) => {
            evidence.push(frame);
            if reset {
                format!(" and reset the connection (RST in frame {frame})")
            } else {
                format!(" and closed its side (FIN in frame {frame})")
            }
        }
        None => String::new(),
    };
    let server_end = server_end.map(|(frame, reset)| {
        evidence.push(frame);
        if reset {
            format!("reset the connection (RST in frame {frame})")
        } else {
            format!("closed the connection (FIN in frame {frame})")
        }
    });
    let server = match (answer, server_end) {
        (Some((frame, answer)), Some(end)) => {
            evidence.push(frame);
            format!("the server {answer} and {end}")
        }
        (Some((frame, answer)), None) => {
            evidence.push(frame);
            format!("the server {answer}")
        }
        (None, Some(end)) => format!("the server {end} without answering"),
        (None, None) => "no answer from the server in the capture".to_string(),
    };
    format!("{sent}{client_end}; {server}")
}

/// The server's answer to a client's plaintext: its own plaintext, or a TLS alert, with the
/// frame that carries it.
fn server_answer_to_plaintext(facts: &FlowFacts) -> Option<(u64, String)> {
    match (
        facts.server_plaintext(),
        facts.alerts.iter().find(|a| a.from == Role::Server),
    ) {
        (Some(server), _) => {
            let what = match server.start {
                Some(Plaintext::HttpResponse { status }) => format!("HTTP status {status}"),
                _ => format!("{} bytes that are neither TLS nor HTTP", server.bytes),
            };
            Some((
                server.frame,
                format!("answered with {what} (frame {})", server.frame),
            ))
        }
        (None, Some(alert)) => Some((
            alert.frame,
            format!(
                "rejected them with {} (frame {})",
                alert_text(alert.level, alert.description),
                alert.frame
            ),
        )),
        (None, None) => None,
    }
}

/// The first FIN or RST from `role`: its frame, and true for a RST.
fn first_end(facts: &FlowFacts, role: Role) -> Option<(u64, bool)> {
    let fin = facts
        .fins
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, f)| (*f, false));
    let rst = facts
        .resets
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, f)| (*f, true));
    [fin, rst].into_iter().flatten().min()
}

/// "no TLS record in this flow", or that nothing that could be TLS was captured.
/// A server that refused the client's request to start TLS (SMTP `454`, IMAP `NO`, PostgreSQL
/// `N`…) and sent no ServerHello: the sentence, with the request's and the answer's frames. The
/// refusal is the server's decision, not the network's; a client that sent its ClientHello
/// anyway (openssl s_client does) got no TLS answer because of it.
pub(super) fn starttls_refused(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    let seen = facts
        .starttls
        .as_ref()
        .filter(|_| facts.server_hello().is_none())?;
    let reply = seen.refused.as_ref()?;
    let protocol = seen
        .protocol
        .map(|p| format!("{} ", p.title()))
        .unwrap_or_default();
    let asked = match &seen.command {
        Some((command, frame)) => {
            evidence.push(*frame);
            format!("the client's {protocol}request `{command}` (frame {frame})")
        }
        None => format!("the client's {protocol}request to start TLS"),
    };
    let answered = match seen.reply_frame {
        Some(frame) => {
            evidence.push(frame);
            format!("`{reply}` (frame {frame})")
        }
        None => format!("`{reply}`"),
    };
    let handshake = match facts.client_hello() {
        Some((_, frames)) => {
            evidence.extend(frames);
            let frame = frames.first().copied().unwrap_or_default();
            format!(
                "; the client sent its ClientHello anyway (frame {frame}), which the server, still speaking plaintext, did not answer with TLS"
            )
        }
        None => ", so no TLS handshake took place".into(),
    };
    Some(format!(
        "the server refused to start TLS: it answered {asked} with {answered}{handshake} — the server's TLS setup (STARTTLS/SSL enabled, certificate and key) is what to check, not the network"
    ))
}

/// A server whose greeting did not offer TLS (a MySQL greeting without CLIENT_SSL) and a client
/// that sent nothing and closed: a client that requires TLS stops so. The packets do not show
/// that the client wanted TLS, only that it gave up at the greeting; the sentence says so.
pub(super) fn starttls_not_offered(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    let seen = facts.starttls.as_ref()?;
    let greeting = seen.not_offered?;
    if seen.switched
        || seen.refused.is_some()
        || seen.command.is_some()
        || facts.client_plaintext().is_some()
        || facts.client_hello().is_some()
    {
        return None;
    }
    let (end_frame, reset) = first_end(facts, Role::Client)?;
    evidence.extend([greeting, end_frame]);
    let title = seen.protocol.map_or("server", |p| p.title());
    let end = if reset {
        format!("reset the connection (RST in frame {end_frame})")
    } else {
        format!("closed the connection (FIN in frame {end_frame})")
    };
    Some(format!(
        "the {title} server does not offer TLS: its greeting (frame {greeting}) lacks the CLIENT_SSL capability, and the client {end} without answering it, as a client that requires TLS does (mysql --ssl-mode=REQUIRED, openssl s_client -starttls mysql); no TLS handshake took place — the server's TLS setup (ssl_cert and ssl_key, have_ssl) is what to check, not the network"
    ))
}

pub(super) fn not_tls_detail(facts: &FlowFacts) -> String {
    // A MySQL session that went on in plaintext after a greeting without TLS.
    if let Some(seen) = &facts.starttls
        && let Some(greeting) = seen.not_offered
        && seen.command.is_none()
        && let Some(client) = facts.client_plaintext()
    {
        let title = seen.protocol.map_or("server", |p| p.title());
        return format!(
            "no TLS: the {title} server's greeting (frame {greeting}) does not offer TLS (no CLIENT_SSL capability), and the client went on without it (frame {})",
            client.frame
        );
    }
    if facts.not_tls {
        "no TLS record in this flow".into()
    } else {
        "no payload that could be TLS was captured".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{VerdictKind, judge};

    /// A client whose first bytes are not TLS, answered by the server with a TLS alert.
    fn plaintext_answered_with_an_alert(start: Option<Plaintext>) -> FlowFacts {
        FlowFacts {
            tls_candidate: true,
            payload_seen: true,
            not_tls: true,
            plaintext: vec![PlaintextSeen {
                from: Role::Client,
                frame: 4,
                start,
                bytes: 5,
            }],
            alerts: vec![crate::analysis::AlertSeen {
                from: Role::Server,
                level: 2,
                description: Some(50),
                frame: 6,
                decrypted: false,
            }],
            first_tls_frame: Some(6),
            fins: vec![(Role::Server, 7)],
            ..FlowFacts::default()
        }
    }

    #[test]
    fn bytes_that_are_not_tls_rejected_with_an_alert_are_the_clients_doing() {
        let verdict = judge(&plaintext_answered_with_an_alert(Some(Plaintext::Other)));
        assert_eq!(verdict.kind, VerdictKind::NotTls);
        assert_eq!(
            verdict.detail,
            "the client sent 5 bytes that are not TLS to a TLS port (frame 4); the server rejected them with fatal alert decode_error (50) (frame 6) and closed the connection (FIN in frame 7)"
        );
        assert_eq!(verdict.evidence_frames, [4, 6, 7]);
        assert_eq!(verdict.network_cause, None);
        assert!(!verdict.plain_http_to_tls_port);
        let http = judge(&plaintext_answered_with_an_alert(Some(
            Plaintext::HttpRequest { method: "GET" },
        )));
        assert!(http.plain_http_to_tls_port);
        assert!(
            http.detail
                .starts_with("the client sent plain HTTP to a TLS port (GET request line in frame 4); the server rejected them"),
            "{}",
            http.detail
        );
    }

    #[test]
    fn a_direction_picked_up_mid_stream_says_nothing_about_what_the_client_sent() {
        let verdict = judge(&plaintext_answered_with_an_alert(None));
        assert!(
            !verdict.detail.starts_with("the client sent"),
            "{}",
            verdict.detail
        );
        assert!(!verdict.plain_http_to_tls_port);
    }
}
