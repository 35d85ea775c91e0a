//! Behaviour of whole mixes: layout, loudness, peaks, ducking, resampling and errors.

use super::*;
use crate::mix::MusicRequest;
use guest_support::failure::FailureKind;

fn episode(clips: usize, settings: Settings) -> MixRequest {
    MixRequest {
        clips: (0..clips as u32).map(clip).collect(),
        music: None,
        settings,
    }
}

#[test]
fn length_is_padding_plus_clips_plus_gaps() {
    let inputs = vec![
        wav_bytes(44_100, 1, &speechlike(44_100, 1.0, 1)),
        wav_bytes(44_100, 2, &tone(44_100, 2, 0.5, 440.0, 0.3)),
        wav_bytes(44_100, 1, &speechlike(44_100, 2.0, 2)),
    ];
    let mut request = episode(3, settings(44_100, 2));
    request.clips[2].gap_before_ms = Some(1_000);
    let (report, bytes) = run(&request, inputs);
    let (spec, samples) = decode(&bytes);
    let expected_ms = 500 + 1_000 + 400 + 500 + 1_000 + 2_000 + 500;
    assert_eq!(spec.channels, 2);
    assert_eq!(samples.len(), expected_ms * 441 / 10 * 2);
    assert_eq!(report.duration_ms, expected_ms as u64);
    let spans: Vec<(u64, u64)> = report
        .placements
        .iter()
        .map(|placement| (placement.start_ms, placement.end_ms))
        .collect();
    assert_eq!(spans, [(500, 1_500), (1_900, 2_400), (3_400, 5_400)]);
    assert_eq!(report.input_ms, 3_500);
}

#[test]
fn stereo_output_meets_the_podcast_norm() {
    let inputs = vec![
        wav_bytes(24_000, 1, &speechlike(24_000, 6.0, 3)),
        wav_bytes(44_100, 2, &noise_bursts(44_100, 2, 4.0, 4)),
        wav_bytes(24_000, 1, &speechlike(24_000, 5.0, 5)),
    ];
    let mut request = episode(3, settings(44_100, 2));
    request.clips[1].gain_db = 6.0;
    let (report, bytes) = run(&request, inputs);
    let (spec, samples) = decode(&bytes);
    let (lufs, peak) = measure(&spec, &samples);
    assert!((lufs + 16.0).abs() < 0.5, "{lufs} LUFS");
    assert!(peak <= -1.0, "{peak} dBTP");
    assert!((f64::from(report.integrated_lufs) - lufs).abs() < 0.1);
    assert!((f64::from(report.true_peak_dbtp) - peak).abs() < 0.05);
}

#[test]
fn mono_output_meets_its_norm_and_custom_targets() {
    let inputs = vec![
        wav_bytes(24_000, 1, &speechlike(24_000, 8.0, 6)),
        wav_bytes(48_000, 2, &speechlike(48_000, 6.0, 7)),
    ];
    let (report, bytes) = run(&episode(2, settings(48_000, 1)), inputs.clone());
    let (spec, samples) = decode(&bytes);
    assert_eq!(spec.channels, 1);
    let (lufs, peak) = measure(&spec, &samples);
    assert!((lufs + 19.0).abs() < 0.5, "{lufs} LUFS");
    assert!(peak <= -1.0, "{peak} dBTP");
    assert!((f64::from(report.integrated_lufs) - lufs).abs() < 0.1);

    let mut quiet = settings(48_000, 1);
    quiet.loudness_lufs = Some(-24.0);
    quiet.true_peak_dbtp = -3.0;
    let (_, bytes) = run(&episode(2, quiet), inputs);
    let (spec, samples) = decode(&bytes);
    let (lufs, peak) = measure(&spec, &samples);
    assert!((lufs + 24.0).abs() < 0.5, "{lufs} LUFS");
    assert!(peak <= -3.0, "{peak} dBTP");
}

