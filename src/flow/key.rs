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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// TCP or UDP.
    pub transport: Transport,
    /// The lower endpoint.
    pub a: Endpoint,
    /// The higher endpoint.
    pub b: Endpoint,
}

impl FlowKey {
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
