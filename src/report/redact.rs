//! Redaction for public tickets: addresses, server names and capture paths replaced by stable
//! pseudonyms.
//!
//! An address keeps its family, its class (loopback, private, link-local, public) and the length
//! of its text, so a packet can carry the pseudonym in its place. A server
//! name keeps only its public suffix (`com`, `co.uk`, `test`); the registrable label under it
//! becomes `site-TAG`, a pseudonym of the registrable domain, and every label in front of that
//! becomes one `host-TAG`, a pseudonym of the whole name: `example.com` → `site-9c01.com`,
//! `api.example.com` → `host-3f2a.site-9c01.com`. So no label is ever shown in one name and
//! hidden in another (the old rule kept `example.com` in `api.example.com` while it hid
//! `example.com` itself), and names under one registrable domain still visibly share it.
//! `SniMode::Full` hides the whole name (`host-3f2a.invalid`). Capture files are called
//! `capture 0`, `capture 1`, … — the numbers the report already uses for them — because paths
//! name users, customers and hosts. Pseudonyms are keyed: the same input and key give the same
//! report, so reports can be compared; without a key the caller supplies a random one. Applies
//! to the whole report model, so every format is covered; key material is never in the model
//! to begin with.

use super::model::{CaptureReport, DnsHttpsReport, FlowReport, Report};
use crate::tls::starttls::StartTlsProtocol;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How much of a server name is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SniMode {
    /// Keep the registrable domain (or the top-level domain).
    #[default]
    KeepSuffix,
    /// Replace the whole name.
    Full,
}

/// Second-level labels under which registrations happen (`example.co.uk`).
const SECOND_LEVEL: [&str; 8] = ["co", "com", "net", "org", "gov", "ac", "edu", "ne"];

/// Replaces addresses and names with keyed pseudonyms.
#[derive(Debug, Clone)]
pub struct Redactor {
    key: Vec<u8>,
    mode: SniMode,
    names: HashMap<String, String>,
    addresses: HashMap<IpAddr, IpAddr>,
    /// The pseudonyms handed out (the values of `addresses`), to keep them distinct in O(1).
    pseudonyms: HashSet<IpAddr>,
}

impl Redactor {
    /// A redactor with `key` (any bytes) and the name mode.
    pub fn new(key: &[u8], mode: SniMode) -> Redactor {
        Redactor {
            key: key.to_vec(),
            mode,
            names: HashMap::new(),
            addresses: HashMap::new(),
            pseudonyms: HashSet::new(),
        }
    }

    /// The keyed digest of `data` for one use (`domain`): pseudonyms that cannot be checked
    /// against a guess without the key.
    pub(crate) fn digest(&self, domain: &str, data: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((self.key.len() as u64).to_be_bytes());
        h.update(&self.key);
        h.update(domain.as_bytes());
        h.update(data);
        h.finalize().into()
    }

    fn tag(&self, domain: &str, data: &[u8]) -> String {
        let d = self.digest(domain, data);
        format!("{:02x}{:02x}", d[0], d[1])
    }

    /// The pseudonym of an address: same family, same class (loopback, each private range,
    /// link-local, public; for IPv6 also unique-local and multicast), and written as long as the
    /// original (an IPv4 pseudonym has as many characters in dotted form; an IPv6 one has its
    /// zero groups where the original has them), so that an extract can carry it in place of
    /// the original's text (`CONNECT 10.1.2.3:443`) without moving a byte.
    pub fn address(&mut self, ip: IpAddr) -> IpAddr {
        if let Some(p) = self.addresses.get(&ip) {
            return *p;
        }
        if let IpAddr::V6(v6) = ip
            && (v6.is_loopback() || v6.is_unspecified())
        {
            // One of a kind: it names nobody.
            return ip;
        }
        let mut counter = 0u32;
        let pseudonym = loop {
            let mut data = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            data.extend_from_slice(&counter.to_be_bytes());
            let d = self.digest("ip", &data);
            let candidate = pseudonym_in_class(ip, &d);
            // Distinct addresses keep distinct pseudonyms, and no pseudonym is an original.
            if candidate != ip
                && !self.addresses.contains_key(&candidate)
                && !self.pseudonyms.contains(&candidate)
                || counter > 64
            {
                break candidate;
            }
            counter += 1;
        };
        self.addresses.insert(ip, pseudonym);
        self.pseudonyms.insert(pseudonym);
        pseudonym
    }

