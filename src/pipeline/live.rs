//! Live capture (feature `live`): frames from a network interface through libpcap, into the same
//! pipeline as files, with each flow reported as soon as its verdict is final.
//!
//! The handle is opened in immediate mode with a full snaplen and a 16 MiB kernel buffer, and read
//! non-blocking behind `poll(2)` with a 100 ms timeout, so an idle link never delays stopping (a
//! plain libpcap read timeout does not fire on an idle Linux link). Key logs given with `--keylog`
//! are re-read as clients append to them. Privileges are dropped, as tcpdump does, before the
//! first packet is parsed.

use crate::capture::{CaptureFormat, CaptureSummary, Frame, LinkType, Timestamp};
use crate::pipeline::{Analyzer, AnalyzerOptions};
use crate::report::model::{CaptureStatistics, FlowReport, Report};
use crate::tls::keylog::KeyLogError;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Snapshot length: whole packets.
const SNAPLEN: i32 = 262_144;
/// Kernel capture buffer.
const BUFFER_BYTES: i32 = 16 << 20;
/// Longest wait for packets before checking the stop conditions.
const POLL_MS: i32 = 100;
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
}

/// Why live capture could not start or go on. Each variant keeps its cause
/// ([`std::error::Error::source`]).
#[derive(Debug)]
pub enum LiveError {
    /// libpcap found no interface to capture on.
    NoDevice,
    /// libpcap could not list or look up the interfaces.
    Devices {
        /// libpcap's error.
        source: pcap::Error,
    },
    /// The process may not capture (the kernel refused a capture socket).
    Permission {
        /// Interface.
        interface: String,
        /// libpcap's error.
        source: pcap::Error,
    },
    /// The interface could not be opened (does not exist, down…).
    Open {
        /// Interface.
        interface: String,
        /// libpcap's error.
        source: pcap::Error,
    },
    /// The BPF expression does not compile.
    Filter {
        /// The expression.
        expression: String,
        /// libpcap's error.
        source: pcap::Error,
    },
    /// The `--write` file could not be created.
    Write {
        /// Path.
        path: PathBuf,
        /// libpcap's error.
        source: pcap::Error,
    },
    /// A key log could not be opened or read.
    KeyLogRead {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// A key log is not in NSS key log format.
    KeyLogFormat {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: KeyLogError,
    },
    /// Writing a flow's report failed (a closed pipe among others: see [`LiveError::is_broken_pipe`]).
    Output {
        /// Cause.
        source: io::Error,
    },
    /// No user to drop root privileges to.
    NoUnprivilegedUser,
    /// Privileges could not be dropped.
    Privileges {
        /// The call that failed (setgroups, setgid, setuid).
        call: &'static str,
        /// Cause.
        source: io::Error,
    },
}

impl LiveError {
    /// True when the report's reader went away (`alpnscope live … | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, LiveError::Output { source } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::NoDevice => write!(
                f,
                "no interface to capture on; name one with -i (see alpnscope interfaces)"
            ),
            LiveError::Devices { source } => write!(f, "capture failed: {source}"),
            LiveError::Permission { interface, source } => write!(
                f,
                "no permission to capture on {interface} ({source}); run with sudo, or give the binary the capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v alpnscope)\""
            ),
            LiveError::Open { interface, source } => write!(
                f,
                "cannot capture on {interface}: {source} (alpnscope interfaces lists the interfaces)"
            ),
            LiveError::Filter { expression, source } => {
                write!(f, "bad capture filter '{expression}': {source}")
            }
            LiveError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            LiveError::KeyLogRead { path, source } => {
                write!(f, "key log {}: {source}", path.display())
            }
            LiveError::KeyLogFormat { path, source } => {
                write!(f, "key log {}: {source}", path.display())
            }
            LiveError::Output { source } => {
                write!(f, "capture failed: writing the report failed: {source}")
            }
            LiveError::NoUnprivilegedUser => write!(f, "cannot drop privileges: no user 'nobody'"),
            LiveError::Privileges { call, source } => {
                write!(f, "cannot drop privileges: {call}: {source}")
            }
        }
    }
}

impl std::error::Error for LiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LiveError::NoDevice | LiveError::NoUnprivilegedUser => None,
            LiveError::Devices { source }
            | LiveError::Permission { source, .. }
            | LiveError::Open { source, .. }
            | LiveError::Filter { source, .. }
            | LiveError::Write { source, .. } => Some(source),
            LiveError::KeyLogRead { source, .. }
            | LiveError::Output { source }
            | LiveError::Privileges { source, .. } => Some(source),
            LiveError::KeyLogFormat { source, .. } => Some(source),
        }
    }
}

