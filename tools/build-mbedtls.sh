#!/usr/bin/env bash
# Builds static Mbed TLS libraries (libmbedtls.a, libmbedx509.a, libmbedcrypto.a) from Debian's
# own source package `mbedtls` (2.28), configured as the TLS 1.2 client that rigagent needs and
# nothing more (tools/mbedtls-config.h). Debian's libmbedtls-dev archives are built with the
# default configuration, and a static link with them carries the TLS server, the debug module,
# DES, ARC4, Camellia, DHM, PKCS#12 and the library's test certificates (~0.5 MB of the aarch64
# firmware binary).
#
#   tools/build-mbedtls.sh [PREFIX] [CMAKE_TOOLCHAIN_FILE]
#   tools/build-mbedtls.sh --arch aarch64|armhf|x86_64
# PREFIX defaults to .deps/<arch>/mbedtls inside the checkout, <arch> being what CMake's
# CMAKE_SYSTEM_PROCESSOR is for the build that uses it (`uname -m` natively; the toolchain files
# say aarch64 and armv7l). --arch picks the prefix and the toolchain file of toolchains/ for a
# cross build (armhf: .deps/armv7l/mbedtls with toolchains/arm-linux-gnueabihf.cmake).
# Re-running with the libraries already installed by the same recipe is a no-op; libraries built
# by an older recipe (other flags, another tools/mbedtls-config.h) are rebuilt.
#
# PREFIX/lib has the client-only libraries that rigagent and the tests link. PREFIX/lib-server
# has a second build with the TLS server and the debug module added (MBEDTLS_SSL_SRV_C,
# MBEDTLS_DEBUG_C), for rigagent-bench only: its LaneSwap stand-in is an Mbed TLS server
# (tools/bench/laneswap_heartbeat.cpp). Everything, the bench included, is compiled against the
# client configuration's headers (cmake/Dependencies.cmake); this script checks that the two
# configurations give the structures that callers allocate the same layout, and fails otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--arch" ]; then
  case "${2:-}" in
    aarch64|arm64) prefix=$here/.deps/aarch64/mbedtls; toolchain=$here/toolchains/aarch64-linux-gnu.cmake ;;
    armhf|armv7l) prefix=$here/.deps/armv7l/mbedtls; toolchain=$here/toolchains/arm-linux-gnueabihf.cmake ;;
    "$(uname -m)") prefix=$here/.deps/$(uname -m)/mbedtls; toolchain= ;;
    *) echo "build-mbedtls: --arch takes aarch64, armhf or $(uname -m)" >&2; exit 2 ;;
  esac
else
  prefix=${1:-$here/.deps/$(uname -m)/mbedtls}
  toolchain=${2:-}
fi
# Both are used from a temporary directory.
prefix=$(realpath -m "$prefix")
[ -z "$toolchain" ] || toolchain=$(realpath "$toolchain")

