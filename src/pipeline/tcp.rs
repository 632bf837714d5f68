//! One TCP connection's state machine: segments in, TLS events and [`FlowFacts`] out.
//!
//! A [`TcpConnection`] reassembles each direction, feeds the ordered bytes to that direction's
//! TLS parser and acts on what the parsers report (the ClientHello names the client and selects
//! key-log secrets, a TLS 1.3 ServerHello makes the other direction protected). It knows nothing
//! of the flow table, the capture or the report: the table hands it segments and asks it for its
//! facts. ISN, FIN and RST state lives once, in the connection's [`TcpHealth`]. Memory is bounded
//! by the reassembler's and the TLS parser's caps and by [`MAX_FRAME_TIMES`] (frame times and
//! window packets).

use super::budget::{Charge, Footprint};
use crate::analysis::{
    AlertSeen, FlowEnd, FlowFacts, KeyStatus, PlaintextSeen, Role, StartTlsSeen, StoppedReading,
    WindowPacket,
};
use crate::capture::{Frame, Timestamp};
use crate::decode::Segment;
use crate::flow::{Chunk, Endpoint, FlowKey, Reassembler, SeqNumber, Side, TcpHealth};
use crate::report::model::FlowReport;
use crate::tls::keylog::{HandshakeSecrets, KeyLog};
use crate::tls::{
    ClientHello, DirectionParser, HandshakeType, StreamFault, TlsEvent, TlsVersion,
    first_plaintext_message, stream::StartTlsStep,
};
use std::collections::HashSet;

/// Most frame times kept per flow for the handshake window.
const MAX_FRAME_TIMES: usize = 512;

/// Packets a TLS handshake's window usually holds: room made for them at its first packet.
const HANDSHAKE_PACKETS: usize = 8;

/// Most server endpoints remembered as TLS servers.
const MAX_TLS_SERVERS: usize = 65_536;
/// How long (capture time) a TLS 1.3 flow waits for its keys after the ServerHello.
pub const KEY_WAIT_NS: i64 = 3_000_000_000;

/// What a connection needs from the flow table while it absorbs a segment.
pub(super) struct Context<'a> {
    /// Secrets known so far.
    pub keylog: &'a KeyLog,
    /// Server endpoints that spoke TLS in this capture (bounded by [`MAX_TLS_SERVERS`]).
    pub tls_servers: &'a mut HashSet<Endpoint, crate::flow::FlowKeyHasher>,
    /// An empty list for the TLS events of a segment, kept by the table so that a segment with
    /// events allocates none (at most [`crate::tls::event::MAX_EVENTS`] long, left empty after
    /// each use).
    pub tls_events: &'a mut Vec<TlsEvent>,
    /// Keep TLS 1.3 protected records until their keys arrive (live use).
    pub await_keys: bool,
    /// Capture time of the segment.
    pub now: Timestamp,
}

/// Whether the flow table reported a connection before it left the table (live use).
#[derive(Debug, Clone)]
pub(super) enum Reported {
    /// Not yet: it is reported when it leaves the table.
    No,
    /// Streamed with this report; checked again when it leaves the table.
    Streamed(Box<FlowReport>),
    /// Its verdict was final but it was judged not TLS: not streamed, judged again when it
    /// leaves the table.
    NotTls,
}

