//! RIFF WAVE, the host's audio format: the canonical 16-bit PCM header and file written
//! exactly, and a provider's WAV (PCM of 8, 16, 24 or 32 bits, or 32-bit float, with the
//! placeholder sizes streaming servers write) read back as 16-bit PCM.

/// Bytes in the canonical header written before the samples.
pub const PCM16_HEADER_BYTES: usize = 44;

/// Why bytes could not be read as WAV audio.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("no RIFF WAVE header")]
    NotWav,
    #[error("fmt chunk cut short")]
    FormatCutShort,
    #[error("data before fmt")]
    DataBeforeFormat,
    #[error("zero channels or sample rate")]
    EmptyFormat,
    #[error("encoding {encoding} with {bits} bits per sample is not supported")]
    Unsupported { encoding: u16, bits: u16 },
    #[error("no data chunk")]
    NoData,
}

/// Audio as signed 16-bit little-endian PCM, interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm16 {
    pub samples: Vec<u8>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl Pcm16 {
    /// Whole frames (one sample per channel) in `samples`.
    pub fn frames(&self) -> u64 {
        let block = u64::from(self.channels) * 2;
        (self.samples.len() as u64).checked_div(block).unwrap_or(0)
    }

    /// Length in milliseconds, rounded down.
    pub fn duration_ms(&self) -> u64 {
        crate::billing::duration_ms(self.frames(), self.sample_rate)
    }

    /// The same audio at `sample_rate` with `channels`, as a mixer needs every clip in the
    /// episode's format. A mono target averages the source channels; the rate changes by
    /// linear interpolation, which is clean for speech upsampled (24 kHz TTS to a 44.1 kHz
    /// episode) while downsampling music by a large factor wants a low-pass filter first;
    /// then target channel `c` comes from channel `c % source` (a mono source is repeated).
    /// Channels are reduced before and spread after the rate changes, so the interpolation
    /// runs on the fewest samples.
    pub fn converted(&self, sample_rate: u32, channels: u16) -> Pcm16 {
        let mut layout = usize::from(self.channels.max(1));
        let target = usize::from(channels.max(1));
        let mut values: Vec<i16> = self
            .samples
            .chunks_exact(2)
            .map(|sample| i16::from_le_bytes([sample[0], sample[1]]))
            .collect();
        values.truncate(values.len() - values.len() % layout);
        if target == 1 && layout > 1 {
            values = values
                .chunks_exact(layout)
                .map(|frame| {
                    let sum: i32 = frame.iter().copied().map(i32::from).sum();
                    (sum / layout as i32) as i16
                })
                .collect();
            layout = 1;
        }
        if sample_rate != self.sample_rate {
            values = resampled(&values, layout, self.sample_rate, sample_rate);
        }
        let samples = values
            .chunks_exact(layout)
            .flat_map(|frame| (0..target).map(move |channel| frame[channel % layout]))
            .flat_map(i16::to_le_bytes)
            .collect();
        Pcm16 {
            samples,
            sample_rate,
            channels: target as u16,
        }
    }
}

/// Interleaved `values` of `channels` from `from` to `to` samples per second, by linear
/// interpolation between the two source frames around each output frame.
fn resampled(values: &[i16], channels: usize, from: u32, to: u32) -> Vec<i16> {
    let source_frames = values.len() / channels;
    let output_frames = (source_frames as u64 * u64::from(to))
        .checked_div(u64::from(from))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(output_frames as usize * channels);
    for index in 0..output_frames {
        // Where output frame `index` falls in the source: a whole frame and a fraction.
        let position = index * u64::from(from);
        let before = (position / u64::from(to)) as usize;
        let fraction = (position % u64::from(to)) as f64 / f64::from(to);
        let at = before * channels;
        let next = (before + 1).min(source_frames - 1) * channels;
        for channel in 0..channels {
            let (a, b) = (values[at + channel], values[next + channel]);
            let value = f64::from(a) + f64::from(i32::from(b) - i32::from(a)) * fraction;
            out.push(value.round() as i16);
        }
    }
    out
}

