//! What the content of a direction means: handshake messages and opened protected records →
//! events and changes to the direction's protection (a TLS 1.3 hello makes ChangeCipherSpec a
//! no-op; a TLS 1.3 ServerHello encrypts what follows; Finished ends decryption).

use super::{DirectionParser, StreamFault, TlsEvent};
use crate::tls::decrypt::DecryptError;
use crate::tls::extensions::encrypted_extensions_alpn;
use crate::tls::handshake::{Message, Step};
use crate::tls::hello::{ClientHello, ServerHello};
use crate::tls::protected::Opened;
use crate::tls::types::{ContentType, HandshakeType, TlsVersion};
use crate::tls::x509;

impl DirectionParser {
    /// Hands on the content of a protected record (started in `start_frame`, completed in
    /// `frame`).
    pub(super) fn opened(
        &mut self,
        frame: u64,
        start_frame: u64,
        opened: Opened,
        events: &mut Vec<TlsEvent>,
    ) {
        if opened.is_ok() {
            self.opened_any = true;
            self.gap_since_opened = None;
        }
        match opened {
            Ok((ContentType::HANDSHAKE, plain)) => self.handshake_bytes(frame, &plain, events),
            Ok((ContentType::ALERT, plain)) if plain.len() >= 2 => {
                let [level, description] = plain.first_chunk::<2>().copied().unwrap_or_default();
                self.emit(
                    events,
                    TlsEvent::Alert {
                        level,
                        description: Some(description),
                        frame: start_frame,
                        decrypted: true,
                    },
                )
            }
            Ok(_) => {
                self.emit(events, TlsEvent::ApplicationData { frame: start_frame });
                self.stop();
            }
            Err(e) => {
                let fault = match (e, self.gap_since_opened) {
                    (DecryptError::Authentication, Some(gap)) => StreamFault::DecryptionAfterGap {
                        missing: gap.missing,
                        before_frame: gap.before_frame.unwrap_or(start_frame),
                        opened_before: self.opened_any,
                    },
                    (e, _) => StreamFault::Decryption(e),
                };
                self.emit(events, TlsEvent::Fault { frame, fault });
                self.emit(events, TlsEvent::ApplicationData { frame: start_frame });
                self.protection.stop_decrypting();
                self.stop();
            }
        }
    }

    /// Handshake bytes (plaintext, or from a decrypted record) completed in `frame`.
    pub(super) fn handshake_bytes(
        &mut self,
        frame: u64,
        mut body: &[u8],
        events: &mut Vec<TlsEvent>,
    ) {
        let plaintext = !self.protection.is_encrypted();
        while !body.is_empty() {
            // A TLS 1.3 ServerHello encrypts what follows, even the rest of its own record
            // (RFC 8446 §5.1: a key change falls on a record boundary): those bytes are dropped,
            // as they are when they arrive in a later segment.
            if plaintext && self.protection.is_encrypted() {
                break;
            }
            let decrypting = self.protection.is_decrypting();
            let (step, rest) = self.handshake.read(frame, body, decrypting);
            body = rest;
            match step {
                Step::Partial => {}
                Step::TooLarge { len } => self.emit(
                    events,
                    TlsEvent::Fault {
                        frame,
                        fault: StreamFault::HelloTooLarge { len },
                    },
                ),
                Step::Done(message) => self.message_done(message, events),
            }
        }
    }

    pub(super) fn message_done(&mut self, m: Message, events: &mut Vec<TlsEvent>) {
        let frame = m.frames.last().copied().unwrap_or(0);
        if m.ty == HandshakeType::FINISHED && self.protection.is_decrypting() {
            // The next records are under application traffic keys, which are never used.
            self.emit(events, TlsEvent::Finished { frame });
            self.protection.stop_decrypting();
            return;
        }
        if !m.kept {
            return;
        }
        match m.ty {
            // Only the server's EncryptedExtensions select (RFC 8446 §4.3.1); a client's own
            // (Chrome's, carrying its ALPS settings in its Finished flight) says nothing of it.
            HandshakeType::ENCRYPTED_EXTENSIONS if self.client => {}
            HandshakeType::ENCRYPTED_EXTENSIONS => self.emit(
                events,
                TlsEvent::EncryptedExtensions {
                    alpn: encrypted_extensions_alpn(&m.body),
                    frames: m.frames,
                },
            ),
            HandshakeType::CERTIFICATE => {
                let first = if self.protection.is_decrypting() {
                    x509::first_certificate(&m.body)
                } else {
                    x509::first_certificate_tls12(&m.body)
                };
                if let Some(names) = first.and_then(x509::certificate_names) {
                    self.emit(
                        events,
                        TlsEvent::Certificate {
                            names,
                            frames: m.frames,
                        },
                    );
                }
            }
            HandshakeType::CLIENT_HELLO => self.client_hello(frame, m, events),
            HandshakeType::SERVER_HELLO => self.server_hello(frame, m, events),
            _ => {}
        }
    }

