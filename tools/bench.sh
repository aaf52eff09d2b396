#!/usr/bin/env bash
# Builds the release binary (MinSizeRel, static, stripped) and the benchmark, then prints the
# figures: event throughput, command round trip and e-stop latency (idle and under an event flood)
# as ratios against raw libzmq in the same run, idle RSS and binary size. Arguments go to
# rigagent-bench (e.g. --quick, or --only estop).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/prepare.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rigagent -j"$(nproc)" | tail -n 3
cmake --preset default >/dev/null
cmake --build --preset default --target rigagent-bench -j"$(nproc)" | tail -n 3
file build/release/agent/rigagent
exec build/default/tools/bench/rigagent-bench --rigagent build/release/agent/rigagent "$@"
