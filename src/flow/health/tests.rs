//! Tests of the TCP health classification: segment lists in capture order, the counts and frames
//! Wireshark would report for them.

use super::*;
use crate::decode::TcpFlags;

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const PSH_ACK: u8 = TcpFlags::PSH | TcpFlags::ACK;

/// A segment template: client 10.0.0.1:40000 → server 10.0.0.2:443.
fn seg(seq: u32, ack: u32, flags: u8, len: u32, window: u16) -> Segment<'static> {
    Segment {
        src_ip: "10.0.0.1".parse().unwrap(),
        dst_ip: "10.0.0.2".parse().unwrap(),
        src_port: 40000,
        dst_port: 443,
        seq,
        ack,
        flags: TcpFlags(flags),
        window,
        ttl: 64,
        ip_id: None,
        payload: &[],
        payload_len: len,
        window_scale: None,
    }
}

/// Runs `(side, segment, ms)` through the analysis; returns the anomalies per frame.
fn run(segments: &[(Side, Segment<'static>, i64)]) -> (TcpHealth, Vec<Vec<Anomaly>>) {
    let mut h = TcpHealth::new();
    let found = segments
        .iter()
        .enumerate()
        .map(|(i, (side, s, ms))| {
            h.segment(*side, s, i as u64 + 1, Timestamp(ms * 1_000_000), true)
                .iter()
                .collect()
        })
        .collect();
    (h, found)
}

/// The three-way handshake: client ISN 100, server ISN 500.
fn open() -> Vec<(Side, Segment<'static>, i64)> {
    vec![
        (Side::A, seg(100, 0, SYN, 0, 64240), 0),
        (Side::B, seg(500, 101, SYN | ACK, 0, 65160), 1),
        (Side::A, seg(101, 501, ACK, 0, 502), 2),
    ]
}

#[test]
fn clean_handshake_has_no_anomalies() {
    let mut s = open();
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 3));
    s.push((Side::B, seg(501, 301, PSH_ACK, 1000, 509), 4));
    let (h, found) = run(&s);
    assert!(found.iter().all(Vec::is_empty), "{found:?}");
    assert_eq!(h.handshake_ack.map(|(f, _)| f), Some(3));
}

#[test]
fn syn_retransmission_is_counted_on_its_own() {
    let mut s = vec![(Side::A, seg(100, 0, SYN, 0, 64240), 0)];
    s.extend(open());
    let (h, found) = run(&s);
    assert_eq!(found[1], vec![Anomaly::SynRetransmission]);
    assert_eq!(h.syn_frames, vec![1, 2]);
    assert_eq!(h.flow[0].get(Anomaly::Retransmission).count, 0);
}

#[test]
fn retransmission_and_spurious_retransmission() {
    let mut s = open();
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 3));
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 250)); // RTO: never acked
    s.push((Side::B, seg(501, 301, ACK, 0, 509), 251));
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 500)); // already acked
    let (h, found) = run(&s);
    assert_eq!(found[4], vec![Anomaly::Retransmission]);
    assert_eq!(found[6], vec![Anomaly::SpuriousRetransmission]);
    assert_eq!(h.resent(Side::A).len(), 2);
}

#[test]
fn acked_data_within_the_reordering_time_is_spurious_not_out_of_order() {
    // suricata-verify tls-fingerprint-alert (frames 6–15): the server's first segment arrives
    // late, once out of order; a second copy comes after the client acknowledged everything,
    // still within the first RTT of the last new data. tshark 4.0.17 calls it spurious: that
    // check comes before the out-of-order one.
    let mut s = vec![
        (Side::A, seg(100, 0, SYN, 0, 64240), 0),
        (Side::B, seg(500, 101, SYN | ACK, 0, 65160), 30),
        (Side::A, seg(101, 501, ACK, 0, 502), 31),
    ];
    s.push((Side::B, seg(1501, 101, PSH_ACK, 1000, 509), 40)); // after a hole
    s.push((Side::B, seg(501, 101, ACK, 1000, 509), 42)); // fills it: out of order
    s.push((Side::A, seg(101, 2501, ACK, 0, 502), 43)); // all acknowledged
    s.push((Side::B, seg(501, 101, ACK, 1000, 509), 60)); // 20 ms after the new data
    let (h, found) = run(&s);
    assert_eq!(found[4], vec![Anomaly::OutOfOrder]);
    assert_eq!(found[6], vec![Anomaly::SpuriousRetransmission]);
    assert_eq!(h.flow[1].get(Anomaly::OutOfOrder).frames, vec![5]);
}

