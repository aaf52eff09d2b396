#!/usr/bin/python3
"""Asks a real Serf agent which regex patterns Go's regexp.Compile accepts: the calibration
behind tests/unit/test_serf_regex.cpp (not run by CTest).

Serf compiles members-filtered's Name as "^" + Name + "$" and drops the RPC connection, with no
reply, when that does not compile (serf-rpc.md §5). So each pattern is sent on a fresh
connection (handshake, then members-filtered) and a reply means "Go accepted it".

Each pattern is asked about twice:
  anchored  Name = P              Go compiles ^P$ (what members-filtered does)
  bare      Name = "|" + P + "k"  Go compiles ^|Pk$, which compiles when P alone does and only
            then (away from Go's depth and size limits): after "|" a leading repetition
            operator has no argument again, as at the start of P; and "k" is neither a hex or
            octal digit nor an escape letter, so a P ending in "\\", "\\x4" or "\\p" stays
            broken instead of being completed by the "$" (a\\ alone is invalid, ^a\\$ is not).
            A query's FilterTags pattern is compiled bare.
A pattern the checker accepts must be accepted in both columns.

Re-run (needs python3-msgpack and Debian's serf; starts one agent on 127.0.0.1, free ports,
takes a few seconds):
  /usr/bin/python3 tests/support/serf_regex_oracle.py [--serf /usr/bin/serf]     summary
  /usr/bin/python3 tests/support/serf_regex_oracle.py --cpp > /tmp/rows.inc      C++ rows
and replace the rows of kOracle in tests/unit/test_serf_regex.cpp with them. The long
constructed patterns (LONG below) come out as comments: the C++ test builds them itself.

A differential run on random patterns (half broken token soups, half grammar-made, mostly
valid), to compare with check_regex in a scratch program that includes the rows:
  /usr/bin/python3 tests/support/serf_regex_oracle.py --cpp --random 8000 --seed 21
"""
import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from script_tests import free_port  # noqa: E402

# Unicode 13 (Go 1.16 to 1.20) script names: unicode.Scripts of Go 1.19, which built serf 0.9.4.
SCRIPTS = """Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cyrillic
Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic
Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul
Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi
Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li Kharoshthi Khitan_Small_Script
Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani
Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek
Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar
Nabataean Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki
Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian
Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa
Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham
SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa
Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta
Ugaritic Vai Wancho Warang_Citi Yezidi Yi Zanabazar_Square""".split()
CATEGORIES = """C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc
Sk Sm So Z Zl Zp Zs""".split()
# Names newer Go versions know (Unicode 14/15 scripts, aliases, case-insensitive spellings).
NEWER_NAMES = """Cypro_Minoan Old_Uyghur Tangsa Toto Vithkuqi Kawi Nag_Mundari LC Cn Assigned ASCII
Ascii Letter Lowercase_Letter greek GREEK latin IsGreek Greek_Extended Any any L& Foo""".split()
POSIX = "alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit".split()

