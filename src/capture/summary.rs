//! What reading a capture reports besides its frames: the container format, the fatal
//! [`CaptureError`]s, the [`CaptureWarning`]s that end a read early, and the [`CaptureSummary`].
//!
//! Plain data and its wording: nothing here reads input, so nothing here can panic, and nothing
//! grows except the warnings the readers add.

use super::{LinkType, Timestamp};
use std::fmt;
use std::io;

/// The container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// libpcap format with microsecond timestamps.
    Pcap,
    /// libpcap format with nanosecond timestamps.
    PcapNanosecond,
    /// pcapng.
    Pcapng,
    /// A live interface.
    Live,
}

impl CaptureFormat {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNanosecond => "pcap-ns",
            CaptureFormat::Pcapng => "pcapng",
            CaptureFormat::Live => "live",
        }
    }
}

/// A fatal problem: the input cannot be read as a capture at all.
#[derive(Debug)]
pub enum CaptureError {
    /// The input holds no bytes.
    Empty,
    /// The first bytes are neither a pcap header nor a pcapng section header.
    NotACapture,
    /// Reading the input failed.
    Io(io::Error),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Empty => write!(f, "the file is empty: not a pcap or pcapng file"),
            CaptureError::NotACapture => write!(
                f,
                "not a pcap or pcapng file (no pcap magic number or pcapng section header at the start)"
            ),
            CaptureError::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Something wrong with the file that did not stop the analysis of what came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureWarning {
    /// The file ends in the middle of a block.
    Truncated {
        /// Last frame read completely (0 when none).
        last_good_frame: u64,
    },
    /// A block could not be parsed; nothing after it can be read.
    Corrupt {
        /// Last frame read completely (0 when none).
        last_good_frame: u64,
        /// What was wrong.
        reason: String,
    },
    /// A pcapng packet names an interface that was never described.
    UnknownInterface {
        /// The frame.
        frame: u64,
        /// The interface id it named.
        interface: u32,
    },
}

impl fmt::Display for CaptureWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureWarning::Truncated { last_good_frame } => write!(
                f,
                "capture cut off mid-packet after frame {last_good_frame}: flows are reported up to that frame"
            ),
            CaptureWarning::Corrupt {
                last_good_frame,
                reason,
            } => write!(
                f,
                "capture corrupt after frame {last_good_frame} ({reason}): the rest of the file was not read"
            ),
            CaptureWarning::UnknownInterface { frame, interface } => write!(
                f,
                "frame {frame} names interface {interface}, which the file never describes: skipped"
            ),
        }
    }
}

/// What the reader saw of the whole capture.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    /// Container format.
    pub format: CaptureFormat,
    /// Distinct link types of the interfaces, in order of appearance.
    pub link_types: Vec<LinkType>,
    /// Largest snaplen declared by the file.
    pub snaplen: u32,
    /// Number of packet blocks.
    pub packets: u64,
    /// Captured bytes in packet blocks.
    pub bytes: u64,
    /// Time of the first packet.
    pub first_time: Option<Timestamp>,
    /// Time of the last packet.
    pub last_time: Option<Timestamp>,
    /// Problems with the file itself.
    pub warnings: Vec<CaptureWarning>,
}

impl CaptureSummary {
    /// True when the whole file was read.
    pub fn complete(&self) -> bool {
        !self.warnings.iter().any(|w| {
            matches!(
                w,
                CaptureWarning::Truncated { .. } | CaptureWarning::Corrupt { .. }
            )
        })
    }
}
