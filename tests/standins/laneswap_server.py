#!/usr/bin/env python3
"""A stand-in for the LaneSwap reference server (v0.1.2x: FastAPI on uvicorn), written from
/work/shared/protocols/laneswap.md (§2-§9) and the LaneSwap client API document. Standard library only
(Debian bookworm's python3 3.11).

Usage:
    laneswap_server.py [--host 127.0.0.1] [--port 0] [--tls-cert F --tls-key F]
                       [--check-interval S] [--stale-threshold S] [--progress]
                       [--timestamps plus|z|mixed] [--whole-seconds] [--errors v1|v2]
                       [--keepalive-timeout S] [--state-file F] [--verbose]

It binds (port 0 = any free port), prints exactly one line "PORT <n>" to stdout, and serves until SIGTERM
or SIGINT, then closes its socket and exits 0. Logs go to stderr (quiet unless --verbose; unexpected
internal errors are always logged).

What it reproduces (the reference server, §2-§7):

* POST /api/services -> 200 {"service_id"}; a UUIDv4 when service_id is absent or null, the given id
  verbatim otherwise; re-registering an id replaces the record (status "unknown", no events, no
  last_heartbeat, new name and metadata, new created_at).
* POST /api/services/{id}/heartbeat: body optional (none, JSON null or {} = healthy); the 7 lower-case
  statuses; body validation (422) BEFORE the id lookup (404 {"detail":"Service not found: <id>"});
  metadata merged when non-empty; status_message; events capped at the last 100; answers ServiceStatus.
* GET /api/services/{id} -> ServiceStatus or 404; GET /api/services -> {"services": {id: raw record},
  "summary": {"total", "status_counts" with all 7 statuses}}; GET /api/health.
* GET /api/executions, GET /api/executions/{id}, GET /api/statistics exist (so that other methods get
  405 there) but their bodies are placeholders ([], 404, {}): the spec does not define them.
* Framework behaviour (Starlette/FastAPI): unknown route -> 404 {"detail":"Not Found"}; known path with
  another method (DELETE, HEAD, PUT, ...) -> 405 {"detail":"Method Not Allowed"} with Allow; a path
  that matches only after stripping trailing '/' -> 307 with an absolute Location and an empty body;
  422 {"detail":[...]} in pydantic-1 shapes (value_error.missing, type_error.enum with
  ctx.enum_values, value_error.jsondecode with loc ["body", pos], type_error.dict, type_error.str,
  type_error.integer, type_error.none.not_allowed) or, with --errors v2, pydantic-2 shapes (missing,
  enum, json_invalid, model_attributes_type, string_type, dict_type, int_parsing, ...); a body sent
  with a non-JSON Content-Type is not parsed (422 "value is not a valid dict"); a body that is not
  valid UTF-8 JSON text -> 400 {"detail":"There was an error parsing the body"}; NaN/Infinity in
  stored metadata makes later responses 500 text "Internal Server Error" (JSONResponse refuses NaN).
* uvicorn behaviour: HTTP/1.1 keep-alive, Content-Length on every response, lower-case response header
  names (date, server: uvicorn, content-length, content-type); an idle keep-alive connection is closed
  after --keepalive-timeout seconds (uvicorn's default 5; 0 = never); an HTTP/1.1 request without Host,
  an HTTP/0.9 request or any unparsable request -> 400 text "Invalid HTTP request received." and close;
  chunked request bodies and "Expect: 100-continue" are understood. CORS: responses to requests with
  Origin carry access-control-allow-origin: *, and preflights get 200.
* The stale monitor (§7): runs at start and then every --check-interval seconds (default 30, or
  $LANESWAP_CHECK_INTERVAL); marks a service "stale" when now - last_heartbeat > --stale-threshold
  (default 60, or $LANESWAP_STALE_THRESHOLD); never a service that never heartbeated; once (a stale
  service is skipped); sets status_message "No heartbeat received in <threshold> seconds"; appends no
  event and leaves last_heartbeat alone.
* Progress (§8): by default every /api/progress... route answers 404 {"detail":"Not Found"}, exactly
  like the reference. With --progress: POST /api/progress -> 201 {"task_id"} (service_id, task_name and
  total_steps required); PUT /api/progress/{id} -> 200 task object (current_step required, status
  default "running"); PUT /api/progress/{id}/complete -> 200 task object (status default "completed");
  an unknown task -> 404 {"detail":"Task not found: <id>"}; 422 as above (validated before the lookup).
* Timestamps: "plus" writes 2026-11-21T19:26:33.998487+00:00 everywhere (default); "z" writes
  ...998487Z everywhere; "mixed" is what a pydantic-2 stack does: Z for the model fields
  (ServiceStatus created_at / last_heartbeat) and +00:00 for everything else (events[].timestamp, raw
  records in the list, health), so one heartbeat response carries both forms. --whole-seconds stores
  times with microsecond 0, so the fraction disappears (...:33+00:00 / ...:33Z).
* State is in memory; a restart forgets everything. --state-file F only *writes* a JSON dump
  ({"services": {id: raw record}, "tasks": {...}}) after every change and at exit, for post-mortems;
  it is never read back.

Test control API (not part of LaneSwap; never recorded, never subject to faults). Bodies are JSON.

  GET  /_test/requests[?since=SEQ&path=PREFIX]
        -> list of every request seen on any non-/_test/ path (including 404s and malformed ones):
           {"seq", "conn" (connection id), "conn_request" (1-based index on that connection),
            "peer", "peer_port", "tls", "time", "method", "target" (raw request target), "path"
            (percent-decoded, no query), "query", "version", "headers" ({name: value}, original
            case, repeated names joined with ", "), "header_list" ([[name, value], ...]),
            "body" (text, undecodable bytes replaced), "body_bytes", "json" (parsed body or null),
            "fault" (mode applied or null), "status" (status sent, null if none),
            "malformed" (true for unparsable requests)}
  GET  /_test/connections -> [{"conn", "peer", "peer_port", "tls", "opened", "closed", "requests",
                               "tls_error"}]
  GET  /_test/notifications -> [{"type": "status_change"|"stale", "service_id", "old_status",
                                 "new_status", "message", "time"}]   (what the notifiers would post)
  GET  /_test/progress -> [{task..., "history": [{"kind": "start"|"update"|"complete", "time",
                                                  "body"}]}]
  GET  /_test/state -> {"services": {id: raw record}, "tasks": {...}}   (the --state-file content)
  /_test/config also takes "refuse_status": [statuses] (as --refuse-status): heartbeats with them get the
        422 an unknown status gets, with enum_values listing only the rest.
  POST /_test/reset  [{"state": true, "fault": true}]
        -> clears the request, connection and notification logs; "state": true also forgets every
           service and task (like a server restart); "fault": true also clears the fault.
  POST /_test/fault  {"mode": M, "delay_ms": N, "count": N, "match": "substr", "method": "POST",
                      "status": 503, "body": {...}, "headers": {...}}
        The next `count` API requests (default 1; -1 = until changed) whose path contains `match`
        and whose method is `method` (both optional) get, by mode:
          none    - no fault (clears it);
          500     - 500 {"detail":"Internal server error"}, not processed;
          status  - `status` (default 500) with JSON `body` (default {"detail":"Injected error"}) and
                    extra `headers`, not processed;
          slow    - processed normally and answered after delay_ms (default 2000);
          close   - the request is read, then the connection is closed (FIN) with no response;
          reset   - the same, but closed with a TCP RST;
          garbage - a non-HTTP reply ("GARBAGE ...") is written, then the connection is closed;
          hang    - no answer at all: the connection stays open until the client closes it (or for
                    delay_ms if it is > 0, or until the server stops), then it is closed.
        GET /_test/fault shows the current fault.
  POST /_test/stale-now -> {"marked": [ids]}: one stale check right now.
  GET|POST /_test/config {"progress": bool, "stale_threshold": S, "check_interval": S,
                          "timestamps": "plus"|"z"|"mixed", "errors": "v1"|"v2",
                          "keepalive_timeout": S}  -> the current settings (POST changes them).
"""