# The recipe: -Os (the firmware's size budget), every function and datum in its own section so
# that --gc-sections drops what rigagent does not use, static libraries only, no programs and no
# tests, and tools/mbedtls-config.h as the configuration (it becomes include/mbedtls/config.h of
# the source tree, so the library and the installed headers agree). A change to the recipe must
# change this line, so that existing builds are redone.
config=$here/tools/mbedtls-config.h
server_defs="-DMBEDTLS_SSL_SRV_C -DMBEDTLS_DEBUG_C"
recipe="mbedtls MinSizeRel -ffunction-sections -fdata-sections static; lib-server: $server_defs; $(md5sum <"$config" | cut -c1-12)"
# The toolchain files are part of it (armhf's sets a 64-bit time_t).
[ -z "$toolchain" ] || recipe+="; toolchain $(cat "$toolchain" "$here/toolchains/debian-cross.cmake" | md5sum | cut -c1-12)"
stamp=$prefix/rigagent-recipe.txt
libs=(libmbedtls.a libmbedx509.a libmbedcrypto.a)
have=1
for l in "${libs[@]}"; do [ -f "$prefix/lib/$l" ] && [ -f "$prefix/lib-server/$l" ] || have=0; done
if [ "$have" -eq 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
  echo "build-mbedtls: $prefix already has ${libs[*]}"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "build-mbedtls: fetching Debian source package mbedtls"
apt-get source -qq mbedtls >/dev/null 2>&1 || {
  echo "build-mbedtls: 'apt-get source mbedtls' failed; run tools/setup-host.sh first (it enables deb-src)" >&2
  exit 1
}
src=$(find . -maxdepth 1 -type d -name 'mbedtls-*' | head -n1)
cp "$config" "$src/include/mbedtls/config.h"

# Installed next to PREFIX first and moved into place at the end, so that a build that uses
# PREFIX meanwhile never sees half a library.
staging=$prefix.new.$$
args=(
  -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INSTALL_PREFIX="$staging" -DLIB_INSTALL_DIR=lib
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF
  -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF
)
[ -z "$toolchain" ] || args+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain")
cflags="-ffunction-sections -fdata-sections"

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
build() {  # build DIR EXTRA_CFLAGS
  # CFLAGS through the environment: CMake adds it to the toolchain file's CMAKE_C_FLAGS_INIT.
  CFLAGS="$cflags${2:+ $2}" cmake -S "$src" -B "$1" "${gen[@]}" "${args[@]}" >"$1.cmake.log" 2>&1 ||
    { tail -30 "$1.cmake.log" >&2; exit 1; }
  cmake --build "$1" -j"$(nproc)" >"$1.build.log" 2>&1 || { tail -30 "$1.build.log" >&2; exit 1; }
}
echo "build-mbedtls: configuring ($src -> $prefix${toolchain:+, toolchain $(basename "$toolchain")})"
build build
echo "build-mbedtls: the variant with the TLS server, for rigagent-bench ($server_defs)"
build build-server "$server_defs"

# The layouts: every object is compiled against the client configuration, so the variant must
# agree with it on the structures that callers allocate (rigagent: entropy, CTR_DRBG, X.509
# certificate, SSL configuration and context; the bench: a PK key too). MBEDTLS_SSL_SRV_C adds
# one flag to mbedtls_ssl_config (cert_req_ca_list, the last of its one-byte flags); it must
# fall into padding, which the size of the structure and the offset of the next member show.
# The sizes are read with nm from arrays of those sizes, so that this works for a cross build.
cc=$(sed -n 's/^set(CMAKE_C_COMPILER "\(.*\)")$/\1/p' build/CMakeFiles/*/CMakeCCompiler.cmake)
nm=$(sed -n 's/^CMAKE_NM:[A-Z]*=//p' build/CMakeCache.txt)
cache_cflags=$(sed -n 's/^CMAKE_C_FLAGS:[A-Z]*=//p' build/CMakeCache.txt)  # with the toolchain's
if [ -z "$cc" ] || [ -z "$nm" ]; then
  echo "build-mbedtls: no C compiler or nm in the CMake build of Mbed TLS" >&2
  exit 1
fi
cat >probe.c <<'C'
#include <stddef.h>
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#define SIZE(name, n) char rig_layout_##name[(n) + 1];
SIZE(entropy, sizeof(mbedtls_entropy_context))
SIZE(ctr_drbg, sizeof(mbedtls_ctr_drbg_context))
SIZE(pk, sizeof(mbedtls_pk_context))
SIZE(x509_crt, sizeof(mbedtls_x509_crt))
SIZE(ssl_session, sizeof(mbedtls_ssl_session))
SIZE(ssl_config, sizeof(mbedtls_ssl_config))
SIZE(ssl_config_read_timeout, offsetof(mbedtls_ssl_config, read_timeout))
SIZE(ssl_context, sizeof(mbedtls_ssl_context))
C
layout() {  # layout EXTRA_CFLAGS: "name size" per line
  # shellcheck disable=SC2086
  "$cc" -c $cache_cflags -I"$src/include" $1 probe.c -o probe.o && "$nm" -S --defined-only probe.o | awk '/rig_layout_/ {print $4, $2}' | sort
}
client_layout=$(layout "") || exit 1
server_layout=$(layout "$server_defs") || exit 1
if [ "$client_layout" != "$server_layout" ] || [ -z "$client_layout" ]; then
  echo "build-mbedtls: the server variant lays out Mbed TLS's structures differently:" >&2
  diff <(echo "$client_layout") <(echo "$server_layout") >&2 || true
  exit 1
fi

rm -rf "$staging"
cmake --install build >install.log 2>&1 || { tail -30 install.log >&2; rm -rf "$staging"; exit 1; }
mkdir -p "$staging/lib-server"
for l in "${libs[@]}"; do cp "build-server/library/$l" "$staging/lib-server/$l"; done
echo "$recipe" >"$staging/rigagent-recipe.txt"
mkdir -p "$(dirname "$prefix")"
rm -rf "$prefix.old.$$"
[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old.$$"
mv "$staging" "$prefix"
rm -rf "$prefix.old.$$"
echo "build-mbedtls: installed ${libs[*]} in $prefix/lib (and lib-server/)"