/// One TCP connection while it is in the flow table.
#[derive(Debug)]
pub(super) struct TcpConnection {
    /// The flow's index within the capture, over every transport (the flow table's key for
    /// its orders).
    pub index: u64,
    /// Wireshark's `tcp.stream` index within the capture.
    pub tcp_stream: u64,
    key: FlowKey,
    first_frame: u64,
    first_time: Timestamp,
    /// Last frame of the connection seen.
    pub last_frame: u64,
    /// Time of the last frame seen.
    pub last_time: Timestamp,
    client: Option<Side>,
    reassembly: [Reassembler; 2],
    parsers: [DirectionParser; 2],
    events: Vec<(Side, TlsEvent)>,
    truncated_frames: u64,
    first_truncated_frame: Option<u64>,
    first_tls_frame: Option<u64>,
    keys: KeyStatus,
    health: TcpHealth,
    /// Frame that ended the TLS handshake.
    handshake_end: Option<u64>,
    /// Version the ServerHello chose.
    server_version: Option<TlsVersion>,
    /// Frame times of the handshake window.
    frame_times: Vec<(u64, Timestamp)>,
    /// Packets of the handshake window (as many as `frame_times`).
    window_packets: Vec<WindowPacket>,
    payload_seen: bool,
    /// Whether the flow table already reported the connection (live use).
    pub reported: Reported,
    /// The ClientHello random (to match key-log entries that arrive later).
    client_random: Option<[u8; 32]>,
    /// Time of the ServerHello.
    server_hello_time: Option<Timestamp>,
    /// Where the flow table's activity index holds the connection.
    pub indexed: Indexed,
    /// The server answered the ClientHello (a ServerHello that is not a HelloRetryRequest, or
    /// an alert): the handshake is complete as far as the verdict goes.
    server_answered: bool,
    /// alpnscope stopped reading the connection's streams to free memory.
    stopped_reading: Option<StoppedReading>,
    /// What the memory budget charged the connection with.
    pub charge: Charge,
    /// What the reassemblers and parsers hold, once neither direction reads more bytes: it
    /// stays so (a passive connection only counts its segments), and the memory budget asks
    /// after every packet.
    held_when_passive: Option<usize>,
}

/// How far a connection got, for the order in which the flow table closes flows early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Progress {
    /// No TLS record yet (a SYN-only connection, or one that is not TLS).
    Quiet,
    /// TLS records, but the server has not answered a complete ClientHello.
    Partial,
    /// The server answered the ClientHello.
    Answered,
}

/// Bytes a connection costs beyond its own state and the buffers it counts: the flow table's
/// entry (a hash table kept at most 7/8 full that doubles as it grows), its activity-index and
/// output entries, and the allocator's rounding. Measured: on a SYN flood, peak RSS grew by
/// 3,880 bytes per connection held while 2,624 were itemised (`bench/flood.sh`, `--memory` 32M
/// against 64M and 96M).
pub(super) const TABLE_ENTRY_BYTES: usize = 1_280;
/// Estimated heap bytes of one parsed hello event.
const HELLO_EVENT_BYTES: usize = 1024;

/// Where the flow table's activity index (`super::ActivityIndex`) holds a connection: the
/// keys of its entries, so that they can be removed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Indexed {
    /// Last activity when it was last indexed (never later than `last_time`).
    pub time: Timestamp,
    /// The order it is indexed in.
    pub progress: Progress,
    /// Last activity when it was indexed among the closed flows, once closed.
    pub closed: Option<Timestamp>,
}

impl TcpConnection {
    /// A connection whose first segment is in `frame`.
    pub fn new(
        key: FlowKey,
        index: u64,
        tcp_stream: u64,
        frame: &Frame<'_>,
        starts_with_syn: bool,
    ) -> TcpConnection {
        TcpConnection {
            index,
            tcp_stream,
            key,
            first_frame: frame.number,
            first_time: frame.timestamp,
            last_frame: frame.number,
            last_time: frame.timestamp,
            client: None,
            reassembly: [Reassembler::new(), Reassembler::new()],
            parsers: [
                DirectionParser::new(!starts_with_syn),
                DirectionParser::new(!starts_with_syn),
            ],
            events: Vec::new(),
            truncated_frames: 0,
            first_truncated_frame: None,
            first_tls_frame: None,
            keys: KeyStatus::NoKeyLog,
            health: TcpHealth::new(),
            handshake_end: None,
            server_version: None,
            frame_times: Vec::new(),
            window_packets: Vec::new(),
            payload_seen: false,
            reported: Reported::No,
            client_random: None,
            server_hello_time: None,
            indexed: Indexed {
                time: frame.timestamp,
                progress: Progress::Quiet,
                closed: None,
            },
            server_answered: false,
            stopped_reading: None,
            charge: Charge::default(),
            held_when_passive: None,
        }
    }

