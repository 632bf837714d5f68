//! IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), bounded.
//!
//! Fragments are grouped by (source, destination, identification, protocol). A datagram is
//! released once its pieces cover every byte from 0 to the end the last fragment declares;
//! overlapping bytes keep the first copy. At most [`MAX_DATAGRAMS`] datagrams of at most 65 535
//! bytes wait at once, and a datagram older than [`FRAGMENT_TIMEOUT_NS`] of capture time is
//! dropped; every datagram given up is counted. Waiting datagrams are also kept in order of
//! their first fragment's time, so expiry and making room cost O(log n) per fragment.

use crate::capture::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Most datagrams under reassembly at once.
pub const MAX_DATAGRAMS: usize = 256;
/// Largest reassembled datagram payload.
const MAX_DATAGRAM_BYTES: usize = 65_535;
/// Capture time after which an incomplete datagram is dropped (Linux's ipfrag_time is 30 s).
pub const FRAGMENT_TIMEOUT_NS: i64 = 30 * 1_000_000_000;

/// One fragment, borrowed from its frame.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Identification field.
    pub id: u32,
    /// Protocol of the reassembled payload.
    pub protocol: u8,
    /// Byte offset of this piece.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// The piece.
    pub data: &'a [u8],
}

/// A datagram put back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL of the first fragment.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: u8,
    /// The payload.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

#[derive(Debug)]
struct Pending {
    pieces: Vec<(usize, Vec<u8>)>,
    end: Option<usize>,
    bytes: usize,
    ttl: u8,
    first_seen: Timestamp,
}

/// Reassembles IP fragments.
#[derive(Debug, Default)]
pub struct Defragmenter {
    pending: HashMap<Key, Pending>,
    /// The keys of `pending` by (first fragment's time, key): oldest first.
    by_age: BTreeSet<(Timestamp, Key)>,
    /// Datagrams completed.
    pub completed: u64,
    /// Datagrams given up (timeout, cap, inconsistent lengths).
    pub abandoned: u64,
    /// Fragment bytes held in `pending`.
    held: usize,
}

impl Defragmenter {
    /// An empty defragmenter.
    pub fn new() -> Defragmenter {
        Defragmenter::default()
    }

