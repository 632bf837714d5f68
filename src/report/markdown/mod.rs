//! The Markdown renderer: a report to paste into a bug ticket (GitHub, GitLab, Jira with
//! Markdown): capture metadata, a summary table, and a section per problem flow.
//!
//! It stays pasteable on big captures (a GitHub issue body holds 65,536 characters): problem
//! flows of one capture, server and verdict form one group, shown whole up to
//! [`GROUP_EXAMPLES`] flows and otherwise as a count, a table of examples and the ids of the
//! rest; id lists stop after [`LISTED_IDS`] with "and N more", and the report says what it
//! collapsed (the JSON report keeps every flow). With several captures, every table and frame
//! list names the capture its frames belong to. DNS HTTPS and SVCB records follow the summary
//! (at most 50 rows, `dns::DNS_ROWS`).

mod capture;
mod dns;
mod findings;
mod flow;
mod lossy;
mod problems;
mod tally;

use super::model::{FlowReport, Report};
use super::words::plural;
use capture::render_metadata;
use findings::{render_findings, render_summary};
use lossy::render_lossy_flows;
use problems::render_problem_flows;
use std::io::{self, Write};
pub use tally::{LOSSY_ROWS, MAX_GROUPS, MAX_SERVER_VALUES, MAX_TALLIED, MarkdownTally};

/// Groups of problem flows up to this size are shown flow by flow; larger ones as examples.
pub const GROUP_EXAMPLES: usize = 3;

/// Ids listed before "and N more".
pub const LISTED_IDS: usize = 10;

/// Renders the report as Markdown: findings first, then the summary, the problem flows, and the
/// capture metadata.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut tally = MarkdownTally::default();
    for flow in &report.flows {
        tally.add(flow);
    }
    render_tallied(report, &tally, out)
}

/// Renders a report whose flows were gathered in `tally` (its own `flows` are not read).
pub fn render_tallied(
    report: &Report,
    tally: &MarkdownTally,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "# alpnscope report")?;
    writeln!(out)?;
    render_findings(report, tally, out)?;
    render_summary(report, tally, out)?;
    dns::render_dns_https(report, out)?;
    render_lossy_flows(report, tally, out)?;
    render_problem_flows(report, tally, out)?;
    render_metadata(report, out)
}

/// "3, 7, 12", or "3, 7, 12 … (the first `LISTED_IDS` of `ids`) and 487 more" when `total`
/// ids stand behind the list.
fn short_list_of(ids: &[u64], total: u64) -> String {
    let shown: Vec<String> = ids.iter().take(LISTED_IDS).map(u64::to_string).collect();
    match total.saturating_sub(shown.len() as u64) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Escapes text for a table cell: pipes, backslashes and line breaks would break the table.
pub(crate) fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code that survives any content (backticks inside use a longer fence).
pub(crate) fn code(text: &str) -> String {
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

/// " (in capture N)" when the report covers several captures.
fn in_capture(flow: &FlowReport, multi: bool) -> String {
    if multi {
        format!(" (in capture {})", flow.capture)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_id_lists_are_shortened() {
        assert_eq!(short_list_of(&[3, 7, 12], 3), "3, 7, 12");
        let ids: Vec<u64> = (0..10).collect();
        assert_eq!(
            short_list_of(&ids, ids.len() as u64),
            "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
        );
        let ids: Vec<u64> = (0..497).collect();
        assert_eq!(
            short_list_of(&ids, ids.len() as u64),
            "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 487 more"
        );
    }

    #[test]
    fn table_cells_escape_pipes() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(code("h|2"), "`h\\|2`");
        assert_eq!(code("a`b"), "``a`b``");
    }
}
