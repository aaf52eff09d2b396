#!/usr/bin/env bash
# What each dependency costs in the static rigagent: attributes every byte of the stripped
# binary's loaded sections to where it came from, using the linker map of the release build
# (RIGAGENT_LINK_MAP=ON, on in the release presets) and the section table of the binary.
#
#   tools/size-report.sh BUILD_DIR...          e.g. build/release build/release-aarch64 build/release-armhf
#
# Per build dir it prints these tables:
#   1. by origin: the archive or object file each input section came from (libzmq, Mbed TLS,
#      libstdc++, libgcc, glibc, rigagent's own objects);
#   2. rigagent's own objects, split by what the code is: with -ffunction-sections/-fdata-sections
#      each function and datum has its own section named after its symbol, so template code that
#      the header-only libraries (Asio, nlohmann_json, msgpack-c, cppzmq, the standard library)
#      instantiate in rigagent's objects is told apart by the symbol's outermost namespace.
#      Sections without a symbol in the name (string literals, .eh_frame, ...) are "unnamed";
#   3. without LTO: rigagent's own objects by library (rig_agent, rig_serf, ...).
# Sizes are those after --gc-sections and relaxation; the "balance" line is what the map cannot
# attribute (ELF and program headers, alignment) less what the linker saved by merging equal
# string literals (the map lists them before merging; so it can be negative), so that each
# table adds up to the stripped file size.
set -euo pipefail
[ $# -gt 0 ] || { sed -n '2,20p' "$0" >&2; exit 2; }

for dir in "$@"; do
  map=$dir/rigagent.map
  bin=$dir/agent/rigagent
  [ -f "$bin" ] || bin=$dir/agent/rigagent.over-budget
  if [ ! -f "$map" ] || [ ! -f "$bin" ]; then
    echo "size-report: $dir has no rigagent.map or agent/rigagent (configure with -DRIGAGENT_LINK_MAP=ON)" >&2
    exit 1
  fi
  python3 - "$map" "$bin" <<'PY'
import re, subprocess, sys, os, tempfile, collections

map_path, bin_path = sys.argv[1], sys.argv[2]

# The sections that occupy bytes in the stripped file: allocated, not NOBITS.
sections = subprocess.run(["readelf", "-SW", bin_path], capture_output=True, text=True, check=True).stdout
machine = re.search(r"Machine:\s+(.*)", subprocess.run(["readelf", "-h", bin_path], capture_output=True,
                    text=True, check=True).stdout).group(1).strip()
loaded = set()
for m in re.finditer(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+(\S*)",
                     sections, re.M):
    name, typ, flags = m.groups()
    if "A" in flags and typ != "NOBITS":
        loaded.add(name)

# The stripped size: strip a copy with the binutils of the binary's architecture.
strip = None
cache = os.path.join(os.path.dirname(os.path.dirname(bin_path)), "CMakeCache.txt")
if os.path.exists(cache):
    for line in open(cache):
        if line.startswith("CMAKE_STRIP:"):
            strip = line.split("=", 1)[1].strip()
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "rigagent")
    subprocess.run([strip or "strip", "-o", out, bin_path], check=True)
    stripped = os.path.getsize(out)

def origin(path):
    base = os.path.basename(path)
    lib = re.match(r"(.*?\.a)\(", base)
    lib = lib.group(1) if lib else base
    if lib == "libzmq.a": return "libzmq (static, -Os)"
    if lib.startswith("libmbed"): return "Mbed TLS (static, client-only)"
    if lib in ("libstdc++.a", "libsupc++.a"): return "libstdc++ (library objects)"
    if lib in ("libgcc.a", "libgcc_eh.a") or re.match(r"crt(begin|end)", lib): return "libgcc, crtbegin/end"
    if lib in ("libc.a", "libm.a", "libpthread.a", "libresolv.a", "librt.a", "libdl.a") or \
       lib in ("crt1.o", "crti.o", "crtn.o", "Scrt1.o"):
        return "glibc"
    if lib.startswith("librig_") or lib.endswith(".cpp.o") or ".ltrans" in lib: return "rigagent objects"
    return "other: " + lib

def component(path):
    base = os.path.basename(path)
    m = re.match(r"librig_(\w+)\.a\(", base)
    if m:
        return "rig_" + m.group(1)
    if ".ltrans" in base:
        return "(LTO: one link-time unit, not by library)"
    return "main.cpp" if base.endswith(".cpp.o") else base

