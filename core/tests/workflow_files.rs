//! The workflow files shipped in `workflows/`: every workflow loads without a diagnostic,
//! every show blueprint loads with voices the mock TTS offers, and every stage's templates
//! render against sample outputs that satisfy the stages' schemas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipeline_core::answers::check_output;
use pipeline_core::decide::render_call_input;
use pipeline_core::show::ShowBlueprint;
use pipeline_core::template;
use pipeline_core::workflow::{CallStage, StageKind, load_bundle};
use pipeline_core::{Definition, DefinitionBundle};
use serde_json::{Value, json};

/// The voices of the mock TTS plugin.
const MOCK_VOICES: &[&str] = &["aria", "basil", "cora", "dmitri", "elena", "felix"];

fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the core crate sits in the workspace")
        .join("workflows")
}

/// The files in `directory` with extension `ext`, sorted.
fn files_with_extension(directory: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|found| found == ext))
        .collect();
    found.sort();
    found
}

fn load(path: &Path) -> (DefinitionBundle, Definition) {
    let bundle = match load_bundle(path, &|name| std::env::var(name).ok()) {
        Ok(bundle) => bundle,
        Err(diagnostics) => panic!("{}", report(path, &diagnostics)),
    };
    match Definition::from_bundle(&bundle) {
        Ok(definition) => (bundle, definition),
        Err(diagnostics) => panic!("{}", report(path, &diagnostics)),
    }
}

fn report(path: &Path, diagnostics: &[pipeline_core::Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    format!(
        "{} has {} problem(s):\n{}",
        path.display(),
        lines.len(),
        lines.join("\n")
    )
}

fn show(name: &str, covered: &[&str]) -> Value {
    let blueprint =
        ShowBlueprint::load(&workflows_dir(), name).unwrap_or_else(|error| panic!("{error}"));
    let covered: Vec<String> = covered.iter().map(ToString::to_string).collect();
    blueprint.context(name, &covered, covered.len())
}

#[test]
fn every_workflow_loads_without_diagnostics() {
    let files = files_with_extension(&workflows_dir(), "toml");
    let names: Vec<String> = files
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"podcast.toml".to_string()) && names.contains(&"story.toml".to_string()),
        "{names:?}"
    );
    for path in &files {
        let (bundle, definition) = load(path);
        assert!(!definition.stages.is_empty(), "{}", path.display());
        assert!(bundle.hash().starts_with("sha256:"));
        println!(
            "{}: {} stages, {} files",
            path.display(),
            definition.stages.len(),
            bundle.files.len()
        );
    }
}

#[test]
fn every_show_loads_with_mock_voices() {
    let files = files_with_extension(&workflows_dir().join("shows"), "toml");
    assert!(files.len() >= 2, "{files:?}");
    for path in &files {
        let slug = path.file_stem().unwrap().to_string_lossy();
        let blueprint =
            ShowBlueprint::load(&workflows_dir(), &slug).unwrap_or_else(|error| panic!("{error}"));
        assert!(blueprint.hosts.len() >= 2, "{}", path.display());
        for host in &blueprint.hosts {
            assert!(
                MOCK_VOICES.contains(&host.voice.as_str()),
                "{}: host {} has voice `{}`, not one of {MOCK_VOICES:?}",
                path.display(),
                host.name,
                host.voice
            );
        }
        let mut voices: Vec<&str> = blueprint.hosts.iter().map(|h| h.voice.as_str()).collect();
        voices.sort_unstable();
        voices.dedup();
        assert_eq!(
            voices.len(),
            blueprint.hosts.len(),
            "{}: hosts share a voice",
            path.display()
        );
    }
}

fn call_stage<'d>(definition: &'d Definition, stage: &str) -> &'d CallStage {
    let stage = definition
        .stages
        .iter()
        .find(|candidate| candidate.id.0 == stage)
        .unwrap_or_else(|| panic!("no stage {stage}"));
    let StageKind::Call(call) = &stage.kind else {
        panic!("{} is not a call stage", stage.id)
    };
    call
}

