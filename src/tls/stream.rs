//! One direction's ordered bytes → TLS handshake events: the composition of the layers.
//!
//! [`DirectionParser`] first classifies the start of the direction (TLS, a proxy preamble, or
//! something else), then runs the [`record`](super::record) layer; handshake record bodies go to
//! [`handshake`](super::handshake) reassembly, application_data records to
//! [`super::protected`] record handling, whose decrypted handshake bytes go back to
//! reassembly. Complete messages and records become [`TlsEvent`]s, emitted within the caps of
//! [`event`](super::event). Once a direction carries application data the parser is done and asks
//! for no more bytes.

pub use super::event::{StartTlsStep, StreamFault, TlsEvent};
pub use super::handshake::MAX_HELLO_BYTES;

mod messages;
mod watch;

pub use watch::MAX_WATCHED_BYTES;

use super::event::EventBudget;
use super::handshake::Reassembler;
use super::preamble::{Start, StartDetector};
use super::protected::{self, Protection};
use super::record::{RecordLayer, RecordRead, Resync};
use super::starttls::{Ask, Negotiation, Step};
use super::types::{ContentType, TlsVersion};
use watch::Watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Looking at the first bytes (TLS, proxy preamble, or something else).
    Detect,
    /// Reading a plaintext exchange that may switch to TLS (STARTTLS and its kin).
    Plaintext,
    /// A plaintext start alpnscope does not know: looking for a hello record in its first
    /// [`MAX_WATCHED_BYTES`] (a protocol that upgrades to TLS in its own way).
    Watch,
    /// Reading TLS records.
    Records,
    /// Lost sync (mid-stream pickup or a gap): waiting for a segment that starts a record.
    Resync,
    /// Not TLS, or nothing more to learn.
    Done,
}

/// The first two bytes of a plaintext alert record (level, description).
#[derive(Debug, Default)]
struct AlertReader {
    bytes: [u8; 2],
    have: usize,
}

impl AlertReader {
    fn push(&mut self, body: &[u8]) {
        for (slot, &b) in self.bytes.iter_mut().skip(self.have).zip(body) {
            *slot = b;
        }
        self.have = self.have.saturating_add(body.len());
    }

    /// Level and description, once both were read.
    fn alert(&self) -> Option<(u8, u8)> {
        let [level, description] = self.bytes;
        (self.have >= 2).then_some((level, description))
    }
}

/// Bytes of a protected direction that went missing since its last record that opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GapSinceOpened {
    /// Missing bytes.
    missing: u64,
    /// The first frame whose bytes were fed after them.
    before_frame: Option<u64>,
}

/// Reads one direction of a connection.
#[derive(Debug)]
pub struct DirectionParser {
    phase: Phase,
    /// The first bytes, while they are too few to classify.
    start: StartDetector,
    seen_tls: bool,
    records: RecordLayer,
    alert: AlertReader,
    handshake: Reassembler,
    protection: Protection,
    budget: EventBudget,
    /// Gaps in this direction since it was protected and its last record opened: a record
    /// that then fails to open failed at the gap, not on the keys.
    gap_since_opened: Option<GapSinceOpened>,
    /// A protected record of this direction opened.
    opened_any: bool,
    /// This direction sent a ClientHello: it is the client's, whose EncryptedExtensions (Chrome
    /// sends one carrying ALPS) are never the server's answer.
    client: bool,
    /// STARTTLS state, allocated only for a direction that needs it (one pointer otherwise).
    starttls: Option<Box<StartTlsState>>,
}

/// What a direction keeps for a plaintext exchange that may switch to TLS (STARTTLS and its kin).
#[derive(Debug, Default)]
struct StartTlsState {
    /// The exchange being read, and the "not TLS" event it holds back until it is known not to
    /// switch to TLS (in [`Phase::Plaintext`]).
    reading: Option<(Negotiation, TlsEvent)>,
    /// The other direction's request to start TLS, when it came before this direction's first
    /// bytes (a PostgreSQL or LDAP server speaks only after the request).
    peer_ask: Option<Ask>,
    /// A copy of the first bytes while the start detector keeps them (undecided), so that a
    /// plaintext opening is read whole however it was segmented.
    first_bytes: Vec<u8>,
    /// The plaintext searched for a hello record, alongside the exchange being read and after
    /// it gave up ([`Phase::Watch`]).
    watch: Watch,
    /// The "not TLS" event held back in [`Phase::Watch`].
    watched_not_tls: Option<TlsEvent>,
}

