//! Command-line definitions (clap), resolved into a plain [`Config`] before anything runs.

use alpnscope::analysis::VerdictKind;
use alpnscope::compare::model::CompareFindingKind;
use alpnscope::compare::render::CompareFormat;
use alpnscope::report::Format;
use alpnscope::report::filter::{self, FlowFilter};
use alpnscope::report::redact::SniMode;
use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;

/// Explains why TLS connections did (or did not) negotiate h2, from packet captures.
#[derive(Debug, Parser)]
#[command(
    name = "alpnscope",
    version,
    about = "Why did this TLS connection end up on HTTP/1.1 (or fail) when the client asked for h2?",
    long_about = "alpnscope reads packet captures (pcap, pcapng), reassembles every TCP stream (also inside \
tunnels and after STARTTLS, proxy and PROXY-protocol preambles) and every QUIC connection's Initial and \
Handshake packets, parses the TLS ClientHello and ServerHello, and reports per flow which ALPN protocols \
the client offered, which one the server selected, and a verdict that explains the outcome, citing \
Wireshark frame numbers.",
    after_help = "Start with: alpnscope -r capture.pcap (the same as alpnscope analyze capture.pcap)\nOnly some packets: alpnscope -r capture.pcap 'tcp port 443' (tcpdump's filter syntax; frame numbers stay the file's)\nCapture with: tcpdump -i any -s 0 -w capture.pcap 'port 443' (TCP and QUIC)",
    max_term_width = MAX_HELP_WIDTH,
    override_usage = "alpnscope <COMMAND>\n       alpnscope [OPTIONS] <CAPTURE>... [EXPR]   (analyze: an existing file first)\n       alpnscope [OPTIONS] -r <FILE>... [EXPR]   (analyze, options in any order; EXPR: a tcpdump filter)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands' names (and clap's `help`), which the `alpnscope FILE…` shortcut leaves alone.
const SUBCOMMANDS: [&str; 7] = [
    "analyze",
    "compare",
    "live",
    "interfaces",
    "completions",
    "man",
    "help",
];

/// The command line with `analyze` inserted when it reads as tcpdump's does: `alpnscope
/// capture.pcap …` (a first argument that is no subcommand but an existing path, a path-like
/// name with `.` or `/` — whose absence `analyze` then reports —, or `-` for standard input),
/// or options first with `-r FILE` or an existing path among them (`alpnscope -c 10 -r
/// capture.pcap`). Anything else is left to clap, so a mistyped subcommand is still an error.
/// `exists` tells whether a path exists.
pub fn with_default_command(args: Vec<OsString>, exists: impl Fn(&OsStr) -> bool) -> Vec<OsString> {
    let Some(first) = args.get(1) else {
        return args;
    };
    let text = first.to_string_lossy();
    let reads = |arg: &OsStr| {
        let text = arg.to_string_lossy();
        (text.starts_with("-r") && !text.starts_with("--"))
            || text == "--read"
            || text.starts_with("--read=")
            || text == "-"
            || (!text.starts_with('-') && exists(arg))
    };
    let shortcut = if SUBCOMMANDS.contains(&text.as_ref()) {
        false
    } else if text.starts_with('-') && text != "-" {
        !["-h", "--help", "-V", "--version"].contains(&text.as_ref())
            && args[1..].iter().any(|a| reads(a))
    } else {
        reads(first) || text.contains(['.', '/'])
    };
    if !shortcut {
        return args;
    }
    let mut with = Vec::with_capacity(args.len() + 1);
    let mut args = args.into_iter();
    with.extend(args.next());
    with.push(OsString::from("analyze"));
    with.extend(args);
    with
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files and report each TLS flow's ALPN outcome.
    #[command(after_long_help = verdict_help(), after_help = verdict_help())]
    Analyze(AnalyzeArgs),
    /// Compare two captures of the same connections taken on both sides of a middlebox (A
    /// nearer the client, B nearer the server): what changed in transit.
    #[command(after_help = compare_help(), after_long_help = compare_help())]
    Compare(CompareArgs),
    /// Sniff an interface and report each TLS handshake as it completes (needs root or
    /// CAP_NET_RAW; built with --features live).
    #[command(after_long_help = live_help(), after_help = live_help())]
    Live(LiveArgs),
    /// List the interfaces live capture can use, with their addresses.
    Interfaces,
    /// Print a shell completion script, generated from these flags.
    #[command(
        after_help = "Install, e.g.: alpnscope completions bash > ~/.local/share/bash-completion/completions/alpnscope\n\
                      zsh: alpnscope completions zsh > ~/.zfunc/_alpnscope (with fpath+=~/.zfunc)\n\
                      fish: alpnscope completions fish > ~/.config/fish/completions/alpnscope.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these flags: alpnscope(1), or a subcommand's.
    #[command(after_help = "Read it: alpnscope man | man -l -\n\
                      Install: alpnscope man > /usr/local/share/man/man1/alpnscope.1; \
                      alpnscope man analyze > /usr/local/share/man/man1/alpnscope-analyze.1 (and live)")]
    Man {
        /// The subcommand whose page to print (default: the main page, alpnscope(1)).
        #[arg(value_name = "COMMAND", value_parser = ["analyze", "compare", "live", "interfaces", "completions"])]
        command: Option<String>,
    },
}