#[test]
fn hot_peaky_input_is_limited_below_the_ceiling() {
    // Full-scale noise bursts, a quarter-rate tone sampled off its peaks, and clicks: all
    // pushed up by normalising a very quiet mix.
    let mut hot = noise_bursts(44_100, 2, 3.0, 8);
    for (n, sample) in hot.iter_mut().enumerate() {
        if n % 20_000 < 4 {
            *sample = if n % 2 == 0 { i16::MAX } else { i16::MIN };
        }
    }
    let quarter: Vec<i16> = (0..44_100)
        .map(|n| {
            ((std::f32::consts::FRAC_PI_2 * n as f32 + std::f32::consts::FRAC_PI_4).sin()
                * 20_000.0) as i16
        })
        .collect();
    let inputs = vec![wav_bytes(44_100, 2, &hot), wav_bytes(44_100, 1, &quarter)];
    let mut request = episode(2, settings(44_100, 2));
    request.settings.loudness_lufs = Some(-9.0);
    let (report, bytes) = run(&request, inputs);
    let (spec, samples) = decode(&bytes);
    let (_, peak) = measure(&spec, &samples);
    assert!(peak <= -1.0, "{peak} dBTP");
    assert!(report.true_peak_dbtp <= -1.0);
}

/// Magnitude of `hz` in `samples` (mono), by the Goertzel algorithm.
fn magnitude_at(samples: &[f32], hz: f32, rate: u32) -> f32 {
    let coefficient = 2.0 * (std::f32::consts::TAU * hz / rate as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coefficient * s1 * s2).sqrt() / samples.len() as f32
}

#[test]
fn music_bed_ducks_under_speech_ahead_of_time() {
    let rate = 44_100;
    // A bed at 220 Hz under speech at 1 kHz with 3 s gaps; it is long enough not to loop, so
    // no loop seam lands in a measuring window.
    let inputs = vec![
        wav_bytes(rate, 1, &tone(rate, 1, 2.0, 1_000.0, 0.3)),
        wav_bytes(rate, 1, &tone(rate, 1, 2.0, 1_000.0, 0.3)),
        wav_bytes(rate, 2, &tone(rate, 2, 12.0, 220.0, 0.3)),
    ];
    let mut request = episode(2, settings(rate, 1));
    request.settings.gap_ms = 3_000;
    request.settings.padding_ms = 2_000;
    request.music = Some(MusicRequest {
        source: 2,
        gain_db: -6.0,
        duck_db: 12.0,
        duck_attack_ms: 400,
        duck_release_ms: 800,
    });
    let (report, bytes) = run(&request, inputs);
    let (_, samples) = decode(&bytes);
    let values: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let bed_at = |ms: u64| {
        let start = (ms * u64::from(rate) / 1000) as usize;
        magnitude_at(&values[start..start + 4_410], 220.0, rate)
    };
    let first = &report.placements[0];
    let second = &report.placements[1];
    let open = bed_at(500);
    let gap = bed_at(second.start_ms - 1_500);
    let under_speech = bed_at(first.start_ms + 800);
    let ducking_db = 20.0 * (open / under_speech).log10();
    assert!((ducking_db - 12.0).abs() < 1.0, "ducked by {ducking_db} dB");
    assert!((gap / open - 1.0).abs() < 0.05, "bed recovers in the gap");
    // The duck is under way before speech starts.
    let leading = bed_at(first.start_ms - 250);
    assert!(leading < open * 0.8 && leading > under_speech * 1.2);
}

#[test]
fn clips_resampled_from_24_khz_keep_their_duration() {
    let inputs = vec![
        wav_bytes(24_000, 1, &speechlike(24_000, 1.5, 9)),
        wav_bytes(24_000, 1, &speechlike(24_000, 2.25, 10)),
    ];
    let (report, bytes) = run(&episode(2, settings(44_100, 2)), inputs);
    let (spec, samples) = decode(&bytes);
    assert_eq!(spec.sample_rate, 44_100);
    let spans: Vec<u64> = report
        .placements
        .iter()
        .map(|placement| placement.end_ms - placement.start_ms)
        .collect();
    assert_eq!(spans, [1_500, 2_250]);
    let expected_frames = (500 + 1_500 + 400 + 2_250 + 500) * 441 / 10;
    assert_eq!(samples.len() / 2, expected_frames);
}

