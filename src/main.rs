//! The `alpnscope` binary: parse flags, run the library, map the outcome to an exit code.
//! Exit codes: 0 analysed; 1 a flow has a verdict named by --fail-on; 2 could not analyse
//! (usage, unreadable or invalid input, no permission to capture).

mod cli;
#[cfg(feature = "live")]
mod live_command;

use alpnscope::pipeline::AnalyzerOptions;
use alpnscope::{AnalyzeError, AnalyzeOptions, Progress, report};
use clap::Parser;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Files smaller than this get no progress indicator.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Parses the command line and runs the subcommand.
fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        cli::Command::Analyze(args) => match cli::Config::from_env(args) {
            Ok(config) => analyze(config),
            Err(e) => {
                // Refused before anything is read or written.
                eprintln!("alpnscope: error: {e}");
                ExitCode::from(2)
            }
        },
        #[cfg(feature = "live")]
        cli::Command::Live(args) => live_command::live(args),
        #[cfg(feature = "live")]
        cli::Command::Interfaces => live_command::interfaces(),
        #[cfg(not(feature = "live"))]
        cli::Command::Live(_) | cli::Command::Interfaces => {
            eprintln!(
                "alpnscope: error: this alpnscope was built without live capture.\n  \
                 Build it with: cargo install --path . --features live (or cargo build --release --features live)\n  \
                 It needs libpcap's development files: apt-get install libpcap-dev (Debian/Ubuntu), \
                 dnf install libpcap-devel (Fedora/RHEL); built in on macOS.\n  \
                 Meanwhile, capture with tcpdump -i any -s 0 -w capture.pcap and run alpnscope analyze capture.pcap."
            );
            ExitCode::from(2)
        }
    }
}

/// `alpnscope analyze`: read the captures and write the report while the flows arrive
/// (filtered, redacted), then extract, and map the outcome to an exit code.
fn analyze(config: cli::Config) -> ExitCode {
    let mut redactor = redactor(&config);
    let (mut out, output_file) = match open_output(&config) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let tool = report::model::Tool {
        command_line: Some(command_line()),
        ..report::model::Tool::default()
    };
    let mut writer = report::stream::ReportWriter::new(
        config.format,
        config.color,
        &mut out,
        config.filter.clone(),
        redactor.as_mut(),
        config.captures.len() > 1,
        tool,
    );
    let mut failed = false;
    let mut to_extract = Vec::new();
    let mut on_flow = |flow: Box<report::model::FlowReport>| {
        if writer.keeps(&flow) {
            failed |= config.fail_on.contains(&flow.verdict);
            if let Some((_, ids, _)) = &config.extract
                && (if ids.is_empty() {
                    flow.verdict.is_problem()
                } else {
                    ids.contains(&flow.id)
                })
            {
                to_extract.push((*flow).clone());
            }
        }
        writer.flow(flow)
    };
    let rest = match read_captures(&config, &mut on_flow) {
        Ok(rest) => rest,
        Err(ReadFailure::Exit(code)) => {
            discard_output(output_file.as_deref());
            return code;
        }
        Err(ReadFailure::Write(e)) => return exit_code(Err(e), false),
    };
    print_warnings(&rest, &config);
    let captures = rest.captures.clone();
    let written = writer.finish(rest).and_then(|_| out.flush());
    drop(out);
    if let Some((path, _, include_keys)) = &config.extract {
        let chosen = report::model::Report {
            schema_version: report::model::SCHEMA_VERSION,
            tool: report::model::Tool::default(),
            flows: to_extract,
            captures,
            dns_https: Vec::new(),
            diagnosis: Vec::new(),
            summary: report::model::Summary::default(),
        };
        if let Err(code) = extract(
            &chosen,
            path,
            *include_keys,
            &config.keylogs,
            redactor.as_mut(),
        ) {
            return code;
        }
    }
    exit_code(written, failed)
}

