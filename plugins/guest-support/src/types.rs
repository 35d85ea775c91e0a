//! The shared WIT `types` interface, generated once here so every guest crate uses the same Rust
//! types (each maps `pipeline:services/types` to this module with `with:`), and the one
//! conversion from a [`Failure`] to the WIT provider error.

wit_bindgen::generate!({
    path: "../../wit",
    inline: "package guest:support; world shared-types { import pipeline:services/types@0.1.0; }",
    world: "guest:support/shared-types",
    generate_all,
});

pub use pipeline::services::types::*;

use crate::failure::{Failure, FailureKind};

impl From<Failure> for ProviderError {
    /// Never retryable: a mock is deterministic, so the same request fails the same way.
    fn from(failure: Failure) -> Self {
        ProviderError {
            kind: match failure.kind {
                FailureKind::InvalidRequest => ErrorKind::InvalidRequest,
                FailureKind::Internal => ErrorKind::Internal,
            },
            retryable: false,
            message: failure.message,
            retry_after_ms: None,
        }
    }
}
