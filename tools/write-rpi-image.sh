#!/usr/bin/env bash
# Writes rigagent into an existing Raspberry Pi OS image file (its root partition, ext4), without
# mounting anything and without root: e2fsprogs' debugfs edits the filesystem inside the file.
#
#   tools/write-rpi-image.sh [OPTIONS] IMAGE BINARY
#
# IMAGE   a raw disk image (e.g. 2024-11-19-raspios-bookworm-arm64-lite.img, unpacked: xz -dk)
# BINARY  the static rigagent for the image's architecture (aarch64 for 64-bit Raspberry Pi OS,
#         armhf for 32-bit), e.g. build/rpi4/agent/rigagent
#
# Options:
#   --board NAME     "board" in the installed /etc/rigagent/config.json (default rpi4): rpi4, rpi5,
#                    jetson-orin-nano, qemu-virt, sim. An image runs on any Pi, so say which.
#                    With a configuration already in the image, only its "board" line is changed,
#                    and only when --board is given.
#   --config FILE    install this configuration instead (replaces one already in the image)
#   --partition N    the root partition (default 2)
#   --in-place       edit the partition inside IMAGE (debugfs at an offset) instead of copying it
#                    out, editing the copy and writing it back: no temporary space and about twice
#                    as fast on a big image, but an interrupted run can leave IMAGE half-written
#   --force          write even when BINARY's architecture does not match the image's userland
#   --tmpdir DIR     where the partition copy goes (default $TMPDIR or /tmp; needs its size free)
#
# What lands in the image (all root:root unless said):
#   /usr/bin/rigagent                                   0755
#   /etc/rigagent/config.json                           0644  kept if present (unless --config)
#   /lib/systemd/system/rigagent.service                0644
#   /etc/systemd/system/multi-user.target.wants/rigagent.service -> /lib/systemd/system/rigagent.service
#   /usr/lib/sysusers.d/rigagent.conf, /lib/udev/rules.d/60-rigagent-gpio.rules,
#   /usr/share/rigagent/config.json, /usr/share/doc/rigagent/README.md          0644
#   user rigagent (system uid, group rigagent, member of gpio) in /etc/passwd, /etc/group,
#   /etc/shadow, /etc/gshadow: written directly, so it exists from the first boot (see
#   firmware/README.md for why not systemd-sysusers at boot)
# Running it again replaces the binary and the unit, keeps the configuration and the user.
# Needs: sfdisk (fdisk), debugfs/e2fsck/dumpe2fs (e2fsprogs), dd, python3.
set -euo pipefail
export DEBUGFS_PAGER=__none__ PAGER=cat LC_ALL=C

here=$(cd "$(dirname "$0")/.." && pwd)
rootfs=$here/firmware/rootfs

die() { echo "write-rpi-image: error: $*" >&2; exit 1; }
warn() { echo "write-rpi-image: warning: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

board=rpi4 board_given=0 config="" partno=2 in_place=0 force=0 tmpdir=${TMPDIR:-/tmp} image="" binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board=${2:?--board needs a name}; board_given=1; shift 2 ;;
    --config) config=${2:?--config needs a file}; shift 2 ;;
    --partition) partno=${2:?--partition needs a number}; shift 2 ;;
    --in-place) in_place=1; shift ;;
    --force) force=1; shift ;;
    --tmpdir) tmpdir=${2:?--tmpdir needs a directory}; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      if [ -z "$image" ]; then image=$1; elif [ -z "$binary" ]; then binary=$1; else die "unexpected argument '$1'"; fi
      shift ;;
  esac
done
[ -n "$image" ] && [ -n "$binary" ] || usage
[ -e "$image" ] && image=$(realpath "$image")
[ -e "$binary" ] && binary=$(realpath "$binary")
[[ "$partno" =~ ^[1-9][0-9]*$ ]] || die "--partition must be a partition number"
[[ "$board" =~ ^[A-Za-z0-9._/-]+$ ]] || die "--board '$board' is not a board name or path"
for t in sfdisk debugfs e2fsck dumpe2fs dd python3 od; do
  command -v "$t" >/dev/null || die "$t is missing (Debian: apt-get install fdisk e2fsprogs coreutils python3)"
