//! The title: word-wrapped, set in an 8x8 bitmap font scaled up by whole pixels so every
//! glyph stays crisp, centred over a dark rounded panel with a drop shadow.

use font8x8::{BASIC_FONTS, GREEK_FONTS, LATIN_FONTS, UnicodeFonts};
use tiny_skia::{Color, FillRule, Paint, Pixmap, Rect, Transform};

use crate::decor::rounded_rect;
use crate::palette::{Palette, with_alpha};

/// Glyph cell size of the font, in font pixels.
const CELL: u32 = 8;
/// Distance between baselines, in font pixels: the cell plus two pixels of leading.
const LINE_PITCH: u32 = 10;
/// Share of the cover the title may cover.
const MAX_WIDTH_SHARE: f32 = 0.84;
const MAX_HEIGHT_SHARE: f32 = 0.5;
/// The largest scale is the shorter side over this, so a one-word title is not a wall.
const SCALE_DIVISOR: u32 = 48;
/// A hollow box for characters the font lacks.
const MISSING_GLYPH: [u8; 8] = [0x7e, 0x42, 0x42, 0x42, 0x42, 0x42, 0x7e, 0x00];

/// A title laid out for one cover size.
#[derive(Debug, PartialEq)]
pub struct Layout {
    /// Screen pixels per font pixel.
    pub scale: u32,
    pub lines: Vec<Vec<char>>,
}

impl Layout {
    /// Width of the longest line's ink.
    pub fn width(&self) -> u32 {
        let longest = self.lines.iter().map(Vec::len).max().unwrap_or(0);
        ink_width(longest, self.scale)
    }

    pub fn height(&self) -> u32 {
        let lines = self.lines.len() as u32;
        (lines * LINE_PITCH - (LINE_PITCH - CELL)) * self.scale
    }
}

/// The largest whole-pixel scale at which the wrapped title fits its share of the cover;
/// at the smallest scale, lines that do not fit are dropped and the last one ends in "...".
pub fn layout(title: &str, width: u32, height: u32) -> Option<Layout> {
    let words: Vec<Vec<char>> = title
        .split_whitespace()
        .map(|word| word.chars().flat_map(char::to_uppercase).collect())
        .collect();
    if words.is_empty() {
        return None;
    }
    let max_width = (width as f32 * MAX_WIDTH_SHARE) as u32;
    let max_height = (height as f32 * MAX_HEIGHT_SHARE) as u32;
    let largest = (width.min(height) / SCALE_DIVISOR).max(1);
    let longest_word = words.iter().map(Vec::len).max().unwrap_or(0);
    for scale in (1..=largest).rev() {
        let columns = (max_width / (CELL * scale)) as usize;
        // Splitting a word is a last resort, for the smallest scale only.
        if columns == 0 || (longest_word > columns && scale > 1) {
            continue;
        }
        let layout = Layout {
            scale,
            lines: wrap(&words, columns),
        };
        if layout.height() <= max_height {
            return Some(layout);
        }
    }
    let columns = ((max_width / CELL) as usize).max(1);
    let fitting = ((max_height + LINE_PITCH - CELL) / LINE_PITCH).max(1) as usize;
    let mut lines = wrap(&words, columns);
    if lines.len() > fitting {
        lines.truncate(fitting);
        if let Some(last) = lines.last_mut() {
            last.truncate(columns.saturating_sub(3));
            last.extend(['.'; 3].iter().take(columns));
        }
    }
    Some(Layout { scale: 1, lines })
}

/// Glyphs leave their last column blank as spacing, so a line's ink ends one font pixel
/// before its last cell does; centring on the ink keeps the margins even.
fn ink_width(characters: usize, scale: u32) -> u32 {
    (characters as u32 * CELL).saturating_sub(1) * scale
}

