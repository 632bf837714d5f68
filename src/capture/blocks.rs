//! One parsed block in, its frame or secrets out: the state both readers share.
//!
//! Takes the blocks `pcap-parser` cut out of the input (a pcap file header and records; pcapng
//! section headers, interface descriptions, enhanced, simple and decryption-secrets blocks) and
//! emits a [`CaptureEvent`] per packet or secrets block, numbering packet blocks 1-based in file
//! order whatever their interface, as Wireshark does. Every field is untrusted: captured lengths
//! are clamped to the bytes present and timestamps saturate, so no block can cause a panic.
//! Memory is bounded by the interfaces of the current section (a new section forgets them).

use super::{
    CaptureEvent, CaptureFormat, CaptureSummary, CaptureWarning, Frame, LinkType, Timestamp,
};
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};

/// Largest single block accepted; a larger length field is taken as a lie.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

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
pub(super) struct BlockHandler {
    pub(super) summary: CaptureSummary,
    interfaces: Vec<Interface>,
    warned_interfaces: bool,
    last_time: Timestamp,
}

impl BlockHandler {
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
            },
            interfaces: Vec::new(),
            warned_interfaces: false,
            last_time: Timestamp(0),
        }
    }

    /// Handles one block, emitting its frame or secrets.
    pub(super) fn block(
        &mut self,
        block: PcapBlockOwned<'_>,
        on_event: &mut dyn FnMut(CaptureEvent<'_>),
    ) {
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

    pub(super) fn stop(&mut self, warning: impl FnOnce(u64) -> CaptureWarning) {
        let w = warning(self.summary.packets);
        self.summary.warnings.push(w);
    }
}

fn note_link_type(seen: &mut Vec<LinkType>, link_type: LinkType) {
    if !seen.contains(&link_type) {
        seen.push(link_type);
    }
}

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
