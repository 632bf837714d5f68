//! One parsed block in, its frame or secrets out: the state both readers share.
//!
//! Takes the blocks `pcap-parser` cut out of the input (a pcap file header and records; pcapng
//! section headers, interface descriptions, enhanced, simple, decryption-secrets and interface
//! statistics blocks) and emits a [`CaptureEvent`] per packet or secrets block, keeps the
//! capturer's drop counters in the summary, numbering packet blocks 1-based in file
//! order whatever their interface, as Wireshark does. Every field is untrusted: captured lengths
//! are clamped to the bytes present and timestamps saturate, so no block can cause a panic.
//! Memory is bounded by the interfaces of the current section (a new section forgets them) and
//! by [`MAX_COUNTED_INTERFACES`] interfaces' statistics.

use super::filter::{FilterError, FrameFilter};
use super::{
    CaptureCounters, CaptureEvent, CaptureFormat, CaptureSummary, CaptureWarning, Frame, LinkType,
    Timestamp,
};
use pcap_parser::pcap::{LegacyPcapBlock, PcapHeader};
use pcap_parser::pcapng::{
    Block, EnhancedPacketBlock, InterfaceDescriptionBlock, InterfaceStatisticsBlock, OptionCode,
};
use pcap_parser::{PcapBlockOwned, PcapError};

/// Largest single block accepted; a larger length field is taken as a lie.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

/// Most interfaces (over all sections) whose statistics are kept; later ones are ignored.
const MAX_COUNTED_INTERFACES: usize = 256;

/// A packet's time, link type, captured bytes and length on the wire.
type PacketView<'a> = (Timestamp, LinkType, &'a [u8], u32);

/// Per-interface decoding parameters of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: LinkType,
    units_per_second: u64,
    offset_seconds: i64,
}

impl Interface {
    /// The time of a packet stamped `raw` units after the epoch, shifted by `if_tsoffset`.
    fn time(&self, raw: u64) -> Timestamp {
        let units = self.units_per_second.max(1);
        // if_tsoffset is an untrusted i64: a crafted file can push the sum out of i64's range,
        // and the time then saturates as in `Timestamp::from_parts`.
        let seconds = i128::from(raw / units) + i128::from(self.offset_seconds);
        let seconds =
            i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX });
        Timestamp::from_parts(seconds, raw % units, units)
    }
}

/// State shared by the stream and slice readers: interfaces of the current section and the
/// summary so far.
pub(super) struct BlockHandler {
    pub(super) summary: CaptureSummary,
    interfaces: Vec<Interface>,
    warned_interfaces: bool,
    last_time: Timestamp,
    /// Sections seen so far (interface ids are per section) and the byte order of the current one.
    sections: u32,
    big_endian: bool,
    /// The latest statistics of each (section, interface): the blocks are cumulative.
    counters: Vec<((u32, u32), CaptureCounters)>,
    /// Packet blocks to read at most (`-c`); blocks after the last are not handled.
    pub(super) limit: Option<u64>,
    /// The capture filter (`-f`, `EXPR`): frames it drops are not emitted, and `limit` counts
    /// the frames it passes, as tcpdump's `-c` does.
    pub(super) filter: Option<FrameFilter>,
    /// The filter could not be compiled for a link type met: reading stops.
    pub(super) filter_error: Option<FilterError>,
}

