//! Streaming reader over pcap and pcapng, built on `pcap-parser`.
//!
//! The reader keeps one block in memory at a time (its buffer grows only for a block that is
//! larger than the buffer, up to [`MAX_BLOCK_BYTES`]). Packet blocks are numbered 1-based in file
//! order, every packet block counts, whatever its interface, as in Wireshark.

use super::{CaptureEvent, Frame, LinkType, Timestamp};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};
use std::fmt;
use std::io::{self, Read};

/// Initial size of the read buffer.
const BUFFER_BYTES: usize = 1 << 20;
/// Largest single block accepted; a larger length field is taken as a lie.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

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

/// A `Read` adapter that fills the caller's buffer as far as the input allows, so a pipe that
/// delivers a few bytes at a time still shows the parser a whole header.
struct FillingReader<R>(R);

impl<R: Read> Read for FillingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if filled > 0 => {
                    // Report what was read; the error comes back on the next call.
                    let _ = e;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// A packet's time, link type, captured bytes and length on the wire.
type PacketView<'a> = (Timestamp, LinkType, &'a [u8], u32);

/// Per-interface decoding parameters of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: LinkType,
    units_per_second: u64,
    offset_seconds: i64,
}

/// State shared by the stream and slice readers: interfaces of the current section and the
/// summary so far.
struct BlockHandler {
    summary: CaptureSummary,
    interfaces: Vec<Interface>,
    warned_interfaces: bool,
    last_time: Timestamp,
}

impl BlockHandler {
    fn new() -> BlockHandler {
        BlockHandler {
            summary: CaptureSummary {
                format: CaptureFormat::Pcap,
                link_types: Vec::new(),
                snaplen: 0,
                packets: 0,
                bytes: 0,
                first_time: None,
                last_time: None,
                warnings: Vec::new(),
            },
            interfaces: Vec::new(),
            warned_interfaces: false,
            last_time: Timestamp(0),
        }
    }

    /// Handles one block, emitting its frame or secrets.
    fn block(&mut self, block: PcapBlockOwned<'_>, on_event: &mut dyn FnMut(CaptureEvent<'_>)) {
        // A packet block yields Some(frame data), or Some(None) when it cannot be placed.
        let mut packet: Option<Option<PacketView<'_>>> = None;
        match block {
            PcapBlockOwned::LegacyHeader(header) => {
                let nanos = header.is_nanosecond_precision();
                self.summary.format = if nanos {
                    CaptureFormat::PcapNanosecond
                } else {
                    CaptureFormat::Pcap
                };
                self.summary.snaplen = header.snaplen;
                let link_type = LinkType(header.network.0 as u32);
                note_link_type(&mut self.summary.link_types, link_type);
                self.interfaces = vec![Interface {
                    link_type,
                    units_per_second: if nanos { 1_000_000_000 } else { 1_000_000 },
                    offset_seconds: 0,
                }];
            }
            PcapBlockOwned::Legacy(ref record) => {
                packet = Some(self.interfaces.first().map(|iface| {
                    let timestamp = Timestamp::from_parts(
                        i64::from(record.ts_sec),
                        u64::from(record.ts_usec),
                        iface.units_per_second,
                    );
                    let len = (record.caplen as usize).min(record.data.len());
                    (
                        timestamp,
                        iface.link_type,
                        &record.data[..len],
                        record.origlen,
                    )
                }));
            }
            PcapBlockOwned::NG(ref block) => match block {
                Block::SectionHeader(_) => {
                    self.summary.format = CaptureFormat::Pcapng;
                    self.interfaces.clear();
                }
                Block::InterfaceDescription(idb) => {
                    let link_type = LinkType(u32::from(idb.linktype.0 as u16));
                    note_link_type(&mut self.summary.link_types, link_type);
                    self.summary.snaplen = self.summary.snaplen.max(idb.snaplen);
                    self.interfaces.push(Interface {
                        link_type,
                        units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
                        offset_seconds: idb.ts_offset(),
                    });
                }
                Block::EnhancedPacket(epb) => {
                    packet = Some(self.interfaces.get(epb.if_id as usize).map(|iface| {
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let units = iface.units_per_second.max(1);
                        // if_tsoffset is an untrusted i64: a crafted file can push the sum out
                        // of i64's range, and the time then saturates as in
                        // `Timestamp::from_parts`.
                        let seconds = i128::from(raw / units) + i128::from(iface.offset_seconds);
                        let seconds = i64::try_from(seconds).unwrap_or(if seconds < 0 {
                            i64::MIN
                        } else {
                            i64::MAX
                        });
                        let timestamp = Timestamp::from_parts(seconds, raw % units, units);
                        let len = (epb.caplen as usize).min(epb.data.len());
                        (timestamp, iface.link_type, &epb.data[..len], epb.origlen)
                    }));
                    if matches!(packet, Some(None)) && !self.warned_interfaces {
                        self.warned_interfaces = true;
                        self.summary
                            .warnings
                            .push(CaptureWarning::UnknownInterface {
                                frame: self.summary.packets + 1,
                                interface: epb.if_id,
                            });
                    }
                }
                Block::SimplePacket(spb) => {
                    packet = Some(self.interfaces.first().map(|iface| {
                        let len = (spb.origlen as usize).min(spb.data.len());
                        (
                            self.last_time,
                            iface.link_type,
                            &spb.data[..len],
                            spb.origlen,
                        )
                    }));
                }
                Block::DecryptionSecrets(dsb) => on_event(CaptureEvent::Secrets {
                    secrets_type: dsb.secrets_type.0,
                    data: dsb.data,
                }),
                _ => {}
            },
        }
        if let Some(packet) = packet {
            self.summary.packets += 1;
            if let Some((timestamp, link_type, data, original_len)) = packet {
                self.summary.bytes += data.len() as u64;
                self.summary.first_time.get_or_insert(timestamp);
                self.summary.last_time = Some(timestamp);
                self.last_time = timestamp;
                on_event(CaptureEvent::Frame(Frame {
                    number: self.summary.packets,
                    timestamp,
                    link_type,
                    data,
                    original_len,
                }));
            }
        }
    }

    fn stop(&mut self, warning: impl FnOnce(u64) -> CaptureWarning) {
        let w = warning(self.summary.packets);
        self.summary.warnings.push(w);
    }
}

