//! A flow table entry: a connection that has sent nothing but its first SYN, kept in a compact
//! form, or a connection with its full state machine.
//!
//! Most connections of a SYN flood or a port scan never send a second packet. Such a
//! connection is an [`Opening`]: the fields of its SYN that the TCP analysis reads, about a
//! hundred bytes instead of a [`TcpConnection`]'s few kilobytes. The connection's second
//! packet — or its leaving the table — opens it: a `TcpConnection` is made and the SYN replayed
//! into it, so that everything after is as if it had been a `TcpConnection` from the start.

use super::budget::{Charge, Footprint};
use super::tcp::{Context, Indexed, Progress, TcpConnection};
use crate::capture::{Frame, LinkType, Timestamp};
use crate::decode::{Segment, TcpFlags};
use crate::flow::{FlowKey, Side};
use std::mem::size_of;

/// Bytes an [`Opening`] costs beyond its own size: its share of the hash table (entries are
/// key and pointer, the table at most 7/8 full and doubling as it grows), its activity-index
/// and output entries (B-tree nodes), and the allocator's rounding. Measured: peak RSS grew by
/// 433 bytes per SYN-only connection held (the first 50,000 and 150,000 SYNs of
/// `bench/flood.sh`'s SYN flood, `--memory 4G`), the entry itself being 120 then (128 since it
/// holds the flow's index besides its `tcp.stream`).
const OPENING_TABLE_BYTES: usize = 320;

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
}

impl Slot {
    /// The flow's index within the capture, over every transport: its key in the flow
    /// table's orders and the output.
    pub fn index(&self) -> u64 {
        match self {
            Slot::Opening(o) => o.index,
            Slot::Open(c) => c.index,
        }
    }

    /// Time of the last frame seen.
    pub fn last_time(&self) -> Timestamp {
        match self {
            Slot::Opening(o) => o.time,
            Slot::Open(c) => c.last_time,
        }
    }

    /// Where the flow table's activity index holds the connection.
    pub fn indexed(&self) -> &Indexed {
        match self {
            Slot::Opening(o) => &o.indexed,
            Slot::Open(c) => &c.indexed,
        }
    }

    /// Where the flow table's activity index holds the connection, to change.
    pub fn indexed_mut(&mut self) -> &mut Indexed {
        match self {
            Slot::Opening(o) => &mut o.indexed,
            Slot::Open(c) => &mut c.indexed,
        }
    }

    /// What the memory budget charged the connection with.
    pub fn charge_mut(&mut self) -> &mut Charge {
        match self {
            Slot::Opening(o) => &mut o.charge,
            Slot::Open(c) => &mut c.charge,
        }
    }

    /// What the entry holds now, for the memory budget.
    pub fn footprint(&self, now: Timestamp) -> Footprint {
        match self {
            Slot::Opening(_) => Opening::footprint(),
            Slot::Open(c) => c.footprint(now),
        }
    }

    /// The full connection, when it has one.
    pub fn connection(&self) -> Option<&TcpConnection> {
        match self {
            Slot::Opening(_) => None,
            Slot::Open(c) => Some(c),
        }
    }

    /// The full connection, when it has one, to change.
    pub fn connection_mut(&mut self) -> Option<&mut TcpConnection> {
        match self {
            Slot::Opening(_) => None,
            Slot::Open(c) => Some(c),
        }
    }

    /// True when a SYN from `side` with sequence number `seq` opens a new connection on the same
    /// ports (see [`TcpConnection::is_reused_by`]).
    pub fn is_reused_by(&self, side: Side, seq: u32) -> bool {
        match self {
            Slot::Opening(o) => o.is_reused_by(side, seq),
            Slot::Open(c) => c.is_reused_by(side, seq),
        }
    }

    /// The full connection, made from the SYN first when the entry is an [`Opening`] (always
    /// `Some`).
    pub fn open(&mut self, key: FlowKey, context: &mut Context<'_>) -> Option<&mut TcpConnection> {
        if let Slot::Opening(opening) = self {
            *self = Slot::Open(Box::new(opening.open(key, context)));
        }
        self.connection_mut()
    }

    /// The full connection, made from the SYN when the entry is an [`Opening`].
    pub fn into_connection(self, key: FlowKey, context: &mut Context<'_>) -> Box<TcpConnection> {
        match self {
            Slot::Opening(opening) => Box::new(opening.open(key, context)),
            Slot::Open(c) => c,
        }
    }
}
