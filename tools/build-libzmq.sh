#!/usr/bin/env bash
# Builds a static libzmq (no external dependencies) from Debian's own source package `zeromq3`.
# Debian's libzmq.a needs static Kerberos, which Debian does not ship, so a fully static link
# with it fails; this build turns every optional dependency off instead.
#
#   tools/build-libzmq.sh [PREFIX] [CMAKE_TOOLCHAIN_FILE]
#   tools/build-libzmq.sh --arch aarch64|armhf|x86_64
# PREFIX defaults to .deps/<arch>/libzmq inside the checkout, <arch> being what CMake's
# CMAKE_SYSTEM_PROCESSOR is for the build that uses it (`uname -m` natively; the toolchain files
# say aarch64 and armv7l). --arch picks the prefix and the toolchain file of toolchains/ for a
# cross build (armhf: .deps/armv7l/libzmq with toolchains/arm-linux-gnueabihf.cmake).
# Re-running with the library already installed by the same recipe is a no-op; a library built
# by an older recipe (other flags) is rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--arch" ]; then
  case "${2:-}" in
    aarch64|arm64) prefix=$here/.deps/aarch64/libzmq; toolchain=$here/toolchains/aarch64-linux-gnu.cmake ;;
    armhf|armv7l) prefix=$here/.deps/armv7l/libzmq; toolchain=$here/toolchains/arm-linux-gnueabihf.cmake ;;
    "$(uname -m)") prefix=$here/.deps/$(uname -m)/libzmq; toolchain= ;;
    *) echo "build-libzmq: --arch takes aarch64, armhf or $(uname -m)" >&2; exit 2 ;;
  esac
else
  prefix=${1:-$here/.deps/$(uname -m)/libzmq}
  toolchain=${2:-}
fi
# Both are used from a temporary directory.
prefix=$(realpath -m "$prefix")
[ -z "$toolchain" ] || toolchain=$(realpath "$toolchain")

# The recipe: -Os (the firmware's size budget; libzmq's speed is not what limits the agent),
# every function and datum in its own section so that --gc-sections drops what rigagent does
# not use, no C++ streams (tools/patches/libzmq-no-iostreams.patch: they would pull the whole
# locale machinery into the static binary), no TIPC, and no SO_PEERCRED: that only serves the
# ZMQ_IPC_FILTER_* options and the uid:gid:pid suffix of an ipc peer's "Peer-Address"
# metadata, which rigagent uses neither of, and it pulls getpwuid/getgrgid (glibc's NSS) into
# the static binary. A change to the recipe must change this line, so that existing builds
# are redone.
patches=("$here/tools/patches/libzmq-no-iostreams.patch")
# The toolchain files are part of it (armhf's sets a 64-bit time_t).
recipe="zeromq3 MinSizeRel -ffunction-sections -fdata-sections no-TIPC no-PEERCRED $(cat "${patches[@]}" | md5sum | cut -c1-12)"
[ -z "$toolchain" ] || recipe+=" toolchain $(cat "$toolchain" "$here/toolchains/debian-cross.cmake" | md5sum | cut -c1-12)"
stamp=$prefix/rigagent-recipe.txt
if { [ -f "$prefix/lib/libzmq.a" ] || [ -f "$prefix/lib64/libzmq.a" ]; } &&
   [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
  echo "build-libzmq: $prefix already has libzmq.a"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "build-libzmq: fetching Debian source package zeromq3"
apt-get source -qq zeromq3 >/dev/null 2>&1 || {
  echo "build-libzmq: 'apt-get source zeromq3' failed; run tools/setup-host.sh first (it enables deb-src)" >&2
  exit 1
}
src=$(find . -maxdepth 1 -type d -name 'zeromq3-*' | head -n1)
for p in "${patches[@]}"; do
  patch -d "$src" -p1 -s <"$p" || { echo "build-libzmq: $p does not apply to $src" >&2; exit 1; }
done

# Installed next to PREFIX first and moved into place at the end, so that a build that uses
# PREFIX meanwhile never sees half a library.
staging=$prefix.new.$$
args=(
  -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INSTALL_PREFIX="$staging" -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DWITH_PERF_TOOL=OFF
  -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=OFF -DWITH_LIBBSD=OFF -DENABLE_DRAFTS=OFF
  -DWITH_DOCS=OFF -DENABLE_CPACK=OFF -DWITH_OPENPGM=OFF -DWITH_NORM=OFF -DWITH_VMCI=OFF
  -DPOLLER=epoll -DZMQ_HAVE_TIPC=0 -DZMQ_HAVE_SO_PEERCRED=0
)
# Through the environment, not -DCMAKE_C_FLAGS: CMake adds CFLAGS to the toolchain file's
# CMAKE_C_FLAGS_INIT, where -DCMAKE_C_FLAGS would replace it.
export CFLAGS="-ffunction-sections -fdata-sections" CXXFLAGS="-ffunction-sections -fdata-sections"
if [ -n "$toolchain" ]; then
  # libzmq's CMake skips its feature probes when cross-compiling and silently compiles out
  # keepalive and close-on-exec support; these are all true on ARM Linux.
  args+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")
  for v in ZMQ_HAVE_SOCK_CLOEXEC ZMQ_HAVE_O_CLOEXEC ZMQ_HAVE_EVENTFD_CLOEXEC ZMQ_HAVE_SO_BINDTODEVICE \
           ZMQ_HAVE_SO_KEEPALIVE ZMQ_HAVE_SO_PRIORITY ZMQ_HAVE_TCP_KEEPCNT ZMQ_HAVE_TCP_KEEPIDLE \
           ZMQ_HAVE_TCP_KEEPINTVL ZMQ_HAVE_PTHREAD_SETNAME_2 ZMQ_HAVE_PTHREAD_SET_AFFINITY; do
    args+=(-D$v=1)
  done
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
echo "build-libzmq: configuring ($src -> $prefix${toolchain:+, toolchain $(basename "$toolchain")})"
cmake -S "$src" -B build "${gen[@]}" "${args[@]}" >cmake.log 2>&1 || { tail -30 cmake.log >&2; exit 1; }
cmake --build build --target libzmq-static -j"$(nproc)" >build.log 2>&1 || { tail -30 build.log >&2; exit 1; }
rm -rf "$staging"
cmake --install build >install.log 2>&1 || { tail -30 install.log >&2; rm -rf "$staging"; exit 1; }
# The generated platform.hpp shows which features the build found (or was told about).
cp build/platform.hpp "$staging/platform.hpp"
echo "$recipe" >"$staging/rigagent-recipe.txt"
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix.old.$$"
[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old.$$"
mv "$staging" "$prefix"
rm -rf "$prefix.old.$$"
echo "build-libzmq: installed $(ls "$prefix"/lib/libzmq.a)"