/// Opens `--output` (or stdout), buffered; a file that cannot be created is reported here.
/// Also returns the output file's path.
fn open_output(
    config: &cli::Config,
) -> Result<(Box<dyn Write>, Option<std::path::PathBuf>), ExitCode> {
    match &config.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Ok((Box::new(io::BufWriter::new(file)), Some(path.clone()))),
            Err(e) => {
                eprintln!("alpnscope: error: cannot create {}: {e}", path.display());
                Err(ExitCode::from(2))
            }
        },
        None => Ok((Box::new(io::BufWriter::new(io::stdout().lock())), None)),
    }
}

/// Removes the `--output` file of a run that failed before its report was complete.
fn discard_output(path: Option<&std::path::Path>) {
    if let Some(path) = path {
        let _ = std::fs::remove_file(path);
    }
}

/// Why reading the captures ended early.
enum ReadFailure {
    /// A capture could not be analysed (reported here): exit with this code.
    Exit(ExitCode),
    /// Writing the report failed: reading stopped.
    Write(io::Error),
}

/// Analyses the captures, handing each flow to `on_flow`, showing progress on a terminal for
/// big files; a fatal error is reported here. Returns the report without its flows.
fn read_captures(
    config: &cli::Config,
    on_flow: &mut alpnscope::pipeline::files::FlowSink<'_>,
) -> Result<report::model::Report, ReadFailure> {
    let options = AnalyzeOptions {
        analyzer: AnalyzerOptions {
            include_non_tls: config.include_non_tls,
            memory: config.memory,
            ..AnalyzerOptions::default()
        },
        digest: config.digest,
        keylogs: config.keylogs.clone(),
    };
    let mut progress = ProgressLine::new(io::stderr().is_terminal());
    let result = alpnscope::pipeline::files::analyze_files_streaming(
        &config.captures,
        &options,
        &mut |p| progress.show(p),
        on_flow,
    );
    progress.clear();
    result.map_err(|e| {
        if let AnalyzeError::Output { source } = e {
            return ReadFailure::Write(source);
        }
        eprintln!("alpnscope: error: {e}");
        // The hint fits a file that is not a capture, not a missing file or a bad key log.
        if matches!(e, AnalyzeError::Capture { .. }) {
            eprintln!(
                "  (alpnscope reads pcap and pcapng captures, e.g. from tcpdump -w or Wireshark)"
            );
        }
        ReadFailure::Exit(ExitCode::from(2))
    })
}

/// The progress indicator on stderr: at most four updates a second, for big files only.
struct ProgressLine {
    /// stderr is a terminal.
    enabled: bool,
    /// When the line was last written.
    last: Instant,
    /// Whether the line was ever written (and must be cleared).
    shown: bool,
}

impl ProgressLine {
    /// A progress line, silent unless `enabled`.
    fn new(enabled: bool) -> Self {
        ProgressLine {
            enabled,
            last: Instant::now(),
            shown: false,
        }
    }

    /// Rewrites the line with `p`, unless the file is small or the last update is recent.
    fn show(&mut self, p: Progress) {
        let Some(total) = p.total.filter(|t| self.enabled && *t >= PROGRESS_MIN_BYTES) else {
            return;
        };
        if self.last.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        eprint!(
            "\ralpnscope: {:>3}% of capture {} ({} MiB), {} flows",
            p.bytes * 100 / total.max(1),
            p.capture,
            p.bytes >> 20,
            p.flows
        );
    }

