//! The plugins compiled into the host binary: every guest crate under `plugins/` (the mocks, so
//! demos and tests run with no plugin files, and the real providers, which reach nothing until
//! their hosts are granted). `build.rs` finds and builds them and writes the list, named after
//! each crate's folder.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
