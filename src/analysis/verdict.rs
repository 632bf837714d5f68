//! The verdict: which of the ALPN outcomes a flow shows, said in one sentence, with its evidence.

use super::facts::{FlowFacts, KeyStatus, PlaintextSeen, Role, alert_name};
use super::network::NetworkCause;
use crate::tls::StreamFault;
use crate::tls::preamble::Plaintext;
use crate::tls::{AlpnList, ClientHello, ProtocolName, ServerHello, TlsVersion};
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
    /// The server aborted with alert no_application_protocol (120).
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
                "the server aborted with alert no_application_protocol (120): no protocol in common"
            }
            VerdictKind::SelectedUnoffered => {
                "the server selected a protocol the client did not offer, a GREASE value, or not exactly one (RFC 7301 violation)"
            }
            VerdictKind::NotOffered => "the client sent no ALPN extension",
            VerdictKind::Hidden => {
                "TLS 1.3: the selection travels encrypted in EncryptedExtensions; keys are needed to see it"
            }
            VerdictKind::Incomplete => {
                "no ServerHello in the capture: reset, closed, alert, gap, a client that closed without a ClientHello, or the capture missed the handshake"
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

fn list(protocols: &[ProtocolName]) -> String {
    let names: Vec<String> = protocols.iter().map(|p| p.escaped()).collect();
    names.join(", ")
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

/// The client's first bytes when they are an HTTP request line sent to a TLS port: its method
/// and frame.
fn plain_http_to_tls_port(facts: &FlowFacts) -> Option<(&'static str, u64)> {
    let client = client_spoke_first_without_tls(facts)?;
    match (facts.tls_candidate, client.start) {
        (true, Some(Plaintext::HttpRequest { method })) => Some((method, client.frame)),
        _ => None,
    }
}

/// The client's first bytes, when the capture has them, they are not TLS, and no ClientHello
/// followed (a proxy preamble may have come first).
fn client_spoke_first_without_tls(facts: &FlowFacts) -> Option<&PlaintextSeen> {
    facts
        .client_plaintext()
        .filter(|p| p.start.is_some() && facts.client_hello().is_none())
}

/// The verdict and its sentence; fills in the evidence frames and, for a handshake the network
/// stopped, its cause.
fn judge_inner(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> (VerdictKind, String) {
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
        if client_hello.alpn.is_none() {
            return (VerdictKind::NotOffered, NOT_OFFERED.to_string());
        }
        return (
            VerdictKind::Hidden,
            hidden_detail(facts, client_hello.offered(), &client_hello.random),
        );
    };
    judge_answer(client_hello, server_hello, alpn, &answer)
}

/// The sentence of a flow whose client sent no ALPN extension.
const NOT_OFFERED: &str = "the client sent no ALPN extension, so the server could not select a protocol (HTTP clients then use http/1.1)";

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
    (VerdictKind::NotTls, not_tls_detail(facts))
}

/// A connection to a TLS server that was closed or reset before anyone sent a byte: who ended
/// it, and when. Not the network's doing: a FIN or a RST from an end, with no ClientHello for it
/// to answer. `None` when the capture cannot prove that no byte was sent.
fn closed_before_client_hello(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    // Only a connection seen from its SYN, with no bytes that an end acknowledged but the
    // capture missed, proves that nothing was sent.
    let (syn, opened) = facts.health.syn?;
    if !super::network::capture_gaps(facts).is_empty() {
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

/// A client that spoke something other than TLS to a TLS port: what it sent, and how the server
/// answered and ended the connection.
fn plaintext_detail(facts: &FlowFacts, client: &PlaintextSeen, evidence: &mut Vec<u64>) -> String {
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
    // The server's answer: its own plaintext, or a TLS alert.
    let answer = match (
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
    };
    let end_of = |role: Role| {
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
    };
    let server_end = end_of(Role::Server);
    let first_reaction = answer
        .as_ref()
        .map(|(f, _)| *f)
        .into_iter()
        .chain(server_end.map(|(f, _)| f))
        .min();
    let client_end = end_of(Role::Client)
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
        (None, None) => (VerdictKind::NotOffered, NOT_OFFERED.to_string()),
        (Some(_), None) => {
            let npn = if server_hello.npn {
                " It answered with NPN instead, the pre-ALPN mechanism: the server software predates ALPN (e.g. OpenSSL < 1.0.2)."
            } else {
                ""
            };
            (
                VerdictKind::ServerDeclined,
                format!(
                    "the client offered {} but the {place} (frame {place_frame}) has no ALPN extension: the server does not negotiate ALPN here, so the client falls back to its default (curl: \"ALPN: server did not agree on a protocol\").{npn}",
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

/// Why a TLS 1.3 selection could not be read, and how to get the keys.
fn hidden_detail(facts: &FlowFacts, offered: &[ProtocolName], client_random: &[u8]) -> String {
    let choices = list(offered);
    let decrypt_failure = facts.faults.iter().find_map(|(_, _, f)| match f {
        StreamFault::Decryption(e) => Some(e.to_string()),
        _ => None,
    });
    // A gap in the capture before the EncryptedExtensions: the keys are right, the bytes missing.
    let gap = facts.faults.iter().find_map(|(role, _, f)| match f {
        StreamFault::DecryptionAfterGap {
            missing,
            before_frame,
            ..
        } => Some((*role, *missing, *before_frame)),
        _ => None,
    });
    if decrypt_failure.is_none()
        && let Some((role, missing, before_frame)) = gap
    {
        return format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions, which the key log could not open because {missing} bytes of the {} stream are missing from the capture before frame {before_frame}: the records after a gap cannot be decrypted, so the selection is unknown",
            role.name()
        );
    }
    match (facts.keys, decrypt_failure) {
        (_, Some(failure)) => format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions, and {failure} (the key-log entry for this ClientHello random does not open its records)"
        ),
        (KeyStatus::NoEntry, None) => {
            let random: String = client_random
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect();
            format!(
                "TLS 1.3: the server's choice among {choices} is encrypted, and the key log has no entry for this ClientHello random ({random}…): it holds other connections' keys; log the keys while reproducing this connection"
            )
        }
        _ => format!(
            "TLS 1.3: the server's choice among {choices} is in the encrypted EncryptedExtensions. To read it, log the client's keys (curl, browsers, Python, Go: SSLKEYLOGFILE=keys.log; openssl s_client: -keylogfile keys.log) and run alpnscope analyze --keylog keys.log"
        ),
    }
}

fn not_tls_detail(facts: &FlowFacts) -> String {
    if facts.not_tls {
        "no TLS record in this flow".into()
    } else {
        "no payload that could be TLS was captured".into()
    }
}

/// Why a TLS flow got no ServerHello, most telling first: an unreadable or missing
/// ClientHello, the network, the server's alert, a reset, a gap or fault in the server's stream,
/// a FIN, then how the flow ended.
fn incomplete_detail(
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

/// Why a TLS flow has no ClientHello: frames cut by the snaplen, a fault in a stream, or a
/// capture that began after the handshake.
/// The client's bytes that the capture missed although the server received them, in words, with
/// the frames that show it added to the evidence.
fn client_capture_gap(facts: &FlowFacts, evidence: &mut Vec<u64>) -> Option<String> {
    let gap = super::network::capture_gaps(facts)
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
    let gap = super::network::capture_gaps(facts)
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

/// The network's explanation of a handshake without ServerHello, with its cause and frames.
fn network_detail(
    facts: &FlowFacts,
    evidence: &mut Vec<u64>,
    network_cause: &mut Option<NetworkCause>,
) -> Option<String> {
    let view = super::network::assess(facts);
    let (cause, detail, frames) = super::network::incomplete_cause(facts, &view)?;
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
    if let Some((role, frame)) = facts.resets.first() {
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
        crate::analysis::FlowEnd::Idle => {
            *network_cause = Some(NetworkCause::ServerSilent);
            format!(
                "no ServerHello: the flow went idle after the ClientHello (frame {ch_last}) and the server never answered"
            )
        }
        crate::analysis::FlowEnd::CaptureStopped => {
            format!("capture stopped before a ServerHello (ClientHello in frame {ch_last})")
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// TLS 1.3 with keys, where the EncryptedExtensions could not be opened because bytes of
    /// the server's stream are missing from the capture before it: the gap is named, not the
    /// keys, nor the advice to log keys.
    #[test]
    fn a_hidden_selection_behind_a_capture_gap_names_the_gap() {
        use crate::tls::testing::{client_hello_message, tls13_server_hello_record};
        let ch = ClientHello::parse(&client_hello_message(&[b"h2", b"http/1.1"])[4..]).unwrap();
        let sh = ServerHello::parse(&tls13_server_hello_record()[9..]).unwrap();
        let facts = FlowFacts {
            client_hellos: vec![(ch, vec![4])],
            server_hellos: vec![(sh, vec![6])],
            keys: KeyStatus::Found,
            first_tls_frame: Some(4),
            faults: vec![(
                Role::Server,
                12,
                StreamFault::DecryptionAfterGap {
                    missing: 206,
                    before_frame: 12,
                    opened_before: false,
                },
            )],
            ..FlowFacts::default()
        };
        let verdict = judge(&facts);
        assert_eq!(verdict.kind, VerdictKind::Hidden);
        assert_eq!(
            verdict.detail,
            "TLS 1.3: the server's choice among h2, http/1.1 is in the encrypted EncryptedExtensions, which the key log could not open because 206 bytes of the server stream are missing from the capture before frame 12: the records after a gap cannot be decrypted, so the selection is unknown"
        );
    }

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
            alerts: vec![super::super::facts::AlertSeen {
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
