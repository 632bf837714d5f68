//! Arbitrary bytes as a whole capture: through the reader, the flow table, every renderer and
//! redaction. Invariants: no panic; the JSON and every JSON Lines line parse; each renderer writes
//! UTF-8 and the same bytes twice; the same holds for the redacted report.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(report) = alpnscope_fuzz::analyze_with(alpnscope_fuzz::analyzer(), data, true) {
        alpnscope_fuzz::check_report(&report);
    }
});
