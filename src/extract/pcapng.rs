//! A pcapng writer for extracts: one little-endian section, one interface per link type (with
//! nanosecond timestamps), Enhanced Packet Blocks with an optional comment, and a Decryption
//! Secrets Block. Every length field is computed from the bytes written: an option value longer
//! than 65,535 bytes is cut, so no field can lie about what follows.

use crate::capture::{Frame, LinkType};
use std::io::{self, Write};

// pcapng block types and option codes.
const SECTION_HEADER: u32 = 0x0A0D_0D0A;
const INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
const ENHANCED_PACKET: u32 = 0x0000_0006;
const DECRYPTION_SECRETS: u32 = 0x0000_000A;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_TSRESOL: u16 = 9;
const TLS_KEY_LOG: u32 = 0x544c_534b;

/// Longest pcapng option value: its length field has 16 bits.
pub(super) const MAX_OPTION_BYTES: usize = u16::MAX as usize;

/// Writes one pcapng section.
pub(super) struct PcapngWriter<W: Write> {
    out: W,
    interfaces: Vec<LinkType>,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts the section: its header names the writing application.
    pub fn new(mut out: W) -> io::Result<PcapngWriter<W>> {
        let mut shb = Vec::new();
        shb.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        option(
            &mut shb,
            SHB_USERAPPL,
            format!("alpnscope {}", env!("CARGO_PKG_VERSION")).as_bytes(),
        );
        option(&mut shb, OPT_END, &[]);
        block(&mut out, SECTION_HEADER, &shb)?;
        Ok(PcapngWriter {
            out,
            interfaces: Vec::new(),
        })
    }

    /// A Decryption Secrets Block holding NSS key log `lines`.
    pub fn key_log(&mut self, lines: &str) -> io::Result<()> {
        let mut dsb = Vec::new();
        dsb.extend_from_slice(&TLS_KEY_LOG.to_le_bytes());
        dsb.extend_from_slice(&(lines.len() as u32).to_le_bytes());
        dsb.extend_from_slice(lines.as_bytes());
        dsb.extend(std::iter::repeat_n(0u8, pad4(lines.len())));
        block(&mut self.out, DECRYPTION_SECRETS, &dsb)
    }

    /// The interface of `link_type`, described on first use.
    fn interface(&mut self, link_type: LinkType) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|l| *l == link_type) {
            return Ok(i as u32);
        }
        let mut idb = Vec::new();
        idb.extend_from_slice(&(link_type.0 as u16).to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        option(&mut idb, IF_TSRESOL, &[9]);
        option(&mut idb, OPT_END, &[]);
        block(&mut self.out, INTERFACE_DESCRIPTION, &idb)?;
        self.interfaces.push(link_type);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// One packet: `data` (the frame's bytes, possibly rewritten) with the frame's time, original
    /// length and link type, and an optional comment.
    pub fn packet(
        &mut self,
        frame: &Frame<'_>,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let interface = self.interface(frame.link_type)?;
        let ns = frame.timestamp.0.max(0) as u64;
        let mut epb = Vec::with_capacity(32 + data.len());
        epb.extend_from_slice(&interface.to_le_bytes());
        epb.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ns as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&frame.original_len.to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend(std::iter::repeat_n(0u8, pad4(data.len())));
        if let Some(comment) = comment {
            option(&mut epb, OPT_COMMENT, comment.as_bytes());
            option(&mut epb, OPT_END, &[]);
        }
        block(&mut self.out, ENHANCED_PACKET, &epb)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Appends one option. A value longer than an option can hold is cut, so the length field
/// never lies about the bytes that follow; text goes through [`fit_option_text`] first.
fn option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = &value[..value.len().min(MAX_OPTION_BYTES)];
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.extend(std::iter::repeat_n(0u8, pad4(value.len())));
}

/// `text` cut at a character boundary to fit an option value (pcapng options hold UTF-8),
/// ending in `…` when something was cut.
pub(super) fn fit_option_text(mut text: String) -> String {
    if text.len() <= MAX_OPTION_BYTES {
        return text;
    }
    let mut end = MAX_OPTION_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

fn block(out: &mut dyn Write, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = (12 + body.len() + pad4(body.len())) as u32;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0u8; 3][..pad4(body.len())])?;
    out.write_all(&total.to_le_bytes())
}