    /// The pseudonym of a DNS name: its public suffix kept, the registrable label replaced by a
    /// pseudonym of the registrable domain, the labels in front by one pseudonym of the name.
    pub fn name(&mut self, name: &str) -> String {
        if let Some(p) = self.names.get(name) {
            return p.clone();
        }
        let lower = name.to_ascii_lowercase();
        let trimmed = lower.trim_end_matches('.');
        let tag = self.tag("name", trimmed.as_bytes());
        let labels: Vec<&str> = trimmed.split('.').collect();
        let registrable = registrable_labels(&labels);
        let pseudonym = match self.mode {
            SniMode::Full => format!("host-{tag}.invalid"),
            // A bare public suffix or a single label: nothing can be kept.
            SniMode::KeepSuffix if labels.len() < registrable => format!("host-{tag}.invalid"),
            SniMode::KeepSuffix => {
                let domain_at = labels.len() - registrable;
                let suffix = labels.get(domain_at + 1..).unwrap_or_default().join(".");
                let domain = labels.get(domain_at..).unwrap_or_default().join(".");
                let site = self.tag("site", domain.as_bytes());
                if domain_at == 0 {
                    format!("site-{site}.{suffix}")
                } else {
                    format!("host-{tag}.site-{site}.{suffix}")
                }
            }
        };
        self.names.insert(name.to_string(), pseudonym.clone());
        pseudonym
    }

    /// A same-length stand-in for `name` inside packets, where lengths cannot change: each
    /// dot-separated label is replaced by keyed letters and digits derived from the label and
    /// everything after it, so `alpn.test` reads the same alone and at the end of
    /// `h1.alpn.test`, and nobody without the key can test a guess against it.
    pub fn placeholder(&self, name: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let lower = name.to_ascii_lowercase();
        let mut out = Vec::with_capacity(name.len());
        let mut start = 0;
        for label in lower.split('.') {
            let rest = lower.as_bytes().get(start..).unwrap_or_default();
            let digest = self.digest("placeholder", rest);
            out.extend(
                label
                    .bytes()
                    .enumerate()
                    .map(|(i, _)| ALPHABET[usize::from(digest[i % 32]) % ALPHABET.len()]),
            );
            start += label.len() + 1;
            if start <= lower.len() {
                out.push(b'.');
            }
        }
        out
    }

