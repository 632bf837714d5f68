//! Packets captured in two of the merged files: captures of both ends of a path (or of two
//! points on it) see every packet twice, and the flow table would take the second copy for a
//! retransmission — "loss" that never happened. The second copy is recognised and not
//! analysed; its frame keeps its number.
//!
//! Two frames are copies of one packet when they come from different files, within
//! [`WINDOW_NS`] of each other, and their IP packets are byte for byte the same but for what
//! a router changes on the way: the IPv4 TTL and header checksum, the IPv6 hop limit. Each
//! analysed frame stands for at most one copy per other file, so a retransmission seen at both
//! points (two packets, four frames) is still two packets.

use crate::capture::{Frame, Timestamp};
use crate::decode::link;
use etherparse::LaxNetSlice;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

/// How far apart two copies of one packet may be: the latency between the capture points plus
/// the capturing hosts' clock difference.
pub const WINDOW_NS: i64 = 2_000_000_000;

/// Analysed frames remembered at most (the oldest are forgotten first): a flood cannot make the
/// memory grow.
pub const MAX_REMEMBERED: usize = 65_536;

/// An analysed frame that a copy from another file may repeat.
#[derive(Debug, Clone, Copy)]
struct Seen {
    file: usize,
    at: Timestamp,
    /// Files (by index, up to 256) whose copy it already stands for.
    copied_by: [u64; 4],
}

impl Seen {
    fn copied_by(&self, file: usize) -> bool {
        self.copied_by
            .get(file / 64)
            .is_some_and(|bits| bits & (1 << (file % 64)) != 0)
    }

    fn mark(&mut self, file: usize) {
        if let Some(bits) = self.copied_by.get_mut(file / 64) {
            *bits |= 1 << (file % 64);
        }
    }
}

/// The recent analysed frames, by a keyed hash of their IP packet.
#[derive(Debug, Default)]
pub struct Duplicates {
    keys: RandomState,
    seen: HashMap<u64, Vec<Seen>>,
    order: VecDeque<(Timestamp, u64)>,
}

impl Duplicates {
    /// True when `frame` of file `file` is a copy of a packet already analysed from another
    /// file; otherwise it is remembered as analysed.
    pub fn is_copy(&mut self, file: usize, frame: &Frame<'_>) -> bool {
        let Some(hash) = self.packet_hash(frame) else {
            return false;
        };
        self.forget_before(Timestamp(frame.timestamp.0.saturating_sub(WINDOW_NS)));
        let at = frame.timestamp;
        let entries = self.seen.entry(hash).or_default();
        if let Some(original) = entries.iter_mut().find(|s| {
            s.file != file
                && !s.copied_by(file)
                && s.at.0.abs_diff(at.0) <= WINDOW_NS.unsigned_abs()
        }) {
            original.mark(file);
            return true;
        }
        entries.push(Seen {
            file,
            at,
            copied_by: [0; 4],
        });
        self.order.push_back((at, hash));
        if self.order.len() > MAX_REMEMBERED
            && let Some((_, oldest)) = self.order.pop_front()
        {
            self.remove_oldest(oldest);
        }
        false
    }

    /// Forgets the frames remembered before `cutoff` (frames arrive in merged order, so the
    /// oldest are at the front).
    fn forget_before(&mut self, cutoff: Timestamp) {
        while let Some(&(at, hash)) = self.order.front() {
            if at >= cutoff {
                break;
            }
            self.order.pop_front();
            self.remove_oldest(hash);
        }
    }

    fn remove_oldest(&mut self, hash: u64) {
        if let Some(entries) = self.seen.get_mut(&hash) {
            if !entries.is_empty() {
                entries.remove(0);
            }
            if entries.is_empty() {
                self.seen.remove(&hash);
            }
        }
    }

    /// The keyed hash of the frame's IP packet without the fields routers change; `None` for a
    /// frame without IP.
    fn packet_hash(&self, frame: &Frame<'_>) -> Option<u64> {
        let packet = link::slice(frame.link_type, frame.data).ok()??;
        let data = frame.data;
        let (header, skip): (&[u8], &[usize]) = match &packet.net {
            // TTL (8) and header checksum (10, 11).
            Some(LaxNetSlice::Ipv4(v4)) => (v4.header().slice(), &[8, 10, 11]),
            // Hop limit (7).
            Some(LaxNetSlice::Ipv6(v6)) => (v6.header().slice(), &[7]),
            _ => return None,
        };
        let at = (header.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
        let ip = data.get(at..)?;
        let mut hasher = self.keys.build_hasher();
        for (i, byte) in ip.iter().enumerate().take(header.len()) {
            hasher.write_u8(if skip.contains(&i) { 0 } else { *byte });
        }
        hasher.write(ip.get(header.len()..).unwrap_or(&[]));
        Some(hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;

    /// A raw IPv4 TCP packet with `ttl` (checksum left as is: only its position matters).
    fn packet(ttl: u8, seq: u8) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, ttl, 6, 0xab, 0xcd, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(&[0x01, 0xbb, 0x30, 0x39, 0, 0, 0, seq]);
        p.extend_from_slice(&[0; 12]);
        p
    }

    fn frame(data: &[u8], at: i64) -> Frame<'_> {
        Frame {
            number: 1,
            timestamp: Timestamp(at),
            link_type: LinkType::RAW,
            data,
            original_len: data.len() as u32,
        }
    }

    #[test]
    fn a_copy_from_another_file_after_a_router_is_one_packet() {
        let mut d = Duplicates::default();
        let (near, far) = (packet(64, 1), packet(63, 1));
        assert!(!d.is_copy(0, &frame(&near, 0)));
        assert!(d.is_copy(1, &frame(&far, 1_000)));
    }

    #[test]
    fn the_same_file_or_another_packet_is_no_copy() {
        let mut d = Duplicates::default();
        let p = packet(64, 1);
        assert!(!d.is_copy(0, &frame(&p, 0)));
        // A retransmission in the same file.
        assert!(!d.is_copy(0, &frame(&p, 10)));
        // Another segment in the other file.
        assert!(!d.is_copy(1, &frame(&packet(64, 2), 20)));
        // Too late to be a copy.
        assert!(!d.is_copy(1, &frame(&p, 10 + WINDOW_NS + 1)));
    }

    /// Timestamps at the ends of their range (a hostile capture's) compare without overflow.
    #[test]
    fn extreme_timestamps_are_no_copies() {
        let mut d = Duplicates::default();
        let p = packet(64, 1);
        assert!(!d.is_copy(0, &frame(&p, i64::MIN + 1)));
        assert!(!d.is_copy(1, &frame(&p, i64::MAX)));
        assert!(d.is_copy(0, &frame(&p, i64::MAX - 1)));
    }

    #[test]
    fn a_retransmission_seen_at_both_points_stays_two_packets() {
        let mut d = Duplicates::default();
        let p = packet(64, 1);
        // Original and retransmission at the client, both copies at the server.
        assert!(!d.is_copy(0, &frame(&p, 0)));
        assert!(d.is_copy(1, &frame(&p, 5)));
        assert!(!d.is_copy(0, &frame(&p, 100)));
        assert!(d.is_copy(1, &frame(&p, 105)));
    }
}
