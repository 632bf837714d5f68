//! Capture sources: frames out of a pcap or pcapng stream.
//!
//! Takes any `Read` (a file, stdin) and emits [`CaptureEvent`]s to a callback, one per packet
//! block, numbered 1-based in file order exactly as Wireshark numbers them. Nothing is buffered
//! beyond one block: the capture is streamed. A file that is not a capture is an error; a file
//! cut off mid-packet, or a block whose length fields lie, ends the read with a
//! [`CaptureWarning`] naming the last good frame, and everything read so far stays valid.

mod blocks;
mod decompress;
pub mod filter;
mod link_type;
mod reader;
mod slice;
mod summary;
#[cfg(test)]
mod tests;
mod timestamp;

pub use blocks::MAX_BLOCK_BYTES;
pub use decompress::{XZ_MEMORY_LIMIT_KIB, decompressing};
pub use link_type::LinkType;
pub use reader::{read_capture, read_capture_filtered, read_capture_limited};
pub use slice::{MAX_PARTIAL_RECORD, PartRead, SliceParser, read_capture_slice};
pub use summary::{
    CaptureCounters, CaptureError, CaptureFormat, CaptureSummary, CaptureWarning, Compression,
    IoCause,
};
pub use timestamp::Timestamp;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark shows it.
    pub number: u64,
    /// Capture time.
    pub timestamp: Timestamp,
    /// Link-layer type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// The captured bytes (possibly cut by the snaplen).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub original_len: u32,
}

impl Frame<'_> {
    /// True when the snaplen cut the packet short.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.original_len)
    }
}

/// What a capture source reports while it reads.
#[derive(Debug)]
pub enum CaptureEvent<'a> {
    /// A packet.
    Frame(Frame<'a>),
    /// A packet the capture filter dropped (`alpnscope FILE EXPR`): not to be analysed, but
    /// its flow may say that the filter took packets from it.
    Dropped(Frame<'a>),
    /// A pcapng Decryption Secrets Block (type and raw secrets, e.g. an NSS key log).
    Secrets {
        /// The secrets type code (0x544c534b = TLS key log).
        secrets_type: u32,
        /// The raw secrets.
        data: &'a [u8],
    },
}
