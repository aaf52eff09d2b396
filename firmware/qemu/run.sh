#!/usr/bin/env bash
# Boots the QEMU test image made by firmware/qemu/build-image.sh, on the serial console of this
# terminal, with the guest's RpcService forwarded to this machine's loopback:
#
#   firmware/qemu/run.sh OUTDIR [EVENTS_PORT [COMMANDS_PORT]]     (defaults 5556 5557)
#
# then, from another terminal:  rigagent console --host 127.0.0.1 GET_STATUS
#                               rigagent console watch --topic EMERGENCY
# Press the e-stop (PL061 line 3, the virt machine's power button): Ctrl-A c, then
# `system_powerdown` at the (qemu) prompt, Ctrl-A c again to return to the console. Leave with
# Ctrl-A x. Hold a line at a level (the e-stop 3, the alarms 4 and 5) from another terminal:
# firmware/qemu/set-line.py OUTDIR 4 1 (QEMU's qtest protocol on OUTDIR/qtest.sock). The guest has
# a root shell on the console (`rigagent hal get --config /etc/rigagent/config.json`,
# `cat /sys/kernel/debug/gpio`).
# Software emulation (no KVM) boots to a ready rigagent in a few seconds.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir=$1 pub=${2:-5556} cmd=${3:-5557}
[ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ] || { echo "run.sh: no image in $dir (firmware/qemu/build-image.sh)" >&2; exit 1; }
case $(cat "$dir/arch") in
  arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57) ;;
  armhf) qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15) ;;
  *) echo "run.sh: unknown arch in $dir/arch" >&2; exit 1 ;;
esac
command -v "${qemu[0]}" >/dev/null || { echo "run.sh: ${qemu[0]} is missing (apt-get install qemu-system-arm)" >&2; exit 1; }
exec "${qemu[@]}" -m 512 -nographic -no-reboot \
  -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" -append "$(cat "$dir/cmdline")" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$pub-:5556,hostfwd=tcp:127.0.0.1:$cmd-:5557" \
  -device virtio-net-device,netdev=n0 -device virtio-rng-device \
  -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
  -accel tcg -qtest "unix:$dir/qtest.sock,server=on,wait=off"
