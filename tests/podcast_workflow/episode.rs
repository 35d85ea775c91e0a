//! What a finished execution left behind: readers of its history, and the checks of a fully
//! published podcast episode's files (audio, cover, subtitles, chapters, manifest) against it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pipeline_core::Event;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::{Sandbox, assert_success};

/// Asserts that a completed podcast episode published every file, each consistent with the
/// history: the audio with the mix, the cover with what was asked, subtitles with the audio,
/// chapters with the script, and the manifest with the files, costs and plugins.
pub fn assert_fully_published(sandbox: &Sandbox, id: &str) {
    let history = sandbox.history(id);
    let directory = sandbox.data().join("episodes").join(id);
    assert_eq!(
        file_names(&directory),
        BTreeSet::from(
            [
                "episode.wav",
                "episode.mp3",
                "cover.png",
                "transcript.md",
                "episode.srt",
                "episode.vtt",
                "chapters.json",
                "manifest.json",
            ]
            .map(String::from)
        )
    );

    // The WAV is the mix: same length as the mixer reported, long enough for every clip.
    let wav_ms = wav_duration_ms(&directory.join("episode.wav"));
    let mix_ms = stage_output(&history, "audio_mixing")["duration_ms"]
        .as_u64()
        .expect("the mix has a duration");
    assert!(
        wav_ms.abs_diff(mix_ms) <= 50,
        "the WAV lasts {wav_ms} ms, the mix {mix_ms} ms"
    );
    let speech_ms: u64 = stage_output(&history, "audio_synthesis")
        .as_array()
        .expect("one clip per line")
        .iter()
        .map(|clip| clip["duration_ms"].as_u64().expect("clip duration"))
        .sum();
    assert!(
        wav_ms >= speech_ms,
        "the WAV ({wav_ms} ms) is shorter than its speech ({speech_ms} ms)"
    );

    let mp3 = std::fs::read(directory.join("episode.mp3")).unwrap();
    assert!(
        mp3.starts_with(b"ID3"),
        "the MP3 does not open with an ID3 tag"
    );

    let cover_request = scheduled_inputs(&history, "cover_image")[0];
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(directory.join("cover.png")).unwrap(),
    ));
    let mut cover = decoder.read_info().expect("a valid PNG");
    let mut pixels = vec![0; cover.output_buffer_size().expect("a sane PNG size")];
    cover.next_frame(&mut pixels).expect("the PNG decodes");
    assert_eq!(
        (
            u64::from(cover.info().width),
            u64::from(cover.info().height)
        ),
        (
            cover_request["width"].as_u64().unwrap(),
            cover_request["height"].as_u64().unwrap()
        ),
        "the cover has the size the workflow asks for"
    );

    // Subtitles run to the end of the audio and name their speakers.
    let srt = std::fs::read_to_string(directory.join("episode.srt")).unwrap();
    let vtt = std::fs::read_to_string(directory.join("episode.vtt")).unwrap();
    for (name, subtitles) in [("episode.srt", &srt), ("episode.vtt", &vtt)] {
        let end = last_cue_end_ms(subtitles);
        assert!(
            end.abs_diff(wav_ms) <= 1000,
            "{name}: the last cue ends at {end} ms, the audio at {wav_ms} ms"
        );
    }
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    assert!(vtt.contains("<v "), "no voice tags in episode.vtt:\n{vtt}");

    let script = stage_output(&history, "script_generation");
    let script_titles: Vec<&str> = script["segments"]
        .as_array()
        .expect("script segments")
        .iter()
        .map(|segment| segment["title"].as_str().unwrap())
        .collect();
    let chapters = read_json(&directory.join("chapters.json"));
    let chapter_titles: Vec<&str> = chapters["chapters"]
        .as_array()
        .expect("a chapter list")
        .iter()
        .map(|chapter| chapter["title"].as_str().unwrap())
        .collect();
    assert_eq!(chapter_titles, script_titles, "one chapter per segment");
    assert_eq!(
        chapters["chapters"][0]["startTime"],
        json!(0.0),
        "the first chapter starts the episode"
    );
    let transcript = std::fs::read_to_string(directory.join("transcript.md")).unwrap();
    for title in &script_titles {
        assert!(transcript.contains(title), "`{title}` not in transcript");
    }

    // The manifest: every other file with its real digest, the cost of each stage and the
    // plugins that made the episode.
    // The episode's audio is the stored blob itself, linked rather than copied.
    assert_eq!(
        std::os::unix::fs::MetadataExt::nlink(
            &std::fs::metadata(directory.join("episode.wav")).unwrap()
        ),
        2,
        "episode.wav is stored once"
    );
    let manifest = read_json(&directory.join("manifest.json"));
    let listed = manifest["artifacts"].as_array().expect("artifacts");
    let mut expected_names = file_names(&directory);
    expected_names.remove("manifest.json");
    let listed_names: BTreeSet<String> = listed
        .iter()
        .map(|artifact| artifact["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed_names, expected_names);
    for artifact in listed {
        let path = directory.join(artifact["name"].as_str().unwrap());
        assert_eq!(artifact["digest"], sha256_digest(&path), "{artifact}");
        assert_eq!(
            artifact["size_bytes"],
            std::fs::metadata(&path).unwrap().len(),
            "{artifact}"
        );
    }
    let manifest_costs: BTreeMap<String, u64> = manifest["cost"]["by_stage"]
        .as_object()
        .expect("cost by stage")
        .iter()
        .map(|(stage, cost)| (stage.clone(), cost["amount_micros"].as_u64().unwrap()))
        .collect();
    assert_eq!(manifest_costs, cost_by_stage(&history));
    for stage in [
        "ideation",
        "outlining",
        "segment_generation",
        "script_generation",
        "audio_synthesis",
        "audio_mixing",
        "cover_image",
    ] {
        assert!(manifest_costs.contains_key(stage), "no cost for {stage}");
    }
    let Some((Event::ExecutionStarted { plugins, .. }, _)) = history.first() else {
        panic!("the history starts with ExecutionStarted");
    };
    assert_eq!(manifest["plugins"], json!(plugins));
    let installed = sandbox.host(&["plugins", "list", "--json"]);
    assert_success(&installed);
    let installed: Value = serde_json::from_slice(&installed.stdout).unwrap();
    for (service, pin) in plugins {
        let plugin = installed
            .as_array()
            .unwrap()
            .iter()
            .find(|plugin| plugin["name"] == pin.name.as_str())
            .unwrap_or_else(|| panic!("{} is not installed", pin.name));
        assert_eq!(plugin["digest"], pin.digest.as_str(), "{service}");
    }
}

/// The output a stage completed with.
pub fn stage_output<'a>(history: &'a [(Event, i64)], stage_id: &str) -> &'a Value {
    history
        .iter()
        .find_map(|(event, _)| match event {
            Event::StageCompleted { stage, output } if stage.0 == stage_id => Some(output),
            _ => None,
        })
        .unwrap_or_else(|| panic!("stage {stage_id} did not complete"))
}

