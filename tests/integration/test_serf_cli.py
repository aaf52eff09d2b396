#!/usr/bin/env python3
"""`rigagent serf ...` as a person on the board uses it, against real Serf agents (Debian's serf)
on loopback: agent a (no RPC auth, debug log) and agent b (rpc_auth through a config file, joined
to a), plus short-lived agents for join/leave/force-leave and an encrypted one for the keyring.
Every subcommand for real: the members table and JSON (and the same members as `serf members`),
filters, an event seen by `rigagent serf stream --json` on the other agent, a query answered by
a responder, monitor (log lines and events, Ctrl-C), tags, join, leave, force-leave, info, rtt,
keys; auth, an unreachable agent and bad command lines with their exit codes and messages.
Every process it starts is stopped.
Usage: test_serf_cli.py PATH/TO/rigagent PATH/TO/serf"""
import base64
import ctypes
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from script_tests import expect, free_port, run_tests  # noqa: E402

RIGAGENT = sys.argv[1]
SERF = sys.argv[2] if len(sys.argv) > 2 else "/usr/bin/serf"
TMP = tempfile.mkdtemp(prefix="rigagent-serf-cli-")
TOKEN = "s3cret"
procs = []

# A clean environment: the tests say which agent and token through options or on purpose.
ENV = {k: v for k, v in os.environ.items() if k not in ("SERF_RPC_ADDR", "SERF_RPC_AUTH")}


def die_with_parent():
    # PR_SET_PDEATHSIG = 1: the agents die with this script even if it is killed.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def wait_for(pred, timeout, what, every=0.05):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(every)


# ------------------------------------------------------------------------------------- processes

