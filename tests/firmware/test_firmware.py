#!/usr/bin/env python3
"""The firmware layout end to end, without root mounts: the .deb tools/make-deb.sh builds (layout,
modes, owners, control fields, no Depends, no conffiles), installed into a scratch root with
dpkg --root (user, board detection, config kept on upgrade, purge); the shipped configuration
and systemd unit (systemd-analyze verify and security, and every system call and address family
rigagent uses allowed by the unit's filters); tools/write-rpi-image.sh on a small fake Raspberry
Pi OS image, run as an unprivileged user, checked with debugfs and e2fsck, and its refusals.
Usage: test_firmware.py PATH/TO/rigagent (a static x86_64 build)"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from script_tests import expect, free_port, run_tests  # noqa: E402

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
RIGAGENT = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="rigagent-firmware-")
MAKE_DEB = os.path.join(SRC, "tools", "make-deb.sh")
WRITE_IMAGE = os.path.join(SRC, "tools", "write-rpi-image.sh")
ROOTFS = os.path.join(SRC, "firmware", "rootfs")
UNIT = os.path.join(ROOTFS, "lib", "systemd", "system", "rigagent.service")
CONFIG = os.path.join(ROOTFS, "etc", "rigagent", "config.json")
procs = []
_cache = {}

for tool in ("dpkg-deb", "dpkg", "sfdisk", "mke2fs", "debugfs", "e2fsck", "mkfs.vfat", "systemd-analyze", "strace", "strip"):
    if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool) and not os.path.exists("/sbin/" + tool):
        print("FAIL  %s is missing (tools/setup-host.sh installs fdisk, dosfstools, e2fsprogs, systemd, strace)" % tool)
        sys.exit(1)
os.environ["PATH"] += ":/usr/sbin:/sbin"
os.environ["DEBUGFS_PAGER"] = "__none__"


def run(cmd, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    r = subprocess.run(cmd, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        return re.search(r"project\(rigagent VERSION ([0-9.]+)", f.read()).group(1)


def stripped_binary():
    if "bin" not in _cache:
        path = os.path.join(TMP, "rigagent")
        shutil.copy(RIGAGENT, path)
        run(["strip", "--strip-all", path])
        os.chmod(path, 0o755)
        _cache["bin"] = path
    return _cache["bin"]


def deb():
    """The amd64 .deb, built once."""
    if "deb" not in _cache:
        out = os.path.join(TMP, "deb")
        t0 = time.monotonic()
        r = run([MAKE_DEB, "--strip", "--out", out, RIGAGENT])
        print("      %s (%.1f s)" % (r.stdout.strip(), time.monotonic() - t0))
        _cache["deb"] = os.path.join(out, "rigagent_%s_amd64.deb" % project_version())
        expect(os.path.exists(_cache["deb"]), "no %s" % _cache["deb"])
    return _cache["deb"]


def sha(path, offset=0, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        h.update(f.read() if length is None else f.read(length))
    return h.hexdigest()


# ------------------------------------------------------------------------------------------
# The package

EXPECTED_FILES = {  # path: mode (every entry root/root)
    "./usr/bin/rigagent": "-rwxr-xr-x",
    "./lib/systemd/system/rigagent.service": "-rw-r--r--",
    "./usr/lib/sysusers.d/rigagent.conf": "-rw-r--r--",
    "./lib/udev/rules.d/60-rigagent-gpio.rules": "-rw-r--r--",
    "./usr/share/rigagent/config.json": "-rw-r--r--",
    "./usr/share/doc/rigagent/README.md": "-rw-r--r--",
    "./usr/share/doc/rigagent/copyright": "-rw-r--r--",
    "./usr/share/doc/rigagent/changelog.gz": "-rw-r--r--",
    "./usr/share/lintian/overrides/rigagent": "-rw-r--r--",
}


def test_deb_layout():
    d = deb()
    info = run(["dpkg-deb", "--info", d]).stdout
    fields = dict(re.findall(r"^ ([A-Z][A-Za-z-]+): (.*)$", info, re.M))
    expect(fields.get("Package") == "rigagent", "Package: %s" % fields.get("Package"))
    expect(fields.get("Version") == project_version(), "Version %s, project VERSION %s" % (fields.get("Version"), project_version()))
    expect(fields.get("Architecture") == "amd64", "Architecture: %s" % fields.get("Architecture"))
    for f in ("Depends", "Pre-Depends", "Recommends"):
        expect(f not in fields, "%s: %s (a static binary needs nothing)" % (f, fields.get(f)))
    expect(int(fields.get("Installed-Size", "0")) > 1000, "Installed-Size %s" % fields.get("Installed-Size"))
    # Maintainer scripts executable; no conffiles (the postinst owns /etc/rigagent/config.json).
    members = {name: star for star, name in re.findall(r"^\s+\d+ bytes,\s+\d+ lines\s+(\*?)\s+(\S+)", info, re.M)}
    for s in ("postinst", "prerm", "postrm"):
        expect(members.get(s) == "*", "%s missing or not executable: %s" % (s, members))
    expect("md5sums" in members and "control" in members, "control members: %s" % members)
    expect("conffiles" not in members, "conffiles present: %s" % members)

    contents = run(["dpkg-deb", "--contents", d]).stdout.splitlines()
    files = {}
    for line in contents:
        perms, owner, size, _date, _time, path = line.split(None, 5)
        expect(owner == "root/root", "%s owned by %s" % (path, owner))
        if perms.startswith("d"):
            expect(perms == "drwxr-xr-x", "directory %s is %s" % (path, perms))
        else:
            files[path] = (perms, int(size))
    expect(set(files) == set(EXPECTED_FILES), "files: extra %s, missing %s" % (
        sorted(set(files) - set(EXPECTED_FILES)), sorted(set(EXPECTED_FILES) - set(files))))
    for path, mode in EXPECTED_FILES.items():
        expect(files[path][0] == mode, "%s is %s, expected %s" % (path, files[path][0], mode))
    print("      %d files, rigagent %d bytes stripped, .deb %d bytes" % (len(files), files["./usr/bin/rigagent"][1], os.path.getsize(d)))

    # The packaged binary is the static build and runs.
    x = os.path.join(TMP, "deb-x")
    run(["dpkg-deb", "-x", d, x])
    r = run([os.path.join(x, "usr/bin/rigagent"), "--version"])
    expect(project_version() in r.stdout, "--version printed %r" % r.stdout)
    r = run(["file", "-b", os.path.join(x, "usr/bin/rigagent")], check=False)
    if r.returncode == 0:
        expect("statically linked" in r.stdout, "file says %r" % r.stdout)
    r = run([os.path.join(x, "usr/bin/rigagent"), "print-config", "--config", os.path.join(x, "usr/share/rigagent/config.json")])
    if shutil.which("lintian"):
        t0 = time.monotonic()
        r = run(["lintian", "--suppress-tags", "no-manual-page", d], check=False)
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        print("      lintian (%.1f s): %s" % (time.monotonic() - t0, r.stdout.strip() or "clean"))
        expect(not errors, "lintian errors: %s" % errors)


def test_deb_refuses_wrong_binaries():
    out = os.path.join(TMP, "deb-bad")
    r = run([MAKE_DEB, "--arch", "arm64", "--out", out, RIGAGENT], check=False)
    expect(r.returncode != 0 and "amd64 binary" in r.stderr, "--arch arm64 with an amd64 binary: %s" % r.stderr)
    r = run([MAKE_DEB, "--out", out, CONFIG], check=False)
    expect(r.returncode != 0 and "not an ELF" in r.stderr, "a JSON file as the binary: %s" % r.stderr)
    r = run([MAKE_DEB, "--out", out, "/bin/true"], check=False)
    expect(r.returncode != 0 and "dynamically linked" in r.stderr, "a dynamic binary: %s" % r.stderr)
    # An arm64 binary is packaged as arm64 without running it (its ELF header says so).
    fake = os.path.join(TMP, "rigagent-arm64")
    shutil.copy(stripped_binary(), fake)
    with open(fake, "r+b") as f:
        f.seek(18)
        f.write(b"\xb7\x00")  # e_machine = EM_AARCH64
    r = run([MAKE_DEB, "--out", out, fake])
    expect(os.path.exists(os.path.join(out, "rigagent_%s_arm64.deb" % project_version())), r.stdout)
    expect(not os.path.exists(os.path.join(out, "rigagent_%s_amd64.deb" % project_version())), "amd64 .deb from a refusal")


def scratch_root(model=None, compatible=None):
    """A directory dpkg --root can install into, with the files the maintainer scripts read."""
    root = tempfile.mkdtemp(prefix="root-", dir=TMP)
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc", "proc/device-tree"):
        os.makedirs(os.path.join(root, d))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    files = {"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "etc/group": "root:x:0:\nshadow:x:42:\n",
             "etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\nshadow:*::\n"}
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    if model is not None:
        with open(os.path.join(root, "proc/device-tree/model"), "wb") as f:
            f.write(model.encode() + b"\0")
    if compatible is not None:
        with open(os.path.join(root, "proc/device-tree/compatible"), "wb") as f:
            f.write(b"\0".join(c.encode() for c in compatible) + b"\0")
    return root


def dpkg(root, *args):
    cmd = ["dpkg", "--root=" + root, "--force-script-chrootless", "--log=/dev/null", *args]
    if os.geteuid() != 0:
        cmd = ["fakeroot"] + cmd + ["--force-not-root"]
    return run(cmd)


def read(root, path):
    with open(os.path.join(root, path.lstrip("/"))) as f:
        return f.read()


def test_deb_install_upgrade_purge():
    d = deb()
    root = scratch_root("Raspberry Pi 4 Model B Rev 1.4")
    t0 = time.monotonic()
    r = dpkg(root, "-i", d)
    print("      dpkg --root -i: %.1f s" % (time.monotonic() - t0))
    expect("for board 'rpi4'" in r.stderr, "postinst output: %s" % r.stderr)
    cfg = os.path.join(root, "etc/rigagent/config.json")
    expect('  "board": "rpi4",' in read(root, "etc/rigagent/config.json"), "board not set to rpi4")
    expect(oct(os.stat(cfg).st_mode & 0o777) == "0o644", "config mode %o" % os.stat(cfg).st_mode)
    # The user, its group, and gpio (created: this root has none) with rigagent in it.
    passwd, group, shadow = read(root, "etc/passwd"), read(root, "etc/group"), read(root, "etc/shadow")
    m = re.search(r"^rigagent:x:(\d+):(\d+):[^:]*:/nonexistent:/usr/sbin/nologin$", passwd, re.M)
    expect(m and int(m.group(1)) < 1000, "no system user rigagent in:\n%s" % passwd)
    expect(re.search(r"^rigagent:x:%s:$" % m.group(2), group, re.M), "no group rigagent in:\n%s" % group)
    expect(re.search(r"^gpio:x:\d+:rigagent$", group, re.M), "rigagent not in gpio:\n%s" % group)
    expect(re.search(r"^rigagent:!", shadow, re.M), "no locked shadow entry:\n%s" % shadow)
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/rigagent.service")
    expect(os.readlink(link) == "/lib/systemd/system/rigagent.service", "enable link: %s" % os.readlink(link))
    r = run([os.path.join(root, "usr/bin/rigagent"), "print-config", "--config", cfg])
    expect(json.loads(r.stdout)["board"] == "rpi4", "print-config: %s" % r.stdout[:200])

    # A local edit survives an upgrade (reinstall), and the user is not duplicated.
    with open(cfg, "a") as f:
        f.write("// edited on the rig\n")
    dpkg(root, "-i", d)
    expect(read(root, "etc/rigagent/config.json").endswith("// edited on the rig\n"), "local edit lost on upgrade")
    expect(read(root, "etc/passwd").count("\nrigagent:") == 1, "user duplicated")

    # remove keeps the configuration, purge removes it (the user stays, Debian's convention).
    dpkg(root, "--remove", "rigagent")
    expect(os.path.exists(cfg) and not os.path.exists(os.path.join(root, "usr/bin/rigagent")), "remove")
    dpkg(root, "--purge", "rigagent")
    expect(not os.path.exists(os.path.join(root, "etc/rigagent")), "purge left /etc/rigagent")
    expect(not os.path.exists(link), "purge left the enable link")
    expect("\nrigagent:" in read(root, "etc/passwd"), "purge removed the user")


def test_board_detection():
    d = deb()
    cases = [("Raspberry Pi 5 Model B Rev 1.0", None, "rpi5"),
             ("Raspberry Pi Compute Module 4 Rev 1.0", None, "rpi4"),
             ("NVIDIA Jetson Orin Nano Developer Kit", None, "jetson-orin-nano"),
             (None, ["linux,dummy-virt"], "qemu-virt"),
             ("Raspberry Pi 3 Model B Plus Rev 1.3", None, "sim"),
             (None, None, "sim")]
    files = os.path.join(TMP, "detect-files")
    run(["dpkg-deb", "-x", d, files])
    postinst = os.path.join(TMP, "postinst")
    with open(postinst, "wb") as f:
        f.write(run(["dpkg-deb", "--ctrl-tarfile", d], text=False).stdout)
    run(["tar", "-xf", postinst, "-C", TMP, "./postinst"])
    for model, compatible, board in cases:
        root = scratch_root(model, compatible)
        shutil.copytree(files, root, symlinks=True, dirs_exist_ok=True)
        # The postinst as dpkg --root --force-script-chrootless runs it.
        r = run(["sh", postinst, "configure", ""],
                env=dict(os.environ, DPKG_ROOT=root, DPKG_MAINTSCRIPT_PACKAGE="rigagent"))
        cfg = read(root, "etc/rigagent/config.json")
        expect('  "board": "%s",' % board in cfg, "model %r: expected board %s, got %s" % (
            model, board, re.search(r'"board": "[^"]*"', cfg).group(0)))
        if board == "sim":
            expect("configured the simulated board" in r.stderr and (model or "no device tree") in r.stderr,
                   "no warning for %r: %s" % (model, r.stderr))
        run([RIGAGENT, "print-config", "--config", os.path.join(root, "etc/rigagent/config.json")])


# ------------------------------------------------------------------------------------------
# Configuration and unit

def test_config_and_unit():
    # The shipped configuration is valid for every board it may be set to.
    with open(CONFIG) as f:
        text = f.read()
    expect(len(re.findall(r'^  "board": "[^"]*",$', text, re.M)) == 1, "the board line the installers rewrite")
    for board in ("rpi4", "rpi5", "jetson-orin-nano", "qemu-virt", "sim"):
        path = os.path.join(TMP, "config-%s.json" % board)
        with open(path, "w") as f:
            f.write(re.sub(r'^  "board": "[^"]*",$', '  "board": "%s",' % board, text, flags=re.M))
        r = run([RIGAGENT, "print-config", "--config", path])
    eff = json.loads(r.stdout)
    expect(eff["app_link"]["endpoint"] == "ipc:///run/rigagent/app.sock", "app link %s" % eff["app_link"])
    expect(eff["hal"]["control_socket"] == "/run/rigagent/hal.sock", "hal socket %s" % eff["hal"])

    unit = open(UNIT).read()
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    want = {"Type": "notify", "NotifyAccess": "main", "User": "rigagent", "Group": "rigagent", "SupplementaryGroups": "gpio",
            "RuntimeDirectory": "rigagent", "Restart": "on-failure", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
            "DevicePolicy": "closed", "DeviceAllow": "char-gpiochip rw", "CapabilityBoundingSet": "",
            "ExecStart": "/usr/bin/rigagent run --config /etc/rigagent/config.json", "WantedBy": "multi-user.target"}
    for k, v in want.items():
        expect(settings.get(k) == [v], "%s=%s, expected %s" % (k, settings.get(k), v))
    expect("PrivateDevices" not in settings, "PrivateDevices hides /dev/gpiochip*")
    expect(re.fullmatch(r"\d+s", settings["WatchdogSec"][0]), "WatchdogSec %s" % settings.get("WatchdogSec"))

    # systemd-analyze verify needs the binary and the units the unit refers to: a scratch root.
    root = tempfile.mkdtemp(prefix="unitroot-", dir=TMP)
    os.makedirs(os.path.join(root, "usr/bin"))
    shutil.copy(stripped_binary(), os.path.join(root, "usr/bin/rigagent"))
    shutil.copytree("/lib/systemd/system", os.path.join(root, "lib/systemd/system"), symlinks=True)
    shutil.copy(UNIT, os.path.join(root, "lib/systemd/system/rigagent.service"))
    unit_path = os.path.join(root, "lib/systemd/system/rigagent.service")
    r = run(["systemd-analyze", "verify", "--root=" + root, unit_path], check=False)
    expect(r.returncode == 0 and not r.stderr.strip(), "systemd-analyze verify: %s%s" % (r.stdout, r.stderr))
    r = run(["systemd-analyze", "security", "--offline=true", "--root=" + root, unit_path], check=False)
    m = re.search(r"Overall exposure level for rigagent.service: ([0-9.]+) (\w+)", r.stdout)
    expect(m is not None, "systemd-analyze security: %s%s" % (r.stdout[-500:], r.stderr))
    print("      systemd-analyze verify clean; security exposure %s %s" % (m.group(1), m.group(2)))
    expect(float(m.group(1)) <= 2.5, "exposure %s" % m.group(1))


def syscall_group(name, seen=None):
    """A systemd syscall filter set, groups expanded."""
    seen = seen if seen is not None else set()
    out = set()
    if name in seen:
        return out
    seen.add(name)
    r = run(["systemd-analyze", "syscall-filter", name])
    for line in r.stdout.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        out |= syscall_group(item, seen) if item.startswith("@") else {item}
    return out


def test_unit_filters_allow_what_rigagent_uses():
    """Every system call and socket family rigagent uses while serving (startup, commands, the
    e-stop through the hal socket, a subscriber, the watchdog, shutdown) passes the unit's
    SystemCallFilter= and RestrictAddressFamilies= (a filtered call fails with EPERM; libzmq, for
    one, aborts on that)."""
    unit = open(UNIT).read()
    allowed, denied = set(), set()
    for v in re.findall(r"^SystemCallFilter=(.*)$", unit, re.M):
        deny = v.startswith("~")
        for item in v.lstrip("~").split():
            names = syscall_group(item) if item.startswith("@") else {item}
            (denied if deny else allowed).update(names)
    families = set(re.search(r"^RestrictAddressFamilies=(.*)$", unit, re.M).group(1).split())

    notify = os.path.join(TMP, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(notify)
    pub, cmd = free_port(), free_port()
    cfg = os.path.join(TMP, "strace-config.json")
    with open(cfg, "w") as f:
        json.dump({"rpc": {"heartbeat_interval": 0.2, "pub_endpoints": ["tcp://127.0.0.1:%d" % pub],
                           "command_endpoints": ["tcp://127.0.0.1:%d" % cmd]},
                   "app_link": {"endpoint": "ipc://%s/app.sock" % TMP}, "hal": {"control_socket": "%s/hal.sock" % TMP}}, f)
    log = os.path.join(TMP, "strace.log")
    env = dict(os.environ, NOTIFY_SOCKET=notify, WATCHDOG_USEC="300000")
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", log, RIGAGENT, "run", "--config", cfg], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    ns.settimeout(10)
    try:
        expect(b"READY=1" in ns.recv(4096), "no READY=1 under strace")
        c = ["--endpoint", "tcp://127.0.0.1:%d" % cmd]
        run([RIGAGENT, "console", *c, "GET_STATUS"])
        run([RIGAGENT, "console", *c, "EMERGENCY_STOP", '{"reason":"test"}'])
        run([RIGAGENT, "console", *c, "EMERGENCY_RESUME"])
        run([RIGAGENT, "hal", "--socket", os.path.join(TMP, "hal.sock"), "pulse", "estop", "50"])
        w = subprocess.Popen([RIGAGENT, "console", "watch", "--endpoint", "tcp://127.0.0.1:%d" % pub],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(w)
        time.sleep(0.8)
        w.terminate()
        w.wait()
    finally:
        # SIGTERM to rigagent itself (strace's child), so its shutdown path is traced too.
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            child = int(f.read().split()[0])
        os.kill(child, signal.SIGTERM)
        p.wait(timeout=10)
        ns.close()
    used, fams = set(), set()
    with open(log) as f:
        for line in f:
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                used.add(m.group(1))
            m = re.search(r"\bsocket\((AF_[A-Z0-9]+)", line)
            if m:
                fams.add(m.group(1))
    used.discard("execve")  # systemd's own exec of the binary
    print("      %d distinct system calls, families %s" % (len(used), " ".join(sorted(fams))))
    expect(len(used) > 20, "strace saw only %s" % sorted(used))
    expect(not (used - allowed), "not in the unit's SystemCallFilter allow list: %s" % sorted(used - allowed))
    expect(not (used & denied), "denied by the unit's SystemCallFilter: %s" % sorted(used & denied))
    expect(fams <= families, "families %s, unit allows %s" % (sorted(fams), sorted(families)))


# ------------------------------------------------------------------------------------------
# The image writer

SECTOR = 512
BOOT_START, BOOT_SECTORS = 2048, 16384  # 8 MiB FAT at 1 MiB, like Raspberry Pi OS's bootfs
ROOT_START, ROOT_SECTORS = 18432, 65536  # 32 MiB ext4


def make_image(path, second="ext4", partitions=2):
    """A small stand-in for a Raspberry Pi OS image: a FAT boot partition and an ext4 root with a
    Debian-like /etc (passwd, group with gpio, shadow and gshadow 0640 root:shadow), merged /usr
    (/lib -> usr/lib) and an x86_64 /usr/bin/true for the architecture check."""
    work = tempfile.mkdtemp(prefix="img-", dir=TMP)
    root = os.path.join(work, "root")
    for d in ("etc/systemd/system/multi-user.target.wants", "usr/bin", "usr/sbin", "usr/lib/systemd/system", "var", "boot/firmware"):
        os.makedirs(os.path.join(root, d))
    for link, target in (("lib", "usr/lib"), ("bin", "usr/bin"), ("sbin", "usr/sbin")):
        os.symlink(target, os.path.join(root, link))
    shutil.copy("/usr/bin/true", os.path.join(root, "usr/bin/true"))
    etc = {"passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                     "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n",
           "group": "root:x:0:\ndaemon:x:1:\nshadow:x:42:\ngpio:x:997:\nsystemd-network:x:998:\n",
           "shadow": "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nsystemd-network:!*:19000::::::\n",
           "gshadow": "root:*::\ndaemon:*::\nshadow:*::\ngpio:!::\nsystemd-network:!*::\n"}
    for name, text in etc.items():
        with open(os.path.join(root, "etc", name), "w") as f:
            f.write(text)
    ext4 = os.path.join(work, "root.ext4")
    with open(ext4, "wb") as f:
        f.truncate(ROOT_SECTORS * SECTOR)
    run(["mke2fs", "-q", "-t", "ext4", "-L", "rootfs", "-d", root, "-E", "root_owner=0:0", ext4])
    # Owners and modes as Debian has them, whoever runs the test.
    cmds = "".join("sif /etc/%s uid 0\nsif /etc/%s gid %d\nsif /etc/%s mode 0100%s\n" % (
        n, n, 42 if "shadow" in n else 0, n, "640" if "shadow" in n else "644") for n in etc)
    run(["debugfs", "-w", "-f", "-", ext4], input=cmds)
    vfat = os.path.join(work, "boot.vfat")
    run(["mkfs.vfat", "-C", "-n", "BOOTFS", vfat, str(BOOT_SECTORS * SECTOR // 1024)])
    with open(path, "wb") as f:
        f.truncate((ROOT_START + ROOT_SECTORS) * SECTOR)
    table = "label: dos\nstart=%d, size=%d, type=c\n" % (BOOT_START, BOOT_SECTORS)
    if partitions >= 2:
        table += "start=%d, size=%d, type=83\n" % (ROOT_START, ROOT_SECTORS)
    run(["sfdisk", "-q", path], input=table)
    with open(path, "r+b") as img:
        for part_start, src in ((BOOT_START, vfat), (ROOT_START, vfat if second == "fat" else ext4)):
            if partitions < 2 and part_start == ROOT_START:
                continue
            img.seek(part_start * SECTOR)
            with open(src, "rb") as f:
                shutil.copyfileobj(f, img)
    shutil.rmtree(work)
    return path


def as_unprivileged(cmd, workdir):
    """cmd as nobody (when we are root), in a directory nobody owns: the script needs no root."""
    if os.geteuid() != 0:
        return cmd, {}
    for dirpath, dirs, files in os.walk(workdir):
        for n in dirs + files + ["."]:
            os.chown(os.path.join(dirpath, n), 65534, 65534)
    os.chmod(TMP, 0o755)
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd], {"HOME": workdir}


def write_image(image, *args, workdir):
    cmd, env = as_unprivileged([WRITE_IMAGE, *args, image, os.path.join(workdir, "rigagent")], workdir)
    t0 = time.monotonic()
    r = run(cmd, check=False, env=dict(os.environ, TMPDIR=workdir, **env))
    return r, time.monotonic() - t0


def fs(image):
    return "%s?offset=%d" % (image, ROOT_START * SECTOR)


def stat(image, path):
    r = run(["debugfs", "-R", 'stat "%s"' % path, fs(image)], check=False)
    m = re.search(r"Type: (\w+)\s+Mode:\s+(\d+)", r.stdout)
    u = re.search(r"^User:\s+(\d+)\s+Group:\s+(\d+)", r.stdout, re.M)
    link = re.search(r'^Fast link dest: "(.*)"$', r.stdout, re.M)
    if not m:
        return None
    return {"type": m.group(1), "mode": m.group(2), "uid": int(u.group(1)), "gid": int(u.group(2)),
            "link": link.group(1) if link else None}


def cat(image, path):
    return run(["debugfs", "-R", 'cat "%s"' % path, fs(image)]).stdout


def image_workdir(name):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    shutil.copy(stripped_binary(), os.path.join(d, "rigagent"))
    return d


def test_image_writer():
    wd = image_workdir("image")
    image = make_image(os.path.join(wd, "raspios.img"))
    size = os.path.getsize(image)
    boot_before = sha(image, BOOT_START * SECTOR, BOOT_SECTORS * SECTOR)
    table_before = sha(image, 0, SECTOR)
    r, took = write_image(image, workdir=wd)
    expect(r.returncode == 0, "write-rpi-image failed:\n%s%s" % (r.stdout, r.stderr))
    out = r.stdout + r.stderr
    # Progress: seven numbered steps and dd's own progress/summary for both copies.
    for n in range(1, 8):
        expect("[%d/7] " % n in r.stdout, "no step %d/7 in:\n%s" % (n, r.stdout))
    expect(len(re.findall(r"bytes \(.*\) copied", out)) >= 2, "no dd progress in:\n%s" % out)
    print("      written as %s in %.1f s" % ("nobody" if os.geteuid() == 0 else "the test's user", took))

    expect(os.path.getsize(image) == size, "image size changed")
    expect(sha(image, BOOT_START * SECTOR, BOOT_SECTORS * SECTOR) == boot_before, "the boot partition changed")
    expect(sha(image, 0, SECTOR) == table_before, "the partition table changed")
    want = {"/usr/bin/rigagent": ("regular", "0755"), "/etc/rigagent": ("directory", "0755"),
            "/etc/rigagent/config.json": ("regular", "0644"),
            "/usr/lib/systemd/system/rigagent.service": ("regular", "0644"),  # /lib -> usr/lib
            "/usr/lib/sysusers.d/rigagent.conf": ("regular", "0644"),
            "/usr/lib/udev/rules.d/60-rigagent-gpio.rules": ("regular", "0644"),
            "/usr/share/rigagent/config.json": ("regular", "0644"),
            "/etc/systemd/system/multi-user.target.wants/rigagent.service": ("symlink", "0777")}
    for path, (typ, mode) in want.items():
        s = stat(image, path)
        expect(s is not None, "%s missing from the image" % path)
        expect((s["type"], s["mode"], s["uid"], s["gid"]) == (typ, mode, 0, 0),
               "%s is %s, expected %s %s 0:0" % (path, s, typ, mode))
    expect(stat(image, "/etc/systemd/system/multi-user.target.wants/rigagent.service")["link"] ==
           "/lib/systemd/system/rigagent.service", "enable link target")
    for name, mode, gid in (("shadow", "0640", 42), ("gshadow", "0640", 42), ("passwd", "0644", 0), ("group", "0644", 0)):
        s = stat(image, "/etc/" + name)
        expect((s["mode"], s["uid"], s["gid"]) == (mode, 0, gid), "/etc/%s is now %s" % (name, s))
    dump = os.path.join(TMP, "rigagent.dump")
    run(["debugfs", "-R", "dump /usr/bin/rigagent %s" % dump, fs(image)])
    expect(sha(dump) == sha(stripped_binary()), "the binary in the image differs")
    expect('  "board": "rpi4",' in cat(image, "/etc/rigagent/config.json"), "default board rpi4")
    expect(cat(image, "/usr/lib/systemd/system/rigagent.service") == open(UNIT).read(), "unit content")

    passwd, group = cat(image, "/etc/passwd"), cat(image, "/etc/group")
    m = re.search(r"^rigagent:x:(\d+):(\d+):rigagent daemon:/nonexistent:/usr/sbin/nologin$", passwd, re.M)
    expect(m and 100 <= int(m.group(1)) < 1000, "no system user rigagent:\n%s" % passwd)
    uid, gid = m.group(1), m.group(2)
    expect(uid not in ("997", "998") and gid not in ("997", "998"), "id %s:%s collides" % (uid, gid))
    expect(re.search(r"^rigagent:x:%s:$" % gid, group, re.M), "no group rigagent:\n%s" % group)
    expect(re.search(r"^gpio:x:997:rigagent$", group, re.M), "rigagent not in the image's gpio (997):\n%s" % group)
    expect(re.search(r"^rigagent:!\*:\d+::::::$", cat(image, "/etc/shadow"), re.M), "shadow entry")
    gshadow = cat(image, "/etc/gshadow")
    expect(re.search(r"^gpio:!::rigagent$", gshadow, re.M) and "\nrigagent:!*::" in gshadow, "gshadow:\n%s" % gshadow)
    expect(passwd.startswith("root:x:0:0:root:/root:/bin/bash\n"), "passwd's existing lines changed")
    r = run(["e2fsck", "-fn", fs(image)], check=False)
    expect(r.returncode == 0, "e2fsck -fn: %s%s" % (r.stdout, r.stderr))

    # Again, in place, with another board: idempotent (one user), the configuration's board
    # changed and the rest of it kept.
    r, took = write_image(image, "--in-place", "--board", "rpi5", workdir=wd)
    expect(r.returncode == 0, "second run failed:\n%s%s" % (r.stdout, r.stderr))
    expect("copied" not in r.stderr, "--in-place copied the partition:\n%s" % r.stderr)
    print("      again --in-place --board rpi5: %.1f s" % took)
    expect(cat(image, "/etc/passwd").count("\nrigagent:") == 1, "user added twice")
    expect(cat(image, "/etc/group").count("rigagent") == 2, "group lines: %s" % cat(image, "/etc/group"))
    expect('  "board": "rpi5",' in cat(image, "/etc/rigagent/config.json"), "board not changed to rpi5")
    r = run(["e2fsck", "-fn", fs(image)], check=False)
    expect(r.returncode == 0, "e2fsck -fn after the second run: %s%s" % (r.stdout, r.stderr))


def test_image_writer_refusals():
    wd = image_workdir("refusals")
    cases = []
    junk = os.path.join(wd, "junk.img")
    with open(junk, "wb") as f:
        f.write(os.urandom(1 << 20))
    cases.append((junk, [], "has no partition table"))
    cases.append((make_image(os.path.join(wd, "one.img"), partitions=1), [], "has no partition 2"))
    cases.append((make_image(os.path.join(wd, "fat.img"), second="fat"), [], "partition 2 of"))
    cases.append((make_image(os.path.join(wd, "five.img")), ["--partition", "5"], "has no partition 5"))
    xz = os.path.join(wd, "raspios.img.xz")
    with open(xz, "wb") as f:
        f.write(b"\xfd7zXZ\x00" + os.urandom(4096))
    cases.append((xz, [], "is xz-compressed: unpack it first"))
    cases.append((os.path.join(wd, "absent.img"), [], "no such file"))
    for image, args, message in cases:
        before = sha(image) if os.path.exists(image) else None
        r, _ = write_image(image, *args, workdir=wd)
        expect(r.returncode != 0, "%s %s: accepted" % (os.path.basename(image), args))
        expect("error: " in r.stderr and message in r.stderr, "%s: expected '%s' in:\n%s" % (
            os.path.basename(image), message, r.stderr))
        expect(before is None or sha(image) == before, "%s was modified by a refused run" % image)

    # A binary for another architecture than the image's userland (the unit allows native system
    # calls only): refused, and written with --force.
    image = make_image(os.path.join(wd, "arch.img"))
    fake = os.path.join(wd, "rigagent")
    with open(fake, "r+b") as f:
        f.seek(18)
        f.write(b"\xb7\x00")  # e_machine = EM_AARCH64
    before = sha(image)
    r, _ = write_image(image, workdir=wd)
    expect(r.returncode != 0 and "is arm64 but the image's userland is amd64" in r.stderr, "arch mismatch: %s" % r.stderr)
    expect(sha(image) == before, "modified by the refused run")
    r, _ = write_image(image, "--force", workdir=wd)
    expect(r.returncode == 0 and "writing it anyway" in r.stderr, "--force: %s%s" % (r.stdout, r.stderr))


if __name__ == "__main__":
    try:
        rc = run_tests(globals(), procs, sys.argv[2:])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
