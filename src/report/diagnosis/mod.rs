//! Conclusions across flows, as an experienced engineer would draw them. A server is an address
//! and port (for a proxied flow: the proxy and the target asked of it) plus the SNI asked for, so
//! two servers on two ports with one name are two servers: for each, what all of its flows say
//! together — a server without ALPN or without h2, clients that offer different protocols, the
//! network, or a server bug. Two conclusions compare one name across addresses and paths instead
//! (the SNI and the port the client asked for): a path through a proxy, and an interceptor's
//! certificates. Each conclusion is one sentence with the flows and frames behind it.
//!
//! Here: the grouping of flows into services and servers and the order of the conclusions;
//! `keys` tells servers and services apart, `findings` draws each conclusion, `words` writes
//! the pieces of its sentence.

mod findings;
mod keys;
mod words;

pub use words::{OLD_OPENSSL, SERVER_FIXES};

use super::model::{Diagnosis, DiagnosisKind, FlowReport};
use crate::analysis::VerdictKind;
use findings::{
    interception, needs_keys, network_failures, no_common_protocol, path_dependent, server_bug,
    server_without_alpn, server_without_h2, turned_down_by_some,
};
use keys::{ServerKey, distinct};
use words::ids;

/// Draws the conclusions for `flows`: for each name and port of the TLS flows in order of first
/// flow, the comparisons across its addresses and paths, then each of its servers in order of
/// first flow; last, the TLS ports that clients sent plain HTTP to.
pub fn diagnose(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let tls: Vec<&FlowReport> = flows
        .iter()
        .filter(|f| f.verdict != VerdictKind::NotTls)
        .collect();
    let mut out = Vec::new();
    for service in distinct(&tls, |f| ServerKey::of(f).service()) {
        let group: Vec<&FlowReport> = tls
            .iter()
            .copied()
            .filter(|f| ServerKey::of(f).service() == service)
            .collect();
        let name = service.to_string();
        out.extend(interception(&name, &group));
        out.extend(path_dependent(&name, &group));
        for server in distinct(&group, ServerKey::of) {
            let flows: Vec<&FlowReport> = group
                .iter()
                .copied()
                .filter(|f| ServerKey::of(f) == server)
                .collect();
            diagnose_server(&server.to_string(), &flows, &mut out);
        }
    }
    out.extend(plain_http(flows));
    out
}

/// Client side: clients sent plain HTTP to a TLS port (`not_tls` flows the pipeline lists for
/// that reason); one conclusion per server address and port, in order of first flow.
fn plain_http(flows: &[FlowReport]) -> Vec<Diagnosis> {
    let plain: Vec<&FlowReport> = flows.iter().filter(|f| f.plain_http_to_tls_port).collect();
    distinct(&plain, |f| f.server.clone())
        .into_iter()
        .map(|server| {
            let group: Vec<&FlowReport> = plain
                .iter()
                .copied()
                .filter(|f| f.server == server)
                .collect();
            diagnosis(
                DiagnosisKind::ClientSide,
                &server.to_string(),
                &group,
                format!(
                    "client-side: clients sent plain HTTP to the TLS port {server} (flows {}): use https:// for this port",
                    ids(&group)
                ),
            )
        })
        .collect()
}

/// One conclusion about `server`, backed by `flows` (ids ascending) and their evidence frames.
fn diagnosis(
    kind: DiagnosisKind,
    server: &str,
    flows: &[&FlowReport],
    conclusion: String,
) -> Diagnosis {
    Diagnosis {
        kind,
        server: server.to_string(),
        conclusion,
        flows: {
            let mut ids: Vec<u64> = flows.iter().map(|f| f.id).collect();
            ids.sort_unstable();
            ids
        },
        evidence_frames: evidence(flows),
    }
}

/// The evidence frames of `flows`, sorted, without duplicates, the first 32.
fn evidence(flows: &[&FlowReport]) -> Vec<u64> {
    let mut frames: Vec<u64> = flows
        .iter()
        .flat_map(|f| f.evidence_frames.iter().copied())
        .collect();
    frames.sort_unstable();
    frames.dedup();
    frames.truncate(32);
    frames
}

/// One server's TLS flows, all of them and grouped by verdict.
struct ServerFlows<'a> {
    /// The server's name (`alpn.test (127.0.0.1:8443)`, else address and port).
    server: &'a str,
    /// Every TLS flow to the server, in flow order.
    all: &'a [&'a FlowReport],
    /// Flows where the server selected an offered protocol: agreed or downgraded.
    negotiated: Vec<&'a FlowReport>,
    downgraded: Vec<&'a FlowReport>,
    declined: Vec<&'a FlowReport>,
    unoffered: Vec<&'a FlowReport>,
    no_common: Vec<&'a FlowReport>,
    incomplete: Vec<&'a FlowReport>,
    hidden: Vec<&'a FlowReport>,
}

impl<'a> ServerFlows<'a> {
    /// Groups `flows` of `server` by verdict.
    fn new(server: &'a str, flows: &'a [&'a FlowReport]) -> Self {
        let by = |verdict: VerdictKind| -> Vec<&'a FlowReport> {
            flows
                .iter()
                .copied()
                .filter(|f| f.verdict == verdict)
                .collect()
        };
        ServerFlows {
            server,
            all: flows,
            negotiated: flows
                .iter()
                .copied()
                .filter(|f| matches!(f.verdict, VerdictKind::Agreed | VerdictKind::Downgraded))
                .collect(),
            downgraded: by(VerdictKind::Downgraded),
            declined: by(VerdictKind::ServerDeclined),
            unoffered: by(VerdictKind::SelectedUnoffered),
            no_common: by(VerdictKind::NoCommonProtocol),
            incomplete: by(VerdictKind::Incomplete),
            hidden: by(VerdictKind::Hidden),
        }
    }
}

/// Draws the conclusions for one server, network first: failures explained by loss or resets
/// are not configuration.
fn diagnose_server(server: &str, flows: &[&FlowReport], out: &mut Vec<Diagnosis>) {
    let s = ServerFlows::new(server, flows);
    let findings = [
        network_failures(&s),
        server_bug(&s),
        server_without_alpn(&s),
        turned_down_by_some(&s),
        server_without_h2(&s),
        no_common_protocol(&s),
        needs_keys(&s),
    ];
    out.extend(findings.into_iter().flatten());
}
