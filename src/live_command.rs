//! `alpnscope live` and `alpnscope interfaces`: open the capture and the outputs, drop
//! privileges, stream each flow as its verdict becomes final (and a correction when a flow's
//! conclusion changed by its end), print the summary at the end.

use crate::cli::{ColorArg, FormatArg, LiveArgs};
use alpnscope::pipeline::Streamed;
use alpnscope::pipeline::live::{self, LiveOptions, LiveSession};
use alpnscope::report::{self, Format};
use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Prints a fatal error and returns exit code 2.
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
    let (format, color) = output_style(&args);
    let session = match LiveSession::open(live_options(&args)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let (session, mut out) = match open_output(session, &args) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
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
    let filter = args.filter_flags.flow_filter();
    let redactor = RefCell::new(args.filter_flags.redaction().map(|(mode, key)| {
        let key = key.map_or_else(crate::random_key, String::into_bytes);
        report::redact::Redactor::new(&key, mode)
    }));
    let fail_on = args.filter_flags.fail_on();
    // Without the flows kept (text, JSON Lines, ECS), the summary of a filtered or redacted run
    // and the exit status of --fail-on come from the final flows as they leave the table.
    let mut finals = Finals {
        diagnosis: if filter.is_empty() {
            report::diagnosis::DiagnosisTally::default()
        } else {
            report::diagnosis::DiagnosisTally::filtered()
        },
        ..Finals::default()
    };
    let mut on_final = |mut flow: Box<report::model::FlowReport>| {
        let kept = filter.keeps(&flow);
        if let Some(redactor) = redactor.borrow_mut().as_mut() {
            redactor.redact_flow(&mut flow);
        }
        // Findings from every flow, given for the servers of the flows kept.
        finals.diagnosis.add(&flow);
        if !kept {
            return;
        }
        finals.diagnosis.keep(&flow);
        finals.failed |= fail_on.contains(&flow.verdict);
        finals.summary.add(&flow);
    };
    let mut on_flow = |streamed: &Streamed| {
        let flow = match streamed {
            Streamed::Flow(flow) => flow,
            Streamed::Correction(correction) => &correction.flow,
        };
        if !filter.keeps(flow) {
            return Ok(());
        }
        match redactor.borrow_mut().as_mut() {
            Some(redactor) => {
                let mut streamed = streamed.clone();
                match &mut streamed {
                    Streamed::Flow(flow) => redactor.redact_flow(flow),
                    Streamed::Correction(correction) => redactor.redact_flow(&mut correction.flow),
                }
                stream(&streamed, format, color, &mut *out)
            }
            None => stream(streamed, format, color, &mut *out),
        }
    };
    let mut on_progress = |packets: u64, flows: usize, handshakes: usize| {
        if progress {
            eprint!(
                "\ralpnscope: {packets} packets, {flows} flows, {handshakes} handshakes reported"
            );
        }
    };
    let keep_flows = session.keeps_flows();
    let result = session.run_with_finals(stop, &mut on_flow, &mut on_final, &mut on_progress);
    if progress {
        eprint!("\r\x1b[2K");
    }
    let mut report = match result {
        Ok(r) => r,
        // `alpnscope live … | head`: the reader has what it wanted.
        Err(e) if e.is_broken_pipe() => return ExitCode::SUCCESS,
        Err(e) => return fail(e),
    };
    // The summary (and JSON and Markdown) cover the flows the filter keeps, redacted.
    let mut redactor = redactor.into_inner();
    let failed = if keep_flows {
        // Which flows the filter keeps is decided on the flows as captured, before redaction.
        let keep: Vec<bool> = report.flows.iter().map(|f| filter.keeps(f)).collect();
        if let Some(redactor) = &mut redactor {
            redactor.apply(&mut report);
        }
        if !filter.is_empty() {
            report::filter::keep_only(&mut report, &keep);
        }
        report.flows.iter().any(|f| fail_on.contains(&f.verdict))
    } else {
        if !filter.is_empty() || redactor.is_some() {
            report.summary = finals.summary.summary(report.summary.non_tls_flows);
            report.diagnosis = finals.diagnosis.conclusions();
        }
        if let Some(redactor) = &mut redactor {
            redactor.redact_captures(&mut report);
            redactor.redact_dns_https(&mut report.dns_https);
            redactor.redact_command_line(&mut report.tool);
        }
        finals.failed
    };
    match write_summary(&report, format, color, args.all, &mut *out) {
        Some(code) => code,
        None if failed => ExitCode::from(1),
        None => ExitCode::SUCCESS,
    }
}

