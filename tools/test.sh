#!/usr/bin/env bash
# Runs every test, from a fresh Debian bookworm machine (as root, or a user with sudo):
#   1. installs what is missing (tools/setup-host.sh) and builds the static libzmq,
#   2. builds with warnings as errors and runs the CTest suite (CMocka unit and integration
#      tests over real sockets, the CLI test, the Python interop peer),
#   3. builds the suite again under ASan/UBSan and runs it,
#   4. runs each libFuzzer target for RIGAGENT_FUZZ_SECONDS (default 30) under ASan/UBSan.
# Set RIGAGENT_QUICK=1 to skip steps 3 and 4 while developing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "setup"
tools/prepare.sh --verbose

jobs=$(nproc)
step "build (preset ci: static, warnings are errors)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"

step "tests"
ctest --preset ci --timeout 300

if [ "${RIGAGENT_QUICK:-0}" != 1 ]; then
  step "tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  cmake --preset sanitize >/dev/null
  cmake --build --preset sanitize -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset sanitize --timeout 300

  step "fuzzing (${RIGAGENT_FUZZ_SECONDS:-30} s per target)"
  bash tools/fuzz.sh "${RIGAGENT_FUZZ_SECONDS:-30}"
fi
step "all tests passed"
