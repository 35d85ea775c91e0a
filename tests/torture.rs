//! The torture suite: a real `host` process killed with SIGKILL after random delays (with a WAL
//! checkpoint after every commit, so kills land inside checkpoints) and resumed until done ends
//! like an uncrashed run with no completed call repeated and an intact database; a kill while
//! the mixer streams the episode blob to disk loses nothing; and two
//! `host worker --follow` processes sharing one database drive fifty executions with every
//! call made exactly once.

mod support;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pipeline_core::Event;
use support::{Sandbox, assert_success, completed_keys};

/// SplitMix64: reproducible random delays from a fixed seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }
}

const SOAK_ITEMS: &str = r#"items=["a sleep-ms=150", "b sleep-ms=200", "c fail-until-attempt=2 sleep-ms=100", "d sleep-ms=150", "e sleep-ms=120"]"#;

fn killed_at_random_moments_and_resumed_it_ends_like_an_uncrashed_run() {
    let reference = Sandbox::new().with_counter();
    let workflow = reference.workflow("counting");
    assert_success(&reference.host(&[
        "run",
        workflow.to_str().unwrap(),
        "--id",
        "soak",
        "--input",
        SOAK_ITEMS,
    ]));
    let expected = reference.stage_outputs("soak");

    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("counting");
    let mut random = Random(0x5eed);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut kills = 0;
    for round in 0.. {
        assert!(
            round < 40 && Instant::now() < deadline,
            "the execution did not finish within the soak's bounds"
        );
        let arguments: Vec<&str> = if round == 0 {
            vec![
                "run",
                workflow.to_str().unwrap(),
                "--id",
                "soak",
                "--input",
                SOAK_ITEMS,
            ]
        } else {
            vec!["resume", "soak"]
        };
        let calls_before = sandbox.calls().len();
        let completed_before = if round == 0 {
            Vec::new()
        } else {
            completed_keys(&sandbox.history("soak"))
        };
        // A checkpoint after every commit, so that kills often land inside one.
        let mut child = sandbox
            .command()
            .args(&arguments)
            .env("HOST_WAL_AUTOCHECKPOINT", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(100 + random.next() % 900);
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if finished.is_none() {
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
        }
        for key in &sandbox.calls()[calls_before..] {
            assert!(
                !completed_before.contains(key),
                "round {round}: completed call {key} ran again"
            );
        }
        if finished.is_some_and(|status| status.success()) {
            break;
        }
    }
    assert!(
        kills >= 2,
        "the soak should kill the process at least twice, killed {kills} times"
    );
    assert_eq!(sandbox.stage_outputs("soak"), expected);
    if sandbox.database.is_none() {
        let connection = rusqlite::Connection::open(sandbox.data().join("history.db")).unwrap();
        let integrity: String = connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
}

fn two_following_workers_drive_fifty_executions_with_every_call_made_once() {
    let sandbox = Sandbox::new().with_counter();
    let workflow = sandbox.workflow("gated_counting");
    let topics: String = (0..50).map(|index| format!("topic {index}\n")).collect();
    let batch = sandbox.directory.path().join("topics.txt");
    std::fs::write(&batch, topics).unwrap();
    assert_success(&sandbox.host(&[
        "run",
        workflow.to_str().unwrap(),
        "--batch",
        batch.to_str().unwrap(),
        "--concurrency",
        "8",
    ]));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(
        &sandbox
            .host(&["list", "--status", "waiting_for_approval", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(listed.len(), 50);
    let ids: Vec<String> = listed
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        assert_success(&sandbox.host(&["signal", "approve", id, "--no-wait"]));
    }

    let workers: Vec<_> = (0..2)
        .map(|_| {
            sandbox
                .command()
                .args(["worker", "--follow", "--concurrency", "8"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&sandbox.host(&["list", "--json"]).stdout).unwrap();
        if rows.iter().all(|row| row["status"] == "completed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the workers did not complete every execution in time"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    for worker in workers {
        // SAFETY: the pid is our own child's, still running (a follower runs until stopped).
        unsafe { libc::kill(worker.id() as i32, libc::SIGINT) };
        let output = worker.wait_with_output().unwrap();
        assert!(output.status.code().is_some(), "a worker died of a signal");
    }

    let calls = sandbox.calls();
    assert_eq!(
        calls.len(),
        50 * 4,
        "one draft and three fan-out calls per execution"
    );
    let mut seen: HashMap<&String, usize> = HashMap::new();
    for key in &calls {
        *seen.entry(key).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "calls made twice: {repeated:?}");
    for id in &ids {
        let completions = sandbox
            .history(id)
            .iter()
            .filter(|(event, _)| matches!(event, Event::ExecutionCompleted { .. }))
            .count();
        assert_eq!(completions, 1, "{id}");
    }
}

fn a_kill_while_the_mixer_streams_the_episode_to_disk_loses_nothing() {
    let quick = [
        "--input",
        "topic=tides",
        "--input",
        "skip_cover=true",
        "--auto-approve",
    ];
    let reference = Sandbox::new();
    let workflows = reference.repository_workflows("workflows");
    let podcast = workflows.join("podcast.toml");
    assert_success(
        &reference
            .command()
            .args(["run", podcast.to_str().unwrap(), "--id", "mixed"])
            .args(quick)
            .output()
            .unwrap(),
    );
    let expected = std::fs::read(reference.data().join("episodes/mixed/episode.wav")).unwrap();

    let sandbox = Sandbox::new();
    let workflows = sandbox.repository_workflows("workflows");
    let podcast = workflows.join("podcast.toml");
    let mut child = sandbox
        .command()
        .args(["run", podcast.to_str().unwrap(), "--id", "mixed"])
        .args(quick)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mixing_started = |history: &[(Event, i64)]| {
        history.iter().any(|(event, _)| matches!(event, Event::ActivityStarted { activity, .. } if activity.0.starts_with("audio_mixing")))
    };
    loop {
        assert!(Instant::now() < deadline, "mixing never started");
        let database = sandbox.data().join("history.db");
        if (sandbox.database.is_some() || database.exists())
            && sandbox.execution_exists("mixed")
            && mixing_started(&sandbox.history("mixed"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let history = sandbox.history("mixed");
    assert!(
        !history.iter().any(|(event, _)| matches!(event, Event::ActivityCompleted { activity, .. } if activity.0.starts_with("audio_mixing"))),
        "the kill should land while the mix is being written"
    );
    // Every stored blob is whole: its name is the digest of its bytes.
    for shard in std::fs::read_dir(sandbox.data().join("blobs"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name() != "tmp")
    {
        for blob in std::fs::read_dir(shard.path()).unwrap().flatten() {
            use sha2::Digest as _;
            let digest = hex::encode(sha2::Sha256::digest(std::fs::read(blob.path()).unwrap()));
            assert_eq!(
                blob.file_name().to_string_lossy(),
                digest,
                "a damaged blob in the store"
            );
        }
    }
    assert_success(&sandbox.host(&["resume", "mixed", "--auto-approve"]));
    assert_eq!(
        std::fs::read(sandbox.data().join("episodes/mixed/episode.wav")).unwrap(),
        expected,
        "the episode differs from an uncrashed run"
    );
}

support::postgres::on_both_stores!(
    killed_at_random_moments_and_resumed_it_ends_like_an_uncrashed_run,
    two_following_workers_drive_fifty_executions_with_every_call_made_once,
    a_kill_while_the_mixer_streams_the_episode_to_disk_loses_nothing,
);
