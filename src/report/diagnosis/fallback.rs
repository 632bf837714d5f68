//! HTTP/3 (or other QUIC) that failed and the TCP connection the client made instead. A client's QUIC Initial
//! packets that the server never answered (re-sent, nothing back: [`NetworkCause::QuicInitialsUnanswered`])
//! followed, in the same capture, by a TCP connection from the same client address to the same
//! server (address, port and SNI: the QUIC and the TCP [`super::keys::ServerKey`] of one place)
//! is the fallback browsers and curl make when UDP does not get through.
//!
//! The packets show that UDP went unanswered, never why: UDP blocked on the path and a server
//! with nothing listening for QUIC on the port look the same from the client's side, so the
//! conclusion names both and says how to tell them apart.
//!
//! Gathered one flow at a time in any order ([`FallbackTally`]), bounded: per server the
//! [`MAX_FALLBACK_CLIENTS`] smallest client addresses, for each the [`MAX_FALLBACK_FLOWS`]
//! smallest ids of its unanswered QUIC flows and of its TCP flows (a client with more TCP
//! connections to the server before its QUIC attempt than that is not followed).

use super::diagnosis;
use super::tally::{Members, ServerTally};
use super::words::ids;
use crate::analysis::VerdictKind;
use crate::analysis::network::NetworkCause;
use crate::report::model::{Diagnosis, DiagnosisKind, FlowReport, Transport};
use std::net::IpAddr;

/// Most client addresses followed per server (the smallest).
pub const MAX_FALLBACK_CLIENTS: usize = 16;
/// Most flows of each kind (unanswered QUIC, TCP) kept per client address: the smallest ids.
pub const MAX_FALLBACK_FLOWS: usize = 8;
/// Fallbacks named in the sentence before "and N more" (all are in the finding's flows).
const SENTENCE_PAIRS: usize = 5;

/// What a fallback's sentence and evidence need of one flow.
#[derive(Debug, Clone)]
struct FlowRef {
    id: u64,
    capture: usize,
    /// The server's port.
    port: u16,
    first_frame: u64,
    last_frame: u64,
    evidence_frames: Vec<u64>,
    /// The client's Initial packets (QUIC flows).
    initials: u64,
    /// The client offered HTTP/3 (`h3`, or a draft's `h3-NN`).
    http3: bool,
    verdict: VerdictKind,
    selected: Option<String>,
}

impl FlowRef {
    fn of(flow: &FlowReport) -> FlowRef {
        FlowRef {
            id: flow.id,
            capture: flow.capture,
            port: flow.server.port,
            first_frame: flow.first_frame,
            last_frame: flow.last_frame,
            evidence_frames: flow.evidence_frames.clone(),
            initials: flow.quic.as_ref().map_or(0, |q| q.client_initials.count),
            http3: flow
                .alpn_offered
                .iter()
                .any(|p| p == "h3" || p.strip_prefix("h3-").is_some_and(is_draft_number)),
            verdict: flow.verdict,
            selected: flow.alpn_selected.clone(),
        }
    }

    /// "frames 1–4", "frame 5".
    fn frames(&self) -> String {
        if self.first_frame == self.last_frame {
            format!("frame {}", self.first_frame)
        } else {
            format!("frames {}–{}", self.first_frame, self.last_frame)
        }
    }

    /// How the TCP connection ended, for "…, which agreed on h2".
    fn tcp_outcome(&self) -> String {
        let selected = self.selected.as_deref().unwrap_or("?");
        match self.verdict {
            VerdictKind::Agreed => format!("which agreed on {selected}"),
            VerdictKind::Downgraded => format!("which was downgraded to {selected}"),
            VerdictKind::Hidden => "whose protocol TLS 1.3 hides (a key log shows it)".to_string(),
            VerdictKind::ServerDeclined => {
                "where the server selected no protocol (no ALPN extension back)".to_string()
            }
            VerdictKind::SelectedUnoffered => {
                format!("where the server selected {selected}, which the client did not offer")
            }
            VerdictKind::NoCommonProtocol => {
                "which the server refused with alert no_application_protocol".to_string()
            }
            VerdictKind::NotOffered => "where the client offered no ALPN".to_string(),
            VerdictKind::Incomplete => "whose handshake did not complete either".to_string(),
            VerdictKind::NotTls => "which carried no TLS".to_string(),
        }
    }
}

/// True for a draft number: digits only.
fn is_draft_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Inserts `flow` into a list, ascending by id, that keeps the [`MAX_FALLBACK_FLOWS`] smallest.
fn insert_smallest(list: &mut Vec<FlowRef>, flow: FlowRef) {
    if let Err(at) = list.binary_search_by_key(&flow.id, |f| f.id)
        && at < MAX_FALLBACK_FLOWS
    {
        list.insert(at, flow);
        list.truncate(MAX_FALLBACK_FLOWS);
    }
}

/// One client address's flows to one server.
#[derive(Debug, Clone)]
struct ClientFlows {
    client: IpAddr,
    /// QUIC flows whose Initials went unanswered, ascending by id.
    unanswered: Vec<FlowRef>,
    /// TCP flows, ascending by id.
    tcp: Vec<FlowRef>,
}

