//! Publishes episodes from real WAV and PNG files into temporary directories and checks every
//! file that comes out: MP3 structure and tags, subtitles, chapters, manifest, determinism.

mod support;

use std::fs;
use std::path::Path;

use episode_publish::{Artifact, Episode, Line, PublishError, publish};
use id3::TagLike;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::{example_episode, read_dir_files, walk_mp3, write_png, write_sine_wav};

fn extra() -> Value {
    json!({"execution_id": "exec-1", "workflow": "podcast", "cost_micros": 1234})
}

/// The example episode with a 3 s WAV of the given shape and a cover, both inside `inputs`.
fn episode_with_audio(inputs: &Path, sample_rate: u32, channels: u16) -> (Episode, Vec<u8>) {
    let wav = inputs.join("master.wav");
    write_sine_wav(&wav, sample_rate, channels, 3);
    let cover = inputs.join("cover-input.png");
    let png = write_png(&cover);
    let episode = Episode {
        master_wav: Some(wav),
        cover_png: Some(cover),
        ..example_episode()
    };
    (episode, png)
}

fn names(artifacts: &[Artifact]) -> Vec<&str> {
    artifacts
        .iter()
        .map(|artifact| artifact.name.as_str())
        .collect()
}

#[test]
fn mono_episode_gets_a_tagged_mp3_and_every_file() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, png) = episode_with_audio(inputs.path(), 24_000, 1);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("episodes").join("exec-1");

    let artifacts = publish(&dir, &episode, &extra()).unwrap();

    assert_eq!(
        names(&artifacts),
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
    );
    assert_eq!(
        fs::read(dir.join("episode.wav")).unwrap(),
        fs::read(episode.master_wav.as_ref().unwrap()).unwrap()
    );
    assert_eq!(fs::read(dir.join("cover.png")).unwrap(), png);

    let mp3 = fs::read(dir.join("episode.mp3")).unwrap();
    let structure = walk_mp3(&mp3);
    assert_eq!(structure.sample_rate, 24_000);
    assert_eq!(structure.samples_per_frame, 576);
    assert_eq!(structure.bitrate_kbps, 64);
    assert!(structure.mono);
    let duration = structure.duration_seconds();
    assert!((duration - 3.0).abs() <= 0.15, "mp3 lasts {duration} s");

    let tag = id3::Tag::read_from_path(dir.join("episode.mp3")).unwrap();
    assert_eq!(tag.version(), id3::Version::Id3v24);
    assert_eq!(tag.title(), Some("Pilot & Friends"));
    assert_eq!(tag.artist(), Some("The Test Show"));
    assert_eq!(tag.album(), Some("The Test Show"));
    let chapters: Vec<(&str, u32, u32, Option<&str>)> = tag
        .chapters()
        .map(|chapter| {
            let title = chapter.frames.iter().find(|frame| frame.id() == "TIT2");
            (
                chapter.element_id.as_str(),
                chapter.start_time,
                chapter.end_time,
                title.and_then(|frame| frame.content().text()),
            )
        })
        .collect();
    assert_eq!(
        chapters,
        [
            ("chp0", 0, 900, Some("Intro")),
            ("chp1", 900, 3000, Some("Main"))
        ]
    );
    let tables: Vec<_> = tag.tables_of_contents().collect();
    assert_eq!(tables.len(), 1);
    assert!(tables[0].top_level && tables[0].ordered);
    assert_eq!(tables[0].elements, ["chp0", "chp1"]);
    let pictures: Vec<_> = tag.pictures().collect();
    assert_eq!(pictures.len(), 1);
    assert_eq!(
        pictures[0].picture_type,
        id3::frame::PictureType::CoverFront
    );
    assert_eq!(pictures[0].mime_type, "image/png");
    assert_eq!(pictures[0].data, png);

    let srt = fs::read_to_string(dir.join("episode.srt")).unwrap();
    assert!(srt.trim_end().ends_with("Alice: That's all."), "{srt}");
    assert!(srt.contains("00:00:02,200 --> 00:00:02,950"), "{srt}");
    let vtt = fs::read_to_string(dir.join("episode.vtt")).unwrap();
    assert!(vtt.contains("&lt;tags&gt; &amp; escaping"), "{vtt}");
    assert!(
        vtt.ends_with("00:00:02.200 --> 00:00:02.950\n<v Alice>That's all.\n"),
        "{vtt}"
    );

    let chapters_json: Value =
        serde_json::from_slice(&fs::read(dir.join("chapters.json")).unwrap()).unwrap();
    assert_eq!(chapters_json["version"], "1.2.0");
    assert_eq!(
        chapters_json["chapters"],
        json!([
            {"startTime": 0.0, "endTime": 0.9, "title": "Intro"},
            {"startTime": 0.9, "endTime": 3.0, "title": "Main"},
        ])
    );

    let transcript = fs::read_to_string(dir.join("transcript.md")).unwrap();
    assert!(transcript.starts_with("# Pilot \\& Friends\n\n*The Test Show*\n\n"));
    assert!(transcript.contains("## Intro\n\n**Alice:** Welcome to the show!\n\n## Main\n\n"));
}

