//! A small source-filter speech synthesiser: a band-limited glottal buzz plus aspiration noise,
//! shaped by moving formant resonances, with fricative and burst noise for consonants. It plays
//! the score from `text` in one voice and style.

use std::f32::consts::{PI, TAU};

use crate::text::{Event, Onset, Syllable, Vowel};
use crate::voices::{Style, VoiceProfile};
use guest_support::seed::Sequence;

pub const SAMPLE_RATE: u32 = 24_000;
/// Silence before the first syllable, so the clip does not start mid-breath.
const LEAD_IN_SECONDS: f64 = 0.05;
/// Samples between updates of the slowly moving parameters (pitch, formants).
const CONTROL_INTERVAL: usize = 16;
const VIBRATO_HZ: f32 = 5.1;
/// One millisecond of samples; clips are padded to whole milliseconds so that the reported
/// duration is exact.
const SAMPLES_PER_MS: usize = SAMPLE_RATE as usize / 1000;

/// Sample index where each event starts, then the total length. Boundaries come from rounding
/// the running time so that durations never drift.
pub fn event_boundaries(events: &[Event]) -> Vec<usize> {
    let rate = f64::from(SAMPLE_RATE);
    let mut seconds = LEAD_IN_SECONDS;
    let mut boundaries = Vec::with_capacity(events.len() + 1);
    for event in events {
        boundaries.push((seconds * rate).round() as usize);
        seconds += f64::from(match event {
            Event::Syllable(syllable) => syllable.seconds,
            Event::Pause { seconds, .. } => *seconds,
        });
    }
    let end = (seconds * rate).round() as usize;
    boundaries.push(end.div_ceil(SAMPLES_PER_MS) * SAMPLES_PER_MS);
    boundaries
}

/// Plays the score, calling `emit` with each sample (roughly within ±1) and whether it belongs
/// to active speech, which is what the output level is measured on.
pub fn render(
    events: &[Event],
    voice: &VoiceProfile,
    style: &Style,
    seed: u64,
    mut emit: impl FnMut(f32, bool),
) {
    let boundaries = event_boundaries(events);
    let total = boundaries.last().copied().unwrap_or(0);
    let mut state = VoiceState::new(voice, style, seed);
    let mut event_index = 0;
    let mut targets = Targets::silence(voice);
    for sample in 0..total {
        while event_index < events.len() && sample >= boundaries[event_index + 1] {
            event_index += 1;
        }
        if sample % CONTROL_INTERVAL == 0 {
            targets = match events.get(event_index) {
                Some(event) if sample >= boundaries[event_index] => {
                    let start = boundaries[event_index];
                    let length = (boundaries[event_index + 1] - start).max(1);
                    let progress = (sample - start) as f32 / length as f32;
                    Targets::for_event(event, progress, voice, style)
                }
                _ => Targets::silence(voice),
            };
            state.control(&targets);
        }
        let (value, active) = state.tick(&targets);
        emit(value, active);
    }
}

/// Where the parameters are heading at one moment of the score.
struct Targets {
    pitch_hz: f32,
    voicing: f32,
    /// Aspiration level while not voicing, for breaths.
    breath: f32,
    frication: f32,
    /// Centre of the fricative or burst noise, in Hz.
    noise_centre_hz: f32,
    formants: [f32; 3],
}

impl Targets {
    fn silence(voice: &VoiceProfile) -> Self {
        Self {
            pitch_hz: voice.pitch_hz,
            voicing: 0.0,
            breath: 0.0,
            frication: 0.0,
            noise_centre_hz: 4000.0,
            formants: scaled(vowel_formants(Vowel::Schwa), voice.formant_scale),
        }
    }

    fn for_event(event: &Event, progress: f32, voice: &VoiceProfile, style: &Style) -> Self {
        match event {
            Event::Syllable(syllable) => Self::for_syllable(syllable, progress, voice, style),
            Event::Pause { breath, .. } => {
                let mut targets = Self::silence(voice);
                if *breath {
                    // A soft inhale in the middle of the pause, with a lowered first formant.
                    let bell = (PI * ((progress - 0.3) / 0.6).clamp(0.0, 1.0)).sin();
                    targets.breath = 0.08 * bell * bell;
                    targets.formants[0] *= 0.8;
                }
                targets
            }
        }
    }

