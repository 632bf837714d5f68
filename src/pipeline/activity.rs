//! The flow table's flows in order of last activity: the sweep and a full table meet only the
//! flows they close, never the whole table.

use super::slot::{FlowTable, Slot};
use super::tcp::{Indexed, Progress};
use crate::capture::Timestamp;
use crate::flow::FlowKey;
use std::collections::BTreeMap;

/// One of the orders of [`ActivityIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    /// Open flows that got this far (closed ones too, until they leave).
    Open(Progress),
    /// Closed flows (a RST, or both FINs).
    Closed,
}

/// The flow table's flows in order of last activity, so that neither the sweep nor a full
/// table scans the table.
///
/// Every flow is in one of `quiet`, `partial` and `answered` (by its [`Progress`]), and once
/// closed also in `closed`, keyed by (last activity, flow index). Keys are updated lazily: a
/// packet moves a flow's last activity but not its entry, so an entry's time is never later
/// than the flow's ([`Indexed`] remembers it). An entry met at the front with a stale time is
/// put back under the flow's current time; each packet causes at most one such move, so the
/// cost per packet is amortised O(log n).
#[derive(Debug, Default)]
pub(super) struct ActivityIndex {
    pub quiet: BTreeMap<(Timestamp, u64), FlowKey>,
    partial: BTreeMap<(Timestamp, u64), FlowKey>,
    answered: BTreeMap<(Timestamp, u64), FlowKey>,
    closed: BTreeMap<(Timestamp, u64), FlowKey>,
}

impl ActivityIndex {
    pub(super) fn order(&mut self, which: Which) -> &mut BTreeMap<(Timestamp, u64), FlowKey> {
        match which {
            Which::Open(Progress::Quiet) => &mut self.quiet,
            Which::Open(Progress::Partial) => &mut self.partial,
            Which::Open(Progress::Answered) => &mut self.answered,
            Which::Closed => &mut self.closed,
        }
    }

    /// After a packet of the connection in `slot`: a flow that got further moves to that order, a flow
    /// that closed joins `closed` (each once per flow).
    pub(super) fn update(&mut self, key: FlowKey, slot: &mut Slot) {
        let index = slot.index();
        let last = slot.last_time();
        let (progress, closed) = (slot.progress(), slot.closed());
        let indexed = slot.indexed_mut();
        if progress > indexed.progress {
            self.order(Which::Open(indexed.progress))
                .remove(&(indexed.time, index));
            indexed.progress = progress;
            indexed.time = last;
            self.order(Which::Open(progress)).insert((last, index), key);
        }
        if indexed.closed.is_none() && closed {
            indexed.closed = Some(last);
            self.closed.insert((last, index), key);
        }
        // A capture whose clock went backwards: entries must never be later than the flow.
        if last < indexed.time {
            let order = self.order(Which::Open(indexed.progress));
            order.remove(&(indexed.time, index));
            order.insert((last, index), key);
            indexed.time = last;
        }
        if let Some(closed) = indexed.closed.filter(|t| last < *t) {
            self.closed.remove(&(closed, index));
            self.closed.insert((last, index), key);
            indexed.closed = Some(last);
        }
    }

    /// Removes a flow's entries.
    pub(super) fn remove(&mut self, slot: &Slot) {
        let Indexed {
            time,
            progress,
            closed,
        } = *slot.indexed();
        let index = slot.index();
        self.order(Which::Open(progress)).remove(&(time, index));
        if let Some(time) = closed {
            self.closed.remove(&(time, index));
        }
    }

    /// The least recently active flow of `which` that has been silent longer than `idle_ns`
    /// at `now` (any: `None`), its entry removed (its other entries stay until [`ActivityIndex::remove`]).
    /// Stale entries met on the way are put back under their flow's current time.
    pub(super) fn pop_older(
        &mut self,
        which: Which,
        now: Timestamp,
        idle_ns: Option<i64>,
        flows: &mut FlowTable,
    ) -> Option<FlowKey> {
        loop {
            let order = self.order(which);
            let (&(time, index), &key) = order.first_key_value()?;
            if idle_ns.is_some_and(|idle| now.nanos_since(time) <= idle) {
                return None;
            }
            order.remove(&(time, index));
            let Some(slot) = flows.get_mut(&key).filter(|s| s.index() == index) else {
                // Not expected: entries leave with their flow.
                continue;
            };
            let last = slot.last_time();
            if last == time {
                return Some(key);
            }
            // Active since it was indexed: back in under its current time.
            match which {
                Which::Closed => slot.indexed_mut().closed = Some(last),
                Which::Open(_) => slot.indexed_mut().time = last,
            }
            order.insert((last, index), key);
        }
    }
}
