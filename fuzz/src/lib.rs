//! Helpers shared by the fuzz targets: a whole capture through the analyzer (in memory, or as a
//! file through the driver the binary uses), every renderer and redaction, with the invariants
//! every report must keep.

use alpnscope::capture::{self, CaptureEvent, CaptureSummary, Frame};
use alpnscope::pipeline::files::{self, AnalyzeOptions};
use alpnscope::pipeline::{Analyzer, AnalyzerOptions};
use alpnscope::report::filter::FlowFilter;
use alpnscope::report::model::{Report, Tool};
use alpnscope::report::redact::{Redactor, SniMode};
use alpnscope::report::stream::ReportWriter;
use alpnscope::report::{self, Format};
use std::ffi::CStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// The name the reports give the fuzzed capture.
const PATH: &str = "fuzz.pcap";

/// The key every redaction uses.
const REDACTION_KEY: &[u8] = b"fuzz";

/// Options of a fresh analyzer as `alpnscope` builds them, with non-TLS flows reported too (more
/// code runs).
pub fn analyzer_options() -> AnalyzerOptions {
    AnalyzerOptions {
        include_non_tls: true,
        ..AnalyzerOptions::default()
    }
}

/// The smallest `--memory` (the CLI's `MIN_MEMORY`).
const MIN_MEMORY: usize = 64 * 1024;

/// The options an input is read with: [`analyzer_options`], but for an input of a length
/// ≡ 1 (mod 3) a table of at most four flows, for one ≡ 2 the smallest memory budget `--memory`
/// accepts (64 KiB): eviction and shedding at sizes a fuzzer reaches.
pub fn analyzer_options_for(data: &[u8]) -> AnalyzerOptions {
    match data.len() % 3 {
        1 => AnalyzerOptions {
            flow_limit: 4,
            ..analyzer_options()
        },
        2 => AnalyzerOptions {
            memory: MIN_MEMORY,
            ..analyzer_options()
        },
        _ => analyzer_options(),
    }
}

/// A fresh analyzer with [`analyzer_options`].
pub fn analyzer() -> Analyzer {
    Analyzer::new(analyzer_options())
}

/// Passes one capture event to `analyzer`, as the file driver does: an embedded key log that
/// does not parse is ignored (the driver turns it into a warning). With `secrets` false,
/// Decryption Secrets Blocks are skipped.
pub fn on_event(analyzer: &mut Analyzer, event: CaptureEvent<'_>, secrets: bool) {
    match event {
        CaptureEvent::Frame(frame) => analyzer.frame(&frame),
        CaptureEvent::Dropped(frame) => analyzer.filtered_out(&frame),
        CaptureEvent::Secrets { secrets_type, data } => {
            if secrets && secrets_type == SECRETS_TLS_KEY_LOG {
                let _ = analyzer.add_key_log(&String::from_utf8_lossy(data));
            }
        }
    }
}

/// Reads `data` as one capture through `analyzer` (already given any key log) and returns the
/// report, or `None` when `data` is not a capture at all.
pub fn analyze_with(mut analyzer: Analyzer, data: &[u8], secrets: bool) -> Option<Report> {
    analyzer.begin_capture(0);
    let summary: CaptureSummary =
        capture::read_capture(data, |event| on_event(&mut analyzer, event, secrets)).ok()?;
    let capture = analyzer.end_capture(PATH, &summary);
    Some(analyzer.into_report(vec![capture]))
}

/// An anonymous file in memory (`memfd_create`), named by its `/proc/self/fd/N` path: the
/// product opens, creates and reads it as the regular file it is, as it would a file on disk,
/// but nothing is written to disk per execution, and nothing is left behind when the process
/// ends, however it ends. One per process and use (libFuzzer's `-fork` and `-jobs` run several
/// processes).
pub struct MemFile {
    file: File,
    path: PathBuf,
}

impl MemFile {
    /// A new empty file; `name` shows in `/proc/self/fd/` only.
    pub fn new(name: &CStr) -> MemFile {
        // SAFETY: `name` is a NUL-terminated string; the flags are valid.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let file = unsafe { File::from_raw_fd(fd) };
        MemFile {
            file,
            path: PathBuf::from(format!("/proc/self/fd/{fd}")),
        }
    }

    /// The path that opens this file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's contents with `data`.
    pub fn replace(&self, data: &[u8]) {
        let mut file = &self.file;
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(data))
            .expect("a file in memory can be written");
    }

    /// The file's contents.
    pub fn contents(&self) -> Vec<u8> {
        let mut file = &self.file;
        let mut out = Vec::new();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_end(&mut out))
            .expect("a file in memory can be read");
        out
    }
}

/// The capture file this process hands the file driver.
fn capture_file() -> &'static MemFile {
    static FILE: OnceLock<MemFile> = OnceLock::new();
    FILE.get_or_init(|| MemFile::new(c"alpnscope-fuzz.pcap"))
}

