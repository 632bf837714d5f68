//! What the conclusions need to know of the flows, gathered one flow at a time and bounded
//! whatever their number: per server, per group of flows (by verdict, by path), a count, the
//! smallest ids and evidence frames, and the distinct offers, selections, clients, outcomes and
//! certificate issuers; per server, the JA4s of clients that ranked http/1.1 above h2 and got it.
//! Flows may arrive in any order: every "first" is by flow id.
//!
//! Caps: [`MAX_DIAGNOSIS_FLOWS`] ids per conclusion, 32 evidence frames, [`MAX_DISTINCT`]
//! distinct values of each kind per group, [`MAX_DIAGNOSED_SERVERS`] servers (flows to later
//! servers are counted, not diagnosed).

use super::dns::DnsTally;
use super::fallback::FallbackTally;
use super::keys::ServerKey;
use crate::analysis::network::NetworkCause;
use crate::analysis::{Application, VerdictKind};
use crate::report::model::{EndpointReport, FlowReport, Transport};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Most flow ids a conclusion lists in `flows` (the smallest); the rest are counted in
/// `flows_omitted`.
pub const MAX_DIAGNOSIS_FLOWS: usize = 1000;
/// Most evidence frames a conclusion cites (the smallest).
pub const MAX_EVIDENCE_FRAMES: usize = 32;
/// Most distinct offers, selections, client kinds, outcomes or issuers kept per group of flows.
pub const MAX_DISTINCT: usize = 64;
/// Most servers diagnosed (in order of arrival); flows to other servers are counted only.
pub const MAX_DIAGNOSED_SERVERS: usize = 16_384;

/// A bounded description of a set of flows.
#[derive(Debug, Default, Clone)]
pub(super) struct Members {
    /// Flows in the set.
    pub count: u64,
    /// The smallest flow ids, ascending, at most [`MAX_DIAGNOSIS_FLOWS`].
    pub ids: Vec<u64>,
    /// The smallest evidence frames, ascending and distinct, at most [`MAX_EVIDENCE_FRAMES`].
    pub frames: Vec<u64>,
    /// The same per capture index, for the first [`MAX_DISTINCT`] captures.
    pub frames_by_capture: Vec<(usize, Vec<u64>)>,
    /// Distinct ALPN offers, each with the smallest id that made it.
    offers: Vec<(u64, Vec<String>)>,
    /// Distinct selected protocols, each with the smallest id that got it.
    selections: Vec<(u64, String)>,
    /// Distinct client kinds (JA4, else the client address).
    pub kinds: BTreeSet<String>,
    /// Distinct outcomes in words ("agreed on h2", "server_declined").
    pub outcomes: BTreeSet<String>,
    /// Distinct issuers of the server certificates.
    pub issuers: BTreeSet<String>,
    /// A flow of the set offered HTTP in ALPN.
    pub http: bool,
    /// Flows of the set over QUIC (the rest are over TCP).
    pub quic: u64,
}

/// Inserts `value` into an ascending list that keeps the `cap` smallest values.
fn insert_smallest(list: &mut Vec<u64>, value: u64, cap: usize) {
    // Flows and frames come mostly in increasing order: once the list is full, most values
    // are past its end.
    if list.len() >= cap && list.last().is_some_and(|last| value > *last) {
        return;
    }
    if let Err(at) = list.binary_search(&value)
        && at < cap
    {
        list.insert(at, value);
        list.truncate(cap);
    }
}

/// Adds `value` first seen at `id` to a list of distinct values, keeping each value's smallest
/// id; at most [`MAX_DISTINCT`] values.
fn note_first<T: PartialEq + Clone>(list: &mut Vec<(u64, T)>, id: u64, value: &T) {
    if let Some(entry) = list.iter_mut().find(|(_, v)| v == value) {
        entry.0 = entry.0.min(id);
    } else if list.len() < MAX_DISTINCT {
        list.push((id, value.clone()));
    }
}

