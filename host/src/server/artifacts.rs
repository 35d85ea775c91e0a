//! Downloads of an episode's published files, with their recorded media types and HTTP range
//! requests, so a browser's audio player can seek. Only a file the execution's publishing
//! stage listed can be served, looked up by its listed name, never by a path from the request.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::error::ApiError;

/// The most one range response carries; the client asks again for the rest.
const MAX_RANGE_BYTES: u64 = 4 << 20;

/// `GET /api/executions/{id}/artifacts/{name}`.
pub async fn download(
    State(shared): State<Shared>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report = shared.engine.status_report(&id)?;
    let listed = report
        .artifacts
        .as_array()
        .into_iter()
        .flatten()
        .find(|artifact| artifact["name"].as_str() == Some(name.as_str()))
        .ok_or_else(|| {
            ApiError::not_found(format!("execution {id} published no file named `{name}`"))
        })?;
    let directory = report
        .episode_directory
        .as_ref()
        .and_then(|directory| directory.as_str())
        .map(PathBuf::from)
        .ok_or_else(|| ApiError::not_found(format!("execution {id} has no episode folder")))?;
    // Listed names are plain file names; anything else is not served, whatever the history says.
    if name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return Err(ApiError::forbidden(format!("`{name}` is not a file name")));
    }
    let media_type = listed["media_type"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let path = directory.join(&name);
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    tokio::task::spawn_blocking(move || serve_file(&path, &name, &media_type, range.as_deref()))
        .await
        .map_err(|error| ApiError::internal(format!("the download stopped: {error}")))?
}

fn serve_file(
    path: &std::path::Path,
    name: &str,
    media_type: &str,
    range: Option<&str>,
) -> Result<Response, ApiError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // A symlink planted in the episode folder is not followed out of it.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|error| {
            ApiError::not_found(format!("the published file {name} cannot be read: {error}"))
        })?;
    let metadata = file
        .metadata()
        .map_err(|error| ApiError::internal(format!("cannot read {name}: {error}")))?;
    if !metadata.is_file() {
        return Err(ApiError::forbidden(format!("{name} is not a regular file")));
    }
    let size = metadata.len();
    let (status, start, end) = match range.map(|range| parse_range(range, size)) {
        None => (StatusCode::OK, 0, size),
        // A player asks for `bytes=0-` and then seeks: a bounded piece answers it just as well
        // and keeps a long episode out of memory.
        Some(Some((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end.min(start.saturating_add(MAX_RANGE_BYTES)),
        ),
        Some(None) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            insert(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            return Ok(response);
        }
    };
    let length = end - start;
    file.seek(SeekFrom::Start(start))
        .map_err(|error| ApiError::internal(format!("cannot read {name}: {error}")))?;
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    file.take(length)
        .read_to_end(&mut bytes)
        .map_err(|error| ApiError::internal(format!("cannot read {name}: {error}")))?;
    let mut response = (status, Body::from(bytes)).into_response();
    insert(&mut response, header::CONTENT_TYPE, media_type);
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        let last = end.saturating_sub(1);
        insert(
            &mut response,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{last}/{size}"),
        );
    }
    Ok(response)
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// The half-open byte range `[start, end)` a `Range: bytes=...` header asks for, clamped to
/// the file; `None` when it cannot be satisfied. Only a single range is served (what audio
/// players ask for); a list of ranges gets its first.
pub fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (start, end) = first.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            if suffix == 0 {
                return None;
            }
            (size.saturating_sub(suffix), size)
        }
        (start, "") => (start.parse().ok()?, size),
        (start, end) => {
            let end: u64 = end.parse().ok()?;
            (start.parse().ok()?, end.saturating_add(1).min(size))
        }
    };
    (start < end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_as_players_send_them() {
        assert_eq!(parse_range("bytes=0-", 100), Some((0, 100)));
        assert_eq!(parse_range("bytes=10-19", 100), Some((10, 20)));
        assert_eq!(parse_range("bytes=90-200", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=0-0,5-9", 100), Some((0, 1)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=20-10", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=-0", 100), None);
    }
}
