#!/usr/bin/env bash
# Runs every test, from a fresh Debian bookworm machine (as root, or a user with sudo):
#   1. installs what is missing (tools/setup-host.sh) and builds the static libzmq and Mbed TLS,
#   2. builds with warnings as errors and runs the CTest suite (CMocka unit and integration
#      tests over real sockets, the CLI test, the Python interop peer),
#   3. builds the suite again under ASan/UBSan and runs it,
#   4. runs each libFuzzer target for RIGAGENT_FUZZ_SECONDS (default 30) under ASan/UBSan,
#   5. the firmware (tools/cross-test.sh): installs Debian's cross compilers and qemu-user, builds
#      the static release binaries for x86_64, aarch64 and armhf (each must be statically linked
#      and under its size budget), runs the C++ tests of both ARM builds under qemu-user,
#   6. the QEMU system test (tools/system-test.sh): boots the aarch64 and armhf binaries in
#      Debian's stock kernels under qemu-system (software emulation), interop checks through
#      forwarded ports, the e-stop pressed through the guest kernel's GPIO path.
# Set RIGAGENT_QUICK=1 to skip steps 3 to 6 while developing.
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

  step "firmware: static builds for x86_64, aarch64, armhf; ARM tests under qemu-user"
  bash tools/cross-test.sh

  step "QEMU system test (aarch64 and armhf guests)"
  bash tools/system-test.sh build/aarch64-tests/agent/rigagent build/armhf-tests/agent/rigagent
fi
step "all tests passed"
