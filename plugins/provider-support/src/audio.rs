//! Provider audio turned into what the host and the mixer accept: a canonical RIFF WAVE with
//! 16-bit PCM samples and exact sizes. Raw PCM (OpenAI's `pcm`, ElevenLabs' `pcm_24000`) is
//! wrapped; a provider WAV is re-read, because streaming servers write placeholder sizes
//! (0 or 0xFFFFFFFF) and some send float or 24-bit samples.

use mock_support::wav::pcm16_header;

use crate::error;
use crate::types::{AudioEncoding, AudioFormat, Cost, ProviderError, Quantity, Usage, UsageUnit};

/// Speech ready for the host.
#[derive(Debug, Clone)]
pub struct Speech {
    pub wav: Vec<u8>,
    pub format: AudioFormat,
    pub duration_ms: u64,
}

/// Speech as a TTS provider answers it: the audio, the characters it spoke and what it cost.
pub struct Spoken {
    pub speech: Speech,
    pub characters: u64,
    pub cost: Cost,
}

impl Spoken {
    /// Characters in, milliseconds of audio out.
    pub fn usage(&self) -> Usage {
        Usage {
            input: Quantity {
                amount: self.characters,
                unit: UsageUnit::Characters,
            },
            output: Quantity {
                amount: self.speech.duration_ms,
                unit: UsageUnit::AudioMilliseconds,
            },
        }
    }
}

/// Wraps raw signed 16-bit little-endian PCM. An odd trailing byte (a cut-off sample) is
/// dropped rather than refused.
pub fn from_pcm16(
    provider: &str,
    pcm: &[u8],
    sample_rate: u32,
    channels: u16,
) -> Result<Speech, ProviderError> {
    let block = usize::from(channels) * 2;
    let usable = pcm.len() - pcm.len() % block;
    let frames = u32::try_from(usable / block)
        .map_err(|_| error::malformed(provider, "audio too long for a WAV file"))?;
    if frames == 0 {
        return Err(error::malformed(provider, "the audio is empty"));
    }
    let mut wav = Vec::with_capacity(44 + usable);
    wav.extend_from_slice(&pcm16_header(sample_rate, channels, frames));
    wav.extend_from_slice(&pcm[..usable]);
    Ok(Speech {
        wav,
        format: AudioFormat {
            encoding: AudioEncoding::WavPcm16,
            sample_rate,
            channels: channels as u8,
        },
        duration_ms: u64::from(frames) * 1000 / u64::from(sample_rate),
    })
}

/// Re-reads a provider's WAV (PCM of 8, 16, 24 or 32 bits, or 32-bit float) as canonical
/// 16-bit PCM.
pub fn from_wav(provider: &str, bytes: &[u8]) -> Result<Speech, ProviderError> {
    let bad = |what: &str| {
        error::malformed(
            provider,
            format!("the audio is not a usable WAV file: {what}"),
        )
    };
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF WAVE header"));
    }
    // Sizes are the provider's claims: all arithmetic on them is checked, since a chunk
    // claiming 4 GiB overflows a 32-bit `usize` inside the sandbox.
    let mut position: usize = 12;
    let mut format = None;
    while let Some(header) = bytes.get(position..position.saturating_add(8)) {
        let id = &header[0..4];
        let size = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default()) as u64;
        let body = position + 8;
        if id == b"fmt " {
            let fmt = bytes
                .get(body..body.saturating_add(16))
                .ok_or_else(|| bad("fmt chunk cut short"))?;
            let field = |at: usize| u16::from_le_bytes([fmt[at], fmt[at + 1]]);
            let sample_rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap_or_default());
            format = Some((field(0), field(2), sample_rate, field(14)));
        } else if id == b"data" {
            let (encoding, channels, sample_rate, bits) =
                format.ok_or_else(|| bad("data before fmt"))?;
            // Streaming writers leave the size at 0 or 0xFFFFFFFF: the data runs to the end.
            let end = match usize::try_from(body as u64 + size) {
                Ok(end) if size != 0 && end <= bytes.len() => end,
                _ => bytes.len(),
            };
            if channels == 0 || sample_rate == 0 {
                return Err(bad("zero channels or sample rate"));
            }
            let pcm = to_pcm16(encoding, bits, &bytes[body..end]).ok_or_else(|| {
                bad(&format!(
                    "encoding {encoding} with {bits} bits per sample is not supported"
                ))
            })?;
            return from_pcm16(provider, &pcm, sample_rate, channels);
        }
        // A chunk claiming to run past the end leaves nothing after it to read.
        position = match usize::try_from(body as u64 + size + (size & 1)) {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    Err(bad("no data chunk"))
}