/// Adds `value` to a set of at most [`MAX_DISTINCT`] values.
fn note_distinct(set: &mut BTreeSet<String>, value: &str) {
    if set.len() < MAX_DISTINCT && !set.contains(value) {
        set.insert(value.to_string());
    }
}

/// How a client is told apart: its JA4 fingerprint, else its address.
fn client_kind(flow: &FlowReport) -> Cow<'_, str> {
    match flow.client_hello.as_ref().and_then(|ch| ch.ja4.as_deref()) {
        Some(ja4) => Cow::Borrowed(ja4),
        None => Cow::Owned(flow.client.ip.to_string()),
    }
}

/// A flow's outcome in words: "agreed on h2", "downgraded to http/1.1", "server_declined", …
fn outcome(flow: &FlowReport) -> Cow<'static, str> {
    match (&flow.alpn_selected, flow.verdict) {
        (Some(p), VerdictKind::Downgraded) => Cow::Owned(format!("downgraded to {p}")),
        (Some(p), _) => Cow::Owned(format!("{} on {p}", flow.verdict)),
        (None, _) => Cow::Borrowed(flow.verdict.name()),
    }
}

impl Members {
    /// Adds one flow.
    fn add(&mut self, flow: &FlowReport) {
        self.add_evidence(flow.id, flow.capture, &flow.evidence_frames);
        note_first(&mut self.offers, flow.id, &flow.alpn_offered);
        if let Some(selected) = &flow.alpn_selected {
            note_first(&mut self.selections, flow.id, selected);
        }
        note_distinct(&mut self.kinds, &client_kind(flow));
        note_distinct(&mut self.outcomes, &outcome(flow));
        if let Some(certificate) = &flow.server_certificate {
            note_distinct(&mut self.issuers, &certificate.issuer);
        }
        self.http |= flow.application == Application::Http;
        self.quic += u64::from(flow.transport == Transport::Quic);
    }

    /// Adds a flow by its id and evidence frames alone (offers, outcomes and the rest unknown).
    pub fn add_evidence(&mut self, id: u64, capture: usize, frames: &[u64]) {
        self.count += 1;
        insert_smallest(&mut self.ids, id, MAX_DIAGNOSIS_FLOWS);
        for frame in frames {
            insert_smallest(&mut self.frames, *frame, MAX_EVIDENCE_FRAMES);
        }
        self.note_capture_frames(capture, frames);
    }

    /// Adds the flows of `other` (a disjoint set).
    pub fn merge(&mut self, other: &Members) {
        self.count += other.count;
        self.http |= other.http;
        self.quic += other.quic;
        for id in &other.ids {
            insert_smallest(&mut self.ids, *id, MAX_DIAGNOSIS_FLOWS);
        }
        for frame in &other.frames {
            insert_smallest(&mut self.frames, *frame, MAX_EVIDENCE_FRAMES);
        }
        for (capture, frames) in &other.frames_by_capture {
            self.note_capture_frames(*capture, frames);
        }
        for (id, offer) in &other.offers {
            note_first(&mut self.offers, *id, offer);
        }
        for (id, selected) in &other.selections {
            note_first(&mut self.selections, *id, selected);
        }
        for (set, from) in [
            (&mut self.kinds, &other.kinds),
            (&mut self.outcomes, &other.outcomes),
            (&mut self.issuers, &other.issuers),
        ] {
            for value in from {
                note_distinct(set, value);
            }
        }
    }

    /// Adds evidence frames of `capture`.
    fn note_capture_frames(&mut self, capture: usize, frames: &[u64]) {
        let at = match self
            .frames_by_capture
            .iter()
            .position(|(c, _)| *c == capture)
        {
            Some(at) => at,
            None if self.frames_by_capture.len() < MAX_DISTINCT => {
                self.frames_by_capture.push((capture, Vec::new()));
                self.frames_by_capture.len() - 1
            }
            None => return,
        };
        let list = &mut self.frames_by_capture[at].1;
        for frame in frames {
            insert_smallest(list, *frame, MAX_EVIDENCE_FRAMES);
        }
    }

