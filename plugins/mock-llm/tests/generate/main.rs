//! End-to-end checks of the mock LLM through its plain API: schema validity, determinism,
//! context following, story rewrites, prose and errors.

mod podcast;
mod schemas;
mod story;
mod support;