impl Default for DirectionParser {
    fn default() -> Self {
        DirectionParser::new(false)
    }
}

impl DirectionParser {
    /// A parser for a direction whose start was captured (`mid_stream` false) or not.
    pub fn new(mid_stream: bool) -> DirectionParser {
        DirectionParser {
            phase: if mid_stream {
                Phase::Resync
            } else {
                Phase::Detect
            },
            start: StartDetector::default(),
            seen_tls: false,
            records: RecordLayer::default(),
            alert: AlertReader::default(),
            handshake: Reassembler::default(),
            protection: Protection::default(),
            budget: EventBudget::default(),
            gap_since_opened: None,
            opened_any: false,
            client: false,
            starttls: None,
        }
    }

    /// Keys for this connection may still arrive (live capture following a key log): keep the
    /// first protected records (bounded) instead of giving up on them.
    pub fn await_keys(&mut self) {
        self.protection.await_keys();
    }

    /// The handshake secret arrived late: decrypt the records kept so far, then go on as usual.
    pub fn provide_keys(&mut self, secret: Vec<u8>, events: &mut Vec<TlsEvent>) {
        if let Some(suite) = self.protection.provide_keys(secret) {
            self.arm(suite, events);
        }
        for held in self.protection.take_held() {
            let Some(opened) = self.protection.open(&held.header, &held.body) else {
                break;
            };
            self.opened(held.end, held.start, opened, events);
        }
    }

    /// The peer's ServerHello chose TLS ≤ 1.2: a ChangeCipherSpec means encryption again.
    pub fn peer_selected_tls12(&mut self) {
        self.protection.ccs_encrypts();
    }

    /// Gives this direction its TLS 1.3 handshake traffic secret (from a key log).
    pub fn set_handshake_secret(&mut self, secret: Vec<u8>) {
        self.protection.set_secret(secret);
    }

    /// The peer's ServerHello chose TLS 1.3 (RFC 8446) with `suite`: this direction is
    /// encrypted from now on (RFC 8446 §2), and readable when its secret is known.
    pub fn peer_selected_tls13(&mut self, suite: u16, events: &mut Vec<TlsEvent>) {
        self.peer_selected_tls13_version(suite, TlsVersion::TLS13, events);
    }

    /// Like [`DirectionParser::peer_selected_tls13`], for the TLS 1.3 `version` the ServerHello
    /// named (RFC 8446's or a pre-standard one, whose records may be protected differently).
    pub fn peer_selected_tls13_version(
        &mut self,
        suite: u16,
        version: TlsVersion,
        events: &mut Vec<TlsEvent>,
    ) {
        self.protection.set_version(version);
        self.protection.encrypt();
        self.arm(suite, events);
    }

    fn arm(&mut self, suite: u16, events: &mut Vec<TlsEvent>) {
        if let Err(e) = self.protection.arm(suite) {
            let frame = self.records.start_frame();
            self.emit(
                events,
                TlsEvent::Fault {
                    frame,
                    fault: StreamFault::Decryption(e),
                },
            );
        }
    }

    /// True when no more bytes are wanted.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The stream ends here (the capture, or alpnscope's view of the flow): a ServerHello whose
    /// body did not all arrive is read as far as the capture holds it, as after a gap. A
    /// ClientHello in progress is left as it is: the flow's facts name it
    /// ([`DirectionParser::message_in_progress`]).
    pub fn end_of_stream(&mut self, events: &mut Vec<TlsEvent>) {
        let server_hello = self
            .handshake
            .in_progress()
            .is_some_and(|m| m.ty == super::HandshakeType::SERVER_HELLO);
        if self.phase == Phase::Records && server_hello {
            self.cut_hello(events);
        }
    }

