//! DNS HTTPS and SVCB answers across the capture: the flow table hands this log every UDP
//! datagram to or from port 53 ([`crate::dns::PORT`]); it keeps the records for the report's
//! `dns_https` list and tells a flow the answer its name got before it started.
//!
//! Bounded: at most [`MAX_DNS_HTTPS_RECORDS`] records over the whole run (the rest are counted
//! per capture in `decode.dns_https_omitted`), each with capped lists ([`crate::dns::svcb`]).
//! Frame numbers restart in every capture, so the name index only holds the current capture's
//! records.

use crate::capture::Frame;
use crate::decode::UdpDatagram;
use crate::dns::{self, DnsError};
use crate::report::build;
use crate::report::model::{DnsAdvertised, DnsHttpsReport, FlowReport, ServiceRecordType};
use std::collections::HashMap;

/// Most HTTPS and SVCB records kept over a run.
pub const MAX_DNS_HTTPS_RECORDS: usize = 1024;

/// The port whose HTTPS records are owned by the name itself (RFC 9460 §9.1); other ports'
/// by `_PORT._https.NAME`.
const HTTPS_DEFAULT_PORT: u16 = 443;

/// The records seen, and an index of the current capture's by name.
#[derive(Debug, Default)]
pub struct DnsLog {
    records: Vec<DnsHttpsReport>,
    /// Folded owner and question names → indices into `records` (current capture only).
    by_name: HashMap<String, Vec<usize>>,
    /// Datagrams of the current capture read.
    pub responses: u64,
    /// Datagrams of the current capture that did not parse as DNS.
    pub malformed: u64,
    /// Records of the current capture past [`MAX_DNS_HTTPS_RECORDS`].
    pub omitted: u64,
}

impl DnsLog {
    /// Starts a new capture: its frame numbers start again, so earlier answers match no flow.
    pub fn begin_capture(&mut self) {
        self.by_name.clear();
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
        self.message(capture, frame.number, udp.payload);
    }

    /// One DNS message (without a TCP length prefix) in frame `frame`.
    pub fn message(&mut self, capture: usize, frame: u64, msg: &[u8]) {
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
                .push(build::dns_https_report(capture, frame, record));
            let owner = record.owner.folded();
            let query = record.query.folded();
            if query != owner {
                self.by_name.entry(query).or_default().push(index);
            }
            self.by_name.entry(owner).or_default().push(index);
        }
    }

    /// Sets `flow.dns_advertised`: of the HTTPS ServiceMode records for the flow's SNI (or
    /// `_PORT._https.SNI` off port 443) answered before its first frame, the latest answer's
    /// record of lowest priority.
    pub fn advertise(&self, flow: &mut FlowReport) {
        let Some(sni) = &flow.sni else {
            return;
        };
        let name = if flow.server.port == HTTPS_DEFAULT_PORT {
            sni.to_ascii_lowercase()
        } else {
            format!("_{}._https.{}", flow.server.port, sni.to_ascii_lowercase())
        };
        let Some(indices) = self.by_name.get(&name) else {
            return;
        };
        let best = indices
            .iter()
            .filter_map(|&i| self.records.get(i))
            .filter(|r| {
                r.rtype == ServiceRecordType::Https
                    && r.priority > 0
                    && r.capture == flow.capture
                    && r.frame < flow.first_frame
            })
            .max_by_key(|r| (r.frame, std::cmp::Reverse(r.priority)));
        flow.dns_advertised = best.map(|r| DnsAdvertised {
            name: name.clone(),
            alpn: r.alpn.clone(),
            no_default_alpn: r.no_default_alpn,
            frame: r.frame,
        });
    }

    /// The records of the run, in the order answered.
    pub fn take_records(&mut self) -> Vec<DnsHttpsReport> {
        std::mem::take(&mut self.records)
    }
}
