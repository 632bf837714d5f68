//! What a [`super::DirectionParser`] emits: [`TlsEvent`]s, with [`StreamFault`] for what was wrong,
//! and the per-direction caps on how many it emits.
//!
//! Events that a peer can repeat without limit are capped per direction: at most
//! [`MAX_ALERT_EVENTS`] alerts and [`MAX_CHANGE_CIPHER_SPEC_EVENTS`] ChangeCipherSpec records, and
//! at most [`MAX_EVENTS`] events of all kinds together. What goes over a cap is counted
//! ([`super::DirectionParser::suppressed_events`]), not emitted. A normal handshake emits a handful
//! of events per direction, far below every cap.

use super::alpn::AlpnList;
use super::decrypt::DecryptError;
use super::handshake::MAX_HELLO_BYTES;
use super::hello::{ClientHello, HelloError, ServerHello};
use super::preamble::{Plaintext, ProxyKind};
use super::starttls::{Ask, StartTlsProtocol};
use super::x509::CertificateNames;

/// Most alert events one direction emits (plaintext, encrypted or decrypted); later alerts are
/// counted, not emitted. A peer sends one alert, perhaps two, before closing.
pub const MAX_ALERT_EVENTS: u32 = 32;
/// Most ChangeCipherSpec events one direction emits (normally one; two around a
/// HelloRetryRequest).
pub const MAX_CHANGE_CIPHER_SPEC_EVENTS: u32 = 32;
/// Most events of any kind one direction emits.
pub const MAX_EVENTS: u32 = 128;

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
    /// A plaintext protocol negotiating TLS in the stream (STARTTLS and its kin).
    StartTls {
        /// The protocol, when this direction tells it.
        protocol: Option<StartTlsProtocol>,
        /// What this direction did.
        step: StartTlsStep,
        /// The frame of the client's request (client) or of the server's answer (server).
        frame: u64,
    },
    /// The direction does not carry TLS.
    NotTls {
        /// Frame where that became clear.
        frame: u64,
        /// What the direction's first bytes are; `None` for a direction picked up mid-stream,
        /// whose first bytes were not captured.
        start: Option<Plaintext>,
        /// How many bytes were looked at, up to `frame`.
        bytes: usize,
    },
    /// A fault in the stream or a message.
    Fault {
        /// Frame where it was found.
        frame: u64,
        /// What was wrong.
        fault: StreamFault,
    },
}

/// What one direction of a STARTTLS-like exchange did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartTlsStep {
    /// The client asked to start TLS (emitted when the request is read, whatever follows).
    Asked {
        /// The request, as the server's reader needs it.
        ask: Ask,
        /// The command as sent (escaped, cut).
        command: String,
    },
    /// TLS followed the request (client) or the positive answer (server).
    Switched,
    /// A hello record began after a plaintext start alpnscope does not know (or an exchange it
    /// stopped reading): TLS from there on (`frame` is the record's first).
    FoundHello,
    /// The server's greeting does not offer TLS (MySQL without CLIENT_SSL), before any request.
    NotOffered,
    /// The server refused.
    Refused {
        /// The server's answer (escaped, cut).
        reply: String,
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
    /// Bytes still missing when alpnscope gave up waiting for them to stay within its memory
    /// budget (`--memory`): not proven missing from the capture, which may hold them later.
    GaveUpWaiting {
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
    /// A protected record did not open after bytes of this direction went missing: a record's
    /// nonce is built from its sequence number (RFC 8446 §5.3), which is lost at a gap, so the
    /// records after one cannot be opened whatever the keys.
    DecryptionAfterGap {
        /// Bytes missing since the last record that opened (or since the direction was
        /// protected).
        missing: u64,
        /// The first frame captured after the missing bytes.
        before_frame: u64,
        /// The same keys opened records of this direction before the gap.
        opened_before: bool,
    },
}

impl std::fmt::Display for StreamFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamFault::Gap { len } => write!(f, "{len} bytes missing from the capture"),
            StreamFault::GaveUpWaiting { len } => write!(
                f,
                "alpnscope gave up waiting for {len} missing bytes to stay within its memory budget (--memory), not proof that the capture lacks them"
            ),
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
            StreamFault::DecryptionAfterGap {
                missing,
                before_frame,
                opened_before,
            } => {
                write!(
                    f,
                    "decryption stopped at a gap: {missing} bytes of this stream are missing before frame {before_frame}, and the records after a gap cannot be opened (their sequence numbers are lost); "
                )?;
                if *opened_before {
                    write!(f, "the same keys opened the records before it")
                } else {
                    write!(f, "whether the keys match is not known")
                }
            }
        }
    }
}

/// Counts the events of one direction and holds back those over a cap.
#[derive(Debug, Default)]
pub(super) struct EventBudget {
    emitted: u32,
    alerts: u32,
    change_cipher_specs: u32,
    suppressed: u64,
}

impl EventBudget {
    /// Pushes `event` onto `events` unless a cap is reached; counts it otherwise.
    pub(super) fn emit(&mut self, events: &mut Vec<TlsEvent>, event: TlsEvent) {
        let kind = match event {
            TlsEvent::Alert { .. } => Some((&mut self.alerts, MAX_ALERT_EVENTS)),
            TlsEvent::ChangeCipherSpec { .. } => {
                Some((&mut self.change_cipher_specs, MAX_CHANGE_CIPHER_SPEC_EVENTS))
            }
            _ => None,
        };
        let kind_full = kind.as_ref().is_some_and(|(count, cap)| **count >= *cap);
        if kind_full || self.emitted >= MAX_EVENTS {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        if let Some((count, _)) = kind {
            *count += 1;
        }
        self.emitted += 1;
        events.push(event);
    }

    /// Events held back by a cap so far.
    pub(super) fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_kind_and_in_total() {
        let mut budget = EventBudget::default();
        let mut events = Vec::new();
        let alert = TlsEvent::Alert {
            level: 2,
            description: Some(40),
            frame: 1,
            decrypted: false,
        };
        for _ in 0..1000 {
            budget.emit(&mut events, alert.clone());
            budget.emit(&mut events, TlsEvent::ChangeCipherSpec { frame: 1 });
        }
        let cap = (MAX_ALERT_EVENTS + MAX_CHANGE_CIPHER_SPEC_EVENTS) as usize;
        assert_eq!(events.len(), cap);
        assert_eq!(budget.suppressed(), 2000 - cap as u64);
        for _ in 0..1000 {
            budget.emit(&mut events, TlsEvent::Finished { frame: 2 });
        }
        assert_eq!(events.len(), MAX_EVENTS as usize);
        assert_eq!(budget.suppressed(), 3000 - u64::from(MAX_EVENTS));
    }
}
