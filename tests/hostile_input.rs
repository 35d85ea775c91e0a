//! What an attacker or a clumsy operator hands the binary: devices, FIFOs and huge files where
//! a workflow, prompt, outline, inputs or batch file belongs; workflows naming files outside
//! their folder or copying secrets into their text; symlinks planted in the data directory;
//! plugins given by path; terminal control sequences from a provider; odd ids and durations;
//! an unusable or edited database; a blob store that cannot be written. Each is refused with one
//! line naming the problem, and nothing is recorded that should not be.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Sandbox, assert_exit, assert_success, exit_within, text};

const HOSTILE_WASM: &str = test_artifacts::HOSTILE_WASM;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("sandbox paths are UTF-8")
}

/// The approval workflow run to its gate as `id`.
fn at_the_gate(sandbox: &Sandbox, id: &str) -> std::path::PathBuf {
    let workflow = sandbox.workflow("approval");
    assert_success(&sandbox.host(&["run", path_str(&workflow), "--id", id]));
    workflow
}

/// Installs the hostile test plugin and writes a one-stage workflow on it, `stage` being the
/// stage's TOML, whose prompt `draft.md` says `prompt`; returns the workflow's path.
fn on_hostile_plugin(sandbox: &Sandbox, name: &str, stage: &str, prompt: &str) -> PathBuf {
    let plugins = sandbox.data().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(HOSTILE_WASM, plugins.join("hostile.wasm")).unwrap();
    let workflow = sandbox.workflow("approval");
    std::fs::write(
        &workflow,
        format!("name = \"{name}\"\n[providers]\nllm = \"hostile\"\n[[stages]]\n{stage}"),
    )
    .unwrap();
    std::fs::write(workflow.parent().unwrap().join("draft.md"), prompt).unwrap();
    workflow
}

