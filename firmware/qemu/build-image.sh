#!/usr/bin/env bash
# Builds rigagent's minimal bootable QEMU test image: Debian's stock kernel plus an initramfs of
# busybox-static, the static rigagent, the guest's /init (firmware/qemu/init), /etc/hosts and
# /etc/rigagent/config.json (the qemu-virt board, RpcService on every guest interface).
#
#   firmware/qemu/build-image.sh ARCH RIGAGENT OUTDIR
#     ARCH      arm64 (qemu-system-aarch64 -M virt, Debian's linux-image-arm64)
#               or armhf (qemu-system-arm -M virt,highmem=off, Debian's linux-image-armmp)
#     RIGAGENT  the static rigagent binary for ARCH
#     OUTDIR    gets vmlinuz, initrd.img, cmdline, kernel-release, manifest
#   firmware/qemu/run.sh OUTDIR boots it.
#
# The kernel and busybox-static come from Debian's registry as .debs of the target architecture
# (`apt-get download`, so `dpkg --add-architecture arm64` / `armhf` and `apt-get update` first),
# unpacked with dpkg-deb, never installed. They are kept in $RIGAGENT_QEMU_CACHE (default
# .deps/qemu in the checkout, ignored by git): the candidate version is downloaded once; with no
# registry at hand, the newest cached .deb is used. RIGAGENT_QEMU_KERNEL_DEB and
# RIGAGENT_QEMU_BUSYBOX_DEB name .deb files to use instead. No root needed.
# Fails (exit 1, saying what is missing) if the kernel or busybox cannot be obtained.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "build-image: $*" >&2; exit 1; }
[ $# -eq 3 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
arch=$1 rigagent=$2 out=$3

case $arch in
  arm64) kmeta=linux-image-arm64 kflavour=arm64 elf="ARM aarch64" ;;
  armhf) kmeta=linux-image-armmp kflavour=armmp elf="32-bit LSB.*ARM," ;;
  *) die "ARCH must be arm64 or armhf, not '$arch'" ;;
esac
[ -f "$rigagent" ] || die "no rigagent binary at $rigagent"
if command -v file >/dev/null; then
  desc=$(file -L "$rigagent")
  echo "$desc" | grep -Eq "$elf" || die "$rigagent is not a $arch binary: $desc"
  echo "$desc" | grep -q "statically linked" || die "$rigagent is not statically linked: $desc"
fi
py=/usr/bin/python3
[ -x $py ] || py=$(command -v python3) || die "python3 is needed"

cache=${RIGAGENT_QEMU_CACHE:-$repo/.deps/qemu}
mkdir -p "$cache" "$out"

# What the package index offers, in one apt-cache call (it takes seconds where apt keeps no binary
# cache): the kernel flavour's meta-package names the exact linux-image-<abi>-<flavour> and version.
index=$(apt-cache show --no-all-versions "$kmeta:$arch" "busybox-static:$arch" 2>/dev/null || true)
kpkg=$(echo "$index" | sed -n "s/^Depends: .*\(linux-image-[0-9][^ ,:]*-$kflavour\)\(:$arch\)\{0,1\} (= \([^)]*\)).*/\1 \3/p" | head -n1)
bver=$(echo "$index" | awk '/^Package: busybox-static$/ {p = 1} p && /^Version: / {print $2; exit}')

