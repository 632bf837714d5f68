//! The Markdown renderer: a report to paste into a bug ticket (GitHub, GitLab, Jira with
//! Markdown): capture metadata, a summary table, and a section per problem flow.
//!
//! It stays pasteable on big captures (a GitHub issue body holds 65,536 characters): problem
//! flows of one capture, server and verdict form one group, shown whole up to
//! [`GROUP_EXAMPLES`] flows and otherwise as a count, a table of examples and the ids of the
//! rest; id lists stop after [`LISTED_IDS`] with "and N more", and the report says what it
//! collapsed (the JSON report keeps every flow). With several captures, every table and frame
//! list names the capture its frames belong to.

use super::model::{Diagnosis, EndpointReport, FlowReport, Report};
use crate::analysis::VerdictKind;
use crate::analysis::network::CapturePoint;
use crate::flow::Anomaly;
use std::io::{self, Write};

/// Groups of problem flows up to this size are shown flow by flow; larger ones as examples.
pub const GROUP_EXAMPLES: usize = 3;

/// Ids listed before "and N more".
pub const LISTED_IDS: usize = 10;

/// Rows of the table of lossy flows before the rest are only listed by id.
const LOSSY_ROWS: usize = 20;

/// "3, 7, 12", or "3, 7, 12 … (the first `LISTED_IDS`) and 487 more".
fn short_list(ids: &[u64]) -> String {
    let shown: Vec<String> = ids.iter().take(LISTED_IDS).map(u64::to_string).collect();
    match ids.len().saturating_sub(LISTED_IDS) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

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

/// The loss a flow's handshake saw: its `network` finding, else its retransmissions in the
/// handshake window (a flow without a ServerHello has no finding).
fn what_the_network_did(flow: &FlowReport) -> String {
    if let Some(network) = &flow.network {
        return network.clone();
    }
    let mut parts = Vec::new();
    for kind in [
        Anomaly::Retransmission,
        Anomaly::FastRetransmission,
        Anomaly::SpuriousRetransmission,
        Anomaly::SynRetransmission,
    ] {
        let Some(counts) = flow.tcp.handshake.get(kind.name()) else {
            continue;
        };
        for (who, count) in [("client", &counts.client), ("server", &counts.server)] {
            if let Some(c) = count {
                let frames: Vec<String> = c.frames.iter().map(u64::to_string).collect();
                parts.push(format!(
                    "{} {who} {} (frames {})",
                    c.count,
                    kind.name().replace('_', " "),
                    frames.join(", ")
                ));
            }
        }
    }
    if parts.is_empty() {
        flow.detail.clone()
    } else {
        format!("in the handshake: {}", parts.join("; "))
    }
}

/// The findings section: one bullet per diagnosis, or why there is none.
fn render_findings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "## Findings")?;
    writeln!(out)?;
    if report.diagnosis.is_empty() {
        let problems = report
            .flows
            .iter()
            .filter(|f| f.verdict.is_problem())
            .count();
        let gaps = report
            .flows
            .iter()
            .filter(|f| !f.tcp.capture_gaps.is_empty())
            .count();
        if report.summary.tls_flows == 0 {
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
            "- **{}** — {} (flows {}; frames {})",
            d.kind.name().replace('_', " "),
            d.conclusion,
            short_list(&d.flows),
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
    for capture in 0..report.captures.len() {
        // The finding's frames that are evidence of its flows in this capture.
        let mut frames: Vec<u64> = report
            .flows
            .iter()
            .filter(|f| f.capture == capture && d.flows.contains(&f.id))
            .flat_map(|f| f.evidence_frames.iter().copied())
            .filter(|n| d.evidence_frames.contains(n))
            .collect();
        frames.sort_unstable();
        frames.dedup();
        if !frames.is_empty() {
            parts.push(format!("{} in capture {capture}", list(&frames)));
        }
    }
    parts.join("; ")
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
        let captures = if multi {
            let mut seen: Vec<usize> = report
                .flows
                .iter()
                .filter(|f| f.server == server.endpoint)
                .map(|f| f.capture)
                .collect();
            seen.sort_unstable();
            seen.dedup();
            let seen: Vec<String> = seen.iter().map(usize::to_string).collect();
            format!(" {} |", seen.join(", "))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {} |{captures} {} | {} | {} | {} |",
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
    let multi = report.captures.len() > 1;
    writeln!(out)?;
    writeln!(out, "## Flows whose handshake lost packets")?;
    writeln!(out)?;
    writeln!(
        out,
        "| flow | client → server | verdict | what the network did | Wireshark filter |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for f in lossy.iter().take(LOSSY_ROWS) {
        writeln!(
            out,
            "| {} | {} → {} | `{}` | {} | `tcp.stream eq {}`{} |",
            f.id,
            f.client,
            f.server,
            f.verdict,
            cell(&what_the_network_did(f)),
            f.tcp_stream,
            in_capture(f, multi)
        )?;
    }
    if lossy.len() > LOSSY_ROWS {
        let rest: Vec<u64> = lossy.iter().skip(LOSSY_ROWS).map(|f| f.id).collect();
        writeln!(out)?;
        writeln!(
            out,
            "{} more flows lost packets during the handshake (not shown): flows {}.",
            rest.len(),
            short_list(&rest)
        )?;
    }
    Ok(())
}

/// " (in capture N)" when the report covers several captures.
fn in_capture(flow: &FlowReport, multi: bool) -> String {
    if multi {
        format!(" (in capture {})", flow.capture)
    } else {
        String::new()
    }
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
    let groups = group_problems(&problems);
    let collapsed: Vec<&ProblemGroup<'_>> = groups
        .iter()
        .filter(|g| g.flows.len() > GROUP_EXAMPLES)
        .collect();
    if !collapsed.is_empty() {
        let hidden: usize = collapsed
            .iter()
            .map(|g| g.flows.len() - GROUP_EXAMPLES)
            .sum();
        writeln!(
            out,
            "{} in {} of one capture, server and verdict. Groups of more than \
             {GROUP_EXAMPLES} flows ({} here) show {GROUP_EXAMPLES} examples and list the other \
             {hidden} flows by id; `--format json` reports every flow.",
            plural(problems.len() as u64, "problem flow"),
            plural(groups.len() as u64, "group"),
            collapsed.len(),
        )?;
        writeln!(out)?;
    }
    for group in &groups {
        if group.flows.len() > GROUP_EXAMPLES {
            render_group(group, multi, out)?;
        } else {
            for flow in &group.flows {
                render_flow(flow, multi, out)?;
            }
        }
    }
    Ok(())
}

/// Problem flows of one capture and server with one verdict.
struct ProblemGroup<'a> {
    capture: usize,
    server: EndpointReport,
    verdict: VerdictKind,
    flows: Vec<&'a FlowReport>,
}

/// The problem flows grouped by capture, server and verdict, in order of each group's first flow.
fn group_problems<'a>(problems: &[&'a FlowReport]) -> Vec<ProblemGroup<'a>> {
    let mut groups: Vec<ProblemGroup<'a>> = Vec::new();
    for flow in problems {
        match groups.iter_mut().find(|g| {
            g.capture == flow.capture && g.server == flow.server && g.verdict == flow.verdict
        }) {
            Some(group) => group.flows.push(flow),
            None => groups.push(ProblemGroup {
                capture: flow.capture,
                server: flow.server.clone(),
                verdict: flow.verdict,
                flows: vec![flow],
            }),
        }
    }
    groups
}