#[test]
fn gap_then_fill_is_reordering_and_dup_acks_then_fast_retransmission() {
    let mut s = open();
    // Server sends 501..1501 (lost before capture), then 1501..2501.
    s.push((Side::B, seg(1501, 101, PSH_ACK, 1000, 509), 10));
    s.push((Side::B, seg(501, 101, PSH_ACK, 1000, 509), 11)); // fills the hole 1 ms later
    let (h, found) = run(&s);
    assert_eq!(found[3], vec![Anomaly::PreviousSegmentNotCaptured]);
    assert_eq!(found[4], vec![Anomaly::OutOfOrder]);
    assert_eq!(h.holes(Side::B), (1, 0));

    let mut s = open();
    s.push((Side::B, seg(1501, 101, PSH_ACK, 1000, 509), 10));
    s.push((Side::A, seg(101, 501, ACK, 0, 502), 11));
    s.push((Side::A, seg(101, 501, ACK, 0, 502), 12));
    s.push((Side::A, seg(101, 501, ACK, 0, 502), 13));
    s.push((Side::B, seg(501, 101, PSH_ACK, 1000, 509), 20));
    let (h, found) = run(&s);
    // Each ACK repeats the handshake's ACK 501 with the same window: three duplicates.
    for (i, anomalies) in found.iter().enumerate().take(7).skip(4) {
        assert_eq!(anomalies, &[Anomaly::DuplicateAck], "frame {}", i + 1);
    }
    assert_eq!(found[7], vec![Anomaly::FastRetransmission]);
    assert_eq!(h.flow[0].get(Anomaly::DuplicateAck).frames, vec![5, 6, 7]);
}

#[test]
fn acked_unseen_keep_alive_and_zero_window() {
    let mut s = open();
    s.push((Side::A, seg(101, 2001, ACK, 0, 502), 5)); // acks server data never seen
    s.push((Side::A, seg(100, 501, ACK, 1, 502), 6000)); // keep-alive
    s.push((Side::B, seg(501, 101, ACK, 0, 0), 6001)); // zero window
    let (_, found) = run(&s);
    assert_eq!(found[3], vec![Anomaly::AckedUnseen]);
    assert_eq!(found[4], vec![Anomaly::KeepAlive]);
    assert!(found[5].contains(&Anomaly::ZeroWindow));
}

#[test]
fn acked_unseen_is_flagged_once_per_missing_bytes() {
    let mut s = open();
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 3)); // frame 4
    s.push((Side::A, seg(301, 1501, ACK, 0, 502), 4)); // 5: acks 1000 server bytes unseen
    s.push((Side::A, seg(301, 1501, PSH_ACK, 50, 502), 5)); // 6: same ACK: not again
    s.push((Side::B, seg(1501, 351, PSH_ACK, 100, 509), 6)); // 7: after the hole
    s.push((Side::A, seg(351, 1601, ACK, 0, 502), 7)); // 8: beyond the bound: flagged
    s.push((Side::B, seg(1601, 351, PSH_ACK, 100, 509), 8)); // 9: starts at the bound
    s.push((Side::A, seg(351, 1701, ACK, 0, 502), 9)); // 10: all seen: not flagged
    let (h, found) = run(&s);
    assert_eq!(h.flow[0].get(Anomaly::AckedUnseen).frames, vec![5, 8]);
    assert_eq!(found[6], vec![Anomaly::PreviousSegmentNotCaptured]);

    // The server stays silent, its ACK unchanged: one flag; a new server ACK re-arms it.
    let mut s = open();
    s.push((Side::A, seg(101, 1501, ACK, 0, 502), 3)); // 4: flagged
    s.push((Side::A, seg(101, 2501, ACK, 0, 502), 4)); // 5: more unseen, nothing new seen
    s.push((Side::B, seg(501, 101, ACK, 0, 510), 5)); // 6: the server's ACK is unchanged
    s.push((Side::A, seg(101, 3501, ACK, 0, 502), 6)); // 7: still quiet
    s.push((Side::B, seg(501, 102, ACK, 0, 510), 7)); // 8: the server's ACK changes
    s.push((Side::A, seg(101, 4501, ACK, 0, 502), 8)); // 9: flagged again
    let (h, _) = run(&s);
    assert_eq!(h.flow[0].get(Anomaly::AckedUnseen).frames, vec![4, 9]);
}

