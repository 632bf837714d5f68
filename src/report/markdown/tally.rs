//! What the Markdown report shows of its flows, gathered one flow at a time and bounded whatever
//! their number: the problem flows by group (a few examples whole, the next ids, tallies of SNI
//! and offers), the flows whose handshake lost packets (the first rows whole), and per server
//! the protocols agreed and the captures it appears in. Flows may arrive in any order: every
//! "first" is by flow id.
//!
//! Caps: [`MAX_GROUPS`] groups of problem flows (later ones are counted), [`MAX_TALLIED`]
//! distinct SNI values and offers per group, [`MAX_SERVER_VALUES`] protocols and captures per
//! server, as many servers as the summary lists.

use super::{GROUP_EXAMPLES, LISTED_IDS};
use crate::analysis::VerdictKind;
use crate::report::model::{EndpointReport, FlowReport, Transport};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Groups of problem flows shown (in order of first flow); flows of later groups are counted.
pub const MAX_GROUPS: usize = 256;
/// Distinct SNI values (or offers) tallied per group.
pub const MAX_TALLIED: usize = 256;
/// Protocols agreed, and captures, listed per server.
pub const MAX_SERVER_VALUES: usize = 64;
/// Rows of the table of lossy flows before the rest are only listed by id.
pub const LOSSY_ROWS: usize = 20;

/// The `n` flows with the smallest ids, whole, ascending.
#[derive(Debug, Default)]
pub(super) struct SmallestFlows {
    pub flows: Vec<FlowReport>,
}

impl SmallestFlows {
    /// Keeps `flow` if it is among the `cap` smallest ids.
    fn offer(&mut self, flow: &FlowReport, cap: usize) {
        let at = self.flows.partition_point(|f| f.id < flow.id);
        if at < cap {
            self.flows.insert(at, flow.clone());
            self.flows.truncate(cap);
        }
    }
}

/// Distinct values with their counts, each with the smallest id that had it.
#[derive(Debug, Default)]
pub(super) struct Tally {
    values: Vec<(String, u64, usize)>,
    index: HashMap<String, usize>,
}

impl Tally {
    pub(super) fn add(&mut self, value: String, id: u64) {
        if let Some(&at) = self.index.get(&value) {
            let entry = &mut self.values[at];
            entry.1 = entry.1.min(id);
            entry.2 += 1;
        } else if self.values.len() < MAX_TALLIED {
            self.index.insert(value.clone(), self.values.len());
            self.values.push((value, id, 1));
        }
    }

    /// The values and counts, most frequent first, ties in order of first flow.
    pub fn ranked(&self) -> Vec<(&str, usize)> {
        let mut values: Vec<&(String, u64, usize)> = self.values.iter().collect();
        values.sort_by_key(|(_, first, _)| *first);
        values.sort_by_key(|(_, _, n)| std::cmp::Reverse(*n));
        values
            .into_iter()
            .map(|(v, _, n)| (v.as_str(), *n))
            .collect()
    }
}

/// Problem flows of one capture and server (address, port and transport) with one verdict.
#[derive(Debug)]
pub(super) struct ProblemGroup {
    pub capture: usize,
    pub server: EndpointReport,
    pub transport: Transport,
    pub verdict: VerdictKind,
    /// The smallest id.
    pub first: u64,
    /// Flows in the group.
    pub count: u64,
    /// The [`GROUP_EXAMPLES`] flows with the smallest ids, whole.
    pub examples: SmallestFlows,
    /// The smallest ids, ascending: the examples' and the next [`LISTED_IDS`].
    pub ids: Vec<u64>,
    /// SNI values (in code, or "none").
    pub sni: Tally,
    /// Offers (in code, or "none").
    pub offers: Tally,
}

/// A server's extras for the summary table.
#[derive(Debug, Default)]
pub(super) struct ServerExtras {
    /// Protocols of its agreed or downgraded flows, as shown.
    pub agreed: BTreeSet<String>,
    /// The captures its flows are in.
    pub captures: BTreeSet<usize>,
}

/// Everything the Markdown report needs of the flows.
#[derive(Debug, Default)]
pub struct MarkdownTally {
    /// Problem flows.
    pub(super) problems: u64,
    /// Flows with gaps the capture left in their handshake.
    pub(super) gap_flows: u64,
    /// The flows whose handshake lost packets with the smallest ids, whole.
    pub(super) lossy: SmallestFlows,
    /// Flows whose handshake lost packets.
    pub(super) lossy_count: u64,
    /// The shown groups of problem flows.
    pub(super) groups: HashMap<GroupKey, ProblemGroup>,
    /// Groups beyond [`MAX_GROUPS`] (their keys, up to a bound) and their flows.
    pub(super) other_groups: HashSet<GroupKey>,
    pub(super) other_group_flows: u64,
    /// Per server endpoint and transport, for the summary table.
    pub(super) servers: HashMap<(EndpointReport, Transport), ServerExtras>,
}

/// What tells groups of problem flows apart: capture, server, transport, verdict.
pub(super) type GroupKey = (usize, EndpointReport, Transport, VerdictKind);

/// Most servers whose extras are kept (the summary lists at most as many).
const MAX_SERVERS_TRACKED: usize = crate::report::summary::MAX_SUMMARY_SERVERS;

