//! The built-in capture filter on arbitrary text and frames. The input is an expression, a NUL
//! byte, and a frame's bytes (Ethernet, raw IP and Linux cooked v2 frames are tried).
//! Invariants: no panic; an expression is either parsed or refused with a message; a frame
//! never passes both `E` and `not (E)`; `(E) or (E)` and `(E) and (E)` pass exactly what `E`
//! passes (for `E` without `vlan`, whose second copy tests bytes 4 further on, as libpcap's);
//! a link type refused for `E` is refused for `not (E)`.
#![no_main]

use alpnscope::capture::LinkType;
use alpnscope::capture::filter::{Engine, Filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (text, frame) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let filter = match Filter::with_engine(text, Engine::BuiltIn) {
        Ok(filter) => filter,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let derived = |form: &str| {
        Filter::with_engine(&form.replace('E', text), Engine::BuiltIn)
            .unwrap_or_else(|e| panic!("{form} of an accepted expression {text:?}: {e}"))
    };
    let not = derived("not (E)");
    let or = derived("(E) or (E)");
    let and = derived("(E) and (E)");
    let wire_len = frame.len() as u32 + (data.len() % 7) as u32;
    for link in [LinkType::ETHERNET, LinkType::RAW, LinkType::LINUX_SLL2] {
        let run = |f: &Filter| f.matcher().matches(link, frame, wire_len);
        let (Ok(pass), Ok(not_pass), Ok(or_pass), Ok(and_pass)) =
            (run(&filter), run(&not), run(&or), run(&and))
        else {
            // Refused for this link type (vlan, ether host off Ethernet): its negation too.
            assert!(run(&filter).is_err() && run(&not).is_err());
            continue;
        };
        assert!(!(pass && not_pass), "{text:?} and its negation both pass");
        // libpcap moves every test after a `vlan` 4 bytes on, so the second copy of an
        // expression with `vlan` tests other bytes (this target found it: `(!vlan) and (!vlan)`).
        if !text.contains("vlan") {
            assert_eq!(or_pass, pass, "{text:?}");
            assert_eq!(and_pass, pass, "{text:?}");
        }
    }
});