    /// The handshake message whose body did not all arrive yet (its header read).
    pub fn message_in_progress(&self) -> Option<super::handshake::PartialMessage> {
        self.handshake.in_progress()
    }

    /// True once a TLS record was recognised in this direction.
    pub fn seen_tls(&self) -> bool {
        self.seen_tls
    }

    /// Events held back so far because a per-direction cap was reached (see
    /// [`super::event`]).
    pub fn suppressed_events(&self) -> u64 {
        self.budget.suppressed()
    }

    /// The peer's direction is not TLS: this one can only be TLS from its first byte (a
    /// server's alert) or not TLS; a proxy preamble is not looked for.
    pub fn peer_not_tls(&mut self) {
        self.start.tls_only();
    }

    /// Stops reading: nothing more is wanted from this direction.
    pub fn stop(&mut self) {
        self.phase = Phase::Done;
        self.starttls = None;
        self.start.clear();
        self.handshake.reset();
    }

    fn emit(&mut self, events: &mut Vec<TlsEvent>, event: TlsEvent) {
        self.budget.emit(events, event);
    }

    /// Heap bytes held: the first bytes being classified, the handshake message being
    /// reassembled, protected records. O(1).
    pub fn held_bytes(&self) -> usize {
        self.start.held_bytes()
            + self.handshake.held_bytes()
            + self.protection.held_bytes()
            + self.starttls.as_ref().map_or(0, |s| {
                s.first_bytes.capacity()
                    + s.reading.as_ref().map_or(0, |r| r.0.held_bytes())
                    + s.watch.held_bytes()
            })
    }

    /// The client asked to start TLS in the other direction: this one's next answer decides.
    pub fn peer_asked_starttls(&mut self, ask: Ask) {
        match self.phase {
            Phase::Plaintext => {
                if let Some((negotiation, _)) =
                    self.starttls.as_mut().and_then(|s| s.reading.as_mut())
                {
                    negotiation.peer_asked(ask);
                }
            }
            Phase::Detect => self.starttls.get_or_insert_default().peer_ask = Some(ask),
            _ => {}
        }
    }

    /// True while a plaintext exchange that may switch to TLS is read: for the other direction,
    /// this one is not TLS (yet), as when its "not TLS" is emitted.
    pub fn in_plaintext_exchange(&self) -> bool {
        matches!(self.phase, Phase::Plaintext | Phase::Watch)
    }

    /// The "not TLS" event held back while a plaintext exchange may still switch to TLS: it
    /// stands when the stream ends there.
    pub fn pending_not_tls(&self) -> Option<&TlsEvent> {
        let state = self.starttls.as_ref()?;
        state
            .reading
            .as_ref()
            .map(|(_, not_tls)| not_tls)
            .or(state.watched_not_tls.as_ref())
    }

    /// Bytes missing from the stream: the parser loses sync and looks for the next record.
    pub fn gap(&mut self, frame: u64, len: u32, events: &mut Vec<TlsEvent>) {
        self.missing(frame, len, StreamFault::Gap { len }, events);
    }

    /// Bytes given up by the reassembler to free memory: like [`DirectionParser::gap`], with
    /// a fault that says alpnscope, not the capture, is why they are missing.
    pub fn gave_up(&mut self, frame: u64, len: u32, events: &mut Vec<TlsEvent>) {
        self.missing(frame, len, StreamFault::GaveUpWaiting { len }, events);
    }

