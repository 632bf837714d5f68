//! TLS: the ordered bytes of each direction in, handshake events out.
//!
//! # What it takes and what it emits
//!
//! A [`DirectionParser`] takes one direction's bytes in stream order (`feed`), told about gaps
//! (`gap`) and, from the other direction's ServerHello, about the version chosen
//! (`peer_selected_tls12`, `peer_selected_tls13`) and, from a key log, about this direction's
//! TLS 1.3 handshake secret (`set_handshake_secret`, or later `provide_keys`). It emits
//! [`TlsEvent`]s: the hellos, alerts, ChangeCipherSpec, the first application data, the
//! decrypted EncryptedExtensions, Certificate and Finished, a proxy preamble, "not TLS", and
//! [`StreamFault`]s for what was wrong. It is built in layers, each in its own file:
//!
//! - [`record`]: record headers and bodies, resynchronisation after a gap or a bad header;
//! - [`handshake`]: handshake messages across records and segments;
//! - [`protected`]: whether records are encrypted; decrypting them with the handshake secret
//!   ([`decrypt`]), or holding them until keys arrive;
//! - [`stream`]: the [`DirectionParser`] that wires them and emits events within the caps of
//!   [`event`].
//!
//! Beside it: [`hello`] turns hello bodies into the offered and selected parameters, walking
//! extensions with the one walker of [`extensions`]; [`types`] names the protocol numbers
//! (versions, extension, content and handshake types) without closing them; [`alpn`] keeps ALPN
//! identifiers as opaque bytes; [`preamble`] recognises HTTP CONNECT and SOCKS before TLS, [`starttls`]
//! a plaintext protocol that switches to TLS (SMTP, IMAP, POP3, FTP, NNTP, LDAP, PostgreSQL); [`x509`]
//! reads names from a certificate; [`keylog`] reads key log files; [`ja4`] fingerprints a
//! ClientHello; [`h2_ciphers`] knows the TLS 1.2 cipher suites HTTP/2 forbids.
//!
//! # What it promises
//!
//! No input can make this module panic: every length read from the wire is checked against the
//! bytes present before it is used (`get`, `split_at_checked`, `first_chunk`), never by indexing
//! or `unwrap`. Unknown or malformed values are kept or reported as faults, never errors that
//! stop the direction's bytes being read.
//!
//! Memory and output per direction are bounded whatever the peer sends:
//!
//! | cap | value | what it bounds |
//! |---|---|---|
//! | [`preamble::MAX_PREAMBLE_BYTES`] | 8 KiB | bytes buffered to classify the start (plus one chunk) |
//! | [`record::MAX_RECORD_BODY`] | 2^14 + 2048 bytes | a record body; a longer header loses sync |
//! | [`record::RESYNC_SEGMENTS`] | 32 segments | segments inspected for a record start before a stream never seen as TLS is given up |
//! | [`MAX_HELLO_BYTES`] | 64 KiB | a buffered handshake message (hello, Certificate, EncryptedExtensions); longer ones are skipped by count |
//! | [`protected::MAX_HELD_RECORDS`] | 16 records | protected records held until keys arrive |
//! | [`protected::MAX_HELD_BYTES`] | 64 KiB | bytes of those records |
//! | [`event::MAX_ALERT_EVENTS`] | 32 | alert events; later alerts are counted, not emitted |
//! | [`event::MAX_CHANGE_CIPHER_SPEC_EVENTS`] | 32 | ChangeCipherSpec events, likewise |
//! | [`event::MAX_EVENTS`] | 128 | events of all kinds, likewise |
//!
//! Events held back by a cap are counted ([`DirectionParser::suppressed_events`]). Once the
//! direction carries application data the parser is done and reads nothing more.

pub mod alpn;
pub mod decrypt;
pub mod event;
pub mod extensions;
pub mod h2_ciphers;
pub mod handshake;
pub mod hello;
pub mod ja4;
pub mod keylog;
pub mod preamble;
pub mod protected;
pub mod record;
pub mod starttls;
pub mod stream;
#[cfg(test)]
pub(crate) mod testing;
pub mod types;
pub mod x509;

pub use alpn::{AlpnList, ProtocolName};
pub use handshake::{MAX_HELLO_BYTES, PartialMessage, first_plaintext_message};
pub use hello::{ClientHello, ServerHello};
pub use stream::{DirectionParser, StreamFault, TlsEvent};
pub use types::{ContentType, ExtensionType, HandshakeType, TlsVersion};
