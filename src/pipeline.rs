//! The pipeline: frames in, flow reports out.
//!
//! [`Analyzer`] decodes each frame, finds its flow, reassembles each direction and feeds the TLS
//! parsers; when a flow ends (capture end, idle timeout, port reuse) its facts are judged and turned
//! into a [`FlowReport`]. Memory is bounded: reassembly buffers are capped per direction and freed
//! as soon as both directions are past the handshake, and idle or closed flows leave the table.

use crate::analysis::KeyStatus;
use crate::analysis::{self, AlertSeen, FlowEnd, FlowFacts, Role, VerdictKind};
use crate::capture::{CaptureSummary, Frame, LinkType, Timestamp};
use crate::decode::{self, Decoded, Defragmenter, Segment};
use crate::flow::{Anomaly, Chunk, Endpoint, FlowKey, Reassembler, SeqNumber, Side, TcpHealth};
use crate::report::model::*;
use crate::tls::hello::version_name;
use crate::tls::keylog::{KeyLog, KeyLogError};
use crate::tls::{DirectionParser, TlsEvent, ja4};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How long (capture time) an open flow may stay silent before it is closed.
pub const IDLE_TIMEOUT_NS: i64 = 600 * 1_000_000_000;
/// How long a flow lingers after RST or both FINs, to absorb stray retransmissions and ACKs.
const CLOSED_LINGER_NS: i64 = 10 * 1_000_000_000;
/// Frames between two sweeps of the flow table.
const SWEEP_EVERY_FRAMES: u64 = 8192;
/// Most frame times kept per flow for the handshake window.
const MAX_FRAME_TIMES: usize = 512;
/// Most server endpoints remembered as TLS servers.
const MAX_TLS_SERVERS: usize = 65_536;
/// Ports where a connection that never got to TLS is still reported (HTTPS, DoT, SMTPS, LDAPS,
/// IMAPS, POP3S, HTTPS alternates, SIPS).
const TLS_PORTS: [u16; 9] = [443, 465, 636, 853, 993, 995, 4443, 5061, 8443];

/// Options that shape the analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalyzerOptions {
    /// Keep reports of flows that are not TLS.
    pub include_non_tls: bool,
    /// Live use: report each flow as soon as its verdict is final (see [`Analyzer::take_ready`])
    /// instead of when it leaves the table.
    pub stream: bool,
    /// Most flows tracked at once (0: [`DEFAULT_MAX_FLOWS`]).
    pub flow_limit: usize,
    /// Live use with a key log that clients are still writing: keep TLS 1.3 protected records
    /// until their keys arrive (or [`KEY_WAIT_NS`] passes) before judging the flow.
    pub await_keys: bool,
}

/// How long (capture time) a TLS 1.3 flow waits for its keys after the ServerHello.
pub const KEY_WAIT_NS: i64 = 3_000_000_000;

/// Default cap on flows tracked at once: a few hundred MiB at most, whatever the capture.
pub const DEFAULT_MAX_FLOWS: usize = 200_000;

impl AnalyzerOptions {
    fn max_flows(&self) -> usize {
        if self.flow_limit == 0 {
            DEFAULT_MAX_FLOWS
        } else {
            self.flow_limit
        }
    }
}

/// Per-flow state while the flow is in the table.
#[derive(Debug)]
struct FlowState {
    tcp_stream: u64,
    key: FlowKey,
    first_frame: u64,
    first_time: Timestamp,
    last_frame: u64,
    last_time: Timestamp,
    client: Option<Side>,
    isn: [Option<u32>; 2],
    reassembly: [Reassembler; 2],
    parsers: [DirectionParser; 2],
    events: Vec<(Side, TlsEvent)>,
    fins: [Option<u64>; 2],
    truncated_frames: u64,
    first_truncated_frame: Option<u64>,
    first_tls_frame: Option<u64>,
    not_tls: bool,
    keys: KeyStatus,
    closed: bool,
    health: TcpHealth,
    /// Frame that ended the TLS handshake.
    handshake_end: Option<u64>,
    /// Version the ServerHello chose.
    server_version: Option<u16>,
    /// Frame times of the handshake window.
    frame_times: Vec<(u64, Timestamp)>,
    payload_seen: bool,
    /// Already reported (streaming): leaving the table adds nothing.
    reported: bool,
    /// The ClientHello random (to match key-log entries that arrive later).
    client_random: Option<Vec<u8>>,
    /// Time of the ServerHello.
    server_hello_time: Option<Timestamp>,
}

impl FlowState {
    fn new(key: FlowKey, tcp_stream: u64, frame: &Frame<'_>, starts_with_syn: bool) -> FlowState {
        FlowState {
            tcp_stream,
            key,
            first_frame: frame.number,
            first_time: frame.timestamp,
            last_frame: frame.number,
            last_time: frame.timestamp,
            client: None,
            isn: [None, None],
            reassembly: [Reassembler::new(), Reassembler::new()],
            parsers: [
                DirectionParser::new(!starts_with_syn),
                DirectionParser::new(!starts_with_syn),
            ],
            events: Vec::new(),
            fins: [None, None],
            truncated_frames: 0,
            first_truncated_frame: None,
            first_tls_frame: None,
            not_tls: false,
            keys: KeyStatus::NoKeyLog,
            closed: false,
            health: TcpHealth::new(),
            handshake_end: None,
            server_version: None,
            frame_times: Vec::new(),
            payload_seen: false,
            reported: false,
            client_random: None,
            server_hello_time: None,
        }
    }

    /// True when neither direction wants more bytes.
    fn passive(&self) -> bool {
        self.parsers[0].is_done() && self.parsers[1].is_done()
    }
}

/// Turns frames into flow reports for one or more captures.
#[derive(Debug)]
pub struct Analyzer {
    options: AnalyzerOptions,
    // Boxed: a flow's state is large, and the table moves its entries when it grows.
    flows: HashMap<FlowKey, Box<FlowState>>,
    capture: usize,
    next_stream: u64,
    finished: Vec<(usize, u64, Box<FlowReport>)>,
    non_tls_flows: u64,
    decode: DecodeCounts,
    unsupported: BTreeMap<u32, u64>,
    defrag: Defragmenter,
    keylog: KeyLog,
    /// Server endpoints that spoke TLS in this capture.
    tls_servers: HashSet<Endpoint>,
    frames_since_sweep: u64,
    now: Timestamp,
    snaplen: u32,
    /// Flow ids of earlier captures: ids are `stream_base + tcp.stream`.
    stream_base: u64,
    /// Reports ready to stream (live use).
    ready: Vec<FlowReport>,
}

