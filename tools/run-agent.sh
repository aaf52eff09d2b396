#!/usr/bin/env bash
# Builds rigagent if needed and runs it on the simulated board with the built-in default
# configuration: events on tcp://127.0.0.1:5556, commands on tcp://127.0.0.1:5557.
# Extra arguments go to `rigagent run` (e.g. --log-level debug). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/prepare.sh
cmake --preset default >/dev/null
echo "run-agent: building rigagent (build/default)" >&2
cmake --build --preset default --target rigagent -j"$(nproc)" | tail -n 3 >&2
test -x build/default/agent/rigagent
exec build/default/agent/rigagent run "$@"