    /// True when a SYN from `side` with sequence number `seq` opens a new connection on the same
    /// ports: another ISN, or any SYN but a retransmission after a FIN or RST.
    pub fn is_reused_by(&self, side: Side, seq: u32) -> bool {
        let isn = self.health.isn(side);
        let new_isn = isn.is_some_and(|isn| isn != SeqNumber(seq));
        new_isn || (self.health.closing() && isn != Some(SeqNumber(seq)))
    }

    /// True once a RST was sent or both sides sent a FIN.
    pub fn closed(&self) -> bool {
        self.health.closed()
    }

    /// True once either direction carried a TLS record.
    pub fn seen_tls(&self) -> bool {
        self.first_tls_frame.is_some()
    }

    /// How far the connection got.
    pub fn progress(&self) -> Progress {
        if self.server_answered {
            Progress::Answered
        } else if self.seen_tls() {
            Progress::Partial
        } else {
            Progress::Quiet
        }
    }

    /// What the connection holds now, for the memory budget. O(1) but for the verdict check of
    /// an answered connection that still buffers bytes.
    pub fn footprint(&self, now: Timestamp) -> Footprint {
        use std::mem::size_of;
        let buffered = match self.held_when_passive {
            Some(held) => {
                debug_assert_eq!(held, self.held_bytes());
                held
            }
            None => self.held_bytes(),
        };
        let hellos = self.client_random.is_some() as usize + self.server_version.is_some() as usize;
        let fixed = size_of::<TcpConnection>()
            + TABLE_ENTRY_BYTES
            + self.frame_times.capacity() * size_of::<(u64, Timestamp)>()
            + self.window_packets.capacity() * size_of::<WindowPacket>()
            + self.events.capacity() * size_of::<(Side, TlsEvent)>()
            + hellos * HELLO_EVENT_BYTES
            + self.health.heap_bytes();
        let out_of_order = self.reassembly.iter().map(Reassembler::pending_bytes).sum();
        Footprint {
            total: fixed + buffered,
            out_of_order,
            buffered_past_handshake: buffered > 0
                && self.server_answered
                && self.stopped_reading.is_none()
                && self.verdict_is_final(false, now),
        }
    }

    /// Bytes the reassemblers and the parsers hold.
    fn held_bytes(&self) -> usize {
        self.reassembly
            .iter()
            .map(Reassembler::held_bytes)
            .chain(self.parsers.iter().map(DirectionParser::held_bytes))
            .sum()
    }

    /// Stops reading both streams to free their buffers (memory pressure on a connection past
    /// its handshake, whose verdict more bytes cannot change). Returns the bytes released.
    pub fn stop_reading(&mut self) -> usize {
        let before = self.held_bytes();
        for (parser, reassembly) in self.parsers.iter_mut().zip(&mut self.reassembly) {
            parser.stop();
            reassembly.make_passive();
        }
        let after = self.held_bytes();
        self.held_when_passive = Some(after);
        let released = before.saturating_sub(after);
        self.stopped_reading = Some(StoppedReading {
            bytes: released as u64,
            frame: self.last_frame,
        });
        released
    }

    /// Gives up the holes that out-of-order data waits behind, in both directions, and reads
    /// on (memory pressure). Returns the out-of-order bytes that were waiting.
    pub fn shed_out_of_order(&mut self, context: &mut Context<'_>) -> usize {
        let frame = self.last_frame;
        let mut released = 0;
        for side in [Side::A, Side::B] {
            let i = side.index();
            if self.reassembly[i].pending_bytes() == 0 {
                continue;
            }
            let mut events = Vec::new();
            let (reassembly, parser) = (&mut self.reassembly[i], &mut self.parsers[i]);
            released +=
                reassembly.shed_pending(frame, &mut |chunk| feed(parser, chunk, &mut events));
            self.absorb(side, &mut events, context);
        }
        self.after_events(frame);
        released
    }

