//! Colour schemes derived from the prompt's seed: a background gradient and accents.

use tiny_skia::Color;

use guest_support::seed::Sequence;

pub struct Palette {
    /// Background gradient, from the start corner to the end corner.
    pub background: [Color; 3],
    /// Colours for decoration, drawn translucent over the background.
    pub accents: [Color; 3],
    /// A dark tone of the base hue, for the panel behind the title.
    pub shade: Color,
}

impl Palette {
    pub fn from_sequence(sequence: &mut Sequence) -> Self {
        let hue = sequence.range(0.0, 360.0);
        // Analogous or split-complementary partners read as designed rather than random.
        let partner = hue + sequence.range(35.0, 150.0);
        let saturation = sequence.range(0.55, 0.8);
        let dark = sequence.range(0.22, 0.34);
        let light = sequence.range(0.48, 0.62);
        Self {
            background: [
                hsl(hue, saturation, dark),
                hsl((hue + partner) / 2.0, saturation, (dark + light) / 2.0),
                hsl(partner, saturation, light),
            ],
            accents: [
                hsl(hue + 180.0, 0.75, 0.65),
                hsl(partner + 40.0, 0.7, 0.72),
                hsl(hue + 20.0, 0.35, 0.92),
            ],
            shade: hsl(hue, 0.45, 0.1),
        }
    }
}

/// A colour from hue (degrees, any value), saturation and lightness (0 to 1).
pub fn hsl(hue: f32, saturation: f32, lightness: f32) -> Color {
    let hue = hue.rem_euclid(360.0) / 60.0;
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let second = chroma * (1.0 - (hue % 2.0 - 1.0).abs());
    let (red, green, blue) = match hue as u32 {
        0 => (chroma, second, 0.0),
        1 => (second, chroma, 0.0),
        2 => (0.0, chroma, second),
        3 => (0.0, second, chroma),
        4 => (second, 0.0, chroma),
        _ => (chroma, 0.0, second),
    };
    let offset = lightness - chroma / 2.0;
    Color::from_rgba(
        (red + offset).clamp(0.0, 1.0),
        (green + offset).clamp(0.0, 1.0),
        (blue + offset).clamp(0.0, 1.0),
        1.0,
    )
    .unwrap_or(Color::BLACK)
}

/// `color` with its alpha replaced.
pub fn with_alpha(color: Color, alpha: f32) -> Color {
    let mut color = color;
    color.set_alpha(alpha.clamp(0.0, 1.0));
    color
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_hues_convert_exactly() {
        let red = hsl(0.0, 1.0, 0.5);
        assert_eq!((red.red(), red.green(), red.blue()), (1.0, 0.0, 0.0));
        let blue = hsl(240.0, 1.0, 0.5);
        assert_eq!((blue.red(), blue.green(), blue.blue()), (0.0, 0.0, 1.0));
    }
}
