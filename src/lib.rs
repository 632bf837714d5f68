//! alpnscope: why did this TLS connection end up on HTTP/1.1 (or fail) when the client asked
//! for h2? Reads packet captures, reassembles every TCP stream, parses the TLS hellos and reports
//! per flow what ALPN protocols the client offered, what the server selected, and a verdict.
//!
//! The pipeline, one module per stage, dependencies pointing down:
//!
//! ```text
//! capture   pcap / pcapng stream ──► Frame { number, timestamp, link type, bytes }
//!    │
//! decode    link → IP → TCP ───────► Segment { endpoints, seq, ack, flags, ttl, payload }
//!    │
//! flow      FlowKey + Side, per-direction Reassembler ──► ordered Chunks (data | gap)
//!    │
//! tls       DirectionParser: records, handshake messages ──► TlsEvents (hellos, alerts, …)
//!    │
//! analysis  FlowFacts ──► Verdict { kind, detail, evidence frames }
//!    │
//! report    Report model ──► text | json | jsonl | markdown
//! ```
//!
//! [`pipeline::Analyzer`] wires the stages together; [`analyze_files`] runs it over files.

pub mod analysis;
pub mod capture;
pub mod decode;
pub mod flow;
pub mod pipeline;
pub mod report;
pub mod tls;

use capture::{CaptureError, CaptureEvent};
use pipeline::{Analyzer, AnalyzerOptions};
use report::model::Report;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A capture that could not be analysed at all.
#[derive(Debug)]
pub enum AnalyzeError {
    /// The file could not be opened.
    Open {
        /// Path as given.
        path: String,
        /// Cause.
        source: io::Error,
    },
    /// A key log file is not in NSS key log format.
    KeyLog {
        /// Path as given.
        path: String,
        /// Cause.
        source: tls::keylog::KeyLogError,
    },
    /// The file is not a capture, or reading it failed.
    Capture {
        /// Path as given.
        path: String,
        /// Cause.
        source: CaptureError,
    },
}

impl fmt::Display for AnalyzeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalyzeError::Open { path, source } => write!(f, "cannot open {path}: {source}"),
            AnalyzeError::Capture { path, source } => write!(f, "{path}: {source}"),
            AnalyzeError::KeyLog { path, source } => write!(f, "key log {path}: {source}"),
        }
    }
}

impl std::error::Error for AnalyzeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AnalyzeError::Open { source, .. } => Some(source),
            AnalyzeError::Capture { source, .. } => Some(source),
            AnalyzeError::KeyLog { source, .. } => Some(source),
        }
    }
}

/// Options for [`analyze_files`].
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Options of the pipeline.
    pub analyzer: AnalyzerOptions,
    /// Compute each file's SHA-256 while reading it.
    pub digest: bool,
    /// NSS key log files (SSLKEYLOGFILE) with TLS 1.3 handshake secrets.
    pub keylogs: Vec<String>,
}

/// pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Progress of a file read: bytes read so far and the file size when known.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Index of the capture.
    pub capture: usize,
    /// Bytes read so far.
    pub bytes: u64,
    /// Size of the file, when known.
    pub total: Option<u64>,
    /// Flows seen so far.
    pub flows: usize,
}

/// Counts (and optionally hashes) the bytes read through it.
struct MeteredReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
    hasher: Option<Sha256>,
}

impl<R: Read> Read for MeteredReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Analyses every capture in `paths` (`-` is stdin) and returns one report.
pub fn analyze_files(
    paths: &[String],
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, AnalyzeError> {
    let mut analyzer = Analyzer::new(options.analyzer.clone());
    for path in &options.keylogs {
        let text = std::fs::read(path).map_err(|source| AnalyzeError::Open {
            path: path.clone(),
            source,
        })?;
        analyzer
            .add_key_log(&String::from_utf8_lossy(&text))
            .map_err(|source| AnalyzeError::KeyLog {
                path: path.clone(),
                source,
            })?;
    }
    let mut captures = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let (input, size): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
            (Box::new(io::stdin()), None)
        } else {
            let file = File::open(Path::new(path)).map_err(|source| AnalyzeError::Open {
                path: path.clone(),
                source,
            })?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        let count = Arc::new(AtomicU64::new(0));
        let hasher = options.digest.then(Sha256::new);
        let mut metered = MeteredReader {
            inner: input,
            count: Arc::clone(&count),
            hasher,
        };
        analyzer.begin_capture(index);
        let mut frames: u64 = 0;
        let mut secrets_warnings = Vec::new();
        let summary = capture::read_capture(&mut metered, |event| match event {
            CaptureEvent::Frame(frame) => {
                analyzer.frame(&frame);
                frames += 1;
                if frames % 65_536 == 0 {
                    progress(Progress {
                        capture: index,
                        bytes: count.load(Ordering::Relaxed),
                        total: size,
                        flows: analyzer.active_flows() + analyzer.finished_flows(),
                    });
                }
            }
            CaptureEvent::Secrets { secrets_type, data } => {
                if secrets_type == SECRETS_TLS_KEY_LOG {
                    if let Err(e) = analyzer.add_key_log(&String::from_utf8_lossy(data)) {
                        secrets_warnings.push(format!("embedded TLS key log ignored: {e}"));
                    }
                }
            }
        })
        .map_err(|source| AnalyzeError::Capture {
            path: path.clone(),
            source,
        })?;
        let mut report = analyzer.end_capture(path, &summary);
        report.warnings.extend(secrets_warnings);
        report.size = size.or(Some(count.load(Ordering::Relaxed)));
        if options.digest {
            // Hash whatever the parser did not need to read (e.g. after a corrupt block).
            let _ = io::copy(&mut metered, &mut io::sink());
            report.sha256 = metered
                .hasher
                .take()
                .map(|h| h.finalize().iter().map(|b| format!("{b:02x}")).collect());
        }
        captures.push(report);
    }
    Ok(analyzer.into_report(captures))
}
