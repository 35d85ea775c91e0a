//! The voices and speaking styles the mock offers, and the acoustic parameters behind them.

/// A voice's public description and the parameters that give it its own sound.
pub struct VoiceProfile {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Mean fundamental frequency in Hz.
    pub pitch_hz: f32,
    /// Intonation range in semitones either side of the mean.
    pub range_semitones: f32,
    /// Formant frequencies relative to an adult male vocal tract; shorter tracts sound higher.
    pub formant_scale: f32,
    /// Corner of the glottal source's extra roll-off in Hz; higher sounds brighter.
    pub brightness_hz: f32,
    /// Share of aspiration noise mixed into the voiced source.
    pub breathiness: f32,
}

pub const LANGUAGE: &str = "en-US";

pub const VOICES: [VoiceProfile; 6] = [
    VoiceProfile {
        id: "aria",
        name: "Aria",
        description: "Bright, clear female voice with an even, friendly delivery.",
        pitch_hz: 205.0,
        range_semitones: 3.0,
        formant_scale: 1.17,
        brightness_hz: 650.0,
        breathiness: 0.04,
    },
    VoiceProfile {
        id: "basil",
        name: "Basil",
        description: "Deep, warm male voice, relaxed and reassuring.",
        pitch_hz: 98.0,
        range_semitones: 2.5,
        formant_scale: 0.94,
        brightness_hz: 380.0,
        breathiness: 0.05,
    },
    VoiceProfile {
        id: "cora",
        name: "Cora",
        description: "Soft, breathy female voice suited to intimate storytelling.",
        pitch_hz: 188.0,
        range_semitones: 2.2,
        formant_scale: 1.12,
        brightness_hz: 420.0,
        breathiness: 0.14,
    },
    VoiceProfile {
        id: "dmitri",
        name: "Dmitri",
        description: "Low, resonant bass with a measured, authoritative tone.",
        pitch_hz: 82.0,
        range_semitones: 2.0,
        formant_scale: 0.89,
        brightness_hz: 320.0,
        breathiness: 0.03,
    },
    VoiceProfile {
        id: "elena",
        name: "Elena",
        description: "Lively, high female voice with wide, energetic intonation.",
        pitch_hz: 236.0,
        range_semitones: 4.0,
        formant_scale: 1.21,
        brightness_hz: 780.0,
        breathiness: 0.06,
    },
    VoiceProfile {
        id: "felix",
        name: "Felix",
        description: "Light, crisp tenor male voice, quick and articulate.",
        pitch_hz: 136.0,
        range_semitones: 3.2,
        formant_scale: 1.02,
        brightness_hz: 560.0,
        breathiness: 0.03,
    },
];

pub fn find_voice(id: &str) -> Option<&'static VoiceProfile> {
    VOICES.iter().find(|voice| voice.id == id)
}

/// Comma-separated voice ids, for error messages.
pub fn voice_ids() -> String {
    VOICES
        .iter()
        .map(|voice| voice.id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a speaking style bends a voice.
pub struct Style {
    /// Multiplies the voice's mean pitch.
    pub pitch: f32,
    /// Multiplies the voice's intonation range.
    pub range: f32,
    /// Multiplies the speaking rate.
    pub rate: f32,
    /// Multiplies the voice's breathiness.
    pub breath: f32,
}

pub const NEUTRAL: Style = Style {
    pitch: 1.0,
    range: 1.0,
    rate: 1.0,
    breath: 1.0,
};

/// Known style names and what they do. Styles are hints in the contract, so an unknown one falls
/// back to neutral rather than failing a whole episode.
const STYLES: [(&[&str], Style); 5] = [
    (&["neutral", "default", "normal"], NEUTRAL),
    (
        &["excited", "enthusiastic", "energetic", "happy", "cheerful"],
        Style {
            pitch: 1.1,
            range: 1.6,
            rate: 1.1,
            breath: 1.0,
        },
    ),
    (
        &["calm", "relaxed", "soothing"],
        Style {
            pitch: 0.96,
            range: 0.65,
            rate: 0.9,
            breath: 1.2,
        },
    ),
    (
        &["warm", "friendly", "gentle"],
        Style {
            pitch: 0.97,
            range: 0.9,
            rate: 0.95,
            breath: 1.5,
        },
    ),
    (
        &["serious", "formal", "somber", "sombre"],
        Style {
            pitch: 0.93,
            range: 0.6,
            rate: 0.95,
            breath: 0.8,
        },
    ),
];

pub fn find_style(name: Option<&str>) -> &'static Style {
    let Some(name) = name else {
        return &NEUTRAL;
    };
    let name = name.trim().to_ascii_lowercase();
    STYLES
        .iter()
        .find(|(names, _)| names.contains(&name.as_str()))
        .map_or(&NEUTRAL, |(_, style)| style)
}
