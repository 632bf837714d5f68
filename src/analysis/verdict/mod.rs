//! The verdict: which of the ALPN outcomes a flow shows, said in one sentence, with its evidence.
//!
//! Takes a flow's [`FlowFacts`]; emits one [`Verdict`]: a [`VerdictKind`], the sentence, the frames
//! that show it (ascending, no duplicates) and, for a handshake the network stopped, its typed
//! [`NetworkCause`]. This module holds the order of the questions ([`judge`]) and the selection
//! rules (agreed, downgraded, declined, not offered, RFC 7301 and RFC 8701 violations); the
//! sentences of the other outcomes live beside it:
//!
//! - `incomplete`: why a handshake got no ServerHello;
//! - `plaintext`: a flow that is not TLS, and plain HTTP sent to a TLS port;
//! - `hidden`: why a TLS 1.3 selection could not be read;
//! - `quic`: what only a QUIC connection shows (a CONNECTION_CLOSE, an unanswered Initial,
//!   Version Negotiation or Retry without a ServerHello); QUIC is otherwise judged as TLS 1.3.

mod hidden;
mod incomplete;
mod plaintext;
mod quic;

use super::application::Application;
use super::facts::{FlowEnd, FlowFacts, Role, alert_name};
use super::network::NetworkCause;
use crate::tls::{AlpnList, ClientHello, ProtocolName, ServerHello, StreamFault, TlsVersion};
use hidden::hidden_detail;
use incomplete::{
    client_capture_gap, closed_before_client_hello, incomplete_detail, network_detail,
    over_long_client_hello,
};
use plaintext::{
    client_spoke_first_without_tls, not_tls_detail, plain_http_to_tls_port, plaintext_detail,
    starttls_not_offered, starttls_refused,
};
use serde::Serialize;

/// The ALPN outcome of a flow. The names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// The server selected the client's first choice. GREASE values (RFC 8701) in the offer are
    /// not a choice and are skipped, so a client that offers only http/1.1 and gets it agreed.
    Agreed,
    /// The server selected a protocol the client offered, but not its first choice: offered
    /// h2, http/1.1 and got http/1.1. The first choice is the first offered value that is not
    /// GREASE; a TLS 1.3 selection read from the decrypted EncryptedExtensions is judged the
    /// same way as one in a TLS 1.2 ServerHello. The handshake succeeded, but on a protocol the
    /// client ranked lower: the server does not enable the preferred one there, or ranks it lower.
    Downgraded,
    /// The client offered ALPN; the server's hello carried no ALPN extension.
    ServerDeclined,
    /// The server aborted with alert no_application_protocol (120); over QUIC, closed the
    /// connection with crypto error 0x178 (the same alert).
    NoCommonProtocol,
    /// The server selected a protocol the client did not offer, a GREASE value (RFC 8701 §3),
    /// or not exactly one.
    SelectedUnoffered,
    /// The client sent no ALPN extension.
    NotOffered,
    /// TLS 1.3: the selection is encrypted.
    Hidden,
    /// No ServerHello was seen.
    Incomplete,
    /// Not a TLS flow (listed only with `--all`, but for plain HTTP sent to a TLS port).
    NotTls,
}

impl VerdictKind {
    /// Every verdict, in report order.
    pub const ALL: [VerdictKind; 9] = [
        VerdictKind::Agreed,
        VerdictKind::Downgraded,
        VerdictKind::ServerDeclined,
        VerdictKind::NoCommonProtocol,
        VerdictKind::SelectedUnoffered,
        VerdictKind::NotOffered,
        VerdictKind::Hidden,
        VerdictKind::Incomplete,
        VerdictKind::NotTls,
    ];