/// Writes `data` to a file ([`MemFile`]) and reads it as the binary does
/// ([`files::analyze_files_streaming`]): returns the flows in the order they were streamed out,
/// and the rest of the report (captures, summary and diagnosis, no flows); `None` when `data` is
/// not a capture at all. Half the inputs go through the reading thread (parsed and decoded
/// beside the analysis: a quarter in its usual buffers, a quarter in small ones, see
/// [`small_buffers_for`]), half through the block reader; all read every packet block over 60
/// bytes in part (see [`same_as_reading_everything`]).
pub fn analyze_file(
    data: &[u8],
    options: AnalyzerOptions,
) -> Option<(Vec<alpnscope::report::model::FlowReport>, Report)> {
    let threads = match data.len() % 4 {
        0 => files::Threads::Two,
        2 => small_buffers_for(data),
        _ => files::Threads::One,
    };
    analyze_file_with(data, options, threads, read_in_part_for(data))
}

/// The reading thread's buffers small enough that a fuzzer's input fills several: 64 to 4,096
/// bytes after a head room of 64 to 2,048 (as `data`'s length says), so that blocks are cut by a
/// buffer's end, outgrow the head room, and land in buffers the analysing thread filled.
fn small_buffers_for(data: &[u8]) -> files::Threads {
    const SIZES: [(usize, usize); 4] = [(64, 64), (1000, 100), (100, 1000), (4096, 2048)];
    let (buffer, head_room) = SIZES[data.len() / 4 % SIZES.len()];
    files::Threads::SmallBuffers { buffer, head_room }
}

/// Blocks over 60 bytes read in part, their first 40 to 103 bytes (as `data`'s length says):
/// headers read whole or cut, so that both the frames whose data is skipped and those whose
/// data is read afterwards are met.
fn read_in_part_for(data: &[u8]) -> files::ReadInPart {
    files::ReadInPart {
        min_captured: 61,
        prefix: 40 + data.len() % 64,
    }
}

/// [`analyze_file`] with the threads and the blocks read in part given.
pub fn analyze_file_with(
    data: &[u8],
    options: AnalyzerOptions,
    threads: files::Threads,
    read_in_part: files::ReadInPart,
) -> Option<(Vec<alpnscope::report::model::FlowReport>, Report)> {
    let file = capture_file();
    file.replace(data);
    let paths = [file.path().to_string_lossy().into_owned()];
    let options = AnalyzeOptions {
        analyzer: options,
        digest: false,
        keylogs: Vec::new(),
        count: None,
        merge: false,
        filter: None,
        threads,
        read_in_part,
    };
    let mut flows = Vec::new();
    let rest = files::analyze_files_streaming(&paths, &options, &mut |_| {}, &mut |flow| {
        flows.push(*flow);
        Ok(())
    });
    match rest {
        Ok(rest) => {
            assert!(
                rest.flows.is_empty(),
                "streamed flows are not returned again"
            );
            Some((flows, rest))
        }
        Err(files::AnalyzeError::Capture { .. }) => None,
        Err(e) => panic!("reading a capture file failed other than as a capture: {e}"),
    }
}

/// [`analyze_file`]'s report (blocks read in part) equals the one of reading every byte on one
/// thread.
pub fn same_as_reading_everything(
    data: &[u8],
    options: AnalyzerOptions,
    read: &Option<(Vec<alpnscope::report::model::FlowReport>, Report)>,
) {
    let never = files::ReadInPart {
        min_captured: usize::MAX,
        prefix: 0,
    };
    let everything = analyze_file_with(data, options, files::Threads::One, never);
    let json = |r: &Option<(Vec<alpnscope::report::model::FlowReport>, Report)>| {
        serde_json::to_string(r).expect("a report serializes")
    };
    assert!(
        json(&everything) == json(read),
        "reading blocks in part changed the report"
    );
}

/// Renders `report` in `format`, checking that the bytes are UTF-8.
pub fn render(report: &Report, format: Format, color: bool) -> Vec<u8> {
    let mut out = Vec::new();
    report::render(report, format, color, &mut out).expect("rendering into a Vec");
    if let Err(e) = std::str::from_utf8(&out) {
        panic!("{format:?} output is not UTF-8: {e}");
    }
    out
}

