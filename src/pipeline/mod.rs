//! The pipeline: frames in, flow reports out.
//!
//! [`Analyzer`] is the flow table (the endpoint, in quinn-proto's terms): it decodes each frame,
//! finds the frame's connection — creating it, or replacing it when its ports are reused — and
//! hands the TCP segment or UDP datagram to that connection's state machine
//! (`tcp::TcpConnection`, `quic::QuicConnection`; the key's transport keeps them apart). Flows
//! are numbered in order of first packet over both (the report's id); TCP connections also get
//! Wireshark's `tcp.stream` and QUIC ones its `quic.connection.number`. It decides
//! when a connection leaves the table (capture end, idle timeout, linger after close, port
//! reuse), and, in live use, when a connection's verdict is final and may be streamed. The
//! connection produces [`FlowFacts`]; [`crate::report::build`] turns facts into reports.
//!
//! Memory is bounded: at most [`AnalyzerOptions::flow_limit`] connections (default
//! [`DEFAULT_MAX_FLOWS`]), each with capped reassembly buffers that are freed as soon as both
//! directions are past the handshake; at most [`MAX_TLS_SERVERS`] remembered TLS servers.
//!
//! Time stays linear under a flood: the table keeps its flows in order of last activity
//! (`ActivityIndex`), so the sweep only meets the flows it closes, and a full table makes room
//! in amortised O(log n) by evicting the least recently active flow that has shown no TLS record (a
//! SYN-only flow goes before one with a ClientHello). Only when every tracked flow has shown TLS
//! is a new connection left out (counted).
//!
//! One memory budget covers the flows' state (`budget`, default [`DEFAULT_MEMORY_BUDGET`]): each
//! packet's connection is charged with what it holds, and while the total is over the budget
//! the table sheds buffers of flows past their handshake, then out-of-order data of stalled
//! flows, then flows without a complete handshake, least recently active first (see the module
//! for the rules). The same order decides which flow a full table closes to make room: a flow
//! without a TLS record, else one whose ClientHello the server has not answered; a flow whose
//! server answered is never closed early.
//!
//! The two drivers sit beside the table: [`files`] reads capture files and stdin, `live`
//! (feature `live`) reads an interface through libpcap.

mod activity;
mod batch;
mod budget;
mod correction;
mod dns;
pub mod files;
#[cfg(feature = "live")]
pub mod live;
mod merge;
mod output;
mod quic;
mod read_ahead;
mod slot;
mod tcp;
#[cfg(test)]
mod tests;

use crate::analysis::{self, Eviction, FlowEnd, FlowFacts, VerdictKind};
use crate::capture::{CaptureSummary, Frame, LinkType, Timestamp};
use crate::decode::{self, Decoded, Defragmenter, Segment, UdpDatagram};
use crate::flow::{Endpoint, FlowKey, Side, Transport};
use crate::report::build::{self, CaptureTally, FlowPlace};
use crate::report::model::{
    CaptureReport, Correction, DecodeCounts, FlowReport, Report, SCHEMA_VERSION, Tool,
};
use crate::report::words;
use crate::tls::TlsEvent;
use crate::tls::keylog::{KeyLog, KeyLogError};
use activity::{ActivityIndex, Which};
use budget::MemoryBudget;
use output::Output;
use quic::{Absorbed, QuicConnection};
use slot::{Connection, FlowTable, Opening, Slot};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use tcp::{Context, Progress, Reported, TcpConnection};

pub use dns::MAX_DNS_HTTPS_RECORDS;
pub use output::MAX_WAITING_REPORTS;

pub use budget::DEFAULT_MEMORY_BUDGET;
pub use tcp::KEY_WAIT_NS;

/// How long (capture time) an open flow may stay silent before it is closed.
pub const IDLE_TIMEOUT_NS: i64 = 600 * 1_000_000_000;
/// How long a flow lingers after RST or both FINs, to absorb stray retransmissions and ACKs.
const CLOSED_LINGER_NS: i64 = 10 * 1_000_000_000;
/// Frames between two sweeps of the flow table.
const SWEEP_EVERY_FRAMES: u64 = 8192;
/// Most server endpoints remembered as TLS servers.
pub const MAX_TLS_SERVERS: usize = 65_536;
/// Ports where a connection that never got to TLS is still reported (HTTPS, DoT, SMTPS, LDAPS,
/// IMAPS, POP3S, HTTPS alternates, SIPS).
const TLS_PORTS: [u16; 9] = [443, 465, 636, 853, 993, 995, 4443, 5061, 8443];

/// Options that shape the analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalyzerOptions {
    /// Keep reports of flows that are not TLS.
    pub include_non_tls: bool,
    /// Live use: report each flow as soon as its verdict is final (see [`Analyzer::take_ready`])
    /// instead of when it leaves the table; such a flow is judged again when it leaves, and a
    /// changed conclusion is reported as a [`Correction`].
    pub stream: bool,
    /// Most flows tracked at once (0: [`DEFAULT_MAX_FLOWS`]).
    pub flow_limit: usize,
    /// Memory budget for flow state in bytes (0: [`DEFAULT_MEMORY_BUDGET`]).
    pub memory: usize,
    /// Live use with a key log that clients are still writing: keep TLS 1.3 protected records
    /// until their keys arrive (or [`KEY_WAIT_NS`] passes) before judging the flow.
    pub await_keys: bool,
    /// Whoever takes the reports ([`Analyzer::take_flows`]) counts them into the summary and
    /// diagnosis itself, as [`crate::report::stream::ReportWriter`] does: the analyzer does not
    /// (the same work twice), and [`Analyzer::into_report`] gives no diagnosis and a summary
    /// with only `non_tls_flows`.
    pub sink_tallies: bool,
}

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

    fn memory(&self) -> usize {
        if self.memory == 0 {
            DEFAULT_MEMORY_BUDGET
        } else {
            self.memory
        }
    }
}

