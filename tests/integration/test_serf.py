#!/usr/bin/env python3
"""rigagent in a Serf cluster, end to end: three real Serf agents on loopback (a, b, c, joined),
`rigagent run` A on agent a and B on agent b, driven through the simulated board, ZeroMQ and a
raw Serf RPC client of the test's own (tests/support/serf_rpc.py). Node tags; e-stops and alarms
as user events, with the e-stop's latency from edge to another node's stream; queries answered
through the RpcService, the allow-list and node filters; a user event that stops a rig; agent b
killed and restarted under rigagent B (it reconnects, re-tags, delivers what it queued, in order,
and its RpcService never stalls); config errors; an agent that appears late; the shutdown tag.
Every process it starts is stopped.
Usage: test_serf.py PATH/TO/rigagent PATH/TO/serf"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from script_tests import expect, free_port, run_tests  # noqa: E402
from serf_rpc import SerfAgent  # noqa: E402

RIGAGENT = sys.argv[1]
SERF = sys.argv[2]
TMP = tempfile.mkdtemp(prefix="rigagent-serf-")
procs = []
rigs = []  # every rigagent started, for the sanitizer check at the end
EVENTS = "user:rig-emergency-stop,user:rig-emergency-resume,user:rig-alarm"
TOPIC_HEARTBEAT, TOPIC_EMERGENCY = 1001, 2001


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


def payload(record):
    try:
        return json.loads(record.get("Payload") or b"null") or {}
    except ValueError:
        return {}


def from_rig(rig, *names):
    return lambda r: r.get("Event") == "user" and r["Name"] in names and payload(r).get("rig") == rig


def write_config(name, cfg):
    path = os.path.join(TMP, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def start_agent(name, rpc_port=None, bind_port=None, join=None, rpc_auth=None):
    a = SerfAgent(SERF, name, bind_port or free_port(), rpc_port or free_port(), join=join,
                  log=os.path.join(TMP, "serf-%s.log" % name[:16]), rpc_auth=rpc_auth, config_dir=TMP)
    a.start()
    procs.append(a.p)
    return a


# ------------------------------------------------------------------------------------- a rig

class Rig:
    def __init__(self, name, serf, identifier=None):
        self.name = name
        self.pub, self.cmd = free_port(), free_port()
        self.hal_sock = os.path.join(TMP, "hal-%s.sock" % name)
        cfg = {"rpc": {"identifier": identifier or name, "heartbeat_interval": 0.2,
                       "pub_endpoints": ["tcp://127.0.0.1:%d" % self.pub],
                       "command_endpoints": ["tcp://127.0.0.1:%d" % self.cmd]},
               "app_link": {"enable": False}, "hal": {"control_socket": self.hal_sock},
               "serf": dict({"enable": True, "reconnect_max_ms": 500}, **serf)}
        if os.environ.get("SERF_TEST_DEBUG"):
            cfg["log_level"] = "debug"
        self.config = write_config(name, cfg)
        self.log = []
        self.p = subprocess.Popen([RIGAGENT, "run", "--config", self.config], stderr=subprocess.PIPE, text=True)
        procs.append(self.p)
        rigs.append(self)
        ready = threading.Event()

        def read():
            for line in self.p.stderr:
                self.log.append(line)
                if " ready on board " in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        expect(ready.wait(5), "rigagent %s not ready: %s" % (name, "".join(self.log)))

    def hal(self, *args):
        r = subprocess.run([RIGAGENT, "hal", "--socket", self.hal_sock] + list(args), capture_output=True, text=True,
                           timeout=10)
        expect(r.returncode == 0, "hal %s: %s" % (args, r.stderr))

    def console(self, *args, timeout=10):
        return subprocess.run([RIGAGENT, "console", "--endpoint", "tcp://127.0.0.1:%d" % self.cmd] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def status(self):
        r = self.console("--json", "GET_STATUS")
        expect(r.returncode == 0, "GET_STATUS on %s: %s" % (self.name, r.stdout + r.stderr))
        return json.loads(r.stdout)["data"]

    def subscriber(self):
        """A SUB on the rig's PUB socket (EMERGENCY and HEARTBEAT), live once a heartbeat came."""
        import zmq
        s = zmq.Context.instance().socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        for t in (TOPIC_EMERGENCY, TOPIC_HEARTBEAT):
            s.setsockopt(zmq.SUBSCRIBE, t.to_bytes(4, "little"))
        s.connect("tcp://127.0.0.1:%d" % self.pub)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            if s.poll(200) and int.from_bytes(s.recv_multipart()[0], "little") == TOPIC_HEARTBEAT:
                return s
        raise AssertionError("no heartbeat from %s" % self.name)

    @staticmethod
    def next_emergency(sub, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if sub.poll(50):
                topic, body = sub.recv_multipart()
                if int.from_bytes(topic, "little") == TOPIC_EMERGENCY:
                    return json.loads(body)
        return None

    def save_log(self):
        with open(os.path.join(TMP, "%s.log" % self.name), "w") as f:
            f.writelines(self.log)

    def logged(self, text):
        return any(text in line for line in self.log)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return None
        return self.p.returncode


class Cluster:
    a = b = c = None
    A = B = None
    cl = None  # a Serf RPC client on agent c


CL = Cluster()


def tags_on(node, via=None):
    members = {m["Name"]: m for m in (via or CL.cl).members()}
    m = members.get(node)
    return m["Tags"] if m and m["Status"] == "alive" else {}


def version():
    return subprocess.run([RIGAGENT, "--version"], capture_output=True, text=True).stdout.split()[1]


# ------------------------------------------------------------------------------------------ tests


def test_1_node_tags():
    want_version = version()
    for node, rig in (("a", "rig-a"), ("b", "rig-b")):
        tags = wait_for(lambda: tags_on(node).get("rig") == rig and tags_on(node), 10, "%s's tags on agent c" % rig)
        expect(tags == {"role": "rig", "board": "sim", "version": want_version, "rig": rig, "emergency": "running",
                        **({"room": "B12"} if node == "a" else {})}, "tags of %s: %s" % (node, tags))


def test_2_estop_and_alarm_arrive_as_user_events():
    bc = CL.b.client()  # rig B's agent: a node rig A's events reach only by gossip
    s = bc.stream(EVENTS)
    ac = CL.a.client()  # rig A's own agent: rigagent's share of the latency
    local = ac.stream("user:rig-emergency-stop")
    try:
        latencies, local_latencies = [], []
        for i in range(20):
            CL.A.hal("set", "estop", "1")
            ev = s.wait_for(from_rig("rig-a", "rig-emergency-stop"), 5)
            expect(ev, "press %d: no rig-emergency-stop at agent b" % i)
            p = payload(ev)
            latencies.append((ev["_arrival_ns"] - p["edgeMonotonicNs"]) / 1e6)
            mine = local.wait_for(lambda r: payload(r).get("edgeMonotonicNs") == p["edgeMonotonicNs"], 1)
            expect(mine is not None, "press %d: not seen on rig A's own agent" % i)
            local_latencies.append((mine["_arrival_ns"] - p["edgeMonotonicNs"]) / 1e6)
            expect(ev["Coalesce"] is False, "an emergency event was coalesced: %s" % ev)
            if i == 0:
                expect(p["reason"] == "e-stop 'estop' pressed" and p["source"] == "gpio" and p["line"] == "estop"
                       and p["board"] == "sim" and abs(p["t"] - time.time()) < 5, "payload %s" % p)
                wait_for(lambda: tags_on("a").get("emergency") == "stopped", 5, "rig A's emergency tag 'stopped'")
            time.sleep(0.01)  # past the e-stop's 5 ms lockout
            CL.A.hal("set", "estop", "0")
            ev = s.wait_for(from_rig("rig-a", "rig-emergency-resume"), 5)
            expect(ev and payload(ev)["reason"] == "e-stop 'estop' released", "release %d: %s" % (i, ev))
        for what, lat in (("rig A's own agent's stream", local_latencies),
                          ("another node's stream (gossip)", latencies)):
            lat.sort()
            print("      e-stop edge -> user event on %s, %d presses: p50 %.1f ms, max %.1f ms"
                  % (what, len(lat), lat[len(lat) // 2], lat[-1]))
        expect(all(0 < x < 2000 for x in latencies), "latencies %s" % latencies)
        expect(local_latencies[len(local_latencies) // 2] < 100, "rigagent's share %s" % local_latencies)
        wait_for(lambda: tags_on("a").get("emergency") == "running", 5, "rig A's emergency tag back to 'running'")

        CL.A.hal("set", "door", "0")  # active-low: open
        ev = s.wait_for(from_rig("rig-a", "rig-alarm"), 5)
        p = payload(ev) if ev else {}
        expect(p.get("alarm") == "door" and p.get("active") is True and p.get("severity") == "warning"
               and p.get("activeAlarms") == ["door"], "alarm raised: %s" % ev)
        CL.A.hal("set", "door", "1")
        ev = s.wait_for(from_rig("rig-a", "rig-alarm"), 5)
        expect(ev and payload(ev).get("active") is False and payload(ev).get("activeAlarms") == [], "cleared: %s" % ev)
        expect(not CL.B.logged("EMERGENCY STOP"), "rig B stopped on rig A's events")
    finally:
        bc.close()
        ac.close()


def test_3_queries_run_rpcservice_commands():
    replies = CL.cl.query("rig-status", timeout_s=1.5)
    by_node = {r["From"]: json.loads(r["Payload"]) for r in replies}
    expect(sorted(by_node) == ["a", "b"], "rig-status answered by %s" % sorted(by_node))
    for node, reply in by_node.items():
        expect(list(reply) == ["nonce", "command", "result", "data", "errorKind", "errorCode", "errorMessage"], reply)
        expect(reply["command"] == 400 and reply["result"] == 100 and reply["data"]["board"] == "sim", reply)
        expect(reply["data"]["emergencyStopped"] is False, reply)
        sf = reply["data"]["serf"]
        expect(sf["connected"] is True and sf["node"] == node and sf["eventsDropped"] == 0, sf)
    expect(by_node["a"]["data"]["serf"]["eventsSent"] >= 42, by_node["a"])  # 40 e-stop events, 2 alarms

    only_a = CL.cl.query("rig-status", filter_nodes=["a"], timeout_s=1.0)
    expect([r["From"] for r in only_a] == ["a"], "FilterNodes [a] answered by %s" % [r["From"] for r in only_a])
    pings = CL.cl.query("rig-ping", timeout_s=1.0)
    expect(sorted(r["From"] for r in pings) == ["a", "b"], "rig-ping: %s" % pings)
    expect(all(json.loads(r["Payload"])["result"] == 100 for r in pings), pings)
    # Not in anybody's allow-list: nobody even sees it.
    expect(CL.cl.query("rig-emergency-resume", b'{"reason": "x"}', timeout_s=1.0) == [], "rig-emergency-resume answered")
    expect(CL.cl.query("rig-start-acquisition", timeout_s=0.5) == [], "rig-start-acquisition answered")
    # A payload that is not JSON gets what a ZeroMQ remote gets for a body that is not JSON.
    bad = CL.cl.query("rig-ping", b"{nope", filter_nodes=["a"], timeout_s=1.0)
    expect(len(bad) == 1 and json.loads(bad[0]["Payload"])["errorCode"] == 1, "bad payload: %s" % bad)

    # Rig A allows emergency-stop, rig B does not.
    sub = CL.A.subscriber()
    try:
        stops = CL.cl.query("rig-emergency-stop", b'{"reason": "drill"}', filter_nodes=["a", "b"], timeout_s=1.5)
        expect([r["From"] for r in stops] == ["a"], "rig-emergency-stop answered by %s" % [r["From"] for r in stops])
        reply = json.loads(stops[0]["Payload"])
        expect(reply["command"] == 200 and reply["result"] == 100 and reply["data"]["emergencyStopped"] is True, reply)
        ev = Rig.next_emergency(sub, 3)
        expect(ev and ev["kind"] == 101 and ev["context"]["source"] == "command"
               and ev["context"]["reason"] == "serf query 'rig-emergency-stop': drill", "101 on rig A's PUB: %s" % ev)
    finally:
        sub.close()
    st = CL.A.status()
    expect(st["emergencyStopped"] and st["emergencyHeldBy"] == ["command"], st)
    expect(CL.B.status()["emergencyStopped"] is False, "rig B stopped by a query it does not allow")
    expect(CL.A.console("EMERGENCY_RESUME").returncode == 0, "resume rig A")


def test_4_user_event_stops_a_rig():
    sub = CL.B.subscriber()
    try:
        CL.cl.event("fleet-stop", b'{"reason": "fire drill"}', coalesce=False)
        ev = Rig.next_emergency(sub, 5)
        expect(ev and ev["kind"] == 101 and ev["context"]["source"] == "serf"
               and ev["context"]["reason"] == "serf event 'fleet-stop': fire drill", "101 on rig B: %s" % ev)
        expect(CL.A.status()["emergencyStopped"] is False, "rig A has no on_event, yet it stopped")
        CL.cl.event("fleet-resume", b"all clear", coalesce=False)
        ev = Rig.next_emergency(sub, 5)
        expect(ev and ev["kind"] == 102 and ev["context"]["reason"] == "serf event 'fleet-resume': all clear", ev)
        # Its own events come back to it through the cluster: those are not orders.
        CL.cl.event("fleet-stop", b'{"rig": "rig-b", "reason": "echo"}', coalesce=False)
        expect(Rig.next_emergency(sub, 1.0) is None, "rig B obeyed its own echo")
        # A resume does not release a pressed button.
        CL.B.hal("set", "estop", "1")
        expect((Rig.next_emergency(sub, 3) or {}).get("kind") == 101, "no 101 for rig B's button")
        CL.cl.event("fleet-resume", b"", coalesce=False)
        wait_for(lambda: CL.B.logged("event 'fleet-resume' asked to resume: resume refused"), 5, "the refusal logged")
        expect(CL.B.status()["emergencyStopped"] is True, "a Serf resume released a pressed e-stop")
        CL.B.hal("set", "estop", "0")
        expect((Rig.next_emergency(sub, 3) or {}).get("kind") == 102, "no 102 when rig B's button was released")
    finally:
        sub.close()


def test_5_agent_restart_queue_and_reconnect():
    wait_for(lambda: CL.B.status()["serf"]["eventsQueued"] == 0, 3, "rig B's earlier events to go out")
    cs = CL.cl.stream(EVENTS)
    b_rpc, b_bind = CL.b.rpc_port, CL.b.bind_port
    t_kill = time.time()
    log_mark = len(CL.B.log)
    CL.b.kill()
    wait_for(lambda: CL.B.logged("retrying in the background"), 5, "rig B noticing its agent is gone")
    # The RpcService does not wait on the Serf side.
    for _ in range(5):
        t0 = time.monotonic()
        r = CL.B.console("NONE", "--timeout", "2")
        expect(r.returncode == 0 and time.monotonic() - t0 < 1.0,
               "console NONE during the outage: exit %d after %.2f s" % (r.returncode, time.monotonic() - t0))
    # Raised while the agent is down: queued, then delivered in order.
    for args in (("estop", "1"), ("door", "0"), ("estop", "0"), ("door", "1")):
        CL.B.hal("set", *args)
        time.sleep(0.05)  # past both lines' debounce
    st = CL.B.status()["serf"]
    expect(st["connected"] is False and st["eventsQueued"] == 4, "rig B during the outage: %s" % st)

    CL.b = start_agent("b", rpc_port=b_rpc, bind_port=b_bind, join="127.0.0.1:%d" % CL.a.bind_port)
    got = []
    end = time.monotonic() + 15
    while len(got) < 4 and time.monotonic() < end:
        ev = cs.wait_for(lambda r: from_rig("rig-b", "rig-emergency-stop", "rig-emergency-resume", "rig-alarm")(r)
                         and payload(r)["t"] > t_kill, end - time.monotonic())
        if ev:
            got.append(ev)
    got.sort(key=lambda e: e["LTime"])
    seen = [(e["Name"], payload(e).get("active")) for e in got]
    expect(seen == [("rig-emergency-stop", None), ("rig-alarm", True), ("rig-emergency-resume", None),
                    ("rig-alarm", False)], "queued events as delivered (by LTime): %s" % seen)
    wait_for(lambda: CL.B.logged("connected to the Serf agent at %s again" % CL.b.addr), 5, "the recovery logged")
    st = CL.B.status()["serf"]
    expect(st["connected"] and st["eventsQueued"] == 0 and st["eventsDropped"] == 0, st)
    # Tags are back on the new agent, seen across the cluster; queries are answered again.
    wait_for(lambda: tags_on("b").get("rig") == "rig-b" and tags_on("b").get("emergency") == "running", 10,
             "rig B's tags after the restart")
    wait_for(lambda: [r["From"] for r in CL.cl.query("rig-status", filter_nodes=["b"], timeout_s=0.5)] == ["b"], 10,
             "rig B answering rig-status after the restart")
    CL.B.hal("set", "estop", "1")
    ev = cs.wait_for(from_rig("rig-b", "rig-emergency-stop"), 5)
    expect(ev is not None, "an e-stop after the restart did not arrive")
    time.sleep(0.01)
    CL.B.hal("set", "estop", "0")
    expect(cs.wait_for(from_rig("rig-b", "rig-emergency-resume"), 5) is not None, "its release did not arrive")
    outage = [l for l in CL.B.log[log_mark:] if "[serf]" in l and "Serf agent" in l]
    expect(len(outage) == 2 and " warn " in outage[0] and " info " in outage[1],
           "the outage should be one warning and one recovery line: %s" % outage)


def test_5b_queue_overflow_drops_alarms_first():
    # A standalone agent whose event handler writes down every user event it gets, from its
    # first moment: no race with rigagent's reconnect, no gossip in between.
    record = os.path.join(TMP, "handled.txt")
    handler = os.path.join(TMP, "handler.sh")
    with open(handler, "w") as f:
        f.write('#!/bin/sh\nprintf "%%s %%s " "$SERF_USER_EVENT" "$SERF_USER_LTIME" >> %s\ncat >> %s\necho >> %s\n'
                % (record, record, record))
    os.chmod(handler, 0o755)

    def start_e(rpc_port=None, bind_port=None):
        e = SerfAgent(SERF, "e", bind_port or free_port(), rpc_port or free_port(), log=os.path.join(TMP, "serf-e.log"),
                      event_handler="user=" + handler)
        e.start()
        procs.append(e.p)
        return e
    e = start_e()
    D = Rig("rig-d", {"rpc_addr": e.addr})
    try:
        wait_for(lambda: D.status()["serf"]["connected"], 5, "rig D connected")
        e.kill()
        wait_for(lambda: D.logged("retrying in the background"), 5, "rig D noticing its agent is gone")
        D.hal("set", "estop", "1")
        import socket
        with socket.socket(socket.AF_UNIX) as c:  # 300 alarm edges, fast: one connection
            c.connect(D.hal_sock)
            f = c.makefile("rw")
            for i in range(300):
                f.write(json.dumps({"op": "set", "line": "pellets_low", "level": (i + 1) % 2}) + "\n")
                f.flush()
                expect('"ok":true' in f.readline().replace(" ", ""), "hal set refused")
        D.hal("set", "estop", "0")
        st = wait_for(lambda: (lambda s: s["eventsQueued"] + s["eventsDropped"] == 302 and s)(D.status()["serf"]), 3,
                      "302 events counted")
        expect(st["eventsQueued"] == 256 and st["eventsDropped"] == 46, "queue while the agent is down: %s" % st)
        if os.path.exists(record):
            os.unlink(record)
        e = start_e(e.rpc_port, e.bind_port)

        def handled():
            if not os.path.exists(record):
                return []
            with open(record) as f:
                return [l.split(" ", 2) for l in f.read().splitlines() if l]
        got = wait_for(lambda: len(handled()) >= 256 and handled(), 15, "256 events handled by the restarted agent")
        names = [g[0] for g in sorted(got, key=lambda g: int(g[1]))]
        expect(len(got) == 256 and names[0] == "rig-emergency-stop" and names[-1] == "rig-emergency-resume"
               and names.count("rig-alarm") == 254, "delivered: %d, first %s, last %s" % (len(got), names[:2], names[-2:]))
        # The oldest alarms went, the newest stayed: the very last edge (pellets_low cleared) is there.
        expect(json.loads(sorted(got, key=lambda g: int(g[1]))[-2][2])["active"] is False, "the last alarm: %s" % got[-2:])
        expect(sum(1 for l in D.log if "dropped the oldest alarm event" in l) == 1, "the drops not logged once")
    finally:
        expect(D.stop() == 0, "rig D's exit code")
        e.kill()


def test_6_config_errors():
    def run(*args):
        return subprocess.run([RIGAGENT] + list(args), capture_output=True, text=True, timeout=10)
    bad = write_config("bad-queries", {"serf": {"enable": True, "queries": ["status", "reboot"]}})
    r = run("run", "--config", bad)
    expect(r.returncode == 3 and "serf.queries[1]: \"reboot\" is not one of" in r.stderr, r.stderr)
    bad = write_config("bad-addr", {"serf": {"enable": True, "rpc_addr": "localhost"}})
    r = run("run", "--config", bad)
    expect(r.returncode == 3 and "serf.rpc_addr: 'localhost' is not HOST:PORT" in r.stderr, r.stderr)
    bad = write_config("bad-action", {"serf": {"on_event": {"fleet-stop": "reboot"}}})
    r = run("print-config", "--config", bad)
    expect(r.returncode == 3 and "serf.on_event.fleet-stop" in r.stderr, r.stderr)
    r = run("print-config", "--config", CL.B.config)
    sf = json.loads(r.stdout)["serf"]
    expect(r.returncode == 0 and sf["enable"] and sf["on_event"]["fleet-stop"] == "emergency-stop"
           and sf["queries"] == ["status", "ping"] and sf["event_prefix"] == "rig-", sf)


def test_7_agent_absent_at_start_then_appears_and_the_shutdown_tag():
    # Long names, so the payloads have to shrink to fit Serf's limits: a 400-byte identifier in
    # rig C's events, a 301-byte node name in its GET_STATUS answer (and Serf's answer budget).
    ident = "rig-c-" + "c" * 394
    node = "d" + "x" * 300
    port = free_port()
    C = Rig("rig-c", {"rpc_addr": "127.0.0.1:%d" % port, "auth_key": "s3cret"}, identifier=ident)
    W = None
    d = None
    try:
        wait_for(lambda: C.logged("[serf]") and C.logged("retrying in the background"), 3, "the unreachable agent logged")
        expect(C.console("NONE", "--timeout", "2").returncode == 0, "rig C does not serve")
        st = C.status()["serf"]
        expect(st["connected"] is False and st["rpcAddr"] == "127.0.0.1:%d" % port, st)
        d = start_agent(node, rpc_port=port, rpc_auth="s3cret")
        dc = d.client()
        wait_for(lambda: tags_on(node, dc).get("rig") == ident, 5, "rig C's tags once its agent appeared")
        # A wrong token: said once, naming the key, retried; the rig serves on regardless.
        W = Rig("rig-w", {"rpc_addr": "127.0.0.1:%d" % port, "auth_key": "wrong"})
        wait_for(lambda: W.logged("refused the RPC auth key"), 5, "the refused token logged")
        expect(W.logged("serf.auth_key") and W.status()["serf"]["connected"] is False, "rig W: %s" % W.log)
        expect(sum(1 for l in W.log if "refused the RPC auth key" in l) == 1, "the refusal logged more than once")

        s = dc.stream("user:rig-emergency-stop")
        C.hal("set", "estop", "1")
        ev = s.wait_for(lambda r: True, 3)
        expect(ev is not None, "no rig-emergency-stop from rig C (its payload must shrink, not fail)")
        p = payload(ev)
        expect(p.get("rig") == ident and p.get("source") == "gpio" and "line" not in p
               and len(ev["Name"]) + len(ev["Payload"]) <= 472, "shrunk payload: %s" % ev["Payload"])
        wait_for(lambda: tags_on(node, dc).get("emergency") == "stopped", 3, "emergency tag 'stopped'")
        answers = dc.query("rig-status", timeout_s=0.5)
        expect(len(answers) == 1 and len(answers[0]["Payload"]) <= 1024 - 56 - len(node), "answers %s" % answers)
        reply = json.loads(answers[0]["Payload"])
        expect(reply["result"] == 100 and reply["command"] == 400 and reply["data"] == {"truncated": True}, reply)

        t0 = time.monotonic()
        expect(C.stop() == 0, "rig C's exit code")
        expect(time.monotonic() - t0 < 3, "stopping took %.1f s" % (time.monotonic() - t0))
        # Nobody watches the e-stop once rigagent is gone: neither "stopped" nor "running".
        expect(tags_on(node, dc).get("emergency") == "unknown", "tags after shutdown: %s" % tags_on(node, dc))
        dc.close()
    finally:
        C.stop()
        if W:
            expect(W.stop() == 0, "rig W's exit code")
        if d:
            d.kill()


def test_8_clean_shutdown():
    for rig, node in ((CL.A, "a"), (CL.B, "b")):
        t0 = time.monotonic()
        expect(rig.stop() == 0, "%s's exit code" % rig.name)
        expect(time.monotonic() - t0 < 3, "stopping %s took %.1f s" % (rig.name, time.monotonic() - t0))
        wait_for(lambda: tags_on(node).get("emergency") == "unknown", 5, "%s's emergency tag 'unknown'" % rig.name)
    # Under the sanitize build: nothing reported by ASan/UBSan in any rig's log.
    for rig in rigs:
        bad = [l for l in rig.log if "Sanitizer" in l or "runtime error:" in l]
        expect(not bad, "%s: %s" % (rig.name, "".join(bad[:20])))


def main():
    try:
        CL.a = start_agent("a")
        seed = "127.0.0.1:%d" % CL.a.bind_port
        CL.b = start_agent("b", join=seed)
        CL.c = start_agent("c", join=seed)
        CL.cl = CL.c.client()
        wait_for(lambda: len([m for m in CL.cl.members() if m["Status"] == "alive"]) == 3, 10, "three members")
        CL.A = Rig("rig-a", {"rpc_addr": CL.a.addr, "queries": ["status", "ping", "emergency-stop"],
                             "tags": {"room": "B12"}})
        CL.B = Rig("rig-b", {"rpc_addr": CL.b.addr,
                             "on_event": {"fleet-stop": "emergency-stop", "fleet-resume": "emergency-resume"}})
    except Exception:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        raise
    try:
        rc = run_tests(globals(), procs, sys.argv[3:])
        if rc:
            print("logs of the failed run: %s" % TMP)
        return rc
    finally:
        CL.A.save_log()
        CL.B.save_log()
        CL.cl.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