import argparse
import datetime
import email.message
import email.utils
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import parse_qs, unquote

STATUSES = ["healthy", "warning", "degraded", "error", "busy", "stale", "unknown"]
# Statuses this instance pretends not to know (--refuse-status, /_test/config "refuse_status"), to
# play a server generation with a smaller enum: they get the same 422 as "idle" does.
REFUSED = set()


def accepted_statuses():
    return [x for x in STATUSES if x not in REFUSED]
EVENT_CAP = 100
FAULT_MODES = ("none", "500", "status", "slow", "close", "reset", "garbage", "hang")
TOKEN_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\r\n")
GARBAGE = b"GARBAGE \x00\xff\xfe this is not HTTP \x01\x02\x03\r\n\r\n"


# ------------------------------------------------------------------------------------------------
# Small helpers


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t, form):
    """t: aware UTC datetime or None; form: "plus" or "z"."""
    if t is None:
        return None
    s = t.isoformat()
    if form == "z" and s.endswith("+00:00"):
        s = s[:-6] + "Z"
    return s


def num_text(x):
    """60.0 -> "60", 1.5 -> "1.5" (how the reference prints its int threshold)."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def dumps(obj):
    """Starlette's JSONResponse.render."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


def log(msg):
    try:
        sys.stderr.write("laneswap_server: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


class QuietError(Exception):
    """A connection-level failure already accounted for (TLS handshake failed, client vanished)."""


class RawBytes:
    """A request body that FastAPI did not parse as JSON (Content-Type not JSON)."""

    def __init__(self, data):
        self.data = data

    def text(self):
        return self.data.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------
# Validation: pydantic 1 (FastAPI < 0.100) and pydantic 2 error shapes

# (name, kind, required, nullable, default)
MODELS = {
    "register": [("service_name", "str", True, False, None),
                 ("service_id", "str", False, True, None),
                 ("metadata", "dict", False, True, {})],
    "heartbeat": [("status", "status", False, False, "healthy"),
                  ("message", "str", False, True, None),
                  ("metadata", "dict", False, True, None)],
    "progress_start": [("service_id", "str", True, False, None),
                       ("task_name", "str", True, False, None),
                       ("total_steps", "int", True, False, None),
                       ("description", "str", False, True, None),
                       ("metadata", "dict", False, True, None)],
    "progress_update": [("service_id", "str", False, True, None),
                        ("task_id", "str", False, True, None),
                        ("current_step", "int", True, False, None),
                        ("status", "str", False, False, "running"),
                        ("message", "str", False, True, None),
                        ("metadata", "dict", False, True, None)],
    "progress_complete": [("service_id", "str", False, True, None),
                          ("task_id", "str", False, True, None),
                          ("status", "str", False, False, "completed"),
                          ("message", "str", False, True, None),
                          ("metadata", "dict", False, True, None)],
}

ENUM_V1_MSG = "value is not a valid enumeration member; permitted: " + \
    ", ".join("'%s'" % s for s in STATUSES)
ENUM_V2_EXPECTED = ", ".join("'%s'" % s for s in STATUSES[:-1]) + " or '%s'" % STATUSES[-1]

_INT_RE = re.compile(r"^\s*[+-]?\d+(_\d+)*\s*$")


class _Invalid(Exception):
    def __init__(self, err):
        self.err = err


def _v1_err(loc, msg, typ, ctx=None):
    d = {"loc": loc, "msg": msg, "type": typ}
    if ctx is not None:
        d["ctx"] = ctx
    return d


def _v2_err(loc, typ, msg, inp, ctx=None):
    d = {"type": typ, "loc": loc, "msg": msg, "input": inp}
    if ctx is not None:
        d["ctx"] = ctx
    return d


def _field_v1(kind, v, nullable, loc):
    if v is None:
        if nullable:
            return None
        raise _Invalid(_v1_err(loc, "none is not an allowed value", "type_error.none.not_allowed"))
    if kind == "str":
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)):  # pydantic 1 coerces numbers (and bools) to str
            return str(v)
        raise _Invalid(_v1_err(loc, "str type expected", "type_error.str"))
    if kind == "dict":
        if isinstance(v, dict):
            return v
        try:
            return dict(v)  # pydantic 1 tries dict(v): a list of pairs passes
        except (TypeError, ValueError):
            raise _Invalid(_v1_err(loc, "value is not a valid dict", "type_error.dict"))
    if kind == "int":
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        try:
            return int(v)
        except (TypeError, ValueError, OverflowError):
            raise _Invalid(_v1_err(loc, "value is not a valid integer", "type_error.integer"))
    if kind == "status":
        if isinstance(v, str) and v in accepted_statuses():
            return v
        raise _Invalid(_v1_err(loc, ENUM_V1_MSG, "type_error.enum", {"enum_values": accepted_statuses()}))
    return v