PATTERNS = r"""

a
abc
.
a.b
^a$
^
$
^$
a|b
|
a||b
(|a)
()
(a)
(?:)
(?:a)
a$b
alive
alive|leaving
(?i)ALIVE
left|failed
web.*
^web$
web-[0-9]+
node[0-9]{2}
(web|db)-\d+
(web|api)[0-9]+
prod-(eu|us)-\d{1,3}
.*-staging
[a-zA-Z0-9_.-]+
10\.0\.0\.\d+
rig-\d{2,4}(-test)?
role=web
(?i)^rig[-_]?\d+$
a*
a+
a?
a*?
a+?
a??
a{2}
a{2,}
a{2,5}
a{2}?
a{2,}?
a{2,5}?
a{0}
a{0,0}
a{1000}
a{1001}
a{0,1000}
a{0,1001}
a{1000,}
a{1001,}
a{5,2}
a{2,2}
a{01}
a{00}
a{0,01}
a{,5}
a{
a{2
a{2,
a{2,5
a{x}
a{ 2}
a{2 }
a{-1}
a{+1}
{
}
{}
a{}
{2}
{,2}
x{2}{3}
x{2}*
x{2}+
x{2}{
a**
a*+
a++
a?*
a?+
a*??
a+?+
a*{
a*{,2}
a*{2
(a*)*
(a*)+
(?:a*)*
(a+)?
((a*)*)*
(?:(?:a*)*)*
*
+
?
*a
+a
?a
**
a|*
a|+b
a|?
(*)
(+a)
(?:*)
(?i)*
a(?i)*
a*(?i)*
(?i)a*(?i)*
\Q\E*
a\Q\E*
a*\Q\E*
a\Q\E\Q\E*
^*
$*
\b*
\A+
\z?
\B{2}
a^*
(^)*
(a{2}){500}
(a{2}){501}
((a{10}){10}){10}
((a{10}){10}){11}
(a{1000}){0}
(a{1000}){0,0}
(a{1000}){0,1}
(a{1000}){1}
(a{1000}){1,1}
(a{1000}){2}
(a{1000})*
(a*){1000}
(a{2,}){500}
(a{2,}){501}
(a{0,}){1000}
(a{0,}){1000}{0}
((a{0}){1000}){1000}
(a{500}b{3}){2}
(a{500}b{3}){3}
(a{500}|b{3}){2}
(a{500}|b{3}){3}
a{99999999999}
a{100000000}
a{99999999}
a{2,99999999999}
a{1000,999}
\d
\D
\s
\S
\w
\W
\b
\B
\A
\z
\Z
\G
\C
\pL
\PL
\pN
\pZ
\pX
\pl
\pLu
\p{Greek}
\P{Greek}
\p{^Greek}
\P{^Greek}
\p{^}
\p{Latin}
\p{Han}
\p{Lu}
\p{L}
\p{Any}
\P{Any}
\p{}
\p
\P
\p{
\p{L
\p{Greek}+
[\p{Greek}\p{Latin}]
[\P{Greek}]
[^\p{^Greek}]
\x7F
\x7f
\x41
\x
\x7
\xG0
\x7G
\x{10FFFF}
\x{110000}
\x{}
\x{41
\x{41}
\x{D800}
\x{0}
\x{00000041}
\x{FFFFFFFFF}
\x{g}
\x{ 41}
\123
\0
\00
\000
\0000
\08
\1
\12
\123
\1234
\777
\8
\9
\18
\01
\7
(a)\1
(a)\k<1>
\Qa.b\E
\Qa.b
\Q
\Q\E
\E
\Q*\E
\Qab\E+
\Qa\\E
\Q\Q\E
\Qa\E\E
\a
\f
\t
\n
\r
\v
\e
\cA
\k<n>
\g1
\h
\H
\R
\X
\N
\K
\o{12}
\u0041
\U00000041
\_
\-
\.
\*
\\
\/
\ 
\#
\~
\`
\"
\'
\<
\>
\!
\@
\%
\&
\=
\,
\;
\:
\]
\[
\}
\{
\)
\(
\|
\^
\$
\+
\?
a\
\
\\\
a\\
[a]
[abc]
[a-z]
[z-a]
[a-a]
[b-a]
[^a]
[^]
[]
[]a]
[^]a]
[a-]
[-a]
[-]
[^-]
[a-b-c]
[a-b-a]
[\d]
[\D-z]
[a-\d]
[\d-z]
[\w\s]
[\W\S\D]
[\pL]
[\p{Greek}]
[\p{Foo}]
[\pL-z]
[a-\pL]
[[:alpha:]]
[[:^alpha:]]
[^[:alpha:]]
[[:alpha:][:digit:]]
[[:alpha:]-z]
[a-[:alpha:]]
[[:foo:]]
[[:alpha:]
[[:alpha]
[[:]]
[[:]
[[::]]
[[:^:]]
[[:ALPHA:]]
[[:Alpha:]]
[[=a=]]
[[.a.]]
[\b]
[\B]
[\Q]
[\Qa\E]
[\A]
[\z]
[\x41-\x5A]
[\x{100}-\x{10}]
[\x{10}-\x{100}]
[\n]
[\]]
[\[]
[\-]
[\\]
[\^]
[a
[
]
a]
]]
[]]
[[]
[[]]
[a-\]
[\
[a-
[a-]]
[.]
[*]
[(]
[)]
[|]
[$^]
[é-ú]
[ú-é]
[\x{10FFFF}]
[^\x00-\x{10FFFF}]
[a-z&&[^aeiou]]
[[a-z]]
[a-z]{2}
[^\n]+
[\012]
[\0-\177]
[\8]
[\1]
[\e]
[\_]
(a)
(a
a)
)
(()
())
)(
a)(b
((a)
(a))
(?:a
(?i)a
(?i:a)
(?im-s:a)
(?imsU)a
(?-i)a
(?i-)a
(?-)a
(?)
(?:
(?
(?i
(?i)
(?i
(?U)a*
(?s).
(?m)^a$
(?x)a
(?a)
(?u)a
(?ii)a
(?i-i)a
(?--i)a
(?i-m-s)a
(?-i:a)
(?i-s:a)
(?:)*
()*
(|a)*
(?i:)*
(?P<name>a)
(?P<n1>a)(?P<n1>b)
(?P<n1>a)|(?P<n1>b)
(?P<1n>a)
(?P<_>a)
(?P<>a)
(?P<a-b>a)
(?P<é>a)
(?P<a b>a)
(?P<name
(?P<name>
(?P<name>a
(?P<name>)
(?P=name)
(?P>name)
(?P
(?Pa)
(?P<
(?P<a>a)(?P<b>b)(?P<A>c)
(?<name>a)
(?'name'a)
(?=a)
(?!a)
(?<=a)
(?<!a)
(?>a)
(?#comment)
(?|a)
(?R)
(?1)
(?&name)
(*FAIL)
(*)a
(?i)(?P<x>a)
a(?i)b
a(?i)
(?i)|a
é
日本
é+
日本{2}
[日本]
\x{65e5}
\p{Han}+
\Q日本\E
"""

