//! `manifest.json`, written last: the host's own fields plus the list of artifacts. Because it
//! comes last, a manifest on disk means every file it lists was completely written.

use serde_json::{Map, Value};

use crate::{Artifact, PublishError};

/// The key this crate adds to the host's object.
const ARTIFACTS_KEY: &str = "artifacts";

/// Checks the host's object up front, before any file is written.
pub(crate) fn validate_extra(extra: &Value) -> Result<&Map<String, Value>, PublishError> {
    let object = extra
        .as_object()
        .ok_or(PublishError::InvalidManifestExtra {
            reason: "it is not a json object",
        })?;
    if object.contains_key(ARTIFACTS_KEY) {
        return Err(PublishError::InvalidManifestExtra {
            reason: "it already has an \"artifacts\" key, which publishing writes",
        });
    }
    Ok(object)
}

/// The manifest's contents, pretty-printed and ending with a newline.
pub(crate) fn manifest_json(extra: &Map<String, Value>, artifacts: &[Artifact]) -> String {
    let mut object = extra.clone();
    object.insert(
        ARTIFACTS_KEY.to_owned(),
        serde_json::to_value(artifacts).expect("artifacts are plain strings and numbers"),
    );
    let mut json = serde_json::to_string_pretty(&object).expect("a json map always serializes");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn extra_must_be_an_object_without_artifacts() {
        assert!(validate_extra(&json!({"execution_id": "e1"})).is_ok());
        let error = validate_extra(&json!([1])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "manifest extra is invalid: it is not a json object"
        );
        assert!(validate_extra(&json!({"artifacts": []})).is_err());
    }

    #[test]
    fn artifacts_are_added_to_the_extra_fields() {
        let extra = json!({"execution_id": "e1"});
        let artifacts = [Artifact {
            name: "episode.srt".to_owned(),
            media_type: "application/x-subrip".to_owned(),
            digest: "sha256:00".to_owned(),
            size_bytes: 3,
        }];
        let manifest: Value =
            serde_json::from_str(&manifest_json(validate_extra(&extra).unwrap(), &artifacts))
                .unwrap();
        assert_eq!(
            manifest,
            json!({
                "execution_id": "e1",
                "artifacts": [{
                    "name": "episode.srt",
                    "media_type": "application/x-subrip",
                    "digest": "sha256:00",
                    "size_bytes": 3,
                }],
            })
        );
    }
}
