#!/usr/bin/env bash
# Builds rigagent if needed and runs it on the simulated board with the built-in default
# configuration: events on tcp://127.0.0.1:5556, commands on tcp://127.0.0.1:5557.
# Extra arguments go to `rigagent run` (e.g. --log-level debug). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/prepare.sh
cmake --preset default >/dev/null
echo "run-agent: building rigagent (build/default)" >&2
log=build/default/run-agent-build.log
cmake --build --preset default --target rigagent -j"$(nproc)" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
exec build/default/agent/rigagent run "$@"
