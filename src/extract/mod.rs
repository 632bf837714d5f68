//! Handshake-only captures: the packets of selected flows, up to the end of their TLS handshake,
//! written to a small pcapng for a bug ticket.
//!
//! One section; one interface per original link type, with nanosecond timestamps; the original
//! timestamps; a comment on each flow's first packet with its verdict; and, on request, a
//! Decryption Secrets Block holding only the handshake secrets of those flows, so Wireshark can
//! show EncryptedExtensions while no application data can be decrypted. The capture files are
//! read a second time; nothing is kept in memory but the packets being written.

mod scrub;

pub use scrub::Scrubber;

use crate::capture::{self, CaptureEvent, LinkType};
use crate::decode::{self, Decoded};
use crate::report::model::{FlowReport, Report};
use crate::report::redact::Redactor;
use crate::tls::keylog::KeyLog;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// pcapng block types and option codes.
mod pcapng {
    pub const SECTION_HEADER: u32 = 0x0A0D_0D0A;
    pub const INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
    pub const ENHANCED_PACKET: u32 = 0x0000_0006;
    pub const DECRYPTION_SECRETS: u32 = 0x0000_000A;
    pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
    pub const OPT_END: u16 = 0;
    pub const OPT_COMMENT: u16 = 1;
    pub const SHB_USERAPPL: u16 = 4;
    pub const IF_TSRESOL: u16 = 9;
    pub const TLS_KEY_LOG: u32 = 0x544c_534b;
}

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
    /// A capture could not be read again.
    Read {
        /// Path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A capture read from standard input cannot be read a second time.
    Stdin,
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            ExtractError::Read { path, message } => {
                write!(f, "cannot read {path} again: {message}")
            }
            ExtractError::Stdin => write!(
                f,
                "--extract needs to read the capture twice: give a file, not standard input"
            ),
        }
    }
}

impl std::error::Error for ExtractError {}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Flows written.
    pub flows: usize,
    /// Packets written.
    pub packets: u64,
    /// Connections whose handshake secrets were embedded.
    pub secrets: usize,
}

/// A flow to extract: its endpoints and frame range within its capture.
struct Selected {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    first: u64,
    last: u64,
    comment: String,
    commented: bool,
}

fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Longest pcapng option value: its length field has 16 bits.
const MAX_OPTION_BYTES: usize = u16::MAX as usize;

/// Appends one option. A value longer than an option can hold is cut, so the length field
/// never lies about the bytes that follow; text goes through [`fit_option_text`] first.
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = &value[..value.len().min(MAX_OPTION_BYTES)];
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.extend(std::iter::repeat_n(0u8, pad4(value.len())));
}

