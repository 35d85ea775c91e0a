//! The commands that look after a data directory and its plugins, through the real binary:
//! `plugins inspect` access, `config.toml` grants, the systemd unit, `backup` and `check`,
//! `costs`, `gc`, takes kept by `reset`, and gates on subjects other than an outline.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::support::{Sandbox, assert_success, text};
use super::{QUICK, assert_one_line_error, command_in, host_in, json_of};

/// A podcast about tides run to the end on the mocks (approved automatically, without the two
/// slowest stages), from the repository's workflows copied into the sandbox.
fn completed_episode(sandbox: &Sandbox, id: &str) {
    sandbox.repository_workflows("workflows");
    let mut arguments = vec![
        "run",
        "workflows/podcast.toml",
        "--id",
        id,
        "--auto-approve",
    ];
    arguments.extend(["--input", "topic=tides"]);
    arguments.extend(QUICK);
    assert_success(&host_in(sandbox, &arguments));
}

#[test]
fn plugins_inspect_says_what_each_import_gets_under_the_grants() {
    let sandbox = Sandbox::new();
    let inspect = sandbox
        .command()
        .args(["plugins", "inspect", "openai-llm", "--json"])
        .env("OPENAI_LLM_MODEL", "gpt-test")
        .output()
        .unwrap();
    assert_success(&inspect);
    let report: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let access = report["access"].as_array().expect("an access list");
    assert_eq!(access.len(), report["imports"].as_array().unwrap().len());
    let gets = |prefix: &str| -> String {
        access
            .iter()
            .find(|entry| entry["import"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} import in {access:?}"))["gets"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        gets("wasi:http/outgoing-handler"),
        "requests to https://api.openai.com only"
    );
    assert!(
        gets("wasi:cli/environment").contains("OPENAI_LLM_MODEL"),
        "{access:?}"
    );
    let text = text(&sandbox.host(&["plugins", "inspect", "openai-llm"]).stdout);
    assert!(
        text.contains("wasi:http/outgoing-handler")
            && text.contains("— requests to https://api.openai.com only"),
        "{text}"
    );
}

#[test]
fn config_names_secrets_as_workflows_do_and_warns_about_a_section_for_no_plugin() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.data().join("config.toml"),
        "[plugins.mock-llm]\nsecrets = [\"HOST_TEST_SECRET\"]\n[plugins.mock-lmm]\nmemory_limit_mib = 512\n",
    )
    .unwrap();
    let inspect = sandbox
        .command()
        .args(["plugins", "inspect", "mock-llm", "--json"])
        .env("HOST_TEST_SECRET", "a-secret-value")
        .output()
        .unwrap();
    assert_success(&inspect);
    let report: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(
        report["grants"]["env"],
        serde_json::json!(["HOST_TEST_SECRET"])
    );
    let stderr = text(&inspect.stderr);
    assert!(
        stderr.contains("[plugins.mock-lmm], but no plugin is named `mock-lmm`"),
        "{stderr}"
    );
    assert!(!stderr.contains("mock-llm`"), "{stderr}");
}

#[test]
fn the_systemd_unit_starts_a_worker_the_binary_accepts() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/host-worker.service"),
    )
    .expect("deploy/host-worker.service");
    let exec_start = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart=/usr/local/bin/host "))
        .expect("an ExecStart running /usr/local/bin/host");
    let sandbox = Sandbox::new();
    let mut arguments: Vec<&str> = exec_start.split_whitespace().collect();
    arguments.push("--help");
    let help = sandbox.host(&arguments);
    assert_success(&help);
    assert!(
        unit.contains("SuccessExitStatus=130"),
        "a clean stop is not a failure"
    );
}

