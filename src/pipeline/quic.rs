//! One QUIC connection's state machine, the peer of `tcp::TcpConnection`: UDP datagrams in, the
//! TLS handshake's hellos and [`FlowFacts`] out.
//!
//! A [`QuicConnection`] walks each datagram's long-header packets (`quic::packet`), opens the
//! Initial packets of both directions with keys derived from the client's original Destination
//! Connection ID (again from a Retry's Source Connection ID after a Retry), and — with a key
//! log's handshake secrets for the ClientHello's random — the Handshake packets, with the
//! ServerHello's cipher suite. CRYPTO frames are reassembled by offset per direction and packet
//! number space and read into handshake messages: ClientHello, ServerHello, EncryptedExtensions,
//! and the client's Finished (the end of the handshake). Handshake packets are counted per side,
//! and those that open are checked for re-sent CRYPTO data. Short-header (1-RTT) packets are only
//! counted (the client's first one noted), never decrypted. It knows nothing of the flow table:
//! the table hands it datagrams and asks for its facts.
//!
//! Keys: Initial keys are derived once per (version, connection ID) and kept (at most
//! [`MAX_KEY_SETS`]); Handshake keys once per direction. Each packet is opened with the keys of
//! its own version, since a server may answer a v1 Initial in v2 (RFC 9368).
//!
//! Limits (documented in the README): one connection per UDP 4-tuple at a time — a client
//! Initial that opens with keys of its own new Destination Connection ID and starts a new
//! ClientHello replaces the connection (the flow table finishes the old one, as TCP port reuse
//! does); simultaneous connections on one 4-tuple (rare: clients use a new port per connection)
//! are not kept apart. Memory: the CRYPTO streams' caps (`quic::crypto`), at most two hellos,
//! bounded frame lists ([`crate::analysis::MAX_QUIC_FRAMES`]); buffers are released once the
//! messages they carried were read.

use super::budget::{Charge, Footprint};
use super::tcp::{Indexed, KEY_WAIT_NS, Progress, Reported, TABLE_ENTRY_BYTES};
use crate::analysis::{
    CloseSeen, FlowEnd, FlowFacts, KeyStatus, QuicFacts, QuicPacketType, RetrySeen, Role,
    VersionNegotiationSeen,
};
use crate::capture::{Frame, Timestamp};
use crate::decode::UdpDatagram;
use crate::flow::{FlowKey, Side};
use crate::quic::crypto::{CryptoStream, Space};
use crate::quic::frame::{Frame as QuicFrame, frames_of};
use crate::quic::keys::{InitialKeys, PacketKeys, verify_retry};
use crate::quic::packet::{ConnectionId, LongPacket, Packet, cut_long_header, packets, sniff};
use crate::quic::version::{KnownVersion, LongType, Version};
use crate::tls::handshake::{Reassembler, Step};
use crate::tls::keylog::KeyLog;
use crate::tls::{AlpnList, ClientHello, HandshakeType, ServerHello, extensions};

/// Most Initial key sets kept per connection: one per (version, connection ID) met — the
/// client's version, a compatible version the server switched to, the version after Version
/// Negotiation, the connection ID after a Retry.
pub const MAX_KEY_SETS: usize = 4;
/// Most ClientHellos kept (a new one follows a Retry or a Version Negotiation only when the
/// client starts over; the last counts).
const MAX_CLIENT_HELLOS: usize = 2;
/// Most Handshake packets held while a live capture waits for the key log to name the
/// connection (`--await-keys`), and most bytes they may take: the server's first flight and
/// the client's Finished fit (a certificate chain of a few KiB).
const MAX_HELD_PACKETS: usize = 16;
const MAX_HELD_BYTES: usize = 32 * 1024;
/// Estimated heap bytes of one parsed hello, and of one Initial key set (two AES-GCM contexts
/// with their header protection keys).
const HELLO_BYTES: usize = 1024;
const KEY_SET_BYTES: usize = 2048;

/// One direction's handshake reading in one packet number space.
#[derive(Debug, Default)]
struct SpaceReader {
    crypto: CryptoStream,
    messages: Reassembler,
    /// Largest packet number opened.
    largest: Option<u64>,
}

impl SpaceReader {
    fn held_bytes(&self) -> usize {
        self.crypto.held_bytes() + self.messages.held_bytes()
    }
}

/// A Handshake packet that arrived before its keys, kept to be opened when the key log names
/// the connection (live use).
#[derive(Debug)]
struct HeldPacket {
    side: Side,
    frame: u64,
    time: Timestamp,
    /// The packet, from its first byte to the end of its Length.
    bytes: Box<[u8]>,
}

