//! The text renderer of the compare report: a block per pair, the unpaired flows, the
//! findings with the frames of both captures, the captures read and a summary line.

use super::{change_words, matched_words, not_comparable_words, numbers, protocols};
use crate::compare::model::{CompareReport, MatchKind, OffsetSource, Pair};
use crate::report::model::FlowReport;
use crate::report::plural;
use crate::report::text::wrap;
use std::io::{self, Write};

/// Width of the label column.
const LABEL: usize = 10;
/// Line width the findings and the summary wrap at, as `analyze`'s text does.
const WIDTH: usize = 100;

/// Bold (or plain) text.
fn bold(color: bool, text: &str) -> String {
    if color {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Renders the whole report.
pub fn render(report: &CompareReport, color: bool, out: &mut dyn Write) -> io::Result<()> {
    for (index, pair) in report.pairs.iter().enumerate() {
        render_pair(index, pair, color, out)?;
        writeln!(out)?;
    }
    for (side, flows) in [("A", &report.unpaired.a), ("B", &report.unpaired.b)] {
        for flow in flows.iter() {
            writeln!(
                out,
                "{} {side} flow {}  {} → {}  frames {}–{}",
                bold(color, "unpaired"),
                flow.id,
                flow.client,
                flow.server,
                flow.first_frame,
                flow.last_frame
            )?;
            writeln!(out, "  {:<LABEL$}{}", "", leg_summary(flow))?;
        }
    }
    if !report.unpaired.a.is_empty() || !report.unpaired.b.is_empty() {
        writeln!(out)?;
    }
    if !report.findings.is_empty() {
        writeln!(out, "{}", bold(color, "findings"))?;
    }
    for finding in &report.findings {
        let mut cites = Vec::new();
        if !finding.pairs.is_empty() {
            let more = finding.count.saturating_sub(finding.pairs.len());
            cites.push(format!(
                "{} {}{}",
                if finding.count == 1 { "pair" } else { "pairs" },
                numbers(&finding.pairs),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if !finding.frames_a.is_empty() {
            cites.push(format!("A frames {}", numbers(&finding.frames_a)));
        }
        if !finding.frames_b.is_empty() {
            cites.push(format!("B frames {}", numbers(&finding.frames_b)));
        }
        let sentence = format!("{}: {}", finding.kind, finding.detail);
        for (i, line) in wrap(&sentence, WIDTH - 4).iter().enumerate() {
            writeln!(out, "{}{line}", if i == 0 { "  - " } else { "    " })?;
        }
        for line in wrap(&cites.join("; "), WIDTH - 4) {
            writeln!(out, "    {line}")?;
        }
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    for (capture, side) in report.captures.iter().zip(["A", "B"]) {
        writeln!(
            out,
            "{} {side} {} ({}, {})",
            bold(color, "capture"),
            capture.path,
            capture.format,
            plural(capture.packets, "packet")
        )?;
        for warning in &capture.warnings {
            writeln!(out, "  warning: {warning}")?;
        }
    }
    let by_hello = report
        .pairs
        .iter()
        .filter(|p| p.matched == MatchKind::Hello)
        .count();
    let summary = format!(
        "{} ({by_hello} by ClientHello random, {} by time and SNI), unpaired {} in A and {} in B{}",
        plural(report.pairs.len() as u64, "pair"),
        report.pairs.len() - by_hello,
        report.unpaired.a.len(),
        report.unpaired.b.len(),
        match (report.clock_offset_ms, report.clock_offset_from) {
            (Some(ms), Some(OffsetSource::HelloPairs)) => {
                format!(", forwarded hellos reach B {ms:.3} ms after A (median)")
            }
            (Some(ms), _) =>
                format!(", B's clock taken as {ms:.3} ms ahead of A's (--clock-offset)"),
            (None, _) => String::new(),
        }
    );
    writeln!(out)?;
    labelled(out, &bold(color, "summary"), "summary", &summary)?;
    if let Some(ms) = super::median_delay(report, MatchKind::Timing) {
        labelled(
            out,
            &bold(color, "latency"),
            "latency",
            &format!(
                "the middlebox's own ClientHello follows the client's by {ms:.3} ms (median of \
                 the pairs by time)"
            ),
        )?;
    }
    Ok(())
}

/// `text` wrapped after a label (`painted`, which shows as `plain`), continuation lines
/// indented under the text.
fn labelled(out: &mut dyn Write, painted: &str, plain: &str, text: &str) -> io::Result<()> {
    let indent = plain.chars().count() + 1;
    for (i, line) in wrap(text, WIDTH - indent).iter().enumerate() {
        if i == 0 {
            writeln!(out, "{painted} {line}")?;
        } else {
            writeln!(out, "{:indent$}{line}", "")?;
        }
    }
    Ok(())
}

/// One leg in a line: "SNI alpn.test, offered h2, http/1.1, selected h2, agreed, frames 4, 6".
fn leg_summary(flow: &FlowReport) -> String {
    let mut frames: Vec<u64> = Vec::new();
    if let Some(h) = &flow.client_hello {
        frames.extend(&h.frames);
    }
    if let Some(h) = &flow.server_hello {
        frames.extend(&h.frames);
    }
    format!(
        "SNI {}, offered {}, selected {}, {}, hello frames {}",
        flow.sni.as_deref().unwrap_or("none"),
        if flow.offer_unknown() {
            "unknown (hello cut)".to_string()
        } else {
            protocols(&flow.alpn_offered)
        },
        flow.alpn_selected.as_deref().unwrap_or("none"),
        flow.verdict.name(),
        if frames.is_empty() {
            "none".to_string()
        } else {
            numbers(&frames)
        }
    )
}

/// One pair's block.
fn render_pair(index: usize, pair: &Pair, color: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}  A flow {} ↔ B flow {}  {}",
        bold(color, &format!("pair {index}")),
        pair.a.id,
        pair.b.id,
        matched_words(pair)
    )?;
    for (side, flow) in [("A", &pair.a), ("B", &pair.b)] {
        writeln!(
            out,
            "  {side:<LABEL$}{} → {}  frames {}–{}",
            flow.client, flow.server, flow.first_frame, flow.last_frame
        )?;
        writeln!(out, "  {:<LABEL$}{}", "", leg_summary(flow))?;
    }
    let handshake = |f: &FlowReport| f.tcp.as_ref().and_then(|t| t.handshake_ms);
    if let Some(delay) = pair.hello_delay_ms {
        let handshakes = match (handshake(&pair.a), handshake(&pair.b)) {
            (Some(a), Some(b)) => format!("; handshake {a:.3} ms in A, {b:.3} ms in B"),
            (Some(a), None) => format!("; handshake {a:.3} ms in A, no handshake time in B"),
            (None, Some(b)) => format!("; no handshake time in A, handshake {b:.3} ms in B"),
            (None, None) => "; no handshake time (none completed)".to_string(),
        };
        writeln!(
            out,
            "  {:<LABEL$}B's ClientHello {delay:.3} ms after A's{handshakes}",
            "delay"
        )?;
    }
    if pair.changes.is_empty() {
        writeln!(out, "  {:<LABEL$}none", "changes")?;
    }
    for (i, change) in pair.changes.iter().enumerate() {
        let label = if i == 0 { "changes" } else { "" };
        writeln!(out, "  {label:<LABEL$}{}", change_words(change))?;
    }
    for (i, gap) in pair.not_comparable.iter().enumerate() {
        let label = if i == 0 { "unknown" } else { "" };
        writeln!(out, "  {label:<LABEL$}{}", not_comparable_words(gap))?;
    }
    Ok(())
}
