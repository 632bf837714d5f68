//! Findings: conclusions across the pairs, each naming who changed what and citing the frames
//! of both captures.
//!
//! A finding blames the middlebox only for what both captures show: a pair whose offer one
//! capture cut, or a flow seen on one side only, is reported as what cannot be compared
//! ([`CompareFindingKind::CannotCompare`]), never as something the middlebox did. Findings come
//! in the order of [`CompareFindingKind::ALL`], then of their first pair; each cites at most
//! [`MAX_CITED_PAIRS`] pairs.

use std::collections::BTreeMap;

use super::model::{
    CaptureSide, Change, CompareFinding, CompareFindingKind, Confidence, MAX_CITED_PAIRS,
    MatchKind, NotComparable, Pair, Unpaired,
};
use crate::report::model::FlowReport;
use crate::report::plural;

/// The findings over `pairs` and the flows left `unpaired`; `window_ms` is the pairing window
/// (for the sentence about unpaired flows).
pub fn findings(pairs: &[Pair], unpaired: &Unpaired, window_ms: f64) -> Vec<CompareFinding> {
    // (kind, the words that tell one group from another) → pair indexes.
    let mut groups: BTreeMap<(CompareFindingKind, String), Vec<usize>> = BTreeMap::new();
    let mut sentences: BTreeMap<(CompareFindingKind, String), String> = BTreeMap::new();
    let mut add = |kind: CompareFindingKind, key: String, sentence: String, index: usize| {
        groups.entry((kind, key.clone())).or_default().push(index);
        sentences.entry((kind, key)).or_insert(sentence);
    };
    for (index, pair) in pairs.iter().enumerate() {
        for change in &pair.changes {
            let (kind, key, sentence) = describe(change, pair.matched);
            add(kind, key, sentence, index);
        }
        if pair.changes.is_empty()
            && pair.not_comparable.is_empty()
            && pair.matched == MatchKind::Hello
        {
            add(
                CompareFindingKind::ForwardedUnchanged,
                String::new(),
                "the middlebox forwards the client's ClientHello unchanged as far as ALPN goes \
                 (the same random, ALPN list, SNI and extension types in both captures) and \
                 both legs see the same selection"
                    .to_string(),
                index,
            );
        }
        for gap in &pair.not_comparable {
            let (key, sentence) = match gap {
                NotComparable::OfferUnknown { side } => (
                    format!("offer {side:?}"),
                    format!(
                        "capture {} cut the ClientHello before its ALPN extension: what the \
                         middlebox did to the offer cannot be compared",
                        side_name(*side)
                    ),
                ),
                NotComparable::SelectionUnknown { side } => (
                    format!("selection {side:?}"),
                    format!(
                        "capture {} does not show the server's selection (no complete \
                         ServerHello, or TLS 1.3 without a key log: --keylog-{}): the \
                         selections cannot be compared",
                        side_name(*side),
                        side_name(*side).to_ascii_lowercase()
                    ),
                ),
            };
            add(CompareFindingKind::CannotCompare, key, sentence, index);
        }
    }
    let mut out: Vec<CompareFinding> = groups
        .into_iter()
        .map(|(key, indexes)| {
            let detail = if key.1 == STRIPPED_EXTENSION {
                stripped_extension(&indexes, pairs)
            } else {
                sentences.remove(&key).unwrap_or_default()
            };
            finding(key.0, detail, &indexes, pairs)
        })
        .collect();
    out.extend(unpaired_finding(&unpaired.a, CaptureSide::A, window_ms));
    out.extend(unpaired_finding(&unpaired.b, CaptureSide::B, window_ms));
    // Kinds in report order, then by first pair; stable for the unpaired ones.
    out.sort_by_key(|f| (f.kind, f.pairs.first().copied().unwrap_or(usize::MAX)));
    out
}

/// The grouping key of forwarded hellos whose ALPN extension is gone.
const STRIPPED_EXTENSION: &str = "extension removed";

/// The sentence for forwarded hellos whose ALPN extension is gone: every protocol the client
/// offered in them, in order of first appearance.
fn stripped_extension(indexes: &[usize], pairs: &[Pair]) -> String {
    let mut removed: Vec<String> = Vec::new();
    for pair in indexes.iter().filter_map(|i| pairs.get(*i)) {
        for protocol in &pair.a.alpn_offered {
            if !removed.contains(protocol) {
                removed.push(protocol.clone());
            }
        }
    }
    format!(
        "the ClientHello leaving the middlebox lacks {}, which the client offered: the \
         middlebox strips ALPN (the same hello, with the same random, in both captures, without \
         its ALPN extension: the server never sees the client's offer)",
        list(&removed)
    )
}

