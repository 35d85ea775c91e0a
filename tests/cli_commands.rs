//! The command line as a user meets it, through the real binary: the README's quick start run
//! exactly as written, `--help` with examples for every command, `watch` and `history`, batch
//! runs, `list` filters, `worker --follow` stopped by Ctrl-C, one-line errors, the stable
//! `--json` fields and the per-execution log files.

// Kept beside this file rather than in `tests/`, where they would read as shared helpers.
#[path = "cli_commands/executions.rs"]
mod executions;
#[path = "cli_commands/operations.rs"]
mod operations;
#[path = "cli_commands/readme.rs"]
mod readme;
#[path = "cli_commands/reports.rs"]
mod reports;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Sandbox, assert_exit, assert_success, exit_within, text};

/// Inputs that leave out the two slowest podcast stages, for tests about the command line
/// rather than the audio.
const QUICK: [&str; 4] = ["--input", "skip_mixing=true", "--input", "skip_cover=true"];

/// The fields `status --json` promises in the README.
const STATUS_FIELDS: [&str; 9] = [
    "id",
    "workflow",
    "status",
    "stage",
    "progress",
    "cost",
    "approval",
    "artifacts",
    "error",
];

/// Every leaf command, as `host --help` and its subcommands' help list them.
const COMMANDS: [&str; 22] = [
    "run",
    "signal approve",
    "signal reject",
    "signal revise",
    "resume",
    "worker",
    "serve",
    "cancel",
    "reset",
    "status",
    "list",
    "history",
    "watch",
    "replay",
    "validate",
    "shows",
    "plugins list",
    "plugins inspect",
    "costs",
    "backup",
    "check",
    "gc",
];

/// A `host` command started in the sandbox directory, with the sandbox's data directory.
fn command_in(sandbox: &Sandbox) -> Command {
    let mut command = sandbox.command();
    command.current_dir(sandbox.directory.path());
    command
}

/// A `host` command as the README's user types it: in the sandbox directory, with neither
/// `--data-dir` nor `HOST_DATA_DIR`, so the default `data` is `<sandbox>/data`.
fn command_as_user(sandbox: &Sandbox) -> Command {
    let mut command = command_in(sandbox);
    command.env_remove("HOST_DATA_DIR");
    command
}

fn host_in(sandbox: &Sandbox, arguments: &[&str]) -> Output {
    command_in(sandbox)
        .args(arguments)
        .output()
        .expect("host runs")
}

/// Runs `host <arguments>` in the sandbox and parses its stdout as one JSON document.
fn json_of(sandbox: &Sandbox, arguments: &[&str]) -> Value {
    let output = host_in(sandbox, arguments);
    assert_success(&output);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`host {}`: {error}\n{}",
            arguments.join(" "),
            text(&output.stdout)
        )
    })
}

/// Runs the podcast (without mixing and cover) under `id` up to its approval gate.
fn run_to_approval(sandbox: &Sandbox, id: &str) {
    let mut arguments = vec!["run", "workflows/podcast.toml", "--id", id];
    arguments.extend(["--input", "topic=the history of tea"]);
    arguments.extend(QUICK);
    assert_success(&host_in(sandbox, &arguments));
    assert_eq!(
        json_of(sandbox, &["status", id, "--json"])["status"],
        "waiting_for_approval"
    );
}

/// Asserts a clean one-line refusal: the exit code, nothing on stdout, and exactly one line on
/// stderr that starts with `error:` and contains `fragment` (no backtrace, no panic).
fn assert_one_line_error(output: &Output, code: i32, fragment: &str, what: &str) {
    assert_exit(output, code, what);
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected one line on stderr, got:\n{stderr}"
    );
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(fragment),
        "{what}: the error should name {fragment}: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{what}: stdout:\n{}",
        text(&output.stdout)
    );
}

/// The lines of an execution's log file without their leading timestamps.
fn log_lines(data_dir: &Path, id: &str) -> Vec<String> {
    let path = data_dir.join("logs").join(format!("{id}.log"));
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    log.lines()
        .map(|line| {
            let (time, rest) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            // RFC 3339 in UTC with milliseconds: 2026-12-03T14:05:09.250Z.
            let shape: String = time
                .chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect();
            assert_eq!(
                shape, "0000-00-00T00:00:00.000Z",
                "no timestamp on `{line}`"
            );
            rest.to_string()
        })
        .collect()
}

