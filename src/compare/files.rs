//! The compare driver: each capture through the `analyze` file driver with its own options
//! (key logs), then [`super::compare`].

use super::model::CompareReport;
use super::pairing::PairingOptions;
use crate::pipeline::files::{AnalyzeError, AnalyzeOptions, Progress, analyze_files};
use crate::report::model::Tool;

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

/// Reads capture `a` (nearer the client) and capture `b` (nearer the server) and compares
/// them. `progress` sees capture A as capture 0 and B as capture 1.
pub fn compare_files(
    a: &str,
    b: &str,
    options: &CompareOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<CompareReport, AnalyzeError> {
    let report_a = analyze_files(&[a.to_string()], &options.a, progress)?;
    let report_b = analyze_files(&[b.to_string()], &options.b, &mut |p| {
        progress(Progress { capture: 1, ..p })
    })?;
    Ok(super::compare(
        report_a,
        report_b,
        options.pairing,
        options.tool.clone(),
    ))
}
