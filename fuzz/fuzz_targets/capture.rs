//! Arbitrary bytes as a whole capture file, read as `alpnscope analyze` reads it: through the
//! file driver ([`alpnscope::pipeline::files::analyze_files_streaming`]), the flow table, and
//! every renderer written flow by flow ([`alpnscope::report::stream::ReportWriter`]), plain and
//! redacted. Invariants:
//! - no panic;
//! - the streaming capture reader and the in-memory one give the same events, summary or error;
//! - in every format, the report streamed flow by flow is byte for byte the whole report
//!   rendered at once (so neither depends on anything but the report), and UTF-8; the JSON
//!   parses, and every JSON Lines line;
//! - the same for the redacted JSON report (one name mode per input, both over a run), and the
//!   redacted text renders;
//! - the report, read with every packet block over 60 bytes read in part (through the reading
//!   thread for even lengths — in buffers of 64 bytes to 4 KiB, every offer copied by the
//!   analysing thread, for lengths ≡ 2 (mod 4) — the block reader for odd ones), is the report
//!   of reading every byte on one thread.
//!
//! An input of a length ≡ 1 (mod 3) is read with a table of at most four flows, one ≡ 2 with
//! the smallest memory budget `--memory` accepts (64 KiB): eviction and shedding at sizes a
//! fuzzer reaches ([`alpnscope_fuzz::analyzer_options_for`]).
#![no_main]

use alpnscope::capture;
use alpnscope_fuzz::{
    OwnedEvent, analyze_file, analyzer_options_for, check_streamed, same_as_reading_everything,
    sni_mode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut streamed = Vec::new();
    let by_stream = capture::read_capture(data, |e| streamed.push(OwnedEvent::new(&e)));
    let mut sliced = Vec::new();
    let by_slice = capture::read_capture_slice(data, |e| sliced.push(OwnedEvent::new(&e)));
    assert_eq!(
        format!("{by_stream:?}"),
        format!("{by_slice:?}"),
        "the two capture readers disagree on the summary"
    );
    assert!(
        streamed == sliced,
        "the two capture readers disagree on the events"
    );
    if by_stream.is_err() {
        return;
    }

    let options = analyzer_options_for(data);
    let through = analyze_file(data, options.clone());
    same_as_reading_everything(data, options, &through);
    let (flows, rest) = through.expect("a capture the reader accepts");
    check_streamed(&flows, &rest, sni_mode(data));
});