/// Turns frames into flow reports for one or more captures.
#[derive(Debug)]
pub struct Analyzer {
    options: AnalyzerOptions,
    /// The connections, each a compact SYN-only entry until its second packet.
    flows: FlowTable,
    /// The flows in order of last activity.
    activity: ActivityIndex,
    /// Flows of the current capture evicted to make room in the full table.
    flows_evicted: u64,
    /// Reported flows of the current capture with gaps the capture itself left.
    capture_gap_flows: u64,
    /// The memory budget for flow state, and what it shed in the current capture.
    budget: MemoryBudget,
    capture: usize,
    /// Index of the next flow of the current capture, over every transport.
    next_index: u64,
    /// Wireshark's `tcp.stream` of the next TCP connection of the current capture.
    next_tcp_stream: u64,
    /// Wireshark's `quic.connection.number` of the next QUIC connection of the current capture.
    next_quic_connection: u64,
    /// Scratch space for opening QUIC packets, reused.
    quic_buf: Vec<u8>,
    /// Final reports on their way out, in order of flow id.
    output: Output,
    /// Flows concluded so far.
    concluded: usize,
    non_tls_flows: u64,
    decode: DecodeCounts,
    unsupported: BTreeMap<u32, u64>,
    defrag: Defragmenter,
    keylog: KeyLog,
    /// Server endpoints that spoke TLS in this capture.
    /// Seeded at random, as the flow table (see [`crate::flow::FlowKeyHasher`]).
    tls_servers: HashSet<Endpoint, crate::flow::FlowKeyHasher>,
    /// The TLS events of one segment, on their way to its connection ([`Context::tls_events`]).
    tls_events: Vec<TlsEvent>,
    frames_since_sweep: u64,
    now: Timestamp,
    /// Largest length frames were cut at by the snaplen.
    snaplen: u32,
    /// Flow ids of earlier captures: ids are `stream_base` plus the flow's index in its capture.
    stream_base: u64,
    /// Reports and corrections ready to stream (live use).
    ready: Vec<Streamed>,
    /// Packets the current capture says it dropped itself (0 until its counters are known).
    capture_drops: u64,
    /// Flows of the current file that left the table with handshake data nobody acknowledged
    /// missing: judged when the capture ends, once its own drop counters (which pcapng writes
    /// at the end) are known. At most [`MAX_DEFERRED_FLOWS`].
    deferred: Vec<FlowFacts>,
    /// DNS HTTPS and SVCB answers seen (UDP and TCP port 53).
    dns: dns::DnsLog,
    /// TCP connections open when the capture ended, by key, with their flow ids (at most
    /// [`MAX_CONTINUED`]): the next capture may continue them.
    open_at_end: HashMap<FlowKey, u64>,
    /// Those of the previous capture, while the next one is read, and the time its last frame
    /// was captured (a continuation comes later).
    previous_open: HashMap<FlowKey, u64>,
    previous_end: Timestamp,
    /// What the flow table did not take of a flow, by flow index: packets the capture filter
    /// dropped (by side of the flow key: A, B), and copies from a second capture point.
    untaken: HashMap<u64, Untaken>,
    /// Connections of this capture that continue one open at the end of the previous capture
    /// (no SYN), and the first of them (its flow id there and here).
    continued: (u64, Option<(u64, u64)>),
}

/// The flow key of a TCP segment, and the segment's side of it.
fn tcp_key(seg: &Segment<'_>) -> (FlowKey, Side) {
    let src = Endpoint {
        ip: seg.src_ip,
        port: seg.src_port,
    };
    let dst = Endpoint {
        ip: seg.dst_ip,
        port: seg.dst_port,
    };
    FlowKey::of(Transport::Tcp, src, dst)
}

/// Connections open at the end of a capture remembered for the next one.
pub const MAX_CONTINUED: usize = 1024;

/// Flows whose packets the capture filter dropped (or a merge found copies of), counted at once:
/// a flood of such packets cannot grow the count table.
pub const MAX_FILTERED_FLOWS: usize = 65_536;

/// What the flow table did not take of one flow.
#[derive(Debug, Default, Clone, Copy)]
struct Untaken {
    /// Packets the capture filter dropped, by side of the flow key (A, B).
    filtered: [u64; 2],
    /// Copies of its packets from a second capture point (`--merge`).
    copies: u64,
}

/// Most flows whose judgement waits for the capture's drop counters; later ones are judged at
/// once.
const MAX_DEFERRED_FLOWS: usize = 4096;

/// Where [`Analyzer::end_capture_streaming`] hands final reports, a batch at a time.
#[allow(clippy::vec_box)] // reports are handed on boxed (see `take_flows`)
pub type FlowsSink<'a> = dyn FnMut(Vec<Box<FlowReport>>) + 'a;

/// What live use hands out, in order (see [`Analyzer::take_ready`]).
#[derive(Debug, Clone)]
pub enum Streamed {
    /// A flow whose verdict became final, or that left the table before.
    Flow(FlowReport),
    /// A flow streamed earlier whose conclusion changed by the time it left the table.
    Correction(Correction),
}