impl Analyzer {
    /// A new analyzer.
    pub fn new(options: AnalyzerOptions) -> Analyzer {
        Analyzer {
            options,
            flows: HashMap::new(),
            capture: 0,
            next_stream: 0,
            finished: Vec::new(),
            non_tls_flows: 0,
            decode: DecodeCounts::default(),
            unsupported: BTreeMap::new(),
            defrag: Defragmenter::new(),
            keylog: KeyLog::new(),
            tls_servers: HashSet::new(),
            frames_since_sweep: 0,
            now: Timestamp(0),
            snaplen: 0,
            stream_base: 0,
            ready: Vec::new(),
        }
    }

    /// Starts a new capture: flows do not continue across captures.
    pub fn begin_capture(&mut self, index: usize) {
        self.capture = index;
        self.stream_base += self.next_stream;
        self.next_stream = 0;
        self.decode = DecodeCounts::default();
        self.unsupported.clear();
        self.snaplen = 0;
        self.defrag = Defragmenter::new();
        self.tls_servers.clear();
    }

    /// Adds TLS key-log secrets (an NSS key log file, or a pcapng Decryption Secrets Block).
    pub fn add_key_log(&mut self, text: &str) -> Result<(), KeyLogError> {
        self.keylog.add_text(text)?;
        if self.options.await_keys {
            self.retry_keys();
        }
        Ok(())
    }