/// Distinct values with their counts, most frequent first (ties in order of appearance), the
/// first `LISTED_IDS` of them: "`alpn.test` (200), `h1.alpn.test` (100)".
fn tally<'a>(values: impl Iterator<Item = String> + 'a) -> String {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for v in values {
        match seen.iter_mut().find(|(s, _)| *s == v) {
            Some((_, n)) => *n += 1,
            None => seen.push((v, 1)),
        }
    }
    seen.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let more = seen.len().saturating_sub(LISTED_IDS);
    let mut parts: Vec<String> = seen
        .iter()
        .take(LISTED_IDS)
        .map(|(v, n)| format!("{v} ({n})"))
        .collect();
    if more > 0 {
        parts.push(format!("and {more} more"));
    }
    parts.join(", ")
}

/// A large group: its count, the first flow's explanation, a table of examples, the other ids.
fn render_group(group: &ProblemGroup<'_>, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    let capture = if multi {
        format!(" in capture {}", group.capture)
    } else {
        String::new()
    };
    writeln!(
        out,
        "### {} flows: `{}` — server {}{capture}",
        group.flows.len(),
        group.verdict,
        group.server
    )?;
    writeln!(out)?;
    let examples = group.flows.get(..GROUP_EXAMPLES).unwrap_or(&group.flows);
    if let Some(first) = examples.first() {
        writeln!(out, "Flow {}: {}", first.id, first.detail)?;
        writeln!(out)?;
    }
    let sni = tally(
        group
            .flows
            .iter()
            .map(|f| f.sni.as_deref().map(code).unwrap_or_else(|| "none".into())),
    );
    let offers = tally(group.flows.iter().map(|f| {
        if f.alpn_offered.is_empty() {
            "none".into()
        } else {
            code(&f.alpn_offered.join(","))
        }
    }));
    writeln!(out, "SNI: {sni}. Offered: {offers}.")?;
    writeln!(out)?;
    writeln!(
        out,
        "| example flow | client | SNI | offered | selected | TLS version | evidence frames | Wireshark filter |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for f in examples {
        let offered: Vec<String> = f.alpn_offered.iter().map(|p| code(p)).collect();
        let frames: Vec<String> = f.evidence_frames.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | `tcp.stream eq {}`{} |",
            f.id,
            f.client,
            f.sni.as_deref().map(code).unwrap_or_else(|| "-".into()),
            if offered.is_empty() {
                "-".into()
            } else {
                offered.join(", ")
            },
            f.alpn_selected
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "-".into()),
            f.tls_version.as_deref().unwrap_or("-"),
            frames.join(", "),
            f.tcp_stream,
            in_capture(f, multi)
        )?;
    }
    let rest: Vec<u64> = group
        .flows
        .iter()
        .skip(GROUP_EXAMPLES)
        .map(|f| f.id)
        .collect();
    writeln!(out)?;
    writeln!(
        out,
        "Not shown: {} more flows with this verdict to this server: flows {}.",
        rest.len(),
        short_list(&rest)
    )?;
    writeln!(out)?;
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
                let count = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
                format!(
                    "received {}, dropped {} (OS), {} (interface)",
                    count(st.received),
                    count(st.dropped),
                    count(st.interface_dropped)
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
    writeln!(
        out,
        "| Wireshark filter | `tcp.stream eq {}`{} |",
        flow.tcp_stream,
        in_capture(flow, multi)
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
    writeln!(
        out,
        "| evidence frames | {}{} |",
        frames.join(", "),
        in_capture(flow, multi)
    )?;
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
    if let Some(slow) = &flow.tcp.slow_server {
        writeln!(out, "| wait | {} |", cell(&slow.detail))?;
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
    fn long_id_lists_are_shortened() {
        assert_eq!(short_list(&[3, 7, 12]), "3, 7, 12");
        let ids: Vec<u64> = (0..10).collect();
        assert_eq!(short_list(&ids), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
        let ids: Vec<u64> = (0..497).collect();
        assert_eq!(
            short_list(&ids),
            "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 487 more"
        );
    }

    #[test]
    fn tallies_count_and_cap() {
        let values = ["b", "a", "b", "c"].into_iter().map(String::from);
        assert_eq!(tally(values), "b (2), a (1), c (1)");
        let many = (0..12).map(|i| i.to_string());
        assert!(tally(many).ends_with("9 (1), and 2 more"));
    }

    #[test]
    fn table_cells_escape_pipes() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(code("h|2"), "`h\\|2`");
        assert_eq!(code("a`b"), "``a`b``");
    }
}
