//! Opaque ink's segments drawn straight into pixels: a round-capped segment is a capsule (the
//! points within half its width of the segment), and each pixel's coverage follows from its
//! centre's distance to the segment, one pixel wide ramp at the edge.
//!
//! This is the hot path of an export: a 4K page of 2,000 pen strokes is ~80,000 segments,
//! and tiny-skia turning each into an outline (two half-circles as curves) and scan-converting
//! all of them took ~250 ms of the 390 ms export on this 2-core machine; drawn here they take
//! ~95 ms (26 M pixels looked at, 12 M inked; what is left is per row of a capsule: ~17 rows
//! of ~20 pixels each, too short to amortise a row's setup). Each capsule is
//! composited on its own (source over), as the canvas strokes each segment on its own: where
//! two overlap at an edge, the coverages combine as `a + b - ab`, which is what the canvas
//! shows. Only the anti-aliased edge pixels differ from tiny-skia's rasterization (its
//! coverage is a 4x supersampled area, this a distance ramp), by a few levels of 255.
//!
//! Capsules whose box is larger than [`MAX_BOX_PIXELS`] are left to tiny-skia (the caller's
//! fallback), whose cost does not grow with how much of one huge stroke overlaps the next:
//! a participant's page of very wide segments costs here no more than it costs there.

/// A round-capped segment in pixels: from `a` to `b`, `radius` half its width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Capsule {
    pub a: [f32; 2],
    pub b: [f32; 2],
    pub radius: f32,
}

/// The most pixels a capsule's box may hold to be drawn here (a 128 x 128 box).
pub(crate) const MAX_BOX_PIXELS: f32 = 16_384.0;

impl Capsule {
    /// Its box in pixels, with room for the one-pixel anti-aliased edge:
    /// `[left, top, right, bottom]`.
    fn bounds(&self) -> [f32; 4] {
        let pad = self.radius + 1.0;
        [
            self.a[0].min(self.b[0]) - pad,
            self.a[1].min(self.b[1]) - pad,
            self.a[0].max(self.b[0]) + pad,
            self.a[1].max(self.b[1]) + pad,
        ]
    }

    /// Whether it is drawn here: finite, of a width, and a box of at most [`MAX_BOX_PIXELS`].
    pub(crate) fn fits(&self) -> bool {
        let [l, t, r, b] = self.bounds();
        // `min` and `max` pass over NaN, so the points are checked themselves.
        let finite = [
            self.a[0],
            self.a[1],
            self.b[0],
            self.b[1],
            self.radius,
            l,
            t,
            r,
            b,
        ]
        .iter()
        .all(|v| v.is_finite());
        finite && self.radius > 0.0 && (r - l) * (b - t) <= MAX_BOX_PIXELS
    }
}

/// Draws `capsule` in opaque `rgb` over premultiplied RGBA `data` (`width` pixels a row, as
/// many rows as it holds), rows and columns outside it clipped. A capsule that does not
/// [`Capsule::fits`] is not drawn.
pub(crate) fn draw(data: &mut [u8], width: usize, capsule: &Capsule, rgb: [u8; 3]) {
    if !capsule.fits() || width == 0 {
        return;
    }
    let rows = data.len() / (width * 4);
    let [l, t, r, b] = capsule.bounds();
    // Pixels whose centre may lie within the ramp; the box is small and finite, so these
    // conversions neither overflow nor wrap (negative values clamp to 0).
    let (x0, x1) = (
        (l.floor().max(0.0)) as usize,
        (r.ceil().max(0.0) as usize).min(width),
    );
    let (y0, y1) = (
        (t.floor().max(0.0)) as usize,
        (b.ceil().max(0.0) as usize).min(rows),
    );
    let [ax, ay] = capsule.a;
    let (dx, dy) = (capsule.b[0] - ax, capsule.b[1] - ay);
    let length2 = dx * dx + dy * dy;
    let inverse = if length2 > 0.0 { 1.0 / length2 } else { 0.0 };
    let radius = capsule.radius;
    // Coverage is `radius + 0.5 - distance` (a one-pixel ramp centred on the edge), capped at
    // `2 * radius` so a line thinner than a pixel puts down as much ink as its width.
    let (outer, cap) = (radius + 0.5, (2.0 * radius).min(1.0));
    let ink = [rgb[0], rgb[1], rgb[2], 255].map(u16::from);
    // A run of a row is worked out in two passes without branches, which the compiler does
    // several pixels at a time: each pixel's coverage as 0-255, then each pixel blended,
    // `ink * a + under * (255 - a)` over 255 (a pixel of no coverage comes out as it was, a
    // covered one as the ink). Skipping uncovered pixels and writing covered ones whole took
    // longer: those branches were unpredictable.
    let mut alpha = [0u16; RUN];
    for y in y0..y1 {
        let py = y as f32 + 0.5 - ay;
        let row = &mut data[y * width * 4..(y + 1) * width * 4];
        let mut start = x0;
        while start < x1 {
            let run = (x1 - start).min(RUN);
            let first = start as f32 + 0.5 - ax;
            for (i, a) in alpha[..run].iter_mut().enumerate() {
                let px = first + i as f32;
                let along = ((px * dx + py * dy) * inverse).clamp(0.0, 1.0);
                let (ex, ey) = (px - along * dx, py - along * dy);
                let coverage = (outer - (ex * ex + ey * ey).sqrt()).min(cap);
                // `as` saturates: below 0 is 0; the clamp keeps 255 the most.
                *a = (coverage * 255.0 + 0.5).clamp(0.0, 255.0) as u16;
            }
            let pixels = &mut row[start * 4..(start + run) * 4];
            for (pixel, &a) in pixels.chunks_exact_mut(4).zip(&alpha) {
                for (byte, source) in pixel.iter_mut().zip(ink) {
                    *byte = div255(source * a + u16::from(*byte) * (255 - a));
                }
            }
            start += run;
        }
    }
}