#[test]
fn manifest_lists_the_files_on_disk_and_keeps_the_extra_fields() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 24_000, 1);
    let out = tempfile::tempdir().unwrap();

    let artifacts = publish(out.path(), &episode, &extra()).unwrap();

    let manifest: Value =
        serde_json::from_slice(&fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["execution_id"], "exec-1");
    assert_eq!(manifest["cost_micros"], 1234);
    let listed: Vec<Artifact> = serde_json::from_value(manifest["artifacts"].clone()).unwrap();
    let (manifest_artifact, others) = artifacts.split_last().unwrap();
    assert_eq!(listed, others);
    assert_eq!(manifest_artifact.name, "manifest.json");
    for artifact in &artifacts {
        let bytes = fs::read(out.path().join(&artifact.name)).unwrap();
        assert_eq!(
            artifact.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
            "{}",
            artifact.name
        );
        assert_eq!(artifact.size_bytes, bytes.len() as u64, "{}", artifact.name);
    }
    // Nothing but the artifacts: no temporary files left behind.
    let on_disk: Vec<_> = read_dir_files(out.path())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(on_disk.len(), artifacts.len());
}

#[test]
fn stereo_episode_encodes_at_48_khz() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 48_000, 2);
    let out = tempfile::tempdir().unwrap();

    publish(out.path(), &episode, &extra()).unwrap();

    let structure = walk_mp3(&fs::read(out.path().join("episode.mp3")).unwrap());
    assert_eq!(structure.sample_rate, 48_000);
    assert_eq!(structure.samples_per_frame, 1152);
    assert_eq!(structure.bitrate_kbps, 128);
    assert!(!structure.mono);
    let duration = structure.duration_seconds();
    assert!((duration - 3.0).abs() <= 0.15, "mp3 lasts {duration} s");
}

#[test]
fn publishing_twice_gives_identical_files() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 48_000, 2);
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();

    let first_artifacts = publish(first.path(), &episode, &extra()).unwrap();
    let second_artifacts = publish(second.path(), &episode, &extra()).unwrap();
    // Publishing over an existing episode replaces every file with the same bytes.
    let again_artifacts = publish(second.path(), &episode, &extra()).unwrap();

    assert_eq!(first_artifacts, second_artifacts);
    assert_eq!(first_artifacts, again_artifacts);
    assert_eq!(read_dir_files(first.path()), read_dir_files(second.path()));
}

#[test]
fn the_master_wav_is_linked_not_copied_where_the_filesystem_allows() {
    use std::os::unix::fs::MetadataExt as _;
    let root = tempfile::tempdir().unwrap();
    let inputs = root.path().join("inputs");
    fs::create_dir_all(&inputs).unwrap();
    let (episode, _) = episode_with_audio(&inputs, 48_000, 2);
    let out = root.path().join("episode");
    let artifacts = publish(&out, &episode, &extra()).unwrap();
    let master = inputs.join("master.wav");
    let published = out.join("episode.wav");
    assert_eq!(
        fs::metadata(&published).unwrap().ino(),
        fs::metadata(&master).unwrap().ino(),
        "one copy of the audio on disk"
    );
    let wav = artifacts
        .iter()
        .find(|artifact| artifact.name == "episode.wav")
        .unwrap();
    let bytes = fs::read(&published).unwrap();
    assert_eq!(wav.size_bytes, bytes.len() as u64);
    assert_eq!(
        wav.digest,
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    );
    // Publishing again over the link keeps it a link to the same bytes.
    publish(&out, &episode, &extra()).unwrap();
    assert_eq!(fs::metadata(&master).unwrap().nlink(), 2);
}

#[test]
fn the_mp3_starts_with_an_info_frame_giving_its_length() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 48_000, 2);
    let out = tempfile::tempdir().unwrap();
    publish(out.path(), &episode, &extra()).unwrap();
    let mp3 = fs::read(out.path().join("episode.mp3")).unwrap();
    assert_eq!(&mp3[..3], b"ID3");
    // The tag's size is four syncsafe bytes, after which the first MPEG frame starts.
    let size = mp3[6..10]
        .iter()
        .fold(0usize, |size, byte| (size << 7) | usize::from(*byte & 0x7f));
    let first_frame = &mp3[10 + size..];
    assert_eq!(first_frame[0], 0xff, "an MPEG frame sync");
    let head = &first_frame[..64];
    let info = head
        .windows(4)
        .position(|window| window == b"Info")
        .expect("the first frame is LAME's Info frame");
    // The frame count follows the flags: a 3 s episode at 48 kHz has about 125 frames.
    let frames = u32::from_be_bytes(first_frame[info + 8..info + 12].try_into().unwrap());
    assert!((120..=130).contains(&frames), "{frames} frames");
    assert!(
        first_frame[..200]
            .windows(4)
            .any(|window| window == b"LAME")
    );
}

