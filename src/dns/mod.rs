//! DNS responses (RFC 1035) in, HTTPS and SVCB answers (RFC 9460, types 65 and 64) out.
//!
//! Takes one DNS message — a UDP payload, or one message of a TCP stream without its two-byte
//! length prefix (RFC 1035 §4.2.2) — and emits the HTTPS and SVCB records of its answer section,
//! each with its owner name and the name the question asked for (they differ after a CNAME).
//! Nothing else of DNS is read.
//!
//! The contract is smoltcp's `wire` one: every length is checked before a field is read, so no
//! input panics; names follow compression pointers only backwards (RFC 1035 §4.1.4 points to a
//! *prior* occurrence), which bounds every name walk, and a name is at most 255 bytes. A message
//! that is not a response, or whose header or question does not parse, gives `Err`. A record
//! whose SvcParams lie (lengths past the end, truncated lists, unsorted keys) is kept with what
//! could be read and a [`Malformed`] note for each problem. Lists are capped (see [`svcb`]).

pub mod svcb;

pub use svcb::{Malformed, SvcParamKey, SvcParams};

use std::fmt;

/// DNS's well-known port (RFC 1035 §4.2).
pub const PORT: u16 = 53;

/// A resource record type (RFC 1035 §3.2.2); unknown values are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

impl RecordType {
    /// CNAME (RFC 1035).
    pub const CNAME: RecordType = RecordType(5);
    /// SVCB (RFC 9460 §2).
    pub const SVCB: RecordType = RecordType(64);
    /// HTTPS (RFC 9460 §9).
    pub const HTTPS: RecordType = RecordType(65);
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordType::CNAME => f.write_str("CNAME"),
            RecordType::SVCB => f.write_str("SVCB"),
            RecordType::HTTPS => f.write_str("HTTPS"),
            RecordType(n) => write!(f, "TYPE{n}"),
        }
    }
}

/// Why a message gave no records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Shorter than the 12-byte header (RFC 1035 §4.1.1).
    ShortHeader {
        /// Bytes present.
        len: usize,
    },
    /// A query, not a response (QR bit clear).
    NotResponse,
    /// The question section ends early or holds a bad name.
    BadQuestion,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::ShortHeader { len } => {
                write!(f, "DNS header needs 12 bytes, {len} present")
            }
            DnsError::NotResponse => f.write_str("a DNS query, not a response"),
            DnsError::BadQuestion => f.write_str("the DNS question does not parse"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A domain name as read: its labels, each escaped losslessly (see [`escape_label`]), joined
/// by dots, without the root's trailing dot (the root itself is `.`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(pub String);

impl Name {
    /// The name in lower case, for comparisons (RFC 4343: DNS names compare without case).
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One HTTPS or SVCB record of an answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// HTTPS or SVCB.
    pub rtype: RecordType,
    /// The record's owner name.
    pub owner: Name,
    /// The name the question asked for (the owner's alias when a CNAME led to it).
    pub query: Name,
    /// SvcPriority: 0 is AliasMode, anything else ServiceMode (RFC 9460 §2.4.1).
    pub priority: u16,
    /// TargetName (`.` means the owner itself in ServiceMode, RFC 9460 §2.5).
    pub target: Name,
    /// The SvcParams read.
    pub params: SvcParams,
}

/// The HTTPS and SVCB answers of one DNS message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    /// The records, in message order.
    pub records: Vec<ServiceRecord>,
    /// The answer section ended before the count its header gave (a cut or lying message):
    /// the records read before are kept.
    pub truncated: bool,
}

/// Most records read from one message: a 64 KiB message can hold thousands.
pub const MAX_RECORDS_PER_MESSAGE: usize = 32;

