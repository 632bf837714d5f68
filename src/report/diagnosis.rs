//! Conclusions across flows, as an experienced engineer would draw them: for each server (SNI,
//! else address and port), what all of its flows say together — a server without ALPN, clients
//! that offer different protocols, a path through a proxy or an interceptor, the network, or a
//! server bug. Each conclusion is one sentence with the flows and frames behind it.

use super::model::{Diagnosis, DiagnosisKind, FlowReport};
use crate::analysis::VerdictKind;
use crate::analysis::network::NetworkCause;
use std::collections::BTreeSet;

/// How a client is told apart: its JA4 fingerprint, else its address.
fn client_kind(flow: &FlowReport) -> String {
    match &flow.client_hello {
        Some(ch) => ch.ja4.clone(),
        None => flow.client.ip.to_string(),
    }
}

/// The server a flow belongs to: its SNI, else its address and port.
fn server_name(flow: &FlowReport) -> String {
    match &flow.sni {
        Some(sni) => sni.clone(),
        None => flow.server.to_string(),
    }
}

/// Ids listed in a sentence before "and N more" (the diagnosis's `flows` keeps them all).
const SENTENCE_IDS: usize = 10;

/// "0, 1, 2", or the first ten ids and "and 290 more": a conclusion stays one readable sentence
/// on a capture of thousands of flows.
fn ids(flows: &[&FlowReport]) -> String {
    let ids: Vec<String> = flows
        .iter()
        .take(SENTENCE_IDS)
        .map(|f| f.id.to_string())
        .collect();
    match flows.len().saturating_sub(SENTENCE_IDS) {
        0 => ids.join(", "),
        more => format!("{} and {more} more", ids.join(", ")),
    }
}

fn evidence(flows: &[&FlowReport]) -> Vec<u64> {
    let mut frames: Vec<u64> = flows
        .iter()
        .flat_map(|f| f.evidence_frames.iter().copied())
        .collect();
    frames.sort_unstable();
    frames.dedup();
    frames.truncate(32);
    frames
}

/// A flow's outcome in words: "agreed on h2", "server_declined", …
fn outcome(flow: &FlowReport) -> String {
    match &flow.alpn_selected {
        Some(p) => format!("{} on {p}", flow.verdict),
        None => flow.verdict.to_string(),
    }
}

fn offer_of(flow: &FlowReport) -> String {
    if flow.alpn_offered.is_empty() {
        "no ALPN".into()
    } else {
        flow.alpn_offered.join(", ")
    }
}

/// The distinct offers of some flows, e.g. "h2, http/1.1 or h2".
fn offers(flows: &[&FlowReport]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for f in flows {
        let o = offer_of(f);
        if !seen.contains(&o) {
            seen.push(o);
        }
    }
    seen.join(" or ")
}

/// The usual fixes for a server that does not negotiate ALPN.
pub const SERVER_FIXES: &str = "nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context; OpenSSL older than 1.0.2 cannot do ALPN at all";

/// Draws the conclusions for every server in `flows` (TLS flows only), in order of first flow.
pub fn diagnose(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let tls: Vec<&FlowReport> = flows
        .iter()
        .filter(|f| f.verdict != VerdictKind::NotTls)
        .collect();
    let mut servers: Vec<String> = Vec::new();
    for f in &tls {
        let name = server_name(f);
        if !servers.contains(&name) {
            servers.push(name);
        }
    }
    let mut out = Vec::new();
    for server in servers {
        let group: Vec<&FlowReport> = tls
            .iter()
            .copied()
            .filter(|f| server_name(f) == server)
            .collect();
        diagnose_server(&server, &group, &mut out);
    }
    out
}

/// One conclusion about `server`, backed by `flows` (ids ascending) and their evidence frames.
fn diagnosis(
    kind: DiagnosisKind,
    server: &str,
    flows: &[&FlowReport],
    conclusion: String,
) -> Diagnosis {
    Diagnosis {
        kind,
        server: server.to_string(),
        conclusion,
        flows: {
            let mut ids: Vec<u64> = flows.iter().map(|f| f.id).collect();
            ids.sort_unstable();
            ids
        },
        evidence_frames: evidence(flows),
    }
}

/// One server's TLS flows, all of them and grouped by verdict.
struct ServerFlows<'a> {
    /// The server's name (SNI, else address and port).
    server: &'a str,
    /// Every TLS flow to the server, in flow order.
    all: &'a [&'a FlowReport],
    agreed: Vec<&'a FlowReport>,
    declined: Vec<&'a FlowReport>,
    unoffered: Vec<&'a FlowReport>,
    no_common: Vec<&'a FlowReport>,
    incomplete: Vec<&'a FlowReport>,
    hidden: Vec<&'a FlowReport>,
}