    /// Gives newly logged secrets to the flows that were waiting for them.
    fn retry_keys(&mut self) {
        let waiting: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| f.keys != KeyStatus::Found && f.client_random.is_some() && !f.reported)
            .map(|(k, _)| *k)
            .collect();
        for key in waiting {
            let Some(flow) = self.flows.get_mut(&key) else {
                continue;
            };
            let Some(secrets) = flow
                .client_random
                .as_deref()
                .and_then(|r| self.keylog.get(r))
            else {
                continue;
            };
            let Some(client) = flow.client else { continue };
            flow.keys = KeyStatus::Found;
            let secrets = secrets.clone();
            for (side, secret) in [(client, secrets.client), (client.other(), secrets.server)] {
                let Some(secret) = secret else { continue };
                let mut events = Vec::new();
                flow.parsers[side.index()].provide_keys(secret, &mut events);
                let mut context = Context {
                    keylog: &self.keylog,
                    tls_servers: &mut self.tls_servers,
                    await_keys: false,
                    now: self.now,
                };
                absorb(flow, side, &mut events, &mut context);
            }
            let frame = flow.last_frame;
            self.after_events(key, frame);
            if self.options.stream
                && self
                    .flows
                    .get(&key)
                    .is_some_and(|f| !f.reported && verdict_is_final(f, true, self.now))
            {
                self.stream_flow(key);
            }
        }
    }

    /// Number of flows currently tracked.
    pub fn active_flows(&self) -> usize {
        self.flows.len()
    }

    /// Number of flows finished so far.
    pub fn finished_flows(&self) -> usize {
        self.finished.len()
    }

    /// One frame.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.now = frame.timestamp;
        match decode::decode_frame(frame) {
            Decoded::Tcp(segment) => {
                self.decode.tcp += 1;
                if frame.is_truncated() && segment.payload.len() < segment.payload_len as usize {
                    self.decode.truncated_payload += 1;
                }
                self.segment(frame, &segment);
            }
            Decoded::OtherIp => self.decode.other_ip += 1,
            Decoded::NotIp => self.decode.not_ip += 1,
            Decoded::Fragment(fragment) => {
                self.decode.fragments += 1;
                if let Some(datagram) = self.defrag.add(&fragment, frame.timestamp) {
                    match decode::decode_datagram(&datagram) {
                        Decoded::Tcp(segment) => {
                            self.decode.tcp += 1;
                            self.segment(frame, &segment);
                        }
                        Decoded::Malformed(_) => self.decode.malformed += 1,
                        _ => self.decode.other_ip += 1,
                    }
                }
            }
            Decoded::Malformed(_) => self.decode.malformed += 1,
            Decoded::TruncatedHeaders => self.decode.truncated_headers += 1,
            Decoded::UnsupportedLink(LinkType(lt)) => {
                self.decode.unsupported_link += 1;
                *self.unsupported.entry(lt).or_default() += 1;
            }
        }
        self.frames_since_sweep += 1;
        if self.frames_since_sweep >= SWEEP_EVERY_FRAMES {
            self.frames_since_sweep = 0;
            self.sweep();
        }
    }

    fn segment(&mut self, frame: &Frame<'_>, seg: &Segment<'_>) {
        let src = Endpoint {
            ip: seg.src_ip,
            port: seg.src_port,
        };
        let dst = Endpoint {
            ip: seg.dst_ip,
            port: seg.dst_port,
        };
        let (key, side) = FlowKey::of(src, dst);
        let is_syn = seg.flags.syn() && !seg.flags.ack();
        if is_syn && let Some(flow) = self.flows.get(&key) {
            let new_isn = flow.isn[side.index()].is_some_and(|isn| isn != seg.seq);
            let after_close = flow.closed || flow.fins.iter().any(Option::is_some);
            if new_isn || (after_close && flow.isn[side.index()] != Some(seg.seq)) {
                if let Some(old) = self.flows.remove(&key) {
                    self.finish_flow(old, FlowEnd::PortReused);
                }
            }
        }
        if !self.flows.contains_key(&key) && self.flows.len() >= self.options.max_flows() {
            // The table is full: make room from idle flows, else leave this one out (counted).
            self.sweep();
            if self.flows.len() >= self.options.max_flows() {
                self.decode.flows_not_tracked += 1;
                return;
            }
        }
        let stream = &mut self.next_stream;
        let flow = self.flows.entry(key).or_insert_with(|| {
            let s = *stream;
            *stream += 1;
            Box::new(FlowState::new(key, s, frame, seg.flags.syn()))
        });
        flow.last_frame = frame.number;
        flow.last_time = frame.timestamp;
        let i = side.index();
        let other = side.other();
        let in_handshake = flow.handshake_end.is_none();
        flow.health
            .segment(side, seg, frame.number, frame.timestamp, in_handshake);
        if in_handshake && flow.frame_times.len() < MAX_FRAME_TIMES {
            flow.frame_times.push((frame.number, frame.timestamp));
        }
        flow.payload_seen |= seg.payload_len > 0;

        if seg.flags.syn() {
            // The SYN's sender is the client; the SYN/ACK's sender the server.
            let client = if seg.flags.ack() { other } else { side };
            flow.client.get_or_insert(client);
            if flow.isn[i].is_none() {
                flow.isn[i] = Some(seg.seq);
            }
            flow.reassembly[i].syn(SeqNumber(seg.seq));
        }
        if seg.flags.rst() {
            flow.closed = true;
        }
        if seg.payload.len() < seg.payload_len as usize {
            flow.truncated_frames += 1;
            flow.first_truncated_frame.get_or_insert(frame.number);
            self.snaplen = self.snaplen.max(frame.data.len() as u32);
        }
        if flow.passive() {
            if seg.flags.fin() && flow.fins[i].is_none() {
                flow.fins[i] = Some(frame.number);
            }
            if flow.fins.iter().all(Option::is_some) {
                flow.closed = true;
            }
            return;
        }

        let mut new_events: Vec<TlsEvent> = Vec::new();
        // Payload first: a segment's own data precedes what its ACK says about the other side.
        let data_seq = if seg.flags.syn() {
            SeqNumber(seg.seq).plus(1)
        } else {
            SeqNumber(seg.seq)
        };
        if seg.payload_len > 0 && !flow.parsers[i].is_done() {
            let (reassembly, parser) = (&mut flow.reassembly[i], &mut flow.parsers[i]);
            reassembly.segment(
                data_seq,
                frame.number,
                seg.payload,
                seg.payload_len,
                &mut |chunk| feed(parser, chunk, &mut new_events),
            );
        }
        if seg.flags.fin() {
            if flow.fins[i].is_none() {
                flow.fins[i] = Some(frame.number);
            }
            flow.reassembly[i].fin(data_seq.plus(seg.payload_len));
        }
        let mut context = Context {
            keylog: &self.keylog,
            tls_servers: &mut self.tls_servers,
            await_keys: self.options.await_keys,
            now: frame.timestamp,
        };
        absorb(flow, side, &mut new_events, &mut context);
        if seg.flags.ack() && !flow.parsers[other.index()].is_done() {
            let o = other.index();
            let (reassembly, parser) = (&mut flow.reassembly[o], &mut flow.parsers[o]);
            reassembly.acknowledged(SeqNumber(seg.ack), frame.number, &mut |chunk| {
                feed(parser, chunk, &mut new_events)
            });
            absorb(flow, other, &mut new_events, &mut context);
        }
        if flow.fins.iter().all(Option::is_some) {
            flow.closed = true;
        }
        let stream_now = self.options.stream
            && !flow.reported
            && verdict_is_final(flow, self.options.await_keys, frame.timestamp);
        self.after_events(key, frame.number);
        if stream_now {
            self.stream_flow(key);
        }
    }

    /// Reports a flow whose verdict is final while it stays in the table (live use).
    fn stream_flow(&mut self, key: FlowKey) {
        let Some(flow) = self.flows.get(&key) else {
            return;
        };
        let client_side = client_side_of(flow);
        let mut facts = self.facts_of(flow, client_side, FlowEnd::CaptureEnded);
        facts.health = flow.health.clone();
        facts.frame_times = flow.frame_times.clone();
        self.complete_facts(&mut facts, flow, client_side);
        let verdict = analysis::judge(&facts);
        if let Some(flow) = self.flows.get_mut(&key) {
            flow.reported = true;
        }
        if verdict.kind == VerdictKind::NotTls {
            return;
        }
        let Some(flow) = self.flows.get(&key) else {
            return;
        };
        let report = flow_report(
            flow,
            client_side,
            &facts,
            verdict,
            self.capture,
            self.stream_base,
        );
        self.ready.push(report.clone());
        self.finished
            .push((self.capture, flow.tcp_stream, Box::new(report)));
    }

    /// Reports whose verdict became final since the last call (live use), in that order.
    pub fn take_ready(&mut self) -> Vec<FlowReport> {
        std::mem::take(&mut self.ready)
    }

    /// Advances the clock without a packet (live use, on an idle link): idle flows are closed.
    pub fn tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        self.sweep();
        if self.options.stream {
            // Flows that waited long enough for keys are judged without them.
            let mut due: Vec<(u64, FlowKey)> = self
                .flows
                .iter()
                .filter(|(_, f)| !f.reported && verdict_is_final(f, self.options.await_keys, now))
                .map(|(k, f)| (f.tcp_stream, *k))
                .collect();
            due.sort_unstable_by_key(|(stream, _)| *stream);
            for (_, key) in due {
                self.stream_flow(key);
            }
        }
    }

    /// Ends a live capture: every open flow is reported as stopped.
    pub fn stop_capture(&mut self, path: &str, summary: &CaptureSummary) -> CaptureReport {
        let mut open: Vec<Box<FlowState>> = self.flows.drain().map(|(_, f)| f).collect();
        open.sort_by_key(|f| f.tcp_stream);
        for flow in open {
            self.finish_flow(flow, FlowEnd::CaptureStopped);
        }
        self.end_capture(path, summary)
    }

    fn complete_facts(&self, facts: &mut FlowFacts, flow: &FlowState, client_side: Side) {
        let server = flow.key.endpoint(client_side.other());
        facts.tls_candidate =
            TLS_PORTS.contains(&server.port) || self.tls_servers.contains(&server);
        facts.client_side = client_side;
        facts.handshake_end = flow.handshake_end;
        facts.payload_seen = flow.payload_seen;
    }

    /// Updates flow-level state after new events and stops work the flow no longer needs.
    fn after_events(&mut self, key: FlowKey, frame: u64) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        if flow.first_tls_frame.is_none() && flow.parsers.iter().any(DirectionParser::seen_tls) {
            flow.first_tls_frame = Some(frame);
        }
        let not_tls = flow.not_tls;
        if not_tls && flow.first_tls_frame.is_none() {
            for p in &mut flow.parsers {
                p.stop();
            }
        }
        for i in 0..2 {
            if flow.parsers[i].is_done() && !flow.reassembly[i].is_passive() {
                flow.reassembly[i].make_passive();
            }
        }
    }

    /// Closes idle and long-closed flows.
    fn sweep(&mut self) {
        let now = self.now;
        let mut expired: Vec<(FlowKey, u64, FlowEnd)> = self
            .flows
            .iter()
            .filter_map(|(key, f)| {
                let idle = now.nanos_since(f.last_time);
                if f.closed && idle > CLOSED_LINGER_NS {
                    Some((*key, f.tcp_stream, FlowEnd::CaptureEnded))
                } else if idle > IDLE_TIMEOUT_NS {
                    Some((*key, f.tcp_stream, FlowEnd::Idle))
                } else {
                    None
                }
            })
            .collect();
        expired.sort_by_key(|(_, stream, _)| *stream);
        for (key, _, end) in expired {
            if let Some(flow) = self.flows.remove(&key) {
                self.finish_flow(flow, end);
            }
        }
    }

    /// Ends the current capture: every open flow is finished, and the capture's report returned.
    pub fn end_capture(&mut self, path: &str, summary: &CaptureSummary) -> CaptureReport {
        let mut open: Vec<Box<FlowState>> = self.flows.drain().map(|(_, f)| f).collect();
        open.sort_by_key(|f| f.tcp_stream);
        for flow in open {
            self.finish_flow(flow, FlowEnd::CaptureEnded);
        }
        let mut warnings: Vec<String> = summary.warnings.iter().map(|w| w.to_string()).collect();
        for (lt, n) in &self.unsupported {
            warnings.push(format!(
                "{n} frames of unsupported link type {} skipped (alpnscope reads Ethernet, Linux cooked SLL/SLL2, raw IP, NULL and LOOP)",
                LinkType(*lt)
            ));
        }
        if self.decode.malformed > 0 {
            warnings.push(format!(
                "{} malformed frames skipped (length fields or headers that do not add up)",
                self.decode.malformed
            ));
        }
        self.defrag.finish();
        self.decode.datagrams_reassembled = self.defrag.completed;
        self.decode.datagrams_incomplete = self.defrag.abandoned;
        if self.decode.flows_not_tracked > 0 {
            warnings.push(format!(
                "{} packets of new connections were not analysed: {} flows were already tracked (the cap)",
                self.decode.flows_not_tracked,
                self.options.max_flows()
            ));
        }
        if self.defrag.abandoned > 0 {
            warnings.push(format!(
                "{} fragmented IP datagrams could not be reassembled (fragments missing, too old or inconsistent); their bytes are gaps in their flows",
                self.defrag.abandoned
            ));
        }
        if self.decode.truncated_payload + self.decode.truncated_headers > 0 {
            warnings.push(format!(
                "{} frames were cut by the snaplen ({} bytes); capture with -s 0 to see whole handshakes",
                self.decode.truncated_payload + self.decode.truncated_headers,
                // The length frames were cut at; the file header's snaplen can be larger
                // (editcap -s, or a capture re-written with a smaller snaplen).
                if self.snaplen > 0 { self.snaplen } else { summary.snaplen }
            ));
        }
        CaptureReport {
            path: path.to_string(),
            format: summary.format.name().to_string(),
            link_types: summary.link_types.iter().map(|l| l.to_string()).collect(),
            snaplen: summary.snaplen,
            packets: summary.packets,
            bytes: summary.bytes,
            size: None,
            sha256: None,
            first_time: summary.first_time.map(|t| t.rfc3339_micros()),
            last_time: summary.last_time.map(|t| t.rfc3339_micros()),
            complete: summary.complete(),
            warnings,
            decode: self.decode,
            statistics: None,
        }
    }

    fn finish_flow(&mut self, mut flow: Box<FlowState>, end: FlowEnd) {
        let last = flow.last_frame;
        for i in 0..2 {
            let mut events = Vec::new();
            let (reassembly, parser) = (&mut flow.reassembly[i], &mut flow.parsers[i]);
            reassembly.finish(last, &mut |chunk| feed(parser, chunk, &mut events));
            let side = if i == 0 { Side::A } else { Side::B };
            flow.events.extend(events.into_iter().map(|e| (side, e)));
        }
        if flow.first_tls_frame.is_none() && flow.parsers.iter().any(DirectionParser::seen_tls) {
            flow.first_tls_frame = Some(last);
        }
        if flow.reported {
            return;
        }
        let client_side = client_side_of(&flow);
        let mut facts = self.facts_of(&flow, client_side, end);
        facts.health = std::mem::take(&mut flow.health);
        facts.frame_times = std::mem::take(&mut flow.frame_times);
        self.complete_facts(&mut facts, &flow, client_side);
        let verdict = analysis::judge(&facts);
        if verdict.kind == VerdictKind::NotTls {
            self.non_tls_flows += 1;
            if !self.options.include_non_tls {
                return;
            }
        }
        let report = flow_report(
            &flow,
            client_side,
            &facts,
            verdict,
            self.capture,
            self.stream_base,
        );
        if self.options.stream {
            self.ready.push(report.clone());
        }
        self.finished
            .push((self.capture, flow.tcp_stream, Box::new(report)));
    }

    fn facts_of(&self, flow: &FlowState, client: Side, end: FlowEnd) -> FlowFacts {
        let role = |side: Side| {
            if side == client {
                Role::Client
            } else {
                Role::Server
            }
        };
        let mut facts = FlowFacts {
            truncated_frames: flow.truncated_frames,
            first_truncated_frame: flow.first_truncated_frame,
            snaplen: self.snaplen,
            last_frame: flow.last_frame,
            first_tls_frame: flow.first_tls_frame,
            keys: flow.keys,
            end,
            ..FlowFacts::default()
        };
        facts.resets = flow
            .health
            .resets
            .iter()
            .map(|r| (role(r.side), r.frame))
            .collect();
        for side in [Side::A, Side::B] {
            if let Some(f) = flow.fins[side.index()] {
                facts.fins.push((role(side), f));
            }
        }
        facts.fins.sort_by_key(|(_, f)| *f);
        for (side, event) in &flow.events {
            let from = role(*side);
            match event {
                TlsEvent::ClientHello { hello, frames } => facts
                    .client_hellos
                    .push(((**hello).clone(), frames.clone())),
                TlsEvent::ServerHello { hello, frames } => facts
                    .server_hellos
                    .push(((**hello).clone(), frames.clone())),
                TlsEvent::Alert {
                    level,
                    description,
                    frame,
                    decrypted,
                } => facts.alerts.push(AlertSeen {
                    from,
                    level: *level,
                    description: *description,
                    frame: *frame,
                    decrypted: *decrypted,
                }),
                TlsEvent::EncryptedExtensions { alpn, frames } => {
                    facts.encrypted_extensions = Some((alpn.clone(), frames.clone()))
                }
                TlsEvent::Certificate { names, frames } => {
                    if from == Role::Server {
                        facts.server_certificate = Some((names.clone(), frames.clone()));
                    }
                }
                TlsEvent::Finished { frame } => facts.finished.push((from, *frame)),
                TlsEvent::ChangeCipherSpec { .. } | TlsEvent::ApplicationData { .. } => {}
                TlsEvent::Proxy { kind, target, .. } => {
                    if from == Role::Client || facts.proxy.is_none() {
                        facts.proxy = Some((*kind, target.clone()));
                    }
                }
                TlsEvent::NotTls { .. } => facts.not_tls = true,
                TlsEvent::Fault { frame, fault } => {
                    facts.faults.push((from, *frame, fault.clone()))
                }
            }
        }
        facts
    }

    /// Finishes the analysis and returns the report over every capture.
    pub fn into_report(mut self, captures: Vec<CaptureReport>) -> Report {
        self.finished
            .sort_by_key(|(capture, stream, _)| (*capture, *stream));
        let flows: Vec<FlowReport> = self.finished.into_iter().map(|(_, _, r)| *r).collect();
        let summary = crate::report::summary::summarize(&flows, self.non_tls_flows);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            captures,
            diagnosis: crate::report::diagnosis::diagnose(&flows),
            flows,
            summary,
        }
    }
}

