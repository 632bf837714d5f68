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

/// The container, once recognised by [`SliceParser`].
/// Bytes of a classic pcap record's header: seconds, fraction, captured and original length.
pub const PCAP_RECORD_HEADER: usize = 16;

/// Largest record [`SliceParser::skip_cut_record`] takes read in part: the largest snaplen
/// (256 KiB); the analysis holds a frame that size to fill in.
pub const MAX_PARTIAL_RECORD: usize = 256 << 10;

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

    /// Takes the pcap record at the start of `cut` (the block [`SliceParser::feed`] left
    /// unparsed, of which `cut` holds the first bytes) as read when its first `prefix` bytes of
    /// data are: it gives the record's frame with those bytes, counts it whole, and returns the
    /// record's length (header and data) — the caller goes on reading after it. `None` (nothing
    /// done) unless this is a classic pcap (not the modified format), reading goes on, `cut`
    /// holds the header and `prefix` bytes, and the record captured between `min_captured` and
    /// [`MAX_PARTIAL_RECORD`] bytes, all of them within the `available` bytes the file has from
    /// the record on (a record the file's end cuts is parsed, and warned about, as ever).
    pub fn skip_cut_record(
        &mut self,
        cut: &[u8],
        prefix: usize,
        min_captured: usize,
        available: u64,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> Option<u64> {
        let Some(Container::Pcap {
            big_endian,
            modified: false,
        }) = self.container
        else {
            return None;
        };
        if self.finished || self.handler.reached() {
            return None;
        }
        let header = cut.get(..PCAP_RECORD_HEADER)?;
        let field = |at: usize| {
            let bytes = [header[at], header[at + 1], header[at + 2], header[at + 3]];
            if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        let caplen = field(8);
        let captured = caplen as usize;
        if captured < min_captured.max(prefix)
            || captured > MAX_PARTIAL_RECORD
            || (PCAP_RECORD_HEADER + captured) as u64 > available
        {
            return None;
        }
        let data = cut.get(PCAP_RECORD_HEADER..PCAP_RECORD_HEADER + prefix)?;
        let record = LegacyPcapBlock {
            ts_sec: field(0),
            ts_usec: field(4),
            caplen,
            origlen: field(12),
            data,
        };
        self.handler.record_read_in_part(&record, on_event);
        if self.handler.reached() {
            self.handler.stop_at_limit();
            self.finished = true;
        }
        Some((PCAP_RECORD_HEADER + captured) as u64)
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
        } => {
            let parse = if *modified {
                parse_pcap_frame_modified
            } else if *big_endian {
                parse_pcap_frame_be
            } else {
                parse_pcap_frame
            };
            parse(data).map(|(tail, record)| (tail, PcapBlockOwned::Legacy(record)))
        }
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
