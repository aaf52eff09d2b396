#!/usr/bin/python3
"""Writes the QEMU test image's initramfs: a gzip-compressed cpio archive (newc format, what the
kernel unpacks) from a list of entries, with every file owned by root and a fixed timestamp, so
the same inputs give the same bytes and no root privileges or `cpio` tool are needed (device
nodes are written into the archive, never created on the host).

usage: mkinitramfs.py OUT.gz SPEC
SPEC is a text file, one entry a line (paths inside the image are absolute):
  dir   /path MODE
  file  /path MODE HOST_PATH
  slink /path TARGET
  nod   /path MODE c|b MAJOR MINOR

  mkinitramfs.py modules MODULES_DIR NAME...
prints the kernel modules NAME... need, dependencies first, as paths relative to MODULES_DIR
(read from each module's .modinfo "depends=", so no depmod, modinfo or modules.dep is needed).
"""
import gzip
import os
import re
import stat
import sys

MTIME = 0


def _header(ino, mode, nlink, size, rdevmajor, rdevminor, name):
    fields = (ino, mode, 0, 0, nlink, MTIME, size, 0, 0, rdevmajor, rdevminor, len(name) + 1, 0)
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def _pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def write_cpio(out, entries):
    """entries: (path inside the image, mode with file type bits, data bytes, rdev (major, minor))"""
    parts = []
    for ino, (path, mode, data, rdev) in enumerate(entries, start=1):
        name = path.lstrip("/").encode()
        nlink = 2 if stat.S_ISDIR(mode) else 1
        head = _header(ino, mode, nlink, len(data), rdev[0], rdev[1], name) + name + b"\0"
        parts += [head, _pad(len(head)), data, _pad(len(data))]
    head = _header(0, 0, 1, 0, 0, 0, b"TRAILER!!!") + b"TRAILER!!!\0"
    parts += [head, _pad(len(head))]
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=MTIME, compresslevel=6) as gz:
        gz.write(b"".join(parts))


def parse_spec(path):
    entries, seen = [], set()
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            kind, dest = w[0], w[1]
            if dest in seen:
                raise SystemExit("%s:%d: %s is in the image twice" % (path, lineno, dest))
            seen.add(dest)
            if kind == "dir":
                entries.append((dest, stat.S_IFDIR | int(w[2], 8), b"", (0, 0)))
            elif kind == "file":
                with open(w[3], "rb") as src:
                    entries.append((dest, stat.S_IFREG | int(w[2], 8), src.read(), (0, 0)))
            elif kind == "slink":
                entries.append((dest, stat.S_IFLNK | 0o777, w[2].encode(), (0, 0)))
            elif kind == "nod":
                t = stat.S_IFCHR if w[3] == "c" else stat.S_IFBLK
                entries.append((dest, t | int(w[2], 8), b"", (int(w[4]), int(w[5]))))
            else:
                raise SystemExit("%s:%d: unknown entry %r" % (path, lineno, kind))
    # Parents before children: the kernel creates nothing implicitly.
    entries.sort(key=lambda e: (e[0].count("/"), e[0]) if stat.S_ISDIR(e[1]) else (1 << 20, e[0]))
    return entries


def module_order(moddir, names):
    """Each wanted module and what it depends on, dependencies first."""
    files = {}
    for root, _, fs in os.walk(moddir):
        for fn in fs:
            if fn.endswith(".ko"):
                files[fn[:-3].replace("-", "_")] = os.path.relpath(os.path.join(root, fn), moddir)
    order, visiting = [], set()

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in files:
            raise SystemExit("mkinitramfs: module %s is not in %s (built in, or a different kernel?)" % (name, moddir))
        if name in visiting:
            raise SystemExit("mkinitramfs: dependency loop at %s" % name)
        visiting.add(name)
        with open(os.path.join(moddir, files[name]), "rb") as f:
            m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", f.read())
        for dep in (m.group(1).decode().split(",") if m and m.group(1) else []):
            visit(dep)
        order.append(name)

    for n in names:
        visit(n)
    return [files[n] for n in order]


def main(argv):
    if len(argv) >= 3 and argv[1] == "modules":
        for path in module_order(argv[2], argv[3:]):
            print(path)
        return 0
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    write_cpio(argv[1], parse_spec(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
