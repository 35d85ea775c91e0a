//! The cover's background: a gradient, a soft vignette and a seeded geometric motif (circles,
//! waves or stripes) drawn anti-aliased with tiny-skia.

use std::f32::consts::PI;

use tiny_skia::{Color, FillRule, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, Transform};

use crate::palette::{Palette, with_alpha};
use guest_support::seed::Sequence;

/// Where the vignette starts, as a share of the distance from the centre to a corner.
const VIGNETTE_START: f32 = 0.55;
/// How far the corners are pulled towards the shade colour.
const VIGNETTE_STRENGTH: f32 = 0.45;
/// Straight segments per wave period; enough that anti-aliasing hides the corners.
const WAVE_STEPS_PER_PERIOD: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Motif {
    Circles,
    Waves,
    Stripes,
}

pub fn paint_background(pixmap: &mut Pixmap, palette: &Palette, sequence: &mut Sequence) {
    paint_gradient(pixmap, palette, sequence.range(0.0, 2.0 * PI));
    let motif = [Motif::Circles, Motif::Waves, Motif::Stripes][sequence.below(3)];
    match motif {
        Motif::Circles => circles(pixmap, palette, sequence),
        Motif::Waves => waves(pixmap, palette, sequence),
        Motif::Stripes => stripes(pixmap, palette, sequence),
    }
}

/// A three-stop linear gradient at `angle`, darkened towards the corners by a vignette.
/// Written straight into the pixels in one pass: tiny-skia's shader pipeline is several times
/// slower under WebAssembly, and every pixel is opaque so premultiplying changes nothing.
fn paint_gradient(pixmap: &mut Pixmap, palette: &Palette, angle: f32) {
    let width = pixmap.width() as usize;
    let center_x = pixmap.width() as f32 / 2.0;
    let center_y = pixmap.height() as f32 / 2.0;
    let (sin, cos) = angle.sin_cos();
    // Half the gradient's length: the extent of the image along its direction.
    let reach = center_x * cos.abs() + center_y * sin.abs();
    let half_diagonal = center_x.hypot(center_y);
    let channels = |color: Color| [color.red(), color.green(), color.blue()];
    let stops = palette.background.map(channels);
    let shade = channels(palette.shade);
    for (row, pixels) in pixmap.data_mut().chunks_exact_mut(width * 4).enumerate() {
        let dy = row as f32 + 0.5 - center_y;
        for (column, pixel) in pixels.chunks_exact_mut(4).enumerate() {
            let dx = column as f32 + 0.5 - center_x;
            let along = ((dx * cos + dy * sin) / reach * 0.5 + 0.5).clamp(0.0, 1.0);
            let (from, to, mix) = if along < 0.5 {
                (stops[0], stops[1], along * 2.0)
            } else {
                (stops[1], stops[2], along * 2.0 - 1.0)
            };
            let distance = dx.hypot(dy) / half_diagonal;
            let vignette = ((distance - VIGNETTE_START) / (1.0 - VIGNETTE_START)).clamp(0.0, 1.0)
                * VIGNETTE_STRENGTH;
            for channel in 0..3 {
                let base = from[channel] + (to[channel] - from[channel]) * mix;
                let value = base + (shade[channel] - base) * vignette;
                pixel[channel] = (value * 255.0).round().clamp(0.0, 255.0) as u8;
            }
            pixel[3] = u8::MAX;
        }
    }
}

fn solid(color: Color) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(color);
    paint.anti_alias = true;
    paint
}

