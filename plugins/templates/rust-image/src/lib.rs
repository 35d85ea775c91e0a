//! An image plugin in Rust that paints a gradient whose colours come from the prompt: a working
//! skeleton that shows what the host expects (a PNG of exactly the size asked for, usage in
//! prompt characters and images, a cost), ready to have the painting replaced by a real model
//! or an image API (reached over wasi:http like the rust-llm template).
//!
//! Settings, read from the environment the host grants (see README.md):
//! `IMAGE_USD_PER_IMAGE`, the price for the reported cost (default 0).

wit_bindgen::generate!({ path: "wit", world: "image-provider" });

use exports::pipeline::services::image::{GenerateRequest, GenerateResponse, Guest};
use pipeline::services::types::{Cost, ErrorKind, ProviderError, Quantity, Usage, UsageUnit};

/// The largest side painted, so a request cannot ask for gigabytes of pixels.
const MAX_SIDE: u32 = 4096;

struct Plugin;

impl Guest for Plugin {
    fn generate(request: GenerateRequest) -> Result<GenerateResponse, ProviderError> {
        let (width, height) = (request.width, request.height);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(failure(format!("cannot paint {width}x{height}")));
        }
        // FNV-1a of the prompt: the same prompt always gives the same picture.
        let seed = request
            .prompt
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let [r, g, b, ..] = seed.to_le_bytes();
        let mut pixels = Vec::with_capacity((width * height * 3) as usize);
        for y in 0..height {
            for x in 0..width {
                let mix = (x + y) as f32 / (width + height) as f32;
                for channel in [r, g, b] {
                    pixels.push((f32::from(channel) * (1.0 - mix) + 255.0 * mix * 0.5) as u8);
                }
            }
        }
        let mut png = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut png, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .write_header()
                .and_then(|mut writer| writer.write_image_data(&pixels))
                .map_err(|error| failure(format!("PNG encoding failed: {error}")))?;
        }
        let price = std::env::var("IMAGE_USD_PER_IMAGE")
            .ok()
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0);
        Ok(GenerateResponse {
            png,
            width,
            height,
            revised_prompt: None,
            usage: Usage {
                input: Quantity {
                    amount: request.prompt.chars().count() as u64,
                    unit: UsageUnit::Characters,
                },
                output: Quantity {
                    amount: 1,
                    unit: UsageUnit::Images,
                },
            },
            cost: Cost {
                amount_micros: (price * 1e6).round() as u64,
                currency: "USD".into(),
            },
        })
    }
}

fn failure(message: String) -> ProviderError {
    ProviderError {
        kind: ErrorKind::InvalidRequest,
        retryable: false,
        message,
        retry_after_ms: None,
    }
}

export!(Plugin);
