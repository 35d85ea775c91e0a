//! Mock mixer provider that really mixes: streams speech clips and an optional looped, ducked
//! music bed from the host, normalises loudness per EBU R128 with a true-peak limiter, and
//! streams the episode back as 16-bit PCM WAV.

mod decode;
mod io;
mod limiter;
mod loudness;
mod mix;
mod render;
mod timeline;
mod true_peak;
mod wav;

#[cfg(test)]
mod tests;

wit_bindgen::generate!({
    path: "../../wit",
    world: "mixer-provider",
    with: { "pipeline:services/types@0.1.0": guest_support::types },
});

use exports::pipeline::services::mixer::{Guest, MixRequest, MixResponse, Placement};
use guest_support::types::{
    AudioEncoding, AudioFormat, Cost, ProviderError, Quantity, Usage, UsageUnit,
};
use pipeline::services::{audio_sink, audio_source};

/// The host's `audio-source` import.
struct HostInputs;

impl io::AudioInputs for HostInputs {
    fn size(&self, source: u32) -> Result<u64, String> {
        audio_source::size(source)
    }

    fn read(&self, source: u32, offset: u64, max_bytes: u32) -> Result<Vec<u8>, String> {
        audio_source::read(source, offset, max_bytes)
    }
}

/// The host's `audio-sink` import.
struct HostOutput;

impl io::AudioOutput for HostOutput {
    fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        audio_sink::write(chunk)
    }
}

struct MockMixer;

impl Guest for MockMixer {
    fn mix(request: MixRequest) -> Result<MixResponse, ProviderError> {
        let settings = &request.settings;
        let job = mix::MixRequest {
            clips: request
                .clips
                .iter()
                .map(|clip| mix::ClipRequest {
                    source: clip.source,
                    gain_db: clip.gain_db,
                    gap_before_ms: clip.gap_before_ms,
                })
                .collect(),
            music: request.music.as_ref().map(|music| mix::MusicRequest {
                source: music.source,
                gain_db: music.gain_db,
                duck_db: music.duck_db,
                duck_attack_ms: music.duck_attack_ms,
                duck_release_ms: music.duck_release_ms,
            }),
            settings: mix::Settings {
                gap_ms: settings.gap_ms,
                crossfade_ms: settings.crossfade_ms,
                padding_ms: settings.padding_ms,
                sample_rate: settings.sample_rate,
                channels: settings.channels,
                loudness_lufs: settings.loudness_lufs,
                true_peak_dbtp: settings.true_peak_dbtp,
            },
        };
        let report = mix::mix(&job, &HostInputs, &mut HostOutput).map_err(ProviderError::from)?;
        Ok(MixResponse {
            format: AudioFormat {
                encoding: AudioEncoding::WavPcm16,
                sample_rate: settings.sample_rate,
                channels: settings.channels,
            },
            duration_ms: report.duration_ms,
            integrated_lufs: report.integrated_lufs,
            true_peak_dbtp: report.true_peak_dbtp,
            placements: report
                .placements
                .into_iter()
                .map(|placement| Placement {
                    clip: placement.clip,
                    start_ms: placement.start_ms,
                    end_ms: placement.end_ms,
                })
                .collect(),
            usage: Usage {
                input: Quantity {
                    amount: report.input_ms,
                    unit: UsageUnit::AudioMilliseconds,
                },
                output: Quantity {
                    amount: report.duration_ms,
                    unit: UsageUnit::AudioMilliseconds,
                },
            },
            cost: Cost {
                amount_micros: 0,
                currency: "USD".into(),
            },
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(MockMixer);