    /// True when the set holds no flow.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The distinct offers, in order of the first flow that made each.
    pub fn offers(&self) -> Vec<&[String]> {
        let mut offers: Vec<&(u64, Vec<String>)> = self.offers.iter().collect();
        offers.sort_by_key(|(id, _)| *id);
        offers.into_iter().map(|(_, o)| o.as_slice()).collect()
    }

    /// The distinct selected protocols, in order of the first flow that got each.
    pub fn selections(&self) -> Vec<&str> {
        let mut selections: Vec<&(u64, String)> = self.selections.iter().collect();
        selections.sort_by_key(|(id, _)| *id);
        selections.into_iter().map(|(_, s)| s.as_str()).collect()
    }

    /// The protocols of the set's offers that `selected` names, in order of first offer; `None`
    /// when the set holds more distinct offers than it keeps (then the answer is unknown).
    pub fn offered_of<'a>(&'a self, selected: &[&str]) -> Option<Vec<&'a str>> {
        if self.offers.len() >= MAX_DISTINCT {
            return None;
        }
        let mut found: Vec<&str> = Vec::new();
        for offer in self.offers() {
            for protocol in offer {
                if selected.contains(&protocol.as_str()) && !found.contains(&protocol.as_str()) {
                    found.push(protocol);
                }
            }
        }
        Some(found)
    }

    /// True when the set's distinct selections are all kept (fewer than [`MAX_DISTINCT`]).
    pub fn selections_complete(&self) -> bool {
        self.selections.len() < MAX_DISTINCT
    }

    /// True when both sets hold a flow with the same offer.
    pub fn share_an_offer(&self, other: &Members) -> bool {
        self.offers
            .iter()
            .any(|(_, a)| other.offers.iter().any(|(_, b)| a == b))
    }
}

/// A group of one server's flows that some conclusion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    /// The server selected an offered protocol: agreed or downgraded.
    Negotiated,
    /// No ALPN extension back.
    Declined,
    /// A selection the client did not offer.
    Unoffered,
    /// Alert no_application_protocol.
    NoCommon,
    /// TLS 1.3 hid the selection.
    Hidden,
    /// TLS 1.3 hid the selection of a ServerHello the capture cut short (a snaplen): keys alone
    /// do not reveal it.
    HiddenCut,
    /// Incomplete on a network cause that the packets prove.
    Network,
    /// Downgraded although h2 was offered above the selection.
    PassedOverH2,
    /// Through a proxy.
    Proxied,
    /// Not through a proxy.
    Direct,
    /// h2 selected over TLS 1.2 or older with a cipher suite HTTP/2 forbids.
    H2ForbiddenSuite,
    /// Of those, the client offered a suite HTTP/2 allows: the server chose the forbidden one.
    H2ForbiddenSuiteChosen,
    /// The client ranked http/1.1 first, above h2, and the server selected it (agreed).
    Http1First,
    /// The client ranked h2 above http/1.1 and the server selected h2.
    H2OverHttp1,
    /// No ALPN back, and the ServerHello answered with NPN (next_protocol_negotiation) instead.
    Npn,
    /// No ALPN back, and no NPN either.
    DeclinedWithoutNpn,
}

impl Group {
    const COUNT: usize = 16;

    fn index(self) -> usize {
        self as usize
    }