/// Checks that the README's transcript of `host run` shows what the binary printed: every line
/// of it, with the README's example id replaced by the real one, appears in the same order on
/// stdout or on stderr (the README shows both, as a terminal does). Stage timings may differ.
fn assert_transcript_matches(transcript: &[&str], run: &Output, id: &str) {
    let example_id = transcript
        .iter()
        .find_map(|line| line.strip_prefix("Started "))
        .expect("the README shows the `Started <id>` line");
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    let mut streams = [stdout.lines(), stderr.lines()];
    for expected in transcript {
        let expected = expected.replace(example_id, id);
        let expected = expected.trim_end();
        if expected.is_empty() || expected.starts_with("$ ") || expected.trim() == "..." {
            continue;
        }
        // `✓ Ideation (0.0s)`: the stage and the shape of the timing, not its value.
        let timed = expected
            .strip_suffix("s)")
            .and_then(|rest| rest.rsplit_once(" ("))
            .filter(|(_, seconds)| seconds.parse::<f64>().is_ok())
            .map(|(stage, _)| format!("{stage} ("));
        let matches = |actual: &str| match &timed {
            Some(stage) => actual.starts_with(stage.as_str()) && actual.ends_with("s)"),
            None => actual.trim_end() == expected,
        };
        let found = streams.iter_mut().any(|lines| {
            let mut ahead = lines.clone();
            let position = ahead.position(&matches);
            if let Some(position) = position {
                lines.nth(position);
            }
            position.is_some()
        });
        assert!(
            found,
            "README line `{expected}` is not in the output (in order)\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
}

#[test]
fn the_readme_quick_start_produces_an_episode_as_written() {
    let readme = readme::text();
    let section = readme::section(&readme, "## Producing an episode, with approval");
    let transcript = readme::first_code_block(&section);
    let words = readme::shell_words(readme::command_after(&transcript, "$ "));
    assert_eq!(words[0], "host", "{words:?}");
    assert!(
        words.contains(&"topic=the history of tea".to_string()),
        "the quoted topic is one argument: {words:?}"
    );
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");

    let run = command_as_user(&sandbox)
        .args(&words[1..])
        .output()
        .unwrap();
    assert_success(&run);
    let stdout = text(&run.stdout);
    let approve_line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("To approve:"))
        .unwrap_or_else(|| panic!("no `To approve:` line in:\n{stdout}"));
    let approve = readme::shell_words(approve_line.trim());
    let id = approve.last().unwrap().clone();
    assert_eq!(&approve[..3], ["host", "signal", "approve"], "{approve:?}");
    // The README's `podcast-20261121-k3x9qa`: workflow, date, six random characters.
    let parts: Vec<&str> = id.split('-').collect();
    assert!(
        parts.len() == 3
            && parts[0] == "podcast"
            && parts[1].len() == 8
            && parts[1].chars().all(|c| c.is_ascii_digit())
            && parts[2].len() == 6
            && parts[2]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "an id shaped like the README's: {id}"
    );
    assert_transcript_matches(&transcript, &run, &id);

    let approved = command_as_user(&sandbox)
        .args(&approve[1..])
        .output()
        .unwrap();
    assert_success(&approved);
    let status = json_of(&sandbox, &["status", &id, "--json"]);
    assert_eq!(status["status"], "completed", "{status:#}");

    // "The episode lands in `data/episodes/<execution-id>/`."
    let lands = readme
        .split_once("The episode lands in `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .expect("the README says where the episode lands")
        .0;
    let episode = sandbox
        .directory
        .path()
        .join(lands.replace("<execution-id>", &id));
    for file in ["episode.mp3", "episode.wav", "transcript.md"] {
        let size = std::fs::metadata(episode.join(file))
            .unwrap_or_else(|error| panic!("{}/{file}: {error}", episode.display()))
            .len();
        assert!(size > 0, "{file} is empty");
    }

    // Every progress line both commands showed is in the execution's log file, in order.
    let shown: Vec<String> = [&run, &approved]
        .iter()
        .flat_map(|output| {
            text(&output.stderr)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| !line.starts_with("Started ") && !line.starts_with("Signal recorded for "))
        .collect();
    assert_eq!(log_lines(&sandbox.data(), &id), shown);
    assert!(shown.contains(&"✓ Completed".to_string()), "{shown:?}");
}

#[test]
fn the_readme_first_command_completes_an_episode_with_auto_approve_and_json() {
    let readme = readme::text();
    let section = readme::section(&readme, "## Two commands");
    let prose = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        prose.contains("`host` stands for `cargo run --release --`"),
        "the README no longer says what `host` stands for"
    );
    let block = readme::first_code_block(&section);
    let words = readme::shell_words(readme::command_after(&block, "cargo run --release -- "));
    assert_eq!(
        words,
        [
            "run",
            "workflows/podcast.toml",
            "--input",
            "topic=the history of tea",
            "--auto-approve"
        ]
    );
    let sandbox = Sandbox::new();
    sandbox.repository_workflows("workflows");

    let run = command_as_user(&sandbox)
        .args(&words)
        .arg("--json")
        .output()
        .unwrap();
    assert_success(&run);
    assert!(
        run.stderr.is_empty(),
        "--json shows no progress: {}",
        text(&run.stderr)
    );
    // The whole of stdout is one JSON document: the status report, nothing before or after.
    let report: Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|error| panic!("{error}:\n{}", text(&run.stdout)));
    for field in STATUS_FIELDS {
        assert!(report.get(field).is_some(), "`{field}` missing: {report:#}");
    }
    assert_eq!(report["status"], "completed");
    let id = report["id"].as_str().unwrap();
    assert_eq!(report, json_of(&sandbox, &["status", id, "--json"]));
    let directory = report["episode_directory"].as_str().unwrap();
    assert_eq!(directory, format!("data/episodes/{id}"));
    let names: BTreeSet<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|artifact| artifact["name"].as_str().unwrap())
        .collect();
    for file in ["episode.mp3", "episode.wav", "transcript.md"] {
        assert!(names.contains(file), "{names:?}");
        assert!(
            sandbox
                .directory
                .path()
                .join(directory)
                .join(file)
                .is_file(),
            "{file}"
        );
    }
    // The approval is recorded as automatic.
    let history = json_of(&sandbox, &["history", id, "--json"]);
    let signal = history
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["type"] == "SignalReceived")
        .expect("the approval is in the history");
    assert!(signal.to_string().contains("--auto-approve"), "{signal}");
}

