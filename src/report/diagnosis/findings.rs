//! The conclusions, one function each: given one server's flows (or one service's, across
//! addresses and paths), a [`Diagnosis`] with its sentence, or nothing.

use super::keys::ServerKey;
use super::tally::{Group, Members, ServerTally};
use super::words::{OLD_OPENSSL, SERVER_FIXES, bare_ids, ids, offers, refusal, selections};
use super::{ServerFlows, diagnosis};
use crate::report::model::{Diagnosis, DiagnosisKind, Transport};
use std::collections::BTreeSet;

/// Network: incomplete handshakes whose verdict names a network cause that the packets prove
/// (resets, a SYN or ClientHello resent for seconds and never answered, a silent server).
pub(super) fn network_failures(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let network = s.network;
    if network.is_empty() {
        return None;
    }
    let cause = if s.tally.injected_reset {
        "resets that a middlebox injected"
    } else if s.tally.reset {
        "resets"
    } else {
        "packet loss"
    };
    Some(diagnosis(
        DiagnosisKind::Network,
        server,
        network,
        format!(
            "network, not configuration: {} of {} with {server} failed on {cause} ({}); fix the path (firewall, middlebox, loss) before the TLS setup",
            network.count,
            crate::report::plural(s.all.count, "handshake"),
            ids(network)
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
        s.unoffered,
        format!(
            "server bug: {server} selected a protocol the client did not offer, or not exactly one (RFC 7301 §3.1–3.2) in {}; clients must abort",
            ids(s.unoffered)
        ),
    ))
}

/// h2 on a cipher suite HTTP/2 forbids (RFC 9113 §9.2.2): browsers end such connections.
/// Names the suites, and whether the clients offered one HTTP/2 allows (then the server's
/// preference is the fix) or none (then the clients' suites are, and the server should not
/// select h2 on them).
pub(super) fn h2_forbidden_cipher(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let flows = s.tally.group(Group::H2ForbiddenSuite);
    if flows.is_empty() {
        return None;
    }
    let chosen = s.tally.group(Group::H2ForbiddenSuiteChosen);
    let suites: Vec<&str> = s
        .tally
        .h2_forbidden_suites
        .iter()
        .map(String::as_str)
        .collect();
    let cause = if chosen.is_empty() {
        format!(
            "the clients offered no suite HTTP/2 allows ({}): their cipher list is restricted, and a server should then select http/1.1, not h2",
            ids(flows)
        )
    } else {
        format!(
            "the clients offered suites HTTP/2 allows in {}, so the server prefers the forbidden ones: put ECDHE suites with AES-GCM or ChaCha20-Poly1305 first in its TLS settings (nginx: ssl_ciphers; Apache: SSLCipherSuite)",
            ids(chosen)
        )
    };
    Some(diagnosis(
        DiagnosisKind::H2ForbiddenCipher,
        server,
        flows,
        format!(
            "server-side: {server} selects h2 with a cipher suite HTTP/2 forbids ({}) in {} (RFC 9113 §9.2.2: no ephemeral key exchange, or not an AEAD cipher); browsers end such connections with INADEQUATE_SECURITY (curl does not check); {cause}",
            suites.join(", "),
            ids(flows)
        ),
    ))
}

/// One service's servers, in order of first flow.
type ServiceServers<'a> = [(&'a ServerKey, &'a ServerTally)];

/// Interception: one name and port presented certificates from different issuers (across
/// its addresses and paths).
pub(super) fn interception(server: &str, servers: &ServiceServers) -> Option<Diagnosis> {
    let mut all = Members::default();
    for (_, tally) in servers {
        all.merge(&tally.all);
    }
    if all.issuers.len() <= 1 {
        return None;
    }
    let list: Vec<&str> = all.issuers.iter().map(String::as_str).collect();
    Some(diagnosis(
        DiagnosisKind::Interception,
        server,
        &all,
        format!(
            "TLS interception likely: {server} presented certificates from {} different issuers ({}) — a proxy in some paths terminates TLS itself",
            list.len(),
            list.join("; ")
        ),
    ))
}

/// Path: one name and port answers differently through a proxy than directly. Only TCP
/// servers are compared: a proxy carries TCP, and QUIC beside TCP is a difference of transport
/// (`transports_differ`), not of path.
pub(super) fn path_dependent(server: &str, servers: &ServiceServers) -> Option<Diagnosis> {
    let servers: Vec<(&ServerKey, &ServerTally)> = servers
        .iter()
        .filter(|(key, _)| key.transport() == Transport::Tcp)
        .map(|(key, tally)| (*key, *tally))
        .collect();
    let (mut all, mut proxied, mut direct) =
        (Members::default(), Members::default(), Members::default());
    for (_, tally) in &servers {
        all.merge(&tally.all);
        proxied.merge(tally.group(Group::Proxied));
        direct.merge(tally.group(Group::Direct));
    }
    if proxied.is_empty() || direct.is_empty() || proxied.outcomes == direct.outcomes {
        return None;
    }
    // Direct flows, by server address (a direct flow's server is its address): split DNS shows
    // as different addresses.
    let mut by_address: Vec<(&ServerKey, &Members)> = servers
        .iter()
        .map(|(key, tally)| (*key, tally.group(Group::Direct)))
        .filter(|(_, members)| !members.is_empty())
        .collect();
    by_address.sort_by_key(|(_, members)| members.ids.first().copied());
    let direct_text: Vec<String> = by_address
        .iter()
        .map(|(key, list)| {
            let o: Vec<&str> = list.outcomes.iter().map(String::as_str).collect();
            format!("at {} {} ({})", key.endpoint(), o.join("/"), ids(list))
        })
        .collect();
    let proxied_outcomes: Vec<&str> = proxied.outcomes.iter().map(String::as_str).collect();
    Some(diagnosis(
        DiagnosisKind::Path,
        server,
        &all,
        format!(
            "the outcome depends on the path: through the proxy {} ({}), directly {} — the proxy reaches a different server for {server} (split DNS, another backend) or changes the negotiation",
            proxied_outcomes.join("/"),
            ids(&proxied),
            direct_text.join(", ")
        ),
    ))
}

/// Server without ALPN: it declined every offer and selected no protocol in any flow.
pub(super) fn server_without_alpn(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let declined = s.declined;
    // A server that answered with NPN is `server_npn_only`'s to name.
    if declined.is_empty()
        || !s.negotiated.is_empty()
        || !s.unoffered.is_empty()
        || !s.tally.group(Group::Npn).is_empty()
    {
        return None;
    }
    let clients = if declined.kinds.len() > 1 {
        format!("{} different clients", declined.kinds.len())
    } else {
        "its client".to_string()
    };
    // The HTTP fallback and the web servers' settings apply only where HTTP was offered (not to
    // a mail or directory server reached by STARTTLS, say).
    let consequence = if declined.http {
        format!(", so they fell back to HTTP/1.1; enable it: {SERVER_FIXES}")
    } else {
        ": its TLS setup names no application protocol (a client that requires ALPN fails there)"
            .to_string()
    };
    Some(diagnosis(
        DiagnosisKind::ServerWithoutAlpn,
        server,
        declined,
        format!(
            "server-side: {server} never negotiates ALPN — {clients} offered {} and got no ALPN extension back in {} ({}){consequence}; {OLD_OPENSSL}",
            offers(&[declined]),
            crate::report::plural(declined.count, "flow"),
            bare_ids(declined)
        ),
    ))
}

/// NPN instead of ALPN: flows where the server sent no ALPN extension but answered the client's
/// NPN (next_protocol_negotiation, extension 13172, the draft ALPN replaced). A server speaks NPN
/// only to clients that offer it, so its other declined flows belong to the same finding.
pub(super) fn server_npn_only(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let npn = s.tally.group(Group::Npn);
    if npn.is_empty() {
        return None;
    }
    const STACK: &str =
        "a TLS stack older than ALPN (OpenSSL before 1.0.2) or one set up for NPN only";
    // Flows where the server answered by ALPN (a protocol the client offered or not).
    let mut by_alpn = s.negotiated.clone();
    by_alpn.merge(s.unoffered);
    if !by_alpn.is_empty() {
        return Some(diagnosis(
            DiagnosisKind::ServerNpnOnly,
            server,
            npn,
            format!(
                "server-side: {server} answered with NPN (next_protocol_negotiation, extension 13172), the mechanism ALPN replaced, and no ALPN extension in {}, but selected a protocol by ALPN in {}: something behind this address (another backend, an old TLS terminator) runs {STACK}",
                ids(npn),
                ids(&by_alpn)
            ),
        ));
    }
    let others = s.tally.group(Group::DeclinedWithoutNpn);
    let without_npn = if others.is_empty() {
        String::new()
    } else {
        format!(", as in {}", ids(others))
    };
    let fix = if s.declined.http {
        format!("; upgrade it or enable ALPN: {SERVER_FIXES}")
    } else {
        "; upgrade it or enable ALPN".to_string()
    };
    Some(diagnosis(
        DiagnosisKind::ServerNpnOnly,
        server,
        s.declined,
        format!(
            "server-side: {server} never negotiates ALPN and answered with NPN (next_protocol_negotiation, extension 13172), the mechanism ALPN replaced, in {} (offering {} by ALPN, and NPN): {STACK}; clients that do not offer NPN (current browsers, curl since 7.86) get no protocol from it{without_npn}{fix}",
            ids(npn),
            offers(&[npn]),
        ),
    ))
}

/// How some flows were turned down: "declined ALPN in flows 1, 3" (a hello without ALPN) and/or
/// "refused with alert no_application_protocol in flows 2" (a QUIC CONNECTION_CLOSE for it).
fn turned_down_text(declined: &Members, refused: &Members) -> String {
    let mut parts = Vec::new();
    if !declined.is_empty() {
        parts.push(format!(
            "declined ALPN (no ALPN extension back) in {}",
            ids(declined)
        ));
    }
    if !refused.is_empty() {
        parts.push(format!(
            "refused with {} in {}",
            refusal(refused),
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
    let negotiated = s.negotiated;
    let mut turned_down = s.declined.clone();
    turned_down.merge(s.no_common);
    if turned_down.is_empty() || negotiated.is_empty() {
        return None;
    }
    let how = turned_down_text(s.declined, s.no_common);
    if turned_down.share_an_offer(negotiated) {
        let mut involved = negotiated.clone();
        involved.merge(&turned_down);
        return Some(diagnosis(
            DiagnosisKind::InconsistentServer,
            server,
            &involved,
            format!(
                "{server} answered the same offer ({}) differently: selected a protocol in {}, {how} — different backends behind one address (a load balancer) or a configuration change between them",
                offers(&[s.declined, s.no_common]),
                ids(negotiated)
            ),
        ));
    }
    let bad: &BTreeSet<String> = &turned_down.kinds;
    // Whether the turned-down offers held a protocol the server selected for the others: if
    // not, the protocol names explain it; if so, something else in those hellos does.
    let selected = negotiated.selections();
    let names = if negotiated.selections_complete() {
        turned_down.offered_of(&selected)
    } else {
        None
    };
    let advice = match names {
        Some(common) if common.is_empty() => format!(
            ": their offers hold nothing it selected in any flow here — make those clients offer {}, or enable what they offer on the server",
            selected.join(" or ")
        ),
        Some(common) => format!(
            ": their offers hold {}, which it selected for the others, so the protocol names do not explain it — compare the rest of what those clients send (TLS version, cipher suites, extensions)",
            common.join(", ")
        ),
        None => " — compare what those clients send".to_string(),
    };
    Some(diagnosis(
        DiagnosisKind::ClientSide,
        server,
        &turned_down,
        format!(
            "client-side: {server} selected a protocol for some clients ({}, offering {}) but not for others ({how}, offering {}; fingerprints {}){advice}",
            ids(negotiated),
            offers(&[negotiated]),
            offers(&[s.declined, s.no_common]),
            bad.difference(&negotiated.kinds)
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
    if s.negotiated.is_empty() || !s.declined.is_empty() || s.tally.got_h2 {
        return None;
    }
    let without_h2 = s.passed_over_h2;
    if without_h2.is_empty() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::ServerWithoutH2,
        server,
        without_h2,
        format!(
            "server-side: {server} negotiates ALPN but never picks h2 although clients rank it higher ({}, offering {}; selected: {}): HTTP/2 is not enabled there; {SERVER_FIXES}",
            ids(without_h2),
            offers(&[without_h2]),
            selections(without_h2)
        ),
    ))
}

/// The client's own order: it ranked http/1.1 above h2 and got http/1.1. Said only where no
/// flow shows the server passing over h2 that a client ranked higher (then the server is the
/// cause, `server_without_h2`). That the server has h2 and follows the client's order is said
/// only when it selected h2 for a client that ranked h2 above http/1.1: a server choosing by its
/// own order answers both offers alike.
pub(super) fn client_prefers_http1(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    let flows = s.tally.group(Group::Http1First);
    if flows.is_empty() || !s.passed_over_h2.is_empty() {
        return None;
    }
    let mut ja4: Vec<&str> = s.tally.http1_first_ja4.iter().map(String::as_str).collect();
    if s.tally.http1_first_without_ja4 {
        ja4.push("unknown for a ClientHello the capture cut short");
    }
    let (who, own, whose) = if ja4.len() > 1 {
        ("clients", "the clients'", "those clients' ALPN lists")
    } else {
        ("the client", "the client's", "that client's ALPN list")
    };
    let h2_first = s.tally.group(Group::H2OverHttp1);
    let what = if h2_first.is_empty() {
        format!(
            "a server that honours the client's order (lighttpd does) selects http/1.1 for such an offer even when it has h2, and no flow here shows what this one selects for a client that ranks h2 first: put h2 first in {whose} (curl --http2 does) to find out"
        )
    } else {
        format!(
            "the same server selected h2 for clients that ranked h2 above http/1.1 ({}), so it has h2 and follows the client's order: put h2 first in {whose} (curl --http2 does)",
            ids(h2_first)
        )
    };
    Some(diagnosis(
        DiagnosisKind::ClientPrefersHttp1,
        server,
        flows,
        format!(
            "client-side: {who} ranked http/1.1 above h2 (offering {}; JA4 {}) and {server} selected http/1.1, {own} own first choice, in {}; {what}",
            offers(&[flows]),
            ja4.join(", "),
            ids(flows)
        ),
    ))
}

/// No common protocol: the server rejected offers with alert no_application_protocol (over
/// QUIC: a CONNECTION_CLOSE with crypto error 0x178).
pub(super) fn no_common_protocol(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.no_common.is_empty() {
        return None;
    }
    Some(diagnosis(
        DiagnosisKind::NoCommonProtocol,
        server,
        s.no_common,
        format!(
            "no protocol in common: {server} rejected the offer ({}) with {} in {} — the client asks for protocols the server does not serve",
            offers(&[s.no_common]),
            refusal(s.no_common),
            ids(s.no_common)
        ),
    ))
}

/// Needs keys: TLS 1.3 hid the server's choice in every flow.
pub(super) fn needs_keys(s: &ServerFlows) -> Option<Diagnosis> {
    let server = s.server;
    if s.hidden.is_empty() || s.hidden.count != s.all.count {
        return None;
    }
    // Keys cannot open records the snaplen cut: say to capture whole packets too.
    let whole_packets = if s.hidden_cut.is_empty() {
        String::new()
    } else {
        format!(
            ", capture whole packets (tcpdump -s 0: the capture cut the ServerHello of {} of them)",
            s.hidden_cut.count
        )
    };
    Some(diagnosis(
        DiagnosisKind::NeedsKeys,
        server,
        s.hidden,
        format!(
            "TLS 1.3 hides the choice of {server} in {}: log the client's keys (SSLKEYLOGFILE){whole_packets} and rerun with --keylog to see it",
            match s.hidden.count {
                1 => "its one flow".to_string(),
                2 => "both flows".to_string(),
                n => format!("all {n} flows"),
            }
        ),
    ))
}

/// One place (address, port, SNI) reached over QUIC and over TCP where one transport gets a
/// protocol selected in every settled flow and the other in none (declined, refused, or a
/// selection nobody offered): the two listeners are configured apart. `quic` and `tcp` are the
/// place's two servers, `server` its name.
pub(super) fn transports_differ(
    server: &str,
    quic: &ServerTally,
    tcp: &ServerTally,
) -> Option<Diagnosis> {
    // Flows whose server got a protocol selected, and flows where it did not.
    let split = |t: &ServerTally| {
        let mut turned_down = t.group(Group::Declined).clone();
        turned_down.merge(t.group(Group::NoCommon));
        turned_down.merge(t.group(Group::Unoffered));
        (t.group(Group::Negotiated).clone(), turned_down)
    };
    let (quic_ok, quic_not) = split(quic);
    let (tcp_ok, tcp_not) = split(tcp);
    let outcomes = |m: &Members| m.outcomes.iter().cloned().collect::<Vec<_>>().join("/");
    let (works, fails, good, bad) = if !quic_ok.is_empty()
        && quic_not.is_empty()
        && tcp_ok.is_empty()
        && !tcp_not.is_empty()
    {
        ("QUIC", "TCP", quic_ok, tcp_not)
    } else if !tcp_ok.is_empty() && tcp_not.is_empty() && quic_ok.is_empty() && !quic_not.is_empty()
    {
        ("TCP", "QUIC", tcp_ok, quic_not)
    } else {
        return None;
    };
    let mut involved = good.clone();
    involved.merge(&bad);
    Some(diagnosis(
        DiagnosisKind::TransportsDiffer,
        server,
        &involved,
        format!(
            "{server} answers differently over QUIC and over TCP: over {works} {} ({}), over {fails} {} ({}) — the {works} and the {fails} listener are configured apart (another TLS setup, or a proxy or CDN in front of one of them): the {fails} one needs the fix",
            outcomes(&good),
            ids(&good),
            outcomes(&bad),
            ids(&bad)
        ),
    ))
}
