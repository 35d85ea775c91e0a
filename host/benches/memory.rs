//! Memory: the resident set of `host` processes with 1,000 executions waiting for approval
//! (the process that took them to the gate, and a `worker --follow` holding them), how soon
//! each completes after its approval, and the peak while mixing a 60-minute episode. Each
//! figure comes with a baseline from the same run: an idle worker with nothing to do, and the
//! size of the audio being mixed. Prints Markdown tables; run with
//! `cargo bench -p host --bench memory`.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host::history::{Durability, HistoryStore, SqliteStore};
use host::plugin::{AudioInput, Service, mixer, types};
use pipeline_core::{ExecutionStatus, Signal};
use support::{Scratch, format_duration, percentile, runtime};

const HOST: &str = env!("CARGO_BIN_EXE_host");
const WAITING: usize = 1_000;
const EPISODE_MINUTES: u32 = 60;
const CLIP_SECONDS: u32 = 60;
const SPEECH_RATE: u32 = 24_000;
const MIX_CHILD: &str = "mix-child";

fn main() {
    if std::env::args().nth(1).as_deref() == Some(MIX_CHILD) {
        let directory = PathBuf::from(std::env::args().nth(2).expect("directory"));
        return mix_child(&directory);
    }
    waiting_executions();
    mixing();
}

fn approval_workflow() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/workflows/approval/workflow.toml")
}

fn host(scratch: &Scratch) -> Command {
    let mut command = Command::new(HOST);
    command
        .arg("--data-dir")
        .arg(scratch.data_dir().root())
        .arg("--durability")
        .arg("normal");
    command
}