    /// A `host:port` or `[v6]:port` target, or a bare name or address.
    fn target(&mut self, target: &str) -> String {
        let (host, port) = match target.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => (h, Some(p)),
            _ => (target, None),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let replaced = match bare.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!(
                "[{}]",
                self.address(bare.parse().unwrap_or(IpAddr::V6(Ipv6Addr::LOCALHOST)))
            ),
            Ok(ip) => self.address(ip).to_string(),
            Err(_) => self.name(bare),
        };
        match port {
            Some(p) => format!("{replaced}:{p}"),
            None => replaced,
        }
    }

    /// Distinguished name values (`CN=…, O=…`) replaced, keys kept.
    fn distinguished_name(&mut self, dn: &str) -> String {
        let parts: Vec<String> = dn
            .split(", ")
            .map(|part| match part.split_once('=') {
                Some((k, v)) if v.contains('.') && !v.contains(' ') => {
                    format!("{k}={}", self.name(v))
                }
                Some((k, v)) => format!("{k}=name-{}", self.tag("dn", v.as_bytes())),
                None => part.to_string(),
            })
            .collect();
        parts.join(", ")
    }

    /// Redacts one flow report.
    pub fn redact_flow(&mut self, flow: &mut FlowReport) {
        let originals: Vec<(String, String)> = [flow.client.ip, flow.server.ip]
            .into_iter()
            .map(|ip| (ip.to_string(), self.address(ip).to_string()))
            .collect();
        for endpoint in [&mut flow.client, &mut flow.server] {
            endpoint.ip = self.address(endpoint.ip);
        }
        // The ID of the pseudonyms, never of the real addresses (a hash of a 5-tuple is
        // reversed by trying the addresses a guess leaves): it is what Zeek or Suricata give
        // the same flow in the redacted extract.
        flow.community_id = super::community_id::of_flow(flow);
        let sni = flow.sni.clone();
        if let Some(name) = &sni {
            let p = self.name(name);
            flow.detail = flow.detail.replace(name.as_str(), &p);
            flow.sni = Some(p);
        }
        for (original, pseudonym) in &originals {
            flow.detail = flow.detail.replace(original.as_str(), pseudonym);
        }
        // A QUIC CONNECTION_CLOSE's reason phrase is the peer's free text, also quoted in the
        // detail: it may name the host or an address.
        if let Some(close) = flow.quic.as_mut().and_then(|q| q.close.as_mut()) {
            let reason = close.reason.clone();
            let mut redacted = reason.clone();
            if let Some(name) = &sni {
                redacted = redacted.replace(name.as_str(), &self.name(name));
            }
            for (original, pseudonym) in &originals {
                redacted = redacted.replace(original.as_str(), pseudonym);
            }
            if !reason.is_empty() {
                flow.detail = flow.detail.replace(
                    &reason.escape_debug().to_string(),
                    &redacted.escape_debug().to_string(),
                );
            }
            close.reason = redacted;
        }
        if let Some(proxy) = &mut flow.proxy
            && let Some(target) = &proxy.target
        {
            proxy.target = Some(self.target(&target.clone()));
        }
        // A text exchange before TLS names hosts in its words (a reply's text, an IMAP tag): only
        // its keywords and codes stay. (The LDAP and PostgreSQL answers are quoted by alpnscope,
        // from their codes.)
        if let Some(starttls) = &mut flow.starttls
            && starttls.protocol.is_none_or(StartTlsProtocol::is_text)
        {
            flow.detail = crate::tls::starttls::keep_keywords_quoted(&flow.detail);
            if let Some(command) = &mut starttls.command {
                *command = crate::tls::starttls::keep_keywords_quoted(&format!("`{command}`"))
                    .trim_matches('`')
                    .to_string();
            }
        }
        if let Some(dns) = &mut flow.dns_advertised {
            dns.name = self.name(&dns.name.clone());
        }
        if let Some(cert) = &mut flow.server_certificate {
            cert.subject = self.distinguished_name(&cert.subject.clone());
            cert.issuer = self.distinguished_name(&cert.issuer.clone());
            let san: Vec<String> = cert.san.clone();
            cert.san = san
                .iter()
                .map(|entry| match entry.split_once(':') {
                    Some(("DNS", name)) => format!("DNS:{}", self.name(name)),
                    Some(("IP", ip)) => match ip.parse::<IpAddr>() {
                        Ok(a) => format!("IP:{}", self.address(a)),
                        Err(_) => "IP:redacted".into(),
                    },
                    _ => "redacted".into(),
                })
                .collect();
        }
    }

    /// Redacts a whole report; the summary and diagnosis are rebuilt from the redacted flows.
    pub fn apply(&mut self, report: &mut Report) {
        for flow in &mut report.flows {
            self.redact_flow(flow);
        }
        self.redact_captures(report);
        self.redact_dns_https(&mut report.dns_https);
        let non_tls = report.summary.non_tls_flows;
        report.summary = super::summary::summarize(&report.flows, non_tls);
        report.diagnosis = super::diagnosis::diagnose(&report.flows);
        self.redact_command_line(&mut report.tool);
    }

    /// Redacts DNS HTTPS and SVCB records: their names and targets (`.` stays), and their
    /// address hints.
    pub fn redact_dns_https(&mut self, records: &mut [DnsHttpsReport]) {
        for record in records {
            record.name = self.name(&record.name.clone());
            if let Some(query) = &record.query {
                record.query = Some(self.name(&query.clone()));
            }
            if record.target != "." {
                record.target = self.name(&record.target.clone());
            }
            for hint in record.ipv4hint.iter_mut().chain(record.ipv6hint.iter_mut()) {
                *hint = match hint.parse::<IpAddr>() {
                    Ok(a) => self.address(a).to_string(),
                    Err(_) => "redacted".into(),
                };
            }
        }
    }

    /// Redacts the captures of a report: their paths, also inside their warnings.
    pub fn redact_captures(&self, report: &mut Report) {
        for (index, capture) in report.captures.iter_mut().enumerate() {
            let warnings: Vec<String> = capture
                .warnings
                .iter()
                .map(|w| hide_capture_paths(w, capture, index))
                .collect();
            capture.warnings = warnings;
            for (file, merged) in capture.merged.iter_mut().flatten().enumerate() {
                merged.path = merged_file_name(index, file);
            }
            capture.path = capture_name(index);
            if let Some(filter) = &mut capture.filter {
                // The expression may name hosts and networks.
                filter.expression = "(redacted)".to_string();
            }
        }
    }

    /// Redacts the command line that made the report: flags stay, their values and the file
    /// names go.
    pub fn redact_command_line(&self, tool: &mut super::model::Tool) {
        if let Some(cmd) = &tool.command_line {
            // Flags stay; their values and the file names may name hosts.
            let words: Vec<&str> = cmd
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    if i < 2 || w.starts_with('-') {
                        w
                    } else {
                        "…"
                    }
                })
                .collect();
            tool.command_line = Some(words.join(" "));
        }
    }
}

