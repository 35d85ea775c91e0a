//! Inputs for the publishing tests (real WAV and PNG files, an example episode) and a minimal
//! MPEG audio frame walker to check the encoded MP3's structure without a decoder.

use std::f32::consts::TAU;
use std::fs;
use std::path::{Path, PathBuf};

use episode_publish::{Chapter, Episode, Line};

/// Writes `seconds` of a 440 Hz sine as 16-bit PCM, the same tone on every channel.
pub fn write_sine_wav(path: &Path, sample_rate: u32, channels: u16, seconds: u32) {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for frame in 0..sample_rate * seconds {
        let phase = TAU * 440.0 * frame as f32 / sample_rate as f32;
        let sample = (phase.sin() * 0.3 * f32::from(i16::MAX)) as i16;
        for _ in 0..channels {
            writer.write_sample(sample).unwrap();
        }
    }
    writer.finalize().unwrap();
}

/// Writes a 4×4 red RGB image and returns its bytes.
pub fn write_png(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, 4, 4);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[255, 0, 0].repeat(16)).unwrap();
    writer.finish().unwrap();
    fs::write(path, &bytes).unwrap();
    bytes
}

/// A three-second, two-chapter episode; `master_wav` and `cover_png` are left for the test.
pub fn example_episode() -> Episode {
    let line = |speaker: &str, text: &str, start_ms, end_ms| Line {
        speaker: speaker.to_owned(),
        voice: Some(format!("{speaker}-voice")),
        text: text.to_owned(),
        start_ms,
        end_ms,
    };
    Episode {
        title: "Pilot & Friends".to_owned(),
        show: Some("The Test Show".to_owned()),
        description: Some("Two hosts talk about testing.".to_owned()),
        lines: vec![
            line("Alice", "Welcome to the show!", 0, 900),
            line(
                "Bob",
                "Thanks, Alice. Today we talk about <tags> & escaping, and about long lines \
                 that need wrapping.",
                900,
                2200,
            ),
            line("Alice", "That's all.", 2200, 2950),
        ],
        chapters: vec![
            Chapter {
                title: "Intro".to_owned(),
                start_ms: 0,
                end_ms: 900,
            },
            Chapter {
                title: "Main".to_owned(),
                start_ms: 900,
                end_ms: 3000,
            },
        ],
        master_wav: None,
        cover_png: None,
    }
}

/// What the frame walker found in an MP3 file.
#[derive(Debug)]
pub struct Mp3Structure {
    pub frames: u64,
    pub sample_rate: u32,
    pub samples_per_frame: u64,
    pub bitrate_kbps: u32,
    pub mono: bool,
}

impl Mp3Structure {
    pub fn duration_seconds(&self) -> f64 {
        (self.frames * self.samples_per_frame) as f64 / f64::from(self.sample_rate)
    }
}

/// Skips the ID3v2 tag and walks layer III frame headers to the end of the file, failing if any
/// header is malformed, the parameters change between frames, or the last frame is truncated.
pub fn walk_mp3(bytes: &[u8]) -> Mp3Structure {
    assert_eq!(&bytes[..3], b"ID3", "file does not start with an id3v2 tag");
    let syncsafe = |b: &[u8]| {
        b.iter()
            .fold(0usize, |size, byte| (size << 7) | usize::from(*byte))
    };
    let audio_offset = 10 + syncsafe(&bytes[6..10]);
    let mut offset = audio_offset;
    let mut first: Option<(u32, u64, u32, bool)> = None;
    let mut frames = 0;
    while offset < bytes.len() {
        let header = &bytes[offset..offset + 4];
        assert!(
            header[0] == 0xFF && header[1] & 0xE0 == 0xE0,
            "no frame sync at offset {offset}"
        );
        let version = (header[1] >> 3) & 0b11;
        assert_eq!((header[1] >> 1) & 0b11, 0b01, "not layer III at {offset}");
        let bitrate_index = usize::from(header[2] >> 4);
        let rate_index = usize::from((header[2] >> 2) & 0b11);
        let padding = usize::from((header[2] >> 1) & 1);
        let mono = header[3] >> 6 == 0b11;
        let (bitrates, rates, samples_per_frame, slot_factor): (&[u32], [u32; 3], u64, u32) =
            match version {
                0b11 => (
                    &[
                        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
                    ],
                    [44_100, 48_000, 32_000],
                    1152,
                    144,
                ),
                0b10 | 0b00 => (
                    &[0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
                    if version == 0b10 {
                        [22_050, 24_000, 16_000]
                    } else {
                        [11_025, 12_000, 8_000]
                    },
                    576,
                    72,
                ),
                _ => panic!("reserved mpeg version at {offset}"),
            };
        let bitrate_kbps = bitrates[bitrate_index];
        let sample_rate = rates[rate_index];
        assert!(
            bitrate_kbps > 0,
            "free-format or invalid bitrate at {offset}"
        );
        let parameters = (sample_rate, samples_per_frame, bitrate_kbps, mono);
        assert_eq!(
            *first.get_or_insert(parameters),
            parameters,
            "frame {frames} differs"
        );
        let length = (slot_factor * bitrate_kbps * 1000 / sample_rate) as usize + padding;
        assert!(offset + length <= bytes.len(), "last frame is truncated");
        offset += length;
        frames += 1;
    }
    let (sample_rate, samples_per_frame, bitrate_kbps, mono) = first.expect("no mpeg frames");
    Mp3Structure {
        frames,
        sample_rate,
        samples_per_frame,
        bitrate_kbps,
        mono,
    }
}

/// Every file in `dir`, sorted by name, with its contents.
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (PathBuf::from(path.file_name().unwrap()), bytes)
        })
        .collect();
    files.sort();
    files
}
