//! The compare driver: each capture through the `analyze` file driver with its own options
//! (key logs), then [`super::compare`].

use super::model::CompareReport;
use super::pairing::PairingOptions;
use crate::pipeline::files::{AnalyzeError, AnalyzeOptions, Progress, analyze_files};
use crate::report::model::Tool;
use crate::report::redact::{Redactor, capture_name, hide_path};

/// What [`compare_files`] needs beyond the two paths.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// How capture A is read (its key logs among them).
    pub a: AnalyzeOptions,
    /// How capture B is read.
    pub b: AnalyzeOptions,
    /// How to pair.
    pub pairing: PairingOptions,
    /// The tool record of the report.
    pub tool: Tool,
}

/// Reads capture `a` (nearer the client) and capture `b` (nearer the server), at the same time
/// on two threads, and compares them. `progress` sees capture A only. With a `redactor`, every
/// flow, capture name and the command line are redacted before the comparison (one redactor
/// for both: a name or address gets the same pseudonym in both captures), so the changes and
/// findings quote only pseudonyms.
pub fn compare_files(
    a: &str,
    b: &str,
    options: &CompareOptions,
    progress: &mut dyn FnMut(Progress),
    redactor: Option<&mut Redactor>,
) -> Result<CompareReport, AnalyzeError> {
    // The two captures are independent: B is read on a second thread while A is read here
    // (with the progress callback); A's error is reported first, as if read in order.
    let (report_a, report_b) = std::thread::scope(|scope| {
        let b_thread = scope.spawn(|| analyze_files(&[b.to_string()], &options.b, &mut |_| {}));
        let report_a = analyze_files(&[a.to_string()], &options.a, progress);
        // A panic in B's thread is a bug: surface it as one.
        let report_b = b_thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (report_a, report_b)
    });
    let (mut report_a, mut report_b) = (report_a?, report_b?);
    let mut tool = options.tool.clone();
    if let Some(redactor) = redactor {
        for (index, report) in [&mut report_a, &mut report_b].into_iter().enumerate() {
            for flow in &mut report.flows {
                redactor.redact_flow(flow);
            }
            for capture in &mut report.captures {
                let name = capture_name(index);
                for warning in &mut capture.warnings {
                    *warning = hide_path(warning, &capture.path, &name);
                }
                capture.path = name;
            }
        }
        redactor.redact_command_line(&mut tool);
    }
    Ok(super::compare(report_a, report_b, options.pairing, tool))
}