/// Reads a whole capture from `input`, calling `on_event` for every packet and secrets block.
///
/// Returns the summary, or an error when the input is not a capture at all.
pub fn read_capture<R, F>(input: R, mut on_event: F) -> Result<CaptureSummary, CaptureError>
where
    R: Read + Send,
    F: FnMut(CaptureEvent<'_>),
{
    let mut reader = match pcap_parser::create_reader(BUFFER_BYTES, FillingReader(input)) {
        Ok(r) => r,
        Err(PcapError::Eof) => return Err(CaptureError::Empty),
        Err(PcapError::ReadError) => {
            return Err(CaptureError::Io(io::Error::other(
                "the input could not be read",
            )));
        }
        Err(_) => return Err(CaptureError::NotACapture),
    };
    let mut handler = BlockHandler::new();
    let mut capacity = BUFFER_BYTES;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                handler.block(block, &mut on_event);
                // The buffer is shifted once per refill, not each time half of it is consumed.
                reader.consume_noshift(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                        last_good_frame,
                        reason: "read error".into(),
                    });
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                handler.stop(|last_good_frame| CaptureWarning::Truncated { last_good_frame });
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_BLOCK_BYTES || !reader.grow(capacity * 2) {
                    handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                        last_good_frame,
                        reason: format!("a block claims more than {} MiB", MAX_BLOCK_BYTES >> 20),
                    });
                    break;
                }
                capacity *= 2;
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => {
                let reason = describe_parse_error(&e);
                handler.stop(|last_good_frame| CaptureWarning::Corrupt {
                    last_good_frame,
                    reason,
                });
                break;
            }
        }
    }
    Ok(handler.summary)
}

