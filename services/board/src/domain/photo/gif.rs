//! GIF: the block stream is walked to the trailer. Images and their graphic control stay,
//! and so does the looping extension of animations; comments, plain-text blocks and every
//! other application extension (XMP lives in one) go, and nothing after the trailer stays.

use super::Stripped;

const EXTENSION: u8 = 0x21;
const IMAGE: u8 = 0x2C;
const TRAILER: u8 = 0x3B;
const GRAPHIC_CONTROL: u8 = 0xF9;
const APPLICATION: u8 = 0xFF;

/// The position just past a run of data sub-blocks starting at `pos`.
fn sub_blocks_end(input: &[u8], mut pos: usize) -> Result<usize, &'static str> {
    loop {
        let size = *input.get(pos).ok_or("truncated GIF")? as usize;
        pos += 1 + size;
        if size == 0 {
            return Ok(pos);
        }
        if pos > input.len() {
            return Err("truncated GIF");
        }
    }
}

/// The size of the colour table a packed field announces, if any.
fn color_table(packed: u8) -> usize {
    if packed & 0x80 != 0 { 3 << ((packed & 0x07) + 1) } else { 0 }
}

fn keeps_extension(label: u8, body: &[u8]) -> bool {
    match label {
        GRAPHIC_CONTROL => true,
        // The first sub-block of an application extension is its 11-byte identifier.
        APPLICATION => matches!(body.get(..12), Some(b"\x0bNETSCAPE2.0" | b"\x0bANIMEXTS1.0")),
        _ => false,
    }
}

pub(super) fn strip(input: &[u8]) -> Result<Stripped, &'static str> {
    if input.len() < 13 || !(input.starts_with(b"GIF87a") || input.starts_with(b"GIF89a")) {
        return Err("no GIF header");
    }
    let header_end = 13 + color_table(input[10]);
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(input.get(..header_end).ok_or("truncated GIF")?);
    let mut removed = false;
    let mut pos = header_end;
    loop {
        match *input.get(pos).ok_or("truncated GIF")? {
            IMAGE => {
                let packed = *input.get(pos + 9).ok_or("truncated GIF")?;
                // descriptor, local colour table, LZW minimum code size, then the data
                let data = pos + 10 + color_table(packed) + 1;
                let end = sub_blocks_end(input, data)?;
                out.extend_from_slice(&input[pos..end]);
                pos = end;
            }
            EXTENSION => {
                let label = *input.get(pos + 1).ok_or("truncated GIF")?;
                let end = sub_blocks_end(input, pos + 2)?;
                if keeps_extension(label, &input[pos + 2..end]) {
                    out.extend_from_slice(&input[pos..end]);
                } else {
                    removed = true;
                }
                pos = end;
            }
            TRAILER => {
                out.push(TRAILER);
                removed |= pos + 1 < input.len();
                break;
            }
            _ => return Err("not a GIF block"),
        }
    }
    Ok(Stripped::from(out, removed))
}
