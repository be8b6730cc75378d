#!/usr/bin/env bash
# The fuzz targets (fuzz/, cargo-fuzz + libFuzzer on the nightly toolchain), each run for a bounded
# time from a temporary copy of its checked-in seed corpus (fuzz/corpus/<target>/), so the work
# tree is left as it was. Any crash fails the run; libFuzzer saves the input under
# fuzz/artifacts/<target>/ (git-ignored) and prints the command that replays it.
#
#   bash scripts/fuzz.sh            every target, FUZZ_SECONDS (default 15) each
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh snapshot_json
#
# Installs what is missing: the nightly toolchain (minimal profile) and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-15}"
started=$(date +%s)

rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cd fuzz
# One build of every target (release, AddressSanitizer, libFuzzer), which the runs reuse.
cargo +nightly fuzz build
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
echo "built in $(($(date +%s) - started))s"

work="$(mktemp -d "${TMPDIR:-/tmp}/vario-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp -R "corpus/$t/." "$work/$t/"
  echo "--- $t (${seconds}s, $(find "$work/$t" -type f | wc -l) seeds)"
  set +e
  cargo +nightly fuzz run "$t" "$work/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
    >"$work/$t.log" 2>&1
  rc=$?
  set -e
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$work/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$work/$t.log"
    echo "FAIL: $t exited $rc (the input is under fuzz/artifacts/$t/)"
    exit 1
  fi
done
echo "fuzzing passed: ${#targets[@]} targets, ${seconds}s each, $(($(date +%s) - started))s in all"
