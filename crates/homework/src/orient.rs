//! Turning a picture upright, fast: `image`'s quarter turns copy pixel by pixel down columns
//! (~30 ms for 5 megapixels here); copying in tiles keeps both pictures in cache (~8 ms).

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

/// Tiles of this many pixels a side are copied at a time.
const TILE: u32 = 32;

/// `image` (8 bits a channel: grey, RGB or RGBA) turned and mirrored by `orientation`, exactly
/// as [`DynamicImage::apply_orientation`] does it.
pub(crate) fn apply(mut image: DynamicImage, orientation: Orientation) -> DynamicImage {
    // For each orientation that swaps the sides, where output pixel (x, y) comes from in a
    // `w` x `h` source.
    let source: fn(u32, u32, u32, u32) -> (u32, u32) = match orientation {
        Orientation::Rotate90 => |x, y, _w, h| (y, h - 1 - x),
        Orientation::Rotate270 => |x, y, w, _h| (w - 1 - y, x),
        Orientation::Rotate90FlipH => |x, y, _w, _h| (y, x),
        Orientation::Rotate270FlipH => |x, y, w, h| (w - 1 - y, h - 1 - x),
        // Flips and half turns are done in place, and cheaply, by image.
        _ => {
            image.apply_orientation(orientation);
            return image;
        }
    };
    let (w, h) = (image.width(), image.height());
    let channels = usize::from(image.color().channel_count());
    let from = image.as_bytes();
    let mut to = vec![0u8; from.len()];
    // The output is h pixels across and w down.
    let (out_w, out_h) = (h, w);
    for tile_y in (0..out_h).step_by(TILE as usize) {
        for tile_x in (0..out_w).step_by(TILE as usize) {
            for y in tile_y..(tile_y + TILE).min(out_h) {
                for x in tile_x..(tile_x + TILE).min(out_w) {
                    let (sx, sy) = source(x, y, w, h);
                    let at = (sy as usize * w as usize + sx as usize) * channels;
                    let into = (y as usize * out_w as usize + x as usize) * channels;
                    to[into..into + channels].copy_from_slice(&from[at..at + channels]);
                }
            }
        }
    }
    let turned = match channels {
        1 => GrayImage::from_raw(out_w, out_h, to).map(DynamicImage::from),
        4 => RgbaImage::from_raw(out_w, out_h, to).map(DynamicImage::from),
        _ => RgbImage::from_raw(out_w, out_h, to).map(DynamicImage::from),
    };
    turned.unwrap_or_else(|| {
        // Unreachable (same bytes, sides swapped); image's own way is the safe fallback.
        image.apply_orientation(orientation);
        image
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_orientation_matches_image() {
        let rgb = RgbImage::from_fn(37, 70, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        let pictures = [
            DynamicImage::ImageRgb8(rgb.clone()),
            DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).into_rgba8()),
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb).into_luma8()),
        ];
        for picture in pictures {
            for exif in 1..=8 {
                let orientation = Orientation::from_exif(exif).unwrap_or(Orientation::NoTransforms);
                let mut expected = picture.clone();
                expected.apply_orientation(orientation);
                assert_eq!(
                    apply(picture.clone(), orientation),
                    expected,
                    "{orientation:?}"
                );
            }
        }
    }
}