/// What a redacted report calls the capture at `index` of the report's captures: the number the
/// report already uses for it (`in capture 0`).
pub fn capture_name(index: usize) -> String {
    format!("capture {index}")
}

/// What a redacted report calls file `file` of the merged capture at `index` (`--merge`).
pub fn merged_file_name(index: usize, file: usize) -> String {
    format!("{} file {file}", capture_name(index))
}

/// `text` with the path of the capture at `index`, and those of the files it merges, replaced
/// by the names a redacted report gives them.
pub fn hide_capture_paths(text: &str, capture: &CaptureReport, index: usize) -> String {
    let mut text = text.to_string();
    for (file, merged) in capture.merged.iter().flatten().enumerate() {
        text = hide_path(&text, &merged.path, &merged_file_name(index, file));
    }
    if capture.merged.is_some() {
        // The capture's path is its files' paths, hidden above.
        return text;
    }
    hide_path(&text, &capture.path, &capture_name(index))
}

/// `text` with the capture `path` and its file name replaced by `name`.
pub fn hide_path(text: &str, path: &str, name: &str) -> String {
    let mut text = text.to_string();
    if !path.is_empty() && path != "-" {
        text = text.replace(path, name);
    }
    let file = std::path::Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("");
    // A file name of a few characters ("a", "1") would match inside unrelated words.
    if file.len() >= 4 {
        text = text.replace(file, name);
    }
    text
}

/// How many trailing labels make the registrable domain.
fn registrable_labels(labels: &[&str]) -> usize {
    match labels {
        [.., second, tld] if tld.len() == 2 && SECOND_LEVEL.contains(second) => 3,
        _ => 2,
    }
}

/// An address of the same family and class as `ip`, chosen by the digest `d`, whose text is as
/// long as the original's (see [`Redactor::address`]).
fn pseudonym_in_class(ip: IpAddr, d: &[u8; 32]) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4_pseudonym(v4, d)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // `::ffff:a.b.c.d` is written with the IPv4 address in it.
            Some(v4) => IpAddr::V6(v4_pseudonym(v4, d).to_ipv6_mapped()),
            None => IpAddr::V6(v6_pseudonym(v6, d)),
        },
    }
}

/// Decimal digits of an octet.
fn digits(n: u8) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

