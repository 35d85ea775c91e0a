//! Checks that a plugin's answer keeps its contract before anything downstream trusts it: the
//! audio is the WAV it claims to be, a mix is in the format asked for, the image is a PNG of
//! the stated size, structured text is JSON. A failed check fails the call as a malformed result, except text that is not JSON,
//! which is the model's mistake (a malformed answer, worth another attempt).

use super::bindings::mixer::MixSettings;
use super::bindings::types::{AudioEncoding, AudioFormat};

/// Longest difference tolerated between a stated audio duration and the real one.
const DURATION_TOLERANCE_MS: u64 = 50;

/// Facts read from a WAV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFacts {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// Bytes of sample data.
    pub data_bytes: u64,
}

impl WavFacts {
    pub fn duration_ms(&self) -> u64 {
        let bytes_per_second = u64::from(self.sample_rate)
            * u64::from(self.channels)
            * u64::from(self.bits_per_sample / 8);
        (self.data_bytes * 1000)
            .checked_div(bytes_per_second)
            .unwrap_or(0)
    }
}

/// Reads the `fmt ` and `data` chunks of a RIFF WAVE header. `total_length` is the length of
/// the whole file, used to check that the data chunk is really there.
pub fn read_wav_header(header: &[u8], total_length: u64) -> Result<WavFacts, String> {
    if header.len() < 12 || &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err("audio is not a RIFF WAVE file".into());
    }
    let mut position = 12;
    let mut format = None;
    while position + 8 <= header.len() {
        let id = &header[position..position + 4];
        let size = u32::from_le_bytes(
            header[position + 4..position + 8]
                .try_into()
                .unwrap_or_default(),
        );
        let body = position + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > header.len() {
                return Err("WAV fmt chunk is truncated".into());
            }
            let field = |offset: usize| {
                u16::from_le_bytes([header[body + offset], header[body + offset + 1]])
            };
            let encoding = field(0);
            let channels = field(2);
            let sample_rate =
                u32::from_le_bytes(header[body + 4..body + 8].try_into().unwrap_or_default());
            let bits_per_sample = field(14);
            // 1 is integer PCM; 0xFFFE (extensible) carries PCM too.
            if encoding != 1 && encoding != 0xFFFE {
                return Err(format!("WAV encoding {encoding} is not PCM"));
            }
            format = Some((sample_rate, channels, bits_per_sample));
        } else if id == b"data" {
            let (sample_rate, channels, bits_per_sample) =
                format.ok_or("WAV data chunk comes before its fmt chunk")?;
            let available = total_length.saturating_sub(body as u64);
            if u64::from(size) > available {
                return Err(format!(
                    "WAV data chunk claims {size} bytes but only {available} follow"
                ));
            }
            return Ok(WavFacts {
                sample_rate,
                channels,
                bits_per_sample,
                data_bytes: u64::from(size),
            });
        }
        position = body + size as usize + (size as usize & 1);
    }
    Err("WAV file has no data chunk".into())
}

/// Checks that `audio` is a WAV in exactly `format` lasting `duration_ms`.
pub fn check_audio(
    audio: &[u8],
    format: &AudioFormat,
    duration_ms: u64,
) -> Result<WavFacts, String> {
    let facts = read_wav_header(audio, audio.len() as u64)?;
    check_wav_facts(&facts, format, duration_ms)?;
    Ok(facts)
}

/// Checks header facts against the stated format and duration.
pub fn check_wav_facts(
    facts: &WavFacts,
    format: &AudioFormat,
    duration_ms: u64,
) -> Result<(), String> {
    match format.encoding {
        AudioEncoding::WavPcm16 if facts.bits_per_sample != 16 => {
            return Err(format!(
                "stated format is 16-bit PCM but the WAV has {} bits per sample",
                facts.bits_per_sample
            ));
        }
        AudioEncoding::WavPcm16 => {}
    }
    if facts.sample_rate != format.sample_rate || facts.channels != u16::from(format.channels) {
        return Err(format!(
            "stated format is {} Hz with {} channel(s) but the WAV is {} Hz with {}",
            format.sample_rate, format.channels, facts.sample_rate, facts.channels
        ));
    }
    let real = facts.duration_ms();
    if real.abs_diff(duration_ms) > DURATION_TOLERANCE_MS {
        return Err(format!(
            "stated duration is {duration_ms} ms but the audio lasts {real} ms"
        ));
    }
    Ok(())
}

