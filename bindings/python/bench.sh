#!/usr/bin/env bash
# Latency/throughput benchmark of the Python extension against eppo-server-sdk (not a test).
#
#   bash bindings/python/bench.sh [bench.py options]
#
# Uses a throwaway venv, bindings/python/.venv-bench (gitignored): installs maturin, numpy and
# eppo-server-sdk 4.4.1 into it, builds vario there with `maturin develop --release`, then runs
# bench.py with that venv's python. bench.py rewrites bindings/python/BENCH.md.
#
# Note: `maturin develop` installs vario in editable mode, so the release build lands in
# bindings/python/python/vario/_vario.abi3.so, the same file the test venv (.venv) imports. It is
# rebuilt here right before every run, so the numbers are always those of a release build.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-bench"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  maturin==1.16.0 numpy==2.4.6 eppo-server-sdk==4.4.1
(cd "$here" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --locked --quiet)
# numpy is only used for decide_many's result arrays: no idle OpenBLAS threads next to the benchmark.
export OPENBLAS_NUM_THREADS=1
exec "$venv/bin/python" "$here/bench.py" "$@"
