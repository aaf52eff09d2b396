#!/usr/bin/env bash
# Builds a static libzmq (no external dependencies) from Debian's own source package `zeromq3`.
# Debian's libzmq.a needs static Kerberos, which Debian does not ship, so a fully static link
# with it fails; this build turns every optional dependency off instead.
#
#   tools/build-libzmq.sh [PREFIX] [CMAKE_TOOLCHAIN_FILE]
# PREFIX defaults to .deps/<arch>/libzmq inside the checkout. Re-running with the library
# already installed is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$here/.deps/$(uname -m)/libzmq}
toolchain=${2:-}

if [ -f "$prefix/lib/libzmq.a" ] || [ -f "$prefix/lib64/libzmq.a" ]; then
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

args=(
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DWITH_PERF_TOOL=OFF
  -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=OFF -DWITH_LIBBSD=OFF -DENABLE_DRAFTS=OFF
  -DWITH_DOCS=OFF -DENABLE_CPACK=OFF -DWITH_OPENPGM=OFF -DWITH_NORM=OFF -DWITH_VMCI=OFF
  -DPOLLER=epoll
  "-DCMAKE_C_FLAGS=-ffunction-sections -fdata-sections"
  "-DCMAKE_CXX_FLAGS=-ffunction-sections -fdata-sections"
)
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
echo "build-libzmq: configuring ($src -> $prefix)"
cmake -S "$src" -B build "${gen[@]}" "${args[@]}" >cmake.log 2>&1 || { tail -30 cmake.log >&2; exit 1; }
cmake --build build --target libzmq-static -j"$(nproc)" >build.log 2>&1 || { tail -30 build.log >&2; exit 1; }
cmake --install build >install.log 2>&1 || { tail -30 install.log >&2; exit 1; }
echo "build-libzmq: installed $(ls "$prefix"/lib/libzmq.a)"
