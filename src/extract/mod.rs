//! Handshake-only captures: the packets of selected flows, up to the end of their TLS handshake,
//! written to a small pcapng for a bug ticket.
//!
//! TCP flows end with the frame the report names as the end of their handshake; QUIC flows with
//! the client's first datagram carrying a 1-RTT packet (`quic.rs`, which also rewrites their
//! Initial packets in a redacted extract).
//!
//! One section; one interface per original link type, with nanosecond timestamps; the original
//! timestamps; a comment on each flow's first packet with its verdict; and, on request, a
//! Decryption Secrets Block holding only the handshake secrets of those flows, so Wireshark can
//! show EncryptedExtensions while no application data can be decrypted. The capture files are
//! read a second time; nothing is kept in memory but the packets being written.

mod pcapng;
mod proxy;
mod quic;
mod scrub;
mod stream;

use pcapng::{PcapngWriter, fit_option_text};
use scrub::Carried;

pub use scrub::Scrubber;

use crate::capture::filter::Filter;
use crate::capture::{self, CaptureError, CaptureEvent, IoCause};
use crate::decode::{self, Decoded};
use crate::report::model::{FlowReport, Report, Transport};
use crate::report::redact::Redactor;
use crate::tls::keylog::KeyLog;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use stream::Direction;

/// Why the extract could not be written.
#[derive(Debug)]
pub enum ExtractError {
    /// The output file could not be written.
    Write {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// A capture could not be opened again.
    Reopen {
        /// Path.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// A capture could not be read again.
    Read {
        /// Path.
        path: String,
        /// Cause.
        source: CaptureError,
    },
    /// A capture read from standard input cannot be read a second time.
    Stdin,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::Write { path, source } => {
                write!(f, "cannot write {}: {}", path.display(), IoCause(source))
            }
            ExtractError::Reopen { path, source } => {
                write!(f, "cannot read {path} again: {}", IoCause(source))
            }
            ExtractError::Read { path, source } => {
                write!(f, "cannot read {path} again: {source}")
            }
            ExtractError::Stdin => write!(
                f,
                "--extract needs to read the capture twice: give a file, not standard input"
            ),
        }
    }
}

impl std::error::Error for ExtractError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExtractError::Write { source, .. } => Some(source),
            ExtractError::Reopen { source, .. } => Some(source),
            ExtractError::Read { source, .. } => Some(source),
            ExtractError::Stdin => None,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Flows written.
    pub flows: usize,
    /// Packets written.
    pub packets: u64,
    /// Connections whose handshake secrets were embedded.
    pub secrets: usize,
    /// Redacted extracts: directions whose payload was left out because it is not TLS.
    pub not_tls_directions: usize,
    /// Redacted extracts: packets whose payload was cut, in whole or in part.
    pub cut_packets: u64,
    /// Redacted extracts: QUIC datagrams cut from a packet that could not be opened and
    /// redacted (an Initial packet no keys of its flow open, bytes that are not QUIC packets).
    pub quic_cut_packets: u64,
}

/// A flow to extract: its endpoints and frame range within its capture.
struct Selected {
    transport: Transport,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    first: u64,
    last: u64,
    comment: String,
    commented: bool,
    /// Client to server, then server to client (redacted TCP flows only).
    streams: [Direction; 2],
    /// The Initial packets' CRYPTO streams (redacted QUIC flows only).
    quic: quic::QuicFlow,
}

/// A TCP segment or a UDP datagram of a frame: transport, source, destination, payload.
struct Carrying<'a> {
    transport: Transport,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    payload: &'a [u8],
    /// A TCP segment's sequence number and SYN flag.
    tcp: Option<(u32, bool)>,
}

