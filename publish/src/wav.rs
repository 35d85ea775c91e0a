//! Opens the mixed episode WAV and checks that it is what the encoder expects: 16-bit integer
//! PCM with one or two channels.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use crate::PublishError;

/// The shape of the audio, read from the WAV header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WavInfo {
    pub(crate) channels: u16,
    pub(crate) sample_rate: u32,
    /// Samples per channel.
    pub(crate) frames: u32,
}

impl WavInfo {
    /// Rounded up, so that a line ending on the last sample is never cut short by rounding.
    pub(crate) fn duration_ms(&self) -> u64 {
        (u64::from(self.frames) * 1000).div_ceil(u64::from(self.sample_rate))
    }
}

/// Opens `path` positioned at its first sample.
pub(crate) fn open(path: &Path) -> Result<(WavReader<BufReader<File>>, WavInfo), PublishError> {
    let file = File::open(path).map_err(|source| PublishError::Read {
        path: path.to_owned(),
        source,
    })?;
    let reader = WavReader::new(BufReader::new(file)).map_err(|error| wav_error(path, error))?;
    let spec = reader.spec();
    let invalid = |reason: String| PublishError::InvalidWav {
        path: path.to_owned(),
        reason,
    };
    if spec.sample_format != SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(invalid(format!(
            "samples are {}-bit {:?}, expected 16-bit integer",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(invalid(format!(
            "{} channels, expected mono or stereo",
            spec.channels
        )));
    }
    if spec.sample_rate == 0 {
        return Err(invalid("sample rate is zero".to_owned()));
    }
    let info = WavInfo {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        frames: reader.duration(),
    };
    Ok((reader, info))
}

/// Any error hound reports, even an I/O one, is blamed on the WAV: hound reports a truncated
/// file as a generic I/O error ("failed to read enough bytes"), indistinguishable by kind from a
/// failing disk, and a truncated file is by far the likelier cause once the file opened.
pub(crate) fn wav_error(path: &Path, error: hound::Error) -> PublishError {
    PublishError::InvalidWav {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, spec: hound::WavSpec, frames: u32) {
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for _ in 0..frames * u32::from(spec.channels) {
            match spec.sample_format {
                SampleFormat::Int => writer.write_sample(0i16).unwrap(),
                SampleFormat::Float => writer.write_sample(0f32).unwrap(),
            }
        }
        writer.finalize().unwrap();
    }

    #[test]
    fn reads_shape_and_duration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        write_wav(&path, spec, 48_001);
        let (_, info) = open(&path).unwrap();
        assert_eq!(
            (info.channels, info.sample_rate, info.frames),
            (2, 48_000, 48_001)
        );
        assert_eq!(info.duration_ms(), 1001);
    }

    #[test]
    fn float_samples_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("float.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 24_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        write_wav(&path, spec, 10);
        let Err(error) = open(&path) else {
            panic!("a float wav was accepted")
        };
        assert!(
            matches!(&error, PublishError::InvalidWav { path: p, .. } if *p == path),
            "{error}"
        );
        assert!(error.to_string().contains("32-bit Float"), "{error}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let Err(error) = open(Path::new("/nonexistent/episode.wav")) else {
            panic!("a missing wav was opened")
        };
        assert!(matches!(error, PublishError::Read { .. }), "{error}");
    }
}
