//! QUIC: datagrams in, CRYPTO bytes out — the TLS handshake of a QUIC connection read from its
//! Initial packets without keys (RFC 9001 §5.2: their keys come from the client's Destination
//! Connection ID), and from its Handshake packets with a key log's secrets.
//!
//! The flow table's QUIC connection (`pipeline::quic`) uses it. The path of one datagram:
//!
//! ```text
//! UDP payload ─ packet::sniff ──► a known long header? (constant time, no allocation)
//!   └ packet::packets ──► Packet::Long (Initial | 0-RTT | Handshake), Retry, VersionNegotiation,
//!                         UnknownVersion, Short (skipped), Padding — coalesced packets split
//!                         by their Length fields
//!       └ keys::InitialKeys::derive(version, client's first DCID).{client,server}.open_long
//!           (or keys::PacketKeys::from_tls_secret for Handshake packets)
//!           └ frame::frames ──► Crypto { offset, data }, Ack, Ping, Padding, ConnectionClose
//!               └ crypto::CryptoStream (per direction and space).insert, then read_new
//!                   └ tls::handshake::Reassembler::read ──► ClientHello / ServerHello /
//!                     EncryptedExtensions bodies for tls::hello
//! ```
//!
//! Each layer is in its own file: [`version`] (versions, salts, labels, type codes), [`packet`]
//! (headers), [`keys`] (key schedule, header and packet protection, Retry integrity),
//! [`frame`] (frames of Initial and Handshake payloads), [`crypto`] (CRYPTO reassembly);
//! [`wire`] is the bounds-checked cursor under them.
//!
//! # What the caller keeps per connection
//!
//! - The client's first Initial's Destination Connection ID: both directions' Initial keys come
//!   from it (the server's Initials have another DCID). After a Retry, the client's next
//!   Initial goes to the Retry's Source Connection ID and the keys are derived from that
//!   ([`keys::verify_retry`] checks the tag against the original DCID for v1 and v2).
//! - The version of each packet: salt and labels follow it ([`keys::InitialKeys::derive`] per
//!   version), since a server may answer a v1 Initial in v2 (RFC 9368).
//! - The largest packet number opened per direction and space, for
//!   [`keys::PacketKeys::open_long`] (the first is `None`).
//! - A [`crypto::CryptoSpaces`] per direction; Handshake keys once the ServerHello's cipher
//!   suite and a key log's `CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET` are known.
//!
//! # What it promises
//!
//! No input can make this module panic: every length read from the wire is checked against the
//! bytes present. Rejecting a UDP payload that is not QUIC ([`packet::sniff`]) and walking the
//! headers of one that is ([`packet::packets`]) allocate nothing; opening a packet reuses the
//! caller's buffer. Memory is bounded whatever the peer sends:
//!
//! | cap | value | what it bounds |
//! |---|---|---|
//! | [`packet::MAX_CID_LEN`] | 20 bytes | a connection ID of a known version |
//! | [`packet::MAX_VN_VERSIONS`] | 32 | versions reported from a Version Negotiation packet |
//! | [`frame::MAX_REASON_BYTES`] | 256 bytes | a CONNECTION_CLOSE reason phrase kept |
//! | [`crypto::MAX_CRYPTO_BYTES`] | 64 KiB | CRYPTO stream offsets kept per direction and space |
//! | [`crypto::MAX_PIECES`] | 64 | ranges held beyond a hole in a CRYPTO stream |
//!
//! Bytes refused by a cap are counted ([`crypto::CryptoStats`]), never silently dropped.
//! Short-header (1-RTT) packets are recognised and skipped: application data is never
//! decrypted, by construction (only Initial and handshake secrets are ever turned into keys).

pub mod crypto;
pub mod frame;
pub mod keys;
pub mod packet;
#[cfg(test)]
pub(crate) mod testdata;
pub mod version;
pub mod wire;

#[cfg(test)]
mod tests {
    use super::crypto::CryptoStream;
    use super::frame::{Frame, frames};
    use super::keys::InitialKeys;
    use super::packet::{Packet, packets, sniff};
    use super::testdata;
    use crate::tls::handshake::{Reassembler, Step};
    use crate::tls::{ClientHello, HandshakeType, ServerHello};

    /// The handshake messages of one direction's Initial packets, through every layer: keys
    /// from `client_dcid`, `client` picks the direction.
    fn initial_messages(
        datagrams: &[Vec<u8>],
        client_dcid: &[u8],
        client: bool,
    ) -> Vec<(HandshakeType, Vec<u8>)> {
        let mut stream = CryptoStream::new();
        let mut reassembler = Reassembler::default();
        let mut messages = Vec::new();
        let mut buf = Vec::new();
        let mut largest = None;
        for (frame, datagram) in (1..).zip(datagrams) {
            assert!(sniff(datagram).is_some());
            for packet in packets(datagram) {
                let Ok(Packet::Long(long)) = packet else {
                    continue;
                };
                let keys = InitialKeys::derive(long.version, client_dcid).unwrap();
                let keys = if client { &keys.client } else { &keys.server };
                let opened = keys.open_long(&long, largest, &mut buf).unwrap();
                largest = largest.max(Some(opened.packet_number));
                for f in frames(opened.payload) {
                    if let Ok(Frame::Crypto { offset, data }) = f {
                        stream.insert(frame, offset, data);
                    }
                }
                stream.read_new(|frame, mut bytes| {
                    while !bytes.is_empty() {
                        let (step, rest) = reassembler.read(frame, bytes, false);
                        if let Step::Done(m) = step {
                            messages.push((m.ty, m.body));
                        }
                        bytes = rest;
                    }
                });
            }
        }
        messages
    }

    /// RFC 9001 and RFC 9369 Appendix A: the client's and the server's Initial packets read
    /// into their hellos, the server's padded with zeros after its packet as some stacks do.
    #[test]
    fn both_hellos_of_both_rfcs() {
        for (client, server) in [
            (
                testdata::rfc9001_client_initial(),
                testdata::rfc9001_server_initial(),
            ),
            (
                testdata::rfc9369_client_initial(),
                testdata::rfc9369_server_initial(),
            ),
        ] {
            let [(ty, body)] = initial_messages(&[client], &testdata::RFC_DCID, true)
                .try_into()
                .unwrap();
            assert_eq!(ty, HandshakeType::CLIENT_HELLO);
            let hello = ClientHello::parse(&body).unwrap();
            assert_eq!(hello.sni.as_deref(), Some("example.com"));
            assert_eq!(hello.cipher_suites, [0x1301, 0x1302]);

            let mut padded = server;
            padded.extend_from_slice(&[0; 40]);
            let [(ty, body)] = initial_messages(&[padded], &testdata::RFC_DCID, false)
                .try_into()
                .unwrap();
            assert_eq!(ty, HandshakeType::SERVER_HELLO);
            let hello = ServerHello::parse(&body).unwrap();
            assert_eq!(hello.cipher_suite, 0x1301);
            assert_eq!(hello.version(), 0x0304);
        }
    }
}