/// What a datagram did to the connection, for the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Absorbed {
    /// Read into this connection.
    Read,
    /// A client Initial of a new connection on the same 4-tuple: the table finishes this one
    /// and gives the datagram to a new one.
    NewConnection,
}

/// One QUIC connection while it is in the flow table.
#[derive(Debug)]
pub(super) struct QuicConnection {
    /// The flow's index within the capture, over every transport.
    pub index: u64,
    key: FlowKey,
    first_frame: u64,
    first_time: Timestamp,
    /// Last frame of the connection seen.
    pub last_frame: u64,
    /// Time of the last frame seen.
    pub last_time: Timestamp,
    /// The side that sent the first Initial the client's keys open.
    client: Option<Side>,
    /// `client` and `key_dcid` come from a client Initial the capture cut short (a snaplen),
    /// which could not be opened: taken as the client's until a packet of the other side
    /// opens with their keys (confirmed) or does not (forgotten).
    client_from_cut_initial: bool,
    /// The connection ID the Initial keys come from: the client's first Destination Connection
    /// ID, or a Retry's Source Connection ID.
    key_dcid: Option<ConnectionId>,
    /// Initial keys per version and connection ID, derived once.
    initial_keys: Vec<(KnownVersion, ConnectionId, Box<InitialKeys>)>,
    /// Connection IDs whose own Initial keys were tried on a packet and did not make it the
    /// client's first Initial or a new connection's: never tried again (at most
    /// [`MAX_KEY_SETS`]; beyond that nothing more is tried), so no packet costs a key
    /// derivation twice.
    probed: Vec<(KnownVersion, ConnectionId)>,
    /// Handshake keys per side of the flow key, once the ServerHello's suite is known.
    handshake_keys: [Option<Box<PacketKeys>>; 2],
    /// Per side of the flow key: Initial, Handshake.
    readers: [[SpaceReader; 2]; 2],
    client_hellos: Vec<(ClientHello, Vec<u64>)>,
    server_hello: Option<(ServerHello, Vec<u64>)>,
    /// A HelloRetryRequest before the ServerHello (RFC 8446 §4.1.4): the client's second
    /// ClientHello and the server's ServerHello follow in the same Initial CRYPTO streams.
    hello_retry: Option<(ServerHello, Vec<u64>)>,
    encrypted_extensions: Option<(Option<AlpnList>, Vec<u64>)>,
    keys: KeyStatus,
    /// The client's secrets from the key log, until the ServerHello's suite makes keys of them.
    secrets: Option<Box<crate::tls::keylog::HandshakeSecrets>>,
    /// Handshake packets opened (any direction).
    handshake_opened: u64,
    /// Live use (`--await-keys`): Handshake packets wait for key-log secrets written after
    /// they arrived, and the verdict waits for them up to [`KEY_WAIT_NS`] after the ServerHello.
    pub await_keys: bool,
    /// Handshake packets that came before their keys, while keys are awaited (at most
    /// [`MAX_HELD_PACKETS`], [`MAX_HELD_BYTES`]).
    held: Vec<HeldPacket>,
    /// The version of the packet that carried the ServerHello, and when it came.
    server_hello_at: Option<(KnownVersion, Timestamp)>,
    facts: QuicFacts,
    /// A Retry or Version Negotiation asked the client to start over: its next Initial's
    /// CRYPTO stream begins anew.
    client_restarts: bool,
    /// Where the flow table's activity index holds the connection.
    pub indexed: Indexed,
    /// What the memory budget charged the connection with.
    pub charge: Charge,
    /// Whether the flow table already reported the connection (live use).
    pub reported: Reported,
}

impl QuicConnection {
    /// A connection whose first datagram is in `frame`; `connection_number` is Wireshark's
    /// `quic.connection.number`.
    pub fn new(key: FlowKey, index: u64, connection_number: u64, frame: &Frame<'_>) -> Self {
        QuicConnection {
            index,
            key,
            first_frame: frame.number,
            first_time: frame.timestamp,
            last_frame: frame.number,
            last_time: frame.timestamp,
            client: None,
            client_from_cut_initial: false,
            key_dcid: None,
            initial_keys: Vec::new(),
            probed: Vec::new(),
            handshake_keys: [None, None],
            readers: Default::default(),
            client_hellos: Vec::new(),
            server_hello: None,
            hello_retry: None,
            encrypted_extensions: None,
            keys: KeyStatus::NoKeyLog,
            secrets: None,
            handshake_opened: 0,
            await_keys: false,
            held: Vec::new(),
            server_hello_at: None,
            facts: QuicFacts {
                connection_number,
                ..QuicFacts::default()
            },
            client_restarts: false,
            indexed: Indexed {
                time: frame.timestamp,
                progress: Progress::Quiet,
                closed: None,
            },
            charge: Charge::default(),
            reported: Reported::No,
        }
    }

