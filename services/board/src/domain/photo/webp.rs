//! WebP: a RIFF container. The image chunks stay; `EXIF`, `XMP ` and unknown chunks go, and
//! the extended header (`VP8X`) stops announcing what was removed.

use super::Stripped;

const KEPT: &[&[u8; 4]] = &[b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];
/// `VP8X` flags of the Exif and XMP chunks.
const METADATA_FLAGS: u8 = 0x08 | 0x04;

pub(super) fn strip(input: &[u8]) -> Result<Stripped, &'static str> {
    if input.len() < 12 || &input[..4] != b"RIFF" || &input[8..12] != b"WEBP" {
        return Err("no WebP header");
    }
    let riff_size = u32::from_le_bytes([input[4], input[5], input[6], input[7]]) as usize;
    let riff_end = 8usize.checked_add(riff_size).filter(|&e| e <= input.len()).ok_or("truncated WebP")?;
    let mut chunks = Vec::with_capacity(riff_end);
    let mut removed = riff_end < input.len();
    let mut pos = 12;
    while pos < riff_end {
        let header = input.get(pos..pos + 8).ok_or("truncated WebP chunk")?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let padded = size + (size & 1);
        let end = pos
            .checked_add(8 + padded)
            .filter(|&end| end <= riff_end)
            .ok_or("a WebP chunk runs past the end")?;
        let kind: &[u8] = &header[..4];
        if KEPT.iter().any(|k| k.as_slice() == kind) {
            let start = chunks.len();
            chunks.extend_from_slice(&input[pos..end]);
            if kind == b"VP8X" && size > 0 && chunks[start + 8] & METADATA_FLAGS != 0 {
                chunks[start + 8] &= !METADATA_FLAGS;
                removed = true;
            }
        } else {
            removed = true;
        }
        pos = end;
    }
    let mut out = Vec::with_capacity(12 + chunks.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&u32::try_from(4 + chunks.len()).map_err(|_| "WebP too large")?.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(Stripped::from(out, removed))
}