    /// The stable name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Agreed => "agreed",
            VerdictKind::Downgraded => "downgraded",
            VerdictKind::ServerDeclined => "server_declined",
            VerdictKind::NoCommonProtocol => "no_common_protocol",
            VerdictKind::SelectedUnoffered => "selected_unoffered",
            VerdictKind::NotOffered => "not_offered",
            VerdictKind::Hidden => "hidden",
            VerdictKind::Incomplete => "incomplete",
            VerdictKind::NotTls => "not_tls",
        }
    }

    /// One line that explains the verdict (used by `--help` and the README).
    pub fn explanation(self) -> &'static str {
        match self {
            VerdictKind::Agreed => {
                "the server selected the client's first choice (GREASE values in the offer skipped)"
            }
            VerdictKind::Downgraded => {
                "the server selected an offered protocol below the client's first choice (offered h2, http/1.1; got http/1.1)"
            }
            VerdictKind::ServerDeclined => {
                "the client offered ALPN, the server's hello has no ALPN extension (curl: \"server did not agree on a protocol\")"
            }
            VerdictKind::NoCommonProtocol => {
                "the server aborted with alert no_application_protocol (120; over QUIC: CONNECTION_CLOSE with crypto error 0x178): no protocol in common"
            }
            VerdictKind::SelectedUnoffered => {
                "the server selected a protocol the client did not offer, a GREASE value, or not exactly one (RFC 7301 violation)"
            }
            VerdictKind::NotOffered => "the client sent no ALPN extension",
            VerdictKind::Hidden => {
                "TLS 1.3: the selection travels encrypted in EncryptedExtensions; keys are needed to see it"
            }
            VerdictKind::Incomplete => {
                "no ServerHello in the capture: reset, closed, alert, a client that closed without a ClientHello, a server that refused STARTTLS (or its kin), or the capture missed it (a gap the peers acknowledged is named as such, never as loss)"
            }
            VerdictKind::NotTls => {
                "the flow does not carry TLS (listed with --all only, except plain HTTP sent to a TLS port)"
            }
        }
    }

    /// True for every verdict but `agreed` and `not_tls`: the flows `--problems`, the Markdown
    /// problem sections and `--extract` select by default.
    pub fn is_problem(self) -> bool {
        !matches!(self, VerdictKind::Agreed | VerdictKind::NotTls)
    }

    /// Parses a verdict name.
    pub fn from_name(name: &str) -> Option<VerdictKind> {
        VerdictKind::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl std::fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A flow's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Which outcome.
    pub kind: VerdictKind,
    /// One sentence for a person.
    pub detail: String,
    /// Frames that show it, ascending.
    pub evidence_frames: Vec<u64>,
    /// For a handshake that got no ServerHello: the network's part in it, when the packets
    /// show one. Decisions across flows read this, never the sentence.
    pub network_cause: Option<NetworkCause>,
    /// A `not_tls` flow whose client sent a plain HTTP request to a TLS port (by port number, or
    /// TLS seen on that server in the capture): listed without `--all`, and a client-side finding.
    pub plain_http_to_tls_port: bool,
}

/// "h2, http/1.1".
fn list(protocols: &[ProtocolName]) -> String {
    let mut text = String::new();
    for (i, protocol) in protocols.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        protocol.push_escaped(&mut text);
    }
    text
}

/// Judges a flow.
pub fn judge(facts: &FlowFacts) -> Verdict {
    let mut evidence: Vec<u64> = Vec::new();
    let mut network_cause = None;
    let (kind, detail) = judge_inner(facts, &mut evidence, &mut network_cause);
    evidence.sort_unstable();
    evidence.dedup();
    Verdict {
        kind,
        detail,
        evidence_frames: evidence,
        network_cause,
        plain_http_to_tls_port: kind == VerdictKind::NotTls
            && plain_http_to_tls_port(facts).is_some(),
    }
}