/// Checks `output` against the schema of LLM stage `stage`, rendered with `context` (a
/// schema may be a template over the show and earlier outputs).
fn assert_fits_schema(definition: &Definition, stage: &str, output: &Value, context: &Value) {
    let schema = call_stage(definition, stage)
        .schema
        .as_ref()
        .expect("an LLM stage with a schema")
        .render(context)
        .unwrap_or_else(|error| panic!("schema of {stage}: {error}"));
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let problems: Vec<String> = validator
        .iter_errors(output)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "sample output of {} does not fit its schema:\n{}",
        stage,
        problems.join("\n")
    );
}

/// Asserts that `output` passes the checks of stage `stage`, and that an answer whose
/// second line is spoken by someone else fails them, naming that line.
fn assert_checks_speakers(
    definition: &Definition,
    stage: &str,
    output: &Value,
    context: &Value,
    lines_of: &str,
) {
    let checks = &call_stage(definition, stage).checks;
    assert!(!checks.is_empty(), "{stage} has no checks");
    assert_eq!(check_output(checks, context, output), Ok(()), "{stage}");
    let mut wrong = output.clone();
    wrong[lines_of][0]["lines"][1]["speaker"] = json!("Nobody");
    let error = check_output(checks, context, &wrong).expect_err(stage);
    assert!(
        error.message.contains("line 2 is spoken by \"Nobody\""),
        "{stage}: {}",
        error.message
    );
    let mut silent = output.clone();
    silent[lines_of][0]["lines"][0]["text"] = json!("  ");
    let error = check_output(checks, context, &silent).expect_err(stage);
    assert!(
        error.message.contains("line 1 (spoken by"),
        "{stage}: {}",
        error.message
    );
}

/// Renders every stage of `definition` the way the engine would, with every stage's output
/// in `context`; returns the rendered inputs per stage (one per item for fan-out stages).
fn render_all(definition: &Definition, context: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut rendered = BTreeMap::new();
    for stage in &definition.stages {
        if let Some(condition) = &stage.when {
            template::evaluate(condition, context)
                .unwrap_or_else(|error| panic!("{} when: {error}", stage.id));
        }
        let StageKind::Call(call) = &stage.kind else {
            continue;
        };
        let inputs = match &stage.for_each {
            None => vec![render_call_input(call, context)],
            Some(expression) => {
                let items = template::evaluate(expression, context)
                    .unwrap_or_else(|error| panic!("{} for_each: {error}", stage.id));
                let items = items.as_array().expect("for_each gives a list").clone();
                assert!(!items.is_empty(), "{} fans out over nothing", stage.id);
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        let mut scoped = context.clone();
                        scoped["item"] = item.clone();
                        scoped["index"] = index.into();
                        render_call_input(call, &scoped)
                    })
                    .collect()
            }
        };
        let inputs: Vec<Value> = inputs
            .into_iter()
            .map(|input| input.unwrap_or_else(|error| panic!("{}: {error}", stage.id)))
            .collect();
        for input in &inputs {
            assert_no_missing_fields(&stage.id.0, input);
        }
        rendered.insert(stage.id.0.clone(), inputs);
    }
    rendered
}

/// Input fields that may render as null: the outputs of stages that can be skipped.
const NULLABLE_FIELDS: &[&str] = &["mix", "cover"];

/// A misspelt field of an output renders as `null` rather than failing when it is the whole
/// value of an input or goes through `tojson`; the sample outputs hold no nulls, so a null
/// anywhere else in a rendered input is such a misspelling.
fn assert_no_missing_fields(stage: &str, input: &Value) {
    for (field, value) in input.as_object().expect("an input is an object") {
        if field == "json_schema" || NULLABLE_FIELDS.contains(&field.as_str()) {
            continue;
        }
        let text = value.to_string();
        assert!(
            !value.is_null() && !text.contains("null"),
            "{stage}: input `{field}` holds null (a misspelt field?): {text}"
        );
    }
}

