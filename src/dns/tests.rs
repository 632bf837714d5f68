//! Hand-built DNS responses: the edge cases real servers rarely send.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A response header with `qd` questions and `an` answers.
fn header(qd: u16, an: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80];
    m.extend_from_slice(&qd.to_be_bytes());
    m.extend_from_slice(&an.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m
}

fn name(labels: &[&str]) -> Vec<u8> {
    let mut n = Vec::new();
    for l in labels {
        n.push(l.len() as u8);
        n.extend_from_slice(l.as_bytes());
    }
    n.push(0);
    n
}

fn param(key: u16, value: &[u8]) -> Vec<u8> {
    let mut p = key.to_be_bytes().to_vec();
    p.extend_from_slice(&(value.len() as u16).to_be_bytes());
    p.extend_from_slice(value);
    p
}

/// Question for example.com HTTPS IN, then one answer whose owner is a pointer to the
/// question's name (offset 12), with `rdata`.
fn response(rdata: &[u8]) -> Vec<u8> {
    let mut m = header(1, 1);
    m.extend(name(&["example", "com"]));
    m.extend_from_slice(&[0, 65, 0, 1]);
    m.extend_from_slice(&[0xc0, 12, 0, 65, 0, 1, 0, 0, 0x0e, 0x10]);
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
    m
}

fn rdata(priority: u16, target: &[u8], params: &[Vec<u8>]) -> Vec<u8> {
    let mut r = priority.to_be_bytes().to_vec();
    r.extend_from_slice(target);
    for p in params {
        r.extend_from_slice(p);
    }
    r
}

#[test]
fn reads_every_param() {
    let mut v6 = [0u8; 16];
    v6[15] = 1;
    let r = rdata(
        1,
        &name(&["svc", "example", "net"]),
        &[
            param(1, b"\x02h3\x02h2\x08http/1.1"),
            param(2, b""),
            param(3, &8443u16.to_be_bytes()),
            param(4, &[192, 0, 2, 1, 192, 0, 2, 2]),
            param(5, b"\x00\x45\xfe\x0d"),
            param(6, &v6),
        ],
    );
    let answers = parse_response(&response(&r)).expect("parses");
    assert!(!answers.truncated);
    let [rec] = answers.records.as_slice() else {
        panic!("one record: {answers:?}");
    };
    assert_eq!(rec.rtype, RecordType::HTTPS);
    assert_eq!(rec.owner, Name("example.com".into()));
    assert_eq!(rec.query, Name("example.com".into()));
    assert_eq!(rec.priority, 1);
    assert_eq!(rec.target, Name("svc.example.net".into()));
    let p = &rec.params;
    let alpn: Vec<String> = p.alpn.iter().map(|a| a.escaped()).collect();
    assert_eq!(alpn, ["h3", "h2", "http/1.1"]);
    assert!(p.no_default_alpn);
    assert_eq!(p.port, Some(8443));
    assert!(p.ech);
    assert_eq!(
        p.ipv4hint,
        [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)]
    );
    assert_eq!(p.ipv6hint, [Ipv6Addr::LOCALHOST]);
    assert!(p.notes.is_empty());
}

#[test]
fn alias_mode_and_root_target() {
    let answers = parse_response(&response(&rdata(0, &[0], &[]))).expect("parses");
    assert_eq!(answers.records[0].priority, 0);
    assert_eq!(answers.records[0].target, Name(".".into()));
    assert_eq!(answers.records[0].params, SvcParams::default());
}

#[test]
fn alpn_bytes_stay_lossless() {
    let r = rdata(1, &[0], &[param(1, b"\x03a\\\xff\x03x.y")]);
    let answers = parse_response(&response(&r)).expect("parses");
    let alpn: Vec<String> = answers.records[0]
        .params
        .alpn
        .iter()
        .map(|a| a.escaped())
        .collect();
    assert_eq!(alpn, ["a\\x5c\\xff", "x.y"]);
}

