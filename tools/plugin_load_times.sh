#!/usr/bin/env bash
# Size, cold load (compile), warm load (compiled-code cache) and first call of plugin
# components, through `host plugins check --json` in a fresh data directory per round, as a new
# `host` process sees them. Prints one Markdown row per component (medians of 3 rounds).
# Usage: tools/plugin_load_times.sh <host binary> <component.wasm>...
set -euo pipefail
host="$1"
shift
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
for wasm in "$@"; do
    for round in 1 2 3; do
        data="$(mktemp -d)"
        "$host" --data-dir "$data" plugins check "$wasm" --json > "$reports/cold-$round.json" || true
        "$host" --data-dir "$data" plugins check "$wasm" --json > "$reports/warm-$round.json" || true
        rm -rf "$data"
    done
    python3 - "$wasm" "$reports" <<'PY'
import json, os, statistics, sys
wasm, folder = sys.argv[1], sys.argv[2]
read = lambda kind: [json.load(open(f"{folder}/{kind}-{round}.json")) for round in (1, 2, 3)]
cold, warm = read("cold"), read("warm")
def call(report):
    first = report["calls"][0] if report["calls"] else None
    return first["call_ms"] if first and first["passed"] else float("nan")
median = statistics.median
print(f"| {os.path.basename(wasm)} | {os.path.getsize(wasm) / 1e6:.2f} MB "
      f"| {median(r['load_ms'] for r in cold):.0f} ms | {median(r['load_ms'] for r in warm):.1f} ms "
      f"| {median(call(r) for r in cold):.1f} ms | {median(call(r) for r in warm):.1f} ms |")
PY
done
