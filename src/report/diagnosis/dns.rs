//! What DNS advertised against what the server negotiated: a flow whose name got a DNS HTTPS
//! answer earlier in the capture (`dns_advertised`, RFC 9460) that lists a protocol the client
//! offered, where the server did not give it —
//! - over TCP, the server selected another protocol or none (its ServerHello, or the decrypted
//!   EncryptedExtensions, shows it; a selection TLS 1.3 hid proves nothing and is left out);
//! - over QUIC, the client's Initials went unanswered although DNS advertised the h3 it offered.
//!
//! Clients that trust the record expect the protocol there: either the server or the record is
//! wrong. Bounded: the flows as [`Members`], at most [`MAX_RECORDS`] distinct answers and
//! [`MAX_DISTINCT`] outcomes.

use super::tally::{MAX_DISTINCT, Members};
use super::words::ids;
use super::{ServerFlows, diagnosis};
use crate::analysis::VerdictKind;
use crate::analysis::network::NetworkCause;
use crate::report::model::{Diagnosis, DiagnosisKind, FlowReport, Transport};
use std::collections::BTreeSet;

/// Most distinct DNS answers named in a conclusion's sentence.
pub const MAX_RECORDS: usize = 4;

/// One server's flows that did not get what DNS advertised.
#[derive(Debug, Default)]
pub(super) struct DnsTally {
    /// The flows, with their evidence frames and the DNS answer's frame.
    flows: Members,
    /// The answers: (frame, name, advertised alpn), the first [`MAX_RECORDS`] by frame.
    records: BTreeSet<(u64, String, String)>,
    /// What the clients offered that DNS advertised and the server did not give.
    missed: BTreeSet<String>,
    /// What the server did instead, in words.
    outcomes: BTreeSet<String>,
    /// Over QUIC (the Initials went unanswered).
    quic: bool,
}

/// The protocol DNS advertised for `flow` that the client offered and the server did not
/// give it, when the packets prove that.
fn missed(flow: &FlowReport) -> Option<&str> {
    let dns = flow.dns_advertised.as_ref()?;
    let listed = |p: &str| dns.alpn.iter().any(|a| a == p);
    match flow.transport {
        Transport::Quic => {
            let offered = flow.alpn_offered.iter().find(|p| listed(p))?;
            (flow.verdict == VerdictKind::Incomplete
                && flow.network_cause == Some(NetworkCause::QuicInitialsUnanswered))
            .then_some(offered.as_str())
        }
        Transport::Tcp => {
            if !matches!(
                flow.verdict,
                VerdictKind::Agreed
                    | VerdictKind::Downgraded
                    | VerdictKind::ServerDeclined
                    | VerdictKind::NoCommonProtocol
            ) {
                return None;
            }
            // RFC 9460 §7.1.1: without no-default-alpn, http/1.1 is advertised too; h3 and
            // its drafts are for QUIC, not for this TCP connection.
            let advertised = |p: &str| {
                (listed(p) && !p.starts_with("h3")) || (p == "http/1.1" && !dns.no_default_alpn)
            };
            let first = flow.alpn_offered.iter().find(|p| advertised(p))?;
            (flow.alpn_selected.as_deref() != Some(first.as_str())).then_some(first.as_str())
        }
    }
}

/// What the server did instead, in words.
fn outcome(flow: &FlowReport) -> String {
    match (flow.transport, flow.verdict, &flow.alpn_selected) {
        (Transport::Quic, _, _) => "no answer to the QUIC Initials".into(),
        (_, VerdictKind::NoCommonProtocol, _) => "alert no_application_protocol".into(),
        (_, _, Some(selected)) => selected.clone(),
        (_, _, None) => "no ALPN".into(),
    }
}

impl DnsTally {
    /// Adds `flow` when it did not get what DNS advertised.
    pub(super) fn add(&mut self, flow: &FlowReport) {
        let (Some(missed), Some(dns)) = (missed(flow), &flow.dns_advertised) else {
            return;
        };
        let mut frames = flow.evidence_frames.clone();
        frames.push(dns.frame);
        self.flows.add_evidence(flow.id, flow.capture, &frames);
        self.records
            .insert((dns.frame, dns.name.clone(), dns.alpn.join(", ")));
        while self.records.len() > MAX_RECORDS {
            self.records.pop_last();
        }
        if self.missed.len() < MAX_DISTINCT {
            self.missed.insert(missed.to_string());
        }
        if self.outcomes.len() < MAX_DISTINCT {
            self.outcomes.insert(outcome(flow));
        }
        self.quic |= flow.transport == Transport::Quic;
    }
}

