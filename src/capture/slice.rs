//! The in-place parser: a capture held in memory (or handed over in windows of a memory-mapped
//! file) in, the same events, summary and errors as the streaming reader out.
//!
//! Takes consecutive pieces of memory and parses the complete blocks at the start of each,
//! saying how many bytes they took; a block cut by the piece's end is left for the next call. No
//! packet data is copied and nothing is kept between calls but the container, the interfaces of
//! the current section and the summary, so memory does not grow with the capture. Any input,
//! however cut or corrupted, ends in a summary with a warning or in a [`CaptureError`]; nothing
//! panics.

use super::blocks::{BlockHandler, MAX_BLOCK_BYTES, describe_parse_error};
use super::filter::FrameFilter;
use super::{CaptureError, CaptureEvent, CaptureSummary, CaptureWarning};
use pcap_parser::nom::{Err as NomErr, IResult};
use pcap_parser::pcap::{
    LegacyPcapBlock, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified,
    parse_pcap_header,
};
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::{PcapBlockOwned, PcapError};

/// Bytes of a classic pcap record's header: seconds, fraction, captured and original length.
const PCAP_RECORD_HEADER: usize = 16;

/// A packet block read in part ([`SliceParser::skip_cut_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRead {
    /// Bytes of the whole block.
    pub length: u64,
    /// Where its data starts in it.
    pub data_at: usize,
    /// Bytes of data it captured.
    pub captured: usize,
}

/// Bytes of a pcapng enhanced packet block before its data: type, length, interface, time
/// (two words), captured and original length.
const PCAPNG_EPB_HEADER: usize = 28;

/// The enhanced packet block's type.
const EPB_TYPE: u32 = 6;

/// Largest record [`SliceParser::skip_cut_record`] takes read in part: the largest snaplen
/// (256 KiB); the analysis holds a frame that size to fill in.
pub const MAX_PARTIAL_RECORD: usize = 256 << 10;

/// The container, once recognised by [`SliceParser`].
#[derive(Clone, Copy)]
enum Container {
    Pcapng {
        big_endian: bool,
    },
    /// `modified`: the "modified" pcap of magic 0xa1b2cd34 (Kuznetsov's patch: 24-byte record
    /// headers), read as `pcap-parser`'s streaming reader and Wireshark read it.
    Pcap {
        big_endian: bool,
        modified: bool,
    },
}

/// How a run of blocks ended: at the end of the piece, or at a block that did not parse.
type Outcome<'d> = Result<(), NomErr<PcapError<&'d [u8]>>>;

/// Parses a capture handed over in consecutive pieces of memory (windows of a memory-mapped
/// file): each call takes the complete blocks at the start of its piece and says how many bytes
/// they took, so the caller can start the next piece there. No packet data is copied.
pub struct SliceParser {
    handler: BlockHandler,
    container: Option<Container>,
    finished: bool,
    /// An enhanced packet block read in part put together for its checks, zeros for its data
    /// ([`SliceParser::skip_cut_record`]).
    whole_block: Vec<u8>,
}

impl Default for SliceParser {
    fn default() -> Self {
        SliceParser::new()
    }
}

impl SliceParser {
    /// A parser at the start of a capture.
    pub fn new() -> SliceParser {
        SliceParser {
            handler: BlockHandler::new(),
            container: None,
            finished: false,
            whole_block: Vec::new(),
        }
    }

    /// A parser that stops after `limit` packet blocks (`-c`), with a warning saying so.
    pub fn with_limit(limit: Option<u64>) -> SliceParser {
        let mut parser = SliceParser::new();
        parser.handler.limit = limit;
        parser
    }

    /// This parser, passing only the frames `filter` passes (and counting those for the limit).
    pub fn with_filter(mut self, filter: Option<FrameFilter>) -> SliceParser {
        self.handler.filter = filter;
        self
    }