#[test]
fn a_backup_taken_while_an_episode_runs_checks_clean_and_resumes() {
    let sandbox = Sandbox::new();
    completed_episode(&sandbox, "finished");
    // A second episode runs while the backup is taken.
    let mut running = command_in(&sandbox);
    running.args([
        "run",
        "workflows/podcast.toml",
        "--id",
        "running",
        "--auto-approve",
    ]);
    running.args(["--input", "topic=volcanoes"]).args(QUICK);
    let mut running = running
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !sandbox.execution_exists("running") {
        assert!(
            std::time::Instant::now() < deadline,
            "the second episode never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let backup_dir = sandbox.directory.path().join("backup");
    let backup = host_in(
        &sandbox,
        &["backup", backup_dir.to_str().unwrap(), "--json"],
    );
    assert_success(&backup);
    let report: Value = serde_json::from_slice(&backup.stdout).unwrap();
    assert!(report["blobs"].as_u64().unwrap() > 0, "{report}");
    assert!(running.wait().unwrap().success());

    // The copy verifies on its own, and the episode finished before it is complete there.
    let in_backup = |arguments: &[&str]| {
        let mut command = command_in(&sandbox);
        command.env("HOST_DATA_DIR", &backup_dir).args(arguments);
        command.output().unwrap()
    };
    let checked = in_backup(&["check", "--json"]);
    assert_success(&checked);
    let findings: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(findings["problems"], serde_json::json!([]), "{findings}");
    let status: Value =
        serde_json::from_slice(&in_backup(&["status", "finished", "--json"]).stdout).unwrap();
    assert_eq!(status["status"], "completed");
    // Whatever point the second one had reached, the copy resumes it to the end.
    assert_success(&in_backup(&["resume", "running", "--auto-approve"]));
    let status: Value =
        serde_json::from_slice(&in_backup(&["status", "running", "--json"]).stdout).unwrap();
    assert_eq!(status["status"], "completed");

    let again = host_in(&sandbox, &["backup", backup_dir.to_str().unwrap()]);
    assert_one_line_error(&again, 2, "is not empty", "a backup into a used directory");

    // Damage in the original is found: a missing blob, and a blob nothing references.
    let blobs = sandbox.data().join("blobs");
    let shard = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .find(|entry| entry.file_name().len() == 2)
        .unwrap()
        .path();
    let victim = std::fs::read_dir(&shard)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::remove_file(&victim).unwrap();
    std::fs::create_dir_all(blobs.join("ff")).unwrap();
    std::fs::write(blobs.join("ff").join("f".repeat(64)), "stray").unwrap();
    let damaged = host_in(&sandbox, &["check"]);
    assert_eq!(damaged.status.code(), Some(4), "{}", text(&damaged.stdout));
    let found = text(&damaged.stdout);
    assert!(
        found.contains("problem: blob sha256:") && found.contains("is missing"),
        "{found}"
    );
    assert!(
        found.contains("1 blob(s) (5 bytes) are referenced by no history"),
        "{found}"
    );
    std::fs::copy(
        backup_dir
            .join("blobs")
            .join(shard.file_name().unwrap())
            .join(victim.file_name().unwrap()),
        &victim,
    )
    .unwrap();
}

#[test]
fn costs_roll_up_per_workflow_show_stage_and_provider() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    for id in ["spent-1", "spent-2"] {
        assert_success(&sandbox.host(&["run", workflow.to_str().unwrap(), "--id", id]));
    }
    // The counting plugin charges 10 millionths of a USD per call: five completed calls each
    // (one, three fanned out, one), the failed attempt costing nothing.
    let rollup = json_of(&sandbox, &["costs", "--json"]);
    assert_eq!(rollup["executions"], 2, "{rollup:#}");
    assert_eq!(
        rollup["total"],
        serde_json::json!({"USD": 100}),
        "{rollup:#}"
    );
    assert_eq!(rollup["by_workflow"]["counting"]["USD"], 100);
    assert_eq!(rollup["by_show"]["-"]["USD"], 100);
    assert_eq!(
        rollup["by_stage"],
        serde_json::json!({"first": {"USD": 20}, "fan": {"USD": 60}, "last": {"USD": 20}})
    );
    assert_eq!(rollup["by_provider"]["counter"]["USD"], 100);
    let text = text(&sandbox.host(&["costs"]).stdout);
    assert!(text.starts_with("2 execution(s): 0.0001 USD"), "{text}");
    assert!(text.contains("By provider:\n  counter"), "{text}");
    let future = json_of(&sandbox, &["costs", "--since", "2999-01-01", "--json"]);
    assert_eq!(future["executions"], 0);
    let wrong = sandbox.host(&["costs", "--since", "last week"]);
    assert_one_line_error(
        &wrong,
        2,
        "is not a date written YYYY-MM-DD",
        "a bad --since",
    );
}

#[test]
fn gc_removes_only_old_blobs_no_history_references() {
    let sandbox = Sandbox::new();
    completed_episode(&sandbox, "kept");
    let blobs = sandbox.data().join("blobs");
    let stray = |name: char, age: Duration| {
        let shard = blobs.join(format!("{name}{name}"));
        std::fs::create_dir_all(&shard).unwrap();
        let path = shard.join(name.to_string().repeat(64));
        std::fs::write(&path, "stray").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() - age)
            .unwrap();
        path
    };
    let old = stray('a', Duration::from_secs(7_200));
    let fresh = stray('b', Duration::ZERO);
    let before = json_of(&sandbox, &["check", "--json"])["blobs"].clone();

    let dry = json_of(&sandbox, &["gc", "--dry-run", "--json"]);
    assert_eq!(
        dry["removed"],
        serde_json::json!({format!("sha256:{}", "a".repeat(64)): 5})
    );
    assert_eq!(dry["kept_recent"], 1);
    assert!(old.exists(), "a dry run removes nothing");

    let done = text(&host_in(&sandbox, &["gc"]).stdout);
    assert!(
        done.starts_with("Removed 1 unreferenced blob(s) (5 bytes); kept 1 younger"),
        "{done}"
    );
    assert!(!old.exists() && fresh.exists());
    // Everything a history references is still there and intact.
    let after = json_of(&sandbox, &["check", "--json"]);
    assert_eq!(after["problems"], serde_json::json!([]), "{after:#}");
    assert_eq!(after["blobs"], before);
}

