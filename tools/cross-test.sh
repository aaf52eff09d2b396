#!/usr/bin/env bash
# The firmware builds, for CI: from a fresh Debian bookworm x86_64 machine (as root, or with sudo)
#   1. installs the cross toolchains and qemu-user (tools/setup-cross.sh) and builds the static
#      libzmq and Mbed TLS for each architecture (tools/build-libzmq.sh, tools/build-mbedtls.sh),
#   2. builds the static release rigagent for x86_64 (preset release), aarch64 and armhf (presets
#      aarch64-tests, armhf-tests: the release configuration plus the tests); linking rigagent
#      fails when it is over its size budget (CMakeLists.txt), and this script fails when `file`
#      does not say "statically linked",
#   3. runs each ARM binary under qemu-user: `rigagent version`, then `rigagent run` on free
#      loopback ports and `rigagent console NONE` against it; builds its .deb (tools/make-deb.sh)
#      and checks it (Architecture, no Depends, the packaged binary and configuration run),
#   4. runs the C++ tests (CMocka: unit_*, integration_* over loopback sockets) of both ARM
#      builds with CTest under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR); the Python-driven
#      tests stay host-only (tools/test.sh), and so does unit_linux_gpio (see below),
#   5. prints what each dependency costs in each binary (tools/size-report.sh) and a summary.
#
#   tools/cross-test.sh                     everything
#   RIGAGENT_CROSS_ARCHES="aarch64" tools/cross-test.sh     some architectures only
#   RIGAGENT_CROSS_BUILD_ROOT=DIR           build directories under DIR (default: build/, the
#                                           presets' own directories)
set -euo pipefail
cd "$(dirname "$0")/.."

arches=${RIGAGENT_CROSS_ARCHES:-"x86_64 aarch64 armhf"}
root=${RIGAGENT_CROSS_BUILD_ROOT:-build}
jobs=$(nproc)
# The tests that run under qemu-user: the C++ (CMocka) tests, unit_* and integration_*; the
# integration tests use loopback sockets only, some with a host program as the peer (Python's
# http_echo_server.py, the LaneSwap stand-in, serf), which qemu-user runs natively.
# unit_linux_gpio stays host-only: qemu-user answers the GPIO ioctls on /dev/null with ENOSYS
# where the kernel says ENOTTY. The Python-driven tests (cli, laneswap, serf, interop, ...)
# stay host-only too (tools/test.sh). The same filter is in the aarch64-tests and armhf-tests
# test presets (CMakePresets.json).
tests_regex='^(unit_|integration_)'
tests_exclude='^unit_linux_gpio$'

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }
quiet() {  # runs "$@" with its output in a log that is shown only when it fails
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || cat "$log" >&2
  rm -f "$log"
  return $rc
}

# `rigagent run` under qemu-user on free loopback ports, `rigagent console NONE` against it (also
# under qemu-user), then SIGTERM: the agent must answer SUCCESS and stop cleanly (exit 0).
smoke() {
  local qemu=$1 bin=$2 tmp ports pub cmd pid rc=1 i
  tmp=$(mktemp -d)
  ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
  read -r pub cmd <<<"$ports"
  cat >"$tmp/config.json" <<JSON
{"rpc": {"pub_endpoints": ["tcp://127.0.0.1:$pub"], "command_endpoints": ["tcp://127.0.0.1:$cmd"]},
 "app_link": {"endpoint": "ipc://$tmp/app.sock"}, "hal": {"control_socket": "$tmp/hal.sock"}}
JSON
  "$qemu" "$bin" run --config "$tmp/config.json" --log-level warn &
  pid=$!
  for i in $(seq 1 30); do
    if "$qemu" "$bin" console --endpoint "tcp://127.0.0.1:$cmd" --timeout 2 NONE; then rc=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
  done
  kill -TERM "$pid" 2>/dev/null || true
  local run_rc=0
  wait "$pid" || run_rc=$?
  rm -rf "$tmp"
  if [ $rc -ne 0 ] || [ $run_rc -ne 0 ]; then
    echo "cross-test: $bin under $qemu: console NONE rc=$rc, run exit code $run_rc" >&2
    return 1
  fi
  echo "run + console NONE under $qemu: SUCCESS, stopped cleanly"
}

# The .deb for the architecture (tools/make-deb.sh): its control fields, and the packaged binary
# and default configuration run under qemu-user. (tests/firmware/test_firmware.py installs the
# amd64 one into a scratch root; the maintainer scripts are the same shell for every arch.)
deb_check() {
  local qemu=$1 bin=$2 debarch=$3 out=$root/deb x rc=0 deb
  mkdir -p "$out"
  rm -f "$out"/rigagent_*_"$debarch".deb
  tools/make-deb.sh --out "$out" "$bin" || return 1
  deb=$(ls "$out"/rigagent_*_"$debarch".deb)
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$debarch" ] || { echo "cross-test: $deb: Architecture is not $debarch" >&2; return 1; }
  [ -z "$(dpkg-deb -f "$deb" Depends)" ] || { echo "cross-test: $deb has Depends" >&2; return 1; }
  x=$(mktemp -d)
  dpkg-deb -x "$deb" "$x"
  cmp -s "$bin" "$x/usr/bin/rigagent" || { echo "cross-test: $deb: usr/bin/rigagent is not $bin" >&2; rc=1; }
  "$qemu" "$x/usr/bin/rigagent" print-config --config "$x/usr/share/rigagent/config.json" >/dev/null ||
    { echo "cross-test: $deb: the packaged rigagent rejects the packaged configuration" >&2; rc=1; }
  rm -rf "$x"
  deb_size[$a]=$(stat -c %s "$deb")
  [ $rc -ne 0 ] || echo "$deb: Architecture $debarch, no Depends; the packaged binary and configuration run under $qemu"
  return $rc
}

