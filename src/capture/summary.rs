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
    /// The first bytes are a compressor's magic number: a compressed capture, to decompress first.
    Compressed(Compression),
    /// The input starts with a pcap or pcapng magic number and ends inside the file header
    /// (pcap) or the section header block (pcapng): no packet can follow.
    TruncatedHeader {
        /// The container the magic number names.
        format: CaptureFormat,
        /// Bytes in the input.
        bytes: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// Reading the input failed.
    Io(io::Error),
    /// The capture filter cannot be compiled for a link type of the capture.
    Filter(super::filter::FilterError),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Empty => write!(f, "the file is empty: not a pcap or pcapng file"),
            CaptureError::NotACapture => write!(
                f,
                "not a pcap or pcapng file (no pcap magic number or pcapng section header at the start)"
            ),
            // The file driver decompresses gzip, zstd and xz before this reader sees them.
            CaptureError::Compressed(c) if c.is_read() => write!(
                f,
                "{}-compressed, not a pcap or pcapng file itself: decompress it first (e.g. `{} FILE | alpnscope analyze -`)",
                c.name(),
                c.decompressor()
            ),
            CaptureError::Compressed(c) => write!(
                f,
                "{}-compressed: alpnscope reads gzip, zstd and xz captures but not {}; decompress it first (e.g. `{} FILE | alpnscope -`)",
                c.name(),
                c.name(),
                c.decompressor()
            ),
            CaptureError::TruncatedHeader {
                format,
                bytes,
                needed,
            } => write!(
                f,
                "truncated header: a {} file cut off after {bytes} of the {needed} bytes of its {}, \
                 so it holds no packets",
                format.name(),
                if *format == CaptureFormat::Pcapng {
                    "section header block"
                } else {
                    "file header"
                }
            ),
            CaptureError::Io(e) => write!(f, "read failed: {}", IoCause(e)),
            CaptureError::Filter(e) => write!(f, "filter: {e}"),
        }
    }
}

/// A compressor recognised by its magic number: gzip, zstd and xz are read directly
/// ([`super::decompressing`]); bzip2 and LZ4 are named, to decompress first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (RFC 1952), as zeek's and others' test traces ship.
    Gzip,
    /// xz.
    Xz,
    /// Zstandard (RFC 8878).
    Zstd,
    /// bzip2.
    Bzip2,
    /// LZ4 frame format.
    Lz4,
}

impl Compression {
    /// The compressor whose magic number `head` starts with.
    pub fn of(head: &[u8]) -> Option<Compression> {
        const MAGIC: [(&[u8], Compression); 5] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (b"BZh", Compression::Bzip2),
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4),
        ];
        MAGIC
            .iter()
            .find(|(magic, _)| head.starts_with(magic))
            .map(|(_, c)| *c)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Lz4 => "lz4",
        }
    }

    /// True when alpnscope decompresses it while reading.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Compression::Gzip | Compression::Zstd | Compression::Xz
        )
    }

    /// The command that writes its content to standard output.
    pub fn decompressor(self) -> &'static str {
        match self {
            Compression::Gzip => "zcat",
            Compression::Xz => "xzcat",
            Compression::Zstd => "zstdcat",
            Compression::Bzip2 => "bzcat",
            Compression::Lz4 => "lz4cat",
        }
    }
}

/// The error for a start that is no capture: a capture cut off inside its header (when the
/// input is known to end after `total` bytes, fewer than its header needs), a compressed file
/// named as such, else [`CaptureError::NotACapture`]. `head`: the input's first bytes.
pub fn not_a_capture(head: &[u8], total: Option<usize>) -> CaptureError {
    if let Some(total) = total
        && let Some((format, needed)) = header_size(head)
        && total < needed
    {
        return CaptureError::TruncatedHeader {
            format,
            bytes: total,
            needed,
        };
    }
    Compression::of(head).map_or(CaptureError::NotACapture, CaptureError::Compressed)
}

