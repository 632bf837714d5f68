//! Writing a report while its flows arrive: each flow is filtered, redacted, counted and
//! written as soon as the pipeline hands it out, so a run keeps only the tallies its summary and
//! diagnosis need — not the flows. Text, JSON, JSON Lines and ECS stream; Markdown (a ticket report
//! that groups flows) gathers what it shows in a bounded tally and writes it at the end.
//!
//! The output is the same as rendering the whole report at once ([`super::render`]).

use super::diagnosis::DiagnosisTally;
use super::filter::FlowFilter;
use super::model::{FlowReport, Report, SCHEMA_VERSION, Tool};
use super::redact::Redactor;
use super::summary::SummaryTally;
use super::{Format, ecs, json, markdown, text};
use crate::analysis::VerdictKind;
use serde::Serialize;
use std::io::{self, Write};

/// Writes a report flow by flow.
pub struct ReportWriter<'a> {
    format: Format,
    color: bool,
    out: &'a mut dyn Write,
    filter: FlowFilter,
    redactor: Option<&'a mut Redactor>,
    /// Flows come from more than one capture.
    multi: bool,
    tool: Tool,
    summary: SummaryTally,
    diagnosis: DiagnosisTally,
    /// A listed flow is not TLS (`--all`).
    listed_not_tls: bool,
    /// Flows written.
    flows: u64,
    /// What Markdown shows of the flows, gathered as they arrive.
    markdown: markdown::MarkdownTally,
    /// One flow serialized, written out in one piece.
    scratch: Vec<u8>,
}

/// The start of a JSON report, up to its `flows` array.
#[derive(Serialize)]
struct JsonHead<'a> {
    schema_version: u32,
    tool: &'a Tool,
}

impl<'a> ReportWriter<'a> {
    /// A writer of `format` to `out` (buffer it) keeping the flows `filter` keeps, redacted by
    /// `redactor`; `multi`: the flows come from several captures. `tool` heads the report.
    pub fn new(
        format: Format,
        color: bool,
        out: &'a mut dyn Write,
        filter: FlowFilter,
        redactor: Option<&'a mut Redactor>,
        multi: bool,
        mut tool: Tool,
    ) -> Self {
        if let Some(redactor) = &redactor {
            redactor.redact_command_line(&mut tool);
        }
        let diagnosis = if filter.is_empty() {
            DiagnosisTally::default()
        } else {
            DiagnosisTally::filtered()
        };
        ReportWriter {
            format,
            color,
            out,
            filter,
            redactor,
            multi,
            tool,
            summary: SummaryTally::default(),
            diagnosis,
            listed_not_tls: false,
            flows: 0,
            markdown: markdown::MarkdownTally::default(),
            scratch: Vec::new(),
        }
    }

    /// True when the filter keeps `flow`.
    pub fn keeps(&self, flow: &FlowReport) -> bool {
        self.filter.keeps(flow)
    }

    /// One flow, as the pipeline hands it out: dropped unless the filter keeps it, else
    /// redacted, counted and written.
    pub fn flow(&mut self, mut flow: Box<FlowReport>) -> io::Result<()> {
        let kept = self.filter.keeps(&flow);
        if let Some(redactor) = &mut self.redactor {
            redactor.redact_flow(&mut flow);
        }
        // The findings are drawn from every flow (a filter must not make "declines for some
        // clients" read "never negotiates"), and given for the servers of the flows kept.
        self.diagnosis.add(&flow);
        if !kept {
            return Ok(());
        }
        self.diagnosis.keep(&flow);
        self.summary.add(&flow);
        self.listed_not_tls |= flow.verdict == VerdictKind::NotTls;
        let first = self.flows == 0;
        self.flows += 1;
        match self.format {
            Format::Text => {
                self.scratch.clear();
                text::render_flow_block(&flow, self.multi, self.color, &mut self.scratch)?;
                self.out.write_all(&self.scratch)
            }
            Format::Json | Format::Jsonl => {
                if first && self.format == Format::Json {
                    self.json_head()?;
                }
                self.scratch.clear();
                if !first && self.format == Format::Json {
                    self.scratch.push(b',');
                }
                super::json_flow::write_flow(&mut self.scratch, &flow).map_err(io::Error::from)?;
                if self.format == Format::Jsonl {
                    self.scratch.push(b'\n');
                }
                self.out.write_all(&self.scratch)
            }
            Format::Markdown => {
                self.markdown.add(&flow);
                Ok(())
            }
            Format::Ecs => {
                self.scratch.clear();
                ecs::flow_line(&flow, &mut self.scratch)?;
                self.out.write_all(&self.scratch)
            }
        }
    }

    /// `{"schema_version":1,"tool":{…},"flows":[`
    fn json_head(&mut self) -> io::Result<()> {
        let head = JsonHead {
            schema_version: SCHEMA_VERSION,
            tool: &self.tool,
        };
        let mut text = serde_json::to_string(&head).map_err(io::Error::from)?;
        text.pop(); // the closing brace
        write!(self.out, "{text},\"flows\":[")
    }

    /// Ends the report with `rest` (the pipeline's report without flows: its captures and its
    /// count of non-TLS flows): the summary and diagnosis over the flows written.
    pub fn finish(mut self, mut rest: Report) -> io::Result<()> {
        if let Some(redactor) = &mut self.redactor {
            redactor.redact_captures(&mut rest);
            redactor.redact_dns_https(&mut rest.dns_https);
        }
        rest.tool = self.tool.clone();
        rest.summary = self.summary.summary(rest.summary.non_tls_flows);
        rest.diagnosis = self.diagnosis.conclusions();
        match self.format {
            Format::Text => text::render_end(&rest, self.listed_not_tls, self.color, self.out),
            Format::Json => {
                if self.flows == 0 {
                    self.json_head()?;
                }
                self.out.write_all(b"],")?;
                json::render_after_flows(&rest, self.out)
            }
            Format::Jsonl => json::render_summary_line(&rest, self.out),
            Format::Markdown => markdown::render_tallied(&rest, &self.markdown, self.out),
            Format::Ecs => ecs::render_end(&rest, self.out),
        }
    }
}