    fn missing(&mut self, frame: u64, len: u32, fault: StreamFault, events: &mut Vec<TlsEvent>) {
        if self.phase != Phase::Done && self.protection.is_encrypted() {
            let gap = self.gap_since_opened.get_or_insert(GapSinceOpened {
                missing: 0,
                before_frame: None,
            });
            gap.missing = gap.missing.saturating_add(u64::from(len));
            // Bytes that arrive later name the frame after all the missing ones.
            gap.before_frame = None;
        }
        match self.phase {
            Phase::Done => {}
            Phase::Detect if self.start.is_empty() => self.phase = Phase::Resync,
            Phase::Plaintext | Phase::Watch => self.give_up_starttls(events),
            Phase::Records | Phase::Detect => {
                self.cut_hello(events);
                self.emit(events, TlsEvent::Fault { frame, fault });
                self.resync();
            }
            Phase::Resync => {}
        }
    }

    fn resync(&mut self) {
        self.phase = Phase::Resync;
        self.start.clear();
        self.records.lose_sync();
        self.alert = AlertReader::default();
        self.handshake.reset();
    }

    /// Ordered bytes from `frame`.
    pub fn feed(&mut self, frame: u64, bytes: &[u8], events: &mut Vec<TlsEvent>) {
        if let Some(gap) = &mut self.gap_since_opened {
            gap.before_frame.get_or_insert(frame);
        }
        if self.phase == Phase::Resync {
            // Only a segment that starts with a record header can restore sync.
            match self.records.resync_segment(bytes) {
                Resync::Synced => {
                    self.phase = Phase::Records;
                    self.seen_tls = true;
                }
                Resync::Exhausted if !self.seen_tls => {
                    let not_tls = TlsEvent::NotTls {
                        frame,
                        start: None,
                        bytes: bytes.len(),
                    };
                    self.emit(events, not_tls);
                    self.stop();
                    return;
                }
                Resync::Waiting | Resync::Exhausted => return,
            }
        }
        if self.phase == Phase::Plaintext {
            self.plaintext(frame, bytes, events);
        } else if self.phase == Phase::Watch {
            self.watch(frame, bytes, events);
        } else if self.phase == Phase::Detect {
            self.detect(frame, bytes, events);
        } else {
            self.feed_records(frame, bytes, events);
        }
    }

    /// Classifies the start of the direction, then reads on.
    fn detect(&mut self, frame: u64, bytes: &[u8], events: &mut Vec<TlsEvent>) {
        let buffered = !self.start.is_empty();
        let start = self.start.push(bytes);
        // Mirror what the start detector keeps: the whole opening, if it becomes one.
        let mut first = Vec::new();
        match (&start, buffered) {
            (Start::NeedMore, false) => {
                self.starttls.get_or_insert_default().first_bytes = bytes.to_vec();
            }
            (Start::NeedMore, true) => {
                let state = self.starttls.get_or_insert_default();
                state.first_bytes.extend_from_slice(bytes);
            }
            (_, _) => {
                if let Some(state) = &mut self.starttls {
                    first = std::mem::take(&mut state.first_bytes);
                    first.extend_from_slice(bytes);
                }
            }
        }
        match start {
            Start::NeedMore => {}
            Start::Tls(records) => {
                self.phase = Phase::Records;
                self.seen_tls = true;
                self.feed_records(frame, &records, events);
            }
            Start::Sslv2ClientHello { hello, rest } => {
                self.phase = Phase::Records;
                self.seen_tls = true;
                self.sslv2_client_hello(frame, &hello, events);
                if !rest.is_empty() {
                    self.feed_records(frame, &rest, events);
                }
            }
            Start::Proxy { kind, target, rest } => {
                let proxy = TlsEvent::Proxy {
                    kind,
                    target,
                    frame,
                };
                self.emit(events, proxy);
                // What follows the preamble must itself be TLS.
                if !rest.is_empty() {
                    self.feed(frame, &rest, events);
                }
            }
            Start::NotTls { start, bytes: n } => {
                let not_tls = TlsEvent::NotTls {
                    frame,
                    start: Some(start),
                    bytes: n,
                };
                // A plaintext protocol that may switch to TLS: its opening is in the first
                // chunk, and the verdict "not TLS" waits until it did not.
                let opening: &[u8] = if buffered { &first } else { bytes };
                match Negotiation::begin(opening) {
                    Some(mut negotiation) => {
                        let state = self.starttls.get_or_insert_default();
                        if let Some(ask) = state.peer_ask.take() {
                            negotiation.peer_asked(ask);
                        }
                        state.reading = Some((negotiation, not_tls));
                        self.phase = Phase::Plaintext;
                        self.plaintext(frame, opening, events);
                    }
                    None => {
                        // Unknown: TLS may still start in it (ADB's STLS, NoMachine, Gnutella…).
                        let state = self.starttls.get_or_insert_default();
                        state.watched_not_tls = Some(not_tls);
                        self.phase = Phase::Watch;
                        self.watch(frame, opening, events);
                    }
                }
            }
        }
    }

