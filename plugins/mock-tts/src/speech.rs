//! Validates a synthesis request and turns it into a WAV clip, independent of the WIT bindings.

use crate::synth::{self, SAMPLE_RATE};
use crate::text;
use crate::voices::{self, find_style, find_voice};
use guest_support::seed::{Sequence, hash_fields};
use tts_kit::wav;

/// Longest clip produced; the whole clip travels in one response, so this bounds its memory
/// (about 86 MB).
const MAX_DURATION_MS: u64 = 30 * 60 * 1000;
const MIN_SPEED: f32 = 0.25;
const MAX_SPEED: f32 = 4.0;
/// Active speech is brought to this RMS level (-20 dBFS).
const TARGET_RMS: f32 = 0.1;
/// Above this magnitude samples are bent smoothly toward full scale instead of clipping.
const SOFT_LIMIT_KNEE: f32 = 0.5;

/// The request fields that shape the audio.
pub struct SpeechRequest<'a> {
    pub text: &'a str,
    pub voice: &'a str,
    pub style: Option<&'a str>,
    pub speed: f32,
    pub model: Option<&'a str>,
}

/// A synthesised clip: a complete 24 kHz mono 16-bit WAV file.
#[derive(Debug)]
pub struct Speech {
    pub wav: Vec<u8>,
    pub duration_ms: u64,
    pub characters: u64,
}

/// Why a request cannot be spoken; always the caller's mistake.
#[derive(Debug, PartialEq)]
pub struct InvalidRequest(pub String);

pub fn synthesize(request: &SpeechRequest) -> Result<Speech, InvalidRequest> {
    let voice = find_voice(request.voice).ok_or_else(|| {
        InvalidRequest(format!(
            "unknown voice \"{}\"; valid voices are {}",
            request.voice,
            voices::voice_ids()
        ))
    })?;
    let characters = request.text.chars().count();
    if request.text.trim().is_empty() {
        return Err(InvalidRequest("text is empty".into()));
    }
    if !(MIN_SPEED..=MAX_SPEED).contains(&request.speed) {
        return Err(InvalidRequest(format!(
            "speed {} is outside {MIN_SPEED}..={MAX_SPEED}",
            request.speed
        )));
    }
    let style = find_style(request.style);
    let seed = hash_fields(&[
        request.text.as_bytes(),
        request.voice.as_bytes(),
        request.style.unwrap_or("").as_bytes(),
        &request.speed.to_bits().to_le_bytes(),
        request.model.unwrap_or("").as_bytes(),
    ]);
    let mut score_rng = Sequence::new(seed);
    let events = text::score(request.text, request.speed * style.rate, &mut score_rng);
    if events.is_empty() {
        return Err(InvalidRequest("text contains no words to speak".into()));
    }

    let samples = synth::event_boundaries(&events)
        .last()
        .copied()
        .unwrap_or(0);
    let duration_ms = samples as u64 * 1000 / u64::from(SAMPLE_RATE);
    if duration_ms > MAX_DURATION_MS {
        return Err(InvalidRequest(format!(
            "the speech would last {} s; the limit is {} s, so split the text",
            duration_ms / 1000,
            MAX_DURATION_MS / 1000
        )));
    }
    // Two deterministic passes: the first measures the level, the second writes the samples,
    // so only the encoded clip is ever held in memory.
    let voice_seed = score_rng.next_u64();
    let mut energy = 0.0f64;
    let mut active = 0u64;
    synth::render(&events, voice, style, voice_seed, |sample, is_active| {
        if is_active {
            energy += f64::from(sample) * f64::from(sample);
            active += 1;
        }
    });
    let rms = (energy / active.max(1) as f64).sqrt() as f32;
    let gain = if rms > 0.0 { TARGET_RMS / rms } else { 1.0 };

    let mut wav = Vec::with_capacity(wav::PCM16_HEADER_BYTES + samples * 2);
    // The duration limit keeps the sample count far below u32::MAX.
    wav.extend_from_slice(&wav::pcm16_header(SAMPLE_RATE, 1, samples as u32));
    synth::render(&events, voice, style, voice_seed, |sample, _| {
        let pcm = (soft_limit(sample * gain) * 32767.0).round() as i16;
        wav.extend_from_slice(&pcm.to_le_bytes());
    });
    Ok(Speech {
        wav,
        duration_ms,
        characters: characters as u64,
    })
}