def _field_v2(kind, v, nullable, loc):
    if v is None and nullable:
        return None
    if kind == "str":
        if isinstance(v, str):
            return v
        raise _Invalid(_v2_err(loc, "string_type", "Input should be a valid string", v))
    if kind == "dict":
        if isinstance(v, dict):
            return v
        raise _Invalid(_v2_err(loc, "dict_type", "Input should be a valid dictionary", v))
    if kind == "int":
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                raise _Invalid(_v2_err(loc, "finite_number", "Input should be a finite number", v))
            if v.is_integer():
                return int(v)
            raise _Invalid(_v2_err(loc, "int_from_float",
                                   "Input should be a valid integer, got a number with a fractional part", v))
        if isinstance(v, str):
            if _INT_RE.match(v):
                return int(v.strip().replace("_", ""))
            raise _Invalid(_v2_err(loc, "int_parsing",
                                   "Input should be a valid integer, unable to parse string as an integer", v))
        raise _Invalid(_v2_err(loc, "int_type", "Input should be a valid integer", v))
    if kind == "status":
        if isinstance(v, str) and v in accepted_statuses():
            return v
        raise _Invalid(_v2_err(loc, "enum", "Input should be " + ENUM_V2_EXPECTED, v,
                               {"expected": ENUM_V2_EXPECTED}))
    return v


def validate_body(model, value, body_required, style):
    """value: parsed JSON (None = no body), or RawBytes. Returns (data, errors)."""
    fields = MODELS[model]
    if value is None:
        if body_required:
            if style == "v2":
                return None, [_v2_err(["body"], "missing", "Field required", None)]
            return None, [_v1_err(["body"], "field required", "value_error.missing")]
        return {name: (dict(default) if isinstance(default, dict) else default)
                for name, _, _, _, default in fields}, []
    if style == "v2":
        if not isinstance(value, dict):
            inp = value.text() if isinstance(value, RawBytes) else value
            return None, [_v2_err(["body"], "model_attributes_type",
                                  "Input should be a valid dictionary or object to extract fields from", inp)]
        d = value
    else:
        if isinstance(value, RawBytes):
            d = None
        elif isinstance(value, dict):
            d = value
        else:
            try:
                d = dict(value)
            except (TypeError, ValueError):
                d = None
        if d is None:
            return None, [_v1_err(["body"], "value is not a valid dict", "type_error.dict")]
    out, errors = {}, []
    for name, kind, required, nullable, default in fields:
        loc = ["body", name]
        if name not in d:
            if required:
                errors.append(_v2_err(loc, "missing", "Field required", d) if style == "v2"
                              else _v1_err(loc, "field required", "value_error.missing"))
            else:
                out[name] = dict(default) if isinstance(default, dict) else default
            continue
        try:
            out[name] = (_field_v2 if style == "v2" else _field_v1)(kind, d[name], nullable, loc)
        except _Invalid as e:
            errors.append(e.err)
    return (None, errors) if errors else (out, [])


# ------------------------------------------------------------------------------------------------
# Routing (Starlette's rules: first full match; else first path-only match -> 405; else a trailing-
# slash variant that matches -> 307; else 404)

API_ROUTES = [
    ("GET", "/api/health", "health"),
    ("POST", "/api/services", "register"),
    ("GET", "/api/services", "list"),
    ("GET", "/api/services/{id}", "get"),
    ("POST", "/api/services/{id}/heartbeat", "heartbeat"),
    ("GET", "/api/executions", "executions"),
    ("GET", "/api/executions/{id}", "execution"),
    ("GET", "/api/statistics", "statistics"),
]
PROGRESS_ROUTES = [
    ("POST", "/api/progress", "progress_start"),
    ("PUT", "/api/progress/{id}", "progress_update"),
    ("PUT", "/api/progress/{id}/complete", "progress_complete"),
]


def _compile(routes):
    out = []
    for method, pattern, name in routes:
        rx = "^" + re.escape(pattern).replace(re.escape("{id}"), "(?P<id>[^/]+)") + "$"
        out.append((method, re.compile(rx), name))
    return out


API_TABLE = _compile(API_ROUTES)
PROGRESS_TABLE = _compile(PROGRESS_ROUTES)


