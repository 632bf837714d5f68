//! A flow table entry: a TCP connection that has sent nothing but its first SYN, kept in a
//! compact form, a TCP connection with its full state machine, or a QUIC connection.
//!
//! Most connections of a SYN flood or a port scan never send a second packet. Such a
//! connection is an [`Opening`]: the fields of its SYN that the TCP analysis reads, about a
//! hundred bytes instead of a [`TcpConnection`]'s few kilobytes. The connection's second
//! packet — or its leaving the table — opens it: a `TcpConnection` is made and the SYN replayed
//! into it, so that everything after is as if it had been a `TcpConnection` from the start.

use super::budget::{Charge, Footprint};
use super::quic::QuicConnection;
use super::tcp::{Context, Indexed, Progress, Reported, TcpConnection};
use crate::analysis::{FlowEnd, FlowFacts};
use crate::capture::{Frame, LinkType, Timestamp};
use crate::decode::{Segment, TcpFlags};
use crate::flow::{FlowKey, FlowKeyHasher, Side};
use crate::report::model::FlowReport;
use std::collections::HashMap;
use std::mem::size_of;

/// The flow table: every connection by its key.
pub type FlowTable = HashMap<FlowKey, Slot, FlowKeyHasher>;

/// Bytes an [`Opening`] costs beyond its own size: its share of the hash table (entries are
/// key and pointer, the table at most 7/8 full and doubling as it grows), its activity-index
/// and output entries (B-tree nodes), and the allocator's rounding. Measured: peak RSS grew by
/// 491 bytes per SYN-only connection held (the first 50,000 and 150,000 SYNs of
/// `bench/flood.sh`'s SYN flood, `--memory 4G`; the flow key holds its transport, the entry
/// its flow index besides its `tcp.stream`), the entry itself being 128.
const OPENING_TABLE_BYTES: usize = 368;

/// A connection whose only packet so far is a SYN without payload.
#[derive(Debug)]
pub(super) struct Opening {
    /// The flow's index within the capture, over every transport.
    pub index: u64,
    /// Wireshark's `tcp.stream` index within the capture.
    pub tcp_stream: u64,
    /// Where the flow table's activity index holds the connection.
    pub indexed: Indexed,
    /// What the memory budget charged the connection with.
    pub charge: Charge,
    frame: u64,
    time: Timestamp,
    /// The side that sent the SYN.
    sender: Side,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    ttl: u8,
    ip_id: Option<u16>,
    window_scale: Option<u8>,
}

impl Opening {
    /// The compact entry of a connection whose first packet is `seg` from `side`, when that is a
    /// SYN (not a SYN/ACK) without payload.
    pub fn of(
        index: u64,
        tcp_stream: u64,
        side: Side,
        frame: &Frame<'_>,
        seg: &Segment<'_>,
    ) -> Option<Opening> {
        let bare_syn = seg.flags.syn() && !seg.flags.ack() && seg.payload_len == 0;
        bare_syn.then(|| Opening {
            index,
            tcp_stream,
            indexed: Indexed {
                time: frame.timestamp,
                progress: Progress::Quiet,
                closed: None,
            },
            charge: Charge::default(),
            frame: frame.number,
            time: frame.timestamp,
            sender: side,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags,
            window: seg.window,
            ttl: seg.ttl,
            ip_id: seg.ip_id,
            window_scale: seg.window_scale,
        })
    }

    /// What the entry holds, for the memory budget.
    pub fn footprint() -> Footprint {
        Footprint {
            total: size_of::<Opening>() + OPENING_TABLE_BYTES,
            out_of_order: 0,
            buffered_past_handshake: false,
        }
    }

    /// True when a SYN from `side` with sequence number `seq` opens a new connection on the same
    /// ports (as [`TcpConnection::is_reused_by`] would say after this SYN).
    fn is_reused_by(&self, side: Side, seq: u32) -> bool {
        side == self.sender && seq != self.seq
    }

