#!/bin/sh
# Builds rust-mixer.wasm (needs the target once: `rustup target add wasm32-wasip2`).
set -e
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/rust_mixer.wasm" rust-mixer.wasm