/// The HTTPS and SVCB records of a DNS response (`msg` without a TCP length prefix).
pub fn parse_response(msg: &[u8]) -> Result<Answers, DnsError> {
    let header: &[u8; 12] = msg
        .get(..12)
        .and_then(|h| h.try_into().ok())
        .ok_or(DnsError::ShortHeader { len: msg.len() })?;
    if header[2] & 0x80 == 0 {
        return Err(DnsError::NotResponse);
    }
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    let mut pos = 12;
    let mut query = None;
    for _ in 0..qdcount {
        let (name, next) = read_name(msg, pos).ok_or(DnsError::BadQuestion)?;
        pos = next.checked_add(4).ok_or(DnsError::BadQuestion)?;
        if pos > msg.len() {
            return Err(DnsError::BadQuestion);
        }
        query.get_or_insert(name);
    }
    let mut answers = Answers::default();
    for _ in 0..ancount {
        let Some(rr) = read_record(msg, pos) else {
            answers.truncated = true;
            break;
        };
        pos = rr.next;
        if rr.rtype != RecordType::HTTPS && rr.rtype != RecordType::SVCB {
            continue;
        }
        if answers.records.len() >= MAX_RECORDS_PER_MESSAGE {
            break;
        }
        let record = match svcb::parse_rdata(msg, rr.rdata_start, rr.rdata_end) {
            Some((priority, target, params)) => ServiceRecord {
                rtype: rr.rtype,
                query: query.clone().unwrap_or_else(|| rr.owner.clone()),
                owner: rr.owner,
                priority,
                target,
                params,
            },
            None => continue,
        };
        answers.records.push(record);
    }
    Ok(answers)
}

/// One resource record's header, located in its message.
struct RecordAt {
    owner: Name,
    rtype: RecordType,
    rdata_start: usize,
    rdata_end: usize,
    /// Where the next record starts.
    next: usize,
}

/// The record at `pos` (RFC 1035 §4.1.3), or None when it runs past the message.
fn read_record(msg: &[u8], pos: usize) -> Option<RecordAt> {
    let (owner, pos) = read_name(msg, pos)?;
    let fixed = msg.get(pos..pos.checked_add(10)?)?;
    let rtype = RecordType(u16::from_be_bytes([fixed[0], fixed[1]]));
    let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_start = pos + 10;
    let rdata_end = rdata_start.checked_add(rdlength)?;
    if rdata_end > msg.len() {
        return None;
    }
    Some(RecordAt {
        owner,
        rtype,
        rdata_start,
        rdata_end,
        next: rdata_end,
    })
}

/// RFC 1035 §2.3.4: a name is at most 255 bytes on the wire.
const MAX_NAME_BYTES: usize = 255;

/// Reads the name at `pos` in `msg`, following compression pointers (RFC 1035 §4.1.4), and
/// returns it with the position after it (after its first pointer, when it has one). None when
/// it runs past the message, is longer than 255 bytes, uses a reserved label type, or has a
/// pointer that does not point backwards (which is what makes loops impossible: each jump goes
/// strictly back, so the walk ends).
pub fn read_name(msg: &[u8], pos: usize) -> Option<(Name, usize)> {
    let mut text = String::new();
    let mut wire_len = 0usize;
    let mut at = pos;
    let mut after: Option<usize> = None;
    loop {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            0x00 => {
                wire_len += usize::from(len) + 1;
                if wire_len > MAX_NAME_BYTES {
                    return None;
                }
                if len == 0 {
                    if text.is_empty() {
                        text.push('.');
                    }
                    return Some((Name(text), after.unwrap_or(at + 1)));
                }
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(&escape_label(label));
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(at + 1)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= at {
                    return None;
                }
                after.get_or_insert(at + 2);
                at = target;
            }
            _ => return None,
        }
    }
}

/// A label as text: [`crate::tls::alpn::escape_bytes`], with `.` also escaped (`\x2e`) so that a
/// dot inside a label never reads as a separator.
pub fn escape_label(label: &[u8]) -> String {
    crate::tls::alpn::escape_bytes(label).replace('.', "\\x2e")
}

#[cfg(test)]
mod tests;