/// Discs and rings of several sizes, some bleeding off the edges.
fn circles(pixmap: &mut Pixmap, palette: &Palette, sequence: &mut Sequence) {
    let width = pixmap.width() as f32;
    let height = pixmap.height() as f32;
    let unit = width.min(height);
    let count = 6 + sequence.below(7);
    for index in 0..count {
        let x = sequence.range(-0.1, 1.1) * width;
        let y = sequence.range(-0.1, 1.1) * height;
        let radius = unit * sequence.range(0.04, 0.3);
        let color = palette.accents[index % palette.accents.len()];
        let Some(path) = PathBuilder::from_circle(x, y, radius) else {
            continue;
        };
        if index % 3 == 2 {
            let stroke = Stroke {
                width: (unit * sequence.range(0.006, 0.02)).max(1.0),
                ..Stroke::default()
            };
            let paint = solid(with_alpha(color, sequence.range(0.35, 0.6)));
            pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
        } else {
            let paint = solid(with_alpha(color, sequence.range(0.12, 0.3)));
            pixmap.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
}

/// Layered sine bands rising from the bottom edge, like hills or swell.
fn waves(pixmap: &mut Pixmap, palette: &Palette, sequence: &mut Sequence) {
    let width = pixmap.width() as f32;
    let height = pixmap.height() as f32;
    let layers = 3 + sequence.below(3);
    for layer in 0..layers {
        let base = height * (0.55 + 0.1 * layer as f32 + sequence.range(-0.04, 0.04));
        let amplitude = height * sequence.range(0.02, 0.07);
        let periods = sequence.range(0.8, 2.5);
        let phase = sequence.range(0.0, 2.0 * PI);
        let steps = (periods.ceil() as usize + 1) * WAVE_STEPS_PER_PERIOD;
        let mut builder = PathBuilder::new();
        builder.move_to(0.0, height);
        for step in 0..=steps {
            let x = width * step as f32 / steps as f32;
            let y = base + amplitude * (phase + 2.0 * PI * periods * x / width).sin();
            builder.line_to(x, y);
        }
        builder.line_to(width, height);
        builder.close();
        let color = palette.accents[layer % palette.accents.len()];
        if let Some(path) = builder.finish() {
            let paint = solid(with_alpha(color, 0.16 + 0.06 * layer as f32));
            pixmap.fill_path(
                &path,
                &paint,
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
}

/// Diagonal bands of varying width across the whole cover.
fn stripes(pixmap: &mut Pixmap, palette: &Palette, sequence: &mut Sequence) {
    let width = pixmap.width() as f32;
    let height = pixmap.height() as f32;
    let diagonal = width.hypot(height);
    let angle = sequence.range(20.0, 70.0) * if sequence.below(2) == 0 { 1.0 } else { -1.0 };
    let transform = Transform::from_rotate_at(angle, width / 2.0, height / 2.0);
    let count = 5 + sequence.below(5);
    for index in 0..count {
        let center = sequence.range(-0.5, 0.5) * diagonal + width / 2.0;
        let band = diagonal * sequence.range(0.015, 0.08);
        let rect = Rect::from_xywh(
            center - band / 2.0,
            height / 2.0 - diagonal,
            band,
            diagonal * 2.0,
        );
        let Some(path) = rect.map(PathBuilder::from_rect) else {
            continue;
        };
        let color = palette.accents[index % palette.accents.len()];
        let paint = solid(with_alpha(color, sequence.range(0.1, 0.28)));
        pixmap.fill_path(&path, &paint, FillRule::Winding, transform, None);
    }
}

/// A rectangle with rounded corners.
pub fn rounded_rect(rect: Rect, radius: f32) -> Option<Path> {
    let radius = radius.min(rect.width() / 2.0).min(rect.height() / 2.0);
    let (left, top, right, bottom) = (rect.left(), rect.top(), rect.right(), rect.bottom());
    let mut builder = PathBuilder::new();
    builder.move_to(left + radius, top);
    builder.line_to(right - radius, top);
    builder.quad_to(right, top, right, top + radius);
    builder.line_to(right, bottom - radius);
    builder.quad_to(right, bottom, right - radius, bottom);
    builder.line_to(left + radius, bottom);
    builder.quad_to(left, bottom, left, bottom - radius);
    builder.line_to(left, top + radius);
    builder.quad_to(left, top, left + radius, top);
    builder.close();
    builder.finish()
}
