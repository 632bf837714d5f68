//! Changes: what differs between the two legs of one pair, and what the captures do not let
//! compare. Pure functions of the two flow reports.
//!
//! Only what both captures show is compared: an offer the capture cut (a snaplen, a file cut
//! short) or a selection it does not show (no ServerHello, TLS 1.3 without a key log) is a
//! [`NotComparable`], never a change.

use super::model::{CaptureSide, Change, MatchKind, NotComparable};
use crate::analysis::VerdictKind;
use crate::report::model::FlowReport;

/// The ALPN extension type (RFC 7301 §3.1).
const ALPN_EXTENSION: u16 = 0x0010;

/// What differs between `a` and `b` (in the order of [`Change`]'s variants), and what cannot
/// be compared.
pub fn changes(
    a: &FlowReport,
    b: &FlowReport,
    matched: MatchKind,
) -> (Vec<Change>, Vec<NotComparable>) {
    let mut changes = Vec::new();
    let mut not_comparable = Vec::new();
    let offers_known =
        [(CaptureSide::A, a), (CaptureSide::B, b)]
            .into_iter()
            .fold(true, |known, (side, flow)| {
                if offer_known(flow) {
                    known
                } else {
                    not_comparable.push(NotComparable::OfferUnknown { side });
                    false
                }
            });
    if offers_known {
        changes.extend(offer_change(a, b));
    }
    let selections_known =
        [(CaptureSide::A, a), (CaptureSide::B, b)]
            .into_iter()
            .fold(true, |known, (side, flow)| {
                if selection_known(flow) {
                    known
                } else {
                    not_comparable.push(NotComparable::SelectionUnknown { side });
                    false
                }
            });
    if selections_known && a.alpn_selected != b.alpn_selected {
        changes.push(Change::SelectedDiffers {
            a: a.alpn_selected.clone(),
            b: b.alpn_selected.clone(),
        });
    }
    if offers_known && a.sni != b.sni {
        changes.push(Change::SniChanged {
            a: a.sni.clone(),
            b: b.sni.clone(),
        });
    }
    if let (Some(ca), Some(cb)) = (&a.server_certificate, &b.server_certificate)
        && ca.issuer != cb.issuer
    {
        changes.push(Change::IssuerDiffers {
            a: ca.issuer.clone(),
            b: cb.issuer.clone(),
        });
    }
    if matched == MatchKind::Hello && offers_known {
        changes.extend(extensions_change(a, b));
    }
    (changes, not_comparable)
}

/// True when the flow's ClientHello was seen whole enough to read its ALPN offer.
fn offer_known(flow: &FlowReport) -> bool {
    flow.client_hello.is_some() && !flow.offer_unknown()
}

/// True when the packets show which protocol (or none) the server selected.
fn selection_known(flow: &FlowReport) -> bool {
    flow.alpn_selected.is_some()
        || (flow.server_hello.as_ref().is_some_and(|h| h.cut.is_none())
            && flow.verdict != VerdictKind::Hidden)
}

/// The ALPN extension's change from A's ClientHello to B's, if any.
fn offer_change(a: &FlowReport, b: &FlowReport) -> Option<Change> {
    let removed: Vec<String> = a
        .alpn_offered
        .iter()
        .filter(|p| !b.alpn_offered.contains(p))
        .cloned()
        .collect();
    let added: Vec<String> = b
        .alpn_offered
        .iter()
        .filter(|p| !a.alpn_offered.contains(p))
        .cloned()
        .collect();
    match (removed.is_empty(), added.is_empty()) {
        (false, true) => Some(Change::AlpnRemoved {
            protocols: removed,
            extension_removed: has_alpn_extension(a) && !has_alpn_extension(b),
        }),
        (true, false) => Some(Change::AlpnAdded { protocols: added }),
        (false, false) => Some(Change::AlpnReplaced { removed, added }),
        (true, true) if a.alpn_offered != b.alpn_offered => Some(Change::AlpnReordered {
            a: a.alpn_offered.clone(),
            b: b.alpn_offered.clone(),
        }),
        (true, true) => None,
    }
}

/// True when the flow's ClientHello carries an ALPN extension.
fn has_alpn_extension(flow: &FlowReport) -> bool {
    flow.client_hello
        .as_ref()
        .is_some_and(|h| h.extensions.0.contains(&ALPN_EXTENSION))
}