def route(method, path, progress):
    """-> ("ok", name, id) | ("405", allow) | ("307", new_path) | ("404",)"""
    table = API_TABLE + (PROGRESS_TABLE if progress else [])
    partial = None
    for m, rx, name in table:
        mo = rx.match(path)
        if mo:
            if m == method:
                return ("ok", name, mo.groupdict().get("id"))
            if partial is None:
                partial = m
    if partial is not None:
        return ("405", partial)
    if path != "/":
        alt = path.rstrip("/") if path.endswith("/") else path + "/"
        for m, rx, name in table:
            if rx.match(alt):
                return ("307", alt)
    return ("404",)


# ------------------------------------------------------------------------------------------------
# State


class Config:
    def __init__(self, args):
        self.progress = args.progress
        self.check_interval = float(args.check_interval)
        self.stale_threshold = args.stale_threshold
        self.timestamps = args.timestamps
        self.whole_seconds = args.whole_seconds
        self.errors = args.errors
        self.keepalive_timeout = float(args.keepalive_timeout)
        self.verbose = args.verbose
        self.state_file = args.state_file

    def public(self):
        return {"progress": self.progress, "check_interval": self.check_interval,
                "stale_threshold": self.stale_threshold, "timestamps": self.timestamps,
                "whole_seconds": self.whole_seconds, "errors": self.errors,
                "keepalive_timeout": self.keepalive_timeout, "state_file": self.state_file,
                "refuse_status": sorted(REFUSED)}


class State:
    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.services = {}
        self.tasks = {}
        self.requests = []
        self.connections = {}
        self.notifications = []
        self.fault = {"mode": "none"}
        self.req_seq = 0
        self.conn_seq = 0
        self.stopping = threading.Event()
        self.wake = threading.Event()

    # -- time -----------------------------------------------------------------------------------
    def now(self):
        t = utcnow()
        return t.replace(microsecond=0) if self.cfg.whole_seconds else t

    def ts(self, t, model_field=False):
        mode = self.cfg.timestamps
        form = "z" if mode == "z" or (mode == "mixed" and model_field) else "plus"
        return iso(t, form)

    # -- views ----------------------------------------------------------------------------------
    def event_view(self, e):
        return {"type": "heartbeat", "timestamp": self.ts(e["timestamp"]), "status": e["status"],
                "message": e["message"]}

    def status_view(self, rec):
        return {"id": rec["id"], "name": rec["name"], "status": rec["status"], "message": rec["message"],
                "metadata": rec["metadata"], "created_at": self.ts(rec["created_at"], True),
                "last_heartbeat": self.ts(rec["last_heartbeat"], True),
                "events": [self.event_view(e) for e in rec["events"]]}

    def raw_view(self, rec):
        d = {"id": rec["id"], "name": rec["name"], "status": rec["status"], "message": rec["message"],
             "metadata": rec["metadata"], "created_at": self.ts(rec["created_at"]),
             "last_heartbeat": self.ts(rec["last_heartbeat"]),
             "events": [self.event_view(e) for e in rec["events"]],
             "status_message": rec["status_message"], "last_message": None}
        if rec["updated_at"] is not None:
            d["updated_at"] = self.ts(rec["updated_at"])
        return d

    def task_view(self, t, history=False):
        d = {k: v for k, v in t.items() if k != "history"}
        for k in ("created_at", "updated_at", "completed_at"):
            d[k] = self.ts(t[k])
        total = t["total_steps"]
        d["progress"] = round(100.0 * t["current_step"] / total, 2) if total else 0.0
        if history:
            d["history"] = [{"kind": h["kind"], "time": self.ts(h["time"]), "body": h["body"]}
                            for h in t["history"]]
        return d

    def dump(self):
        with self.lock:
            return {"services": {sid: self.raw_view(r) for sid, r in self.services.items()},
                    "tasks": {tid: self.task_view(t, True) for tid, t in self.tasks.items()}}

    def save(self):
        path = self.cfg.state_file
        if not path:
            return
        try:
            with self.lock:
                data = json.dumps(self.dump(), indent=1, allow_nan=True, default=str)
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    f.write(data)
                os.replace(tmp, path)
        except Exception as e:
            log("cannot write state file %s: %s" % (path, e))

    def notify(self, typ, sid, old, new, message):
        self.notifications.append({"type": typ, "service_id": sid, "old_status": old, "new_status": new,
                                   "message": message, "time": iso(utcnow(), "plus")})

    # -- LaneSwap operations ---------------------------------------------------------------------
    def register(self, data):
        sid = data["service_id"] if data["service_id"] is not None else str(uuid.uuid4())
        meta = data["metadata"] if data["metadata"] is not None else {}
        with self.lock:
            self.services[sid] = {
                "id": sid, "name": data["service_name"], "status": "unknown", "message": None,
                "metadata": dict(meta), "created_at": self.now(), "last_heartbeat": None, "events": [],
                "status_message": "Service registered", "last_message": None, "updated_at": None}
            self.save()
        return sid

    def heartbeat(self, sid, data):
        with self.lock:
            rec = self.services.get(sid)
            if rec is None:
                return None
            t = self.now()
            status, message = data["status"], data["message"]
            text = message or "Status updated to %s" % status
            old = rec["status"]
            rec["status"] = status
            rec["message"] = message
            rec["status_message"] = text
            rec["last_heartbeat"] = t
            rec["updated_at"] = t
            if data["metadata"]:
                rec["metadata"].update(data["metadata"])
            rec["events"].append({"timestamp": t, "status": status, "message": text})
            del rec["events"][:-EVENT_CAP]
            if old != status:
                self.notify("status_change", sid, old, status, text)
            self.save()
            return self.status_view(rec)

    def stale_check(self):
        marked = []
        with self.lock:
            threshold = self.cfg.stale_threshold
            t = utcnow()
            for sid, rec in self.services.items():
                lh = rec["last_heartbeat"]
                if lh is None or rec["status"] == "stale":
                    continue
                if (t - lh).total_seconds() > threshold:
                    old = rec["status"]
                    rec["status"] = "stale"
                    rec["status_message"] = "No heartbeat received in %s seconds" % num_text(threshold)
                    self.notify("stale", sid, old, "stale", rec["status_message"])
                    marked.append(sid)
            if marked:
                self.save()
        return marked

    def monitor(self):
        while not self.stopping.is_set():
            try:
                self.stale_check()
            except Exception:
                log("stale monitor: " + traceback.format_exc())
            self.wake.wait(max(0.01, self.cfg.check_interval))
            self.wake.clear()

    def progress_start(self, data):
        tid = str(uuid.uuid4())
        with self.lock:
            t = self.now()
            self.tasks[tid] = {
                "task_id": tid, "service_id": data["service_id"], "task_name": data["task_name"],
                "description": data["description"], "total_steps": data["total_steps"], "current_step": 0,
                "status": "running", "message": None, "metadata": dict(data["metadata"] or {}),
                "created_at": t, "updated_at": t, "completed_at": None,
                "history": [{"kind": "start", "time": t, "body": data}]}
            self.save()
        return tid

    def progress_update(self, tid, data, complete):
        with self.lock:
            task = self.tasks.get(tid)
            if task is None:
                return None
            t = self.now()
            if not complete:
                task["current_step"] = data["current_step"]
            task["status"] = data["status"]
            task["message"] = data["message"]
            if data["metadata"]:
                task["metadata"].update(data["metadata"])
            task["updated_at"] = t
            if complete:
                task["completed_at"] = t
            task["history"].append({"kind": "complete" if complete else "update", "time": t, "body": data})
            self.save()
            return self.task_view(task)

    # -- test bookkeeping ------------------------------------------------------------------------
    def open_connection(self, peer, tls):
        with self.lock:
            self.conn_seq += 1
            c = {"conn": self.conn_seq, "peer": peer[0], "peer_port": peer[1], "tls": tls,
                 "opened": iso(utcnow(), "plus"), "closed": None, "requests": 0, "tls_error": None}
            self.connections[self.conn_seq] = c
            return c

    def close_connection(self, c):
        with self.lock:
            if c["closed"] is None:
                c["closed"] = iso(utcnow(), "plus")

    def record(self, entry):
        with self.lock:
            self.req_seq += 1
            entry["seq"] = self.req_seq
            self.requests.append(entry)
            return entry

    def take_fault(self, method, path):
        with self.lock:
            f = self.fault
            if f["mode"] == "none":
                return None
            if f.get("match") and f["match"] not in path:
                return None
            if f.get("method") and f["method"].upper() != method.upper():
                return None
            taken = dict(f)
            if f["count"] > 0:
                f["count"] -= 1
                if f["count"] == 0:
                    self.fault = {"mode": "none"}
            return taken


