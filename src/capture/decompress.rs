//! Compressed captures: a reader in, the capture's bytes out.
//!
//! gzip (RFC 1952; members concatenated, as `cat a.gz b.gz` makes them), Zstandard (RFC 8878;
//! frames concatenated) and xz (streams concatenated) are recognised by their magic numbers at
//! the start of the input — never by the file name — and decompressed as the capture is read,
//! so a compressed capture is streamed like any other. All three decoders are pure Rust
//! (flate2 on miniz_oxide, ruzstd, lzma-rust2). Memory: the decoders' windows (gzip 32 KiB,
//! zstd up to its window size, xz up to [`XZ_MEMORY_LIMIT_KIB`]). bzip2 and LZ4 are recognised
//! but not read: the reader names them ([`super::CaptureError::Compressed`]).
//! A corrupt or cut compressed stream is an I/O error of the returned reader: the capture
//! reader then ends with a warning after the last whole frame, as for a cut capture.

use super::Compression;
use std::io::{self, BufRead, BufReader, Read};

/// The most memory the xz decoder may use, in KiB (xz -9 needs 65 MiB).
pub const XZ_MEMORY_LIMIT_KIB: u32 = 256 << 10;

/// The input, decompressed when it starts with the magic number of gzip, zstd or xz, and the
/// compression found. Reads the first few bytes to tell.
pub fn decompressing<'a, R: Read + Send + 'a>(
    mut input: R,
) -> io::Result<(Box<dyn Read + Send + 'a>, Option<Compression>)> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = head[..got].to_vec();
    let compression = Compression::of(&head);
    let whole = io::Cursor::new(head).chain(input);
    let reader: Box<dyn Read + Send + 'a> = match compression {
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Some(Compression::Zstd) => Box::new(ZstdFrames::new(BufReader::new(whole))?),
        Some(Compression::Xz) => Box::new(lzma_rust2::XzReader::new_mem_limit(
            whole,
            true,
            XZ_MEMORY_LIMIT_KIB,
        )),
        // Not read here: the capture reader names them.
        Some(Compression::Bzip2 | Compression::Lz4) | None => Box::new(whole),
    };
    Ok((reader, compression.filter(|c| c.is_read())))
}

/// Zstandard frames one after another, as concatenated `.zst` files hold them (ruzstd's
/// streaming decoder reads one frame).
struct ZstdFrames<R: BufRead> {
    /// The decoder of the current frame (`None` only while the next one is set up).
    decoder: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> io::Result<Self> {
        let decoder = ruzstd::decoding::StreamingDecoder::new(source).map_err(io::Error::other)?;
        Ok(ZstdFrames {
            decoder: Some(decoder),
        })
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(decoder) = &mut self.decoder else {
                return Ok(0);
            };
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The frame ended: another may follow.
            if decoder.get_mut().fill_buf()?.is_empty() {
                return Ok(0);
            }
            let Some(done) = self.decoder.take() else {
                return Ok(0);
            };
            let (source, frame) = done.into_parts();
            self.decoder = Some(
                ruzstd::decoding::StreamingDecoder::new_with_decoder(source, frame)
                    .map_err(io::Error::other)?,
            );
        }
    }
}
