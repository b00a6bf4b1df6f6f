//! What an uploaded photo must be, and what of it is kept.
//!
//! A photo is told by its bytes (the declared type is ignored), its container is walked end
//! to end with every metadata block removed (Exif with its GPS position, XMP, IPTC, text
//! chunks, comments: an anonymous post must not say where or by whose camera it was taken),
//! nothing after the image's end is kept (the other half of a polyglot), and what remains
//! must decode as an image of that type within the pixel and memory limits, so a
//! decompression bomb is refused before it costs more. The pixels are never re-encoded: an
//! image without metadata is stored byte for byte.

mod gif;
mod jpeg;
mod png;
mod webp;

use std::io::Cursor;

use campus_shared::error::{Error, Result};
use image::{ImageFormat, ImageReader, Limits};

use super::reason;

/// Largest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// Widest and tallest photo accepted, in pixels (a long panorama fits).
pub const MAX_SIDE: u32 = 16_384;
/// The most memory decoding one photo may take: a 48-megapixel photo, 8 bits per channel.
pub const MAX_DECODE_BYTES: u64 = 48_000_000 * 3;

/// A checked photo: its type and the bytes to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// What a container walk gives back: the bytes without metadata, or `None` when there was
/// nothing to remove (the upload is then stored as it came).
pub(super) struct Stripped(Option<Vec<u8>>);

impl Stripped {
    fn from(bytes: Vec<u8>, removed: bool) -> Self {
        Self(removed.then_some(bytes))
    }
}

/// The image type of `bytes`, told from their first bytes; the declared type is ignored.
pub fn sniff(bytes: &[u8]) -> Option<(&'static str, ImageFormat)> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some(("image/jpeg", ImageFormat::Jpeg)),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(("image/png", ImageFormat::Png)),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(("image/gif", ImageFormat::Gif)),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => {
            Some(("image/webp", ImageFormat::WebP))
        }
        _ => None,
    }
}

fn unsupported(why: impl std::fmt::Display) -> Error {
    Error::invalid_because(
        reason::UNSUPPORTED_IMAGE,
        "photo",
        format!("must be a JPEG, PNG, WebP or GIF image ({why})"),
    )
}

/// Checks an upload and returns what to store. CPU-bound (it decodes the image): run it
/// off the async runtime.
pub fn prepare(upload: Vec<u8>) -> Result<Photo> {
    if upload.len() > MAX_PHOTO_BYTES {
        return Err(Error::invalid_because(
            reason::PHOTO_TOO_LARGE,
            "photo",
            format!("must be at most {MAX_PHOTO_BYTES} bytes"),
        ));
    }
    let (content_type, format) = sniff(&upload).ok_or_else(|| unsupported("unknown type"))?;
    let stripped = match format {
        ImageFormat::Jpeg => jpeg::strip(&upload),
        ImageFormat::Png => png::strip(&upload),
        ImageFormat::Gif => gif::strip(&upload),
        _ => webp::strip(&upload),
    }
    .map_err(unsupported)?;
    let bytes = stripped.0.unwrap_or(upload);
    decode(&bytes, format)?;
    Ok(Photo { content_type, bytes })
}

/// Decodes the image (the first frame of an animation) within the limits.
fn decode(bytes: &[u8], format: ImageFormat) -> Result<()> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    match reader.decode() {
        Ok(_) => Ok(()),
        Err(image::ImageError::Limits(_)) => Err(Error::invalid_because(
            reason::PHOTO_TOO_LARGE,
            "photo",
            format!("must be at most {MAX_SIDE}×{MAX_SIDE} pixels and 48 megapixels"),
        )),
        Err(e) => Err(unsupported(format!("does not decode: {e}"))),
    }
}

#[cfg(test)]
#[path = "../../tests/fixtures/images.rs"]
mod images;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tonic_types::StatusExt;

    use super::images::*;
    use super::*;

    fn reason_of(err: Error) -> String {
        let status: tonic::Status = err.into();
        status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
    }

    #[test]
    fn types_are_told_by_their_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).map(|t| t.0), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest").map(|t| t.0), Some("image/png"));
        assert_eq!(sniff(b"GIF87a..").map(|t| t.0), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").map(|t| t.0), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"<svg></svg>"), None);
    }

    #[test]
    fn images_without_metadata_are_kept_byte_for_byte() {
        for (image, content_type) in
            [(jpeg(), "image/jpeg"), (png(), "image/png"), (gif(), "image/gif"), (webp(), "image/webp")]
        {
            let photo = prepare(image.clone()).unwrap();
            assert_eq!(photo.content_type, content_type);
            assert!(photo.bytes == image, "{content_type} was rewritten");
        }
    }

    #[test]
    fn metadata_and_trailing_data_are_stripped_from_every_format() {
        for (image, plain) in [
            (jpeg_with_metadata(), jpeg()),
            (png_with_metadata(), png()),
            (gif_with_metadata(), gif()),
            (webp_with_metadata(), webp()),
        ] {
            let photo = prepare(image).unwrap();
            assert_no_metadata(&photo.bytes);
            // What is left decodes (prepare checked) and is the plain image again, except
            // WebP's extended header, which stays with its metadata flags cleared.
            if photo.content_type == "image/webp" {
                assert!(contains(&photo.bytes, &plain[12..]), "the VP8L chunk is intact");
                assert_eq!(photo.bytes[20] & 0x0C, 0, "VP8X flags no Exif or XMP");
            } else {
                assert!(photo.bytes == plain, "{} differs from the plain image", photo.content_type);
            }
        }
        assert_eq!(jpeg_markers(&prepare(jpeg_with_metadata()).unwrap().bytes), jpeg_markers(&jpeg()));
        assert!(jpeg_markers(&jpeg_with_metadata()).contains(&0xE1), "the fixture has Exif");
    }

    #[test]
    fn stripping_twice_changes_nothing() {
        let once = prepare(webp_with_metadata()).unwrap().bytes;
        assert!(prepare(once.clone()).unwrap().bytes == once);
    }

    #[test]
    fn a_gif_html_polyglot_is_refused() {
        assert_eq!(reason_of(prepare(gif_html_polyglot()).unwrap_err()), "UNSUPPORTED_IMAGE");
    }

    #[test]
    fn truncated_and_corrupt_images_are_refused() {
        for image in [jpeg(), png(), gif(), webp()] {
            let half = image[..image.len() / 2].to_vec();
            assert_eq!(reason_of(prepare(half).unwrap_err()), "UNSUPPORTED_IMAGE");
        }
        let mut scrambled = png();
        let idat = scrambled.len() - 20;
        scrambled[idat] ^= 0xFF;
        assert_eq!(reason_of(prepare(scrambled).unwrap_err()), "UNSUPPORTED_IMAGE");
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        assert_eq!(reason_of(prepare(png_bomb()).unwrap_err()), "PHOTO_TOO_LARGE");
        assert_eq!(reason_of(prepare(vec![0xFF; MAX_PHOTO_BYTES + 1]).unwrap_err()), "PHOTO_TOO_LARGE");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_bytes_after_a_known_header_are_refused_or_stripped_without_panicking(
            format in 0usize..4,
            cut in 0usize..400,
            noise in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let image = [jpeg_with_metadata, png_with_metadata, gif_with_metadata, webp_with_metadata][format]();
            let cut = cut.min(image.len());
            let mangled = [&image[..cut], &noise[..]].concat();
            if let Ok(photo) = prepare(mangled) {
                prop_assert!(!contains(&photo.bytes, b"Exif\0\0"));
            }
        }
    }
}