/// "A" or "B".
fn side_name(side: CaptureSide) -> &'static str {
    match side {
        CaptureSide::A => "A",
        CaptureSide::B => "B",
    }
}

/// A protocol list in words: "h2", "h2 and http/1.1", "h2, spdy/3 and http/1.1".
fn list(protocols: &[String]) -> String {
    match protocols {
        [] => "no protocol".to_string(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A selection in words.
fn selection(protocol: &Option<String>) -> String {
    protocol
        .clone()
        .unwrap_or_else(|| "no protocol".to_string())
}

/// The finding kind, grouping key and sentence for one change of a pair matched `matched`.
fn describe(change: &Change, matched: MatchKind) -> (CompareFindingKind, String, String) {
    let forwarded = matched == MatchKind::Hello;
    match change {
        Change::AlpnRemoved {
            extension_removed: true,
            ..
        } if forwarded => (
            CompareFindingKind::MiddleboxStripsAlpn,
            STRIPPED_EXTENSION.to_string(),
            // Written once the group is known: it names every protocol removed.
            String::new(),
        ),
        Change::AlpnRemoved { protocols, .. } if forwarded => (
            CompareFindingKind::MiddleboxStripsAlpn,
            format!("{protocols:?}"),
            format!(
                "the ClientHello leaving the middlebox lacks {}, which the client offered \
                 (the same hello, with the same random, in both captures): the middlebox \
                 strips ALPN",
                list(protocols)
            ),
        ),
        Change::AlpnReplaced { removed, added } if forwarded => (
            CompareFindingKind::MiddleboxStripsAlpn,
            format!("{removed:?} {added:?}"),
            format!(
                "the ClientHello leaving the middlebox lacks {}, which the client offered, and \
                 offers {} instead (the same hello, with the same random, in both captures): \
                 the middlebox rewrites ALPN",
                list(removed),
                list(added)
            ),
        ),
        Change::AlpnRemoved { protocols, .. } => (
            CompareFindingKind::MiddleboxOffersLess,
            format!("{protocols:?}"),
            format!(
                "the middlebox's own ClientHello to the server lacks {}, which the client \
                 offered: the middlebox terminates TLS and does not offer {} on its \
                 server-side connection",
                list(protocols),
                if protocols.len() == 1 { "it" } else { "them" }
            ),
        ),
        Change::AlpnReplaced { removed, added } => (
            CompareFindingKind::MiddleboxOffersLess,
            format!("{removed:?} {added:?}"),
            format!(
                "the middlebox's own ClientHello to the server offers {} where the client \
                 offered {}: the middlebox terminates TLS and offers other protocols on its \
                 server-side connection",
                list(added),
                list(removed)
            ),
        ),
        Change::AlpnAdded { protocols } => (
            CompareFindingKind::MiddleboxAddsAlpn,
            format!("{protocols:?}"),
            format!(
                "the ClientHello leaving the middlebox offers {}, which the client did not",
                list(protocols)
            ),
        ),
        Change::AlpnReordered { a, b } => (
            CompareFindingKind::MiddleboxReordersAlpn,
            format!("{a:?} {b:?}"),
            format!(
                "the ClientHello leaving the middlebox lists the client's protocols in another \
                 order: {} became {}",
                a.join(", "),
                b.join(", ")
            ),
        ),
        Change::SelectedDiffers { a, b } => (
            CompareFindingKind::LegsNegotiateDifferently,
            format!("{a:?} {b:?}"),
            format!(
                "the backend leg negotiates {} while the client leg negotiates {}",
                selection(b),
                selection(a)
            ),
        ),
        Change::IssuerDiffers { a, b } => (
            CompareFindingKind::CertificateIssuerDiffers,
            format!("{a:?} {b:?}"),
            format!(
                "the client leg's server certificate is issued by \"{a}\", the backend \
                 leg's by \"{b}\": the middlebox intercepts TLS with its own certificate"
            ),
        ),
        Change::SniChanged { a, b } => (
            CompareFindingKind::SniChanged,
            format!("{a:?} {b:?}"),
            format!(
                "the ClientHello leaving the middlebox names {} where the client named {}",
                b.as_deref().unwrap_or("no server"),
                a.as_deref().unwrap_or("no server")
            ),
        ),
        Change::ExtensionsChanged { removed, added } => (
            CompareFindingKind::HelloExtensionsChanged,
            format!("{removed:?} {added:?}"),
            format!(
                "the middlebox changes the forwarded ClientHello's extensions (removed: {}; \
                 added: {})",
                if removed.is_empty() {
                    "none".to_string()
                } else {
                    removed.join(", ")
                },
                if added.is_empty() {
                    "none".to_string()
                } else {
                    added.join(", ")
                }
            ),
        ),
    }
}

/// The frames a finding of `kind` cites in a flow: its hellos, and the decrypted
/// EncryptedExtensions or certificate when the finding is about them.
fn cited_frames(kind: CompareFindingKind, flow: &FlowReport, frames: &mut Vec<u64>) {
    if let Some(h) = &flow.client_hello {
        frames.extend(&h.frames);
    }
    if let Some(h) = &flow.server_hello {
        frames.extend(&h.frames);
    }
    match kind {
        CompareFindingKind::LegsNegotiateDifferently => {
            if let Some(ee) = &flow.encrypted_extensions {
                frames.extend(&ee.frames);
            }
        }
        CompareFindingKind::CertificateIssuerDiffers => {
            if let Some(certificate) = &flow.server_certificate {
                frames.extend(&certificate.frames);
            }
        }
        _ => {}
    }
}

/// A finding over the pairs `indexes` (ascending).
fn finding(
    kind: CompareFindingKind,
    detail: String,
    indexes: &[usize],
    pairs: &[Pair],
) -> CompareFinding {
    let mut detail = detail;
    let unsure = indexes
        .iter()
        .filter_map(|i| pairs.get(*i))
        .filter(|p| p.confidence == Confidence::Low)
        .count();
    if unsure > 0 && kind != CompareFindingKind::CannotCompare {
        // A pair matched by time among close candidates may join two different connections.
        detail.push_str(&format!(
            " ({} of {} matched by time with low confidence: other connections were as close; \
             check {} by hand)",
            unsure,
            plural(indexes.len() as u64, "pair"),
            if unsure == 1 { "it" } else { "them" }
        ));
    }
    let cited: Vec<usize> = indexes.iter().copied().take(MAX_CITED_PAIRS).collect();
    let (mut frames_a, mut frames_b) = (Vec::new(), Vec::new());
    for pair in cited.iter().filter_map(|i| pairs.get(*i)) {
        cited_frames(kind, &pair.a, &mut frames_a);
        cited_frames(kind, &pair.b, &mut frames_b);
    }
    for frames in [&mut frames_a, &mut frames_b] {
        frames.sort_unstable();
        frames.dedup();
    }
    CompareFinding {
        kind,
        detail,
        count: indexes.len(),
        pairs: cited,
        frames_a,
        frames_b,
    }
}

/// The finding about the flows of `side` without a counterpart, if any.
fn unpaired_finding(
    flows: &[FlowReport],
    side: CaptureSide,
    window_ms: f64,
) -> Option<CompareFinding> {
    if flows.is_empty() {
        return None;
    }
    let other = match side {
        CaptureSide::A => "B",
        CaptureSide::B => "A",
    };
    let without_hello = flows.iter().filter(|f| f.client_hello.is_none()).count();
    let mut detail = format!(
        "{} of capture {} {} no counterpart in capture {other} (no ClientHello there with the \
         same random, nor one with the same SNI up to {} ms {}): whether the middlebox passed \
         {} on is not in these captures",
        plural(flows.len() as u64, "flow"),
        side_name(side),
        if flows.len() == 1 { "has" } else { "have" },
        window_ms,
        match side {
            CaptureSide::A => "later",
            CaptureSide::B => "earlier",
        },
        if flows.len() == 1 { "it" } else { "them" },
    );
    if without_hello > 0 {
        detail.push_str(&format!(
            "; {without_hello} of them show no ClientHello (the capture cut or missed it, \
             or the flow is not TLS)"
        ));
    }
    let mut frames = Vec::new();
    for flow in flows.iter().take(MAX_CITED_PAIRS) {
        match &flow.client_hello {
            Some(h) => frames.extend(&h.frames),
            None => frames.push(flow.first_frame),
        }
    }
    frames.sort_unstable();
    frames.dedup();
    let (frames_a, frames_b) = match side {
        CaptureSide::A => (frames, Vec::new()),
        CaptureSide::B => (Vec::new(), frames),
    };
    Some(CompareFinding {
        kind: CompareFindingKind::CannotCompare,
        detail,
        count: flows.len(),
        pairs: Vec::new(),
        frames_a,
        frames_b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::files::{AnalyzeOptions, analyze_files};

    fn flow(fixture: &str) -> FlowReport {
        let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        analyze_files(&[path], &AnalyzeOptions::default(), &mut |_| {})
            .unwrap()
            .flows
            .remove(0)
    }

    fn pair(matched: MatchKind, changes: Vec<Change>, gaps: Vec<NotComparable>) -> Pair {
        let a = flow("compare-strip-alpn-client.pcap");
        Pair {
            b: a.clone(),
            a,
            matched,
            confidence: Confidence::High,
            hello_delay_ms: Some(0.2),
            changes,
            not_comparable: gaps,
        }
    }

    fn removed(protocols: &[&str], extension_removed: bool) -> Change {
        Change::AlpnRemoved {
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
            extension_removed,
        }
    }

    #[test]
    fn a_removal_blames_the_middlebox_by_how_the_pair_was_matched() {
        let pairs = [
            pair(MatchKind::Hello, vec![removed(&["h2"], false)], vec![]),
            pair(MatchKind::Timing, vec![removed(&["h2"], false)], vec![]),
        ];
        let found = findings(&pairs, &Unpaired::default(), 2000.0);
        let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.pairs.clone())).collect();
        assert_eq!(
            kinds,
            [
                (CompareFindingKind::MiddleboxStripsAlpn, vec![0]),
                (CompareFindingKind::MiddleboxOffersLess, vec![1]),
            ]
        );
        assert!(found[0].detail.starts_with(
            "the ClientHello leaving the middlebox lacks h2, which the client offered"
        ));
        assert_eq!(
            (found[0].frames_a.clone(), found[0].frames_b.clone()),
            (vec![4, 6], vec![4, 6])
        );
    }

    #[test]
    fn a_finding_over_low_confidence_pairs_says_so() {
        let mut unsure = pair(MatchKind::Timing, vec![removed(&["h2"], false)], vec![]);
        unsure.confidence = Confidence::Low;
        let pairs = [
            pair(MatchKind::Timing, vec![removed(&["h2"], false)], vec![]),
            unsure,
        ];
        let found = findings(&pairs, &Unpaired::default(), 2000.0);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].detail.ends_with(
                " (1 of 2 pairs matched by time with low confidence: other connections were as \
                 close; check it by hand)"
            ),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_cut_hello_blames_no_one() {
        let pairs = [pair(
            MatchKind::Hello,
            vec![],
            vec![NotComparable::OfferUnknown {
                side: CaptureSide::B,
            }],
        )];
        let found = findings(&pairs, &Unpaired::default(), 2000.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, CompareFindingKind::CannotCompare);
        assert_eq!(
            found[0].detail,
            "capture B cut the ClientHello before its ALPN extension: what the middlebox did to \
             the offer cannot be compared"
        );
    }

    #[test]
    fn findings_cite_a_bounded_number_of_pairs_and_count_them_all() {
        let pairs: Vec<Pair> = (0..25)
            .map(|_| {
                pair(
                    MatchKind::Hello,
                    vec![removed(&["h2", "http/1.1"], true)],
                    vec![],
                )
            })
            .collect();
        let found = findings(&pairs, &Unpaired::default(), 2000.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 25);
        assert_eq!(found[0].pairs, (0..MAX_CITED_PAIRS).collect::<Vec<_>>());
    }

    #[test]
    fn unpaired_flows_are_what_cannot_be_compared() {
        let unpaired = Unpaired {
            a: vec![flow("compare-strip-alpn-client.pcap")],
            b: vec![],
        };
        let found = findings(&[], &unpaired, 2000.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, CompareFindingKind::CannotCompare);
        assert_eq!(
            (found[0].frames_a.clone(), found[0].frames_b.clone()),
            (vec![4], vec![])
        );
        assert_eq!(
            found[0].detail,
            "1 flow of capture A has no counterpart in capture B (no ClientHello there with the \
             same random, nor one with the same SNI up to 2000 ms later): whether the middlebox \
             passed it on is not in these captures"
        );
    }
}
