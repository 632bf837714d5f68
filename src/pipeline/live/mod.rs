//! Live capture (feature `live`): frames from a network interface through libpcap, into the same
//! pipeline as files, with each flow reported as soon as its verdict is final.
//!
//! The handle is opened with a full snaplen and a 16 MiB kernel buffer, buffered as tcpdump's
//! is (on Linux the kernel hands packets over in blocks, each at the latest 100 ms after its
//! first packet: one wake-up for many packets; immediate mode, a wake-up a packet, took two to
//! three times the CPU under load), and read non-blocking behind `poll(2)` with a 100 ms
//! timeout, so an idle link never delays stopping (a plain libpcap read timeout does not fire on
//! an idle Linux link). On a stop signal or `--duration`, capturing goes on for [`LAST_BLOCK`]
//! so that the packets of the block the kernel still holds are analysed. Key logs given with `--keylog`
//! are re-read as clients append to them; one that does not exist yet is waited for (clients
//! create it at their first connection). Privileges are dropped, as tcpdump does, before the
//! first packet is parsed.
//!
//! A flow is streamed as soon as its verdict is final, usually long before it ends; when it
//! leaves the flow table it is judged again, and a changed conclusion is streamed as a
//! correction ([`Streamed::Correction`]).

mod error;
mod process;

pub use error::LiveError;
use error::open_error;
pub use process::{DroppedTo, drop_privileges, stop_on_signals};

use crate::capture::{CaptureFormat, CaptureSummary, Frame, LinkType, Timestamp};
use crate::pipeline::{Analyzer, AnalyzerOptions, Streamed};
use crate::report::build;
use crate::report::model::{CaptureStatistics, FlowReport, Report};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Snapshot length: whole packets.
const SNAPLEN: i32 = 262_144;
/// Kernel capture buffer.
const BUFFER_BYTES: i32 = 16 << 20;
/// Longest wait for packets before checking the stop conditions; also the longest the kernel
/// holds a packet before handing it over.
const POLL_MS: i32 = 100;
/// Capturing goes on this long after a stop, for the packets the kernel still holds (at most
/// [`POLL_MS`]).
const LAST_BLOCK: Duration = Duration::from_millis(2 * POLL_MS as u64);
/// How often key logs are checked for new lines and idle flows swept.
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// What to capture and when to stop.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Interface; libpcap's default when `None`.
    pub interface: Option<String>,
    /// BPF filter (tcpdump syntax).
    pub filter: String,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Save the packets seen to this pcap file.
    pub write: Option<PathBuf>,
    /// Key logs to follow.
    pub keylogs: Vec<PathBuf>,
    /// Keep reports of flows that are not TLS.
    pub include_non_tls: bool,
    /// Keep every final flow report for the report returned at the end (JSON, Markdown);
    /// otherwise only the summary and diagnosis tallies are kept and memory stays flat.
    pub keep_flows: bool,
    /// Memory budget for flow state in bytes (0: the default).
    pub memory: usize,
}

/// An interface and its addresses.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    /// Name (for `-i`).
    pub name: String,
    /// Description, when libpcap has one.
    pub description: Option<String>,
    /// Addresses.
    pub addresses: Vec<String>,
    /// Loopback, up, running flags as words.
    pub flags: Vec<&'static str>,
}

/// The interfaces libpcap can capture on.
pub fn interfaces() -> Result<Vec<InterfaceInfo>, LiveError> {
    let devices = pcap::Device::list().map_err(|source| LiveError::Devices { source })?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let mut flags = Vec::new();
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            InterfaceInfo {
                name: d.name,
                description: d.desc,
                addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
                flags,
            }
        })
        .collect())
}

/// Follows a key log that clients append to, or will create.
struct KeyLogFollower {
    path: PathBuf,
    /// `None` while the file does not exist yet.
    file: Option<File>,
    offset: u64,
}