    /// How far the connection got.
    pub fn progress(&self) -> Progress {
        let server_closed = self
            .facts
            .close
            .as_ref()
            .is_some_and(|c| c.from == Role::Server);
        if self.server_hello.is_some() || server_closed {
            Progress::Answered
        } else if !self.client_hellos.is_empty() {
            Progress::Partial
        } else {
            Progress::Quiet
        }
    }

    /// True once a CONNECTION_CLOSE was read (the closes of 1-RTT packets are not readable).
    pub fn closed(&self) -> bool {
        self.facts.close.is_some()
    }

    /// What the connection holds now, for the memory budget.
    pub fn footprint(&self) -> Footprint {
        let buffered: usize = self
            .readers
            .iter()
            .flatten()
            .map(SpaceReader::held_bytes)
            .sum();
        // The table's entry and indexes cost what a TCP connection's do.
        let fixed = std::mem::size_of::<QuicConnection>()
            + TABLE_ENTRY_BYTES
            + (self.client_hellos.len()
                + usize::from(self.server_hello.is_some())
                + usize::from(self.hello_retry.is_some()))
                * HELLO_BYTES
            + (self.initial_keys.len() + self.handshake_keys.iter().flatten().count())
                * KEY_SET_BYTES
            + self.held_bytes();
        Footprint {
            total: fixed + buffered,
            out_of_order: 0,
            buffered_past_handshake: false,
        }
    }

    /// Bytes of the Handshake packets held for keys.
    fn held_bytes(&self) -> usize {
        self.held.iter().map(|p| p.bytes.len()).sum()
    }

    /// True when more packets cannot change the verdict: a server CONNECTION_CLOSE, the
    /// EncryptedExtensions read, or a ServerHello without keys to read more — unless keys are
    /// awaited (`await_keys`, live use) and [`KEY_WAIT_NS`] has not passed since the
    /// ServerHello (clients write the key log as the handshake ends).
    pub fn verdict_is_final(&self, await_keys: bool, now: Timestamp) -> bool {
        if self.closed() || self.encrypted_extensions.is_some() {
            return true;
        }
        let awaiting_keys = await_keys
            && self.keys != KeyStatus::Found
            && self
                .server_hello_at
                .is_some_and(|(_, t)| now.nanos_since(t) <= KEY_WAIT_NS);
        !awaiting_keys && self.server_hello.is_some() && self.keys != KeyStatus::Found
    }

    /// The ClientHello's random while the connection waits for its key-log secrets (live use,
    /// `await_keys`), and was not reported yet.
    pub fn awaits_secrets(&self) -> Option<&[u8]> {
        if !self.await_keys
            || self.keys == KeyStatus::Found
            || !matches!(self.reported, Reported::No)
        {
            return None;
        }
        self.client_hellos.last().map(|(h, _)| h.random.as_slice())
    }

    /// The key log now has the connection's handshake secrets: derives the Handshake keys (once
    /// the ServerHello is known) and opens the Handshake packets held for them, in order.
    pub fn provide_secrets(
        &mut self,
        secrets: &crate::tls::keylog::HandshakeSecrets,
        keylog: &KeyLog,
        buf: &mut Vec<u8>,
    ) {
        self.keys = KeyStatus::Found;
        self.secrets = Some(Box::new(secrets.clone()));
        self.derive_handshake_keys();
        for held in std::mem::take(&mut self.held) {
            let frame = Frame {
                number: held.frame,
                timestamp: held.time,
                link_type: crate::capture::LinkType::RAW,
                data: &held.bytes,
                original_len: u32::try_from(held.bytes.len()).unwrap_or(u32::MAX),
            };
            if let Some(Ok(Packet::Long(long))) = packets(&held.bytes).next() {
                self.long_packet(held.side, &frame, &long, keylog, buf);
            }
        }
    }

    /// The Handshake keys of both directions from the key-log secrets, once the ServerHello
    /// named the cipher suite.
    fn derive_handshake_keys(&mut self) {
        let (Some(client), Some((version, _)), Some((hello, _))) = (
            self.client,
            self.server_hello_at,
            self.server_hello.as_ref(),
        ) else {
            return;
        };
        let Some(secrets) = self.secrets.take() else {
            return;
        };
        for (side, secret) in [(client, &secrets.client), (client.other(), &secrets.server)] {
            self.handshake_keys[side.index()] = secret.as_ref().and_then(|s| {
                PacketKeys::from_tls_secret(hello.cipher_suite, version, s)
                    .ok()
                    .map(Box::new)
            });
        }
    }

