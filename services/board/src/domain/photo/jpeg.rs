//! JPEG: every marker segment is walked, including those between the scans of a progressive
//! image and after the last one, so metadata cannot hide behind the first scan.

use super::Stripped;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const COM: u8 = 0xFE;
const APP0: u8 = 0xE0;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;

/// Whether a segment is what a decoder needs: everything but application segments and
/// comments, except JFIF's APP0, an ICC colour profile (APP2) and Adobe's colour transform
/// (APP14). Gone are Exif (with GPS) and XMP in APP1, MPF and its appended images in APP2,
/// IPTC in APP13 and the rest.
fn keeps(marker: u8, payload: &[u8]) -> bool {
    match marker {
        APP0 => payload.starts_with(b"JFIF\0"),
        APP2 => payload.starts_with(b"ICC_PROFILE\0"),
        APP14 => payload.starts_with(b"Adobe"),
        0xE1..=0xEF | COM => false,
        _ => true,
    }
}

/// The end of the entropy-coded data that starts at `from`: the next 0xFF that is neither
/// a stuffed zero nor a restart marker.
fn entropy_end(input: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 1 < input.len() {
        if input[i] == 0xFF && !matches!(input[i + 1], 0x00 | 0xD0..=0xD7) {
            return i;
        }
        i += 1;
    }
    input.len()
}

pub(super) fn strip(input: &[u8]) -> Result<Stripped, &'static str> {
    if !input.starts_with(&[0xFF, SOI]) {
        return Err("no JPEG start marker");
    }
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..2]);
    let mut removed = false;
    let mut pos = 2;
    loop {
        if input.get(pos) != Some(&0xFF) {
            return Err("expected a JPEG marker");
        }
        while input.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *input.get(pos + 1).ok_or("truncated JPEG")?;
        match marker {
            EOI => {
                out.extend_from_slice(&[0xFF, EOI]);
                // Whatever follows the image (another image, an archive, HTML) is not kept.
                removed |= pos + 2 < input.len();
                break;
            }
            SOI => return Err("a second JPEG start marker"),
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                pos += 2;
                continue;
            }
            _ => {}
        }
        let length = u16::from_be_bytes([
            *input.get(pos + 2).ok_or("truncated JPEG")?,
            *input.get(pos + 3).ok_or("truncated JPEG")?,
        ]) as usize;
        let end = pos + 2 + length;
        if length < 2 || end > input.len() {
            return Err("a JPEG segment runs past the end");
        }
        if keeps(marker, &input[pos + 4..end]) {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&input[pos + 2..end]);
        } else {
            removed = true;
        }
        pos = end;
        if marker == SOS {
            let scan_end = entropy_end(input, pos);
            out.extend_from_slice(&input[pos..scan_end]);
            pos = scan_end;
        }
    }
    Ok(Stripped::from(out, removed))
}
