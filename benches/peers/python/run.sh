#!/usr/bin/env bash
# Python half of the peer benchmark (not a test): vario beside eppo-server-sdk, statsig-python-core,
# growthbook, flagsmith-flag-engine and UnleashClient on one experiment.
#
#   bash benches/peers/python/run.sh [--quick] [--repeats N] [--out FILE] [--rows a,b]
#
# setup.sh prepares target/bench/venv-py (pinned peers, vario from a wheel); peers.py then writes
# target/bench/peers-python.json and prints a markdown table. Everything runs offline: the only
# traffic is one loopback request (Statsig's specs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bash "$here/setup.sh"
# numpy (pulled in by vario) must not park idle BLAS threads next to the measured thread.
export OPENBLAS_NUM_THREADS=1
exec "$root/target/bench/venv-py/bin/python" "$here/peers.py" "$@"