    /// Adds a fragment; returns the datagram when this piece completes it.
    pub fn add(&mut self, frag: &Fragment<'_>, now: Timestamp) -> Option<Datagram> {
        self.expire(now);
        let key = Key {
            src: frag.src,
            dst: frag.dst,
            id: frag.id,
            protocol: frag.protocol,
        };
        let piece_end = frag.offset.saturating_add(frag.data.len());
        if piece_end > MAX_DATAGRAM_BYTES {
            self.drop_datagram(&key);
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_DATAGRAMS {
            // Make room: give up the oldest datagram (ties: the smallest key).
            if let Some(&(_, oldest)) = self.by_age.first() {
                self.drop_datagram(&oldest);
            }
        }
        let by_age = &mut self.by_age;
        let pending = self.pending.entry(key).or_insert_with(|| {
            by_age.insert((now, key));
            Pending {
                pieces: Vec::new(),
                end: None,
                bytes: 0,
                ttl: frag.ttl,
                first_seen: now,
            }
        });
        if !frag.more {
            match pending.end {
                Some(end) if end != piece_end => {
                    self.drop_datagram(&key);
                    return None;
                }
                _ => pending.end = Some(piece_end),
            }
        }
        if frag.offset == 0 {
            pending.ttl = frag.ttl;
        }
        if pending.bytes + frag.data.len() > 2 * MAX_DATAGRAM_BYTES {
            self.drop_datagram(&key);
            return None;
        }
        pending.bytes += frag.data.len();
        self.held += frag.data.len();
        pending.pieces.push((frag.offset, frag.data.to_vec()));
        let end = pending.end?;
        let payload = assemble(&mut pending.pieces, end)?;
        let ttl = pending.ttl;
        let first_seen = pending.first_seen;
        self.held -= pending.bytes;
        self.pending.remove(&key);
        self.by_age.remove(&(first_seen, key));
        self.completed += 1;
        Some(Datagram {
            src: frag.src,
            dst: frag.dst,
            ttl,
            protocol: frag.protocol,
            payload,
        })
    }

    /// Bytes held for incomplete datagrams, with an estimate of each one's bookkeeping. O(1).
    pub fn held_bytes(&self) -> usize {
        const PER_DATAGRAM: usize = 160;
        self.held + self.pending.len() * PER_DATAGRAM
    }

    /// Drops datagrams that waited too long (oldest first, until one that did not).
    fn expire(&mut self, now: Timestamp) {
        while let Some(&(first_seen, key)) = self.by_age.first() {
            if now.nanos_since(first_seen) <= FRAGMENT_TIMEOUT_NS {
                break;
            }
            self.drop_datagram(&key);
        }
    }

    fn drop_datagram(&mut self, key: &Key) {
        if let Some(pending) = self.pending.remove(key) {
            self.held -= pending.bytes;
            self.by_age.remove(&(pending.first_seen, *key));
            self.abandoned += 1;
        }
    }

    /// Datagrams still incomplete (counted as abandoned at the end of a capture).
    pub fn finish(&mut self) {
        self.abandoned += self.pending.len() as u64;
        self.held = 0;
        self.pending.clear();
        self.by_age.clear();
    }
}

/// Joins the pieces when they cover `0..end` (first copy of a byte wins).
fn assemble(pieces: &mut [(usize, Vec<u8>)], end: usize) -> Option<Vec<u8>> {
    pieces.sort_by_key(|(offset, _)| *offset);
    let mut covered = 0;
    for (offset, data) in pieces.iter() {
        if *offset > covered {
            return None;
        }
        covered = covered.max(offset + data.len());
    }
    if covered < end {
        return None;
    }
    let mut out = vec![0u8; end];
    let mut filled = 0;
    for (offset, data) in pieces.iter() {
        let start = filled.max(*offset);
        let stop = (offset + data.len()).min(end);
        if start < stop {
            out[start..stop].copy_from_slice(&data[start - offset..stop - offset]);
            filled = stop;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            ttl: 63,
            id: 7,
            protocol: 6,
            offset,
            more,
            data,
        }
    }

    #[test]
    fn reassembles_out_of_order_with_overlap() {
        let mut d = Defragmenter::new();
        assert_eq!(d.add(&frag(16, false, b"qrst"), Timestamp(0)), None);
        assert_eq!(d.add(&frag(8, true, b"ijklmnop"), Timestamp(1)), None);
        let got = d.add(&frag(0, true, b"abcdefghIJ"), Timestamp(2)).unwrap();
        assert_eq!(got.payload, b"abcdefghIJklmnopqrst");
        assert_eq!(got.ttl, 63);
        assert_eq!(d.completed, 1);
    }

    #[test]
    fn incomplete_datagrams_expire_and_are_counted() {
        let mut d = Defragmenter::new();
        d.add(&frag(0, true, b"abcdefgh"), Timestamp(0));
        d.add(&frag(0, true, b"x"), Timestamp(FRAGMENT_TIMEOUT_NS + 1));
        assert_eq!(d.abandoned, 1);
        d.finish();
        assert_eq!(d.abandoned, 2);
    }

    #[test]
    fn oversized_and_inconsistent_datagrams_are_dropped() {
        let mut d = Defragmenter::new();
        assert_eq!(d.add(&frag(65_530, false, &[0; 10]), Timestamp(0)), None);
        d.add(&frag(8, false, b"12345678"), Timestamp(0));
        assert_eq!(d.add(&frag(0, false, b"12"), Timestamp(0)), None);
        assert_eq!(d.abandoned, 1);
    }

    #[test]
    fn pending_datagrams_are_capped() {
        let mut d = Defragmenter::new();
        for id in 0..(MAX_DATAGRAMS as u32 + 10) {
            let mut f = frag(0, true, b"abcdefgh");
            f.id = id;
            d.add(&f, Timestamp(i64::from(id)));
        }
        assert_eq!(d.pending.len(), MAX_DATAGRAMS);
        assert_eq!(d.by_age.len(), MAX_DATAGRAMS);
        assert_eq!(d.abandoned, 10);
    }

    #[test]
    fn a_full_defragmenter_gives_up_the_oldest_datagram() {
        let mut d = Defragmenter::new();
        // Datagram i starts at time 1000 - i: the last one added is the oldest.
        for id in 0..MAX_DATAGRAMS as u32 {
            let mut f = frag(0, true, b"abcdefgh");
            f.id = id;
            d.add(&f, Timestamp(1000 - i64::from(id)));
        }
        let mut f = frag(0, true, b"abcdefgh");
        f.id = 1000;
        d.add(&f, Timestamp(2000));
        assert_eq!(d.abandoned, 1);
        assert!(!d.pending.keys().any(|k| k.id == MAX_DATAGRAMS as u32 - 1));
        // The datagram that started at time 1000 - 254 completes: its bytes were kept.
        let mut last = frag(8, false, b"ijkl");
        last.id = 254;
        let got = d.add(&last, Timestamp(2001)).unwrap();
        assert_eq!(got.payload, b"abcdefghijkl");
        assert_eq!(d.pending.len(), MAX_DATAGRAMS - 1);
        assert_eq!(d.by_age.len(), MAX_DATAGRAMS - 1);
        // Expiry goes oldest first and stops at the first datagram young enough (the fragment
        // itself belongs to datagram 7, still waiting).
        d.add(
            &frag(0, true, b"x"),
            Timestamp(1000 - 250 + FRAGMENT_TIMEOUT_NS + 1),
        );
        // Gone: ids 253, 252, 251, 250 (times 747..=750); id 254 completed, 255 evicted.
        assert_eq!(d.abandoned, 5);
        assert_eq!(d.pending.len(), MAX_DATAGRAMS - 5);
        assert_eq!(d.by_age.len(), d.pending.len());
        assert!(d.pending.keys().all(|k| k.id < 250 || k.id == 1000));
    }

    #[test]
    fn same_time_datagrams_leave_smallest_key_first() {
        let mut d = Defragmenter::new();
        for id in (0..MAX_DATAGRAMS as u32).rev() {
            let mut f = frag(0, true, b"abcdefgh");
            f.id = id;
            d.add(&f, Timestamp(5));
        }
        let mut f = frag(0, true, b"abcdefgh");
        f.id = 9999;
        d.add(&f, Timestamp(5));
        assert_eq!(d.abandoned, 1);
        assert!(!d.pending.keys().any(|k| k.id == 0));
        assert!(d.pending.keys().any(|k| k.id == 9999));
    }
}