/// Asks the kernel for a capture socket, as libpcap does, to tell a refusal apart from other
/// failures by its error kind (libpcap reports both as text).
#[cfg(target_os = "linux")]
fn may_capture() -> io::Result<()> {
    // SAFETY: a plain system call; the descriptor is closed at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor this function owns.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Opens the BPF clone device, as libpcap does on BSD and macOS.
#[cfg(not(target_os = "linux"))]
fn may_capture() -> io::Result<()> {
    File::open("/dev/bpf").map(drop)
}

/// A libpcap failure to open `interface`: a permission problem when the kernel refuses this
/// process a capture socket, else any other failure to open.
fn open_error(interface: &str, source: pcap::Error) -> LiveError {
    let refused = may_capture().is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied);
    let interface = interface.to_string();
    if refused {
        LiveError::Permission { interface, source }
    } else {
        LiveError::Open { interface, source }
    }
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

/// Follows a key log that clients append to.
struct KeyLogFollower {
    path: PathBuf,
    file: File,
    offset: u64,
}

impl KeyLogFollower {
    /// Returns the complete lines added since the last call.
    fn new_lines(&mut self) -> io::Result<String> {
        let len = self.file.metadata()?.len();
        if len < self.offset {
            self.offset = 0; // truncated and rewritten
        }
        if len == self.offset {
            return Ok(String::new());
        }
        self.file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        (&self.file)
            .take(len - self.offset)
            .read_to_end(&mut bytes)?;
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
    /// True when the interface was libpcap's choice.
    pub default_interface: bool,
}

impl LiveSession {
    /// Opens the interface, the filter, the `--write` file and the key logs. Nothing is read yet.
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
            .immediate_mode(true)
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
        let savefile = match &options.write {
            Some(path) => Some(capture.savefile(path).map_err(|source| LiveError::Write {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let mut keylogs = Vec::new();
        for path in &options.keylogs {
            let file = File::open(path).map_err(|source| LiveError::KeyLogRead {
                path: path.clone(),
                source,
            })?;
            keylogs.push(KeyLogFollower {
                path: path.clone(),
                file,
                offset: 0,
            });
        }
        let analyzer = Analyzer::new(AnalyzerOptions {
            include_non_tls: options.include_non_tls,
            stream: true,
            // Clients log TLS 1.3 handshake secrets only after the ServerHello: wait for them.
            await_keys: !options.keylogs.is_empty(),
            ..AnalyzerOptions::default()
        });
        let mut session = LiveSession {
            capture,
            savefile,
            analyzer,
            keylogs,
            interface,
            link_type,
            options,
            default_interface,
        };
        session.analyzer.begin_capture(0);
        session.read_key_logs()?;
        Ok(session)
    }

    /// The interface captured on.
    pub fn interface(&self) -> &str {
        &self.interface
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
    /// Each flow is handed to `on_flow` as its verdict becomes final; `on_progress` learns
    /// (packets, flows, handshakes reported) about once a second. Returns the whole report.
    pub fn run(
        mut self,
        stop: &AtomicBool,
        on_flow: &mut dyn FnMut(&FlowReport) -> io::Result<()>,
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
        };
        let write_error = |source: io::Error| LiveError::Output { source };
        'capture: loop {
            if stop.load(Ordering::SeqCst)
                || self.options.count.is_some_and(|n| summary.packets >= n)
                || self
                    .options
                    .duration
                    .is_some_and(|d| started.elapsed() >= d)
            {
                break;
            }
            let mut poll = libc::pollfd {
                fd: self.capture.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            unsafe { libc::poll(&mut poll, 1, POLL_MS) };
            loop {
                if self.options.count.is_some_and(|n| summary.packets >= n) {
                    break;
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
                    Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => break,
                    Err(e) => {
                        summary
                            .warnings
                            .push(crate::capture::CaptureWarning::Corrupt {
                                last_good_frame: summary.packets,
                                reason: e.to_string(),
                            });
                        break 'capture;
                    }
                }
            }
            for flow in self.analyzer.take_ready() {
                on_flow(&flow).map_err(write_error)?;
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
        if let Some(savefile) = &mut self.savefile {
            let _ = savefile.flush();
        }
        let statistics = self.capture.stats().ok().map(|s| CaptureStatistics {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            interface_dropped: u64::from(s.if_dropped),
        });
        let mut capture_report = self.analyzer.stop_capture(&self.interface, &summary);
        if let Some(stats) = &statistics
            && stats.dropped + stats.interface_dropped > 0
        {
            capture_report.warnings.push(format!(
                "the capture itself dropped {} packets (kernel {}, interface {}): loss figures may include these capture drops",
                stats.dropped + stats.interface_dropped,
                stats.dropped,
                stats.interface_dropped
            ));
        }
        capture_report.statistics = statistics;
        for flow in self.analyzer.take_ready() {
            on_flow(&flow).map_err(write_error)?;
        }
        Ok(self.analyzer.into_report(vec![capture_report]))
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

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that ask the capture to stop; returns the flag.
pub fn stop_on_signals() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &STOP
}

/// Who the process became after dropping root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedTo {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// When running as root, becomes the invoking user (SUDO_UID/SUDO_GID) or `nobody`, as tcpdump
/// does. Returns `None` when not root.
pub fn drop_privileges() -> Result<Option<DroppedTo>, LiveError> {
    // SAFETY: plain system calls without pointers.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let (uid, gid) = match (from_env("SUDO_UID"), from_env("SUDO_GID")) {
        (Some(uid), Some(gid)) if uid != 0 => (uid, gid),
        _ => {
            // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
            let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
            if pw.is_null() {
                return Err(LiveError::NoUnprivilegedUser);
            }
            // SAFETY: non-null result of getpwnam.
            unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
        }
    };
    let fail = |call: &'static str| LiveError::Privileges {
        call,
        source: io::Error::last_os_error(),
    };
    // SAFETY: plain system calls; order matters (groups and gid before uid).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("setgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail("setuid"));
        }
    }
    Ok(Some(DroppedTo { uid, gid }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn errors_keep_their_cause() {
        let filter = LiveError::Filter {
            expression: "tcp port nonsense".into(),
            source: pcap::Error::PcapError("syntax error".into()),
        };
        assert!(filter.source().is_some());
        assert!(!filter.is_broken_pipe());
        let pipe = LiveError::Output {
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        };
        assert!(pipe.is_broken_pipe());
        let source = pipe.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::BrokenPipe));
        let privileges = LiveError::Privileges {
            call: "setuid",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(
            privileges
                .to_string()
                .starts_with("cannot drop privileges: setuid: ")
        );
    }
}
