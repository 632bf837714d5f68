//! NSS key log files (SSLKEYLOGFILE; RFC 9850): the TLS 1.3 handshake traffic secrets, by
//! ClientHello random.
//!
//! Only `CLIENT_HANDSHAKE_TRAFFIC_SECRET` and `SERVER_HANDSHAKE_TRAFFIC_SECRET` are kept:
//! application traffic secrets and TLS 1.2 master secrets are read past and dropped, so this tool
//! can never decrypt application data. Every other line with an upper-case label (`CLIENT_RANDOM`
//! of TLS 1.2, NSS `RSA` lines, exporter secrets, labels yet to come) is skipped whatever its
//! fields, as the format asks, and so are comments (`#`), blank lines and CRLF line ends. A
//! handshake secret line that is not `LABEL <hex random> <hex secret>`, or a line without an
//! upper-case label (not a key log at all), is an error naming the line.

use std::collections::HashMap;
use std::fmt;

/// Secrets of one connection's handshake.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HandshakeSecrets {
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client: Option<Vec<u8>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server: Option<Vec<u8>>,
}

impl fmt::Debug for HandshakeSecrets {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeSecrets")
            .field("client", &self.client.as_ref().map(|_| "<redacted>"))
            .field("server", &self.server.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A key log line that is not in NSS key log format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLogError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for KeyLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {} (expected NSS key log lines: LABEL <64 hex digits of ClientHello random> <hex secret>)",
            self.line, self.reason
        )
    }
}

impl std::error::Error for KeyLogError {}

/// Handshake secrets from one or more key logs.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    secrets: HashMap<[u8; 32], HandshakeSecrets>,
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Number of connections with at least one handshake secret.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True when no secret is known.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Adds the lines of a key log. On error nothing from this text is kept.
    pub fn add_text(&mut self, text: &str) -> Result<(), KeyLogError> {
        let mut found = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            // pcapng pads Decryption Secrets Blocks with NUL bytes; `lines` leaves the `\r` of
            // a CRLF line end to this trim; an editor may have put a byte order mark first.
            let line =
                raw.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason| KeyLogError {
                line: index + 1,
                reason,
            };
            let mut fields = line.split_ascii_whitespace();
            let label = fields.next().unwrap_or_default();
            if !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(err("the label is not an upper-case NSS key log label"));
            }
            let client = match label {
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => true,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => false,
                // Application secrets, TLS 1.2 master secrets (`CLIENT_RANDOM`), `RSA` lines
                // (8 bytes of encrypted pre-master secret, not a random), exporters, labels
                // still to come: skipped whatever their fields, as the format asks, and never
                // kept.
                _ => continue,
            };
            let (Some(random), Some(secret), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(err("not three space-separated fields"));
            };
            let random = decode_hex(random).ok_or(err("the ClientHello random is not hex"))?;
            let random: [u8; 32] = random
                .try_into()
                .map_err(|_| err("the ClientHello random is not 32 bytes"))?;
            let secret = decode_hex(secret).ok_or(err("the secret is not hex"))?;
            found.push((random, client, secret));
        }
        for (random, client, secret) in found {
            let entry = self.secrets.entry(random).or_default();
            if client {
                entry.client = Some(secret);
            } else {
                entry.server = Some(secret);
            }
        }
        Ok(())
    }

    /// The secrets for a ClientHello random.
    pub fn get(&self, client_random: &[u8]) -> Option<&HandshakeSecrets> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.secrets.get(&key)
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` would take a leading `+`: only hex digits are hex.
    if s.len() % 2 != 0 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "5e5d8fa9b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d";

    #[test]
    fn keeps_only_handshake_secrets() {
        let text = format!(
            "# SSL/TLS secrets log file\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} 0102\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {RANDOM} 0304\n\
             CLIENT_TRAFFIC_SECRET_0 {RANDOM} 0506\n\
             CLIENT_RANDOM {RANDOM} 0708\n"
        );
        let mut log = KeyLog::new();
        log.add_text(&text).unwrap();
        let random = decode_hex(RANDOM).unwrap();
        let s = log.get(&random).unwrap();
        assert_eq!(s.client.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(s.server.as_deref(), Some(&[3u8, 4][..]));
        assert_eq!(log.len(), 1);
        assert!(!format!("{s:?}").contains("0304"));
    }

    /// Lines of other kinds from real key logs are skipped, never an error.
    #[test]
    fn skips_other_kinds_of_lines() {
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             RSA 0a1b2c3d4e5f6071 0303aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677\r\n\
             CLIENT_RANDOM {RANDOM} 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\r\n\
             EXPORTER_SECRET {RANDOM} 0a0b\r\n\
             FUTURE_LABEL with any number of fields\r\n\
             \r\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} 0102\r\n"
        );
        let mut log = KeyLog::new();
        log.add_text(&format!("\u{feff}{text}")).unwrap();
        let random = decode_hex(RANDOM).unwrap();
        let s = log.get(&random).unwrap();
        assert_eq!(s.client.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(s.server, None);
        assert_eq!(log.len(), 1);
    }

    /// Found by the `keylog` fuzz target: `+` is not a hex digit.
    #[test]
    fn a_plus_sign_is_not_hex() {
        assert_eq!(decode_hex("+1"), None);
        let plus = format!("CLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} 0+02");
        assert!(KeyLog::new().add_text(&plus).is_err());
    }

    #[test]
    fn names_the_bad_line() {
        let mut log = KeyLog::new();
        let text = format!("CLIENT_RANDOM {RANDOM} 00\nhello world\n");
        let e = log.add_text(&text).unwrap_err();
        assert_eq!(e.line, 2);
        let e = log
            .add_text("SERVER_HANDSHAKE_TRAFFIC_SECRET abcd 00")
            .unwrap_err();
        assert_eq!(e.reason, "the ClientHello random is not 32 bytes");
        assert!(log.is_empty());
    }
}
