//! The four built-in mocks through the real host and their real compiled components: each is
//! deterministic, and what it returns is real audio, a real image and schema-shaped JSON.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use host::plugin::{
    AudioInput, HostConfig, InstanceAllocation, LoadedPlugin, PluginHost, PluginHostSettings,
    Service, image, llm, mixer, tts, types,
};

fn host(directory: &Path) -> PluginHost {
    PluginHost::new(PluginHostSettings {
        plugins_dir: directory.join("plugins"),
        compile_cache_dir: Some(shared_compile_cache()),
        config: HostConfig::default(),
        allocation: InstanceAllocation::OnDemand,
    })
    .unwrap()
}

/// Tests share one compile cache so each mock is compiled once per test run, not per test.
fn shared_compile_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled-plugins")
}

fn load(host: &PluginHost, name: &str, service: Service) -> Arc<LoadedPlugin> {
    host.load_for(name, service).unwrap()
}

fn llm_request(messages: &[(&str, llm::Role)], schema: Option<&str>) -> llm::GenerateRequest {
    llm::GenerateRequest {
        idempotency_key: "key-1".into(),
        model: None,
        messages: messages
            .iter()
            .map(|(content, role)| llm::Message {
                role: *role,
                content: content.to_string(),
            })
            .collect(),
        json_schema: schema.map(str::to_string),
        temperature: Some(0.7),
        max_tokens: None,
    }
}

const OUTLINE_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["title", "segments"],
  "properties": {
    "title": {"type": "string"},
    "segments": {
      "type": "array", "minItems": 3, "maxItems": 5,
      "items": {
        "type": "object",
        "required": ["title", "summary", "key_points"],
        "properties": {
          "title": {"type": "string"},
          "summary": {"type": "string"},
          "key_points": {"type": "array", "items": {"type": "string"}, "minItems": 2}
        }
      }
    }
  }
}"#;

