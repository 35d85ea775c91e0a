//! The answer's image made into what the contract asks for: base64 decoded, checked to be a
//! PNG (its size read from the IHDR chunk, which always comes first), and fitted to the size
//! the request named. The API offers only a few fixed sizes and the host holds the plugin to
//! the requested one, so the image is scaled to cover the requested size and centre-cropped.

/// Standard base64 (with or without padding, whitespace ignored); None on any other byte.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for character in text.bytes().filter(|byte| !byte.is_ascii_whitespace()) {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a' + 26,
            b'0'..=b'9' => character - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(bytes)
}

/// Width and height of a PNG, or None when the bytes do not start like one.
pub fn dimensions(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || !png.starts_with(SIGNATURE) || &png[12..16] != b"IHDR" {
        return None;
    }
    let field = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    Some((field(16), field(20)))
}

/// Scales `png` to cover `width`x`height` (keeping its proportions, bilinear) and crops the
/// overflow equally from both sides; returns an 8-bit RGBA PNG of exactly that size.
pub fn fit(png: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    if width == 0 || height == 0 {
        return Err(format!("cannot make a {width}x{height} image"));
    }
    let (pixels, source_width, source_height) = decode_rgba(png)?;
    let scale = f64::max(
        f64::from(width) / f64::from(source_width),
        f64::from(height) / f64::from(source_height),
    );
    // Offsets, in source pixels, of the centred crop.
    let offset_x = (f64::from(source_width) - f64::from(width) / scale) / 2.0;
    let offset_y = (f64::from(source_height) - f64::from(height) / scale) / 2.0;
    let texel = |x: usize, y: usize, channel: usize| {
        f64::from(pixels[(y * source_width as usize + x) * 4 + channel])
    };
    let mut fitted = Vec::with_capacity(width as usize * height as usize * 4);
    for row in 0..height {
        let y = ((f64::from(row) + 0.5) / scale + offset_y - 0.5)
            .clamp(0.0, f64::from(source_height - 1));
        let (y0, fy) = (y.floor() as usize, y.fract());
        let y1 = (y0 + 1).min(source_height as usize - 1);
        for column in 0..width {
            let x = ((f64::from(column) + 0.5) / scale + offset_x - 0.5)
                .clamp(0.0, f64::from(source_width - 1));
            let (x0, fx) = (x.floor() as usize, x.fract());
            let x1 = (x0 + 1).min(source_width as usize - 1);
            for channel in 0..4 {
                let top = texel(x0, y0, channel) * (1.0 - fx) + texel(x1, y0, channel) * fx;
                let bottom = texel(x0, y1, channel) * (1.0 - fx) + texel(x1, y1, channel) * fx;
                fitted.push((top * (1.0 - fy) + bottom * fy).round() as u8);
            }
        }
    }
    let mut encoded = Vec::new();
    let mut encoder = png::Encoder::new(&mut encoded, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|error| error.to_string())?;
    writer
        .write_image_data(&fitted)
        .map_err(|error| error.to_string())?;
    writer.finish().map_err(|error| error.to_string())?;
    Ok(encoded)
}

/// The image as 8-bit RGBA pixels, with its width and height.
fn decode_rgba(png: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|error| error.to_string())?;
    let size = reader
        .output_buffer_size()
        .ok_or("the image is too large")?;
    let mut buffer = vec![0; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|error| error.to_string())?;
    let samples = &buffer[..info.buffer_size()];
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => samples.to_vec(),
        png::ColorType::Rgb => samples
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => samples
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => samples.iter().flat_map(|&v| [v, v, v, 255]).collect(),
        png::ColorType::Indexed => return Err("palette image was not expanded".into()),
    };
    if info.width == 0 || info.height == 0 {
        return Err("the image is empty".into());
    }
    Ok((rgba, info.width, info.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_text() {
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert!(decode_base64("not*base64").is_none());
    }

    #[test]
    fn only_pngs_have_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png), Some((640, 480)));
        assert_eq!(dimensions(b"GIF89a"), None);
    }

    #[test]
    fn an_image_is_fitted_to_the_requested_size() {
        let mut source = Vec::new();
        let mut encoder = png::Encoder::new(&mut source, 32, 16);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[200u8; 32 * 16 * 3]).unwrap();
        writer.finish().unwrap();
        let fitted = fit(&source, 70, 70).unwrap();
        assert_eq!(dimensions(&fitted), Some((70, 70)));
        let (pixels, _, _) = decode_rgba(&fitted).unwrap();
        assert!(
            pixels
                .chunks_exact(4)
                .all(|pixel| pixel == [200, 200, 200, 255])
        );
        assert!(fit(b"not a png", 10, 10).is_err());
    }
}
