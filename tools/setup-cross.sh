#!/usr/bin/env bash
# Installs what cross-building rigagent for aarch64 and armhf needs on Debian bookworm x86_64
# (run as root, or with sudo), on top of tools/setup-host.sh:
#   - Debian's cross compilers (crossbuild-essential-arm64/-armhf: g++ 12, binutils),
#   - qemu-user-static, which runs the cross-built tests (CMAKE_CROSSCOMPILING_EMULATOR) and
#     the release binaries on this machine, and qemu-system-arm (qemu-system-aarch64 and
#     qemu-system-arm), which boots them in the QEMU system test (tools/system-test.sh; it
#     fetches the arm64/armhf kernels and busybox from the package indexes added here),
#   - CMocka for the target (the cross-built unit tests link it; Debian ships it shared only).
#     Header-only dependencies come from the host's /usr/include; libzmq and Mbed TLS are built
#     statically from Debian's source for each architecture (tools/build-libzmq.sh,
#     tools/build-mbedtls.sh).
#   - the target's C++ runtime (libstdc++6:<arch>, with libc6:<arch> that the libraries above
#     pull in): the dynamically linked test executables run under qemu-user with the multiarch
#     loader and libraries (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu/). Not the
#     cross toolchain's own copies in /usr/<triple>/lib (qemu -L): mixing that ld.so with the
#     multiarch libc, which is a different build, hangs threaded programs.
# Idempotent: with everything present it only checks.
#
#   tools/setup-cross.sh [arm64|armhf]...     (default: both)
set -euo pipefail

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(arm64 armhf)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

PKGS=(qemu-user-static qemu-system-arm file)
for a in "${arches[@]}"; do
  case "$a" in
    arm64|armhf) ;;
    *) echo "setup-cross: unknown architecture '$a' (arm64 or armhf)" >&2; exit 2 ;;
  esac
  PKGS+=("crossbuild-essential-$a" "libcmocka-dev:$a" "libstdc++6:$a")
done

for a in "${arches[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    echo "setup-cross: dpkg --add-architecture $a"
    $SUDO dpkg --add-architecture "$a"
  fi
done

need=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "setup-cross: cross packages present (${arches[*]})"
  exit 0
fi

# `apt-get update` fails as a whole when any one index fails to download. The registry's armhf
# (and at times arm64) security index has failed like that ("Mirror sync in progress?"), which
# must not stop the amd64 build. So: try twice; if it still fails, go on only when every failed
# index belongs to a foreign architecture, and let the install below say whether what it needs
# could be had (Multi-Arch: same packages such as libc6 must have one version on all
# architectures, so a stale foreign index shows up there as an unmet dependency, not silently).
update() {
  local log
  log=$(mktemp)
  for try in 1 2; do
    if $SUDO apt-get "${apt_opts[@]}" update -qq >"$log" 2>&1; then
      rm -f "$log"
      return 0
    fi
    echo "setup-cross: apt-get update failed (try $try):" >&2
    grep -E '^(E|W):' "$log" >&2 || cat "$log" >&2
    sleep 5
  done
  # Which indexes failed? Every "Failed to fetch" line must name a foreign binary index.
  local bad
  bad=$(grep -E 'Failed to fetch' "$log" | grep -vE 'binary-(arm64|armhf)/' || true)
  if grep -q 'Failed to fetch' "$log" && [ -z "$bad" ]; then
    echo "setup-cross: only foreign-architecture indexes failed; going on with the ones apt has" >&2
    rm -f "$log"
    return 0
  fi
  rm -f "$log"
  echo "setup-cross: apt-get update failed for the host architecture too" >&2
  return 1
}

echo "setup-cross: apt-get update"
update
echo "setup-cross: installing ${need[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
  "${need[@]}"
echo "setup-cross: cross packages present (${arches[*]})"