    /// True once the capture ended (end of data, a block that cannot be read, or the limit).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Parses the complete blocks at the start of `data`, which reaches the end of the capture
    /// when `last` is set. Returns the bytes consumed (0: the next block is larger than `data`).
    pub fn feed(
        &mut self,
        data: &[u8],
        last: bool,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> Result<usize, CaptureError> {
        let (mut container, start) = match self.container {
            Some(c) => (c, data),
            None => match self.recognise(data, last, on_event)? {
                Some(found) => found,
                None => return Ok(0),
            },
        };
        let (rest, outcome) = self.blocks(&mut container, start, on_event);
        self.container = Some(container);
        if self.handler.reached() {
            if let Some(e) = self.handler.take_filter_error() {
                self.finished = true;
                return Err(CaptureError::Filter(e));
            }
            self.handler.stop_at_limit();
            self.finished = true;
        } else {
            self.conclude(outcome, last);
        }
        Ok(data.len() - rest.len())
    }

    /// Recognises the container from the first bytes, handling a pcap file header; `None` when
    /// `data` is too short to tell and more is to come.
    fn recognise<'d>(
        &mut self,
        data: &'d [u8],
        last: bool,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> Result<Option<(Container, &'d [u8])>, CaptureError> {
        if data.is_empty() {
            return Err(CaptureError::Empty);
        }
        let section = parse_sectionheaderblock(data);
        if matches!(section, Err(NomErr::Incomplete(_))) && !last {
            return Ok(None);
        }
        if section.is_ok() {
            // The section header is parsed again as the first block.
            return Ok(Some((Container::Pcapng { big_endian: false }, data)));
        }
        match parse_pcap_header(data) {
            Ok((tail, header)) => {
                let big_endian = header.is_bigendian();
                let modified = header.is_modified_format();
                self.handler
                    .block(PcapBlockOwned::LegacyHeader(header), on_event);
                Ok(Some((
                    Container::Pcap {
                        big_endian,
                        modified,
                    },
                    tail,
                )))
            }
            Err(NomErr::Incomplete(_)) if !last => Ok(None),
            Err(_) => Err(super::summary::not_a_capture(
                data,
                last.then_some(data.len()),
            )),
        }
    }

    /// Hands every complete block at the start of `data` to the handler; returns the bytes
    /// left and why the run stopped.
    fn blocks<'d>(
        &mut self,
        container: &mut Container,
        data: &'d [u8],
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> (&'d [u8], Outcome<'d>) {
        let mut rest = data;
        if let Container::Pcap {
            big_endian,
            modified,
        } = *container
        {
            // A pcap file's records go to the handler as they are, not as the enum of every
            // block type.
            let parse = pcap_record_parser(big_endian, modified);
            while !rest.is_empty() && !self.handler.reached() {
                match parse(rest) {
                    Ok((tail, record)) => {
                        self.handler.pcap_packet(&record, on_event);
                        rest = tail;
                    }
                    Err(e) => return (rest, Err(e)),
                }
            }
            return (rest, Ok(()));
        }
        while !rest.is_empty() && !self.handler.reached() {
            match next_block(container, rest) {
                Ok((tail, block)) => {
                    self.handler.block(block, on_event);
                    rest = tail;
                }
                Err(e) => return (rest, Err(e)),
            }
        }
        (rest, Ok(()))
    }

    /// Ends the capture at the end of the last piece, or at a block cut short or unparseable.
    fn conclude(&mut self, outcome: Outcome<'_>, last: bool) {
        match outcome {
            Ok(()) if last => self.finished = true,
            Ok(()) => {}
            Err(NomErr::Incomplete(_)) if !last => {}
            Err(NomErr::Incomplete(_)) => {
                self.handler
                    .stop(|last_good_frame| CaptureWarning::Truncated { last_good_frame });
                self.finished = true;
            }
            Err(NomErr::Error(e)) | Err(NomErr::Failure(e)) => {
                let reason = describe_parse_error(&e);
                self.handler
                    .stop(|last_good_frame| CaptureWarning::Corrupt {
                        last_good_frame,
                        reason,
                    });
                self.finished = true;
            }
        }
    }

    /// Gives up: the next block is larger than any piece the caller will hand over.
    pub fn oversized_block(&mut self) {
        self.handler
            .stop(|last_good_frame| CaptureWarning::Corrupt {
                last_good_frame,
                reason: format!("a block claims more than {} MiB", MAX_BLOCK_BYTES >> 20),
            });
        self.finished = true;
    }

    /// Takes the packet block at the start of `cut` (the block [`SliceParser::feed`] left
    /// unparsed, of which `cut` holds the first bytes) as read when its first `prefix` bytes of
    /// data are: it gives the block's frame with those bytes, counts it whole, and returns the
    /// block's length, where its data starts in it and how many bytes it captured — the caller
    /// goes on reading after it.
    ///
    /// A classic pcap record (not the modified format) or a pcapng enhanced packet block that
    /// captured between `min_captured` and [`MAX_PARTIAL_RECORD`] bytes, all of the block
    /// within the `available` bytes the file has from it on (a block the file's end cuts is
    /// parsed, and warned about, as ever), reading going on, and `cut` holding its header and
    /// `prefix` bytes of data. An enhanced packet block's options and trailing length follow
    /// its data: `read_tail(offset in the block, buffer)` reads them, and the block is parsed
    /// as a whole with zeros for its data — the checks of a whole block, which do not look at
    /// the data — and taken only when that parse takes it. `None`: nothing was done.
    pub fn skip_cut_record(
        &mut self,
        cut: &[u8],
        prefix: usize,
        min_captured: usize,
        available: u64,
        read_tail: &mut dyn FnMut(u64, &mut [u8]) -> bool,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> Option<PartRead> {
        if self.finished || self.handler.reached() {
            return None;
        }
        let mut container = self.container?;
        let (big_endian, header_len) = match container {
            Container::Pcap {
                big_endian,
                modified: false,
            } => (big_endian, PCAP_RECORD_HEADER),
            Container::Pcapng { big_endian } => (big_endian, PCAPNG_EPB_HEADER),
            Container::Pcap { modified: true, .. } => return None,
        };
        let header = cut.get(..header_len)?;
        let field = |at: usize| {
            let bytes = [header[at], header[at + 1], header[at + 2], header[at + 3]];
            if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        let pcapng = matches!(container, Container::Pcapng { .. });
        // pcapng: the block type is read as little-endian whatever the section's byte order.
        if pcapng
            && u32::from_le_bytes([header[0], header[1], header[2], header[3]]) != EPB_TYPE
            && u32::from_be_bytes([header[0], header[1], header[2], header[3]]) != EPB_TYPE
        {
            return None;
        }
        let captured = field(header_len - 8) as usize;
        if captured < min_captured.max(prefix) || captured > MAX_PARTIAL_RECORD {
            return None;
        }
        let (length, data_len) = if pcapng {
            (field(4) as usize, (captured + 3) & !3)
        } else {
            (header_len + captured, captured)
        };
        // The options and trailing length after the data (pcapng): at most 64 KiB.
        let tail = length.checked_sub(header_len + data_len)?;
        if length as u64 > available || (pcapng && !(4..=64 << 10).contains(&tail)) {
            return None;
        }
        let data = cut.get(header_len..header_len + prefix)?;
        let block = if pcapng {
            let whole = &mut self.whole_block;
            whole.clear();
            whole.extend_from_slice(header);
            whole.resize(header_len + data_len + tail, 0);
            if !read_tail(
                (header_len + data_len) as u64,
                &mut whole[header_len + data_len..],
            ) {
                return None;
            }
            match next_block(&mut container, whole) {
                Ok(([], PcapBlockOwned::NG(Block::EnhancedPacket(mut epb)))) => {
                    epb.data = data;
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb))
                }
                _ => return None,
            }
        } else {
            PcapBlockOwned::Legacy(LegacyPcapBlock {
                ts_sec: field(0),
                ts_usec: field(4),
                caplen: captured as u32,
                origlen: field(12),
                data,
            })
        };
        self.handler.packet_read_in_part(&block, captured, on_event);
        if self.handler.reached() {
            self.handler.stop_at_limit();
            self.finished = true;
        }
        Some(PartRead {
            length: length as u64,
            data_at: header_len,
            captured,
        })
    }

    /// The summary of everything parsed.
    pub fn finish(self) -> CaptureSummary {
        self.handler.into_summary()
    }
}

/// Parses the block at the start of `data`, following the byte order of the current pcapng
/// section (a section header may change it).
fn next_block<'d>(
    container: &mut Container,
    data: &'d [u8],
) -> IResult<&'d [u8], PcapBlockOwned<'d>, PcapError<&'d [u8]>> {
    match container {
        Container::Pcapng { big_endian } => {
            let parse = if *big_endian {
                parse_block_be
            } else {
                parse_block_le
            };
            let (tail, block) = parse(data)?;
            if let Block::SectionHeader(shb) = &block {
                *big_endian = shb.big_endian();
            }
            Ok((tail, PcapBlockOwned::NG(block)))
        }
        Container::Pcap {
            big_endian,
            modified,
        } => pcap_record_parser(*big_endian, *modified)(data)
            .map(|(tail, record)| (tail, PcapBlockOwned::Legacy(record))),
    }
}