def rpc_ready(port):
    """True once the agent answers a handshake on its RPC port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(msgpack.packb({"Command": "handshake", "Seq": 1}) + msgpack.packb({"Version": 1}))
            s.settimeout(1)
            unpacker = msgpack.Unpacker(raw=False)
            while True:
                data = s.recv(4096)
                if not data:
                    return False
                unpacker.feed(data)
                for obj in unpacker:
                    return obj == {"Error": "", "Seq": 1}
    except OSError:
        return False


class Agent:
    def __init__(self, name, *extra, auth=None, join=None):
        self.name = name
        self.port, self.rpc_port = free_port(), free_port()
        self.rpc = "127.0.0.1:%d" % self.rpc_port
        self.auth = auth
        cmd = [SERF, "agent", "-node=" + name, "-bind=127.0.0.1:%d" % self.port, "-rpc-addr=" + self.rpc,
               "-log-level=debug"] + list(extra)
        if auth:
            path = os.path.join(TMP, name + ".json")
            with open(path, "w") as f:
                json.dump({"rpc_auth": auth}, f)
            cmd.append("-config-file=" + path)
        if join:
            cmd.append("-join=127.0.0.1:%d" % join.port)
        self.log = open(os.path.join(TMP, name + ".log"), "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        procs.append(self.p)
        wait_for(lambda: rpc_ready(self.rpc_port) or self.p.poll() is not None, 10, "serf agent %s" % name)
        expect(self.p.poll() is None, "serf agent %s exited with %s (log %s)" % (name, self.p.returncode, self.log.name))

    def opts(self):
        return ["--rpc-addr", self.rpc] + (["--rpc-auth", self.auth] if self.auth else [])

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.log.close()


def rs(*args, agent=None, env=None, stdin=None, timeout=20):
    """Runs `rigagent serf ARGS` against `agent` (its address and token first)."""
    argv = [RIGAGENT, "serf", args[0]] + (agent.opts() if agent else []) + list(args[1:])
    return subprocess.run(argv, capture_output=True, timeout=timeout, input=stdin, env=env or ENV,
                          text=not isinstance(stdin, bytes))


def ok(r, what):
    expect(r.returncode == 0, "%s: exit %d, stderr %r, stdout %r" % (what, r.returncode, r.stderr, r.stdout))
    return r.stdout


def members_json(agent, *filters):
    return json.loads(ok(rs("members", *filters, "--json", agent=agent), "members --json"))


def status_of(agent, node):
    return {m["name"]: m["status"] for m in members_json(agent)}.get(node)


class Follower:
    """`rigagent serf stream|monitor ...` running, its stdout lines in a queue."""

    def __init__(self, *args, agent):
        self.p = subprocess.Popen([RIGAGENT, "serf", args[0]] + agent.opts() + list(args[1:]), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=ENV)
        procs.append(self.p)
        self.lines, self.errors = queue.Queue(), []
        self.readers = [threading.Thread(target=lambda: [self.lines.put(x.rstrip("\n")) for x in self.p.stdout], daemon=True)]
        ready = threading.Event()

        def read_err():
            for x in self.p.stderr:
                self.errors.append(x)
                if "following the Serf agent" in x:
                    ready.set()
        self.readers.append(threading.Thread(target=read_err, daemon=True))
        for t in self.readers:
            t.start()
        expect(ready.wait(10), "%s did not start following: %r" % (args[0], self.errors))

    def next(self, timeout=10):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output within %.1f s (stderr %r)" % (timeout, self.errors))

    def find(self, pred, timeout=10):
        end = time.time() + timeout
        seen = []
        while time.time() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            seen.append(line)
            if pred(line):
                return line
        raise AssertionError("no matching line within %.1f s; saw %r" % (timeout, seen[-10:]))

    def wait(self, timeout=5):
        """The exit code, once the process ended and all its output was read."""
        rc = self.p.wait(timeout)
        for t in self.readers:
            t.join(timeout)
        return rc

    def stop(self, sig=signal.SIGINT):
        t0 = time.time()
        self.p.send_signal(sig)
        rc = self.p.wait(timeout=5)
        return rc, time.time() - t0


def parse_json(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


class Responder(threading.Thread):
    """Answers query NAME with "pong:" + payload on agent's RPC port, as an application would
    (stream "query:NAME", then respond with the record's ID on the same connection)."""

    def __init__(self, agent, name):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", agent.rpc_port), timeout=5)
        self.ready, self.stopped, self.answered = threading.Event(), False, 0
        self.seq = 10
        self.send({"Command": "handshake", "Seq": 1}, {"Version": 1})
        self.send({"Command": "stream", "Seq": 2}, {"Type": "query:" + name})
        self.start()
        expect(self.ready.wait(5), "the responder's stream was not acknowledged")

    def send(self, header, body):
        self.sock.sendall(msgpack.packb(header) + msgpack.packb(body, use_bin_type=True))

    def run(self):
        unpacker, last = msgpack.Unpacker(raw=False), None
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            unpacker.feed(data)
            for obj in unpacker:
                if isinstance(obj, dict) and set(obj) == {"Seq", "Error"}:  # a header (serf-rpc.md §2)
                    last = obj
                    if obj["Seq"] == 2 and not obj["Error"]:
                        self.ready.set()
                    continue
                if last and last["Seq"] == 2 and obj.get("Event") == "query":
                    self.seq += 1
                    self.send({"Command": "respond", "Seq": self.seq},
                              {"ID": obj["ID"], "Payload": b"pong:" + (obj.get("Payload") or b"")})
                    self.answered += 1

    def stop(self):
        self.stopped = True
        self.join(2)
        self.sock.close()


A = B = None


def start_cluster():
    global A, B
    A = Agent("a", "-tag", "role=test")
    B = Agent("b", "-tag", "role=web", "-tag", "dc=x", auth=TOKEN, join=A)
    wait_for(lambda: sorted(m["name"] for m in members_json(A) if m["status"] == "alive") == ["a", "b"], 10,
             "a and b to see each other", every=0.1)


# ------------------------------------------------------------------------------------------ tests

def test_help_and_usage():
    r = subprocess.run([RIGAGENT, "--help"], capture_output=True, text=True, env=ENV)
    expect(r.returncode == 0 and "\n  serf " in r.stdout, "rigagent --help does not list serf: %r" % r.stdout)
    r = subprocess.run([RIGAGENT, "serf", "--help"], capture_output=True, text=True, env=ENV)
    expect(r.returncode == 0, "serf --help exit %d" % r.returncode)
    for cmd in ("members", "event", "query", "stream", "monitor", "tags", "join", "leave", "force-leave", "info", "rtt",
                "keys"):
        expect(re.search(r"^  %s " % cmd, r.stdout, re.M), "serf --help does not list %s" % cmd)
        h = subprocess.run([RIGAGENT, "serf", cmd, "--help"], capture_output=True, text=True, env=ENV)
        expect(h.returncode == 0 and h.stdout.startswith("usage: rigagent serf %s" % cmd) and "--rpc-addr" in h.stdout,
               "%s --help: %d %r" % (cmd, h.returncode, h.stdout[:200]))
    r = subprocess.run([RIGAGENT, "serf"], capture_output=True, text=True, env=ENV)
    expect(r.returncode == 2 and "usage: rigagent serf" in r.stderr, "bare serf: %d %r" % (r.returncode, r.stderr))
    # Bad command lines never reach an agent (none listens here): exit 2 with the usage line.
    nowhere = ["--rpc-addr", "127.0.0.1:%d" % free_port()]
    for args, why in [(["nosuch"], "unknown command 'nosuch'"),
                      (["members", "--bogus"], "unknown option '--bogus'"),
                      (["members", "--name", "a(b"], "--name"),
                      (["members", "--tag", "role"], "expected K=REGEX"),
                      (["event"], "NAME"),
                      (["event", "deploy", "x", "--payload-file", "/dev/null"], "not both"),
                      (["event", "deploy", "--payload-file", "/nonexistent/p"], "cannot open"),
                      (["query", "load", "--timeout", "soon"], "--timeout"),
                      (["query", "load", "--relay-factor", "300"], "--relay-factor"),
                      (["members", "--timeout", "-1s"], "--timeout"),
                      (["monitor", "--log-level", "loud"], "--log-level"),
                      (["stream", "--count", "0"], "--count"),
                      (["tags"], "--set"),
                      (["join"], "ADDR"),
                      (["force-leave"], "NODE"),
                      (["rtt", "a", "b", "c"], "too many"),
                      (["keys"], "--list"),
                      (["keys", "--list", "--use", "x"], "one of"),
                      (["keys", "--install", "not-a-key"], "serf keygen")]:
        r = subprocess.run([RIGAGENT, "serf"] + args + nowhere, capture_output=True, text=True, env=ENV, timeout=10)
        expect(r.returncode == 2, "%s: exit %d, want 2 (%r)" % (args, r.returncode, r.stderr))
        expect(why in r.stderr, "%s: %r does not say %r" % (args, r.stderr, why))
        if args[0] != "nosuch":
            expect("usage: rigagent serf %s" % args[0] in r.stderr, "%s: no usage line in %r" % (args, r.stderr))
    for addr in ("garbage", "127.0.0.1", "127.0.0.1:99999", "::1:7373"):
        r = subprocess.run([RIGAGENT, "serf", "members"], capture_output=True, text=True, timeout=10,
                           env=dict(ENV, SERF_RPC_ADDR=addr))
        expect(r.returncode == 2 and "'%s' is not host:port" % addr in r.stderr, "address %r: %d %r" % (addr, r.returncode, r.stderr))


def test_unreachable_agent():
    addr = "127.0.0.1:%d" % free_port()
    for cmd in (["members"], ["event", "x"], ["stream"], ["monitor"], ["query", "q"]):
        t0 = time.time()
        r = subprocess.run([RIGAGENT, "serf"] + cmd + ["--rpc-addr", addr], capture_output=True, text=True, env=ENV,
                           timeout=10)
        took = time.time() - t0
        expect(r.returncode == 5, "%s against nobody: exit %d, want 5 (%r)" % (cmd, r.returncode, r.stderr))
        expect(took < 2, "%s against nobody took %.1f s" % (cmd, took))
        expect(addr in r.stderr and "SERF_RPC_ADDR" in r.stderr and r.stderr.count("\n") == 1,
               "%s: the message should be one line naming %s and what to do: %r" % (cmd, addr, r.stderr))


def test_members_table_json_and_serf_cli():
    out = ok(rs("members", agent=A), "members")
    rows = [line.split() for line in out.splitlines()]
    expect(rows[0] == ["NAME", "ADDRESS", "STATUS", "TAGS"], "header %r" % rows[0])
    by_name = {r[0]: r for r in rows[1:]}
    expect(by_name["a"] == ["a", "127.0.0.1:%d" % A.port, "alive", "role=test"], "row a %r" % by_name.get("a"))
    expect(by_name["b"] == ["b", "127.0.0.1:%d" % B.port, "alive", "dc=x,role=web"], "row b %r" % by_name.get("b"))
    ms = {m["name"]: m for m in members_json(A)}
    b = ms["b"]
    expect(b["addr"] == "127.0.0.1" and b["port"] == B.port and b["status"] == "alive"
           and b["tags"] == {"role": "web", "dc": "x"}, "member b %r" % b)
    expect(set(b["protocol"]) == {"min", "max", "cur"} and b["protocol"]["min"] <= b["protocol"]["cur"] <= b["protocol"]["max"]
           and set(b["delegate"]) == {"min", "max", "cur"} and b["delegate"]["cur"] >= 2, "versions %r" % b)
    # The same members as the serf command line's.
    r = subprocess.run([SERF, "members", "-format=json", "-rpc-addr=" + A.rpc], capture_output=True, text=True, timeout=10)
    theirs = {m["name"]: m for m in json.loads(r.stdout)["members"]}
    expect(set(theirs) == set(ms), "serf members %r, ours %r" % (sorted(theirs), sorted(ms)))
    for name, m in theirs.items():
        expect(m["addr"] == "%s:%d" % (ms[name]["addr"], ms[name]["port"]) and m["status"] == ms[name]["status"]
               and m["tags"] == ms[name]["tags"], "%s: serf %r, ours %r" % (name, m, ms[name]))
    detailed = ok(rs("members", "--detailed", agent=A), "members --detailed").splitlines()
    expect(detailed[0].split() == ["NAME", "ADDRESS", "STATUS", "TAGS", "PROTOCOL", "DELEGATE"], "detailed header %r" % detailed[0])
    expect(re.search(r"^b\s.*\s%d \[%d-%d\]\s+%d \[%d-%d\]$" % (
        b["protocol"]["cur"], b["protocol"]["min"], b["protocol"]["max"],
        b["delegate"]["cur"], b["delegate"]["min"], b["delegate"]["max"]), "\n".join(detailed), re.M), "detailed %r" % detailed)
    # The environment names the agent and its token, as for serf.
    env = dict(ENV, SERF_RPC_ADDR=B.rpc, SERF_RPC_AUTH=TOKEN)
    r = subprocess.run([RIGAGENT, "serf", "members", "--json"], capture_output=True, text=True, env=env, timeout=10)
    expect(r.returncode == 0 and {m["name"] for m in json.loads(r.stdout)} == {"a", "b"}, "via env: %r" % r.stderr)


def test_members_filters():
    names = lambda *f: sorted(m["name"] for m in members_json(A, *f))  # noqa: E731
    expect(names("--name", "b") == ["b"], "--name b")
    expect(names("--name", "[ab]") == ["a", "b"], "--name [ab]")
    expect(names("--name", "b.") == [], "--name is anchored")
    expect(names("--tag", "role=web") == ["b"], "--tag role=web")
    expect(names("--tag", "role=.*e.*") == ["a", "b"], "--tag role=.*e.*")
    expect(names("--tag", "role=web", "--tag", "dc=y") == [], "two tags must both match")
    expect(names("--status", "alive") == ["a", "b"], "--status alive")
    expect(names("--status", "failed|left") == [], "--status failed|left")
    out = ok(rs("members", "--tag", "dc=x", agent=B), "members --tag (b)")
    expect([line.split()[0] for line in out.splitlines()[1:]] == ["b"], "table filtered %r" % out)


def test_auth():
    expect(sorted(m["name"] for m in members_json(B)) == ["a", "b"], "members with the right token")
    for token, words in ((None, "set --rpc-auth or SERF_RPC_AUTH"), ("wrong", "the token is wrong")):
        argv = [RIGAGENT, "serf", "members", "--rpc-addr", B.rpc] + (["--rpc-auth", token] if token else [])
        r = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=10)
        expect(r.returncode == 3, "token %r: exit %d, want 3 (%r)" % (token, r.returncode, r.stderr))
        expect(words in r.stderr and B.rpc in r.stderr and r.stderr.count("\n") == 1, "token %r: %r" % (token, r.stderr))
    r = subprocess.run([RIGAGENT, "serf", "event", "x", "--rpc-addr", B.rpc], capture_output=True, text=True,
                       env=dict(ENV, SERF_RPC_AUTH="wrong"), timeout=10)
    expect(r.returncode == 3, "SERF_RPC_AUTH=wrong: exit %d" % r.returncode)