/// The verdict and its sentence; fills in the evidence frames and, for a handshake the network
/// stopped, its cause.
fn judge_inner(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> (VerdictKind, String) {
    if let Some(quic) = &facts.quic
        && let Some(judgement) = quic::judge_quic(facts, quic, evidence, network_cause)
    {
        return judgement;
    }
    if let Some(refused) = starttls_refused(facts, evidence) {
        return (VerdictKind::Incomplete, refused);
    }
    if let Some(not_offered) = starttls_not_offered(facts, evidence) {
        return (VerdictKind::Incomplete, not_offered);
    }
    if facts.tls_candidate
        && let Some(client) = client_spoke_first_without_tls(facts)
    {
        return (
            VerdictKind::NotTls,
            plaintext_detail(facts, client, evidence),
        );
    }
    if !facts.is_tls() {
        return judge_without_tls(facts, evidence, network_cause);
    }
    let client_hello = facts.client_hello();
    if let Some((_, frames)) = client_hello {
        evidence.extend(frames);
    }
    if let Some(judgement) = judge_alert_120(facts, client_hello, evidence) {
        return judgement;
    }
    let Some((server_hello, sh_frames)) = facts.server_hello() else {
        return (
            VerdictKind::Incomplete,
            incomplete_detail(facts, evidence, network_cause),
        );
    };
    evidence.extend(sh_frames);
    let Some((client_hello, _)) = client_hello else {
        let selected = server_hello
            .alpn
            .as_ref()
            .map(|a| format!("; the server selected {}", list(&a.protocols)))
            .unwrap_or_default();
        if let Some(over_long) = over_long_client_hello(facts, evidence) {
            return (VerdictKind::Incomplete, format!("{over_long}{selected}"));
        }
        let missing = client_capture_gap(facts, evidence)
            .map(|gap| format!(" ({gap})"))
            .unwrap_or_default();
        return (
            VerdictKind::Incomplete,
            format!(
                "the ClientHello is not in the capture{missing}, so the offer is unknown{selected}"
            ),
        );
    };
    let answer = server_answer(facts, server_hello, sh_frames, evidence);
    let Some(alpn) = answer.alpn else {
        // TLS 1.3 without the keys to read the answer.
        if client_hello.alpn.is_none() && !client_hello.offer_unknown() {
            return (
                VerdictKind::NotOffered,
                not_offered(client_hello, Application::of(facts)),
            );
        }
        if let Some(failed) = facts
            .quic
            .as_ref()
            .and_then(|q| quic::handshake_keys_failed(facts, q))
        {
            return (VerdictKind::Hidden, failed);
        }
        return (
            VerdictKind::Hidden,
            hidden_detail(facts, client_hello, server_hello),
        );
    };
    if let Some(cut) = server_hello.cut.filter(|_| alpn.is_none()) {
        // TLS ≤ 1.2 and no whole ALPN extension in the part the capture holds: not a decline.
        let answer_unknown = if server_hello.alpn_cut {
            "its ALPN extension begins but is cut before the protocol it names: the server selected one (it did not decline), which is not in the capture"
        } else {
            "not enough to see whether it carries an ALPN extension, so the server's answer is unknown, not declined"
        };
        return (
            VerdictKind::Incomplete,
            format!(
                "the capture holds only {} of the ServerHello's {} bytes (frame {}; {}): {answer_unknown}{}; {} to see it",
                cut.captured,
                cut.len,
                answer.frame,
                cut_cause(facts),
                offer_clause(facts, client_hello),
                cut_advice(facts)
            ),
        );
    }
    if client_hello.offer_unknown() {
        let selected = alpn.map_or_else(
            || format!("the {} has no ALPN extension", answer.place),
            |a| format!("the server selected {}", list(&a.protocols)),
        );
        return (
            VerdictKind::Incomplete,
            format!("{}; {selected}", cut_offer(facts, client_hello)),
        );
    }
    judge_answer(
        client_hello,
        server_hello,
        alpn,
        &answer,
        Application::of(facts),
    )
}

/// "the capture holds only 96 of the ClientHello's 512 bytes, …, so the offer is unknown".
fn cut_offer(facts: &FlowFacts, client_hello: &ClientHello) -> String {
    let (captured, len) = client_hello.cut.map_or((0, 0), |c| (c.captured, c.len));
    format!(
        "the capture holds only {captured} of the ClientHello's {len} bytes ({}), not its ALPN extension if it has one, so the offer is unknown",
        cut_cause(facts)
    )
}

/// Why a hello is cut short: the capture's snaplen when it cut frames of the flow, else bytes
/// missing from the capture (a gap), else the capture's end.
fn cut_cause(facts: &FlowFacts) -> String {
    if cut_by_snaplen(facts) {
        format!("cut by the capture's snaplen of {} bytes", facts.snaplen)
    } else if facts
        .faults
        .iter()
        .any(|(_, _, f)| matches!(f, StreamFault::Gap { .. }))
    {
        "the rest is missing from the capture".to_string()
    } else {
        "the capture ends before the rest of it".to_string()
    }
}

/// True when the capture's snaplen cut frames of the flow.
fn cut_by_snaplen(facts: &FlowFacts) -> bool {
    facts.truncated_frames > 0 && facts.snaplen > 0
}

/// What to capture to see the rest of a cut hello: whole packets when the snaplen cut it, else
/// the whole handshake.
fn cut_advice(facts: &FlowFacts) -> &'static str {
    if cut_by_snaplen(facts) {
        "capture whole packets (tcpdump -s 0)"
    } else {
        "capture the whole handshake"
    }
}

