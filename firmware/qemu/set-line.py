#!/usr/bin/env python3
"""Holds a GPIO input line of the QEMU test machine's PL061 at a level, for a guest started by
firmware/qemu/run.sh (which opens OUTDIR/qmp.sock and OUTDIR/qtest.sock). The stock `virt`
machine wires only line 3 (the power button); this drives any of the 8 inputs through QEMU's
qtest protocol (`set_irq_in`), which the guest kernel sees as ordinary edges.

  firmware/qemu/set-line.py OUTDIR LINE LEVEL      e.g. set-line.py build/qemu-arm64 4 1

On the qemu-virt board: line 3 the e-stop, 4 the door alarm, 5 the overtemp alarm (active high).
The level stays until the next call."""
import json
import os
import socket
import sys


def main(argv):
    if len(argv) != 4 or argv[3] not in ("0", "1") or not argv[2].isdigit() or int(argv[2]) > 7:
        sys.stderr.write(__doc__ + "\n")
        return 2
    out, line, level = argv[1], int(argv[2]), int(argv[3])
    try:
        qmp = socket.socket(socket.AF_UNIX)
        qmp.connect(os.path.join(out, "qmp.sock"))
        qtest = socket.socket(socket.AF_UNIX)
        qtest.connect(os.path.join(out, "qtest.sock"))
    except OSError as e:
        sys.stderr.write("set-line: no QEMU from firmware/qemu/run.sh %s running (%s)\n" % (out, e))
        return 1
    f = qmp.makefile("rw")
    f.readline()  # the greeting

    def cmd(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "return" in reply or "error" in reply:
                return reply

    cmd("qmp_capabilities")
    kids = cmd("qom-list", path="/machine/unattached").get("return", [])
    pl061 = [k["name"] for k in kids if k["type"] == "child<pl061>"]
    if len(pl061) != 1:
        sys.stderr.write("set-line: want one PL061 in the machine, found %r\n" % pl061)
        return 1
    t = qtest.makefile("rw")
    t.write("set_irq_in /machine/unattached/%s unnamed-gpio-in %d %d\n" % (pl061[0], line, level))
    t.flush()
    reply = t.readline().strip()
    if reply != "OK":
        sys.stderr.write("set-line: qtest said %r\n" % reply)
        return 1
    print("PL061 line %d held at %d" % (line, level))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
