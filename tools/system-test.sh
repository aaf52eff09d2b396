#!/usr/bin/env bash
# The QEMU system test (what CI runs after the cross builds): builds the QEMU test image for each
# architecture (firmware/qemu/build-image.sh: Debian's stock kernel + busybox initramfs + the static
# rigagent) and runs tests/system/test_qemu.py on it: boot under qemu-system-aarch64 and
# qemu-system-arm with software emulation, boot-to-RpcService-ready measured, the interop checks
# through forwarded ports, the e-stop pressed through the kernel's GPIO path (QMP system_powerdown
# -> PL061 line 3 -> rigagent's Linux backend) with EMERGENCY 101/102 seen on the host, the e-stop
# held and the alarm lines raised and cleared through QEMU's qtest protocol (set_irq_in).
#
#   tools/system-test.sh [AARCH64_RIGAGENT [ARMHF_RIGAGENT]]
#
# The binaries default to the release presets' outputs, build/release-aarch64/agent/rigagent and
# build/release-armhf/agent/rigagent (cmake --preset release-aarch64 && cmake --build --preset
# release-aarch64; the same for armhf). Pass "-" for one to leave that architecture out.
# Images go to $RIGAGENT_SYSTEM_TEST_DIR (default build/system-test/<arch>); downloaded kernels and
# busybox are cached in .deps/qemu. Needs: qemu-system-arm, python3-zmq, and the arm64/armhf
# package indexes (dpkg --add-architecture arm64 armhf; apt-get update) or a filled cache.
# Never skips: a missing binary, QEMU or kernel fails the run (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."

a64=${1:-build/release-aarch64/agent/rigagent}
a32=${2:-build/release-armhf/agent/rigagent}
out=${RIGAGENT_SYSTEM_TEST_DIR:-build/system-test}

fail() { echo "system-test: FAILED: $*" >&2; exit 1; }
for exe in qemu-system-aarch64 qemu-system-arm; do
  command -v $exe >/dev/null || fail "$exe is missing (apt-get install qemu-system-arm)"
done
/usr/bin/python3 -c 'import zmq' 2>/dev/null || fail "python3-zmq is missing (apt-get install python3-zmq)"

images=()
for pair in "arm64:$a64" "armhf:$a32"; do
  arch=${pair%%:*} bin=${pair#*:}
  [ "$bin" = "-" ] && { echo "system-test: $arch left out (\"-\" given)"; continue; }
  [ -f "$bin" ] || fail "no $arch rigagent at $bin (build it: cmake --preset release-${arch/arm64/aarch64} && cmake --build --preset release-${arch/arm64/aarch64})"
  t0=$(date +%s%N)
  firmware/qemu/build-image.sh "$arch" "$bin" "$out/$arch" || fail "the $arch image could not be built"
  echo "system-test: $arch image built in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  images+=("$arch=$out/$arch")
done
[ ${#images[@]} -gt 0 ] || fail "no architecture to test"

# A hard limit far above the measured time (about 2 minutes for both): a hung guest fails the run.
exec timeout --kill-after=30 600 /usr/bin/python3 tests/system/test_qemu.py "${images[@]}"
