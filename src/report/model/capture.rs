//! What was read from each capture: the file, its packets and times, how the frames decoded, and
//! the capturer's own drop counters.

use serde::Serialize;

/// What was read from one capture.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CaptureReport {
    /// Path as given (`-` for stdin).
    pub path: String,
    /// "pcap", "pcap-ns" or "pcapng".
    pub format: String,
    /// Link types, e.g. "ETHERNET (1)".
    pub link_types: Vec<String>,
    /// Largest snaplen declared.
    pub snaplen: u32,
    /// Packet blocks read.
    pub packets: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// The compression the file was read through: "gzip", "zstd" or "xz" (null when it was not
    /// compressed). `size` and `sha256` are those of the compressed file.
    pub compression: Option<String>,
    /// File size in bytes (null for stdin).
    pub size: Option<u64>,
    /// SHA-256 of the file (Markdown reports only; null otherwise).
    pub sha256: Option<String>,
    /// First packet time (RFC 3339).
    pub first_time: Option<String>,
    /// Last packet time (RFC 3339).
    pub last_time: Option<String>,
    /// False when the file was cut off or corrupt.
    pub complete: bool,
    /// Problems with the file and frames that could not be decoded.
    pub warnings: Vec<String>,
    /// How the frames decoded.
    pub decode: DecodeCounts,
    /// The capture's own counters: libpcap's statistics of a live capture, or a pcapng file's
    /// Interface Statistics Blocks (null for pcap files and pcapng files without them).
    pub statistics: Option<CaptureStatistics>,
    /// The memory budget for flow state, and what alpnscope shed to stay within it.
    pub memory: MemoryUse,
    /// The capture filter (`alpnscope FILE EXPR`, `-f EXPR`) and the frames it passed and
    /// dropped (absent when none was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<CaptureFilter>,
    /// The files this capture merges (`--merge`), in command-line order; null when the capture
    /// is one file. The merged capture's frames are numbered as in `mergecap -w merged.pcapng
    /// FILE…`.
    pub merged: Option<Vec<MergedFile>>,
}

/// One file of a merged capture (`--merge`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MergedFile {
    /// Path as given (`-` for stdin).
    pub path: String,
    /// "pcap", "pcap-ns" or "pcapng".
    pub format: String,
    /// The compression the file was read through ("gzip", "zstd", "xz"), or null.
    pub compression: Option<String>,
    /// File size in bytes (null for stdin).
    pub size: Option<u64>,
    /// SHA-256 of the file (Markdown reports only; null otherwise).
    pub sha256: Option<String>,
    /// Packet blocks read from the file.
    pub packets: u64,
    /// Of those, the packets merged (fewer when `-c` stopped the merge first).
    pub merged_packets: u64,
    /// Of the merged packets, those that repeat a packet another file captured first (the same
    /// IP packet but for TTL or hop limit, within 2 s: one packet captured at two points of its
    /// path). They keep their frame numbers but are not analysed twice.
    pub copies: u64,
    /// First packet time (RFC 3339).
    pub first_time: Option<String>,
    /// Last packet time (RFC 3339).
    pub last_time: Option<String>,
    /// False when the file was cut off or corrupt.
    pub complete: bool,
}

/// A capture filter applied to the frames of one capture, as `tcpdump -r FILE EXPR` applies
/// it; frame numbers elsewhere in the report stay the file's.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct CaptureFilter {
    /// The expression, tcpdump syntax.
    pub expression: String,
    /// Frames it passed (analysed).
    pub matched: u64,
    /// Frames it dropped (not analysed).
    pub dropped: u64,
}

/// The memory budget for flow state (`--memory`) while reading one capture, and what was shed
/// to stay within it, in the order it is shed. Each affected flow says so in its notes or its
/// verdict.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct MemoryUse {
    /// The budget in bytes.
    pub budget: u64,
    /// Most bytes of flow state held at once (alpnscope's estimate).
    pub peak: u64,
    /// Closed flows (RST, or both FINs) finished before their 10 s linger was over: their
    /// verdicts were final, so nothing is lost but the absorption of stray retransmissions.
    pub closed_flows: u64,
    /// Flows past their handshake whose buffers were released: alpnscope read no more of them.
    pub stopped_reading_flows: u64,
    /// Bytes released from those flows.
    pub stopped_reading_bytes: u64,
    /// Flows whose out-of-order data stopped waiting behind a hole (the hole became a gap
    /// that alpnscope declared, and the data after it was read).
    pub out_of_order_flows: u64,
    /// Out-of-order bytes that were waiting.
    pub out_of_order_bytes: u64,
    /// Flows without a complete handshake closed early (reported `incomplete`, "closed early").
    pub evicted_flows: u64,
    /// Bytes those flows held.
    pub evicted_bytes: u64,
    /// Packets of new connections left out (not analysed, also counted in
    /// `decode.flows_not_tracked`) because flows whose handshake had completed filled the
    /// budget: nothing was left to shed. Raise `--memory` to analyse them.
    pub refused_packets: u64,
}

/// The capturer's own counters. Live, all three are libpcap's; a pcapng file fills those its
/// Interface Statistics Blocks record (the last block of each interface, summed over the
/// interfaces) and leaves the others null: `received` from `isb_ifrecv`, `dropped` from
/// `isb_osdrop`, `interface_dropped` from `isb_ifdrop` (where dumpcap puts libpcap's drops).
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct CaptureStatistics {
    /// Packets received for the capture (live: by the kernel; file: `isb_ifrecv`).
    pub received: Option<u64>,
    /// Dropped by the operating system for lack of buffer space (live: the capture too slow;
    /// file: `isb_osdrop`).
    pub dropped: Option<u64>,
    /// Dropped by the interface or its driver (file: `isb_ifdrop`).
    pub interface_dropped: Option<u64>,
}

impl CaptureStatistics {
    /// Packets the capture itself dropped (OS and interface).
    pub fn total_dropped(&self) -> u64 {
        self.dropped
            .unwrap_or(0)
            .saturating_add(self.interface_dropped.unwrap_or(0))
    }
}

/// Frames by decoding outcome.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams read as QUIC: long-header packets of a known version, and the later
    /// datagrams of their connections.
    pub quic: u64,
    /// IP but not TCP.
    pub other_ip: u64,
    /// Not IP.
    pub not_ip: u64,
    /// IP fragments.
    pub fragments: u64,
    /// Datagrams reassembled from fragments.
    pub datagrams_reassembled: u64,
    /// Fragmented datagrams that could not be reassembled.
    pub datagrams_incomplete: u64,
    /// Malformed frames (lying lengths, bad headers), skipped.
    pub malformed: u64,
    /// Frames cut by the snaplen inside the headers.
    pub truncated_headers: u64,
    /// Frames whose payload the snaplen cut.
    pub truncated_payload: u64,
    /// Frames of an unsupported link type.
    pub unsupported_link: u64,
    /// Packets of new flows left out because the flow table was full.
    pub flows_not_tracked: u64,
    /// DNS messages read: UDP datagrams to or from port 53 (queries and responses; counted in
    /// `other_ip` too) and messages of TCP streams from port 53 (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub dns_messages: u64,
    /// Messages that did not parse as DNS, and DNS-over-TCP segments not read (a gap, a cut
    /// segment, a stream begun before the capture, too many streams at once) (absent when
    /// none).
    #[serde(skip_serializing_if = "is_zero")]
    pub dns_malformed: u64,
    /// HTTPS and SVCB records beyond the report's cap, not listed (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub dns_https_omitted: u64,
}

/// For `skip_serializing_if`: absent when zero.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
