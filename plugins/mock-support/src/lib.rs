//! What the mock plugins share: the WIT types, their failure type, stable seeds (the same
//! request must give the same bytes in every process, which std's randomly keyed hashers would
//! break) and 16-bit PCM WAV headers.

pub mod failure;
pub mod seed;
pub mod types;
pub mod wav;