/// Checks that a mix is in the rate and channels `asked` for: a mixer that kept its clips' own
/// format would hand the episode one nobody asked for, however truthfully it states it.
pub fn check_mix_format(asked: &MixSettings, format: &AudioFormat) -> Result<(), String> {
    if format.sample_rate != asked.sample_rate || format.channels != asked.channels {
        return Err(format!(
            "asked for {} Hz with {} channel(s) but the mix is {} Hz with {}",
            asked.sample_rate, asked.channels, format.sample_rate, format.channels
        ));
    }
    Ok(())
}

/// Checks that `png` is a PNG image of the stated size, and returns nothing else.
pub fn check_png(png: &[u8], width: u32, height: u32) -> Result<(), String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || !png.starts_with(SIGNATURE) || &png[12..16] != b"IHDR" {
        return Err("image is not a PNG file".into());
    }
    let stated =
        |offset: usize| u32::from_be_bytes(png[offset..offset + 4].try_into().unwrap_or_default());
    let (real_width, real_height) = (stated(16), stated(20));
    if (real_width, real_height) != (width, height) {
        return Err(format!(
            "stated size is {width}x{height} but the PNG is {real_width}x{real_height}"
        ));
    }
    Ok(())
}

/// Checks that text meant to satisfy a JSON schema is at least one JSON document. Validation
/// against the schema itself belongs to the stage that asked for it.
pub fn check_json(text: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|error| format!("answer was requested as JSON but is not JSON: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(sample_rate: u32, channels: u16, samples: usize) -> Vec<u8> {
        let data_bytes = (samples * channels as usize * 2) as u32;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(36 + data_bytes).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&channels.to_le_bytes());
        bytes.extend_from_slice(&sample_rate.to_le_bytes());
        bytes.extend_from_slice(&(sample_rate * u32::from(channels) * 2).to_le_bytes());
        bytes.extend_from_slice(&(channels * 2).to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_bytes.to_le_bytes());
        bytes.resize(bytes.len() + data_bytes as usize, 0);
        bytes
    }

    fn mono_24k() -> AudioFormat {
        AudioFormat {
            encoding: AudioEncoding::WavPcm16,
            sample_rate: 24_000,
            channels: 1,
        }
    }

    #[test]
    fn accepts_audio_matching_its_description() {
        let facts = check_audio(&wav(24_000, 1, 24_000), &mono_24k(), 1000).unwrap();
        assert_eq!(facts.duration_ms(), 1000);
    }

    #[test]
    fn refuses_audio_that_lies_about_itself() {
        assert!(
            check_audio(b"not audio at all", &mono_24k(), 0)
                .unwrap_err()
                .contains("RIFF")
        );
        let stereo = wav(24_000, 2, 24_000);
        assert!(
            check_audio(&stereo, &mono_24k(), 1000)
                .unwrap_err()
                .contains("channel")
        );
        let short = wav(24_000, 1, 12_000);
        assert!(
            check_audio(&short, &mono_24k(), 1000)
                .unwrap_err()
                .contains("duration")
        );
        let mut truncated = wav(24_000, 1, 24_000);
        truncated.truncate(1000);
        assert!(
            check_audio(&truncated, &mono_24k(), 1000)
                .unwrap_err()
                .contains("only")
        );
    }

    #[test]
    fn a_mix_must_be_in_the_format_asked_for() {
        let asked = MixSettings {
            gap_ms: 0,
            crossfade_ms: 0,
            padding_ms: 0,
            sample_rate: 44_100,
            channels: 2,
            loudness_lufs: None,
            true_peak_dbtp: -1.0,
        };
        let stereo = AudioFormat {
            sample_rate: 44_100,
            channels: 2,
            ..mono_24k()
        };
        assert_eq!(check_mix_format(&asked, &stereo), Ok(()));
        let problem = check_mix_format(&asked, &mono_24k()).unwrap_err();
        assert_eq!(
            problem,
            "asked for 44100 Hz with 2 channel(s) but the mix is 24000 Hz with 1"
        );
        let mono_44k = AudioFormat {
            sample_rate: 44_100,
            ..mono_24k()
        };
        assert!(check_mix_format(&asked, &mono_44k).is_err());
    }

    #[test]
    fn png_size_must_match() {
        let mut header = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        header.extend_from_slice(&1400u32.to_be_bytes());
        header.extend_from_slice(&1400u32.to_be_bytes());
        assert!(check_png(&header, 1400, 1400).is_ok());
        assert!(
            check_png(&header, 1400, 1000)
                .unwrap_err()
                .contains("1400x1400")
        );
        assert!(check_png(b"GIF89a", 1, 1).is_err());
    }
}