impl Analyzer {
    /// A new analyzer.
    pub fn new(options: AnalyzerOptions) -> Analyzer {
        let budget = MemoryBudget::new(options.memory());
        let output = Output::new(options.sink_tallies);
        Analyzer {
            options,
            flows: FlowTable::default(),
            activity: ActivityIndex::default(),
            flows_evicted: 0,
            capture_gap_flows: 0,
            budget,
            capture: 0,
            next_index: 0,
            next_tcp_stream: 0,
            next_quic_connection: 0,
            quic_buf: Vec::new(),
            output,
            concluded: 0,
            non_tls_flows: 0,
            decode: DecodeCounts::default(),
            unsupported: BTreeMap::new(),
            defrag: Defragmenter::new(),
            keylog: KeyLog::new(),
            tls_servers: HashSet::default(),
            tls_events: Vec::new(),
            frames_since_sweep: 0,
            now: Timestamp(0),
            snaplen: 0,
            stream_base: 0,
            ready: Vec::new(),
            capture_drops: 0,
            deferred: Vec::new(),
            dns: dns::DnsLog::default(),
            open_at_end: HashMap::new(),
            previous_open: HashMap::new(),
            previous_end: Timestamp(0),
            untaken: HashMap::new(),
            continued: (0, None),
        }
    }

    /// Starts a new capture: flows do not continue across captures.
    pub fn begin_capture(&mut self, index: usize) {
        self.capture = index;
        self.stream_base += self.next_index;
        self.next_index = 0;
        self.next_tcp_stream = 0;
        self.next_quic_connection = 0;
        self.decode = DecodeCounts::default();
        self.flows_evicted = 0;
        self.budget.begin_capture();
        self.unsupported.clear();
        self.snaplen = 0;
        self.defrag = Defragmenter::new();
        self.tls_servers.clear();
        self.capture_drops = 0;
        self.dns.begin_capture();
        self.previous_open = std::mem::take(&mut self.open_at_end);
        self.previous_end = self.now;
        self.continued = (0, None);
        self.untaken.clear();
    }

    /// The capture's own counters say it dropped `packets` packets (libpcap's statistics of a
    /// live capture): handshake data missing from flows judged from now on is put down to the
    /// capture, not to the network.
    pub fn note_capture_drops(&mut self, packets: u64) {
        self.capture_drops = packets;
    }

    /// Adds TLS key-log secrets (an NSS key log file, or a pcapng Decryption Secrets Block).
    pub fn add_key_log(&mut self, text: &str) -> Result<(), KeyLogError> {
        self.keylog.add_text(text)?;
        if self.options.await_keys {
            self.retry_keys();
        }
        Ok(())
    }

