//! Encodes the episode WAV to `episode.mp3` with LAME, behind the ID3 tag.
//!
//! The WAV is read and encoded a chunk at a time, so an hour-long episode never sits in memory.
//! The output is constant bitrate (128 kbit/s stereo, 64 kbit/s mono: plenty for speech, and
//! CBR lets players seek and compute the duration from the file size) at the WAV's own sample
//! rate when MPEG audio has it. LAME writes nothing that depends on the time or the machine
//! once its Xing/LAME info frame is turned off, so the same WAV gives the same bytes. Without that
//! frame players do not learn the encoder's delay and padding (about 50 ms in all), which only
//! gapless playback would need.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;

use mp3lame_encoder::{
    Bitrate, Builder, Encoder, FlushGap, InterleavedPcm, Mode, MonoPcm, Quality, VbrMode,
};

use crate::{PublishError, wav};

/// 32 MPEG-1 frames: large enough that per-call overhead vanishes, small enough (144 KiB of PCM
/// for stereo) to keep memory flat.
const FRAMES_PER_CHUNK: usize = 1152 * 32;

/// Sample rates MPEG-1, 2 and 2.5 layer III can carry; any other rate is resampled by LAME to
/// the rate it picks for the bitrate.
const MPEG_SAMPLE_RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Writes `tag` and then the MP3 encoding of the WAV at `wav_path` into `output`, which will
/// become `mp3_path`.
pub(crate) fn write_mp3(
    output: &mut dyn Write,
    mp3_path: &Path,
    wav_path: &Path,
    tag: &id3::Tag,
) -> Result<(), PublishError> {
    let write_error = |source| PublishError::Write {
        path: mp3_path.to_owned(),
        source,
    };
    let encoding_error = |reason: String| PublishError::Mp3Encoding {
        path: mp3_path.to_owned(),
        reason,
    };
    // The tag is written by the id3 crate, not LAME, which cannot write chapters. No padding:
    // the file is never edited in place, and padding would only add bytes.
    id3::Encoder::new()
        .version(id3::Version::Id3v24)
        .encode(tag, &mut *output)
        .map_err(|source| PublishError::Id3 {
            path: mp3_path.to_owned(),
            source,
        })?;

    let (mut reader, info) = wav::open(wav_path)?;
    let channels = usize::from(info.channels);
    let mut encoder = encoder(info.channels, info.sample_rate)
        .map_err(|reason| encoding_error(format!("cannot configure lame: {reason}")))?;
    let mut pcm: Vec<i16> = Vec::with_capacity(FRAMES_PER_CHUNK * channels);
    let mut mp3 = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(FRAMES_PER_CHUNK));
    let mut samples = reader.samples::<i16>();
    loop {
        pcm.clear();
        for sample in samples.by_ref().take(FRAMES_PER_CHUNK * channels) {
            pcm.push(sample.map_err(|error| wav::wav_error(wav_path, error))?);
        }
        if pcm.is_empty() {
            break;
        }
        if !pcm.len().is_multiple_of(channels) {
            return Err(PublishError::InvalidWav {
                path: wav_path.to_owned(),
                reason: "sample data ends in the middle of a stereo frame".to_owned(),
            });
        }
        mp3.clear();
        let encoded = if channels == 1 {
            encoder.encode_to_vec(MonoPcm(pcm.as_slice()), &mut mp3)
        } else {
            encoder.encode_to_vec(InterleavedPcm(pcm.as_slice()), &mut mp3)
        };
        encoded.map_err(|error| encoding_error(error.to_string()))?;
        output.write_all(&mp3).map_err(write_error)?;
    }
    mp3.clear();
    encoder
        .flush_to_vec::<FlushGap>(&mut mp3)
        .map_err(|error| encoding_error(error.to_string()))?;
    output.write_all(&mp3).map_err(write_error)
}

fn encoder(channels: u16, sample_rate: u32) -> Result<Encoder, String> {
    let mut builder = Builder::new().ok_or("cannot allocate the encoder")?;
    let (mode, bitrate) = if channels == 1 {
        (Mode::Mono, Bitrate::Kbps64)
    } else {
        (Mode::JointStereo, Bitrate::Kbps128)
    };
    let output_rate = MPEG_SAMPLE_RATES
        .contains(&sample_rate)
        .then(|| NonZeroU32::new(sample_rate))
        .flatten();
    let settings = [
        builder.set_num_channels(channels as u8),
        builder.set_sample_rate(sample_rate),
        builder.set_output_sample_rate(output_rate),
        builder.set_mode(mode),
        builder.set_vbr_mode(VbrMode::Off),
        builder.set_brate(bitrate),
        // LAME's default quality: five minutes of 48 kHz stereo encode in about 7 s even in a
        // debug build, and the slower settings gain little that is audible in speech.
        builder.set_quality(Quality::Good),
        builder.set_to_write_vbr_tag(false),
    ];
    for setting in settings {
        setting.map_err(|error| error.to_string())?;
    }
    builder.build().map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mpeg_rate_is_accepted_in_mono_and_stereo() {
        for rate in MPEG_SAMPLE_RATES {
            for channels in [1, 2] {
                let encoder = encoder(channels, rate)
                    .unwrap_or_else(|error| panic!("{rate} Hz, {channels} ch: {error}"));
                assert_eq!(encoder.sample_rate(), rate);
            }
        }
    }

    #[test]
    fn other_rates_are_resampled() {
        assert!(encoder(1, 96_000).is_ok());
        assert!(encoder(2, 20_000).is_ok());
    }
}
