#!/usr/bin/env python3
"""`rigagent run` under a stand-in service manager: a datagram socket as $NOTIFY_SOCKET, and
$WATCHDOG_USEC. READY=1 only once the ports are bound, a STATUS line that follows the emergency
state, WATCHDOG=1 at half the period while the agent is healthy and none while it is stopped
(SIGSTOP), STOPPING=1 on SIGTERM; the journald log format when stderr is the journal.
Usage: test_sd_notify.py PATH/TO/rigagent"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from script_tests import expect, free_port, run_tests  # noqa: E402

RIGAGENT = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="rigagent-sdnotify-")
procs = []


class Manager:
    """The service manager's end of the notify socket: every datagram with its arrival time."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = "notify-%d-%d" % (os.getpid(), free_port())
        if abstract:
            self.address = "@" + name
            self.sock.bind("\0" + name)
        else:
            self.address = os.path.join(TMP, name + ".sock")
            self.sock.bind(self.address)
        self.messages = []  # (time, text)
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        self.sock.settimeout(0.1)
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.messages.append((time.monotonic(), data.decode()))
                self.cond.notify_all()

    def wait_for(self, pred, timeout=5.0, start=0):
        """The first message (index >= start) satisfying pred, as (index, time, text), or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.messages)):
                    if pred(self.messages[i][1]):
                        return (i,) + self.messages[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def since(self, t):
        with self.cond:
            return [(at, m) for at, m in self.messages if at >= t]

    def close(self):
        self.closed = True
        self.sock.close()


def assignments(text):
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


def config(extra=None):
    pub, cmd = free_port(), free_port()
    c = {"rpc": {"heartbeat_interval": 60, "pub_endpoints": ["tcp://127.0.0.1:%d" % pub],
                 "command_endpoints": ["tcp://127.0.0.1:%d" % cmd]},
         "app_link": {"endpoint": "ipc://%s/app-%d.sock" % (TMP, cmd)},
         "hal": {"control_socket": "%s/hal-%d.sock" % (TMP, cmd)}}
    c.update(extra or {})
    path = os.path.join(TMP, "config-%d.json" % cmd)
    with open(path, "w") as f:
        json.dump(c, f)
    return path, pub, cmd


def start(path, env_extra, stderr=None):
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        env.pop(k, None)
    env.update(env_extra)
    p = subprocess.Popen([RIGAGENT, "run", "--config", path], env=env,
                         stderr=stderr if stderr is not None else subprocess.DEVNULL)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGCONT)
        p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def port_in_use(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def console(cmd_port, *args):
    return subprocess.run([RIGAGENT, "console", "--endpoint", "tcp://127.0.0.1:%d" % cmd_port, "--timeout", "3", *args],
                          capture_output=True, text=True, timeout=10)


def pings(messages):
    return [t for t, m in messages if "WATCHDOG=1" in m.split("\n")]


# ------------------------------------------------------------------------------------------
def test_ready_status_watchdog_stopping():
    m = Manager()
    path, pub, cmd = config()
    t0 = time.monotonic()
    p = start(path, {"NOTIFY_SOCKET": m.address, "WATCHDOG_USEC": "1000000"})
    ready = m.wait_for(lambda t: "READY=1" in t.split("\n"))
    expect(ready is not None, "no READY=1 within 5 s")
    # READY=1 means serving: both ports are bound and the command port answers.
    expect(port_in_use(pub) and port_in_use(cmd), "READY=1 before the ports were bound")
    r = console(cmd, "NONE")
    expect(r.returncode == 0, "NONE after READY=1 failed: %s %s" % (r.stdout, r.stderr))
    print("      READY=1 %.0f ms after the start" % ((ready[1] - t0) * 1000))
    status = assignments(ready[2]).get("STATUS", "")
    for part in ("board sim", "events tcp://127.0.0.1:%d" % pub, "commands tcp://127.0.0.1:%d" % cmd, "no emergency"):
        expect(part in status, "STATUS %r lacks %r" % (status, part))
    expect(m.wait_for(lambda t: t == "WATCHDOG=1", timeout=1.0) is not None, "no first WATCHDOG=1 within 1 s")

    # Pings at half the period (0.5 s), steadily.
    t1 = time.monotonic()
    time.sleep(3.05)
    ts = pings(m.since(t1))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    print("      %d pings in 3 s, gaps %.3f..%.3f s" % (len(ts), min(gaps), max(gaps)))
    expect(5 <= len(ts) <= 8, "%d pings in 3 s at WATCHDOG_USEC=1 s (expected about 6)" % len(ts))
    expect(all(0.35 <= g <= 0.75 for g in gaps), "ping gaps %s, expected about 0.5 s" % gaps)

    # STATUS follows the emergency latch (polled once a second).
    n = len(m.messages)
    r = console(cmd, "EMERGENCY_STOP", '{"reason":"door open"}')
    expect(r.returncode == 0, "EMERGENCY_STOP: %s" % r.stderr)
    s = m.wait_for(lambda t: t.startswith("STATUS=") and "EMERGENCY STOP latched" in t, timeout=3, start=n)
    expect(s is not None, "no STATUS with the latched emergency within 3 s")
    expect("command" in s[2] and "door open" in s[2], "STATUS %r lacks holder and reason" % s[2])
    r = console(cmd, "EMERGENCY_RESUME")
    expect(r.returncode == 0, "EMERGENCY_RESUME: %s" % r.stderr)
    expect(m.wait_for(lambda t: t.startswith("STATUS=") and "no emergency" in t, timeout=3, start=s[0] + 1),
           "no STATUS back to 'no emergency' within 3 s")

    n = len(m.messages)
    p.send_signal(signal.SIGTERM)
    expect(m.wait_for(lambda t: "STOPPING=1" in t.split("\n"), timeout=3, start=n) is not None, "no STOPPING=1 on SIGTERM")
    expect(p.wait(timeout=5) == 0, "exit code %s" % p.returncode)
    time.sleep(0.2)
    after_exit = [x for x in m.messages[n:] if x[1] == "WATCHDOG=1" and x[0] > time.monotonic() - 0.1]
    expect(not after_exit, "WATCHDOG=1 after the agent exited")
    m.close()


def test_stopped_agent_stops_pinging():
    """SIGSTOP freezes every thread: no ping reaches the manager, which would restart the agent
    after WatchdogSec; SIGCONT and the pings resume at once. (A single wedged thread while the
    others run is covered by unit_sd_notify: the probe must pass the RpcService thread and the io
    thread.)"""
    m = Manager()
    path, _, _ = config()
    p = start(path, {"NOTIFY_SOCKET": m.address, "WATCHDOG_USEC": "600000"})
    expect(m.wait_for(lambda t: t == "WATCHDOG=1") is not None, "no WATCHDOG=1")
    time.sleep(0.7)
    p.send_signal(signal.SIGSTOP)
    t_stop = time.monotonic()
    time.sleep(2.0)
    frozen = [t for t in pings(m.since(t_stop)) if t > t_stop + 0.05]
    expect(not frozen, "%d pings while the agent was stopped" % len(frozen))
    t_cont = time.monotonic()
    p.send_signal(signal.SIGCONT)
    resumed = m.wait_for(lambda t: t == "WATCHDOG=1", timeout=2.0, start=len(m.messages))
    expect(resumed is not None, "no WATCHDOG=1 within 2 s of SIGCONT")
    print("      no ping for 2.0 s while stopped; first ping %.0f ms after SIGCONT" % ((resumed[1] - t_cont) * 1000))
    time.sleep(1.0)
    expect(len(pings(m.since(resumed[1] + 0.01))) >= 2, "pings did not keep coming after SIGCONT")
    expect(stop(p) == 0, "exit code %s" % p.returncode)
    m.close()


def test_abstract_socket_without_watchdog():
    m = Manager(abstract=True)
    path, _, _ = config()
    p = start(path, {"NOTIFY_SOCKET": m.address})
    expect(m.wait_for(lambda t: "READY=1" in t.split("\n")) is not None, "no READY=1 on an abstract socket")
    time.sleep(1.2)
    expect(not pings(m.since(0)), "WATCHDOG=1 without WATCHDOG_USEC")
    n = len(m.messages)
    expect(stop(p) == 0, "exit code %s" % p.returncode)
    expect(m.wait_for(lambda t: "STOPPING=1" in t, timeout=2, start=n) is not None, "no STOPPING=1")
    m.close()


def test_watchdog_for_another_pid():
    """sd_watchdog_enabled: WATCHDOG_PID names another process, so this one does not ping."""
    m = Manager()
    path, _, _ = config()
    p = start(path, {"NOTIFY_SOCKET": m.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    expect(m.wait_for(lambda t: "READY=1" in t.split("\n")) is not None, "no READY=1")
    time.sleep(0.8)
    expect(not pings(m.since(0)), "pinged for WATCHDOG_PID=1")
    expect(stop(p) == 0, "exit code %s" % p.returncode)
    m.close()


def test_startup_failure_no_ready():
    m = Manager()
    path, _, cmd = config()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", cmd))
        busy.listen()
        p = start(path, {"NOTIFY_SOCKET": m.address, "WATCHDOG_USEC": "1000000"})
        expect(p.wait(timeout=10) == 4, "exit code %s with the command port taken" % p.returncode)
    time.sleep(0.1)
    texts = [t for _, t in m.messages]
    expect(not any("READY=1" in t for t in texts), "READY=1 from an agent that did not start: %s" % texts)
    expect(any(t.startswith("STATUS=could not start: ") and str(cmd) in t for t in texts),
           "no STATUS naming the failed bind: %s" % texts)
    m.close()


def test_rpc_disabled_still_ready():
    m = Manager()
    path, _, _ = config({"rpc": {"enable": False}})
    p = start(path, {"NOTIFY_SOCKET": m.address, "WATCHDOG_USEC": "400000"})
    r = m.wait_for(lambda t: "READY=1" in t.split("\n"))
    expect(r is not None and "RpcService disabled" in r[2], "READY=1 with the disabled status: %s" % (r,))
    expect(m.wait_for(lambda t: t == "WATCHDOG=1", timeout=1.0) is not None, "no WATCHDOG=1")
    expect(stop(p) == 0, "exit code %s" % p.returncode)
    m.close()


def test_journal_log_format():
    """With stderr being the stream $JOURNAL_STREAM names, lines carry a <N> priority and no
    timestamp (journald stamps them); otherwise the timestamp stays."""
    path, _, cmd = config()
    r, w = os.pipe()
    st = os.fstat(w)
    p = start(path, {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}, stderr=w)
    os.close(w)
    reader = os.fdopen(r)
    first = reader.readline()
    expect(first.startswith("<6>info [run] rigagent ") and " ready on board " in first,
           "journal line %r: expected '<6>info [run] rigagent ... ready on board'" % first)
    console(cmd, "EMERGENCY_STOP")
    stop(p)
    rest = reader.read()
    reader.close()
    expect("<6>info [run] received SIGTERM" in rest, "no <6> SIGTERM line in %r" % rest)
    expect(not any(line[:1].isdigit() for line in rest.splitlines()), "timestamps under journald: %r" % rest)

    # Another stream than stderr (inherited by a child whose stderr was redirected): timestamps.
    path, _, _ = config()
    p = start(path, {"JOURNAL_STREAM": "1:1"}, stderr=subprocess.PIPE)
    line = p.stderr.readline().decode()
    stop(p)
    p.stderr.close()
    expect(line[:4].isdigit() and "info [run]" in line and not line.startswith("<"),
           "line %r: expected a timestamped line when JOURNAL_STREAM is another stream" % line)


if __name__ == "__main__":
    try:
        rc = run_tests(globals(), procs, sys.argv[2:])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