    /// Holds a Handshake packet that came before its keys, while keys are awaited. False when
    /// it is not held (keys not awaited, or the caps reached).
    fn hold(&mut self, side: Side, frame: &Frame<'_>, long: &LongPacket<'_>) -> bool {
        if self.awaits_secrets().is_none()
            || self.held.len() >= MAX_HELD_PACKETS
            || self.held_bytes() + long.bytes.len() > MAX_HELD_BYTES
        {
            return false;
        }
        self.held.push(HeldPacket {
            side,
            frame: frame.number,
            time: frame.timestamp,
            bytes: long.bytes.into(),
        });
        true
    }

    /// The client side: the sender of the first Initial its own keys open, else the side with
    /// the higher (ephemeral) port.
    fn client_side(&self) -> Side {
        let by_port = if self.key.a.port > self.key.b.port {
            Side::A
        } else {
            Side::B
        };
        self.client.unwrap_or(by_port)
    }

    /// Absorbs one datagram from `side`. `buf` is scratch space for decryption.
    pub fn datagram(
        &mut self,
        side: Side,
        frame: &Frame<'_>,
        udp: &UdpDatagram<'_>,
        keylog: &KeyLog,
        buf: &mut Vec<u8>,
    ) -> Absorbed {
        // A short header first (RFC 9000 §17.3: the Header Form bit clear) is a datagram of one
        // 1-RTT packet, a long header never following it: nearly every datagram of a connection
        // after its handshake. It is counted from its first byte, nothing more.
        let short = udp.payload.first().is_some_and(|b| b & 0x80 == 0);
        if !short && self.starts_new_connection(side, udp.payload, buf) {
            return Absorbed::NewConnection;
        }
        self.last_frame = frame.number;
        self.last_time = frame.timestamp;
        let from_server = self.client.is_some_and(|c| c != side);
        if from_server {
            self.facts.server_datagrams += 1;
        }
        if frame.original_len as usize > frame.data.len() {
            self.facts.cut_datagrams.add(frame.number);
        }
        if short {
            self.facts.one_rtt_packets += 1;
            if self.client == Some(side) && self.facts.client_first_short_header.is_none() {
                // As in the walk below (a short header that starts its datagram is one): only
                // a client that holds 1-RTT keys sends one, the end of its handshake when its
                // Finished cannot be read.
                self.facts.client_first_short_header = Some((frame.number, frame.timestamp));
            }
            return Absorbed::Read;
        }
        if self.facts.first_version.is_none() {
            // From the header alone: a packet whose Length does not fit still names its version.
            self.facts.first_version = sniff(udp.payload).filter(|v| *v != Version::NEGOTIATION);
        }
        let mut client_initial_seen = frame.original_len as usize > frame.data.len()
            && self.cut_client_initial(side, udp.payload);
        // The Destination Connection ID of the datagram's first packet, when it is a long one.
        let mut first_dcid: Option<&[u8]> = None;
        for packet in packets(udp.payload) {
            let packet = match packet {
                Ok(packet) => packet,
                Err(e) => {
                    if frame.original_len as usize > frame.data.len() {
                        self.cut_handshake_packet(side, frame, udp.payload.get(e.offset..));
                    }
                    break;
                }
            };
            match packet {
                Packet::Long(long) => {
                    if first_dcid.is_none() {
                        first_dcid = Some(long.dcid);
                    }
                    let from_client = self.long_packet(side, frame, &long, keylog, buf);
                    client_initial_seen |= from_client && long.ty == LongType::Initial;
                }
                Packet::Retry(retry) if self.client.is_some_and(|c| c != side) => {
                    if self.facts.retry.is_none()
                        && let Some(scid) = ConnectionId::new(retry.scid)
                    {
                        let original = self.facts.client_dcid.unwrap_or_default();
                        self.facts.retry = Some(RetrySeen {
                            frame: frame.number,
                            scid,
                            integrity: verify_retry(&retry, original.as_bytes()),
                        });
                        self.key_dcid = Some(scid);
                        self.client_restarts = true;
                    }
                }
                Packet::VersionNegotiation(vn)
                    if self.client.is_none_or(|c| c != side)
                        && self.facts.version_negotiation.is_none() =>
                {
                    if self.client.is_none() {
                        // Only a server sends Version Negotiation: here to a client Initial no
                        // key opened (a reserved version's, forcing the negotiation).
                        self.client = Some(side.other());
                        self.facts.client_version = self.facts.first_version;
                        if self.facts.first_version.is_some_and(Version::is_reserved) {
                            // That Initial opened the connection (only a client's Initial
                            // padded to 1200 bytes opens one in a reserved version).
                            self.facts.client_initials.add(self.first_frame);
                        }
                    }
                    self.facts.version_negotiation = Some(VersionNegotiationSeen {
                        frame: frame.number,
                        versions: vn.versions().collect(),
                    });
                    self.client_restarts = true;
                }
                Packet::Short { offset, .. } => {
                    self.facts.one_rtt_packets += 1;
                    if self.client == Some(side)
                        && self.facts.client_first_short_header.is_none()
                        && is_short_header(udp.payload, offset, first_dcid)
                    {
                        // Only a client that holds 1-RTT keys sends one: the end of its
                        // handshake when its Finished cannot be read.
                        self.facts.client_first_short_header =
                            Some((frame.number, frame.timestamp));
                    }
                }
                _ => {}
            }
        }
        if client_initial_seen {
            self.facts.client_initials.add(frame.number);
            self.facts
                .first_client_initial_time
                .get_or_insert(frame.timestamp);
        }
        Absorbed::Read
    }

