//! Thumbnails of images: at most 320×320, never upscaled, EXIF orientation applied; decoded
//! under a pixel budget so that a decompression bomb is refused, not decoded; made on the
//! blocking pool behind a semaphore (a bounded number at once) and cached on disk by content
//! hash. PNG for images with transparency, JPEG otherwise.

use std::io::{BufReader, BufWriter};
use std::path::Path;

use actix_web::http::StatusCode;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use crate::error::ApiError;

/// Longest side of a thumbnail.
pub const MAX_SIDE: u32 = 320;
/// Largest image decoded, in pixels (width × height): 50 megapixels.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest side decoded.
pub const MAX_DIMENSION: u32 = 20_000;
/// Most memory the decoder may allocate.
pub const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// The file extensions of cached thumbnails, and their types.
pub const FORMATS: [(&str, &str); 2] = [("jpg", "image/jpeg"), ("png", "image/png")];

/// Why no thumbnail was made.
#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    /// Over the pixel budget, or the decoder's memory limit.
    #[error("the image is too large to thumbnail ({0})")]
    TooLarge(String),
    /// Not a decodable image.
    #[error("the image cannot be decoded: {0}")]
    Bad(String),
    /// Reading or writing files.
    #[error("thumbnail file: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ThumbError> for ApiError {
    fn from(e: ThumbError) -> Self {
        match e {
            ThumbError::TooLarge(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "image_too_large",
                e.to_string(),
            ),
            ThumbError::Bad(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_image", e.to_string())
            }
            ThumbError::Io(e) => ApiError::internal(e),
        }
    }
}

fn decode_error(e: image::ImageError) -> ThumbError {
    match e {
        image::ImageError::Limits(l) => ThumbError::TooLarge(l.to_string()),
        other => ThumbError::Bad(other.to_string()),
    }
}

/// The decoder's limits: the pixel budget's sides and the allocation cap.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Makes the thumbnail of the image at `source` and writes it (atomically) to `base` with the
/// extension of its format (`.png` with transparency, `.jpg` otherwise); returns that path.
/// Blocking.
pub fn make(source: &Path, base: &Path) -> Result<std::path::PathBuf, ThumbError> {
    let thumb = render(source)?;
    let dir = base
        .parent()
        .ok_or_else(|| std::io::Error::other("no thumbnail directory"))?;
    let mut out = tempfile::NamedTempFile::new_in(dir)?;
    let (format, extension) = if thumb.color().has_alpha() {
        (image::ImageFormat::Png, "png")
    } else {
        (image::ImageFormat::Jpeg, "jpg")
    };
    let target = base.with_extension(extension);
    {
        let mut writer = BufWriter::new(out.as_file_mut());
        let thumb = if format == image::ImageFormat::Jpeg {
            DynamicImage::ImageRgb8(thumb.to_rgb8())
        } else {
            DynamicImage::ImageRgba8(thumb.to_rgba8())
        };
        thumb
            .write_to(&mut writer, format)
            .map_err(|e| ThumbError::Bad(e.to_string()))?;
        std::io::Write::flush(&mut writer)?;
    }
    out.persist(&target).map_err(|e| e.error)?;
    Ok(target)
}

/// Decodes the image at `source` within the budget, orients it, and shrinks it to fit
/// [`MAX_SIDE`] (never enlarging it).
pub fn render(source: &Path) -> Result<DynamicImage, ThumbError> {
    let file = std::fs::File::open(source)?;
    let mut reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(ThumbError::Io)?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ThumbError::TooLarge(format!(
            "{width}×{height} is over the budget of {MAX_PIXELS} pixels"
        )));
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    image.apply_orientation(orientation);
    if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image = image.thumbnail(MAX_SIDE, MAX_SIDE);
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(dir: &Path, w: u32, h: u32) -> std::path::PathBuf {
        let path = dir.join(format!("{w}x{h}.png"));
        image::RgbImage::new(w, h).save(&path).unwrap();
        path
    }

    #[test]
    fn thumbnails_fit_and_never_upscale() {
        let dir = tempfile::tempdir().unwrap();
        let big = render(&png(dir.path(), 1000, 500)).unwrap();
        assert_eq!((big.width(), big.height()), (320, 160));
        let small = render(&png(dir.path(), 100, 40)).unwrap();
        assert_eq!((small.width(), small.height()), (100, 40));
    }

    /// A PNG whose header claims `w`×`h` pixels, with (almost) no pixel data.
    fn claimed_png(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = 0xffff_ffffu32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xedb8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(
            &mut out,
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn a_bomb_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        // 15000×15000 (225 megapixels) claimed by the header: refused, never decoded.
        let path = dir.path().join("bomb.png");
        std::fs::write(&path, claimed_png(15_000, 15_000)).unwrap();
        assert!(matches!(render(&path), Err(ThumbError::TooLarge(_))));
        // The same header with a small size is a broken image, not a large one.
        std::fs::write(&path, claimed_png(10, 10)).unwrap();
        assert!(matches!(render(&path), Err(ThumbError::Bad(_))));
    }

    #[test]
    fn garbage_is_a_bad_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        assert!(matches!(render(&path), Err(ThumbError::Bad(_))));
    }
}
