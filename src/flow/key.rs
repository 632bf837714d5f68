//! The bidirectional flow key: the transport and both endpoints, stored in a canonical order so
//! that the two directions of a connection find the same entry.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;

/// One end of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

impl Default for Endpoint {
    /// The unspecified IPv4 address, port 0.
    fn default() -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: 0,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Which canonical end of a [`FlowKey`] a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Side {
    /// The lower endpoint.
    #[default]
    A,
    /// The higher endpoint.
    B,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// 0 for A, 1 for B: an index into per-direction arrays.
    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// The transport protocol of a flow key: a TCP connection and UDP datagrams between the same
/// addresses and ports are different flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// TCP.
    #[default]
    Tcp,
    /// UDP (QUIC).
    Udp,
}

/// A connection's transport and endpoints in canonical order (`a <= b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// TCP or UDP.
    pub transport: Transport,
    /// The lower endpoint.
    pub a: Endpoint,
    /// The higher endpoint.
    pub b: Endpoint,
}

/// The hasher of tables keyed by [`FlowKey`] (and of other tables keyed by what a capture
/// says): foldhash's fast variant, with seeds drawn from the operating system's randomness
/// (std's SipHash keys cost 2.5 % of the analysis on a capture of short connections).
///
/// Flow keys come from the capture, so whoever wrote it chose them. Its shared seeds are drawn
/// once per process and each table gets a seed of its own, after the capture was written and
/// never shown (reports list flows in capture order, never in table order; no hash reaches any
/// output): such a writer has nothing to aim colliding keys at, and foldhash mixes every input
/// word with the seeds for that reason. foldhash's own random state takes its seeds from
/// addresses and the clock; these come from the same source as std's SipHash keys. What foldhash
/// does not claim is resistance to an attacker who watches the hashes or the timing of one
/// running table and adapts: a capture file cannot, and live traffic would have to read the
/// analyzer's timing from the outside.
#[derive(Debug, Clone)]
pub struct FlowKeyHasher(foldhash::fast::SeedableRandomState);

impl Default for FlowKeyHasher {
    fn default() -> Self {
        static SHARED: OnceLock<foldhash::SharedSeed> = OnceLock::new();
        let shared = SHARED.get_or_init(|| foldhash::SharedSeed::from_u64(random_u64()));
        FlowKeyHasher(foldhash::fast::SeedableRandomState::with_seed(
            random_u64(),
            shared,
        ))
    }
}

impl BuildHasher for FlowKeyHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// 64 random bits: std's SipHash of nothing, with the keys std draws from the operating system
/// (once per thread, then moved on for every new state).
fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Most bytes of [`FlowKey::hash_bytes`]: a tag, two ports, two IPv6 addresses.
const HASH_BYTES: usize = 1 + 2 * 2 + 2 * 16;

/// Fed to the hasher as one slice, as short as the addresses allow: the flow table hashes a key
/// for every packet, and a hasher's cost is per `write` call as much as per byte, so the
/// derived field-by-field hash (a dozen writes: discriminants, slice lengths, octets, ports)
/// cost three times as much; an IPv4 key is 13 bytes.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (bytes, len) = self.hash_bytes();
        state.write(bytes.get(..len).unwrap_or(&bytes));
    }
}