/// Runs `command` to the end, failing the test if it takes longer than `limit` (a read that
/// blocks on a FIFO would otherwise hang the suite).
fn output_within(mut command: std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host starts");
    exit_within(&mut child, limit, "a refused file");
    child.wait_with_output().expect("host output")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// Asserts the exit code and a short error naming `expected`.
fn assert_refused(output: &std::process::Output, code: i32, expected: &str) {
    assert_exit(output, code, expected);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
    assert!(
        stderr.len() < 2_000,
        "a short message, not {} bytes",
        stderr.len()
    );
}

#[test]
fn devices_fifos_and_oversized_files_are_refused_without_reading_them() {
    let sandbox = Sandbox::new();
    let workflow = at_the_gate(&sandbox, "gated");
    let fifo = sandbox.directory.path().join("fifo");
    mkfifo(&fifo);
    let huge = sandbox.directory.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let limit = Duration::from_secs(20);

    let approve = |path: &Path| {
        let mut command = sandbox.command();
        command.args(["signal", "approve", "gated", "--outline", path_str(path)]);
        output_within(command, limit)
    };
    assert_refused(
        &approve(Path::new("/dev/zero")),
        3,
        "/dev/zero is a device, not a regular file",
    );
    assert_refused(&approve(&fifo), 3, "is a FIFO, not a regular file");
    assert_refused(&approve(&huge), 3, "is larger than the 4 MiB limit");

    let mut validate = sandbox.command();
    validate.args(["validate", "/dev/zero"]);
    assert_refused(&output_within(validate, limit), 2, "/dev/zero is a device");

    let mut batch = sandbox.command();
    batch.args(["run", path_str(&workflow), "--batch", "/dev/zero"]);
    assert_refused(&output_within(batch, limit), 2, "/dev/zero is a device");

    let mut inputs = sandbox.command();
    inputs.args(["run", path_str(&workflow), "--inputs", path_str(&fifo)]);
    assert_refused(&output_within(inputs, limit), 2, "is a FIFO");

    // A prompt that is a FIFO used to hang `validate` forever.
    let folder = workflow.parent().unwrap();
    std::fs::remove_file(folder.join("draft.md")).unwrap();
    mkfifo(&folder.join("draft.md"));
    let mut validate = sandbox.command();
    validate.args(["validate", path_str(&workflow)]);
    assert_refused(
        &output_within(validate, limit),
        2,
        "is a FIFO, not a regular file",
    );
    std::fs::remove_file(folder.join("draft.md")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", folder.join("draft.md")).unwrap();
    let mut validate = sandbox.command();
    validate.args(["validate", path_str(&workflow)]);
    let output = output_within(validate, limit);
    // The link leaves the folder, which is reported first.
    assert_refused(&output, 2, "is outside the workflow's folder");

    // Nothing was recorded by any refusal: the execution still waits at its gate.
    let status = sandbox.host(&["status", "gated", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"], "waiting_for_approval");
}

#[test]
fn workflow_files_cannot_name_files_outside_their_folder() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    std::fs::write(sandbox.directory.path().join("private.txt"), "private").unwrap();
    let source = std::fs::read_to_string(&workflow).unwrap();
    for escaping in ["../../private.txt", "/etc/passwd"] {
        std::fs::write(
            &workflow,
            source.replace("prompt = \"draft.md\"", &format!("prompt = \"{escaping}\"")),
        )
        .unwrap();
        let output = sandbox.host(&["validate", path_str(&workflow)]);
        assert_refused(
            &output,
            2,
            &format!("prompt file `{escaping}` is outside the workflow's folder"),
        );
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("workflow.toml:"),
            "the line is named: {stderr}"
        );
        let run = sandbox.host(&["run", path_str(&workflow), "--id", "escaped"]);
        assert_exit(&run, 2, "a workflow naming a file outside its folder");
    }
    assert!(!sandbox.execution_exists("escaped"));

    // A show blueprint that is a link to a file elsewhere is refused too.
    let podcast = sandbox.repository_workflows("podcast-workflows");
    let show = podcast.join("shows/tiny-histories.toml");
    std::fs::copy(&show, sandbox.directory.path().join("elsewhere.toml")).unwrap();
    std::fs::remove_file(&show).unwrap();
    std::os::unix::fs::symlink(sandbox.directory.path().join("elsewhere.toml"), &show).unwrap();
    let run = sandbox.host(&[
        "run",
        path_str(&podcast.join("podcast.toml")),
        "--input",
        "topic=tides",
        "--input",
        "show=tiny-histories",
        "--dry-run",
    ]);
    assert_refused(&run, 2, "is outside the workflow's folder");
}

#[test]
fn secret_looking_variables_are_not_substituted_unless_declared_public() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    let source = std::fs::read_to_string(&workflow).unwrap();
    let with_reference = source.replace(
        "name = \"approval\"",
        "name = \"approval\"\ndescription = \"uses ${DEMO_API_KEY}\"",
    );
    std::fs::write(&workflow, &with_reference).unwrap();
    let mut run = sandbox.command();
    run.args(["run", path_str(&workflow), "--id", "leaky"])
        .env("DEMO_API_KEY", "sk-very-secret-value");
    let output = run.output().unwrap();
    assert_refused(&output, 2, "`${DEMO_API_KEY}` looks like a secret");
    assert!(!text(&output.stderr).contains("sk-very-secret-value"));
    assert!(!sandbox.execution_exists("leaky"));

    std::fs::write(
        &workflow,
        format!("public_variables = [\"DEMO_API_KEY\"]\n{with_reference}"),
    )
    .unwrap();
    let mut run = sandbox.command();
    run.args(["run", path_str(&workflow), "--id", "declared"])
        .env("DEMO_API_KEY", "not-a-secret-after-all");
    assert_success(&run.output().unwrap());
}

#[test]
fn the_history_logs_and_pending_outlines_are_private_and_links_are_not_followed() {
    let sandbox = Sandbox::new();
    at_the_gate(&sandbox, "private");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let data = sandbox.data();
    assert_eq!(mode(&data.join("history.db")), 0o600);
    assert_eq!(mode(&data.join("logs/private.log")), 0o600);
    assert_eq!(mode(&data.join("pending/private-outline.json")), 0o600);

    // A link planted where the pending outline goes is refused, and its target untouched.
    let target = sandbox.directory.path().join("target.txt");
    std::fs::write(&target, "untouched").unwrap();
    let workflow = sandbox.workflow("approval");
    std::fs::create_dir_all(data.join("pending")).unwrap();
    std::os::unix::fs::symlink(&target, data.join("pending/linked-outline.json")).unwrap();
    std::os::unix::fs::symlink(&target, data.join("logs/linked.log")).unwrap();
    let run = sandbox.host(&["run", path_str(&workflow), "--id", "linked"]);
    assert_exit(&run, 4, "a symlink where the outline is saved");
    assert!(
        text(&run.stderr).contains("is a symlink; the host does not write through links"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    // The warning about the log link is plain text: no colour codes into a pipe or a file.
    assert!(text(&run.stderr).contains("WARN"), "{}", text(&run.stderr));
    assert!(
        !text(&run.stderr).contains('\u{1b}'),
        "{:?}",
        text(&run.stderr)
    );
}

#[test]
fn providers_given_as_paths_are_refused_at_start_with_the_supported_way() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    let output = sandbox.host(&[
        "run",
        path_str(&workflow),
        "--id",
        "by-path",
        "--provider",
        &format!("llm={HOSTILE_WASM}"),
    ]);
    assert_refused(&output, 2, "is a path; plugins are named");
    assert!(text(&output.stderr).contains("llm=hostile"));
    assert!(!sandbox.execution_exists("by-path"));
}

#[test]
fn control_characters_from_a_plugin_never_reach_the_terminal_or_the_log() {
    let sandbox = Sandbox::new();
    // The hostile plugin fails with the path it could not read in its message.
    let workflow = on_hostile_plugin(
        &sandbox,
        "escaping",
        "id = \"draft\"\ncall = \"llm.generate\"\nprompt = \"draft.md\"\nretry = { max_attempts = 1 }\n",
        "read-file /nowhere\u{1b}]0;pwned\u{7}\r\n✓ Completed",
    );
    let run = sandbox.host(&["run", path_str(&workflow), "--id", "escaped"]);
    assert_exit(&run, 1, "a failing plugin");
    let status = sandbox.host(&["status", "escaped"]);
    let log = std::fs::read_to_string(sandbox.data().join("logs/escaped.log")).unwrap();
    for shown in [text(&run.stderr), text(&status.stdout), log] {
        assert!(
            shown.contains("\\u{1b}]0;pwned"),
            "escaped, not dropped:\n{shown}"
        );
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown:?}"
        );
    }
}

