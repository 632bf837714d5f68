//! Selecting flows for a report: by SNI (glob), by server address, by verdict. The summary is
//! recomputed over the flows kept.

use super::model::{FlowReport, Report};
use crate::analysis::VerdictKind;
use std::fmt;
use std::net::IpAddr;

/// Which flows a report keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowFilter {
    /// SNI glob (`*` any run, `?` one character; case-insensitive).
    pub sni: Option<String>,
    /// Server address, and port when given.
    pub server: Option<(IpAddr, Option<u16>)>,
    /// Verdicts kept (all when `None`).
    pub verdicts: Option<Vec<VerdictKind>>,
}

/// A filter argument that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// Not a verdict name.
    UnknownVerdict(String),
    /// Not `IP` or `IP:PORT` (IPv6 with a port as `[IP]:PORT`).
    BadServer(String),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::UnknownVerdict(v) => {
                let names: Vec<&str> = VerdictKind::ALL.iter().map(|k| k.name()).collect();
                write!(f, "unknown verdict '{v}' (verdicts: {})", names.join(", "))
            }
            FilterError::BadServer(s) => write!(
                f,
                "'{s}' is not a server address (IP, IP:PORT, or [IPv6]:PORT)"
            ),
        }
    }
}

impl std::error::Error for FilterError {}

/// Parses a comma-separated verdict list.
pub fn parse_verdicts(list: &str) -> Result<Vec<VerdictKind>, FilterError> {
    list.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            VerdictKind::from_name(v).ok_or_else(|| FilterError::UnknownVerdict(v.to_string()))
        })
        .collect()
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_server(text: &str) -> Result<(IpAddr, Option<u16>), FilterError> {
    let bad = || FilterError::BadServer(text.to_string());
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = host.parse::<IpAddr>().map_err(|_| bad())?;
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((ip, Some(port)))
}

/// Glob match with `*` and `?`, ASCII case-insensitive.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl FlowFilter {
    /// True when no condition is set.
    pub fn is_empty(&self) -> bool {
        self == &FlowFilter::default()
    }

    /// True when `flow` passes every condition.
    pub fn keeps(&self, flow: &FlowReport) -> bool {
        if let Some(pattern) = &self.sni
            && !flow
                .sni
                .as_deref()
                .is_some_and(|sni| glob_match(pattern, sni))
        {
            return false;
        }
        if let Some((ip, port)) = &self.server {
            if flow.server.ip != *ip || port.is_some_and(|p| p != flow.server.port) {
                return false;
            }
        }
        if let Some(verdicts) = &self.verdicts
            && !verdicts.contains(&flow.verdict)
        {
            return false;
        }
        true
    }

    /// Drops the flows that do not pass and recomputes the summary over the rest.
    pub fn apply(&self, report: &mut Report) {
        if self.is_empty() {
            return;
        }
        let keep: Vec<bool> = report.flows.iter().map(|f| self.keeps(f)).collect();
        keep_only(report, &keep);
    }
}

/// Keeps the flows of `report` whose entry in `keep` is true (decided before the flows were
/// redacted, when they are), and the summary over them; the findings are drawn from every flow
/// and given for the servers of the flows kept.
pub fn keep_only(report: &mut Report, keep: &[bool]) {
    let mut diagnosis = super::diagnosis::DiagnosisTally::filtered();
    for (flow, &kept) in report.flows.iter().zip(keep) {
        diagnosis.add(flow);
        if kept {
            diagnosis.keep(flow);
        }
    }
    report.diagnosis = diagnosis.conclusions();
    let mut kept = keep.iter();
    report
        .flows
        .retain(|_| kept.next().copied().unwrap_or(false));
    let non_tls = report.summary.non_tls_flows;
    report.summary = super::summary::summarize(&report.flows, non_tls);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.example.com", "api.Example.com"));
        assert!(glob_match("api?", "api1"));
        assert!(!glob_match("*.example.com", "example.com"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b", "ac"));
    }

    #[test]
    fn servers_and_verdicts() {
        assert_eq!(
            parse_server("10.0.0.1").unwrap(),
            ("10.0.0.1".parse().unwrap(), None)
        );
        assert_eq!(parse_server("10.0.0.1:443").unwrap().1, Some(443));
        assert_eq!(
            parse_server("[::1]:8443").unwrap(),
            ("::1".parse().unwrap(), Some(8443))
        );
        assert!(parse_server("example.com:443").is_err());
        assert_eq!(
            parse_verdicts("agreed, hidden").unwrap(),
            vec![VerdictKind::Agreed, VerdictKind::Hidden]
        );
        assert!(matches!(
            parse_verdicts("agred"),
            Err(FilterError::UnknownVerdict(_))
        ));
    }
}
