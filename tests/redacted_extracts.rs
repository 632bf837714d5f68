//! `analyze --extract FILE --redact` on every fixture and every shared-corpus capture: the
//! extract, read back with the crate's own capture reader, holds no original address (text or
//! binary, IPv4 or IPv6), MAC address or name (SNI, certificate DNS names and common names,
//! proxy targets) that the unredacted analysis reports — neither in any packet nor in any
//! direction's stream reassembled by sequence number, where a name split across two segments
//! would show. And the redaction keeps every handshake readable: analysing the extract gives
//! the same verdict and ALPN for every TLS flow, over TCP and QUIC. A QUIC flow's names travel
//! in Initial packets that alpnscope opens: the extract's own analysis must show none of the
//! original names (SNI, certificate names), only their stand-ins.

mod common;

use alpnscope::capture::{CaptureEvent, LinkType, read_capture_slice};
use alpnscope::decode::{Decoded, decode_frame};
use common::{project_path, run};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const KEY: &str = "redacted-extracts-test";

/// Every capture of `fixtures/` and of the shared corpus, sorted.
fn captures() -> Vec<PathBuf> {
    let corpus = project_path("../shared/corpus/ja4/captures");
    assert!(
        corpus.is_dir(),
        "the shared corpus must be at {} (it is provided beside the project)",
        corpus.display()
    );
    let mut found = Vec::new();
    for dir in [project_path("fixtures"), corpus] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["pcap", "pcapng", "cap"].contains(&ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(found.len() > 80, "{} captures", found.len());
    found
}

/// What must not be in the redacted extract of one capture.
#[derive(Default)]
struct Originals {
    /// Addresses (text and binary forms are searched).
    addresses: BTreeSet<IpAddr>,
    /// Lower-case names.
    names: BTreeSet<String>,
    /// MAC addresses of the capture's TCP and UDP frames.
    macs: BTreeSet<[u8; 6]>,
}

/// The host part of a proxy target (`host:port`, `[v6]:port`).
fn target_host(target: &str) -> &str {
    let host = match target.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
        _ => target,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The `CN=` values of a distinguished name.
fn common_names(dn: &str) -> impl Iterator<Item = &str> {
    dn.split(", ").filter_map(|part| part.strip_prefix("CN="))
}

fn add_name(originals: &mut Originals, name: &str) {
    match name.parse::<IpAddr>() {
        Ok(ip) => {
            originals.addresses.insert(ip);
        }
        // Names of one to three characters ("R3") would match unrelated bytes; the scrubber
        // leaves them alone, and so does this search.
        Err(_) if name.len() >= 4 => {
            originals.names.insert(name.to_ascii_lowercase());
        }
        Err(_) => {}
    }
}

/// The addresses and names the unredacted report shows.
fn reported(doc: &Value, originals: &mut Originals) {
    for flow in doc["flows"].as_array().unwrap() {
        for side in ["client", "server"] {
            let ip = flow[side]["ip"].as_str().unwrap();
            originals.addresses.insert(ip.parse().unwrap());
        }
        if let Some(sni) = flow["sni"].as_str() {
            add_name(originals, sni);
        }
        if let Some(target) = flow["proxy"]["target"].as_str() {
            add_name(originals, target_host(target));
        }
        let cert = &flow["server_certificate"];
        for entry in cert["san"].as_array().into_iter().flatten() {
            let entry = entry.as_str().unwrap();
            if let Some(name) = entry
                .strip_prefix("DNS:")
                .or_else(|| entry.strip_prefix("IP:"))
            {
                add_name(originals, name);
            }
        }
        for dn in ["subject", "issuer"] {
            for cn in common_names(cert[dn].as_str().unwrap_or("")) {
                add_name(originals, cn);
            }
        }
    }
    // The IPv6 loopback address is its own pseudonym: there is only one, it names nobody.
    originals
        .addresses
        .remove(&"::1".parse::<IpAddr>().unwrap());
    // Neither is the unspecified address anyone's.
    originals.addresses.retain(|ip| !ip.is_unspecified());
}

/// The source and destination MAC addresses of a frame, where its link layer has them.
fn frame_macs(link_type: LinkType, data: &[u8]) -> Vec<[u8; 6]> {
    // (start of each MAC address in the link header)
    let starts: &[usize] = match link_type {
        LinkType::ETHERNET => &[0, 6],
        LinkType::LINUX_SLL => &[6],
        LinkType::LINUX_SLL2 => &[12],
        _ => &[],
    };
    starts
        .iter()
        .filter_map(|&at| data.get(at..at + 6))
        .filter_map(|m| <[u8; 6]>::try_from(m).ok())
        // All zeros (loopback) and all ones (broadcast) name no machine, and all zeros is in
        // every payload.
        .filter(|m| *m != [0; 6] && *m != [0xff; 6])
        .collect()
}

/// One TCP segment of the extract.
struct Segment {
    seq: u32,
    payload: Vec<u8>,
}

/// A direction of a TCP connection: (source, destination).
type Direction = ((IpAddr, u16), (IpAddr, u16));

/// One direction's bytes put in sequence order, the first copy of a byte winning; holes are
/// left as zeros (nothing is there to find).
fn reassemble(segments: &[Segment]) -> Vec<u8> {
    let Some(first) = segments.first() else {
        return Vec::new();
    };
    let offset = |seq: u32| seq.wrapping_sub(first.seq) as i32 as i64;
    let base = segments.iter().map(|s| offset(s.seq)).min().unwrap();
    let end = segments
        .iter()
        .map(|s| offset(s.seq) + s.payload.len() as i64)
        .max()
        .unwrap();
    let len = usize::try_from(end - base).unwrap();
    assert!(len < 64 << 20, "a stream of {len} bytes");
    let mut stream = vec![0u8; len];
    let mut filled = vec![false; len];
    for s in segments {
        let at = usize::try_from(offset(s.seq) - base).unwrap();
        for (i, b) in s.payload.iter().enumerate() {
            if !filled[at + i] {
                stream[at + i] = *b;
                filled[at + i] = true;
            }
        }
    }
    stream
}

/// Byte strings to look for, bucketed by their first byte, so that one pass over a haystack
/// finds them all (a search per needle took half a minute in a debug build).
struct Needles {
    buckets: Vec<Vec<(Vec<u8>, String)>>,
    /// Match regardless of ASCII case (needles stored in lower case).
    text: bool,
}

impl Needles {
    fn new(text: bool) -> Needles {
        Needles {
            buckets: vec![Vec::new(); 256],
            text,
        }
    }

    fn add(&mut self, needle: Vec<u8>, label: String) {
        let needle = if self.text {
            needle.to_ascii_lowercase()
        } else {
            needle
        };
        if let Some(&first) = needle.first() {
            self.buckets[usize::from(first)].push((needle, label));
        }
    }

    /// `(label, offset)` of every needle found in `haystack`.
    fn scan(&self, haystack: &[u8]) -> Vec<(String, usize)> {
        let lower;
        let hay = if self.text {
            lower = haystack.to_ascii_lowercase();
            &lower[..]
        } else {
            haystack
        };
        let mut found = Vec::new();
        for (i, b) in hay.iter().enumerate() {
            for (needle, label) in &self.buckets[usize::from(*b)] {
                if hay[i..].starts_with(needle) {
                    found.push((label.clone(), i));
                }
            }
        }
        found
    }
}

fn mac_text(mac: &[u8; 6]) -> String {
    let hex: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("MAC {}", hex.join(":"))
}

/// Where `originals` show in the extract `bytes` (an empty list: nowhere).
fn leaks(bytes: &[u8], originals: &Originals) -> Vec<String> {
    // Text: addresses as text and names, anywhere. Binary: MAC addresses and IPv6 addresses
    // anywhere; IPv4 addresses only in payloads and streams (four bytes of a TCP header can
    // spell one by chance: a checksum ending in 0x7f, a zero urgent pointer and a NOP are
    // 127.0.0.1), and in the IP header's address fields, checked after decoding.
    let mut text = Needles::new(true);
    let mut binary = Needles::new(false);
    let mut v4 = Needles::new(false);
    for ip in &originals.addresses {
        text.add(ip.to_string().into_bytes(), format!("{ip} as text"));
        match ip {
            IpAddr::V4(a) => v4.add(a.octets().to_vec(), format!("{ip} in binary")),
            IpAddr::V6(a) => binary.add(a.octets().to_vec(), format!("{ip} in binary")),
        }
    }
    for name in &originals.names {
        text.add(name.clone().into_bytes(), format!("name {name}"));
    }
    for mac in &originals.macs {
        binary.add(mac.to_vec(), mac_text(mac));
    }

    let mut found = Vec::new();
    let mut streams: BTreeMap<Direction, Vec<Segment>> = BTreeMap::new();
    let summary = read_capture_slice(bytes, |event| {
        let CaptureEvent::Frame(frame) = event else {
            return;
        };
        let n = frame.number;
        let data = frame.data;
        for mac in frame_macs(frame.link_type, data) {
            if originals.macs.contains(&mac) {
                found.push(format!("frame {n}: {} in the link header", mac_text(&mac)));
            }
        }
        for (what, at) in text.scan(data).into_iter().chain(binary.scan(data)) {
            found.push(format!("frame {n}: {what} at byte {at}"));
        }
        match decode_frame(&frame) {
            Decoded::Tcp(seg) => {
                for ip in [seg.src_ip, seg.dst_ip] {
                    if originals.addresses.contains(&ip) {
                        found.push(format!("frame {n}: {ip} in the IP header"));
                    }
                }
                for (what, at) in v4.scan(seg.payload) {
                    found.push(format!("frame {n}: {what} at payload byte {at}"));
                }
                if !seg.payload.is_empty() {
                    streams
                        .entry(((seg.src_ip, seg.src_port), (seg.dst_ip, seg.dst_port)))
                        .or_default()
                        .push(Segment {
                            seq: seg.seq,
                            payload: seg.payload.to_vec(),
                        });
                }
            }
            Decoded::Udp(datagram) => {
                for ip in [datagram.src_ip, datagram.dst_ip] {
                    if originals.addresses.contains(&ip) {
                        found.push(format!("frame {n}: {ip} in the IP header"));
                    }
                }
                for (what, at) in v4.scan(datagram.payload) {
                    found.push(format!("frame {n}: {what} at payload byte {at}"));
                }
            }
            other => found.push(format!(
                "frame {n}: neither a TCP segment nor a UDP datagram: {other:?}"
            )),
        }
    })
    .unwrap();
    assert!(summary.complete(), "{:?}", summary.warnings);
    for (direction, segments) in &streams {
        let stream = reassemble(segments);
        let (src, dst) = direction;
        let hits = text
            .scan(&stream)
            .into_iter()
            .chain(binary.scan(&stream))
            .chain(v4.scan(&stream));
        for (what, at) in hits {
            found.push(format!(
                "stream {}:{} → {}:{}: {what} at offset {at}",
                src.0, src.1, dst.0, dst.1
            ));
        }
    }
    found
}

/// The MAC addresses of a capture's TCP and UDP frames.
fn capture_macs(path: &Path) -> BTreeSet<[u8; 6]> {
    let bytes = std::fs::read(path).unwrap();
    let mut macs = BTreeSet::new();
    // A capture cut short still has frames worth checking; its warnings are the analysis's
    // business.
    let _ = read_capture_slice(&bytes, |event| {
        if let CaptureEvent::Frame(frame) = event
            && matches!(decode_frame(&frame), Decoded::Tcp(_) | Decoded::Udp(_))
        {
            macs.extend(frame_macs(frame.link_type, frame.data));
        }
    });
    macs
}

/// (verdict, selected ALPN) of each flow with a ClientHello, sorted. `secrets_dropped`: the
/// TLS 1.3 flows decrypted with secrets embedded in the capture are `hidden` in a redacted
/// extract, which never carries secrets.
fn outcomes(doc: &Value, secrets_dropped: bool) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["client_hello"].is_null())
        .map(|f| {
            if secrets_dropped && f["decryption"] == "decrypted" {
                return ("hidden".to_string(), String::new());
            }
            (
                f["verdict"].as_str().unwrap_or("").to_string(),
                f["alpn_selected"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Extracts every flow of `capture` redacted and returns what is wrong with the extract.
fn check(capture: &Path, dir: &Path) -> Vec<String> {
    let path = capture.to_str().unwrap();
    let keys = capture.with_extension("keys");
    let mut extra: Vec<String> = vec!["--all".into()];
    if keys.is_file() {
        extra.extend(["--keylog".into(), keys.to_str().unwrap().to_string()]);
    }
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(extra.iter().map(String::as_str));
    args.push(path);
    let out = run(&args);
    if !out.status.success() {
        // Not a capture alpnscope reads (errors.rs covers those): nothing to extract.
        return Vec::new();
    }
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].to_string())
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut originals = Originals {
        macs: capture_macs(capture),
        ..Originals::default()
    };
    reported(&doc, &mut originals);

    let name = capture.file_name().unwrap().to_str().unwrap();
    let out_path = dir.join(format!("{name}.pcapng"));
    let out_str = out_path.to_str().unwrap().to_string();
    let mut args = vec!["analyze", "--redact", "--redact-key", KEY];
    args.extend(extra.iter().map(String::as_str));
    args.extend(["--extract", &out_str]);
    for id in &ids {
        args.extend(["--flow", id.as_str()]);
    }
    args.push(path);
    let out = run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return vec![format!("the redacted extract failed: {stderr}")];
    }
    let mut problems = Vec::new();
    let wrote = format!(
        " of {} to ",
        alpnscope::report::plural(ids.len() as u64, "flow")
    );
    if !stderr.contains(&wrote) {
        problems.push(format!("not every flow was extracted: {stderr}"));
    }
    let bytes = std::fs::read(&out_path).unwrap();
    problems.extend(leaks(&bytes, &originals));
    // Same handshakes, same conclusions.
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let again = common::analyze_json(&out_str, &extra);
    let (before, after) = (outcomes(&doc, !keys.is_file()), outcomes(&again, false));
    if before != after {
        problems.push(format!(
            "the extract's verdicts differ: {before:?} before, {after:?} after"
        ));
    }
    // The server names alpnscope reads in the extract (in the QUIC Initial packets it opens
    // too) are none of the originals. (Certificate names are not compared: with the key log
    // given again, the analysis decrypts a TLS 1.3 server's original certificate, which a
    // redacted extract keeps encrypted, without the secrets.)
    for flow in again["flows"].as_array().unwrap() {
        if let Some(sni) = flow["sni"].as_str()
            && originals.names.contains(&sni.to_ascii_lowercase())
        {
            problems.push(format!("the extract's analysis shows the SNI {sni}"));
        }
    }
    // A QUIC datagram is cut only from an Initial packet that did not open (the analysis
    // names those), or one the capture had already cut (a snaplen).
    let unopened: u64 = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["quic"]["undecryptable_initials"]["count"].as_u64())
        .chain(
            doc["captures"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["decode"]["truncated_payload"].as_u64()),
        )
        .sum();
    if unopened == 0 && stderr.contains("QUIC datagrams are cut") {
        problems.push(format!("QUIC datagrams were cut: {stderr}"));
    }
    let _ = std::fs::remove_file(&out_path);
    problems
}

#[test]
fn redacted_extracts_hold_no_original_address_mac_or_name() {
    let dir = std::env::temp_dir().join(format!("alpnscope-redacted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let all = captures();
    // Two workers: the machine has two cores, and each capture takes two runs of the binary.
    let chunks: Vec<&[PathBuf]> = all.chunks(all.len().div_ceil(2)).collect();
    let problems: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let dir = &dir;
                s.spawn(move || {
                    chunk
                        .iter()
                        .flat_map(|capture| {
                            let name = capture.file_name().unwrap().to_string_lossy();
                            check(capture, dir)
                                .into_iter()
                                .map(move |p| format!("{name}: {p}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
