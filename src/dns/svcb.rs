//! SVCB and HTTPS RDATA (RFC 9460 §2.2): SvcPriority, TargetName, SvcParams.
//!
//! The params read are `alpn` (kept as bytes: identifiers are opaque, RFC 9460 §7.1.1),
//! `no-default-alpn`, `port`, `ech` (presence only), `ipv4hint` and `ipv6hint`; other keys are
//! skipped. Every problem is a [`Malformed`] note on a record that keeps what was read. Lists are
//! capped: [`MAX_ALPN`] identifiers, [`MAX_HINTS`] addresses per hint, [`MAX_NOTES`] notes.

use super::{Name, read_name};
use crate::tls::alpn::ProtocolName;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A SvcParamKey (RFC 9460 §14.3.2); unknown keys are kept as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SvcParamKey(pub u16);

impl SvcParamKey {
    /// `mandatory` (§8).
    pub const MANDATORY: SvcParamKey = SvcParamKey(0);
    /// `alpn` (§7.1).
    pub const ALPN: SvcParamKey = SvcParamKey(1);
    /// `no-default-alpn` (§7.1).
    pub const NO_DEFAULT_ALPN: SvcParamKey = SvcParamKey(2);
    /// `port` (§7.2).
    pub const PORT: SvcParamKey = SvcParamKey(3);
    /// `ipv4hint` (§7.3).
    pub const IPV4HINT: SvcParamKey = SvcParamKey(4);
    /// `ech` (RFC 9460 §14.3.2, the ECH draft).
    pub const ECH: SvcParamKey = SvcParamKey(5);
    /// `ipv6hint` (§7.3).
    pub const IPV6HINT: SvcParamKey = SvcParamKey(6);
}

impl fmt::Display for SvcParamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            SvcParamKey::MANDATORY => "mandatory",
            SvcParamKey::ALPN => "alpn",
            SvcParamKey::NO_DEFAULT_ALPN => "no-default-alpn",
            SvcParamKey::PORT => "port",
            SvcParamKey::IPV4HINT => "ipv4hint",
            SvcParamKey::ECH => "ech",
            SvcParamKey::IPV6HINT => "ipv6hint",
            SvcParamKey(n) => return write!(f, "key{n}"),
        };
        f.write_str(name)
    }
}

/// Most ALPN identifiers kept per record.
pub const MAX_ALPN: usize = 16;
/// Most addresses kept per hint.
pub const MAX_HINTS: usize = 8;
/// Most notes kept per record.
pub const MAX_NOTES: usize = 4;

/// What was wrong with a record's RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The TargetName runs past the RDATA or does not parse: no params were read.
    BadTarget,
    /// A SvcParam's length runs past the RDATA (`len` claimed, `left` bytes present).
    ParamPastEnd {
        /// The key.
        key: SvcParamKey,
        /// SvcParamValue length claimed.
        len: usize,
        /// Bytes left in the RDATA.
        left: usize,
    },
    /// The RDATA ends inside a SvcParam's key or length.
    CutParamHeader,
    /// Keys not in strictly increasing order (RFC 9460 §2.2 requires it).
    KeysOutOfOrder {
        /// The key that came after a key not smaller than it.
        key: SvcParamKey,
    },
    /// The alpn value ends inside an identifier, or holds an empty one (§7.1.1).
    BadAlpnList,
    /// A value whose length does not fit its key (`port` not 2 bytes, a hint not a multiple
    /// of the address size, a non-empty `no-default-alpn`, an empty `alpn`).
    BadLength {
        /// The key.
        key: SvcParamKey,
        /// Its value's length.
        len: usize,
    },
    /// More identifiers or addresses than kept (see [`MAX_ALPN`], [`MAX_HINTS`]).
    Capped {
        /// The key whose list was cut.
        key: SvcParamKey,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::BadTarget => f.write_str("TargetName does not parse; SvcParams not read"),
            Malformed::ParamPastEnd { key, len, left } => write!(
                f,
                "SvcParam {key} claims {len} bytes, {left} left in the record; the rest is not read"
            ),
            Malformed::CutParamHeader => {
                f.write_str("the record ends inside a SvcParam's key or length")
            }
            Malformed::KeysOutOfOrder { key } => write!(
                f,
                "SvcParam {key} out of order (RFC 9460 §2.2: keys in increasing order)"
            ),
            Malformed::BadAlpnList => {
                f.write_str("alpn list ends inside an identifier or holds an empty one")
            }
            Malformed::BadLength { key, len } => {
                write!(
                    f,
                    "SvcParam {key} has a value of {len} bytes, which does not fit it"
                )
            }
            Malformed::Capped { key } => write!(f, "SvcParam {key}: list cut at the cap"),
        }
    }
}