/// An IPv4 address in the class of `v4` (loopback, each RFC 1918 range, link-local, public),
/// with as many characters in dotted form, chosen by `d`.
fn v4_pseudonym(v4: Ipv4Addr, d: &[u8; 32]) -> Ipv4Addr {
    let o = v4.octets();
    // The octets kept: the class's prefix.
    let fixed = if v4.is_loopback() || o[0] == 10 {
        1
    } else if (o[0] == 172 && (16..32).contains(&o[1]))
        || (o[0] == 192 && o[1] == 168)
        || v4.is_link_local()
    {
        2
    } else {
        0
    };
    let mut out = o;
    if o[0] == 172 && fixed == 2 {
        // 172.16/12: the second octet stays two digits and in the range.
        out[1] = 16 + d[31] % 16;
    }
    // The digit count of each octet after the prefix: the same total as the original, spread
    // by the digest.
    let mut left: usize = o[fixed..].iter().map(|&n| digits(n)).sum();
    for i in fixed..4 {
        let after = 3 - i;
        let lowest = left.saturating_sub(3 * after).max(1);
        let highest = left.saturating_sub(after).min(3);
        let span = highest.saturating_sub(lowest) + 1;
        let width = lowest + usize::from(d[i]) % span;
        left -= width;
        let pick = u16::from_be_bytes([d[4 + 2 * i], d[5 + 2 * i]]);
        let (low, high): (u16, u16) = match (width, i) {
            // A public first octet: neither 0 nor 10, 100, 127, 169, 172, 192 (private,
            // shared, loopback, link-local ranges start there).
            (1, 0) => (1, 9),
            (2, 0) => (11, 99),
            (_, 0) => (101, 223),
            // The last octet is not 0 (a network address).
            (1, 3) => (1, 9),
            (1, _) => (0, 9),
            (2, _) => (10, 99),
            _ => (100, 255),
        };
        let mut value = low + pick % (high - low + 1);
        if i == 0 && [127, 169, 172, 192].contains(&value) {
            value += 1;
        }
        out[i] = value as u8;
    }
    Ipv4Addr::from(out)
}

/// An IPv6 address in the class of `v6` whose zero groups are where the original has them and
/// whose other groups have as many hex digits, so that its RFC 5952 text is as long. The
/// loopback address stays: there is only one, it names nobody.
fn v6_pseudonym(v6: Ipv6Addr, d: &[u8; 32]) -> Ipv6Addr {
    if v6.is_loopback() || v6.is_unspecified() {
        return v6;
    }
    let seg = v6.segments();
    let mut out = [0u16; 8];
    for (i, (&s, o)) in seg.iter().zip(out.iter_mut()).enumerate() {
        let pick = u16::from_be_bytes([d[2 * i], d[2 * i + 1]]);
        *o = match s {
            0 => 0,
            1..=0xf => 1 + pick % 0xf,
            0x10..=0xff => 0x10 + pick % 0xf0,
            0x100..=0xfff => 0x100 + pick % 0xf00,
            _ => 0x1000 + pick % 0xf000,
        };
    }
    // The class lives in the first group: unique local fc00::/7 → fd00::/8, link-local
    // fe80::/10 and multicast ff00::/8 kept, global unicast 2000::/3 stays in it.
    out[0] = match seg[0] {
        s if s & 0xfe00 == 0xfc00 => 0xfd00 | (out[0] & 0x00ff),
        s if s & 0xffc0 == 0xfe80 || s & 0xff00 == 0xff00 => s,
        s if s & 0xe000 == 0x2000 => 0x2000 | (out[0] & 0x1fff),
        _ => out[0],
    };
    if out == seg {
        // Nothing but the kept first group: `fe80::`, `ff02::`. The pseudonym varies the bits
        // the class leaves free in that group (the rest of fe80::/10, a multicast address's
        // flags and scope), still four hex digits, or it could only be the address itself.
        let pick = u16::from_be_bytes([d[16], d[17]]);
        out[0] = if seg[0] & 0xffc0 == 0xfe80 {
            0xfe80 | (pick & 0x003f)
        } else if seg[0] & 0xff00 == 0xff00 {
            0xff00 | (pick & 0x00ff)
        } else {
            out[0]
        };
    }
    Ipv6Addr::from(out)
}