    fn for_syllable(syllable: &Syllable, u: f32, voice: &VoiceProfile, style: &Style) -> Self {
        let onset_end = match syllable.onset {
            Onset::Open => 0.0,
            Onset::Plosive => 0.18,
            Onset::Fricative => 0.25,
            Onset::Sonorant => 0.2,
        };
        let vowel_level = 1.0 + syllable.stress;
        let release_level = if syllable.word_end { 0.12 } else { 0.3 };
        let voicing = if u >= 0.82 {
            release_level
        } else if u >= onset_end {
            vowel_level
        } else {
            match syllable.onset {
                Onset::Plosive if u < 0.12 => 0.0,
                Onset::Plosive => 0.3,
                Onset::Fricative => 0.08,
                Onset::Sonorant => 0.45,
                Onset::Open => vowel_level,
            }
        };
        let (frication, noise_centre_hz) = match syllable.onset {
            Onset::Plosive if (0.12..0.16).contains(&u) => (0.6, 2500.0),
            Onset::Fricative if u < onset_end => (0.35, 5200.0),
            _ => (0.0, 4000.0),
        };
        let vowel = vowel_formants(syllable.vowel);
        let formants = if u < onset_end {
            consonant_locus(syllable.onset)
        } else if u > 0.75 {
            // Coarticulation: the vowel relaxes toward the neutral position before the next one.
            let schwa = vowel_formants(Vowel::Schwa);
            [0, 1, 2].map(|i| vowel[i] + 0.3 * (schwa[i] - vowel[i]))
        } else {
            vowel
        };
        let contour = syllable.pitch_start + (syllable.pitch_end - syllable.pitch_start) * u;
        let semitones = contour * voice.range_semitones * style.range;
        Self {
            pitch_hz: voice.pitch_hz * style.pitch * (semitones / 12.0).exp2(),
            voicing,
            breath: 0.0,
            frication,
            noise_centre_hz: noise_centre_hz * voice.formant_scale,
            formants: scaled(formants, voice.formant_scale),
        }
    }
}

/// First three formants of an adult male vowel, in Hz.
fn vowel_formants(vowel: Vowel) -> [f32; 3] {
    match vowel {
        Vowel::A => [730.0, 1090.0, 2440.0],
        Vowel::E => [530.0, 1840.0, 2480.0],
        Vowel::I => [300.0, 2250.0, 2950.0],
        Vowel::O => [570.0, 840.0, 2410.0],
        Vowel::U => [320.0, 900.0, 2240.0],
        Vowel::Schwa => [500.0, 1500.0, 2500.0],
    }
}

/// Where the formants start for a consonant before gliding into the vowel.
fn consonant_locus(onset: Onset) -> [f32; 3] {
    match onset {
        Onset::Plosive => [250.0, 1700.0, 2600.0],
        Onset::Fricative => [300.0, 1600.0, 2600.0],
        Onset::Sonorant => [280.0, 1100.0, 2300.0],
        Onset::Open => vowel_formants(Vowel::Schwa),
    }
}

fn scaled(formants: [f32; 3], scale: f32) -> [f32; 3] {
    formants.map(|hz| hz * scale)
}

/// One-pole smoothing coefficient for a time constant, per step of `step_seconds`.
fn smoothing(time_constant_seconds: f32, step_seconds: f32) -> f32 {
    1.0 - (-step_seconds / time_constant_seconds).exp()
}

/// Klatt's two-pole resonator with unity gain at 0 Hz, so that cascaded formants keep the
/// natural falling balance between them.
#[derive(Default)]
struct Resonator {
    a: f32,
    b: f32,
    c: f32,
    y1: f32,
    y2: f32,
}

impl Resonator {
    fn tune(&mut self, centre_hz: f32, bandwidth_hz: f32) {
        let period = 1.0 / SAMPLE_RATE as f32;
        let nyquist_guard = 0.45 * SAMPLE_RATE as f32;
        let r = (-PI * bandwidth_hz * period).exp();
        self.c = -r * r;
        self.b = 2.0 * r * (TAU * centre_hz.min(nyquist_guard) * period).cos();
        self.a = 1.0 - self.b - self.c;
    }

