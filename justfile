# Everyday recipes. Every one is plain cargo underneath, so nothing here is required.

# Build the host (which builds the plugins it embeds).
build:
    cargo build --release

# Build only the plugin components for wasm32-wasip2.
plugins:
    rustup target add wasm32-wasip2
    cargo build --release --target wasm32-wasip2 -p mock-llm -p mock-tts -p mock-mixer -p mock-image \
        -p openai-llm -p openai-tts -p elevenlabs-tts -p openai-image

# Run the whole test suite (the README's test command).
test:
    cargo test --workspace

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks recorded in BENCHMARKS.md.
bench:
    cargo bench -p host --bench plugin_calls
    cargo bench -p host --bench history_appends

# A whole podcast episode on the mock plugins, approving the outline automatically.
demo topic="the history of tea":
    cargo run --release -- run workflows/podcast.toml --input topic="{{topic}}" --auto-approve