# ------------------------------------------------------------------------------------------------
# HTTP


class HttpError(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""
    disable_nagle_algorithm = True

    # -- connection lifecycle --------------------------------------------------------------------
    def setup(self):
        srv = self.server
        self.state = srv.state
        self.n_requests = 0
        self.rst = False
        self.is_tls = srv.ssl_ctx is not None
        self.conn = self.state.open_connection(self.client_address, self.is_tls)
        self.raw_target = "/"
        if self.is_tls:
            raw = self.request
            raw.settimeout(10.0)
            try:
                self.request = srv.ssl_ctx.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.conn["tls_error"] = str(e)
                self.state.close_connection(self.conn)
                if self.state.cfg.verbose:
                    log("conn %d: TLS handshake failed: %s" % (self.conn["conn"], e))
                raise QuietError(str(e))
            self.request.settimeout(None)
        super().setup()

    def finish(self):
        try:
            super().finish()
        except Exception:
            pass
        try:
            if self.rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif self.is_tls:
                self.connection.close()
        except OSError:
            pass
        self.state.close_connection(self.conn)

    def handle_one_request(self):
        ka = self.state.cfg.keepalive_timeout
        try:
            self.connection.settimeout(ka if (self.n_requests > 0 and ka > 0) else None)
        except OSError:
            self.close_connection = True
            return
        try:
            # A request starts with a method token. Anything else (a TLS ClientHello sent to a plain
            # port, binary junk) gets 400 at once, like uvicorn's httptools parser, instead of
            # waiting for a line end that never comes.
            first = self.rfile.peek(1)[:1]
            if first and first[0] not in TOKEN_START:
                self.requestline = ""
                self.raw_target = "/"
                self.command = ""
                self.request_version = "HTTP/1.1"
                self.send_error(400, "not an HTTP request")
                return
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError, QuietError) as e:
            if self.state.cfg.verbose:
                log("conn %d: %s" % (self.conn["conn"], e))
            self.close_connection = True

    def parse_request(self):
        try:
            self.connection.settimeout(None)
        except OSError:
            pass
        ok = super().parse_request()
        words = self.requestline.split()
        self.raw_target = words[1] if len(words) >= 2 else "/"
        if not ok:
            return False
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
            self.send_error(400)
            return False
        if self.request_version == "HTTP/1.1" and self.headers.get("Host") is None:
            self.send_error(400)
            return False
        return True

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        if self.state.cfg.verbose:
            log("conn %d: %s" % (self.conn["conn"], fmt % args))

    # -- responses -------------------------------------------------------------------------------
    def send_error(self, code, message=None, explain=None):
        """Anything http.server cannot parse: uvicorn answers 400 and closes."""
        self.n_requests += 1
        self.conn["requests"] += 1
        entry = self.state.record({
            "conn": self.conn["conn"], "conn_request": self.n_requests, "peer": self.client_address[0],
            "peer_port": self.client_address[1], "tls": self.is_tls, "time": iso(utcnow(), "plus"),
            "method": getattr(self, "command", None), "target": self.raw_target, "path": None,
            "query": "", "version": getattr(self, "request_version", None), "headers": {},
            "header_list": [], "body": "", "body_bytes": 0, "json": None, "fault": None, "status": 400,
            "malformed": True,
            "requestline": getattr(self, "requestline", ""),
            "reason": message})
        if self.state.cfg.verbose:
            log("conn %d: malformed request %r (%s)" % (self.conn["conn"], entry["requestline"], message))
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # so that http.server writes a status line and headers
        try:
            self.send(400, b"Invalid HTTP request received.", "text/plain; charset=utf-8")
        except OSError:
            pass

    def send(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response_only(status)
        self.send_header("date", email.utils.formatdate(usegmt=True))
        self.send_header("server", "uvicorn")
        self.send_header("content-length", str(len(body)))
        if ctype:
            self.send_header("content-type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if getattr(self, "headers", None) is not None and self.headers.get("Origin") is not None:
            self.send_header("access-control-allow-origin", "*")
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()
        if self.state.cfg.verbose:
            log("conn %d: %s %s -> %d" % (self.conn["conn"], self.command, self.raw_target, status))

    def send_json(self, status, obj, headers=()):
        try:
            body = dumps(obj)
        except (ValueError, TypeError):  # NaN/Infinity: Starlette's JSONResponse raises -> 500
            return self.send(500, b"Internal Server Error", "text/plain; charset=utf-8")
        return self.send(status, body, "application/json", headers)

    # -- request body ----------------------------------------------------------------------------
    def read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te is not None and "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("client closed inside a chunked body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise HttpError("bad chunk size")
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    break
                data = self.rfile.read(size)
                if len(data) < size:
                    raise ConnectionError("client closed inside a chunk")
                chunks.append(data)
                self.rfile.readline(65537)
            return b"".join(chunks)
        cl = self.headers.get_all("Content-Length")
        if not cl:
            return b""
        try:
            values = {int(v.strip()) for v in cl}
        except ValueError:
            raise HttpError("bad Content-Length")
        if len(values) != 1 or min(values) < 0:
            raise HttpError("bad Content-Length")
        n = values.pop()
        data = self.rfile.read(n) if n else b""
        if len(data) < n:
            raise ConnectionError("client closed inside the body")
        return data

    def parse_json(self, body):
        """FastAPI's body handling. -> (value, None) or (None, (status, obj))."""
        if not body:
            return None, None
        ct = self.headers.get("Content-Type")
        is_json = True
        if ct:
            m = email.message.Message()
            m["content-type"] = ct
            sub = m.get_content_subtype()
            is_json = m.get_content_maintype() == "application" and (sub == "json" or sub.endswith("+json"))
        if not is_json:
            return RawBytes(body), None
        try:
            return json.loads(body), None
        except json.JSONDecodeError as e:
            if self.state.cfg.errors == "v2":
                err = {"type": "json_invalid", "loc": ["body", e.pos], "msg": "JSON decode error", "input": {},
                       "ctx": {"error": e.msg}}
            else:
                err = {"loc": ["body", e.pos], "msg": str(e), "type": "value_error.jsondecode",
                       "ctx": {"msg": e.msg, "doc": e.doc, "pos": e.pos, "lineno": e.lineno, "colno": e.colno}}
            return None, (422, {"detail": [err]})
        except Exception:
            return None, (400, {"detail": "There was an error parsing the body"})

    # -- dispatch --------------------------------------------------------------------------------
    def dispatch(self):
        target = self.raw_target
        if target.startswith(("http://", "https://")):  # absolute-form
            rest = target.split("://", 1)[1]
            target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        raw_path, _, query = target.partition("?")
        path = unquote(raw_path, errors="replace")
        try:
            body = self.read_body()
        except HttpError as e:
            self.send_error(400, str(e))
            return
        self.n_requests += 1
        self.conn["requests"] += 1
        if path == "/_test" or path.startswith("/_test/"):
            return self.test_api(path, query, body)

        hdr_list = [[k, v] for k, v in self.headers.items()]
        hdrs = {}
        for k, v in hdr_list:
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        try:
            parsed = json.loads(body, parse_constant=str) if body else None
        except Exception:
            parsed = None
        entry = self.state.record({
            "conn": self.conn["conn"], "conn_request": self.n_requests, "peer": self.client_address[0],
            "peer_port": self.client_address[1], "tls": self.is_tls, "time": iso(utcnow(), "plus"),
            "method": self.command, "target": self.raw_target, "path": path, "query": query,
            "version": self.request_version, "headers": hdrs, "header_list": hdr_list,
            "body": body.decode("utf-8", "replace"), "body_bytes": len(body), "json": parsed,
            "fault": None, "status": None, "malformed": False})

        fault = self.state.take_fault(self.command, path)
        if fault is not None:
            entry["fault"] = fault["mode"]
            if self.apply_fault(fault, entry):
                return
        if self.state.stopping.is_set():
            self.close_connection = True
            return
        try:
            status, obj, headers = self.api(path, query, body)
        except Exception:
            log("internal error on %s %s:\n%s" % (self.command, self.raw_target, traceback.format_exc()))
            entry["status"] = 500
            return self.send(500, b"Internal Server Error", "text/plain; charset=utf-8")
        entry["status"] = status
        try:
            if isinstance(obj, bytes):
                self.send(status, obj, None, headers)
            else:
                body_out = None
                try:
                    body_out = dumps(obj)
                except (ValueError, TypeError):
                    entry["status"] = 500
                if body_out is None:
                    self.send(500, b"Internal Server Error", "text/plain; charset=utf-8")
                else:
                    self.send(status, body_out, "application/json", headers)
        except (BrokenPipeError, ConnectionError, ssl.SSLError):
            entry["status_delivered"] = False
            self.close_connection = True

    def apply_fault(self, fault, entry):
        """True when the request is finished (no normal processing)."""
        mode = fault["mode"]
        delay = fault.get("delay_ms", 0) / 1000.0
        if mode == "500":
            entry["status"] = 500
            self.send_json(500, {"detail": "Internal server error"})
            return True
        if mode == "status":
            status = fault.get("status", 500)
            entry["status"] = status
            self.send_json(status, fault.get("body", {"detail": "Injected error"}),
                           list(fault.get("headers", {}).items()))
            return True
        if mode == "slow":
            self.state.stopping.wait(delay)
            return False
        if mode in ("close", "reset"):
            self.rst = mode == "reset"
            self.close_connection = True
            return True
        if mode == "garbage":
            try:
                self.wfile.write(GARBAGE)
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return True
        if mode == "hang":
            deadline = time.monotonic() + delay if delay > 0 else None
            sock = self.connection
            try:
                sock.settimeout(0.2)
            except OSError:
                pass
            while not self.state.stopping.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    if not sock.recv(4096):
                        break
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except (OSError, ssl.SSLError):
                    break
            self.close_connection = True
            return True
        return False

    # -- LaneSwap API ----------------------------------------------------------------------------
    def api(self, path, query, body):
        """-> (status, obj or bytes, headers)"""
        st = self.state
        cfg = st.cfg
        if self.command == "OPTIONS" and self.headers.get("Origin") is not None \
                and self.headers.get("Access-Control-Request-Method") is not None:
            h = [("vary", "Origin"), ("access-control-allow-methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"),
                 ("access-control-max-age", "600")]
            req_h = self.headers.get("Access-Control-Request-Headers")
            if req_h:
                h.append(("access-control-allow-headers", req_h))
            return 200, b"OK", [("content-type", "text/plain; charset=utf-8")] + h
        r = route(self.command, path, cfg.progress)
        if r[0] == "404":
            return 404, {"detail": "Not Found"}, []
        if r[0] == "405":
            return 405, {"detail": "Method Not Allowed"}, [("allow", r[1])]
        if r[0] == "307":
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            loc = "%s://%s%s" % ("https" if self.is_tls else "http", host, r[1])
            if query:
                loc += "?" + query
            return 307, b"", [("location", loc)]
        _, name, rid = r
        style = cfg.errors

        if name == "health":
            return 200, {"status": "ok", "service": "LaneSwap API", "timestamp": st.ts(st.now())}, []
        if name == "list":
            with st.lock:
                services = {sid: st.raw_view(rec) for sid, rec in st.services.items()}
                counts = {s: 0 for s in STATUSES}
                for rec in st.services.values():
                    counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            return 200, {"services": services, "summary": {"total": len(services), "status_counts": counts}}, []
        if name == "get":
            with st.lock:
                rec = st.services.get(rid)
                if rec is None:
                    return 404, {"detail": "Service not found: %s" % rid}, []
                return 200, st.status_view(rec), []
        if name == "executions":
            return 200, [], []
        if name == "execution":
            return 404, {"detail": "Execution not found: %s" % rid}, []
        if name == "statistics":
            return 200, {}, []

        value, err = self.parse_json(body)
        if err is not None:
            return err[0], err[1], []
        if name == "register":
            data, errors = validate_body("register", value, True, style)
            if errors:
                return 422, {"detail": errors}, []
            return 200, {"service_id": st.register(data)}, []
        if name == "heartbeat":
            data, errors = validate_body("heartbeat", value, False, style)
            if errors:
                return 422, {"detail": errors}, []
            view = st.heartbeat(rid, data)
            if view is None:
                return 404, {"detail": "Service not found: %s" % rid}, []
            return 200, view, []
        if name == "progress_start":
            data, errors = validate_body("progress_start", value, True, style)
            if errors:
                return 422, {"detail": errors}, []
            return 201, {"task_id": st.progress_start(data)}, []
        if name in ("progress_update", "progress_complete"):
            data, errors = validate_body(name, value, True, style)
            if errors:
                return 422, {"detail": errors}, []
            view = st.progress_update(rid, data, name == "progress_complete")
            if view is None:
                return 404, {"detail": "Task not found: %s" % rid}, []
            return 200, view, []
        return 404, {"detail": "Not Found"}, []

    # -- test control API ------------------------------------------------------------------------
    def test_api(self, path, query, body):
        st = self.state
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self.send_json(400, {"detail": "bad JSON: %s" % e})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return self.send_json(400, {"detail": "body must be a JSON object"})
        q = parse_qs(query)
        m = self.command
        try:
            if path == "/_test/requests" and m == "GET":
                since = int(q.get("since", ["0"])[0])
                prefix = q.get("path", [None])[0]
                with st.lock:
                    out = [dict(r) for r in st.requests
                           if r["seq"] > since and (prefix is None or (r["path"] or "").startswith(prefix))]
                return self.send_json(200, out)
            if path == "/_test/connections" and m == "GET":
                with st.lock:
                    return self.send_json(200, [dict(c) for c in st.connections.values()])
            if path == "/_test/notifications" and m == "GET":
                with st.lock:
                    return self.send_json(200, list(st.notifications))
            if path == "/_test/progress" and m == "GET":
                with st.lock:
                    return self.send_json(200, [st.task_view(t, True) for t in st.tasks.values()])
            if path == "/_test/state" and m == "GET":
                return self.send_json(200, st.dump())
            if path == "/_test/reset" and m == "POST":
                with st.lock:
                    st.requests.clear()
                    st.notifications.clear()
                    st.connections = {k: c for k, c in st.connections.items() if c["closed"] is None}
                    for c in st.connections.values():
                        c["requests"] = 0
                    if payload.get("state"):
                        st.services.clear()
                        st.tasks.clear()
                        st.save()
                    if payload.get("fault"):
                        st.fault = {"mode": "none"}
                return self.send_json(200, {"ok": True})
            if path == "/_test/fault":
                if m == "GET":
                    with st.lock:
                        return self.send_json(200, dict(st.fault))
                if m == "POST":
                    mode = str(payload.get("mode", "none"))
                    if mode not in FAULT_MODES:
                        return self.send_json(400, {"detail": "mode must be one of %s" % ", ".join(FAULT_MODES)})
                    f = {"mode": mode,
                         "delay_ms": int(payload.get("delay_ms", 2000 if mode == "slow" else 0)),
                         "count": int(payload.get("count", 1))}
                    for k in ("match", "method"):
                        if payload.get(k):
                            f[k] = str(payload[k])
                    if mode == "status":
                        f["status"] = int(payload.get("status", 500))
                        f["body"] = payload.get("body", {"detail": "Injected error"})
                        f["headers"] = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
                    if f["count"] == 0 or mode == "none":
                        f = {"mode": "none"}
                    with st.lock:
                        st.fault = f
                    return self.send_json(200, f)
            if path == "/_test/stale-now" and m == "POST":
                return self.send_json(200, {"marked": st.stale_check()})
            if path == "/_test/config":
                if m == "POST":
                    cfg = st.cfg
                    if "progress" in payload:
                        cfg.progress = bool(payload["progress"])
                    if "stale_threshold" in payload:
                        cfg.stale_threshold = number(payload["stale_threshold"])
                    if "check_interval" in payload:
                        cfg.check_interval = float(payload["check_interval"])
                        st.wake.set()
                    if "timestamps" in payload:
                        if payload["timestamps"] not in ("plus", "z", "mixed"):
                            return self.send_json(400, {"detail": "timestamps: plus, z or mixed"})
                        cfg.timestamps = payload["timestamps"]
                    if "errors" in payload:
                        if payload["errors"] not in ("v1", "v2"):
                            return self.send_json(400, {"detail": "errors: v1 or v2"})
                        cfg.errors = payload["errors"]
                    if "whole_seconds" in payload:
                        cfg.whole_seconds = bool(payload["whole_seconds"])
                    if "keepalive_timeout" in payload:
                        cfg.keepalive_timeout = float(payload["keepalive_timeout"])
                    if "refuse_status" in payload:
                        REFUSED.clear()
                        REFUSED.update(str(x) for x in payload["refuse_status"])
                    return self.send_json(200, cfg.public())
                if m == "GET":
                    return self.send_json(200, st.cfg.public())
        except (ValueError, TypeError) as e:
            return self.send_json(400, {"detail": "bad request: %s" % e})
        return self.send_json(404, {"detail": "Not Found"})


def number(text):
    """A seconds value: int when integral (so messages read "60 seconds"), float otherwise."""
    v = float(text)
    if v < 0:
        raise ValueError("negative")
    return int(v) if v.is_integer() else v


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, state, ssl_ctx):
        self.state = state
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        TCPServer.server_bind(self)  # skip HTTPServer's getfqdn (a DNS lookup)
        self.server_name = str(self.server_address[0])
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (QuietError, ConnectionError, ssl.SSLError, TimeoutError)):
            return
        log("error on connection from %s:\n%s" % (client_address, traceback.format_exc()))