#[test]
fn lying_param_length_keeps_what_was_read() {
    let mut bad = param(3, &443u16.to_be_bytes());
    bad[3] = 40; // claims 40 bytes, 2 present
    let r = rdata(1, &[0], &[param(1, b"\x02h2"), bad]);
    let answers = parse_response(&response(&r)).expect("parses");
    let p = &answers.records[0].params;
    assert_eq!(p.alpn, [crate::tls::alpn::ProtocolName(b"h2".to_vec())]);
    assert_eq!(p.port, None);
    assert_eq!(
        p.notes,
        [Malformed::ParamPastEnd {
            key: SvcParamKey::PORT,
            len: 40,
            left: 2
        }]
    );
}

#[test]
fn truncated_alpn_list_and_empty_identifier() {
    let r = rdata(1, &[0], &[param(1, b"\x02h2\x05h")]);
    let answers = parse_response(&response(&r)).expect("parses");
    let p = &answers.records[0].params;
    assert_eq!(p.alpn.len(), 1);
    assert_eq!(p.notes, [Malformed::BadAlpnList]);

    let r = rdata(1, &[0], &[param(1, b"\x00\x02h2")]);
    let answers = parse_response(&response(&r)).expect("parses");
    assert!(answers.records[0].params.alpn.is_empty());
    assert_eq!(answers.records[0].params.notes, [Malformed::BadAlpnList]);
}

#[test]
fn bad_lengths_unsorted_keys_and_cut_header() {
    let r = rdata(
        1,
        &[0],
        &[
            param(3, &[1]),
            param(2, b"x"),
            param(4, &[1, 2, 3]),
            vec![0, 6, 0],
        ],
    );
    let answers = parse_response(&response(&r)).expect("parses");
    let p = &answers.records[0].params;
    assert_eq!(p.port, None);
    assert!(p.no_default_alpn);
    assert!(p.ipv4hint.is_empty());
    assert_eq!(
        p.notes,
        [
            Malformed::BadLength {
                key: SvcParamKey::PORT,
                len: 1
            },
            Malformed::KeysOutOfOrder {
                key: SvcParamKey::NO_DEFAULT_ALPN
            },
            Malformed::BadLength {
                key: SvcParamKey::NO_DEFAULT_ALPN,
                len: 1
            },
            Malformed::BadLength {
                key: SvcParamKey::IPV4HINT,
                len: 3
            },
        ]
    );
}

#[test]
fn alpn_list_is_capped() {
    let mut value = Vec::new();
    for _ in 0..(svcb::MAX_ALPN + 3) {
        value.extend_from_slice(b"\x02h2");
    }
    let r = rdata(1, &[0], &[param(1, &value)]);
    let answers = parse_response(&response(&r)).expect("parses");
    let p = &answers.records[0].params;
    assert_eq!(p.alpn.len(), svcb::MAX_ALPN);
    assert_eq!(
        p.notes,
        [Malformed::Capped {
            key: SvcParamKey::ALPN
        }]
    );
}

#[test]
fn compressed_target_and_pointer_loops() {
    // Target as a pointer to the question's name: read (RFC 9460 forbids it, but it is safe).
    let r = rdata(1, &[0xc0, 12], &[param(1, b"\x02h2")]);
    let answers = parse_response(&response(&r)).expect("parses");
    assert_eq!(answers.records[0].target, Name("example.com".into()));
    assert_eq!(answers.records[0].params.alpn.len(), 1);

    // A target pointing at itself, and one pointing forwards: the target does not parse.
    let msg = response(&rdata(1, &[0, 0], &[]));
    let target_at = msg.len() - 2;
    let mut looped = msg.clone();
    looped[target_at] = 0xc0 | (target_at >> 8) as u8;
    looped[target_at + 1] = target_at as u8;
    let answers = parse_response(&looped).expect("parses");
    assert_eq!(answers.records[0].params.notes, [Malformed::BadTarget]);

    // An owner name whose pointer points at itself: the record is cut, not followed forever.
    let mut m = header(1, 1);
    m.extend(name(&["a"]));
    m.extend_from_slice(&[0, 65, 0, 1]);
    let at = m.len();
    m.extend_from_slice(&[0xc0, at as u8, 0, 65, 0, 1, 0, 0, 0, 0, 0, 2, 0, 1]);
    let answers = parse_response(&m).expect("parses");
    assert!(answers.truncated);
    assert!(answers.records.is_empty());
}