impl<'a> Carrying<'a> {
    /// The segment or datagram of a decoded frame.
    fn of(decoded: Decoded<'a>) -> Option<Carrying<'a>> {
        match decoded {
            Decoded::Tcp(seg) => Some(Carrying {
                transport: Transport::Tcp,
                src: (seg.src_ip, seg.src_port),
                dst: (seg.dst_ip, seg.dst_port),
                payload: seg.payload,
                tcp: Some((seg.seq, seg.flags.syn())),
            }),
            Decoded::Udp(d) => Some(Carrying {
                transport: Transport::Quic,
                src: (d.src_ip, d.src_port),
                dst: (d.dst_ip, d.dst_port),
                payload: d.payload,
                tcp: None,
            }),
            _ => None,
        }
    }
}

impl Selected {
    /// Whether `seg` of frame `number` belongs to this flow, and if so, from the client or not.
    fn direction_of(&self, seg: &Carrying<'_>, number: u64) -> Option<bool> {
        if seg.transport != self.transport || !(self.first..=self.last).contains(&number) {
            return None;
        }
        let a = seg.src;
        let b = seg.dst;
        if self.client == a && self.server == b {
            Some(true)
        } else if self.client == b && self.server == a {
            Some(false)
        } else {
            None
        }
    }
}

impl Selected {
    /// A QUIC flow's handshake part ends with `seg` of frame `number` when the client sent it
    /// with a 1-RTT packet: nothing after it is written.
    fn end_quic_handshake(&mut self, seg: &Carrying<'_>, from_client: bool, number: u64) {
        if from_client && quic::ends_handshake(seg.payload) {
            self.last = self.last.min(number);
        }
    }
}

/// Addresses of the flows that a redacted extract must not carry, besides those in
/// [`sensitive_names`].
fn sensitive_addresses(flows: &[&FlowReport]) -> Vec<IpAddr> {
    let mut found: Vec<IpAddr> = flows
        .iter()
        .flat_map(|f| [f.client.ip, f.server.ip])
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// Host names of the flows that a redacted extract must not carry.
fn sensitive_names(flows: &[&FlowReport]) -> Vec<String> {
    let mut names = Vec::new();
    for f in flows {
        names.extend(f.sni.clone());
        if let Some(cert) = &f.server_certificate {
            names.extend(cert.san.iter().filter_map(|s| {
                s.strip_prefix("DNS:")
                    .or_else(|| s.strip_prefix("IP:"))
                    .map(str::to_string)
            }));
            for part in cert.subject.split(", ").chain(cert.issuer.split(", ")) {
                if let Some(value) = part.split_once('=').map(|(_, v)| v) {
                    names.push(value.to_string());
                }
            }
        }
        if let Some(target) = f.proxy.as_ref().and_then(|p| p.target.as_ref()) {
            let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
            names.push(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            );
        }
    }
    names
}

/// Writes the packets of `flows` (ids from `report`) up to the end of their handshakes.
/// `keylog` adds a Decryption Secrets Block with those flows' handshake secrets; `redactor`
/// rewrites the packets (addresses, MAC addresses, host names) for a public ticket.
pub fn extract(
    report: &Report,
    flow_ids: &[u64],
    keylog: Option<&KeyLog>,
    redactor: Option<&mut Redactor>,
    filter: Option<&Filter>,
    out_path: &Path,
) -> Result<ExtractSummary, ExtractError> {
    let write_err = |source| ExtractError::Write {
        path: out_path.to_path_buf(),
        source,
    };
    let wanted: std::collections::HashSet<u64> = flow_ids.iter().copied().collect();
    let chosen: Vec<&FlowReport> = report
        .flows
        .iter()
        .filter(|f| wanted.contains(&f.id))
        .collect();
    let names = sensitive_names(&chosen);
    let addresses = sensitive_addresses(&chosen);
    let mut scrubber = redactor.map(|r| Scrubber::new(r, &names, &addresses));
    let mut by_capture = select(&chosen, scrubber.as_mut());
    let file = File::create(out_path).map_err(write_err)?;
    let mut writer = PcapngWriter::new(BufWriter::new(file)).map_err(write_err)?;
    let mut summary = ExtractSummary {
        flows: chosen.len(),
        ..ExtractSummary::default()
    };
    if let Some(keylog) = keylog {
        let (lines, connections) = handshake_secrets(&chosen, keylog);
        summary.secrets = connections;
        if !lines.is_empty() {
            writer.key_log(&lines).map_err(write_err)?;
        }
    }
    let mut captures: Vec<usize> = by_capture.keys().copied().collect();
    captures.sort_unstable();
    let mut budget = stream::MAX_STORED_BYTES;
    for index in captures {
        let capture = report.captures.get(index);
        let path = capture.map_or("", |c| c.path.as_str());
        let merged: Option<Vec<String>> = capture
            .and_then(|c| c.merged.as_ref())
            .map(|files| files.iter().map(|f| f.path.clone()).collect());
        if path == "-" || merged.iter().flatten().any(|p| p == "-") {
            return Err(ExtractError::Stdin);
        }
        let source = Source {
            files: match &merged {
                Some(paths) => Files::Merged(paths),
                None => Files::One(path),
            },
            filter,
        };
        let mut selected = by_capture.remove(&index).unwrap_or_default();
        let copied = match scrubber.as_mut() {
            Some(scrubber) => collect_streams(&source, &mut selected, &mut budget).map(|()| {
                for flow in &mut selected {
                    if flow.transport == Transport::Quic {
                        flow.quic.finish(scrubber);
                        continue;
                    }
                    for (direction, from_client) in flow.streams.iter_mut().zip([true, false]) {
                        direction.finish(from_client, scrubber);
                        summary.not_tls_directions += usize::from(direction.not_tls());
                    }
                }
            }),
            None => Ok(()),
        }
        .and_then(|()| copy_packets(&source, &mut selected, &mut writer, scrubber.as_mut()));
        let (packets, cut, quic_cut) = copied.map_err(|e| match e {
            CopyError::Open(source) => ExtractError::Reopen {
                path: path.to_string(),
                source,
            },
            CopyError::Read(source) => ExtractError::Read {
                path: path.to_string(),
                source,
            },
            CopyError::Write(source) => write_err(source),
        })?;
        summary.packets += packets;
        summary.cut_packets += cut;
        summary.quic_cut_packets += quic_cut;
    }
    writer.flush().map_err(write_err)?;
    Ok(summary)
}

/// The chosen flows by capture, each with the comment its first packet will carry.
fn select(
    chosen: &[&FlowReport],
    mut scrubber: Option<&mut Scrubber<'_>>,
) -> HashMap<usize, Vec<Selected>> {
    let mut by_capture: HashMap<usize, Vec<Selected>> = HashMap::new();
    for f in chosen {
        let comment = format!("alpnscope flow {}: {} — {}", f.id, f.verdict, f.detail);
        let comment = match scrubber.as_deref_mut() {
            Some(s) => s.text(&comment),
            None => comment,
        };
        by_capture.entry(f.capture).or_default().push(Selected {
            transport: f.transport,
            client: (f.client.ip, f.client.port),
            server: (f.server.ip, f.server.port),
            first: f.first_frame,
            last: f
                .tcp
                .as_ref()
                .and_then(|t| t.handshake_end_frame)
                .unwrap_or(f.last_frame),
            comment: fit_option_text(comment),
            commented: false,
            streams: Default::default(),
            quic: Default::default(),
        });
    }
    by_capture
}

/// NSS key log lines with the handshake secrets of the chosen flows, and how many connections
/// they cover.
fn handshake_secrets(chosen: &[&FlowReport], keylog: &KeyLog) -> (String, usize) {
    let mut lines = String::new();
    let mut connections = 0;
    for f in chosen {
        let Some(ch) = &f.client_hello else { continue };
        let Some(secrets) = decode_hex(&ch.random).and_then(|random| keylog.get(&random)) else {
            continue;
        };
        for (label, secret) in [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &secrets.client),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", &secrets.server),
        ] {
            if let Some(secret) = secret {
                let hex = crate::hex::encode(secret);
                lines.push_str(&format!("{label} {} {hex}\n", ch.random));
            }
        }
        connections += 1;
    }
    (lines, connections)
}

/// Why copying one capture's packets stopped.
enum CopyError {
    /// The capture could not be opened again.
    Open(io::Error),
    /// The capture could not be read again.
    Read(CaptureError),
    /// The extract could not be written.
    Write(io::Error),
}

/// First pass of a redacted extract: reads the capture at `path` and hands each segment of the
/// `selected` flows to its direction, each datagram to its QUIC flow.
fn collect_streams(
    source: &Source<'_>,
    selected: &mut [Selected],
    budget: &mut usize,
) -> Result<(), CopyError> {
    read_frames(source, &mut |frame| {
        let Some(seg) = Carrying::of(decode::decode_frame(frame)) else {
            return;
        };
        for flow in selected.iter_mut() {
            if let Some(from_client) = flow.direction_of(&seg, frame.number) {
                match seg.tcp {
                    Some((seq, syn)) => flow.streams[usize::from(!from_client)].collect(
                        seq,
                        syn,
                        seg.payload,
                        budget,
                    ),
                    None => {
                        flow.quic.collect(seg.payload, from_client, budget);
                        flow.end_quic_handshake(&seg, from_client, frame.number);
                    }
                }
                return;
            }
        }
    })
}

/// Where an extract reads a capture's frames again: its files (one, or those of a merged
/// capture), and the capture filter the report read them through.
struct Source<'a> {
    files: Files<'a>,
    filter: Option<&'a Filter>,
}

