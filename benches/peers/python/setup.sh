#!/usr/bin/env bash
# Prepare the throwaway venv for the Python peer benchmark (not a test).
#
#   bash benches/peers/python/setup.sh
#
# Creates target/bench/venv-py (target/ is gitignored), installs the pinned peer SDKs plus numpy
# and maturin into it, then installs vario from a wheel: from $VARIO_WHEEL_DIR if set, else one
# built right now from the working tree into target/bench/wheels/ (release profile).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$root/target/bench/venv-py"
wheels="${VARIO_WHEEL_DIR:-$root/target/bench/wheels}"
python="${PYTHON:-python3}"

# Pinned so that reruns and other machines measure the same peer code; keep in step with the
# versions named in BENCHMARKS.md.
reqs=(
  eppo-server-sdk==4.4.1
  statsig_python_core==0.24.0
  growthbook==4.0.0
  flagsmith-flag-engine==11.1.1
  UnleashClient==6.9.1
  yggdrasil-engine==2.0.0
  numpy==2.4.6
  maturin==1.16.0
)

if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)

# pip is slow to find out that nothing changed (it asks the index), so remember what was installed.
stamp="$venv/.peers-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${reqs[*]}" ]; then
  "${pip[@]}" install "${reqs[@]}"
  echo "${reqs[*]}" >"$stamp"
fi

# VARIO_DEPS_ONLY=1: the venv and the peers only (make bench runs this during the cargo build).
[ "${VARIO_DEPS_ONLY:-}" = 1 ] && exit 0

shopt -s nullglob
if [ -z "${VARIO_WHEEL_DIR:-}" ]; then
  # Always build from the working tree, so the numbers are never those of a stale wheel; cargo
  # rebuilds nothing when the sources did not change. The release profile is the one the criterion
  # benches and the Node addon use (see Cargo.toml), so their dependencies are built once. An
  # explicit target triple, as in the test command, keeps these artefacts in one place.
  triple="$(rustc -vV | sed -n 's/^host: //p')"
  rm -rf "$wheels"
  mkdir -p "$wheels"
  (cd "$root/bindings/python" &&
    CARGO_BUILD_TARGET="$triple" VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
      maturin build --release --locked --quiet -o "$wheels")
fi
found=("$wheels"/vario-*.whl)
[ ${#found[@]} -gt 0 ] || { echo "setup.sh: no vario wheel in $wheels" >&2; exit 1; }
# Newest wheel wins if several were left there.
wheel="$(ls -t "${found[@]}" | head -n 1)"
wstamp="$venv/.vario-wheel"
wid="$wheel $(stat -c %Y "$wheel")"
if [ "$(cat "$wstamp" 2>/dev/null)" != "$wid" ]; then
  "${pip[@]}" install --no-deps --force-reinstall "$wheel"
  echo "$wid" >"$wstamp"
fi
# Fail here rather than in every benchmark row if the wheel does not load.
"$venv/bin/python" -c "import vario" || { echo "setup.sh: vario from $wheel does not import" >&2; exit 1; }
