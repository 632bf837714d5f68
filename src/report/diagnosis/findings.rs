//! The conclusions, one function each: given one server's flows (or one service's, across
//! addresses and paths), a [`Diagnosis`] with its sentence, or nothing.

use super::words::{OLD_OPENSSL, SERVER_FIXES, client_kinds, ids, offers, outcomes, selections};
use super::{ServerFlows, diagnosis};
use crate::analysis::network::NetworkCause;
use crate::report::model::{Diagnosis, DiagnosisKind, FlowReport};
use std::collections::BTreeSet;

/// Network: incomplete handshakes whose verdict names a network cause that the packets prove
/// (resets, a SYN or ClientHello resent for seconds and never answered, a silent server).
pub(super) fn network_failures(s: &ServerFlows) -> Option<Diagnosis> {
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
pub(super) fn server_bug(s: &ServerFlows) -> Option<Diagnosis> {
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
pub(super) fn interception(server: &str, all: &[&FlowReport]) -> Option<Diagnosis> {
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
pub(super) fn path_dependent(server: &str, all: &[&FlowReport]) -> Option<Diagnosis> {
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
pub(super) fn server_without_alpn(s: &ServerFlows) -> Option<Diagnosis> {
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
pub(super) fn turned_down_by_some(s: &ServerFlows) -> Option<Diagnosis> {
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
pub(super) fn server_without_h2(s: &ServerFlows) -> Option<Diagnosis> {
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

/// No common protocol: the server rejected offers with alert no_application_protocol.
pub(super) fn no_common_protocol(s: &ServerFlows) -> Option<Diagnosis> {
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
pub(super) fn needs_keys(s: &ServerFlows) -> Option<Diagnosis> {
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
