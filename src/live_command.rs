//! `alpnscope live` and `alpnscope interfaces`: open the capture and the outputs, drop
//! privileges, stream each flow as its verdict becomes final (and a correction when a flow's
//! conclusion changed by its end), print the summary at the end.

use crate::cli::{ColorArg, FormatArg, LiveArgs};
use alpnscope::pipeline::Streamed;
use alpnscope::pipeline::live::{self, LiveOptions, LiveSession};
use alpnscope::report::{self, Format};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("alpnscope: error: {message}");
    ExitCode::from(2)
}

/// `alpnscope interfaces`.
pub fn interfaces() -> ExitCode {
    match live::interfaces() {
        Ok(list) => {
            for i in list {
                let desc = i.description.map(|d| format!(" ({d})")).unwrap_or_default();
                println!("{}{desc}  [{}]", i.name, i.flags.join(", "));
                for a in i.addresses {
                    println!("    {a}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `alpnscope live`.
pub fn live(args: LiveArgs) -> ExitCode {
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Markdown => Format::Markdown,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = format == Format::Text
        && match args.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => !no_color && io::stdout().is_terminal() && args.output.is_none(),
        };
    let options = LiveOptions {
        interface: args.interface,
        filter: args.filter,
        count: args.count,
        duration: args.duration.map(Duration::from_secs_f64),
        write: args.write.map(PathBuf::from),
        keylogs: args.keylog.iter().map(PathBuf::from).collect(),
        include_non_tls: args.all,
    };
    let session = match LiveSession::open(options) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Output files are opened before privileges are dropped. A failure here leaves no
    // `--write` file behind.
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(io::BufWriter::new(f)),
            Err(e) => {
                session.abandon();
                return fail(format!("cannot create {}: {e}", path.display()));
            }
        },
        None => Box::new(io::stdout()),
    };
    if !args.no_drop_privileges {
        match live::drop_privileges() {
            Ok(Some(to)) => eprintln!(
                "alpnscope: dropped root privileges to uid {} gid {}",
                to.uid, to.gid
            ),
            Ok(None) => {}
            Err(e) => {
                session.abandon();
                return fail(e);
            }
        }
    }
    for path in session.waiting_key_logs() {
        eprintln!(
            "alpnscope: key log {} does not exist yet: waiting for it (clients create it at their first connection)",
            path.display()
        );
    }
    let stop = live::stop_on_signals();
    let which = if session.default_interface {
        " (libpcap's default; -i to choose)"
    } else {
        ""
    };
    eprintln!(
        "alpnscope: capturing on {}{which}; Ctrl-C to stop",
        session.interface()
    );
    let progress = io::stderr().is_terminal();
    let mut on_flow = |streamed: &Streamed| -> io::Result<()> {
        match (format, streamed) {
            (Format::Text, Streamed::Flow(flow)) => {
                report::text::render_flow_block(flow, color, &mut *out)?;
                out.flush()
            }
            (Format::Text, Streamed::Correction(correction)) => {
                writeln!(
                    out,
                    "Correction of flow {}: {}",
                    correction.id, correction.reason
                )?;
                report::text::render_flow_block(&correction.flow, color, &mut *out)?;
                out.flush()
            }
            (Format::Jsonl, Streamed::Flow(flow)) => {
                report::json::render_flow_line(flow, &mut *out)
            }
            (Format::Jsonl, Streamed::Correction(correction)) => {
                report::json::render_correction_line(correction, &mut *out)
            }
            (Format::Json | Format::Markdown, _) => Ok(()),
        }
    };
    let mut on_progress = |packets: u64, flows: usize, handshakes: usize| {
        if progress {
            eprint!(
                "\ralpnscope: {packets} packets, {flows} flows, {handshakes} handshakes reported"
            );
        }
    };
    let result = session.run(stop, &mut on_flow, &mut on_progress);
    if progress {
        eprint!("\r\x1b[2K");
    }
    let report = match result {
        Ok(r) => r,
        // `alpnscope live … | head`: the reader has what it wanted.
        Err(e) if e.is_broken_pipe() => return ExitCode::SUCCESS,
        Err(e) => return fail(e),
    };
    let written = match format {
        Format::Text => report::text::render_summary_only(&report, color, &mut *out),
        Format::Jsonl => report::json::render_summary_line(&report, &mut *out),
        Format::Json | Format::Markdown => report::render(&report, format, false, &mut *out),
    }
    .and_then(|_| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(format!("writing the report failed: {e}")),
    }
}
