//! DNS HTTPS and SVCB answers (RFC 9460) seen in the capture, and what a flow's name was
//! advertised with.

use serde::Serialize;

/// The record type of a [`DnsHttpsReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceRecordType {
    /// HTTPS (type 65).
    Https,
    /// SVCB (type 64).
    Svcb,
}

/// One HTTPS or SVCB record of a DNS answer.
///
/// Its one-line text form (`HTTPS example.com priority 1 target . alpn h2,http/1.1 …`) is
/// [`DnsHttpsReport::describe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsHttpsReport {
    /// Index into `captures`.
    pub capture: usize,
    /// The frame of the DNS response (1-based).
    pub frame: u64,
    /// When that frame was captured (RFC 3339, µs).
    pub time: String,
    /// HTTPS or SVCB.
    #[serde(rename = "record_type")]
    pub rtype: ServiceRecordType,
    /// The record's owner name (labels escaped losslessly, no trailing dot).
    pub name: String,
    /// The question's name, when it differs from the owner (a CNAME led there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// SvcPriority: 0 is AliasMode.
    pub priority: u16,
    /// TargetName; `.` means the owner itself.
    pub target: String,
    /// `alpn` identifiers in order (escaped losslessly).
    pub alpn: Vec<String>,
    /// `no-default-alpn` present: the client may not assume `http/1.1`.
    pub no_default_alpn: bool,
    /// `port`.
    pub port: Option<u16>,
    /// `ech` present.
    pub ech: bool,
    /// `ipv4hint` addresses.
    pub ipv4hint: Vec<String>,
    /// `ipv6hint` addresses.
    pub ipv6hint: Vec<String>,
    /// What was wrong with the record (lying lengths, truncated lists); what could be read is
    /// above.
    pub notes: Vec<String>,
}

/// A DNS HTTPS answer for a flow's name that came before the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAdvertised {
    /// The owner name looked up: the SNI, or `_PORT._https.SNI` for a port other than 443
    /// (RFC 9460 §9.1); for a flow without SNI tied by address, the record's owner name.
    pub name: String,
    /// The `alpn` identifiers of the ServiceMode record with the lowest priority.
    pub alpn: Vec<String>,
    /// `no-default-alpn` present in that record (else `http/1.1` is advertised too).
    pub no_default_alpn: bool,
    /// The frame of the DNS response.
    pub frame: u64,
    /// How the answer was tied to the flow.
    pub matched_by: DnsMatch,
}

/// How a DNS HTTPS answer was tied to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsMatch {
    /// The flow's SNI (or `_PORT._https.SNI`) is the record's owner name or the question.
    Name,
    /// The flow has no SNI, and its server's address is in the record's `ipv4hint` or
    /// `ipv6hint` (and its port the record's `port`, 443 without one).
    AddressHint,
}

impl DnsHttpsReport {
    /// `HTTPS example.com priority 1 target . alpn h2,http/1.1 no-default-alpn port 8443 ech
    /// ipv4hint 192.0.2.1 ipv6hint ::1` (params only when present).
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} {} priority {} target {}",
            match self.rtype {
                ServiceRecordType::Https => "HTTPS",
                ServiceRecordType::Svcb => "SVCB",
            },
            self.name,
            self.priority,
            self.target
        );
        if let Some(query) = &self.query {
            text.push_str(&format!(" (asked for {query})"));
        }
        if !self.alpn.is_empty() {
            text.push_str(&format!(" alpn {}", self.alpn.join(",")));
        }
        if self.no_default_alpn {
            text.push_str(" no-default-alpn");
        }
        if let Some(port) = self.port {
            text.push_str(&format!(" port {port}"));
        }
        if self.ech {
            text.push_str(" ech");
        }
        if !self.ipv4hint.is_empty() {
            text.push_str(&format!(" ipv4hint {}", self.ipv4hint.join(",")));
        }
        if !self.ipv6hint.is_empty() {
            text.push_str(&format!(" ipv6hint {}", self.ipv6hint.join(",")));
        }
        text
    }
}
