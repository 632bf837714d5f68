//! Conclusions across flows, as an experienced engineer would draw them. A server is an address
//! and port (for a proxied flow: the proxy and the target asked of it) plus the SNI asked for, so
//! two servers on two ports with one name are two servers: for each, what all of its flows say
//! together — a server without ALPN (or answering with NPN instead) or without h2, clients that
//! offer different protocols or rank http/1.1 above h2, the network, or a server bug. Two
//! conclusions compare one name across addresses and paths instead (the SNI and the port the
//! client asked for): a path through a proxy, and an interceptor's certificates. Each conclusion
//! is one sentence with the flows and frames behind it.
//!
//! Where a client's QUIC Initials went unanswered and it then connected over TCP to the same
//! server, HTTP/3 failed and it fell back (`fallback`).
//!
//! A QUIC listener and a TCP listener on one address and port are two servers (`keys`); where
//! both were reached, two conclusions compare them: the client fell back from QUIC to TCP
//! (`fallback`), and one transport gets a protocol selected while the other does not.
//!
//! The flows are gathered one at a time into a [`DiagnosisTally`] (`tally`), bounded per server
//! whatever their number, so a report can stream its flows and still draw conclusions over all
//! of them. Here: the grouping of servers into services and the order of the conclusions;
//! `keys` tells servers and services apart, `findings` draws each conclusion, `words` writes
//! the pieces of its sentence.

mod dns;
mod fallback;
mod findings;
mod keys;
mod tally;
mod words;

pub use fallback::{MAX_FALLBACK_CLIENTS, MAX_FALLBACK_FLOWS};
pub use tally::{
    DiagnosisTally, MAX_DIAGNOSED_SERVERS, MAX_DIAGNOSIS_FLOWS, MAX_DISTINCT, MAX_EVIDENCE_FRAMES,
};
pub use words::{OLD_OPENSSL, SERVER_FIXES};

use super::model::{Diagnosis, DiagnosisKind, EndpointReport, FlowReport, Transport};
use findings::{
    client_prefers_http1, h2_forbidden_cipher, interception, needs_keys, network_failures,
    no_common_protocol, path_dependent, server_bug, server_npn_only, server_without_alpn,
    server_without_h2, transports_differ, turned_down_by_some,
};
use keys::{ServerKey, ServiceKey};
use tally::{Group, Members, ServerTally};
use words::ids;

/// Draws the conclusions for `flows` (see [`DiagnosisTally::conclusions`]).
pub fn diagnose(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let mut tally = DiagnosisTally::default();
    for flow in flows {
        tally.add(flow);
    }
    tally.conclusions()
}

impl DiagnosisTally {
    /// Draws the conclusions: for each name and port of the TLS flows in order of first flow,
    /// the comparisons across its addresses and paths, then each of its servers in order of
    /// first flow; last, the TLS ports that clients sent plain HTTP to.
    pub fn conclusions(&self) -> Vec<Diagnosis> {
        let mut servers: Vec<(&ServerKey, &ServerTally)> = self.servers.iter().collect();
        servers.sort_by_key(|(_, tally)| tally.first);
        // Services in order of first flow: the first server of each comes first.
        let mut services: Vec<(ServiceKey, Vec<(&ServerKey, &ServerTally)>)> = Vec::new();
        let mut index: std::collections::HashMap<ServiceKey, usize> =
            std::collections::HashMap::new();
        for (key, tally) in servers {
            let service = key.service();
            let at = *index.entry(service.clone()).or_insert_with(|| {
                services.push((service, Vec::new()));
                services.len() - 1
            });
            services[at].1.push((key, tally));
        }
        let mut out = Vec::new();
        for (service, group) in &services {
            // With a flow filter, only what concerns a server of a kept flow (drawn from all
            // of its flows).
            if !group.iter().any(|(key, _)| self.gives(key)) {
                continue;
            }
            let name = service.to_string();
            out.extend(interception(&name, group));
            out.extend(path_dependent(&name, group));
            for (key, tally) in group {
                if !self.gives(key) {
                    continue;
                }
                // A place reached over QUIC and over TCP: what the two say together, before
                // the TCP server's own conclusions.
                if key.transport() == Transport::Tcp
                    && let Some(quic) = self.servers.get(&key.over(Transport::Quic))
                {
                    out.extend(fallback::quic_fallback(&key.to_string(), quic, tally));
                    out.extend(transports_differ(&key.to_string(), quic, tally));
                }
                diagnose_server(&key.to_string(), tally, &mut out);
            }
        }
        out.extend(self.plain_http());
        out
    }