/// Records a direction's new events on the flow, and acts on the ones that concern the other
/// direction: the ClientHello decides the client and selects key-log secrets, a TLS 1.3
/// ServerHello makes the client's direction encrypted.
/// What [`absorb`] needs from the analyzer besides the flow.
struct Context<'a> {
    keylog: &'a KeyLog,
    tls_servers: &'a mut HashSet<Endpoint>,
    await_keys: bool,
    now: Timestamp,
}

fn absorb(flow: &mut FlowState, side: Side, events: &mut Vec<TlsEvent>, context: &mut Context<'_>) {
    let keylog = context.keylog;
    let mut i = 0;
    while i < events.len() {
        let mut more = Vec::new();
        let from_client = flow.client == Some(side);
        match &events[i] {
            TlsEvent::ClientHello { hello, .. } => {
                flow.client.get_or_insert(side);
                flow.client_random = Some(hello.random.clone());
                if context.tls_servers.len() < MAX_TLS_SERVERS {
                    context.tls_servers.insert(flow.key.endpoint(side.other()));
                }
                if context.await_keys && keylog.get(&hello.random).is_none() {
                    flow.parsers[0].await_keys();
                    flow.parsers[1].await_keys();
                }
                if !keylog.is_empty() || context.await_keys {
                    match keylog.get(&hello.random) {
                        Some(secrets) => {
                            flow.keys = KeyStatus::Found;
                            if let Some(c) = &secrets.client {
                                flow.parsers[side.index()].set_handshake_secret(c.clone());
                            }
                            if let Some(s) = &secrets.server {
                                flow.parsers[side.other().index()].set_handshake_secret(s.clone());
                            }
                        }
                        None => flow.keys = KeyStatus::NoEntry,
                    }
                }
            }
            TlsEvent::ServerHello { hello, .. } if !hello.is_hello_retry_request => {
                flow.server_version = Some(hello.version());
                flow.server_hello_time.get_or_insert(context.now);
            }
            _ => {}
        }
        match &events[i] {
            // End of the handshake window: the server's ChangeCipherSpec (TLS ≤ 1.2), or the
            // client's first protected record after a TLS 1.3 ServerHello.
            TlsEvent::ChangeCipherSpec { frame }
                if !from_client && flow.server_version.is_some_and(|v| v < 0x0304) =>
            {
                flow.handshake_end.get_or_insert(*frame);
            }
            TlsEvent::ApplicationData { frame } | TlsEvent::Finished { frame }
                if from_client && flow.server_version == Some(0x0304) =>
            {
                flow.handshake_end.get_or_insert(*frame);
            }
            _ => {}
        }
        match &events[i] {
            TlsEvent::ServerHello { hello, .. }
                if !hello.is_hello_retry_request && hello.version() == 0x0304 =>
            {
                flow.parsers[side.other().index()]
                    .peer_selected_tls13(hello.cipher_suite, &mut more);
            }
            TlsEvent::ServerHello { hello, .. } if hello.version() != 0x0304 => {
                flow.parsers[side.other().index()].peer_selected_tls12();
            }
            TlsEvent::NotTls { .. } => flow.not_tls = true,
            _ => {}
        }
        i += 1;
        flow.events
            .extend(more.into_iter().map(|e| (side.other(), e)));
    }
    flow.events.extend(events.drain(..).map(|e| (side, e)));
}

