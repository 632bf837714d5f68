//! How long a handshake took, as the captured frames show it: SYN → ACK (and the capture point
//! it implies), the hello times, and the rule for a ServerHello that came late with no loss in
//! sight: a slow server, or a loss before the capture point, told apart by the server's ACK of
//! the ClientHello and its IPv4 identifications.
//!
//! Takes [`FlowFacts`] and the [`NetworkView`] built so far; emits times in ms, a
//! [`CapturePoint`], an [`IpIdRun`] and a [`SlowServer`] or the loss sentence. A skipped IP ID
//! counts only when the server's other packets count up one by one.

use super::{CapturePoint, NetworkView, ms, time_of};
use crate::analysis::{FlowFacts, WindowPacket};
use crate::capture::Timestamp;
use crate::flow::{SeqNumber, TcpHealth};

/// How the server's IPv4 identification runs from its ACK of the ClientHello to its
/// ServerHello. Stacks that number a connection's packets one by one (Linux does, per socket)
/// show in it whether the server sent packets in between that the capture never saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpIdRun {
    /// The ServerHello's identification follows the ACK's: the server sent nothing in between.
    Consecutive {
        /// Identification of the ACK.
        ack: u16,
        /// Identification of the ServerHello's first segment.
        server_hello: u16,
    },
    /// Identifications were skipped while the server's other packets count up one by one:
    /// `missing` packets it sent in between never reached the capture point.
    Skipped {
        /// Identification of the ACK.
        ack: u16,
        /// Identification of the ServerHello's first segment.
        server_hello: u16,
        /// Packets missing in between.
        missing: u16,
    },
    /// Nothing to tell from them (IPv6, zero or random identifications).
    Unknown,
}

/// Most packets a skipped IP ID run may stand for: a lost server flight, resent.
const MAX_SKIPPED_IDS: u16 = 16;

/// A ServerHello that came long after the ClientHello although the server acknowledged the
/// ClientHello promptly and nothing was resent: the server was slow to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowServer {
    /// Last ClientHello segment → ServerHello, ms.
    pub wait_ms: f64,
    /// The server's first ACK of the whole ClientHello.
    pub ack_frame: u64,
    /// Last ClientHello segment → that ACK, ms.
    pub ack_ms: f64,
    /// First frame of the ServerHello.
    pub server_hello_frame: u64,
    /// What the server's IP identifications show about packets in between.
    pub ip_ids: IpIdRun,
}

impl SlowServer {
    /// "server slow to answer (300.955 ms): it acknowledged the ClientHello in frame 5 after
    /// 0.019 ms but sent its ServerHello only in frame 6, …".
    pub fn describe(&self) -> String {
        let base = format!(
            "server slow to answer ({:.3} ms): it acknowledged the ClientHello in frame {} after {:.3} ms but sent its ServerHello only in frame {}",
            self.wait_ms, self.ack_frame, self.ack_ms, self.server_hello_frame
        );
        match self.ip_ids {
            IpIdRun::Consecutive { ack, server_hello } => format!(
                "{base}, and sent nothing in between (IP IDs {ack:#06x}, {server_hello:#06x} in a row)"
            ),
            // A Skipped run is loss, never a slow server; described alike for completeness.
            IpIdRun::Skipped { .. } | IpIdRun::Unknown => format!(
                "{base}; a ServerHello lost before the capture point and resent would look the same (no IP IDs tell them apart)"
            ),
        }
    }
}

/// SYN → ACK time and the capture point it implies, when the whole three-way handshake was
/// captured.
pub(super) fn connect_time(health: &TcpHealth) -> (Option<f64>, CapturePoint) {
    let (Some((_, syn)), Some((_, syn_ack)), Some((_, ack))) =
        (health.syn, health.syn_ack, health.handshake_ack)
    else {
        return (None, CapturePoint::Unknown);
    };
    // One leg must clearly dominate the round trip (1.5 times the other); on loopback or a
    // capture between the two ends, neither does and the point stays unknown.
    let (to_server, to_client) = (
        i128::from(syn_ack.nanos_since(syn)),
        i128::from(ack.nanos_since(syn_ack)),
    );
    let point = if 2 * to_server > 3 * to_client {
        CapturePoint::Client
    } else if 2 * to_client > 3 * to_server {
        CapturePoint::Server
    } else {
        CapturePoint::Unknown
    };
    (Some(ms(syn, ack)), point)
}

