//! Encodes the episode WAV to `episode.mp3` with LAME, behind the ID3 tag.
//!
//! The WAV is read and encoded a chunk at a time, so an hour-long episode never sits in memory.
//! The output is constant bitrate (128 kbit/s stereo, 64 kbit/s mono: plenty for speech, and
//! CBR lets players seek and compute the duration from the file size) at the WAV's own sample
//! rate when MPEG audio has it. The stream starts with LAME's Info frame (the CBR form of the
//! Xing header: frame and byte counts, encoder delay and padding), so players know the exact
//! duration instead of estimating it. LAME writes nothing that depends on the time or the
//! machine, so the same WAV gives the same bytes.

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
    // The tag is written by the id3 crate, not LAME, which cannot write chapters. No padding:
    // the file is never edited in place, and padding would only add bytes.
    id3::Encoder::new()
        .version(id3::Version::Id3v24)
        .encode(tag, &mut *output)
        .map_err(|source| PublishError::Id3 {
            path: mp3_path.to_owned(),
            source,
        })?;

    // LAME starts the stream with a placeholder for its Info frame (frame count, byte count,
    // encoder delay and padding: what players need for an exact duration and gapless play)
    // and can fill it in only once everything is encoded. The frames go to a scratch file
    // first, so the output stays a stream: tag, finished Info frame, then the rest.
    let frames_path = mp3_path.with_file_name(format!(
        ".{}.frames",
        mp3_path
            .file_name()
            .map_or_else(|| "episode.mp3".into(), |name| name.to_string_lossy())
    ));
    let result = encode_with_info_frame(output, mp3_path, wav_path, &frames_path);
    let _ = std::fs::remove_file(&frames_path);
    result
}

/// Encodes the WAV into `frames_path`, then writes the Info frame and the frames after it
/// into `output`.
fn encode_with_info_frame(
    output: &mut dyn Write,
    mp3_path: &Path,
    wav_path: &Path,
    frames_path: &Path,
) -> Result<(), PublishError> {
    let write_error = |source| PublishError::Write {
        path: mp3_path.to_owned(),
        source,
    };
    let encoding_error = |reason: String| PublishError::Mp3Encoding {
        path: mp3_path.to_owned(),
        reason,
    };
    let frames_error = |source| PublishError::Write {
        path: frames_path.to_owned(),
        source,
    };
    let mut frames =
        std::io::BufWriter::new(std::fs::File::create(frames_path).map_err(frames_error)?);
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
        frames.write_all(&mp3).map_err(frames_error)?;
    }
    mp3.clear();
    encoder
        .flush_to_vec::<FlushGap>(&mut mp3)
        .map_err(|error| encoding_error(error.to_string()))?;
    frames.write_all(&mp3).map_err(frames_error)?;
    frames.flush().map_err(frames_error)?;
    drop(frames);

    let mut info_frame = Vec::with_capacity(encoder.lame_tag_size());
    let info_length = encoder
        .lame_tag_encode_to_vec(&mut info_frame)
        .ok_or_else(|| encoding_error("lame wrote no Info frame".to_owned()))?
        .get();
    output.write_all(&info_frame).map_err(write_error)?;
    // The placeholder LAME wrote first has the Info frame's length: skip it.
    let mut encoded = std::fs::File::open(frames_path).map_err(frames_error)?;
    std::io::Seek::seek(&mut encoded, std::io::SeekFrom::Start(info_length as u64))
        .map_err(frames_error)?;
    std::io::copy(&mut encoded, output).map_err(write_error)?;
    Ok(())
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
        builder.set_to_write_vbr_tag(true),
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
