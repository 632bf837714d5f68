//! `KeyLog::add_text` on arbitrary text. Invariants: no panic; the text is accepted exactly when
//! each of its lines is accepted on its own; on error nothing from the text is kept; once
//! accepted, every handshake-secret line is found by `get` with its secret (the last line for
//! the same random and side wins); lines of other labels are never kept.
#![no_main]

use alpnscope::tls::keylog::KeyLog;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

const CLIENT: &str = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
const SERVER: &str = "SERVER_HANDSHAKE_TRAFFIC_SECRET";

/// The client's and the server's handshake secret expected for one random.
type Sides = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A secret known before the fuzzed text is added.
const KNOWN_RANDOM: [u8; 32] = [0xa5; 32];

/// Hex digits, as the key log must read them (only `0-9a-fA-F`; this target found the key log
/// once taking a `+`).
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The handshake-secret lines of `text` as (random, client side, secret), in order, read
/// independently of the parser (only valid when the whole text was accepted).
fn secret_lines(text: &str) -> Vec<([u8; 32], bool, Vec<u8>)> {
    let mut out = Vec::new();
    for raw in text.lines() {
        // As the key log trims: whitespace (a CRLF's `\r`), pcapng's NUL padding, a byte
        // order mark.
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '\u{feff}');
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [label, random, secret] = fields[..] else {
            continue;
        };
        let client = match label {
            CLIENT => true,
            SERVER => false,
            _ => continue,
        };
        let random: [u8; 32] = hex(random)
            .expect("an accepted random is hex")
            .try_into()
            .expect("an accepted random is 32 bytes");
        out.push((
            random,
            client,
            hex(secret).expect("an accepted secret is hex"),
        ));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut log = KeyLog::new();
    let known = format!("{CLIENT} {} 0102\n", "a5".repeat(32));
    log.add_text(&known).expect("a well-formed line");
    let result = log.add_text(&text);

    let each_line_ok = text
        .lines()
        .all(|line| KeyLog::new().add_text(line).is_ok());
    assert_eq!(
        result.is_ok(),
        each_line_ok,
        "the whole text and its lines one by one disagree: {result:?}"
    );

    let lines = match result {
        Ok(()) => secret_lines(&text),
        Err(_) => {
            assert_eq!(log.len(), 1, "a rejected text left secrets behind");
            Vec::new()
        }
    };
    let mut expected: HashMap<[u8; 32], Sides> = HashMap::new();
    expected.insert(KNOWN_RANDOM, (Some(vec![1, 2]), None));
    for (random, client, secret) in lines {
        let entry = expected.entry(random).or_default();
        if client {
            entry.0 = Some(secret);
        } else {
            entry.1 = Some(secret);
        }
    }
    assert_eq!(log.len(), expected.len(), "secrets kept that no line gave");
    for (random, (client, server)) in &expected {
        let found = log.get(random).expect("an accepted line is found by get");
        assert_eq!(&found.client, client);
        assert_eq!(&found.server, server);
    }
});