# fetch PACKAGE VERSION ARCH -> the path of its .deb in the cache, downloaded if not there yet; with
# no VERSION (the index does not know the package), the newest cached .deb of it.
fetch() {
  local pkg=$1 ver=$2 a=$3 file
  if [ -n "$ver" ]; then
    file="$cache/${pkg}_${ver//:/%3a}_$a.deb"
    if [ ! -s "$file" ]; then
      echo "build-image: downloading $pkg:$a $ver" >&2
      (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg:$a=$ver" >&2) ||
        die "apt-get download $pkg:$a=$ver failed"
      [ -s "$file" ] || die "apt-get download left no $file"
    fi
  else
    file=$(ls -1 "$cache"/${pkg}_*_"$a".deb 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$file" ] || die "cannot get $pkg:$a: the package index does not know it and $cache has no copy.
  Run: dpkg --add-architecture $a && apt-get update   (then run this again)"
    echo "build-image: $pkg:$a is not in the package index; using the cached $(basename "$file")" >&2
  fi
  echo "$file"
}

if [ -n "${RIGAGENT_QEMU_KERNEL_DEB:-}" ]; then
  kdeb=$RIGAGENT_QEMU_KERNEL_DEB
elif [ -n "$kpkg" ]; then
  kdeb=$(fetch ${kpkg% *} "${kpkg#* }" "$arch")
else
  kdeb=$(fetch "linux-image-[0-9]*-$kflavour" "" "$arch")
fi
bdeb=${RIGAGENT_QEMU_BUSYBOX_DEB:-$(fetch busybox-static "$bver" "$arch")}
[ -s "$kdeb" ] || die "no kernel package at $kdeb"
[ -s "$bdeb" ] || die "no busybox-static package at $bdeb"

# What the image needs from the two packages, unpacked once per .deb into the cache: busybox, and
# the kernel with only the modules the image loads (a whole unpacked arm64 kernel is ~500 MB).
# virtio-mmio transport (the virt machine's virtio-*-device), the network card and the RNG.
want_modules="virtio_mmio virtio_net virtio_rng"
unpack() {  # DEB [MODULES] -> the directory
  local deb=$1 dir="$cache/unpacked/$(basename "$1" .deb)" tmp
  if [ ! -f "$dir/.done" ] || [ "$(cat "$dir/.done")" != "${2:-}" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tmp=$(mktemp -d "$cache/unpacked/tmp.XXXXXX")
    dpkg-deb -x "$deb" "$tmp" || { rm -rf "$tmp"; die "dpkg-deb -x $deb failed"; }
    if [ -n "${2:-}" ]; then
      local rel m
      rel=$(ls -1 "$tmp/lib/modules" 2>/dev/null | head -n1)
      [ -n "$rel" ] && [ -f "$tmp/boot/vmlinuz-$rel" ] || { rm -rf "$tmp"; die "$deb has no /boot/vmlinuz-* with modules"; }
      mkdir -p "$dir/boot" "$dir/lib/modules/$rel"
      cp "$tmp/boot/vmlinuz-$rel" "$dir/boot/"
      for m in $($py "$here/mkinitramfs.py" modules "$tmp/lib/modules/$rel" $2); do
        mkdir -p "$dir/lib/modules/$rel/$(dirname "$m")"
        cp "$tmp/lib/modules/$rel/$m" "$dir/lib/modules/$rel/$m"
      done
    else
      mv "$tmp"/* "$dir/"
    fi
    rm -rf "$tmp"
    echo "${2:-}" > "$dir/.done"
  fi
  echo "$dir"
}
mkdir -p "$cache/unpacked"
kdir=$(unpack "$kdeb" "$want_modules")
bdir=$(unpack "$bdeb")

krel=$(ls -1 "$kdir/lib/modules" | head -n1)
[ -n "$krel" ] && [ -f "$kdir/boot/vmlinuz-$krel" ] || die "$kdeb has no /boot/vmlinuz-* with modules"
[ -x "$bdir/bin/busybox" ] || die "$bdeb has no /bin/busybox"
moddir="$kdir/lib/modules/$krel"
modules=$($py "$here/mkinitramfs.py" modules "$moddir" $want_modules)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' $modules > "$work/modules"
{
  for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /run /tmp /root /etc /etc/rigagent \
           /etc/rigagent-qemu /lib /lib/modules "/lib/modules/$krel"; do
    echo "dir $d 0755"
  done
  for m in $modules; do
    p=/lib/modules/$krel
    for part in $(dirname "$m" | tr / ' '); do p=$p/$part; echo "dir $p 0755"; done
    echo "file /lib/modules/$krel/$m 0644 $moddir/$m"
  done | sort -u
  echo "nod /dev/console 0600 c 5 1"
  echo "nod /dev/null 0666 c 1 3"
  echo "file /init 0755 $here/init"
  echo "file /bin/busybox 0755 $bdir/bin/busybox"
  echo "slink /bin/sh busybox"
  echo "file /usr/bin/rigagent 0755 $rigagent"
  echo "file /etc/hosts 0644 $here/hosts"
  echo "file /etc/passwd 0644 $here/passwd"
  echo "file /etc/group 0644 $here/group"
  echo "file /etc/rigagent/config.json 0644 $here/config.json"
  echo "file /etc/rigagent-qemu/modules 0644 $work/modules"
} > "$work/spec"
$py "$here/mkinitramfs.py" "$out/initrd.img" "$work/spec"
cp "$kdir/boot/vmlinuz-$krel" "$out/vmlinuz"
echo "$krel" > "$out/kernel-release"
echo "console=ttyAMA0 panic=-1 quiet" > "$out/cmdline"
echo "$arch" > "$out/arch"
{
  echo "arch $arch"
  echo "kernel $(basename "$kdeb")"
  echo "busybox $(basename "$bdeb")"
  echo "rigagent $(cd "$(dirname "$rigagent")" && pwd)/$(basename "$rigagent") $(stat -c %s "$rigagent") bytes"
  echo "modules $(echo $modules)"
  echo "initrd $(stat -c %s "$out/initrd.img") bytes"
} > "$out/manifest"
echo "build-image: $out: vmlinuz ($krel, $(stat -c %s "$out/vmlinuz") bytes), initrd.img ($(stat -c %s "$out/initrd.img") bytes)"
