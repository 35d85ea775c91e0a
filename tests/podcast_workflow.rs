//! The shipped workflows end to end on the built-in mock plugins, through the real binary: the
//! podcast's approval gate (approve, edit, refuse, reject), every published file checked against
//! the history, show memory across episodes, the story workflow, skip toggles, dry runs,
//! validation with file:line:column, and replay against an edited definition.

// Kept beside this file rather than in `tests/`, where it would read as a shared helper.
#[path = "podcast_workflow/episode.rs"]
mod episode;
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use episode::{
    completed_concepts, file_names, last_cue_end_ms, read_json, scheduled_inputs, skipped_stages,
    stage_output, wav_duration_ms,
};
use pipeline_core::Event;
use serde_json::{Value, json};
use support::{Sandbox, assert_exit, assert_success, path_str, run_podcast, status_json, text};

/// The outline file `run` saved at the approval gate, taken from the command it printed.
fn printed_outline_path(run_stdout: &str) -> PathBuf {
    let line = run_stdout
        .lines()
        .find(|line| line.contains("--outline "))
        .unwrap_or_else(|| panic!("no `--outline FILE` command printed:\n{run_stdout}"));
    PathBuf::from(line.rsplit("--outline ").next().unwrap().trim())
}

#[test]
fn a_podcast_waits_for_approval_then_publishes_every_file_and_replays() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let id = "tea-1";

    // The run stops at the gate, successfully, showing the outline and how to go on.
    let run = run_podcast(&sandbox, &workflows, id, &[]);
    assert_success(&run);
    let status = status_json(&sandbox, id);
    assert_eq!(status["status"], "waiting_for_approval", "{status:#}");
    let subject = &status["approval"]["subject"];
    let segments = subject["segments"].as_array().expect("outline segments");
    assert!(!segments.is_empty(), "{subject:#}");
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains(&format!("host signal approve {id}\n")),
        "the exact approve command is missing:\n{stdout}"
    );
    for title in [&subject["title"]]
        .into_iter()
        .chain(segments.iter().map(|segment| &segment["title"]))
    {
        let title = title.as_str().expect("titles are strings");
        assert!(stdout.contains(title), "`{title}` missing from:\n{stdout}");
    }

    let approve = sandbox.host(&["signal", "approve", id]);
    assert_success(&approve);
    assert_eq!(status_json(&sandbox, id)["status"], "completed");
    episode::assert_fully_published(&sandbox, id);

    // Replay: clean against the pinned definition and an unchanged copy; non-determinism once
    // a prompt changes what the ideation stage would have sent.
    assert_success(&sandbox.host(&["replay", id]));
    let unchanged = sandbox.repository_workflows("unchanged");
    assert_success(&sandbox.host(&[
        "replay",
        id,
        "--definition",
        path_str(&unchanged.join("podcast.toml")),
    ]));
    let edited = sandbox.repository_workflows("edited");
    let prompt = edited.join("prompts/podcast/ideation.md");
    let original = std::fs::read_to_string(&prompt).unwrap();
    std::fs::write(&prompt, format!("{original}\nAlso mention a lighthouse.\n")).unwrap();
    let replay = sandbox.host(&[
        "replay",
        id,
        "--definition",
        path_str(&edited.join("podcast.toml")),
    ]);
    assert_exit(&replay, 1, "replay against an edited prompt");
    assert!(
        text(&replay.stderr).contains("non-determinism"),
        "{}",
        text(&replay.stderr)
    );

    // A completed execution refuses further signals.
    let events = sandbox.history(id).len();
    let again = sandbox.host(&["signal", "approve", id]);
    assert_exit(&again, 3, "approving a completed execution");
    assert_eq!(
        sandbox.history(id).len(),
        events,
        "the refusal recorded an event"
    );
}