/// The container, once recognised by [`SliceParser`].
#[derive(Clone, Copy)]
enum Container {
    Pcapng { big_endian: bool },
    Pcap { big_endian: bool },
}

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

    /// True once the capture ended (end of data, or a block that cannot be read).
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
        use pcap_parser::nom::Err as NomErr;
        use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
        use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock};
        let mut rest = data;
        let container = match self.container {
            Some(c) => c,
            None => {
                if data.is_empty() {
                    return Err(CaptureError::Empty);
                }
                let section = parse_sectionheaderblock(data);
                if matches!(section, Err(NomErr::Incomplete(_))) && !last {
                    return Ok(0);
                }
                let c = if section.is_ok() {
                    Container::Pcapng { big_endian: false }
                } else {
                    match parse_pcap_header(data) {
                        Ok((tail, header)) => {
                            let big_endian = header.is_bigendian();
                            self.handler
                                .block(PcapBlockOwned::LegacyHeader(header), on_event);
                            rest = tail;
                            Container::Pcap { big_endian }
                        }
                        Err(NomErr::Incomplete(_)) if !last => return Ok(0),
                        Err(_) => return Err(CaptureError::NotACapture),
                    }
                };
                self.container = Some(c);
                c
            }
        };
        let mut big_endian_ng = matches!(container, Container::Pcapng { big_endian: true });
        let outcome = loop {
            if rest.is_empty() {
                break Ok(());
            }
            let parsed = match container {
                Container::Pcapng { .. } => {
                    let parse = if big_endian_ng {
                        parse_block_be
                    } else {
                        parse_block_le
                    };
                    parse(rest).map(|(tail, block)| {
                        if let Block::SectionHeader(shb) = &block {
                            big_endian_ng = shb.big_endian();
                        }
                        (tail, PcapBlockOwned::NG(block))
                    })
                }
                Container::Pcap { big_endian } => {
                    let parse = if big_endian {
                        parse_pcap_frame_be
                    } else {
                        parse_pcap_frame
                    };
                    parse(rest).map(|(tail, record)| (tail, PcapBlockOwned::Legacy(record)))
                }
            };
            match parsed {
                Ok((tail, block)) => {
                    self.handler.block(block, on_event);
                    rest = tail;
                }
                Err(e) => break Err(e),
            }
        };
        if let Container::Pcapng { .. } = container {
            self.container = Some(Container::Pcapng {
                big_endian: big_endian_ng,
            });
        }
        let consumed = data.len() - rest.len();
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
        Ok(consumed)
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

    /// The summary of everything parsed.
    pub fn finish(self) -> CaptureSummary {
        self.handler.summary
    }
}

/// Reads a whole capture held in memory: same events, summary and errors as [`read_capture`].
pub fn read_capture_slice<F>(data: &[u8], mut on_event: F) -> Result<CaptureSummary, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    let mut parser = SliceParser::new();
    parser.feed(data, true, &mut on_event)?;
    Ok(parser.finish())
}

fn note_link_type(seen: &mut Vec<LinkType>, link_type: LinkType) {
    if !seen.contains(&link_type) {
        seen.push(link_type);
    }
}