step "setup (tools/setup-host.sh, tools/setup-cross.sh)"
t=$(now)
quiet tools/setup-host.sh
cross=()
for a in $arches; do
  case "$a" in
    x86_64) ;;
    aarch64) cross+=(arm64) ;;
    armhf) cross+=(armhf) ;;
    *) echo "cross-test: unknown architecture $a (x86_64, aarch64, armhf)" >&2; exit 2 ;;
  esac
done
[ ${#cross[@]} -eq 0 ] || quiet tools/setup-cross.sh "${cross[@]}"
echo "setup: $(secs "$t" "$(now)") s"

declare -A zmq_s build_s size budget kind tests_s tests_ran deb_size
fail=0
for a in $arches; do
  case "$a" in
    x86_64) preset=release; dir=$root/release; qemu= ;;
    aarch64) preset=aarch64-tests; dir=$root/aarch64-tests; qemu=qemu-aarch64-static ;;
    armhf) preset=armhf-tests; dir=$root/armhf-tests; qemu=qemu-arm-static ;;
  esac
  step "$a: libzmq and Mbed TLS (tools/build-libzmq.sh --arch $a, tools/build-mbedtls.sh --arch $a)"
  t=$(now)
  tools/build-libzmq.sh --arch "$a"
  zmq_s[$a]=$(secs "$t" "$(now)")
  tools/build-mbedtls.sh --arch "$a"

  step "$a: build (preset $preset, in $dir)"
  t=$(now)
  cmake --preset "$preset" -B "$dir" >/dev/null
  # The link of rigagent prints its size against the budget, and fails over it.
  cmake --build "$dir" -j"$jobs" || { echo "cross-test: $a: the build failed (over budget, or see above)" >&2; exit 1; }
  build_s[$a]=$(secs "$t" "$(now)")

  bin=$dir/agent/rigagent
  step "$a: the binary"
  what=$(file -b "$bin")
  echo "file: $what"
  kind[$a]=dynamic
  if [[ "$what" == *"statically linked"* ]]; then kind[$a]=static; else echo "cross-test: $a: not statically linked" >&2; fail=1; fi
  size[$a]=$(stat -c %s "$bin")
  budget[$a]=$(cat "$dir/rigagent-size-budget.txt")
  echo "size: ${size[$a]} bytes; budget: ${budget[$a]} bytes"
  if [ "${budget[$a]}" -eq 0 ] || [ "${size[$a]}" -gt "${budget[$a]}" ]; then
    echo "cross-test: $a: over budget, or no budget enforced" >&2; fail=1
  fi

  if [ -n "$qemu" ]; then
    step "$a: the release binary under $qemu"
    "$qemu" "$bin" version
    smoke "$qemu" "$bin" || fail=1

    step "$a: the .deb (tools/make-deb.sh)"
    deb_check "$qemu" "$bin" "$([ "$a" = aarch64 ] && echo arm64 || echo armhf)" || fail=1

    step "$a: tests under $qemu (ctest -R '$tests_regex' -E '$tests_exclude')"
    t=$(now)
    rc=0
    ctest --test-dir "$dir" -R "$tests_regex" -E "$tests_exclude" --timeout 300 --output-on-failure || rc=$?
    tests_s[$a]=$(secs "$t" "$(now)")
    tests_ran[$a]=$(ctest --test-dir "$dir" -R "$tests_regex" -E "$tests_exclude" -N | awk '/^ *Test +#/ {print $3}' | paste -sd' ')
    [ $rc -eq 0 ] || { echo "cross-test: $a: tests failed under $qemu" >&2; fail=1; }
  fi
done

step "what each dependency costs (tools/size-report.sh)"
dirs=()
for a in $arches; do
  case "$a" in
    x86_64) dirs+=("$root/release") ;;
    aarch64) dirs+=("$root/aarch64-tests") ;;
    armhf) dirs+=("$root/armhf-tests") ;;
  esac
done
tools/size-report.sh "${dirs[@]}"

step "summary"
printf '%-8s %-7s %9s %6s %9s %5s %9s %8s %8s %9s\n' arch link bytes MiB budget used "libzmq s" "build s" "tests s" ".deb"
for a in $arches; do
  printf '%-8s %-7s %9s %6s %9s %4s%% %9s %8s %8s %9s\n' "$a" "${kind[$a]}" "${size[$a]}" \
    "$(awk -v s="${size[$a]}" 'BEGIN { printf "%.2f", s / 1048576 }')" "${budget[$a]}" \
    "$(( size[$a] * 100 / (budget[$a] > 0 ? budget[$a] : 1) ))" "${zmq_s[$a]}" "${build_s[$a]}" "${tests_s[$a]:--}" \
    "${deb_size[$a]:--}"
done
for a in $arches; do
  [ -z "${tests_ran[$a]:-}" ] || echo "$a, under qemu-user: ${tests_ran[$a]}"
done
echo "host-only (tools/test.sh): the Python-driven tests; unit_linux_gpio (ENOSYS for GPIO ioctls under qemu-user)"
if [ $fail -ne 0 ]; then
  echo "cross-test: FAILED" >&2
  exit 1
fi
echo "cross-test: all architectures built, static, under budget; ARM tests passed under qemu-user"