/// The whole JSON document parses; so does each JSON Lines line.
pub fn check_json(format: Format, out: &[u8]) {
    match format {
        Format::Json => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(out) {
                panic!(
                    "JSON output does not parse: {e}\n{}",
                    String::from_utf8_lossy(out)
                );
            }
        }
        Format::Jsonl | Format::Ecs => {
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                    panic!(
                        "a JSON Lines line does not parse: {e}\n{}",
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
        Format::Text | Format::Markdown => {}
    }
}

/// Writes `flows` and then `rest` through a [`ReportWriter`] as `alpnscope analyze` does (no
/// filter, one capture), redacted when `mode` is given.
pub fn stream(
    flows: &[alpnscope::report::model::FlowReport],
    rest: &Report,
    format: Format,
    color: bool,
    mode: Option<SniMode>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut redactor = mode.map(|mode| Redactor::new(REDACTION_KEY, mode));
    let mut writer = ReportWriter::new(
        format,
        color,
        &mut out,
        FlowFilter::default(),
        redactor.as_mut(),
        false,
        Tool::default(),
    );
    for flow in flows {
        writer
            .flow(Box::new(flow.clone()))
            .expect("writing into a Vec");
    }
    writer.finish(rest.clone()).expect("writing into a Vec");
    if let Err(e) = std::str::from_utf8(&out) {
        panic!("streamed {format:?} output is not UTF-8: {e}");
    }
    out
}

/// Every renderer, streamed and whole: for each format, the report written flow by flow
/// ([`ReportWriter`]) is byte for byte the whole report rendered at once; JSON parses, JSON
/// Lines line by line; all of it UTF-8. Then one redaction (`mode`): streamed and whole JSON
/// are the same bytes (every field), and the redacted text renders.
///
/// Comparing two renderings that share little code also shows that the output does not depend
/// on anything but the report (the clock, a hash map's order).
pub fn check_streamed(
    flows: &[alpnscope::report::model::FlowReport],
    rest: &Report,
    mode: SniMode,
) {
    let mut whole = rest.clone();
    whole.flows = flows.to_vec();
    for (format, color) in [
        (Format::Json, false),
        (Format::Jsonl, false),
        (Format::Text, false),
        (Format::Text, true),
        (Format::Markdown, false),
    ] {
        let streamed = stream(flows, rest, format, color, None);
        let rendered = render(&whole, format, color);
        check_json(format, &streamed);
        assert_same(format, &streamed, &rendered);
    }
    let mut redacted = whole;
    Redactor::new(REDACTION_KEY, mode).apply(&mut redacted);
    let streamed = stream(flows, rest, Format::Json, false, Some(mode));
    let rendered = render(&redacted, Format::Json, false);
    check_json(Format::Json, &streamed);
    assert_same(Format::Json, &streamed, &rendered);
    stream(flows, rest, Format::Text, false, Some(mode));
}

/// Panics with both outputs unless `streamed` and `rendered` are the same bytes.
fn assert_same(format: Format, streamed: &[u8], rendered: &[u8]) {
    if streamed != rendered {
        panic!(
            "{format:?}: the streamed report differs from the whole report rendered at once\n\
             --- streamed\n{}\n--- whole\n{}",
            String::from_utf8_lossy(streamed),
            String::from_utf8_lossy(rendered)
        );
    }
}

/// Every renderer on `report`, then on its redaction in `mode`: the JSON and each JSON Lines
/// line parse, every output is UTF-8. Returns the JSON of `report` (not redacted).
pub fn check_report(report: &Report, mode: SniMode) -> Vec<u8> {
    let check = |report: &Report| {
        let mut json = Vec::new();
        for (format, color) in [
            (Format::Json, false),
            (Format::Jsonl, false),
            (Format::Text, false),
            (Format::Text, true),
            (Format::Markdown, false),
        ] {
            let out = render(report, format, color);
            check_json(format, &out);
            if format == Format::Json {
                json = out;
            }
        }
        json
    };
    let json = check(report);
    let mut redacted = report.clone();
    Redactor::new(REDACTION_KEY, mode).apply(&mut redacted);
    check(&redacted);
    json
}

/// A redactor with the key every redaction here uses.
pub fn redactor(mode: SniMode) -> Redactor {
    Redactor::new(REDACTION_KEY, mode)
}

/// The name mode of the one redaction an input gets: both modes are covered over a run, and an
/// input always gets the same one.
pub fn sni_mode(data: &[u8]) -> SniMode {
    if data.len().is_multiple_of(2) {
        SniMode::KeepSuffix
    } else {
        SniMode::Full
    }
}

/// A frame read from a capture, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Link type code.
    pub link_type: u32,
    /// Capture time (nanoseconds).
    pub timestamp: i64,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire.
    pub original_len: u32,
}

impl OwnedFrame {
    /// Copies a borrowed frame.
    pub fn new(frame: &Frame<'_>) -> OwnedFrame {
        OwnedFrame {
            link_type: frame.link_type.0,
            timestamp: frame.timestamp.0,
            data: frame.data.to_vec(),
            original_len: frame.original_len,
        }
    }
}

/// A capture event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedEvent {
    /// A frame.
    Frame(OwnedFrame),
    /// A frame the capture filter dropped.
    Dropped(OwnedFrame),
    /// A Decryption Secrets Block: its type and data.
    Secrets(u32, Vec<u8>),
}

impl OwnedEvent {
    /// Copies a borrowed event.
    pub fn new(event: &CaptureEvent<'_>) -> OwnedEvent {
        match event {
            CaptureEvent::Frame(frame) => OwnedEvent::Frame(OwnedFrame::new(frame)),
            CaptureEvent::Dropped(frame) => OwnedEvent::Dropped(OwnedFrame::new(frame)),
            CaptureEvent::Secrets { secrets_type, data } => {
                OwnedEvent::Secrets(*secrets_type, data.to_vec())
            }
        }
    }
}
