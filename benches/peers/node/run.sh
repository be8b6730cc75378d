#!/usr/bin/env bash
# Peer SDK benchmark, Node half: installs the peers and checks the addon (setup.sh), then runs the
# harness. Arguments go to peers.mjs (--repeats N, --quick, --rows id,id, --out FILE, --configs DIR).
#
#   bash benches/peers/node/run.sh            (3 repeats, ~3 min; writes target/bench/peers-node.json)
#   bash benches/peers/node/run.sh --quick    (1 repeat, short passes: a smoke run)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/setup.sh"
exec node "$here/peers.mjs" "$@"