def test_event_seen_by_stream():
    watch = Follower("stream", "--json", "--filter", "user:deploy", agent=B)
    try:
        ok(rs("event", "other", "ignored", agent=A), "event other")
        out = ok(rs("event", "deploy", "v1.2.3", agent=A), "event deploy")
        expect("deploy" in out, "event output %r" % out)
        ev = parse_json(watch.next())
        expect(ev is not None and set(ev) == {"event", "name", "payload", "ltime", "coalesce"}
               and (ev["event"], ev["name"], ev["payload"], ev["coalesce"]) == ("user", "deploy", "v1.2.3", True)
               and ev["ltime"] > 0, "event record %r" % ev)
        ok(rs("event", "--no-coalesce", "deploy", "-", agent=A, stdin="from stdin"), "event from stdin")
        ev2 = parse_json(watch.next())
        expect((ev2["payload"], ev2["coalesce"]) == ("from stdin", False) and ev2["ltime"] > ev["ltime"], "record %r" % ev2)
        path = os.path.join(TMP, "payload.bin")
        with open(path, "wb") as f:
            f.write(b"\x00\xff\x10")
        ok(rs("event", "deploy", "--payload-file", path, agent=A), "event --payload-file")
        ev3 = parse_json(watch.next())
        expect(ev3["payload"].lower() == "0x00ff10", "binary payload shown as %r" % ev3["payload"])
        r = rs("event", "deploy", "x" * 600, agent=A)
        expect(r.returncode == 2 and "512" in r.stderr, "oversized event: %d %r" % (r.returncode, r.stderr))
        expect(watch.lines.empty(), "the stream printed more: %r" % watch.lines.queue)
    finally:
        rc, took = watch.stop(signal.SIGTERM)
    expect(rc == 0 and took < 2, "stream after SIGTERM: exit %s in %.1f s" % (rc, took))


