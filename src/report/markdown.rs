//! The Markdown renderer: a report to paste into a bug ticket (GitHub, GitLab, Jira with
//! Markdown): capture metadata, a summary table, and a section per problem flow.

use super::model::{FlowReport, Report};
use crate::analysis::VerdictKind;
use crate::analysis::network::CapturePoint;
use std::io::{self, Write};

/// Escapes text for a table cell: pipes, backslashes and line breaks would break the table.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code that survives any content (backticks inside use a longer fence).
fn code(text: &str) -> String {
    if text.is_empty() {
        return "(empty)".into();
    }
    let fence = if text.contains('`') { "``" } else { "`" };
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}").replace('|', "\\|")
}

/// Renders the report as Markdown: findings first, then the summary, the problem flows, and the
/// capture metadata.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# alpnscope report")?;
    writeln!(out)?;
    render_findings(report, out)?;
    render_summary(report, out)?;
    render_lossy_flows(report, out)?;
    render_problem_flows(report, out)?;
    render_metadata(report, out)
}

/// The findings section: one bullet per diagnosis, or why there is none.
fn render_findings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Findings")?;
    writeln!(out)?;
    if report.diagnosis.is_empty() {
        if report.summary.tls_flows == 0 {
            writeln!(out, "- No TLS flow in the capture.")?;
        } else {
            writeln!(
                out,
                "- Every TLS flow agreed on a protocol; nothing to fix."
            )?;
        }
    }
    for d in &report.diagnosis {
        let flows: Vec<String> = d.flows.iter().map(u64::to_string).collect();
        let frames: Vec<String> = d.evidence_frames.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "- **{}** — {} (flows {}; frames {})",
            d.kind.name().replace('_', " "),
            d.conclusion,
            flows.join(", "),
            frames.join(", ")
        )?;
    }
    writeln!(out)
}

/// The summary section: flow counts, the network line, and the table of servers.
fn render_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    writeln!(out, "## Summary")?;
    writeln!(out)?;
    writeln!(
        out,
        "{}, {}.",
        plural(s.tls_flows, "TLS flow"),
        plural(s.non_tls_flows, "other TCP flow")
    )?;
    if s.handshake_loss_flows + s.reset_flows > 0 {
        writeln!(
            out,
            "Network: **{} lost packets during the TLS handshake**, {} with loss anywhere, {} reset.",
            plural(s.handshake_loss_flows, "flow"),
            s.loss_flows,
            s.reset_flows
        )?;
    }
    if !s.servers.is_empty() {
        render_server_table(report, out)?;
    }
    Ok(())
}

/// The table of servers: SNI, flow count, protocols selected (agreed or downgraded) and verdict
/// counts.
fn render_server_table(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "| server | SNI | flows | protocols selected | verdicts |"
    )?;
    writeln!(out, "|---|---|---:|---|---|")?;
    for server in &report.summary.servers {
        let verdicts: Vec<String> = server
            .verdicts
            .iter()
            .map(|(v, n)| format!("`{v}` {n}"))
            .collect();
        let sni: Vec<String> = server.sni.iter().map(|n| code(n)).collect();
        let mut agreed: Vec<String> = report
            .flows
            .iter()
            .filter(|f| {
                matches!(f.verdict, VerdictKind::Agreed | VerdictKind::Downgraded)
                    && f.server == server.endpoint
            })
            .filter_map(|f| f.alpn_selected.as_deref().map(code))
            .collect();
        agreed.sort();
        agreed.dedup();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            code(&server.server),
            if sni.is_empty() {
                "-".into()
            } else {
                sni.join(", ")
            },
            server.flows,
            if agreed.is_empty() {
                "-".into()
            } else {
                agreed.join(", ")
            },
            verdicts.join(", ")
        )?;
    }
    Ok(())
}

/// The table of flows whose handshake lost packets, when there are any.
fn render_lossy_flows(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let lossy: Vec<&FlowReport> = report
        .flows
        .iter()
        .filter(|f| f.tcp.handshake_loss)
        .collect();
    if lossy.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "## Flows whose handshake lost packets")?;
    writeln!(out)?;
    writeln!(
        out,
        "| flow | client → server | verdict | what the network did | Wireshark filter |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for f in lossy {
        writeln!(
            out,
            "| {} | {} → {} | `{}` | {} | `tcp.stream eq {}` |",
            f.id,
            f.client,
            f.server,
            f.verdict,
            cell(f.network.as_deref().unwrap_or(&f.detail)),
            f.tcp_stream
        )?;
    }
    Ok(())
}

/// A section per TLS flow that did not agree on a protocol.
fn render_problem_flows(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let problems: Vec<&FlowReport> = report
        .flows
        .iter()
        .filter(|f| f.verdict.is_problem())
        .collect();
    writeln!(out)?;
    writeln!(out, "## Problem flows")?;
    writeln!(out)?;
    if problems.is_empty() {
        writeln!(out, "None: every TLS flow agreed on a protocol.")?;
        writeln!(out)?;
    }
    let multi = report.captures.len() > 1;
    for flow in problems {
        render_flow(flow, multi, out)?;
    }
    Ok(())
}