    /// The groups `flow` belongs to.
    fn of(flow: &FlowReport) -> impl Iterator<Item = Group> {
        let verdict = match flow.verdict {
            VerdictKind::Agreed | VerdictKind::Downgraded => Some(Group::Negotiated),
            VerdictKind::ServerDeclined => Some(Group::Declined),
            VerdictKind::SelectedUnoffered => Some(Group::Unoffered),
            VerdictKind::NoCommonProtocol => Some(Group::NoCommon),
            VerdictKind::Hidden => Some(Group::Hidden),
            VerdictKind::Incomplete
                if flow
                    .network_cause
                    .is_some_and(NetworkCause::blames_the_network) =>
            {
                Some(Group::Network)
            }
            _ => None,
        };
        let passed_over_h2 = (flow.verdict == VerdictKind::Downgraded && passed_over_h2(flow))
            .then_some(Group::PassedOverH2);
        let hidden_cut = (flow.verdict == VerdictKind::Hidden
            && flow.server_hello.as_ref().is_some_and(|h| h.cut.is_some()))
        .then_some(Group::HiddenCut);
        let path = if flow.proxy.is_some() {
            Group::Proxied
        } else {
            Group::Direct
        };
        let forbidden = h2_forbidden_suite(flow);
        // http/1.1 as the client's first choice (agreed), above h2; h2 above http/1.1, first
        // choice or not: either shows the server choosing h2 over http/1.1 when asked to.
        let order = match (flow.verdict, flow.alpn_selected.as_deref()) {
            (VerdictKind::Agreed, Some("http/1.1")) if ranked_above(flow, "http/1.1", "h2") => {
                Some(Group::Http1First)
            }
            (VerdictKind::Agreed | VerdictKind::Downgraded, Some("h2"))
                if ranked_above(flow, "h2", "http/1.1") =>
            {
                Some(Group::H2OverHttp1)
            }
            _ => None,
        };
        let npn = (flow.verdict == VerdictKind::ServerDeclined).then(|| {
            if flow.server_hello.as_ref().is_some_and(|h| h.npn) {
                Group::Npn
            } else {
                Group::DeclinedWithoutNpn
            }
        });
        verdict
            .into_iter()
            .chain(passed_over_h2)
            .chain(hidden_cut)
            .chain([path])
            .chain(forbidden.map(|_| Group::H2ForbiddenSuite))
            .chain(
                forbidden
                    .filter(|chosen| *chosen)
                    .map(|_| Group::H2ForbiddenSuiteChosen),
            )
            .chain(order)
            .chain(npn)
    }
}

/// For a flow that selected h2 over TLS 1.2 or older with a cipher suite HTTP/2 forbids:
/// whether the client offered one it allows (the server chose the forbidden one).
fn h2_forbidden_suite(flow: &FlowReport) -> Option<bool> {
    use crate::tls::h2_ciphers::{h2_forbids, offers_h2_suite};
    let hello = flow.server_hello.as_ref()?;
    if flow.alpn_selected.as_deref() != Some("h2") || hello.version.starts_with("1.3") {
        return None;
    }
    // Looked up by name (a search of the whole table) only for the flows it can concern.
    let suite = tls_parser::TlsCipherSuite::from_name(&hello.cipher_suite)?;
    h2_forbids(suite.id.0).then(|| {
        flow.client_hello
            .as_ref()
            .is_some_and(|ch| offers_h2_suite(&ch.cipher_suites.0))
    })
}

/// The client offered both `upper` and `lower`, `upper` first.
fn ranked_above(flow: &FlowReport, upper: &str, lower: &str) -> bool {
    let at = |name: &str| flow.alpn_offered.iter().position(|p| p == name);
    matches!((at(upper), at(lower)), (Some(u), Some(l)) if u < l)
}

/// h2 offered before the selected protocol: the server passed over it.
fn passed_over_h2(flow: &FlowReport) -> bool {
    let at = |name: &str| flow.alpn_offered.iter().position(|p| p == name);
    match (at("h2"), flow.alpn_selected.as_deref().and_then(at)) {
        (Some(h2), Some(selected)) => h2 < selected,
        _ => false,
    }
}

