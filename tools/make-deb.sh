#!/usr/bin/env bash
# Builds rigagent_<version>_<arch>.deb from a static rigagent binary (any architecture: nothing is
# run), the install layout in firmware/rootfs/ and the maintainer scripts in firmware/deb/.
#
#   tools/make-deb.sh [--arch amd64|arm64|armhf] [--version V] [--out DIR] [--strip] BINARY
#
# --arch     checked against the binary's ELF header (default: taken from it)
# --version  default: the CMake project VERSION (what `rigagent --version` prints)
# --out      where the .deb goes (default: the current directory)
# --strip    strip a copy of the binary first (the right binutils for the architecture)
# Environment: SOURCE_DATE_EPOCH (default: the last commit's time) makes the .deb reproducible;
# DEB_MAINTAINER overrides the Maintainer field.
#
# Layout of the package (modes as installed, every file root:root):
#   /usr/bin/rigagent                                0755  the static binary
#   /lib/systemd/system/rigagent.service             0644  Type=notify, watchdog, sandboxed
#   /usr/lib/sysusers.d/rigagent.conf                0644  user rigagent in group gpio
#   /lib/udev/rules.d/60-rigagent-gpio.rules         0644  /dev/gpiochip* for group gpio
#   /usr/share/rigagent/config.json                  0644  the default configuration; postinst
#                                                          copies it to /etc/rigagent/config.json
#                                                          (first install only, board detected)
#   /usr/share/doc/rigagent/{README.md,copyright,changelog.gz}
#   /usr/share/lintian/overrides/rigagent                  static on purpose
# No conffiles: /etc/rigagent/config.json belongs to the postinst (see firmware/README.md).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
rootfs=$here/firmware/rootfs
debdir=$here/firmware/deb

die() { echo "make-deb: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

arch="" version="" out="." strip=0 binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --strip) strip=1; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$binary" ] || die "one binary only"; binary=$1; shift ;;
  esac
done
[ -n "$binary" ] || usage
[ -f "$binary" ] || die "$binary: no such file"

# The Debian architecture of an ELF binary, from its header: class, byte order, machine and, for
# 32-bit ARM, the hard-float flag (armhf; soft-float armel is not a target).
elf_arch() {
  local f=$1 magic cls data machine flags
  magic=$(od -An -tx1 -N4 "$f" | tr -d ' \n')
  [ "$magic" = 7f454c46 ] || { echo "not-elf"; return; }
  cls=$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')
  data=$(od -An -tu1 -j5 -N1 "$f" | tr -d ' ')
  [ "$data" = 1 ] || { echo "big-endian"; return; }
  machine=$(od -An -tu2 --endian=little -j18 -N2 "$f" | tr -d ' ')
  case "$cls:$machine" in
    2:62) echo amd64 ;;
    2:183) echo arm64 ;;
    1:40)
      flags=$(od -An -tu4 --endian=little -j36 -N4 "$f" | tr -d ' ')
      if [ $((flags & 0x400)) -ne 0 ]; then echo armhf; else echo armel; fi ;;
    1:3) echo i386 ;;
    *) echo "elf-class$cls-machine$machine" ;;
  esac
}

bin_arch=$(elf_arch "$binary")
case "$bin_arch" in
  amd64|arm64|armhf) ;;
  not-elf) die "$binary is not an ELF executable" ;;
  *) die "$binary is for $bin_arch; rigagent packages are built for amd64, arm64 and armhf" ;;
esac
if [ -z "$arch" ]; then
  arch=$bin_arch
else
  case "$arch" in amd64|arm64|armhf) ;; *) die "--arch must be amd64, arm64 or armhf (got '$arch')" ;; esac
  [ "$arch" = "$bin_arch" ] || die "--arch $arch, but $binary is an $bin_arch binary"
fi
# A dynamic binary would need Depends; this package promises none.
if command -v readelf >/dev/null && readelf -lW "$binary" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die "$binary is dynamically linked; the package has no Depends and needs the static build (RIGAGENT_STATIC=ON)"
fi