#[test]
fn odd_ids_and_absurd_durations_are_refused_with_the_rule() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    let dash = sandbox.host(&["run", path_str(&workflow), "--id=-rf"]);
    assert_refused(&dash, 2, "not starting with `-` or `.`");
    let long_id = "x".repeat(10_000);
    let long = sandbox.host(&["run", path_str(&workflow), "--id", &long_id]);
    assert_refused(&long, 2, "at most 128 of them");
    let unknown = sandbox.host(&["status", &long_id]);
    assert_refused(&unknown, 2, "characters in all");
    let topics = sandbox.directory.path().join("topics.txt");
    std::fs::write(&topics, "tides\n").unwrap();
    let none_at_once = sandbox.host(&[
        "run",
        path_str(&workflow),
        "--batch",
        path_str(&topics),
        "--concurrency",
        "0",
    ]);
    assert_refused(&none_at_once, 2, "--concurrency");

    let source = std::fs::read_to_string(&workflow).unwrap();
    std::fs::write(
        &workflow,
        format!("execution_timeout = \"106751991167d\"\n{source}"),
    )
    .unwrap();
    let validate = sandbox.host(&["validate", path_str(&workflow)]);
    assert_refused(&validate, 2, "is too long (at most 3650d)");
}

#[test]
fn an_unusable_or_edited_database_is_named_with_what_to_do() {
    let sandbox = Sandbox::new().damaged_on_purpose();
    std::fs::create_dir_all(sandbox.data().join("history.db")).unwrap();
    let output = sandbox.host(&["list"]);
    assert_exit(&output, 4, "a database that cannot be opened");
    assert!(
        text(&output.stderr)
            .contains("check that the data directory exists and that this user may write to it"),
        "{}",
        text(&output.stderr)
    );
    std::fs::remove_dir(sandbox.data().join("history.db")).unwrap();

    assert_success(&sandbox.host(&["list"]));
    let connection = rusqlite::Connection::open(sandbox.data().join("history.db")).unwrap();
    connection.execute_batch("PRAGMA user_version = 1").unwrap();
    drop(connection);
    let output = sandbox.host(&["list"]);
    assert_exit(&output, 4, "a lowered schema version");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("schema version 1 says migration 2 has not run"),
        "{stderr}"
    );
    assert!(!stderr.contains("CREATE TABLE"), "no raw SQL: {stderr}");
}

#[test]
fn redaction_keeps_json_answers_intact_and_ignores_short_values() {
    let sandbox = Sandbox::new();
    let workflow = on_hostile_plugin(
        &sandbox,
        "redaction",
        "id = \"answer\"\ncall = \"llm.generate\"\nprompt = \"draft.md\"\nschema = \"answer.json\"\n[plugins.hostile]\nsecrets = [\"LOCAL_KEY\", \"LONG_KEY\"]\n",
        r#"say {"title": null, "note": "uses sk-long-secret-value"}"#,
    );
    std::fs::write(
        workflow.parent().unwrap().join("answer.json"),
        r#"{"type": "object"}"#,
    )
    .unwrap();
    let mut run = sandbox.command();
    run.args(["run", path_str(&workflow), "--id", "redacted"])
        .env("LOCAL_KEY", "null")
        .env("LONG_KEY", "sk-long-secret-value");
    assert_success(&run.output().unwrap());
    let outputs = sandbox.stage_outputs("redacted");
    assert_eq!(
        outputs["answer"],
        serde_json::json!({"title": null, "note": "uses [redacted LONG_KEY]"})
    );
}

