//! The Markdown renderer of the compare report: findings first (what a ticket needs), then a
//! table of the pairs, the unpaired flows and the captures.

use super::{change_words, not_comparable_words, numbers, protocols};
use crate::compare::model::{CompareReport, Confidence, MatchKind};
use crate::report::markdown::{cell, code};
use crate::report::model::FlowReport;
use crate::report::plural;
use std::io::{self, Write};

/// Rows of the pairs table, and unpaired flows per capture, at most: a ticket body is bounded.
const MAX_ROWS: usize = 50;

/// Renders the whole report.
pub fn render(report: &CompareReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## alpnscope compare\n")?;
    for (capture, side) in report.captures.iter().zip(["A", "B"]) {
        writeln!(
            out,
            "- capture {side}: {} ({}, {})",
            code(&capture.path),
            capture.format,
            plural(capture.packets, "packet")
        )?;
    }
    writeln!(
        out,
        "- {}, unpaired: {} in A, {} in B",
        plural(report.pairs.len() as u64, "pair"),
        report.unpaired.a.len(),
        report.unpaired.b.len()
    )?;
    if let Some(ms) = super::median_delay(report, MatchKind::Timing) {
        writeln!(
            out,
            "- the middlebox's own ClientHello follows the client's by {ms:.3} ms (median of the \
             pairs by time)"
        )?;
    }
    writeln!(out)?;
    writeln!(out, "### Findings\n")?;
    if report.findings.is_empty() {
        writeln!(out, "None.")?;
    }
    for finding in &report.findings {
        let mut cites = Vec::new();
        if !finding.pairs.is_empty() {
            cites.push(format!("pairs {}", numbers(&finding.pairs)));
        }
        if !finding.frames_a.is_empty() {
            cites.push(format!("A frames {}", numbers(&finding.frames_a)));
        }
        if !finding.frames_b.is_empty() {
            cites.push(format!("B frames {}", numbers(&finding.frames_b)));
        }
        writeln!(
            out,
            "- **{}** ({}): {} ({})",
            finding.kind,
            finding.count,
            finding.detail,
            cites.join("; ")
        )?;
    }
    writeln!(out, "\n### Pairs\n")?;
    if report.pairs.is_empty() {
        writeln!(out, "None.")?;
    } else {
        writeln!(
            out,
            "| pair | A flow | B flow | match | A offered → selected | B offered → selected | changes |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|")?;
    }
    for (index, pair) in report.pairs.iter().enumerate().take(MAX_ROWS) {
        let mut changes: Vec<String> = pair.changes.iter().map(change_words).collect();
        changes.extend(
            pair.not_comparable
                .iter()
                .map(|g| format!("not compared: {}", not_comparable_words(g))),
        );
        writeln!(
            out,
            "| {index} | {} | {} | {} ({}) | {} | {} | {} |",
            flow_cell(&pair.a),
            flow_cell(&pair.b),
            match pair.matched {
                MatchKind::Hello => "hello",
                MatchKind::Timing => "timing",
            },
            match pair.confidence {
                Confidence::High => "high",
                Confidence::Medium => "medium",
                Confidence::Low => "low",
            },
            cell(&offer_cell(&pair.a)),
            cell(&offer_cell(&pair.b)),
            if changes.is_empty() {
                "none".to_string()
            } else {
                cell(&changes.join("; "))
            }
        )?;
    }
    if report.pairs.len() > MAX_ROWS {
        writeln!(
            out,
            "\n… and {} more (`--format json` lists them all).",
            plural((report.pairs.len() - MAX_ROWS) as u64, "pair")
        )?;
    }
    for (side, flows) in [("A", &report.unpaired.a), ("B", &report.unpaired.b)] {
        if flows.is_empty() {
            continue;
        }
        writeln!(out, "\n### Unpaired in {side}\n")?;
        for flow in flows.iter().take(MAX_ROWS) {
            writeln!(
                out,
                "- flow {} {} → {}: {}",
                flow.id,
                flow.client,
                flow.server,
                cell(&offer_cell(flow))
            )?;
        }
        if flows.len() > MAX_ROWS {
            writeln!(
                out,
                "- … and {} more",
                plural((flows.len() - MAX_ROWS) as u64, "flow")
            )?;
        }
    }
    Ok(())
}

/// "flow 3 (frames 4, 6)".
fn flow_cell(flow: &FlowReport) -> String {
    let mut frames: Vec<u64> = Vec::new();
    if let Some(h) = &flow.client_hello {
        frames.extend(&h.frames);
    }
    if let Some(h) = &flow.server_hello {
        frames.extend(&h.frames);
    }
    format!("{} (frames {})", flow.id, numbers(&frames))
}

/// "h2, http/1.1 → h2 (agreed)".
fn offer_cell(flow: &FlowReport) -> String {
    format!(
        "{} → {} ({})",
        if flow.offer_unknown() {
            "unknown".to_string()
        } else {
            protocols(&flow.alpn_offered)
        },
        flow.alpn_selected.as_deref().unwrap_or("none"),
        flow.verdict.name()
    )
}
