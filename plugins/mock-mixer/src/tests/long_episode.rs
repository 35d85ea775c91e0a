//! An hour-long episode: checks that memory stays bounded and reports how long mixing takes.
//! Ignored by default because it is slow in debug builds; run it with
//! `cargo test --release -p mock-mixer -- --ignored --nocapture long_episode`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::*;
use crate::io::{AudioInputs, AudioOutput};
use crate::mix::MusicRequest;

/// Counts live heap bytes and their high-water mark.
struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Every clip source serves the same 30 s of speech; source `MUSIC` is a 40 s stereo bed.
struct SharedInputs {
    speech: Vec<u8>,
    music: Vec<u8>,
}

const MUSIC: u32 = u32::MAX;

impl SharedInputs {
    fn file(&self, source: u32) -> &[u8] {
        if source == MUSIC {
            &self.music
        } else {
            &self.speech
        }
    }
}

impl AudioInputs for SharedInputs {
    fn size(&self, source: u32) -> Result<u64, String> {
        Ok(self.file(source).len() as u64)
    }

    fn read(&self, source: u32, offset: u64, max_bytes: u32) -> Result<Vec<u8>, String> {
        let file = self.file(source);
        let start = (offset as usize).min(file.len());
        let end = (start + max_bytes as usize).min(file.len());
        Ok(file[start..end].to_vec())
    }
}

/// Keeps only the byte count.
#[derive(Default)]
struct CountingOutput {
    bytes: u64,
}

impl AudioOutput for CountingOutput {
    fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.bytes += chunk.len() as u64;
        Ok(())
    }
}

#[test]
#[ignore = "slow in debug builds; run with --release"]
fn long_episode() {
    let inputs = SharedInputs {
        speech: wav_bytes(24_000, 1, &speechlike(24_000, 30.0, 1)),
        music: wav_bytes(44_100, 2, &noise_bursts(44_100, 2, 40.0, 2)),
    };
    let bed = MusicRequest {
        source: MUSIC,
        gain_db: -20.0,
        duck_db: 12.0,
        duck_attack_ms: 300,
        duck_release_ms: 800,
    };
    for music in [None, Some(bed)] {
        let with_bed = music.is_some();
        let request = MixRequest {
            clips: (0..120).map(clip).collect(),
            music,
            settings: Settings {
                gap_ms: 20,
                ..settings(44_100, 2)
            },
        };
        let mut output = CountingOutput::default();
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let started = Instant::now();
        let report = mix(&request, &inputs, &mut output).expect("mix");
        let elapsed = started.elapsed();
        let peak_mib = (PEAK.load(Ordering::Relaxed) - baseline) as f64 / (1024.0 * 1024.0);
        println!(
            "mixed {} min (music bed: {with_bed}) in {elapsed:.2?}, peak extra heap \
             {peak_mib:.2} MiB, {:.2} LUFS, {:.2} dBTP",
            report.duration_ms / 60_000,
            report.integrated_lufs,
            report.true_peak_dbtp
        );
        let expected_ms = 120 * 30_000 + 119 * 20 + 2 * 500;
        assert_eq!(report.duration_ms, expected_ms);
        assert_eq!(output.bytes, 44 + expected_ms * 441 / 10 * 4);
        assert!(peak_mib < 4.0, "{peak_mib} MiB");
    }
}