/// The conclusion for one server, when some of its flows did not get what DNS advertised.
pub(super) fn dns_advertised(s: &ServerFlows) -> Option<Diagnosis> {
    let tally = s.tally.dns.as_deref()?;
    if tally.flows.count == 0 {
        return None;
    }
    let server = s.server;
    let answers: Vec<String> = tally
        .records
        .iter()
        .map(|(frame, name, alpn)| format!("{name} in frame {frame}: alpn {alpn}"))
        .collect();
    let missed: Vec<&str> = tally.missed.iter().map(String::as_str).collect();
    let missed = missed.join(", ");
    let outcomes: Vec<&str> = tally.outcomes.iter().map(String::as_str).collect();
    let conclusion = if tally.quic {
        format!(
            "DNS advertised {missed} but the server did not answer over QUIC: the DNS HTTPS answer ({}) lists {missed}, which the clients offered, and their QUIC Initials to {server} went unanswered ({}); UDP blocked on the path or nothing listening for QUIC on that port — the packets do not say which; clients that trust the record try QUIC first and wait before falling back: serve HTTP/3 there, or take {missed} out of the record's alpn",
            answers.join("; "),
            ids(&tally.flows)
        )
    } else {
        format!(
            "server-side: DNS advertised {missed} but {server} did not negotiate it: the DNS HTTPS answer ({}) lists {missed}, which the clients offered first among the advertised protocols, and the server answered with {} ({}); enable {missed} on the server, or take it out of the record's alpn",
            answers.join("; "),
            outcomes.join(" / "),
            ids(&tally.flows)
        )
    };
    Some(diagnosis(
        DiagnosisKind::DnsAdvertisedNotNegotiated,
        server,
        &tally.flows,
        conclusion,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::build::{FlowPlace, flow_report};
    use crate::report::model::DnsAdvertised;

    /// A TCP flow that offered `offered`, got `selected` with `verdict`, after a DNS answer
    /// advertising `alpn`.
    fn flow(
        alpn: &[&str],
        no_default_alpn: bool,
        offered: &[&str],
        selected: Option<&str>,
        verdict: VerdictKind,
    ) -> FlowReport {
        let facts = crate::analysis::FlowFacts::default();
        let place = FlowPlace {
            capture: 0,
            stream_base: 0,
        };
        let mut flow = flow_report(&facts, crate::analysis::judge(&facts), place);
        flow.transport = Transport::Tcp;
        flow.alpn_offered = offered.iter().map(|s| s.to_string()).collect();
        flow.alpn_selected = selected.map(str::to_string);
        flow.verdict = verdict;
        flow.dns_advertised = Some(Box::new(DnsAdvertised {
            name: "alpn.test".into(),
            alpn: alpn.iter().map(|s| s.to_string()).collect(),
            no_default_alpn,
            frame: 1,
            matched_by: crate::report::model::DnsMatch::Name,
        }));
        flow
    }

    /// DNS alpn, no-default-alpn, the client's offer, the selection, the verdict, and what
    /// [`missed`] should say.
    type Case<'a> = (
        &'a [&'a str],
        bool,
        &'a [&'a str],
        Option<&'a str>,
        VerdictKind,
        Option<&'a str>,
    );

    #[test]
    fn what_counts_as_not_getting_what_dns_advertised() {
        use VerdictKind::*;
        let h2_h1 = ["h2", "http/1.1"];
        let cases: [Case; 8] = [
            // The server gave the advertised protocol the client ranked first.
            (&["h3", "h2"], false, &h2_h1, Some("h2"), Agreed, None),
            // It did not: another one, none, or alert 120.
            (
                &["h3", "h2"],
                false,
                &h2_h1,
                Some("http/1.1"),
                Downgraded,
                Some("h2"),
            ),
            (&["h2"], false, &["h2"], None, ServerDeclined, Some("h2")),
            (&["h2"], false, &h2_h1, None, NoCommonProtocol, Some("h2")),
            // TLS 1.3 hid the selection: nothing is proven.
            (&["h2"], false, &h2_h1, None, Hidden, None),
            // Only h3 advertised: for TCP that leaves the default http/1.1, which it got.
            (&["h3"], false, &h2_h1, Some("http/1.1"), Downgraded, None),
            // no-default-alpn: http/1.1 is not advertised, h2 not offered.
            (&["h2"], true, &["http/1.1"], Some("http/1.1"), Agreed, None),
            // The client ranked the default http/1.1 first and got it.
            (
                &["h2"],
                false,
                &["http/1.1", "h2"],
                Some("http/1.1"),
                Agreed,
                None,
            ),
        ];
        for (alpn, no_default, offered, selected, verdict, expected) in cases {
            let f = flow(alpn, no_default, offered, selected, verdict);
            assert_eq!(missed(&f), expected, "{alpn:?} {offered:?} {selected:?}");
        }
    }

    #[test]
    fn quic_counts_only_unanswered_initials_offering_an_advertised_protocol() {
        let mut f = flow(&["h3"], true, &["h3"], None, VerdictKind::Incomplete);
        f.transport = Transport::Quic;
        assert_eq!(missed(&f), None, "no network cause");
        f.network_cause = Some(NetworkCause::QuicInitialsUnanswered);
        assert_eq!(missed(&f), Some("h3"));
        f.alpn_offered = vec!["doq".into()];
        assert_eq!(missed(&f), None, "h3 not offered");
    }

    #[test]
    fn a_flow_without_a_dns_answer_adds_nothing() {
        let mut f = flow(&["h2"], false, &["h2"], None, VerdictKind::ServerDeclined);
        f.dns_advertised = None;
        let mut tally = DnsTally::default();
        tally.add(&f);
        assert_eq!(tally.flows.count, 0);
    }
}