def test_stream_member_events_count_duration():
    watch = Follower("stream", "--json", "--filter", "member-update", "--count", "1", agent=A)
    try:
        ok(rs("tags", "--set", "zone=z1", agent=B), "tags on b")
        ev = parse_json(watch.next())
        expect(ev["event"] == "member-update" and ev["members"][0]["name"] == "b"
               and ev["members"][0]["tags"].get("zone") == "z1", "member-update record %r" % ev)
        expect(watch.p.wait(5) == 0, "--count 1 did not end the stream")
    finally:
        ok(rs("tags", "--delete", "zone", agent=B), "tags --delete on b")
        watch.p.wait(5)
    t0 = time.time()
    r = rs("stream", "--duration", "300ms", agent=A)
    expect(r.returncode == 0 and 0.25 < time.time() - t0 < 3, "--duration 300ms: %d after %.2f s" % (r.returncode, time.time() - t0))
    # Text records, one a line.
    watch = Follower("stream", "--filter", "user", "--count", "1", agent=A)
    ok(rs("event", "hello", "world", agent=B), "event hello")
    line = watch.next()
    expect(line.startswith("user event 'hello'") and line.endswith(": world"), "text record %r" % line)
    expect(watch.p.wait(5) == 0, "text stream exit")
    r = rs("stream", "--filter", "nonsense", agent=A)
    expect(r.returncode in (1, 2) and "nonsense" in r.stderr, "bad filter: %d %r" % (r.returncode, r.stderr))