/// The rendered inputs of a stage's activities, in scheduling order.
pub fn scheduled_inputs<'a>(history: &'a [(Event, i64)], stage_id: &str) -> Vec<&'a Value> {
    history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::ActivityScheduled { stage, input, .. } if stage.0 == stage_id => Some(input),
            _ => None,
        })
        .collect()
}

pub fn skipped_stages(history: &[(Event, i64)]) -> BTreeSet<String> {
    history
        .iter()
        .filter_map(|(event, _)| match event {
            Event::StageSkipped { stage, .. } => Some(stage.0.clone()),
            _ => None,
        })
        .collect()
}

pub fn completed_concepts(history: &[(Event, i64)]) -> Vec<String> {
    history
        .iter()
        .find_map(|(event, _)| match event {
            Event::ExecutionCompleted { covered_concepts } => Some(covered_concepts.clone()),
            _ => None,
        })
        .expect("the execution completed")
}

/// The length of a WAV file, which must be a valid one.
pub fn wav_duration_ms(path: &Path) -> u64 {
    let wav = hound::WavReader::open(path).expect("a valid WAV");
    u64::from(wav.duration()) * 1000 / u64::from(wav.spec().sample_rate)
}

/// The end of the last cue of an SRT (`,` before milliseconds) or WebVTT (`.`) file, in ms.
pub fn last_cue_end_ms(subtitles: &str) -> u64 {
    let timing = subtitles
        .lines()
        .rfind(|line| line.contains(" --> "))
        .expect("at least one cue");
    let end = timing.split(" --> ").nth(1).unwrap().trim();
    let (clock, millis) = end.split_at(end.len() - 4);
    let parts: Vec<u64> = clock.split(':').map(|part| part.parse().unwrap()).collect();
    let [hours, minutes, seconds] = parts[..] else {
        panic!("unexpected cue timing {timing}");
    };
    ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis[1..].parse::<u64>().unwrap()
}

fn sha256_digest(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
}

pub fn file_names(directory: &Path) -> BTreeSet<String> {
    std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Cost per stage as the history records it, summed over the stage's completed activities.
fn cost_by_stage(history: &[(Event, i64)]) -> BTreeMap<String, u64> {
    let mut stage_of = BTreeMap::new();
    let mut costs = BTreeMap::new();
    for (event, _) in history {
        match event {
            Event::ActivityScheduled {
                activity, stage, ..
            } => {
                stage_of.insert(activity.clone(), stage.0.clone());
            }
            Event::ActivityCompleted {
                activity,
                cost: Some(cost),
                ..
            } => {
                *costs.entry(stage_of[activity].clone()).or_insert(0) += cost.amount_micros;
            }
            _ => {}
        }
    }
    costs
}