#[test]
fn reset_ttl_against_the_usual_ttl() {
    let mut s = open();
    let mut rst = seg(501, 0, TcpFlags::RST, 0, 0);
    rst.ttl = 57;
    s.push((Side::B, rst, 5));
    let (h, _) = run(&s);
    assert_eq!(h.resets[0].ttl, 57);
    assert_eq!(h.usual_ttl_without_resets(Side::B), Some(64));
}

/// SYN cookies or a SYN proxy answering twice: two SYN/ACKs with ISNs far apart. The client
/// acknowledges the second; the server's data starts there. Nothing is a hole, an ACK of unseen
/// bytes or a retransmission, and the server's ISN is the one the client used.
#[test]
fn two_syn_acks_client_uses_the_second() {
    let far = 3_000_000_000u32;
    let s = vec![
        (Side::A, seg(100, 0, SYN, 0, 64240), 0),
        (Side::B, seg(500, 101, SYN | ACK, 0, 65160), 1),
        (Side::B, seg(far, 101, SYN | ACK, 0, 65160), 2),
        (Side::A, seg(101, far + 1, ACK, 0, 502), 3),
        (Side::A, seg(101, far + 1, PSH_ACK, 200, 502), 4),
        (Side::B, seg(far + 1, 301, PSH_ACK, 1000, 509), 5),
        (Side::A, seg(301, far + 1001, ACK, 0, 502), 6),
    ];
    let (h, found) = run(&s);
    assert!(found.iter().all(Vec::is_empty), "{found:?}");
    assert_eq!(h.isn(Side::B), Some(SeqNumber(far)));
    let isns = &h.syn_ack_isns;
    assert_eq!(isns.side, Some(Side::B));
    let answers: Vec<(u64, u32)> = isns.answers.iter().map(|a| (a.frame, a.isn.0)).collect();
    assert_eq!(answers, [(2, 500), (3, far)]);
    assert_eq!(isns.used, Some(3));
}

/// A stale SYN/ACK (another ISN) after the client acknowledged the first: recorded, not
/// followed; a copy of it again is a SYN/ACK retransmission.
#[test]
fn stale_syn_ack_after_the_handshake_ack() {
    let mut s = open();
    s.push((Side::B, seg(9_000, 77, SYN | ACK, 0, 65160), 3));
    s.push((Side::A, seg(101, 501, PSH_ACK, 200, 502), 4));
    s.push((Side::B, seg(501, 301, PSH_ACK, 1000, 509), 5));
    s.push((Side::B, seg(9_000, 77, SYN | ACK, 0, 65160), 6));
    let (h, found) = run(&s);
    assert!(found[..6].iter().all(Vec::is_empty), "{found:?}");
    assert_eq!(found[6], vec![Anomaly::SynRetransmission]);
    assert_eq!(h.isn(Side::B), Some(SeqNumber(500)));
    assert_eq!(h.syn_ack_isns.used, Some(2));
    let frames: Vec<u64> = h.syn_ack_isns.answers.iter().map(|a| a.frame).collect();
    assert_eq!(frames, [2, 4]);
}
