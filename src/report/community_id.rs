//! Community ID v1 (<https://github.com/corelight/community-id-spec>): a flow's transport
//! 5-tuple hashed into a string such as `1:wCb3OG7yAFWelaUydu0D+125CLM=`, the same string Zeek,
//! Suricata, Arkime and Elastic's `network.community_id` give the same connection, so a flow of
//! this report joins their records with a string comparison.
//!
//! Takes the flow's endpoints as the report carries them (under `--redact`, the pseudonyms, so
//! a redacted report never carries a hash of the real addresses); pure, no allocation beyond the
//! 30-character result.

use super::model::{FlowReport, Transport};
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IANA protocol number of UDP (QUIC's transport).
pub const PROTO_UDP: u8 = 17;

/// The Community ID (v1, seed 0) of a flow from its reported endpoints: protocol 6 for TCP,
/// 17 (UDP) for QUIC.
pub fn of_flow(flow: &FlowReport) -> String {
    let proto = match flow.transport {
        Transport::Tcp => PROTO_TCP,
        Transport::Quic => PROTO_UDP,
    };
    community_id_v1(
        (flow.client.ip, flow.client.port),
        (flow.server.ip, flow.server.port),
        proto,
        0,
    )
}

/// Community ID v1 of a port-carrying flow (TCP, UDP, SCTP) between `a` and `b`, in either
/// order: SHA-1 over seed (2 bytes), the smaller address:port first, then the other address,
/// the protocol, one zero byte of padding, and the two ports in the same order, all in network
/// byte order; `"1:"` and the digest in base64.
pub fn community_id_v1(a: (IpAddr, u16), b: (IpAddr, u16), proto: u8, seed: u16) -> String {
    // An address's bytes, in a buffer of the largest address's size (no allocation).
    let bytes = |ip: IpAddr| -> ([u8; 16], usize) {
        match ip {
            IpAddr::V4(v4) => {
                let mut buffer = [0; 16];
                buffer[..4].copy_from_slice(&v4.octets());
                (buffer, 4)
            }
            IpAddr::V6(v6) => (v6.octets(), 16),
        }
    };
    let ((a_buffer, a_len), (b_buffer, b_len)) = (bytes(a.0), bytes(b.0));
    let (a_ip, b_ip) = (&a_buffer[..a_len], &b_buffer[..b_len]);
    // The spec: "the numerically smaller IP:port tuple comes first. If the IP addresses are
    // equal, the ports decide" (byte-wise, as the reference implementation compares).
    let ((first_ip, first_port), (second_ip, second_port)) = if (a_ip, a.1) <= (b_ip, b.1) {
        ((a_ip, a.1), (b_ip, b.1))
    } else {
        ((b_ip, b.1), (a_ip, a.1))
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(first_ip);
    h.update(second_ip);
    h.update([proto, 0]);
    h.update(first_port.to_be_bytes());
    h.update(second_port.to_be_bytes());
    let digest: [u8; 20] = h.finalize().into();
    let mut id = String::with_capacity(30);
    id.push_str("1:");
    base64(&digest, &mut id);
    id
}

/// Standard base64 (RFC 4648 §4, with `=` padding) of `data`, appended to `out`.
fn base64(data: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One vector: protocol, source, destination, seed, expected ID.
    type Vector = (u8, &'static str, u16, &'static str, u16, u16, &'static str);

    /// The TCP and UDP entries of the spec's reference data, `baseline/baseline_deflt.json`
    /// (seed 0) and `baseline/baseline_seed1.json` (seed 1), at corelight/community-id-spec
    /// commit c4ec2bc, and the two of Zeek's `community_id_v1` test (1.2.3.4:1122 → 5.6.7.8:3344).
    /// Each flow appears in both directions, as in the baseline.
    const VECTORS: &[Vector] = &[
        (
            6,
            "1.2.3.4",
            1122,
            "5.6.7.8",
            3344,
            0,
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
        ),
        (
            17,
            "1.2.3.4",
            1122,
            "5.6.7.8",
            3344,
            0,
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            63943,
            "2607:f8b0:400c:c03::1a",
            25,
            0,
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            6,
            "2607:f8b0:400c:c03::1a",
            25,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            63943,
            0,
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            6,
            "128.232.110.120",
            34855,
            "66.35.250.204",
            80,
            0,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            6,
            "66.35.250.204",
            80,
            "128.232.110.120",
            34855,
            0,
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            17,
            "192.168.1.52",
            54585,
            "8.8.8.8",
            53,
            0,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            17,
            "8.8.8.8",
            53,
            "192.168.1.52",
            54585,
            0,
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            132,
            "192.168.170.8",
            7,
            "192.168.170.56",
            7,
            0,
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            132,
            "192.168.170.56",
            7,
            "192.168.170.8",
            7,
            0,
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            63943,
            "2607:f8b0:400c:c03::1a",
            25,
            1,
            "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        ),
        (
            6,
            "128.232.110.120",
            34855,
            "66.35.250.204",
            80,
            1,
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            6,
            "66.35.250.204",
            80,
            "128.232.110.120",
            34855,
            1,
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            17,
            "192.168.1.52",
            54585,
            "8.8.8.8",
            53,
            1,
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
        (
            17,
            "8.8.8.8",
            53,
            "192.168.1.52",
            54585,
            1,
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
    ];

    #[test]
    fn reference_vectors() {
        for &(proto, sip, sport, dip, dport, seed, expected) in VECTORS {
            let (s, d) = (sip.parse().unwrap(), dip.parse().unwrap());
            assert_eq!(
                community_id_v1((s, sport), (d, dport), proto, seed),
                expected,
                "{proto} {sip}:{sport} → {dip}:{dport} seed {seed}"
            );
        }
    }

    /// Equal addresses: the ports decide the order, so both directions hash alike.
    #[test]
    fn equal_addresses_order_by_port() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            community_id_v1((ip, 443), (ip, 50000), PROTO_TCP, 0),
            community_id_v1((ip, 50000), (ip, 443), PROTO_TCP, 0)
        );
        assert_ne!(
            community_id_v1((ip, 443), (ip, 50000), PROTO_TCP, 0),
            community_id_v1((ip, 443), (ip, 50000), PROTO_UDP, 0)
        );
    }

    /// RFC 4648 §10's test vectors.
    #[test]
    fn base64_rfc4648() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            base64(input.as_bytes(), &mut out);
            assert_eq!(out, expected);
        }
    }
}
