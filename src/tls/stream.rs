//! One direction's ordered bytes → TLS handshake events.
//!
//! Records are read with a streaming state machine, so a record header or body may be split
//! anywhere across chunks. Handshake messages are reassembled across records and segments; only
//! the hellos are buffered (at most [`MAX_HELLO_BYTES`]), every other message and every record
//! body is skipped by count. Once a direction is encrypted only record headers are read, and once
//! it carries application data the parser is done and asks for no more bytes.

use super::alpn::AlpnList;
use super::decrypt::{DecryptError, RecordDecryptor};
use super::extensions::encrypted_extensions_alpn;
use super::hello::{ClientHello, HelloError, ServerHello};
use super::preamble::{self, MAX_PREAMBLE_BYTES, Preamble, ProxyKind};
use super::x509::{self, CertificateNames};

/// Largest hello this parser buffers; a larger one is reported, not parsed.
pub const MAX_HELLO_BYTES: usize = 64 * 1024;
/// RFC 8446 §5.2: a record body is at most 2^14 + 256 bytes (2^14 + 2048 for TLS ≤ 1.2).
const MAX_RECORD_BODY: usize = (1 << 14) + 2048;
/// Protected records kept while waiting for a key log to catch up (live capture).
const MAX_HELD_RECORDS: usize = 16;
/// Bytes of protected records kept while waiting for keys.
const MAX_HELD_BYTES: usize = 64 * 1024;

/// Segments inspected for a record start when the stream was picked up mid-way.
const RESYNC_SEGMENTS: u32 = 32;

/// Record content types (RFC 8446 §5.1).
mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types (RFC 8446 §4).
mod handshake {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const FINISHED: u8 = 20;
}

/// A handshake fact seen in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEvent {
    /// A ClientHello, with every frame that carried part of it.
    ClientHello {
        /// The parsed hello.
        hello: Box<ClientHello>,
        /// Frames carrying it, in stream order.
        frames: Vec<u64>,
    },
    /// A ServerHello or HelloRetryRequest.
    ServerHello {
        /// The parsed hello.
        hello: Box<ServerHello>,
        /// Frames carrying it.
        frames: Vec<u64>,
    },
    /// An alert record.
    Alert {
        /// Level (1 warning, 2 fatal); 0 when encrypted.
        level: u8,
        /// Description code; `None` when encrypted.
        description: Option<u8>,
        /// Frame carrying it.
        frame: u64,
        /// True when it was read by decrypting the record with a key log.
        decrypted: bool,
    },
    /// TLS 1.3 EncryptedExtensions, decrypted with a key log.
    EncryptedExtensions {
        /// The ALPN extension, when present.
        alpn: Option<AlpnList>,
        /// Frame that completed the record holding it.
        frames: Vec<u64>,
    },
    /// The first certificate of a decrypted TLS 1.3 Certificate message.
    Certificate {
        /// Subject, issuer and subjectAltName.
        names: CertificateNames,
        /// Frame that completed the record holding it.
        frames: Vec<u64>,
    },
    /// A decrypted Finished message: this direction's handshake is over.
    Finished {
        /// Frame.
        frame: u64,
    },
    /// A ChangeCipherSpec record.
    ChangeCipherSpec {
        /// Frame carrying it.
        frame: u64,
    },
    /// The first application-data record.
    ApplicationData {
        /// Frame carrying its header.
        frame: u64,
    },
    /// A proxy preamble before TLS.
    Proxy {
        /// Kind of proxy.
        kind: ProxyKind,
        /// Requested target (client side).
        target: Option<String>,
        /// Frame that completed it.
        frame: u64,
    },
    /// The direction does not carry TLS.
    NotTls {
        /// Frame where that became clear.
        frame: u64,
    },
    /// A fault in the stream or a message.
    Fault {
        /// Frame where it was found.
        frame: u64,
        /// What was wrong.
        fault: StreamFault,
    },
}

/// What can go wrong while reading a TLS stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFault {
    /// Bytes missing from the capture (gap) in the middle of the handshake.
    Gap {
        /// Missing byte count.
        len: u32,
    },
    /// A record header that is not TLS (after TLS was recognised).
    BadRecordHeader,
    /// A hello larger than [`MAX_HELLO_BYTES`].
    HelloTooLarge {
        /// Declared length.
        len: usize,
    },
    /// A hello that does not parse.
    BadHello(HelloError),
    /// Faults inside a hello's extensions.
    HelloFaults(Vec<&'static str>),
    /// Protected records could not be opened with the key log's secret.
    Decryption(DecryptError),
}

