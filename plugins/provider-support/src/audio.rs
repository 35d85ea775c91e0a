//! Provider audio turned into what the host and the mixer accept: a canonical RIFF WAVE with
//! 16-bit PCM samples and exact sizes (written and read by `tts-kit`). Raw PCM (OpenAI's `pcm`,
//! ElevenLabs' `pcm_24000`) is wrapped; a provider WAV is re-read, because streaming servers
//! write placeholder sizes (0 or 0xFFFFFFFF) and some send float or 24-bit samples.

use tts_kit::wav::{self, Pcm16};

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

/// The calling plugin's WIT `synthesize-response` for a [`Spoken`]:
/// `synthesize_response!(SynthesizeResponse, spoken)`. A macro, not a `From`, because the
/// response is a type of the exported `tts` interface, which wit-bindgen generates inside each
/// plugin (its `with:` maps imported interfaces only), so the TTS plugins share no such type.
#[macro_export]
macro_rules! synthesize_response {
    ($response:ident, $spoken:expr) => {{
        let spoken: $crate::audio::Spoken = $spoken;
        $response {
            // Usage first: the fields below move the speech out of `spoken`.
            usage: spoken.usage(),
            audio: spoken.speech.wav,
            format: spoken.speech.format,
            duration_ms: spoken.speech.duration_ms,
            cost: spoken.cost,
        }
    }};
}

/// Wraps raw signed 16-bit little-endian PCM. An odd trailing byte (a cut-off sample) is
/// dropped rather than refused.
pub fn from_pcm16(
    provider: &str,
    pcm: &[u8],
    sample_rate: u32,
    channels: u16,
) -> Result<Speech, ProviderError> {
    speech(
        provider,
        Pcm16 {
            samples: pcm.to_vec(),
            sample_rate,
            channels,
        },
    )
}

/// Re-reads a provider's WAV (PCM of 8, 16, 24 or 32 bits, or 32-bit float) as canonical
/// 16-bit PCM.
pub fn from_wav(provider: &str, bytes: &[u8]) -> Result<Speech, ProviderError> {
    let pcm = wav::decode(bytes).map_err(|problem| {
        error::malformed(
            provider,
            format!("the audio is not a usable WAV file: {problem}"),
        )
    })?;
    speech(provider, pcm)
}

fn speech(provider: &str, pcm: Pcm16) -> Result<Speech, ProviderError> {
    if pcm.frames() == 0 {
        return Err(error::malformed(provider, "the audio is empty"));
    }
    let wav = wav::encode(&pcm)
        .ok_or_else(|| error::malformed(provider, "audio too long for a WAV file"))?;
    Ok(Speech {
        wav,
        format: AudioFormat {
            encoding: AudioEncoding::WavPcm16,
            sample_rate: pcm.sample_rate,
            channels: pcm.channels as u8,
        },
        duration_ms: pcm.duration_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mono 24 kHz WAV whose header declares `data_size` bytes, followed by `data`.
    fn wav_with(encoding: u16, bits: u16, data_size: u32, data: &[u8]) -> Vec<u8> {
        [
            &tts_kit::wav::header(encoding, 1, 24_000, bits, data_size)[..],
            data,
        ]
        .concat()
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
