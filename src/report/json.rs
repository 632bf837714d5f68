//! JSON renderers: the whole report as one document, or one flow per line for pipelines.

use super::model::Report;
use serde::Serialize;
use std::io::{self, Write};

/// Buffer between serde_json's many small writes and the (dynamically dispatched) output.
const CHUNK: usize = 64 * 1024;

/// One JSON document (compact: pipe it through `jq .` to read it).
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(CHUNK, out);
    serde_json::to_writer(&mut buffered, report).map_err(io::Error::from)?;
    writeln!(buffered)?;
    buffered.flush()
}

/// What follows the `flows` array in a JSON report (the pieces known only at the end).
#[derive(Serialize)]
struct AfterFlows<'a> {
    captures: &'a [super::model::CaptureReport],
    dns_https: &'a [super::model::DnsHttpsReport],
    diagnosis: &'a [super::model::Diagnosis],
    summary: &'a super::model::Summary,
}

/// The end of a JSON report streamed flow by flow, after its `flows` array and a comma:
/// `"captures":[…],"dns_https":[…],"diagnosis":[…],"summary":{…}}` and a newline; the same bytes as
/// [`render`] writes after the flows.
pub fn render_after_flows(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let after = AfterFlows {
        captures: &report.captures,
        dns_https: &report.dns_https,
        diagnosis: &report.diagnosis,
        summary: &report.summary,
    };
    let mut text = serde_json::to_string(&after).map_err(io::Error::from)?;
    text.remove(0); // the opening brace
    writeln!(out, "{text}")
}

/// The last line of a JSON-lines report.
#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema_version: u32,
    tool: &'a super::model::Tool,
    captures: &'a [super::model::CaptureReport],
    diagnosis: &'a [super::model::Diagnosis],
    summary: &'a super::model::Summary,
}

/// One flow object on one line (live streaming).
pub fn render_flow_line(flow: &super::model::FlowReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, flow).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// A correction line (live streaming): `{"type": "correction", "id": …, "changed": […],
/// "reason": "…", "previous": {…}, "flow": {…}}`.
#[derive(Serialize)]
struct CorrectionLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    correction: &'a super::model::Correction,
}

/// One correction of a flow streamed earlier, on one line (live streaming).
pub fn render_correction_line(
    correction: &super::model::Correction,
    out: &mut dyn Write,
) -> io::Result<()> {
    let line = CorrectionLine {
        kind: "correction",
        correction,
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// A DNS HTTPS/SVCB record line: `{"type": "dns_https", "capture": …, "frame": …, …}`.
#[derive(Serialize)]
struct DnsHttpsLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    record: &'a super::model::DnsHttpsReport,
}

/// The end of a JSON-lines report: one `{"type": "dns_https", …}` line per DNS HTTPS or SVCB
/// record (known only at the end: the list spans the run), then the summary line.
pub fn render_summary_line(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for record in &report.dns_https {
        let line = DnsHttpsLine {
            kind: "dns_https",
            record,
        };
        serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    let line = SummaryLine {
        kind: "summary",
        schema_version: report.schema_version,
        tool: &report.tool,
        captures: &report.captures,
        diagnosis: &report.diagnosis,
        summary: &report.summary,
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// One flow object per line, then one summary line (`"type": "summary"`).
pub fn render_lines(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(CHUNK, out);
    for flow in &report.flows {
        serde_json::to_writer(&mut out, flow).map_err(io::Error::from)?;
        writeln!(out)?;
    }
    render_summary_line(report, &mut out)
}
