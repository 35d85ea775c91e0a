//! Paths of the test components (`tests/components/*`) built for `wasm32-wasip2` by this
//! crate's build script. Only the host's tests and benches depend on it, so a plain host build
//! does not build the components.

include!(concat!(env!("OUT_DIR"), "/components.rs"));