/// What the final flows of a streaming run leave behind: the tallies of the flows the filter
/// keeps (redacted), and whether one of them has a `--fail-on` verdict.
#[derive(Default)]
struct Finals {
    summary: report::summary::SummaryTally,
    diagnosis: report::diagnosis::DiagnosisTally,
    failed: bool,
}

/// The output format, and whether to colour it (text only; `--color`, NO_COLOR, a terminal).
fn output_style(args: &LiveArgs) -> (Format, bool) {
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Ecs => Format::Ecs,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = format == Format::Text
        && match args.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => !no_color && io::stdout().is_terminal() && args.output.is_none(),
        };
    (format, color)
}

/// The capture options the flags ask for.
fn live_options(args: &LiveArgs) -> LiveOptions {
    LiveOptions {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        count: args.count,
        duration: args.duration.map(Duration::from_secs_f64),
        write: args.write.as_ref().map(PathBuf::from),
        keylogs: args.keylog.iter().map(PathBuf::from).collect(),
        include_non_tls: args.all,
        // JSON and Markdown write the whole report at the end; the other formats stream, and a
        // filter, redaction and --fail-on tally the final flows as they go (memory stays flat).
        keep_flows: matches!(output_style(args).0, Format::Json | Format::Markdown),
        memory: args.memory,
    }
}

/// Opens `--output` (or stdout), then drops root privileges unless told not to: output files
/// are opened before privileges are dropped. A failure abandons the session, which leaves no
/// `--write` file behind.
fn open_output(
    session: LiveSession,
    args: &LiveArgs,
) -> Result<(LiveSession, Box<dyn Write>), ExitCode> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(io::BufWriter::new(f)),
            Err(e) => {
                session.abandon();
                return Err(fail(format!(
                    "cannot create {}: {}",
                    path.display(),
                    alpnscope::capture::IoCause(&e)
                )));
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
                return Err(fail(e));
            }
        }
    }
    Ok((session, out))
}

/// Writes one streamed flow or correction as soon as it is final (text, JSON Lines and ECS; JSON and
/// Markdown wait for the end).
fn stream(streamed: &Streamed, format: Format, color: bool, out: &mut dyn Write) -> io::Result<()> {
    match (format, streamed) {
        (Format::Text, Streamed::Flow(flow)) => {
            report::text::render_flow_block(flow, false, color, out)?;
            out.flush()
        }
        (Format::Text, Streamed::Correction(correction)) => {
            writeln!(
                out,
                "Correction of flow {}: {}",
                correction.id, correction.reason
            )?;
            report::text::render_flow_block(&correction.flow, false, color, out)?;
            out.flush()
        }
        (Format::Jsonl, Streamed::Flow(flow)) => report::json::render_flow_line(flow, out),
        (Format::Jsonl, Streamed::Correction(correction)) => {
            report::json::render_correction_line(correction, out)
        }
        (Format::Ecs, Streamed::Flow(flow)) => {
            let mut line = Vec::new();
            report::ecs::flow_line(flow, &mut line)?;
            out.write_all(&line)?;
            out.flush()
        }
        (Format::Ecs, Streamed::Correction(correction)) => {
            report::ecs::correction_line(correction, out)
        }
        (Format::Json | Format::Markdown, _) => Ok(()),
    }
}

/// Writes what comes at the end (the summary; the whole report in JSON and Markdown); an exit
/// code when writing failed (a closed pipe is not a failure).
fn write_summary(
    report: &report::model::Report,
    format: Format,
    color: bool,
    listed_not_tls: bool,
    out: &mut dyn Write,
) -> Option<ExitCode> {
    let written = match format {
        Format::Text => report::text::render_summary_only(report, listed_not_tls, color, out),
        Format::Jsonl => report::json::render_summary_line(report, out),
        Format::Ecs => report::ecs::render_end(report, out),
        Format::Json | Format::Markdown => report::render(report, format, false, out),
    }
    .and_then(|_| out.flush());
    match written {
        Ok(()) => None,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Some(ExitCode::SUCCESS),
        Err(e) => Some(fail(format!(
            "writing the report failed: {}",
            alpnscope::capture::IoCause(&e)
        ))),
    }
}