/// What the client offered, for a sentence about the server's side: "" when the offer is
/// known and empty, else "; the client offered h2, http/1.1" or the cut ClientHello.
fn offer_clause(facts: &FlowFacts, client_hello: &ClientHello) -> String {
    if client_hello.offer_unknown() {
        format!("; {}", cut_offer(facts, client_hello))
    } else if client_hello.alpn.is_some() {
        format!("; the client offered {}", list(client_hello.offered()))
    } else {
        String::new()
    }
}

/// The sentence of a flow whose client sent no ALPN extension.
const NOT_OFFERED: &str = "the client sent no ALPN extension, so the server could not select a protocol (HTTP clients then use http/1.1)";

/// Why the client offered no ALPN: no extension, or a hello in the SSLv2 format, which has no
/// room for extensions. What HTTP clients then do is said only where the flow may be HTTP; after
/// a plaintext start, that exchange settled the protocol.
fn not_offered(client_hello: &ClientHello, app: Application) -> String {
    if client_hello.sslv2 {
        let version = crate::tls::hello::version_name(client_hello.legacy_version);
        let version = if version.starts_with(|c: char| c.is_ascii_digit()) {
            format!("TLS {version}")
        } else {
            version.into_owned()
        };
        format!(
            "the client sent an SSLv2-format ClientHello (offering up to {version}; RFC 5246 Appendix E.2), which cannot carry extensions, so it could not offer ALPN and the server could not select a protocol: the client software (or its configuration) predates ALPN"
        )
    } else if app.may_be_http() {
        NOT_OFFERED.to_string()
    } else {
        let protocol = app
            .starttls_title()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        format!(
            "the client sent no ALPN extension, so the server could not select a protocol; the application protocol{protocol} was settled by the plaintext exchange before TLS, so the handshake did not depend on ALPN"
        )
    }
}

/// A flow without TLS: a connection to a TLS server that the network stopped before TLS
/// (incomplete), else not TLS.
fn judge_without_tls(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> (VerdictKind, String) {
    // A connection to a TLS server that never got as far as TLS.
    if facts.tls_candidate
        && !facts.payload_seen
        && let Some(detail) = network_detail(facts, evidence, network_cause)
    {
        return (VerdictKind::Incomplete, detail);
    }
    if facts.tls_candidate
        && !facts.payload_seen
        && let Some(detail) = closed_before_client_hello(facts, evidence)
    {
        return (VerdictKind::Incomplete, detail);
    }
    if facts.tls_candidate
        && let FlowEnd::Evicted(eviction) = facts.end
    {
        // The table's doing, not the network's: what the flow did next was not followed.
        evidence.push(facts.last_frame);
        return (
            VerdictKind::Incomplete,
            format!(
                "{}; this flow was closed early to make room after frame {} (no TLS record until then), so what it did next was not analysed",
                eviction.reason(),
                facts.last_frame
            ),
        );
    }
    (VerdictKind::NotTls, not_tls_detail(facts))
}

/// "fatal alert decode_error (50)", "a warning alert …", or "an encrypted alert".
fn alert_text(level: u8, description: Option<u8>) -> String {
    let level = match level {
        2 => "fatal alert",
        1 => "warning alert",
        _ => "alert",
    };
    match description {
        Some(d) => format!("{level} {} ({d})", alert_name(d)),
        None => "an encrypted alert".to_string(),
    }
}

/// No common protocol, when the server sent alert no_application_protocol (120).
fn judge_alert_120(
    facts: &FlowFacts,
    client_hello: Option<&(ClientHello, Vec<u64>)>,
    evidence: &mut Vec<u64>,
) -> Option<(VerdictKind, String)> {
    let alert = facts
        .alerts
        .iter()
        .find(|a| a.from == Role::Server && a.description == Some(120))?;
    evidence.push(alert.frame);
    let offered = client_hello
        .map(|(h, _)| list(h.offered()))
        .unwrap_or_default();
    Some((
        VerdictKind::NoCommonProtocol,
        format!(
            "the server aborted with fatal alert no_application_protocol (120) in frame {}: it supports none of the offered protocols ({offered})",
            alert.frame
        ),
    ))
}

/// Where the server's ALPN answer is, and the answer when it could be read.
struct ServerAnswer<'a> {
    /// The server's ALPN extension, `Some(None)` when it sent none; `None` when the answer is
    /// encrypted and was not decrypted.
    alpn: Option<Option<&'a AlpnList>>,
    /// "ServerHello" or "EncryptedExtensions".
    place: &'static str,
    /// The last frame of the message that carries it, 0 when unknown.
    frame: u64,
}

