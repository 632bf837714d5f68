//! The problem flows section: problem flows grouped by capture, server and verdict; small groups
//! flow by flow, large ones as a count, a table of examples and the ids of the rest.

use super::flow::render_flow;
use super::{GROUP_EXAMPLES, LISTED_IDS, code, in_capture, plural, short_list};
use crate::analysis::VerdictKind;
use crate::report::model::{EndpointReport, FlowReport, Report};
use std::io::{self, Write};

/// A section per TLS flow that did not agree on a protocol.
pub(super) fn render_problem_flows(report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
        if f.offer_unknown() {
            "unknown (ClientHello cut short)".into()
        } else if f.alpn_offered.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_and_cap() {
        let values = ["b", "a", "b", "c"].into_iter().map(String::from);
        assert_eq!(tally(values), "b (2), a (1), c (1)");
        let many = (0..12).map(|i| i.to_string());
        assert!(tally(many).ends_with("9 (1), and 2 more"));
    }
}