/// The hello timings of a flow, as far as the captured frames show them.
pub(super) struct HelloTimes {
    /// First → last ClientHello segment, ms.
    pub(super) client_hello_span_ms: Option<f64>,
    /// Last ClientHello segment → ServerHello, ms.
    pub(super) client_hello_to_server_hello_ms: Option<f64>,
    /// First packet → end of the TLS handshake, ms.
    pub(super) handshake_ms: Option<f64>,
}

impl HelloTimes {
    /// Times the hellos carried by `ch_frames` and `sh_frames`, and the whole handshake.
    pub(super) fn of(facts: &FlowFacts, ch_frames: &[u64], sh_frames: &[u64]) -> HelloTimes {
        let ch_first = ch_frames.first().and_then(|f| time_of(facts, *f));
        let ch_last = ch_frames.last().and_then(|f| time_of(facts, *f));
        let sh_first = sh_frames.first().and_then(|f| time_of(facts, *f));
        let between = |a: Option<Timestamp>, b: Option<Timestamp>| Some(ms(a?, b?));
        let handshake_ms = match (facts.handshake_end, facts.frame_times.first()) {
            (Some(end), Some((_, start))) => time_of(facts, end).map(|t| ms(*start, t)),
            _ => None,
        };
        HelloTimes {
            client_hello_span_ms: between(ch_first, ch_last),
            client_hello_to_server_hello_ms: between(ch_last, sh_first),
            handshake_ms,
        }
    }
}

/// What a ServerHello that came late, with no loss in sight, says.
pub(super) enum LateServerHello {
    /// A segment was lost before the capture point: the sentence.
    Lost(String),
    /// The server was slow to answer.
    Slow(SlowServer),
}

/// A ServerHello that comes long after the ClientHello (≥ 150 ms and more than 20 round trips)
/// when no loss was seen. A server that acknowledged the ClientHello before its ServerHello had
/// received it: the wait is the server's, unless its IP IDs show packets sent in between that the
/// capture never saw (a ServerHello lost before the capture point and resent after a
/// retransmission timeout). Without such an ACK, the ClientHello or the ServerHello was most
/// likely lost before the capture point.
pub(super) fn late_server_hello(facts: &FlowFacts, view: &NetworkView) -> Option<LateServerHello> {
    let (Some(wait), Some(rtt)) = (view.client_hello_to_server_hello_ms, view.connect_ms) else {
        return None;
    };
    if wait < 150.0 || wait <= 20.0 * rtt.max(0.05) {
        return None;
    }
    let came = format!(
        "the ServerHello came {wait:.3} ms after the ClientHello on a connection with a {rtt:.3} ms round trip"
    );
    let Some((ack, server_hello)) = client_hello_ack(facts) else {
        return Some(LateServerHello::Lost(format!(
            "{came}: a segment was likely lost before the capture point and resent after a retransmission timeout"
        )));
    };
    let ip_ids = ip_id_run(facts, ack, server_hello);
    if let IpIdRun::Skipped {
        ack: from,
        server_hello: to,
        missing,
    } = ip_ids
    {
        let packets = if missing == 1 {
            "1 server packet was".to_string()
        } else {
            format!("{missing} server packets were")
        };
        return Some(LateServerHello::Lost(format!(
            "{came}, and the server's IP ID skipped from {from:#06x} (frame {}) to {to:#06x} (frame {}): {packets} lost before the capture point and resent after a retransmission timeout",
            ack.frame, server_hello.frame
        )));
    }
    let ch_last = facts.client_hello()?.1.last().copied()?;
    let ack_ms = ms(time_of(facts, ch_last)?, time_of(facts, ack.frame)?);
    Some(LateServerHello::Slow(SlowServer {
        wait_ms: wait,
        ack_frame: ack.frame,
        ack_ms,
        server_hello_frame: server_hello.frame,
        ip_ids,
    }))
}

/// The server's first packet that acknowledges the whole ClientHello, when it comes before the
/// ServerHello, and the ServerHello's first packet.
fn client_hello_ack(facts: &FlowFacts) -> Option<(WindowPacket, WindowPacket)> {
    let client = facts.client_side;
    let ch_frames = &facts.client_hello()?.1;
    let sh_first = *facts.server_hello()?.1.first()?;
    let end: SeqNumber = facts
        .health
        .first_segments(client)
        .iter()
        .filter(|s| ch_frames.contains(&s.frame))
        .map(|s| s.seq.plus(s.len))
        .max_by(|a, b| a.diff(*b).cmp(&0))?;
    let server = client.other();
    let packets = &facts.window_packets;
    let ack = packets.iter().find(|p| {
        p.side == server && p.frame < sh_first && p.ack.is_some_and(|a| a.diff(end) >= 0)
    })?;
    let server_hello = packets.iter().find(|p| p.frame == sh_first)?;
    Some((*ack, *server_hello))
}