    fn process(&mut self, x: f32) -> f32 {
        let y = self.a * x + self.b * self.y1 + self.c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// A band-pass with 0 dB at its centre (RBJ cookbook), for fricative noise.
#[derive(Default)]
struct BandPass {
    b0: f32,
    a1: f32,
    a2: f32,
    x1: f32,
    x2: f32,
    y1: f32,
    y2: f32,
}

impl BandPass {
    fn tune(&mut self, centre_hz: f32, q: f32) {
        let omega = TAU * centre_hz.min(0.45 * SAMPLE_RATE as f32) / SAMPLE_RATE as f32;
        let alpha = omega.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        self.b0 = alpha / a0;
        self.a1 = -2.0 * omega.cos() / a0;
        self.a2 = (1.0 - alpha) / a0;
    }

    fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * (x - self.x2) - self.a1 * self.y1 - self.a2 * self.y2;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// The running state of one voice: oscillator phase, smoothed parameters and filter memories.
struct VoiceState {
    rng: Sequence,
    phase: f32,
    pitch_hz: f32,
    formants: [f32; 3],
    voicing: f32,
    breath: f32,
    frication: f32,
    tilt: f32,
    tilt_coefficient: f32,
    breathiness: f32,
    vibrato_phase: f32,
    /// Slow random drift of pitch, so that sustained vowels are not perfectly steady.
    jitter: f32,
    cascade: [Resonator; 4],
    fricative: BandPass,
    amplitude_smoothing: f32,
    formant_smoothing: f32,
    pitch_smoothing: f32,
}

impl VoiceState {
    fn new(voice: &VoiceProfile, style: &Style, seed: u64) -> Self {
        let period = 1.0 / SAMPLE_RATE as f32;
        let control_period = period * CONTROL_INTERVAL as f32;
        let mut cascade: [Resonator; 4] = Default::default();
        // The fourth formant is fixed; it only adds some presence above the moving three.
        cascade[3].tune(3500.0 * voice.formant_scale, 250.0);
        let formants = scaled(vowel_formants(Vowel::Schwa), voice.formant_scale);
        let mut rng = Sequence::new(seed);
        Self {
            phase: rng.unit(),
            rng,
            pitch_hz: voice.pitch_hz * style.pitch,
            formants,
            voicing: 0.0,
            breath: 0.0,
            frication: 0.0,
            tilt: 0.0,
            tilt_coefficient: smoothing(1.0 / (TAU * voice.brightness_hz), period),
            breathiness: voice.breathiness * style.breath,
            vibrato_phase: 0.0,
            jitter: 0.0,
            cascade,
            fricative: BandPass::default(),
            amplitude_smoothing: smoothing(0.004, period),
            formant_smoothing: smoothing(0.012, control_period),
            pitch_smoothing: smoothing(0.03, control_period),
        }
    }

    /// Moves the slow parameters toward their targets and retunes the filters.
    fn control(&mut self, targets: &Targets) {
        self.pitch_hz += self.pitch_smoothing * (targets.pitch_hz - self.pitch_hz);
        for (current, target) in self.formants.iter_mut().zip(targets.formants) {
            *current += self.formant_smoothing * (target - *current);
        }
        let bandwidths = [80.0, 100.0, 150.0];
        for ((resonator, centre), bandwidth) in
            self.cascade.iter_mut().zip(self.formants).zip(bandwidths)
        {
            resonator.tune(centre, bandwidth);
        }
        self.fricative.tune(targets.noise_centre_hz, 1.8);
        self.jitter = 0.98 * self.jitter + 0.02 * self.rng.signed();
        let control_period = CONTROL_INTERVAL as f32 / SAMPLE_RATE as f32;
        self.vibrato_phase = (self.vibrato_phase + VIBRATO_HZ * control_period).fract();
    }

    fn tick(&mut self, targets: &Targets) -> (f32, bool) {
        let smooth = self.amplitude_smoothing;
        self.voicing += smooth * (targets.voicing - self.voicing);
        self.breath += smooth * (targets.breath - self.breath);
        self.frication += smooth * (targets.frication - self.frication);

        let vibrato = 1.0 + 0.006 * (TAU * self.vibrato_phase).sin() + 0.01 * self.jitter;
        let step = (self.pitch_hz * vibrato / SAMPLE_RATE as f32).min(0.25);
        self.phase += step;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
        let buzz = 2.0 * self.phase - 1.0 - poly_blep(self.phase, step);
        self.tilt += self.tilt_coefficient * (buzz - self.tilt);

        let noise = self.rng.signed();
        let aspiration = noise * (self.breathiness * self.voicing + self.breath);
        let mut voiced = self.tilt * self.voicing + aspiration;
        for resonator in &mut self.cascade {
            voiced = resonator.process(voiced);
        }
        let fricative = self.fricative.process(self.rng.signed()) * self.frication;
        (voiced + fricative, self.voicing > 0.5)
    }
}

/// PolyBLEP correction that removes most of the aliasing of the buzz's sawtooth edge.
fn poly_blep(phase: f32, step: f32) -> f32 {
    if phase < step {
        let t = phase / step;
        2.0 * t - t * t - 1.0
    } else if phase > 1.0 - step {
        let t = (phase - 1.0) / step;
        t * t + 2.0 * t + 1.0
    } else {
        0.0
    }
}
