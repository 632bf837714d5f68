//! Conclusions across flows, as an experienced engineer would draw them. A server is an address
//! and port (for a proxied flow: the proxy and the target asked of it) plus the SNI asked for, so
//! two servers on two ports with one name are two servers: for each, what all of its flows say
//! together — a server without ALPN or without h2, clients that offer different protocols, the
//! network, or a server bug. Two conclusions compare one name across addresses and paths instead
//! (the SNI and the port the client asked for): a path through a proxy, and an interceptor's
//! certificates. Each conclusion is one sentence with the flows and frames behind it.

use super::model::{Diagnosis, DiagnosisKind, EndpointReport, FlowReport};
use crate::analysis::VerdictKind;
use crate::analysis::network::NetworkCause;
use std::collections::BTreeSet;
use std::fmt;

/// How a client is told apart: its JA4 fingerprint, else its address.
fn client_kind(flow: &FlowReport) -> String {
    match &flow.client_hello {
        Some(ch) => ch.ja4.clone(),
        None => flow.client.ip.to_string(),
    }
}

/// The server a flow reached: where its TLS went (the proxy's target too, for a proxied flow)
/// and the name the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerKey {
    /// The address and port the TLS connection went to.
    endpoint: EndpointReport,
    /// The target asked of a proxy (`host:port`), for a proxied flow.
    target: Option<String>,
    /// The SNI.
    sni: Option<String>,
}

impl ServerKey {
    fn of(flow: &FlowReport) -> ServerKey {
        ServerKey {
            endpoint: flow.server.clone(),
            target: flow.proxy.as_ref().and_then(|p| p.target.clone()),
            sni: flow.sni.clone(),
        }
    }

    /// The name and port the client asked for, compared across addresses and paths; without
    /// SNI (or a readable target port), the server itself.
    fn service(&self) -> ServiceKey {
        let port = match &self.target {
            Some(target) => target
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok()),
            None => Some(self.endpoint.port),
        };
        match (&self.sni, port) {
            (Some(sni), Some(port)) => ServiceKey::Name {
                sni: sni.clone(),
                port,
            },
            _ => ServiceKey::Server(self.clone()),
        }
    }
}

impl fmt::Display for ServerKey {
    /// `alpn.test (127.0.0.1:8443)`, `app.test (app.test:443 via proxy 127.0.0.1:3128)`, or the
    /// address alone without SNI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.target {
            Some(target) => format!("{target} via proxy {}", self.endpoint),
            None => self.endpoint.to_string(),
        };
        match &self.sni {
            Some(sni) => write!(f, "{sni} ({place})"),
            None => f.write_str(&place),
        }
    }
}

/// A name and port as the client asked for them, whichever address or path answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServiceKey {
    /// The SNI and the port (the proxy target's port for a proxied flow).
    Name { sni: String, port: u16 },
    /// No name to compare by: the server alone.
    Server(ServerKey),
}

impl fmt::Display for ServiceKey {
    /// `alpn.test:8443`, else the server.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Name { sni, port } => write!(f, "{sni}:{port}"),
            ServiceKey::Server(server) => server.fmt(f),
        }
    }
}