    /// True when `payload` from `side` is a client Initial that starts a new connection on
    /// this 4-tuple: a Destination Connection ID this connection never used, whose own keys
    /// open the packet, carrying CRYPTO data from offset 0 — after this connection got its
    /// ClientHello (before that, after a Version Negotiation, the client's new Initial goes on
    /// with this connection).
    fn starts_new_connection(&mut self, side: Side, payload: &[u8], buf: &mut Vec<u8>) -> bool {
        if self.client != Some(side) || self.client_hellos.is_empty() || self.client_restarts {
            return false;
        }
        let Some(Ok(Packet::Long(long))) = packets(payload).next() else {
            return false;
        };
        if long.ty != LongType::Initial {
            return false;
        }
        let known = [
            self.facts.client_dcid,
            self.key_dcid,
            self.facts.server_scid,
        ];
        if known.iter().flatten().any(|c| c.as_bytes() == long.dcid) || !self.probe(&long) {
            return false;
        }
        let Ok(keys) = InitialKeys::derive(long.version, long.dcid) else {
            return false;
        };
        self.facts.decryptions += 1;
        let Ok(opened) = keys.client.open_long(&long, None, buf) else {
            return false;
        };
        frames_of(long.version, opened.payload)
            .flatten()
            .any(|f| matches!(f, QuicFrame::Crypto { offset: 0, .. }))
    }

    /// True when `payload` from `side` starts with a client Initial the capture cut short. The
    /// first such packet, before any Initial opened, names the client and the connection ID of
    /// its Initial keys (as Wireshark reads a snaplen-cut capture): the packet cannot be
    /// opened, but the server's packets can.
    fn cut_client_initial(&mut self, side: Side, payload: &[u8]) -> bool {
        let Some(header) = cut_long_header(payload) else {
            return false;
        };
        if header.ty != LongType::Initial || header.wire_version.is_reserved() {
            return false;
        }
        if self.client.is_some() {
            return self.client == Some(side);
        }
        let Some(dcid) = ConnectionId::new(header.dcid) else {
            return false;
        };
        let Ok(keys) = InitialKeys::derive(header.version, header.dcid) else {
            return false;
        };
        self.client = Some(side);
        self.client_from_cut_initial = true;
        self.key_dcid = Some(dcid);
        self.facts.client_dcid = Some(dcid);
        self.facts.client_version = Some(header.wire_version);
        self.initial_keys
            .push((header.version, dcid, Box::new(keys)));
        true
    }

    /// A Handshake packet whose header the capture holds but whose payload it cut short (a
    /// snaplen): counted with its side's Handshake packets, as Wireshark lists it.
    fn cut_handshake_packet(&mut self, side: Side, frame: &Frame<'_>, rest: Option<&[u8]>) {
        let Some(header) = rest.and_then(cut_long_header) else {
            return;
        };
        if header.ty != LongType::Handshake || self.client.is_none() {
            return;
        }
        let sent = if self.client == Some(side) {
            &mut self.facts.client_handshakes
        } else {
            &mut self.facts.server_handshakes
        };
        sent.add(frame.number);
    }