    /// Searches a plaintext start that is not (or no longer) read as an exchange for a hello
    /// record: TLS from there on; the held-back "not TLS" stands after [`MAX_WATCHED_BYTES`].
    fn watch(&mut self, frame: u64, bytes: &[u8], events: &mut Vec<TlsEvent>) {
        let Some(state) = self.starttls.as_mut() else {
            return;
        };
        state.watch.push(frame, bytes);
        if state.watch.found() {
            self.switch_at_hello(events);
        } else if state.watch.exhausted() {
            self.give_up_starttls(events);
        }
    }

    /// A plaintext exchange gave up: its bytes were searched too, and the search goes on.
    fn watch_after_exchange(&mut self, events: &mut Vec<TlsEvent>) {
        let Some(state) = self.starttls.as_mut() else {
            return;
        };
        state.watched_not_tls = state.reading.take().map(|(_, not_tls)| not_tls);
        self.phase = Phase::Watch;
        self.watch(0, &[], events);
    }

    /// TLS begins at the hello record the search found: reported as a switch from an unknown
    /// plaintext protocol, then read from there, with the frames that carried the bytes.
    fn switch_at_hello(&mut self, events: &mut Vec<TlsEvent>) {
        let Some(found) = self.starttls.take().and_then(|mut s| s.watch.take_found()) else {
            return;
        };
        let event = TlsEvent::StartTls {
            protocol: None,
            step: StartTlsStep::FoundHello,
            frame: found.frame(),
        };
        self.emit(events, event);
        self.phase = Phase::Records;
        self.seen_tls = true;
        let mut at = 0;
        for &(frame, len) in &found.runs {
            self.feed_records(frame, &found.bytes[at..at + len], events);
            at += len;
        }
    }

    /// Reads the plaintext exchange; switches to records when TLS starts.
    fn plaintext(&mut self, frame: u64, bytes: &[u8], events: &mut Vec<TlsEvent>) {
        let Some(state) = self.starttls.as_mut() else {
            return;
        };
        state.watch.push(frame, bytes);
        let Some((negotiation, _)) = state.reading.as_mut() else {
            return;
        };
        match negotiation.push(frame, bytes) {
            Step::NeedMore => {}
            Step::Asked { ask, command } => {
                let protocol = ask.protocol;
                let step = StartTlsStep::Asked { ask, command };
                let event = TlsEvent::StartTls {
                    protocol,
                    step,
                    frame,
                };
                self.emit(events, event);
                // Bytes of this chunk after the request (a ClientHello sent at once).
                self.plaintext(frame, &[], events);
            }
            Step::Tls {
                protocol,
                frame: at,
                rest,
            } => {
                let event = TlsEvent::StartTls {
                    protocol,
                    step: StartTlsStep::Switched,
                    frame: at,
                };
                self.emit(events, event);
                self.starttls = None;
                self.phase = Phase::Records;
                self.seen_tls = true;
                self.feed_records(frame, &rest, events);
            }
            Step::NotOffered { protocol } => {
                let event = TlsEvent::StartTls {
                    protocol: Some(protocol),
                    step: StartTlsStep::NotOffered,
                    frame,
                };
                self.emit(events, event);
                // Bytes of this chunk after the greeting.
                self.plaintext(frame, &[], events);
            }
            Step::Refused { protocol, reply } => {
                let event = TlsEvent::StartTls {
                    protocol,
                    step: StartTlsStep::Refused { reply },
                    frame,
                };
                self.emit(events, event);
                self.give_up_starttls(events);
            }
            Step::NotTls => self.watch_after_exchange(events),
        }
    }

