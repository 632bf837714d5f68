//! The summary of a report: counts over its flows. Recomputed after filtering, so a filtered
//! report's summary describes exactly the flows it lists.

use super::model::{FlowReport, ServerSummary, Summary};
use crate::analysis::VerdictKind;
use std::collections::{BTreeMap, HashMap};

/// Counts over `flows` (TLS flows by verdict, by server, with loss) plus the non-TLS count.
pub fn summarize(flows: &[FlowReport], non_tls_flows: u64) -> Summary {
    let mut summary = Summary {
        non_tls_flows,
        ..Summary::default()
    };
    for kind in VerdictKind::ALL {
        if kind != VerdictKind::NotTls {
            summary.verdicts.insert(kind.name(), 0);
        }
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    for flow in flows {
        if flow.verdict == VerdictKind::NotTls {
            continue;
        }
        summary.tls_flows += 1;
        summary.handshake_loss_flows += u64::from(flow.tcp.handshake_loss);
        summary.loss_flows += u64::from(flow.tcp.handshake_loss || flow.tcp.flow_loss);
        summary.reset_flows += u64::from(!flow.tcp.resets.is_empty());
        *summary.verdicts.entry(flow.verdict.name()).or_default() += 1;
        let server = flow.server.to_string();
        let at = *index.entry(server.clone()).or_insert_with(|| {
            summary.servers.push(ServerSummary {
                server,
                endpoint: flow.server.clone(),
                sni: Vec::new(),
                flows: 0,
                verdicts: BTreeMap::new(),
            });
            summary.servers.len() - 1
        });
        let entry = &mut summary.servers[at];
        entry.flows += 1;
        *entry.verdicts.entry(flow.verdict.name()).or_default() += 1;
        if let Some(sni) = &flow.sni
            && !entry.sni.contains(sni)
        {
            entry.sni.push(sni.clone());
        }
    }
    summary
}