/// `text` cut at a character boundary to fit an option value (pcapng options hold UTF-8),
/// ending in `…` when something was cut.
fn fit_option_text(mut text: String) -> String {
    if text.len() <= MAX_OPTION_BYTES {
        return text;
    }
    let mut end = MAX_OPTION_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

fn block(out: &mut dyn Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + body.len() + pad4(body.len())) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..pad4(body.len())])?;
    out.write_all(&total.to_le_bytes())
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
    out_path: &Path,
) -> Result<ExtractSummary, ExtractError> {
    let write_err = |source| ExtractError::Write {
        path: out_path.to_path_buf(),
        source,
    };
    let chosen: Vec<&FlowReport> = report
        .flows
        .iter()
        .filter(|f| flow_ids.contains(&f.id))
        .collect();
    let names = sensitive_names(&chosen);
    let mut scrubber = redactor.map(|r| Scrubber::new(r, &names));
    let mut by_capture: HashMap<usize, Vec<Selected>> = HashMap::new();
    for f in &chosen {
        let client = (f.client.ip, f.client.port);
        let server = (f.server.ip, f.server.port);
        by_capture.entry(f.capture).or_default().push(Selected {
            client,
            server,
            first: f.first_frame,
            last: f.tcp.handshake_end_frame.unwrap_or(f.last_frame),
            comment: {
                let comment = format!("alpnscope flow {}: {} — {}", f.id, f.verdict, f.detail);
                fit_option_text(match scrubber.as_mut() {
                    Some(s) => s.text(&comment),
                    None => comment,
                })
            },
            commented: false,
        });
    }
    let file = File::create(out_path).map_err(write_err)?;
    let mut out = BufWriter::new(file);
    let mut shb = Vec::new();
    shb.extend_from_slice(&pcapng::BYTE_ORDER_MAGIC.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    option(
        &mut shb,
        pcapng::SHB_USERAPPL,
        format!("alpnscope {}", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    option(&mut shb, pcapng::OPT_END, &[]);
    block(&mut out, pcapng::SECTION_HEADER, &shb).map_err(write_err)?;

    let mut summary = ExtractSummary {
        flows: chosen.len(),
        ..ExtractSummary::default()
    };
    if let Some(keylog) = keylog {
        let mut lines = String::new();
        for f in &chosen {
            let Some(ch) = &f.client_hello else { continue };
            let Some(random) = decode_hex(&ch.random) else {
                continue;
            };
            if let Some(secrets) = keylog.get(&random) {
                for (label, secret) in [
                    ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &secrets.client),
                    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", &secrets.server),
                ] {
                    if let Some(secret) = secret {
                        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                        lines.push_str(&format!("{label} {} {hex}\n", ch.random));
                    }
                }
                summary.secrets += 1;
            }
        }
        if !lines.is_empty() {
            let mut dsb = Vec::new();
            dsb.extend_from_slice(&pcapng::TLS_KEY_LOG.to_le_bytes());
            dsb.extend_from_slice(&(lines.len() as u32).to_le_bytes());
            dsb.extend_from_slice(lines.as_bytes());
            dsb.extend(std::iter::repeat_n(0u8, pad4(lines.len())));
            block(&mut out, pcapng::DECRYPTION_SECRETS, &dsb).map_err(write_err)?;
        }
    }

    let mut interfaces: Vec<LinkType> = Vec::new();
    let mut captures: Vec<usize> = by_capture.keys().copied().collect();
    captures.sort_unstable();
    for index in captures {
        let path = &report.captures[index].path;
        if path == "-" {
            return Err(ExtractError::Stdin);
        }
        let selected = by_capture
            .get_mut(&index)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut selected = selected;
        let mut failure: Option<io::Error> = None;
        let input = File::open(path).map_err(|e| ExtractError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        capture::read_capture(io::BufReader::new(input), |event| {
            let CaptureEvent::Frame(frame) = event else {
                return;
            };
            if failure.is_some() {
                return;
            }
            let Decoded::Tcp(seg) = decode::decode_frame(&frame) else {
                return;
            };
            let a = (seg.src_ip, seg.src_port);
            let b = (seg.dst_ip, seg.dst_port);
            let Some(flow) = selected.iter_mut().find(|s| {
                ((s.client == a && s.server == b) || (s.client == b && s.server == a))
                    && (s.first..=s.last).contains(&frame.number)
            }) else {
                return;
            };
            let interface = match interfaces.iter().position(|l| *l == frame.link_type) {
                Some(i) => i,
                None => {
                    let mut idb = Vec::new();
                    idb.extend_from_slice(&(frame.link_type.0 as u16).to_le_bytes());
                    idb.extend_from_slice(&0u16.to_le_bytes());
                    idb.extend_from_slice(&0u32.to_le_bytes());
                    option(&mut idb, pcapng::IF_TSRESOL, &[9]);
                    option(&mut idb, pcapng::OPT_END, &[]);
                    if let Err(e) = block(&mut out, pcapng::INTERFACE_DESCRIPTION, &idb) {
                        failure = Some(e);
                        return;
                    }
                    interfaces.push(frame.link_type);
                    interfaces.len() - 1
                }
            };
            let scrubbed;
            let data: &[u8] = match scrubber.as_mut() {
                Some(s) => {
                    scrubbed = s.frame(frame.link_type, frame.data);
                    &scrubbed
                }
                None => frame.data,
            };
            let ns = frame.timestamp.0.max(0) as u64;
            let mut epb = Vec::with_capacity(32 + data.len());
            epb.extend_from_slice(&(interface as u32).to_le_bytes());
            epb.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ns as u32).to_le_bytes());
            epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
            epb.extend_from_slice(&frame.original_len.to_le_bytes());
            epb.extend_from_slice(data);
            epb.extend(std::iter::repeat_n(0u8, pad4(data.len())));
            if !flow.commented {
                flow.commented = true;
                option(&mut epb, pcapng::OPT_COMMENT, flow.comment.as_bytes());
                option(&mut epb, pcapng::OPT_END, &[]);
            }
            match block(&mut out, pcapng::ENHANCED_PACKET, &epb) {
                Ok(()) => summary.packets += 1,
                Err(e) => failure = Some(e),
            }
        })
        .map_err(|e| ExtractError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(e) = failure {
            return Err(write_err(e));
        }
    }
    out.flush().map_err(write_err)?;
    Ok(summary)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
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
        let written = extract(&report, &ids, None, None, &out).unwrap();
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
