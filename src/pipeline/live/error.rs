//! Why live capture could not start or go on, each failure with its cause.

use crate::capture::IoCause;
use crate::tls::keylog::KeyLogError;
use std::fmt;
#[cfg(not(target_os = "linux"))]
use std::fs::File;
use std::io;
use std::path::PathBuf;

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
                write!(f, "key log {}: {}", path.display(), IoCause(source))
            }
            LiveError::KeyLogFormat { path, source } => {
                write!(f, "key log {}: {source}", path.display())
            }
            LiveError::Output { source } => {
                write!(
                    f,
                    "capture failed: writing the report failed: {}",
                    IoCause(source)
                )
            }
            LiveError::NoUnprivilegedUser => write!(f, "cannot drop privileges: no user 'nobody'"),
            LiveError::Privileges { call, source } => {
                write!(f, "cannot drop privileges: {call}: {}", IoCause(source))
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
pub(super) fn open_error(interface: &str, source: pcap::Error) -> LiveError {
    let refused = may_capture().is_err_and(|e| e.kind() == io::ErrorKind::PermissionDenied);
    let interface = interface.to_string();
    if refused {
        LiveError::Permission { interface, source }
    } else {
        LiveError::Open { interface, source }
    }
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