#[test]
fn a_reset_keeps_the_published_take_instead_of_overwriting_it() {
    let sandbox = Sandbox::new();
    completed_episode(&sandbox, "takes");
    let episode = sandbox.data().join("episodes/takes");
    let first = std::fs::read(episode.join("transcript.md")).unwrap();

    let reset = host_in(&sandbox, &["reset", "takes", "--to", "complete"]);
    assert_success(&reset);
    assert!(
        text(&reset.stderr).contains("The previous take is kept in"),
        "{}",
        text(&reset.stderr)
    );
    assert_eq!(
        std::fs::read(episode.join("takes/1/transcript.md")).unwrap(),
        first
    );
    assert!(episode.join("takes/1/manifest.json").is_file());
    assert!(
        episode.join("transcript.md").is_file(),
        "the new take is published"
    );

    assert_success(&host_in(&sandbox, &["reset", "takes", "--to", "complete"]));
    assert!(
        episode.join("takes/2/manifest.json").is_file(),
        "takes are numbered"
    );
    assert!(!episode.join("takes/2/takes").exists());
}

#[test]
fn a_gate_on_speech_offers_the_audio_to_play_and_refuses_a_replacement() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    std::fs::write(
        &workflow,
        "name = \"listen\"\n[providers]\ntts = \"mock-tts\"\n[[stages]]\nid = \"speech\"\ntitle = \"Speech\"\ncall = \"tts.synthesize\"\ninput = { text = \"Hello there.\", voice = \"aria\" }\n[[stages]]\nid = \"gate\"\napproval = { subject = \"speech\" }\n",
    )
    .unwrap();
    assert_success(&sandbox.host(&["validate", workflow.to_str().unwrap()]));
    let run = sandbox.host(&["run", workflow.to_str().unwrap(), "--id", "listen"]);
    assert_success(&run);
    let prompt = text(&run.stdout);
    assert!(
        prompt.contains("waiting for approval of the Speech result"),
        "{prompt}"
    );
    let listen = prompt
        .lines()
        .find_map(|line| line.trim().strip_prefix("Listen: "))
        .unwrap_or_else(|| panic!("no file to play:\n{prompt}"));
    assert!(Path::new(listen).is_file(), "{listen}");
    assert!(
        !prompt.contains("To edit"),
        "speech cannot be edited: {prompt}"
    );

    let replacement = sandbox.directory.path().join("other.json");
    std::fs::write(&replacement, "{\"audio\": null}").unwrap();
    let refused = sandbox.host(&[
        "signal",
        "approve",
        "listen",
        "--outline",
        replacement.to_str().unwrap(),
    ]);
    assert_one_line_error(
        &refused,
        3,
        "has no schema, so it cannot be replaced",
        "a replaced recording",
    );
    assert_success(&sandbox.host(&["signal", "approve", "listen"]));
    sandbox.stage_outputs("listen");
}

