#!/usr/bin/env bash
# Every benchmark in one run, then BENCHMARKS.md (`make bench`). Not part of the test command.
#
# Builds once with the `bench` profile (thin LTO) for the host triple, so the criterion benches,
# the Python wheel and the Node addon share their dependencies' artifacts; then runs the Rust
# benches, the Python and Node peer comparisons (each in its own throwaway venv / npm folder
# under target/bench and benches/peers/node), and renders the page from the result files.
# QUICK=1 shortens everything (a smoke run; its page says so in the numbers, not in a claim).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n=== %s (%ss)\n' "$*" "$SECONDS"; }
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
quick="${QUICK:-0}"
crit=(--warm-up-time 0.5 --measurement-time 2)
peer_args=()
if [ "$quick" = 1 ]; then
  crit=(--warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
  peer_args=(--quick)
  export VARIO_MEMORY_USERS=1000000
fi
mkdir -p target/bench
rm -f target/bench/{latency,scaling,memory,push,peers-python,peers-node,interleave-python,interleave-node,regex-control,regex-matches,control-sqlite,control-postgres,analysis,backtest,backtest-node}.json
rm -rf target/criterion

# The peers' installs need the network more than the CPU: they run beside the cargo build.
(VARIO_DEPS_ONLY=1 bash benches/peers/python/setup.sh && VARIO_DEPS_ONLY=1 bash benches/peers/node/setup.sh) \
  >target/bench/peer-installs.log 2>&1 &
installs=$!

# One cargo invocation for every bench target of the three crates: separate `-p` runs would
# unify features differently and rebuild the shared crates each time.
# Redis for the push probe (it starts a redis-server of its own; services.sh installs the package)
# and PostgreSQL for the control-plane bench further down, both idle until used.
VARIO_SERVICES_TRAP=1 source scripts/services.sh
benches=(--locked -p vario -p vario-core -p vario-ffi --bench core --bench ffi --bench runtime --bench probes)
step "rust: build every bench"
cargo bench "${benches[@]}" --no-run
# Nothing else may run beside the measurements.
wait "$installs" || { cat target/bench/peer-installs.log; exit 1; }
step "rust: run every bench (core, C ABI, runtime; latency, scaling, memory, push)"
cargo bench "${benches[@]}" -- "${crit[@]}"

step "python: vario wheel and the peers in a throwaway venv"
bash benches/peers/python/run.sh "${peer_args[@]}"
step "node: vario addon and the peers in a throwaway npm folder"
bash benches/peers/node/run.sh "${peer_args[@]}"

step "interleave: Python (release wheel) and Node (release addon), per call"
target/bench/venv-py/bin/python benches/interleave/bench.py "${peer_args[@]}" --out target/bench/interleave-python.json
node benches/interleave/bench.mjs "${peer_args[@]}" --out target/bench/interleave-node.json

step "analysis: vario.analysis.analyze on 10 M exposures + 30 M outcomes in Parquet and 1 M + 3 M in JSONL (release wheel, DuckDB; logs generated once under target/bench/analysis-data)"
# shellcheck disable=SC2046
target/bench/venv-py/bin/python -m pip install --quiet --disable-pip-version-check $(grep -E '^duckdb==' bindings/python/requirements-dev.txt)
target/bench/venv-py/bin/python benches/analysis/bench.py "${peer_args[@]}" --out target/bench/analysis.json

step "backtests: decide_arrow over 10 M Arrow ids, decide_many over 1 M str, a Python loop, vario.spark on 20 M rows (release wheel); Node decideManyBuffer over 10 M ids"
# PySpark's mapInArrow needs pandas on the executors.
# shellcheck disable=SC2046
target/bench/venv-py/bin/python -m pip install --quiet --disable-pip-version-check $(grep -E '^(pyarrow|pyspark|pandas)==' bindings/python/requirements-dev.txt)
target/bench/venv-py/bin/python benches/backtest/bench.py "${peer_args[@]}" --out target/bench/backtest.json
node --expose-gc benches/backtest/node.mjs "${peer_args[@]}" --out target/bench/backtest-node.json

step "regex memory: 1,000 regex-targeted experiments against the same snapshot with starts_with (two fresh processes)"
for mode in control matches; do
  VARIO_DECIDES=0 VARIO_JSON_OUT="target/bench/regex-$mode.json" \
    cargo run --quiet --locked --release -p vario-core --example regex_memory -- 1000 "$mode"
done

step "control plane: publish of 1,000 experiments, the SDK endpoint under wrk (304, and 200 with 1 MB), on SQLite and Postgres"
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
control_args=()
[ "$quick" = 1 ] && control_args=(--quick)
VARIO_JSON_OUT=target/bench/control-sqlite.json \
  cargo run --quiet --locked --release -p vario-control --example control_bench -- "${control_args[@]}"
VARIO_JSON_OUT=target/bench/control-postgres.json \
  cargo run --quiet --locked --release -p vario-control --example control_bench -- --db "$VARIO_TEST_POSTGRES_URL" "${control_args[@]}"
vario_services_stop

step "BENCHMARKS.md"
python3 benches/report.py --wall "$((SECONDS / 60)) min $((SECONDS % 60)) s"