def test_query_with_responder():
    responder = Responder(A, "load")
    try:
        t0 = time.time()
        out = ok(rs("query", "--timeout", "700ms", "load", "hi", agent=B), "query")
        took = time.time() - t0
        lines = out.splitlines()
        expect(lines[0] == "Query 'load' dispatched", "first line %r" % lines[0])
        expect(sorted(x for x in lines if x.startswith("Ack")) == ["Ack from 'a'", "Ack from 'b'"], "acks in %r" % lines)
        expect([x for x in lines if x.startswith("Response")] == ["Response from 'a': pong:hi"], "responses in %r" % lines)
        expect(lines[-2:] == ["Total Acks: 2", "Total Responses: 1"], "summary %r" % lines[-2:])
        expect(0.6 < took < 5, "the query lasted %.2f s, its timeout is 0.7 s" % took)
        # --json, one object a line; the payload from standard input.
        out = ok(rs("query", "--timeout", "500ms", "--json", "load", "-", agent=A, stdin="x"), "query --json")
        objs = [json.loads(x) for x in out.splitlines()]
        expect(objs[-1] == {"type": "done", "acks": 2, "responses": 1}, "done %r" % objs[-1])
        expect({"type": "response", "from": "a", "payload": "pong:x"} in objs, "response in %r" % objs)
        expect(sorted(o["from"] for o in objs if o["type"] == "ack") == ["a", "b"], "acks in %r" % objs)
        # Filters: by node, by tag; --no-ack leaves out the acks and their total.
        out = ok(rs("query", "--timeout", "500ms", "--node", "b", "load", agent=A), "query --node b")
        expect("Ack from 'b'" in out and "'a'" not in out and "Total Responses: 0" in out, "--node b: %r" % out)
        out = ok(rs("query", "--timeout", "500ms", "--tag", "role=te.t", "--no-ack", "load", "y", agent=A), "query --tag")
        expect(out.splitlines() == ["Query 'load' dispatched", "Response from 'a': pong:y", "Total Responses: 1"],
               "--tag --no-ack: %r" % out)
        # The serf command line sees the same answer.
        r = subprocess.run([SERF, "query", "-timeout=500ms", "-rpc-addr=" + A.rpc, "load", "z"], capture_output=True,
                           text=True, timeout=10)
        expect("Response from 'a': pong:z" in r.stdout, "serf query: %r" % r.stdout)
        r = rs("query", "load", "q" * 1100, agent=A)
        expect(r.returncode == 2 and "1024" in r.stderr, "oversized query: %d %r" % (r.returncode, r.stderr))
    finally:
        responder.stop()