    /// True when neither direction wants more bytes: a segment's data changes nothing then
    /// (only its headers are read, see [`TcpConnection::segment`]).
    pub fn passive(&self) -> bool {
        self.parsers[0].is_done() && self.parsers[1].is_done()
    }

    /// The ClientHello random, when a key log may still name this connection's secrets.
    pub fn awaits_secrets(&self) -> Option<&[u8]> {
        if self.keys == KeyStatus::Found || !matches!(self.reported, Reported::No) {
            return None;
        }
        self.client_random.as_ref().map(|random| &random[..])
    }

    /// Absorbs one segment from `side`. Returns false when the connection no longer reads
    /// bytes (both parsers done): then only its TCP analysis and frame counters moved.
    pub fn segment(
        &mut self,
        side: Side,
        frame: &Frame<'_>,
        seg: &Segment<'_>,
        context: &mut Context<'_>,
    ) -> bool {
        self.last_frame = frame.number;
        self.last_time = frame.timestamp;
        let i = side.index();
        let other = side.other();
        let in_handshake = self.handshake_end.is_none();
        self.health
            .segment(side, seg, frame.number, frame.timestamp, in_handshake);
        if in_handshake && self.frame_times.len() < MAX_FRAME_TIMES {
            if self.frame_times.is_empty() {
                // A TLS handshake's window is eight packets or so: one allocation each, not two.
                self.frame_times.reserve_exact(HANDSHAKE_PACKETS);
                self.window_packets.reserve_exact(HANDSHAKE_PACKETS);
            }
            self.frame_times.push((frame.number, frame.timestamp));
            self.window_packets.push(WindowPacket {
                frame: frame.number,
                side,
                ack: (seg.flags.ack() && !seg.flags.rst()).then_some(SeqNumber(seg.ack)),
                ip_id: seg.ip_id,
            });
        }
        self.payload_seen |= seg.payload_len > 0;

        if seg.flags.syn() {
            // The SYN's sender is the client; the SYN/ACK's sender the server.
            let client = if seg.flags.ack() { other } else { side };
            self.client.get_or_insert(client);
            self.reassembly[i].syn(SeqNumber(seg.seq));
        }
        if seg.flags.syn() || seg.flags.ack() {
            // A side that answered the SYN with several ISNs: its stream starts where the
            // client's ACK says (the analysis follows it).
            for s in [side, other] {
                if let Some(isn) = self.health.isn(s) {
                    self.reassembly[s.index()].restart(isn);
                }
            }
        }
        if seg.payload.len() < seg.payload_len as usize {
            self.truncated_frames += 1;
            self.first_truncated_frame.get_or_insert(frame.number);
        }
        if self.passive() {
            return false;
        }

        let mut new_events = std::mem::take(context.tls_events);
        // Payload first: a segment's own data precedes what its ACK says about the other side.
        let data_seq = if seg.flags.syn() {
            SeqNumber(seg.seq).plus(1)
        } else {
            SeqNumber(seg.seq)
        };
        if seg.payload_len > 0 && !self.parsers[i].is_done() {
            let (reassembly, parser) = (&mut self.reassembly[i], &mut self.parsers[i]);
            reassembly.segment(
                data_seq,
                frame.number,
                seg.payload,
                seg.payload_len,
                &mut |chunk| feed(parser, chunk, &mut new_events),
            );
        }
        if seg.flags.fin() {
            self.reassembly[i].fin(data_seq.plus(seg.payload_len));
        }
        self.absorb(side, &mut new_events, context);
        if seg.flags.ack() && !self.parsers[other.index()].is_done() {
            let o = other.index();
            let (reassembly, parser) = (&mut self.reassembly[o], &mut self.parsers[o]);
            reassembly.acknowledged(SeqNumber(seg.ack), frame.number, &mut |chunk| {
                feed(parser, chunk, &mut new_events)
            });
            self.absorb(other, &mut new_events, context);
        }
        // Emptied by `absorb`: back to the table with its capacity.
        debug_assert!(new_events.is_empty());
        *context.tls_events = new_events;
        self.after_events(frame.number);
        true
    }

