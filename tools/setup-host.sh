#!/usr/bin/env bash
# Installs what building and testing rigagent needs on Debian bookworm (run as root, or with sudo).
# Idempotent: a second run with everything present does nothing but check.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates dpkg-dev
  libasio-dev cppzmq-dev libzmq3-dev nlohmann-json3-dev libmsgpack-cxx-dev
  libmbedtls-dev libcmocka-dev
  python3 python3-zmq python3-msgpack openssl
  serf
  fdisk dosfstools e2fsprogs systemd strace
  clang libclang-rt-dev
)

need=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# libzmq is built statically from Debian's own source package (see tools/build-libzmq.sh),
# so the deb-src index must be enabled.
src_list=/etc/apt/sources.list.d/rigagent-src.sources
have_src=0
grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && have_src=1
grep -qs '^deb-src' /etc/apt/sources.list && have_src=1
if [ "$have_src" -eq 0 ]; then
  echo "setup: enabling deb-src for bookworm ($src_list)"
  $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi

if [ "${#need[@]}" -gt 0 ] || [ "${need_update:-0}" -eq 1 ]; then
  echo "setup: apt-get update"
  $SUDO apt-get update -qq
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
echo "setup: host packages present"