const SCRIPT_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["lines"],
  "properties": {
    "lines": {
      "type": "array", "minItems": 4,
      "items": {
        "type": "object",
        "required": ["speaker", "text"],
        "properties": {"speaker": {"type": "string"}, "text": {"type": "string"}}
      }
    }
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_llm_answers_with_schema_shaped_deterministic_json() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let plugin = load(&host, "mock-llm", Service::Llm);
    let request = llm_request(
        &[
            ("You plan podcast episodes.", llm::Role::System),
            (
                "Topic: the history of tea\nWrite the outline.",
                llm::Role::User,
            ),
        ],
        Some(OUTLINE_SCHEMA),
    );
    let first = host.generate_text(&plugin, &request).await.unwrap();
    let second = host.generate_text(&plugin, &request).await.unwrap();
    assert_eq!(first.text, second.text);

    let outline: serde_json::Value = serde_json::from_str(&first.text).unwrap();
    let segments = outline["segments"].as_array().unwrap();
    assert!((3..=5).contains(&segments.len()), "{outline}");
    for segment in segments {
        assert!(
            segment["title"]
                .as_str()
                .is_some_and(|title| !title.is_empty())
        );
        assert!(segment["key_points"].as_array().unwrap().len() >= 2);
    }
    assert!(
        first.text.to_lowercase().contains("tea"),
        "not topic-aware: {}",
        first.text
    );
    assert!(first.usage.input.amount > 0 && first.usage.output.amount > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_llm_script_follows_an_edited_outline() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let plugin = load(&host, "mock-llm", Service::Llm);
    let outline = r#"```json
{"title": "Tea, edited", "segments": [
  {"title": "Smugglers of Darjeeling", "summary": "How tea crossed borders."},
  {"title": "The Kettle Paradox", "summary": "Why boiling matters."},
  {"title": "Leaves of Tomorrow", "summary": "Where tea goes next."}
]}
```"#;
    let hosts = r#"```json
{"hosts": [{"name": "Maya", "personality": "curious"}, {"name": "Olu", "personality": "dry wit"}]}
```"#;
    let prompt = format!(
        "Topic: the history of tea\n{hosts}\nWrite the script for this outline:\n{outline}"
    );
    let response = host
        .generate_text(
            &plugin,
            &llm_request(&[(&prompt, llm::Role::User)], Some(SCRIPT_SCHEMA)),
        )
        .await
        .unwrap();
    let script: serde_json::Value = serde_json::from_str(&response.text).unwrap();
    let lines = script["lines"].as_array().unwrap();
    let speakers: Vec<&str> = lines
        .iter()
        .map(|line| line["speaker"].as_str().unwrap())
        .collect();
    assert!(
        speakers
            .iter()
            .all(|speaker| ["Maya", "Olu"].contains(speaker)),
        "{speakers:?}"
    );
    assert!(speakers.contains(&"Maya") && speakers.contains(&"Olu"));

    let text: String = lines
        .iter()
        .map(|line| line["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let positions: Vec<usize> = [
        "Smugglers of Darjeeling",
        "The Kettle Paradox",
        "Leaves of Tomorrow",
    ]
    .iter()
    .map(|title| {
        text.find(title)
            .unwrap_or_else(|| panic!("{title} missing from script:\n{text}"))
    })
    .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "segments out of order"
    );
}

fn tts_request(text: &str, voice: &str) -> tts::SynthesizeRequest {
    tts::SynthesizeRequest {
        idempotency_key: "key-1".into(),
        text: text.into(),
        voice: voice.into(),
        style: None,
        speed: 1.0,
        model: None,
    }
}

fn decode_wav(bytes: &[u8]) -> (hound::WavSpec, Vec<i16>) {
    let reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    let samples = reader.into_samples::<i16>().map(Result::unwrap).collect();
    (spec, samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_tts_speaks_real_wav_at_about_150_words_a_minute() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let plugin = load(&host, "mock-tts", Service::Tts);
    let voices = host.list_voices(&plugin).await.unwrap();
    assert!(voices.len() >= 2);

    let text = ["word"; 150].join(" ");
    let first = host
        .synthesize_speech(&plugin, &tts_request(&text, &voices[0].id))
        .await
        .unwrap();
    let again = host
        .synthesize_speech(&plugin, &tts_request(&text, &voices[0].id))
        .await
        .unwrap();
    assert_eq!(first.audio, again.audio, "not deterministic");

    let (spec, samples) = decode_wav(&first.audio);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_rate, first.format.sample_rate);
    let seconds = samples.len() as f64 / f64::from(spec.sample_rate) / f64::from(spec.channels);
    assert!(
        (50.0..=70.0).contains(&seconds),
        "150 words took {seconds} s"
    );
    assert!(
        samples.iter().any(|sample| sample.unsigned_abs() > 1000),
        "silent audio"
    );

    let other_voice = host
        .synthesize_speech(&plugin, &tts_request(&text, &voices[1].id))
        .await
        .unwrap();
    assert_ne!(first.audio, other_voice.audio);

    let error = host
        .synthesize_speech(&plugin, &tts_request("hello", "no-such-voice"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no-such-voice"), "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_image_draws_a_deterministic_square_cover() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let plugin = load(&host, "mock-image", Service::Image);
    let request = image::GenerateRequest {
        idempotency_key: "key-1".into(),
        prompt: "cover art for an episode about the history of tea".into(),
        title: Some("The History of Tea".into()),
        width: 1400,
        height: 1400,
        style: None,
        model: None,
    };
    let first = host.generate_image(&plugin, &request).await.unwrap();
    let again = host.generate_image(&plugin, &request).await.unwrap();
    assert_eq!(first.png, again.png);

    let decoder = png::Decoder::new(Cursor::new(first.png.clone()));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (1400, 1400));

    let retitled = image::GenerateRequest {
        title: Some("Something Else Entirely".into()),
        ..request
    };
    let other = host.generate_image(&plugin, &retitled).await.unwrap();
    assert_ne!(first.png, other.png, "the title is not drawn");
}

/// A quiet looping tone as a music bed.
fn music_bed_wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
    for index in 0..44_100 * 3 {
        let time = index as f64 / 44_100.0;
        let value = ((time * 220.0 * std::f64::consts::TAU).sin() * 6000.0) as i16;
        writer.write_sample(value).unwrap();
        writer.write_sample(value).unwrap();
    }
    writer.finalize().unwrap();
    bytes.into_inner()
}

fn mix_settings(channels: u8) -> mixer::MixSettings {
    mixer::MixSettings {
        gap_ms: 400,
        crossfade_ms: 20,
        padding_ms: 1000,
        sample_rate: 44_100,
        channels,
        loudness_lufs: None,
        true_peak_dbtp: -1.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_mixer_mixes_to_the_podcast_loudness_norm() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let speech = load(&host, "mock-tts", Service::Tts);
    let mixer_plugin = load(&host, "mock-mixer", Service::Mixer);

    let mut inputs = Vec::new();
    let mut clips = Vec::new();
    let mut speech_ms = 0;
    for (index, (line, voice)) in [
        ("Welcome to the show, today we talk about tea.", "aria"),
        (
            "Tea has a long and surprising history, full of smugglers.",
            "basil",
        ),
        ("Let us begin with the leaves themselves.", "aria"),
    ]
    .into_iter()
    .enumerate()
    {
        let clip = host
            .synthesize_speech(&speech, &tts_request(line, voice))
            .await
            .unwrap();
        speech_ms += clip.duration_ms;
        inputs.push(AudioInput::Bytes(Arc::from(clip.audio)));
        clips.push(mixer::Clip {
            source: index as u32,
            gain_db: 0.0,
            gap_before_ms: None,
        });
    }
    let bed_path = directory.path().join("bed.wav");
    std::fs::write(&bed_path, music_bed_wav()).unwrap();
    inputs.push(AudioInput::File(bed_path));

    for (channels, target) in [(2u8, -16.0), (1u8, -19.0)] {
        let request = mixer::MixRequest {
            idempotency_key: "key-1".into(),
            clips: clips.clone(),
            music: Some(mixer::MusicBed {
                source: 3,
                gain_db: -6.0,
                duck_db: 12.0,
                duck_attack_ms: 200,
                duck_release_ms: 400,
            }),
            settings: mix_settings(channels),
        };
        let output = directory.path().join(format!("episode-{channels}.wav"));
        let response = host
            .mix_audio(&mixer_plugin, &request, &inputs, &output)
            .await
            .unwrap();
        assert_eq!(response.format.encoding, types::AudioEncoding::WavPcm16);
        assert_eq!(response.placements.len(), 3);

        let bytes = std::fs::read(&output).unwrap();
        let (spec, samples) = decode_wav(&bytes);
        assert_eq!(spec.channels, u16::from(channels));
        let duration_ms =
            samples.len() as u64 * 1000 / u64::from(spec.sample_rate) / u64::from(spec.channels);
        let expected_ms = speech_ms + 2 * 400 + 2 * 1000;
        assert!(
            duration_ms.abs_diff(expected_ms) <= 50,
            "{duration_ms} ms, expected {expected_ms}"
        );

        // Measured independently of the plugin's own report.
        let mut meter = ebur128::EbuR128::new(
            u32::from(channels),
            spec.sample_rate,
            ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
        )
        .unwrap();
        meter.add_frames_i16(&samples).unwrap();
        let loudness = meter.loudness_global().unwrap();
        assert!(
            (loudness - target).abs() <= 1.0,
            "{channels} channel(s): {loudness} LUFS"
        );
        let peak = (0..u32::from(channels))
            .map(|channel| meter.true_peak(channel).unwrap())
            .fold(0.0f64, f64::max);
        let peak_dbtp = 20.0 * peak.log10();
        assert!(
            peak_dbtp <= -1.0 + 0.05,
            "{channels} channel(s): true peak {peak_dbtp} dBTP"
        );

        let again = directory
            .path()
            .join(format!("episode-{channels}-again.wav"));
        host.mix_audio(&mixer_plugin, &request, &inputs, &again)
            .await
            .unwrap();
        assert_eq!(
            bytes,
            std::fs::read(&again).unwrap(),
            "mix is not deterministic"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_mixer_names_an_invalid_clip() {
    let directory = tempfile::tempdir().unwrap();
    let host = host(directory.path());
    let mixer_plugin = load(&host, "mock-mixer", Service::Mixer);
    let request = mixer::MixRequest {
        idempotency_key: "key-1".into(),
        clips: vec![mixer::Clip {
            source: 0,
            gain_db: 0.0,
            gap_before_ms: None,
        }],
        music: None,
        settings: mix_settings(2),
    };
    let inputs = [AudioInput::Bytes(Arc::from(&b"this is not a wav file"[..]))];
    let error = host
        .mix_audio(
            &mixer_plugin,
            &request,
            &inputs,
            &directory.path().join("out.wav"),
        )
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("clip 0"), "{error}");
}