done

# Progress: one numbered line per step with the time since the start; dd shows its own.
total_steps=7
step_no=0
t_start=${EPOCHREALTIME/./}
elapsed() { local us=$(( ${EPOCHREALTIME/./} - t_start )); printf '%d.%d s' $((us / 1000000)) $((us / 100000 % 10)); }
step() {
  step_no=$((step_no + 1))
  printf '[%d/%d] %-52s %s\n' "$step_no" "$total_steps" "$*" "$(elapsed)"
}

# ----------------------------------------------------------------------------------------------
# Helpers over debugfs. $FS is the filesystem: a partition copy, or "IMAGE?offset=N" in place.

# Runs debugfs commands (stdin) read-write; any message on stderr but the version banner is an
# error (debugfs itself exits 0 whatever happens).
dbg_w() {
  local err
  err=$(debugfs -w -f - "$FS" 2>&1 >/dev/null | grep -v '^debugfs [0-9.]* (' || true)
  [ -z "$err" ] || die "debugfs: $err"
}
dbg_r() { debugfs -R "$1" "$FS" 2>/dev/null; }
# "type mode uid gid size" of PATH (type: regular, directory, symlink, ...), empty when absent.
inode_info() {
  dbg_r "stat \"$1\"" | awk '
    /^Inode:/ { for (i = 1; i <= NF; i++) { if ($i == "Type:") t = $(i+1); if ($i == "Mode:") m = $(i+1) } }
    /^User:/ { u = $2; g = $4; for (i = 1; i <= NF; i++) if ($i == "Size:") s = $(i+1) }
    END { if (t != "") print t, m, u, g, s }'
}
exists() { [ -n "$(inode_info "$1")" ]; }
# The real path of an existing directory (symlinks such as /lib -> usr/lib resolved): debugfs's
# cd follows links, its pwd prints the path the inode really has.
real_dir() {
  local out
  out=$(debugfs -f - "$FS" 2>"$work/real_dir.err" <<EOF
cd "$1/."
pwd
EOF
)
  grep -qv '^debugfs [0-9.]* (' "$work/real_dir.err" && return 0  # cd failed: absent, or not a directory
  sed -n 's/^\[pwd\].*PATH: //p' <<<"$out"
}
# mkdir -p, 0755 root:root for what it creates; prints the real path.
mkdir_p() {
  local path=$1 cur="" comp real
  IFS=/ read -ra parts <<<"${path#/}"
  for comp in "${parts[@]}"; do
    [ -n "$comp" ] || continue
    real=$(real_dir "$cur/$comp")
    if [ -n "$real" ]; then
      cur=${real%/}
    else
      exists "$cur/$comp" && die "$cur/$comp exists in the image and is not a directory"
      dbg_w <<EOF
mkdir "$cur/$comp"
set_inode_field "$cur/$comp" mode 040755
set_inode_field "$cur/$comp" uid 0
set_inode_field "$cur/$comp" gid 0
EOF
      cur="$cur/$comp"
    fi
  done
  echo "${cur:-/}"
}
# install_file SRC DEST MODE UID GID: replaces DEST (a new inode), sets mode and owner.
install_file() {
  local src=$1 dest=$2 mode=$3 uid=$4 gid=$5 dir name
  dir=$(mkdir_p "$(dirname "$dest")")
  name=$(basename "$dest")
  local rm=""
  exists "$dir/$name" && rm="rm \"$dir/$name\""
  dbg_w <<EOF
$rm
write "$src" "$dir/$name"
set_inode_field "$dir/$name" mode 0100$mode
set_inode_field "$dir/$name" uid $uid
set_inode_field "$dir/$name" gid $gid
EOF
  printf '      %-62s %04o %s:%s %9d bytes\n' "$dest" "0$mode" "$uid" "$gid" "$(stat -c %s "$src")"
}

# The Debian architecture of an ELF file (see tools/make-deb.sh).
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