/// One server's TLS flows.
#[derive(Debug)]
pub(super) struct ServerTally {
    /// The smallest id of its flows.
    pub first: u64,
    /// Every flow.
    pub all: Members,
    /// The groups that hold a flow.
    groups: [Option<Box<Members>>; Group::COUNT],
    /// A negotiated flow got h2.
    pub got_h2: bool,
    /// A network flow's cause is a reset a middlebox injected.
    pub injected_reset: bool,
    /// A network flow has a reset.
    pub reset: bool,
    /// Its unanswered QUIC flows and TCP flows by client, for the TCP fallback (created with
    /// the first flow of either kind).
    pub fallback: Option<Box<FallbackTally>>,
    /// The cipher suites HTTP/2 forbids that it selected h2 with (at most [`MAX_DISTINCT`]).
    pub h2_forbidden_suites: BTreeSet<String>,
    /// The JA4 fingerprints of the [`Group::Http1First`] clients (at most [`MAX_DISTINCT`]).
    pub http1_first_ja4: BTreeSet<String>,
    /// A [`Group::Http1First`] flow has no JA4 (its ClientHello was cut short).
    pub http1_first_without_ja4: bool,
    /// Its flows that did not get what a DNS HTTPS answer advertised (created with the first).
    pub dns: Option<Box<DnsTally>>,
}

/// The empty set, for groups without flows.
static NO_MEMBERS: Members = Members {
    count: 0,
    ids: Vec::new(),
    frames: Vec::new(),
    frames_by_capture: Vec::new(),
    offers: Vec::new(),
    selections: Vec::new(),
    kinds: BTreeSet::new(),
    outcomes: BTreeSet::new(),
    issuers: BTreeSet::new(),
    http: false,
    quic: 0,
};

impl ServerTally {
    fn new(first: u64) -> Self {
        ServerTally {
            first,
            all: Members::default(),
            groups: Default::default(),
            got_h2: false,
            injected_reset: false,
            reset: false,
            fallback: None,
            h2_forbidden_suites: BTreeSet::new(),
            http1_first_ja4: BTreeSet::new(),
            http1_first_without_ja4: false,
            dns: None,
        }
    }

    fn add(&mut self, flow: &FlowReport) {
        self.first = self.first.min(flow.id);
        self.all.add(flow);
        self.fallback.get_or_insert_with(Box::default).add(flow);
        if flow.dns_advertised.is_some() {
            self.dns.get_or_insert_with(Box::default).add(flow);
        }
        for group in Group::of(flow) {
            self.groups[group.index()]
                .get_or_insert_with(Box::default)
                .add(flow);
            match group {
                Group::Negotiated => {
                    self.got_h2 |= flow.alpn_selected.as_deref() == Some("h2");
                }
                Group::Network => {
                    self.injected_reset |= flow.network_cause == Some(NetworkCause::InjectedReset);
                    self.reset |= !flow.resets().is_empty();
                }
                Group::H2ForbiddenSuite => {
                    if let Some(hello) = &flow.server_hello {
                        note_distinct(&mut self.h2_forbidden_suites, &hello.cipher_suite);
                    }
                }
                Group::Http1First => {
                    match flow.client_hello.as_ref().and_then(|ch| ch.ja4.as_deref()) {
                        Some(ja4) => note_distinct(&mut self.http1_first_ja4, ja4),
                        None => self.http1_first_without_ja4 = true,
                    }
                }
                _ => {}
            }
        }
    }

    /// The flows of `group` (the empty set when none).
    pub fn group(&self, group: Group) -> &Members {
        self.groups[group.index()].as_deref().unwrap_or(&NO_MEMBERS)
    }
}

/// The hasher of the tally's tables: each flow's server is looked up, and its key comes from the
/// capture, as a flow key does (see [`crate::flow::FlowKeyHasher`] for why a fast hasher seeded
/// at random for each table is enough; SipHash here cost 1 % of the analysis).
type Seeded = crate::flow::FlowKeyHasher;