/// `alpnscope compare` flags.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Capture A, taken nearer the client (pcap or pcapng, also compressed).
    #[arg(value_name = "A")]
    pub a: String,
    /// Capture B, taken nearer the server, of the same connections.
    #[arg(value_name = "B")]
    pub b: String,
    /// TLS key log for both captures (repeatable): a forwarded hello is one TLS session, and
    /// its secrets open both legs.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<String>,
    /// TLS key log for capture A only (repeatable), e.g. the client's SSLKEYLOGFILE.
    #[arg(long, value_name = "FILE")]
    pub keylog_a: Vec<String>,
    /// TLS key log for capture B only (repeatable), e.g. the middlebox's own.
    #[arg(long, value_name = "FILE")]
    pub keylog_b: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormatArg::Text)]
    pub format: CompareFormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Pairing window: how many seconds before a B ClientHello the A ClientHello of a
    /// terminated connection may come (pairing by time and SNI).
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = window_arg)]
    pub window: f64,
    /// B's clock minus A's in seconds (negative: B's is behind), when the captures were taken
    /// on machines whose clocks differ: replaces the estimate from hellos paired by random.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = clock_offset_arg)]
    pub clock_offset: Option<f64>,
    /// Exit with status 1 when a flow of either capture has one of these verdicts, or a
    /// finding is of one of these kinds (comma-separated, e.g. middlebox_strips_alpn,
    /// legs_negotiate_differently,server_declined).
    #[arg(long, value_name = "LIST", value_parser = compare_fail_on_arg)]
    pub fail_on: Option<CompareFailOn>,
    /// Memory budget for flow state per capture; see `analyze --memory`.
    #[arg(long, value_name = "SIZE", value_parser = memory_arg, default_value = "64M")]
    pub memory: usize,
    /// For public tickets: pseudonymise addresses, server names, certificate names and the
    /// capture file names, as `analyze --redact` does (one name, one pseudonym in both
    /// captures). The mode goes after `=` only.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "standard",
        value_name = "MODE"
    )]
    pub redact: Option<RedactArg>,
    /// Key for the pseudonyms (default: random).
    #[arg(long, value_name = "KEY", requires = "redact")]
    pub redact_key: Option<String>,
}

fn compare_help() -> String {
    "Pairs connections by ClientHello random (a middlebox that forwards the client's hello), \
then by time and SNI (one that terminates TLS and opens its own connection: the nearest earlier \
A ClientHello with the same SNI, within --window), and reports per pair what differs: ALPN \
removed, added, replaced or reordered, another selected protocol, SNI or certificate issuer; \
then findings naming the middlebox, citing frames of both captures.\n\
Example: alpnscope compare client-side.pcap server-side.pcap --keylog-a client.keys\n\
Exit status: 0 compared, 1 --fail-on matched, 2 could not compare."
        .to_string()
}

/// Compare output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormatArg {
    /// A block per pair, findings and a summary.
    Text,
    /// One JSON document.
    Json,
    /// A report to paste into a bug ticket.
    Markdown,
}

/// `compare --fail-on`: verdicts and finding kinds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompareFailOn {
    /// Verdicts of flows in either capture.
    pub verdicts: Vec<VerdictKind>,
    /// Kinds of findings.
    pub findings: Vec<CompareFindingKind>,
}

fn compare_fail_on_arg(list: &str) -> Result<CompareFailOn, String> {
    let mut fail_on = CompareFailOn::default();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if let Some(kind) = CompareFindingKind::from_name(name) {
            fail_on.findings.push(kind);
        } else if let Some(verdict) = VerdictKind::from_name(name) {
            fail_on.verdicts.push(verdict);
        } else {
            return Err(format!(
                "unknown verdict or finding '{name}' (findings: {})",
                CompareFindingKind::ALL.map(|k| k.name()).join(", ")
            ));
        }
    }
    Ok(fail_on)
}

fn clock_offset_arg(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.abs() <= 86_400.0 => Ok(secs),
        _ => Err(format!("'{text}' is not a number of seconds within a day")),
    }
}

fn window_arg(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(secs),
        _ => Err(format!(
            "'{text}' is not a number of seconds between 0 and 3600"
        )),
    }
}

/// Everything `compare` needs, resolved from flags and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareConfig {
    /// Capture A.
    pub a: String,
    /// Capture B.
    pub b: String,
    /// Key logs for A (`--keylog` and `--keylog-a`).
    pub keylogs_a: Vec<String>,
    /// Key logs for B (`--keylog` and `--keylog-b`).
    pub keylogs_b: Vec<String>,
    /// Output format.
    pub format: CompareFormat,
    /// Output file, or stdout.
    pub output: Option<PathBuf>,
    /// Colour text output.
    pub color: bool,
    /// Pairing window in ns.
    pub window_ns: i64,
    /// B's clock minus A's in ns, when given.
    pub clock_offset_ns: Option<i64>,
    /// What makes the exit status 1.
    pub fail_on: CompareFailOn,
    /// Memory budget per capture.
    pub memory: usize,
    /// Redaction: name mode and key (`None` key: a random one).
    pub redact: Option<(SniMode, Option<String>)>,
}

impl CompareConfig {
    /// Resolves flags (`no_color`: NO_COLOR is set; `stdout_tty`: stdout is a terminal).
    pub fn resolve(args: CompareArgs, no_color: bool, stdout_tty: bool) -> CompareConfig {
        let format = match args.format {
            CompareFormatArg::Text => CompareFormat::Text,
            CompareFormatArg::Json => CompareFormat::Json,
            CompareFormatArg::Markdown => CompareFormat::Markdown,
        };
        let color = format == CompareFormat::Text
            && match args.color {
                ColorArg::Always => true,
                ColorArg::Never => false,
                ColorArg::Auto => !no_color && stdout_tty && args.output.is_none(),
            };
        let mut keylogs_a = args.keylog.clone();
        keylogs_a.extend(args.keylog_a);
        let mut keylogs_b = args.keylog;
        keylogs_b.extend(args.keylog_b);
        CompareConfig {
            a: args.a,
            b: args.b,
            keylogs_a,
            keylogs_b,
            format,
            output: args.output,
            color,
            window_ns: (args.window * 1e9).round() as i64,
            clock_offset_ns: args.clock_offset.map(|secs| (secs * 1e9).round() as i64),
            fail_on: args.fail_on.unwrap_or_default(),
            memory: args.memory,
            redact: args.redact.map(|mode| {
                let mode = match mode {
                    RedactArg::Standard => SniMode::KeepSuffix,
                    RedactArg::SniFull => SniMode::Full,
                };
                (mode, args.redact_key.clone())
            }),
        }
    }