impl<'a> ServerFlows<'a> {
    /// Groups `flows` of `server` by verdict.
    fn new(server: &'a str, flows: &'a [&'a FlowReport]) -> Self {
        let by = |verdict: VerdictKind| -> Vec<&'a FlowReport> {
            flows
                .iter()
                .copied()
                .filter(|f| f.verdict == verdict)
                .collect()
        };
        ServerFlows {
            server,
            all: flows,
            agreed: by(VerdictKind::Agreed),
            declined: by(VerdictKind::ServerDeclined),
            unoffered: by(VerdictKind::SelectedUnoffered),
            no_common: by(VerdictKind::NoCommonProtocol),
            incomplete: by(VerdictKind::Incomplete),
            hidden: by(VerdictKind::Hidden),
        }
    }
}

/// The distinct client kinds (JA4, else address) of some flows.
fn client_kinds(set: &[&FlowReport]) -> BTreeSet<String> {
    set.iter().map(|f| client_kind(f)).collect()
}

/// The distinct outcomes of some flows.
fn outcomes(set: &[&FlowReport]) -> BTreeSet<String> {
    set.iter().map(|f| outcome(f)).collect()
}

/// Draws the conclusions for one server, network first: failures explained by loss or resets
/// are not configuration.
fn diagnose_server(server: &str, flows: &[&FlowReport], out: &mut Vec<Diagnosis>) {
    let s = ServerFlows::new(server, flows);
    let findings = [
        network_failures(&s),
        server_bug(&s),
        interception(&s),
        path_dependent(&s),
        server_without_alpn(&s),
        refused_by_some(&s),
        server_without_h2(&s),
        no_common_protocol(&s),
        needs_keys(&s),
    ];
    out.extend(findings.into_iter().flatten());
}

/// Network: incomplete handshakes that lost packets, were reset, or have a network cause.
fn network_failures(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let network: Vec<&FlowReport> = s
        .incomplete
        .iter()
        .copied()
        .filter(|f| f.tcp.handshake_loss || !f.tcp.resets.is_empty() || f.network_cause.is_some())
        .collect();
    if network.is_empty() {
        return None;
    }
    let injected = network
        .iter()
        .any(|f| f.network_cause == Some(NetworkCause::InjectedReset));
    let cause = if injected {
        "resets that a middlebox injected"
    } else if network.iter().any(|f| !f.tcp.resets.is_empty()) {
        "resets"
    } else {
        "packet loss"
    };
    Some(diagnosis(
        DiagnosisKind::Network,
        server,
        &network,
        format!(
            "network, not configuration: {} of {} handshakes with {server} failed on {cause} (flows {}); fix the path (firewall, middlebox, loss) before the TLS setup",
            network.len(),
            s.all.len(),
            ids(&network)
        ),
    ))
}

/// Server bug: it selected a protocol the client did not offer, or not exactly one.
fn server_bug(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.unoffered.is_empty() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::ServerBug,
        server,
        &s.unoffered,
        format!(
            "server bug: {server} selected a protocol the client did not offer, or not exactly one (RFC 7301 §3.1–3.2) in flows {}; clients must abort",
            ids(&s.unoffered)
        ),
    ))
}

/// Interception: the server presented certificates from different issuers.
fn interception(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let issuers: BTreeSet<&str> = s
        .all
        .iter()
        .filter_map(|f| f.server_certificate.as_ref().map(|c| c.issuer.as_str()))
        .collect();
    if issuers.len() <= 1 {
        return None;
    }
    let list: Vec<&str> = issuers.iter().copied().collect();
    Some(diagnosis(
        DiagnosisKind::Interception,
        server,
        s.all,
        format!(
            "TLS interception likely: {server} presented certificates from {} different issuers ({}) — a proxy in some paths terminates TLS itself",
            list.len(),
            list.join("; ")
        ),
    ))
}

/// Path: the same server answers differently through a proxy than directly.
fn path_dependent(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let proxied: Vec<&FlowReport> = s
        .all
        .iter()
        .copied()
        .filter(|f| f.proxy.is_some())
        .collect();
    let direct: Vec<&FlowReport> = s
        .all
        .iter()
        .copied()
        .filter(|f| f.proxy.is_none())
        .collect();
    if proxied.is_empty() || direct.is_empty() || outcomes(&proxied) == outcomes(&direct) {
        return None;
    }
    // Direct flows, by server address: split DNS shows as different addresses.
    let mut by_address: Vec<(String, Vec<&FlowReport>)> = Vec::new();
    for f in &direct {
        let addr = f.server.to_string();
        match by_address.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, list)) => list.push(f),
            None => by_address.push((addr, vec![f])),
        }
    }
    let direct_text: Vec<String> = by_address
        .iter()
        .map(|(addr, list)| {
            let o: Vec<String> = outcomes(list).into_iter().collect();
            format!("at {addr} {} (flows {})", o.join("/"), ids(list))
        })
        .collect();
    Some(diagnosis(
        DiagnosisKind::Path,
        server,
        s.all,
        format!(
            "the outcome depends on the path: through the proxy {} (flows {}), directly {} — the proxy reaches a different server for {server} (split DNS, another backend) or changes the negotiation",
            outcomes(&proxied).into_iter().collect::<Vec<_>>().join("/"),
            ids(&proxied),
            direct_text.join(", ")
        ),
    ))
}

