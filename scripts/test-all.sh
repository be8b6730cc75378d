#!/usr/bin/env bash
# Every test of the project, from a fresh clone: sets up what it needs, then runs each suite.
# Used by .ci/run and named in the README. Debug builds only (benches are not tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step line shows the seconds since the run started, so a slow step is visible in CI's log.
step() { printf '\n=== [%ss] %s\n' "$SECONDS" "$*"; }

# napi-rs always builds the Node addon with an explicit `--target`, which cargo keeps apart from
# target-less builds (target/<triple>/ vs target/debug/). Every build here names the host triple
# too, so the whole run shares one set of artifacts instead of compiling the runtime twice.
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"

step "python venv for the vector generators (.venv): the shared vectors' and the statistics crate's scipy answers"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r contract/vectors/requirements.txt \
  -r stats/vectors/requirements.txt

step "shared vectors: the independent generator reproduces contract/vectors/*.json exactly"
.venv/bin/python contract/vectors/gen.py --check

step "statistics known answers: scipy and statsmodels reproduce stats/vectors/scipy.json (stats/tests/scipy_vectors.rs holds vario-stats to it)"
.venv/bin/python stats/vectors/gen.py --check

step "system packages (Debian): libcjson-dev and valgrind for the C suite, Java (openjdk-17-jre-headless) for PySpark's local mode in the analysis tests; installed when missing"
missing=()
for pkg in libcjson-dev valgrind; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# Any Java will do for Spark; Debian's headless JRE only when there is none.
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})"; exit 1
  fi
fi
java -version 2>&1 | head -n 1

step "control plane services: PostgreSQL and Redis from Debian's packages (installed when missing), throwaway servers on 127.0.0.1"
# Stopped (and their temporary folder removed) when this script exits, pass or fail. With
# VARIO_REQUIRE_SERVICES=1 a control-plane test that finds no Postgres or Redis fails, never skips.
VARIO_SERVICES_TRAP=1 source scripts/services.sh
export VARIO_REQUIRE_SERVICES=1
echo "postgres: $VARIO_TEST_POSTGRES_URL  redis: $VARIO_TEST_REDIS_URL"

step "module graphs: no import cycle inside the core or the runtime"
python3 scripts/check-imports.py core/src src stats/src control/src

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rust tests: core (unit, shared vectors, properties, allocation, events), runtime against loopback servers (push over the control plane's stream and redis-server included), control plane on SQLite and Postgres with Redis (API, SIGKILL mid-publish, a Client following publishes), doc"
# The spool's fault matrix runs in the next step, where its table is shown.
cargo test --workspace --locked -- --skip fault_matrix

step "spool fault matrix: kill -9, SIGTERM, normal exit with the endpoint down, a truncated segment, the disk bound (real child processes, loopback servers); fails on any loss"
# --workspace, as above: the same feature set, so nothing is compiled again.
cargo test --workspace --locked --test runtime_spool fault_matrix -- --nocapture

step "main job smoke run (debug build, 20 000 requests: control plane on SQLite, API, publishes, client, events)"
# Built with --workspace, the test step's feature set, then run directly: `cargo run --example`
# would select the default members and rebuild about a hundred crates with other features.
cargo build --quiet --locked --workspace --lib --bins --examples
examples_dir="${CARGO_TARGET_DIR:-target}/$CARGO_BUILD_TARGET/debug/examples"
"$examples_dir/demo" 20000

step "rec service example self-test (real HTTP on 127.0.0.1)"
"$examples_dir/rec_service" --self-test

step "C ABI: tests/c (shared vectors, client round trip, misuse, hostile input, fork; shared and static builds; valgrind; ASan + UBSan), examples/c"
bash tests/c/run.sh

step "python wheel: its own venv, a debug build (maturin develop), pytest (vectors, client, fork, stubs, following the control plane, analysis on DuckDB and Spark, decide_arrow, vario.spark), the backtest examples (numpy, DuckDB, Spark replay), the demo's report"
# The vario CLI (the tests start its dev server and control plane): already built, with the test
# step's feature set, by the C step's identical build, so this is a no-op (see tests/c/run.sh).
cargo build --quiet --locked --workspace --lib --bins --examples
if [ ! -x bindings/python/.venv/bin/python ]; then
  python3 -m venv bindings/python/.venv
fi
bindings/python/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings/python/requirements-dev.txt
(cd bindings/python && VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" maturin develop --quiet --locked)
bindings/python/.venv/bin/python -m pytest -q bindings/python/tests
bindings/python/.venv/bin/python examples/python/backtest.py 200000
bindings/python/.venv/bin/python examples/python/backtest_duckdb.py 100000
bindings/python/.venv/bin/python examples/python/backtest_spark.py 20000
# The main job's last part: the report for the smoke run's own traffic (the demo step above).
bindings/python/.venv/bin/python -m vario.report target/vario-demo/delivered-events.jsonl --experiment ymal_algo \
  --metric add_to_cart --metric add_to_cart:count --html target/vario-demo/ymal_algo-report.html
bindings/python/.venv/bin/python -m vario.report target/vario-demo/delivered-events.jsonl --experiment category_rank \
  --interleaving

step "node addon: npm ci, debug build (napi + tsc; generated types must match the committed ones), node --test, edge handler example"
# `npm ci`: exactly the committed lock, which is never rewritten (the lock lists the
# platform-optional packages of @napi-rs/cli too, so it installs as is on Linux).
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
git diff --exit-code -- bindings/node && [ -z "$(git status --porcelain --untracked-files=all -- bindings/node)" ] \
  || { git status --short -- bindings/node; echo "generated Node bindings (native.*, index.*, lib/*.js, lib/*.d.ts) differ from the committed ones: run npm run build in bindings/node and commit"; exit 1; }
(cd bindings/node && node --test test/)
node examples/node/edge_handler.mjs --self-test

step "push fleet: 50 client processes (25 Python, 25 Node; half on the SSE stream, half on Redis) all deciding on v2 after one publish through vario control --redis"
bindings/python/.venv/bin/python tests/fleet/push_fleet.py "${CARGO_TARGET_DIR:-target}/$CARGO_BUILD_TARGET/debug/vario" node

step "fuzzing: every fuzz/ target (nightly, cargo-fuzz, libFuzzer) for a bounded time from its seed corpus"
# One build of every target, then FUZZ_SECONDS each on a temporary copy of the seeds.
FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz.sh

step "the run left the work tree as it found it"
if [ -n "$(git status --porcelain)" ]; then
  git status --short
  echo "the test run changed or left files in the work tree (see above)"; exit 1
fi

printf "\nall suites passed in %ss\n" "$SECONDS"