/// The container a pcap or pcapng magic number at the start of `head` names, and the size of
/// its header: 24 bytes for pcap, the section header block's length for pcapng (28 at least).
fn header_size(head: &[u8]) -> Option<(CaptureFormat, usize)> {
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    match u32::from_le_bytes(magic) {
        // 0xa1b2cd34: the "modified" pcap (24-byte file header too).
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_cd34 => Some((CaptureFormat::Pcap, 24)),
        0xa1b2_3c4d | 0x4d3c_b2a1 => Some((CaptureFormat::PcapNanosecond, 24)),
        0x0a0d_0d0a => {
            // The block length follows in the byte order the magic after it names.
            let declared = match (head.get(4..8), head.get(8..12)) {
                (Some(len), Some([0x4d, 0x3c, 0x2b, 0x1a])) => {
                    len.try_into().ok().map(u32::from_le_bytes)
                }
                (Some(len), Some([0x1a, 0x2b, 0x3c, 0x4d])) => {
                    len.try_into().ok().map(u32::from_be_bytes)
                }
                _ => None,
            };
            let needed = declared
                .and_then(|d| usize::try_from(d).ok())
                .map_or(28, |d| d.max(28));
            Some((CaptureFormat::Pcapng, needed))
        }
        _ => None,
    }
}

/// An I/O error in words, without the raw `(os error N)` the standard library appends:
/// "no such file", "permission denied", …
pub struct IoCause<'a>(pub &'a io::Error);

impl fmt::Display for IoCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use io::ErrorKind as K;
        let words = match self.0.kind() {
            K::NotFound => "no such file or directory",
            K::PermissionDenied => "permission denied",
            K::IsADirectory => "it is a directory",
            K::NotADirectory => "a part of the path is not a directory",
            K::AlreadyExists => "it already exists",
            K::ReadOnlyFilesystem => "read-only file system",
            K::StorageFull => "no space left on the device",
            K::BrokenPipe => "the reader closed the pipe",
            K::UnexpectedEof => "the input ended early",
            _ => {
                // Other errors: the system's words, without the number, lower-case as ours.
                let text = self.0.to_string();
                return match text.rfind(" (os error ") {
                    Some(at) if text.ends_with(')') => {
                        let words = &text[..at];
                        let mut chars = words.chars();
                        match chars.next() {
                            Some(first) => {
                                write!(f, "{}{}", first.to_lowercase(), chars.as_str())
                            }
                            None => Ok(()),
                        }
                    }
                    _ => f.write_str(&text),
                };
            }
        };
        f.write_str(words)
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            CaptureError::Filter(e) => Some(e),
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
    /// Reading stopped after the number of packets asked for (`-c`, as tcpdump does).
    CountReached {
        /// Packets read.
        packets: u64,
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
            CaptureWarning::CountReached { packets } => write!(
                f,
                "reading stopped after frame {packets}, as -c/--count asked: flows are reported up to that frame"
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
    /// The capturer's own counters, from pcapng Interface Statistics Blocks (`None` when the
    /// file has none, as pcap files never do).
    pub statistics: Option<CaptureCounters>,
    /// The capture filter's counts, when one was applied.
    pub filter: Option<super::filter::FilterCounts>,
}

/// What the capturing software counted on its interfaces: pcapng Interface Statistics Block
/// options, the last block of each interface (they are cumulative), summed over the interfaces
/// of the file. A counter no block records stays `None`: the file does not say, which is not 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    /// `isb_ifrecv`: packets the interface received.
    pub received: Option<u64>,
    /// `isb_ifdrop`: packets dropped by the interface for lack of resources (dumpcap records
    /// libpcap's buffer drops here).
    pub interface_dropped: Option<u64>,
    /// `isb_osdrop`: packets dropped by the operating system.
    pub os_dropped: Option<u64>,
}

impl CaptureCounters {
    /// Packets the capture itself dropped, as far as the counters say (interface and OS).
    pub fn dropped(&self) -> u64 {
        self.interface_dropped
            .unwrap_or(0)
            .saturating_add(self.os_dropped.unwrap_or(0))
    }

    /// Adds another interface's counters; a counter stays `None` only when neither records it.
    pub fn add(&mut self, other: &CaptureCounters) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        self.received = sum(self.received, other.received);
        self.interface_dropped = sum(self.interface_dropped, other.interface_dropped);
        self.os_dropped = sum(self.os_dropped, other.os_dropped);
    }
}

impl CaptureSummary {
    /// True when the whole file was read.
    pub fn complete(&self) -> bool {
        !self.warnings.iter().any(|w| {
            matches!(
                w,
                CaptureWarning::Truncated { .. }
                    | CaptureWarning::Corrupt { .. }
                    | CaptureWarning::CountReached { .. }
            )
        })
    }
}