#[test]
fn a_blob_store_that_cannot_be_written_stops_the_drive_resumably_instead_of_failing_the_step() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    std::fs::write(
        &workflow,
        "name = \"speech\"\n[providers]\ntts = \"mock-tts\"\n[[stages]]\nid = \"speech\"\ncall = \"tts.synthesize\"\ninput = { text = \"Hello there.\", voice = \"aria\" }\n",
    )
    .unwrap();
    // A file where the blob directory belongs: every write into it fails, even for root.
    std::fs::write(sandbox.data().join("blobs"), "not a directory").unwrap();
    let run = sandbox.host(&["run", path_str(&workflow), "--id", "full-disk"]);
    assert_exit(&run, 4, "a blob store that cannot be written");
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("could not store the result of speech#0")
            && stderr.contains("host resume full-disk"),
        "{stderr}"
    );
    let failed = sandbox
        .history("full-disk")
        .into_iter()
        .any(|(event, _)| matches!(event, pipeline_core::Event::ActivityFailed { .. }));
    assert!(!failed, "the host's disk is no failure of the step");

    std::fs::remove_file(sandbox.data().join("blobs")).unwrap();
    assert_success(&sandbox.host(&["resume", "full-disk"]));
    let outputs = sandbox.stage_outputs("full-disk");
    assert!(
        outputs["speech"]["audio"]["digest"].is_string(),
        "{outputs}"
    );
}

#[test]
fn a_decision_recorded_but_not_acted_on_is_shown_and_a_second_one_names_resume() {
    let sandbox = Sandbox::new();
    at_the_gate(&sandbox, "decided");
    // `--no-wait` leaves the state a kill right after recording the approval leaves.
    assert_success(&sandbox.host(&["signal", "approve", "decided", "--no-wait"]));
    let status = text(&sandbox.host(&["status", "decided"]).stdout);
    assert!(
        status.contains("approved after") && status.contains("run `host resume decided`"),
        "{status}"
    );
    let report = sandbox.host(&["status", "decided", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        report["approval"]["decision"]["signal"], "approve",
        "{report}"
    );
    let second = sandbox.host(&[
        "signal",
        "reject",
        "decided",
        "--feedback",
        "changed my mind",
    ]);
    assert_refused(&second, 3, "run `host resume decided` to act on it");
    assert_success(&sandbox.host(&["resume", "decided"]));
    sandbox.stage_outputs("decided");
}

#[test]
fn sigterm_stops_a_drive_like_ctrl_c_leaving_it_resumable() {
    let sandbox = Sandbox::new();
    let workflow = on_hostile_plugin(
        &sandbox,
        "busy",
        "id = \"spin\"\ncall = \"llm.generate\"\nprompt = \"draft.md\"\n",
        "loop",
    );
    let mut child = sandbox
        .command()
        .args(["run", path_str(&workflow), "--id", "terminated"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the attempt is running, so the stop interrupts a drive.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !sandbox.execution_exists("terminated")
        || !sandbox
            .history("terminated")
            .iter()
            .any(|(event, _)| matches!(event, pipeline_core::Event::ActivityStarted { .. }))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the attempt never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with a pid this test spawned and has not reaped; it only sends a signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = exit_within(&mut child, Duration::from_secs(20), "the terminated run");
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(exit.code(), Some(130), "{stderr}");
    assert_eq!(
        stderr
            .matches("Stopping; the execution stays resumable")
            .count(),
        1,
        "announced once:\n{stderr}"
    );
    assert!(stderr.contains("`host resume terminated`"), "{stderr}");
    // Nothing drives it any more, and status and list say so instead of `running`.
    let status = text(&sandbox.host(&["status", "terminated"]).stdout);
    assert!(
        status.contains("interrupted: no process drives it; `host resume terminated`"),
        "{status}"
    );
    let list = text(&sandbox.host(&["list"]).stdout);
    assert!(list.contains("interrupted"), "{list}");
}

#[test]
fn taking_over_from_a_crashed_process_is_said_and_logged() {
    let sandbox = Sandbox::new();
    let workflow = sandbox.workflow("approval");
    // The run aborts like a kill -9 right after its second event, leaving its lease behind.
    let crashed = sandbox
        .command()
        .args(["run", path_str(&workflow), "--id", "orphan"])
        .env("HOST_CRASH_AFTER_EVENTS", "2")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    let resumed = sandbox.host(&["resume", "orphan"]);
    assert_success(&resumed);
    assert!(
        text(&resumed.stderr).contains("took over an execution whose driver stopped"),
        "{}",
        text(&resumed.stderr)
    );
    let log = std::fs::read_to_string(sandbox.data().join("logs/orphan.log")).unwrap();
    assert!(log.contains("↪ taken over from process "), "{log}");
}