# Invalid UTF-8 and control bytes: not representable in the raw-string list above.
BINARY = [
    b"\xff", b"\xc3", b"\xc3(", b"a\xe2\x82", b"a\xe2\x82z", b"\xed\xa0\x80", b"\xc0\xaf", b"\xc1\xbf",
    b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xef\xbf\xbd",
    b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xed\x9f\xbf", b"\xee\x80\x80", b"[\xff]", b"\\Q\xff\\E",
    b"(?P<\xff>a)", b"\\p{\xff}", b"a{\xff}", b"\\\xff", b"[a-\xff]", b"(?\xff)", b"\x00", b"a\x00b",
    b"[\x00-\x1f]", b"\x80", b"\xbf", b"a\xc3", b"\t", b"\n", b"a\nb", b"\x7f", b"\\\x00",
    b"\\\xc3\xa9", b"[[:\xff:]]",
]

# Long constructed patterns: (description, bytes). Rows for these are not emitted; the C++
# test builds the same patterns (see its "constructed" group).
LONG = [
    ("capture groups nested 100 deep", b"(" * 100 + b"a" + b")" * 100),
    ("capture groups nested 300 deep", b"(" * 300 + b"a" + b")" * 300),
    ("capture groups nested 900 deep", b"(" * 900 + b"a" + b")" * 900),
    ("capture groups nested 999 deep", b"(" * 999 + b"a" + b")" * 999),
    ("capture groups nested 1000 deep", b"(" * 1000 + b"a" + b")" * 1000),
    ("capture groups nested 1001 deep", b"(" * 1001 + b"a" + b")" * 1001),
    ("capture groups nested 2000 deep", b"(" * 2000 + b"a" + b")" * 2000),
    ("non-capturing groups nested 1000 deep", b"(?:" * 1000 + b"a" + b")" * 1000),
    ("non-capturing groups nested 3000 deep", b"(?:" * 3000 + b"a" + b")" * 3000),
    ("starred groups nested 600 deep", b"(?:" * 600 + b"a" + b")*" * 600),
    ("starred groups nested 1200 deep", b"(?:" * 1200 + b"a" + b")*" * 1200),
    ("x{1000} repeated 3000 times", b"(?:x{1000})" * 3000),
    ("x{1000} repeated 4000 times", b"(?:x{1000})" * 4000),
    ("3000 x's repeated 1000 times", b"(?:" + b"x" * 3000 + b"){1000}"),
    ("3400 x's repeated 1000 times", b"(?:" + b"x" * 3400 + b"){1000}"),
    ("5000 literal a's", b"a" * 5000),
    ("100000 literal a's", b"a" * 100000),
    ("1000 alternatives", b"|".join(b"n%d" % i for i in range(1000))),
    ("prefix ladder of 60", b"|".join(b"a" * i for i in range(1, 61))),
    ("\\pL 2000 times", b"\\pL" * 2000),
    ("class ladder: 400 shared [ab]c pieces", b"[ab]c" * 400 + b"d|" + b"[ab]c" * 400 + b"e"),
    ("class ladder: 600 shared [ab]c pieces", b"[ab]c" * 600 + b"d|" + b"[ab]c" * 600 + b"e"),
    ("capture groups nested 499 deep", b"(" * 499 + b"a" + b")" * 499),
    ("capture groups nested 500 deep", b"(" * 500 + b"a" + b")" * 500),
    ("1001 x's repeated 1000 times", b"(?:" + b"x" * 1001 + b"){1000}"),
    ("4096 literal a's", b"a" * 4096),
    ("4097 literal a's", b"a" * 4097),
    ("\\pL 30000 times", b"\\pL" * 30000),
]