# Itanium-mangled name -> outermost namespace (or class), enough to tell the libraries apart.
# Local entities (_ZZ<function>E...), vtables/typeinfo/guards (_ZTV, _ZTI, _ZTS, _ZGV, ...) and
# thunks (_ZTh<offset>_...) count for the function or type they belong to.
def namespace(sym):
    if not sym.startswith("_Z"):
        return None
    s = sym[2:]
    while True:
        if s.startswith("Z"):
            s = s[1:]
        elif s[:2] in ("TV", "TI", "TS", "TT", "TC", "TH", "TW", "GV", "GR"):
            s = s[2:]
        elif s[:2] in ("Th", "Tv"):
            m = re.match(r"T[hv]n?\d+_(?:n?\d+_)?", s)
            if not m:
                return None
            s = s[m.end():]
        elif s.startswith("L"):
            s = s[1:]
        elif s.startswith("N"):
            s = s[1:]
            while s and s[0] in "rVKRO":  # qualifiers of a member function
                s = s[1:]
        else:
            break
    if s.startswith("S") and len(s) > 1 and s[1] in "tabsiod":
        return "std"
    m = re.match(r"(\d+)", s)
    if not m:
        return None
    n = int(m.group(1))
    name = s[len(m.group(1)):len(m.group(1)) + n]
    if name == "__gnu_cxx":
        return "std"
    if name.startswith("_GLOBAL__N"):
        return "rig"  # an anonymous namespace: in rigagent's objects, rigagent's own code
    return name

GROUPS = [("rig", "rigagent's own code (rig::)"), ("asio", "Asio (header-only)"),
          ("nlohmann", "nlohmann_json (header-only)"), ("msgpack", "msgpack-c (header-only)"),
          ("zmq", "cppzmq (header-only)"), ("std", "standard library templates")]
def code_group(section_name):
    m = re.match(r"\.(?:text|rodata|data\.rel\.ro|data|bss|tbss|tdata|gcc_except_table)"
                 r"(?:\.(?:unlikely|hot|startup|exit|local))?\.(_Z\w+)", section_name)
    if not m:
        return "unnamed: string literals, .eh_frame, tables"
    ns = namespace(m.group(1))
    for key, label in GROUPS:
        if ns == key or (ns and key == "asio" and ns.startswith("asio_")):
            return label
    return "other C++ (%s)" % (ns or "?")

by_origin = collections.Counter()
by_group = collections.Counter()
by_component = collections.Counter()
fill = 0
in_memory_map = False
current = None
pending = None
entry = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
with open(map_path, errors="replace") as f:
    for line in f:
        line = line.rstrip("\n")
        if not in_memory_map:
            in_memory_map = line.startswith("Linker script and memory map")
            continue
        if line and not line[0].isspace():
            current = line.split()[0]
            pending = None
            continue
        if current not in loaded:
            continue
        if line.startswith(" *fill*"):
            parts = line.split()
            if len(parts) >= 3:
                fill += int(parts[2], 16)
            continue
        m = re.match(r"^ (\.\S+|COMMON)(.*)$", line)
        if m:
            pending = m.group(1)
            rest = m.group(2)
            if not rest.strip():
                continue
            line = rest
        em = entry.match(line)
        if em and pending:
            size = int(em.group(2), 16)
            path = em.group(3).strip()
            if size and not path.startswith("(size before"):
                o = origin(path)
                by_origin[o] += size
                if o == "rigagent objects":
                    by_group[code_group(pending)] += size
                    by_component[component(path)] += size
            pending = None

total = sum(by_origin.values()) + fill
def table(title, counter, extra):
    print(f"  {title:<46} {'bytes':>10} {'KiB':>8} {'share':>6}")
    for k, v in sorted(counter.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<46} {v:>10} {v/1024:>8.1f} {100*v/stripped:>5.1f}%")
    for k, v in extra:
        print(f"  {k:<46} {v:>10} {v/1024:>8.1f} {100*v/stripped:>5.1f}%")

print(f"== {bin_path} ({machine}): {stripped} bytes stripped ({stripped/1048576:.2f} MiB)")
print("  by origin:")
table("origin", by_origin, [("headers, padding, merged strings (balance)", stripped - sum(by_origin.values()))])
own = by_origin["rigagent objects"]
print(f"  rigagent's own objects ({own} bytes) by what the code is:")
table("code", by_group, [])
if len(by_component) > 1:  # with LTO, rigagent's code is one link-time unit: no split by library
    print("  rigagent's own objects by library:")
    table("library", by_component, [])
PY
done
