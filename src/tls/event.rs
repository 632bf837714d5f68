//! What a [`super::DirectionParser`] emits: [`TlsEvent`]s, with [`StreamFault`] for what was wrong.

use super::alpn::AlpnList;
use super::decrypt::DecryptError;
use super::handshake::MAX_HELLO_BYTES;
use super::hello::{ClientHello, HelloError, ServerHello};
use super::preamble::ProxyKind;
use super::x509::CertificateNames;

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