#[test]
fn without_audio_only_text_files_are_written() {
    let out = tempfile::tempdir().unwrap();

    let artifacts = publish(out.path(), &example_episode(), &extra()).unwrap();

    assert_eq!(
        names(&artifacts),
        [
            "transcript.md",
            "episode.srt",
            "episode.vtt",
            "chapters.json",
            "manifest.json"
        ]
    );
    assert!(!out.path().join("episode.wav").exists());
    assert!(!out.path().join("episode.mp3").exists());
    let srt = fs::read_to_string(out.path().join("episode.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:00,900\nAlice: Welcome to the show!\n"));
}

#[test]
fn empty_episode_gives_empty_subtitles() {
    let out = tempfile::tempdir().unwrap();
    let episode = Episode {
        lines: Vec::new(),
        chapters: Vec::new(),
        ..example_episode()
    };

    publish(out.path(), &episode, &extra()).unwrap();

    assert_eq!(
        fs::read_to_string(out.path().join("episode.srt")).unwrap(),
        ""
    );
    assert_eq!(
        fs::read_to_string(out.path().join("episode.vtt")).unwrap(),
        "WEBVTT\n"
    );
    let chapters: Value =
        serde_json::from_slice(&fs::read(out.path().join("chapters.json")).unwrap()).unwrap();
    assert_eq!(chapters["chapters"], json!([]));
}

#[test]
fn bad_timings_are_clamped_to_the_audio() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 24_000, 1);
    let line = |text: &str, start_ms, end_ms| Line {
        speaker: "Alice".to_owned(),
        voice: None,
        text: text.to_owned(),
        start_ms,
        end_ms,
    };
    let episode = Episode {
        lines: vec![
            line("Backwards.", 1000, 500),
            line("Too long.", 2000, 9000),
            line("Too late.", 7000, 8000),
        ],
        ..episode
    };
    let out = tempfile::tempdir().unwrap();

    publish(out.path(), &episode, &extra()).unwrap();

    let srt = fs::read_to_string(out.path().join("episode.srt")).unwrap();
    assert!(
        srt.contains("00:00:01,000 --> 00:00:01,000\nAlice: Backwards."),
        "{srt}"
    );
    assert!(
        srt.contains("00:00:02,000 --> 00:00:03,000\nAlice: Too long."),
        "{srt}"
    );
    assert!(
        srt.contains("00:00:03,000 --> 00:00:03,000\nAlice: Too late."),
        "{srt}"
    );
}

#[test]
fn invalid_wav_is_reported_with_its_path_before_anything_is_written() {
    let inputs = tempfile::tempdir().unwrap();
    let wav = inputs.path().join("broken.wav");
    fs::write(&wav, b"RIFF not really a wave file").unwrap();
    let episode = Episode {
        master_wav: Some(wav.clone()),
        ..example_episode()
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("exec-1");

    let error = publish(&dir, &episode, &extra()).unwrap_err();

    assert!(
        matches!(&error, PublishError::InvalidWav { path, .. } if *path == wav),
        "{error:?}"
    );
    assert!(error.to_string().contains("broken.wav"), "{error}");
    assert!(!dir.exists());
}

#[test]
fn cover_that_is_not_a_png_is_rejected() {
    let inputs = tempfile::tempdir().unwrap();
    let cover = inputs.path().join("cover.jpg");
    fs::write(&cover, b"\xFF\xD8\xFF\xE0 jpeg").unwrap();
    let episode = Episode {
        cover_png: Some(cover.clone()),
        ..example_episode()
    };
    let out = tempfile::tempdir().unwrap();

    let error = publish(out.path(), &episode, &extra()).unwrap_err();

    assert!(
        matches!(&error, PublishError::InvalidCover { path } if *path == cover),
        "{error:?}"
    );
}

#[test]
fn manifest_extra_must_be_an_object() {
    let out = tempfile::tempdir().unwrap();
    let error = publish(out.path(), &example_episode(), &json!("nope")).unwrap_err();
    assert!(
        matches!(error, PublishError::InvalidManifestExtra { .. }),
        "{error:?}"
    );
    assert!(read_dir_files(out.path()).is_empty());
}

#[test]
fn truncated_wav_fails_without_a_manifest_or_temporary_files() {
    let inputs = tempfile::tempdir().unwrap();
    let (episode, _) = episode_with_audio(inputs.path(), 24_000, 1);
    let wav = episode.master_wav.clone().unwrap();
    // The header still announces three seconds; the samples stop after about one.
    let bytes = fs::read(&wav).unwrap();
    fs::write(&wav, &bytes[..bytes.len() / 3]).unwrap();
    let out = tempfile::tempdir().unwrap();

    let error = publish(out.path(), &episode, &extra()).unwrap_err();

    assert!(
        matches!(&error, PublishError::InvalidWav { path, .. } if *path == wav),
        "{error:?}"
    );
    let on_disk: Vec<_> = read_dir_files(out.path())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(on_disk, [Path::new("episode.wav")]);
}
