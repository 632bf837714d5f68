//! The `alpnscope` binary: parse flags, run the library, map the outcome to an exit code.
//! Exit codes: 0 analysed; 1 a flow has a verdict named by --fail-on; 2 could not analyse
//! (usage, unreadable or invalid input, no permission to capture).

mod cli;
mod compare_command;
#[cfg(feature = "live")]
mod live_command;

use alpnscope::capture::CaptureError;
use alpnscope::pipeline::AnalyzerOptions;
use alpnscope::pipeline::files::Threads;
use alpnscope::{AnalyzeError, AnalyzeOptions, Progress, report};
use clap::Parser;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Files smaller than this get no progress indicator.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// Parses the command line and runs the subcommand.
fn main() -> ExitCode {
    let args = cli::with_default_command(std::env::args_os().collect(), |path| {
        std::path::Path::new(path).exists()
    });
    let cli = match cli::Cli::try_parse_from(args) {
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
        cli::Command::Compare(args) => compare_command::compare(cli::CompareConfig::from_env(args)),
        cli::Command::Completions { shell } => {
            let mut command = <cli::Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command, "alpnscope", &mut out);
            write_stdout(&out)
        }
        cli::Command::Man { command } => man(command.as_deref()),
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

/// `alpnscope man [COMMAND]`: the man page of alpnscope or of one subcommand, in roff.
fn man(subcommand: Option<&str>) -> ExitCode {
    let mut command = <cli::Cli as clap::CommandFactory>::command();
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => {
            // Named as clap_mangen names subcommand pages: alpnscope-analyze(1).
            let page_name = match name {
                "analyze" => "alpnscope-analyze",
                "compare" => "alpnscope-compare",
                "live" => "alpnscope-live",
                "interfaces" => "alpnscope-interfaces",
                _ => "alpnscope-completions",
            };
            match command.find_subcommand(name) {
                // roff fills the lines itself: the glossary goes one line per verdict.
                Some(sub) if name == "analyze" => sub
                    .clone()
                    .name(page_name)
                    .version(env!("CARGO_PKG_VERSION"))
                    .after_help(cli::verdict_glossary(usize::MAX))
                    .after_long_help(cli::verdict_glossary(usize::MAX)),
                Some(sub) => sub
                    .clone()
                    .name(page_name)
                    .version(env!("CARGO_PKG_VERSION")),
                None => {
                    eprintln!("alpnscope: error: no subcommand '{name}'");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut out) {
        eprintln!(
            "alpnscope: error: cannot render the man page: {}",
            alpnscope::capture::IoCause(&e)
        );
        return ExitCode::from(2);
    }
    write_stdout(&out)
}

/// Writes generated text to standard output (a closed pipe is not an error).
fn write_stdout(bytes: &[u8]) -> ExitCode {
    let mut stdout = io::stdout().lock();
    exit_code(stdout.write_all(bytes).and_then(|_| stdout.flush()), false)
}

/// `alpnscope analyze`: read the captures and write the report while the flows arrive
/// (filtered, redacted), then extract, and map the outcome to an exit code.
fn analyze(mut config: cli::Config) -> ExitCode {
    // A bad filter is a usage error, found before anything is read or written.
    let bpf = match config
        .bpf
        .as_deref()
        .map(alpnscope::capture::filter::Filter::new)
    {
        None => None,
        Some(Ok(filter)) => Some(filter),
        Some(Err(e)) => {
            eprintln!(
                "alpnscope: error: filter '{}': {e}",
                config.bpf.as_deref().unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    // Directories stand for the captures under them.
    config.captures = match alpnscope::pipeline::files::capture_paths(&config.captures) {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("alpnscope: error: {e}");
            return ExitCode::from(2);
        }
    };
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
        // Merged captures are one capture.
        config.captures.len() > 1 && !config.merge,
        tool,
    );
    let mut failed = false;
    let mut to_extract = Vec::new();
    // The ids of the reported flows, as ranges, when --flow names some to check them against.
    let mut reported = FlowIds::default();
    let check_ids = config
        .extract
        .as_ref()
        .is_some_and(|(_, ids, _)| !ids.is_empty());
    let mut on_flow = |flow: Box<report::model::FlowReport>| {
        if writer.keeps(&flow) {
            if check_ids {
                reported.add(flow.id);
            }
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
    let mut skipped = 0;
    let rest = match read_captures(&config, bpf.clone(), &mut on_flow, &mut skipped) {
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
    if let Some((path, ids, include_keys)) = &config.extract {
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !reported.contains(**id))
            .map(u64::to_string)
            .collect();
        if !unknown.is_empty() {
            let filtered = if config.filter.is_empty() {
                ""
            } else {
                " (after --sni, --server, --verdict or --problems)"
            };
            eprintln!(
                "alpnscope: error: --flow {}: no such flow in the report; the flows reported{filtered} are {}",
                unknown.join(", "),
                reported
            );
            return ExitCode::from(2);
        }
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
            bpf.as_ref(),
        ) {
            return code;
        }
    }
    if skipped > 0 && written.is_ok() {
        eprintln!(
            "alpnscope: error: {} of {} could not be read (named above); the report covers the others",
            skipped,
            report::plural(config.captures.len() as u64, "capture")
        );
        return ExitCode::from(2);
    }
    exit_code(written, failed)
}

/// Flow ids as ascending ranges (a report hands them out nearly in order).
#[derive(Default)]
struct FlowIds(Vec<(u64, u64)>);

impl FlowIds {
    /// Adds `id`.
    fn add(&mut self, id: u64) {
        match self.0.last_mut() {
            Some((_, end)) if *end + 1 == id => *end = id,
            _ => self.0.push((id, id)),
        }
    }

    /// True when `id` was added.
    fn contains(&self, id: u64) -> bool {
        self.0
            .iter()
            .any(|(start, end)| (*start..=*end).contains(&id))
    }
}

impl std::fmt::Display for FlowIds {
    /// "0–3, 7, 9–12" (at most 20 ranges, then "…"), or "none".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let mut ranges = self.0.clone();
        ranges.sort_unstable();
        for (i, (start, end)) in ranges.iter().enumerate() {
            if i == 20 {
                return f.write_str(", …");
            }
            let sep = if i == 0 { "" } else { ", " };
            match end - start {
                0 => write!(f, "{sep}{start}")?,
                1 => write!(f, "{sep}{start}, {end}")?,
                _ => write!(f, "{sep}{start}–{end}")?,
            }
        }
        Ok(())
    }
}

/// Bytes of output gathered before each write: a report of 10,000 flows (20 MB of JSON) in
/// some 300 writes rather than 3,000 of `BufWriter`'s default 8 KiB; a program reading the
/// output through a pipe gets it 64 KiB at a time.
const OUTPUT_BUFFER: usize = 64 << 10;

/// Opens `--output` (or stdout), buffered; a file that cannot be created is reported here.
/// Also returns the output file's path.
fn open_output(
    config: &cli::Config,
) -> Result<(Box<dyn Write>, Option<std::path::PathBuf>), ExitCode> {
    match &config.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Ok((
                Box::new(io::BufWriter::with_capacity(OUTPUT_BUFFER, file)),
                Some(path.clone()),
            )),
            Err(e) => {
                eprintln!(
                    "alpnscope: error: cannot create {}: {}",
                    path.display(),
                    alpnscope::capture::IoCause(&e)
                );
                Err(ExitCode::from(2))
            }
        },
        None => Ok((
            Box::new(io::BufWriter::with_capacity(OUTPUT_BUFFER, stdout_file())),
            None,
        )),
    }
}

/// Standard output for the report: its file descriptor written directly where it can be
/// duplicated (the standard handle looks for line ends in every byte it is given: 1.4 % of a
/// JSON run's instructions), else the standard handle.
fn stdout_file() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(io::stdout().lock())
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
    bpf: Option<alpnscope::capture::filter::Filter>,
    on_flow: &mut alpnscope::pipeline::files::FlowSink<'_>,
    skipped: &mut usize,
) -> Result<report::model::Report, ReadFailure> {
    let options = AnalyzeOptions {
        analyzer: AnalyzerOptions {
            include_non_tls: config.include_non_tls,
            memory: config.memory,
            // The report writer counts the flows it is handed.
            sink_tallies: true,
            ..AnalyzerOptions::default()
        },
        digest: config.digest,
        keylogs: config.keylogs.clone(),
        count: config.count,
        merge: config.merge,
        filter: bpf,
        threads: config
            .threads
            .map_or(Threads::Auto, |n| Threads::from_count(usize::from(n))),
        read_in_part: Default::default(),
    };
    // A redacted run names no file, not even on stderr.
    let names = config
        .captures
        .iter()
        .enumerate()
        .map(|(index, path)| {
            if config.redact.is_some() {
                report::redact::capture_name(index)
            } else {
                path.clone()
            }
        })
        .collect();
    let mut progress = ProgressLine::new(io::stderr().is_terminal(), names);
    let result = if config.captures.len() > 1 {
        // Several captures: one that cannot be read is named and left out, and the run ends
        // with exit status 2 after the report of the others.
        let mut on_skip = |e: AnalyzeError| {
            *skipped += 1;
            print_error(&e, config);
        };
        alpnscope::pipeline::files::analyze_files_skipping(
            &config.captures,
            &options,
            &mut |p| progress.show(p),
            on_flow,
            &mut on_skip,
        )
    } else {
        alpnscope::pipeline::files::analyze_files_streaming(
            &config.captures,
            &options,
            &mut |p| progress.show(p),
            on_flow,
        )
    };
    progress.clear();
    result.map_err(|e| {
        if let AnalyzeError::Output { source } = e {
            return ReadFailure::Write(source);
        }
        print_error(&e, config);
        ReadFailure::Exit(ExitCode::from(2))
    })
}

/// Prints a capture's fatal error, with a hint for a file that is not a capture; a redacted
/// run names the capture by its position on the command line instead of its path.
fn print_error(e: &AnalyzeError, config: &cli::Config) {
    let mut message = e.to_string();
    if config.redact.is_some()
        && let AnalyzeError::Open { path, .. } | AnalyzeError::Capture { path, .. } = e
    {
        let position = config.captures.iter().position(|p| p == path).unwrap_or(0);
        message = report::redact::hide_path(&message, path, &format!("input {position}"));
    }
    eprintln!("alpnscope: error: {message}");
    // The hint fits a file that is not a capture, not a missing, truncated or compressed file
    // or a bad key log.
    if matches!(
        e,
        AnalyzeError::Capture {
            source: CaptureError::NotACapture | CaptureError::Empty,
            ..
        }
    ) {
        eprintln!(
            "  (alpnscope reads pcap and pcapng captures, e.g. from tcpdump -w or Wireshark)"
        );
    }
}

/// The progress indicator on stderr: at most four updates a second, for big files only.
struct ProgressLine {
    /// stderr is a terminal.
    enabled: bool,
    /// When the line was last written.
    last: Instant,
    /// Whether the line was ever written (and must be cleared).
    shown: bool,
    /// The captures' names as the line shows them (`-` is standard input).
    names: Vec<String>,
}

impl ProgressLine {
    /// A progress line, silent unless `enabled`.
    fn new(enabled: bool, names: Vec<String>) -> Self {
        ProgressLine {
            enabled,
            last: Instant::now(),
            shown: false,
            names,
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
        let name = self.names.get(p.capture).map_or("-", String::as_str);
        eprint!("\r\x1b[2K{}", progress_text(name, &p, total));
    }

    /// Erases the line, if it was written.
    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}

/// The progress line's text: "alpnscope:  42% of big.pcap (120 of 286 MiB), 1 flow".
fn progress_text(name: &str, p: &Progress, total: u64) -> String {
    format!(
        "alpnscope: {:>3}% of {name} ({} of {} MiB), {}",
        p.bytes * 100 / total.max(1),
        p.bytes >> 20,
        total >> 20,
        report::plural(p.flows as u64, "flow")
    )
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
                report::redact::hide_capture_paths(warning, capture, index)
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
pub(crate) fn exit_code(written: io::Result<()>, failed: bool) -> ExitCode {
    match written {
        Ok(()) if failed => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
        // `alpnscope … | head`: a closed pipe is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "alpnscope: error: writing the report failed: {}",
                alpnscope::capture::IoCause(&e)
            );
            ExitCode::from(2)
        }
    }
}

/// The command line, with the program called `alpnscope` whatever its path.
pub(crate) fn command_line() -> String {
    let mut words = vec!["alpnscope".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

/// A random key for redaction pseudonyms when the user gave none.
pub(crate) fn random_key() -> Vec<u8> {
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
    filter: Option<&alpnscope::capture::filter::Filter>,
) -> Result<(), ExitCode> {
    let ids: Vec<u64> = report.flows.iter().map(|f| f.id).collect();
    let keylog = if include_keys {
        let mut log = alpnscope::tls::keylog::KeyLog::new();
        // The analysis read these files already; they are read again here, and one removed or
        // rewritten in between must not silently leave its secrets out of the extract.
        for k in keylogs {
            let added: Result<(), String> = match std::fs::read(k) {
                Ok(text) => log
                    .add_text(&String::from_utf8_lossy(&text))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(alpnscope::capture::IoCause(&e).to_string()),
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
    match alpnscope::extract::extract(report, &ids, keylog.as_ref(), redactor, filter, path) {
        Ok(done) => {
            eprintln!(
                "alpnscope: wrote {} of {} to {}{}",
                report::plural(done.packets, "packet"),
                report::plural(done.flows as u64, "flow"),
                path.display(),
                if include_keys {
                    format!(" with the handshake secrets of {} of them", done.secrets)
                } else {
                    String::new()
                }
            );
            if redacted && done.quic_cut_packets > 0 {
                eprintln!(
                    "alpnscope: redacted extract: {} cut off as if by a snaplen \
                     from the first packet that could not be opened to be redacted (an Initial \
                     packet that no Initial keys of its connection open, bytes that are not QUIC \
                     packets of a version alpnscope reads)",
                    match done.quic_cut_packets {
                        1 => "1 QUIC datagram is".to_string(),
                        n => format!("{n} QUIC datagrams are"),
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_names_the_file() {
        let p = |flows| Progress {
            capture: 1,
            bytes: 120 << 20,
            total: Some(286 << 20),
            flows,
        };
        assert_eq!(
            progress_text("big.pcap", &p(1), 286 << 20),
            "alpnscope:  41% of big.pcap (120 of 286 MiB), 1 flow"
        );
        assert_eq!(
            progress_text("capture 1", &p(3), 286 << 20),
            "alpnscope:  41% of capture 1 (120 of 286 MiB), 3 flows"
        );
    }

    #[test]
    fn flow_ids_are_listed_as_ranges() {
        let mut ids = FlowIds::default();
        assert_eq!(ids.to_string(), "none");
        for id in [0, 1, 2, 3, 5, 7, 8, 12] {
            ids.add(id);
        }
        assert_eq!(ids.to_string(), "0–3, 5, 7, 8, 12");
        assert!(ids.contains(2) && ids.contains(12) && !ids.contains(4) && !ids.contains(13));
    }
}