/// Finds the server's answer: in the ServerHello (TLS ≤ 1.2), or in the EncryptedExtensions
/// (TLS 1.3), readable only when it was decrypted with a key log.
fn server_answer<'a>(
    facts: &'a FlowFacts,
    server_hello: &'a ServerHello,
    sh_frames: &[u64],
    evidence: &mut Vec<u64>,
) -> ServerAnswer<'a> {
    let tls13 = server_hello.tls_version() == TlsVersion::TLS13 && server_hello.alpn.is_none();
    let (alpn, place, frame) = if tls13 {
        match &facts.encrypted_extensions {
            Some((alpn, frames)) => {
                evidence.extend(frames);
                (
                    Some(alpn.as_ref()),
                    "EncryptedExtensions",
                    frames.last().copied(),
                )
            }
            None => (None, "EncryptedExtensions", None),
        }
    } else {
        (
            Some(server_hello.alpn.as_ref()),
            "ServerHello",
            sh_frames.last().copied(),
        )
    };
    ServerAnswer {
        alpn,
        place,
        frame: frame.unwrap_or(0),
    }
}

/// Compares the server's readable answer (ServerHello, or decrypted EncryptedExtensions) with
/// the client's offer: agreed, downgraded, declined, not offered, or a selection RFC 7301 forbids.
fn judge_answer(
    client_hello: &ClientHello,
    server_hello: &ServerHello,
    alpn: Option<&AlpnList>,
    answer: &ServerAnswer,
    app: Application,
) -> (VerdictKind, String) {
    let offered = client_hello.offered();
    let (place, place_frame) = (answer.place, answer.frame);
    match (&client_hello.alpn, alpn) {
        (_, Some(sel)) if sel.protocols.len() != 1 => (
            VerdictKind::SelectedUnoffered,
            format!(
                "the server's ALPN extension ({place}, frame {place_frame}) names {} protocols ({}) where RFC 7301 §3.1 requires exactly one: the client must abort",
                sel.protocols.len(),
                list(&sel.protocols)
            ),
        ),
        (None, Some(sel)) => (
            VerdictKind::SelectedUnoffered,
            format!(
                "the client sent no ALPN extension but the server selected {} in its {place} (frame {place_frame}; RFC 7301 §3.1 forbids that)",
                list(&sel.protocols)
            ),
        ),
        (Some(_), Some(sel)) => judge_selection(offered, &sel.protocols[0]),
        (None, None) => (VerdictKind::NotOffered, not_offered(client_hello, app)),
        (Some(_), None) => {
            let npn = if server_hello.npn {
                " It answered with NPN instead, the pre-ALPN mechanism: the server software predates ALPN (e.g. OpenSSL < 1.0.2) or is set up for NPN only."
            } else {
                ""
            };
            // curl's message and the fallback to a default protocol are HTTP clients'.
            let consequence = match app {
                Application::Http | Application::Unknown => {
                    ", so the client falls back to its default (curl: \"ALPN: server did not agree on a protocol\")".to_string()
                }
                Application::StartTls(p) => format!(
                    "; the {}session itself was settled by the plaintext exchange before TLS, so the client goes on with it unless it requires ALPN",
                    p.map(|p| format!("{} ", p.title())).unwrap_or_default()
                ),
                Application::Other => {
                    ", so the client goes on with its own default protocol, or aborts if it requires ALPN".to_string()
                }
            };
            (
                VerdictKind::ServerDeclined,
                format!(
                    "the client offered {} but the {place} (frame {place_frame}) has no ALPN extension: the server does not negotiate ALPN here{consequence}.{npn}",
                    list(offered),
                ),
            )
        }
    }
}

