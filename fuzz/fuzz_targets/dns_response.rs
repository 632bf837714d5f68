//! One DNS message through `alpnscope::dns` (the HTTPS/SVCB reader).
//!
//! Invariants besides "no panic":
//! - the caps hold: at most `MAX_RECORDS_PER_MESSAGE` records, `MAX_ALPN` identifiers,
//!   `MAX_HINTS` addresses per hint, `MAX_NOTES` notes;
//! - every name is printable ASCII (labels escaped losslessly) and at most 255 labels' worth;
//! - cutting the message never changes what was read before the cut: when a prefix parses, its
//!   records are a prefix of the whole message's (pointers only go backwards and a record is
//!   read only when its data is all there), and a message whose prefix parses parses too.
#![no_main]

use alpnscope::dns::svcb::{MAX_ALPN, MAX_HINTS, MAX_NOTES};
use alpnscope::dns::{MAX_RECORDS_PER_MESSAGE, Name, parse_response};
use libfuzzer_sys::fuzz_target;

fn printable(name: &Name) -> bool {
    name.0.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_response(data);
    if let Ok(answers) = &whole {
        assert!(answers.records.len() <= MAX_RECORDS_PER_MESSAGE);
        for r in &answers.records {
            assert!(r.params.alpn.len() <= MAX_ALPN);
            assert!(r.params.ipv4hint.len() <= MAX_HINTS);
            assert!(r.params.ipv6hint.len() <= MAX_HINTS);
            assert!(r.params.notes.len() <= MAX_NOTES);
            for name in [&r.owner, &r.query, &r.target] {
                assert!(printable(name), "{name:?}");
                // 255 wire bytes, each shown as at most 4 characters.
                assert!(name.0.len() <= 4 * 255, "{name:?}");
            }
        }
    }
    for cut in [data.len() / 2, data.len().saturating_sub(1)] {
        let Some(prefix) = data.get(..cut) else {
            continue;
        };
        if let Ok(part) = parse_response(prefix) {
            let Ok(all) = &whole else {
                panic!("a prefix parses but the whole message does not");
            };
            assert!(
                all.records.starts_with(&part.records),
                "records of a prefix are not a prefix: {part:?} vs {all:?}"
            );
        }
    }
});