def test_monitor_logs_events_and_sigint():
    mon = Follower("monitor", "--log-level", "debug", "--json", agent=A)
    try:
        first = parse_json(mon.next())
        expect(first is not None and set(first) == {"log"} and re.search(r"\[(DEBUG|INFO|WARN|ERR)\]", first["log"]),
               "first monitor record %r" % first)
        ok(rs("event", "mon-check", "seen", agent=B), "event for monitor")
        # The event, and the agent's log line about it, in either order.
        seen = {}

        def both(line):
            obj = parse_json(line) or {}
            if obj.get("event") == "user":  # (a member-join of a and b may come first)
                seen["event"] = obj
            elif "mon-check" in obj.get("log", ""):
                seen["log"] = obj["log"]
            return len(seen) == 2
        mon.find(both)
        ev = seen["event"]
        expect(ev["event"] == "user" and ev["name"] == "mon-check" and ev["payload"] == "seen", "event %r" % ev)
    finally:
        rc, took = mon.stop(signal.SIGINT)
    expect(rc == 0 and took < 2, "monitor after Ctrl-C: exit %s in %.2f s" % (rc, took))
    r = rs("monitor", "--count", "3", agent=A)
    expect(r.returncode == 0 and len(r.stdout.splitlines()) == 3, "--count 3: %d %r" % (r.returncode, r.stdout))
    expect(all(re.search(r"\[(DEBUG|INFO|WARN|ERR)\]", x) for x in r.stdout.splitlines()), "text log lines %r" % r.stdout)
    r = rs("monitor", "--log-level", "err", "--duration", "200ms", agent=A)
    expect(r.returncode == 0 and "[DEBUG]" not in r.stdout and "[INFO]" not in r.stdout, "--log-level err: %r" % r.stdout)


def test_tags():
    ok(rs("tags", "--set", "zone=z9", "--set", "rack=4", "--delete", "role", agent=A), "tags")
    expect(wait_for(lambda: {m["name"]: m["tags"] for m in members_json(B)}["a"] == {"zone": "z9", "rack": "4"}, 5,
                    "b to see a's new tags"), "")
    expect(members_json(A, "--name", "a")[0]["tags"] == {"zone": "z9", "rack": "4"}, "a's own view")
    ok(rs("tags", "--set", "role=test", "--delete", "zone", "--delete", "rack", "--delete", "nosuch", agent=A), "restore")
    expect(members_json(A, "--name", "a")[0]["tags"] == {"role": "test"}, "restored tags")


def test_info():
    out = ok(rs("info", agent=A), "info")
    expect(re.search(r"^agent:\n  name = a$", out, re.M) and re.search(r"^serf:$", out, re.M)
           and re.search(r"^  members = 2$", out, re.M), "info %r" % out)
    stats = json.loads(ok(rs("info", "--json", agent=B), "info --json"))
    expect(stats["agent"]["name"] == "b" and stats["serf"]["members"] == "2" and stats["tags"] == {"role": "web", "dc": "x"},
           "stats %r" % stats)