    /// The connection with its full state: made as by the SYN, which is replayed into it.
    fn open(&self, key: FlowKey, context: &mut Context<'_>) -> TcpConnection {
        let frame = Frame {
            number: self.frame,
            timestamp: self.time,
            // The connection reads neither the link nor the frame's bytes.
            link_type: LinkType(0),
            data: &[],
            original_len: 0,
        };
        let src = key.endpoint(self.sender);
        let dst = key.endpoint(self.sender.other());
        let seg = Segment {
            src_ip: src.ip,
            dst_ip: dst.ip,
            src_port: src.port,
            dst_port: dst.port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            ttl: self.ttl,
            ip_id: self.ip_id,
            payload: &[],
            payload_len: 0,
            window_scale: self.window_scale,
        };
        let mut connection = TcpConnection::new(key, self.index, self.tcp_stream, &frame, true);
        connection.segment(self.sender, &frame, &seg, context);
        connection.indexed = self.indexed;
        connection.charge = self.charge;
        connection
    }
}

/// A flow table entry.
#[derive(Debug)]
pub(super) enum Slot {
    /// Only a SYN so far.
    Opening(Box<Opening>),
    /// A connection with its full state. Boxed: a connection's state is large, and the table
    /// moves its entries when it grows.
    Open(Box<TcpConnection>),
    /// A QUIC connection.
    Quic(Box<QuicConnection>),
}

impl Slot {
    /// True when the data of a segment (not a SYN) this slot takes changes nothing: a TCP
    /// connection that reads no more bytes.
    pub fn ignores_data(&self) -> bool {
        matches!(self, Slot::Open(c) if c.passive())
    }
}

/// A connection leaving the flow table.
#[derive(Debug)]
pub(super) enum Connection {
    /// A TCP connection.
    Tcp(Box<TcpConnection>),
    /// A QUIC connection.
    Quic(Box<QuicConnection>),
}

impl Connection {
    /// The flow's index within the capture.
    pub fn index(&self) -> u64 {
        match self {
            Connection::Tcp(c) => c.index,
            Connection::Quic(c) => c.index,
        }
    }

    /// Finishes the connection: its facts, and the report streamed while it was open (live
    /// use), if any.
    pub fn finish(self, end: FlowEnd) -> (FlowFacts, Option<Box<FlowReport>>) {
        let (reported, facts) = match self {
            Connection::Tcp(mut c) => {
                c.finish();
                let reported = std::mem::replace(&mut c.reported, Reported::No);
                (reported, c.into_facts(end))
            }
            Connection::Quic(mut c) => (
                std::mem::replace(&mut c.reported, Reported::No),
                c.facts(end),
            ),
        };
        let streamed = match reported {
            Reported::Streamed(report) => Some(report),
            Reported::No | Reported::NotTls => None,
        };
        (facts, streamed)
    }
}

impl Slot {
    /// The flow's index within the capture, over every transport: its key in the flow
    /// table's orders and the output.
    pub fn index(&self) -> u64 {
        match self {
            Slot::Opening(o) => o.index,
            Slot::Open(c) => c.index,
            Slot::Quic(c) => c.index,
        }
    }

    /// How far the connection got.
    pub fn progress(&self) -> Progress {
        match self {
            Slot::Opening(_) => Progress::Quiet,
            Slot::Open(c) => c.progress(),
            Slot::Quic(c) => c.progress(),
        }
    }

    /// True once the connection closed (TCP: a RST or both FINs; QUIC: a CONNECTION_CLOSE).
    pub fn closed(&self) -> bool {
        match self {
            Slot::Opening(_) => false,
            Slot::Open(c) => c.closed(),
            Slot::Quic(c) => c.closed(),
        }
    }

    /// Whether the flow table reported the connection before it left (live use); `None` for a
    /// SYN-only entry.
    pub fn reported(&self) -> Option<&Reported> {
        match self {
            Slot::Opening(_) => None,
            Slot::Open(c) => Some(&c.reported),
            Slot::Quic(c) => Some(&c.reported),
        }
    }

    /// Records how the flow table reported the connection (live use).
    pub fn set_reported(&mut self, reported: Reported) {
        match self {
            Slot::Opening(_) => {}
            Slot::Open(c) => c.reported = reported,
            Slot::Quic(c) => c.reported = reported,
        }
    }

