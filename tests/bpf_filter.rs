//! Capture filters agree with tcpdump: on every fixture and every expression of
//! `tests/data/bpf-expressions.txt`, the frames the filter passes are those `tcpdump -r FIXTURE
//! EXPR` passes (`tests/data/bpf-expected.tsv`, made by `fixtures/bpf-expected.sh`; no tcpdump
//! at test time). The built-in engine is checked in every build, libpcap's with
//! `--features live`. Then the command line: `alpnscope FILE EXPR`, `-f`, `-c` with a filter,
//! refused expressions.

mod common;

use alpnscope::capture::filter::{Engine, Filter, FilterError};
use alpnscope::capture::{CaptureError, CaptureEvent, SliceParser};
use common::{project_path, run};
use serde_json::Value;

/// One line of the expected file: capture, expression, tcpdump's frames or its refusal.
struct Expected {
    capture: String,
    expression: String,
    outcome: Result<Vec<u64>, String>,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(project_path("tests/data/bpf-expected.tsv"))
        .expect("tests/data/bpf-expected.tsv (fixtures/bpf-expected.sh)");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("capture\t"))
        .map(|line| {
            let mut cols = line.splitn(3, '\t');
            let (capture, expression, frames) = (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
                cols.next().unwrap(),
            );
            let outcome = match frames.strip_prefix('!') {
                Some(error) => Err(error.to_string()),
                None => Ok(ranges(frames)),
            };
            Expected {
                capture,
                expression,
                outcome,
            }
        })
        .collect()
}

/// `1-3,7` → [1, 2, 3, 7]; `-` → [].
fn ranges(text: &str) -> Vec<u64> {
    if text == "-" {
        return Vec::new();
    }
    text.split(',')
        .flat_map(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap()
        })
        .collect()
}

/// The frames `filter` passes in `capture`: read in place for a plain file (as the file driver
/// reads a regular file), streamed and decompressed for a compressed one.
fn filtered(capture: &str, filter: &Filter) -> Result<Vec<u64>, CaptureError> {
    let data = std::fs::read(project_path(capture)).unwrap();
    let mut frames = Vec::new();
    let mut on_event = |e: CaptureEvent<'_>| {
        if let CaptureEvent::Frame(f) = e {
            frames.push(f.number);
        }
    };
    if [".gz", ".xz", ".zst"]
        .iter()
        .any(|ext| capture.ends_with(ext))
    {
        let (input, compression) = alpnscope::capture::decompressing(&data[..]).unwrap();
        assert!(compression.is_some(), "{capture}");
        alpnscope::capture::read_capture_filtered(
            input,
            None,
            Some(filter.matcher()),
            &mut on_event,
        )?;
    } else {
        let mut parser = SliceParser::new().with_filter(Some(filter.matcher()));
        parser.feed(&data, true, &mut on_event)?;
        parser.finish();
    }
    Ok(frames)
}

/// Checks `engine` against tcpdump on every line; returns the lines checked.
fn agree(engine: Engine) -> usize {
    let lines = expected();
    let fixtures: std::collections::BTreeSet<&str> =
        lines.iter().map(|l| l.capture.as_str()).collect();
    assert!(fixtures.len() >= 90, "every fixture: {}", fixtures.len());
    let mut mismatches = Vec::new();
    for line in &lines {
        let filter = Filter::with_engine(&line.expression, engine)
            .unwrap_or_else(|e| panic!("{}: {e}", line.expression));
        let got = filtered(&line.capture, &filter);
        let ok = match (&line.outcome, &got) {
            (Ok(want), Ok(got)) => want == got,
            // libpcap refuses an expression that can match nothing on the link type; the
            // built-in filter matches nothing.
            (Err(why), Ok(got)) if why.contains("expression rejects all packets") => {
                engine == Engine::BuiltIn && got.is_empty()
            }
            // Refused for the link type (no VLAN on cooked or raw frames, no Ethernet
            // addresses): refused too.
            (Err(why), Err(CaptureError::Filter(FilterError::Link { .. })))
                if why.contains("no VLAN support") || why.contains("ethernet addresses") =>
            {
                true
            }
            // multi-interface.pcapng mixes Ethernet and NFLOG interfaces, which tcpdump cannot
            // read; the built-in filter names the NFLOG link type it does not read, libpcap
            // compiles the expression for each link type.
            (Err(why), got) if why.contains("different from the type of the first interface") => {
                match engine {
                    Engine::BuiltIn => matches!(
                        got,
                        Err(CaptureError::Filter(FilterError::Link { link_type, .. }))
                            if link_type.0 == 239
                    ),
                    #[cfg(feature = "live")]
                    Engine::Libpcap => got.is_ok(),
                }
            }
            _ => false,
        };
        if !ok {
            mismatches.push(format!(
                "{} '{}': tcpdump {:?}, alpnscope {:?}",
                line.capture,
                line.expression,
                line.outcome,
                got.map_err(|e| e.to_string())
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} disagree:\n{}",
        mismatches.len(),
        lines.len(),
        mismatches.join("\n")
    );
    lines.len()
}

#[test]
fn the_built_in_filter_agrees_with_tcpdump_on_every_fixture() {
    let expressions = std::fs::read_to_string(project_path("tests/data/bpf-expressions.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert!(expressions >= 40);
    let checked = agree(Engine::BuiltIn);
    assert_eq!(checked % expressions, 0);
}

#[cfg(feature = "live")]
#[test]
fn libpcap_agrees_with_tcpdump_on_every_fixture() {
    agree(Engine::Libpcap);
}