/// The server's one choice against the offer: agreed when it is the client's first choice
/// (GREASE skipped), downgraded when it is a later one, else a selection RFC 7301 §3.2 or
/// RFC 8701 §3 forbids.
fn judge_selection(offered: &[ProtocolName], chosen: &ProtocolName) -> (VerdictKind, String) {
    if chosen.is_grease() {
        return (
            VerdictKind::SelectedUnoffered,
            format!(
                "the server selected the GREASE value {chosen}, which is never a protocol (RFC 8701 §3: servers must not negotiate GREASE, the client must abort)"
            ),
        );
    }
    if !offered.contains(chosen) {
        return (
            VerdictKind::SelectedUnoffered,
            format!(
                "the server selected {chosen}, which the client did not offer ({}): RFC 7301 §3.2 violation, the client must abort",
                list(offered)
            ),
        );
    }
    match offered.iter().find(|p| !p.is_grease()) {
        Some(first) if first != chosen => (
            VerdictKind::Downgraded,
            format!(
                "the client preferred {first} but the server selected {chosen} (offered: {}): the server does not enable {first} here, or ranks it below {chosen}",
                list(offered)
            ),
        ),
        _ => (
            VerdictKind::Agreed,
            format!("the server selected {chosen}, the client's first choice"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<ProtocolName> {
        list.iter()
            .map(|n| ProtocolName(n.as_bytes().to_vec()))
            .collect()
    }

    fn grease() -> ProtocolName {
        ProtocolName(vec![0x3a, 0x3a])
    }

    #[test]
    fn first_choice_agrees_later_choice_is_downgraded() {
        let offer = names(&["h2", "http/1.1"]);
        assert_eq!(
            judge_selection(&offer, &offer[0]),
            (
                VerdictKind::Agreed,
                "the server selected h2, the client's first choice".to_string()
            )
        );
        assert_eq!(
            judge_selection(&offer, &offer[1]),
            (
                VerdictKind::Downgraded,
                "the client preferred h2 but the server selected http/1.1 (offered: h2, http/1.1): the server does not enable h2 here, or ranks it below http/1.1".to_string()
            )
        );
    }

    #[test]
    fn an_offer_of_http1_only_answered_with_http1_is_agreed() {
        let offer = names(&["http/1.1"]);
        assert_eq!(judge_selection(&offer, &offer[0]).0, VerdictKind::Agreed);
    }

    #[test]
    fn grease_is_not_a_first_choice() {
        let mut offer = vec![grease()];
        offer.extend(names(&["h2", "http/1.1"]));
        assert_eq!(judge_selection(&offer, &offer[1]).0, VerdictKind::Agreed);
        let (kind, detail) = judge_selection(&offer, &offer[2]);
        assert_eq!(kind, VerdictKind::Downgraded);
        assert!(
            detail.starts_with("the client preferred h2 but"),
            "{detail}"
        );
        // A server that picks the GREASE value itself breaks RFC 8701.
        assert_eq!(
            judge_selection(&offer, &offer[0]).0,
            VerdictKind::SelectedUnoffered
        );
    }

    #[test]
    fn an_unoffered_selection_is_a_violation() {
        let offer = names(&["h2"]);
        let chosen = ProtocolName(b"http/1.1".to_vec());
        assert_eq!(
            judge_selection(&offer, &chosen).0,
            VerdictKind::SelectedUnoffered
        );
    }

    use crate::analysis::{FlowFacts, KeyStatus};
    use crate::tls::StreamFault;
    use crate::tls::decrypt::DecryptError;
    use crate::tls::testing::{client_hello_message, sslv2_hello, tls13_server_hello_record};

    /// The facts of a flow with these hellos (frames 4 and 6).
    fn facts(ch: ClientHello, sh: ServerHello) -> FlowFacts {
        FlowFacts {
            client_hellos: vec![(ch, vec![4])],
            server_hellos: vec![(sh, vec![6])],
            first_tls_frame: Some(4),
            ..FlowFacts::default()
        }
    }

    fn h2_h1_hello() -> ClientHello {
        ClientHello::parse(&client_hello_message(&[b"h2", b"http/1.1"])[4..]).unwrap()
    }

    /// A TLS 1.3 ServerHello body whose supported_versions names `version`.
    fn server_hello_selecting(version: u16) -> ServerHello {
        let mut body = tls13_server_hello_record()[9..].to_vec();
        let n = body.len();
        body[n - 2..].copy_from_slice(&version.to_be_bytes());
        ServerHello::parse(&body).unwrap()
    }

    /// Draft-23 is TLS 1.3: its ServerHello has no ALPN because the selection is encrypted,
    /// not because the server declined.
    #[test]
    fn a_tls13_draft_is_hidden_not_declined() {
        let verdict = judge(&facts(h2_h1_hello(), server_hello_selecting(0x7f17)));
        assert_eq!(verdict.kind, VerdictKind::Hidden);
        assert_eq!(
            verdict.detail,
            "TLS 1.3 (draft 23): the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log"
        );
        assert_eq!(verdict.evidence_frames, [4, 6]);
        for version in [0x7f0e, 0x7f1c, 0xfb1a, 0x7e01] {
            let verdict = judge(&facts(h2_h1_hello(), server_hello_selecting(version)));
            assert_eq!(verdict.kind, VerdictKind::Hidden, "0x{version:04x}");
        }
        // An unknown version in supported_versions is not TLS 1.3: the ServerHello is read.
        let verdict = judge(&facts(h2_h1_hello(), server_hello_selecting(0x7f1d)));
        assert_eq!(verdict.kind, VerdictKind::ServerDeclined);
    }

    /// Draft-18 (its own ServerHello layout) with the keys logged: alpnscope cannot follow its
    /// key schedule, and says so instead of blaming the keys.
    #[test]
    fn an_early_draft_with_keys_is_hidden_with_the_reason() {
        let mut body = vec![0x7f, 0x12];
        body.extend_from_slice(&[1; 32]);
        body.extend_from_slice(&[0x13, 0x01, 0, 8, 0, 0x28, 0, 4, 0, 0x1d, 0, 0]);
        let sh = ServerHello::parse(&body).unwrap();
        let mut f = facts(h2_h1_hello(), sh);
        f.keys = KeyStatus::Found;
        f.faults = vec![(
            Role::Server,
            6,
            StreamFault::Decryption(DecryptError::UnsupportedVersion(0x7f12)),
        )];
        let verdict = judge(&f);
        assert_eq!(verdict.kind, VerdictKind::Hidden);
        assert_eq!(
            verdict.detail,
            "TLS 1.3 (draft 18): the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions, and alpnscope cannot decrypt TLS 1.3 draft 18: its key schedule differs from RFC 8446's, so the selection stays unknown although the key log has this connection's keys"
        );
    }

    /// An SSLv2-format ClientHello cannot offer ALPN; a TLS 1.2 answer without ALPN follows.
    #[test]
    fn an_sslv2_format_hello_is_not_offered_and_says_why() {
        let ch = ClientHello::parse_sslv2(&sslv2_hello()).unwrap();
        let mut body = vec![3, 3];
        body.extend_from_slice(&[5; 32]);
        body.extend_from_slice(&[0, 0xc0, 0x2f, 0, 0, 0]);
        let sh = ServerHello::parse(&body).unwrap();
        let verdict = judge(&facts(ch, sh));
        assert_eq!(verdict.kind, VerdictKind::NotOffered);
        assert_eq!(
            verdict.detail,
            "the client sent an SSLv2-format ClientHello (offering up to TLS 1.2; RFC 5246 Appendix E.2), which cannot carry extensions, so it could not offer ALPN and the server could not select a protocol: the client software (or its configuration) predates ALPN"
        );
    }

    /// A TLS 1.2 ServerHello cut before its extensions: the answer is unknown, not declined.
    #[test]
    fn a_cut_tls12_server_hello_is_not_a_decline() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[5; 32]);
        body.extend_from_slice(&[0, 0xc0, 0x2f, 0, 0, 11]);
        let sh = ServerHello::parse_cut(&body, 49).unwrap();
        let mut f = facts(h2_h1_hello(), sh);
        f.truncated_frames = 2;
        f.snaplen = 120;
        let verdict = judge(&f);
        assert_eq!(verdict.kind, VerdictKind::Incomplete);
        assert_eq!(
            verdict.detail,
            "the capture holds only 40 of the ServerHello's 49 bytes (frame 6; cut by the capture's snaplen of 120 bytes): not enough to see whether it carries an ALPN extension, so the server's answer is unknown, not declined; the client offered h2, http/1.1; capture whole packets (tcpdump -s 0) to see it"
        );
    }

    #[test]
    fn every_verdict_has_a_distinct_name_and_only_agreed_and_not_tls_are_no_problem() {
        for kind in VerdictKind::ALL {
            assert_eq!(VerdictKind::from_name(kind.name()), Some(kind));
        }
        let fine: Vec<VerdictKind> = VerdictKind::ALL
            .into_iter()
            .filter(|k| !k.is_problem())
            .collect();
        assert_eq!(fine, [VerdictKind::Agreed, VerdictKind::NotTls]);
    }
}