# ----------------------------------------------------------------------------------------------
step "checking $(basename "$image")"
[ -e "$image" ] || die "$image: no such file"
[ -f "$image" ] || die "$image is not a regular file (write to an image file, not a device)"
[ -r "$image" ] && [ -w "$image" ] || die "$image: need read and write permission"
[ -f "$binary" ] || die "$binary: no such file"
case "$(od -An -tx1 -N6 "$image" | tr -d ' \n')" in
  fd377a585a00*) die "$image is xz-compressed: unpack it first (xz -dk $image)" ;;
  1f8b*) die "$image is gzip-compressed: unpack it first (gunzip -k $image)" ;;
  504b0304*) die "$image is a zip archive: unpack it first (unzip $image)" ;;
  28b52ffd*) die "$image is zstd-compressed: unpack it first (zstd -dk $image)" ;;
esac
bin_arch=$(elf_arch "$binary")
case "$bin_arch" in
  amd64|arm64|armhf) ;;
  not-elf) die "$binary is not an ELF executable" ;;
  *) die "$binary is for $bin_arch, not amd64, arm64 or armhf" ;;
esac
if command -v readelf >/dev/null && readelf -lW "$binary" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die "$binary is dynamically linked; write the static build (RIGAGENT_STATIC=ON)"
fi
if [ -n "$config" ]; then
  [ -f "$config" ] || die "--config $config: no such file"
fi

