//! DNS HTTPS and SVCB answers across the capture: the flow table hands this log every UDP
//! datagram to or from port 53 ([`crate::dns::PORT`]) and every TCP segment from port 53; it
//! keeps the records for the report's `dns_https` list and tells a flow the answer its name got
//! before it started.
//!
//! DNS over TCP (RFC 1035 §4.2.2: each message behind a two-byte length) is read from the
//! server's stream in order only, from its SYN/ACK: a small reader per stream, apart from the
//! flow table's reassembly (which stops reading a stream once it is not TLS); retransmitted
//! bytes are skipped, and a stream with a gap or a segment the snaplen cut is given up, as is
//! one that began before the capture (its data counted in `decode.dns_malformed`). The TCP connection is still a flow of the table.
//!
//! Bounded: at most [`MAX_DNS_HTTPS_RECORDS`] records over the whole run (the rest are counted
//! per capture in `decode.dns_https_omitted`), each with capped lists ([`crate::dns::svcb`]);
//! at most [`MAX_DNS_TCP_STREAMS`] TCP streams at once, each holding at most one message
//! (64 KiB and its prefix): 1 MiB in all, outside the flow-state budget.
//! Frame numbers restart in every capture, so the name index only holds the current capture's
//! records.

use crate::capture::{Frame, Timestamp};
use crate::decode::{Segment, UdpDatagram};
use crate::dns::{self, DnsError};
use crate::flow::Endpoint;
use crate::report::build;
use crate::report::model::{
    DnsAdvertised, DnsHttpsReport, DnsMatch, FlowReport, ServiceRecordType,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// Most HTTPS and SVCB records kept over a run.
pub const MAX_DNS_HTTPS_RECORDS: usize = 1024;

/// Most DNS-over-TCP streams read at once; later ones are not read (counted as malformed).
pub const MAX_DNS_TCP_STREAMS: usize = 16;
/// Most bytes a DNS-over-TCP stream holds: one message of the largest size and its prefix.
const MAX_TCP_BUFFER: usize = 2 + 65_535;

/// The port whose HTTPS records are owned by the name itself (RFC 9460 §9.1); other ports'
/// by `_PORT._https.NAME`.
const HTTPS_DEFAULT_PORT: u16 = 443;

/// The records seen, and an index of the current capture's by name.
#[derive(Debug, Default)]
pub struct DnsLog {
    records: Vec<DnsHttpsReport>,
    /// Folded owner and question names → indices into `records` (current capture only).
    by_name: HashMap<String, Vec<usize>>,
    /// Addresses of the records' `ipv4hint` and `ipv6hint` → indices into `records` (current
    /// capture only).
    by_address: HashMap<IpAddr, Vec<usize>>,
    /// Datagrams of the current capture read.
    pub responses: u64,
    /// Datagrams of the current capture that did not parse as DNS.
    pub malformed: u64,
    /// Records of the current capture past [`MAX_DNS_HTTPS_RECORDS`].
    pub omitted: u64,
    /// DNS-over-TCP streams from the server (its endpoint, the client's).
    tcp: HashMap<(Endpoint, Endpoint), TcpStream>,
}

/// The server's side of one DNS-over-TCP connection, read in order.
#[derive(Debug, Default)]
struct TcpStream {
    /// Sequence number of the next byte (None until the first segment).
    next: Option<u32>,
    /// Bytes of the message being read, its length prefix first.
    buf: Vec<u8>,
}

impl DnsLog {
    /// Starts a new capture: its frame numbers start again, so earlier answers match no flow.
    pub fn begin_capture(&mut self) {
        self.by_name.clear();
        self.by_address.clear();
        self.tcp.clear();
        self.responses = 0;
        self.malformed = 0;
        self.omitted = 0;
    }

    /// True for a datagram this log reads (to or from port 53).
    pub fn wants(udp: &UdpDatagram<'_>) -> bool {
        udp.src_port == dns::PORT || udp.dst_port == dns::PORT
    }

    /// One DNS datagram of capture `capture`.
    pub fn datagram(&mut self, capture: usize, frame: &Frame<'_>, udp: &UdpDatagram<'_>) {
        self.responses += 1;
        self.message(capture, frame.number, frame.timestamp, udp.payload);
    }

    /// True for a TCP segment this log reads (from port 53: the answers).
    pub fn wants_segment(seg: &Segment<'_>) -> bool {
        seg.src_port == dns::PORT
    }

    /// One TCP segment from port 53 in frame `frame` (captured at `time`) of capture `capture`:
    /// its bytes go on the stream, and each message the stream completes is read.
    pub fn segment(&mut self, capture: usize, frame: u64, time: Timestamp, seg: &Segment<'_>) {
        let key = (
            Endpoint {
                ip: seg.src_ip,
                port: seg.src_port,
            },
            Endpoint {
                ip: seg.dst_ip,
                port: seg.dst_port,
            },
        );
        if seg.flags.rst() {
            self.tcp.remove(&key);
            return;
        }
        let data_seq = if seg.flags.syn() {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if seg.payload_len == 0 && !seg.flags.syn() {
            if seg.flags.fin() {
                self.tcp.remove(&key);
            }
            return;
        }
        // Only a stream whose SYN/ACK was seen is read: in the middle of a stream, nothing
        // tells where a message starts.
        let stream = match self.tcp.remove(&key) {
            Some(stream) => Some(stream),
            None if seg.flags.syn() && self.tcp.len() < MAX_DNS_TCP_STREAMS => {
                Some(TcpStream::default())
            }
            None => None,
        };
        let Some(mut stream) = stream else {
            if seg.payload_len > 0 {
                self.malformed += 1;
            }
            return;
        };
        let next = *stream.next.get_or_insert(data_seq);
        // Serial arithmetic (RFC 1982): how far this segment starts past the next byte.
        let ahead = data_seq.wrapping_sub(next) as i32;
        if ahead > 0 || seg.payload.len() < seg.payload_len as usize {
            // A gap, or bytes the snaplen cut: the stream cannot be followed.
            self.malformed += 1;
            return;
        }
        let skip = ahead.unsigned_abs() as usize;
        let fresh = seg.payload.get(skip..).unwrap_or(&[]);
        if stream.buf.len() + fresh.len() > MAX_TCP_BUFFER {
            self.malformed += 1;
            return;
        }
        stream.buf.extend_from_slice(fresh);
        stream.next = Some(next.wrapping_add(fresh.len() as u32));
        while let [a, b, rest @ ..] = stream.buf.as_slice() {
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            let Some(msg) = rest.get(..len) else {
                break;
            };
            self.responses += 1;
            let msg = msg.to_vec();
            self.message(capture, frame, time, &msg);
            stream.buf.drain(..2 + len);
        }
        if !seg.flags.fin() {
            self.tcp.insert(key, stream);
        }
    }

    /// One DNS message (without a TCP length prefix) in frame `frame`.
    pub fn message(&mut self, capture: usize, frame: u64, time: Timestamp, msg: &[u8]) {
        let answers = match dns::parse_response(msg) {
            Ok(answers) => answers,
            Err(DnsError::NotResponse) => return,
            Err(_) => {
                self.malformed += 1;
                return;
            }
        };
        for record in &answers.records {
            if self.records.len() >= MAX_DNS_HTTPS_RECORDS {
                self.omitted += 1;
                continue;
            }
            let index = self.records.len();
            self.records
                .push(build::dns_https_report(capture, frame, time, record));
            let owner = record.owner.folded();
            let query = record.query.folded();
            if query != owner {
                self.by_name.entry(query).or_default().push(index);
            }
            self.by_name.entry(owner).or_default().push(index);
            if let Some(report) = self.records.get(index) {
                for hint in report.ipv4hint.iter().chain(&report.ipv6hint) {
                    if let Ok(address) = hint.parse::<IpAddr>() {
                        self.by_address.entry(address).or_default().push(index);
                    }
                }
            }
        }
    }

    /// Sets `flow.dns_advertised`: of the HTTPS ServiceMode records for the flow's SNI (or
    /// `_PORT._https.SNI` off port 443) answered before its first frame, the latest answer's
    /// record of lowest priority.
    pub fn advertise(&self, flow: &mut FlowReport) {
        let Some(sni) = &flow.sni else {
            self.advertise_by_address(flow);
            return;
        };
        if self.by_name.is_empty() {
            // No record to match (most captures): spare making the name.
            return;
        }
        let name = if flow.server.port == HTTPS_DEFAULT_PORT {
            sni.to_ascii_lowercase()
        } else {
            format!("_{}._https.{}", flow.server.port, sni.to_ascii_lowercase())
        };
        let Some(indices) = self.by_name.get(&name) else {
            return;
        };
        let best = self.latest_service_record(indices, flow, |_| true);
        flow.dns_advertised = best.map(|r| {
            Box::new(DnsAdvertised {
                name: name.clone(),
                alpn: r.alpn.clone(),
                no_default_alpn: r.no_default_alpn,
                frame: r.frame,
                matched_by: DnsMatch::Name,
            })
        });
    }

    /// For a flow without SNI: of the HTTPS ServiceMode records answered before its first
    /// frame whose address hints hold its server's address (and whose `port`, 443 without one,
    /// is its server's port), the latest answer's record of lowest priority. Only without SNI:
    /// one address serves many names (a CDN), and a flow that names its server is tied by name.
    fn advertise_by_address(&self, flow: &mut FlowReport) {
        if self.by_address.is_empty() {
            // No record to match (most captures): spare hashing the address.
            return;
        }
        let Some(indices) = self.by_address.get(&flow.server.ip) else {
            return;
        };
        let best = self.latest_service_record(indices, flow, |r| {
            r.port.unwrap_or(HTTPS_DEFAULT_PORT) == flow.server.port
        });
        flow.dns_advertised = best.map(|r| {
            Box::new(DnsAdvertised {
                name: r.name.clone(),
                alpn: r.alpn.clone(),
                no_default_alpn: r.no_default_alpn,
                frame: r.frame,
                matched_by: DnsMatch::AddressHint,
            })
        });
    }

    /// Of the records at `indices` that `also` accepts, the HTTPS ServiceMode record answered
    /// before `flow`'s first frame in its capture: the latest answer's, of lowest priority.
    fn latest_service_record(
        &self,
        indices: &[usize],
        flow: &FlowReport,
        also: impl Fn(&DnsHttpsReport) -> bool,
    ) -> Option<&DnsHttpsReport> {
        indices
            .iter()
            .filter_map(|&i| self.records.get(i))
            .filter(|r| {
                r.rtype == ServiceRecordType::Https
                    && r.priority > 0
                    && r.capture == flow.capture
                    && r.frame < flow.first_frame
                    && also(r)
            })
            .max_by_key(|r| (r.frame, std::cmp::Reverse(r.priority)))
    }

    /// The records of the run, in the order answered.
    pub fn take_records(&mut self) -> Vec<DnsHttpsReport> {
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use std::net::Ipv4Addr;

    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53));
    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    /// A segment from the DNS server to the client.
    fn seg(seq: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
        Segment {
            src_ip: SERVER,
            dst_ip: CLIENT,
            src_port: 53,
            dst_port: 40000,
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 0,
            ttl: 64,
            ip_id: None,
            payload,
            payload_len: payload.len() as u32,
            window_scale: None,
        }
    }

    /// A response for `labels` under `test` with one HTTPS record: priority 1, target `.`,
    /// alpn `h2`; with its TCP length prefix.
    fn framed(labels: &str) -> Vec<u8> {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        for label in labels.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.extend_from_slice(b"\x04test\x00\x00\x41\x00\x01");
        let rdata = b"\x00\x01\x00\x00\x01\x00\x03\x02h2";
        m.extend_from_slice(&[0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 60, 0, rdata.len() as u8]);
        m.extend_from_slice(rdata);
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend(m);
        framed
    }

    fn names(log: &DnsLog) -> Vec<(u64, String)> {
        log.records
            .iter()
            .map(|r| (r.frame, r.name.clone()))
            .collect()
    }

    const SYN_ACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u8 = TcpFlags::ACK;

    #[test]
    fn tcp_messages_split_retransmitted_and_back_to_back() {
        let mut log = DnsLog::default();
        let (a, b) = (framed("a"), framed("b"));
        let mut both = a.clone();
        both.extend_from_slice(&b);
        log.segment(0, 1, Timestamp(0), &seg(999, SYN_ACK, &[]));
        // The first message in two segments, the first of them sent twice.
        log.segment(0, 2, Timestamp(0), &seg(1000, ACK, &both[..5]));
        log.segment(0, 3, Timestamp(0), &seg(1000, ACK, &both[..5]));
        log.segment(0, 4, Timestamp(0), &seg(1005, ACK, &both[5..a.len() + 3]));
        // Overlapping the bytes already read, then the rest of the second message.
        log.segment(
            0,
            5,
            Timestamp(0),
            &seg(1000 + a.len() as u32, ACK, &both[a.len()..]),
        );
        assert_eq!(
            names(&log),
            [(4, "a.test".to_string()), (5, "b.test".to_string())]
        );
        assert_eq!((log.responses, log.malformed), (2, 0));
    }

    #[test]
    fn tcp_gap_midstream_and_cut_segments_are_not_read() {
        let mut log = DnsLog::default();
        let a = framed("a");
        // A gap: the stream is given up, and not picked up again in its middle.
        log.segment(0, 1, Timestamp(0), &seg(999, SYN_ACK, &[]));
        log.segment(0, 2, Timestamp(0), &seg(1003, ACK, &a[3..]));
        log.segment(0, 3, Timestamp(0), &seg(1000 + a.len() as u32, ACK, &a));
        // A segment the snaplen cut.
        let mut cut = seg(4999, SYN_ACK, &[]);
        cut.dst_port = 40001;
        log.segment(0, 4, Timestamp(0), &cut);
        let mut short = seg(5000, ACK, &a[..4]);
        short.dst_port = 40001;
        short.payload_len = a.len() as u32;
        log.segment(0, 5, Timestamp(0), &short);
        assert!(log.records.is_empty());
        assert_eq!((log.responses, log.malformed), (0, 3));
        assert!(log.tcp.is_empty());
    }

    #[test]
    fn tcp_streams_are_capped() {
        let mut log = DnsLog::default();
        for port in 0..(MAX_DNS_TCP_STREAMS as u16 + 2) {
            let mut s = seg(0, SYN_ACK, &[]);
            s.dst_port = 40000 + port;
            log.segment(0, 1, Timestamp(0), &s);
        }
        assert_eq!(log.tcp.len(), MAX_DNS_TCP_STREAMS);
    }

    #[test]
    fn records_are_capped_and_counted() {
        let mut log = DnsLog::default();
        let a = framed("a");
        for frame in 0..(MAX_DNS_HTTPS_RECORDS as u64 + 5) {
            log.message(0, frame + 1, Timestamp(0), &a[2..]);
        }
        assert_eq!(log.records.len(), MAX_DNS_HTTPS_RECORDS);
        assert_eq!(log.omitted, 5);
    }

    /// A flow to `port` with `sni` starting at `first_frame`.
    fn flow(sni: &str, port: u16, first_frame: u64) -> FlowReport {
        let facts = crate::analysis::FlowFacts::default();
        let verdict = crate::analysis::judge(&facts);
        let place = build::FlowPlace {
            capture: 0,
            stream_base: 0,
        };
        let mut flow = build::flow_report(&facts, verdict, place);
        flow.sni = Some(sni.into());
        flow.server.port = port;
        flow.first_frame = first_frame;
        flow
    }

    #[test]
    fn a_flow_gets_the_last_answer_before_it_for_its_name_and_port() {
        let mut log = DnsLog::default();
        log.message(0, 3, Timestamp(0), &framed("a")[2..]);
        log.message(0, 9, Timestamp(0), &framed("a")[2..]);
        log.message(0, 4, Timestamp(0), &framed("_8443._https.a")[2..]);
        let mut f = flow("A.test", 443, 8);
        log.advertise(&mut f);
        let dns = f.dns_advertised.expect("advertised");
        assert_eq!((dns.name.as_str(), dns.frame), ("a.test", 3));
        assert_eq!(dns.alpn, ["h2"]);
        // RFC 9460 §9.1: a port other than 443 is looked up as _PORT._https.NAME.
        let mut f = flow("a.test", 8443, 20);
        log.advertise(&mut f);
        let dns = f.dns_advertised.expect("advertised");
        assert_eq!((dns.name.as_str(), dns.frame), ("_8443._https.a.test", 4));
        // Before any answer; another port; another capture's frame numbers.
        for (mut f, capture) in [
            (flow("a.test", 443, 2), 0),
            (flow("a.test", 8444, 20), 0),
            (flow("a.test", 443, 20), 1),
        ] {
            f.capture = capture;
            log.advertise(&mut f);
            assert_eq!(f.dns_advertised, None, "{f:?}");
        }
    }

    /// A response for `hinted.test`: one HTTPS record, priority 1, target `.`, alpn `h2`,
    /// `port` when given, ipv4hint 192.0.2.8.
    fn hinted(port: Option<u16>) -> Vec<u8> {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x06hinted\x04test\x00\x00\x41\x00\x01");
        let mut rdata = b"\x00\x01\x00\x00\x01\x00\x03\x02h2".to_vec();
        if let Some(port) = port {
            rdata.extend_from_slice(&[0, 3, 0, 2]);
            rdata.extend_from_slice(&port.to_be_bytes());
        }
        rdata.extend_from_slice(&[0, 4, 0, 4, 192, 0, 2, 8]);
        m.extend_from_slice(&[0xc0, 12, 0, 65, 0, 1, 0, 0, 0, 60, 0, rdata.len() as u8]);
        m.extend_from_slice(&rdata);
        m
    }

    /// A flow without SNI is tied by its server's address to a record whose ipv4hint holds it
    /// (on the record's port); a flow with an SNI only by name, whatever its address.
    #[test]
    fn a_flow_without_sni_gets_the_answer_whose_hint_is_its_address() {
        let mut log = DnsLog::default();
        log.message(0, 2, Timestamp(0), &hinted(None));
        log.message(0, 3, Timestamp(0), &hinted(Some(8443)));
        let server: IpAddr = "192.0.2.8".parse().unwrap();
        let mut no_sni = flow("x", 443, 10);
        no_sni.sni = None;
        no_sni.server.ip = server;
        log.advertise(&mut no_sni);
        let dns = no_sni.dns_advertised.expect("advertised by address");
        assert_eq!(
            (dns.name.as_str(), dns.frame, dns.matched_by),
            ("hinted.test", 2, DnsMatch::AddressHint)
        );
        // The record with port 8443 for a flow to 8443.
        let mut on_8443 = flow("x", 8443, 10);
        on_8443.sni = None;
        on_8443.server.ip = server;
        log.advertise(&mut on_8443);
        assert_eq!(on_8443.dns_advertised.map(|d| d.frame), Some(3));
        // Another address, or an SNI that names another server: not tied.
        let mut elsewhere = flow("x", 443, 10);
        elsewhere.sni = None;
        log.advertise(&mut elsewhere);
        assert_eq!(elsewhere.dns_advertised, None);
        let mut named = flow("other.test", 443, 10);
        named.server.ip = server;
        log.advertise(&mut named);
        assert_eq!(named.dns_advertised, None);
    }

    /// A UDP datagram from the DNS server (port 53) to the client, IPv4, raw IP.
    fn udp_from_53(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4([192, 0, 2, 53], [192, 0, 2, 1], 64)
            .udp(53, 40000)
            .write(&mut out, payload)
            .expect("a packet");
        out
    }

    #[test]
    fn malformed_svc_params_are_notes_and_garbage_on_port_53_is_counted() {
        // An HTTPS answer whose alpn value claims 9 bytes where 3 are left.
        let mut msg = framed("a")[2..].to_vec();
        let at = msg.len() - 4; // the alpn SvcParamValue length, low byte
        msg[at] = 9;
        let packets = [udp_from_53(&msg), udp_from_53(b"\x00\x01\x81")];
        let mut analyzer = super::super::Analyzer::new(Default::default());
        analyzer.begin_capture(0);
        for (i, packet) in packets.iter().enumerate() {
            analyzer.frame(&crate::capture::Frame {
                number: i as u64 + 1,
                timestamp: crate::capture::Timestamp(i as i64 * 1000),
                link_type: crate::capture::LinkType::RAW,
                data: packet,
                original_len: packet.len() as u32,
            });
        }
        let capture = analyzer.end_capture("test", &super::super::tests::summary());
        let report = analyzer.into_report(vec![capture]);
        let decode = &report.captures[0].decode;
        assert_eq!(
            (decode.dns_messages, decode.dns_malformed, decode.other_ip),
            (2, 1, 2)
        );
        let [record] = report.dns_https.as_slice() else {
            panic!("one record: {:?}", report.dns_https);
        };
        assert_eq!((record.frame, record.name.as_str()), (1, "a.test"));
        assert!(record.alpn.is_empty());
        assert_eq!(
            record.notes,
            ["SvcParam alpn claims 9 bytes, 3 left in the record; the rest is not read"]
        );
        assert!(report.flows.is_empty());
    }
}
