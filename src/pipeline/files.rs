//! The file driver: reads capture files and stdin into the flow table and returns one report.
//!
//! Regular files are read in large blocks into one reused buffer and parsed in place; pipes and
//! stdin go through the streaming reader. Key-log files are read before the first capture, and
//! pcapng Decryption Secrets Blocks are handed to the table as they appear. The driver reports
//! progress (bytes, flows) and, on request, each file's SHA-256.

use super::batch::{FrameSpan, LazyData};
use super::read_ahead::READ_AFTER_PART;
use super::{Analyzer, AnalyzerOptions, merge, read_ahead};
use crate::capture::{self, CaptureError, CaptureEvent};
use crate::report::model::{FlowReport, Report};
use crate::tls;
pub use read_ahead::ReadInPart;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::FileExt;
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
    /// More captures to merge than `--merge` takes (256).
    TooManyToMerge {
        /// Captures given.
        files: usize,
    },
    /// Writing a flow report failed (reading stopped there).
    Output {
        /// Cause.
        source: io::Error,
    },
}

impl fmt::Display for AnalyzeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalyzeError::Open { path, source } => {
                write!(f, "cannot open {path}: {}", capture::IoCause(source))
            }
            AnalyzeError::Capture { path, source } => write!(f, "{path}: {source}"),
            AnalyzeError::KeyLog { path, source } => write!(f, "key log {path}: {source}"),
            AnalyzeError::Output { source } => {
                write!(f, "writing the report failed: {}", capture::IoCause(source))
            }
            AnalyzeError::TooManyToMerge { files } => write!(
                f,
                "--merge reads at most {} captures at once, not {files}: merge them in groups first (e.g. `mergecap -w part1.pcapng FILE…`)",
                merge::MAX_MERGED_FILES
            ),
        }
    }
}

impl std::error::Error for AnalyzeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AnalyzeError::Open { source, .. } => Some(source),
            AnalyzeError::Capture { source, .. } => Some(source),
            AnalyzeError::KeyLog { source, .. } => Some(source),
            AnalyzeError::Output { source } => Some(source),
            AnalyzeError::TooManyToMerge { .. } => None,
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
    /// Packets to read at most over all the captures, in order (`-c`, as tcpdump): the capture
    /// where the count is reached says so, later captures are not read.
    pub count: Option<u64>,
    /// Read the captures as one (`--merge`): frames in timestamp order, numbered as
    /// `mergecap` numbers them, so a flow that spans two files is one flow.
    pub merge: bool,
    /// Capture filter (tcpdump syntax) applied to every frame before the flow table sees it;
    /// `count` then counts the frames it passes, as tcpdump's `-c` does.
    pub filter: Option<capture::filter::Filter>,
    /// Whether a capture file is read, parsed and decoded on a thread of its own
    /// (`--threads`; a merge reads each file on a thread of its own anyway).
    pub threads: Threads,
    /// Which packet blocks of a regular file are read in part, by the reading thread or the
    /// block reader (default: [`ReadInPart::DEFAULT`]).
    pub read_in_part: ReadInPart,
}

/// How many threads read one capture file: the reading thread parses and decodes beside the
/// analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// A reading thread for regular files of 8 MiB and more, when the machine has more than
    /// one core; smaller files are read faster than a thread starts.
    #[default]
    Auto,
    /// Everything on the calling thread (`--threads 1`).
    One,
    /// A reading thread for every regular file (`--threads 2` and more).
    Two,
    /// A reading thread for every regular file, in buffers of `buffer` bytes after `head_room`
    /// bytes of head room, the analysing thread copying every buffer the reading thread offers:
    /// every case of the hand-over (a block cut by a buffer's end, a block larger than the head
    /// room, a buffer filled by the other thread) at sizes a fuzzer's inputs reach. Slower than
    /// [`Threads::Two`]; for fuzzing and tests.
    #[doc(hidden)]
    SmallBuffers {
        /// Bytes read into each buffer (at least 1).
        buffer: usize,
        /// Bytes before each buffer's data, for the block the previous buffer cut (at least 1).
        head_room: usize,
    },
}

impl Threads {
    /// The choice for `--threads n`: one thread, or a reading thread beside the analysis (more
    /// threads are not used).
    pub fn from_count(n: usize) -> Threads {
        if n <= 1 { Threads::One } else { Threads::Two }
    }

    /// True when a regular file of `len` bytes is read on a thread of its own.
    fn read_ahead(self, len: u64) -> bool {
        match self {
            Threads::Auto => len >= READ_AHEAD_FROM && several_cores(),
            Threads::One => false,
            Threads::Two | Threads::SmallBuffers { .. } => true,
        }
    }