fn feed(parser: &mut DirectionParser, chunk: Chunk<'_>, events: &mut Vec<TlsEvent>) {
    match chunk {
        Chunk::Data { frame, bytes } => parser.feed(frame, bytes, events),
        Chunk::Gap { frame, len } => parser.gap(frame, len, events),
    }
}

fn endpoint_report(e: Endpoint) -> EndpointReport {
    EndpointReport {
        ip: e.ip.to_string(),
        port: e.port,
    }
}

/// The client side: the SYN sender, else the ClientHello sender, else the side with the higher
/// (ephemeral) port.
fn client_side_of(flow: &FlowState) -> Side {
    let by_port = if flow.key.a.port > flow.key.b.port {
        Side::A
    } else {
        Side::B
    };
    flow.client.unwrap_or(by_port)
}

/// True when more packets cannot change the flow's verdict: a ServerHello (with its decrypted
/// EncryptedExtensions when keys are at hand), a server alert, or the end of the connection.
fn verdict_is_final(flow: &FlowState, await_keys: bool, now: Timestamp) -> bool {
    // A TLS 1.3 flow whose keys may still be logged waits a little for them, even when the
    // connection is already over (clients write the key log as the handshake ends).
    let awaiting_keys = await_keys
        && flow.server_version == Some(0x0304)
        && flow.keys != KeyStatus::Found
        && flow
            .server_hello_time
            .is_some_and(|t| now.nanos_since(t) <= KEY_WAIT_NS);
    if awaiting_keys {
        return false;
    }
    if flow.closed {
        return true;
    }
    let server = flow.client.map(Side::other);
    let mut server_alert = false;
    let mut encrypted_extensions = false;
    let mut decryption_failed = false;
    for (side, event) in &flow.events {
        match event {
            TlsEvent::Alert { .. } if Some(*side) == server => server_alert = true,
            TlsEvent::EncryptedExtensions { .. } => encrypted_extensions = true,
            TlsEvent::Fault {
                fault: crate::tls::StreamFault::Decryption(_),
                ..
            } => decryption_failed = true,
            _ => {}
        }
    }
    if server_alert {
        return true;
    }
    match flow.server_version {
        Some(v) if v < 0x0304 => true,
        Some(_) if flow.keys == KeyStatus::Found => {
            encrypted_extensions || decryption_failed || flow.handshake_end.is_some()
        }
        Some(_) => true,
        None => false,
    }
}