/// The change in a forwarded hello's extension types other than ALPN, if any.
fn extensions_change(a: &FlowReport, b: &FlowReport) -> Option<Change> {
    let (Some(ha), Some(hb)) = (&a.client_hello, &b.client_hello) else {
        return None;
    };
    let only_in = |x: &[u16], y: &[u16]| -> Vec<String> {
        x.iter()
            .filter(|t| **t != ALPN_EXTENSION && !y.contains(t))
            .map(|t| format!("{t:04x}"))
            .collect()
    };
    let removed = only_in(&ha.extensions.0, &hb.extensions.0);
    let added = only_in(&hb.extensions.0, &ha.extensions.0);
    (!removed.is_empty() || !added.is_empty())
        .then_some(Change::ExtensionsChanged { removed, added })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::files::{AnalyzeOptions, analyze_files};
    use crate::report::model::{CertificateReport, CutReport};

    /// The flows of a fixture.
    fn flows(fixture: &str) -> Vec<FlowReport> {
        let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        analyze_files(&[path], &AnalyzeOptions::default(), &mut |_| {})
            .unwrap()
            .flows
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_forwarded_hello_without_its_alpn_extension_is_a_removal() {
        let a = flows("compare-strip-alpn-client.pcap");
        let b = flows("compare-strip-alpn-server.pcap");
        let (changes, gaps) = changes(&a[0], &b[0], MatchKind::Hello);
        assert_eq!(
            changes,
            [Change::AlpnRemoved {
                protocols: strings(&["h2", "http/1.1"]),
                extension_removed: true
            }]
        );
        assert!(gaps.is_empty());
    }

    #[test]
    fn list_edits_are_named_by_what_changed() {
        let a = flows("compare-forward-client.pcap").remove(0);
        let with = |offer: &[&str]| FlowReport {
            alpn_offered: strings(offer),
            ..a.clone()
        };
        let offer_change = |b: &FlowReport| changes(&a, b, MatchKind::Timing).0;
        assert_eq!(offer_change(&with(&["h2", "http/1.1"])), []);
        assert_eq!(
            offer_change(&with(&["http/1.1"])),
            [Change::AlpnRemoved {
                protocols: strings(&["h2"]),
                extension_removed: false
            }]
        );
        assert_eq!(
            offer_change(&with(&["h2", "http/1.1", "h3"])),
            [Change::AlpnAdded {
                protocols: strings(&["h3"])
            }]
        );
        assert_eq!(
            offer_change(&with(&["spdy/3.1", "http/1.1"])),
            [Change::AlpnReplaced {
                removed: strings(&["h2"]),
                added: strings(&["spdy/3.1"])
            }]
        );
        assert_eq!(
            offer_change(&with(&["http/1.1", "h2"])),
            [Change::AlpnReordered {
                a: strings(&["h2", "http/1.1"]),
                b: strings(&["http/1.1", "h2"])
            }]
        );
    }

    #[test]
    fn selection_sni_and_issuer_differences() {
        let a = flows("compare-forward-client.pcap").remove(0);
        let certificate = |issuer: &str| CertificateReport {
            subject: "CN=alpn.test".into(),
            issuer: issuer.into(),
            san: vec![],
            frames: vec![7],
        };
        let a = FlowReport {
            server_certificate: Some(Box::new(certificate("CN=Real CA"))),
            ..a
        };
        let b = FlowReport {
            alpn_selected: Some("http/1.1".into()),
            sni: Some("backend.test".into()),
            server_certificate: Some(Box::new(certificate("CN=Proxy CA"))),
            ..a.clone()
        };
        assert_eq!(
            changes(&a, &b, MatchKind::Timing).0,
            [
                Change::SelectedDiffers {
                    a: Some("h2".into()),
                    b: Some("http/1.1".into())
                },
                Change::SniChanged {
                    a: Some("alpn.test".into()),
                    b: Some("backend.test".into())
                },
                Change::IssuerDiffers {
                    a: "CN=Real CA".into(),
                    b: "CN=Proxy CA".into()
                },
            ]
        );
    }

    #[test]
    fn a_cut_hello_or_a_hidden_selection_is_not_compared() {
        let a = flows("compare-strip-alpn-client.pcap").remove(0);
        let mut cut = a.clone();
        cut.alpn_offered.clear();
        cut.sni = None;
        if let Some(h) = cut.client_hello.as_mut() {
            h.cut = Some(CutReport {
                captured: 40,
                length: 512,
            });
        }
        // No removal, no SNI change: the capture, not the middlebox, lost them.
        assert_eq!(
            changes(&a, &cut, MatchKind::Hello),
            (
                vec![],
                vec![NotComparable::OfferUnknown {
                    side: CaptureSide::B
                }]
            )
        );
        let hidden = FlowReport {
            verdict: VerdictKind::Hidden,
            alpn_selected: None,
            ..a.clone()
        };
        let selected = FlowReport {
            alpn_selected: Some("h2".into()),
            ..a.clone()
        };
        assert_eq!(
            changes(&hidden, &selected, MatchKind::Hello),
            (
                vec![],
                vec![NotComparable::SelectionUnknown {
                    side: CaptureSide::A
                }]
            )
        );
    }
}