impl std::fmt::Display for StreamFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamFault::Gap { len } => write!(f, "{len} bytes missing from the capture"),
            StreamFault::BadRecordHeader => write!(f, "bytes that are not a TLS record header"),
            StreamFault::HelloTooLarge { len } => {
                write!(
                    f,
                    "hello of {len} bytes exceeds the {MAX_HELLO_BYTES}-byte cap: not parsed"
                )
            }
            StreamFault::BadHello(e) => write!(f, "{e}"),
            StreamFault::HelloFaults(list) => {
                write!(f, "malformed extensions: {}", list.join("; "))
            }
            StreamFault::Decryption(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Looking at the first bytes (TLS, proxy preamble, or something else).
    Detect,
    /// Reading TLS records.
    Records,
    /// Lost sync (mid-stream pickup or a gap): waiting for a segment that starts a record.
    Resync,
    /// Not TLS, or nothing more to learn.
    Done,
}

/// Reads one direction of a connection.
#[derive(Debug)]
pub struct DirectionParser {
    phase: Phase,
    detect_buf: Vec<u8>,
    record_header: [u8; 5],
    header_have: usize,
    record_type: u8,
    body_left: usize,
    record_start_frame: u64,
    alert_buf: [u8; 2],
    alert_have: usize,
    encrypted: bool,
    seen_tls: bool,
    resync_tries: u32,
    message: Message,
    /// This direction's TLS 1.3 handshake traffic secret, from a key log.
    secret: Option<Vec<u8>>,
    /// Opens protected handshake records once the cipher suite is known.
    decryptor: Option<RecordDecryptor>,
    /// Body of the protected record being read.
    protected: Vec<u8>,
    /// A ChangeCipherSpec switches this direction to encrypted records (TLS ≤ 1.2). In TLS 1.3
    /// it is a compatibility no-op (RFC 8446 §D.4) and may even precede a second ClientHello.
    ccs_encrypts: bool,
    /// The TLS 1.3 cipher suite, once the ServerHello named it.
    suite: Option<u16>,
    /// Keep protected records until keys arrive (a key log that clients are still writing).
    hold_for_keys: bool,
    /// The protected record being read is being kept.
    holding_record: bool,
    /// Kept protected records: start frame, end frame, header, body.
    held: Vec<(u64, u64, [u8; 5], Vec<u8>)>,
    held_bytes: usize,
}