/// `ip` written in exactly `len` characters (IPv6 groups padded with leading zeros), when it
/// can be: the form a packet can carry in place of an original of that length.
pub fn address_text(ip: IpAddr, len: usize) -> Option<String> {
    let text = ip.to_string();
    if text.len() == len {
        return Some(text);
    }
    let IpAddr::V6(_) = ip else { return None };
    let mut extra = len.checked_sub(text.len())?;
    let padded: Vec<String> = text
        .split(':')
        .map(|group| {
            if group.is_empty() || group.contains('.') {
                return group.to_string();
            }
            let pad = (4usize.saturating_sub(group.len())).min(extra);
            extra -= pad;
            format!("{}{group}", "0".repeat(pad))
        })
        .collect();
    (extra == 0).then(|| padded.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_family_and_class() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let p = r.address("10.1.2.3".parse().unwrap());
        assert!(matches!(p, IpAddr::V4(a) if a.octets()[0] == 10));
        assert_ne!(p, "10.1.2.3".parse::<IpAddr>().unwrap());
        let p = r.address("127.0.0.1".parse().unwrap());
        assert!(p.is_loopback() && p != "127.0.0.1".parse::<IpAddr>().unwrap());
        let p = r.address("8.8.8.8".parse().unwrap());
        assert!(matches!(p, IpAddr::V4(a) if !a.is_private() && !a.is_loopback()));
        let p = r.address("2606:4700::1".parse().unwrap());
        assert!(matches!(p, IpAddr::V6(a) if a.segments()[0] & 0xe000 == 0x2000));
        // Stable for one key, different for another.
        let again = Redactor::new(b"k", SniMode::KeepSuffix).address("8.8.8.8".parse().unwrap());
        assert_eq!(r.address("8.8.8.8".parse().unwrap()), again);
        let other =
            Redactor::new(b"other", SniMode::KeepSuffix).address("8.8.8.8".parse().unwrap());
        assert_ne!(again, other);
    }

    #[test]
    fn address_pseudonyms_are_written_as_long_as_the_original() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        for (original, prefix) in [
            ("127.0.0.1", "127."),
            ("10.1.2.3", "10."),
            ("10.255.255.255", "10."),
            ("172.16.0.1", "172."),
            ("172.31.200.10", "172."),
            ("192.168.1.1", "192.168."),
            ("192.168.235.136", "192.168."),
            ("169.254.1.1", "169.254."),
            ("8.8.8.8", ""),
            ("93.184.216.119", ""),
            ("203.0.113.255", ""),
            ("2001:db8::1", ""),
            ("2001:db8:1:2:3:4:5:6", ""),
            ("fe80::1c2a:3bff:fe4d:5e6f", "fe80::"),
            ("fd12:3456::2", "fd"),
            ("ff02::fb", "ff02::"),
            ("::ffff:10.1.2.3", "::ffff:10."),
        ] {
            let ip: IpAddr = original.parse().unwrap();
            let p = r.address(ip);
            let text = p.to_string();
            assert_eq!(text.len(), original.len(), "{original} → {text}");
            assert!(text.starts_with(prefix), "{original} → {text}");
            assert_ne!(p, ip);
            if let (IpAddr::V4(a), IpAddr::V4(b)) = (ip, p) {
                assert_eq!(a.is_private(), b.is_private(), "{original} → {text}");
            }
        }
        assert_eq!(r.address("::1".parse().unwrap()).to_string(), "::1");
        // Found by the extract fuzz target: a link-local or multicast address that is its first
        // group alone was its own pseudonym (no other address of the class has that shape).
        for (original, prefix) in [
            ("fe80::", "fe"),
            ("febf::", "fe"),
            ("ff00::", "ff"),
            ("ff02::", "ff"),
        ] {
            let ip: IpAddr = original.parse().unwrap();
            let p = r.address(ip);
            let text = p.to_string();
            assert_ne!(p, ip, "{original} is its own pseudonym");
            assert_eq!(text.len(), original.len(), "{original} → {text}");
            assert!(
                text.starts_with(prefix) && text.ends_with("::"),
                "{original} → {text}"
            );
            let IpAddr::V6(v6) = p else {
                panic!("{original} → {text}");
            };
            assert!(
                v6.segments()[0] & 0xffc0 == 0xfe80 || v6.is_multicast(),
                "{original} → {text}: not in its class"
            );
        }
        // A packet may spell an IPv6 address with leading zeros: the pseudonym can too.
        let p: IpAddr = "2abc:d12::3".parse().unwrap();
        assert_eq!(
            address_text(p, "2001:0db8::0001".len()).as_deref(),
            Some("2abc:0d12::0003")
        );
        assert_eq!(address_text(p, 3), None);
        assert_eq!(address_text(p, 40), None);
    }

    /// Splits a pseudonym into its labels and checks their shapes.
    fn shape(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn names_keep_only_the_public_suffix_and_share_the_site_pseudonym() {
        let mut r = Redactor::new(b"k", SniMode::KeepSuffix);
        let parent = r.name("alpn.test");
        let child = r.name("h1.alpn.test");
        let other = r.name("a.alpn.test");
        let p = shape(&parent);
        assert_eq!(p.len(), 2, "{parent}");
        assert!(p[0].starts_with("site-") && p[0].len() == 9, "{parent}");
        assert_eq!(p[1], "test");
        let c = shape(&child);
        assert_eq!(c.len(), 3, "{child}");
        assert!(c[0].starts_with("host-") && c[0].len() == 9, "{child}");
        // The parent reads the same in both names: hidden in both, linked in both.
        assert_eq!(c[1..], p[..], "{child} vs {parent}");
        assert_eq!(shape(&other)[1..], p[..]);
        assert_ne!(other, child);
        for pseudonym in [&parent, &child, &other] {
            assert!(!pseudonym.contains("alpn") && !pseudonym.contains("h1."));
        }
        let shop = r.name("shop.example.co.uk");
        assert!(
            shop.starts_with("host-") && shop.ends_with(".co.uk"),
            "{shop}"
        );
        assert!(
            !shop.contains("example") && !shop.contains("shop"),
            "{shop}"
        );
        assert_eq!(r.name("localhost").len(), "host-0000.invalid".len());
        assert!(r.name("test").ends_with(".invalid"));
        // Case and a trailing dot do not make another pseudonym.
        assert_eq!(r.name("ALPN.test."), parent);
        let mut full = Redactor::new(b"k", SniMode::Full);
        let p = full.name("api.example.com");
        assert!(p.ends_with(".invalid") && !p.contains("example"), "{p}");
    }

    #[test]
    fn placeholders_keep_length_dots_and_shared_parents() {
        let r = Redactor::new(b"k", SniMode::KeepSuffix);
        let parent = r.placeholder("alpn.test");
        let child = r.placeholder("H1.alpn.test");
        assert_eq!(parent.len(), 9);
        assert_eq!(child.len(), 12);
        assert_eq!(parent[4], b'.');
        assert_eq!(&child[3..], &parent[..]);
        assert_ne!(&parent[..5], b"alpn.");
        // Keyed: another key, another stand-in.
        assert_ne!(
            Redactor::new(b"other", SniMode::KeepSuffix).placeholder("alpn.test"),
            parent
        );
    }

    #[test]
    fn paths_are_replaced_by_the_capture_number() {
        assert_eq!(capture_name(2), "capture 2");
        assert_eq!(
            hide_path(
                "cannot read /home/alice/acme/edge-1.pcap: cut off; edge-1.pcap again",
                "/home/alice/acme/edge-1.pcap",
                "capture 0"
            ),
            "cannot read capture 0: cut off; capture 0 again"
        );
        assert_eq!(hide_path("stdin", "-", "capture 0"), "stdin");
    }
}