/// The distinct keys of `flows`, in order of first flow.
fn distinct<K: PartialEq>(flows: &[&FlowReport], key: impl Fn(&FlowReport) -> K) -> Vec<K> {
    let mut keys: Vec<K> = Vec::new();
    for f in flows {
        let k = key(f);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
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

/// A flow's outcome in words: "agreed on h2", "downgraded to http/1.1", "server_declined", …
fn outcome(flow: &FlowReport) -> String {
    match (&flow.alpn_selected, flow.verdict) {
        (Some(p), VerdictKind::Downgraded) => format!("downgraded to {p}"),
        (Some(p), _) => format!("{} on {p}", flow.verdict),
        (None, _) => flow.verdict.to_string(),
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

/// The usual ways to enable h2 (and ALPN with it) on a server that negotiates neither or only
/// http/1.1.
pub const SERVER_FIXES: &str = "nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context";

/// Said only of a server that never negotiates ALPN: a server that selects http/1.1 has ALPN.
pub const OLD_OPENSSL: &str = "OpenSSL older than 1.0.2 cannot do ALPN at all";

/// Draws the conclusions for `flows`: for each name and port of the TLS flows in order of first
/// flow, the comparisons across its addresses and paths, then each of its servers in order of
/// first flow; last, the TLS ports that clients sent plain HTTP to.
pub fn diagnose(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let tls: Vec<&FlowReport> = flows
        .iter()
        .filter(|f| f.verdict != VerdictKind::NotTls)
        .collect();
    let mut out = Vec::new();
    for service in distinct(&tls, |f| ServerKey::of(f).service()) {
        let group: Vec<&FlowReport> = tls
            .iter()
            .copied()
            .filter(|f| ServerKey::of(f).service() == service)
            .collect();
        let name = service.to_string();
        out.extend(interception(&name, &group));
        out.extend(path_dependent(&name, &group));
        for server in distinct(&group, ServerKey::of) {
            let flows: Vec<&FlowReport> = group
                .iter()
                .copied()
                .filter(|f| ServerKey::of(f) == server)
                .collect();
            diagnose_server(&server.to_string(), &flows, &mut out);
        }
    }
    out.extend(plain_http(flows));
    out
}

/// Client side: clients sent plain HTTP to a TLS port (`not_tls` flows the pipeline lists for
/// that reason); one conclusion per server address and port, in order of first flow.
fn plain_http(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let plain: Vec<&FlowReport> = flows.iter().filter(|f| f.plain_http_to_tls_port).collect();
    distinct(&plain, |f| f.server.clone())
        .into_iter()
        .map(|server| {
            let group: Vec<&FlowReport> = plain
                .iter()
                .copied()
                .filter(|f| f.server == server)
                .collect();
            diagnosis(
                DiagnosisKind::ClientSide,
                &server.to_string(),
                &group,
                format!(
                    "client-side: clients sent plain HTTP to the TLS port {server} (flows {}): use https:// for this port",
                    ids(&group)
                ),
            )
        })
        .collect()
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
    /// The server's name (`alpn.test (127.0.0.1:8443)`, else address and port).
    server: &'a str,
    /// Every TLS flow to the server, in flow order.
    all: &'a [&'a FlowReport],
    /// Flows where the server selected an offered protocol: agreed or downgraded.
    negotiated: Vec<&'a FlowReport>,
    downgraded: Vec<&'a FlowReport>,
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
            negotiated: flows
                .iter()
                .copied()
                .filter(|f| matches!(f.verdict, VerdictKind::Agreed | VerdictKind::Downgraded))
                .collect(),
            downgraded: by(VerdictKind::Downgraded),
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
        server_without_alpn(&s),
        turned_down_by_some(&s),
        server_without_h2(&s),
        no_common_protocol(&s),
        needs_keys(&s),
    ];
    out.extend(findings.into_iter().flatten());
}

/// Network: incomplete handshakes whose verdict names a network cause that the packets prove
/// (resets, a SYN or ClientHello resent for seconds and never answered, a silent server).
fn network_failures(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let network: Vec<&FlowReport> = s
        .incomplete
        .iter()
        .copied()
        .filter(|f| {
            f.network_cause
                .is_some_and(NetworkCause::blames_the_network)
        })
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

/// Interception: one name and port presented certificates from different issuers (across
/// its addresses and paths).
fn interception(server: &str, all: &[&FlowReport]) -> Option<Diagnosis> {
    let issuers: BTreeSet<&str> = all
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
        all,
        format!(
            "TLS interception likely: {server} presented certificates from {} different issuers ({}) — a proxy in some paths terminates TLS itself",
            list.len(),
            list.join("; ")
        ),
    ))
}

/// Path: one name and port answers differently through a proxy than directly.
fn path_dependent(server: &str, all: &[&FlowReport]) -> Option<Diagnosis> {
    let proxied: Vec<&FlowReport> = all.iter().copied().filter(|f| f.proxy.is_some()).collect();
    let direct: Vec<&FlowReport> = all.iter().copied().filter(|f| f.proxy.is_none()).collect();
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
        all,
        format!(
            "the outcome depends on the path: through the proxy {} (flows {}), directly {} — the proxy reaches a different server for {server} (split DNS, another backend) or changes the negotiation",
            outcomes(&proxied).into_iter().collect::<Vec<_>>().join("/"),
            ids(&proxied),
            direct_text.join(", ")
        ),
    ))
}

/// Server without ALPN: it declined every offer and selected no protocol in any flow.
fn server_without_alpn(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let declined = &s.declined;
    if declined.is_empty() || !s.negotiated.is_empty() || !s.unoffered.is_empty() {
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
            "server-side: {server} never negotiates ALPN — {clients} offered {} and got no ALPN extension back in {} flows ({}), so they fell back to HTTP/1.1; enable it: {SERVER_FIXES}; {OLD_OPENSSL}",
            offers(declined),
            declined.len(),
            ids(declined)
        ),
    ))
}

