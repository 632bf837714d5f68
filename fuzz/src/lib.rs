//! Helpers shared by the fuzz targets: a whole capture through the analyzer, every renderer and
//! redaction, with the invariants every report must keep.

use alpnscope::capture::{self, CaptureEvent, CaptureSummary, Frame};
use alpnscope::pipeline::{Analyzer, AnalyzerOptions};
use alpnscope::report::model::Report;
use alpnscope::report::redact::{Redactor, SniMode};
use alpnscope::report::{self, Format};

/// pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
pub const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;

/// The name the reports give the fuzzed capture.
const PATH: &str = "fuzz.pcap";

/// A fresh analyzer as `alpnscope` builds it, with non-TLS flows reported too (more code runs).
pub fn analyzer() -> Analyzer {
    Analyzer::new(AnalyzerOptions {
        include_non_tls: true,
        ..AnalyzerOptions::default()
    })
}

/// Passes one capture event to `analyzer`, as the file driver does: an embedded key log that
/// does not parse is ignored (the driver turns it into a warning). With `secrets` false,
/// Decryption Secrets Blocks are skipped.
pub fn on_event(analyzer: &mut Analyzer, event: CaptureEvent<'_>, secrets: bool) {
    match event {
        CaptureEvent::Frame(frame) => analyzer.frame(&frame),
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

/// Renders `report` in `format` twice: the bytes must be UTF-8 and the same both times (the
/// renderers never read the clock).
pub fn render(report: &Report, format: Format, color: bool) -> String {
    let mut first = Vec::new();
    report::render(report, format, color, &mut first).expect("rendering into a Vec");
    let mut second = Vec::new();
    report::render(report, format, color, &mut second).expect("rendering into a Vec");
    assert!(
        first == second,
        "{format:?} output differs between two renderings"
    );
    String::from_utf8(first).expect("renderers write UTF-8")
}

/// Every renderer on `report`; JSON must parse, JSON Lines line by line.
pub fn check_renderers(report: &Report) {
    let json = render(report, Format::Json, false);
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
        panic!("JSON output does not parse: {e}\n{json}");
    }
    let lines = render(report, Format::Jsonl, false);
    for line in lines.lines() {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
            panic!("a JSON Lines line does not parse: {e}\n{line}");
        }
    }
    render(report, Format::Text, false);
    render(report, Format::Text, true);
    render(report, Format::Markdown, false);
}

/// Every renderer on `report`, then on its redactions (both name modes).
pub fn check_report(report: &Report) {
    check_renderers(report);
    for mode in [SniMode::KeepSuffix, SniMode::Full] {
        let mut redacted = report.clone();
        Redactor::new(b"fuzz", mode).apply(&mut redacted);
        check_renderers(&redacted);
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