    /// A packet of the other side than the one a cut Initial named the client: the keys of
    /// that Initial open it (the client is confirmed) or they do not, and the guess is
    /// forgotten, so that this packet may be the client's own first Initial.
    fn check_cut_client(&mut self, side: Side, long: &LongPacket<'_>, buf: &mut Vec<u8>) {
        if !self.client_from_cut_initial
            || self.client == Some(side)
            || long.ty != LongType::Initial
        {
            return;
        }
        let mut tried = false;
        let opens = self.initial_keys(long.version).is_some_and(|keys| {
            tried = true;
            keys.server.open_long(long, None, buf).is_ok()
        });
        self.facts.decryptions += u64::from(tried);
        self.client_from_cut_initial = false;
        if !opens {
            self.client = None;
            self.key_dcid = None;
            self.facts.client_dcid = None;
            self.facts.client_version = None;
            self.facts.client_initials = Default::default();
            self.initial_keys.clear();
        }
    }

    /// True when keys from `long`'s own Destination Connection ID may be tried on it: not
    /// tried before for its version, and the list of tries not full. Records the try.
    fn probe(&mut self, long: &LongPacket<'_>) -> bool {
        let Some(dcid) = ConnectionId::new(long.dcid) else {
            return false;
        };
        let tried = (long.version, dcid);
        if self.probed.contains(&tried) || self.probed.len() >= MAX_KEY_SETS {
            return false;
        }
        self.probed.push(tried);
        true
    }

    /// The Initial keys of `version` from the connection's key connection ID, derived once.
    fn initial_keys(&mut self, version: KnownVersion) -> Option<&InitialKeys> {
        let dcid = self.key_dcid?;
        let at = match self
            .initial_keys
            .iter()
            .position(|(v, c, _)| *v == version && *c == dcid)
        {
            Some(at) => at,
            None => {
                if self.initial_keys.len() >= MAX_KEY_SETS {
                    return None;
                }
                let keys = InitialKeys::derive(version, dcid.as_bytes()).ok()?;
                self.initial_keys.push((version, dcid, Box::new(keys)));
                self.initial_keys.len() - 1
            }
        };
        self.initial_keys.get(at).map(|(_, _, k)| k.as_ref())
    }