    /// Hands handshake secrets that arrived after the ClientHello to the parsers (live use).
    pub fn provide_secrets(&mut self, secrets: &HandshakeSecrets, context: &mut Context<'_>) {
        let Some(client) = self.client else { return };
        self.keys = KeyStatus::Found;
        for (side, secret) in [(client, &secrets.client), (client.other(), &secrets.server)] {
            let Some(secret) = secret else { continue };
            let mut events = Vec::new();
            self.parsers[side.index()].provide_keys(secret.clone(), &mut events);
            self.absorb(side, &mut events, context);
        }
        self.after_events(self.last_frame);
    }

    /// Records a direction's new events, and acts on the ones that concern the other direction:
    /// the ClientHello decides the client and selects key-log secrets, a TLS 1.3 ServerHello
    /// makes the client's direction protected.
    fn absorb(&mut self, side: Side, events: &mut Vec<TlsEvent>, context: &mut Context<'_>) {
        let mut i = 0;
        while i < events.len() {
            let mut more = Vec::new();
            self.learn(side, &events[i], context);
            self.mark_handshake_end(side, &events[i]);
            match &events[i] {
                TlsEvent::ServerHello { hello, .. }
                    if !hello.is_hello_retry_request
                        && hello.tls_version() == TlsVersion::TLS13 =>
                {
                    self.parsers[side.other().index()].peer_selected_tls13_version(
                        hello.cipher_suite,
                        TlsVersion(hello.version()),
                        &mut more,
                    );
                }
                TlsEvent::ServerHello { hello, .. } if hello.tls_version() != TlsVersion::TLS13 => {
                    self.parsers[side.other().index()].peer_selected_tls12();
                }
                // The other direction may still answer with a TLS alert (a server rejecting
                // bytes that are not TLS): it goes on until its own first bytes decide.
                TlsEvent::NotTls { .. } => self.parsers[side.other().index()].peer_not_tls(),
                // The client asked to start TLS: the server's next answer decides.
                TlsEvent::StartTls {
                    step: StartTlsStep::Asked { ask, .. },
                    ..
                } => self.parsers[side.other().index()].peer_asked_starttls(ask.clone()),
                _ => {}
            }
            i += 1;
            self.events
                .extend(more.into_iter().map(|e| (side.other(), e)));
        }
        // A plaintext exchange that may still switch to TLS holds its "not TLS" back; the other
        // direction learns now what it learnt from that event before (no proxy exchange).
        if self.parsers[side.index()].in_plaintext_exchange() {
            self.parsers[side.other().index()].peer_not_tls();
        }
        self.events.extend(events.drain(..).map(|e| (side, e)));
    }

    /// What a hello tells about the connection: the client, its random and secrets, the
    /// server's version.
    fn learn(&mut self, side: Side, event: &TlsEvent, context: &mut Context<'_>) {
        match event {
            TlsEvent::ClientHello { hello, .. } => {
                self.client.get_or_insert(side);
                self.client_random = Some(hello.random);
                if context.tls_servers.len() < MAX_TLS_SERVERS {
                    context.tls_servers.insert(self.key.endpoint(side.other()));
                }
                let keylog = context.keylog;
                if context.await_keys && keylog.get(&hello.random).is_none() {
                    self.parsers[0].await_keys();
                    self.parsers[1].await_keys();
                }
                if !keylog.is_empty() || context.await_keys {
                    match keylog.get(&hello.random) {
                        Some(secrets) => {
                            self.keys = KeyStatus::Found;
                            if let Some(c) = &secrets.client {
                                self.parsers[side.index()].set_handshake_secret(c.clone());
                            }
                            if let Some(s) = &secrets.server {
                                self.parsers[side.other().index()].set_handshake_secret(s.clone());
                            }
                        }
                        None => self.keys = KeyStatus::NoEntry,
                    }
                }
            }
            TlsEvent::ServerHello { hello, .. } if !hello.is_hello_retry_request => {
                self.server_version = Some(hello.tls_version());
                self.server_hello_time.get_or_insert(context.now);
                self.server_answered = true;
            }
            TlsEvent::Alert { .. } if self.client == Some(side.other()) => {
                self.server_answered = true;
            }
            _ => {}
        }
    }