fn describe_parse_error<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("unparseable block ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "unrecognised block header".into(),
        PcapError::ReadError => "read error".into(),
        _ => "unparseable block".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian microsecond pcap header for Ethernet.
    fn pcap_header(magic: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v
    }

    fn record(ts_sec: u32, frac: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ts_sec.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    type Outcome = (
        Vec<(u64, Timestamp, usize)>,
        Result<CaptureSummary, CaptureError>,
    );

    /// Reads `bytes` with both readers and checks that they agree.
    fn frames_of(bytes: &[u8]) -> Outcome {
        let collect = |slice: bool| {
            let mut frames = Vec::new();
            let on_event = |event: CaptureEvent<'_>| {
                if let CaptureEvent::Frame(f) = event {
                    frames.push((f.number, f.timestamp, f.data.len()));
                }
            };
            let result = if slice {
                read_capture_slice(bytes, on_event)
            } else {
                read_capture(bytes, on_event)
            };
            (frames, result)
        };
        let (stream_frames, stream) = collect(false);
        let (slice_frames, slice) = collect(true);
        assert_eq!(
            stream_frames, slice_frames,
            "stream and slice readers agree on frames"
        );
        match (&stream, &slice) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.packets, b.packets);
                assert_eq!(a.format, b.format);
                assert_eq!(a.complete(), b.complete());
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("readers disagree: {stream:?} / {slice:?}"),
        }
        (stream_frames, stream)
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(matches!(frames_of(&[]).1, Err(CaptureError::Empty)));
    }

    #[test]
    fn text_is_not_a_capture() {
        let text = b"GET / HTTP/1.1\r\nHost: example\r\n\r\nsome more text to be long enough";
        assert!(matches!(frames_of(text).1, Err(CaptureError::NotACapture)));
    }

    #[test]
    fn reads_microsecond_and_nanosecond_pcap() {
        let mut file = pcap_header(0xa1b2_c3d4);
        file.extend(record(10, 5, &[1, 2, 3]));
        file.extend(record(11, 6, &[4; 10]));
        let (frames, summary) = frames_of(&file);
        let summary = summary.unwrap();
        assert_eq!(summary.packets, 2);
        assert!(summary.complete());
        assert_eq!(frames[0], (1, Timestamp(10_000_005_000), 3));
        assert_eq!(frames[1], (2, Timestamp(11_000_006_000), 10));

        let mut file = pcap_header(0xa1b2_3c4d);
        file.extend(record(10, 5, &[1, 2, 3]));
        let (frames, summary) = frames_of(&file);
        assert_eq!(summary.unwrap().format, CaptureFormat::PcapNanosecond);
        assert_eq!(frames[0].1, Timestamp(10_000_000_005));
    }

    #[test]
    fn truncated_file_names_last_good_frame() {
        let mut file = pcap_header(0xa1b2_c3d4);
        file.extend(record(10, 5, &[1, 2, 3]));
        file.extend(record(11, 6, &[4; 10]));
        file.truncate(file.len() - 4);
        let (frames, summary) = frames_of(&file);
        let summary = summary.unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(
            summary.warnings,
            vec![CaptureWarning::Truncated { last_good_frame: 1 }]
        );
        assert!(!summary.complete());
    }

    /// A little-endian pcapng block: type, length, body (padded), length.
    fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&total.to_le_bytes());
        v.extend_from_slice(body);
        v.extend(std::iter::repeat_n(0u8, pad));
        v.extend_from_slice(&total.to_le_bytes());
        v
    }

    /// A pcapng section with one Ethernet interface (`if_tsresol`, `if_tsoffset`) and one
    /// packet at `raw` time units.
    fn pcapng_with_offset(tsresol: u8, tsoffset: i64, raw: u64) -> Vec<u8> {
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        idb.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[tsresol, 0, 0, 0]);
        idb.extend_from_slice(&14u16.to_le_bytes()); // if_tsoffset
        idb.extend_from_slice(&8u16.to_le_bytes());
        idb.extend_from_slice(&tsoffset.to_le_bytes());
        idb.extend_from_slice(&[0; 4]); // opt_endofopt
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((raw >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(raw as u32).to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&[1, 2, 3, 4]);
        let mut file = ng_block(0x0A0D_0D0A, &shb);
        file.extend(ng_block(1, &idb));
        file.extend(ng_block(6, &epb));
        file
    }

    #[test]
    fn pcapng_timestamp_offset_is_applied() {
        let (frames, summary) = frames_of(&pcapng_with_offset(6, 100, 5_000_007));
        assert_eq!(summary.unwrap().format, CaptureFormat::Pcapng);
        assert_eq!(frames, vec![(1, Timestamp(105_000_007_000), 4)]);
    }

    #[test]
    fn crafted_pcapng_timestamp_offset_saturates() {
        // if_tsoffset near i64::MAX: the packet's seconds plus the offset overflow i64.
        let (frames, summary) = frames_of(&pcapng_with_offset(6, i64::MAX - 1, 5_000_000));
        assert!(summary.unwrap().complete());
        assert_eq!(frames, vec![(1, Timestamp(i64::MAX), 4)]);
        // One-second units and the largest raw time (more seconds than i64 holds), pulled
        // back by an offset of i64::MIN: 2^64 - 1 - 2^63 = i64::MAX seconds.
        let (frames, _) = frames_of(&pcapng_with_offset(0, i64::MIN, u64::MAX));
        assert_eq!(frames, vec![(1, Timestamp(i64::MAX), 4)]);
        // And the other way: the earliest representable time.
        let (frames, _) = frames_of(&pcapng_with_offset(0, i64::MIN, 0));
        assert_eq!(frames, vec![(1, Timestamp(i64::MIN), 4)]);
        // The saturated times still format.
        assert!(!Timestamp(i64::MAX).to_string().is_empty());
        assert!(!Timestamp(i64::MIN).to_string().is_empty());
    }

    #[test]
    fn lying_record_length_stops_with_a_warning() {
        let mut file = pcap_header(0xa1b2_c3d4);
        file.extend(record(10, 5, &[1, 2, 3]));
        let mut bad = record(11, 6, &[4; 10]);
        bad[8..12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        file.extend(bad);
        let (frames, summary) = frames_of(&file);
        assert_eq!(frames.len(), 1);
        assert!(!summary.unwrap().complete());
    }
}
