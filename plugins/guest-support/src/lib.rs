//! What every guest crate of this repository shares, mocks and real providers alike: the WIT
//! `types` bindings (generated once here and mapped into each plugin with `with:`), the
//! `Failure` type and its one conversion to `provider-error`, and stable seeds (the same request
//! must give the same bytes in every process, which std's randomly keyed hashers would break).
//! WAV writing and reading is in `tts-kit`, which plugins outside the repository can use too.

pub mod failure;
pub mod seed;
pub mod types;