    /// End of the handshake window: the server's ChangeCipherSpec (TLS ≤ 1.2), or the client's
    /// first protected record after a TLS 1.3 ServerHello.
    fn mark_handshake_end(&mut self, side: Side, event: &TlsEvent) {
        let from_client = self.client == Some(side);
        match event {
            TlsEvent::ChangeCipherSpec { frame }
                if !from_client && self.server_version.is_some_and(|v| v < TlsVersion::TLS13) =>
            {
                self.handshake_end.get_or_insert(*frame);
            }
            TlsEvent::ApplicationData { frame } | TlsEvent::Finished { frame }
                if from_client && self.server_version == Some(TlsVersion::TLS13) =>
            {
                self.handshake_end.get_or_insert(*frame);
            }
            _ => {}
        }
    }

    /// Updates connection-level state after new events and stops work no longer needed.
    fn after_events(&mut self, frame: u64) {
        if self.first_tls_frame.is_none() && self.parsers.iter().any(DirectionParser::seen_tls) {
            self.first_tls_frame = Some(frame);
        }
        for (parser, reassembly) in self.parsers.iter().zip(&mut self.reassembly) {
            if parser.is_done() && !reassembly.is_passive() {
                reassembly.make_passive();
            }
        }
        self.held_when_passive = self.passive().then(|| self.held_bytes());
    }