impl MarkdownTally {
    /// Adds one flow of the report.
    pub fn add(&mut self, flow: &FlowReport) {
        if flow.has_capture_gaps() {
            self.gap_flows += 1;
        }
        if flow.handshake_loss() {
            self.lossy_count += 1;
            self.lossy.offer(flow, LOSSY_ROWS + LISTED_IDS);
        }
        self.note_server(flow);
        if flow.verdict.is_problem() {
            self.problems += 1;
            self.add_problem(flow);
        }
    }

    fn note_server(&mut self, flow: &FlowReport) {
        let key = (flow.server.clone(), flow.transport);
        if !self.servers.contains_key(&key) && self.servers.len() >= MAX_SERVERS_TRACKED {
            return;
        }
        let extras = self.servers.entry(key).or_default();
        if matches!(flow.verdict, VerdictKind::Agreed | VerdictKind::Downgraded)
            && let Some(selected) = &flow.alpn_selected
            && extras.agreed.len() < MAX_SERVER_VALUES
        {
            extras.agreed.insert(super::code(selected));
        }
        if extras.captures.len() < MAX_SERVER_VALUES {
            extras.captures.insert(flow.capture);
        }
    }

    fn add_problem(&mut self, flow: &FlowReport) {
        let key = (
            flow.capture,
            flow.server.clone(),
            flow.transport,
            flow.verdict,
        );
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            if self.other_groups.len() < MAX_SERVERS_TRACKED {
                self.other_groups.insert(key);
            }
            self.other_group_flows += 1;
            return;
        }
        let group = self.groups.entry(key).or_insert_with(|| ProblemGroup {
            capture: flow.capture,
            server: flow.server.clone(),
            transport: flow.transport,
            verdict: flow.verdict,
            first: flow.id,
            count: 0,
            examples: SmallestFlows::default(),
            ids: Vec::new(),
            sni: Tally::default(),
            offers: Tally::default(),
        });
        group.first = group.first.min(flow.id);
        group.count += 1;
        group.examples.offer(flow, GROUP_EXAMPLES);
        if let Err(at) = group.ids.binary_search(&flow.id)
            && at < GROUP_EXAMPLES + LISTED_IDS
        {
            group.ids.insert(at, flow.id);
            group.ids.truncate(GROUP_EXAMPLES + LISTED_IDS);
        }
        let sni = flow
            .sni
            .as_deref()
            .map(super::code)
            .unwrap_or_else(|| "none".into());
        group.sni.add(sni, flow.id);
        let offer = if flow.offer_unknown() {
            "unknown (ClientHello cut short)".into()
        } else if flow.alpn_offered.is_empty() {
            "none".into()
        } else {
            super::code(&flow.alpn_offered.join(","))
        };
        group.offers.add(offer, flow.id);
    }

    /// The shown groups in order of first flow.
    pub(super) fn groups(&self) -> Vec<&ProblemGroup> {
        let mut groups: Vec<&ProblemGroup> = self.groups.values().collect();
        groups.sort_by_key(|g| g.first);
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::files::{AnalyzeOptions, analyze_files};
    use crate::report::model::Report;

    fn report_of(fixture: &str) -> Report {
        let path = format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        analyze_files(&[path], &AnalyzeOptions::default(), &mut |_| {}).unwrap()
    }

    fn markdown(report: &Report) -> String {
        let mut out = Vec::new();
        super::super::render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn flows_in_any_order_render_the_same() {
        for fixture in [
            "diagnosis-clients.pcap",
            "many-flows.pcap",
            "loss-server-hello.pcap",
        ] {
            let report = report_of(fixture);
            let mut reversed = report.clone();
            reversed.flows.reverse();
            assert_eq!(markdown(&reversed), markdown(&report), "{fixture}");
        }
    }

    #[test]
    fn groups_beyond_the_cap_are_counted() {
        let report = report_of("tls12-server-no-alpn.pcap");
        let one = report.flows[0].clone();
        let mut tally = MarkdownTally::default();
        for id in 0..(MAX_GROUPS as u64 + 10) {
            let mut flow = FlowReport { id, ..one.clone() };
            flow.server.port = 1000 + id as u16;
            tally.add(&flow);
        }
        assert_eq!(tally.groups().len(), MAX_GROUPS);
        assert_eq!(tally.other_groups.len(), 10);
        assert_eq!(tally.other_group_flows, 10);
        let mut out = Vec::new();
        super::super::render_tallied(&report, &tally, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("Not shown: 10 more problem flows in 10 more groups (only the first 256 groups are shown)"),
            "{text}"
        );
    }

    /// Problem flows to one address and port over TCP and over QUIC are two groups, each
    /// headed by its own server.
    #[test]
    fn groups_keep_transports_apart() {
        let report = report_of("tls12-server-no-alpn.pcap");
        let one = report.flows[0].clone();
        let mut tally = MarkdownTally::default();
        for id in 0..8 {
            let transport = if id % 2 == 0 {
                Transport::Tcp
            } else {
                Transport::Quic
            };
            tally.add(&FlowReport {
                id,
                transport,
                ..one.clone()
            });
        }
        let groups: Vec<(Transport, u64, u64)> = tally
            .groups()
            .iter()
            .map(|g| (g.transport, g.first, g.count))
            .collect();
        assert_eq!(groups, [(Transport::Tcp, 0, 4), (Transport::Quic, 1, 4)]);
        let mut out = Vec::new();
        super::super::render_tallied(&report, &tally, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("### ")).collect();
        let server = &one.server;
        let verdict = one.verdict;
        assert_eq!(
            headings,
            [
                format!("### 4 flows: `{verdict}` — server {server}"),
                format!("### 4 flows: `{verdict}` — server {server} over QUIC"),
            ]
        );
    }
}