#[test]
fn names_longer_than_255_bytes_are_refused() {
    let mut n = Vec::new();
    for _ in 0..5 {
        n.push(63);
        n.extend_from_slice(&[b'a'; 63]);
    }
    n.push(0);
    assert_eq!(read_name(&n, 0), None);
    // Three labels of 63 and one of 61, and the root: 255 bytes exactly.
    let mut max = n[64..].to_vec();
    max[192] = 61;
    max.drain(192 + 62..192 + 64);
    assert_eq!(max.len(), 255);
    assert_eq!(read_name(&max, 0).map(|(_, end)| end), Some(255));
    max[192] = 62;
    max.insert(192 + 1, b'a');
    assert_eq!(read_name(&max, 0), None);
}

#[test]
fn labels_with_dots_and_odd_bytes_are_escaped() {
    let n = [3, b'a', b'.', 0x00, 2, b'C', b'o', 0];
    assert_eq!(
        read_name(&n, 0),
        Some((Name("a\\x2e\\x00.Co".into()), n.len()))
    );
    assert_eq!(Name("a\\x2e\\x00.Co".into()).folded(), "a\\x2e\\x00.co");
}

#[test]
fn cname_then_https_keeps_the_question() {
    let mut m = header(1, 2);
    m.extend(name(&["www", "example", "com"]));
    m.extend_from_slice(&[0, 65, 0, 1]);
    let cname_target = name(&["cdn", "example", "net"]);
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
    m.extend_from_slice(&(cname_target.len() as u16).to_be_bytes());
    let cdn_at = m.len();
    m.extend(cname_target);
    let r = rdata(1, &[0], &[param(1, b"\x02h2")]);
    m.extend_from_slice(&[0xc0, cdn_at as u8, 0, 65, 0, 1, 0, 0, 0, 60]);
    m.extend_from_slice(&(r.len() as u16).to_be_bytes());
    m.extend(r);
    let answers = parse_response(&m).expect("parses");
    let [rec] = answers.records.as_slice() else {
        panic!("one record");
    };
    assert_eq!(rec.owner, Name("cdn.example.net".into()));
    assert_eq!(rec.query, Name("www.example.com".into()));
}

#[test]
fn queries_and_short_messages_are_errors() {
    assert_eq!(
        parse_response(&[0; 5]),
        Err(DnsError::ShortHeader { len: 5 })
    );
    let mut q = header(1, 0);
    q[2] = 0x01;
    assert_eq!(parse_response(&q), Err(DnsError::NotResponse));
    let mut cut = header(1, 0);
    cut.extend_from_slice(&[7, b'e']);
    assert_eq!(parse_response(&cut), Err(DnsError::BadQuestion));
}

#[test]
fn answer_count_that_lies_is_truncated() {
    let mut m = response(&rdata(1, &[0], &[param(1, b"\x02h2")]));
    m[7] = 3; // three answers claimed, one present
    let answers = parse_response(&m).expect("parses");
    assert_eq!(answers.records.len(), 1);
    assert!(answers.truncated);
}

#[test]
fn any_prefix_of_a_response_never_panics() {
    let r = rdata(
        1,
        &name(&["svc", "example", "net"]),
        &[
            param(1, b"\x02h3\x02h2"),
            param(3, &[1, 187]),
            param(5, b"xx"),
        ],
    );
    let m = response(&r);
    for end in 0..=m.len() {
        let _ = parse_response(&m[..end]);
    }
}
