//! The pieces of a conclusion's sentence: flow ids (capped), offers, outcomes, selections, client
//! kinds, and the usual server fixes.

use crate::analysis::VerdictKind;
use crate::report::model::FlowReport;
use std::collections::BTreeSet;

/// Ids listed in a sentence before "and N more" (the diagnosis's `flows` keeps them all).
const SENTENCE_IDS: usize = 10;

/// "0, 1, 2", or the first ten ids and "and 290 more": a conclusion stays one readable sentence
/// on a capture of thousands of flows.
pub(super) fn ids(flows: &[&FlowReport]) -> String {
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

/// How a client is told apart: its JA4 fingerprint, else its address.
fn client_kind(flow: &FlowReport) -> String {
    match &flow.client_hello {
        Some(ch) => ch.ja4.clone(),
        None => flow.client.ip.to_string(),
    }
}

/// The distinct client kinds (JA4, else address) of some flows.
pub(super) fn client_kinds(set: &[&FlowReport]) -> BTreeSet<String> {
    set.iter().map(|f| client_kind(f)).collect()
}

/// A flow's outcome in words: "agreed on h2", "downgraded to http/1.1", "server_declined", …
fn outcome(flow: &FlowReport) -> String {
    match (&flow.alpn_selected, flow.verdict) {
        (Some(p), VerdictKind::Downgraded) => format!("downgraded to {p}"),
        (Some(p), _) => format!("{} on {p}", flow.verdict),
        (None, _) => flow.verdict.to_string(),
    }
}

/// The distinct outcomes of some flows.
pub(super) fn outcomes(set: &[&FlowReport]) -> BTreeSet<String> {
    set.iter().map(|f| outcome(f)).collect()
}

/// A flow's offer in words: "h2, http/1.1", or "no ALPN".
fn offer_of(flow: &FlowReport) -> String {
    if flow.alpn_offered.is_empty() {
        "no ALPN".into()
    } else {
        flow.alpn_offered.join(", ")
    }
}

/// The distinct offers of some flows, e.g. "h2, http/1.1 or h2".
pub(super) fn offers(flows: &[&FlowReport]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for f in flows {
        let o = offer_of(f);
        if !seen.contains(&o) {
            seen.push(o);
        }
    }
    seen.join(" or ")
}

/// The distinct selections of some flows, e.g. "http/1.1".
pub(super) fn selections(flows: &[&FlowReport]) -> String {
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

/// The usual ways to enable h2 (and ALPN with it) on a server that negotiates neither or only
/// http/1.1.
pub const SERVER_FIXES: &str = "nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context";

/// Said only of a server that never negotiates ALPN: a server that selects http/1.1 has ALPN.
pub const OLD_OPENSSL: &str = "OpenSSL older than 1.0.2 cannot do ALPN at all";
