//! Renders a cover: checks the size, paints background and title, and encodes a PNG.

use png::{BitDepth, ColorType, Compression, Encoder};
use tiny_skia::Pixmap;

use crate::decor::paint_background;
use crate::palette::Palette;
use crate::title::{draw, layout};
pub use guest_support::failure::{Failure, FailureKind};
use guest_support::seed::{Sequence, hash_fields};

/// Smallest and largest width or height accepted, in pixels.
pub const MIN_SIDE: u32 = 64;
pub const MAX_SIDE: u32 = 4096;

/// What to draw.
pub struct Cover<'a> {
    pub prompt: &'a str,
    pub title: Option<&'a str>,
    pub style: Option<&'a str>,
    pub width: u32,
    pub height: u32,
}

/// The cover as PNG bytes: 8-bit RGB, `width` by `height`.
pub fn render(cover: &Cover) -> Result<Vec<u8>, Failure> {
    for (name, side) in [("width", cover.width), ("height", cover.height)] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
            return Err(Failure::invalid(format!(
                "{name} {side} is outside the allowed range {MIN_SIDE}..={MAX_SIDE} pixels"
            )));
        }
    }
    let mut pixmap = Pixmap::new(cover.width, cover.height)
        .ok_or_else(|| Failure::internal("could not allocate the image".to_string()))?;
    // The title does not feed the seed: the same prompt keeps its background whatever the
    // episode is called.
    let style = cover.style.unwrap_or("");
    let mut sequence = Sequence::new(hash_fields(&[cover.prompt.as_bytes(), style.as_bytes()]));
    let palette = Palette::from_sequence(&mut sequence);
    paint_background(&mut pixmap, &palette, &mut sequence);
    if let Some(title) = cover.title
        && let Some(layout) = layout(title, cover.width, cover.height)
    {
        draw(&mut pixmap, &layout, &palette);
    }
    encode(&pixmap)
}

/// PNG encoding, row by row: the background is opaque, so premultiplied RGBA is plain RGBA
/// and dropping alpha loses nothing.
fn encode(pixmap: &Pixmap) -> Result<Vec<u8>, Failure> {
    let failed =
        |error: png::EncodingError| Failure::internal(format!("png encoding failed: {error}"));
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, pixmap.width(), pixmap.height());
    encoder.set_color(ColorType::Rgb);
    encoder.set_depth(BitDepth::Eight);
    // Smooth gradients compress well even at the fast setting, which keeps big covers quick.
    encoder.set_compression(Compression::Fast);
    let mut writer = encoder.write_header().map_err(failed)?;
    let mut stream = writer.stream_writer().map_err(failed)?;
    let row_bytes = pixmap.width() as usize * 4;
    let mut row = Vec::with_capacity(pixmap.width() as usize * 3);
    for pixels in pixmap.data().chunks_exact(row_bytes) {
        row.clear();
        for pixel in pixels.chunks_exact(4) {
            row.extend_from_slice(&pixel[..3]);
        }
        std::io::Write::write_all(&mut stream, &row)
            .map_err(|error| Failure::internal(format!("png encoding failed: {error}")))?;
    }
    stream.finish().map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(bytes)
}