#[test]
fn a_worker_shows_stages_with_verbose_and_only_its_own_lines_without() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    let path = workflow.to_str().unwrap();
    let approved = |id: &str| {
        assert_success(&sandbox.host(&["run", path, "--id", id]));
        assert_success(&sandbox.host(&["signal", "approve", id, "--no-wait"]));
    };
    approved("plain");
    let plain = sandbox.host(&["worker"]);
    assert_success(&plain);
    assert!(
        text(&plain.stdout).contains("plain: completed"),
        "{}",
        text(&plain.stdout)
    );
    assert!(
        !text(&plain.stderr).contains("▶ "),
        "{}",
        text(&plain.stderr)
    );

    approved("shown");
    let shown = sandbox.host(&["worker", "-v"]);
    assert_success(&shown);
    assert!(
        text(&shown.stdout).contains("shown: completed"),
        "{}",
        text(&shown.stdout)
    );
    assert!(
        text(&shown.stderr).contains("▶ "),
        "{}",
        text(&shown.stderr)
    );
}

#[test]
fn revise_sends_the_subject_back_with_notes_the_model_is_told_and_returns_to_the_gate() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("approval");
    let folder = workflow.parent().unwrap();
    std::fs::write(
        &workflow,
        "name = \"revisable\"\n[providers]\nllm = \"counter\"\n[[stages]]\nid = \"draft\"\ncall = \"llm.generate\"\nprompt = \"draft.md\"\nschema = \"draft.json\"\n[[stages]]\nid = \"gate\"\napproval = { subject = \"draft\" }\n",
    )
    .unwrap();
    std::fs::write(folder.join("draft.md"), "Write a draft about tides").unwrap();
    std::fs::write(folder.join("draft.json"), "{\"type\": \"string\"}").unwrap();
    let path = workflow.to_str().unwrap();
    assert_success(&sandbox.host(&["run", path, "--id", "revised"]));
    let empty = sandbox.host(&["signal", "revise", "revised", "--feedback", " "]);
    assert_one_line_error(&empty, 3, "needs feedback", "a revision without notes");

    let revise = sandbox.host(&[
        "signal",
        "revise",
        "revised",
        "--feedback",
        "mention the moon",
    ]);
    assert_success(&revise);
    let status = json_of(&sandbox, &["status", "revised", "--json"]);
    assert_eq!(status["status"], "waiting_for_approval", "{status:#}");
    let subject = status["approval"]["subject"].as_str().unwrap();
    // The counting plugin echoes the last message it was sent: the notes.
    assert!(subject.contains("mention the moon"), "{subject}");
    let history = json_of(&sandbox, &["history", "revised", "--json"]);
    let types: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"ExecutionReset"), "{types:?}");
    assert_eq!(
        types
            .iter()
            .filter(|kind| **kind == "ApprovalRequested")
            .count(),
        2
    );

    assert_success(&sandbox.host(&["signal", "approve", "revised"]));
    assert_success(&sandbox.host(&["replay", "revised"]));
    assert_eq!(
        json_of(&sandbox, &["status", "revised", "--json"])["status"],
        "completed"
    );
}