impl FlowKey {
    /// The key as bytes, one key one value, and how many of them are used: the transport and
    /// both address families in a tag byte, both ports, then both addresses (4 or 16 bytes
    /// each, as the tag says).
    fn hash_bytes(&self) -> ([u8; HASH_BYTES], usize) {
        let mut out = [0; HASH_BYTES];
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(to) = out.get_mut(len..len + bytes.len()) {
                to.copy_from_slice(bytes);
                len += bytes.len();
            }
        };
        let transport = match self.transport {
            Transport::Tcp => 0,
            Transport::Udp => 1,
        };
        let family = |end: &Endpoint, bit: u8| match end.ip {
            IpAddr::V4(_) => bit,
            IpAddr::V6(_) => 0,
        };
        put(&[transport | family(&self.a, 2) | family(&self.b, 4)]);
        put(&self.a.port.to_be_bytes());
        put(&self.b.port.to_be_bytes());
        for end in [self.a, self.b] {
            match end.ip {
                IpAddr::V4(ip) => put(&ip.octets()),
                IpAddr::V6(ip) => put(&ip.octets()),
            }
        }
        (out, len)
    }

    /// The key of a packet of `transport` from `src` to `dst`, and the side that sent it.
    pub fn of(transport: Transport, src: Endpoint, dst: Endpoint) -> (FlowKey, Side) {
        if src <= dst {
            (
                FlowKey {
                    transport,
                    a: src,
                    b: dst,
                },
                Side::A,
            )
        } else {
            (
                FlowKey {
                    transport,
                    a: dst,
                    b: src,
                },
                Side::B,
            )
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    /// The bytes hashed tell apart what `Eq` tells apart: the transport, an IPv4 address from
    /// the IPv6 address with the same first bytes, ports; both directions give the same bytes.
    #[test]
    fn hash_bytes_keep_keys_apart() {
        let server = end("10.0.0.2", 443);
        let keys = [
            FlowKey::of(Transport::Tcp, end("10.0.0.1", 50000), server).0,
            FlowKey::of(Transport::Udp, end("10.0.0.1", 50000), server).0,
            FlowKey::of(Transport::Tcp, end("a00:1::", 50000), server).0,
            FlowKey::of(Transport::Tcp, end("10.0.0.1", 50001), server).0,
            FlowKey::of(Transport::Tcp, end("10.0.0.3", 50000), server).0,
        ];
        for (i, x) in keys.iter().enumerate() {
            for y in &keys[i + 1..] {
                assert_ne!(x.hash_bytes(), y.hash_bytes(), "{x:?} {y:?}");
            }
        }
        let back = FlowKey::of(Transport::Tcp, server, end("10.0.0.1", 50000)).0;
        assert_eq!(back.hash_bytes(), keys[0].hash_bytes());
        let (bytes, len) = keys[0].hash_bytes();
        assert_eq!(
            &bytes[..len],
            b"\x06\xc3\x50\x01\xbb\x0a\0\0\x01\x0a\0\0\x02"
        );
        let (_, len) = keys[2].hash_bytes();
        assert_eq!(len, 1 + 2 + 2 + 16 + 4);
    }

    /// Every table hashes with seeds of its own: the same key hashes differently in two tables
    /// (a chance of 2⁻⁶⁴ to fail by luck), the same in one; and keys a capture writer would
    /// line up (one client, every port) spread over a table's buckets as random keys would.
    #[test]
    fn every_table_has_its_own_seed() {
        let server = end("10.0.0.2", 443);
        let key = |port| FlowKey::of(Transport::Tcp, end("10.0.0.1", port), server).0;
        let (one, two) = (FlowKeyHasher::default(), FlowKeyHasher::default());
        assert_ne!(one.hash_one(key(50000)), two.hash_one(key(50000)));
        assert_eq!(one.hash_one(key(50000)), one.hash_one(key(50000)));
        // 65,536 keys into 4,096 buckets (16 a bucket on average): the fullest holds 16 plus a
        // few standard deviations; a hash blind to the port would put them all in one.
        let mut buckets = vec![0u32; 4096];
        for port in 0..=u16::MAX {
            buckets[(one.hash_one(key(port)) >> 52) as usize] += 1;
        }
        let fullest = buckets.iter().max().copied().unwrap_or(0);
        assert!(fullest < 48, "fullest bucket {fullest}");
    }

    #[test]
    fn both_directions_share_a_key() {
        let x = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 443,
        };
        let y = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 50000,
        };
        let (k1, s1) = FlowKey::of(Transport::Tcp, x, y);
        let (k2, s2) = FlowKey::of(Transport::Tcp, y, x);
        assert_eq!(k1, k2);
        assert_eq!(s1, s2.other());
        assert_eq!(k1.endpoint(s1), x);
        assert_ne!(FlowKey::of(Transport::Udp, x, y).0, k1);
    }
}