    /// Erases the line, if it was written.
    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Prints each capture's warnings on stderr (a redacted run names no file).
fn print_warnings(report: &report::model::Report, config: &cli::Config) {
    for (index, capture) in report.captures.iter().enumerate() {
        // A redacted run names no file, not even on stderr (logs of CI jobs end up in tickets).
        let name = if config.redact.is_some() {
            report::redact::capture_name(index)
        } else {
            capture.path.clone()
        };
        for warning in &capture.warnings {
            let warning = if config.redact.is_some() {
                report::redact::hide_path(warning, &capture.path, &name)
            } else {
                warning.clone()
            };
            eprintln!("alpnscope: warning: {name}: {warning}");
        }
    }
}

/// The redactor `--redact` asks for, keyed by `--redact-key` or a random key.
fn redactor(config: &cli::Config) -> Option<report::redact::Redactor> {
    config.redact.as_ref().map(|(mode, key)| {
        let key = match key {
            Some(k) => k.as_bytes().to_vec(),
            None => random_key(),
        };
        report::redact::Redactor::new(&key, *mode)
    })
}

/// The exit code once the report is written: 1 when `--fail-on` matched, 2 when writing failed
/// (a closed pipe is not a failure).
fn exit_code(written: io::Result<()>, failed: bool) -> ExitCode {
    match written {
        Ok(()) if failed => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
        // `alpnscope … | head`: a closed pipe is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alpnscope: error: writing the report failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// The command line, with the program called `alpnscope` whatever its path.
fn command_line() -> String {
    let mut words = vec!["alpnscope".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

/// A random key for redaction pseudonyms when the user gave none.
fn random_key() -> Vec<u8> {
    use std::io::Read;
    let mut key = vec![0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .is_err()
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        key = format!("{}:{}", now.as_nanos(), std::process::id()).into_bytes();
    }
    key
}

/// `--extract`: writes the handshake-only pcapng of the flows of `report` and says what it
/// holds on stderr.
fn extract(
    report: &report::model::Report,
    path: &std::path::Path,
    include_keys: bool,
    keylogs: &[String],
    redactor: Option<&mut report::redact::Redactor>,
) -> Result<(), ExitCode> {
    let ids: Vec<u64> = report.flows.iter().map(|f| f.id).collect();
    let keylog = if include_keys {
        let mut log = alpnscope::tls::keylog::KeyLog::new();
        // The analysis read these files already; they are read again here, and one removed or
        // rewritten in between must not silently leave its secrets out of the extract.
        for k in keylogs {
            let added: Result<(), Box<dyn std::error::Error>> = match std::fs::read(k) {
                Ok(text) => log
                    .add_text(&String::from_utf8_lossy(&text))
                    .map_err(Into::into),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = added {
                eprintln!("alpnscope: error: cannot read key log {k}: {e}");
                eprintln!(
                    "  (--include-keys reads the --keylog files again after the analysis: \
                     keep them in place until alpnscope has finished)"
                );
                return Err(ExitCode::from(2));
            }
        }
        Some(log)
    } else {
        None
    };
    let redacted = redactor.is_some();
    match alpnscope::extract::extract(report, &ids, keylog.as_ref(), redactor, path) {
        Ok(done) => {
            eprintln!(
                "alpnscope: wrote {} packets of {} flows to {}{}",
                done.packets,
                done.flows,
                path.display(),
                if include_keys {
                    format!(" with the handshake secrets of {} of them", done.secrets)
                } else {
                    String::new()
                }
            );
            if redacted && done.quic_cut_packets > 0 {
                eprintln!(
                    "alpnscope: redacted extract: {} QUIC datagrams are cut off as if by a snaplen \
                     from the first packet that could not be opened to be redacted (an Initial \
                     packet that no Initial keys of its connection open, bytes that are not QUIC \
                     packets of a version alpnscope reads)",
                    done.quic_cut_packets
                );
            }
            if redacted && done.cut_packets > 0 {
                eprintln!(
                    "alpnscope: redacted extract: the payload of {} packets is cut off as if by a \
                     snaplen (Wireshark: \"Packet size limited during capture\"; lengths and \
                     sequence numbers kept): {} directions are not TLS, and only TLS and proxy \
                     handshakes can be redacted",
                    done.cut_packets, done.not_tls_directions
                );
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("alpnscope: error: {e}");
            Err(ExitCode::from(2))
        }
    }
}