/// The SvcParams of one record, as far as they could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SvcParams {
    /// `alpn` identifiers in order (empty when absent).
    pub alpn: Vec<ProtocolName>,
    /// `no-default-alpn` present.
    pub no_default_alpn: bool,
    /// `port`.
    pub port: Option<u16>,
    /// `ech` present.
    pub ech: bool,
    /// `ipv4hint` addresses.
    pub ipv4hint: Vec<Ipv4Addr>,
    /// `ipv6hint` addresses.
    pub ipv6hint: Vec<Ipv6Addr>,
    /// Problems, in the order met (at most [`MAX_NOTES`]).
    pub notes: Vec<Malformed>,
}

impl SvcParams {
    fn note(&mut self, m: Malformed) {
        if self.notes.len() < MAX_NOTES && !self.notes.contains(&m) {
            self.notes.push(m);
        }
    }
}

/// Reads the RDATA at `msg[start..end]` (the whole message is needed for compressed target
/// names): SvcPriority, TargetName, SvcParams. None when even the priority is missing.
pub fn parse_rdata(msg: &[u8], start: usize, end: usize) -> Option<(u16, Name, SvcParams)> {
    let rdata = msg.get(start..end)?;
    let priority = u16::from_be_bytes([*rdata.first()?, *rdata.get(1)?]);
    let mut params = SvcParams::default();
    // RFC 9460 §2.2 forbids compressing the TargetName; read it as any name, but only within
    // the message up to the RDATA's end.
    let Some((target, after)) = read_name(msg.get(..end)?, start + 2) else {
        params.note(Malformed::BadTarget);
        return Some((priority, Name(String::new()), params));
    };
    let mut rest = msg.get(after..end).unwrap_or(&[]);
    let mut last: Option<SvcParamKey> = None;
    while !rest.is_empty() {
        let [k0, k1, l0, l1, tail @ ..] = rest else {
            params.note(Malformed::CutParamHeader);
            break;
        };
        let key = SvcParamKey(u16::from_be_bytes([*k0, *k1]));
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if last.is_some_and(|l| l >= key) {
            params.note(Malformed::KeysOutOfOrder { key });
        }
        last = Some(key);
        let Some(value) = tail.get(..len) else {
            params.note(Malformed::ParamPastEnd {
                key,
                len,
                left: tail.len(),
            });
            break;
        };
        read_param(key, value, &mut params);
        rest = tail.get(len..).unwrap_or(&[]);
    }
    Some((priority, target, params))
}

/// Reads one SvcParam's value into `params`.
fn read_param(key: SvcParamKey, value: &[u8], params: &mut SvcParams) {
    let bad_length = Malformed::BadLength {
        key,
        len: value.len(),
    };
    match key {
        SvcParamKey::ALPN => {
            if value.is_empty() {
                params.note(bad_length);
            }
            let mut rest = value;
            while let [len, tail @ ..] = rest {
                let len = usize::from(*len);
                let Some(id) = tail.get(..len).filter(|id| !id.is_empty()) else {
                    params.note(Malformed::BadAlpnList);
                    break;
                };
                if params.alpn.len() >= MAX_ALPN {
                    params.note(Malformed::Capped { key });
                    break;
                }
                params.alpn.push(ProtocolName(id.to_vec()));
                rest = tail.get(len..).unwrap_or(&[]);
            }
        }
        SvcParamKey::NO_DEFAULT_ALPN => {
            if !value.is_empty() {
                params.note(bad_length);
            }
            params.no_default_alpn = true;
        }
        SvcParamKey::PORT => match value {
            [a, b] => params.port = Some(u16::from_be_bytes([*a, *b])),
            _ => params.note(bad_length),
        },
        SvcParamKey::ECH => params.ech = true,
        SvcParamKey::IPV4HINT => {
            if value.is_empty() || value.len() % 4 != 0 {
                params.note(bad_length);
            }
            for chunk in value.chunks_exact(4) {
                if params.ipv4hint.len() >= MAX_HINTS {
                    params.note(Malformed::Capped { key });
                    break;
                }
                if let [a, b, c, d] = chunk {
                    params.ipv4hint.push(Ipv4Addr::new(*a, *b, *c, *d));
                }
            }
        }
        SvcParamKey::IPV6HINT => {
            if value.is_empty() || value.len() % 16 != 0 {
                params.note(bad_length);
            }
            for chunk in value.chunks_exact(16) {
                if params.ipv6hint.len() >= MAX_HINTS {
                    params.note(Malformed::Capped { key });
                    break;
                }
                if let Ok(octets) = <[u8; 16]>::try_from(chunk) {
                    params.ipv6hint.push(Ipv6Addr::from(octets));
                }
            }
        }
        _ => {}
    }
}