impl BlockHandler {
    /// A handler before the first block: no interfaces, an empty pcap summary.
    pub(super) fn new() -> BlockHandler {
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
                statistics: None,
                filter: None,
            },
            interfaces: Vec::new(),
            warned_interfaces: false,
            last_time: Timestamp(0),
            sections: 0,
            big_endian: false,
            counters: Vec::new(),
            limit: None,
            filter: None,
            filter_error: None,
        }
    }

    /// True once the packet blocks asked for were read: the caller stops there.
    /// Also true once the filter failed to compile (the caller then ends with its error).
    pub(super) fn reached(&self) -> bool {
        let passed = self
            .filter
            .as_ref()
            .map_or(self.summary.packets, FrameFilter::matched);
        self.filter_error.is_some() || self.limit.is_some_and(|limit| passed >= limit)
    }

    /// The filter's refusal of a link type met, when reading stopped at it.
    pub(super) fn take_filter_error(&mut self) -> Option<FilterError> {
        self.filter_error.take()
    }

    /// The summary, with the filter's counts.
    pub(super) fn into_summary(mut self) -> CaptureSummary {
        self.summary.filter = self.filter.map(|f| f.counts().clone());
        self.summary
    }

    /// Ends the read at the limit, with its warning.
    pub(super) fn stop_at_limit(&mut self) {
        let packets = self.summary.packets;
        self.summary
            .warnings
            .push(CaptureWarning::CountReached { packets });
    }

    /// Handles one block, emitting its frame or secrets.
    pub(super) fn block(
        &mut self,
        block: PcapBlockOwned<'_>,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
        // A packet block yields Some(frame data), or Some(None) when it cannot be placed.
        let packet = match block {
            PcapBlockOwned::LegacyHeader(header) => {
                self.pcap_header(&header);
                None
            }
            PcapBlockOwned::Legacy(record) => Some(self.pcap_record(&record)),
            PcapBlockOwned::NG(block) => self.pcapng_block(block, on_event),
        };
        if let Some(packet) = packet {
            self.packet(packet, on_event);
        }
    }

    /// Handles one pcap record, emitting its frame: [`BlockHandler::block`] for a record.
    pub(super) fn pcap_packet(
        &mut self,
        record: &LegacyPcapBlock<'_>,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
        let packet = self.pcap_record(record);
        self.packet(packet, on_event);
    }

    /// A pcap file header: the format, the snaplen and the file's single interface.
    fn pcap_header(&mut self, header: &PcapHeader) {
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

    /// A pcap record, placed on the file's interface (`None` before any file header).
    fn pcap_record<'a>(&self, record: &LegacyPcapBlock<'a>) -> Option<PacketView<'a>> {
        self.interfaces.first().map(|iface| {
            let timestamp = Timestamp::from_parts(
                i64::from(record.ts_sec),
                u64::from(record.ts_usec),
                iface.units_per_second,
            );
            let data = captured(record.data, record.caplen);
            (timestamp, iface.link_type, data, record.origlen)
        })
    }

    /// A pcapng block: a packet block yields `Some`, the others update the section or emit
    /// secrets and yield `None`.
    fn pcapng_block<'a>(
        &mut self,
        block: Block<'a>,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) -> Option<Option<PacketView<'a>>> {
        match block {
            Block::SectionHeader(shb) => {
                self.summary.format = CaptureFormat::Pcapng;
                self.interfaces.clear();
                self.sections += 1;
                self.big_endian = shb.big_endian();
            }
            Block::InterfaceStatistics(isb) => self.statistics(&isb),
            Block::InterfaceDescription(idb) => self.interface(&idb),
            Block::EnhancedPacket(epb) => return Some(self.enhanced_packet(&epb)),
            Block::SimplePacket(spb) => {
                // A simple packet has no time of its own: it takes the time of the frame before it.
                return Some(self.interfaces.first().map(|iface| {
                    let data = captured(spb.data, spb.origlen);
                    (self.last_time, iface.link_type, data, spb.origlen)
                }));
            }
            Block::DecryptionSecrets(dsb) => on_event(CaptureEvent::Secrets {
                secrets_type: dsb.secrets_type.0,
                data: dsb.data,
            }),
            _ => {}
        }
        None
    }

    /// A pcapng interface description: one more interface in the current section.
    fn interface(&mut self, idb: &InterfaceDescriptionBlock<'_>) {
        let link_type = LinkType(u32::from(idb.linktype.0 as u16));
        note_link_type(&mut self.summary.link_types, link_type);
        self.summary.snaplen = self.summary.snaplen.max(idb.snaplen);
        self.interfaces.push(Interface {
            link_type,
            units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
            offset_seconds: idb.ts_offset(),
        });
    }

    /// A pcapng interface statistics block: it replaces the interface's earlier counters, and the
    /// summary's totals are summed again. A counter whose option has the wrong length is left
    /// out, as if absent.
    fn statistics(&mut self, isb: &InterfaceStatisticsBlock<'_>) {
        let big_endian = self.big_endian;
        let counter = |code: OptionCode| {
            let option = isb.options.iter().find(|o| o.code == code)?;
            let bytes: [u8; 8] = option.value().try_into().ok()?;
            Some(if big_endian {
                u64::from_be_bytes(bytes)
            } else {
                u64::from_le_bytes(bytes)
            })
        };
        let counters = CaptureCounters {
            received: counter(OptionCode::IsbIfRecv),
            interface_dropped: counter(OptionCode::IsbIfDrop),
            os_dropped: counter(OptionCode::IsbOsDrop),
        };
        let key = (self.sections, isb.if_id);
        if let Some(entry) = self.counters.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = counters;
        } else if self.counters.len() < MAX_COUNTED_INTERFACES {
            self.counters.push((key, counters));
        }
        let mut total = CaptureCounters::default();
        for (_, c) in &self.counters {
            total.add(c);
        }
        self.summary.statistics = Some(total);
    }

    /// A pcapng enhanced packet, placed on the interface it names; the first that names an
    /// undescribed interface is warned about.
    fn enhanced_packet<'a>(&mut self, epb: &EnhancedPacketBlock<'a>) -> Option<PacketView<'a>> {
        let packet = self.interfaces.get(epb.if_id as usize).map(|iface| {
            let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let data = captured(epb.data, epb.caplen);
            (iface.time(raw), iface.link_type, data, epb.origlen)
        });
        if packet.is_none() && !self.warned_interfaces {
            self.warned_interfaces = true;
            self.summary
                .warnings
                .push(CaptureWarning::UnknownInterface {
                    frame: self.summary.packets + 1,
                    interface: epb.if_id,
                });
        }
        packet
    }

    /// Counts a packet block and emits its frame, when it could be placed on an interface.
    fn packet(
        &mut self,
        packet: Option<PacketView<'_>>,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
        let captured = packet.map_or(0, |(_, _, data, _)| data.len());
        self.packet_of(packet, captured, on_event);
    }

    /// A packet block of which only the first bytes of data were read (`block`'s data; it
    /// captured `captured` bytes): counted as the whole block, its frame given with the bytes
    /// read (see [`super::SliceParser::skip_cut_record`]). Other blocks are ignored.
    pub(super) fn packet_read_in_part(
        &mut self,
        block: &PcapBlockOwned<'_>,
        captured: usize,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
        let packet = match block {
            PcapBlockOwned::Legacy(record) => self.pcap_record(record),
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => self.enhanced_packet(epb),
            _ => return,
        };
        self.packet_of(packet, captured, on_event);
    }

    /// A packet of which `captured` bytes were captured.
    fn packet_of(
        &mut self,
        packet: Option<PacketView<'_>>,
        captured: usize,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
        self.summary.packets += 1;
        if let Some((timestamp, link_type, data, original_len)) = packet {
            self.summary.bytes += captured as u64;
            self.summary.first_time.get_or_insert(timestamp);
            self.summary.last_time = Some(timestamp);
            self.last_time = timestamp;
            let frame = Frame {
                number: self.summary.packets,
                timestamp,
                link_type,
                data,
                original_len,
            };
            if let Some(filter) = &mut self.filter {
                match filter.matches(link_type, data, original_len) {
                    Ok(true) => {}
                    Ok(false) => {
                        on_event(CaptureEvent::Dropped(frame));
                        return;
                    }
                    Err(e) => {
                        self.filter_error.get_or_insert(e);
                        return;
                    }
                }
            }
            on_event(CaptureEvent::Frame(frame));
        }
    }

    /// Ends the read with the warning built from the last good frame's number.
    pub(super) fn stop(&mut self, warning: impl FnOnce(u64) -> CaptureWarning) {
        let w = warning(self.summary.packets);
        self.summary.warnings.push(w);
    }
}

/// The first `len` bytes of a block's data, or all of them when the length field claims more.
fn captured(data: &[u8], len: u32) -> &[u8] {
    data.get(..len as usize).unwrap_or(data)
}

/// Adds a link type to the list of those seen, once.
fn note_link_type(seen: &mut Vec<LinkType>, link_type: LinkType) {
    if !seen.contains(&link_type) {
        seen.push(link_type);
    }
}

/// Why `pcap-parser` could not read a block, in words for a [`CaptureWarning::Corrupt`].
pub(super) fn describe_parse_error<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("unparseable block ({kind:?})")
        }
        PcapError::HeaderNotRecognized => "unrecognised block header".into(),
        PcapError::ReadError => "read error".into(),
        _ => "unparseable block".into(),
    }
}