/// A pcap record's parser, for the file's byte order and record format.
type PcapRecordParser =
    for<'d> fn(&'d [u8]) -> IResult<&'d [u8], LegacyPcapBlock<'d>, PcapError<&'d [u8]>>;

/// The parser of a pcap file's records: by its byte order, or its "modified" format.
fn pcap_record_parser(big_endian: bool, modified: bool) -> PcapRecordParser {
    if modified {
        parse_pcap_frame_modified
    } else if big_endian {
        parse_pcap_frame_be
    } else {
        parse_pcap_frame
    }
}

/// Reads a whole capture held in memory: same events, summary and errors as
/// [`read_capture`](super::read_capture).
pub fn read_capture_slice<F>(data: &[u8], mut on_event: F) -> Result<CaptureSummary, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    let mut parser = SliceParser::new();
    parser.feed(data, true, &mut on_event)?;
    Ok(parser.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first enhanced packet block of `bytes` (a little-endian pcapng) that captured more
    /// than 500 bytes: its offset and length.
    fn large_block(bytes: &[u8]) -> (usize, usize) {
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let mut at = 0;
        loop {
            let len = word(at + 4);
            if word(at) == EPB_TYPE as usize && word(at + 20) > 500 {
                return (at, len);
            }
            at += len;
        }
    }

    /// Parses `bytes` up to the block at `at`, then takes that block read in part (its first
    /// 100 bytes of data, the rest of the block read from `bytes` as the file): the part read,
    /// and the frame's bytes and the packets counted.
    fn read_in_part(bytes: &[u8], at: usize) -> (Option<PartRead>, Vec<u8>, u64) {
        let mut parser = SliceParser::new();
        let consumed = parser.feed(&bytes[..at + 200], false, &mut |_| {}).unwrap();
        assert_eq!(consumed, at);
        let mut frame = Vec::new();
        let part = parser.skip_cut_record(
            &bytes[at..at + 200],
            100,
            100,
            (bytes.len() - at) as u64,
            &mut |offset, tail| {
                let from = at + offset as usize;
                tail.copy_from_slice(&bytes[from..from + tail.len()]);
                true
            },
            &mut |event| {
                if let CaptureEvent::Frame(f) = event {
                    frame = f.data.to_vec();
                }
            },
        );
        (part, frame, parser.finish().packets)
    }

    /// A pcapng enhanced packet block read in part is taken when the whole block would parse,
    /// with its first bytes of data and counted whole; a block whose trailing length differs
    /// from its leading one (which the whole parse refuses) is left to the parse.
    #[test]
    fn an_enhanced_packet_block_read_in_part_is_checked_whole() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/tls12-h2-agreed.pcapng"
        );
        let mut bytes = std::fs::read(path).unwrap();
        let (at, len) = large_block(&bytes);
        let (part, frame, packets) = read_in_part(&bytes, at);
        let captured = u32::from_le_bytes(bytes[at + 20..at + 24].try_into().unwrap()) as usize;
        assert_eq!(
            part,
            Some(PartRead {
                length: len as u64,
                data_at: 28,
                captured,
            })
        );
        assert_eq!(frame, bytes[at + 28..at + 128]);
        let earlier = read_capture_slice(&bytes[..at], |_| {}).unwrap().packets;
        assert_eq!(packets, earlier + 1);

        bytes[at + len - 4] ^= 1;
        let (part, frame, packets) = read_in_part(&bytes, at);
        assert_eq!(part, None);
        assert!(frame.is_empty());
        assert_eq!(packets, earlier);
    }
}
