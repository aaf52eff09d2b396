#!/usr/bin/env python3
"""rigagent reporting to LaneSwap, end to end: `rigagent run` against the stand-in server
(tests/standins/laneswap_server.py) over real sockets, plain HTTP and TLS with a test CA made by
openssl. Registration, heartbeat content, cadence and headers on the wire, the status following
the rig (e-stop, alarm, acquisition), a refused status mapped once, progress tasks, the server
restarting, hanging and going away while the RpcService keeps answering, the SHUTDOWN heartbeat,
and `rigagent laneswap`. Every process it starts is stopped.
Usage: test_laneswap.py PATH/TO/rigagent"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from script_tests import expect, free_port, run_tests  # noqa: E402

RIGAGENT = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "..", "standins", "laneswap_server.py")
PYTHON = "/usr/bin/python3"
TMP = tempfile.mkdtemp(prefix="rigagent-laneswap-")
procs = []




def when(request):
    """The stand-in's receive time of a request, in seconds."""
    import datetime
    return datetime.datetime.fromisoformat(request["time"].replace("Z", "+00:00")).timestamp()


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


# ------------------------------------------------------------------------------------- processes

class Standin:
    def __init__(self, *args, port=0, tls=None):
        cmd = [PYTHON, STANDIN, "--port", str(port), "--keepalive-timeout", "0"] + list(args)
        if tls:
            cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(self.p)
        line = self.p.stdout.readline()
        expect(line.startswith("PORT "), "stand-in did not start: %r" % line)
        self.port = int(line.split()[1])
        self.scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.ctx = None
        if tls:
            import ssl
            self.ctx = ssl.create_default_context(cafile=CERTS["ca"])

    def control(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5, context=self.ctx) as r:
            return json.loads(r.read() or b"null")

    def requests(self, path="/api/"):
        return [r for r in self.control("GET", "/_test/requests") if r["path"].startswith(path)]

    def heartbeats(self, service):
        return [r for r in self.requests("/api/services/%s/heartbeat" % service)]

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Agent:
    def __init__(self, laneswap, name="agent", app=False):
        self.pub, self.cmd = free_port(), free_port()
        self.hal = os.path.join(TMP, "hal-%d.sock" % self.cmd)
        self.app = "ipc://%s/app-%d.sock" % (TMP, self.cmd)
        cfg = {"rpc": {"heartbeat_interval": 60, "pub_endpoints": ["tcp://127.0.0.1:%d" % self.pub],
                       "command_endpoints": ["tcp://127.0.0.1:%d" % self.cmd]},
               "app_link": {"endpoint": self.app}, "hal": {"control_socket": self.hal},
               "laneswap": dict({"enable": True}, **laneswap)}
        self.config = os.path.join(TMP, "%s-%d.json" % (name, self.cmd))
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.log = []
        self.p = subprocess.Popen([RIGAGENT, "run", "--config", self.config], stderr=subprocess.PIPE, text=True)
        procs.append(self.p)
        ready = threading.Event()

        def read():
            for line in self.p.stderr:
                self.log.append(line)
                if " ready on board " in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        expect(ready.wait(5), "agent not ready: %s" % "".join(self.log))
        self.sim_app = None
        if app:
            self.sim_app = subprocess.Popen([RIGAGENT, "sim-app", "--endpoint", self.app, "--acquisition-ms", "50"],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, text=True)
            procs.append(self.sim_app)

    def app_says(self, line):
        self.sim_app.stdin.write(line + "\n")
        self.sim_app.stdin.flush()

    def hal_cmd(self, *args):
        r = subprocess.run([RIGAGENT, "hal", "--socket", self.hal] + list(args), capture_output=True, text=True, timeout=10)
        expect(r.returncode == 0, "hal %s: %s" % (args, r.stderr))

    def console(self, *args, timeout=10):
        return subprocess.run([RIGAGENT, "console", "--endpoint", "tcp://127.0.0.1:%d" % self.cmd,
                               "--events-endpoint", "tcp://127.0.0.1:%d" % self.pub] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def logged(self, text):
        return any(text in line for line in self.log)

    def stop(self, sig=signal.SIGTERM):
        if self.sim_app and self.sim_app.poll() is None:
            self.sim_app.terminate()
            self.sim_app.wait(5)
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                return self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return None
        return self.p.returncode


def make_certs():
    d = os.path.join(TMP, "certs")
    os.makedirs(d)

    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    for ca in ("ca", "wrong-ca"):
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rigagent test %s" % ca,
             "-keyout", ca + ".key", "-out", ca + ".pem")
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:127.0.0.1\n")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
         "-extfile", "san.cnf", "-out", "server.pem")
    return {"ca": os.path.join(d, "ca.pem"), "wrong": os.path.join(d, "wrong-ca.pem"),
            "cert": os.path.join(d, "server.pem"), "key": os.path.join(d, "server.key")}