#[test]
fn an_edited_outline_is_checked_before_it_is_recorded_and_its_titles_are_published() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let id = "tea-edited";
    // Mixing and cover art play no part in the outline's path to the transcript; skipping them
    // keeps the test fast.
    let run = run_podcast(
        &sandbox,
        &workflows,
        id,
        &["skip_mixing=true", "skip_cover=true"],
    );
    assert_success(&run);
    let saved = printed_outline_path(&text(&run.stdout));
    let outline = read_json(&saved);
    assert_eq!(outline, status_json(&sandbox, id)["approval"]["subject"]);

    let events_before = sandbox.history(id).len();
    let mut too_few_segments = outline.clone();
    too_few_segments["segments"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let mut wrong_type = outline.clone();
    wrong_type["segments"][0]["title"] = json!(42);
    for (name, edited, problem) in [
        ("too-few.json", too_few_segments, "/segments"),
        ("wrong-type.json", wrong_type, "/segments/0/title"),
    ] {
        let path = sandbox.directory.path().join(name);
        std::fs::write(&path, edited.to_string()).unwrap();
        let refused = sandbox.host(&["signal", "approve", id, "--outline", path_str(&path)]);
        assert_exit(&refused, 3, name);
        let message = text(&refused.stderr);
        assert!(
            message.contains(problem),
            "{name}: the refusal should name {problem}: {message}"
        );
        assert_eq!(
            sandbox.history(id).len(),
            events_before,
            "{name}: a refused outline recorded an event"
        );
    }
    assert_eq!(status_json(&sandbox, id)["status"], "waiting_for_approval");

    let unknown = sandbox.host(&["signal", "approve", "no-such-episode"]);
    assert!(
        !unknown.status.success(),
        "approving an unknown id succeeded"
    );
    assert!(
        text(&unknown.stderr).contains("no-such-episode"),
        "the error should name the id: {}",
        text(&unknown.stderr)
    );

    let mut edited = outline.clone();
    let titles: Vec<String> = (0..edited["segments"].as_array().unwrap().len())
        .map(|index| format!("Quokka Lantern Chapter {index}"))
        .collect();
    for (segment, title) in edited["segments"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(&titles)
    {
        segment["title"] = json!(title);
    }
    std::fs::write(&saved, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    assert_success(&sandbox.host(&["signal", "approve", id, "--outline", path_str(&saved)]));

    let history = sandbox.history(id);
    let approval = stage_output(&history, "approval");
    assert_eq!(approval["edited"], true, "{approval:#}");
    assert_eq!(approval["approved"], edited);
    let directory = sandbox.data().join("episodes").join(id);
    let transcript = std::fs::read_to_string(directory.join("transcript.md")).unwrap();
    let chapters = read_json(&directory.join("chapters.json"));
    let chapter_titles: Vec<&str> = chapters["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chapter| chapter["title"].as_str().unwrap())
        .collect();
    assert_eq!(chapter_titles, titles, "chapters follow the edited outline");
    for title in &titles {
        assert!(
            transcript.contains(title),
            "`{title}` not in transcript:\n{transcript}"
        );
    }
}

#[test]
fn a_second_episode_is_offered_the_first_ones_concepts_and_can_be_rejected() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let fast = ["skip_mixing=true", "skip_cover=true"];
    let first = run_podcast(&sandbox, &workflows, "show-1", &fast);
    assert_success(&first);
    // Concepts no prompt would mention by chance, so finding them later proves they were passed.
    let outline_path = printed_outline_path(&text(&first.stdout));
    let mut outline = read_json(&outline_path);
    outline["covered_concepts"] = json!(["clipper ship races", "Assam leaf grading"]);
    std::fs::write(&outline_path, outline.to_string()).unwrap();
    assert_success(&sandbox.host(&[
        "signal",
        "approve",
        "show-1",
        "--outline",
        path_str(&outline_path),
    ]));
    let concepts = completed_concepts(&sandbox.history("show-1"));
    assert_eq!(concepts, ["clipper ship races", "Assam leaf grading"]);

    assert_success(&run_podcast(&sandbox, &workflows, "show-2", &fast));
    let history = sandbox.history("show-2");
    let Some((Event::ExecutionStarted { show, .. }, _)) = history.first() else {
        panic!("the history starts with ExecutionStarted");
    };
    let offered = &show.as_ref().expect("a show blueprint")["covered_concepts"];
    for concept in &concepts {
        assert!(
            offered
                .as_array()
                .is_some_and(|list| list.contains(&json!(concept))),
            "`{concept}` not offered to episode 2: {offered}"
        );
    }
    let ideation = scheduled_inputs(&history, "ideation")[0];
    let messages = ideation["messages"].to_string();
    for concept in &concepts {
        assert!(
            messages.contains(concept.as_str()),
            "the ideation prompt does not mention `{concept}`"
        );
    }
    let shows = sandbox.host(&["shows", "--json"]);
    assert_success(&shows);
    let shows: Value = serde_json::from_slice(&shows.stdout).unwrap();
    let show = shows
        .as_array()
        .unwrap()
        .iter()
        .find(|show| show["show"] == "deep-dive")
        .unwrap_or_else(|| panic!("deep-dive missing from {shows:#}"));
    let episodes: BTreeSet<&str> = show["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|episode| episode["id"].as_str().unwrap())
        .collect();
    assert_eq!(episodes, BTreeSet::from(["show-1", "show-2"]));

    let reject = sandbox.host(&["signal", "reject", "show-2", "--feedback", "too long"]);
    assert_success(&reject);
    let status = status_json(&sandbox, "show-2");
    assert_eq!(status["status"], "rejected", "{status:#}");
    assert!(
        status["feedback"]
            .as_array()
            .is_some_and(|list| list.contains(&json!("too long"))),
        "{status:#}"
    );
    assert!(
        !sandbox.data().join("episodes/show-2").exists(),
        "a rejected episode published files"
    );
    // A rejected execution no longer waits for anyone.
    assert!(
        status["approval"].is_null(),
        "a rejected execution still reports approval of stage {} pending for {} ms",
        status["approval"]["stage"],
        status["approval"]["pending_ms"]
    );
    let rejected = text(&sandbox.host(&["status", "show-2"]).stdout);
    assert!(rejected.contains("Feedback: too long"), "{rejected}");
    assert!(
        !rejected.contains("Stage:"),
        "an ended execution has no stage: {rejected}"
    );
    // Only the completed run counts as an episode of the show.
    let shows = text(&sandbox.host(&["shows"]).stdout);
    assert!(
        shows.contains("deep-dive: 1 episode(s), 1 other run(s) not completed"),
        "{shows}"
    );
}

#[test]
fn the_story_workflow_publishes_audio_subtitles_and_transcript() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let story = workflows.join("story.toml");
    let run = sandbox.host(&[
        "run",
        path_str(&story),
        "--id",
        "story-1",
        "--input",
        "premise=a lighthouse keeper who collects sounds",
    ]);
    assert_success(&run);
    assert_eq!(status_json(&sandbox, "story-1")["status"], "completed");
    let directory = sandbox.data().join("episodes/story-1");
    let files = file_names(&directory);
    for name in [
        "episode.wav",
        "episode.srt",
        "episode.vtt",
        "transcript.md",
        "manifest.json",
    ] {
        assert!(files.contains(name), "{name} missing: {files:?}");
    }
    let wav_ms = wav_duration_ms(&directory.join("episode.wav"));
    let srt = std::fs::read_to_string(directory.join("episode.srt")).unwrap();
    assert!(last_cue_end_ms(&srt).abs_diff(wav_ms) <= 1000);
}

#[test]
fn skipping_mixing_and_cover_publishes_text_files_only() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let id = "tea-skipped";
    let skips = ["skip_mixing=true", "skip_cover=true"];
    assert_success(&run_podcast(&sandbox, &workflows, id, &skips));
    assert_success(&sandbox.host(&["signal", "approve", id]));
    assert_eq!(status_json(&sandbox, id)["status"], "completed");
    let directory = sandbox.data().join("episodes").join(id);
    assert_eq!(
        file_names(&directory),
        BTreeSet::from(
            [
                "transcript.md",
                "episode.srt",
                "episode.vtt",
                "chapters.json",
                "manifest.json",
            ]
            .map(String::from)
        )
    );
    let history = sandbox.history(id);
    assert_eq!(
        skipped_stages(&history),
        BTreeSet::from(["script_review", "audio_mixing", "cover_image"].map(String::from)),
        "the script review is off by default"
    );
    // Without a mix the clips play back to back, so the subtitles end with the speech.
    let speech_ms: u64 = stage_output(&history, "audio_synthesis")
        .as_array()
        .unwrap()
        .iter()
        .map(|clip| clip["duration_ms"].as_u64().unwrap())
        .sum();
    let srt = std::fs::read_to_string(directory.join("episode.srt")).unwrap();
    assert!(last_cue_end_ms(&srt).abs_diff(speech_ms) <= 1000);
}

#[test]
fn a_dry_run_prints_the_plan_and_records_nothing() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let dry = sandbox.host(&[
        "run",
        path_str(&workflows.join("podcast.toml")),
        "--id",
        "dry",
        "--input",
        "topic=tides",
        "--input",
        "skip_cover=true",
        "--dry-run",
    ]);
    assert_success(&dry);
    let plan = text(&dry.stdout);
    for title in [
        "Ideation",
        "Outlining",
        "Awaiting approval",
        "Segment generation",
        "Script generation",
        "Audio synthesis",
        "Audio mixing",
        "Cover image",
        "Publishing",
    ] {
        assert!(
            plan.contains(title),
            "`{title}` missing from the plan:\n{plan}"
        );
    }
    for provider in ["mock-llm", "mock-tts", "mock-mixer", "mock-image"] {
        assert!(plan.contains(provider), "`{provider}` missing:\n{plan}");
    }
    let line = |title: &str| {
        plan.lines()
            .find(|line| line.contains(title))
            .unwrap()
            .to_string()
    };
    assert!(line("Cover image").contains("skipped"), "{plan}");
    assert!(!line("Audio mixing").contains("skipped"), "{plan}");

    let list = sandbox.host(&["list", "--json"]);
    assert_success(&list);
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout).unwrap(),
        json!([])
    );
    assert!(!sandbox.host(&["status", "dry"]).status.success());
    assert!(!sandbox.data().join("episodes").exists());
}