#[test]
fn every_command_has_help_with_examples_and_the_top_level_lists_exit_codes() {
    let sandbox = Sandbox::new();
    let help = |command: &str| -> String {
        let mut arguments: Vec<&str> = command.split_whitespace().collect();
        arguments.push("--help");
        let output = sandbox.host(&arguments);
        assert_success(&output);
        text(&output.stdout)
    };
    // Commands as `--help` lists them: two spaces, the name, its description.
    let listed = |help: &str| -> Vec<String> {
        help.lines()
            .skip_while(|line| *line != "Commands:")
            .skip(1)
            .take_while(|line| !line.is_empty())
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_string)
            .collect()
    };
    let top = help("");
    // A command's own options come first; the shared ones are set apart under their heading.
    let run_help = help("run");
    let global = run_help
        .find("Global options (every command):")
        .unwrap_or_else(|| panic!("no global options heading:\n{run_help}"));
    assert!(run_help.find("--data-dir").unwrap() > global, "{run_help}");
    assert!(run_help.find("--input ").unwrap() < global, "{run_help}");
    let mut leaves = BTreeSet::new();
    for command in listed(&top) {
        let nested = listed(&help(&command));
        if nested.is_empty() {
            leaves.insert(command);
        } else {
            leaves.extend(nested.iter().map(|sub| format!("{command} {sub}")));
        }
    }
    for command in COMMANDS {
        assert!(
            leaves.contains(command),
            "`host --help` does not list `{command}`"
        );
    }

    // Every command listed, including any added after this test was written.
    for command in &leaves {
        let text = help(command);
        let examples: Vec<&str> = text
            .lines()
            .skip_while(|line| *line != "Examples:")
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            .collect();
        assert!(
            !examples.is_empty(),
            "`host {command} --help` has no examples:\n{text}"
        );
        for example in examples {
            assert!(
                example.starts_with(&format!("  host {command}")),
                "`host {command} --help`: example `{example}` is not for this command"
            );
        }
    }

    // The exit codes named in `host --help` are those of the README's table.
    let documented: BTreeSet<String> = readme::section(&readme::text(), "## Exit codes")
        .iter()
        .filter_map(|row| row.strip_prefix("| "))
        .filter_map(|row| row.split_whitespace().next())
        .filter(|code| code.parse::<u8>().is_ok())
        .map(str::to_string)
        .collect();
    assert_eq!(documented.len(), 7, "{documented:?}");
    let (_, codes) = top
        .split_once("Exit codes: ")
        .unwrap_or_else(|| panic!("`host --help` lists no exit codes:\n{top}"));
    let listed_codes: BTreeSet<String> = codes
        .replace('\n', " ")
        .split(", ")
        .filter_map(|item| item.split_whitespace().next())
        .filter(|code| code.parse::<u8>().is_ok())
        .map(str::to_string)
        .collect();
    assert_eq!(listed_codes, documented, "{codes}");
}

#[test]
fn the_readme_plugins_list_and_provider_count_match_the_binary() {
    let sandbox = Sandbox::new();
    let listed = sandbox.host(&["plugins", "list"]);
    assert_success(&listed);
    // Each row without its digest, which changes with every build of a plugin.
    let rows = |lines: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        lines
            .map(|line| {
                line.split_whitespace()
                    .filter(|word| !word.starts_with("sha256:"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|line| !line.is_empty())
            .collect()
    };
    let actual = rows(&mut text(&listed.stdout).lines());
    let readme = readme::text();
    let section = readme::section(&readme, "## Plugins");
    let block = readme::first_code_block(&section);
    let documented = rows(
        &mut block
            .iter()
            .copied()
            .skip_while(|line| *line != "$ host plugins list")
            .skip(1)
            .take_while(|line| !line.is_empty()),
    );
    assert_eq!(documented, actual, "README's `host plugins list` sample");

    // "Five built-in plugins call real APIs": the built-ins granted a host by default.
    let real = actual.iter().filter(|row| row.contains(" hosts ")).count();
    let words = [
        "no", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight",
    ];
    let sentence = format!("{} built-in plugins call real APIs", words[real]);
    assert!(readme.contains(&sentence), "README should say `{sentence}`");
}
