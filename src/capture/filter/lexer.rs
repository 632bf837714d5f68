//! Words of a filter expression, as libpcap's scanner cuts them: operators (`and` `&&` `or`
//! `||` `not` `!` `(` `)` `/`), keywords, numbers (decimal, `0x` hex, leading-`0` octal),
//! dotted IPv4 addresses (`10.0.0.1`, also short: `10.0`), IPv6 addresses, MAC addresses and
//! names. Characters of libpcap's arithmetic syntax (`[`, `&`, `>`, …) are kept as
//! [`Token::Unsupported`] so the parser can name them. Pure; never panics.

use std::net::Ipv6Addr;

/// One word of a filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `and`, `&&`.
    And,
    /// `or`, `||`.
    Or,
    /// `not`, `!`.
    Not,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `/` (network prefix length).
    Slash,
    /// A reserved word of libpcap's grammar (`host`, `tcp`, `vlan`, …, also ones the built-in
    /// filter does not support).
    Keyword(String),
    /// A number.
    Number(u32),
    /// A dotted IPv4 address or a short one (`10.0.0`): the value and the number of bits given.
    Dotted(u32, u32),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
    /// A MAC address.
    Mac([u8; 6]),
    /// Any other word: a host or service name, or a port range `80-90`.
    Name(String),
    /// `[`.
    OpenBracket,
    /// `]`.
    CloseBracket,
    /// `&` (a mask).
    Amp,
    /// `|` (constants or'ed).
    Pipe,
    /// A comparison.
    Rel(Rel),
    /// Characters of syntax the built-in filter does not read (`+`, `<<`, `\tcp`).
    Unsupported(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `=`, `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
}

/// A word the scanner rejects (as libpcap's does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A number with a digit its base does not have (`08`, `0xg`).
    BadNumber(String),
    /// A number over 32 bits.
    NumberOverflow(String),
    /// A dotted address with a part over 255.
    BadAddress(String),
}

/// libpcap's reserved words that the built-in filter reads (besides `and`, `or`, `not`).
pub(super) const READ_KEYWORDS: &[&str] = &[
    "host",
    "net",
    "mask",
    "port",
    "portrange",
    "src",
    "dst",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "ether",
    "vlan",
    "greater",
    "less",
    "proto",
];

/// libpcap's other reserved words (gencode's grammar), which the built-in filter names as
/// unsupported instead of taking them for host names.
const OTHER_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "gateway",
    "broadcast",
    "multicast",
    "inbound",
    "outbound",
    "ifindex",
    "len",
    "link",
    "ppp",
    "slip",
    "fddi",
    "tr",
    "wlan",
    "atalk",
    "aarp",
    "decnet",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "iso",
    "esis",
    "es-is",
    "isis",
    "is-is",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "clnp",
    "stp",
    "ipx",
    "netbeui",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "ah",
    "esp",
    "radio",
    "protochain",
    "mpls",
    "pppoed",
    "pppoes",
    "geneve",
    "vxlan",
    "lane",
    "llc",
    "metac",
    "bcc",
    "oam",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "sc",
    "ilmic",
    "connectmsg",
    "metaconnect",
    "on",
    "ifname",
    "rnr",
    "rulenum",
    "reason",
    "rset",
    "ruleset",
    "srnr",
    "subrulenum",
    "action",
    "type",
    "subtype",
    "direction",
    "dir",
    "address1",
    "addr1",
    "address2",
    "addr2",
    "address3",
    "addr3",
    "address4",
    "addr4",
    "ra",
    "ta",
    "fisu",
    "lssu",
    "msu",
    "sio",
    "opc",
    "dpc",
    "sls",
    "hfisu",
    "hlssu",
    "hmsu",
    "hsio",
    "hopc",
    "hdpc",
    "hsls",
    "icmp6",
    "tcpflags",
    "icmptype",
    "icmpcode",
];

/// The tokens of `text`, or the first word the scanner rejects.
pub fn tokens(text: &str) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '/' => out.push(Token::Slash),
            '[' => out.push(Token::OpenBracket),
            ']' => out.push(Token::CloseBracket),
            '!' if chars.peek().is_some_and(|&(_, n)| n == '=') => {
                chars.next();
                out.push(Token::Rel(Rel::Ne));
            }
            '!' => out.push(Token::Not),
            '&' | '|' if chars.peek().is_some_and(|&(_, n)| n == c) => {
                chars.next();
                out.push(if c == '&' { Token::And } else { Token::Or });
            }
            '&' => out.push(Token::Amp),
            '|' => out.push(Token::Pipe),
            '<' | '>' if chars.peek().is_some_and(|&(_, n)| n == c) => {
                chars.next();
                out.push(Token::Unsupported(format!("{c}{c}")));
            }
            '<' | '>' | '=' => {
                let equals = chars.peek().is_some_and(|&(_, n)| n == '=');
                if equals {
                    chars.next();
                }
                out.push(Token::Rel(match (c, equals) {
                    ('<', false) => Rel::Lt,
                    ('<', true) => Rel::Le,
                    ('>', false) => Rel::Gt,
                    ('>', true) => Rel::Ge,
                    _ => Rel::Eq,
                }));
            }
            c if is_word_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = chars.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    end = i + n.len_utf8();
                    chars.next();
                }
                out.push(word(&text[start..end])?);
            }
            other => out.push(Token::Unsupported(other.to_string())),
        }
    }
    Ok(out)
}

/// Characters of libpcap's words (names, numbers, addresses).
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_')
}

/// Classifies one word.
fn word(w: &str) -> Result<Token, LexError> {
    match w {
        "and" => return Ok(Token::And),
        "or" => return Ok(Token::Or),
        "not" => return Ok(Token::Not),
        _ => {}
    }
    if READ_KEYWORDS.contains(&w) || OTHER_KEYWORDS.contains(&w) {
        return Ok(Token::Keyword(w.to_string()));
    }
    if w.bytes().all(|b| b.is_ascii_alphanumeric())
        && w.as_bytes().first().is_some_and(u8::is_ascii_digit)
    {
        return number(w).map(Token::Number);
    }
    if w.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !w.starts_with('.')
        && !w.ends_with('.')
        && !w.contains("..")
    {
        let parts: Vec<&str> = w.split('.').collect();
        if (2..=4).contains(&parts.len()) {
            return dotted(w, &parts);
        }
    }
    if let Some(mac) = mac(w) {
        return Ok(Token::Mac(mac));
    }
    if w.contains(':')
        && let Ok(a) = w.parse::<Ipv6Addr>()
    {
        return Ok(Token::Ipv6(a));
    }
    Ok(Token::Name(w.to_string()))
}

/// A number as libpcap's `stoulen` reads it: `0x` hex, a leading `0` octal, else decimal.
pub fn number(w: &str) -> Result<u32, LexError> {
    let (digits, radix) = if let Some(hex) = w.strip_prefix("0x").or(w.strip_prefix("0X")) {
        (hex, 16)
    } else if w.len() > 1 && w.starts_with('0') {
        (&w[1..], 8)
    } else {
        (w, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(LexError::BadNumber(w.to_string()));
    }
    u32::from_str_radix(digits, radix).map_err(|_| LexError::NumberOverflow(w.to_string()))
}

/// A dotted address of 2 to 4 decimal parts: its value (parts from the top byte down) and
/// how many bits the parts give.
fn dotted(w: &str, parts: &[&str]) -> Result<Token, LexError> {
    let mut value: u32 = 0;
    for part in parts {
        let byte: u8 = part
            .parse()
            .map_err(|_| LexError::BadAddress(w.to_string()))?;
        value = (value << 8) | u32::from(byte);
    }
    let bits = 8 * parts.len() as u32;
    Ok(Token::Dotted(value, bits))
}

/// A MAC address `xx:xx:xx:xx:xx:xx` (also with `-`), one or two hex digits a part.
fn mac(w: &str) -> Option<[u8; 6]> {
    let sep = if w.contains(':') { ':' } else { '-' };
    let parts: Vec<&str> = w.split(sep).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_operators() {
        assert_eq!(
            tokens("tcp port 0x1bb&&!(host 10.0.0.1||net fe80::/10)").unwrap(),
            [
                Token::Keyword("tcp".into()),
                Token::Keyword("port".into()),
                Token::Number(443),
                Token::And,
                Token::Not,
                Token::Open,
                Token::Keyword("host".into()),
                Token::Dotted(0x0a00_0001, 32),
                Token::Or,
                Token::Keyword("net".into()),
                Token::Ipv6("fe80::".parse().unwrap()),
                Token::Slash,
                Token::Number(10),
                Token::Close,
            ]
        );
        assert_eq!(tokens("010").unwrap(), [Token::Number(8)]);
        assert_eq!(tokens("10.0").unwrap(), [Token::Dotted(0x0a00, 16)]);
        assert_eq!(
            tokens("0:1:22:a:bb:ff").unwrap(),
            [Token::Mac([0, 1, 0x22, 0xa, 0xbb, 0xff])]
        );
        assert_eq!(
            tokens("80-90 example.com").unwrap(),
            [
                Token::Name("80-90".into()),
                Token::Name("example.com".into())
            ]
        );
        assert_eq!(
            tokens("tcp[13:2]&0x3>=1 || len!=0").unwrap(),
            [
                Token::Keyword("tcp".into()),
                Token::OpenBracket,
                Token::Name("13:2".into()),
                Token::CloseBracket,
                Token::Amp,
                Token::Number(3),
                Token::Rel(Rel::Ge),
                Token::Number(1),
                Token::Or,
                Token::Keyword("len".into()),
                Token::Rel(Rel::Ne),
                Token::Number(0),
            ]
        );
        assert_eq!(tokens("a<<1").unwrap()[1], Token::Unsupported("<<".into()));
    }

    #[test]
    fn bad_words() {
        assert_eq!(tokens("08"), Err(LexError::BadNumber("08".into())));
        assert_eq!(
            tokens("4294967296"),
            Err(LexError::NumberOverflow("4294967296".into()))
        );
        assert_eq!(
            tokens("10.0.0.256"),
            Err(LexError::BadAddress("10.0.0.256".into()))
        );
    }
}
