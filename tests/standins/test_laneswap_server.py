#!/usr/bin/env python3
"""Self-test of laneswap_server.py: starts it as a subprocess (several configurations, one over TLS
with a throwaway self-signed certificate made by the openssl CLI), checks each behaviour of
laneswap.md §9 over real sockets with http.client, prints one line per check and exits 0 when all
pass. Standard library only. Usage: test_laneswap_server.py [--python /usr/bin/python3]"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "laneswap_server.py")
PYTHON = sys.executable
if "--python" in sys.argv:
    PYTHON = sys.argv[sys.argv.index("--python") + 1]

STATUSES = ["healthy", "warning", "degraded", "error", "busy", "stale", "unknown"]
PLUS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
Z_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
ENUM_422 = {"detail": [{"loc": ["body", "status"],
                        "msg": "value is not a valid enumeration member; permitted: 'healthy', 'warning', "
                               "'degraded', 'error', 'busy', 'stale', 'unknown'",
                        "type": "type_error.enum",
                        "ctx": {"enum_values": STATUSES}}]}
JSON_HDR = {"Content-Type": "application/json"}

results = []  # (name, ok, detail)
servers = []
TMP = tempfile.mkdtemp(prefix="laneswap-standin-")


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))
    line = ("PASS " if ok else "FAIL ") + name
    if not ok and detail:
        line += ": " + str(detail)[:400]
    print(line, flush=True)
    return ok


def eq(name, got, want):
    return check(name, got == want, "got %r, want %r" % (got, want))


class Srv:
    def __init__(self, *args, tls_ca=None):
        self.args = list(args)
        self.tls_ca = tls_ca
        self.err = open(os.path.join(TMP, "server-%d.err" % len(servers)), "w+")
        self.proc = subprocess.Popen([PYTHON, SERVER, *args], stdout=subprocess.PIPE, stderr=self.err,
                                     text=True)
        servers.append(self)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if r else ""
        m = re.fullmatch(r"PORT (\d+)\n", line)
        if not m:
            self.stop()
            raise AssertionError("server did not print PORT: %r, stderr: %s" % (line, self.stderr()))
        self.port = int(m.group(1))

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def conn(self, timeout=5, ctx=None):
        if self.tls_ca or ctx:
            ctx = ctx or ssl.create_default_context(cafile=self.tls_ca)
            return http.client.HTTPSConnection("localhost", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        return rc


def request(c, method, path, body=None, headers=None, raw=None):
    """-> (status, headers dict lower-case, body bytes, parsed JSON or None). raw: bytes body as is."""
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    b = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    try:
        j = json.loads(b) if b else None
    except ValueError:
        j = None
    return r.status, hd, b, j


def one(srv, method, path, body=None, headers=None, raw=None, timeout=5):
    c = srv.conn(timeout=timeout)
    try:
        return request(c, method, path, body, headers, raw)
    finally:
        c.close()


def control(srv, method, path, body=None):
    st, _, _, j = one(srv, method, path, body)
    if st != 200:
        raise AssertionError("control %s %s -> %d %r" % (method, path, st, j))
    return j


def group(fn):
    """Run a group of checks; an exception fails the group instead of the run."""
    def run(*a, **kw):
        try:
            fn(*a, **kw)
        except Exception as e:
            check(fn.__name__ + " (raised)", False, "%s\n%s" % (e, traceback.format_exc()))
    run.__name__ = fn.__name__
    return run


# ------------------------------------------------------------------------------------------------

@group
def test_register(s):
    st, h, _, j = one(s, "POST", "/api/services", {"service_name": "worker-a", "metadata": {"version": "1.0"}})
    eq("register without id: 200", st, 200)
    sid = (j or {}).get("service_id", "")
    try:
        ok = uuid.UUID(sid).version == 4 and str(uuid.UUID(sid)) == sid
    except ValueError:
        ok = False
    check("register without id: a UUIDv4 service_id", ok and list(j) == ["service_id"], j)
    check("every response has Content-Length", "content-length" in h, h)
    st, _, _, j = one(s, "POST", "/api/services", {"service_id": "rig07", "service_name": "rigagent-rig07",
                                                   "metadata": {"version": "1.4.0"}})
    eq("register with id: 200 {service_id: rig07}", (st, j), (200, {"service_id": "rig07"}))
    st, _, _, j = one(s, "GET", "/api/services/rig07")
    eq("right after registration: ServiceStatus", (st, {k: v for k, v in j.items() if k != "created_at"}),
       (200, {"id": "rig07", "name": "rigagent-rig07", "status": "unknown", "message": None,
              "metadata": {"version": "1.4.0"}, "last_heartbeat": None, "events": []}))
    check("created_at is an ISO timestamp", PLUS_RE.match(j["created_at"]), j["created_at"])
    st, _, _, j = one(s, "POST", "/api/services", {"metadata": {}})
    eq("missing service_name: 422 detail list",
       (st, j), (422, {"detail": [{"loc": ["body", "service_name"], "msg": "field required",
                                   "type": "value_error.missing"}]}))
    st, _, _, j = one(s, "POST", "/api/services", {"service_name": ""})
    check("empty service_name accepted", st == 200 and "service_id" in j, (st, j))
    st, _, _, j = one(s, "POST", "/api/services", {"service_name": "x", "service_id": None})
    check("service_id null -> generated", st == 200 and len(j["service_id"]) == 36, (st, j))
    st, _, _, j = one(s, "POST", "/api/services", raw=b"{not json", headers=JSON_HDR)
    ok = st == 422 and isinstance(j["detail"], list) and j["detail"][0]["loc"] == ["body", 1] \
        and j["detail"][0]["type"] == "value_error.jsondecode" and "msg" in j["detail"][0]
    check("body not JSON: 422 value_error.jsondecode at [body, pos]", ok, (st, j))
    st, _, _, j = one(s, "POST", "/api/services")
    eq("no body on register: 422 [body] missing",
       (st, j), (422, {"detail": [{"loc": ["body"], "msg": "field required", "type": "value_error.missing"}]}))
    st, _, _, j = one(s, "POST", "/api/services", raw=b'{"service_name":"x"}', headers={"Content-Type": "text/plain"})
    eq("non-JSON Content-Type: body not parsed, 422 not a valid dict",
       (st, j), (422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]}))
    st, _, _, j = one(s, "POST", "/api/services", raw=b'{"service_name":"x"}')
    eq("no Content-Type: body parsed as JSON", st, 200)
    st, _, _, j = one(s, "POST", "/api/services", raw=b'{"service_name":"\xff"}', headers=JSON_HDR)
    eq("invalid UTF-8: 400", (st, j), (400, {"detail": "There was an error parsing the body"}))


@group
def test_heartbeat(s):
    one(s, "POST", "/api/services", {"service_id": "hb", "service_name": "hb", "metadata": {"version": "1.4.0"}})
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat")
    check("empty body heartbeat: 200 healthy", st == 200 and j["status"] == "healthy" and j["message"] is None,
          (st, j))
    check("heartbeat sets last_heartbeat", j and j["last_heartbeat"] and PLUS_RE.match(j["last_heartbeat"]), j)
    eq("heartbeat appends an event",
       [(e["type"], e["status"], e["message"]) for e in j["events"]],
       [("heartbeat", "healthy", "Status updated to healthy")])
    eq("ServiceStatus keys", sorted(j), sorted(["id", "name", "status", "message", "metadata", "created_at",
                                                "last_heartbeat", "events"]))
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", {})
    check("{} heartbeat: healthy", st == 200 and j["status"] == "healthy", (st, j))
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", raw=b"null", headers=JSON_HDR)
    check("null body heartbeat: healthy", st == 200 and j["status"] == "healthy", (st, j))
    for status in STATUSES:
        st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", {"status": status, "message": "m-" + status})
        check("status %s accepted" % status, st == 200 and j["status"] == status and j["message"] == "m-" + status,
              (st, j))
    for bad in ("idle", "shutdown", "HEALTHY", 1):
        st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", {"status": bad})
        eq("status %r: 422 type_error.enum with ctx.enum_values" % (bad,), (st, j), (422, ENUM_422))
    st, _, _, j = one(s, "POST", "/api/services/does-not-exist/heartbeat", {"status": "idle"})
    eq("bad status to unknown id: 422 (validated before lookup)", (st, j), (422, ENUM_422))
    st, _, _, j = one(s, "POST", "/api/services/does-not-exist/heartbeat", {"status": "healthy"})
    eq("unknown id: 404 Service not found", (st, j), (404, {"detail": "Service not found: does-not-exist"}))
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", raw=b"{{", headers=JSON_HDR)
    check("heartbeat body not JSON: 422", st == 422 and j["detail"][0]["type"] == "value_error.jsondecode", (st, j))
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat",
                      {"status": "busy", "message": "acquiring", "metadata": {"session": "s-42"}})
    eq("metadata merged", j["metadata"], {"version": "1.4.0", "session": "s-42"})
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", {"status": "busy", "metadata": {}})
    eq("{} metadata leaves it unchanged", j["metadata"], {"version": "1.4.0", "session": "s-42"})
    st, _, _, j = one(s, "POST", "/api/services/hb/heartbeat", {"metadata": {"session": "s-43"}})
    eq("metadata key updated", j["metadata"], {"version": "1.4.0", "session": "s-43"})
    st, _, _, j = one(s, "GET", "/api/services")
    eq("raw record: status_message", j["services"]["hb"]["status_message"], "Status updated to healthy")
    check("raw record: last_message null, updated_at set",
          j["services"]["hb"]["last_message"] is None and PLUS_RE.match(j["services"]["hb"]["updated_at"]),
          j["services"]["hb"])
    # events cap, on one keep-alive connection
    c = s.conn()
    before = control(s, "GET", "/_test/requests")
    for i in range(105):
        st, h, _, j = request(c, "POST", "/api/services/hb/heartbeat", {"status": "healthy", "message": "n%d" % i})
    c.close()
    eq("events capped at 100", len(j["events"]), 100)
    eq("the last 100 events kept", (j["events"][0]["message"], j["events"][-1]["message"]), ("n5", "n104"))
    reqs = control(s, "GET", "/_test/requests?since=%d" % (before[-1]["seq"] if before else 0))
    check("105 requests reused one keep-alive connection", len({r["conn"] for r in reqs}) == 1 and len(reqs) == 105,
          {r["conn"] for r in reqs})


@group
def test_reregister_and_reads(s):
    one(s, "POST", "/api/services", {"service_id": "rr", "service_name": "old", "metadata": {"a": 1}})
    one(s, "POST", "/api/services/rr/heartbeat", {"status": "busy", "message": "x", "metadata": {"b": 2}})
    st, _, _, j = one(s, "POST", "/api/services", {"service_id": "rr", "service_name": "new", "metadata": {"c": 3}})
    eq("re-registration: 200", (st, j), (200, {"service_id": "rr"}))
    st, _, _, j = one(s, "GET", "/api/services/rr")
    eq("re-registration resets the record",
       (j["name"], j["status"], j["message"], j["metadata"], j["last_heartbeat"], j["events"]),
       ("new", "unknown", None, {"c": 3}, None, []))
    st, _, _, j = one(s, "GET", "/api/services/nope")
    eq("get unknown: 404", (st, j), (404, {"detail": "Service not found: nope"}))
    st, _, _, j = one(s, "GET", "/api/services")
    check("list: services is an object keyed by id", st == 200 and isinstance(j["services"], dict)
          and j["services"]["rr"]["id"] == "rr", j)
    eq("list: summary.total", j["summary"]["total"], len(j["services"]))
    eq("list: all 7 status_counts", list(j["summary"]["status_counts"]), STATUSES)
    counts = {x: 0 for x in STATUSES}
    for r in j["services"].values():
        counts[r["status"]] += 1
    eq("list: counts match", j["summary"]["status_counts"], counts)
    st, _, _, j = one(s, "GET", "/api/health")
    check("health", st == 200 and j["status"] == "ok" and j["service"] == "LaneSwap API"
          and PLUS_RE.match(j["timestamp"]), j)


@group
def test_routes(s):
    st, h, b, j = one(s, "DELETE", "/api/services/rr")
    eq("DELETE service: 405", (st, j), (405, {"detail": "Method Not Allowed"}))
    check("405 carries Allow", h.get("allow") == "GET", h)
    st, h, b, j = one(s, "POST", "/api/services/", {"service_name": "x"})
    eq("trailing slash: 307", st, 307)
    eq("307 Location", h.get("location"), "http://127.0.0.1:%d/api/services" % s.port)
    eq("307 empty body, Content-Length 0", (b, h.get("content-length")), (b"", "0"))
    st, h, b, j = one(s, "GET", "/api/health/")
    eq("trailing slash on health: 307", (st, h.get("location")), (307, "http://127.0.0.1:%d/api/health" % s.port))
    for method, path in (("GET", "/nope"), ("POST", "/api/unknown"), ("GET", "/api/services/a/b/c"),
                         ("POST", "/api/services//heartbeat")):
        st, h, b, j = one(s, method, path)
        eq("unknown route %s %s: 404 Not Found" % (method, path), (st, j), (404, {"detail": "Not Found"}))
    for method, path, body in (("POST", "/api/progress", {"service_id": "rr", "task_name": "t", "total_steps": 5}),
                               ("PUT", "/api/progress/task-1", {"current_step": 1}),
                               ("PUT", "/api/progress/task-1/complete", {}),
                               ("GET", "/api/progress", None), ("POST", "/api/progress/", {})):
        st, h, b, j = one(s, method, path, body)
        eq("default mode %s %s: 404 Not Found" % (method, path), (st, j), (404, {"detail": "Not Found"}))
    st, h, b, j = one(s, "HEAD", "/api/health")
    eq("HEAD on a GET route: 405 (FastAPI)", st, 405)
    st, h, b, j = one(s, "GET", "/api/services/a%20b")
    eq("percent-decoded path parameter", j, {"detail": "Service not found: a b"})


@group
def test_headers_and_keepalive(s):
    c = s.conn()
    before = control(s, "GET", "/_test/requests")
    seq0 = before[-1]["seq"] if before else 0
    hdrs = {"Authorization": "Bearer tok-123", "X-Device-Id": "rig07"}
    all_cl = True
    for method, path, body in (("POST", "/api/services", {"service_id": "hd", "service_name": "hd"}),
                               ("POST", "/api/services/hd/heartbeat", {"status": "healthy"}),
                               ("GET", "/api/services/hd", None), ("GET", "/api/services", None),
                               ("GET", "/api/health", None), ("GET", "/nope", None),
                               ("DELETE", "/api/services/hd", None)):
        st, h, b, j = request(c, method, path, body, hdrs)
        all_cl = all_cl and h.get("content-length") == str(len(b))
    c.close()
    check("Content-Length on every response", all_cl)
    reqs = control(s, "GET", "/_test/requests?since=%d" % seq0)
    eq("7 requests recorded", len(reqs), 7)
    check("configured headers recorded on every request, original case",
          all(r["headers"].get("Authorization") == "Bearer tok-123" and r["headers"].get("X-Device-Id") == "rig07"
              for r in reqs), [r["headers"] for r in reqs])
    eq("one connection for all of them", len({r["conn"] for r in reqs}), 1)
    eq("conn_request counts up", [r["conn_request"] for r in reqs], list(range(1, 8)))
    eq("body recorded", (reqs[1]["body"], reqs[1]["json"]), ('{"status": "healthy"}', {"status": "healthy"}))
    conns = control(s, "GET", "/_test/connections")
    mine = [x for x in conns if x["conn"] == reqs[0]["conn"]]
    check("connection listed with its peer port", mine and mine[0]["peer_port"] == reqs[0]["peer_port"], mine)
    # Connection: close honoured
    c = s.conn()
    st, h, _, _ = request(c, "GET", "/api/health", headers={"Connection": "close"})
    eq("Connection: close echoed", h.get("connection"), "close")
    c.close()
    # chunked request body
    c = s.conn()
    c.putrequest("POST", "/api/services")
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    for part in (b'{"service_id":"ch",', b'"service_name":"chunky"}'):
        c.send(b"%x\r\n%s\r\n" % (len(part), part))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    eq("chunked request body", (r.status, json.loads(r.read())), (200, {"service_id": "ch"}))
    c.close()
    # reset
    control(s, "POST", "/_test/reset")
    eq("reset clears the request log", control(s, "GET", "/_test/requests"), [])


def raw_exchange(port, data, timeout=3):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as k:
        k.sendall(data)
        out = b""
        try:
            while True:
                d = k.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"<timeout>"
        except ConnectionResetError:
            out += b"<reset>"
        return out


@group
def test_robustness(s):
    out = raw_exchange(s.port, b"GARBAGE\r\n\r\n")
    check("malformed request line: 400 and close", out.startswith(b"HTTP/1.1 400 ") and
          out.endswith(b"Invalid HTTP request received."), out)
    out = raw_exchange(s.port, b"GET /api/health HTTP/1.1\r\n\r\n")
    check("HTTP/1.1 without Host: 400", out.startswith(b"HTTP/1.1 400 "), out)
    out = raw_exchange(s.port, b"POST /api/services HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
    check("bad Content-Length: 400", out.startswith(b"HTTP/1.1 400 "), out)
    out = raw_exchange(s.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))
    check("TLS ClientHello to a plain server: 400 at once", out.startswith(b"HTTP/1.1 400"), out)
    with socket.create_connection(("127.0.0.1", s.port)) as k:
        k.sendall(b"POST /api/services HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"serv")
    st, _, _, j = one(s, "GET", "/api/health")
    eq("server survives malformed requests and half bodies", st, 200)
    st, _, _, j = one(s, "POST", "/api/services", raw=b'{"service_id":"nan","service_name":"n","metadata":{"x":NaN}}',
                      headers=JSON_HDR)
    eq("NaN accepted on input", st, 200)
    st, h, b, _ = one(s, "GET", "/api/services/nan")
    eq("NaN in stored metadata: 500 text (JSONResponse refuses NaN)", (st, b), (500, b"Internal Server Error"))
    one(s, "POST", "/api/services", {"service_id": "nan", "service_name": "n"})  # clean up
    recs = control(s, "GET", "/_test/requests")
    check("malformed requests are recorded", any(r["malformed"] for r in recs), recs[:3])


@group
def test_faults(s):
    control(s, "POST", "/_test/fault", {"mode": "500", "count": 2})
    a = one(s, "GET", "/api/health")
    b = one(s, "GET", "/api/health")
    c = one(s, "GET", "/api/health")
    eq("fault 500: the next 2 requests", [(a[0], a[3]), (b[0], b[3])],
       [(500, {"detail": "Internal server error"})] * 2)
    eq("fault 500: then normal again", c[0], 200)
    eq("/_test/fault back to none", control(s, "GET", "/_test/fault"), {"mode": "none"})

    control(s, "POST", "/_test/fault", {"mode": "slow", "delay_ms": 1500, "count": 1})
    t0 = time.monotonic()
    try:
        one(s, "GET", "/api/health", timeout=0.5)
        check("fault slow: client times out", False, "answered")
    except (socket.timeout, TimeoutError):
        check("fault slow: client times out", time.monotonic() - t0 < 1.4)
    control(s, "POST", "/_test/fault", {"mode": "slow", "delay_ms": 300, "count": 1})
    t0 = time.monotonic()
    st = one(s, "GET", "/api/health", timeout=5)[0]
    check("fault slow: answered after delay_ms", st == 200 and time.monotonic() - t0 >= 0.29)

    control(s, "POST", "/_test/fault", {"mode": "close"})
    try:
        one(s, "GET", "/api/health")
        check("fault close: no response", False, "answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        check("fault close: no response", True)

    control(s, "POST", "/_test/fault", {"mode": "reset"})
    try:
        one(s, "GET", "/api/health")
        check("fault reset: no response", False, "answered")
    except (http.client.RemoteDisconnected, ConnectionError):
        check("fault reset: no response", True)

    control(s, "POST", "/_test/fault", {"mode": "garbage"})
    try:
        one(s, "GET", "/api/health")
        check("fault garbage: not HTTP", False, "answered")
    except http.client.BadStatusLine:
        check("fault garbage: not HTTP", True)

    control(s, "POST", "/_test/fault", {"mode": "hang"})
    t0 = time.monotonic()
    try:
        one(s, "GET", "/api/health", timeout=1.0)
        check("fault hang: client gives up", False, "answered")
    except (socket.timeout, TimeoutError):
        check("fault hang: client gives up", 0.9 < time.monotonic() - t0 < 2)

    control(s, "POST", "/_test/fault", {"mode": "status", "status": 503, "body": {"detail": "maintenance"},
                                        "headers": {"Retry-After": "1"}, "match": "/heartbeat", "count": -1})
    one(s, "POST", "/api/services", {"service_id": "f", "service_name": "f"})
    st, h, _, j = one(s, "POST", "/api/services/f/heartbeat", {})
    eq("fault status with match: heartbeat gets 503", (st, j, h.get("retry-after")), (503, {"detail": "maintenance"}, "1"))
    st, h, _, j = one(s, "GET", "/api/services/f")
    eq("fault status with match: other paths unaffected", (st, j["status"]), (200, "unknown"))
    control(s, "POST", "/_test/fault", {"mode": "none"})
    eq("fault none: normal", one(s, "POST", "/api/services/f/heartbeat", {})[0], 200)
    recs = control(s, "GET", "/_test/requests?path=/api/health")
    check("faults are recorded", {"500", "slow", "close", "reset", "garbage", "hang"} <= {r["fault"] for r in recs},
          {r["fault"] for r in recs})
    st = one(s, "GET", "/api/health")[0]
    eq("server fine after faults", st, 200)


@group
def test_stale():
    s = Srv("--check-interval", "0.3", "--stale-threshold", "1")
    try:
        one(s, "POST", "/api/services", {"service_id": "beat", "service_name": "b"})
        one(s, "POST", "/api/services", {"service_id": "silent", "service_name": "s"})
        _, _, _, hb = one(s, "POST", "/api/services/beat/heartbeat", {"status": "busy", "message": "m"})
        time.sleep(0.6)
        eq("not stale before the threshold", one(s, "GET", "/api/services/beat")[3]["status"], "busy")
        time.sleep(1.2)
        _, _, _, j = one(s, "GET", "/api/services")
        beat, silent = j["services"]["beat"], j["services"]["silent"]
        eq("marked stale after the threshold", beat["status"], "stale")
        eq("status_message set", beat["status_message"], "No heartbeat received in 1 seconds")
        eq("no event appended, last_heartbeat unchanged",
           (len(beat["events"]), beat["last_heartbeat"]), (1, hb["last_heartbeat"]))
        eq("never-heartbeated service stays unknown", silent["status"], "unknown")
        eq("stale counted in summary", j["summary"]["status_counts"]["stale"], 1)
        time.sleep(1.0)
        notes = [n for n in control(s, "GET", "/_test/notifications") if n["type"] == "stale"]
        eq("marked once (one stale notification)", len(notes), 1)
        _, _, _, j = one(s, "POST", "/api/services/beat/heartbeat", {"status": "healthy", "message": "recovered"})
        eq("heartbeat after stale recovers", (j["status"], j["message"]), ("healthy", "recovered"))
        control(s, "POST", "/_test/config", {"check_interval": 3600, "stale_threshold": 0.2})
        time.sleep(0.5)
        eq("stale-now marks at once", control(s, "POST", "/_test/stale-now"), {"marked": ["beat"]})
        eq("stale-now again: nothing new", control(s, "POST", "/_test/stale-now"), {"marked": []})
    finally:
        eq("stale server exits 0 on SIGTERM", s.stop(), 0)


@group
def test_progress():
    statefile = os.path.join(TMP, "state.json")
    s = Srv("--progress", "--state-file", statefile)
    try:
        body = {"service_id": "rig07", "task_name": "post-acq", "total_steps": 5, "description": "session s-42",
                "metadata": {"a": 1}}
        st, _, _, j = one(s, "POST", "/api/progress", body)
        check("progress start: 201 {task_id}", st == 201 and isinstance(j.get("task_id"), str) and list(j) == ["task_id"],
              (st, j))
        tid = j["task_id"]
        st, _, _, j = one(s, "PUT", "/api/progress/" + tid, {"service_id": "rig07", "task_id": tid, "current_step": 2,
                                                            "status": "running", "message": "half", "metadata": {}})
        check("progress update: 200 JSON object", st == 200 and isinstance(j, dict) and j["current_step"] == 2
              and j["status"] == "running", (st, j))
        st, _, _, j = one(s, "PUT", "/api/progress/%s/complete" % tid,
                          {"service_id": "rig07", "task_id": tid, "status": "completed", "message": None, "metadata": {}})
        check("progress complete: 200 JSON object", st == 200 and j["status"] == "completed", (st, j))
        st, _, _, j = one(s, "PUT", "/api/progress/nope", {"current_step": 1})
        eq("update unknown task: 404 other detail", (st, j), (404, {"detail": "Task not found: nope"}))
        st, _, _, j = one(s, "PUT", "/api/progress/nope/complete", {})
        eq("complete unknown task: 404 other detail", (st, j), (404, {"detail": "Task not found: nope"}))
        st, _, _, j = one(s, "POST", "/api/progress", {"service_id": "rig07"})
        eq("start missing fields: 422",
           (st, [e["loc"] for e in j["detail"]]), (422, [["body", "task_name"], ["body", "total_steps"]]))
        st, _, _, j = one(s, "PUT", "/api/progress/" + tid, {"status": "running"})
        eq("update missing current_step: 422", (st, j["detail"][0]["loc"]), (422, ["body", "current_step"]))
        st, _, _, j = one(s, "PUT", "/api/progress/nope", {"status": "running"})
        eq("update: 422 before the task lookup", st, 422)
        st, _, _, j = one(s, "GET", "/api/progress/" + tid)
        eq("GET on a progress route: 405", st, 405)
        hist = control(s, "GET", "/_test/progress")
        eq("/_test/progress history", [h["kind"] for h in hist[0]["history"]], ["start", "update", "complete"])
        with open(statefile) as f:
            check("state file written", tid in json.load(f)["tasks"])
        control(s, "POST", "/_test/config", {"progress": False})
        eq("progress switched off at run time: 404 Not Found", one(s, "POST", "/api/progress", body)[3],
           {"detail": "Not Found"})
    finally:
        eq("progress server exits 0 on SIGTERM", s.stop(), 0)


@group
def test_timestamps():
    for mode in ("plus", "z", "mixed"):
        s = Srv("--timestamps", mode)
        try:
            one(s, "POST", "/api/services", {"service_id": "t", "service_name": "t"})
            _, _, _, j = one(s, "POST", "/api/services/t/heartbeat")
            _, _, _, lst = one(s, "GET", "/api/services")
            vals = {"created_at": j["created_at"], "last_heartbeat": j["last_heartbeat"],
                    "event": j["events"][0]["timestamp"], "raw": lst["services"]["t"]["created_at"],
                    "health": one(s, "GET", "/api/health")[3]["timestamp"]}
            if mode == "plus":
                check("timestamps plus: all +00:00", all(PLUS_RE.match(v) for v in vals.values()), vals)
            elif mode == "z":
                check("timestamps z: all Z", all(Z_RE.match(v) for v in vals.values()), vals)
            else:
                check("timestamps mixed: Z on model fields, +00:00 elsewhere",
                      Z_RE.match(vals["created_at"]) and Z_RE.match(vals["last_heartbeat"])
                      and PLUS_RE.match(vals["event"]) and PLUS_RE.match(vals["raw"]), vals)
        finally:
            s.stop()
    s = Srv("--whole-seconds", "--timestamps", "z")
    try:
        ts = one(s, "GET", "/api/health")[3]["timestamp"]
        check("whole seconds: no fraction", re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ts), ts)
    finally:
        s.stop()


@group
def test_errors_v2():
    s = Srv("--errors", "v2")
    try:
        st, _, _, j = one(s, "POST", "/api/services", {"metadata": {}})
        eq("v2 missing", (st, j["detail"][0]["type"], j["detail"][0]["loc"], j["detail"][0]["msg"]),
           (422, "missing", ["body", "service_name"], "Field required"))
        st, _, _, j = one(s, "POST", "/api/services/x/heartbeat", {"status": "idle"})
        eq("v2 enum", (st, j["detail"][0]["type"], j["detail"][0]["loc"], j["detail"][0]["input"]),
           (422, "enum", ["body", "status"], "idle"))
        st, _, _, j = one(s, "POST", "/api/services", raw=b"nope", headers=JSON_HDR)
        eq("v2 json_invalid", (st, j["detail"][0]["type"], j["detail"][0]["loc"]), (422, "json_invalid", ["body", 0]))
    finally:
        s.stop()


@group
def test_keepalive_timeout():
    s = Srv("--keepalive-timeout", "0.5")
    try:
        with socket.create_connection(("127.0.0.1", s.port), timeout=3) as k:
            k.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            first = k.recv(65536)
            t0 = time.monotonic()
            rest = k.recv(65536)
            took = time.monotonic() - t0
        check("idle keep-alive connection closed after the timeout",
              first.startswith(b"HTTP/1.1 200") and rest == b"" and 0.2 < took < 1.5, (first[:20], rest, took))
    finally:
        s.stop()


@group
def test_tls():
    if not shutil.which("openssl"):
        check("TLS (openssl CLI missing)", False)
        return
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if not check("openssl made a self-signed certificate", r.returncode == 0, r.stderr):
        return
    s = Srv("--tls-cert", cert, "--tls-key", key, tls_ca=cert)
    try:
        c = s.conn()
        st, _, _, j = request(c, "POST", "/api/services", {"service_id": "tls", "service_name": "t"},
                              {"Authorization": "Bearer x"})
        eq("TLS register", (st, j), (200, {"service_id": "tls"}))
        st, _, _, j = request(c, "POST", "/api/services/tls/heartbeat", {"status": "busy"})
        eq("TLS heartbeat on the same connection", (st, j["status"]), (200, "busy"))
        st, h, _, _ = request(c, "POST", "/api/services/", {})
        eq("TLS 307 Location is https", h.get("location"), "https://localhost:%d/api/services" % s.port)
        c.close()
        reqs = control(s, "GET", "/_test/requests")
        check("TLS requests recorded on one connection",
              len({x["conn"] for x in reqs}) == 1 and all(x["tls"] for x in reqs), reqs)
        try:
            request(s.conn(ctx=ssl.create_default_context()), "GET", "/api/health")
            check("TLS: untrusted certificate refused by the client", False, "connected")
        except ssl.SSLCertVerificationError:
            check("TLS: untrusted certificate refused by the client", True)
        time.sleep(0.2)
        conns = control(s, "GET", "/_test/connections")
        check("TLS handshake failure recorded", any(x["tls_error"] for x in conns), conns)
        out = raw_exchange(s.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        check("plain HTTP to the TLS server: no HTTP answer", not out.startswith(b"HTTP/1.1 200"), out)
        control(s, "POST", "/_test/fault", {"mode": "garbage"})
        try:
            one(s, "GET", "/api/health")
            check("TLS fault garbage", False, "answered")
        except http.client.BadStatusLine:
            check("TLS fault garbage", True)
        control(s, "POST", "/_test/fault", {"mode": "close"})
        try:
            one(s, "GET", "/api/health")
            check("TLS fault close", False, "answered")
        except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLError):
            check("TLS fault close", True)
        control(s, "POST", "/_test/fault", {"mode": "hang"})
        t0 = time.monotonic()
        try:
            one(s, "GET", "/api/health", timeout=1.0)
            check("TLS fault hang: client gives up", False, "answered")
        except (socket.timeout, TimeoutError):
            check("TLS fault hang: client gives up", 0.9 < time.monotonic() - t0 < 2)
        eq("TLS server alive after all that", one(s, "GET", "/api/health")[0], 200)
    finally:
        eq("TLS server exits 0 on SIGTERM", s.stop(), 0)


@group
def test_shutdown():
    s = Srv()
    c = s.conn()
    request(c, "GET", "/api/health")  # an open keep-alive connection
    control(s, "POST", "/_test/fault", {"mode": "hang"})
    k = socket.create_connection(("127.0.0.1", s.port))
    k.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")  # a hanging request
    time.sleep(0.2)
    t0 = time.monotonic()
    rc = s.stop(signal.SIGINT)
    eq("SIGINT: exit 0", rc, 0)
    check("exits promptly with open connections", time.monotonic() - t0 < 2, time.monotonic() - t0)
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
        check("socket closed after exit (connection refused)", False)
    except ConnectionRefusedError:
        check("socket closed after exit (connection refused)", True)
    k.close()
    c.close()


def main():
    try:
        s = Srv()
        try:
            for t in (test_register, test_heartbeat, test_reregister_and_reads, test_routes,
                      test_headers_and_keepalive, test_robustness, test_faults):
                t(s)
            err = s.stderr()
            check("quiet stderr by default", err == "", err)
        finally:
            eq("server exits 0 on SIGTERM", s.stop(), 0)
        for t in (test_stale, test_progress, test_timestamps, test_errors_v2, test_keepalive_timeout, test_tls,
                  test_shutdown):
            t()
    finally:
        for srv in servers:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    failed = [n for n, ok, _ in results if not ok]
    print("%d checks, %d failed" % (len(results), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