if [ -z "$version" ]; then
  version=$(sed -n 's/^project(rigagent VERSION \([0-9][0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
  [ -n "$version" ] || die "cannot read the project VERSION from CMakeLists.txt; pass --version"
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "'$version' is not a Debian version"
upstream=${version%%[-+~]*}
grep -aqF "$upstream" "$binary" || echo "make-deb: warning: $binary does not contain the version string '$upstream' (an old build?)" >&2

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
maintainer=${DEB_MAINTAINER:-$(git -C "$here" log -1 --format='%an <%ae>' 2>/dev/null || echo "rigagent maintainers <rigagent@localhost>")}

mkdir -p "$out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/rigagent-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
umask 022

install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" \
  "$stage/lib/udev/rules.d" "$stage/usr/share/rigagent" "$stage/usr/share/doc/rigagent"
install -m 0755 "$binary" "$stage/usr/bin/rigagent"
if [ "$strip" = 1 ]; then
  case "$arch" in
    amd64) s="strip" ;;
    arm64) s=aarch64-linux-gnu-strip ;;
    armhf) s=arm-linux-gnueabihf-strip ;;
  esac
  command -v "$s" >/dev/null || s="strip"
  "$s" --strip-all "$stage/usr/bin/rigagent" 2>/dev/null || die "$s cannot strip an $arch binary (install binutils-multiarch or the cross binutils)"
fi
install -m 0644 "$rootfs/lib/systemd/system/rigagent.service" "$stage/lib/systemd/system/"
install -m 0644 "$rootfs/usr/lib/sysusers.d/rigagent.conf" "$stage/usr/lib/sysusers.d/"
install -m 0644 "$rootfs/lib/udev/rules.d/60-rigagent-gpio.rules" "$stage/lib/udev/rules.d/"
install -m 0644 "$rootfs/etc/rigagent/config.json" "$stage/usr/share/rigagent/config.json"
install -m 0644 "$here/firmware/README.md" "$stage/usr/share/doc/rigagent/README.md"
cat > "$stage/usr/share/doc/rigagent/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rigagent

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) the rigagent authors
License: see the rigagent source repository
EOF
chmod 0644 "$stage/usr/share/doc/rigagent/copyright"
install -d -m 0755 "$stage/usr/share/lintian/overrides"
cat > "$stage/usr/share/lintian/overrides/rigagent" <<'EOF'
# Static on purpose: one self-contained binary per architecture for every board and OS release,
# no Depends. Mbed TLS (HTTPS to LaneSwap) is Debian's own source, built client-only (tools/build-mbedtls.sh).
rigagent: statically-linked-binary [usr/bin/rigagent]
rigagent: embedded-library mbedtls [usr/bin/rigagent]
EOF
chmod 0644 "$stage/usr/share/lintian/overrides/rigagent"
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
printf 'rigagent (%s) unstable; urgency=medium\n\n  * Built from the rigagent source tree by tools/make-deb.sh.\n\n -- %s  %s\n' \
  "$version" "$maintainer" "$changelog_date" | gzip -9n > "$stage/usr/share/doc/rigagent/changelog.gz"
chmod 0644 "$stage/usr/share/doc/rigagent/changelog.gz"

for s in postinst prerm postrm; do install -m 0755 "$debdir/$s" "$stage/DEBIAN/$s"; done
# Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per directory or link.
installed_size=$(cd "$stage" && find . -path ./DEBIAN -prune -o ! -name . -printf '%y %s\n' |
  awk '{ if ($1 == "f") t += int(($2 + 1023) / 1024); else t += 1 } END { print t }')
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@INSTALLED_SIZE@|$installed_size|" "$debdir/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/rigagent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "make-deb: $deb ($(stat -c %s "$deb") bytes; rigagent $(stat -c %s "$stage/usr/bin/rigagent") bytes, $arch, version $version)"
