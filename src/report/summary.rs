//! The summary of a report: counts over its flows, gathered one flow at a time
//! ([`SummaryTally`]) so that a report can stream its flows. Recomputed after filtering, so a
//! filtered report's summary describes exactly the flows it lists. Servers are told apart by
//! address, port and transport: QUIC and TCP on one address and port are two rows.
//!
//! Caps: [`MAX_SUMMARY_SERVERS`] servers listed (flows to later servers are counted in the
//! totals and in `servers_omitted`), [`MAX_SERVER_SNI`] SNI values per server.

use super::model::{EndpointReport, FlowReport, ServerSummary, Summary, Transport};
use crate::analysis::VerdictKind;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// Most servers listed in the summary, in order of first flow.
pub const MAX_SUMMARY_SERVERS: usize = 16_384;
/// Most SNI values listed per server.
pub const MAX_SERVER_SNI: usize = 64;

/// Counts over `flows` (TLS flows by verdict, by server, with loss) plus the non-TLS count.
pub fn summarize(flows: &[FlowReport], non_tls_flows: u64) -> Summary {
    let mut tally = SummaryTally::default();
    for flow in flows {
        tally.add(flow);
    }
    tally.summary(non_tls_flows)
}

/// The summary's counts, gathered flow by flow in any order.
#[derive(Debug, Default)]
pub struct SummaryTally {
    /// Everything but the servers and the non-TLS count.
    totals: Summary,
    /// The listed servers, by endpoint and transport.
    /// Seeded at random: each flow's server is looked up, and its key comes from the capture
    /// (see [`crate::flow::FlowKeyHasher`]).
    servers: HashMap<(EndpointReport, Transport), ServerTally, crate::flow::FlowKeyHasher>,
}

/// One listed server.
#[derive(Debug)]
struct ServerTally {
    /// The smallest id of its flows.
    first: u64,
    /// Its counts (SNI values aside).
    counts: ServerSummary,
    /// Its SNI values, each with the smallest id that asked for it.
    sni: Vec<(u64, String)>,
}

impl SummaryTally {
    /// Adds one flow of the report.
    pub fn add(&mut self, flow: &FlowReport) {
        if flow.verdict == VerdictKind::NotTls {
            return;
        }
        let totals = &mut self.totals;
        // A refused plaintext start is listed (its verdict says why) but carried no TLS.
        if flow.starttls.as_ref().is_some_and(|s| s.without_tls()) {
            totals.starttls_refused_flows += 1;
            return;
        }
        totals.tls_flows += 1;
        totals.quic_flows += u64::from(flow.transport == Transport::Quic);
        totals.handshake_loss_flows += u64::from(flow.handshake_loss());
        totals.loss_flows +=
            u64::from(flow.handshake_loss() || flow.tcp.as_ref().is_some_and(|t| t.flow_loss));
        totals.reset_flows += u64::from(!flow.resets().is_empty());
        *totals.verdicts.entry(flow.verdict.name()).or_default() += 1;
        let full = self.servers.len() >= MAX_SUMMARY_SERVERS;
        let server = match self.servers.entry((flow.server.clone(), flow.transport)) {
            Entry::Occupied(server) => server.into_mut(),
            Entry::Vacant(_) if full => {
                totals.servers_omitted += 1;
                return;
            }
            Entry::Vacant(entry) => entry.insert(ServerTally {
                first: flow.id,
                counts: ServerSummary {
                    server: flow.server.to_string(),
                    transport: flow.transport,
                    endpoint: flow.server.clone(),
                    sni: Vec::new(),
                    flows: 0,
                    verdicts: BTreeMap::new(),
                },
                sni: Vec::new(),
            }),
        };
        server.first = server.first.min(flow.id);
        server.counts.flows += 1;
        *server
            .counts
            .verdicts
            .entry(flow.verdict.name())
            .or_default() += 1;
        if let Some(sni) = &flow.sni {
            if let Some(at) = server.sni.iter_mut().find(|(_, s)| s == sni) {
                at.0 = at.0.min(flow.id);
            } else if server.sni.len() < MAX_SERVER_SNI {
                server.sni.push((flow.id, sni.clone()));
            }
        }
    }

    /// The summary, with `non_tls_flows` TCP flows without TLS.
    pub fn summary(&self, non_tls_flows: u64) -> Summary {
        let mut summary = Summary {
            non_tls_flows,
            ..self.totals.clone()
        };
        for kind in VerdictKind::ALL {
            if kind != VerdictKind::NotTls {
                summary.verdicts.entry(kind.name()).or_insert(0);
            }
        }
        let mut servers: Vec<&ServerTally> = self.servers.values().collect();
        servers.sort_by_key(|server| server.first);
        summary.servers = servers
            .into_iter()
            .map(|server| {
                let mut sni: Vec<&(u64, String)> = server.sni.iter().collect();
                sni.sort_by_key(|(first, _)| *first);
                ServerSummary {
                    sni: sni.into_iter().map(|(_, s)| s.clone()).collect(),
                    ..server.counts.clone()
                }
            })
            .collect();
        summary
    }
}