    /// One long-header packet from `side`. Returns true when it was a client packet.
    fn long_packet(
        &mut self,
        side: Side,
        frame: &Frame<'_>,
        long: &LongPacket<'_>,
        keylog: &KeyLog,
        buf: &mut Vec<u8>,
    ) -> bool {
        self.check_cut_client(side, long, buf);
        // The client's first Initial opened, or the first after a Version Negotiation that
        // answered an Initial no key opened.
        let first_initial = self.key_dcid.is_none() && self.client.is_none_or(|c| c == side);
        if first_initial && long.ty == LongType::Initial && self.probe(long) {
            // The client's first Initial: its keys come from its own Destination Connection ID.
            if let Some(dcid) = ConnectionId::new(long.dcid)
                && let Ok(keys) = InitialKeys::derive(long.version, long.dcid)
                && {
                    self.facts.decryptions += 1;
                    keys.client.open_long(long, None, buf).is_ok()
                }
            {
                self.client = Some(side);
                self.key_dcid = Some(dcid);
                self.facts.client_dcid = Some(dcid);
                self.initial_keys.push((long.version, dcid, Box::new(keys)));
            }
        }
        let from_client = self.client == Some(side);
        if from_client && long.ty == LongType::Initial {
            self.facts.client_version.get_or_insert(long.wire_version());
            if self.client_restarts {
                // After a Retry or a Version Negotiation the client sends its ClientHello
                // again from offset 0: a new stream, not a re-sent one.
                self.readers[side.index()][0] = SpaceReader::default();
                self.client_restarts = false;
            }
        } else if self.client.is_some() && !from_client {
            if long.ty == LongType::Initial && self.facts.first_server_initial.is_none() {
                self.facts.first_server_initial = Some((frame.number, frame.timestamp));
                self.facts.server_version = Some(long.wire_version());
            }
            if self.facts.server_scid.is_none() {
                self.facts.server_scid = ConnectionId::new(long.scid);
            }
        }
        let Some(space) = Space::of(long.ty) else {
            return from_client;
        };
        let Some(client) = self.client else {
            // The client's first Initial is not in the capture: nothing here can be opened
            // (a reserved version's Initial, which defines no keys, is no failure).
            if space == Space::Initial && !long.wire_version().is_reserved() {
                self.facts.undecryptable_initials.add(frame.number);
            }
            return false;
        };
        if space == Space::Handshake {
            let sent = if from_client {
                &mut self.facts.client_handshakes
            } else {
                &mut self.facts.server_handshakes
            };
            sent.add(frame.number);
        }
        let s = space_index(space);
        let largest = self.readers[side.index()][s].largest;
        let mut tried = false;
        let opened = match space {
            Space::Initial => self.initial_keys(long.version).and_then(|keys| {
                let keys = if from_client {
                    &keys.client
                } else {
                    &keys.server
                };
                tried = true;
                keys.open_long(long, largest, buf).ok()
            }),
            Space::Handshake => self.handshake_keys[side.index()].as_ref().and_then(|keys| {
                tried = true;
                keys.open_long(long, largest, buf).ok()
            }),
        };
        self.facts.decryptions += u64::from(tried);
        let Some(opened) = opened else {
            match space {
                // A reserved version (forcing Version Negotiation) defines no keys: its Initial
                // not opening is no fault of anyone's.
                Space::Initial if long.wire_version().is_reserved() => {}
                Space::Initial => self.facts.undecryptable_initials.add(frame.number),
                Space::Handshake
                    if self.handshake_keys[side.index()].is_none()
                        && self.hold(side, frame, long) => {}
                Space::Handshake => self.facts.handshake_not_opened.add(frame.number),
            }
            return from_client;
        };
        if space == Space::Handshake {
            self.handshake_opened += 1;
        }
        let reader = &mut self.readers[side.index()][s];
        reader.largest = reader.largest.max(Some(opened.packet_number));
        let before = *reader.crypto.stats();
        let role = if side == client {
            Role::Client
        } else {
            Role::Server
        };
        let packet_type = match space {
            Space::Initial => QuicPacketType::Initial,
            Space::Handshake => QuicPacketType::Handshake,
        };
        let mut close = None;
        for f in frames_of(long.version, opened.payload) {
            match f {
                Ok(QuicFrame::Crypto { offset, data }) => {
                    reader.crypto.insert(frame.number, offset, data);
                }
                Ok(QuicFrame::ConnectionClose(c)) if close.is_none() => {
                    close = Some(CloseSeen {
                        frame: frame.number,
                        from: role,
                        application: c.application,
                        error_code: c.error_code,
                        tls_alert: c.tls_alert(),
                        reason: String::from_utf8_lossy(c.reason).into_owned(),
                        packet_type,
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if self.facts.close.is_none() {
            self.facts.close = close;
        }
        let after = *reader.crypto.stats();
        let crypto_frames = after.frames - before.frames;
        let resent =
            crypto_frames > 0 && after.repeated_frames - before.repeated_frames == crypto_frames;
        match space {
            Space::Initial if from_client && resent => {
                self.facts.resent_client_initials.add(frame.number);
            }
            Space::Initial => {}
            Space::Handshake => {
                // Opened: from now on this side's re-sent Handshake packets can be told.
                let list = if from_client {
                    &mut self.facts.resent_client_handshakes
                } else {
                    &mut self.facts.resent_server_handshakes
                };
                let list = list.get_or_insert_default();
                if resent {
                    list.add(frame.number);
                }
            }
        }
        let mut messages = Vec::new();
        let decrypting = space == Space::Handshake;
        let SpaceReader {
            crypto,
            messages: reassembler,
            ..
        } = reader;
        crypto.read_new(|frame, mut bytes| {
            while !bytes.is_empty() {
                let (step, rest) = reassembler.read(frame, bytes, decrypting);
                if let Step::Done(m) = step {
                    messages.push(m);
                }
                bytes = rest;
            }
        });
        for m in messages {
            if role == Role::Client
                && space == Space::Handshake
                && m.ty == HandshakeType::FINISHED
                && self.facts.client_finished.is_none()
            {
                // This packet completed the client's Finished: its handshake is done, and its
                // Handshake stream has nothing more to tell.
                self.facts.client_finished = Some((frame.number, frame.timestamp));
                let reader = &mut self.readers[side.index()][s];
                reader.crypto.release();
                reader.messages.reset();
            }
            self.message(role, long.version, frame.timestamp, m, keylog);
        }
        from_client
    }

    /// One complete handshake message from `role`.
    fn message(
        &mut self,
        role: Role,
        version: KnownVersion,
        time: Timestamp,
        m: crate::tls::handshake::Message,
        keylog: &KeyLog,
    ) {
        match (role, m.ty) {
            (Role::Client, HandshakeType::CLIENT_HELLO) => {
                let Ok(hello) = ClientHello::parse(&m.body) else {
                    return;
                };
                if !keylog.is_empty() || self.await_keys {
                    match keylog.get(&hello.random) {
                        Some(secrets) => {
                            self.keys = KeyStatus::Found;
                            self.secrets = Some(Box::new(secrets.clone()));
                        }
                        None => self.keys = KeyStatus::NoEntry,
                    }
                }
                if self.client_hellos.len() >= MAX_CLIENT_HELLOS {
                    self.client_hellos.remove(0);
                }
                self.client_hellos.push((hello, m.frames));
            }
            (Role::Server, HandshakeType::SERVER_HELLO) if self.server_hello.is_none() => {
                let Ok(hello) = ServerHello::parse(&m.body) else {
                    return;
                };
                if hello.is_hello_retry_request {
                    // Not the ServerHello: keys and the client's stream are still to come.
                    if self.hello_retry.is_none() {
                        self.hello_retry = Some((hello, m.frames));
                    }
                    return;
                }
                self.server_hello = Some((hello, m.frames));
                self.server_hello_at = Some((version, time));
                self.derive_handshake_keys();
                // The client's Initial stream has done its work.
                if let Some(client) = self.client {
                    self.readers[client.index()][0].crypto.release();
                }
            }
            (Role::Server, HandshakeType::ENCRYPTED_EXTENSIONS)
                if self.encrypted_extensions.is_none() =>
            {
                let alpn = extensions::encrypted_extensions_alpn(&m.body);
                self.encrypted_extensions = Some((alpn, m.frames));
                // The client's Handshake stream is read on, up to its Finished (the end of the
                // handshake); the other streams have done their work.
                let client_handshake = self
                    .client
                    .map(|c| (c.index(), space_index(Space::Handshake)));
                for (side, readers) in self.readers.iter_mut().enumerate() {
                    for (space, reader) in readers.iter_mut().enumerate() {
                        if Some((side, space)) == client_handshake
                            && self.facts.client_finished.is_none()
                        {
                            continue;
                        }
                        reader.crypto.release();
                        reader.messages.reset();
                    }
                }
            }
            _ => {}
        }
    }

    /// Everything seen of the connection so far, in client/server terms.
    pub fn facts(&self, end: FlowEnd) -> FlowFacts {
        let client = self.client_side();
        let mut quic = self.facts.clone();
        if !self.held.is_empty() {
            // Held for keys that never came: not opened.
            let mut frames: Vec<u64> = quic.handshake_not_opened.frames.clone();
            let mut held: Vec<u64> = self.held.iter().map(|p| p.frame).collect();
            held.dedup();
            quic.handshake_not_opened.count += held.len() as u64;
            frames.extend(held);
            frames.sort_unstable();
            frames.dedup();
            frames.truncate(crate::analysis::MAX_QUIC_FRAMES);
            quic.handshake_not_opened.frames = frames;
        }
        quic.handshake_keys_failed = self.keys == KeyStatus::Found
            && self.server_hello.is_some()
            && self.handshake_opened == 0
            && quic.handshake_not_opened.count > 0;
        // The ServerHello is the first TLS read when the client's Initials were cut short.
        let first_tls_frame = self
            .client_hellos
            .first()
            .map(|(_, f)| f)
            .or(self.server_hello.as_ref().map(|(_, f)| f))
            .and_then(|f| f.first().copied());
        FlowFacts {
            index: self.index,
            tcp_stream: None,
            client: self.key.endpoint(client),
            server: self.key.endpoint(client.other()),
            first_frame: self.first_frame,
            first_time: self.first_time,
            client_hellos: self.client_hellos.clone(),
            server_hellos: self
                .hello_retry
                .iter()
                .chain(&self.server_hello)
                .cloned()
                .collect(),
            encrypted_extensions: self.encrypted_extensions.clone(),
            keys: self.keys,
            client_side: client,
            payload_seen: true,
            first_tls_frame,
            last_frame: self.last_frame,
            last_time: self.last_time,
            end,
            quic: Some(quic),
            ..FlowFacts::default()
        }
    }
}

/// True when the bytes at `offset` of `payload` (to its end) are a short-header packet, not data
/// a stack appended after its long-header packets (Wireshark's "padding data appended to the
/// datagram"): the datagram starts with it, or it carries the Destination Connection ID of the
/// datagram's first packet, `first_dcid` (RFC 9000 §12.2: coalesced packets share it; a
/// zero-length ID tells nothing).
fn is_short_header(payload: &[u8], offset: usize, first_dcid: Option<&[u8]>) -> bool {
    if offset == 0 {
        return true;
    }
    let Some(dcid) = first_dcid.filter(|d| !d.is_empty()) else {
        return false;
    };
    offset
        .checked_add(1)
        .and_then(|start| payload.get(start..start.checked_add(dcid.len())?))
        == Some(dcid)
}

/// Index of a packet number space in [`QuicConnection`]'s readers.
fn space_index(space: Space) -> usize {
    match space {
        Space::Initial => 0,
        Space::Handshake => 1,
    }
}

#[cfg(test)]
mod tests;