/// "1 flow", "2 flows".
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn render_metadata(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Capture")?;
    writeln!(out)?;
    writeln!(
        out,
        "| # | file | format | size | SHA-256 | packets | first packet | last packet | link types | snaplen | capture statistics |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for (i, c) in report.captures.iter().enumerate() {
        let stats = c
            .statistics
            .map(|st| {
                format!(
                    "received {}, dropped {} (kernel), {} (interface)",
                    st.received, st.dropped, st.interface_dropped
                )
            })
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "| {i} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {stats} |",
            code(&c.path),
            c.format,
            c.size
                .map(|s| format!("{s} bytes"))
                .unwrap_or_else(|| "-".into()),
            c.sha256.as_deref().map(code).unwrap_or_else(|| "-".into()),
            c.packets,
            c.first_time.as_deref().unwrap_or("-"),
            c.last_time.as_deref().unwrap_or("-"),
            cell(&c.link_types.join(", ")),
            c.snaplen
        )?;
    }
    for c in &report.captures {
        for w in &c.warnings {
            writeln!(out)?;
            writeln!(out, "> **Warning** ({}): {}", cell(&c.path), cell(w))?;
        }
    }
    writeln!(out)?;
    write!(
        out,
        "Generated by {} {}",
        report.tool.name, report.tool.version
    )?;
    match &report.tool.command_line {
        Some(cmd) => writeln!(out, " with {}.", code(cmd)),
        None => writeln!(out, "."),
    }
}

/// One problem flow: its heading and sentence, then a table of what the capture shows.
fn render_flow(flow: &FlowReport, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "### Flow {}: `{}` — {} → {}",
        flow.id, flow.verdict, flow.client, flow.server
    )?;
    writeln!(out)?;
    writeln!(out, "{}", flow.detail)?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "|---|---|")?;
    render_handshake_rows(flow, multi, out)?;
    let timing = timing(flow);
    if !timing.is_empty() {
        writeln!(out, "| timing | {} |", timing.join(", "))?;
    }
    render_event_rows(flow, out)?;
    writeln!(out)?;
    Ok(())
}

/// The rows about the handshake: Wireshark filter, SNI, offer, selection, version, evidence, JA4.
fn render_handshake_rows(flow: &FlowReport, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    let capture = if multi {
        format!(" (in capture {})", flow.capture)
    } else {
        String::new()
    };
    writeln!(
        out,
        "| Wireshark filter | `tcp.stream eq {}`{capture} |",
        flow.tcp_stream
    )?;
    writeln!(
        out,
        "| SNI | {} |",
        flow.sni.as_deref().map(code).unwrap_or_else(|| "-".into())
    )?;
    let offered: Vec<String> = flow.alpn_offered.iter().map(|p| code(p)).collect();
    writeln!(
        out,
        "| offered | {} |",
        if offered.is_empty() {
            "-".into()
        } else {
            offered.join(", ")
        }
    )?;
    writeln!(
        out,
        "| selected | {} |",
        flow.alpn_selected
            .as_deref()
            .map(code)
            .unwrap_or_else(|| "-".into())
    )?;
    writeln!(
        out,
        "| TLS version | {} |",
        flow.tls_version.as_deref().unwrap_or("-")
    )?;
    let frames: Vec<String> = flow.evidence_frames.iter().map(u64::to_string).collect();
    writeln!(out, "| evidence frames | {} |", frames.join(", "))?;
    if let Some(ch) = &flow.client_hello {
        writeln!(out, "| JA4 | `{}` |", ch.ja4)?;
    }
    Ok(())
}

/// Connect time, hello latency and handshake time, when known.
fn timing(flow: &FlowReport) -> Vec<String> {
    let t = &flow.tcp;
    let mut timing = Vec::new();
    if let Some(ms) = t.connect_ms {
        let point = match t.capture_point {
            CapturePoint::Client | CapturePoint::Server => {
                format!(" (captured near the {})", t.capture_point)
            }
            CapturePoint::Unknown => String::new(),
        };
        timing.push(format!("connect {ms:.3} ms{point}"));
    }
    if let Some(ms) = t.client_hello_to_server_hello_ms {
        timing.push(format!("ClientHello → ServerHello {ms:.3} ms"));
    }
    if let Some(ms) = t.handshake_ms {
        timing.push(format!("handshake {ms:.3} ms"));
    }
    timing
}

/// The rows about what happened: alerts, the network finding, resets and notes.
fn render_event_rows(flow: &FlowReport, out: &mut dyn Write) -> io::Result<()> {
    for alert in &flow.alerts {
        match alert.code {
            Some(code) => writeln!(
                out,
                "| alert | {} `{}` ({code}) from the {} (frame {}) |",
                alert.level, alert.description, alert.from, alert.frame
            )?,
            None => writeln!(
                out,
                "| alert | encrypted alert from the {} (frame {}) |",
                alert.from, alert.frame
            )?,
        }
    }
    if let Some(network) = &flow.network {
        writeln!(out, "| network | {} |", cell(network))?;
    }
    for reset in &flow.tcp.resets {
        writeln!(
            out,
            "| reset | RST from the {} in frame {}, TTL {}{} |",
            reset.from,
            reset.frame,
            reset.ttl,
            reset
                .usual_ttl
                .map(|u| format!(" (usual {u})"))
                .unwrap_or_default()
        )?;
    }
    for note in &flow.notes {
        writeln!(out, "| note | {} |", cell(note))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_escape_pipes() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(code("h|2"), "`h\\|2`");
        assert_eq!(code("a`b"), "``a`b``");
    }
}