def pattern_list():
    out = [p.encode() for p in PATTERNS.split("\n")[1:-1]]
    out += [b"\\p{%s}" % n.encode() for n in SCRIPTS + CATEGORIES + NEWER_NAMES]
    out += [b"\\p%s" % c.encode() for c in CATEGORIES if len(c) == 1]
    out += [b"[[:%s:]]" % n.encode() for n in POSIX] + [b"[[:^%s:]]" % n.encode() for n in POSIX]
    out += BINARY
    out += [bytes([b]) for b in range(256)]
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def agent_version(serf):
    """Debian's serf 0.9.4 calls itself 0.8.2-dev; the package version says what it is."""
    deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "serf"], capture_output=True, text=True)
    own = subprocess.run([serf, "version"], capture_output=True, text=True).stdout.split("\n")[0]
    return "serf %s (Debian package %s)" % (own, deb.stdout) if deb.returncode == 0 else "serf " + own


# Pieces of syntax, valid and broken, for random patterns.
TOKENS = [b"a", b"b", b"\xc3\xa9", b".", b"^", b"$", b"|", b"(", b")", b"(?:", b"(?i)", b"(?i:", b"(?P<n>", b"(?P<",
          b"(?-", b"(?=", b"[", b"]", b"[^", b"-", b"*", b"+", b"?", b"*?", b"{", b"}", b"{2}", b"{1,3}", b"{2,}",
          b"{,2}", b"{0}", b"{1001}", b"{500}", b",", b"\\", b"\\d", b"\\pL", b"\\p{Greek}", b"\\p", b"\\P{",
          b"\\x4", b"\\x{41}", b"\\x{", b"\\Q", b"\\E", b"\\1", b"\\12", b"\\b", b"\\z", b"\\Z",
          b"[:alpha:]", b"[:", b":]", b"0", b"1", b"9", b"x", b"z-a", b"a-z", b"\\]", b"\\-", b"\\.", b"\\w"]


def grammar_pattern(rnd, depth=0):
    """A mostly valid pattern from a small RE2 grammar."""
    k = rnd.randrange(10 if depth < 4 else 3)
    if k == 0:
        return rnd.choice([b"a", b"b", b"\xc3\xa9", b".", b"^", b"$", b"\\d", b"\\pL", b"\\b", b"\\x{41}", b"\\Qa*\\E",
                           b"\\.", b"\\1", b"\\12", b"{", b"}", b"]", b""])
    if k == 1:
        items = [rnd.choice([b"a", b"a-z", b"\\d", b"[:alpha:]", b"\\pL", b"-", b"]", b"\\]", b"z-a", b"^", b"\\x{41}-\\x{5A}"])
                 for _ in range(rnd.randint(1, 3))]
        return b"[" + rnd.choice([b"", b"^"]) + b"".join(items) + b"]"
    if k == 2:
        return b"a"
    if k in (3, 4):
        return grammar_pattern(rnd, depth + 1) + grammar_pattern(rnd, depth + 1)
    if k == 5:
        return grammar_pattern(rnd, depth + 1) + b"|" + grammar_pattern(rnd, depth + 1)
    if k == 6:
        return rnd.choice([b"(", b"(?:", b"(?i:", b"(?P<n>", b"(?s-i:"]) + grammar_pattern(rnd, depth + 1) + b")"
    if k == 7:
        return rnd.choice([b"(?i)", b"(?U)", b"\\Q\\E", b""]) + grammar_pattern(rnd, depth + 1)
    q = rnd.choice([b"*", b"+", b"?", b"{2}", b"{0}", b"{1,3}", b"{3,}", b"{0,1}", b"{10}", b"{100}", b"{999}", b"{1000}"])
    return grammar_pattern(rnd, depth + 1) + q + rnd.choice([b"", b"", b"?"])


def random_patterns(n, seed):
    """Half token soups (mostly broken), half grammar patterns (mostly valid, some mutated)."""
    import random
    rnd = random.Random(seed)
    out = set()
    while len(out) < n:
        if len(out) % 2:
            out.add(b"".join(rnd.choice(TOKENS) for _ in range(rnd.randint(1, 12))))
            continue
        p = bytearray(grammar_pattern(rnd))
        if p and rnd.random() < 0.3:
            i = rnd.randrange(len(p))
            p[i:i + rnd.randint(0, 1)] = rnd.choice(TOKENS)
        if len(p) <= 200:
            out.add(bytes(p))
    return sorted(out)