#[test]
fn short_gaps_crossfade_the_clips() {
    let inputs = vec![
        wav_bytes(44_100, 1, &tone(44_100, 1, 1.0, 300.0, 0.3)),
        wav_bytes(44_100, 1, &tone(44_100, 1, 1.0, 500.0, 0.3)),
    ];
    let mut request = episode(2, settings(44_100, 1));
    request.settings.gap_ms = 0;
    request.settings.crossfade_ms = 300;
    let (report, _) = run(&request, inputs);
    assert_eq!(
        report.placements[1].start_ms,
        report.placements[0].end_ms - 300
    );
    assert_eq!(report.duration_ms, 500 + 1_700 + 500);
}

#[test]
fn same_request_gives_identical_output() {
    let inputs = vec![
        wav_bytes(24_000, 1, &speechlike(24_000, 2.0, 11)),
        wav_bytes(32_000, 2, &noise_bursts(32_000, 2, 1.0, 12)),
    ];
    let mut request = episode(1, settings(44_100, 2));
    request.music = Some(MusicRequest {
        source: 1,
        gain_db: -10.0,
        duck_db: 10.0,
        duck_attack_ms: 300,
        duck_release_ms: 600,
    });
    let (_, first) = run(&request, inputs.clone());
    let (_, second) = run(&request, inputs);
    assert_eq!(first, second);
}

fn error_of(request: &MixRequest, inputs: Vec<Vec<u8>>) -> guest_support::failure::Failure {
    let mut output = MemoryOutput::default();
    mix(request, &MemoryInputs(inputs), &mut output).expect_err("mix should fail")
}

#[test]
fn invalid_inputs_are_named_in_the_error() {
    let good = wav_bytes(24_000, 1, &speechlike(24_000, 0.5, 13));
    let error = error_of(
        &episode(2, settings(44_100, 2)),
        vec![good.clone(), b"ID3 mp3".to_vec()],
    );
    assert_eq!(error.kind, FailureKind::InvalidRequest);
    assert_eq!(error.message, "clip 1 (source 1): not a riff wave file");

    let float = {
        let mut bytes = good.clone();
        bytes[20] = 3;
        bytes
    };
    let error = error_of(&episode(1, settings(44_100, 2)), vec![float]);
    assert!(
        error
            .message
            .starts_with("clip 0 (source 0): unsupported encoding")
    );
}

#[test]
fn bad_settings_are_rejected() {
    let good = || vec![wav_bytes(24_000, 1, &speechlike(24_000, 0.5, 14))];
    let message = |request: MixRequest| error_of(&request, good()).message;
    assert_eq!(message(episode(0, settings(44_100, 2))), "no clips to mix");
    assert_eq!(
        message(episode(1, settings(44_100, 3))),
        "channels must be 1 or 2, not 3"
    );
    assert!(message(episode(1, settings(4_000, 2))).starts_with("sample rate 4000 hz"));
    let mut loud = settings(44_100, 2);
    loud.true_peak_dbtp = 2.0;
    assert!(message(episode(1, loud)).starts_with("true-peak-dbtp 2"));
}

#[test]
fn host_failures_are_internal_errors() {
    let error = error_of(&episode(1, settings(44_100, 2)), Vec::new());
    assert_eq!(error.kind, FailureKind::Internal);
    assert!(error.message.contains("no input 0"), "{}", error.message);

    let inputs = MemoryInputs(vec![wav_bytes(24_000, 1, &speechlike(24_000, 3.0, 15))]);
    let mut output = MemoryOutput {
        fail_after: Some(1),
        ..MemoryOutput::default()
    };
    let error = mix(&episode(1, settings(44_100, 2)), &inputs, &mut output).expect_err("fails");
    assert_eq!(error.kind, FailureKind::Internal);
    assert_eq!(error.message, "writing the output failed: disk full");
}
