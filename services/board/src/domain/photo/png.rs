//! PNG: chunks are kept from an allow-list of what draws the image (its colour and timing
//! too); text (`tEXt`, `zTXt`, `iTXt`, which carry XMP), `eXIf`, `tIME` and private chunks go.

use super::Stripped;

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

const DRAWING: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP",
    b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

pub(super) fn strip(input: &[u8]) -> Result<Stripped, &'static str> {
    if !input.starts_with(SIGNATURE) {
        return Err("no PNG signature");
    }
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(SIGNATURE);
    let mut removed = false;
    let mut pos = SIGNATURE.len();
    loop {
        let header = input.get(pos..pos + 8).ok_or("truncated PNG")?;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind: &[u8] = &header[4..8];
        // length, type, data and CRC
        let end = pos
            .checked_add(12 + length)
            .filter(|&end| end <= input.len())
            .ok_or("a PNG chunk runs past the end")?;
        if DRAWING.iter().any(|k| k.as_slice() == kind) {
            out.extend_from_slice(&input[pos..end]);
        } else {
            removed = true;
        }
        pos = end;
        if kind == b"IEND" {
            removed |= pos < input.len();
            break;
        }
    }
    Ok(Stripped::from(out, removed))
}