    /// True when more packets cannot change the verdict (never for a SYN-only entry).
    pub fn verdict_is_final(&self, await_keys: bool, now: Timestamp) -> bool {
        match self {
            Slot::Opening(_) => false,
            Slot::Open(c) => c.verdict_is_final(await_keys, now),
            Slot::Quic(c) => c.verdict_is_final(await_keys, now),
        }
    }

    /// Everything seen of the connection so far (`None` for a SYN-only entry).
    pub fn facts(&self, end: FlowEnd) -> Option<FlowFacts> {
        match self {
            Slot::Opening(_) => None,
            Slot::Open(c) => Some(c.facts(end)),
            Slot::Quic(c) => Some(c.facts(end)),
        }
    }

    /// Time of the last frame seen.
    pub fn last_time(&self) -> Timestamp {
        match self {
            Slot::Opening(o) => o.time,
            Slot::Open(c) => c.last_time,
            Slot::Quic(c) => c.last_time,
        }
    }

    /// Where the flow table's activity index holds the connection.
    pub fn indexed(&self) -> &Indexed {
        match self {
            Slot::Opening(o) => &o.indexed,
            Slot::Open(c) => &c.indexed,
            Slot::Quic(c) => &c.indexed,
        }
    }

    /// Where the flow table's activity index holds the connection, to change.
    pub fn indexed_mut(&mut self) -> &mut Indexed {
        match self {
            Slot::Opening(o) => &mut o.indexed,
            Slot::Open(c) => &mut c.indexed,
            Slot::Quic(c) => &mut c.indexed,
        }
    }

    /// What the memory budget charged the connection with.
    pub fn charge_mut(&mut self) -> &mut Charge {
        match self {
            Slot::Opening(o) => &mut o.charge,
            Slot::Open(c) => &mut c.charge,
            Slot::Quic(c) => &mut c.charge,
        }
    }

    /// What the entry holds now, for the memory budget.
    pub fn footprint(&self, now: Timestamp) -> Footprint {
        match self {
            Slot::Opening(_) => Opening::footprint(),
            Slot::Open(c) => c.footprint(now),
            Slot::Quic(c) => c.footprint(),
        }
    }

    /// The ClientHello's random while the connection waits for its key-log secrets (live use).
    pub fn awaits_secrets(&self) -> Option<&[u8]> {
        match self {
            Slot::Opening(_) => None,
            Slot::Open(c) => c.awaits_secrets(),
            Slot::Quic(c) => c.awaits_secrets(),
        }
    }

    /// The full TCP connection, when it has one.
    #[cfg(test)]
    pub fn connection(&self) -> Option<&TcpConnection> {
        match self {
            Slot::Opening(_) | Slot::Quic(_) => None,
            Slot::Open(c) => Some(c),
        }
    }

    /// The full TCP connection, when it has one, to change.
    pub fn connection_mut(&mut self) -> Option<&mut TcpConnection> {
        match self {
            Slot::Opening(_) | Slot::Quic(_) => None,
            Slot::Open(c) => Some(c),
        }
    }

    /// True when a SYN from `side` with sequence number `seq` opens a new connection on the same
    /// ports (see [`TcpConnection::is_reused_by`]).
    pub fn is_reused_by(&self, side: Side, seq: u32) -> bool {
        match self {
            Slot::Opening(o) => o.is_reused_by(side, seq),
            Slot::Open(c) => c.is_reused_by(side, seq),
            Slot::Quic(_) => false,
        }
    }

    /// The full TCP connection, made from the SYN first when the entry is an [`Opening`]
    /// (`None` for a QUIC connection).
    pub fn open(&mut self, key: FlowKey, context: &mut Context<'_>) -> Option<&mut TcpConnection> {
        if let Slot::Opening(opening) = self {
            *self = Slot::Open(Box::new(opening.open(key, context)));
        }
        self.connection_mut()
    }

    /// The connection, made from the SYN when the entry is an [`Opening`].
    pub fn into_connection(self, key: FlowKey, context: &mut Context<'_>) -> Connection {
        match self {
            Slot::Opening(opening) => Connection::Tcp(Box::new(opening.open(key, context))),
            Slot::Open(c) => Connection::Tcp(c),
            Slot::Quic(c) => Connection::Quic(c),
        }
    }
}