    /// Client side: clients sent plain HTTP to a TLS port (`not_tls` flows the pipeline lists
    /// for that reason); one conclusion per server address and port, in order of first flow.
    fn plain_http(&self) -> Vec<Diagnosis> {
        let mut servers: Vec<(&EndpointReport, &(u64, Members))> = self.plain_http.iter().collect();
        servers.sort_by_key(|(_, (first, _))| *first);
        servers
            .into_iter()
            .filter(|(server, _)| self.gives_plain_http(server))
            .map(|(server, (_, group))| {
                diagnosis(
                    DiagnosisKind::ClientSide,
                    &server.to_string(),
                    group,
                    format!(
                        "client-side: clients sent plain HTTP to the TLS port {server} ({}): use https:// for this port",
                        ids(group)
                    ),
                )
            })
            .collect()
    }
}

/// One conclusion about `server`, backed by `flows` and their evidence frames.
fn diagnosis(kind: DiagnosisKind, server: &str, flows: &Members, conclusion: String) -> Diagnosis {
    Diagnosis {
        kind,
        server: server.to_string(),
        conclusion,
        flows: flows.ids.clone(),
        flows_omitted: flows.count.saturating_sub(flows.ids.len() as u64),
        evidence_frames: flows.frames.clone(),
        evidence_by_capture: {
            let mut by_capture = flows.frames_by_capture.clone();
            by_capture.sort_by_key(|(capture, _)| *capture);
            by_capture
        },
    }
}

/// One server's TLS flows, all of them and grouped by verdict.
struct ServerFlows<'a> {
    /// The server's name (`alpn.test (127.0.0.1:8443)`, else address and port).
    server: &'a str,
    /// Every TLS flow to the server.
    all: &'a Members,
    /// Flows where the server selected an offered protocol: agreed or downgraded.
    negotiated: &'a Members,
    declined: &'a Members,
    unoffered: &'a Members,
    no_common: &'a Members,
    hidden: &'a Members,
    /// Hidden flows whose ServerHello the capture cut short.
    hidden_cut: &'a Members,
    /// Incomplete on a network cause the packets prove.
    network: &'a Members,
    /// Downgraded although h2 was offered above the selection.
    passed_over_h2: &'a Members,
    tally: &'a ServerTally,
}

/// Draws the conclusions for one server, network first: failures explained by loss or resets
/// are not configuration.
fn diagnose_server(server: &str, tally: &ServerTally, out: &mut Vec<Diagnosis>) {
    let s = ServerFlows {
        server,
        all: &tally.all,
        negotiated: tally.group(Group::Negotiated),
        declined: tally.group(Group::Declined),
        unoffered: tally.group(Group::Unoffered),
        no_common: tally.group(Group::NoCommon),
        hidden: tally.group(Group::Hidden),
        hidden_cut: tally.group(Group::HiddenCut),
        network: tally.group(Group::Network),
        passed_over_h2: tally.group(Group::PassedOverH2),
        tally,
    };
    let findings = [
        network_failures(&s),
        server_bug(&s),
        h2_forbidden_cipher(&s),
        server_npn_only(&s),
        server_without_alpn(&s),
        turned_down_by_some(&s),
        server_without_h2(&s),
        client_prefers_http1(&s),
        no_common_protocol(&s),
        needs_keys(&s),
        dns::dns_advertised(&s),
    ];
    out.extend(findings.into_iter().flatten());
}

#[cfg(test)]
mod tests;
