//! The ID3v2.4 tag at the front of `episode.mp3`: title, show, chapters with a table of contents
//! (the ID3 chapter addendum, which podcast players read) and the cover.

use id3::frame::{Chapter as ChapterFrame, Picture, PictureType, TableOfContents};
use id3::{Frame, Tag, TagLike, Version};

use crate::{Chapter, Episode};

/// A CHAP frame's byte offsets set to this mean "not given": times alone locate the chapter.
const NO_BYTE_OFFSET: u32 = u32::MAX;

/// The element id of the table of contents; chapters are `chp0`, `chp1`, and so on.
const TABLE_OF_CONTENTS_ID: &str = "toc";

/// Builds the tag. Frames keep the order they are added in, so the same episode always encodes
/// to the same bytes.
pub(crate) fn episode_tag(
    episode: &Episode,
    chapters: &[Chapter],
    cover_png: Option<&[u8]>,
) -> Tag {
    let mut tag = Tag::with_version(Version::Id3v24);
    tag.set_title(episode.title.as_str());
    if let Some(show) = &episode.show {
        tag.set_artist(show.as_str());
        tag.set_album(show.as_str());
    }
    let element_ids: Vec<String> = (0..chapters.len())
        .map(|index| format!("chp{index}"))
        .collect();
    if !chapters.is_empty() {
        tag.add_frame(TableOfContents {
            element_id: TABLE_OF_CONTENTS_ID.to_owned(),
            top_level: true,
            ordered: true,
            elements: element_ids.clone(),
            frames: Vec::new(),
        });
    }
    for (chapter, element_id) in chapters.iter().zip(element_ids) {
        tag.add_frame(ChapterFrame {
            element_id,
            start_time: frame_ms(chapter.start_ms),
            end_time: frame_ms(chapter.end_ms),
            start_offset: NO_BYTE_OFFSET,
            end_offset: NO_BYTE_OFFSET,
            frames: vec![Frame::text("TIT2", chapter.title.as_str())],
        });
    }
    if let Some(png) = cover_png {
        tag.add_frame(Picture {
            mime_type: "image/png".to_owned(),
            picture_type: PictureType::CoverFront,
            description: String::new(),
            data: png.to_vec(),
        });
    }
    tag
}

/// CHAP times are 32-bit milliseconds, about 49 days; anything longer saturates.
fn frame_ms(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}
