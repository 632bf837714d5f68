//! The problem flows section: problem flows grouped by capture, server and verdict; small groups
//! flow by flow, large ones as a count, a table of examples and the ids of the rest.

use super::flow::render_flow;
use super::tally::{MarkdownTally, ProblemGroup, Tally};
use super::{GROUP_EXAMPLES, LISTED_IDS, code, in_capture, plural, short_list_of};
use crate::report::model::Transport;
use std::io::{self, Write};

/// A section per TLS flow that did not agree on a protocol.
pub(super) fn render_problem_flows(
    report: &crate::report::model::Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Problem flows")?;
    writeln!(out)?;
    if tally.problems == 0 {
        writeln!(out, "None: every TLS flow agreed on a protocol.")?;
        writeln!(out)?;
    }
    let multi = report.captures.len() > 1;
    let groups = tally.groups();
    let collapsed: Vec<&&ProblemGroup> = groups
        .iter()
        .filter(|g| g.count > GROUP_EXAMPLES as u64)
        .collect();
    if !collapsed.is_empty() {
        let hidden: u64 = collapsed
            .iter()
            .map(|g| g.count - GROUP_EXAMPLES as u64)
            .sum();
        writeln!(
            out,
            "{} in {} of one capture, server and verdict. Groups of more than \
             {GROUP_EXAMPLES} flows ({} here) show {GROUP_EXAMPLES} examples and list the other \
             {} by id; `--format json` reports every flow.",
            plural(tally.problems, "problem flow"),
            plural((groups.len() + tally.other_groups.len()) as u64, "group"),
            collapsed.len(),
            plural(hidden, "flow"),
        )?;
        writeln!(out)?;
    }
    for group in &groups {
        if group.count > GROUP_EXAMPLES as u64 {
            render_group(group, multi, out)?;
        } else {
            for flow in &group.examples.flows {
                render_flow(flow, multi, out)?;
            }
        }
    }
    if tally.other_group_flows > 0 {
        writeln!(
            out,
            "Not shown: {} in {} more {} (only the first {} groups are shown); `--format json` reports every flow.",
            plural(tally.other_group_flows, "more problem flow"),
            tally.other_groups.len(),
            super::super::words::noun(tally.other_groups.len() as u64, "group"),
            super::tally::MAX_GROUPS
        )?;
        writeln!(out)?;
    }
    Ok(())
}

/// A large group: its count, the first flow's explanation, a table of examples, the other ids.
fn render_group(group: &ProblemGroup, multi: bool, out: &mut dyn Write) -> io::Result<()> {
    let capture = if multi {
        format!(" in capture {}", group.capture)
    } else {
        String::new()
    };
    let over = match group.transport {
        Transport::Tcp => "",
        Transport::Quic => " over QUIC",
    };
    writeln!(
        out,
        "### {} flows: `{}` — server {}{over}{capture}",
        group.count, group.verdict, group.server
    )?;
    writeln!(out)?;
    let examples = &group.examples.flows;
    if let Some(first) = examples.first() {
        writeln!(out, "Flow {}: {}", first.id, first.detail)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "SNI: {}. Offered: {}.",
        tally(&group.sni),
        tally(&group.offers)
    )?;
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
            "| {} | {} | {} | {} | {} | {} | {} | `{}`{} |",
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
            f.wireshark_filter(),
            in_capture(f, multi)
        )?;
    }
    let rest = group.count - GROUP_EXAMPLES as u64;
    let rest_ids = group.ids.get(GROUP_EXAMPLES..).unwrap_or_default();
    writeln!(out)?;
    writeln!(
        out,
        "Not shown: {rest} more {} with this verdict to this server: {} {}.",
        super::super::words::noun(rest, "flow"),
        super::super::words::noun(rest, "flow"),
        short_list_of(rest_ids, rest)
    )?;
    writeln!(out)?;
    Ok(())
}

/// Distinct values with their counts, most frequent first (ties in order of first flow), the
/// first `LISTED_IDS` of them: "`alpn.test` (200), `h1.alpn.test` (100)".
fn tally(values: &Tally) -> String {
    let ranked = values.ranked();
    let more = ranked.len().saturating_sub(LISTED_IDS);
    let mut parts: Vec<String> = ranked
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
        let mut values = Tally::default();
        for (id, v) in ["b", "a", "b", "c"].into_iter().enumerate() {
            values.add(v.to_string(), id as u64);
        }
        assert_eq!(tally(&values), "b (2), a (1), c (1)");
        let mut many = Tally::default();
        for i in 0..12 {
            many.add(i.to_string(), i);
        }
        assert!(tally(&many).ends_with("9 (1), and 2 more"));
    }
}