/// Everything the diagnosis needs, gathered flow by flow (see [`super::diagnose`]).
#[derive(Debug, Default)]
pub struct DiagnosisTally {
    /// TLS flows by server.
    pub(super) servers: HashMap<ServerKey, ServerTally, Seeded>,
    /// Plain HTTP sent to a TLS port, by server endpoint, with the smallest id of each.
    pub(super) plain_http: HashMap<EndpointReport, (u64, Members), Seeded>,
    /// TLS flows to servers beyond [`MAX_DIAGNOSED_SERVERS`].
    pub(super) flows_not_diagnosed: u64,
    /// With a flow filter (`--sni`, `--server`, `--verdict`, `--problems`): the servers (and the
    /// TLS ports sent plain HTTP) with a flow the filter keeps. The conclusions are drawn from
    /// every flow — a filter must not turn "declines for some clients" into "never
    /// negotiates" — and only those about these servers are given.
    pub(super) kept: Option<Kept>,
}

/// The servers with a flow a filter keeps (at most [`MAX_DIAGNOSED_SERVERS`] of each).
#[derive(Debug, Default)]
pub(super) struct Kept {
    pub(super) servers: HashSet<ServerKey, Seeded>,
    pub(super) plain_http: HashSet<EndpointReport, Seeded>,
}

impl DiagnosisTally {
    /// A tally for a report whose flows a filter selects: every flow is added, and
    /// [`DiagnosisTally::keep`] says which ones the report keeps.
    pub fn filtered() -> Self {
        DiagnosisTally {
            kept: Some(Kept::default()),
            ..DiagnosisTally::default()
        }
    }

    /// Marks `flow` (added already) as one the filter keeps: the conclusions about its server
    /// are given.
    pub fn keep(&mut self, flow: &FlowReport) {
        let Some(kept) = &mut self.kept else {
            return;
        };
        if flow.plain_http_to_tls_port
            && kept.plain_http.len() < MAX_DIAGNOSED_SERVERS
            && self.plain_http.contains_key(&flow.server)
        {
            kept.plain_http.insert(flow.server.clone());
        }
        let key = ServerKey::of(flow);
        if self.servers.contains_key(&key) && kept.servers.len() < MAX_DIAGNOSED_SERVERS {
            kept.servers.insert(key);
        }
    }

    /// True when the conclusions about `key` are given.
    pub(super) fn gives(&self, key: &ServerKey) -> bool {
        self.kept.as_ref().is_none_or(|k| k.servers.contains(key))
    }

    /// True when the plain-HTTP conclusion about `server` is given.
    pub(super) fn gives_plain_http(&self, server: &EndpointReport) -> bool {
        self.kept
            .as_ref()
            .is_none_or(|k| k.plain_http.contains(server))
    }

    /// Adds one flow of the report.
    pub fn add(&mut self, flow: &FlowReport) {
        if flow.plain_http_to_tls_port {
            let at_limit = self.plain_http.len() >= MAX_DIAGNOSED_SERVERS;
            match self.plain_http.get_mut(&flow.server) {
                Some((first, members)) => {
                    *first = (*first).min(flow.id);
                    members.add(flow);
                }
                None if !at_limit => {
                    let mut members = Members::default();
                    members.add(flow);
                    self.plain_http
                        .insert(flow.server.clone(), (flow.id, members));
                }
                None => {}
            }
        }
        // Not TLS, or a plaintext start the server refused: no handshake to conclude from (a
        // refusal would count as a failed handshake, or keep a server's TLS 1.3 flows from
        // being all of its flows).
        if flow.verdict == VerdictKind::NotTls
            || flow.starttls.as_ref().is_some_and(|s| s.without_tls())
        {
            return;
        }
        let key = ServerKey::of(flow);
        if !self.servers.contains_key(&key) && self.servers.len() >= MAX_DIAGNOSED_SERVERS {
            self.flows_not_diagnosed += 1;
            return;
        }
        self.servers
            .entry(key)
            .or_insert_with(|| ServerTally::new(flow.id))
            .add(flow);
    }
}