def set_pdeathsig():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def start_agent(serf):
    rpc = free_port()
    proc = subprocess.Popen([serf, "agent", "-node=regex-oracle", "-bind=127.0.0.1:%d" % free_port(),
                             "-rpc-addr=127.0.0.1:%d" % rpc], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=set_pdeathsig)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("serf agent exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", rpc), timeout=1).close()
            return proc, rpc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("serf agent did not open its RPC port")


def read_object(sock, unpacker):
    """The next msgpack object, or None at EOF / reset."""
    while True:
        for obj in unpacker:
            return obj
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return None
        if not data:
            return None
        unpacker.feed(data)


def go_compiles(rpc, name):
    """True when the agent answered members-filtered with this Name (Go compiled ^Name$)."""
    with socket.create_connection(("127.0.0.1", rpc), timeout=20) as s:
        unpacker = msgpack.Unpacker(raw=True)
        s.sendall(msgpack.packb({"Command": "handshake", "Seq": 1}) + msgpack.packb({"Version": 1}))
        header = read_object(s, unpacker)
        if header is None or header.get(b"Error"):
            raise RuntimeError("handshake failed: %r" % (header,))
        # use_bin_type=False: bytes go out as msgpack str (raw), as the agent requires for Name,
        # even when they are not UTF-8.
        s.sendall(msgpack.packb({"Command": "members-filtered", "Seq": 2}) +
                  msgpack.packb({"Name": name, "Status": b"", "Tags": {}}, use_bin_type=False))
        header = read_object(s, unpacker)
        if header is None:
            return False
        if header.get(b"Seq") != 2 or header.get(b"Error"):
            raise RuntimeError("unexpected reply %r" % (header,))
        return True


def verdicts(rpc, p):
    return go_compiles(rpc, p), go_compiles(rpc, b"|" + p + b"k")


def check_oracle(proc, rpc):
    """A dropped connection must mean "Go rejected": the agent is up and tells a from (."""
    if proc.poll() is not None or verdicts(rpc, b"a") != (True, True) or verdicts(rpc, b"(") != (False, False):
        raise RuntimeError("the agent does not answer as an oracle should")


def cpp_literal(p):
    """A C++ string literal of exactly these bytes, and its length (NULs are allowed)."""
    out = []
    for i, b in enumerate(p):
        c = chr(b)
        if c in "\\\"" or (c == "?" and i > 0 and p[i - 1] == ord("?")):  # no ??( trigraph warnings
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\%03o" % b)  # three octal digits: never runs into the next character
    return '{"%s", %d}' % ("".join(out), len(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serf", default="/usr/bin/serf")
    ap.add_argument("--cpp", action="store_true", help="print C++ table rows for kOracle")
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="ask about N random token soups instead of the curated list (for a differential run)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    proc, rpc = start_agent(args.serf)
    try:
        version = agent_version(args.serf)
        patterns = random_patterns(args.random, args.seed) if args.random else pattern_list()
        check_oracle(proc, rpc)
        rows = [(p,) + verdicts(rpc, p) for p in patterns]
        long_rows = [] if args.random else [(d, p) + verdicts(rpc, p) for d, p in LONG]
        check_oracle(proc, rpc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if args.cpp:
        print("// Recorded from %s by tests/support/serf_regex_oracle.py: %d patterns." % (version, len(rows)))
        for p, anchored, bare in rows:
            print("    {%s, %s, %s}," % (cpp_literal(p), "true" if anchored else "false", "true" if bare else "false"))
        for d, p, anchored, bare in long_rows:
            print("// %s (%d bytes): anchored %s, bare %s" % (d, len(p), anchored, bare))
        return 0
    both = sum(1 for _, a, b in rows if a and b)
    print("%s: %d patterns, %d accepted bare and anchored, %d accepted anchored only, %d accepted bare only, "
          "%d rejected both" % (version, len(rows), both, sum(1 for _, a, b in rows if a and not b),
                                sum(1 for _, a, b in rows if b and not a), sum(1 for _, a, b in rows if not a and not b)))
    for p, anchored, bare in rows:
        print("%-5s %-5s %r" % ("ok" if anchored else "REJ", "ok" if bare else "REJ", p))
    for d, p, anchored, bare in long_rows:
        print("%-5s %-5s %s (%d bytes)" % ("ok" if anchored else "REJ", "ok" if bare else "REJ", d, len(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