# The partition table, as sfdisk reads it from the file (no loop device, no root).
ptable=$(sfdisk --json "$image" 2>/dev/null) || die "$image has no partition table sfdisk can read (not a disk image?)"
read -r part_start part_size part_type sector label < <(python3 -c '
import json, re, sys
t = json.loads(sys.argv[1])["partitiontable"]
want = int(sys.argv[2])
for p in t.get("partitions", []):
    m = re.search(r"(\d+)$", p["node"])
    if m and int(m.group(1)) == want:
        print(p["start"], p["size"], p.get("type", "?"), t.get("sectorsize", 512), t.get("label", "?"))
        break
else:
    print("none 0 0", t.get("sectorsize", 512), t.get("label", "?"))
' "$ptable" "$partno")
[ "$part_start" != none ] || die "$image has no partition $partno (a Raspberry Pi OS image has its root filesystem on partition 2)"
offset=$((part_start * sector))
bytes=$((part_size * sector))
image_size=$(stat -c %s "$image")
[ $((offset + bytes)) -le "$image_size" ] || die "partition $partno ends beyond the end of $image (a truncated download?)"
magic=$(od -An -tx1 -j $((offset + 1080)) -N2 "$image" | tr -d ' \n')
[ "$magic" = 53ef ] || die "partition $partno of $image is not an ext4 filesystem (no ext2/3/4 superblock; type $part_type)"
printf '      %s label, partition %d: %d MiB at byte %d (type %s), ext4\n' "$label" "$partno" $((bytes / 1048576)) "$offset" "$part_type"

# ----------------------------------------------------------------------------------------------
work=$(mktemp -d "$tmpdir/rigagent-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "$in_place" = 1 ]; then
  step "using partition $partno in place (offset $offset)"
  FS="$image?offset=$offset"
else
  step "copying partition $partno out ($((bytes / 1048576)) MiB)"
  avail=$(df -B1 --output=avail "$work" | tail -1)
  [ "$avail" -gt "$bytes" ] || die "$work has $((avail / 1048576)) MiB free, the partition needs $((bytes / 1048576)) MiB (use --tmpdir or --in-place)"
  dd if="$image" of="$work/root.ext4" bs=4M iflag=skip_bytes,count_bytes skip="$offset" count="$bytes" \
    conv=sparse status=progress
  FS="$work/root.ext4"
fi

# The filesystem must be clean before anything is written to it.
fsck_out=$(e2fsck -fn "$FS" 2>&1) || die "the root filesystem is not clean before writing (e2fsck -fn):
$fsck_out"
block_size=$(dumpe2fs -h "$FS" 2>/dev/null | sed -n 's/^Block size: *//p')
free_blocks=$(dumpe2fs -h "$FS" 2>/dev/null | sed -n 's/^Free blocks: *//p')
free_inodes=$(dumpe2fs -h "$FS" 2>/dev/null | sed -n 's/^Free inodes: *//p')
need=$(( $(stat -c %s "$binary") + 1048576 ))
[ $((free_blocks * block_size)) -gt "$need" ] && [ "$free_inodes" -gt 32 ] ||
  die "the root filesystem has $((free_blocks * block_size / 1024)) KiB free; rigagent needs $((need / 1024)) KiB (grow the image: truncate -s +64M, then grow partition $partno and resize2fs)"

# The image's userland, from one of its own executables: the unit's SystemCallArchitectures=native
# kills a binary of another architecture, so a mismatch is an error.
for probe in /usr/bin/true /bin/true /usr/bin/dpkg /bin/busybox; do
  if exists "$probe" && [ "$(inode_info "$probe" | cut -d' ' -f1)" = regular ]; then
    debugfs -R "dump \"$probe\" $work/probe" "$FS" >/dev/null 2>&1 || continue
    image_arch=$(elf_arch "$work/probe")
    break
  fi
done
if [ -z "${image_arch:-}" ]; then
  warn "cannot tell the image's architecture (no /usr/bin/true): not checking $binary ($bin_arch) against it"
elif [ "$image_arch" != "$bin_arch" ]; then
  msg="$binary is $bin_arch but the image's userland is $image_arch (64-bit Raspberry Pi OS: arm64, 32-bit: armhf)"
  if [ "$force" = 1 ]; then
    warn "$msg; writing it anyway (--force)"
  else
    die "$msg; the unit allows native system calls only (--force to write it anyway)"
  fi
fi
printf '      binary %s (%s), image userland %s, %d MiB free\n' "$(basename "$binary")" "$bin_arch" \
  "${image_arch:-unknown}" $((free_blocks * block_size / 1048576))

# ----------------------------------------------------------------------------------------------
step "user rigagent in group gpio"
for f in passwd group; do exists "/etc/$f" || die "the image has no /etc/$f: is partition $partno a root filesystem?"; done
for f in passwd group shadow gshadow; do
  : > "$work/$f"
  exists "/etc/$f" && debugfs -R "dump /etc/$f $work/$f" "$FS" >/dev/null 2>&1
  cp "$work/$f" "$work/$f.orig"
done
days=$(( ${SOURCE_DATE_EPOCH:-$(date +%s)} / 86400 ))
# Like systemd-sysusers: a free system id from 999 down, the same number for the user and its
# group; gpio as Raspberry Pi OS has it, or a new system group; no password, no login shell.
ids=$(python3 - "$work" "$days" <<'PY'
import sys
work, days = sys.argv[1], sys.argv[2]
def read(name):
    with open(f"{work}/{name}") as f:
        return [l.rstrip("\n") for l in f if l.strip()]
passwd, group, shadow, gshadow = (read(n) for n in ("passwd", "group", "shadow", "gshadow"))
users = {l.split(":")[0]: l.split(":") for l in passwd}
groups = {l.split(":")[0]: l.split(":") for l in group}
used_uids = {int(f[2]) for f in users.values() if len(f) > 2 and f[2].isdigit()}
used_gids = {int(f[2]) for f in groups.values() if len(f) > 2 and f[2].isdigit()}
def free_id(taken):
    for i in range(999, 99, -1):
        if i not in taken:
            return i
    sys.exit("no free system id between 100 and 999")
notes = []
if "gpio" not in groups:
    gid = free_id(used_gids | used_uids)
    used_gids.add(gid)
    group.append(f"gpio:x:{gid}:")
    groups["gpio"] = group[-1].split(":")
    if gshadow: gshadow.append("gpio:!*::")
    notes.append(f"created group gpio ({gid})")
if "rigagent" in users:
    uid, gid = int(users["rigagent"][2]), int(users["rigagent"][3])
    notes.append(f"user rigagent exists ({uid})")
else:
    uid = free_id(used_uids | used_gids)
    if "rigagent" in groups:
        gid = int(groups["rigagent"][2])
    else:
        gid = uid
        group.append(f"rigagent:x:{gid}:")
        if gshadow: gshadow.append("rigagent:!*::")
    passwd.append(f"rigagent:x:{uid}:{gid}:rigagent daemon:/nonexistent:/usr/sbin/nologin")
    if shadow:  # an image without /etc/shadow does not get one
        shadow.append(f"rigagent:!*:{days}::::::")
    notes.append(f"created user rigagent ({uid}:{gid})")
def add_member(lines, idx):
    for n, l in enumerate(lines):
        f = l.split(":")
        if f[0] == "gpio":
            while len(f) <= idx: f.append("")
            members = [m for m in f[idx].split(",") if m]
            if "rigagent" not in members:
                members.append("rigagent")
                f[idx] = ",".join(members)
                lines[n] = ":".join(f)
                return True
    return False
if add_member(group, 3): notes.append("added rigagent to gpio")
add_member(gshadow, 3)
for name, lines in (("passwd", passwd), ("group", group), ("shadow", shadow), ("gshadow", gshadow)):
    with open(f"{work}/{name}", "w") as f:
        f.write("".join(l + "\n" for l in lines))
print(uid, gid, int(groups["gpio"][2]), "; ".join(notes))
PY
) || die "could not add the user: $ids"
read -r uid gid gpio_gid notes <<<"$ids"
for f in passwd group shadow gshadow; do
  cmp -s "$work/$f" "$work/$f.orig" && continue
  read -r type mode fuid fgid _ <<<"$(inode_info "/etc/$f")"
  [ "$type" = regular ] || die "/etc/$f in the image is a $type, not a regular file"
  mode=${mode#0}
  install_file "$work/$f" "/etc/$f" "$mode" "$fuid" "$fgid"
done
echo "      $notes"

# ----------------------------------------------------------------------------------------------
step "installing rigagent"
cp "$rootfs/etc/rigagent/config.json" "$work/config.default.json"
if [ -n "$config" ]; then
  cp "$config" "$work/config.json"
else
  sed "s|^  \"board\": \"[^\"]*\",|  \"board\": \"$board\",|" "$rootfs/etc/rigagent/config.json" > "$work/config.json"
  grep -q "^  \"board\": \"$board\"," "$work/config.json" || die "could not set the board in $rootfs/etc/rigagent/config.json"
fi
# The configuration, checked by the binary itself when it runs here (the same architecture, or
# an ARM binary through qemu-user's binfmt handler).
if "$binary" --version >/dev/null 2>&1; then
  "$binary" print-config --config "$work/config.json" >/dev/null 2>"$work/config.err" ||
    die "the configuration is not valid: $(cat "$work/config.err")"
  echo "      configuration checked (rigagent print-config)"
else
  warn "cannot run $binary here ($bin_arch) to check the configuration; check it on the board with rigagent print-config"
fi
install_file "$binary" /usr/bin/rigagent 755 0 0
if [ -n "$config" ] || ! exists /etc/rigagent/config.json; then
  install_file "$work/config.json" /etc/rigagent/config.json 644 0 0
elif [ "$board_given" = 1 ]; then
  debugfs -R "dump /etc/rigagent/config.json $work/config.image.json" "$FS" >/dev/null 2>&1
  grep -q '^  "board": "[^"]*",' "$work/config.image.json" ||
    die "the image's /etc/rigagent/config.json has no '  \"board\": \"...\",' line to change; pass --config FILE"
  sed -i "s|^  \"board\": \"[^\"]*\",|  \"board\": \"$board\",|" "$work/config.image.json"
  if "$binary" --version >/dev/null 2>&1; then
    "$binary" print-config --config "$work/config.image.json" >/dev/null 2>"$work/config.err" ||
      die "the image's configuration with board $board is not valid: $(cat "$work/config.err")"
  fi
  install_file "$work/config.image.json" /etc/rigagent/config.json 644 0 0
  echo "      kept the image's configuration, board set to $board"
else
  echo "      /etc/rigagent/config.json exists: kept (--board changes its board, --config replaces it)"
fi
install_file "$rootfs/lib/systemd/system/rigagent.service" /lib/systemd/system/rigagent.service 644 0 0
install_file "$rootfs/usr/lib/sysusers.d/rigagent.conf" /usr/lib/sysusers.d/rigagent.conf 644 0 0
install_file "$rootfs/lib/udev/rules.d/60-rigagent-gpio.rules" /lib/udev/rules.d/60-rigagent-gpio.rules 644 0 0
install_file "$work/config.default.json" /usr/share/rigagent/config.json 644 0 0
install_file "$here/firmware/README.md" /usr/share/doc/rigagent/README.md 644 0 0

# ----------------------------------------------------------------------------------------------
step "enabling rigagent.service"
wants=$(mkdir_p /etc/systemd/system/multi-user.target.wants)
link="$wants/rigagent.service"
rm_link=""
exists "$link" && rm_link="rm \"$link\""
dbg_w <<EOF
$rm_link
symlink "$link" /lib/systemd/system/rigagent.service
EOF
echo "      $link -> /lib/systemd/system/rigagent.service"

# ----------------------------------------------------------------------------------------------
step "verifying"
check() {  # PATH TYPE MODE UID GID
  local info
  info=$(inode_info "$1")
  [ -n "$info" ] || die "verify: $1 is missing"
  read -r t m u g _ <<<"$info"
  [ "$t" = "$2" ] && [ "$m" = "$3" ] && [ "$u" = "$4" ] && [ "$g" = "$5" ] ||
    die "verify: $1 is $t $m $u:$g, expected $2 $3 $4:$5"
}
check /usr/bin/rigagent regular 0755 0 0
check /etc/rigagent/config.json regular 0644 0 0
check /etc/rigagent directory 0755 0 0
check /lib/systemd/system/rigagent.service regular 0644 0 0
check /usr/lib/sysusers.d/rigagent.conf regular 0644 0 0
check /lib/udev/rules.d/60-rigagent-gpio.rules regular 0644 0 0
check /etc/systemd/system/multi-user.target.wants/rigagent.service symlink 0777 0 0
target=$(dbg_r "stat /etc/systemd/system/multi-user.target.wants/rigagent.service" | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')
[ "$target" = /lib/systemd/system/rigagent.service ] || die "verify: the enable link points to '$target'"
debugfs -R "dump /usr/bin/rigagent $work/rigagent.check" "$FS" >/dev/null 2>&1
cmp -s "$binary" "$work/rigagent.check" || die "verify: /usr/bin/rigagent in the image differs from $binary"
for f in passwd group; do
  debugfs -R "dump /etc/$f $work/$f.check" "$FS" >/dev/null 2>&1
done
grep -q "^rigagent:x:$uid:$gid:" "$work/passwd.check" || die "verify: no rigagent in /etc/passwd"
grep -Eq "^gpio:[^:]*:$gpio_gid:(.*,)?rigagent(,.*)?$" "$work/group.check" || die "verify: rigagent is not in group gpio"
fsck_out=$(e2fsck -fn "$FS" 2>&1) || die "e2fsck -fn reports problems after writing:
$fsck_out"
echo "      files, owners, modes, the enable link and the user are in place; e2fsck -fn is clean"

# ----------------------------------------------------------------------------------------------
if [ "$in_place" = 1 ]; then
  step "written in place"
else
  step "writing partition $partno back ($((bytes / 1048576)) MiB)"
  dd if="$work/root.ext4" of="$image" bs=4M oflag=seek_bytes seek="$offset" conv=notrunc,fsync status=progress
  FS="$image?offset=$offset"
  fsck_out=$(e2fsck -fn "$FS" 2>&1) || die "e2fsck -fn of the written image reports problems:
$fsck_out"
  debugfs -R "dump /usr/bin/rigagent $work/rigagent.check2" "$FS" >/dev/null 2>&1
  cmp -s "$binary" "$work/rigagent.check2" || die "verify: /usr/bin/rigagent in $image differs after writing back"
fi
debugfs -R "dump /etc/rigagent/config.json $work/config.final.json" "$FS" >/dev/null 2>&1
final_board=$(sed -n 's/^ *"board": *"\([^"]*\)".*/\1/p' "$work/config.final.json" | head -1)
printf 'write-rpi-image: %s: rigagent (%s) installed on partition %d, board %s, user rigagent %s:%s (gpio %s); e2fsck clean; %s\n' \
  "$image" "$bin_arch" "$partno" "${final_board:-sim (none set)}" "$uid" "$gid" "$gpio_gid" "$(elapsed)"