#[test]
fn validate_accepts_the_shipped_workflows_and_locates_every_problem() {
    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    for name in ["podcast.toml", "story.toml"] {
        let output = sandbox.host(&["validate", path_str(&workflows.join(name))]);
        assert_exit(&output, 0, name);
    }

    let original = std::fs::read_to_string(workflows.join("podcast.toml")).unwrap();
    let unknown_stage = "clips = \"{{ stages.audio_synthesys.output }}\"";
    let bad_duration = "stage_timeout = \"1 hour\"";
    let broken = original
        .replacen(
            "clips = \"{{ stages.audio_synthesis.output }}\"\ngap_ms",
            &format!("{unknown_stage}\ngap_ms"),
            1,
        )
        .replacen("stage_timeout = \"1h\"", bad_duration, 1);
    assert_ne!(broken, original);
    let broken_path = workflows.join("broken.toml");
    std::fs::write(&broken_path, &broken).unwrap();

    let output = sandbox.host(&["validate", path_str(&broken_path)]);
    assert_exit(&output, 2, "validating a broken workflow");
    let report = text(&output.stderr) + &text(&output.stdout);
    for (written, words) in [(unknown_stage, "audio_synthesys"), (bad_duration, "1 hour")] {
        let (line_index, line) = broken
            .lines()
            .enumerate()
            .find(|(_, line)| line.contains(written))
            .unwrap();
        let location = format!("{}:{}:", broken_path.display(), line_index + 1);
        let problem = report
            .lines()
            .find(|problem| problem.contains(&location) && problem.contains(words))
            .unwrap_or_else(|| panic!("no `{location}<column>` problem about {words}:\n{report}"));
        let column: usize = problem[problem.find(&location).unwrap() + location.len()..]
            .split(':')
            .next()
            .and_then(|column| column.parse().ok())
            .unwrap_or_else(|| panic!("no column in {problem}"));
        let value_start = line.find('"').unwrap() + 1;
        assert!(
            (value_start..=line.len()).contains(&column),
            "column {column} is outside the value of `{line}`: {problem}"
        );
    }
}
