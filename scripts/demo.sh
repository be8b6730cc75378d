#!/usr/bin/env bash
# The main job (README, first command): the Rust demo runs the whole loop on the embedded default
# (control plane on SQLite, experiments authored and published through its API, an SDK client
# following the publishes, simulated traffic, events delivered to the dev server's sink), then the
# report for its own traffic (python -m vario.report on the events it delivered).
#
#   bash scripts/demo.sh            200 000 simulated requests
#   bash scripts/demo.sh 1000000
#
# One release build (the thin-LTO profile the benches, the wheel and the addon share); the report
# runs in target/demo-venv with the release wheel, DuckDB and matplotlib.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
requests="${1:-200000}"

cargo run --release --locked --example demo -- "$requests"

venv=target/demo-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# The versions the tests pin (bindings/python/requirements-dev.txt).
pins=$(grep -E '^(maturin|numpy|duckdb|matplotlib)==' bindings/python/requirements-dev.txt)
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins
(cd bindings/python && VIRTUAL_ENV="$PWD/../../$venv" PATH="$PWD/../../$venv/bin:$PATH" maturin develop --quiet --release --locked)
printf '\n=== the report for this run'"'"'s traffic (python -m vario.report)\n\n'
"$venv/bin/python" -m vario.report target/vario-demo/delivered-events.jsonl --experiment ymal_algo \
  --metric add_to_cart --metric add_to_cart:count --html target/vario-demo/ymal_algo-report.html
printf '\n=== the interleaved category ranking: clicks credited to both rankers, the preference\n\n'
"$venv/bin/python" -m vario.report target/vario-demo/delivered-events.jsonl --experiment category_rank --interleaving
