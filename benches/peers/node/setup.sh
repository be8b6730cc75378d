#!/usr/bin/env bash
# Installs the pinned peer SDKs (package.json / package-lock.json beside this file) into
# benches/peers/node/node_modules, and builds the Vario Node addon (release).
#
#   bash benches/peers/node/setup.sh        (VARIO_SKIP_BUILD=1: trust whatever addon is there)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
addon_dir="$root/bindings/node"
addon="$addon_dir/vario.linux-x64-gnu.node"

# Peers: `npm install` (not `ci`) so the lock file is created the first time; with the committed
# lock in place it installs exactly the pinned tree.
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package.json" -nt "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
  (cd "$here" && npm install --no-audit --no-fund --loglevel=error)
fi

# VARIO_DEPS_ONLY=1: the peers only (make bench runs this during the cargo build).
[ "${VARIO_DEPS_ONLY:-}" = 1 ] && exit 0

# The addon is always built from the working tree (release profile, shared with the criterion
# benches and the wheel: see Cargo.toml), so the numbers are never those of a stale or debug
# build; cargo rebuilds nothing when the sources did not change. `--no-save`: a benchmark setup
# must not rewrite bindings/node's lock file (npm 11 would add optional platform packages).
if [ "${VARIO_SKIP_BUILD:-}" = "1" ]; then
  [ -f "$addon" ] || { echo "setup.sh: VARIO_SKIP_BUILD=1 but $addon is missing" >&2; exit 1; }
else
  host="$(rustc -vV | sed -n 's/^host: //p')"
  (
    cd "$addon_dir"
    npm install --no-audit --no-fund --no-save --loglevel=error
    CARGO_BUILD_TARGET="$host" npx napi build --platform --release --js native.js --dts native.d.ts
    npx tsc -p .
  )
fi
