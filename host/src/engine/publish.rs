//! `episode.publish`, the host's own function: lays out a finished episode's files (audio,
//! MP3 with chapters, subtitles timed from the real audio, transcript, cover, manifest) in
//! `<data-dir>/episodes/<execution-id>/`. Publishing again writes the same bytes, so an
//! interrupted publish is simply run again.

use episode_publish::{Chapter, Episode, Line};
use serde_json::{Value, json};

use super::activity::{ActivityJob, AttemptError, invalid_input};
use super::{Engine, EngineError};
use episode_publish::PublishError;
use pipeline_core::{ActivityError, ErrorKind};

/// The call name workflows use for this function.
pub(super) const PUBLISH_CALL: &str = "episode.publish";

impl Engine {
    pub(super) fn publish_episode(&self, job: &ActivityJob) -> Result<Value, AttemptError> {
        let input = &job.input;
        let text = |field: &str| {
            input
                .get(field)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        let segments = input
            .get("segments")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_input("`segments` must be a list of {title, lines}".into()))?;
        let clips = input
            .get("clips")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_input("`clips` must be the list of speech results".into()))?;
        let mix = input.get("mix").filter(|mix| !mix.is_null());
        let placements: Vec<(u64, u64)> = match mix
            .and_then(|mix| mix.get("placements"))
            .and_then(Value::as_array)
        {
            Some(placements) => placements
                .iter()
                .map(|placement| {
                    (
                        field_u64(placement, "start_ms"),
                        field_u64(placement, "end_ms"),
                    )
                })
                .collect(),
            None => {
                // Without a mix the clips play back to back, as separate files.
                let mut at = 0;
                clips
                    .iter()
                    .map(|clip| {
                        let start = at;
                        at += field_u64(clip, "duration_ms");
                        (start, at)
                    })
                    .collect()
            }
        };
        let mut lines = Vec::new();
        let mut chapters = Vec::new();
        for segment in segments {
            let segment_lines = segment
                .get("lines")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let first_line = lines.len();
            for line in &segment_lines {
                let index = lines.len();
                let (start_ms, end_ms) = placements.get(index).copied().unwrap_or((0, 0));
                lines.push(Line {
                    speaker: line
                        .get("speaker")
                        .and_then(Value::as_str)
                        .unwrap_or("Narrator")
                        .to_string(),
                    voice: None,
                    text: line
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    start_ms,
                    end_ms,
                });
            }
            if lines.len() > first_line {
                chapters.push(Chapter {
                    title: segment
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or("Untitled")
                        .to_string(),
                    start_ms: lines[first_line].start_ms,
                    end_ms: lines[lines.len() - 1].end_ms,
                });
            }
        }
        if lines.len() != clips.len() {
            return Err(invalid_input(format!(
                "the segments hold {} lines but there are {} speech clips",
                lines.len(),
                clips.len()
            ))
            .into());
        }
        // Chapters run until the next one starts, the last until the end of the episode.
        let episode_end = mix
            .map(|mix| field_u64(mix, "duration_ms"))
            .unwrap_or_else(|| lines.last().map_or(0, |line| line.end_ms));
        let starts: Vec<u64> = chapters
            .iter()
            .skip(1)
            .map(|chapter| chapter.start_ms)
            .chain([episode_end])
            .collect();
        for (chapter, next_start) in chapters.iter_mut().zip(starts) {
            chapter.end_ms = next_start.max(chapter.start_ms);
        }
        // The first chapter starts the episode: players show the silence before the first
        // word as belonging to no chapter otherwise.
        if let Some(first) = chapters.first_mut() {
            first.start_ms = 0;
        }
        let master_wav = match mix {
            Some(mix) => Some(self.blob_path(mix, "audio", "the mix")?),
            None => None,
        };
        let cover_png = match input.get("cover").filter(|cover| !cover.is_null()) {
            Some(cover) => Some(self.blob_path(cover, "image", "the cover")?),
            None => None,
        };
        let episode = Episode {
            title: text("title").unwrap_or_else(|| "Untitled episode".into()),
            show: text("show"),
            description: text("description"),
            lines,
            chapters,
            master_wav,
            cover_png,
        };
        let directory = self.episodes_dir.join(&job.execution_id);
        let manifest_extra = job.manifest_extra.clone().unwrap_or(Value::Null);
        let artifacts =
            episode_publish::publish(&directory, &episode, &manifest_extra).map_err(|error| {
                match &error {
                    // Writing the episode's files failed: the host's disk, not the episode.
                    PublishError::CreateDirectory { source, .. }
                    | PublishError::Write { source, .. } => {
                        AttemptError::Storage(format!("{error}: {source}"))
                    }
                    _ => ActivityError::new(ErrorKind::Publish, error.to_string()).into(),
                }
            })?;
        Ok(json!({
            "directory": directory.display().to_string(),
            "duration_ms": episode_end,
            "artifacts": artifacts,
        }))
    }
}

impl Engine {
    /// Moves a published episode's files (everything in its folder but `takes/`) into
    /// `takes/<n>/`, numbered from 1, so a new run publishes beside the earlier takes instead
    /// of over them. `None` when nothing was published.
    pub(super) fn keep_take(
        &self,
        execution_id: &str,
    ) -> Result<Option<std::path::PathBuf>, EngineError> {
        let directory = self.episodes_dir.join(execution_id);
        let io = |path: &std::path::Path| {
            let context = format!("cannot keep the previous take in {}", path.display());
            move |source| EngineError::Io { context, source }
        };
        let published: Vec<std::fs::DirEntry> = match std::fs::read_dir(&directory) {
            Ok(entries) => entries
                .collect::<Result<Vec<_>, _>>()
                .map_err(io(&directory))?
                .into_iter()
                .filter(|entry| entry.file_name() != "takes")
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io(&directory)(error)),
        };
        if published.is_empty() {
            return Ok(None);
        }
        let takes = directory.join("takes");
        let number = std::fs::read_dir(&takes)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
            + 1;
        let take = takes.join(number.to_string());
        std::fs::create_dir_all(&take).map_err(io(&take))?;
        for entry in published {
            std::fs::rename(entry.path(), take.join(entry.file_name())).map_err(io(&take))?;
        }
        Ok(Some(take))
    }
}

fn field_u64(value: &Value, field: &str) -> u64 {
    value.get(field).and_then(Value::as_u64).unwrap_or(0)
}