/// One server's unanswered QUIC flows and TCP flows, by client address (ascending).
#[derive(Debug, Default, Clone)]
pub(super) struct FallbackTally {
    clients: Vec<ClientFlows>,
}

impl FallbackTally {
    /// Adds one flow to the server (flows of neither kind are left out).
    pub(super) fn add(&mut self, flow: &FlowReport) {
        let unanswered = flow.transport == Transport::Quic
            && flow.network_cause == Some(NetworkCause::QuicInitialsUnanswered);
        if !unanswered && flow.transport != Transport::Tcp {
            return;
        }
        // The clients kept are those with the smallest addresses: the same set whatever order
        // the flows arrive in (a client once pushed out never comes back).
        let at = match self
            .clients
            .binary_search_by_key(&flow.client.ip, |c| c.client)
        {
            Ok(at) => at,
            Err(at) if at < MAX_FALLBACK_CLIENTS => {
                self.clients.insert(
                    at,
                    ClientFlows {
                        client: flow.client.ip,
                        unanswered: Vec::new(),
                        tcp: Vec::new(),
                    },
                );
                self.clients.truncate(MAX_FALLBACK_CLIENTS);
                at
            }
            Err(_) => return,
        };
        let client = &mut self.clients[at];
        let list = if unanswered {
            &mut client.unanswered
        } else {
            &mut client.tcp
        };
        insert_smallest(list, FlowRef::of(flow));
    }

    /// Each client's first unanswered QUIC flow (of `self`, a QUIC server's) with the first
    /// TCP flow it opened after it in the same capture (of `tcp`, the TCP server's on the same
    /// address, port and SNI), in order of the QUIC flow.
    fn fallbacks<'a>(&'a self, tcp: &'a FallbackTally) -> Vec<(IpAddr, &'a FlowRef, &'a FlowRef)> {
        let mut pairs: Vec<(IpAddr, &FlowRef, &FlowRef)> = self
            .clients
            .iter()
            .filter_map(|c| {
                let quic = c.unanswered.first()?;
                let at = tcp
                    .clients
                    .binary_search_by_key(&c.client, |t| t.client)
                    .ok()?;
                let tcp = tcp.clients[at]
                    .tcp
                    .iter()
                    .find(|t| t.capture == quic.capture && t.id > quic.id)?;
                Some((c.client, quic, tcp))
            })
            .collect();
        pairs.sort_by_key(|(_, quic, _)| quic.id);
        pairs
    }
}

/// Why the packets cannot say more about a server's UDP `port`, and how to find out.
fn not_proven(port: u16) -> String {
    format!(
        "the packets show only that UDP went unanswered, not why: UDP blocked on the path (a firewall that passes only TCP) or nothing listening for QUIC on UDP port {port} — not proven which; a capture at the server tells them apart (Initial packets that arrive there: nothing listens for QUIC)"
    )
}

/// HTTP/3 failed and the client fell back to TCP: see the module doc. `quic` and `tcp` are the
/// QUIC and the TCP server on one address, port and SNI; `server` names the place.
pub(super) fn quic_fallback(
    server: &str,
    quic: &ServerTally,
    tcp: &ServerTally,
) -> Option<Diagnosis> {
    let pairs = quic.fallback.as_ref()?.fallbacks(tcp.fallback.as_ref()?);
    let (client, quic, tcp) = *pairs.first()?;
    let mut involved = Members::default();
    for (_, quic, tcp) in &pairs {
        for flow in [quic, tcp] {
            involved.add_evidence(flow.id, flow.capture, &flow.evidence_frames);
        }
    }
    // Only an offer of h3 makes it HTTP/3 (DNS over QUIC, say, is not).
    let what = if pairs.iter().all(|(_, quic, _)| quic.http3) {
        "HTTP/3"
    } else {
        "QUIC"
    };
    let conclusion = if pairs.len() == 1 {
        format!(
            "{what} failed and the client fell back to TCP: {client} sent {} QUIC Initial packets to {server} in flow {} ({}) and got nothing back, then connected over TCP to the same port in flow {} ({}), {}; {}",
            quic.initials,
            quic.id,
            quic.frames(),
            tcp.id,
            tcp.frames(),
            tcp.tcp_outcome(),
            not_proven(quic.port)
        )
    } else {
        let named: Vec<String> = pairs
            .iter()
            .take(SENTENCE_PAIRS)
            .map(|(client, quic, tcp)| {
                format!(
                    "{client}: QUIC flow {} ({}) then TCP flow {} ({}), {}",
                    quic.id,
                    quic.frames(),
                    tcp.id,
                    tcp.frames(),
                    tcp.tcp_outcome()
                )
            })
            .collect();
        let more = match pairs.len().saturating_sub(SENTENCE_PAIRS) {
            0 => String::new(),
            more => format!(", and {more} more"),
        };
        format!(
            "{what} failed and the clients fell back to TCP: {} sent QUIC Initial packets to {server} that got nothing back, then connected over TCP to the same port ({}{more}; {}); {}",
            crate::report::plural(pairs.len() as u64, "client"),
            named.join("; "),
            ids(&involved),
            not_proven(quic.port)
        )
    };
    Some(diagnosis(
        DiagnosisKind::QuicFallback,
        server,
        &involved,
        conclusion,
    ))
}