/// The text of every message of a rendered LLM input.
fn prompt_text(input: &Value) -> String {
    input["messages"]
        .as_array()
        .expect("an LLM input has messages")
        .iter()
        .map(|message| message["content"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_voices(inputs: &[Value], expected: &[(&str, &str)], lines: &[Value]) {
    assert_eq!(inputs.len(), lines.len());
    for (input, line) in inputs.iter().zip(lines) {
        let speaker = line["speaker"].as_str().unwrap();
        let voice = expected
            .iter()
            .find(|(name, _)| *name == speaker)
            .map(|(_, voice)| *voice);
        assert_eq!(input["voice"].as_str(), voice, "{input}");
        assert_eq!(input["text"], line["text"]);
    }
}

fn podcast_context(show: Value, skip: bool) -> Value {
    let hosts: Vec<String> = show["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host["name"].as_str().unwrap().to_string())
        .collect();
    let line = |n: usize, text: &str| json!({"speaker": hosts[n % hosts.len()], "text": text});
    let outline = json!({
        "title": "Steeped in History",
        "summary": "How a leaf from Yunnan conquered the world.",
        "segments": [
            {"title": "Origins", "summary": "Where tea began.", "key_points": ["Yunnan", "Shennong"]},
            {"title": "Trade", "summary": "Tea on the move.", "key_points": ["Tea Horse Road", "Clippers"]},
            {"title": "Today", "summary": "Tea now.", "key_points": ["Bubble tea", "Matcha", "Bags"]}
        ],
        "covered_concepts": ["tea origins", "tea trade"]
    });
    let expanded: Vec<Value> = outline["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|segment| {
            json!({
                "title": segment["title"], "summary": segment["summary"],
                "talking_points": ["One", "Two", "Three"], "open_question": "Why?"
            })
        })
        .collect();
    let script = json!({
        "title": "Steeped in History",
        "segments": [
            {"title": "Origins", "lines": [line(0, "Welcome!"), line(1, "Tea time."), line(2, "Indeed.")]},
            {"title": "Trade", "lines": [line(1, "Horses."), line(0, "Ships.")]},
            {"title": "Today", "lines": [line(0, "Bubbles."), line(1, "Bye!")]}
        ]
    });
    let clip = json!({"audio": {"digest": "sha256:00", "size_bytes": 44, "media_type": "audio/wav"}, "duration_ms": 1000});
    json!({
        "inputs": {"topic": "the history of tea", "show": "deep-dive", "skip_mixing": skip, "skip_cover": skip, "review_script": skip},
        "show": show,
        "stages": {
            "ideation": {"output": {"title": "Steeped in History", "hook": "A leaf that moved empires.",
                "angle": "Trade routes", "key_concepts": ["tea", "trade", "empire"], "takeaway": "Tea shaped maps."}},
            "outlining": {"output": outline},
            "approval": {"output": {"approved": outline, "edited": false, "feedback": if skip { json!("Shorter, please.") } else { Value::Null }}},
            "segment_generation": {"output": expanded},
            "script_generation": {"output": script},
            // Reviewed (approved as written) on one show, skipped on the other: both paths
            // give the later stages the same script.
            "script_review": {"output": if skip { json!({"approved": script, "edited": false, "feedback": Value::Null}) } else { Value::Null }},
            "audio_synthesis": {"output": vec![clip; 7]},
            "audio_mixing": {"output": if skip { Value::Null } else { json!({"audio": {"digest": "sha256:01", "size_bytes": 44, "media_type": "audio/wav"}, "duration_ms": 9000}) }},
            "cover_image": {"output": Value::Null}
        },
        "execution": {"id": "exec-1", "workflow": "podcast"}
    })
}

#[test]
fn podcast_stages_render_for_every_show() {
    let (_, definition) = load(&workflows_dir().join("podcast.toml"));
    for (name, skip) in [("deep-dive", false), ("tiny-histories", true)] {
        let show = show(name, if skip { &["tea origins"] } else { &[] });
        let context = podcast_context(show.clone(), skip);
        for stage in [
            "ideation",
            "outlining",
            "segment_generation",
            "script_generation",
        ] {
            let output = &context["stages"][stage]["output"];
            match output.as_array() {
                Some(items) => items
                    .iter()
                    .for_each(|item| assert_fits_schema(&definition, stage, item, &context)),
                None => assert_fits_schema(&definition, stage, output, &context),
            }
        }
        let script = &context["stages"]["script_generation"]["output"];
        assert_checks_speakers(
            &definition,
            "script_generation",
            script,
            &context,
            "segments",
        );
        let rendered = render_all(&definition, &context);
        for (stage, inputs) in &rendered {
            let Some(first) = inputs
                .first()
                .filter(|input| input.get("messages").is_some())
            else {
                continue;
            };
            let text = prompt_text(first);
            assert!(
                text.contains("Topic: the history of tea"),
                "{stage}: {text}"
            );
            assert!(text.contains("\"hosts\""), "{stage} lacks the show: {text}");
            assert!(first.get("json_schema").is_some(), "{stage}");
        }
        let ideation = prompt_text(&rendered["ideation"][0]);
        assert_eq!(ideation.contains("tea origins"), skip, "{ideation}");
        assert_eq!(rendered["segment_generation"].len(), 3);
        assert!(prompt_text(&rendered["segment_generation"][1]).contains("\"draft\""));
        let hosts: Vec<(&str, &str)> = show["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|host| {
                (
                    host["name"].as_str().unwrap(),
                    host["voice"].as_str().unwrap(),
                )
            })
            .collect();
        let lines: Vec<Value> = context["stages"]["script_generation"]["output"]["segments"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|segment| segment["lines"].as_array().unwrap().clone())
            .collect();
        assert_voices(&rendered["audio_synthesis"], &hosts, &lines);
        let mix = &rendered["audio_mixing"][0];
        assert_eq!(mix["clips"].as_array().map(Vec::len), Some(7));
        assert_eq!(mix["sample_rate"], 44100);
        let publish = &rendered["complete"][0];
        assert_eq!(publish["show"], show["name"]);
        assert_eq!(publish["cover"], Value::Null);
        assert_eq!(publish["mix"].is_null(), skip);
        assert_eq!(publish["segments"].as_array().map(Vec::len), Some(3));
        let skipped = template::evaluate("not inputs.skip_mixing", &context).unwrap();
        assert_eq!(template::is_truthy(&skipped), !skip);
    }
}

#[test]
fn story_stages_render() {
    let (_, definition) = load(&workflows_dir().join("story.toml"));
    let idea = json!({
        "title": "The Sound Keeper", "premise": "A keeper collects sounds.", "setting": "A lighthouse.",
        "characters": [
            {"name": "Wren", "personality": "Quiet.", "voice": "cora"},
            {"name": "Old Tam", "personality": "Gruff.", "voice": "dmitri"}
        ]
    });
    let line = |speaker: &str, text: &str| json!({"speaker": speaker, "text": text});
    let script = json!({"title": "The Sound Keeper", "scenes": [
        {"title": "Fog", "lines": [line("Wren", "Listen."), line("Old Tam", "To what?")]},
        {"title": "Storm", "lines": [line("Old Tam", "Hold on!"), line("Wren", "I have it.")]},
        {"title": "Dawn", "lines": [line("Wren", "Quiet now."), line("Old Tam", "Aye.")]}
    ]});
    let context = json!({
        "inputs": {"premise": "a lighthouse keeper who collects sounds", "genre": "gentle fantasy",
            "audience": "all ages", "skip_mixing": false},
        "show": Value::Null,
        "stages": {
            "idea": {"output": idea}, "script": {"output": script}, "revision": {"output": script},
            "enhancement": {"output": script},
            "voice": {"output": vec![json!({"duration_ms": 500}); 6]},
            "mixing": {"output": {"duration_ms": 4000}}
        },
        "execution": {"id": "exec-2", "workflow": "story"}
    });
    assert_fits_schema(&definition, "idea", &idea, &context);
    for stage in ["script", "revision", "enhancement"] {
        assert_fits_schema(&definition, stage, &script, &context);
    }
    assert_checks_speakers(&definition, "enhancement", &script, &context, "scenes");
    let rendered = render_all(&definition, &context);
    assert!(prompt_text(&rendered["revision"][0]).contains("\"draft\""));
    assert!(prompt_text(&rendered["revision"][0]).contains("Revise"));
    assert!(prompt_text(&rendered["enhancement"][0]).contains("Enhance"));
    let lines: Vec<Value> = script["scenes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|scene| scene["lines"].as_array().unwrap().clone())
        .collect();
    assert_voices(
        &rendered["voice"],
        &[("Wren", "cora"), ("Old Tam", "dmitri")],
        &lines,
    );
    let publish = &rendered["subtitles"][0];
    assert_eq!(publish["title"], "The Sound Keeper");
    assert_eq!(publish["segments"].as_array().map(Vec::len), Some(3));
}