/// Leaves quiet samples alone and bends louder ones smoothly so that the result stays below
/// full scale.
fn soft_limit(sample: f32) -> f32 {
    let magnitude = sample.abs();
    if magnitude <= SOFT_LIMIT_KNEE {
        return sample;
    }
    let headroom = 0.98 - SOFT_LIMIT_KNEE;
    let bent = SOFT_LIMIT_KNEE + headroom * ((magnitude - SOFT_LIMIT_KNEE) / headroom).tanh();
    bent.copysign(sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voices::VOICES;

    const PASSAGE: &str = "The river wound slowly through the valley, carrying leaves and \
        small branches toward the distant sea. Farmers on both banks watched the water rise \
        each spring, measuring the seasons by its color and its sound. Children learned to \
        swim in the shallow pools where the current slowed, and old men fished from the \
        stones at dusk. When the great flood came, nobody was ready. The bridge that had \
        stood for a hundred years gave way in a single night, and the town woke to find \
        itself divided. It took three summers to rebuild what the water had taken, but the \
        people did it together, carrying stones by hand and singing as they worked. Today a \
        small plaque on the new bridge remembers that season, and every spring the \
        children still gather to watch the river rise again, as patient and as restless as \
        ever before. Nobody there ever forgot it.";

    fn request<'a>(text: &'a str, voice: &'a str) -> SpeechRequest<'a> {
        SpeechRequest {
            text,
            voice,
            style: None,
            speed: 1.0,
            model: None,
        }
    }

    fn samples(speech: &Speech) -> Vec<i16> {
        let reader = hound::WavReader::new(speech.wav.as_slice()).expect("valid wav");
        reader
            .into_samples::<i16>()
            .collect::<Result<_, _>>()
            .expect("pcm samples")
    }

    fn db(value: f64) -> f64 {
        20.0 * value.log10()
    }

    #[test]
    fn same_request_gives_identical_bytes() {
        let first = synthesize(&request("Hello, world. How are you?", "aria")).expect("speech");
        let second = synthesize(&request("Hello, world. How are you?", "aria")).expect("speech");
        assert_eq!(first.wav, second.wav);
        let other = synthesize(&request("Hello, world. How are you!", "aria")).expect("speech");
        assert_ne!(first.wav, other.wav);
    }

    #[test]
    fn wav_is_24khz_mono_pcm16_and_duration_matches_samples() {
        let speech = synthesize(&request("Testing one two three.", "basil")).expect("speech");
        let reader = hound::WavReader::new(speech.wav.as_slice()).expect("valid wav");
        let spec = reader.spec();
        assert_eq!(spec.sample_rate, 24_000);
        assert_eq!(spec.channels, 1);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        assert_eq!(u64::from(reader.duration()), speech.duration_ms * 24);
        assert_eq!(speech.characters, 22);
    }

    #[test]
    fn a_150_word_passage_lasts_about_a_minute() {
        assert_eq!(PASSAGE.split_whitespace().count(), 150);
        let speech = synthesize(&request(PASSAGE, "felix")).expect("speech");
        let seconds = speech.duration_ms as f64 / 1000.0;
        assert!((57.0..=68.0).contains(&seconds), "{seconds} s");
        let mut fast = request(PASSAGE, "felix");
        fast.speed = 2.0;
        let fast_seconds = synthesize(&fast).expect("speech").duration_ms as f64 / 1000.0;
        assert!(
            (fast_seconds * 2.0 - seconds).abs() < 0.2,
            "{fast_seconds} s"
        );
    }

    #[test]
    fn level_is_moderate_and_never_clips() {
        for voice in &VOICES {
            let speech = synthesize(&request(PASSAGE, voice.id)).expect("speech");
            let pcm = samples(&speech);
            let values: Vec<f64> = pcm.iter().map(|&s| f64::from(s) / 32768.0).collect();
            let peak = values.iter().fold(0.0f64, |peak, v| peak.max(v.abs()));
            // Level over the non-silent part, roughly what a meter shows while someone speaks.
            let loud: Vec<f64> = values.iter().copied().filter(|v| v.abs() > 0.003).collect();
            let rms = (loud.iter().map(|v| v * v).sum::<f64>() / loud.len() as f64).sqrt();
            assert!(peak < 0.99, "{} peak {}", voice.id, db(peak));
            assert!(
                (-24.0..=-17.0).contains(&db(rms)),
                "{} rms {}",
                voice.id,
                db(rms)
            );
            let crest = db(peak) - db(rms);
            assert!(crest < 16.0, "{} crest factor {crest} dB", voice.id);
        }
    }

    #[test]
    fn voices_and_styles_sound_different() {
        let text = "A short sentence to compare voices.";
        let clips: Vec<Vec<i16>> = VOICES
            .iter()
            .map(|voice| samples(&synthesize(&request(text, voice.id)).expect("speech")))
            .collect();
        for (i, a) in clips.iter().enumerate() {
            for b in &clips[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Zero crossings follow the pitch: the deepest voice crosses far less often than the
        // highest.
        let crossings = |pcm: &[i16]| pcm.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        let dmitri = crossings(&clips[3]);
        let elena = crossings(&clips[4]);
        assert!(elena as f64 > dmitri as f64 * 1.3, "{elena} vs {dmitri}");

        let mut excited = request(text, "aria");
        excited.style = Some("excited");
        let mut calm = request(text, "aria");
        calm.style = Some("calm");
        let excited = synthesize(&excited).expect("speech");
        let calm = synthesize(&calm).expect("speech");
        assert!(excited.duration_ms < calm.duration_ms);
    }

    #[test]
    fn bad_requests_are_rejected() {
        let unknown = synthesize(&request("Hi.", "zed")).expect_err("unknown voice");
        assert!(unknown.0.contains("\"zed\"") && unknown.0.contains("aria, basil"));
        assert!(synthesize(&request("  ", "aria")).is_err());
        assert!(synthesize(&request("...", "aria")).is_err());
        for speed in [0.2, 4.5, f32::NAN] {
            let mut bad = request("Hi.", "aria");
            bad.speed = speed;
            let error = synthesize(&bad).expect_err("bad speed");
            assert!(error.0.starts_with("speed"), "{}", error.0);
        }
        let words = "word ".repeat(2_000);
        let mut long = request(&words, "aria");
        long.speed = 0.25;
        let error = synthesize(&long).expect_err("too long");
        assert!(error.0.contains("split the text"), "{}", error.0);
    }
}