fn waiting_executions() {
    let scratch = Scratch::new();
    let topics = scratch.directory.path().join("topics.txt");
    let mut file = std::fs::File::create(&topics).expect("topics file");
    for topic in 0..WAITING {
        writeln!(file, "topic {topic}").expect("topic line");
    }
    drop(file);

    let idle = start_worker(&scratch);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_kib(&idle);
    stop(idle);

    let started = Instant::now();
    let batch = host(&scratch)
        .args(["run", approval_workflow().to_str().unwrap(), "--batch"])
        .arg(&topics)
        .args(["--concurrency", "64", "--json"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the batch");
    let (batch_peak, status) = wait_with_peak(batch);
    assert!(status.success(), "the batch failed");
    let to_gate = started.elapsed();

    let store = SqliteStore::open(&scratch.data_dir().history_file(), Durability::Normal)
        .expect("history store");
    let waiting: Vec<String> = store
        .executions()
        .expect("list executions")
        .into_iter()
        .filter(|row| row.summary.status == ExecutionStatus::WaitingForApproval)
        .map(|row| row.execution_id)
        .collect();
    assert_eq!(waiting.len(), WAITING);

    let worker = start_worker(&scratch);
    std::thread::sleep(Duration::from_secs(3));
    let holding_rss = rss_kib(&worker);

    let engine = scratch.engine(Durability::Normal);
    let runtime = runtime();
    let mut signalled_at = BTreeMap::new();
    runtime.block_on(async {
        for id in &waiting {
            engine
                .signal(
                    id,
                    Signal::Approve {
                        replacement: None,
                        feedback: None,
                        budget_micros: None,
                    },
                )
                .await
                .expect("approve");
            signalled_at.insert(id.clone(), Instant::now());
        }
    });
    let mut latencies = Vec::new();
    let mut worker_peak = holding_rss;
    while latencies.len() < WAITING {
        worker_peak = worker_peak.max(rss_kib(&worker));
        for row in store.executions().expect("list executions") {
            if row.summary.status == ExecutionStatus::Completed
                && let Some(signalled) = signalled_at.remove(&row.execution_id)
            {
                latencies.push(signalled.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(worker);

    println!("| process | executions | RSS |");
    println!("|---|---|---|");
    println!(
        "| `host worker --follow`, idle (baseline) | 0 | {} MiB |",
        mib(idle_rss)
    );
    println!(
        "| `host run --batch` taking them to the gate (peak, {:.1} s) | {WAITING} | {} MiB |",
        to_gate.as_secs_f64(),
        mib(batch_peak)
    );
    println!(
        "| `host worker --follow` holding them, waiting | {WAITING} | {} MiB |",
        mib(holding_rss)
    );
    println!(
        "| `host worker --follow` completing them after approval (peak) | {WAITING} | {} MiB |",
        mib(worker_peak)
    );
    println!();
    println!(
        "Approval to completion over {WAITING} executions: p50 {}, p99 {}, max {}.",
        format_duration(percentile(&mut latencies, 0.5)),
        format_duration(percentile(&mut latencies, 0.99)),
        format_duration(percentile(&mut latencies, 1.0)),
    );
    println!();
}

fn start_worker(scratch: &Scratch) -> Child {
    host(scratch)
        .args(["worker", "--follow", "--concurrency", "64"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start a worker")
}

fn stop(mut child: Child) {
    child.kill().expect("stop");
    child.wait().expect("reap");
}

/// Resident set of a running process, from `/proc/<pid>/status`.
fn rss_kib(child: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Waits for a child, sampling its resident set; returns the peak (`VmHWM`, the kernel's own
/// high-water mark, read just before it exits) and the exit status.
fn wait_with_peak(mut child: Child) -> (u64, std::process::ExitStatus) {
    let mut peak = 0;
    loop {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        if let Some(high_water) = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        {
            peak = peak.max(high_water);
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            return (peak, exit);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn mixing() {
    let scratch = Scratch::new();
    let child = Command::new(std::env::current_exe().expect("this benchmark"))
        .arg(MIX_CHILD)
        .arg(scratch.directory.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the mixing process");
    let output = child.wait_with_output().expect("mixing process");
    assert!(output.status.success(), "the mixing process failed");
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

/// Runs in a process of its own so that its peak resident set is the mixing's alone.
fn mix_child(directory: &Path) {
    let host = Scratch::plugin_host_at(directory);
    let mixer_plugin = host.load("mock-mixer").expect("load the mixer");
    assert!(mixer_plugin.services.contains(&Service::Mixer));
    let clips = EPISODE_MINUTES * 60 / CLIP_SECONDS;
    let mut inputs = Vec::new();
    for clip in 0..clips {
        let path = directory.join(format!("clip-{clip}.wav"));
        std::fs::write(&path, speech_like_wav(clip)).expect("clip");
        inputs.push(AudioInput::File(path));
    }
    let before = peak_rss_kib();
    let request = mixer::MixRequest {
        idempotency_key: "memory-benchmark".into(),
        clips: (0..clips)
            .map(|source| mixer::Clip {
                source,
                gain_db: 0.0,
                gap_before_ms: None,
            })
            .collect(),
        music: None,
        settings: mixer::MixSettings {
            gap_ms: 300,
            crossfade_ms: 20,
            padding_ms: 1000,
            sample_rate: 44_100,
            channels: 2,
            loudness_lufs: Some(-16.0),
            true_peak_dbtp: -1.0,
        },
    };
    let output = directory.join("episode.wav");
    let started = Instant::now();
    let response = runtime()
        .block_on(host.mix_audio(&mixer_plugin, &request, &inputs, &output))
        .expect("mix");
    let elapsed = started.elapsed();
    assert_eq!(response.format.encoding, types::AudioEncoding::WavPcm16);
    let input_bytes: u64 = inputs
        .iter()
        .map(|input| match input {
            AudioInput::File(path) => std::fs::metadata(path).expect("clip").len(),
            AudioInput::Bytes(bytes) => bytes.len() as u64,
        })
        .sum();
    let output_bytes = std::fs::metadata(&output).expect("episode").len();
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| speech in ({clips} clips of {CLIP_SECONDS} s, 24 kHz mono) | {} MiB |",
        mib(input_bytes / 1024)
    );
    println!(
        "| episode out ({} min, 44.1 kHz stereo, -16 LUFS) | {} MiB |",
        response.duration_ms / 60_000,
        mib(output_bytes / 1024)
    );
    println!(
        "| peak RSS before mixing (plugin loaded) | {} MiB |",
        mib(before)
    );
    println!(
        "| peak RSS of the whole mix | {} MiB |",
        mib(peak_rss_kib())
    );
    println!("| mixing time | {:.1} s |", elapsed.as_secs_f64());
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("own status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A minute of a voice-like signal (a pitched tone with a syllable rhythm), as a WAV file.
fn speech_like_wav(seed: u32) -> Vec<u8> {
    let samples = (SPEECH_RATE * CLIP_SECONDS) as usize;
    let mut wav = Vec::with_capacity(44 + samples * 2);
    let data_bytes = (samples * 2) as u32;
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&SPEECH_RATE.to_le_bytes());
    wav.extend_from_slice(&(SPEECH_RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_bytes.to_le_bytes());
    let pitch = 110.0 + 20.0 * (seed % 5) as f64;
    for index in 0..samples {
        let time = index as f64 / SPEECH_RATE as f64;
        let syllable = (time * 4.0 * std::f64::consts::TAU).sin().abs();
        let value = (time * pitch * std::f64::consts::TAU).sin() * syllable * 8_000.0;
        wav.extend_from_slice(&(value as i16).to_le_bytes());
    }
    wav
}