/// Pixels of a row whose coverage is worked out together.
const RUN: usize = 64;

/// `value / 255` rounded, for `value` up to 255 * 255 (all in 16 bits: eight at a time).
fn div255(value: u16) -> u8 {
    let v = value + 128;
    ((v + (v >> 8)) >> 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `capsule` drawn in black on white paper of `width` x `height`.
    fn drawn(width: usize, height: usize, capsule: Capsule) -> Vec<u8> {
        let mut data = [255u8; 4].repeat(width * height);
        draw(&mut data, width, &capsule, [0, 0, 0]);
        data
    }

    #[test]
    fn div255_rounds_every_product() {
        for a in 0..=255u16 {
            for b in 0..=255u16 {
                let exact = (f64::from(a) * f64::from(b) / 255.0).round() as u8;
                assert_eq!(div255(a * b), exact, "{a} x {b}");
            }
        }
    }

    /// A horizontal capsule 10 px wide: full inside, paper outside, the ramp between, and
    /// the ink it puts down is its area (a rectangle and two half discs).
    #[test]
    fn a_capsule_covers_its_area() {
        let (w, h) = (80, 40);
        let capsule = Capsule {
            a: [20.0, 20.0],
            b: [60.0, 20.0],
            radius: 5.0,
        };
        let data = drawn(w, h, capsule);
        let at = |x: usize, y: usize| data[(y * w + x) * 4];
        assert_eq!(at(40, 20), 0, "inside");
        assert_eq!(at(40, 10), 255, "outside");
        assert_eq!(at(10, 20), 255, "past the cap");
        assert_eq!(at(16, 20), 0, "within the cap");
        let ink: f64 = data
            .chunks_exact(4)
            .map(|p| f64::from(255 - p[0]) / 255.0)
            .sum();
        let area = 40.0 * 10.0 + std::f64::consts::PI * 25.0;
        assert!((ink - area).abs() < area * 0.01, "{ink} vs {area}");
        assert!(data.chunks_exact(4).all(|p| p[3] == 255));
    }

    /// Clipped at every side without a panic: what reaches the pixels is drawn there, what
    /// lies wholly outside draws nothing.
    #[test]
    fn capsules_off_the_edges_are_clipped() {
        let (w, h) = (16, 8);
        for (a, b, inked) in [
            ([-5.0, -5.0], [3.0, 3.0], Some((1, 1))),
            ([14.0, 7.0], [30.0, 20.0], Some((15, 7))),
            ([8.0, -40.0], [8.0, 40.0], Some((8, 0))),
            ([-100.0, 4.0], [-50.0, 4.0], None),
            ([20.0, 20.0], [40.0, 30.0], None),
        ] {
            let data = drawn(w, h, Capsule { a, b, radius: 3.0 });
            let ink: Vec<(usize, usize)> = (0..w * h)
                .filter(|i| data[i * 4] < 255)
                .map(|i| (i % w, i / w))
                .collect();
            match inked {
                Some(pixel) => assert!(ink.contains(&pixel), "{a:?}-{b:?}: {ink:?}"),
                None => assert!(ink.is_empty(), "{a:?}-{b:?}: {ink:?}"),
            }
        }
    }

    /// Too large a box, a zero or non-finite radius or point: not drawn here.
    #[test]
    fn only_small_finite_capsules_fit() {
        let c = |a: [f32; 2], b: [f32; 2], radius| Capsule { a, b, radius };
        assert!(c([0.0, 0.0], [10.0, 0.0], 4.0).fits());
        assert!(!c([0.0, 0.0], [10.0, 0.0], 200.0).fits());
        assert!(!c([0.0, 0.0], [3000.0, 3000.0], 2.0).fits());
        assert!(!c([0.0, 0.0], [10.0, 0.0], 0.0).fits());
        assert!(!c([f32::NAN, 0.0], [10.0, 0.0], 2.0).fits());
        assert!(!c([0.0, 0.0], [f32::INFINITY, 0.0], 2.0).fits());
    }

    /// A line thinner than a pixel puts down as much ink as its width, not a pixel's worth.
    #[test]
    fn a_hairline_puts_down_its_width_of_ink() {
        let (w, h) = (64, 16);
        let capsule = Capsule {
            a: [10.0, 8.3],
            b: [54.0, 8.3],
            radius: 0.15,
        };
        let data = drawn(w, h, capsule);
        let column: f64 = (0..h)
            .map(|y| f64::from(255 - data[(y * w + 30) * 4]) / 255.0)
            .sum();
        assert!((column - 0.3).abs() < 0.03, "{column}");
    }
}