class Server6(Server):
    address_family = socket.AF_INET6


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stand-in for the LaneSwap reference server (see the docstring).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--check-interval", type=number, default=number(os.environ.get("LANESWAP_CHECK_INTERVAL", "30")))
    ap.add_argument("--stale-threshold", type=number,
                    default=number(os.environ.get("LANESWAP_STALE_THRESHOLD", "60")))
    ap.add_argument("--progress", action="store_true", help="implement the /api/progress contract (§8)")
    ap.add_argument("--timestamps", choices=("plus", "z", "mixed"), default="plus")
    ap.add_argument("--whole-seconds", action="store_true", help="timestamps without a fraction")
    ap.add_argument("--errors", choices=("v1", "v2"), default="v1", help="422 shapes: pydantic 1 or 2")
    ap.add_argument("--refuse-status", default="",
                    help="comma-separated statuses to answer 422 to (a server with a smaller enum)")
    ap.add_argument("--keepalive-timeout", type=float, default=5.0,
                    help="close idle keep-alive connections after S seconds (uvicorn: 5; 0 = never)")
    ap.add_argument("--state-file", help="write a JSON dump of the state here after each change")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    REFUSED.update(x for x in args.refuse_status.split(",") if x)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    ssl_ctx = None
    if args.tls_cert:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(args.tls_cert, args.tls_key)

    state = State(Config(args))
    cls = Server6 if ":" in args.host else Server
    httpd = cls((args.host, args.port), state, ssl_ctx)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    monitor = threading.Thread(target=state.monitor, name="stale-monitor", daemon=True)
    monitor.start()
    server_thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                     name="http", daemon=True)
    server_thread.start()
    sys.stdout.write("PORT %d\n" % httpd.server_address[1])
    sys.stdout.flush()
    if args.verbose:
        log("serving %s on %s:%d (progress %s)" % ("https" if ssl_ctx else "http", args.host,
                                                   httpd.server_address[1], "on" if args.progress else "off"))
    while not stop.wait(0.5):
        pass
    state.stopping.set()
    state.wake.set()
    httpd.shutdown()
    httpd.server_close()
    state.save()
    if args.verbose:
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
