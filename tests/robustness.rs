//! Never panic on input: every fixture, mutated many ways (bytes flipped, lengths lied about,
//! files cut short), goes through the whole pipeline, and every chunking of a file through the
//! streaming reader gives the same report as the block reader.

use alpnscope::capture::{self, CaptureEvent};
use alpnscope::pipeline::{Analyzer, AnalyzerOptions};

/// Mutations per fixture in CI (raise it to search harder: ALPNSCOPE_MUTATIONS=2000).
const ROUNDS: usize = 12;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Runs bytes through reader + pipeline; returns the verdicts (or the reader's error).
fn verdicts(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut analyzer = Analyzer::new(AnalyzerOptions::default());
    analyzer.begin_capture(0);
    let summary = capture::read_capture_slice(bytes, |event| match event {
        CaptureEvent::Frame(f) => analyzer.frame(&f),
        CaptureEvent::Dropped(f) => analyzer.filtered_out(&f),
        CaptureEvent::Secrets { data, .. } => {
            let _ = analyzer.add_key_log(&String::from_utf8_lossy(data));
        }
    })
    .map_err(|e| e.to_string())?;
    let capture = analyzer.end_capture("mutated", &summary);
    let report = analyzer.into_report(vec![capture]);
    Ok(report
        .flows
        .iter()
        .map(|f| format!("{}:{}", f.id, f.verdict))
        .collect())
}

/// The project's fixtures and the shared corpus's captures.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [
        root.join("fixtures"),
        root.join("../shared/corpus/ja4/captures"),
    ];
    let mut files: Vec<_> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            )
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn mutated_captures_never_panic() {
    let rounds: usize = std::env::var("ALPNSCOPE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    for (name, original) in fixtures() {
        for round in 0..rounds {
            let mut bytes = original.clone();
            match round % 4 {
                // Flip a handful of bytes anywhere (headers, lengths, TLS).
                0 | 1 => {
                    for _ in 0..(1 + rng.below(16)) {
                        let at = rng.below(bytes.len());
                        bytes[at] ^= (rng.next() as u8) | 1;
                    }
                }
                // Write a big value into a random 4-byte field: a lying length.
                2 => {
                    let at = rng.below(bytes.len().saturating_sub(4));
                    bytes[at..at + 4]
                        .copy_from_slice(&(rng.next() as u32 | 0x8000_0000).to_le_bytes());
                }
                // Cut the file short.
                _ => bytes.truncate(rng.below(bytes.len())),
            }
            let outcome = std::panic::catch_unwind(|| verdicts(&bytes));
            assert!(outcome.is_ok(), "{name}: round {round} panicked");
            runs += 1;
        }
    }
    assert!(runs >= rounds * 40);
}

#[test]
fn streaming_reader_in_small_pieces_agrees_with_the_block_reader() {
    /// A reader that hands out at most `n` bytes per call.
    struct Trickle<'a>(&'a [u8], usize);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    for (name, bytes) in fixtures() {
        let expected = verdicts(&bytes).unwrap();
        for piece in [1, 7, 1500] {
            let mut analyzer = Analyzer::new(AnalyzerOptions::default());
            analyzer.begin_capture(0);
            let summary = capture::read_capture(Trickle(&bytes, piece), |event| match event {
                CaptureEvent::Frame(f) => analyzer.frame(&f),
                CaptureEvent::Dropped(f) => analyzer.filtered_out(&f),
                CaptureEvent::Secrets { data, .. } => {
                    let _ = analyzer.add_key_log(&String::from_utf8_lossy(data));
                }
            })
            .unwrap();
            let capture = analyzer.end_capture(&name, &summary);
            let report = analyzer.into_report(vec![capture]);
            let got: Vec<String> = report
                .flows
                .iter()
                .map(|f| format!("{}:{}", f.id, f.verdict))
                .collect();
            assert_eq!(got, expected, "{name} read {piece} bytes at a time");
        }
    }
}
