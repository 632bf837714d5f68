//! TLS: ordered bytes of each direction in, handshake events out.
//!
//! [`stream::DirectionParser`] reads records and reassembles handshake messages across records and
//! segments; [`hello`] turns hello bodies into the offered and selected parameters; [`alpn`] keeps
//! ALPN identifiers as opaque bytes; [`preamble`] recognises HTTP CONNECT and SOCKS before TLS;
//! [`ja4`] fingerprints a ClientHello.

pub mod alpn;
pub mod decrypt;
pub mod extensions;
pub mod hello;
pub mod ja4;
pub mod keylog;
pub mod preamble;
pub mod stream;
pub mod types;
pub mod x509;

pub use alpn::{AlpnList, ProtocolName};
pub use hello::{ClientHello, ServerHello};
pub use stream::{DirectionParser, StreamFault, TlsEvent};
pub use types::{ContentType, ExtensionType, HandshakeType, TlsVersion};