    /// Resolves flags against the real environment.
    pub fn from_env(args: CompareArgs) -> CompareConfig {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        CompareConfig::resolve(args, no_color, std::io::stdout().is_terminal())
    }
}

/// `alpnscope live` flags.
#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Interface to capture on (default: libpcap's choice; `any` for all, on Linux).
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Capture filter, tcpdump syntax (`-f` as in tshark). TLS runs on any TCP port and QUIC on
    /// any UDP port, hence the default.
    #[arg(short = 'f', long, value_name = "EXPR", default_value = "tcp or udp")]
    pub filter: String,
    /// Stop after this many packets, as tcpdump -c.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Also save the packets seen to FILE (pcap), as tcpdump -w, to attach the evidence to a
    /// ticket.
    #[arg(short = 'w', long, value_name = "FILE")]
    pub write: Option<String>,
    /// Output format: text, jsonl and ecs stream one flow at a time; json and markdown print at the end.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// TLS key log to follow as clients append to it (repeatable); see `analyze --keylog`.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<String>,
    /// Also list TCP flows that are not TLS.
    #[arg(long)]
    pub all: bool,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Stay root after opening the capture (by default root drops to SUDO_UID/SUDO_GID or nobody).
    #[arg(long)]
    pub no_drop_privileges: bool,
    /// Memory budget for flow state; see `analyze --memory`.
    #[arg(long, value_name = "SIZE", value_parser = memory_arg, default_value = "64M")]
    pub memory: usize,
    /// Which flows to report, when to fail, and redaction, as for `analyze`.
    #[command(flatten)]
    pub filter_flags: FilterArgs,
}

fn live_help() -> String {
    "Each flow is printed as soon as its verdict is final (ServerHello, alert, reset, or idle \
timeout). Stop with Ctrl-C (or SIGTERM), --count or --duration: open flows are then reported as \
incomplete (\"capture stopped\"), followed by the summary and libpcap's drop statistics.\n\
Example: sudo alpnscope live -i any --filter 'tcp port 443' --format jsonl | jq .verdict"
        .to_string()
}

/// Output format flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Readable blocks per flow and a summary table.
    Text,
    /// One JSON document (schema_version 1).
    Json,
    /// One JSON object per flow per line, then a summary line.
    Jsonl,
    /// A report to paste into a bug ticket.
    Markdown,
    /// Elastic Common Schema: one JSON document per flow per line (then captures, diagnosis,
    /// summary), for Elasticsearch/OpenSearch via Filebeat, Vector or Fluent Bit.
    Ecs,
}

/// Colour flag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colour when writing text to a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour text output.
    Always,
    /// Never colour.
    Never,
}

/// `alpnscope analyze` flags.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, also gzip-, zstd- or xz-compressed) or directories
    /// searched for them; `-` reads one from standard input. Then, as tcpdump takes it, a
    /// filter expression: the words after the last existing file or directory, `-` or
    /// capture-like name (`*.pcap`, `*.pcapng`, `*.cap`, also compressed) are joined with
    /// spaces into the expression (`alpnscope capture.pcap tcp port 443`). A word naming an
    /// existing file is a capture: quote the expression or use -f.
    #[arg(value_name = "CAPTURE|EXPR", required_unless_present = "read")]
    pub captures: Vec<String>,
    /// Filter expression, tcpdump syntax (as tcpdump's and `live -f`): only the frames it
    /// passes are analysed, and -c counts those; frame numbers stay the file's, as Wireshark
    /// shows them. A bad expression is a usage error (exit 2). The libpcap build (--features
    /// live) reads full tcpdump syntax with libpcap; the default build reads host, net
    /// (A/LEN, A mask M), port, portrange, src, dst, ip, ip6, arp, rarp, tcp, udp, sctp,
    /// icmp, icmp6, proto, ether host, vlan, greater, less, PROTO[OFF:SIZE] & MASK RELOP
    /// VALUE (tcp[tcpflags] & tcp-syn != 0), len RELOP VALUE, and/or/not, parentheses, and
    /// names anything else it does not read.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub bpf: Option<String>,
    /// Capture file to read, as tcpdump -r (repeatable; read before the CAPTURE arguments).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<String>,
    /// Stop after reading N packets, as tcpdump -c (counted over all the captures, in order;
    /// with a filter, packets it passed).
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Read all the captures as one, frames in timestamp order: rotated files of one session
    /// (tcpdump -C/-G) or captures of both ends of a path, so a flow that spans two files is
    /// one flow, and a packet captured at both ends is analysed once. Frames are numbered as
    /// Wireshark numbers `mergecap -w merged.pcapng FILE…` (open that file to find them); -c
    /// counts merged frames.
    #[arg(long)]
    pub merge: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also list TCP flows that are not TLS (by default they are only counted, except plain HTTP
    /// sent to a TLS port, which is always listed).
    #[arg(long)]
    pub all: bool,
    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// TLS key log (SSLKEYLOGFILE / openssl -keylogfile) to read TLS 1.3 EncryptedExtensions;
    /// repeatable. Only handshake secrets are used: application data is never decrypted. Keys
    /// embedded in a pcapng (editcap --inject-secrets) are used automatically.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<String>,
    /// Which flows to report, when to fail, and redaction.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Write the packets of the problem flows (or of --flow) up to the end of their handshake
    /// to FILE, a small pcapng with each flow's verdict as a packet comment.
    /// `-w` and `--write` as in tcpdump, though only the handshakes are written.
    #[arg(short = 'w', long, visible_alias = "write", value_name = "FILE.pcapng")]
    pub extract: Option<PathBuf>,
    /// Flow to extract (repeatable; default: every flow whose verdict is not agreed).
    #[arg(long = "flow", value_name = "ID", requires = "extract")]
    pub flows: Vec<u64>,
    /// Memory budget for flow state (reassembly and hello buffers, held records, IP fragments,
    /// per-connection state): SIZE in bytes, or with K, M or G (KiB, MiB, GiB), at least 64K.
    /// Over it, alpnscope stops reading flows past their handshake, then stops waiting for
    /// holes in the oldest stalled flows, then closes flows without a complete handshake,
    /// least recently active first; when only completed handshakes are left, new connections
    /// are left out. The capture's warnings and each affected flow say so.
    #[arg(long, value_name = "SIZE", value_parser = memory_arg, default_value = "64M")]
    pub memory: usize,
    /// Threads for one capture file: 1 reads and analyses on one thread; 2 (or more) reads and
    /// parses the file on a second thread while the first analyses, and decodes the packets'
    /// headers on whichever of the two is waiting for the other (the first also copies some of
    /// the file when it waits for the second; a thread waiting for the other checks for up to
    /// half a millisecond, letting other threads run in between, before it sleeps). Either way
    /// only the headers of large packets (16 KiB and more) are read until their data matters.
    /// Default: a second thread for files of 8 MiB and more when the machine has more than one
    /// core. More than two are not used yet. The report is the same whatever the number; --merge
    /// reads each file on a thread of its own anyway.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Embed the handshake secrets of the extracted flows (from --keylog) in the pcapng, so
    /// Wireshark shows EncryptedExtensions; application data stays undecryptable. Refused with
    /// --redact: the secrets decrypt the TLS 1.3 server's original certificate (names,
    /// addresses) inside the extract; share a redacted extract without keys instead.
    #[arg(long, requires_all = ["extract", "keylog"])]
    pub include_keys: bool,
}

