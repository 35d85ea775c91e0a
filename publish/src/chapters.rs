//! Podcasting 2.0 JSON chapters (`chapters.json`), the file a `<podcast:chapters>` feed element
//! points to: <https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/examples/chapters/jsonChapters.md>.

use serde::Serialize;

use crate::{Chapter, Episode};

/// The version of the JSON chapters format this file follows.
const FORMAT_VERSION: &str = "1.2.0";

#[derive(Serialize)]
struct ChaptersFile<'a> {
    version: &'static str,
    /// Optional in the format; included because players show it above the chapter list.
    title: &'a str,
    #[serde(rename = "podcastName", skip_serializing_if = "Option::is_none")]
    podcast_name: Option<&'a str>,
    chapters: Vec<ChapterEntry<'a>>,
}

#[derive(Serialize)]
struct ChapterEntry<'a> {
    /// Seconds, as the format requires; an `f64` holds any episode's milliseconds exactly.
    #[serde(rename = "startTime")]
    start_time: f64,
    #[serde(rename = "endTime")]
    end_time: f64,
    title: &'a str,
}

/// The file's contents, pretty-printed and ending with a newline.
pub(crate) fn chapters_json(episode: &Episode, chapters: &[Chapter]) -> String {
    let file = ChaptersFile {
        version: FORMAT_VERSION,
        title: &episode.title,
        podcast_name: episode.show.as_deref(),
        chapters: chapters
            .iter()
            .map(|chapter| ChapterEntry {
                start_time: seconds(chapter.start_ms),
                end_time: seconds(chapter.end_ms),
                title: &chapter.title,
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&file)
        .expect("serializing structs of strings and floats cannot fail");
    json.push('\n');
    json
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_are_in_seconds() {
        let episode = Episode {
            title: "Pilot".to_owned(),
            show: Some("Show".to_owned()),
            description: None,
            lines: Vec::new(),
            chapters: Vec::new(),
            master_wav: None,
            cover_png: None,
        };
        let chapters = [
            Chapter {
                title: "Intro".to_owned(),
                start_ms: 0,
                end_ms: 1500,
            },
            Chapter {
                title: "Main".to_owned(),
                start_ms: 1500,
                end_ms: 62_250,
            },
        ];
        let json: serde_json::Value =
            serde_json::from_str(&chapters_json(&episode, &chapters)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": "1.2.0",
                "title": "Pilot",
                "podcastName": "Show",
                "chapters": [
                    {"startTime": 0.0, "endTime": 1.5, "title": "Intro"},
                    {"startTime": 1.5, "endTime": 62.25, "title": "Main"},
                ],
            })
        );
    }
}
