//! `alpnscope compare`: read both captures, compare them, write the report and map the outcome
//! to an exit code (0 compared, 1 `--fail-on` matched, 2 could not compare).

use crate::cli::CompareConfig;
use alpnscope::compare::files::{CompareOptions, compare_files};
use alpnscope::compare::model::CompareReport;
use alpnscope::compare::pairing::PairingOptions;
use alpnscope::pipeline::AnalyzerOptions;
use alpnscope::report::model::Tool;
use alpnscope::report::redact::{Redactor, hide_path};
use alpnscope::{AnalyzeOptions, compare::render};
use std::io::{self, Write};
use std::process::ExitCode;

/// Runs `compare` with `config`.
pub fn compare(config: CompareConfig) -> ExitCode {
    if config.a == "-" && config.b == "-" {
        eprintln!(
            "alpnscope: error: compare reads at most one capture from standard input (`-`); \
             give the other as a file"
        );
        return ExitCode::from(2);
    }
    let read = |keylogs: &[String]| AnalyzeOptions {
        analyzer: AnalyzerOptions {
            memory: config.memory,
            ..AnalyzerOptions::default()
        },
        digest: false,
        keylogs: keylogs.to_vec(),
        count: None,
        merge: false,
        filter: None,
        threads: alpnscope::pipeline::files::Threads::Auto,
        read_in_part: Default::default(),
    };
    let options = CompareOptions {
        a: read(&config.keylogs_a),
        b: read(&config.keylogs_b),
        pairing: PairingOptions {
            window_ns: config.window_ns,
            clock_offset_ns: config.clock_offset_ns,
        },
        tool: Tool {
            command_line: Some(crate::command_line()),
            ..Tool::default()
        },
    };
    let mut redactor = config.redact.as_ref().map(|(mode, key)| {
        let key = match key {
            Some(k) => k.as_bytes().to_vec(),
            None => crate::random_key(),
        };
        Redactor::new(&key, *mode)
    });
    let report = match compare_files(
        &config.a,
        &config.b,
        &options,
        &mut |_| {},
        redactor.as_mut(),
    ) {
        Ok(report) => report,
        Err(e) => {
            let mut message = e.to_string();
            if config.redact.is_some() {
                // A redacted run names no file, not even on stderr.
                for (index, path) in [&config.a, &config.b].into_iter().enumerate() {
                    message = hide_path(&message, path, &format!("input {index}"));
                }
            }
            eprintln!("alpnscope: error: {message}");
            return ExitCode::from(2);
        }
    };
    for (capture, side) in report.captures.iter().zip(["A", "B"]) {
        for warning in &capture.warnings {
            eprintln!("alpnscope: warning: {side} {}: {warning}", capture.path);
        }
    }
    let mut out: Box<dyn Write> = match &config.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Box::new(io::BufWriter::new(file)),
            Err(e) => {
                eprintln!(
                    "alpnscope: error: cannot create {}: {}",
                    path.display(),
                    alpnscope::capture::IoCause(&e)
                );
                return ExitCode::from(2);
            }
        },
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let written =
        render::render(&report, config.format, config.color, &mut out).and_then(|_| out.flush());
    crate::exit_code(written, fails(&report, &config))
}

/// True when `--fail-on` names a verdict of a flow of either capture or a finding's kind.
fn fails(report: &CompareReport, config: &CompareConfig) -> bool {
    let flows = report
        .pairs
        .iter()
        .flat_map(|p| [&p.a, &p.b])
        .chain(&report.unpaired.a)
        .chain(&report.unpaired.b);
    let mut verdicts = flows.map(|f| f.verdict);
    verdicts.any(|v| config.fail_on.verdicts.contains(&v))
        || report
            .findings
            .iter()
            .any(|f| config.fail_on.findings.contains(&f.kind))
}