/// Greedy word wrap at `columns` characters; words longer than a line are split.
fn wrap(words: &[Vec<char>], columns: usize) -> Vec<Vec<char>> {
    let mut lines: Vec<Vec<char>> = Vec::new();
    let mut current: Vec<char> = Vec::new();
    for word in words {
        for piece in word.chunks(columns) {
            if !current.is_empty() && current.len() + 1 + piece.len() <= columns {
                current.push(' ');
                current.extend_from_slice(piece);
            } else {
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                current.extend_from_slice(piece);
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

fn glyph(ch: char) -> [u8; 8] {
    BASIC_FONTS
        .get(ch)
        .or_else(|| LATIN_FONTS.get(ch))
        .or_else(|| GREEK_FONTS.get(ch))
        .unwrap_or(MISSING_GLYPH)
}

/// Draws `layout` centred on the cover: panel, shadow, then the letters.
pub fn draw(pixmap: &mut Pixmap, layout: &Layout, palette: &Palette) {
    let scale = layout.scale;
    let top = pixmap.height().saturating_sub(layout.height()) / 2;
    let left = pixmap.width().saturating_sub(layout.width()) / 2;
    let padding = (scale * 3).max(4) as f32;
    let panel = Rect::from_xywh(
        left as f32 - padding,
        top as f32 - padding,
        layout.width() as f32 + 2.0 * padding,
        layout.height() as f32 + 2.0 * padding,
    );
    if let Some(path) = panel.and_then(|panel| rounded_rect(panel, padding)) {
        let mut paint = Paint::default();
        paint.set_color(with_alpha(palette.shade, 0.58));
        paint.anti_alias = true;
        pixmap.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
    let shadow_offset = (scale / 3).max(1);
    let shadow = with_alpha(palette.shade, 0.9);
    let ink = palette.accents[2];
    for (color, offset) in [(shadow, shadow_offset), (ink, 0)] {
        for (row, line) in layout.lines.iter().enumerate() {
            let x = pixmap.width().saturating_sub(ink_width(line.len(), scale)) / 2 + offset;
            let y = top + row as u32 * LINE_PITCH * scale + offset;
            draw_line(pixmap, line, x, y, scale, color);
        }
    }
}

/// One line of glyphs, each horizontal run of lit font pixels filled as one rectangle on
/// whole screen pixels, so no anti-aliasing softens the edges.
fn draw_line(pixmap: &mut Pixmap, line: &[char], x: u32, y: u32, scale: u32, color: Color) {
    let mut paint = Paint::default();
    paint.set_color(color);
    paint.anti_alias = false;
    for (index, ch) in line.iter().enumerate() {
        let glyph_x = x + index as u32 * CELL * scale;
        for (row, bits) in glyph(*ch).iter().enumerate() {
            let mut column = 0;
            while column < CELL {
                if bits & (1 << column) == 0 {
                    column += 1;
                    continue;
                }
                let start = column;
                while column < CELL && bits & (1 << column) != 0 {
                    column += 1;
                }
                let rect = Rect::from_xywh(
                    (glyph_x + start * scale) as f32,
                    (y + row as u32 * scale) as f32,
                    ((column - start) * scale) as f32,
                    scale as f32,
                );
                if let Some(rect) = rect {
                    pixmap.fill_rect(rect, &paint, Transform::identity(), None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        let words: Vec<Vec<char>> = ["ab", "cd", "efghijk"]
            .iter()
            .map(|word| word.chars().collect())
            .collect();
        let lines: Vec<String> = wrap(&words, 5)
            .into_iter()
            .map(|line| line.into_iter().collect())
            .collect();
        assert_eq!(lines, ["ab cd", "efghi", "jk"]);
    }

    #[test]
    fn layout_fits_the_cover_and_prefers_large_type() {
        let short = layout("Hello", 1400, 1400).expect("layout");
        let long = layout(&"many words ".repeat(20), 1400, 1400).expect("layout");
        assert!(short.scale > long.scale);
        for layout in [&short, &long] {
            assert!(layout.width() <= 1400 * 84 / 100);
            assert!(layout.height() <= 700);
        }
        assert_eq!(short.lines, vec!["HELLO".chars().collect::<Vec<_>>()]);
    }

    #[test]
    fn overlong_titles_are_cut_with_an_ellipsis() {
        let layout = layout(&"word ".repeat(500), 64, 64).expect("layout");
        assert_eq!(layout.scale, 1);
        assert!(layout.height() <= 32);
        let last = layout.lines.last().expect("lines");
        assert!(last.ends_with(&['.', '.', '.']));
    }

    #[test]
    fn blank_titles_have_no_layout() {
        assert_eq!(layout("  \n ", 500, 500), None);
    }
}
