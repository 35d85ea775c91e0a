//! End-to-end checks of the cover renderer: real PNGs of the requested size, determinism,
//! and the title and prompt each changing the part of the picture they own.

use std::time::Instant;

use mock_image::cover::{Cover, FailureKind, render};

struct Decoded {
    width: u32,
    height: u32,
    /// RGB triples, row by row.
    pixels: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Decoded {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    pixels.truncate(info.buffer_size());
    Decoded {
        width: info.width,
        height: info.height,
        pixels,
    }
}

fn cover<'a>(prompt: &'a str, title: Option<&'a str>, width: u32, height: u32) -> Cover<'a> {
    Cover {
        prompt,
        title,
        style: None,
        width,
        height,
    }
}

fn draw(prompt: &str, title: Option<&str>, width: u32, height: u32) -> Decoded {
    decode(&render(&cover(prompt, title, width, height)).expect("renders"))
}

/// How many pixels differ inside the rectangle given as fractions of the image.
fn differing(a: &Decoded, b: &Decoded, region: (f32, f32, f32, f32)) -> usize {
    let (left, top, right, bottom) = region;
    let columns = (a.width as f32 * left) as u32..(a.width as f32 * right) as u32;
    let rows = (a.height as f32 * top) as u32..(a.height as f32 * bottom) as u32;
    let mut count = 0;
    for y in rows {
        for x in columns.clone() {
            let at = ((y * a.width + x) * 3) as usize;
            if a.pixels[at..at + 3] != b.pixels[at..at + 3] {
                count += 1;
            }
        }
    }
    count
}

const CENTER: (f32, f32, f32, f32) = (0.3, 0.4, 0.7, 0.6);
const TOP_BAND: (f32, f32, f32, f32) = (0.0, 0.0, 1.0, 0.15);

#[test]
fn decodes_at_the_requested_size() {
    for (width, height) in [(64, 64), (300, 200), (200, 500), (1024, 1024)] {
        let image = draw("a lighthouse at dusk", Some("Lost Sounds"), width, height);
        assert_eq!((image.width, image.height), (width, height));
        assert_eq!(image.pixels.len(), (width * height * 3) as usize);
    }
}

#[test]
fn same_request_gives_identical_bytes() {
    let request = Cover {
        style: Some("flat illustration"),
        ..cover("coffee through time", Some("Bean There"), 640, 360)
    };
    assert_eq!(render(&request), render(&request));
}

#[test]
fn titles_change_only_the_title_region() {
    let first = draw("coffee through time", Some("Goats and Monks"), 800, 800);
    let second = draw("coffee through time", Some("Penny Universities"), 800, 800);
    assert!(differing(&first, &second, CENTER) > 1000);
    assert_eq!(differing(&first, &second, TOP_BAND), 0);
    let untitled = draw("coffee through time", None, 800, 800);
    assert!(differing(&first, &untitled, CENTER) > 1000);
}

#[test]
fn prompts_change_the_background() {
    let first = draw("coffee through time", Some("Same Title"), 800, 800);
    let second = draw("deep sea creatures", Some("Same Title"), 800, 800);
    let band_pixels = 800 * 120;
    assert!(differing(&first, &second, TOP_BAND) > band_pixels / 2);
}

#[test]
fn style_changes_the_background_too() {
    let plain = render(&cover("coffee", None, 128, 128));
    let styled = render(&Cover {
        style: Some("retro poster"),
        ..cover("coffee", None, 128, 128)
    });
    assert_ne!(plain, styled);
}

#[test]
fn sizes_outside_the_limits_are_invalid() {
    for (width, height, named) in [
        (0, 512, "width 0"),
        (512, 5000, "height 5000"),
        (63, 64, "width 63"),
    ] {
        let failure = render(&cover("x", None, width, height)).expect_err("rejected");
        assert_eq!(failure.kind, FailureKind::InvalidRequest);
        assert!(failure.message.contains(named), "{}", failure.message);
        assert!(failure.message.contains("64..=4096"), "{}", failure.message);
    }
}

#[test]
fn odd_titles_still_render() {
    for title in ["", "   ", "Ünïcödé ß and Ελληνικά ✓", &"long ".repeat(300)] {
        draw("prompt", Some(title), 96, 96);
    }
}

/// Run with `cargo test --release -p mock-image -- --ignored` to see the timing.
#[test]
#[ignore = "timing; meaningful in release builds only"]
fn a_square_cover_renders_quickly() {
    let started = Instant::now();
    let png = render(&cover(
        "a podcast about the history of coffee",
        Some("The Curious Case of Coffee"),
        1400,
        1400,
    ))
    .expect("renders");
    let elapsed = started.elapsed();
    println!("1400x1400 cover: {elapsed:?}, {} bytes", png.len());
    assert!(elapsed.as_millis() < 1000);
}