    /// The plaintext exchange did not switch to TLS: the held-back "not TLS" stands.
    fn give_up_starttls(&mut self, events: &mut Vec<TlsEvent>) {
        if let Some(state) = self.starttls.take() {
            let held = state.reading.map(|(_, not_tls)| not_tls);
            if let Some(not_tls) = held.or(state.watched_not_tls) {
                self.emit(events, not_tls);
            }
        }
        self.stop();
    }

    /// Reads `bytes` as records while the phase allows it.
    fn feed_records(&mut self, frame: u64, mut bytes: &[u8], events: &mut Vec<TlsEvent>) {
        while !bytes.is_empty() && self.phase == Phase::Records {
            let (read, rest) = self.records.read(frame, bytes);
            bytes = rest;
            match read {
                RecordRead::Partial => {}
                RecordRead::BadHeader => {
                    self.emit(
                        events,
                        TlsEvent::Fault {
                            frame,
                            fault: StreamFault::BadRecordHeader,
                        },
                    );
                    self.resync();
                }
                RecordRead::Header { ty, len } => {
                    self.alert = AlertReader::default();
                    self.record_started(frame, ty, len, events);
                }
                RecordRead::Body { ty, bytes, last } => {
                    self.record_body(frame, ty, bytes, last, events)
                }
            }
        }
    }

    /// A record header was read in `frame`.
    fn record_started(
        &mut self,
        frame: u64,
        ty: ContentType,
        len: usize,
        events: &mut Vec<TlsEvent>,
    ) {
        match ty {
            ContentType::CHANGE_CIPHER_SPEC => {
                self.emit(events, TlsEvent::ChangeCipherSpec { frame });
                if len == 0 {
                    self.protection.change_cipher_spec();
                }
            }
            ContentType::ALERT if self.protection.is_encrypted() => self.emit(
                events,
                TlsEvent::Alert {
                    level: 0,
                    description: None,
                    frame,
                    decrypted: false,
                },
            ),
            ContentType::APPLICATION_DATA => match self.protection.record_start(len) {
                protected::Start::Decrypt => {}
                protected::Start::Hold { first } => {
                    if first {
                        self.emit(events, TlsEvent::ApplicationData { frame });
                    }
                }
                protected::Start::Full { first } => {
                    if first {
                        self.emit(events, TlsEvent::ApplicationData { frame });
                    }
                    self.stop();
                }
                protected::Start::Unreadable => {
                    self.emit(events, TlsEvent::ApplicationData { frame });
                    // Nothing after the first application-data record matters to the handshake.
                    self.stop();
                }
            },
            _ => {}
        }
    }

    /// Body bytes of the current record, read in `frame`; `last` when they complete it.
    fn record_body(
        &mut self,
        frame: u64,
        ty: ContentType,
        body: &[u8],
        last: bool,
        events: &mut Vec<TlsEvent>,
    ) {
        let encrypted = self.protection.is_encrypted();
        match ty {
            ContentType::APPLICATION_DATA => {
                let start = self.records.start_frame();
                let header = self.records.header();
                if let Some(opened) = self
                    .protection
                    .record_body(start, frame, header, body, last)
                {
                    self.opened(frame, start, opened, events);
                }
            }
            ContentType::HANDSHAKE if !encrypted => self.handshake_bytes(frame, body, events),
            ContentType::ALERT if !encrypted => {
                self.alert.push(body);
                if let Some((level, description)) = self.alert.alert().filter(|_| last) {
                    let frame = self.records.start_frame();
                    self.emit(
                        events,
                        TlsEvent::Alert {
                            level,
                            description: Some(description),
                            frame,
                            decrypted: false,
                        },
                    );
                }
            }
            ContentType::CHANGE_CIPHER_SPEC if last => self.protection.change_cipher_spec(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