    /// The reading thread's buffer size and head room, and how the threads share the work
    /// besides the analysis.
    fn read_ahead_buffers(self) -> (usize, usize, read_ahead::Sharing) {
        match self {
            Threads::SmallBuffers { buffer, head_room } => (
                buffer.max(1),
                head_room.max(1),
                read_ahead::Sharing {
                    decoding: read_ahead::Decoding::Balanced,
                    copying: read_ahead::Copying::Always,
                },
            ),
            Threads::Auto | Threads::One | Threads::Two => (
                AHEAD_BUFFER,
                read_ahead::HEAD_ROOM,
                read_ahead::Sharing::BALANCED,
            ),
        }
    }
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

/// Analyses every capture in `paths` (`-` is stdin) and returns one report with every flow.
pub fn analyze_files(
    paths: &[String],
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, AnalyzeError> {
    let mut flows = Vec::new();
    let mut report = analyze_files_streaming(paths, options, progress, &mut |flow| {
        flows.push(*flow);
        Ok(())
    })?;
    report.flows = flows;
    Ok(report)
}

/// Where final flow reports go as soon as they are written: in order of flow id, except that
/// a flow open while [`super::MAX_WAITING_REPORTS`] later reports wait comes after them.
pub type FlowSink<'a> = dyn FnMut(Box<FlowReport>) -> io::Result<()> + 'a;

/// Analyses every capture in `paths` (`-` is stdin), handing each flow report to `on_flow` as
/// soon as it is final, and returns the rest of the report: captures, summary and diagnosis
/// over every flow, and no flows. Reading stops at the first error of `on_flow`.
pub fn analyze_files_streaming(
    paths: &[String],
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(Progress),
    on_flow: &mut FlowSink<'_>,
) -> Result<Report, AnalyzeError> {
    analyze(paths, options, progress, on_flow, None)
}

/// [`analyze_files_streaming`] that goes on past a capture it cannot read: one that cannot be
/// opened or is no capture (not one whose reading failed midway) is handed to `on_skip` and
/// left out of the report, and the next one is read. Flows and captures are numbered over the
/// captures read.
pub fn analyze_files_skipping(
    paths: &[String],
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(Progress),
    on_flow: &mut FlowSink<'_>,
    on_skip: &mut dyn FnMut(AnalyzeError),
) -> Result<Report, AnalyzeError> {
    analyze(paths, options, progress, on_flow, Some(on_skip))
}

/// Both: strict when `on_skip` is `None`.
fn analyze(
    paths: &[String],
    options: &AnalyzeOptions,
    progress: &mut dyn FnMut(Progress),
    on_flow: &mut FlowSink<'_>,
    mut on_skip: Option<&mut dyn FnMut(AnalyzeError)>,
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
    let mut captures: Vec<crate::report::model::CaptureReport> = Vec::new();
    let mut write_error = None;
    if options.merge && paths.len() > 1 {
        let capture = analyze_merged(
            paths,
            options,
            &mut analyzer,
            progress,
            on_flow,
            on_skip,
            &mut write_error,
        )?;
        captures.push(capture);
        if let Some(source) = write_error {
            return Err(AnalyzeError::Output { source });
        }
        return Ok(analyzer.into_report(captures));
    }
    let mut remaining = options.count;
    for (index, path) in paths.iter().enumerate() {
        if remaining == Some(0) {
            if let Some(last) = captures.last_mut() {
                last.warnings.push(match paths.len() - index {
                    1 => "the next capture was not read (-c/--count)".to_string(),
                    n => format!("the {n} captures after it were not read (-c/--count)"),
                });
            }
            break;
        }
        // Numbered over the captures read (a skipped one takes no number).
        analyzer.begin_capture(captures.len());
        let mut secrets_warnings = Vec::new();
        let mut feed = AnalyzerFeed {
            analyzer: &mut analyzer,
            secrets_warnings: &mut secrets_warnings,
            sink: Sink {
                on_flow: &mut *on_flow,
                error: &mut write_error,
            },
        };
        let reading = Reading {
            index,
            limit: remaining,
            filter: options
                .filter
                .as_ref()
                .map(capture::filter::Filter::matcher),
            digest: options.digest,
            threads: options.threads,
            read_in_part: options.read_in_part,
            consumer: &mut feed,
            progress,
        };
        let read = read_path(path, reading);
        let read = read.and_then(|(summary, size, sha256, compression)| match summary {
            Ok(summary) => Ok((summary, size, sha256, compression)),
            Err(source) => Err(AnalyzeError::Capture {
                path: path.clone(),
                source,
            }),
        });
        let (summary, size, sha256, compression) = match (read, &mut on_skip) {
            (Ok(read), _) => read,
            // A read that failed midway fed flows already: it cannot be left out.
            (
                Err(
                    e @ (AnalyzeError::Open { .. }
                    | AnalyzeError::Capture {
                        source:
                            CaptureError::Empty
                            | CaptureError::NotACapture
                            | CaptureError::Compressed(_)
                            | CaptureError::TruncatedHeader { .. },
                        ..
                    }),
                ),
                Some(on_skip),
            ) => {
                on_skip(e);
                continue;
            }
            (Err(e), _) => return Err(e),
        };
        // `-c` counts the frames the filter passed.
        let passed = summary
            .filter
            .as_ref()
            .map_or(summary.packets, |f| f.matched);
        remaining = remaining.map(|n| n.saturating_sub(passed));
        let mut sink = Sink {
            on_flow: &mut *on_flow,
            error: &mut write_error,
        };
        let mut report =
            analyzer.end_capture_streaming(path, &summary, &mut |flows| sink.write(flows));
        report.warnings.extend(secrets_warnings);
        report.compression = compression.map(|c| c.name().to_string());

        report.size = size;
        report.sha256 = sha256;
        captures.push(report);
        Sink {
            on_flow: &mut *on_flow,
            error: &mut write_error,
        }
        .drain(&mut analyzer);
        if let Some(source) = write_error {
            return Err(AnalyzeError::Output { source });
        }
    }
    Ok(analyzer.into_report(captures))
}

/// Reads `paths` merged into one capture (`--merge`) and returns its report; files that cannot
/// be read at all go to `on_skip` (an error without it).
fn analyze_merged(
    paths: &[String],
    options: &AnalyzeOptions,
    analyzer: &mut Analyzer,
    progress: &mut dyn FnMut(Progress),
    on_flow: &mut FlowSink<'_>,
    on_skip: Option<&mut dyn FnMut(AnalyzeError)>,
    write_error: &mut Option<io::Error>,
) -> Result<crate::report::model::CaptureReport, AnalyzeError> {
    if paths.len() > merge::MAX_MERGED_FILES {
        return Err(AnalyzeError::TooManyToMerge { files: paths.len() });
    }
    analyzer.begin_capture(0);
    let mut secrets_warnings = Vec::new();
    let mut feed = AnalyzerFeed {
        analyzer: &mut *analyzer,
        secrets_warnings: &mut secrets_warnings,
        sink: Sink {
            on_flow: &mut *on_flow,
            error: &mut *write_error,
        },
    };
    let merged = merge::read_merged(
        paths,
        options.digest,
        options.count,
        options.filter.as_ref(),
        merge::MergeTarget {
            consumer: &mut feed,
            progress,
        },
    )?;
    let mut skipped = merged.skipped.into_iter();
    match on_skip {
        Some(on_skip) => skipped.for_each(on_skip),
        None => {
            if let Some(e) = skipped.next() {
                return Err(e);
            }
        }
    }
    let path = merge::merged_name(&merged.files);
    let mut sink = Sink {
        on_flow: &mut *on_flow,
        error: &mut *write_error,
    };
    let mut report =
        analyzer.end_capture_streaming(&path, &merged.summary, &mut |flows| sink.write(flows));
    // The files' own warnings first, as a single capture's come first.
    report.warnings.splice(0..0, merged.warnings);
    report.warnings.extend(secrets_warnings);
    report.complete = report.complete && merged.files.iter().all(|f| f.complete);
    report.size = merged
        .files
        .iter()
        .try_fold(0u64, |sum, f| f.size.map(|s| sum + s));
    report.merged = Some(merged.files);
    Sink {
        on_flow: &mut *on_flow,
        error: &mut *write_error,
    }
    .drain(analyzer);
    Ok(report)
}

/// Reads `paths` merged as `--merge` merges them (through `filter`, as the report read them)
/// and hands each frame the flow table would analyse to `on_frame`, numbered as in the report (a
/// copy of a packet captured in two files, or a frame the filter drops, is left out, as the
/// analysis left it out). Files that cannot be read at all are left out.
/// For extracts of a merged capture.
pub fn for_each_merged_frame(
    paths: &[String],
    filter: Option<&capture::filter::Filter>,
    on_frame: &mut dyn FnMut(&capture::Frame<'_>),
) -> Result<(), AnalyzeError> {
    /// Frames to a callback.
    struct Frames<'a>(&'a mut dyn FnMut(&capture::Frame<'_>));
    impl EventConsumer for Frames<'_> {
        fn event(&mut self, event: CaptureEvent<'_>) {
            if let CaptureEvent::Frame(frame) = event {
                (self.0)(&frame);
            }
        }
        fn stopped(&self) -> bool {
            false
        }
        fn flows(&self) -> usize {
            0
        }
    }
    merge::read_merged(
        paths,
        false,
        None,
        filter,
        merge::MergeTarget {
            consumer: &mut Frames(on_frame),
            progress: &mut |_| {},
        },
    )
    .map(|_| ())
}

/// The flow reports' way out while captures are read.
struct Sink<'a, 'b> {
    on_flow: &'a mut FlowSink<'b>,
    /// The first error of `on_flow`: later reports are dropped, and reading stops.
    error: &'a mut Option<io::Error>,
}

impl Sink<'_, '_> {
    /// Hands the reports the analyzer has ready to `on_flow`.
    fn drain(&mut self, analyzer: &mut Analyzer) {
        if analyzer.has_flows() {
            self.write(analyzer.take_flows());
        }
    }

    /// Hands `flows` to `on_flow`.
    #[allow(clippy::vec_box)] // as the analyzer hands them out
    fn write(&mut self, flows: Vec<Box<FlowReport>>) {
        for flow in flows {
            if self.error.is_none()
                && let Err(e) = (self.on_flow)(flow)
            {
                *self.error = Some(e);
            }
        }
    }

    /// True once writing failed.
    fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// What takes the events of one capture while it is read: the flow table
/// ([`AnalyzerFeed`]), or a merge's reader thread ([`super::merge`]).
pub(super) trait EventConsumer {
    /// Takes one event.
    fn event(&mut self, event: CaptureEvent<'_>);
    /// True once nobody needs more events: reading stops.
    fn stopped(&self) -> bool;
    /// Flows seen so far, for progress reports.
    fn flows(&self) -> usize;
    /// A frame of a merge that repeats a packet another file captured first (not analysed).
    fn copy(&mut self, _frame: &capture::Frame<'_>) {}
    /// True when the consumer takes frames decoded ([`EventConsumer::decoded_frame`]): a
    /// reading thread then decodes them while the consumer takes the previous ones.
    fn wants_decoded(&self) -> bool {
        false
    }
    /// A frame and its decoding ([`crate::decode::decode_frame`]'s outcome for it), in place of
    /// its [`CaptureEvent::Frame`].
    fn decoded_frame(&mut self, frame: &capture::Frame<'_>, _decoded: crate::decode::Decoded<'_>) {
        self.event(CaptureEvent::Frame(*frame));
    }
    /// True when the consumer can say of a frame whether its data matters
    /// ([`EventConsumer::data_matters`]): the file readers then read only the first bytes of
    /// large packet blocks, and the data of those that matter when they are taken.
    fn reads_data_lazily(&self) -> bool {
        false
    }
    /// False when taking a frame decoded as `decoded` now would not look at its data.
    fn data_matters(&self, _decoded: &crate::decode::Decoded<'_>) -> bool {
        true
    }
}

/// The flow table as the consumer of a capture's events, and the reports it finishes going
/// to the sink.
struct AnalyzerFeed<'a> {
    analyzer: &'a mut Analyzer,
    secrets_warnings: &'a mut Vec<String>,
    sink: Sink<'a, 'a>,
}

impl EventConsumer for AnalyzerFeed<'_> {
    fn event(&mut self, event: CaptureEvent<'_>) {
        on_capture_event(self.analyzer, self.secrets_warnings, &mut self.sink, event);
    }

    fn stopped(&self) -> bool {
        self.sink.failed()
    }

    fn flows(&self) -> usize {
        self.analyzer.active_flows() + self.analyzer.finished_flows()
    }

    fn copy(&mut self, frame: &capture::Frame<'_>) {
        self.analyzer.copy_seen(frame);
    }

    fn wants_decoded(&self) -> bool {
        true
    }

    fn decoded_frame(&mut self, frame: &capture::Frame<'_>, decoded: crate::decode::Decoded<'_>) {
        self.analyzer.decoded_frame(frame, decoded);
        self.sink.drain(self.analyzer);
    }

    fn reads_data_lazily(&self) -> bool {
        true
    }

    fn data_matters(&self, decoded: &crate::decode::Decoded<'_>) -> bool {
        self.analyzer.data_matters(decoded)
    }
}

/// Where the frames of one capture go while it is read.
pub(super) struct Reading<'a> {
    /// Index of the capture, for progress reports.
    pub(super) index: usize,
    /// Packets to read at most (`-c`; counted after the filter).
    pub(super) limit: Option<u64>,
    /// The capture filter's matcher for this capture.
    pub(super) filter: Option<capture::filter::FrameFilter>,
    /// Compute the file's SHA-256.
    pub(super) digest: bool,
    /// Whether a reading thread reads the file.
    pub(super) threads: Threads,
    /// Which packet blocks are read in part.
    pub(super) read_in_part: ReadInPart,
    /// Takes the events.
    pub(super) consumer: &'a mut dyn EventConsumer,
    /// Told how far reading got.
    pub(super) progress: &'a mut dyn FnMut(Progress),
}

/// What reading one capture gives: its summary (or error), its size, its digest and the
/// compression it was read through.
pub(super) type ReadOutcome = (
    Result<capture::CaptureSummary, CaptureError>,
    Option<u64>,
    Option<String>,
    Option<capture::Compression>,
);

pub(super) fn hex_digest(hasher: Sha256) -> String {
    crate::hex::encode(&hasher.finalize())
}

/// Passes one capture event to the analyzer, and the reports it finished to the sink.
fn on_capture_event(
    analyzer: &mut Analyzer,
    secrets_warnings: &mut Vec<String>,
    sink: &mut Sink<'_, '_>,
    event: CaptureEvent<'_>,
) {
    match event {
        CaptureEvent::Frame(frame) => {
            analyzer.frame(&frame);
            sink.drain(analyzer);
        }
        CaptureEvent::Dropped(frame) => analyzer.filtered_out(&frame),
        CaptureEvent::Secrets { secrets_type, data } => {
            if secrets_type == SECRETS_TLS_KEY_LOG
                && let Err(e) = analyzer.add_key_log(&String::from_utf8_lossy(data))
            {
                secrets_warnings.push(format!("embedded TLS key log ignored: {e}"));
            }
        }
    }
}

/// Frames between two progress reports.
pub(super) const PROGRESS_EVERY: u64 = 65_536;

/// Files from this size on are read on a thread of their own while they are parsed
/// ([`read_ahead`]), when the machine has more than one core.
const READ_AHEAD_FROM: u64 = 8 << 20;

/// True when more than one core is available.
pub(super) fn several_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Size of the block buffer of [`read_blocks`].
const READ_BUFFER: usize = 2 << 20;

/// Size of each buffer of the reading thread ([`read_ahead`]): smaller than [`READ_BUFFER`],
/// because the frames' decodings travel with each buffer (about 150 bytes a frame: a buffer
/// of SYN-sized frames holds about 7,000) and three buffers are in use at once.
const AHEAD_BUFFER: usize = 512 << 10;

/// Smallest block buffer of [`read_blocks`].
const MIN_READ_BUFFER: usize = 64 << 10;

/// The block buffer for a file of `len` bytes: [`READ_BUFFER`], or less for a smaller file —
/// room for the whole file and one byte, so the first read already meets its end. The buffer is
/// zeroed when allocated, and a capture of a few kilobytes should not pay for two megabytes. A
/// file that grows while it is read is still read whole, in pieces of the buffer's size.
fn block_buffer_size(len: u64) -> usize {
    usize::try_from(len)
        .map_or(READ_BUFFER, |len| len.saturating_add(1))
        .clamp(MIN_READ_BUFFER, READ_BUFFER)
}

/// A packet block the block reader read in part: its frame, when the block is one (its bytes
/// as a span of the bytes read), and its length in the file.
struct CutRecord {
    frame: Option<CutFrame>,
    length: u64,
}

/// The frame of a [`CutRecord`]: the bytes read of it, the bytes it captured, and where in the
/// file the bytes not read are.
struct CutFrame {
    frame: FrameSpan,
    captured: u32,
    rest_at: u64,
}

/// When `bytes`, read at `record_at` from `file` (of `len` bytes), begin with a block their end
/// cuts that is a record to read in part (`in_part`), takes it as read
/// ([`capture::SliceParser::skip_cut_record`], as the reading thread does) and returns it;
/// `None` leaves the block to be read whole.
fn cut_record_in_part(
    parser: &mut capture::SliceParser,
    bytes: &[u8],
    in_part: ReadInPart,
    record_at: u64,
    len: u64,
    file: &File,
) -> Option<CutRecord> {
    let mut frame = None;
    let part = parser.skip_cut_record(
        bytes,
        in_part.prefix,
        in_part.min_captured,
        len.saturating_sub(record_at),
        &mut |at, tail| file.read_exact_at(tail, record_at + at).is_ok(),
        &mut |event| {
            if let CaptureEvent::Frame(read) = event {
                frame = FrameSpan::of(&read, bytes);
            }
        },
    )?;
    Some(CutRecord {
        frame: frame.map(|frame| CutFrame {
            captured: part.captured as u32,
            rest_at: record_at + (part.data_at + frame.len()) as u64,
            frame,
        }),
        length: part.length,
    })
}

/// Reads a regular file in large blocks into one reused buffer and parses the complete pcap
/// blocks in place ([`capture::SliceParser`]); only a block cut by the buffer's end is moved.
fn read_blocks(file: &File, len: u64, buffer_size: usize, reading: Reading<'_>) -> ReadOutcome {
    let Reading {
        index,
        limit,
        filter,
        digest,
        threads: _,
        read_in_part,
        consumer,
        progress,
    } = reading;
    // Large blocks read in part, as the reading thread does (see `read_ahead`): the consumer
    // says which data matters, and nothing else looks at the data.
    let in_part =
        (consumer.reads_data_lazily() && !digest && filter.is_none()).then_some(read_in_part);
    let mut lazy = LazyData::new(file);
    let mut parser = capture::SliceParser::with_limit(limit).with_filter(filter);
    let mut hasher = digest.then(Sha256::new);
    let mut buffer = vec![0u8; buffer_size];
    let mut filled = 0usize;
    let mut offset: u64 = 0;
    let mut eof = false;
    let mut frames: u64 = 0;
    let mut input = file;
    // Bytes to read next: the whole buffer, or a little after a block read in part.
    let mut chunk = usize::MAX;
    while !parser.is_finished() {
        let to = filled.saturating_add(chunk).min(buffer.len());
        while !eof && filled < to {
            match input.read(&mut buffer[filled..to]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(CaptureError::Io(e)), Some(len), None, None),
            }
        }
        let data = &buffer[..filled];
        let base = data.as_ptr() as usize;
        let consumed = parser.feed(data, eof, &mut |event| {
            if let CaptureEvent::Frame(frame) = &event {
                frames += 1;
                if frames % PROGRESS_EVERY == 0 {
                    let at = (frame.data.as_ptr() as usize).saturating_sub(base) as u64;
                    progress(Progress {
                        capture: index,
                        bytes: offset + at,
                        total: Some(len),
                        flows: consumer.flows(),
                    });
                }
            }
            consumer.event(event);
        });
        if consumer.stopped() {
            // Nobody reads the report any more: stop reading.
            return (Ok(parser.finish()), Some(len), None, None);
        }
        let consumed = match consumed {
            Ok(n) => n,
            Err(e) => return (Err(e), Some(len), None, None),
        };
        if let Some(h) = &mut hasher {
            h.update(&buffer[..consumed]);
        }
        offset += consumed as u64;
        buffer.copy_within(consumed..filled, 0);
        filled -= consumed;
        if eof && filled == 0 {
            break;
        }
        if let Some(in_part) = in_part.filter(|_| !eof && !parser.is_finished()) {
            let bytes = &buffer[..filled];
            if let Some(cut) = cut_record_in_part(&mut parser, bytes, in_part, offset, len, file) {
                if let Some(CutFrame {
                    frame,
                    captured,
                    rest_at,
                }) = cut.frame
                {
                    frames += 1;
                    if frames % PROGRESS_EVERY == 0 {
                        progress(Progress {
                            capture: index,
                            bytes: offset,
                            total: Some(len),
                            flows: consumer.flows(),
                        });
                    }
                    if let Some(frame) = frame.resolve(bytes) {
                        lazy.frame(frame, captured, rest_at, consumer);
                    }
                    if consumer.stopped() {
                        return (Ok(parser.finish()), Some(len), None, None);
                    }
                }
                offset += cut.length;
                filled = 0;
                chunk = READ_AFTER_PART;
                if let Err(e) = input.seek(io::SeekFrom::Start(offset)) {
                    return (Err(CaptureError::Io(e)), Some(len), None, None);
                }
                continue;
            }
            chunk = chunk.saturating_mul(4);
        }
        if consumed == 0 && filled == buffer.len() && !parser.is_finished() {
            // One block is larger than the full buffer: grow it, up to the largest block
            // accepted. A buffer of `MAX_BLOCK_BYTES` holds any block that is not over the limit.
            if buffer.len() >= capture::MAX_BLOCK_BYTES {
                parser.oversized_block();
                break;
            }
            let grown = (buffer.len() * 2).min(capture::MAX_BLOCK_BYTES);
            buffer.resize(grown, 0);
        }
    }
    if let Some(h) = &mut hasher {
        // Hash what the parser did not need to read (after a corrupt block).
        h.update(&buffer[..filled]);
        let mut sink = HashWriter(h);
        let _ = io::copy(&mut input, &mut sink);
    }
    (Ok(parser.finish()), Some(len), hasher.map(hex_digest), None)
}

/// The captures `args` name, in order: files and `-` as given, and for a directory every file
/// under it whose name marks a capture (`*.pcap*`, `*.cap`, also compressed with `.gz`, `.zst`
/// or `.xz`; rotated `tcpdump -C` files such as `trace.pcap1`), searched recursively in byte
/// order of names, so the order is the same on every run. Hidden files and directories
/// (`.name`) are skipped, and symbolic links to directories are not followed (no cycles).
/// A directory without any capture is an error.
pub fn capture_paths(args: &[String]) -> Result<Vec<String>, AnalyzeError> {
    let mut paths = Vec::new();
    for arg in args {
        if arg != "-" && Path::new(arg).is_dir() {
            let before = paths.len();
            search_directory(Path::new(arg), &mut paths)?;
            if paths.len() == before {
                return Err(AnalyzeError::Open {
                    path: arg.clone(),
                    source: io::Error::other(
                        "the directory holds no capture (files named *.pcap, *.pcapng, *.cap, \
                         also compressed as .gz, .zst or .xz)",
                    ),
                });
            }
        } else {
            paths.push(arg.clone());
        }
    }
    Ok(paths)
}

/// Adds the captures under `dir` to `paths`, depth first, entries in byte order of names.
fn search_directory(dir: &Path, paths: &mut Vec<String>) -> Result<(), AnalyzeError> {
    let open_error = |source| AnalyzeError::Open {
        path: dir.display().to_string(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(open_error)? {
        let entry = entry.map_err(open_error)?;
        let kind = entry.file_type().map_err(open_error)?;
        entries.push((entry.file_name(), entry.path(), kind));
    }
    entries.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    for (name, path, kind) in entries {
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if kind.is_dir() {
            search_directory(&path, paths)?;
        } else if is_capture_name(&name) && (kind.is_file() || path.is_file()) {
            paths.push(path.display().to_string());
        }
    }
    Ok(())
}

/// True for a file name that marks a capture: `*.pcap`, `*.pcapng`, rotated `*.pcap1`,
/// `*.cap`, each also with `.gz`, `.zst` or `.xz`.
fn is_capture_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let stem = [".gz", ".zst", ".xz"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name);
    stem.contains(".pcap") || stem.ends_with(".cap")
}

/// Reads the capture at `path`, or standard input for `-`.
pub(super) fn read_path(path: &str, reading: Reading<'_>) -> Result<ReadOutcome, AnalyzeError> {
    if path == "-" {
        Ok(read_stream(Box::new(io::stdin()), None, reading))
    } else {
        read_file(path, reading)
    }
}

/// Opens the capture file at `path` and reads it: in blocks in place, or streamed when it is
/// compressed (decompressed) or not a regular file.
fn read_file(path: &str, reading: Reading<'_>) -> Result<ReadOutcome, AnalyzeError> {
    let open_error = |source| AnalyzeError::Open {
        path: path.to_string(),
        source,
    };
    let file = File::open(Path::new(path)).map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    if metadata.is_dir() {
        return Err(open_error(io::Error::other(
            "it is a directory; give the capture files inside it (e.g. dir/*.pcap)",
        )));
    }
    let len = metadata.len();
    Ok(
        if metadata.is_file() && len > 0 && !is_compressed(&file).map_err(open_error)? {
            if reading.threads.read_ahead(len) {
                let (buffer, head_room, sharing) = reading.threads.read_ahead_buffers();
                read_ahead::read_blocks_ahead(&file, len, buffer, head_room, sharing, reading)
            } else {
                read_blocks(&file, len, block_buffer_size(len), reading)
            }
        } else {
            // Compressed captures (and pipes, devices) are streamed, decompressed.
            read_stream(Box::new(file), Some(len), reading)
        },
    )
}

/// True when the file starts with the magic number of a compression alpnscope reads; the
/// file's position is back at its start.
fn is_compressed(mut file: &File) -> io::Result<bool> {
    use std::io::Seek;
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.seek(io::SeekFrom::Start(0))?;
    Ok(capture::Compression::of(&head[..got]).is_some_and(|c| c.is_read()))
}

/// Feeds written bytes to a hasher.
pub(super) struct HashWriter<'a>(pub(super) &'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn read_stream(
    input: Box<dyn Read + Send>,
    size: Option<u64>,
    reading: Reading<'_>,
) -> ReadOutcome {
    let Reading {
        index,
        limit,
        filter,
        digest,
        threads: _,
        read_in_part: _,
        consumer,
        progress,
    } = reading;
    let count = Arc::new(AtomicU64::new(0));
    let mut metered = MeteredReader {
        inner: input,
        count: Arc::clone(&count),
        hasher: digest.then(Sha256::new),
    };
    let mut frames: u64 = 0;
    // Bytes are counted (and hashed) as they are in the file, before decompression.
    let mut compression = None;
    let summary = capture::decompressing(&mut metered)
        .map_err(CaptureError::Io)
        .and_then(|(input, found)| {
            compression = found;
            capture::read_capture_filtered(input, limit, filter, |event| {
                if let CaptureEvent::Frame(_) = &event {
                    frames += 1;
                    if frames % PROGRESS_EVERY == 0 {
                        progress(Progress {
                            capture: index,
                            bytes: count.load(Ordering::Relaxed),
                            total: size,
                            flows: consumer.flows(),
                        });
                    }
                }
                consumer.event(event);
            })
        });
    // Hash whatever the parser did not need to read (e.g. after a corrupt block).
    if digest {
        let _ = io::copy(&mut metered, &mut io::sink());
    }
    let size = size.or(Some(count.load(Ordering::Relaxed)));
    (
        summary,
        size,
        metered.hasher.take().map(hex_digest),
        compression,
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use read_ahead::{Copying, Decoding, Sharing};
    use std::fs::File;

    /// Every buffer size, down to one that splits every block and must grow, reads the same.
    #[test]
    fn block_reader_handles_blocks_cut_by_the_buffer() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/tls12-h2-agreed.pcapng"
        );
        let len = std::fs::metadata(path).unwrap().len();
        let mut outcomes = Vec::new();
        for size in [64, 100, 1000, 4096, block_buffer_size(len), READ_BUFFER] {
            let read = read_whole(Path::new(path), How::Blocks(size));
            assert!(read.summary.complete(), "buffer {size}");
            let flows: Vec<_> = read.report.flows.iter().map(|f| f.verdict.name()).collect();
            outcomes.push((read.summary.packets, flows.join(","), read.digest));
        }
        assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
        assert_eq!(outcomes[0].0, 33);
    }

    /// What [`read_whole`] gives.
    struct WholeRead {
        /// The report, every flow in it (streamed ones first, in the order they came).
        report: Report,
        summary: capture::CaptureSummary,
        size: Option<u64>,
        digest: Option<String>,
        secrets_warnings: Vec<String>,
    }

    /// Which reader [`read_whole`] reads with.
    #[derive(Debug, Clone, Copy)]
    enum How {
        /// The block reader with a buffer of this size.
        Blocks(usize),
        /// The read-ahead reader with this buffer size and head room.
        Ahead(usize, usize),
        /// The same, every frame decoded by the consumer.
        AheadUndecoded(usize, usize),
        /// The same, without the digest, reading records in part as said.
        InPart(usize, usize, read_ahead::ReadInPart),
        /// The block reader with this buffer size, without the digest, reading records in part.
        BlocksInPart(usize, read_ahead::ReadInPart),
    }

    /// No record read in part (the reference the others are held to).
    const NEVER_IN_PART: ReadInPart = ReadInPart {
        min_captured: usize::MAX,
        prefix: 0,
    };

    /// Reads the capture at `path` with its digest as `how` says, and analyses it whole.
    fn read_whole(path: &Path, how: How) -> WholeRead {
        read_whole_limited(path, how, None)
    }

    /// [`read_whole`] up to `limit` frames (`-c`).
    fn read_whole_limited(path: &Path, how: How, limit: Option<u64>) -> WholeRead {
        let file = File::open(path).unwrap();
        let len = file.metadata().unwrap().len();
        let mut analyzer = Analyzer::new(AnalyzerOptions::default());
        analyzer.begin_capture(0);
        let mut secrets_warnings = Vec::new();
        let mut flows = Vec::new();
        let mut on_flow = |flow: Box<FlowReport>| {
            flows.push(*flow);
            Ok(())
        };
        let mut error = None;
        let mut feed = AnalyzerFeed {
            analyzer: &mut analyzer,
            secrets_warnings: &mut secrets_warnings,
            sink: Sink {
                on_flow: &mut on_flow,
                error: &mut error,
            },
        };
        let reading = Reading {
            index: 0,
            limit,
            filter: None,
            digest: !matches!(how, How::InPart(..) | How::BlocksInPart(..)),
            threads: Threads::Auto,
            read_in_part: match how {
                How::InPart(_, _, in_part) | How::BlocksInPart(_, in_part) => in_part,
                How::Blocks(_) => NEVER_IN_PART,
                How::Ahead(..) | How::AheadUndecoded(..) => ReadInPart::DEFAULT,
            },
            consumer: &mut feed,
            progress: &mut |_| {},
        };
        let (summary, size, digest, _) = match how {
            How::Ahead(buffer, head_room) => read_ahead::read_blocks_ahead(
                &file,
                len,
                buffer,
                head_room,
                Sharing::BALANCED,
                reading,
            ),
            How::InPart(buffer, head_room, _) => {
                // Offers taken whenever made: those past a record read in part come back unused.
                let always = Sharing {
                    decoding: Decoding::Balanced,
                    copying: Copying::Always,
                };
                read_ahead::read_blocks_ahead(&file, len, buffer, head_room, always, reading)
            }
            How::AheadUndecoded(buffer, head_room) => {
                let by_consumer = Sharing {
                    decoding: Decoding::ByConsumer,
                    copying: Copying::Always,
                };
                read_ahead::read_blocks_ahead(&file, len, buffer, head_room, by_consumer, reading)
            }
            How::Blocks(buffer) | How::BlocksInPart(buffer, _) => {
                read_blocks(&file, len, buffer, reading)
            }
        };
        let summary = summary.unwrap();
        let capture = analyzer.end_capture(&path.to_string_lossy(), &summary);
        let mut report = analyzer.into_report(vec![capture]);
        flows.append(&mut report.flows);
        report.flows = flows;
        WholeRead {
            report,
            summary,
            size,
            digest,
            secrets_warnings,
        }
    }

    /// The read-ahead reader gives the block reader's frames, summary and digest, whatever cuts
    /// its buffers (head rooms smaller than a block included) and whatever the container.
    #[test]
    fn read_ahead_reads_as_the_block_reader() {
        // Files cut in the middle of a block, too.
        let dir = std::env::temp_dir().join(format!("alpnscope-ahead-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let whole = std::fs::read(format!("{fixtures}/many-flows.pcap")).unwrap();
        let cut_pcap = dir.join("cut.pcap");
        std::fs::write(&cut_pcap, &whole[..100_003]).unwrap();
        let whole = std::fs::read(format!("{fixtures}/capture-drops.pcapng")).unwrap();
        let cut_pcapng = dir.join("cut.pcapng");
        std::fs::write(&cut_pcapng, &whole[..whole.len() - 7]).unwrap();
        for path in [
            format!("{fixtures}/tls12-h2-agreed.pcapng"),
            format!("{fixtures}/multi-interface.pcapng"),
            format!("{fixtures}/many-flows.pcap"),
            format!("{fixtures}/capture-drops.pcapng"),
            format!("{fixtures}/snaplen-96.pcap"),
            cut_pcap.to_string_lossy().into_owned(),
            cut_pcapng.to_string_lossy().into_owned(),
        ] {
            let name = &path;
            let len = std::fs::metadata(&path).unwrap().len();
            let read = |how: How| {
                let read = read_whole(Path::new(&path), how);
                let flows: Vec<_> = read
                    .report
                    .flows
                    .iter()
                    .map(|f| (f.id, f.verdict.name(), f.first_frame, f.last_frame))
                    .collect();
                (
                    read.summary.packets,
                    read.summary.bytes,
                    read.summary.warnings.clone(),
                    flows,
                    read.size,
                    read.digest,
                )
            };
            let expected = read(How::Blocks(block_buffer_size(len)));
            assert!(expected.0 > 0, "{name}");
            for (buffer, head_room) in [
                (64, 64),
                (1000, 100),
                (4096, 2048),
                (1 << 20, read_ahead::HEAD_ROOM),
            ] {
                assert_eq!(
                    read(How::Ahead(buffer, head_room)),
                    expected,
                    "{name} {buffer} {head_room}"
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every fixture's report, streamed as `analyze` streams it, is the same through the
    /// reading thread's small buffers (every offer copied by the analysing thread, every block
    /// over 100 bytes read in part) as read whole on one thread: the hand-over the fuzzer's
    /// `capture` target drives with arbitrary bytes, on real captures.
    #[test]
    fn every_fixture_streams_the_same_through_small_buffers() {
        let streamed = |path: &Path, threads: Threads, read_in_part: ReadInPart| {
            let options = AnalyzeOptions {
                threads,
                read_in_part,
                ..AnalyzeOptions::default()
            };
            let mut flows = Vec::new();
            let paths = [path.to_string_lossy().into_owned()];
            let rest = analyze_files_streaming(&paths, &options, &mut |_| {}, &mut |flow| {
                flows.push(*flow);
                Ok(())
            })
            .unwrap();
            serde_json::to_string(&(flows, rest)).unwrap()
        };
        let whole = ReadInPart {
            min_captured: usize::MAX,
            prefix: 0,
        };
        let in_part = ReadInPart {
            min_captured: 100,
            prefix: 60,
        };
        for path in &crate::test_fixtures::captures() {
            let expected = streamed(path, Threads::One, whole);
            for (buffer, head_room) in [(64, 64), (1000, 100), (100, 1000)] {
                let threads = Threads::SmallBuffers { buffer, head_room };
                for read_in_part in [whole, in_part] {
                    assert!(
                        streamed(path, threads, read_in_part) == expected,
                        "{} {threads:?} {read_in_part:?}",
                        path.display()
                    );
                }
            }
        }
    }

    /// Every fixture's whole report (flows, captures, summary, diagnosis, as JSON) is the same
    /// whether the file is read, parsed and decoded on a thread of its own or on this one.
    #[test]
    fn every_fixture_reports_the_same_read_ahead() {
        let mut pcapng_read_in_part = [0u64; 2];
        let mut by_block_reader = [0u64; 2];
        let paths = crate::test_fixtures::captures();
        let report = |path: &Path, how: How| {
            let read = read_whole(path, how);
            let report = serde_json::to_string(&read.report).unwrap();
            (report, read.digest, read.secrets_warnings)
        };
        for path in &paths {
            let len = std::fs::metadata(path).unwrap().len();
            let expected = report(path, How::Blocks(block_buffer_size(len)));
            for ahead in [
                How::Ahead(4096, 2048),
                How::Ahead(64 << 10, read_ahead::HEAD_ROOM),
                How::AheadUndecoded(4096, 2048),
                How::AheadUndecoded(64 << 10, read_ahead::HEAD_ROOM),
            ] {
                assert!(
                    report(path, ahead) == expected,
                    "{} {ahead:?}",
                    path.display()
                );
            }
            let before = crate::pipeline::batch::READ_IN_PART.with(|c| c.get());
            // Every record over 100 bytes read in part, the first 60 or 100 bytes of its data
            // read (headers cut or not): the same report, the data of every frame that matters
            // read afterwards.
            for prefix in [60, 100] {
                let in_part = ReadInPart {
                    min_captured: 100,
                    prefix,
                };
                for how in [
                    How::InPart(4096, 2048, in_part),
                    How::InPart(64 << 10, read_ahead::HEAD_ROOM, in_part),
                    How::BlocksInPart(4096, in_part),
                ] {
                    let counts = crate::pipeline::batch::READ_IN_PART.with(|c| c.get());
                    let read = read_whole(path, how);
                    if matches!(how, How::BlocksInPart(..)) {
                        let after = crate::pipeline::batch::READ_IN_PART.with(|c| c.get());
                        for i in 0..2 {
                            by_block_reader[i] += after[i] - counts[i];
                        }
                    }
                    let got = serde_json::to_string(&read.report).unwrap();
                    assert!(
                        (got, read.secrets_warnings) == (expected.0.clone(), expected.2.clone()),
                        "{} {how:?}",
                        path.display()
                    );
                }
            }
            if path.extension().is_some_and(|e| e == "pcapng") {
                let after = crate::pipeline::batch::READ_IN_PART.with(|c| c.get());
                for i in 0..2 {
                    pcapng_read_in_part[i] += after[i] - before[i];
                }
            }
        }
        let [skipped, read] = crate::pipeline::batch::READ_IN_PART.with(|c| c.get());
        assert!(
            skipped > 100 && read > 1000,
            "data skipped {skipped}, read {read}"
        );
        let [skipped, read] = by_block_reader;
        assert!(
            skipped > 100 && read > 1000,
            "block reader: data skipped {skipped}, read {read}"
        );
        let [skipped, read] = pcapng_read_in_part;
        assert!(
            skipped > 5 && read > 50,
            "pcapng: data skipped {skipped}, read {read}"
        );
        assert!(paths.len() > 100, "{} fixtures", paths.len());
    }

    /// Reading stops after the frame `-c` asks for, whether that frame was read in part or not:
    /// the same report (and its "stopped after N packets" warning, once) as the block reader's.
    #[test]
    fn read_in_part_stops_at_the_count() {
        let in_part = ReadInPart {
            min_captured: 100,
            prefix: 60,
        };
        let mut fixtures = 0;
        for path in crate::test_fixtures::captures() {
            if path
                .extension()
                .is_none_or(|e| e != "pcap" && e != "pcapng")
            {
                continue;
            }
            fixtures += 1;
            // Every count on the first fixtures (the frames read in part among them), a few on
            // the others.
            let limits: Vec<u64> = if fixtures <= 12 {
                (1..=80).collect()
            } else {
                vec![1, 4, 9, 30]
            };
            for limit in limits {
                let report = |how| {
                    let read = read_whole_limited(&path, how, Some(limit));
                    let report = serde_json::to_string(&read.report).unwrap();
                    (report, format!("{:?}", read.summary))
                };
                let len = std::fs::metadata(&path).unwrap().len();
                let expected = report(How::Blocks(block_buffer_size(len)));
                for how in [
                    How::InPart(4096, 2048, in_part),
                    How::InPart(64 << 10, read_ahead::HEAD_ROOM, in_part),
                    How::BlocksInPart(4096, in_part),
                ] {
                    assert_eq!(
                        report(how),
                        expected,
                        "{} -c {limit}, {how:?}",
                        path.display()
                    );
                }
            }
        }
        assert!(fixtures > 50, "{fixtures} pcap fixtures");
    }

    #[test]
    fn capture_names() {
        for name in [
            "a.pcap",
            "b.PCAPNG",
            "trace.pcap1",
            "x.cap",
            "a.pcap.gz",
            "b.pcapng.zst",
            "c.pcap.xz",
        ] {
            assert!(is_capture_name(name), "{name}");
        }
        for name in ["keys.log", "a.keys", "README.md", "a.gz", "capture"] {
            assert!(!is_capture_name(name), "{name}");
        }
    }

    #[test]
    fn the_block_buffer_fits_a_small_file() {
        assert_eq!(block_buffer_size(0), MIN_READ_BUFFER);
        assert_eq!(block_buffer_size(20_000), MIN_READ_BUFFER);
        assert_eq!(block_buffer_size(100_000), 100_001);
        assert_eq!(block_buffer_size(READ_BUFFER as u64 - 1), READ_BUFFER);
        assert_eq!(block_buffer_size(1 << 40), READ_BUFFER);
    }
}
