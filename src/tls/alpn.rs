//! ALPN protocol identifiers (RFC 7301): opaque byte strings, parsed from the extension body and
//! rendered losslessly.

use std::fmt;

/// One ALPN protocol identifier: opaque bytes, usually ASCII such as `h2` or `http/1.1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolName(pub Vec<u8>);

impl ProtocolName {
    /// The identifier as printable text: bytes 0x20–0x7e except `\` as they are, every other
    /// byte (backslash included) as `\xNN`. Two different identifiers never render the same.
    pub fn escaped(&self) -> String {
        escape_bytes(&self.0)
    }

    /// Appends [`ProtocolName::escaped`] to `out`.
    pub fn push_escaped(&self, out: &mut String) {
        push_escaped(out, &self.0);
    }

    /// True for the GREASE values of RFC 8701 §2 (0x0A0A, 0x1A1A, … 0xFAFA as two bytes).
    pub fn is_grease(&self) -> bool {
        matches!(self.0.as_slice(), [a, b] if a == b && a & 0x0f == 0x0a)
    }

    /// True for the IANA-registered identifiers of HTTP (RFC 7301 §6, RFC 9113, RFC 9114):
    /// `http/0.9`, `http/1.0`, `http/1.1`, `h2`, `h2c`, `h3`, and SPDY's `spdy/1`…`spdy/3`.
    pub fn is_http(&self) -> bool {
        HTTP_PROTOCOLS.contains(&self.0.as_slice())
    }
}

/// The ALPN identifiers of HTTP versions (the IANA TLS ALPN Protocol IDs registry).
const HTTP_PROTOCOLS: [&[u8]; 9] = [
    b"http/0.9",
    b"http/1.0",
    b"http/1.1",
    b"h2",
    b"h2c",
    b"h3",
    b"spdy/1",
    b"spdy/2",
    b"spdy/3",
];

impl fmt::Display for ProtocolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

/// Renders bytes as printable ASCII with `\xNN` escapes (see [`ProtocolName::escaped`]).
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped(&mut out, bytes);
    out
}

/// Appends `bytes` to `out` as [`escape_bytes`] renders them: each run of printable bytes in
/// one copy.
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let plain = rest
            .iter()
            .position(|&b| !(0x20..=0x7e).contains(&b) || b == b'\\')
            .unwrap_or(rest.len());
        // Printable ASCII: always UTF-8.
        if let Ok(text) = std::str::from_utf8(&rest[..plain]) {
            out.push_str(text);
        }
        let Some(&escaped) = rest.get(plain) else {
            break;
        };
        out.push_str("\\x");
        crate::hex::push(out, &[escaped]);
        rest = &rest[plain + 1..];
    }
}

/// The protocol list of an ALPN extension.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlpnList {
    /// Identifiers in the order sent.
    pub protocols: Vec<ProtocolName>,
    /// What was wrong with the encoding, if anything (the list holds what could be read).
    pub malformed: Option<&'static str>,
}

impl AlpnList {
    /// Parses an ALPN extension body: a 2-byte list length, then 1-byte-length-prefixed names.
    pub fn parse(body: &[u8]) -> AlpnList {
        let mut list = AlpnList::default();
        let Some(len_bytes) = body.get(..2) else {
            list.malformed = Some("extension shorter than its list length");
            return list;
        };
        let declared = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let mut rest = &body[2..];
        if declared != rest.len() {
            list.malformed = Some("list length does not match the extension length");
            rest = &rest[..declared.min(rest.len())];
        }
        if declared == 0 {
            // RFC 7301 §3.1: the list must hold at least one name.
            list.malformed = Some("empty protocol list");
        }
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if len == 0 {
                list.malformed = Some("empty protocol name");
            }
            let Some(name) = tail.get(..len) else {
                list.malformed = Some("protocol name runs past the end of the list");
                break;
            };
            list.protocols.push(ProtocolName(name.to_vec()));
            rest = &tail[len..];
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_in_order() {
        let body = [
            0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ];
        let list = AlpnList::parse(&body);
        assert_eq!(list.malformed, None);
        let names: Vec<String> = list.protocols.iter().map(|p| p.escaped()).collect();
        assert_eq!(names, ["h2", "http/1.1"]);
    }

    #[test]
    fn escapes_losslessly() {
        assert_eq!(ProtocolName(b"a\\b".to_vec()).escaped(), "a\\x5cb");
        assert_eq!(
            ProtocolName(vec![0xab, 0x20, 0x7f]).escaped(),
            "\\xab \\x7f"
        );
    }

    /// The run-by-run escaping renders every byte, alone and among others, as the rule says:
    /// printable ASCII but the backslash as it is, anything else as `\xNN`.
    #[test]
    fn escapes_every_byte_as_the_rule_says() {
        let by_rule = |bytes: &[u8]| -> String {
            bytes
                .iter()
                .map(|&b| {
                    if (0x20..=0x7e).contains(&b) && b != b'\\' {
                        char::from(b).to_string()
                    } else {
                        format!("\\x{b:02x}")
                    }
                })
                .collect()
        };
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(escape_bytes(&all), by_rule(&all));
        for b in 0..=255u8 {
            for text in [vec![b], vec![b'h', b], vec![b, b'2'], vec![b, b, b'x', b]] {
                assert_eq!(escape_bytes(&text), by_rule(&text), "{text:?}");
            }
        }
        let mut out = String::from("h2, ");
        ProtocolName(b"http/1.1".to_vec()).push_escaped(&mut out);
        assert_eq!(out, "h2, http/1.1");
    }

    #[test]
    fn flags_grease_and_malformed() {
        assert!(ProtocolName(vec![0x3a, 0x3a]).is_grease());
        assert!(!ProtocolName(b"h2".to_vec()).is_grease());
        let lying = [0, 9, 5, b'h', b'2'];
        let list = AlpnList::parse(&lying);
        assert!(list.malformed.is_some());
        assert!(AlpnList::parse(&[0, 0]).malformed.is_some());
        assert!(AlpnList::parse(&[7]).malformed.is_some());
    }
}