fn flow_report(
    flow: &FlowState,
    client: Side,
    facts: &FlowFacts,
    verdict: analysis::Verdict,
    capture: usize,
    stream_base: u64,
) -> FlowReport {
    let ch = facts.client_hello();
    let sh = facts.server_hello();
    let ee_alpn = facts
        .encrypted_extensions
        .as_ref()
        .and_then(|(alpn, _)| alpn.as_ref());
    let (selected_list, alpn_source) = match (sh.and_then(|(h, _)| h.alpn.as_ref()), ee_alpn) {
        (Some(a), _) => (Some(a), Some("server_hello")),
        (None, Some(a)) => (Some(a), Some("encrypted_extensions")),
        (None, None) => (None, None),
    };
    let alpn_selected = selected_list
        .and_then(|a| a.protocols.first())
        .map(|p| p.escaped());
    let alpn_source = alpn_selected.as_ref().and(alpn_source);
    let tls13 = sh.is_some_and(|(h, _)| h.version() == 0x0304);
    let decryption_failed = facts
        .faults
        .iter()
        .any(|(_, _, f)| matches!(f, crate::tls::StreamFault::Decryption(_)));
    let decryption = match facts.keys {
        _ if !tls13 => None,
        KeyStatus::NoKeyLog => None,
        KeyStatus::NoEntry => Some("no key-log entry for this ClientHello random".to_string()),
        KeyStatus::Found if decryption_failed => {
            Some("decryption failed: keys do not match this flow".to_string())
        }
        KeyStatus::Found => Some("decrypted".to_string()),
    };
    let mut notes: Vec<String> = Vec::new();
    for (role, frame, fault) in &facts.faults {
        notes.push(format!("{} stream, frame {frame}: {fault}", role.name()));
    }
    for side in [Side::A, Side::B] {
        let stats = flow.reassembly[side.index()].stats();
        let who = if side == client { "client" } else { "server" };
        if stats.cap_hits > 0 {
            notes.push(format!(
                "{who} stream: out-of-order buffer cap ({} KiB) reached {} times",
                crate::flow::MAX_PENDING_BYTES / 1024,
                stats.cap_hits
            ));
        }
        if stats.gaps > 0 {
            notes.push(format!(
                "{who} stream: {} gaps, {} bytes missing from the capture",
                stats.gaps, stats.gap_bytes
            ));
        }
    }
    if flow.truncated_frames > 0 {
        notes.push(format!(
            "{} frames cut by the snaplen",
            flow.truncated_frames
        ));
    }
    if facts.client_hellos.len() > 1 && facts.hello_retry_request().is_none() {
        notes.push(format!(
            "{} ClientHellos without a HelloRetryRequest",
            facts.client_hellos.len()
        ));
    }
    let hrr_frames = facts.hello_retry_request().map(|(_, f)| f.clone());
    let view = analysis::network::assess(facts);
    let tcp = tcp_report(facts, &view);
    FlowReport {
        id: stream_base + flow.tcp_stream,
        capture,
        tcp_stream: flow.tcp_stream,
        transport: "tcp",
        client: endpoint_report(flow.key.endpoint(client)),
        server: endpoint_report(flow.key.endpoint(client.other())),
        first_frame: flow.first_frame,
        last_frame: flow.last_frame,
        start: flow.first_time.rfc3339_micros(),
        sni: ch.and_then(|(h, _)| h.sni.clone()),
        alpn_offered: ch
            .map(|(h, _)| h.offered().iter().map(|p| p.escaped()).collect())
            .unwrap_or_default(),
        alpn_source,
        alpn_selected,
        tls_version: sh.map(|(h, _)| version_name(h.version())),
        verdict: verdict.kind.name(),
        detail: verdict.detail,
        evidence_frames: verdict.evidence_frames,
        client_hello: ch.map(|(h, frames)| ClientHelloReport {
            frames: frames.clone(),
            random: h.random.iter().map(|b| format!("{b:02x}")).collect(),
            legacy_version: version_name(h.legacy_version),
            supported_versions: h
                .supported_versions
                .iter()
                .map(|v| version_name(*v))
                .collect(),
            cipher_suites: HexCodes(h.cipher_suites.clone()),
            extensions: HexCodes(h.extensions.clone()),
            alpn_grease: h.offered().iter().any(|p| p.is_grease()),
            alpn_malformed: h
                .alpn
                .as_ref()
                .and_then(|a| a.malformed)
                .map(str::to_string),
            // JA4 fingerprints the connection's first ClientHello, as the JA4 tools do.
            ja4: ja4::ja4(facts.client_hellos.first().map_or(h, |(first, _)| first)),
            after_hello_retry_request: hrr_frames.is_some() && facts.client_hellos.len() > 1,
        }),
        server_hello: sh.map(|(h, frames)| ServerHelloReport {
            frames: frames.clone(),
            version: version_name(h.version()),
            cipher_suite: tls_parser::TlsCipherSuite::from_id(h.cipher_suite)
                .map(|c| c.name.to_string())
                .unwrap_or_else(|| format!("0x{:04x}", h.cipher_suite)),
            extensions: HexCodes(h.extensions.clone()),
            alpn: h
                .alpn
                .as_ref()
                .map(|a| a.protocols.iter().map(|p| p.escaped()).collect()),
            hello_retry_request_frames: hrr_frames.clone(),
            npn: h.npn,
        }),
        encrypted_extensions: facts.encrypted_extensions.as_ref().map(|(alpn, frames)| {
            EncryptedExtensionsReport {
                frames: frames.clone(),
                alpn: alpn
                    .as_ref()
                    .map(|a| a.protocols.iter().map(|p| p.escaped()).collect()),
            }
        }),
        server_certificate: facts.server_certificate.as_ref().map(|(names, frames)| {
            CertificateReport {
                subject: names.subject.clone(),
                issuer: names.issuer.clone(),
                san: names.san.clone(),
                frames: frames.clone(),
            }
        }),
        decryption,
        alerts: facts
            .alerts
            .iter()
            .map(|a| AlertReport {
                from: a.from.name(),
                level: match a.level {
                    1 => "warning",
                    2 => "fatal",
                    0 => "encrypted",
                    _ => "unknown",
                },
                description: a
                    .description
                    .map(analysis::alert_name)
                    .unwrap_or("encrypted"),
                code: a.description,
                frame: a.frame,
                decrypted: a.decrypted,
            })
            .collect(),
        proxy: facts.proxy.as_ref().map(|(kind, target)| ProxyReport {
            kind: kind.name(),
            target: target.clone(),
        }),
        tcp,
        network: view.finding.clone(),
        notes,
    }
}