/// One file, or the files of a merged capture (`--merge`), merged again as the report read them.
enum Files<'a> {
    One(&'a str),
    Merged(&'a [String]),
}

/// Hands every frame of `source` that the report analysed to `on_frame` (not those the capture
/// filter dropped, as `tcpdump -w` writes only what it passes), numbered as the report numbers
/// them.
fn read_frames(
    source: &Source<'_>,
    on_frame: &mut dyn FnMut(&capture::Frame<'_>),
) -> Result<(), CopyError> {
    match source.files {
        Files::One(path) => {
            let input = File::open(path).map_err(CopyError::Open)?;
            let (input, _) =
                capture::decompressing(io::BufReader::new(input)).map_err(CopyError::Open)?;
            let filter = source.filter.map(Filter::matcher);
            capture::read_capture_filtered(input, None, filter, |event| {
                if let CaptureEvent::Frame(frame) = event {
                    on_frame(&frame);
                }
            })
            .map_err(CopyError::Read)?;
            Ok(())
        }
        Files::Merged(paths) => {
            crate::pipeline::files::for_each_merged_frame(paths, source.filter, on_frame)
                .map_err(|e| CopyError::Read(CaptureError::Io(io::Error::other(e.to_string()))))
        }
    }
}

/// Reads the capture at `path` again and writes the packets of the `selected` flows; returns how
/// many were written and of those, how many TCP segments and QUIC datagrams had their payload
/// cut.
fn copy_packets<W: Write>(
    source: &Source<'_>,
    selected: &mut [Selected],
    writer: &mut PcapngWriter<W>,
    mut scrubber: Option<&mut Scrubber<'_>>,
) -> Result<(u64, u64, u64), CopyError> {
    let mut failure: Option<io::Error> = None;
    let mut packets = 0;
    let mut cut = 0;
    let mut quic_cut = 0;
    read_frames(source, &mut |frame| {
        if failure.is_some() {
            return;
        }
        let Some(seg) = Carrying::of(decode::decode_frame(frame)) else {
            return;
        };
        let Some((flow, from_client)) = selected
            .iter_mut()
            .find_map(|s| s.direction_of(&seg, frame.number).map(|d| (s, d)))
        else {
            return;
        };
        let scrubbed;
        let data: &[u8] = match scrubber.as_deref_mut() {
            Some(s) => {
                let mut was_cut = false;
                if seg.tcp.is_some() {
                    let direction = &flow.streams[usize::from(!from_client)];
                    scrubbed = s.frame(frame.link_type, frame.data, &mut |carried, payload| {
                        let Carried::Tcp { seq, syn } = carried else {
                            return 0;
                        };
                        let kept = direction.patch(seq, syn, payload);
                        was_cut = kept < payload.len();
                        kept
                    });
                    cut += u64::from(was_cut);
                } else {
                    // The datagram rewritten first (the scrubber's patterns), then put in place
                    // of the original payload.
                    let mut rewritten = seg.payload.to_vec();
                    let kept = flow
                        .quic
                        .rewrite(seg.payload, from_client, &mut rewritten, s);
                    rewritten.truncate(kept);
                    scrubbed = s.frame(frame.link_type, frame.data, &mut |carried, payload| {
                        if carried != Carried::Udp || payload.len() != seg.payload.len() {
                            was_cut = !payload.is_empty();
                            return 0;
                        }
                        payload[..rewritten.len()].copy_from_slice(&rewritten);
                        was_cut = rewritten.len() < payload.len();
                        rewritten.len()
                    });
                    quic_cut += u64::from(was_cut);
                }
                &scrubbed
            }
            None => frame.data,
        };
        if seg.tcp.is_none() {
            flow.end_quic_handshake(&seg, from_client, frame.number);
        }
        let comment = (!flow.commented).then_some(flow.comment.as_str());
        flow.commented = true;
        match writer.packet(frame, data, comment) {
            Ok(()) => packets += 1,
            Err(e) => failure = Some(e),
        }
    })?;
    match failure {
        Some(e) => Err(CopyError::Write(e)),
        None => Ok((packets, cut, quic_cut)),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pcapng::MAX_OPTION_BYTES;
    use super::*;
    use pcap_parser::pcapng::{Block, OptionCode, parse_block_le};

    /// The packet comments of a little-endian pcapng, in file order.
    fn comments(mut bytes: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        while !bytes.is_empty() {
            let (rest, block) = parse_block_le(bytes).expect("a valid pcapng block");
            if let Block::EnhancedPacket(epb) = block {
                for opt in &epb.options {
                    match opt.code {
                        OptionCode::Comment => {
                            found.push(opt.as_str().expect("UTF-8 comment").to_string())
                        }
                        OptionCode::EndOfOpt => {}
                        other => panic!("unexpected option {other:?}: a length field lies"),
                    }
                }
            }
            bytes = rest;
        }
        found
    }

    #[test]
    fn option_text_is_cut_at_a_character_boundary() {
        assert_eq!(fit_option_text("short".into()), "short");
        let exact = "a".repeat(MAX_OPTION_BYTES);
        assert_eq!(fit_option_text(exact.clone()), exact);
        // Two-byte characters: room for the last one ends at byte 65,532, inside a character
        // (after the leading "x"), so the cut steps back one byte.
        let cut = fit_option_text(format!("x{}", "é".repeat(40_000)));
        assert!(cut.ends_with('…'));
        assert!(cut[1..].trim_end_matches('…').chars().all(|c| c == 'é'));
        assert_eq!(cut.len(), MAX_OPTION_BYTES - 1);
    }

    #[test]
    fn a_comment_longer_than_an_option_keeps_the_extract_valid() {
        let capture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls12-h2-agreed.pcap");
        let mut report = crate::analyze_files(
            &[capture.to_string()],
            &crate::AnalyzeOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        let flow = &mut report.flows[0];
        flow.detail = "é".repeat(40_000); // 80,000 bytes
        let ids = [flow.id];
        let out = std::env::temp_dir().join(format!(
            "alpnscope-long-comment-{}.pcapng",
            std::process::id()
        ));
        let written = extract(&report, &ids, None, None, None, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let _ = std::fs::remove_file(&out);
        assert!(written.packets > 1);

        let mut frames = 0;
        let summary = capture::read_capture_slice(&bytes, |event| {
            if let CaptureEvent::Frame(_) = event {
                frames += 1;
            }
        })
        .unwrap();
        assert!(summary.complete(), "{:?}", summary.warnings);
        assert_eq!(summary.packets, written.packets);
        assert_eq!(frames, written.packets);

        let comments = comments(&bytes);
        assert_eq!(comments.len(), 1);
        let comment = &comments[0];
        assert!(comment.len() <= MAX_OPTION_BYTES);
        let start = format!(
            "alpnscope flow {}: {} — éé",
            ids[0], report.flows[0].verdict
        );
        assert!(comment.starts_with(&start), "{}", &comment[..60]);
        assert!(comment.ends_with("é…"));
    }
}