/// The header for `frames` frames of 16-bit PCM; the caller checks that the data fits the
/// 32-bit RIFF sizes.
pub fn pcm16_header(sample_rate: u32, channels: u16, frames: u32) -> [u8; PCM16_HEADER_BYTES] {
    header(
        1,
        channels,
        sample_rate,
        16,
        frames * u32::from(channels * 2),
    )
}

/// The 44-byte header of a WAV file of any plain format: `format_tag` 1 for integer PCM, 3
/// for float; `bits` per sample; `data_bytes` of samples after it (`u32::MAX` for a stream of
/// unknown length, as streaming servers write it).
pub fn header(
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    data_bytes: u32,
) -> [u8; PCM16_HEADER_BYTES] {
    let block_align = channels * (bits / 8);
    let fields: [&[u8]; 13] = [
        b"RIFF",
        // A streaming placeholder (`u32::MAX` data bytes) stays a placeholder.
        &36u32.saturating_add(data_bytes).to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &16u32.to_le_bytes(),
        &format_tag.to_le_bytes(),
        &channels.to_le_bytes(),
        &sample_rate.to_le_bytes(),
        &(sample_rate * u32::from(block_align)).to_le_bytes(),
        &block_align.to_le_bytes(),
        &bits.to_le_bytes(),
        b"data",
        &data_bytes.to_le_bytes(),
    ];
    let mut header = [0u8; PCM16_HEADER_BYTES];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// A canonical WAV file of `pcm`; an odd trailing byte (a cut-off sample) is dropped. `None`
/// when the audio is too long for the 32-bit sizes of a WAV file.
pub fn encode(pcm: &Pcm16) -> Option<Vec<u8>> {
    let block = usize::from(pcm.channels) * 2;
    let usable = pcm.samples.len() - pcm.samples.len().checked_rem(block).unwrap_or(0);
    let frames = u32::try_from(usable.checked_div(block).unwrap_or(0)).ok()?;
    u32::try_from(usable + PCM16_HEADER_BYTES).ok()?;
    let mut wav = Vec::with_capacity(PCM16_HEADER_BYTES + usable);
    wav.extend_from_slice(&pcm16_header(pcm.sample_rate, pcm.channels, frames));
    wav.extend_from_slice(&pcm.samples[..usable]);
    Some(wav)
}

/// Reads a WAV file as 16-bit PCM. Sizes are the file's claims: all arithmetic on them is
/// checked, since a chunk claiming 4 GiB overflows a 32-bit `usize` inside a sandbox.
pub fn decode(bytes: &[u8]) -> Result<Pcm16, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut position: usize = 12;
    let mut format = None;
    while let Some(header) = bytes.get(position..position.saturating_add(8)) {
        let id = &header[0..4];
        let size = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default()) as u64;
        let body = position + 8;
        if id == b"fmt " {
            let fmt = bytes
                .get(body..body.saturating_add(16))
                .ok_or(WavError::FormatCutShort)?;
            let field = |at: usize| u16::from_le_bytes([fmt[at], fmt[at + 1]]);
            let sample_rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap_or_default());
            format = Some((field(0), field(2), sample_rate, field(14)));
        } else if id == b"data" {
            let (encoding, channels, sample_rate, bits) =
                format.ok_or(WavError::DataBeforeFormat)?;
            // Streaming writers leave the size at 0 or 0xFFFFFFFF: the data runs to the end.
            let end = match usize::try_from(body as u64 + size) {
                Ok(end) if size != 0 && end <= bytes.len() => end,
                _ => bytes.len(),
            };
            if channels == 0 || sample_rate == 0 {
                return Err(WavError::EmptyFormat);
            }
            let samples = to_pcm16(encoding, bits, &bytes[body.min(end)..end])
                .ok_or(WavError::Unsupported { encoding, bits })?;
            return Ok(Pcm16 {
                samples,
                sample_rate,
                channels,
            });
        }
        // A chunk claiming to run past the end leaves nothing after it to read.
        position = match usize::try_from(body as u64 + size + (size & 1)) {
            Ok(next) => next,
            Err(_) => break,
        };
    }
    Err(WavError::NoData)
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

    /// A mono 24 kHz WAV whose header declares `data_size` bytes, followed by `data`.
    fn wav_with(encoding: u16, bits: u16, data_size: u32, data: &[u8]) -> Vec<u8> {
        [&header(encoding, 1, 24_000, bits, data_size)[..], data].concat()
    }

    #[test]
    fn header_sizes_follow_the_frame_count() {
        let header = pcm16_header(24_000, 2, 100);
        assert_eq!(&header[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(header[4..8].try_into().unwrap()),
            36 + 400
        );
        assert_eq!(u32::from_le_bytes(header[40..44].try_into().unwrap()), 400);
    }

    #[test]
    fn written_files_read_back_the_same() {
        let pcm = Pcm16 {
            samples: vec![7u8; 48_001],
            sample_rate: 24_000,
            channels: 1,
        };
        let wav = encode(&pcm).unwrap();
        assert_eq!(wav.len(), 44 + 48_000);
        let read = decode(&wav).unwrap();
        assert_eq!(read.duration_ms(), 1000);
        assert_eq!(read.samples, vec![7u8; 48_000]);
    }

    #[test]
    fn streamed_and_float_wavs_become_pcm16() {
        let streamed = decode(&wav_with(1, 16, u32::MAX, &[1u8; 4800])).unwrap();
        assert_eq!(streamed.duration_ms(), 100);

        let half: Vec<u8> = std::iter::repeat_n(0.5f32.to_le_bytes(), 2400)
            .flatten()
            .collect();
        let float = decode(&wav_with(3, 32, half.len() as u32, &half)).unwrap();
        assert_eq!(float.duration_ms(), 100);
        assert_eq!(
            i16::from_le_bytes([float.samples[0], float.samples[1]]),
            16384
        );

        assert_eq!(decode(b"ID3 not a wav"), Err(WavError::NotWav));
    }

    /// 16-bit little-endian samples from values.
    fn pcm(values: &[i16], sample_rate: u32, channels: u16) -> Pcm16 {
        Pcm16 {
            samples: values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
            sample_rate,
            channels,
        }
    }

    fn values(pcm: &Pcm16) -> Vec<i16> {
        pcm.samples
            .chunks_exact(2)
            .map(|sample| i16::from_le_bytes([sample[0], sample[1]]))
            .collect()
    }

    #[test]
    fn conversion_keeps_duration_and_interpolates_between_frames() {
        // One second of a 24 kHz ramp, upsampled to 44.1 kHz stereo.
        let ramp: Vec<i16> = (0..24_000).map(|i| (i % 1000) as i16).collect();
        let converted = pcm(&ramp, 24_000, 1).converted(44_100, 2);
        assert_eq!((converted.sample_rate, converted.channels), (44_100, 2));
        assert_eq!(converted.frames(), 44_100);
        assert_eq!(converted.duration_ms(), 1000);
        let out = values(&converted);
        // Output frame 441 is source frame 240 exactly; frame 1 falls 24/44.1 of the way
        // from source frame 0 to 1. Both channels carry the mono source.
        assert_eq!(&out[882..884], &[240, 240]);
        assert_eq!(&out[2..4], &[1, 1]);
        assert_eq!(out[4], 1);

        let same = pcm(&[5, -5, 7, -7], 8_000, 2);
        assert_eq!(same.converted(8_000, 2), same);
    }

    #[test]
    fn stereo_to_mono_averages_the_channels() {
        let stereo = pcm(&[100, 300, -200, 0, i16::MAX, i16::MAX, 0, 0], 48_000, 2);
        let mono = stereo.converted(24_000, 1);
        assert_eq!(mono.channels, 1);
        assert_eq!(values(&mono), vec![200, i16::MAX]);
        assert_eq!(pcm(&[], 24_000, 1).converted(44_100, 2).frames(), 0);
    }

    #[test]
    fn chunks_claiming_gigabytes_are_refused_not_a_panic() {
        let mut huge_list = b"RIFF\0\0\0\0WAVELIST".to_vec();
        huge_list.extend_from_slice(&u32::MAX.to_le_bytes());
        huge_list.extend_from_slice(&[0; 16]);
        assert_eq!(decode(&huge_list), Err(WavError::NoData));
        let mut huge_fmt = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        huge_fmt.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge_fmt), Err(WavError::FormatCutShort));
    }
}