def test_rtt():
    pattern = r"^Estimated (\w+) <-> (\w+) rtt: (\d+\.\d{3}) ms \(using LAN coordinates\)\n$"
    out = wait_for(lambda: (lambda r: r.returncode == 0 and r.stdout)(rs("rtt", "a", "b", agent=A)), 15,
                   "coordinates for a and b", every=0.25)
    m = re.match(pattern, out)
    expect(m and m.group(1, 2) == ("a", "b") and 0 < float(m.group(3)) < 50, "rtt %r" % out)
    m = re.match(pattern, ok(rs("rtt", "b", agent=A), "rtt b"))
    expect(m and m.group(1, 2) == ("b", "a"), "rtt to the agent itself %r" % m)
    r = rs("rtt", "nosuch", agent=A)
    expect(r.returncode == 1 and "no coordinate for node 'nosuch'" in r.stderr, "rtt nosuch: %d %r" % (r.returncode, r.stderr))


def test_keys_unencrypted():
    for args in (["--list"], ["--install", base64.b64encode(os.urandom(16)).decode()]):
        r = rs("keys", *args, agent=A)
        expect(r.returncode == 1, "keys %s unencrypted: exit %d (%r)" % (args, r.returncode, r.stderr))
        expect("encryption not enabled" in r.stderr and "2/2 nodes reported failure" in r.stderr and A.rpc in r.stderr,
               "keys %s unencrypted: %r" % (args, r.stderr))


def test_keys_encrypted():
    k1, k2 = (base64.b64encode(os.urandom(n)).decode() for n in (16, 32))
    e = Agent("e1", "-encrypt=" + k1)
    try:
        listed = lambda: json.loads(ok(rs("keys", "--list", "--json", agent=e), "keys --list"))  # noqa: E731
        expect(listed() == {"keys": {k1: 1}, "nodes": 1}, "initial keyring %r" % listed())
        table = ok(rs("keys", "--list", agent=e), "keys --list (table)").splitlines()
        expect(table[0].split() == ["KEY", "NODES"] and table[1].split() == [k1, "1/1"], "table %r" % table)
        ok(rs("keys", "--install", k2, agent=e), "install")
        expect(listed()["keys"] == {k1: 1, k2: 1}, "after install")
        ok(rs("keys", "--use", k2, agent=e), "use")
        r = rs("keys", "--remove", k2, agent=e)
        expect(r.returncode == 1 and "e1" in r.stderr, "removing the key in use: %d %r" % (r.returncode, r.stderr))
        out = ok(rs("keys", "--remove", k1, agent=e), "remove")
        expect("1 of 1" in out, "remove output %r" % out)
        expect(listed()["keys"] == {k2: 1}, "after remove")
    finally:
        e.stop()


def test_join_leave_force_leave():
    c = Agent("c")
    try:
        out = ok(rs("join", "127.0.0.1:%d" % A.port, agent=c), "join")
        expect("1 of 1" in out, "join output %r" % out)
        wait_for(lambda: status_of(A, "c") == "alive", 5, "a to see c")
        r = rs("join", "127.0.0.1:%d" % free_port(), agent=c)
        expect(r.returncode == 1 and "Failed to join" in r.stderr, "join nobody: %d %r" % (r.returncode, r.stderr))
        watch = Follower("stream", agent=c)
        out = ok(rs("leave", agent=c), "leave")
        expect(c.rpc in out, "leave output %r" % out)
        expect(c.p.wait(10) == 0, "the agent did not exit after leave")
        # A stream on the agent that went away ends, saying so.
        rc = watch.wait()
        print("    a stream of an agent that left:", watch.errors[-1].strip())
        expect(rc == 5 and c.rpc in "".join(watch.errors[1:]), "stream of a gone agent: %s %r" % (rc, watch.errors))
        wait_for(lambda: status_of(A, "c") == "left", 5, "a to see c left")
        ok(rs("force-leave", "--prune", "c", agent=A), "force-leave --prune")
        wait_for(lambda: status_of(A, "c") is None, 5, "c pruned from a's members")
        ok(rs("force-leave", "nosuch", agent=A), "force-leave of an unknown node")
    finally:
        c.stop()
    r = rs("members", agent=c)
    expect(r.returncode == 5, "members of an agent that left: exit %d" % r.returncode)


if __name__ == "__main__":
    t0 = time.time()
    try:
        start_cluster()
        rc = run_tests(globals(), procs, only=sys.argv[3:])
    finally:
        for a in (A, B):
            if a:
                a.stop()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    print("%.1f s" % (time.time() - t0))
    sys.exit(rc)