/// Samples of `bits` in WAV `encoding` (1 integer PCM, 3 float, 0xFFFE extensible, read as
/// integer PCM) as 16-bit little-endian PCM; lower bytes of wider samples are dropped.
fn to_pcm16(encoding: u16, bits: u16, data: &[u8]) -> Option<Vec<u8>> {
    let convert: fn(&[u8]) -> i16 = match (encoding, bits) {
        (1 | 0xFFFE, 16) => |s| i16::from_le_bytes([s[0], s[1]]),
        (1 | 0xFFFE, 8) => |s| (i16::from(s[0]) - 128) << 8,
        (1 | 0xFFFE, 24) => |s| i16::from_le_bytes([s[1], s[2]]),
        (1 | 0xFFFE, 32) => |s| i16::from_le_bytes([s[2], s[3]]),
        (3, 32) => |s| {
            let value = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            (value.clamp(-1.0, 1.0) * 32767.0).round() as i16
        },
        _ => return None,
    };
    let width = usize::from(bits / 8);
    Some(
        data.chunks_exact(width)
            .flat_map(|sample| convert(sample).to_le_bytes())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_with(encoding: u16, bits: u16, data_size: u32, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&encoding.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&24_000u32.to_le_bytes());
        bytes.extend_from_slice(&(24_000 * u32::from(bits / 8)).to_le_bytes());
        bytes.extend_from_slice(&(bits / 8).to_le_bytes());
        bytes.extend_from_slice(&bits.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_size.to_le_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn raw_pcm_is_wrapped_with_exact_sizes() {
        let speech = from_pcm16("OpenAI", &vec![0u8; 48_001], 24_000, 1).unwrap();
        assert_eq!(speech.duration_ms, 1000);
        assert_eq!(speech.wav.len(), 44 + 48_000);
        assert_eq!(speech.format.sample_rate, 24_000);
        assert!(from_pcm16("OpenAI", &[], 24_000, 1).unwrap_err().retryable);
    }

    #[test]
    fn streamed_and_float_wavs_become_canonical_pcm16() {
        let streamed = wav_with(1, 16, u32::MAX, &vec![1u8; 4800]);
        let speech = from_wav("OpenAI", &streamed).unwrap();
        assert_eq!(speech.duration_ms, 100);
        assert_eq!(&speech.wav[40..44], &4800u32.to_le_bytes());

        let half: Vec<u8> = std::iter::repeat_n(0.5f32.to_le_bytes(), 2400)
            .flatten()
            .collect();
        let speech = from_wav("OpenAI", &wav_with(3, 32, half.len() as u32, &half)).unwrap();
        assert_eq!(speech.duration_ms, 100);
        assert_eq!(i16::from_le_bytes([speech.wav[44], speech.wav[45]]), 16384);

        assert!(from_wav("OpenAI", b"ID3 not a wav").is_err());
    }

    #[test]
    fn chunks_claiming_gigabytes_are_refused_as_malformed_not_a_panic() {
        let mut huge_list = b"RIFF\0\0\0\0WAVELIST".to_vec();
        huge_list.extend_from_slice(&u32::MAX.to_le_bytes());
        huge_list.extend_from_slice(&[0; 16]);
        let error = from_wav("OpenAI", &huge_list).unwrap_err();
        assert!(error.retryable);
        assert!(error.message.contains("no data chunk"), "{}", error.message);
        let mut huge_fmt = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        huge_fmt.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(from_wav("OpenAI", &huge_fmt).unwrap_err().retryable);
    }
}