/// How the server's IP identification runs from `ack` to `server_hello`. A skip counts only when
/// the server's other packets of the handshake window count up one by one (at least one such
/// step, none otherwise): then the skipped values are packets the capture never saw.
fn ip_id_run(facts: &FlowFacts, ack: WindowPacket, server_hello: WindowPacket) -> IpIdRun {
    let (Some(from), Some(to)) = (ack.ip_id, server_hello.ip_id) else {
        return IpIdRun::Unknown;
    };
    let step = to.wrapping_sub(from);
    if step == 1 {
        return IpIdRun::Consecutive {
            ack: from,
            server_hello: to,
        };
    }
    if !(2..=MAX_SKIPPED_IDS + 1).contains(&step) {
        return IpIdRun::Unknown;
    }
    // The server's other steps, from one captured packet to its next (the SYN/ACK often
    // carries 0 and is left out).
    let ids: Vec<(u64, u16)> = facts
        .window_packets
        .iter()
        .filter(|p| p.side == ack.side && p.frame >= ack.frame)
        .filter_map(|p| Some((p.frame, p.ip_id?)))
        .collect();
    let steps: Vec<u16> = ids
        .windows(2)
        .filter_map(|w| match w {
            [(frame, a), (_, b)] if *frame != ack.frame => Some(b.wrapping_sub(*a)),
            _ => None,
        })
        .collect();
    if steps.is_empty() || steps.iter().any(|s| *s != 1) {
        return IpIdRun::Unknown;
    }
    IpIdRun::Skipped {
        ack: from,
        server_hello: to,
        missing: step - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Side;

    /// Server packets (side B) with these frames and IP IDs.
    fn facts(ids: &[(u64, Option<u16>)]) -> FlowFacts {
        FlowFacts {
            client_side: Side::A,
            window_packets: ids
                .iter()
                .map(|&(frame, ip_id)| WindowPacket {
                    frame,
                    side: Side::B,
                    ack: None,
                    ip_id,
                })
                .collect(),
            ..FlowFacts::default()
        }
    }

    fn run(ids: &[(u64, Option<u16>)]) -> IpIdRun {
        let f = facts(ids);
        let (ack, sh) = (f.window_packets[0], f.window_packets[1]);
        ip_id_run(&f, ack, sh)
    }

    #[test]
    fn ip_ids_in_a_row_prove_nothing_was_sent_between() {
        assert_eq!(
            run(&[(5, Some(0xffff)), (6, Some(0))]),
            IpIdRun::Consecutive {
                ack: 0xffff,
                server_hello: 0
            }
        );
    }

    #[test]
    fn a_skip_counts_only_when_the_other_packets_count_up_by_one() {
        assert_eq!(
            run(&[(5, Some(10)), (6, Some(13)), (9, Some(14)), (12, Some(15))]),
            IpIdRun::Skipped {
                ack: 10,
                server_hello: 13,
                missing: 2
            }
        );
        // Random (or global) identifications: no skip can be read from them.
        assert_eq!(
            run(&[(5, Some(10)), (6, Some(13)), (9, Some(900))]),
            IpIdRun::Unknown
        );
        // No other step to compare with.
        assert_eq!(run(&[(5, Some(10)), (6, Some(12))]), IpIdRun::Unknown);
        // Zero identifications, IPv6.
        assert_eq!(run(&[(5, Some(0)), (6, Some(0))]), IpIdRun::Unknown);
        assert_eq!(run(&[(5, None), (6, None)]), IpIdRun::Unknown);
    }

    #[test]
    fn a_slow_server_without_ip_ids_says_what_it_cannot_rule_out() {
        let slow = SlowServer {
            wait_ms: 300.5,
            ack_frame: 5,
            ack_ms: 0.02,
            server_hello_frame: 6,
            ip_ids: IpIdRun::Unknown,
        };
        assert_eq!(
            slow.describe(),
            "server slow to answer (300.500 ms): it acknowledged the ClientHello in frame 5 after 0.020 ms but sent its ServerHello only in frame 6; a ServerHello lost before the capture point and resent would look the same (no IP IDs tell them apart)"
        );
    }
}