/// Reassembly of one handshake message across records.
#[derive(Debug, Default)]
struct Message {
    header: [u8; 4],
    header_have: usize,
    msg_type: u8,
    left: usize,
    keep: bool,
    body: Vec<u8>,
    frames: Vec<u64>,
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
            detect_buf: Vec::new(),
            record_header: [0; 5],
            header_have: 0,
            record_type: 0,
            body_left: 0,
            record_start_frame: 0,
            alert_buf: [0; 2],
            alert_have: 0,
            encrypted: false,
            seen_tls: false,
            resync_tries: 0,
            message: Message::default(),
            secret: None,
            decryptor: None,
            protected: Vec::new(),
            ccs_encrypts: true,
            suite: None,
            hold_for_keys: false,
            holding_record: false,
            held: Vec::new(),
            held_bytes: 0,
        }
    }

    /// Keys for this connection may still arrive (live capture following a key log): keep the
    /// first protected records (bounded) instead of giving up on them.
    pub fn await_keys(&mut self) {
        self.hold_for_keys = true;
    }

    /// The handshake secret arrived late: decrypt the records kept so far, then go on as usual.
    pub fn provide_keys(&mut self, secret: Vec<u8>, events: &mut Vec<TlsEvent>) {
        self.secret = Some(secret);
        self.hold_for_keys = false;
        self.holding_record = false;
        if let Some(suite) = self.suite {
            self.arm(suite, events);
        }
        let held = std::mem::take(&mut self.held);
        self.held_bytes = 0;
        for (start, end, header, body) in held {
            if self.decryptor.is_none() {
                break;
            }
            self.open_record(end, start, &header, &body, events);
        }
    }

    /// The peer's ServerHello chose TLS ≤ 1.2: a ChangeCipherSpec means encryption again.
    pub fn peer_selected_tls12(&mut self) {
        self.ccs_encrypts = true;
    }

    /// Gives this direction its TLS 1.3 handshake traffic secret (from a key log).
    pub fn set_handshake_secret(&mut self, secret: Vec<u8>) {
        self.secret = Some(secret);
    }

    /// The peer's ServerHello chose TLS 1.3 with `suite`: this direction is encrypted from now
    /// on (RFC 8446 §2), and readable when its secret is known.
    pub fn peer_selected_tls13(&mut self, suite: u16, events: &mut Vec<TlsEvent>) {
        self.encrypted = true;
        self.arm(suite, events);
    }

    fn arm(&mut self, suite: u16, events: &mut Vec<TlsEvent>) {
        self.suite = Some(suite);
        let Some(secret) = &self.secret else { return };
        if self.decryptor.is_some() {
            return;
        }
        match RecordDecryptor::new(suite, secret) {
            Ok(d) => self.decryptor = Some(d),
            Err(e) => events.push(TlsEvent::Fault {
                frame: self.record_start_frame,
                fault: StreamFault::Decryption(e),
            }),
        }
    }

    /// True when no more bytes are wanted.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True once a TLS record was recognised in this direction.
    pub fn seen_tls(&self) -> bool {
        self.seen_tls
    }

    /// Stops reading: nothing more is wanted from this direction.
    pub fn stop(&mut self) {
        self.phase = Phase::Done;
        self.detect_buf = Vec::new();
        self.message = Message::default();
    }

    /// Bytes missing from the stream: the parser loses sync and looks for the next record.
    pub fn gap(&mut self, frame: u64, len: u32, events: &mut Vec<TlsEvent>) {
        match self.phase {
            Phase::Done => {}
            Phase::Detect if self.detect_buf.is_empty() => self.phase = Phase::Resync,
            Phase::Records | Phase::Detect => {
                events.push(TlsEvent::Fault {
                    frame,
                    fault: StreamFault::Gap { len },
                });
                self.resync();
            }
            Phase::Resync => {}
        }
    }

    fn resync(&mut self) {
        self.phase = Phase::Resync;
        self.detect_buf = Vec::new();
        self.header_have = 0;
        self.body_left = 0;
        self.alert_have = 0;
        self.message = Message::default();
    }

    /// Ordered bytes from `frame`.
    pub fn feed(&mut self, frame: u64, mut bytes: &[u8], events: &mut Vec<TlsEvent>) {
        if self.phase == Phase::Resync {
            // Only a segment that starts with a record header can restore sync.
            if preamble::looks_like_record(bytes) == Some(true) {
                self.phase = Phase::Records;
                self.seen_tls = true;
            } else {
                self.resync_tries += 1;
                if self.resync_tries > RESYNC_SEGMENTS && !self.seen_tls {
                    events.push(TlsEvent::NotTls { frame });
                    self.stop();
                }
                return;
            }
        }
        if self.phase == Phase::Detect {
            match self.detect(frame, bytes, events) {
                Some(rest) => bytes = rest,
                None => return,
            }
        }
        while !bytes.is_empty() && self.phase == Phase::Records {
            bytes = self.records(frame, bytes, events);
        }
    }

    /// Returns the bytes left to read as records once the start is recognised.
    fn detect<'b>(
        &mut self,
        frame: u64,
        bytes: &'b [u8],
        events: &mut Vec<TlsEvent>,
    ) -> Option<&'b [u8]> {
        let buffered = !self.detect_buf.is_empty();
        let view: &[u8] = if buffered {
            self.detect_buf.extend_from_slice(bytes);
            &self.detect_buf
        } else {
            bytes
        };
        match preamble::classify(view) {
            Preamble::NeedMore => {
                if !buffered {
                    self.detect_buf.extend_from_slice(bytes);
                }
                if self.detect_buf.len() > MAX_PREAMBLE_BYTES {
                    events.push(TlsEvent::NotTls { frame });
                    self.stop();
                }
                None
            }
            Preamble::Tls => {
                self.phase = Phase::Records;
                self.seen_tls = true;
                if buffered {
                    let pending = std::mem::take(&mut self.detect_buf);
                    self.feed_records_owned(frame, &pending, events);
                    None
                } else {
                    Some(bytes)
                }
            }
            Preamble::Proxy { kind, target, len } => {
                events.push(TlsEvent::Proxy {
                    kind,
                    target,
                    frame,
                });
                // What follows the preamble must itself be TLS.
                if buffered {
                    let rest = self.detect_buf.split_off(len.min(self.detect_buf.len()));
                    self.detect_buf.clear();
                    if !rest.is_empty() {
                        self.feed(frame, &rest, events);
                    }
                    None
                } else {
                    let rest = &bytes[len.min(bytes.len())..];
                    if rest.is_empty() {
                        None
                    } else {
                        self.feed(frame, rest, events);
                        None
                    }
                }
            }
            Preamble::Other => {
                events.push(TlsEvent::NotTls { frame });
                self.stop();
                None
            }
        }
    }

    fn feed_records_owned(&mut self, frame: u64, mut bytes: &[u8], events: &mut Vec<TlsEvent>) {
        while !bytes.is_empty() && self.phase == Phase::Records {
            bytes = self.records(frame, bytes, events);
        }
    }

    /// Consumes part of `bytes` as record header or body; returns the rest.
    fn records<'b>(&mut self, frame: u64, bytes: &'b [u8], events: &mut Vec<TlsEvent>) -> &'b [u8] {
        if self.body_left == 0 {
            let take = (5 - self.header_have).min(bytes.len());
            self.record_header[self.header_have..self.header_have + take]
                .copy_from_slice(&bytes[..take]);
            if self.header_have == 0 {
                self.record_start_frame = frame;
            }
            self.header_have += take;
            if self.header_have < 5 {
                return &bytes[take..];
            }
            self.header_have = 0;
            let h = self.record_header;
            let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
            if !(20..=24).contains(&h[0]) || h[1] != 3 || len > MAX_RECORD_BODY {
                events.push(TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadRecordHeader,
                });
                self.resync();
                return &[];
            }
            self.record_type = h[0];
            self.body_left = len;
            self.alert_have = 0;
            self.record_started(frame, len, events);
            return &bytes[take..];
        }
        let take = self.body_left.min(bytes.len());
        let body = &bytes[..take];
        self.body_left -= take;
        match self.record_type {
            content::APPLICATION_DATA if self.decryptor.is_some() => {
                self.protected.extend_from_slice(body);
                if self.body_left == 0 {
                    self.open_protected(frame, events);
                }
            }
            content::APPLICATION_DATA if self.holding_record => {
                self.protected.extend_from_slice(body);
                if self.body_left == 0 {
                    let body = std::mem::take(&mut self.protected);
                    self.held_bytes += body.len();
                    self.held
                        .push((self.record_start_frame, frame, self.record_header, body));
                    self.holding_record = false;
                }
            }
            content::HANDSHAKE if !self.encrypted => self.handshake_bytes(frame, body, events),
            content::ALERT if !self.encrypted => {
                for &b in body {
                    if self.alert_have < 2 {
                        self.alert_buf[self.alert_have] = b;
                    }
                    self.alert_have += 1;
                }
                if self.body_left == 0 && self.alert_have >= 2 {
                    events.push(TlsEvent::Alert {
                        level: self.alert_buf[0],
                        description: Some(self.alert_buf[1]),
                        frame: self.record_start_frame,
                        decrypted: false,
                    });
                }
            }
            _ => {}
        }
        if self.body_left == 0
            && self.record_type == content::CHANGE_CIPHER_SPEC
            && self.ccs_encrypts
        {
            self.encrypted = true;
        }
        &bytes[take..]
    }

    fn record_started(&mut self, frame: u64, len: usize, events: &mut Vec<TlsEvent>) {
        match self.record_type {
            content::CHANGE_CIPHER_SPEC => events.push(TlsEvent::ChangeCipherSpec { frame }),
            content::ALERT if self.encrypted => events.push(TlsEvent::Alert {
                level: 0,
                description: None,
                frame,
                decrypted: false,
            }),
            content::APPLICATION_DATA if self.decryptor.is_some() => self.protected.clear(),
            content::APPLICATION_DATA if self.hold_for_keys && self.suite.is_some() => {
                if self.held.is_empty() {
                    events.push(TlsEvent::ApplicationData { frame });
                }
                if self.held.len() < MAX_HELD_RECORDS && self.held_bytes + len <= MAX_HELD_BYTES {
                    self.holding_record = true;
                    self.protected.clear();
                } else {
                    self.stop();
                }
            }
            content::APPLICATION_DATA => {
                events.push(TlsEvent::ApplicationData { frame });
                // Nothing after the first application-data record matters to the handshake.
                self.stop();
            }
            _ => {}
        }
        if len == 0 && self.record_type == content::CHANGE_CIPHER_SPEC && self.ccs_encrypts {
            self.encrypted = true;
        }
    }

    /// Opens the protected record just read and hands its content on.
    fn open_protected(&mut self, frame: u64, events: &mut Vec<TlsEvent>) {
        let mut body = std::mem::take(&mut self.protected);
        let header = self.record_header;
        self.open_record(frame, self.record_start_frame, &header, &body, events);
        body.clear();
        self.protected = body;
    }

    /// Opens one protected record (started in `start_frame`, completed in `frame`).
    fn open_record(
        &mut self,
        frame: u64,
        start_frame: u64,
        header: &[u8; 5],
        body: &[u8],
        events: &mut Vec<TlsEvent>,
    ) {
        let Some(decryptor) = self.decryptor.as_mut() else {
            return;
        };
        match decryptor.open(header, body) {
            Ok((content::HANDSHAKE, plain)) => self.handshake_bytes(frame, &plain, events),
            Ok((content::ALERT, plain)) if plain.len() >= 2 => events.push(TlsEvent::Alert {
                level: plain[0],
                description: Some(plain[1]),
                frame: start_frame,
                decrypted: true,
            }),
            Ok(_) => {
                events.push(TlsEvent::ApplicationData { frame: start_frame });
                self.stop();
            }
            Err(e) => {
                events.push(TlsEvent::Fault {
                    frame,
                    fault: StreamFault::Decryption(e),
                });
                events.push(TlsEvent::ApplicationData { frame: start_frame });
                self.decryptor = None;
                self.stop();
            }
        }
    }

    fn handshake_bytes(&mut self, frame: u64, mut body: &[u8], events: &mut Vec<TlsEvent>) {
        while !body.is_empty() {
            let m = &mut self.message;
            if m.header_have == 0 && m.left == 0 {
                m.frames.clear();
                m.frames.push(frame);
            } else if m.frames.last() != Some(&frame) {
                m.frames.push(frame);
            }
            if m.header_have < 4 {
                let take = (4 - m.header_have).min(body.len());
                m.header[m.header_have..m.header_have + take].copy_from_slice(&body[..take]);
                m.header_have += take;
                body = &body[take..];
                if m.header_have < 4 {
                    return;
                }
                m.msg_type = m.header[0];
                m.left = (usize::from(m.header[1]) << 16)
                    | (usize::from(m.header[2]) << 8)
                    | usize::from(m.header[3]);
                let is_hello = matches!(
                    m.msg_type,
                    handshake::CLIENT_HELLO | handshake::SERVER_HELLO
                );
                // Decrypted messages worth reading: EncryptedExtensions and the Certificate; in
                // TLS ≤ 1.2 the Certificate travels in the clear.
                let is_protected_wanted = (self.decryptor.is_some()
                    && matches!(
                        m.msg_type,
                        handshake::ENCRYPTED_EXTENSIONS | handshake::CERTIFICATE
                    ))
                    || (self.decryptor.is_none() && m.msg_type == handshake::CERTIFICATE);
                m.keep = (is_hello || is_protected_wanted) && m.left <= MAX_HELLO_BYTES;
                m.body.clear();
                if is_hello && !m.keep {
                    events.push(TlsEvent::Fault {
                        frame,
                        fault: StreamFault::HelloTooLarge { len: m.left },
                    });
                }
                if m.left == 0 {
                    self.message_done(events);
                }
                continue;
            }
            let take = m.left.min(body.len());
            if m.keep {
                m.body.extend_from_slice(&body[..take]);
            }
            m.left -= take;
            body = &body[take..];
            if m.left == 0 {
                self.message_done(events);
            }
        }
    }

    fn message_done(&mut self, events: &mut Vec<TlsEvent>) {
        let m = std::mem::take(&mut self.message);
        let frame = m.frames.last().copied().unwrap_or(0);
        if m.msg_type == handshake::FINISHED && self.decryptor.is_some() {
            // The next records are under application traffic keys, which are never used.
            events.push(TlsEvent::Finished { frame });
            self.decryptor = None;
            return;
        }
        if !m.keep {
            self.message.body = m.body;
            return;
        }
        match m.msg_type {
            handshake::ENCRYPTED_EXTENSIONS => {
                events.push(TlsEvent::EncryptedExtensions {
                    alpn: encrypted_extensions_alpn(&m.body),
                    frames: m.frames,
                });
            }
            handshake::CERTIFICATE => {
                let first = if self.decryptor.is_some() {
                    x509::first_certificate(&m.body)
                } else {
                    x509::first_certificate_tls12(&m.body)
                };
                if let Some(names) = first.and_then(x509::certificate_names) {
                    events.push(TlsEvent::Certificate {
                        names,
                        frames: m.frames,
                    });
                }
            }
            handshake::CLIENT_HELLO => match ClientHello::parse(&m.body) {
                Ok(hello) => {
                    if hello.max_version() == 0x0304 {
                        // Until the server picks TLS 1.2, a CCS is the 1.3 compatibility one.
                        self.ccs_encrypts = false;
                    }
                    if !hello.faults.is_empty() {
                        events.push(TlsEvent::Fault {
                            frame,
                            fault: StreamFault::HelloFaults(hello.faults.clone()),
                        });
                    }
                    events.push(TlsEvent::ClientHello {
                        hello: Box::new(hello),
                        frames: m.frames,
                    });
                }
                Err(e) => events.push(TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadHello(e),
                }),
            },
            _ => match ServerHello::parse(&m.body) {
                Ok(hello) => {
                    if hello.version() == 0x0304 {
                        self.ccs_encrypts = false;
                    }
                    // RFC 8446 §4.1.3: after a TLS 1.3 ServerHello everything is encrypted.
                    if !hello.is_hello_retry_request && hello.version() == 0x0304 {
                        self.encrypted = true;
                        self.arm(hello.cipher_suite, events);
                    }
                    if !hello.faults.is_empty() {
                        events.push(TlsEvent::Fault {
                            frame,
                            fault: StreamFault::HelloFaults(hello.faults.clone()),
                        });
                    }
                    events.push(TlsEvent::ServerHello {
                        hello: Box::new(hello),
                        frames: m.frames,
                    });
                }
                Err(e) => events.push(TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadHello(e),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn client_hello_message(alpn: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p);
        }
        let mut ext = vec![0x00, 0x10];
        ext.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend(list);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[1; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut msg = vec![1, 0, 0, body.len() as u8];
        msg.extend(body);
        msg
    }

    fn offered(events: &[TlsEvent]) -> Vec<(Vec<String>, Vec<u64>)> {
        events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::ClientHello { hello, frames } => Some((
                    hello.offered().iter().map(|p| p.escaped()).collect(),
                    frames.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hello_split_over_records_and_chunks() {
        let msg = client_hello_message(&[b"h2", b"http/1.1"]);
        let (a, b) = msg.split_at(20);
        let mut stream = record(22, a);
        stream.extend(record(22, b));
        // Every chunking of the stream yields the same hello.
        for cut in 1..stream.len() {
            let mut p = DirectionParser::new(false);
            let mut events = Vec::new();
            p.feed(1, &stream[..cut], &mut events);
            p.feed(2, &stream[cut..], &mut events);
            let got = offered(&events);
            assert_eq!(got.len(), 1, "cut {cut}");
            assert_eq!(got[0].0, ["h2", "http/1.1"]);
            let expected_frames = if cut <= 5 { vec![2] } else { vec![1, 2] };
            assert_eq!(got[0].1, expected_frames, "cut {cut}");
        }
    }

    #[test]
    fn alert_and_application_data() {
        let mut stream = record(21, &[2, 120]);
        stream.extend(record(23, &[0; 10]));
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(7, &stream, &mut events);
        assert_eq!(
            events,
            vec![
                TlsEvent::Alert {
                    level: 2,
                    description: Some(120),
                    frame: 7,
                    decrypted: false,
                },
                TlsEvent::ApplicationData { frame: 7 },
            ]
        );
        assert!(p.is_done());
    }

    #[test]
    fn not_tls() {
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(3, b"SSH-2.0-OpenSSH_9.6\r\n", &mut events);
        assert_eq!(events, vec![TlsEvent::NotTls { frame: 3 }]);
        assert!(p.is_done());
    }

    #[test]
    fn gap_then_resync_at_next_record() {
        let msg = client_hello_message(&[b"h2"]);
        let stream = record(22, &msg);
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(1, &stream[..10], &mut events);
        p.gap(2, 30, &mut events);
        p.feed(3, &[0xde, 0xad], &mut events);
        p.feed(4, &record(21, &[2, 40]), &mut events);
        assert!(matches!(
            events[0],
            TlsEvent::Fault {
                fault: StreamFault::Gap { len: 30 },
                frame: 2
            }
        ));
        assert_eq!(
            events[1],
            TlsEvent::Alert {
                level: 2,
                description: Some(40),
                frame: 4,
                decrypted: false,
            }
        );
    }

    #[test]
    fn lying_handshake_length_does_not_buffer_unbounded() {
        let mut stream = record(22, &[1, 0xff, 0xff, 0xff]);
        stream.extend(record(22, &[0; 100]));
        let mut p = DirectionParser::new(false);
        let mut events = Vec::new();
        p.feed(1, &stream, &mut events);
        assert!(matches!(
            events[0],
            TlsEvent::Fault {
                fault: StreamFault::HelloTooLarge { .. },
                ..
            }
        ));
        assert!(p.message.body.capacity() <= MAX_HELLO_BYTES);
    }

    /// A TLS 1.3 ServerHello choosing TLS_AES_128_GCM_SHA256, as a record.
    fn tls13_server_hello_record() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[5; 32]);
        body.extend_from_slice(&[0, 0x13, 0x01, 0]);
        body.extend_from_slice(&[0, 6, 0x00, 0x2b, 0, 2, 0x03, 0x04]);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend(body);
        record(22, &msg)
    }

    /// Seals `inner` (content + type) as the `seq`-th protected record under `secret`.
    fn protected_record(secret: &[u8], seq: u64, inner: &[u8]) -> Vec<u8> {
        use aes_gcm::Aes128Gcm;
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let (key, iv) = crate::tls::decrypt::traffic_keys(0x1301, secret).unwrap();
        let mut nonce: [u8; 12] = iv.try_into().unwrap();
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let len = (inner.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let sealed = Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: inner,
                    aad: &header,
                },
            )
            .unwrap();
        [header.to_vec(), sealed].concat()
    }

    #[test]
    fn decrypts_encrypted_extensions_and_an_alert_with_the_handshake_secret() {
        let secret = [7u8; 32];
        let mut p = DirectionParser::new(false);
        p.set_handshake_secret(secret.to_vec());
        let mut events = Vec::new();
        p.feed(1, &tls13_server_hello_record(), &mut events);
        // EncryptedExtensions with ALPN h2, then a fatal no_application_protocol alert.
        let ee = [8, 0, 0, 11, 0, 9, 0x00, 0x10, 0, 5, 0, 3, 2, b'h', b'2', 22];
        p.feed(2, &protected_record(&secret, 0, &ee), &mut events);
        p.feed(
            3,
            &protected_record(&secret, 1, &[2, 120, 21, 0, 0]),
            &mut events,
        );
        assert!(matches!(&events[0], TlsEvent::ServerHello { .. }));
        match &events[1] {
            TlsEvent::EncryptedExtensions { alpn, frames } => {
                assert_eq!(alpn.as_ref().unwrap().protocols[0].escaped(), "h2");
                assert_eq!(frames, &[2]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            events[2],
            TlsEvent::Alert {
                level: 2,
                description: Some(120),
                frame: 3,
                decrypted: true
            }
        );
    }

    #[test]
    fn wrong_secret_is_reported_and_stops_the_direction() {
        let mut p = DirectionParser::new(false);
        p.set_handshake_secret(vec![1; 32]);
        let mut events = Vec::new();
        p.feed(1, &tls13_server_hello_record(), &mut events);
        p.feed(
            2,
            &protected_record(&[2; 32], 0, &[8, 0, 0, 2, 0, 0, 22]),
            &mut events,
        );
        assert!(events.iter().any(|e| matches!(
            e,
            TlsEvent::Fault {
                fault: StreamFault::Decryption(DecryptError::Authentication),
                ..
            }
        )));
        assert!(p.is_done());
    }
}