    /// True when more packets cannot change the verdict: a ServerHello (with its decrypted
    /// EncryptedExtensions when keys are at hand), a server alert, or the end of the connection.
    pub fn verdict_is_final(&self, await_keys: bool, now: Timestamp) -> bool {
        // A TLS 1.3 flow whose keys may still be logged waits a little for them, even when the
        // connection is already over (clients write the key log as the handshake ends).
        let awaiting_keys = await_keys
            && self.server_version == Some(TlsVersion::TLS13)
            && self.keys != KeyStatus::Found
            && self
                .server_hello_time
                .is_some_and(|t| now.nanos_since(t) <= KEY_WAIT_NS);
        if awaiting_keys {
            return false;
        }
        if self.closed() {
            return true;
        }
        let server = self.client.map(Side::other);
        let mut server_alert = false;
        let mut encrypted_extensions = false;
        let mut decryption_failed = false;
        for (side, event) in &self.events {
            match event {
                TlsEvent::Alert { .. } if Some(*side) == server => server_alert = true,
                TlsEvent::EncryptedExtensions { .. } => encrypted_extensions = true,
                TlsEvent::Fault {
                    fault: StreamFault::Decryption(_) | StreamFault::DecryptionAfterGap { .. },
                    ..
                } => decryption_failed = true,
                _ => {}
            }
        }
        if server_alert {
            return true;
        }
        match self.server_version {
            Some(v) if v < TlsVersion::TLS13 => true,
            Some(_) if self.keys == KeyStatus::Found => {
                encrypted_extensions || decryption_failed || self.handshake_end.is_some()
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The connection left the table: what the reassemblers still hold goes to the parsers.
    pub fn finish(&mut self) {
        let last = self.last_frame;
        for side in [Side::A, Side::B] {
            let mut events = Vec::new();
            let i = side.index();
            let (reassembly, parser) = (&mut self.reassembly[i], &mut self.parsers[i]);
            reassembly.finish(last, &mut |chunk| feed(parser, chunk, &mut events));
            parser.end_of_stream(&mut events);
            self.events.extend(events.into_iter().map(|e| (side, e)));
        }
        if self.first_tls_frame.is_none() && self.parsers.iter().any(DirectionParser::seen_tls) {
            self.first_tls_frame = Some(last);
        }
    }

    /// The client side: the SYN sender, else the ClientHello sender, else the side with the
    /// higher (ephemeral) port.
    fn client_side(&self) -> Side {
        let by_port = if self.key.a.port > self.key.b.port {
            Side::A
        } else {
            Side::B
        };
        self.client.unwrap_or(by_port)
    }

    /// Everything seen of the connection so far, in client/server terms. The TCP analysis and
    /// frame times are cloned (the connection goes on); see [`TcpConnection::into_facts`].
    pub fn facts(&self, end: FlowEnd) -> FlowFacts {
        let mut facts = self.facts_without_health(end, self.events.iter().cloned());
        facts.health = self.health.clone();
        facts.frame_times = self.frame_times.clone();
        facts.window_packets = self.window_packets.clone();
        facts
    }

    /// Like [`TcpConnection::facts`], for a connection that is over (nothing cloned).
    pub fn into_facts(mut self, end: FlowEnd) -> FlowFacts {
        let events = std::mem::take(&mut self.events);
        let mut facts = self.facts_without_health(end, events);
        facts.health = std::mem::take(&mut self.health);
        facts.frame_times = std::mem::take(&mut self.frame_times);
        facts.window_packets = std::mem::take(&mut self.window_packets);
        facts
    }

    /// The facts but the TCP analysis and frame times, with `events` (the connection's TLS
    /// events, in order).
    fn facts_without_health(
        &self,
        end: FlowEnd,
        events: impl IntoIterator<Item = (Side, TlsEvent)>,
    ) -> FlowFacts {
        let client = self.client_side();
        let role = |side: Side| {
            if side == client {
                Role::Client
            } else {
                Role::Server
            }
        };
        let mut facts = FlowFacts {
            index: self.index,
            tcp_stream: Some(self.tcp_stream),
            client: self.key.endpoint(client),
            server: self.key.endpoint(client.other()),
            first_frame: self.first_frame,
            first_time: self.first_time,
            reassembly: [self.reassembly[0].stats(), self.reassembly[1].stats()],
            suppressed_events: [
                self.parsers[0].suppressed_events(),
                self.parsers[1].suppressed_events(),
            ],
            truncated_frames: self.truncated_frames,
            first_truncated_frame: self.first_truncated_frame,
            last_frame: self.last_frame,
            last_time: self.last_time,
            first_tls_frame: self.first_tls_frame,
            keys: self.keys,
            end,
            client_side: client,
            handshake_end: self.handshake_end,
            payload_seen: self.payload_seen,
            stopped_reading: self.stopped_reading,
            ..FlowFacts::default()
        };
        facts.partial_client_hello = self.parsers[client.index()]
            .message_in_progress()
            .filter(|m| m.ty == HandshakeType::CLIENT_HELLO);
        // The ClientHello as the differing copy of a retransmitted client segment has it.
        facts.other_client_hello = self.reassembly[client.index()]
            .conflicting_copy()
            .and_then(first_plaintext_message)
            .filter(|(ty, _)| *ty == HandshakeType::CLIENT_HELLO)
            .and_then(|(_, body)| ClientHello::parse(&body).ok());
        facts.resets = self
            .health
            .resets
            .iter()
            .map(|r| (role(r.side), r.frame))
            .collect();
        facts.fins = self
            .health
            .fins
            .iter()
            .map(|f| (role(f.side), f.frame))
            .collect();
        for (side, event) in events {
            add_event(&mut facts, role(side), event);
        }
        // A plaintext exchange still open at the end never switched to TLS: its "not TLS"
        // stands, in frame order with the other direction's.
        let mut pending = false;
        for side in [Side::A, Side::B] {
            if let Some(event) = self.parsers[side.index()].pending_not_tls() {
                add_event(&mut facts, role(side), event.clone());
                pending = true;
            }
        }
        if pending {
            facts.plaintext.sort_by_key(|p| p.frame);
        }
        facts
    }
}

/// Pushes `item` onto `list`, room for one item only when the list is empty: a flow nearly
/// always has one hello of each kind, and four (what `Vec` first makes room for) would be a
/// block of over a kilobyte for each flow, beyond the allocator's per-thread cache.
fn push_one<T>(list: &mut Vec<T>, item: T) {
    if list.is_empty() {
        list.reserve_exact(1);
    }
    list.push(item);
}

/// Adds one TLS event from `from` to the facts.
fn add_event(facts: &mut FlowFacts, from: Role, event: TlsEvent) {
    match event {
        TlsEvent::ClientHello { hello, frames } => {
            push_one(&mut facts.client_hellos, (*hello, frames))
        }
        TlsEvent::ServerHello { hello, frames } => {
            push_one(&mut facts.server_hellos, (*hello, frames))
        }
        TlsEvent::Alert {
            level,
            description,
            frame,
            decrypted,
        } => facts.alerts.push(AlertSeen {
            from,
            level,
            description,
            frame,
            decrypted,
        }),
        TlsEvent::EncryptedExtensions { alpn, frames } => {
            facts.encrypted_extensions = Some((alpn, frames))
        }
        TlsEvent::Certificate { names, frames } => {
            if from == Role::Server {
                facts.server_certificate = Some((names, frames));
            }
        }
        TlsEvent::Finished { frame } => facts.finished.push((from, frame)),
        TlsEvent::ChangeCipherSpec { frame } => {
            if !facts.change_cipher_specs.iter().any(|(r, _)| *r == from) {
                facts.change_cipher_specs.push((from, frame));
            }
        }
        TlsEvent::ApplicationData { frame } => {
            if !facts.application_data.iter().any(|(r, _)| *r == from) {
                facts.application_data.push((from, frame));
            }
        }
        TlsEvent::Proxy { kind, target, .. } => {
            if from == Role::Client || facts.proxy.is_none() {
                facts.proxy = Some((kind, target));
            }
        }
        TlsEvent::StartTls {
            protocol,
            step,
            frame,
        } => {
            let seen = facts.starttls.get_or_insert_with(StartTlsSeen::default);
            match (protocol, from) {
                (Some(p), Role::Server) => seen.protocol = Some(p),
                (Some(p), Role::Client) => {
                    seen.protocol.get_or_insert(p);
                }
                (None, _) => {}
            }
            match step {
                StartTlsStep::Asked { command, .. } => {
                    seen.command.get_or_insert((command, frame));
                }
                StartTlsStep::Switched => {
                    seen.switched = true;
                    if from == Role::Server {
                        seen.reply_frame = Some(frame);
                    }
                }
                StartTlsStep::FoundHello => {
                    let i = usize::from(from == Role::Server);
                    seen.found_hello[i].get_or_insert(frame);
                }
                StartTlsStep::NotOffered => {
                    seen.not_offered.get_or_insert(frame);
                    seen.reply_frame.get_or_insert(frame);
                }
                StartTlsStep::Refused { reply } => {
                    seen.refused.get_or_insert(reply);
                    seen.reply_frame.get_or_insert(frame);
                }
            }
        }
        TlsEvent::NotTls {
            frame,
            start,
            bytes,
        } => {
            facts.not_tls = true;
            if !facts.plaintext.iter().any(|p| p.from == from) {
                facts.plaintext.push(PlaintextSeen {
                    from,
                    frame,
                    start,
                    bytes,
                });
            }
        }
        TlsEvent::Fault { frame, fault } => facts.faults.push((from, frame, fault)),
    }
}

fn feed(parser: &mut DirectionParser, chunk: Chunk<'_>, events: &mut Vec<TlsEvent>) {
    match chunk {
        Chunk::Data { frame, bytes } => parser.feed(frame, bytes, events),
        Chunk::Gap { frame, len } => parser.gap(frame, len, events),
        Chunk::Shed { frame, len } => parser.gave_up(frame, len, events),
    }
}