/// How some flows were turned down: "declined ALPN in flows 1, 3" (a hello without ALPN) and/or
/// "refused with alert no_application_protocol in flows 2".
fn turned_down_text(declined: &[&FlowReport], refused: &[&FlowReport]) -> String {
    let mut parts = Vec::new();
    if !declined.is_empty() {
        parts.push(format!(
            "declined ALPN (no ALPN extension back) in flows {}",
            ids(declined)
        ));
    }
    if !refused.is_empty() {
        parts.push(format!(
            "refused with alert no_application_protocol in flows {}",
            ids(refused)
        ));
    }
    parts.join(" and ")
}

/// Inconsistent server or client side: some flows got a protocol, others were turned down
/// (declined: no ALPN back; refused: alert no_application_protocol); the same offer turned down
/// points at the server, different offers at the clients.
fn turned_down_by_some(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let negotiated = &s.negotiated;
    let turned_down: Vec<&FlowReport> = s
        .declined
        .iter()
        .chain(s.no_common.iter())
        .copied()
        .collect();
    if turned_down.is_empty() || negotiated.is_empty() {
        return None;
    }
    let how = turned_down_text(&s.declined, &s.no_common);
    let same_offer = turned_down
        .iter()
        .any(|d| negotiated.iter().any(|a| a.alpn_offered == d.alpn_offered));
    if same_offer {
        let involved: Vec<&FlowReport> = negotiated
            .iter()
            .chain(turned_down.iter())
            .copied()
            .collect();
        return Some(diagnosis(
            DiagnosisKind::InconsistentServer,
            server,
            &involved,
            format!(
                "{server} answered the same offer ({}) differently: selected a protocol in flows {}, {how} — different backends behind one address (a load balancer) or a configuration change between them",
                offers(&turned_down),
                ids(negotiated)
            ),
        ));
    }
    let good = client_kinds(negotiated);
    let bad = client_kinds(&turned_down);
    Some(diagnosis(
        DiagnosisKind::ClientSide,
        server,
        &turned_down,
        format!(
            "client-side: {server} selected a protocol for some clients (flows {}, offering {}) but not for others ({how}, offering {}; fingerprints {}) — compare what those clients send",
            ids(negotiated),
            offers(negotiated),
            offers(&turned_down),
            bad.difference(&good)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Server without h2: it negotiates ALPN, no flow got h2, and clients that ranked h2 above the
/// protocol they got were downgraded. A flow that offered h2 below its selection proves nothing
/// about h2 and is not counted.
fn server_without_h2(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.negotiated.is_empty() || !s.declined.is_empty() {
        return None;
    }
    let got_h2 = |f: &FlowReport| f.alpn_selected.as_deref() == Some("h2");
    if s.negotiated.iter().any(|f| got_h2(f)) {
        return None;
    }
    // h2 offered before the selected protocol: the server passed over it.
    let passed_over_h2 = |f: &FlowReport| {
        let at = |name: &str| f.alpn_offered.iter().position(|p| p == name);
        match (at("h2"), f.alpn_selected.as_deref().and_then(at)) {
            (Some(h2), Some(selected)) => h2 < selected,
            _ => false,
        }
    };
    let without_h2: Vec<&FlowReport> = s
        .downgraded
        .iter()
        .copied()
        .filter(|f| passed_over_h2(f))
        .collect();
    if without_h2.is_empty() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::ServerWithoutH2,
        server,
        &without_h2,
        format!(
            "server-side: {server} negotiates ALPN but never picks h2 although clients rank it higher (flows {}, offering {}; selected: {}): HTTP/2 is not enabled there; {SERVER_FIXES}",
            ids(&without_h2),
            offers(&without_h2),
            selections(&without_h2)
        ),
    ))
}

/// The distinct selections of some flows, e.g. "http/1.1".
fn selections(flows: &[&FlowReport]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for f in flows {
        if let Some(p) = f.alpn_selected.as_deref()
            && !seen.contains(&p)
        {
            seen.push(p);
        }
    }
    seen.join(", ")
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
            "TLS 1.3 hides the choice of {server} in all {} flows: log the client's keys (SSLKEYLOGFILE) and rerun with --keylog to see it",
            s.hidden.len()
        ),
    ))
}