    /// Gives newly logged secrets to the flows that were waiting for them, in flow order.
    fn retry_keys(&mut self) {
        let mut waiting: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, slot)| slot.awaits_secrets().is_some())
            .map(|(k, slot)| (slot.index(), *k))
            .collect();
        waiting.sort_unstable_by_key(|(index, _)| *index);
        for (_, key) in waiting {
            let Some(slot) = self.flows.get_mut(&key) else {
                continue;
            };
            let Some(secrets) = slot
                .awaits_secrets()
                .and_then(|random| self.keylog.get(random))
            else {
                continue;
            };
            match slot {
                Slot::Open(connection) => {
                    let mut context = Context {
                        keylog: &self.keylog,
                        tls_servers: &mut self.tls_servers,
                        tls_events: &mut self.tls_events,
                        await_keys: false,
                        now: self.now,
                    };
                    connection.provide_secrets(secrets, &mut context);
                }
                Slot::Quic(connection) => {
                    connection.provide_secrets(secrets, &self.keylog, &mut self.quic_buf);
                }
                Slot::Opening(_) => continue,
            }
            if self.options.stream
                && matches!(slot.reported(), Some(Reported::No))
                && slot.verdict_is_final(true, self.now)
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
        self.concluded
    }

    /// The final reports handed out since the last call, in order of flow id (see
    /// [`MAX_WAITING_REPORTS`] for the exception). The summary and diagnosis of
    /// [`Analyzer::into_report`] count them all; its `flows` holds those never taken.
    pub fn take_flows(&mut self) -> Vec<Box<FlowReport>> {
        self.output.take()
    }

    /// True when [`Analyzer::take_flows`] has reports to hand out.
    pub fn has_flows(&self) -> bool {
        self.output.has_ready()
    }

    /// One frame.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.decoded_frame(frame, decode::decode_frame(frame));
    }

    /// [`Analyzer::frame`] for a frame decoded already (on a reading thread): `decoded` is
    /// [`decode::decode_frame`]'s outcome for `frame`.
    pub fn decoded_frame(&mut self, frame: &Frame<'_>, decoded: Decoded<'_>) {
        self.now = frame.timestamp;
        match decoded {
            Decoded::Tcp(segment) => {
                self.decode.tcp += 1;
                if frame.is_truncated() && segment.payload.len() < segment.payload_len as usize {
                    self.decode.truncated_payload += 1;
                }
                self.segment(frame, &segment);
            }
            Decoded::Udp(udp) => self.udp(frame, &udp),
            Decoded::OtherIp => self.decode.other_ip += 1,
            Decoded::NotIp => self.decode.not_ip += 1,
            Decoded::Fragment(fragment) => {
                self.decode.fragments += 1;
                let datagram = self.defrag.add(&fragment, frame.timestamp);
                self.budget.set_other(self.defrag.held_bytes());
                if let Some(datagram) = datagram {
                    match decode::decode_datagram(&datagram) {
                        Decoded::Tcp(segment) => {
                            self.decode.tcp += 1;
                            self.segment(frame, &segment);
                        }
                        Decoded::Udp(udp) => self.udp(frame, &udp),
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

    /// False when the data of a frame decoded as `decoded` would change nothing if the analysis
    /// took it now (its headers count, not its data): a TCP segment, not a SYN nor DNS, of a
    /// connection that reads no more bytes (both directions past their handshake, or not TLS).
    /// The file reader then need not read the data (see [`files`]).
    pub fn data_matters(&self, decoded: &Decoded<'_>) -> bool {
        let Decoded::Tcp(seg) = decoded else {
            return true;
        };
        if seg.flags.syn() || dns::DnsLog::wants_segment(seg) {
            return true;
        }
        let (key, _) = tcp_key(seg);
        !self.flows.get(&key).is_some_and(Slot::ignores_data)
    }

    /// One TCP segment: to its connection, made (or remade, on port reuse) when needed.
    fn segment(&mut self, frame: &Frame<'_>, seg: &Segment<'_>) {
        if dns::DnsLog::wants_segment(seg) {
            // DNS over TCP: its answers are read apart; the connection is a flow all the same.
            self.dns
                .segment(self.capture, frame.number, frame.timestamp, seg);
        }
        let (key, side) = tcp_key(seg);
        let is_syn = seg.flags.syn() && !seg.flags.ack();
        if !is_syn && self.segment_of_known(key, side, frame, seg) {
            return;
        }
        if is_syn
            && self
                .flows
                .get(&key)
                .is_some_and(|c| c.is_reused_by(side, seg.seq))
            && let Some(old) = self.take(&key)
        {
            self.finish_flow(old, FlowEnd::PortReused);
        }
        if !self.flows.contains_key(&key) && !self.make_room() {
            return;
        }
        if seg.payload.len() < seg.payload_len as usize {
            self.snaplen = self.snaplen.max(frame.data.len() as u32);
        }
        if let Entry::Vacant(entry) = self.flows.entry(key) {
            let s = self.next_index;
            self.next_index += 1;
            let tcp_stream = self.next_tcp_stream;
            self.next_tcp_stream += 1;
            self.activity.quiet.insert((frame.timestamp, s), key);
            self.output.opened(self.stream_base + s);
            if let Some(opening) = Opening::of(s, tcp_stream, side, frame, seg) {
                // Only a SYN: kept compact until the connection's second packet.
                let slot = entry.insert(Slot::Opening(Box::new(opening)));
                self.budget.charge(
                    key,
                    s,
                    slot.charge_mut(),
                    Opening::footprint(),
                    frame.timestamp,
                );
                self.relieve();
                return;
            }
            if !seg.flags.syn()
                && frame.timestamp >= self.previous_end
                && let Some(before) = self.previous_open.remove(&key)
            {
                self.continued.0 += 1;
                self.continued
                    .1
                    .get_or_insert((before, self.stream_base + s));
            }
            let connection = TcpConnection::new(key, s, tcp_stream, frame, seg.flags.syn());
            entry.insert(Slot::Open(Box::new(connection)));
        }
        // The connection is in the table now: the segment goes to it as to any known one.
        self.segment_of_known(key, side, frame, seg);
    }

    /// A segment of a connection the table holds, with one lookup of its key: nearly every
    /// segment (a new connection's, once [`Analyzer::segment`] made its entry). False when the
    /// table holds no connection for `key`.
    fn segment_of_known(
        &mut self,
        key: FlowKey,
        side: Side,
        frame: &Frame<'_>,
        seg: &Segment<'_>,
    ) -> bool {
        let Some(slot) = self.flows.get_mut(&key) else {
            return false;
        };
        if seg.payload.len() < seg.payload_len as usize {
            self.snaplen = self.snaplen.max(frame.data.len() as u32);
        }
        let mut context = Context {
            keylog: &self.keylog,
            tls_servers: &mut self.tls_servers,
            tls_events: &mut self.tls_events,
            await_keys: self.options.await_keys,
            now: frame.timestamp,
        };
        let Some(connection) = slot.open(key, &mut context) else {
            return true;
        };
        let read = connection.segment(side, frame, seg, &mut context);
        let stream_now = read
            && self.options.stream
            && matches!(connection.reported, Reported::No)
            && connection.verdict_is_final(self.options.await_keys, frame.timestamp);
        charge_slot(
            &mut self.activity,
            &mut self.budget,
            key,
            slot,
            frame.timestamp,
        );
        if stream_now {
            self.stream_flow(key);
        }
        self.relieve();
        true
    }

    /// Indexes and charges a flow after a packet (or after shedding).
    fn charge(&mut self, key: FlowKey, now: Timestamp) {
        if let Some(slot) = self.flows.get_mut(&key) {
            charge_slot(&mut self.activity, &mut self.budget, key, slot, now);
        }
    }

    /// Room in the table for a new connection: false when it is left out (counted).
    fn make_room(&mut self) -> bool {
        if self.flows.len() >= self.options.max_flows() {
            // The table is full: make room from idle flows, else from a flow without TLS, else
            // leave this one out (counted).
            self.sweep();
            if self.flows.len() >= self.options.max_flows() && !self.evict_one(Eviction::TableFull)
            {
                self.decode.flows_not_tracked += 1;
                return false;
            }
        }
        if self.budget.over() {
            // `relieve` left the budget exceeded: only flows whose server answered remain.
            self.budget.tally.refused_packets += 1;
            self.decode.flows_not_tracked += 1;
            return false;
        }
        true
    }

    /// One UDP datagram: to its QUIC connection, made when the datagram starts one (a long
    /// header of a known version); anything else is counted as other IP, without allocating.
    /// A datagram of a connection in the table (nearly all of them: 1-RTT packets) costs one
    /// table lookup; one that is not QUIC, a lookup and [`crate::quic::packet::sniff`].
    fn udp(&mut self, frame: &Frame<'_>, udp: &UdpDatagram<'_>) {
        let src = Endpoint {
            ip: udp.src_ip,
            port: udp.src_port,
        };
        let dst = Endpoint {
            ip: udp.dst_ip,
            port: udp.dst_port,
        };
        if dns::DnsLog::wants(udp) {
            // DNS, not QUIC: still "IP but not TCP" in the decode counts.
            self.decode.other_ip += 1;
            self.dns.datagram(self.capture, frame, udp);
            return;
        }
        let (key, side) = FlowKey::of(Transport::Udp, src, dst);
        let slot = match self.flows.get_mut(&key) {
            Some(slot) => slot,
            None => {
                let starts = crate::quic::packet::sniff(udp.payload)
                    .is_some_and(|v| v != crate::quic::version::Version::NEGOTIATION);
                if !starts {
                    self.decode.other_ip += 1;
                    return;
                }
                if !self.make_room() {
                    return;
                }
                self.open_quic(key, frame);
                match self.flows.get_mut(&key) {
                    Some(slot) => slot,
                    None => return,
                }
            }
        };
        self.decode.quic += 1;
        if udp.payload.len() < udp.payload_len as usize {
            self.decode.truncated_payload += 1;
            self.snaplen = self.snaplen.max(frame.data.len() as u32);
        }
        let Slot::Quic(connection) = slot else {
            return;
        };
        let absorbed = connection.datagram(side, frame, udp, &self.keylog, &mut self.quic_buf);
        if absorbed == Absorbed::NewConnection {
            // A new connection on the same 4-tuple: the old one is over.
            if let Some(old) = self.take(&key) {
                self.finish_flow(old, FlowEnd::PortReused);
            }
            self.open_quic(key, frame);
            if let Some(Slot::Quic(connection)) = self.flows.get_mut(&key) {
                connection.datagram(side, frame, udp, &self.keylog, &mut self.quic_buf);
            }
            self.after_datagram(key, frame.timestamp);
            return;
        }
        let stream_now = self.options.stream
            && matches!(slot.reported(), Some(Reported::No))
            && slot.verdict_is_final(self.options.await_keys, frame.timestamp);
        charge_slot(
            &mut self.activity,
            &mut self.budget,
            key,
            slot,
            frame.timestamp,
        );
        if stream_now {
            self.stream_flow(key);
        }
        self.relieve();
    }

    /// After a datagram that replaced a connection: streams the new one if final, charges it,
    /// relieves the budget.
    fn after_datagram(&mut self, key: FlowKey, now: Timestamp) {
        let stream_now = self.options.stream
            && self.flows.get(&key).is_some_and(|slot| {
                matches!(slot.reported(), Some(Reported::No))
                    && slot.verdict_is_final(self.options.await_keys, now)
            });
        self.charge(key, now);
        if stream_now {
            self.stream_flow(key);
        }
        self.relieve();
    }

    /// Adds a new QUIC connection whose first datagram is in `frame` to the table.
    fn open_quic(&mut self, key: FlowKey, frame: &Frame<'_>) {
        let index = self.next_index;
        self.next_index += 1;
        let number = self.next_quic_connection;
        self.next_quic_connection += 1;
        self.activity.quiet.insert((frame.timestamp, index), key);
        self.output.opened(self.stream_base + index);
        let mut connection = QuicConnection::new(key, index, number, frame);
        connection.await_keys = self.options.await_keys;
        self.flows.insert(key, Slot::Quic(Box::new(connection)));
    }

    /// Sheds state while the table is over its memory budget, in the budget's order: closed
    /// flows still lingering, buffers of flows past their handshake, out-of-order data of
    /// stalled flows, flows without a complete handshake (see `budget`).
    fn relieve(&mut self) {
        while self.budget.over() {
            if let Some(key) =
                self.activity
                    .pop_older(Which::Closed, self.now, None, &mut self.flows)
            {
                // Over and judged: it only lingered to absorb stray retransmissions.
                if let Some(connection) = self.take(&key) {
                    self.budget.tally.closed_flows += 1;
                    self.finish_flow(connection, FlowEnd::CaptureEnded);
                }
            } else if let Some(key) = self.budget.next_past_handshake(&mut self.flows) {
                if let Some(connection) = self.flows.get_mut(&key).and_then(Slot::connection_mut) {
                    let released = connection.stop_reading();
                    self.budget.tally.stopped_reading_flows += 1;
                    self.budget.tally.stopped_reading_bytes += released as u64;
                    self.recharge(key);
                }
            } else if let Some(key) = self.budget.next_stalled(&mut self.flows) {
                if let Some(connection) = self.flows.get_mut(&key).and_then(Slot::connection_mut) {
                    let mut context = Context {
                        keylog: &self.keylog,
                        tls_servers: &mut self.tls_servers,
                        tls_events: &mut self.tls_events,
                        await_keys: self.options.await_keys,
                        now: self.now,
                    };
                    let released = connection.shed_out_of_order(&mut context);
                    self.budget.tally.out_of_order_flows += 1;
                    self.budget.tally.out_of_order_bytes += released as u64;
                    self.recharge(key);
                }
            } else if !self.evict_one(Eviction::MemoryBudget) {
                // Only flows whose server answered are left: the flow cap bounds them.
                return;
            }
        }
    }

    /// Indexes and charges a flow again after shedding (reading on may have shown TLS).
    fn recharge(&mut self, key: FlowKey) {
        self.charge(key, self.now);
    }

    /// Reports a flow whose verdict is final while it stays in the table (live use). Its facts
    /// end with [`FlowEnd::StillOpen`]: nothing is said of what it has not done yet.
    fn stream_flow(&mut self, key: FlowKey) {
        let Some(mut facts) = self
            .flows
            .get(&key)
            .and_then(|slot| slot.facts(FlowEnd::StillOpen))
        else {
            return;
        };
        self.complete_facts(&mut facts);
        let verdict = analysis::judge(&facts);
        let reported = if verdict.kind == VerdictKind::NotTls {
            Reported::NotTls
        } else {
            let mut report = build::flow_report(&facts, verdict, self.place());
            self.dns.advertise(&mut report);
            self.ready.push(Streamed::Flow(report.clone()));
            Reported::Streamed(Box::new(report))
        };
        if let Some(slot) = self.flows.get_mut(&key) {
            slot.set_reported(reported);
        }
    }

    /// Reports whose verdict became final, and corrections of reports streamed earlier, since
    /// the last call (live use), in that order.
    pub fn take_ready(&mut self) -> Vec<Streamed> {
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
                .filter(|(_, slot)| {
                    matches!(slot.reported(), Some(Reported::No))
                        && slot.verdict_is_final(self.options.await_keys, now)
                })
                .map(|(k, slot)| (slot.index(), *k))
                .collect();
            due.sort_unstable_by_key(|(index, _)| *index);
            for (_, key) in due {
                self.stream_flow(key);
            }
        }
    }

    /// What the table knows of a flow beyond the connection itself.
    fn complete_facts(&self, facts: &mut FlowFacts) {
        facts.tls_candidate =
            TLS_PORTS.contains(&facts.server.port) || self.tls_servers.contains(&facts.server);
        facts.snaplen = self.snaplen;
        facts.capture_time = self.now;
        facts.capture_drops = self.capture_drops;
        if let Some(untaken) = self.untaken.get(&facts.index) {
            let client = facts.client_side as usize;
            let by_side = untaken.filtered;
            facts.filter_dropped = [by_side[client], by_side[1 - client]];
            facts.copies = untaken.copies;
        }
    }

    /// A frame of a merge that repeats a packet another file captured first: counted on its
    /// flow (the flow was captured at two points), not analysed.
    pub fn copy_seen(&mut self, frame: &Frame<'_>) {
        if let Some((index, _)) = self.flow_of(frame)
            && let Some(untaken) = self.untaken_mut(index)
        {
            untaken.copies += 1;
        }
    }

    /// The index of the flow the table holds for `frame`, and the frame's side of its key.
    fn flow_of(&self, frame: &Frame<'_>) -> Option<(u64, Side)> {
        let (key, side) = match decode::decode_frame(frame) {
            Decoded::Tcp(seg) => tcp_key(&seg),
            Decoded::Udp(udp) => FlowKey::of(
                Transport::Udp,
                Endpoint {
                    ip: udp.src_ip,
                    port: udp.src_port,
                },
                Endpoint {
                    ip: udp.dst_ip,
                    port: udp.dst_port,
                },
            ),
            _ => return None,
        };
        self.flows.get(&key).map(|slot| (slot.index(), side))
    }

    /// The counts of flow `index`, unless [`MAX_FILTERED_FLOWS`] other flows have some.
    fn untaken_mut(&mut self, index: u64) -> Option<&mut Untaken> {
        if self.untaken.len() >= MAX_FILTERED_FLOWS && !self.untaken.contains_key(&index) {
            return None;
        }
        Some(self.untaken.entry(index).or_default())
    }

    /// A frame the capture filter dropped: counted on its flow, when the table holds one, so
    /// the flow's report can say what the filter took (at most [`MAX_FILTERED_FLOWS`] flows).
    pub fn filtered_out(&mut self, frame: &Frame<'_>) {
        if let Some((index, side)) = self.flow_of(frame)
            && let Some(untaken) = self.untaken_mut(index)
        {
            untaken.filtered[side as usize] += 1;
        }
    }

    fn place(&self) -> FlowPlace {
        FlowPlace {
            capture: self.capture,
            stream_base: self.stream_base,
        }
    }

    /// Closes idle and long-closed flows, in flow order. Only the flows it closes (and entries
    /// of flows active since they were indexed) are visited.
    fn sweep(&mut self) {
        let now = self.now;
        let mut expired: Vec<(Connection, FlowEnd)> = Vec::new();
        // Closed flows linger; a closed flow idle past the idle timeout is one of them.
        while let Some(key) =
            self.activity
                .pop_older(Which::Closed, now, Some(CLOSED_LINGER_NS), &mut self.flows)
        {
            if let Some(connection) = self.take(&key) {
                expired.push((connection, FlowEnd::CaptureEnded));
            }
        }
        for which in [
            Which::Open(Progress::Quiet),
            Which::Open(Progress::Partial),
            Which::Open(Progress::Answered),
        ] {
            while let Some(key) =
                self.activity
                    .pop_older(which, now, Some(IDLE_TIMEOUT_NS), &mut self.flows)
            {
                if let Some(connection) = self.take(&key) {
                    expired.push((connection, FlowEnd::Idle));
                }
            }
        }
        expired.sort_by_key(|(c, _)| c.index());
        for (connection, end) in expired {
            self.finish_flow(connection, end);
        }
    }

    /// Makes room (in the full table, or in the memory budget): finishes the least recently
    /// active flow without a TLS record, else the least recently active one whose ClientHello
    /// the server has not answered, as [`FlowEnd::Evicted`]. False when the server answered
    /// every tracked flow.
    fn evict_one(&mut self, eviction: Eviction) -> bool {
        let key = self
            .activity
            .pop_older(
                Which::Open(Progress::Quiet),
                self.now,
                None,
                &mut self.flows,
            )
            .or_else(|| {
                self.activity.pop_older(
                    Which::Open(Progress::Partial),
                    self.now,
                    None,
                    &mut self.flows,
                )
            });
        let Some(key) = key else {
            return false;
        };
        let held = self
            .flows
            .get(&key)
            .map_or(0, |s| s.footprint(self.now).total);
        let Some(connection) = self.take(&key) else {
            return false;
        };
        match eviction {
            Eviction::TableFull => self.flows_evicted += 1,
            Eviction::MemoryBudget => {
                self.budget.tally.evicted_flows += 1;
                self.budget.tally.evicted_bytes += held as u64;
            }
        }
        self.finish_flow(connection, FlowEnd::Evicted(eviction));
        true
    }

    /// Removes a flow from the table, the activity index and the memory budget.
    fn take(&mut self, key: &FlowKey) -> Option<Connection> {
        let mut slot = self.flows.remove(key)?;
        self.activity.remove(&slot);
        self.budget.release(slot.index(), slot.charge_mut());
        let mut context = Context {
            keylog: &self.keylog,
            tls_servers: &mut self.tls_servers,
            tls_events: &mut self.tls_events,
            await_keys: self.options.await_keys,
            now: self.now,
        };
        Some(slot.into_connection(*key, &mut context))
    }

    /// Finishes every flow still in the table, in flow order. Compact SYN-only entries are
    /// opened one at a time, as each is finished; final reports go to `on_flows` as they are
    /// ready, when given (else they wait for [`Analyzer::take_flows`]).
    fn finish_all(&mut self, end: FlowEnd, mut on_flows: Option<&mut FlowsSink<'_>>) {
        self.activity = ActivityIndex::default();
        let mut open: Vec<(FlowKey, Slot)> = self.flows.drain().collect();
        for (_, slot) in &mut open {
            self.budget.release(slot.index(), slot.charge_mut());
        }
        open.sort_by_key(|(_, slot)| slot.index());
        for (key, slot) in open {
            if end == FlowEnd::CaptureEnded
                && key.transport == Transport::Tcp
                && self.open_at_end.len() < MAX_CONTINUED
            {
                self.open_at_end
                    .insert(key, self.stream_base + slot.index());
            }
            let mut context = Context {
                keylog: &self.keylog,
                tls_servers: &mut self.tls_servers,
                tls_events: &mut self.tls_events,
                await_keys: self.options.await_keys,
                now: self.now,
            };
            let connection = slot.into_connection(key, &mut context);
            self.finish_flow(connection, end);
            self.hand_out(&mut on_flows);
        }
    }

    /// Hands the final reports ready so far to `on_flows`, when given.
    fn hand_out(&mut self, on_flows: &mut Option<&mut FlowsSink<'_>>) {
        if let Some(sink) = on_flows
            && self.output.has_ready()
        {
            sink(self.output.take());
        }
    }

    /// Ends a live capture: every open flow is reported as stopped.
    pub fn stop_capture(&mut self, path: &str, summary: &CaptureSummary) -> CaptureReport {
        self.finish_all(FlowEnd::CaptureStopped, None);
        self.end_capture(path, summary)
    }

    /// Ends the current capture: every open flow is finished, and the capture's report returned.
    /// The flows' final reports wait for [`Analyzer::take_flows`].
    pub fn end_capture(&mut self, path: &str, summary: &CaptureSummary) -> CaptureReport {
        self.end_capture_with(path, summary, None)
    }

    /// Ends the current capture as [`Analyzer::end_capture`] does, handing the final reports
    /// to `on_flows` as they are ready instead of keeping them: the table may hold hundreds of
    /// thousands of flows when the capture ends.
    pub fn end_capture_streaming(
        &mut self,
        path: &str,
        summary: &CaptureSummary,
        on_flows: &mut FlowsSink<'_>,
    ) -> CaptureReport {
        self.end_capture_with(path, summary, Some(on_flows))
    }

    fn end_capture_with(
        &mut self,
        path: &str,
        summary: &CaptureSummary,
        mut on_flows: Option<&mut FlowsSink<'_>>,
    ) -> CaptureReport {
        if let Some(counters) = &summary.statistics {
            self.capture_drops = counters.dropped();
        }
        self.finish_all(FlowEnd::CaptureEnded, on_flows.as_deref_mut());
        let mut deferred = std::mem::take(&mut self.deferred);
        deferred.sort_by_key(|f| f.index);
        for mut facts in deferred {
            facts.capture_drops = self.capture_drops;
            self.conclude(facts, None);
            self.hand_out(&mut on_flows);
        }
        self.defrag.finish();
        self.decode.datagrams_reassembled = self.defrag.completed;
        self.decode.datagrams_incomplete = self.defrag.abandoned;
        self.decode.dns_messages = self.dns.responses;
        self.decode.dns_malformed = self.dns.malformed;
        self.decode.dns_https_omitted = self.dns.omitted;
        let capture_gap_flows = std::mem::take(&mut self.capture_gap_flows);
        let tally = CaptureTally {
            decode: self.decode,
            unsupported_links: &self.unsupported,
            cut_at: self.snaplen,
            flow_limit: self.options.max_flows(),
            flows_evicted: self.flows_evicted,
            capture_gap_flows,
            memory: self.budget.memory_use(),
        };
        let mut report = build::capture_report(path, summary, &tally);
        report.warnings.extend(self.continuation_warning());
        report
    }

    /// The warning of a capture whose connections continue those open at the end of the
    /// previous capture: rotated files of one session, read apart.
    fn continuation_warning(&self) -> Option<String> {
        let (n, Some((before, here))) = self.continued else {
            return None;
        };
        Some(format!(
            "{} open when the previous capture ended {} here without a new handshake (flow {here} continues flow {before}{}): if the files are rotated parts of one capture (tcpdump -C/-G), read them as one with --merge",
            words::plural(n, "TCP connection"),
            if n == 1 { "continues" } else { "continue" },
            if n > 1 { ", …" } else { "" }
        ))
    }

    /// Judges a flow that leaves the table: reports it, or checks again the report streamed
    /// while it was open.
    fn finish_flow(&mut self, connection: Connection, end: FlowEnd) {
        let (mut facts, streamed) = connection.finish(end);
        self.complete_facts(&mut facts);
        self.untaken.remove(&facts.index);
        if streamed.is_none()
            && !self.options.stream
            && self.capture_drops == 0
            && self.deferred.len() < MAX_DEFERRED_FLOWS
            && analysis::network::has_unacknowledged_holes(&facts)
        {
            self.deferred.push(facts);
            return;
        }
        self.conclude(facts, streamed);
    }

    /// Judges a flow's facts: reports it, or checks again the report streamed while it was
    /// open (`streamed`).
    fn conclude(&mut self, facts: FlowFacts, streamed: Option<Box<FlowReport>>) {
        self.concluded += 1;
        let id = self.stream_base + facts.index;
        let verdict = analysis::judge(&facts);
        let report = match streamed {
            Some(report) => Some(Box::new(self.recheck(*report, &facts, verdict))),
            None => self.report(&facts, verdict).map(Box::new),
        };
        if let Some(report) = &report {
            self.capture_gap_flows += u64::from(report.has_capture_gaps());
        }
        self.output.concluded(id, report);
    }

    /// The report of a flow that was not streamed, if it is reported.
    fn report(&mut self, facts: &FlowFacts, verdict: analysis::Verdict) -> Option<FlowReport> {
        if verdict.kind == VerdictKind::NotTls {
            self.non_tls_flows += 1;
            // Plain HTTP sent to a TLS port is listed anyway: it is why that client fails.
            if !self.options.include_non_tls && !verdict.plain_http_to_tls_port {
                return None;
            }
        }
        let mut report = build::flow_report(facts, verdict, self.place());
        self.dns.advertise(&mut report);
        if self.options.stream {
            self.ready.push(Streamed::Flow(report.clone()));
        }
        Some(report)
    }

    /// Compares a flow streamed while open with its judgement on leaving the table: when the
    /// conclusion changed, the final report is the new one and a correction is streamed.
    fn recheck(
        &mut self,
        streamed: FlowReport,
        facts: &FlowFacts,
        verdict: analysis::Verdict,
    ) -> FlowReport {
        let mut now = build::flow_report(facts, verdict, self.place());
        self.dns.advertise(&mut now);
        let Some(correction) = correction::correct(&streamed, now) else {
            return streamed;
        };
        if correction.flow.verdict == VerdictKind::NotTls {
            // Kept in the report, with its correction: the flow was streamed as TLS.
            self.non_tls_flows += 1;
        }
        let report = correction.flow.clone();
        self.ready.push(Streamed::Correction(correction));
        report
    }

    /// Finishes the analysis and returns the report over every capture: its summary and
    /// diagnosis count every flow, its `flows` are those [`Analyzer::take_flows`] did not take.
    pub fn into_report(mut self, captures: Vec<CaptureReport>) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            captures,
            dns_https: self.dns.take_records(),
            diagnosis: self.output.diagnosis.conclusions(),
            flows: self.output.take().into_iter().map(|f| *f).collect(),
            summary: self.output.summary.summary(self.non_tls_flows),
        }
    }
}

/// Indexes and charges the connection in `slot` (the table's entry for `key`) after a packet:
/// [`Analyzer::charge`] for a caller that holds the entry already.
fn charge_slot(
    activity: &mut ActivityIndex,
    budget: &mut MemoryBudget,
    key: FlowKey,
    slot: &mut Slot,
    now: Timestamp,
) {
    activity.update(key, slot);
    let footprint = slot.footprint(now);
    let index = slot.index();
    budget.charge(key, index, slot.charge_mut(), footprint, now);
}
