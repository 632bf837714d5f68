//! The DNS HTTPS and SVCB records of the report, as a table (nothing when there are none).

use super::{cell, code};
use crate::report::model::{Report, ServiceRecordType};
use std::io::{self, Write};

/// Rows shown; the rest are counted (the JSON report lists them all).
pub const DNS_ROWS: usize = 50;

/// `## DNS HTTPS records` and one row per record, up to [`DNS_ROWS`].
pub(super) fn render_dns_https(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    if report.dns_https.is_empty() {
        return Ok(());
    }
    let multi = report.captures.len() > 1;
    writeln!(out)?;
    writeln!(out, "## DNS HTTPS records")?;
    writeln!(out)?;
    let capture_head = if multi { "capture | " } else { "" };
    let capture_rule = if multi { "---|" } else { "" };
    writeln!(
        out,
        "| {capture_head}frame | type | name | priority | target | alpn | other params |"
    )?;
    writeln!(out, "|{capture_rule}---|---|---|---|---|---|---|")?;
    for r in report.dns_https.iter().take(DNS_ROWS) {
        let capture = if multi {
            format!("{} | ", r.capture)
        } else {
            String::new()
        };
        let rtype = match r.rtype {
            ServiceRecordType::Https => "HTTPS",
            ServiceRecordType::Svcb => "SVCB",
        };
        let name = match &r.query {
            Some(query) => format!("{} (asked for {})", code(&r.name), code(query)),
            None => code(&r.name),
        };
        let alpn: Vec<String> = r.alpn.iter().map(|a| code(a)).collect();
        let mut params: Vec<String> = Vec::new();
        if r.no_default_alpn {
            params.push("no-default-alpn".into());
        }
        if let Some(port) = r.port {
            params.push(format!("port {port}"));
        }
        if r.ech {
            params.push("ech".into());
        }
        if !r.ipv4hint.is_empty() {
            params.push(format!("ipv4hint {}", r.ipv4hint.join(", ")));
        }
        if !r.ipv6hint.is_empty() {
            params.push(format!("ipv6hint {}", r.ipv6hint.join(", ")));
        }
        params.extend(r.notes.iter().map(|n| format!("note: {n}")));
        writeln!(
            out,
            "| {capture}{} | {rtype} | {name} | {} | {} | {} | {} |",
            r.frame,
            r.priority,
            code(&r.target),
            alpn.join(", "),
            cell(&params.join("; "))
        )?;
    }
    let more = report.dns_https.len().saturating_sub(DNS_ROWS);
    if more > 0 {
        writeln!(out)?;
        writeln!(out, "and {more} more (the JSON report lists them all)")?;
    }
    Ok(())
}