impl KeyLogFollower {
    /// Opens the key log at `path`, or waits for it when it does not exist yet.
    fn open(path: &Path) -> io::Result<KeyLogFollower> {
        let mut follower = KeyLogFollower {
            path: path.to_path_buf(),
            file: None,
            offset: 0,
        };
        follower.try_open()?;
        Ok(follower)
    }

    /// Opens the file if it exists now; any failure but its absence is an error.
    fn try_open(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Returns the complete lines added since the last call (none while the file does not
    /// exist).
    fn new_lines(&mut self) -> io::Result<String> {
        self.try_open()?;
        let Some(file) = &self.file else {
            return Ok(String::new());
        };
        let mut file = file;
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0; // truncated and rewritten
        }
        if len == self.offset {
            return Ok(String::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.take(len - self.offset).read_to_end(&mut bytes)?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        self.offset += complete as u64;
        Ok(String::from_utf8_lossy(&bytes[..complete]).into_owned())
    }
}

/// An open live capture.
pub struct LiveSession {
    capture: pcap::Capture<pcap::Active>,
    savefile: Option<pcap::Savefile>,
    analyzer: Analyzer,
    keylogs: Vec<KeyLogFollower>,
    interface: String,
    link_type: LinkType,
    options: LiveOptions,
    /// Final flow reports, kept when [`LiveOptions::keep_flows`] asks for them.
    kept: Vec<crate::report::model::FlowReport>,
    /// True when the interface was libpcap's choice.
    pub default_interface: bool,
}

impl LiveSession {
    /// Opens the interface, the filter, the key logs and, once all of them opened, the `--write`
    /// file (so an error leaves no file behind). Nothing is captured yet. A key log that does not
    /// exist yet is waited for: see [`LiveSession::waiting_key_logs`].
    pub fn open(options: LiveOptions) -> Result<LiveSession, LiveError> {
        let default_interface = options.interface.is_none();
        let interface = match &options.interface {
            Some(name) => name.clone(),
            None => {
                pcap::Device::lookup()
                    .map_err(|source| LiveError::Devices { source })?
                    .ok_or(LiveError::NoDevice)?
                    .name
            }
        };
        let classify = |source: pcap::Error| open_error(&interface, source);
        let capture = pcap::Capture::from_device(interface.as_str())
            .map_err(classify)?
            .snaplen(SNAPLEN)
            .buffer_size(BUFFER_BYTES)
            .timeout(POLL_MS)
            .open()
            .map_err(classify)?;
        let mut capture = capture.setnonblock().map_err(classify)?;
        if !options.filter.is_empty() {
            capture
                .filter(&options.filter, true)
                .map_err(|source| LiveError::Filter {
                    expression: options.filter.clone(),
                    source,
                })?;
        }
        let link_type = LinkType(capture.get_datalink().0 as u32);
        let mut keylogs = Vec::new();
        for path in &options.keylogs {
            let follower = KeyLogFollower::open(path).map_err(|source| LiveError::KeyLogRead {
                path: path.clone(),
                source,
            })?;
            keylogs.push(follower);
        }
        let analyzer = Analyzer::new(AnalyzerOptions {
            include_non_tls: options.include_non_tls,
            memory: options.memory,
            stream: true,
            // Clients log TLS 1.3 handshake secrets only after the ServerHello: wait for them.
            await_keys: !options.keylogs.is_empty(),
            ..AnalyzerOptions::default()
        });
        let mut session = LiveSession {
            capture,
            savefile: None,
            analyzer,
            keylogs,
            interface,
            link_type,
            options,
            kept: Vec::new(),
            default_interface,
        };
        session.analyzer.begin_capture(0);
        session.read_key_logs()?;
        if let Some(path) = &session.options.write {
            let savefile = session
                .capture
                .savefile(path)
                .map_err(|source| LiveError::Write {
                    path: path.clone(),
                    source,
                })?;
            session.savefile = Some(savefile);
        }
        Ok(session)
    }

    /// True when the final flow reports are kept for the report ([`LiveOptions::keep_flows`]).
    pub fn keeps_flows(&self) -> bool {
        self.options.keep_flows
    }

    /// The interface captured on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The key logs that do not exist yet: they are checked for again every half second.
    pub fn waiting_key_logs(&self) -> Vec<&Path> {
        self.keylogs
            .iter()
            .filter(|k| k.file.is_none())
            .map(|k| k.path.as_path())
            .collect()
    }

    /// Gives up a session that failed before capturing (the caller could not open its output,
    /// or drop privileges): the `--write` file it created is removed.
    pub fn abandon(mut self) {
        if self.savefile.take().is_some()
            && let Some(path) = &self.options.write
        {
            let _ = std::fs::remove_file(path);
        }
    }

    fn read_key_logs(&mut self) -> Result<(), LiveError> {
        for follower in &mut self.keylogs {
            let text = follower
                .new_lines()
                .map_err(|source| LiveError::KeyLogRead {
                    path: follower.path.clone(),
                    source,
                })?;
            if !text.is_empty() {
                self.analyzer
                    .add_key_log(&text)
                    .map_err(|source| LiveError::KeyLogFormat {
                        path: follower.path.clone(),
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Captures until `stop` is set, `--count` packets were seen or `--duration` passed.
    /// Each flow is handed to `on_flow` as its verdict becomes final, and again as a correction
    /// when its conclusion changed by the time it left the flow table; `on_progress` learns
    /// (packets, flows, handshakes reported) about once a second. Returns the whole report,
    /// corrections applied.
    pub fn run(
        self,
        stop: &AtomicBool,
        on_flow: &mut dyn FnMut(&Streamed) -> io::Result<()>,
        on_progress: &mut dyn FnMut(u64, usize, usize),
    ) -> Result<Report, LiveError> {
        self.run_with_finals(stop, on_flow, &mut |_| {}, on_progress)
    }

    /// [`LiveSession::run`] that also hands each flow's final report (corrections applied) to
    /// `on_final` as it leaves the flow table, unless [`LiveOptions::keep_flows`] keeps them
    /// for the report: what a filtered or redacted summary is tallied from without keeping
    /// the flows.
    pub fn run_with_finals(
        mut self,
        stop: &AtomicBool,
        on_flow: &mut dyn FnMut(&Streamed) -> io::Result<()>,
        on_final: &mut dyn FnMut(Box<FlowReport>),
        on_progress: &mut dyn FnMut(u64, usize, usize),
    ) -> Result<Report, LiveError> {
        let started = Instant::now();
        let mut last_housekeeping = Instant::now();
        let mut last_progress = Instant::now();
        let mut summary = CaptureSummary {
            format: CaptureFormat::Live,
            link_types: vec![self.link_type],
            snaplen: SNAPLEN as u32,
            packets: 0,
            bytes: 0,
            first_time: None,
            last_time: None,
            warnings: Vec::new(),
            statistics: None,
            filter: None,
        };
        // When capturing ends: at once once `--count` packets were read, else after the last
        // block the kernel holds.
        let mut last_block: Option<Instant> = None;
        loop {
            if self.options.count.is_some_and(|n| summary.packets >= n)
                || last_block.is_some_and(|end| Instant::now() >= end)
            {
                break;
            }
            if last_block.is_none()
                && (stop.load(Ordering::SeqCst)
                    || self
                        .options
                        .duration
                        .is_some_and(|d| started.elapsed() >= d))
            {
                last_block = Some(Instant::now() + LAST_BLOCK);
            }
            self.wait_for_packets();
            let failed = self.read_available(&mut summary);
            self.hand_out_ready(on_flow, on_final)?;
            if failed {
                break;
            }
            if last_housekeeping.elapsed() >= HOUSEKEEPING {
                last_housekeeping = Instant::now();
                self.read_key_logs()?;
                self.analyzer.tick(wall_clock());
                if let Some(savefile) = &mut self.savefile {
                    let _ = savefile.flush();
                }
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                on_progress(
                    summary.packets,
                    self.analyzer.active_flows() + self.analyzer.finished_flows(),
                    self.analyzer.finished_flows(),
                );
            }
        }
        self.finish(summary, on_flow, on_final)
    }

    /// Waits (at most [`POLL_MS`]) until the capture has packets to read.
    fn wait_for_packets(&self) {
        let mut poll = libc::pollfd {
            fd: self.capture.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        unsafe { libc::poll(&mut poll, 1, POLL_MS) };
    }

    /// Analyses the packets libpcap has ready (up to `--count`). Returns true when reading
    /// failed: the failure is a warning of the capture, and capturing ends.
    fn read_available(&mut self, summary: &mut CaptureSummary) -> bool {
        loop {
            if self.options.count.is_some_and(|n| summary.packets >= n) {
                return false;
            }
            match self.capture.next_packet() {
                Ok(packet) => {
                    summary.packets += 1;
                    summary.bytes += packet.data.len() as u64;
                    let timestamp = Timestamp::from_parts(
                        packet.header.ts.tv_sec,
                        packet.header.ts.tv_usec.max(0) as u64,
                        1_000_000,
                    );
                    summary.first_time.get_or_insert(timestamp);
                    summary.last_time = Some(timestamp);
                    if let Some(savefile) = &mut self.savefile {
                        savefile.write(&packet);
                    }
                    let frame = Frame {
                        number: summary.packets,
                        timestamp,
                        link_type: self.link_type,
                        data: packet.data,
                        original_len: packet.header.len,
                    };
                    self.analyzer.frame(&frame);
                }
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => return false,
                Err(e) => {
                    summary
                        .warnings
                        .push(crate::capture::CaptureWarning::Corrupt {
                            last_good_frame: summary.packets,
                            reason: e.to_string(),
                        });
                    return true;
                }
            }
        }
    }

    /// Hands the flows whose verdict became final, and the corrections, to `on_flow`.
    fn hand_out_ready(
        &mut self,
        on_flow: &mut dyn FnMut(&Streamed) -> io::Result<()>,
        on_final: &mut dyn FnMut(Box<FlowReport>),
    ) -> Result<(), LiveError> {
        for streamed in self.analyzer.take_ready() {
            on_flow(&streamed).map_err(|source| LiveError::Output { source })?;
        }
        // Final reports: counted by the analyzer's tallies either way.
        let finals = self.analyzer.take_flows();
        if self.options.keep_flows {
            self.kept.extend(finals.into_iter().map(|f| *f));
        } else {
            finals.into_iter().for_each(on_final);
        }
        Ok(())
    }

    /// Ends the capture: open flows are reported as stopped, libpcap's drop counters join the
    /// capture's report.
    fn finish(
        mut self,
        summary: CaptureSummary,
        on_flow: &mut dyn FnMut(&Streamed) -> io::Result<()>,
        on_final: &mut dyn FnMut(Box<FlowReport>),
    ) -> Result<Report, LiveError> {
        if let Some(savefile) = &mut self.savefile {
            let _ = savefile.flush();
        }
        let statistics = self.capture.stats().ok().map(|s| CaptureStatistics {
            received: Some(u64::from(s.received)),
            dropped: Some(u64::from(s.dropped)),
            interface_dropped: Some(u64::from(s.if_dropped)),
        });
        // Flows still open are judged knowing the drops (those already gone were not).
        if let Some(stats) = &statistics {
            self.analyzer.note_capture_drops(stats.total_dropped());
        }
        let mut capture_report = self.analyzer.stop_capture(&self.interface, &summary);
        capture_report
            .warnings
            .extend(statistics.as_ref().and_then(build::capture_drops_warning));
        capture_report.statistics = statistics;
        self.hand_out_ready(on_flow, on_final)?;
        let mut report = self.analyzer.into_report(vec![capture_report]);
        report.flows = std::mem::take(&mut self.kept);
        Ok(report)
    }
}

/// Now, as a capture timestamp.
fn wall_clock() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_parts(
        now.as_secs() as i64,
        u64::from(now.subsec_nanos()),
        1_000_000_000,
    )
}