    pub(super) fn client_hello(&mut self, frame: u64, m: Message, events: &mut Vec<TlsEvent>) {
        self.client = true;
        match ClientHello::parse(&m.body) {
            Ok(hello) => {
                if hello.max_tls_version() == TlsVersion::TLS13 {
                    // Until the server picks TLS 1.2, a CCS is the 1.3 compatibility one.
                    self.protection.ccs_is_compat();
                }
                self.hello_faults(frame, &hello.faults, events);
                self.emit(
                    events,
                    TlsEvent::ClientHello {
                        hello: Box::new(hello),
                        frames: m.frames,
                    },
                );
            }
            Err(e) => self.emit(
                events,
                TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadHello(e),
                },
            ),
        }
    }

    /// Bytes went missing in the middle of a hello (a snaplen, a capture cut short): what the
    /// capture holds of it is read and emitted as the hello, marked as cut.
    pub(super) fn cut_hello(&mut self, events: &mut Vec<TlsEvent>) {
        let Some((ty, body, len, frames)) = self.handshake.partial_hello() else {
            return;
        };
        let frames = frames.to_vec();
        let frame = frames.last().copied().unwrap_or(0);
        match ty {
            HandshakeType::CLIENT_HELLO => {
                let Some(hello) = ClientHello::parse_cut(body, len) else {
                    return;
                };
                self.client = true;
                if hello.max_tls_version() == TlsVersion::TLS13 {
                    self.protection.ccs_is_compat();
                }
                self.emit(
                    events,
                    TlsEvent::ClientHello {
                        hello: Box::new(hello),
                        frames,
                    },
                );
            }
            HandshakeType::SERVER_HELLO => {
                let Some(hello) = ServerHello::parse_cut(body, len) else {
                    return;
                };
                self.server_hello_parsed(frame, hello, frames, events);
            }
            _ => {}
        }
    }

    /// An SSLv2-format ClientHello record, completed in `frame`.
    pub(super) fn sslv2_client_hello(
        &mut self,
        frame: u64,
        record: &[u8],
        events: &mut Vec<TlsEvent>,
    ) {
        self.client = true;
        match ClientHello::parse_sslv2(record) {
            Ok(hello) => self.emit(
                events,
                TlsEvent::ClientHello {
                    hello: Box::new(hello),
                    frames: vec![frame],
                },
            ),
            Err(e) => self.emit(
                events,
                TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadHello(e),
                },
            ),
        }
    }

    /// What was wrong inside a hello that still parsed, as one fault event.
    fn hello_faults(&mut self, frame: u64, faults: &[&'static str], events: &mut Vec<TlsEvent>) {
        if !faults.is_empty() {
            self.emit(
                events,
                TlsEvent::Fault {
                    frame,
                    fault: StreamFault::HelloFaults(faults.to_vec()),
                },
            );
        }
    }

    pub(super) fn server_hello(&mut self, frame: u64, m: Message, events: &mut Vec<TlsEvent>) {
        match ServerHello::parse(&m.body) {
            Ok(hello) => self.server_hello_parsed(frame, hello, m.frames, events),
            Err(e) => self.emit(
                events,
                TlsEvent::Fault {
                    frame,
                    fault: StreamFault::BadHello(e),
                },
            ),
        }
    }

    /// A ServerHello (whole or cut) carried by `frames`: protection changes, then the event.
    fn server_hello_parsed(
        &mut self,
        frame: u64,
        hello: ServerHello,
        frames: Vec<u64>,
        events: &mut Vec<TlsEvent>,
    ) {
        let tls13 = hello.tls_version() == TlsVersion::TLS13;
        if tls13 {
            self.protection.ccs_is_compat();
        }
        // RFC 8446 §4.1.3: after a TLS 1.3 ServerHello everything is encrypted.
        if tls13 && !hello.is_hello_retry_request {
            self.protection.set_version(TlsVersion(hello.version()));
            self.protection.encrypt();
            self.arm(hello.cipher_suite, events);
        }
        self.hello_faults(frame, &hello.faults, events);
        self.emit(
            events,
            TlsEvent::ServerHello {
                hello: Box::new(hello),
                frames,
            },
        );
    }
}