fn counts_report(
    counts: &[crate::flow::Counts; 2],
    client: Side,
) -> BTreeMap<&'static str, DirectionCounts> {
    let mut out = BTreeMap::new();
    for kind in Anomaly::ALL {
        let side_count = |side: Side| {
            let c = counts[side.index()].get(kind);
            (c.count > 0).then(|| CountReport {
                count: c.count,
                frames: c.frames.clone(),
            })
        };
        let entry = DirectionCounts {
            client: side_count(client),
            server: side_count(client.other()),
        };
        if entry.client.is_some() || entry.server.is_some() {
            out.insert(kind.name(), entry);
        }
    }
    out
}

fn tcp_report(facts: &FlowFacts, view: &analysis::network::NetworkView) -> TcpReport {
    let health = &facts.health;
    let client = facts.client_side;
    let mut holes = BTreeMap::new();
    for (side, name) in [(client, "client"), (client.other(), "server")] {
        let (filled, open) = health.holes(side);
        if filled + open > 0 {
            holes.insert(name, HoleReport { filled, open });
        }
    }
    TcpReport {
        connect_ms: view.connect_ms,
        capture_point: view.capture_point.name(),
        client_hello_to_server_hello_ms: view.client_hello_to_server_hello_ms,
        client_hello_span_ms: view.client_hello_span_ms,
        handshake_ms: view.handshake_ms,
        handshake_end_frame: facts.handshake_end,
        handshake_loss: view.handshake_loss,
        handshake: counts_report(&health.handshake, client),
        flow: counts_report(&health.flow, client),
        holes,
        resets: view
            .resets
            .iter()
            .map(|r| ResetReport {
                from: r.from.name(),
                frame: r.frame,
                ttl: r.ttl,
                usual_ttl: r.usual_ttl,
            })
            .collect(),
        fins: health
            .fins
            .iter()
            .map(|f| FinReport {
                from: if f.side == client { "client" } else { "server" },
                frame: f.frame,
            })
            .collect(),
        retransmitted_messages: view
            .retransmitted_messages
            .iter()
            .map(|m| MessageReport {
                message: m.message,
                times: m.times,
                frames: m.frames.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureFormat, CaptureSummary};
    use etherparse::PacketBuilder;

    /// A minimal TLS 1.2 ClientHello record offering `h2`.
    fn client_hello_record() -> Vec<u8> {
        let alpn = [0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2'];
        let mut body = vec![3, 3];
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 0, 2, 0xc0, 0x2f, 1, 0]);
        body.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
        body.extend_from_slice(&alpn);
        body.extend_from_slice(&[0; 600]); // padding inside the record, after the hello
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&((body.len() - 600) as u16).to_be_bytes());
        msg.extend_from_slice(&body[..body.len() - 600]);
        let mut record = vec![0x16, 3, 1];
        record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        record.extend(msg);
        record
    }

    fn summary() -> CaptureSummary {
        CaptureSummary {
            format: CaptureFormat::Pcap,
            link_types: vec![LinkType::RAW],
            snaplen: 65535,
            packets: 0,
            bytes: 0,
            first_time: None,
            last_time: None,
            warnings: Vec::new(),
        }
    }

    fn frame(number: u64, data: &[u8]) -> Frame<'_> {
        Frame {
            number,
            timestamp: Timestamp(number as i64 * 1000),
            link_type: LinkType::RAW,
            data,
            original_len: data.len() as u32,
        }
    }

    /// Splits an IPv4 packet (20-byte header) into two fragments at `at` payload bytes.
    fn fragment(packet: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
        let payload = &packet[20..];
        let mut first = packet[..20].to_vec();
        first.extend_from_slice(&payload[..at]);
        first[2..4].copy_from_slice(&((20 + at) as u16).to_be_bytes());
        first[6] = 0x20; // more fragments, offset 0
        first[7] = 0;
        let mut second = packet[..20].to_vec();
        second.extend_from_slice(&payload[at..]);
        second[2..4].copy_from_slice(&((20 + payload.len() - at) as u16).to_be_bytes());
        let offset = (at / 8) as u16;
        second[6..8].copy_from_slice(&offset.to_be_bytes());
        (first, second)
    }

    #[test]
    fn client_hello_in_ipv4_fragments_is_reassembled() {
        let record = client_hello_record();
        let mut packet = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp(40000, 443, 1, 1000)
            .ack(1)
            .write(&mut packet, &record)
            .unwrap();
        let (first, second) = fragment(&packet, 48);
        let mut analyzer = Analyzer::new(AnalyzerOptions::default());
        analyzer.begin_capture(0);
        // The second fragment arrives first.
        analyzer.frame(&frame(1, &second));
        analyzer.frame(&frame(2, &first));
        let capture = analyzer.end_capture("test", &summary());
        assert_eq!(capture.decode.fragments, 2);
        assert_eq!(capture.decode.datagrams_reassembled, 1);
        let report = analyzer.into_report(vec![capture]);
        let flow = &report.flows[0];
        assert_eq!(flow.alpn_offered, ["h2"]);
        assert_eq!(flow.client_hello.as_ref().unwrap().frames, [2]);
        assert_eq!(flow.client.port, 40000);
        assert_eq!(flow.verdict, "incomplete");
    }

    #[test]
    fn missing_fragment_is_reported() {
        let record = client_hello_record();
        let mut packet = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .tcp(40000, 443, 1, 1000)
            .write(&mut packet, &record)
            .unwrap();
        let (_, second) = fragment(&packet, 48);
        let mut analyzer = Analyzer::new(AnalyzerOptions::default());
        analyzer.begin_capture(0);
        analyzer.frame(&frame(1, &second));
        let capture = analyzer.end_capture("test", &summary());
        assert_eq!(capture.decode.datagrams_incomplete, 1);
        assert!(
            capture
                .warnings
                .iter()
                .any(|w| w.contains("could not be reassembled"))
        );
    }

    #[test]
    fn flow_table_is_capped_and_counts_what_it_left_out() {
        let mut analyzer = Analyzer::new(AnalyzerOptions {
            flow_limit: 2,
            ..AnalyzerOptions::default()
        });
        analyzer.begin_capture(0);
        let mut packets = Vec::new();
        for port in 0..5u16 {
            let mut packet = Vec::new();
            PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
                .tcp(40000 + port, 443, 1, 1000)
                .syn()
                .write(&mut packet, &[])
                .unwrap();
            packets.push(packet);
        }
        for (i, packet) in packets.iter().enumerate() {
            analyzer.frame(&frame(i as u64 + 1, packet));
        }
        assert_eq!(analyzer.active_flows(), 2);
        let capture = analyzer.end_capture("test", &summary());
        assert_eq!(capture.decode.flows_not_tracked, 3);
        assert!(capture.warnings.iter().any(|w| w.contains("the cap")));
    }

    /// A TLS 1.2 ServerHello record selecting `alpn`.
    fn server_hello_record(alpn: &[u8]) -> Vec<u8> {
        let mut ext = vec![0x00, 0x10];
        ext.extend_from_slice(&((alpn.len() + 3) as u16).to_be_bytes());
        ext.extend_from_slice(&((alpn.len() + 1) as u16).to_be_bytes());
        ext.push(alpn.len() as u8);
        ext.extend_from_slice(alpn);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[4; 32]);
        body.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut msg = vec![2, 0];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend(body);
        let mut record = vec![0x16, 3, 3];
        record.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        record.extend(msg);
        record
    }

    #[test]
    fn a_protocol_nobody_offered_is_a_server_bug() {
        let ch = client_hello_record();
        let sh = server_hello_record(b"spdy/1");
        let mut packets = Vec::new();
        for (src, dst, sport, dport, seq, ack, payload) in [
            (
                [192, 0, 2, 1],
                [192, 0, 2, 2],
                40000u16,
                443u16,
                1u32,
                1u32,
                &ch[..],
            ),
            (
                [192, 0, 2, 2],
                [192, 0, 2, 1],
                443,
                40000,
                1,
                1 + ch.len() as u32,
                &sh[..],
            ),
        ] {
            let mut packet = Vec::new();
            PacketBuilder::ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 1000)
                .ack(ack)
                .write(&mut packet, payload)
                .unwrap();
            packets.push(packet);
        }
        let mut analyzer = Analyzer::new(AnalyzerOptions::default());
        analyzer.begin_capture(0);
        for (i, packet) in packets.iter().enumerate() {
            analyzer.frame(&frame(i as u64 + 1, packet));
        }
        let capture = analyzer.end_capture("test", &summary());
        let report = analyzer.into_report(vec![capture]);
        let flow = &report.flows[0];
        assert_eq!(flow.verdict, "selected_unoffered");
        assert_eq!(flow.alpn_selected.as_deref(), Some("spdy/1"));
        assert_eq!(flow.evidence_frames, [1, 2]);
        assert!(flow.detail.contains("RFC 7301 §3.2"), "{}", flow.detail);
        let kinds: Vec<&str> = report.diagnosis.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, ["server_bug"]);
    }

    /// IPv6 fragments (RFC 8200 §4.5) of one TCP segment: fixed header, fragment header, piece.
    fn ipv6_fragments(segment: &[u8], at: usize) -> (Vec<u8>, Vec<u8>) {
        let piece = |offset: usize, data: &[u8], more: bool| {
            let mut p = vec![0x60, 0, 0, 0];
            p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
            p.extend_from_slice(&[44, 64]);
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            let offset_flags = ((offset / 8) as u16) << 3 | u16::from(more);
            p.extend_from_slice(&[6, 0]);
            p.extend_from_slice(&offset_flags.to_be_bytes());
            p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            p.extend_from_slice(data);
            p
        };
        (
            piece(0, &segment[..at], true),
            piece(at, &segment[at..], false),
        )
    }

    #[test]
    fn client_hello_in_ipv6_fragments_is_reassembled() {
        let record = client_hello_record();
        let mut packet = Vec::new();
        PacketBuilder::ipv6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .tcp(40000, 443, 1, 1000)
        .ack(1)
        .write(&mut packet, &record)
        .unwrap();
        let segment = &packet[40..];
        let (first, second) = ipv6_fragments(segment, 48);
        let mut analyzer = Analyzer::new(AnalyzerOptions::default());
        analyzer.begin_capture(0);
        analyzer.frame(&frame(1, &first));
        analyzer.frame(&frame(2, &second));
        let capture = analyzer.end_capture("test", &summary());
        assert_eq!(capture.decode.datagrams_reassembled, 1);
        let report = analyzer.into_report(vec![capture]);
        assert_eq!(report.flows[0].alpn_offered, ["h2"]);
        assert_eq!(report.flows[0].client.ip, "2001:db8::1");
    }
}