/// Flags that choose the flows reported, the exit status and redaction: the same for
/// `analyze` and `live`.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// Only flows whose SNI matches PATTERN (glob: `*` any run, `?` one character).
    #[arg(long, value_name = "PATTERN")]
    pub sni: Option<String>,
    /// Only flows to this server: IP, IP:PORT or [IPv6]:PORT.
    #[arg(long, value_name = "IP[:PORT]", value_parser = server_arg)]
    pub server: Option<(IpAddr, Option<u16>)>,
    /// Only flows with these verdicts (comma-separated, e.g. server_declined,incomplete).
    #[arg(long, value_name = "LIST", value_parser = verdicts_arg, conflicts_with = "problems")]
    pub verdict: Option<VerdictList>,
    /// Only problem flows: every verdict but agreed (downgraded included).
    #[arg(long)]
    pub problems: bool,
    /// Exit with status 1 when any reported flow has one of these verdicts (for scripts and CI).
    #[arg(long, value_name = "LIST", value_parser = verdicts_arg)]
    pub fail_on: Option<VerdictList>,
    /// For public tickets: replace addresses, server names and capture file names with stable
    /// pseudonyms (addresses keep their family and class; names keep only their public suffix,
    /// `api.example.com` → `host-3f2a.site-9c01.com`, or nothing with `--redact=sni-full`;
    /// files are called `capture 0`, `capture 1`, …).
    /// The mode goes after `=` only (`--redact=sni-full`), so `--redact capture.pcap` reads
    /// the capture.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "standard",
        value_name = "MODE"
    )]
    pub redact: Option<RedactArg>,
    /// Key for the pseudonyms: the same input and key give the same report (default: random).
    #[arg(long, value_name = "KEY", requires = "redact")]
    pub redact_key: Option<String>,
}

impl FilterArgs {
    /// The flows to report.
    pub fn flow_filter(&self) -> FlowFilter {
        FlowFilter {
            sni: self.sni.clone(),
            server: self.server,
            verdicts: if self.problems {
                Some(
                    VerdictKind::ALL
                        .into_iter()
                        .filter(|v| v.is_problem())
                        .collect(),
                )
            } else {
                self.verdict.clone().map(|v| v.0)
            },
        }
    }

    /// Verdicts that make the exit status 1.
    pub fn fail_on(&self) -> Vec<VerdictKind> {
        self.fail_on.clone().map(|v| v.0).unwrap_or_default()
    }

    /// Redaction: the name mode and the key (`None`: a random one).
    pub fn redaction(&self) -> Option<(SniMode, Option<String>)> {
        self.redact.map(|mode| {
            let mode = match mode {
                RedactArg::Standard => SniMode::KeepSuffix,
                RedactArg::SniFull => SniMode::Full,
            };
            (mode, self.redact_key.clone())
        })
    }
}

/// `--redact` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RedactArg {
    /// Keep the public suffix of server names; pseudonymise the rest.
    Standard,
    /// Replace server names entirely.
    SniFull,
}

/// A comma-separated verdict list as one flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictList(pub Vec<VerdictKind>);

fn verdicts_arg(list: &str) -> Result<VerdictList, String> {
    filter::parse_verdicts(list)
        .map(VerdictList)
        .map_err(|e| e.to_string())
}

/// Smallest `--memory`: room for a few dozen flows with their hellos.
pub const MIN_MEMORY: usize = 64 * 1024;