/// Server without ALPN: it declined every offer and agreed to none.
fn server_without_alpn(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let declined = &s.declined;
    if declined.is_empty() || !s.agreed.is_empty() || !s.unoffered.is_empty() {
        return None;
    }
    let kinds = client_kinds(declined);
    let clients = if kinds.len() > 1 {
        format!("{} different clients", kinds.len())
    } else {
        "its client".to_string()
    };
    Some(diagnosis(
        DiagnosisKind::ServerWithoutAlpn,
        server,
        declined,
        format!(
            "server-side: {server} never negotiates ALPN — {clients} offered {} and got no ALPN extension back in {} flows ({}), so they fell back to HTTP/1.1; enable it: {SERVER_FIXES}",
            offers(declined),
            declined.len(),
            ids(declined)
        ),
    ))
}

/// Inconsistent server or client side: some flows agreed, others were refused (no ALPN back,
/// or alert no_application_protocol); the same offer refused points at the server, different
/// offers at the clients.
fn refused_by_some(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let agreed = &s.agreed;
    let refused: Vec<&FlowReport> = s
        .declined
        .iter()
        .chain(s.no_common.iter())
        .copied()
        .collect();
    if refused.is_empty() || agreed.is_empty() {
        return None;
    }
    let same_offer = refused
        .iter()
        .any(|d| agreed.iter().any(|a| a.alpn_offered == d.alpn_offered));
    if same_offer {
        let involved: Vec<&FlowReport> = agreed.iter().chain(refused.iter()).copied().collect();
        return Some(diagnosis(
            DiagnosisKind::InconsistentServer,
            server,
            &involved,
            format!(
                "{server} answered the same offer ({}) differently: agreed in flows {}, refused in flows {} — different backends behind one address (a load balancer) or a configuration change between them",
                offers(&refused),
                ids(agreed),
                ids(&refused)
            ),
        ));
    }
    let good = client_kinds(agreed);
    let bad = client_kinds(&refused);
    Some(diagnosis(
        DiagnosisKind::ClientSide,
        server,
        &refused,
        format!(
            "client-side: {server} agreed with some clients (flows {}, offering {}) but refused others (flows {}, offering {}; fingerprints {}) — compare what those clients send",
            ids(agreed),
            offers(agreed),
            ids(&refused),
            offers(&refused),
            bad.difference(&good)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Server without h2: it agreed, but on http/1.1 every time a client offered h2.
fn server_without_h2(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let agreed = &s.agreed;
    if agreed.is_empty() || !s.declined.is_empty() {
        return None;
    }
    let offers_h2 = |f: &FlowReport| f.alpn_offered.iter().any(|p| p == "h2");
    let h1_only: Vec<&FlowReport> = agreed
        .iter()
        .copied()
        .filter(|f| f.alpn_selected.as_deref() == Some("http/1.1") && offers_h2(f))
        .collect();
    if h1_only.is_empty() || h1_only.len() != agreed.iter().filter(|f| offers_h2(f)).count() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::ServerWithoutH2,
        server,
        &h1_only,
        format!(
            "server-side: {server} negotiates ALPN but never picks h2 although clients offer it (flows {}): HTTP/2 is not enabled there; {SERVER_FIXES}",
            ids(&h1_only)
        ),
    ))
}

/// No common protocol: the server rejected offers with alert no_application_protocol.
fn no_common_protocol(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.no_common.is_empty() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::NoCommonProtocol,
        server,
        &s.no_common,
        format!(
            "no protocol in common: {server} rejected the offer ({}) with alert no_application_protocol in flows {} — the client asks for protocols the server does not serve",
            offers(&s.no_common),
            ids(&s.no_common)
        ),
    ))
}

/// Needs keys: TLS 1.3 hid the server's choice in every flow.
fn needs_keys(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.hidden.is_empty() || s.hidden.len() != s.all.len() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::NeedsKeys,
        server,
        &s.hidden,
        format!(
            "TLS 1.3 hides {server}'s choice in all {} flows: log the client's keys (SSLKEYLOGFILE) and rerun with --keylog to see it",
            s.hidden.len()
        ),
    ))
}
