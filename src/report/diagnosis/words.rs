//! The pieces of a conclusion's sentence: flow ids (capped), offers, outcomes, selections, client
//! kinds, and the usual server fixes.

use super::tally::Members;

/// Ids listed in a sentence before "and N more" (the diagnosis's `flows` keeps more).
const SENTENCE_IDS: usize = 10;

/// "flow 3", "flows 0, 1, 2", or the first ten ids and "and 290 more": a conclusion stays one readable sentence
/// on a capture of thousands of flows.
pub(super) fn ids(flows: &Members) -> String {
    let noun = if flows.count == 1 { "flow" } else { "flows" };
    format!("{noun} {}", bare_ids(flows))
}

/// The ids of [`ids`] without the noun, for a sentence that counted the flows already:
/// "0, 1, 2", or the first ten ids and "and 290 more".
pub(super) fn bare_ids(flows: &Members) -> String {
    let ids: Vec<String> = flows
        .ids
        .iter()
        .take(SENTENCE_IDS)
        .map(u64::to_string)
        .collect();
    match flows.count.saturating_sub(ids.len() as u64) {
        0 => ids.join(", "),
        more => format!("{} and {more} more", ids.join(", ")),
    }
}

/// An offer in words: "h2, http/1.1", or "no ALPN".
fn offer_text(offer: &[String]) -> String {
    if offer.is_empty() {
        "no ALPN".into()
    } else {
        offer.join(", ")
    }
}

/// The distinct offers of some sets of flows, set by set, e.g. "h2, http/1.1 or h2".
pub(super) fn offers(sets: &[&Members]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for set in sets {
        for offer in set.offers() {
            let text = offer_text(offer);
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
    }
    seen.join(" or ")
}

/// The distinct selections of some flows, e.g. "http/1.1".
pub(super) fn selections(flows: &Members) -> String {
    flows.selections().join(", ")
}

/// How a server refused offers for lack of a common protocol: TLS alert 120 over TCP; over QUIC
/// the same alert travels as a CONNECTION_CLOSE with crypto error 0x178 (0x100 + 120, RFC 9001
/// §4.8). A server's flows are all of one transport (see `keys`).
pub(super) fn refusal(refused: &Members) -> &'static str {
    if refused.quic > 0 {
        "a CONNECTION_CLOSE for TLS alert no_application_protocol (QUIC crypto error 0x178)"
    } else {
        "alert no_application_protocol"
    }
}

/// The usual ways to enable h2 (and ALPN with it) on a server that negotiates neither or only
/// http/1.1.
pub const SERVER_FIXES: &str = "nginx: `http2 on;` (or `listen … ssl http2`); Apache: `Protocols h2 http/1.1`; HAProxy: `bind … alpn h2,http/1.1`; Envoy: `alpn_protocols` in the TLS context";

/// Said only of a server that never negotiates ALPN: a server that selects http/1.1 has ALPN.
pub const OLD_OPENSSL: &str = "OpenSSL older than 1.0.2 cannot do ALPN at all";