/// `--memory SIZE`: bytes, or a number with K, M or G (binary units, an optional `iB` or `B`).
fn memory_arg(text: &str) -> Result<usize, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &upper[digits.len()..];
    let shift = match unit {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "unknown unit '{unit}': use K, M or G (e.g. 64M, 1G)"
            ));
        }
    };
    let number: usize = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 64M, 1G, 1048576)"))?;
    let bytes = number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{text}' is too large"))?;
    if bytes < MIN_MEMORY {
        return Err(format!("'{text}' is below the smallest budget, 64K"));
    }
    Ok(bytes)
}

fn server_arg(text: &str) -> Result<(IpAddr, Option<u16>), String> {
    filter::parse_server(text).map_err(|e| e.to_string())
}

/// The widest help text: clap's own limit when it wraps help (its default, set explicitly so
/// the glossary below wraps at the same width).
pub const MAX_HELP_WIDTH: usize = 100;

/// The width clap wraps help to: the terminal's (else `COLUMNS`, else 100), at most
/// [`MAX_HELP_WIDTH`].
fn help_width() -> usize {
    let columns = terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(MAX_HELP_WIDTH);
    columns.clamp(40, MAX_HELP_WIDTH)
}

/// `text` wrapped at `width` columns: the first line starts with `first`, the continuation
/// lines are indented by `indent` spaces (clap would start them at the margin).
fn hanging(first: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = first.is_empty();
    for word in text.split_whitespace() {
        // Leave the last column free: clap wraps a line that fills the width.
        if !empty && line.chars().count() + 1 + word.chars().count() >= width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// The glossary shown under `alpnscope analyze --help`, wrapped with its indentation.
fn verdict_help() -> String {
    verdict_glossary(help_width())
}

/// The verdict glossary wrapped at `width` columns (`usize::MAX`: one line per verdict, for a
/// man page, which roff fills itself).
pub fn verdict_glossary(width: usize) -> String {
    let mut s = String::from("Verdicts (one per TLS flow):\n");
    for kind in VerdictKind::ALL {
        s.push_str(&hanging(
            &format!("  {:<20}", kind.name()),
            kind.explanation(),
            23,
            width,
        ));
    }
    s.push('\n');
    s.push_str(hanging(
        "Exit status:",
        "0 analysed, 1 a flow has a verdict named by --fail-on, 2 could not analyse (bad usage, \
         unreadable or invalid capture).",
        2,
        width,
    ).trim_end());
    s
}

/// Everything `analyze` needs, resolved from flags and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Capture paths.
    pub captures: Vec<String>,
    /// Output format.
    pub format: Format,
    /// Output file, or stdout.
    pub output: Option<PathBuf>,
    /// List non-TLS flows.
    pub include_non_tls: bool,
    /// Colour text output.
    pub color: bool,
    /// Compute file digests (Markdown reports show them).
    pub digest: bool,
    /// Key log files.
    pub keylogs: Vec<String>,
    /// Which flows to report.
    pub filter: FlowFilter,
    /// Verdicts that make the exit status 1.
    pub fail_on: Vec<VerdictKind>,
    /// Redaction: name mode and key (`None` key: a random one).
    pub redact: Option<(SniMode, Option<String>)>,
    /// Handshake-only capture to write, the flows to put in it (empty: problem flows), and
    /// whether to embed their handshake secrets.
    pub extract: Option<(PathBuf, Vec<u64>, bool)>,
    /// Memory budget for flow state in bytes.
    pub memory: usize,
    /// Threads for one capture file (`--threads`; `None`: chosen by file size and cores).
    pub threads: Option<u16>,
    /// Packets to read at most (`-c`), over all the captures (with a filter: packets passed).
    pub count: Option<u64>,
    /// Read the captures as one, merged by timestamp (`--merge`).
    pub merge: bool,
    /// Capture filter expression (tcpdump syntax), from `-f` or the words after the captures.
    pub bpf: Option<String>,
}

/// Flags that parse but cannot be honoured together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `--redact` with `--extract … --include-keys`: the embedded TLS 1.3 handshake secrets
    /// decrypt the original certificate, which the redaction cannot rewrite.
    RedactWithKeys,
    /// A filter expression both with `-f` and after the captures.
    FilterTwice,
    /// Only a filter expression, no capture (with the words that were read as the expression).
    NoCapture(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::RedactWithKeys => write!(
                f,
                "--include-keys cannot be combined with --redact: the embedded handshake secrets \
                 decrypt the TLS 1.3 server's original certificate (its names and addresses) inside \
                 the extract, which the redaction cannot rewrite.\n  \
                 For a public ticket: drop --include-keys (the redacted report still shows the \
                 ALPN that the key log revealed). To let someone trusted decrypt the handshakes: \
                 drop --redact and share that extract privately."
            ),
            ConfigError::FilterTwice => write!(
                f,
                "a filter expression was given both with -f/--filter and after the captures: \
                 give it once"
            ),
            ConfigError::NoCapture(expression) => write!(
                f,
                "no capture to read: '{expression}' was read as a filter expression, as no \
                 such file exists. Give the capture first (alpnscope -r capture.pcap 'tcp \
                 port 443')"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Splits the positional words into captures and a filter expression, as tcpdump reads its
/// command line: the words after the last one that is `-`, an existing path (`exists`) or a
/// capture-like name (`*.pcap`, `*.pcapng`, `*.cap`, also compressed) are the expression, joined
/// with spaces. A word before a capture stays a capture (a mistyped file name is reported as
/// such, not read as a filter).
pub fn split_expression(
    words: Vec<String>,
    exists: impl Fn(&str) -> bool,
) -> (Vec<String>, Option<String>) {
    let capture_like = |w: &str| {
        let lower = w.to_ascii_lowercase();
        let stem = [".gz", ".zst", ".xz"]
            .iter()
            .find_map(|ext| lower.strip_suffix(ext))
            .unwrap_or(&lower);
        w == "-" || stem.contains(".pcap") || stem.ends_with(".cap") || exists(w)
    };
    let at = words
        .iter()
        .rposition(|w| capture_like(w))
        .map_or(0, |i| i + 1);
    if at == words.len() {
        return (words, None);
    }
    let mut captures = words;
    let expression = captures.split_off(at).join(" ");
    (captures, Some(expression))
}

impl Config {
    /// Resolves flags against the environment (`no_color`: NO_COLOR is set and non-empty;
    /// `stdout_tty`: standard output is a terminal).
    pub fn resolve(
        args: AnalyzeArgs,
        no_color: bool,
        stdout_tty: bool,
    ) -> Result<Config, ConfigError> {
        Config::resolve_with(args, no_color, stdout_tty, |p| {
            std::path::Path::new(p).exists()
        })
    }

    /// [`Config::resolve`] with `exists` telling whether a path exists.
    pub fn resolve_with(
        args: AnalyzeArgs,
        no_color: bool,
        stdout_tty: bool,
        exists: impl Fn(&str) -> bool,
    ) -> Result<Config, ConfigError> {
        if args.filter.redact.is_some() && args.include_keys {
            return Err(ConfigError::RedactWithKeys);
        }
        let format = match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Ecs => Format::Ecs,
        };
        let color = format == Format::Text
            && match args.color {
                ColorArg::Always => true,
                ColorArg::Never => false,
                ColorArg::Auto => !no_color && stdout_tty && args.output.is_none(),
            };
        let (positional, expression) = split_expression(args.captures, exists);
        let bpf = match (args.bpf, expression) {
            (Some(_), Some(_)) => return Err(ConfigError::FilterTwice),
            (flag, words) => flag.or(words),
        };
        let mut captures = args.read;
        captures.extend(positional);
        if captures.is_empty() {
            return Err(ConfigError::NoCapture(bpf.unwrap_or_default()));
        }
        Ok(Config {
            captures,
            digest: format == Format::Markdown,
            format,
            output: args.output,
            include_non_tls: args.all,
            color,
            keylogs: args.keylog,
            filter: args.filter.flow_filter(),
            fail_on: args.filter.fail_on(),
            redact: args.filter.redaction(),
            count: args.count,
            merge: args.merge,
            bpf,
            memory: args.memory,
            threads: args.threads,
            extract: args
                .extract
                .map(|path| (path, args.flows, args.include_keys)),
        })
    }

    /// Resolves flags against the real environment.
    pub fn from_env(args: AnalyzeArgs) -> Result<Config, ConfigError> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Config::resolve(args, no_color, std::io::stdout().is_terminal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: AnalyzeArgs, no_color: bool, stdout_tty: bool) -> Config {
        Config::resolve(args, no_color, stdout_tty).unwrap()
    }

    fn args(extra: &[&str]) -> AnalyzeArgs {
        let mut argv = vec!["alpnscope", "analyze"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Analyze(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn live_flags() {
        let cli = Cli::try_parse_from([
            "alpnscope",
            "live",
            "-i",
            "any",
            "--filter",
            "tcp port 443",
            "--count",
            "10",
            "--duration",
            "2.5",
            "--write",
            "out.pcap",
            "--format",
            "jsonl",
            "--keylog",
            "k.log",
            "--no-drop-privileges",
        ])
        .unwrap();
        let Command::Live(a) = cli.command else {
            panic!("not live");
        };
        assert_eq!(a.interface.as_deref(), Some("any"));
        assert_eq!(a.filter, "tcp port 443");
        assert_eq!(a.count, Some(10));
        assert_eq!(a.duration, Some(2.5));
        assert_eq!(a.write.as_deref(), Some("out.pcap"));
        assert_eq!(a.format, FormatArg::Jsonl);
        assert_eq!(a.keylog, ["k.log"]);
        assert!(a.no_drop_privileges);
        let Command::Live(a) = Cli::try_parse_from(["alpnscope", "live"]).unwrap().command else {
            panic!("not live");
        };
        assert_eq!(a.filter, "tcp or udp", "TLS and QUIC run on any port");
    }

    #[test]
    fn defaults() {
        let c = resolve(args(&["x.pcap"]), false, false);
        assert_eq!(c.format, Format::Text);
        assert_eq!(c.captures, ["x.pcap"]);
        assert!(!c.include_non_tls && !c.color && !c.digest);
    }

    #[test]
    fn format_flag() {
        let c = resolve(args(&["--format", "markdown", "x.pcap"]), false, true);
        assert_eq!(c.format, Format::Markdown);
        assert!(c.digest);
        assert!(!c.color, "markdown is never coloured");
        assert_eq!(
            resolve(args(&["--format", "jsonl", "-"]), false, false).format,
            Format::Jsonl
        );
        let ecs = resolve(args(&["--format", "ecs", "x.pcap"]), false, true);
        assert_eq!(ecs.format, Format::Ecs);
        assert!(!ecs.color, "ECS is JSON, never coloured");
        assert!(!ecs.digest);
    }

    #[test]
    fn color_flag_and_no_color() {
        assert!(resolve(args(&["x.pcap"]), false, true).color);
        assert!(!resolve(args(&["x.pcap"]), true, true).color);
        assert!(resolve(args(&["--color", "always", "x.pcap"]), true, false).color);
        assert!(!resolve(args(&["--color", "never", "x.pcap"]), false, true).color);
        assert!(!resolve(args(&["-o", "r.txt", "x.pcap"]), false, true).color);
    }

    #[test]
    fn all_and_output_flags() {
        let c = resolve(
            args(&["--all", "-o", "out.json", "a.pcap", "b.pcapng"]),
            false,
            false,
        );
        assert!(c.include_non_tls);
        assert_eq!(c.output, Some(PathBuf::from("out.json")));
        assert_eq!(c.captures.len(), 2);
    }

    #[test]
    fn filter_flags() {
        let c = resolve(
            args(&[
                "--sni",
                "*.test",
                "--server",
                "[::1]:8443",
                "--verdict",
                "hidden,incomplete",
                "x.pcap",
            ]),
            false,
            false,
        );
        assert_eq!(c.filter.sni.as_deref(), Some("*.test"));
        assert_eq!(c.filter.server, Some(("::1".parse().unwrap(), Some(8443))));
        assert_eq!(
            c.filter.verdicts,
            Some(vec![VerdictKind::Hidden, VerdictKind::Incomplete])
        );
        let c = resolve(
            args(&["--problems", "--fail-on", "server_declined", "x.pcap"]),
            false,
            false,
        );
        assert_eq!(
            c.filter.verdicts.unwrap(),
            [
                VerdictKind::Downgraded,
                VerdictKind::ServerDeclined,
                VerdictKind::NoCommonProtocol,
                VerdictKind::SelectedUnoffered,
                VerdictKind::NotOffered,
                VerdictKind::Hidden,
                VerdictKind::Incomplete,
            ]
        );
        assert_eq!(c.fail_on, vec![VerdictKind::ServerDeclined]);
        let c = resolve(
            args(&["--fail-on", "downgraded,server_declined", "x.pcap"]),
            false,
            false,
        );
        assert_eq!(
            c.fail_on,
            vec![VerdictKind::Downgraded, VerdictKind::ServerDeclined]
        );
    }

    #[test]
    fn bad_filter_values_are_usage_errors() {
        for bad in [
            vec!["alpnscope", "analyze", "--verdict", "agred", "x.pcap"],
            vec!["alpnscope", "analyze", "--server", "example.com", "x.pcap"],
            vec![
                "alpnscope",
                "analyze",
                "--verdict",
                "agreed",
                "--problems",
                "x.pcap",
            ],
        ] {
            assert!(Cli::try_parse_from(bad).is_err());
        }
    }

    #[test]
    fn redacted_extract_with_keys_is_refused() {
        let refused = Config::resolve(
            args(&[
                "--redact",
                "--extract",
                "e.pcapng",
                "--include-keys",
                "--keylog",
                "k.log",
                "x.pcap",
            ]),
            false,
            false,
        );
        assert_eq!(refused, Err(ConfigError::RedactWithKeys));
        // Each alone is fine.
        let c = resolve(
            args(&[
                "--redact",
                "--extract",
                "e.pcapng",
                "--keylog",
                "k.log",
                "x.pcap",
            ]),
            false,
            false,
        );
        assert_eq!(c.extract, Some((PathBuf::from("e.pcapng"), vec![], false)));
        let c = resolve(
            args(&[
                "--extract",
                "e.pcapng",
                "--include-keys",
                "--keylog",
                "k.log",
                "x.pcap",
            ]),
            false,
            false,
        );
        assert_eq!(c.extract, Some((PathBuf::from("e.pcapng"), vec![], true)));
        assert!(c.redact.is_none());
    }

    #[test]
    fn the_tcpdump_forms_are_analyze() {
        let exists = |p: &OsStr| p == "cap.pcap" || p == "live";
        let args = |words: &[&str]| -> Vec<OsString> {
            std::iter::once("alpnscope")
                .chain(words.iter().copied())
                .map(OsString::from)
                .collect()
        };
        let with = |words: &[&str]| with_default_command(args(words), exists);
        assert_eq!(with(&["cap.pcap"]), args(&["analyze", "cap.pcap"]));
        assert_eq!(with(&["-"]), args(&["analyze", "-"]));
        assert_eq!(with(&["-r", "x.pcap"]), args(&["analyze", "-r", "x.pcap"]));
        assert_eq!(with(&["-rx.pcap"]), args(&["analyze", "-rx.pcap"]));
        assert_eq!(
            with(&["--read=x.pcap"]),
            args(&["analyze", "--read=x.pcap"])
        );
        assert_eq!(
            with(&["-c", "10", "-r", "x.pcap"]),
            args(&["analyze", "-c", "10", "-r", "x.pcap"])
        );
        assert_eq!(
            with(&["--format", "json", "cap.pcap"]),
            args(&["analyze", "--format", "json", "cap.pcap"])
        );
        // `analyze` names a missing file better than clap's "unrecognized subcommand".
        assert_eq!(with(&["missing.pcap"]), args(&["analyze", "missing.pcap"]));
        // Subcommands, flags and names that are no file are clap's.
        for words in [
            &["live"][..],
            &["analyze", "cap.pcap"],
            &["anlyze"],
            &["--format", "json"],
            &["--help", "cap.pcap"],
            &["--version"],
            &[],
        ] {
            assert_eq!(with(words), args(words), "{words:?}");
        }
        let Command::Analyze(a) =
            Cli::try_parse_from(with(&["-r", "a.pcap", "-r", "b.pcap", "c.pcap"]))
                .unwrap()
                .command
        else {
            panic!("not analyze");
        };
        let c = resolve(a, false, false);
        assert_eq!(c.captures, ["a.pcap", "b.pcap", "c.pcap"]);
    }

    #[test]
    fn tcpdump_short_options() {
        let c = resolve(
            args(&["-r", "x.pcap", "-c", "10", "-w", "e.pcapng"]),
            false,
            false,
        );
        assert_eq!(c.count, Some(10));
        assert_eq!(c.extract, Some((PathBuf::from("e.pcapng"), vec![], false)));
        let c = resolve(args(&["--write", "e.pcapng", "x.pcap"]), false, false);
        assert_eq!(c.extract, Some((PathBuf::from("e.pcapng"), vec![], false)));
        assert!(Cli::try_parse_from(["alpnscope", "analyze", "-c", "0", "x.pcap"]).is_err());
        let Command::Live(a) = Cli::try_parse_from([
            "alpnscope",
            "live",
            "-i",
            "lo",
            "-f",
            "tcp port 443",
            "-c",
            "5",
            "-w",
            "o.pcap",
            "--problems",
            "--fail-on",
            "hidden",
            "--redact=sni-full",
        ])
        .unwrap()
        .command
        else {
            panic!("not live");
        };
        assert_eq!(a.filter, "tcp port 443");
        assert_eq!((a.count, a.write.as_deref()), (Some(5), Some("o.pcap")));
        assert_eq!(a.filter_flags.fail_on(), [VerdictKind::Hidden]);
        assert_eq!(a.filter_flags.redaction(), Some((SniMode::Full, None)));
        assert!(a.filter_flags.flow_filter().verdicts.is_some());
    }

    fn compare_args(extra: &[&str]) -> CompareArgs {
        let mut argv = vec!["alpnscope", "compare"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Compare(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn compare_flags() {
        let c = CompareConfig::resolve(compare_args(&["a.pcap", "b.pcap"]), false, true);
        assert_eq!((c.a.as_str(), c.b.as_str()), ("a.pcap", "b.pcap"));
        assert_eq!(c.format, CompareFormat::Text);
        assert!(c.color);
        assert_eq!(c.window_ns, 2_000_000_000);
        assert_eq!(c.clock_offset_ns, None);
        assert_eq!(c.fail_on, CompareFailOn::default());
        assert!(c.keylogs_a.is_empty() && c.keylogs_b.is_empty());
        assert_eq!(c.redact, None);
        let c = CompareConfig::resolve(
            compare_args(&["--redact=sni-full", "--redact-key", "k", "a.pcap", "b.pcap"]),
            false,
            false,
        );
        assert_eq!(c.redact, Some((SniMode::Full, Some("k".to_string()))));
        let c = CompareConfig::resolve(
            compare_args(&[
                "--keylog",
                "both.keys",
                "--keylog-a",
                "client.keys",
                "--keylog-b",
                "proxy.keys",
                "--format",
                "json",
                "--window",
                "0.5",
                "--clock-offset",
                "-1.25",
                "--fail-on",
                "middlebox_strips_alpn,server_declined",
                "a.pcap",
                "b.pcap",
            ]),
            false,
            true,
        );
        assert_eq!(c.keylogs_a, ["both.keys", "client.keys"]);
        assert_eq!(c.keylogs_b, ["both.keys", "proxy.keys"]);
        assert_eq!(c.format, CompareFormat::Json);
        assert!(!c.color, "JSON is never coloured");
        assert_eq!(c.window_ns, 500_000_000);
        assert_eq!(c.clock_offset_ns, Some(-1_250_000_000));
        assert_eq!(
            c.fail_on,
            CompareFailOn {
                verdicts: vec![VerdictKind::ServerDeclined],
                findings: vec![CompareFindingKind::MiddleboxStripsAlpn],
            }
        );
        for bad in [
            &["compare", "a.pcap"][..],
            &["compare", "--fail-on", "strips", "a.pcap", "b.pcap"],
            &["compare", "--window", "0", "a.pcap", "b.pcap"],
            &["compare", "--format", "jsonl", "a.pcap", "b.pcap"],
        ] {
            let argv: Vec<&str> = std::iter::once("alpnscope")
                .chain(bad.iter().copied())
                .collect();
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
        // `compare` is a subcommand, never a capture name for the analyze shortcut.
        let argv: Vec<OsString> = ["alpnscope", "compare", "a.pcap", "b.pcap"]
            .map(OsString::from)
            .to_vec();
        assert_eq!(with_default_command(argv.clone(), |_| true), argv);
    }

    #[test]
    fn filter_words_after_the_captures() {
        let exists = |p: &str| p == "cap" || p == "dir";
        let resolve = |words: &[&str]| Config::resolve_with(args(words), false, false, exists);
        let c = resolve(&["cap.pcap", "tcp", "port", "443"]).unwrap();
        assert_eq!(c.captures, ["cap.pcap"]);
        assert_eq!(c.bpf.as_deref(), Some("tcp port 443"));
        // The words after the last existing path, `-` or capture-like name are the expression.
        let c = resolve(&["cap", "dir", "-", "x.pcapng.zst", "net", "10.0.0.0/8"]).unwrap();
        assert_eq!(c.captures, ["cap", "dir", "-", "x.pcapng.zst"]);
        assert_eq!(c.bpf.as_deref(), Some("net 10.0.0.0/8"));
        // A word before a capture is a capture: a missing file is reported as one.
        let c = resolve(&["sni-full", "cap", "tcp"]).unwrap();
        assert_eq!(c.captures, ["sni-full", "cap"]);
        assert_eq!(c.bpf.as_deref(), Some("tcp"));
        let c = resolve(&["-r", "cap", "udp"]).unwrap();
        assert_eq!(
            (c.captures, c.bpf.as_deref()),
            (vec!["cap".to_string()], Some("udp"))
        );
        let c = resolve(&["-f", "tcp port 443", "cap"]).unwrap();
        assert_eq!(c.bpf.as_deref(), Some("tcp port 443"));
        assert!(resolve(&["cap"]).unwrap().bpf.is_none());
        assert_eq!(
            resolve(&["-f", "tcp", "cap", "udp"]),
            Err(ConfigError::FilterTwice)
        );
        assert_eq!(
            resolve(&["missing", "tcp"]),
            Err(ConfigError::NoCapture("missing tcp".to_string()))
        );
    }

    #[test]
    fn a_capture_is_required() {
        assert!(Cli::try_parse_from(["alpnscope", "analyze"]).is_err());
    }
}
