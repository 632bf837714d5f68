//! The findings and summary sections: one bullet per cross-flow conclusion (or why there is
//! none), then the flow counts and the table of servers.

use super::tally::MarkdownTally;
use super::{code, plural, short_list_of};
use crate::report::model::{Diagnosis, Report, ServerSummary, Transport};
use std::io::{self, Write};

/// The findings section: one bullet per diagnosis, or why there is none.
pub(super) fn render_findings(
    report: &Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "## Findings")?;
    writeln!(out)?;
    if report.diagnosis.is_empty() {
        let problems = tally.problems;
        let gaps = tally.gap_flows;
        let refused = report.summary.starttls_refused_flows;
        if report.summary.tls_flows == 0 && refused > 0 {
            writeln!(
                out,
                "- No TLS handshake in the capture: the server refused to start TLS in {} (below).",
                plural(refused, "flow")
            )?;
        } else if report.summary.tls_flows == 0 {
            writeln!(out, "- No TLS flow in the capture.")?;
        } else if problems == 0 {
            writeln!(
                out,
                "- Every TLS flow agreed on a protocol; nothing to fix."
            )?;
        } else {
            writeln!(
                out,
                "- No conclusion across flows: the {problems} problem flow{} below share no server, client or network cause.{}",
                if problems == 1 { "" } else { "s" },
                if gaps > 0 {
                    format!(
                        " The capture itself missed packets in {gaps} handshake{} (see its warnings): those flows say what is missing.",
                        if gaps == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            )?;
        }
    }
    for d in &report.diagnosis {
        writeln!(
            out,
            "- **{}** — {} ({} {}; frames {})",
            d.kind.name().replace('_', " "),
            d.conclusion,
            if d.flows.len() as u64 + d.flows_omitted == 1 {
                "flow"
            } else {
                "flows"
            },
            short_list_of(&d.flows, d.flows.len() as u64 + d.flows_omitted),
            finding_frames(report, d)
        )?;
    }
    writeln!(out)
}

/// The evidence frames of a finding; with several captures, per capture ("4, 6 in capture 0;
/// 5 in capture 2"), since frame numbers restart in every file.
fn finding_frames(report: &Report, d: &Diagnosis) -> String {
    let list = |frames: &[u64]| {
        frames
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if report.captures.len() <= 1 {
        return list(&d.evidence_frames);
    }
    let mut parts = Vec::new();
    for (capture, frames) in &d.evidence_by_capture {
        // The finding's frames that are evidence of its flows in this capture.
        let frames: Vec<u64> = frames
            .iter()
            .copied()
            .filter(|n| d.evidence_frames.contains(n))
            .collect();
        if !frames.is_empty() {
            parts.push(format!("{} in capture {capture}", list(&frames)));
        }
    }
    parts.join("; ")
}

/// The summary section: flow counts, the network line, and the table of servers.
pub(super) fn render_summary(
    report: &Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = &report.summary;
    writeln!(out, "## Summary")?;
    writeln!(out)?;
    let refused = if s.starttls_refused_flows > 0 {
        format!(
            ", {} whose server refused to start TLS",
            plural(s.starttls_refused_flows, "flow")
        )
    } else {
        String::new()
    };
    let over_quic = if s.quic_flows > 0 {
        format!(" ({} over QUIC)", s.quic_flows)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}{over_quic}{refused}, {} without TLS.",
        plural(s.tls_flows, "TLS flow"),
        plural(s.non_tls_flows, "TCP flow")
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
        render_server_table(report, tally, out)?;
    }
    Ok(())
}

/// `` `127.0.0.1:443` ``, or `` `127.0.0.1:443` over QUIC ``.
fn server_cell(server: &ServerSummary) -> String {
    match server.transport {
        Transport::Tcp => code(&server.server),
        Transport::Quic => format!("{} over QUIC", code(&server.server)),
    }
}

/// The table of servers: SNI, flow count, protocols selected (agreed or downgraded) and verdict
/// counts.
fn render_server_table(
    report: &Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let multi = report.captures.len() > 1;
    writeln!(out)?;
    if multi {
        writeln!(
            out,
            "| server | captures | SNI | flows | protocols selected | verdicts |"
        )?;
        writeln!(out, "|---|---|---|---:|---|---|")?;
    } else {
        writeln!(
            out,
            "| server | SNI | flows | protocols selected | verdicts |"
        )?;
        writeln!(out, "|---|---|---:|---|---|")?;
    }
    for server in &report.summary.servers {
        let verdicts: Vec<String> = server
            .verdicts
            .iter()
            .map(|(v, n)| format!("`{v}` {n}"))
            .collect();
        let sni: Vec<String> = server.sni.iter().map(|n| code(n)).collect();
        let extras = tally
            .servers
            .get(&(server.endpoint.clone(), server.transport));
        let agreed: Vec<&str> = extras
            .map(|e| e.agreed.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let captures = if multi {
            let seen: Vec<String> = extras
                .map(|e| e.captures.iter().map(usize::to_string).collect())
                .unwrap_or_default();
            format!(" {} |", seen.join(", "))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {} |{captures} {} | {} | {} | {} |",
            server_cell(server),
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
