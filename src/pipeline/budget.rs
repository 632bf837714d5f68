//! One memory budget for the flow table's state (`--memory`, default [`DEFAULT_MEMORY_BUDGET`]).
//!
//! Takes, after every packet, what the packet's connection now holds (a [`Footprint`]: an
//! estimate of its fixed state and table entries, plus the bytes its reassemblers and TLS
//! parsers buffer — out-of-order segments, the delivered bytes kept to compare retransmitted
//! copies with, the hello or certificate being reassembled, protected records) and the bytes
//! the IP defragmenter holds. Each connection remembers what it was charged ([`Charge`]), so
//! the total moves by the difference: nothing ever walks the flows.
//!
//! While the total is over the budget, the flow table sheds, in this order:
//! 0. closed flows (RST, or both FINs) that linger to absorb stray retransmissions are
//!    finished at once, the least recently active first: their verdict is final, and nothing
//!    the report uses is lost;
//! 1. the buffers of flows past their handshake (the server answered, and more bytes cannot
//!    change the verdict): alpnscope stops reading them, oldest first
//!    ([`MemoryBudget::next_past_handshake`]);
//! 2. the out-of-order data of stalled flows, the flow stalled longest first
//!    ([`MemoryBudget::next_stalled`]): the holes it waits behind become gaps that alpnscope
//!    declared itself, and the data after them is read;
//! 3. flows without a complete handshake (no TLS record, then a ClientHello the server has
//!    not answered), least recently active first: closed early, reported as evicted for memory
//!    (the flow table's activity index picks them).
//!
//! What was shed is counted in a [`MemoryUse`] per capture and noted in each affected flow.
//! Flows whose server answered keep their fixed state; when they alone fill the budget, new
//! connections are left out (counted in `refused_packets` and warned about), so the total stays
//! within the budget plus one connection.

use super::slot::FlowTable;
use crate::capture::Timestamp;
use crate::flow::FlowKey;
use crate::report::model::MemoryUse;
use std::collections::BTreeMap;

/// Default budget for flow state: 64 MiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 64 * 1024 * 1024;

/// What a connection holds now (see [`super::tcp::TcpConnection::footprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Footprint {
    /// Estimated bytes in all.
    pub total: usize,
    /// Out-of-order bytes waiting behind holes.
    pub out_of_order: usize,
    /// The connection is past its handshake and still buffers bytes.
    pub buffered_past_handshake: bool,
}

/// What the budget charged a connection with, and where its shedding orders hold it. Kept in
/// the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Charge {
    bytes: usize,
    /// Its key in the past-handshake order, when in it.
    past: Option<Timestamp>,
    /// Its key in the stalled order (when it began to wait behind a hole), when in it.
    stalled: Option<Timestamp>,
}

/// The budget: the bytes charged, and the flows that can give some back, in shedding order.
#[derive(Debug)]
pub(super) struct MemoryBudget {
    limit: usize,
    /// Bytes charged to flows.
    flows: usize,
    /// Bytes held outside the flows (the defragmenter).
    other: usize,
    /// Flows past their handshake that buffer bytes, by (when they got there, flow index).
    past_handshake: BTreeMap<(Timestamp, u64), FlowKey>,
    /// Flows with out-of-order data, by (when they began to wait, flow index).
    stalled: BTreeMap<(Timestamp, u64), FlowKey>,
    /// What was shed in the current capture (`budget` is filled in by [`MemoryBudget::memory_use`]).
    pub tally: MemoryUse,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            flows: 0,
            other: 0,
            past_handshake: BTreeMap::new(),
            stalled: BTreeMap::new(),
            tally: MemoryUse::default(),
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.flows + self.other
    }

    /// True while more is held than the budget allows.
    pub fn over(&self) -> bool {
        self.used() > self.limit
    }

    /// The budget and what was shed in the current capture, for its report.
    pub fn memory_use(&self) -> MemoryUse {
        MemoryUse {
            budget: self.limit as u64,
            ..self.tally
        }
    }

    /// Sets the budget (tests).
    #[cfg(test)]
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// A new capture: its tally starts at zero.
    pub fn begin_capture(&mut self) {
        self.tally = MemoryUse::default();
    }

    fn note_peak(&mut self) {
        self.tally.peak = self.tally.peak.max(self.used() as u64);
    }

    /// The bytes held outside the flows.
    pub fn set_other(&mut self, bytes: usize) {
        self.other = bytes;
        self.note_peak();
    }

    /// Charges the connection `index` (key `key`) with what it holds now, at capture time
    /// `now`, and files it in the shedding orders it belongs to.
    pub fn charge(
        &mut self,
        key: FlowKey,
        index: u64,
        charge: &mut Charge,
        footprint: Footprint,
        now: Timestamp,
    ) {
        self.flows = self.flows - charge.bytes.min(self.flows) + footprint.total;
        charge.bytes = footprint.total;
        file(
            &mut self.past_handshake,
            &mut charge.past,
            footprint.buffered_past_handshake,
            key,
            index,
            now,
        );
        file(
            &mut self.stalled,
            &mut charge.stalled,
            footprint.out_of_order > 0,
            key,
            index,
            now,
        );
        self.note_peak();
    }

    /// The connection `index` leaves the table: its charge is given back.
    pub fn release(&mut self, index: u64, charge: &mut Charge) {
        self.flows -= charge.bytes.min(self.flows);
        charge.bytes = 0;
        unfile(&mut self.past_handshake, &mut charge.past, index);
        unfile(&mut self.stalled, &mut charge.stalled, index);
    }

    /// The flow past its handshake that got there first (shedding step 1), taken out of the
    /// order; `flows` finds it.
    pub fn next_past_handshake(&mut self, flows: &mut FlowTable) -> Option<FlowKey> {
        pop(&mut self.past_handshake, flows, |c| &mut c.past)
    }

    /// The flow stalled longest (shedding step 2), taken out of the order.
    pub fn next_stalled(&mut self, flows: &mut FlowTable) -> Option<FlowKey> {
        pop(&mut self.stalled, flows, |c| &mut c.stalled)
    }
}