CERTS = {}

# ------------------------------------------------------------------------------------------ tests


def test_registers_then_beats_with_headers_on_every_request():
    s = Standin()
    a = Agent({"url": s.url, "service_id": "rig-t1", "interval": 0.3,
               "headers": {"Authorization": "Bearer t0k3n", "X-Device-Id": "rig-07"}})
    try:
        time.sleep(1.6)
        reqs = s.requests()
        expect(reqs and reqs[0]["method"] == "POST" and reqs[0]["path"] == "/api/services", "first request %s" % reqs[:1])
        reg = reqs[0]["json"]
        expect(reg["service_id"] == "rig-t1" and reg["service_name"] == "rigagent-autotrainer-device", reg)
        expect(reg["metadata"]["board"] == "sim", reg)
        beats = s.heartbeats("rig-t1")
        expect(4 <= len(beats) <= 8, "%d heartbeats in 1.6 s at 0.3 s" % len(beats))
        expect(when(beats[0]) - when(reqs[0]) < 0.25, "the first heartbeat did not follow registration at once")
        gaps = sorted(when(b) - when(a_) for a_, b in zip(beats[1:], beats[2:]))
        expect(0.2 < gaps[len(gaps) // 2] < 0.45, "heartbeat gaps %s" % gaps)
        for r in reqs:
            expect(r["headers"].get("Authorization") == "Bearer t0k3n", "no Authorization on %s %s" % (r["method"], r["path"]))
            expect(r["headers"].get("X-Device-Id") == "rig-07", "no X-Device-Id on %s" % r["path"])
        body = beats[-1]["json"]
        expect(body["status"] == "healthy", body)
        md = body["metadata"]
        for key in ("version", "board", "uptime_s", "rpc", "emergency_stopped", "alarms", "lifecycle"):
            expect(key in md, "metadata lacks %s: %s" % (key, md))
        expect(md["lifecycle"] == "running" and "requests" in md["rpc"], md)
        expect(len({r["conn"] for r in reqs}) == 1, "requests spread over %d connections (keep-alive)" %
               len({r["conn"] for r in reqs}))
    finally:
        a.stop()
        s.stop()


def test_status_follows_the_rig_at_once():
    s = Standin()
    a = Agent({"url": s.url, "service_id": "rig-t2", "interval": 30})
    try:
        wait_for(lambda: s.heartbeats("rig-t2"), 3, "the first heartbeat")

        def last():
            b = s.heartbeats("rig-t2")
            return b[-1]["json"] if b else None
        a.hal_cmd("set", "estop", "1")
        hb = wait_for(lambda: (last() or {}).get("status") == "error" and last(), 1.0, "an error heartbeat after the e-stop")
        expect(hb["message"].startswith("emergency stop"), hb)
        expect(hb["metadata"]["emergency_stopped"] is True, hb)
        time.sleep(0.02)
        a.hal_cmd("set", "estop", "0")
        wait_for(lambda: (last() or {}).get("status") == "healthy", 1.0, "healthy after the release")
        a.hal_cmd("set", "door", "0")
        hb = wait_for(lambda: (last() or {}).get("status") == "warning" and last(), 1.0, "a warning for the open door")
        expect("door" in hb["message"], hb)
        a.hal_cmd("set", "door", "1")
        wait_for(lambda: (last() or {}).get("status") == "healthy", 1.0, "healthy once the door is shut")
        svc = s.control("GET", "/api/services/rig-t2")
        expect(svc["status"] == "healthy", svc)
    finally:
        a.stop()
        s.stop()


def test_refused_status_is_mapped_once():
    s = Standin("--refuse-status", "error")
    a = Agent({"url": s.url, "service_id": "rig-t3", "interval": 30})
    try:
        wait_for(lambda: s.heartbeats("rig-t3"), 3, "the first heartbeat")
        a.hal_cmd("set", "estop", "1")
        wait_for(lambda: s.control("GET", "/api/services/rig-t3")["status"] == "degraded", 2, "degraded instead of error")
        refused = [b for b in s.heartbeats("rig-t3") if b["status"] == 422]
        expect(len(refused) == 1, "%d heartbeats refused" % len(refused))
        expect(sum(1 for l in a.log if "refuses status error" in l) == 1, "the refusal was not logged exactly once")
        time.sleep(0.02)
        a.hal_cmd("set", "estop", "0")
        a.hal_cmd("set", "estop", "1")  # stopped again: remembered, no second 422
        time.sleep(0.5)
        expect(len([b for b in s.heartbeats("rig-t3") if b["status"] == 422]) == 1, "a refused status was sent again")
    finally:
        a.stop()
        s.stop()


def test_server_restart_mid_run_reregisters_with_the_same_id():
    s = Standin()
    a = Agent({"url": s.url, "service_id": "rig-t4", "interval": 0.3})
    try:
        wait_for(lambda: s.heartbeats("rig-t4"), 3, "the first heartbeat")
        port = s.port
        s.stop()
        time.sleep(0.8)  # heartbeats fail meanwhile: connection refused
        s = Standin(port=port)
        wait_for(lambda: any(r["path"] == "/api/services" for r in s.requests()), 5, "a new registration")
        wait_for(lambda: s.heartbeats("rig-t4"), 3, "heartbeats to the restarted server")
        svc = s.control("GET", "/api/services/rig-t4")
        expect(svc["metadata"].get("board") == "sim", "re-registration lost the metadata: %s" % svc)
        expect(a.p.poll() is None, "the agent died")
        wait_for(lambda: a.logged("reachable again"), 2, "the recovery in the log")
    finally:
        a.stop()
        s.stop()


def test_hanging_or_absent_server_never_blocks_the_rpc_service():
    s = Standin()
    a = Agent({"url": s.url, "service_id": "rig-t5", "interval": 0.2, "request_timeout_ms": 400})
    try:
        wait_for(lambda: s.heartbeats("rig-t5"), 3, "the first heartbeat")
        s.control("POST", "/_test/fault", {"mode": "hang", "count": -1})
        for _ in range(10):
            t0 = time.time()
            r = a.console("NONE", "--timeout", "2")
            expect(r.returncode == 0 and time.time() - t0 < 1.0, "console NONE took %.2f s" % (time.time() - t0))
            time.sleep(0.1)
        # Nonsense instead of HTTP, then server errors: still serving, and back once it is over.
        for mode in ("garbage", "500"):
            s.control("POST", "/_test/fault", {"mode": mode, "count": -1})
            s.control("POST", "/_test/reset")
            wait_for(lambda: len(s.heartbeats("rig-t5")) >= 2, 5, "retries during the %s fault" % mode)
            expect(a.console("NONE", "--timeout", "2").returncode == 0, "console NONE during the %s fault" % mode)
        s.control("POST", "/_test/fault", {"mode": "none"})
        s.control("POST", "/_test/reset")
        wait_for(lambda: any(b["status"] == 200 for b in s.heartbeats("rig-t5")), 5, "heartbeats after the faults")
        s.stop()
        for _ in range(5):
            expect(a.console("NONE", "--timeout", "2").returncode == 0, "console NONE failed with the server gone")
        expect(a.p.poll() is None, "the agent died")
        expect(sum(1 for l in a.log if "[laneswap]" in l and "failed" in l) <= 3, "the outage flooded the log")
    finally:
        a.stop()
        s.stop()


def test_shutdown_heartbeat_and_clean_exit():
    s = Standin()
    a = Agent({"url": s.url, "service_id": "rig-t6", "interval": 30})
    try:
        wait_for(lambda: s.heartbeats("rig-t6"), 3, "the first heartbeat")
        t0 = time.time()
        expect(a.stop() == 0, "agent exit code")
        expect(time.time() - t0 < 3, "stop took %.1f s" % (time.time() - t0))
        last = s.heartbeats("rig-t6")[-1]["json"]
        expect(last["status"] == "unknown" and last["message"] == "shutting down", last)
        expect(last["metadata"]["lifecycle"] == "shutdown", last)
    finally:
        a.stop()
        s.stop()


def test_tls_trusts_only_the_configured_ca():
    s = Standin(tls=(CERTS["cert"], CERTS["key"]))
    good = Agent({"url": s.url, "service_id": "rig-tls-good", "interval": 30, "ca_file": CERTS["ca"]}, name="good")
    bad = Agent({"url": s.url, "service_id": "rig-tls-bad", "interval": 30, "ca_file": CERTS["wrong"]}, name="bad")
    try:
        wait_for(lambda: s.heartbeats("rig-tls-good"), 5, "a heartbeat over TLS")
        expect(all(r["tls"] for r in s.requests()), "a request without TLS")
        time.sleep(1.0)
        expect(not any("rig-tls-bad" in r["path"] or (r["json"] or {}).get("service_id") == "rig-tls-bad"
                       for r in s.requests()), "the agent with the wrong CA got through")
        expect(bad.logged("TLS"), "the wrong CA was not logged as a TLS failure: %s" % "".join(bad.log))
        expect(bad.p.poll() is None, "the agent with the wrong CA died")
    finally:
        good.stop()
        bad.stop()
        s.stop()


def test_long_commands_become_progress_tasks():
    s = Standin("--progress")
    a = Agent({"url": s.url, "service_id": "rig-t8", "interval": 30}, app=True)
    try:
        wait_for(lambda: s.heartbeats("rig-t8"), 3, "the first heartbeat")
        wait_for(lambda: a.logged("application 'sim-app' connected") or a.logged("connected"), 5, "sim-app")
        r = a.console("START_ACQUISITION", "--wait", "--timeout", "5")
        expect(r.returncode == 0, r.stdout + r.stderr)
        tasks = wait_for(lambda: [t for t in s.control("GET", "/_test/progress")
                                  if any(h["kind"] == "complete" for h in t["history"])], 3, "a completed task")
        t = tasks[0]
        start = t["history"][0]["body"]
        expect(start["service_id"] == "rig-t8" and "START_ACQUISITION" in start["task_name"], start)
        done = [h for h in t["history"] if h["kind"] == "complete"][0]["body"]
        expect(done["status"] == "completed", done)
        # The application acquiring shows as busy.
        a.app_says("status ACQUIRING")
        wait_for(lambda: s.heartbeats("rig-t8")[-1]["json"]["status"] == "busy", 2, "a busy heartbeat")
        expect(s.heartbeats("rig-t8")[-1]["json"]["message"] == "acquiring", s.heartbeats("rig-t8")[-1]["json"])
    finally:
        a.stop()
        s.stop()


def test_progress_on_the_reference_server_is_reported_once():
    s = Standin()  # the reference: no /api/progress routes
    a = Agent({"url": s.url, "service_id": "rig-t9", "interval": 0.3}, app=True)
    try:
        wait_for(lambda: s.heartbeats("rig-t9"), 3, "the first heartbeat")
        wait_for(lambda: a.logged("connected"), 5, "sim-app")
        for command in ("START_ACQUISITION", "STOP_ACQUISITION", "START_ACQUISITION"):
            expect(a.console(command, "--wait", "--timeout", "5").returncode == 0, command)
        time.sleep(0.5)
        expect(len(s.requests("/api/progress")) == 1, "progress was tried %d times" % len(s.requests("/api/progress")))
        expect(sum(1 for l in a.log if "no /api/progress" in l) == 1, "not reported exactly once")
        n = len(s.heartbeats("rig-t9"))
        time.sleep(0.7)
        expect(len(s.heartbeats("rig-t9")) > n, "heartbeats stopped")
    finally:
        a.stop()
        s.stop()


def test_command_line_client():
    s = Standin()
    try:
        def cli(*args):
            return subprocess.run([RIGAGENT, "laneswap"] + list(args), capture_output=True, text=True, timeout=20)
        r = cli("heartbeat", "warning", "--message", "checking", "--url", s.url, "--service-id", "cli-1",
                "--header", "Authorization: Bearer cli")
        expect(r.returncode == 0 and "warning" in r.stdout, r.stdout + r.stderr)
        expect(all(q["headers"].get("Authorization") == "Bearer cli" for q in s.requests()), "header missing")
        r = cli("status", "--url", s.url, "--service-id", "cli-1")
        expect(r.returncode == 0 and "ok (LaneSwap API)" in r.stdout and "warning" in r.stdout, r.stdout + r.stderr)
        r = cli("services", "--url", s.url)
        expect(r.returncode == 0 and "cli-1" in r.stdout and "1 services" in r.stdout, r.stdout + r.stderr)
        r = cli("status", "--url", s.url, "--service-id", "nobody")
        expect(r.returncode == 1 and "not registered" in r.stdout, r.stdout + r.stderr)
        r = cli("heartbeat", "sleepy", "--url", s.url)
        expect(r.returncode == 2, "unknown status: exit %d" % r.returncode)
        r = cli("status", "--url", "http://127.0.0.1:%d" % free_port(), "--timeout", "2")
        expect(r.returncode == 5 and "Unreachable" in r.stderr, r.stdout + r.stderr)
    finally:
        s.stop()


def main():
    CERTS.update(make_certs())
    return run_tests(globals(), procs, sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
