//! The bidirectional flow key: the transport and both endpoints, stored in a canonical order so
//! that the two directions of a connection find the same entry.

use std::fmt;
use std::net::IpAddr;

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

/// Bytes of [`FlowKey::hash_bytes`]: a tag, then per endpoint 16 address bytes and 2 port bytes.
const HASH_BYTES: usize = 1 + 2 * (16 + 2);

/// Fed to the hasher as one slice: the flow table hashes a key for every packet, and SipHash
/// (std's `RandomState`, which keeps hostile captures from choosing colliding keys) costs about
/// as much per `write` call as per eight bytes, so the derived field-by-field hash (a dozen
/// writes: discriminants, slice lengths, octets, ports) cost three times as much.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.hash_bytes());
    }
}

impl FlowKey {
    /// The key as bytes, one key one value: the transport and both address families in a tag
    /// byte, then each endpoint's address (an IPv4 address in the first four of its 16 bytes)
    /// and port.
    fn hash_bytes(&self) -> [u8; HASH_BYTES] {
        let mut out = [0; HASH_BYTES];
        let (tag, ends) = out.split_at_mut(1);
        let mut families = 0;
        for (i, (bytes, end)) in ends.chunks_exact_mut(18).zip([self.a, self.b]).enumerate() {
            let (address, port) = bytes.split_at_mut(16);
            match end.ip {
                IpAddr::V4(ip) => {
                    families |= 2 << i;
                    address
                        .iter_mut()
                        .zip(ip.octets())
                        .for_each(|(b, o)| *b = o);
                }
                IpAddr::V6(ip) => address.copy_from_slice(&ip.octets()),
            }
            port.copy_from_slice(&end.port.to_be_bytes());
        }
        let transport = match self.transport {
            Transport::Tcp => 0,
            Transport::Udp => 1,
        };
        tag.fill(transport | families);
        out
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

    /// The bytes hashed tell apart what `Eq` tells apart: the transport, an IPv4 address from
    /// the IPv6 address with the same first bytes, ports; both directions give the same bytes.
    #[test]
    fn hash_bytes_keep_keys_apart() {
        let end = |ip: &str, port| Endpoint {
            ip: ip.parse().unwrap(),
            port,
        };
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
        assert_eq!(
            &keys[0].hash_bytes()[..],
            b"\x06\x0a\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\xc3\x50\
              \x0a\0\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\x01\xbb"
        );
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