/// Puts a connection in `order` (since `now`) or takes it out, as `wanted` says.
fn file(
    order: &mut BTreeMap<(Timestamp, u64), FlowKey>,
    at: &mut Option<Timestamp>,
    wanted: bool,
    key: FlowKey,
    index: u64,
    now: Timestamp,
) {
    if !wanted {
        unfile(order, at, index);
    } else if at.is_none() {
        order.insert((now, index), key);
        *at = Some(now);
    }
}

/// Takes a connection out of `order`, if it is in it.
fn unfile(order: &mut BTreeMap<(Timestamp, u64), FlowKey>, at: &mut Option<Timestamp>, index: u64) {
    if let Some(since) = at.take() {
        order.remove(&(since, index));
    }
}

/// Takes the first entry of `order` whose connection is still in `flows`, and clears the
/// connection's note of it (`at`).
fn pop(
    order: &mut BTreeMap<(Timestamp, u64), FlowKey>,
    flows: &mut FlowTable,
    at: impl Fn(&mut Charge) -> &mut Option<Timestamp>,
) -> Option<FlowKey> {
    while let Some(((_, index), key)) = order.pop_first() {
        if let Some(slot) = flows.get_mut(&key).filter(|s| s.index() == index) {
            *at(slot.charge_mut()) = None;
            return Some(key);
        }
        // Not expected: entries leave with their flow.
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> FlowKey {
        let endpoint = |port| crate::flow::Endpoint {
            ip: std::net::IpAddr::from([10, 0, 0, 1]),
            port,
        };
        FlowKey::of(crate::flow::Transport::Tcp, endpoint(1), endpoint(2)).0
    }

    fn footprint(total: usize, out_of_order: usize, past: bool) -> Footprint {
        Footprint {
            total,
            out_of_order,
            buffered_past_handshake: past,
        }
    }

    #[test]
    fn charges_move_by_the_difference_and_are_given_back() {
        let mut budget = MemoryBudget::new(1000);
        let (mut a, mut b) = (Charge::default(), Charge::default());
        let key = test_key();
        budget.charge(key, 0, &mut a, footprint(300, 0, false), Timestamp(1));
        budget.charge(key, 1, &mut b, footprint(500, 0, false), Timestamp(2));
        assert_eq!(budget.used(), 800);
        budget.charge(key, 0, &mut a, footprint(600, 0, false), Timestamp(3));
        assert_eq!((budget.used(), budget.over()), (1100, true));
        budget.set_other(50);
        assert_eq!(budget.used(), 1150);
        budget.release(0, &mut a);
        assert_eq!((budget.used(), budget.over()), (550, false));
        assert_eq!(budget.tally.peak, 1150);
    }

    #[test]
    fn orders_hold_a_flow_once_from_when_it_qualified() {
        let mut budget = MemoryBudget::new(1000);
        let mut a = Charge::default();
        let key = test_key();
        budget.charge(key, 7, &mut a, footprint(300, 100, true), Timestamp(5));
        budget.charge(key, 7, &mut a, footprint(400, 200, true), Timestamp(9));
        assert_eq!(a.stalled, Some(Timestamp(5)));
        assert_eq!(a.past, Some(Timestamp(5)));
        assert_eq!(budget.stalled.len(), 1);
        budget.charge(key, 7, &mut a, footprint(200, 0, false), Timestamp(10));
        assert!(budget.stalled.is_empty() && budget.past_handshake.is_empty());
        assert_eq!((a.stalled, a.past), (None, None));
    }
}
