//! RIFF WAVE headers: finding the 16-bit PCM samples of an input, and writing the output's
//! header before its samples.

use crate::io::AudioInputs;
use guest_support::failure::Failure;

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// Input rates the resampler accepts.
pub const INPUT_RATES: std::ops::RangeInclusive<u32> = 4_000..=384_000;
/// Bytes in the canonical header the mixer writes.
pub const HEADER_BYTES: u64 = tts_kit::wav::PCM16_HEADER_BYTES as u64;

/// Where an input's samples are and how they are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WavLayout {
    pub channels: u16,
    pub sample_rate: u32,
    /// Byte offset of the first sample.
    pub data_offset: u64,
    pub frames: u64,
}

impl WavLayout {
    pub fn block_align(&self) -> u64 {
        u64::from(self.channels) * 2
    }
}

/// Reads the header of input `source` and checks that it holds 16-bit PCM, mono or stereo.
/// `label` names the input in error messages, for example "clip 2 (source 5)".
pub fn read_layout(
    inputs: &dyn AudioInputs,
    source: u32,
    label: &str,
) -> Result<WavLayout, Failure> {
    let size = inputs
        .size(source)
        .map_err(|error| Failure::internal(format!("{label}: cannot get its size: {error}")))?;
    let read = |offset: u64, length: u32| -> Result<Vec<u8>, Failure> {
        inputs
            .read(source, offset, length)
            .map_err(|error| Failure::internal(format!("{label}: reading failed: {error}")))
    };
    let invalid = |problem: &str| Failure::invalid(format!("{label}: {problem}"));

    let riff = read(0, 12)?;
    if riff.len() < 12 || &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(invalid("not a riff wave file"));
    }
    let mut format: Option<(u16, u32)> = None;
    let mut data: Option<(u64, u64)> = None;
    let mut offset = 12u64;
    while offset + 8 <= size && (format.is_none() || data.is_none()) {
        let chunk_header = read(offset, 8)?;
        if chunk_header.len() < 8 {
            break;
        }
        let id = &chunk_header[0..4];
        let length = u64::from(le_u32(&chunk_header[4..8]));
        let body = offset + 8;
        if id == b"fmt " {
            if length < 16 {
                return Err(invalid("fmt chunk is too short"));
            }
            let fmt = read(body, length.min(40) as u32)?;
            format = Some(check_format(&fmt).map_err(|problem| invalid(&problem))?);
        } else if id == b"data" {
            data = Some((body, length));
        }
        // Chunks are padded to an even length.
        offset = body + length + (length & 1);
    }
    let (channels, sample_rate) = format.ok_or_else(|| invalid("no fmt chunk"))?;
    let (data_offset, declared) = data.ok_or_else(|| invalid("no data chunk"))?;
    // Streaming writers leave the length 0 or 0xffffffff; trust the file size then.
    let available = size.saturating_sub(data_offset);
    let data_bytes = if declared == 0 || declared > available {
        available
    } else {
        declared
    };
    let frames = data_bytes / (u64::from(channels) * 2);
    if frames == 0 {
        return Err(invalid("wav holds no samples"));
    }
    Ok(WavLayout {
        channels,
        sample_rate,
        data_offset,
        frames,
    })
}

/// Channels and sample rate from a fmt chunk, or what is wrong with it.
fn check_format(fmt: &[u8]) -> Result<(u16, u32), String> {
    if fmt.len() < 16 {
        return Err("fmt chunk is truncated".into());
    }
    let mut tag = le_u16(&fmt[0..2]);
    let channels = le_u16(&fmt[2..4]);
    let sample_rate = le_u32(&fmt[4..8]);
    let block_align = le_u16(&fmt[12..14]);
    let bits = le_u16(&fmt[14..16]);
    if tag == FORMAT_EXTENSIBLE {
        // The real format is the first two bytes of the sub-format GUID.
        if fmt.len() < 26 {
            return Err("extensible fmt chunk is truncated".into());
        }
        tag = le_u16(&fmt[24..26]);
    }
    if tag != FORMAT_PCM {
        return Err(format!(
            "unsupported encoding (format tag {tag}); only 16-bit pcm is supported"
        ));
    }
    if bits != 16 {
        return Err(format!(
            "{bits}-bit samples are not supported; only 16-bit pcm is"
        ));
    }
    if channels != 1 && channels != 2 {
        return Err(format!(
            "{channels} channels; only mono and stereo are supported"
        ));
    }
    if block_align != channels * 2 {
        return Err(format!(
            "block align {block_align} does not match {channels} channels of 16 bits"
        ));
    }
    if !INPUT_RATES.contains(&sample_rate) {
        return Err(format!(
            "sample rate {sample_rate} hz is outside {}..={} hz",
            INPUT_RATES.start(),
            INPUT_RATES.end()
        ));
    }
    Ok((channels, sample_rate))
}

fn le_u16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::memory::MemoryInputs;

    fn layout_of(bytes: Vec<u8>) -> Result<WavLayout, Failure> {
        read_layout(&MemoryInputs(vec![bytes]), 0, "clip 0 (source 0)")
    }

    fn wav(channels: u16, rate: u32, frames: u32) -> Vec<u8> {
        let mut bytes = tts_kit::wav::pcm16_header(rate, channels, frames).to_vec();
        bytes.resize(bytes.len() + frames as usize * channels as usize * 2, 0);
        bytes
    }

    #[test]
    fn finds_samples_after_extra_chunks() {
        let plain = wav(2, 44_100, 10);
        let mut with_list = plain[..36].to_vec();
        with_list.extend_from_slice(b"LIST");
        with_list.extend_from_slice(&3u32.to_le_bytes());
        with_list.extend_from_slice(&[1, 2, 3, 0]);
        with_list.extend_from_slice(&plain[36..]);
        let layout = layout_of(with_list).expect("layout");
        assert_eq!(layout.data_offset, 44 + 12);
        assert_eq!(layout.frames, 10);
        assert_eq!(layout.channels, 2);
        assert_eq!(layout.sample_rate, 44_100);
    }

    #[test]
    fn streaming_length_falls_back_to_file_size() {
        let mut bytes = wav(1, 24_000, 100);
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(layout_of(bytes).expect("layout").frames, 100);
    }

    #[test]
    fn rejects_what_it_cannot_mix() {
        let message = |bytes: Vec<u8>| layout_of(bytes).expect_err("invalid").message;
        assert!(message(b"hello world, not a wav".to_vec()).contains("not a riff wave"));
        let mut eight_bit = wav(1, 8_000, 4);
        eight_bit[34] = 8;
        assert!(message(eight_bit).contains("8-bit samples"));
        let mut float = wav(1, 8_000, 4);
        float[20] = 3;
        assert!(message(float).contains("format tag 3"));
        let mut surround = wav(1, 8_000, 4);
        surround[22] = 6;
        assert!(message(surround).contains("6 channels"));
        assert!(message(wav(1, 1_000, 4)).contains("sample rate 1000"));
        assert!(message(wav(1, 8_000, 0)).contains("no samples"));
        let error = layout_of(wav(1, 8_000, 4)[..20].to_vec()).expect_err("truncated");
        assert_eq!(
            error.kind,
            guest_support::failure::FailureKind::InvalidRequest
        );
    }
}
