"""A small Serf agent RPC client for the test scripts (shared/protocols/serf-rpc.md), written
from the protocol, independent of rigagent's own client: handshake, auth, event, tags,
members, stream, query, respond. Strings go out as str and payloads as bin
(msgpack.packb(..., use_bin_type=True)); replies are read by a streaming Unpacker on a reader
thread that tells bodies from headers by what each Seq expects. Stream and query records carry
the CLOCK_MONOTONIC time they were decoded (time.monotonic_ns(), the clock rigagent stamps
edges with), for latency measurements on one host.

Also: starting real `serf agent` processes on loopback (SerfAgent), killed with the test."""
import ctypes
import os
import queue
import signal
import socket
import subprocess
import threading
import time

import msgpack


class SerfError(Exception):
    pass


def _is_header(obj):
    return isinstance(obj, dict) and set(obj.keys()) == {"Seq", "Error"}


class _Pending:
    def __init__(self, kind, expect_body=False):
        self.kind = kind  # "call", "stream" or "query"
        self.expect_body = expect_body
        self.acked = False
        self.q = queue.Queue()


class Stream:
    def __init__(self, client, seq, pending):
        self.client, self.seq, self._p = client, seq, pending

    def next(self, timeout):
        """The next record (a dict, with "_arrival_ns" added), or None on timeout."""
        try:
            rec = self._p.q.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None
        if rec is None:
            raise SerfError("connection closed")
        return rec

    def wait_for(self, pred, timeout):
        """The first record for which pred(record) holds; records before it are dropped."""
        end = time.monotonic() + timeout
        while True:
            rec = self.next(end - time.monotonic())
            if rec is None:
                return None
            if pred(rec):
                return rec

    def drain(self):
        out = []
        while True:
            try:
                rec = self._p.q.get_nowait()
            except queue.Empty:
                return out
            if rec is not None:
                out.append(rec)

    def stop(self):
        self.client.call("stop", {"Stop": self.seq})


class SerfRPC:
    def __init__(self, addr, auth=None, timeout=5.0):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.sock.settimeout(None)
        self.timeout = timeout
        self._seq = 0
        self._lock = threading.Lock()
        self._pending = {}
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._check(self.call("handshake", {"Version": 1}))
        if auth:
            self._check(self.call("auth", {"AuthKey": auth}))

    # --------------------------------------------------------------------------------- plumbing

    def _objects(self):
        unpacker = msgpack.Unpacker(raw=False)
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            unpacker.feed(data)
            for obj in unpacker:
                yield obj

    def _read(self):
        objs = self._objects()
        try:
            for obj in objs:
                now = time.monotonic_ns()
                if not _is_header(obj):
                    continue  # a body nobody expects (a stopped stream's record): dropped
                seq, err = obj["Seq"], obj["Error"]
                with self._lock:
                    p = self._pending.get(seq)
                if p is None:
                    continue
                if p.kind == "call":
                    body = next(objs) if p.expect_body and not err.startswith("Authentication required") else None
                    with self._lock:
                        self._pending.pop(seq, None)
                    p.q.put((err, body))
                elif not p.acked:
                    p.acked = True
                    p.q.put(("ack", err))
                    if err:
                        with self._lock:
                            self._pending.pop(seq, None)
                else:
                    body = next(objs)
                    if isinstance(body, dict):
                        body["_arrival_ns"] = now
                    p.q.put(body)
        except StopIteration:
            pass
        finally:
            self._closed = True
            with self._lock:
                pendings = list(self._pending.values())
            for p in pendings:
                p.q.put(None)

    def _send(self, command, body, pending):
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._pending[seq] = pending
            frame = msgpack.packb({"Command": command, "Seq": seq}, use_bin_type=True)
            if body is not None:
                frame += msgpack.packb(body, use_bin_type=True)
            self.sock.sendall(frame)
        return seq

    @staticmethod
    def _check(result):
        err, body = result
        if err:
            raise SerfError(err)
        return body

    def call(self, command, body=None, expect_body=False, timeout=None):
        """(error string, reply body or None)."""
        p = _Pending("call", expect_body)
        self._send(command, body, p)
        try:
            r = p.q.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise SerfError("%s: no reply within %.1f s" % (command, timeout or self.timeout))
        if r is None:
            raise SerfError("%s: connection closed" % command)
        return r

    # --------------------------------------------------------------------------------- commands

    def event(self, name, payload=b"", coalesce=True):
        self._check(self.call("event", {"Name": name, "Payload": payload, "Coalesce": coalesce}))

    def tags(self, set_tags=None, delete=None):
        self._check(self.call("tags", {"Tags": set_tags or {}, "DeleteTags": delete or []}))

    def members(self):
        return self._check(self.call("members", None, expect_body=True))["Members"]

    def stats(self):
        return self._check(self.call("stats", None, expect_body=True))

    def respond(self, query_id, payload):
        self._check(self.call("respond", {"ID": query_id, "Payload": payload}))

    def stream(self, filter_):
        p = _Pending("stream")
        seq = self._send("stream", {"Type": filter_}, p)
        try:
            kind, err = p.q.get(timeout=self.timeout)
        except (queue.Empty, TypeError):
            raise SerfError("stream: no acknowledgement")
        if err:
            raise SerfError(err)
        return Stream(self, seq, p)

    def query(self, name, payload=b"", filter_nodes=None, filter_tags=None, timeout_s=1.0, request_ack=False):
        """Blocks until the query's "done"; returns the response records as
        [{"From", "Payload", "_arrival_ns"}] (acks are left out)."""
        body = {"Name": name, "Payload": payload, "RequestAck": request_ack, "Timeout": int(timeout_s * 1e9),
                "FilterNodes": filter_nodes, "FilterTags": filter_tags or {}}
        p = _Pending("query")
        self._send("query", body, p)
        out = []
        end = time.monotonic() + timeout_s + 5
        while True:
            try:
                rec = p.q.get(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                raise SerfError("query %s: no \"done\"" % name)
            if rec is None:
                raise SerfError("query %s: connection closed" % name)
            if isinstance(rec, tuple):
                if rec[1]:
                    raise SerfError(rec[1])
                continue
            if rec.get("Type") == "done":
                return out
            # Serf 0.9.4's agent races its own deadline: the query's channels close just before
            # its "done" timer fires, and until it does the agent streams zero-valued responses
            # (From "", Payload nil), dozens of them at times. No node is named "".
            if rec.get("Type") == "response" and rec.get("From"):
                out.append(rec)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ------------------------------------------------------------------------------------ agents

def _die_with_parent():
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class SerfAgent:
    """A real `serf agent` on loopback: node NAME, gossip on BIND_PORT, RPC on RPC_PORT."""

    def __init__(self, serf, name, bind_port, rpc_port, join=None, tags=None, log=None, rpc_auth=None, config_dir=None,
                 event_handler=None):
        self.serf, self.name, self.bind_port, self.rpc_port = serf, name, bind_port, rpc_port
        self.join, self.tags, self.log, self.auth = join, tags or {}, log, rpc_auth
        self.config_dir, self.event_handler = config_dir, event_handler
        self.addr = "127.0.0.1:%d" % rpc_port
        self.p = None

    def start(self, timeout=10.0):
        cmd = [self.serf, "agent", "-node=%s" % self.name, "-bind=127.0.0.1:%d" % self.bind_port,
               "-rpc-addr=%s" % self.addr, "-log-level=warn"]
        for k, v in self.tags.items():
            cmd.append("-tag=%s=%s" % (k, v))
        if self.join:
            cmd.append("-join=%s" % self.join)
        if self.event_handler:  # e.g. "user=/path/script": run by the agent for each event, in order
            cmd.append("-event-handler=%s" % self.event_handler)
        if self.auth:  # 0.9.4 has no -rpc-auth flag: a config file
            import json
            import tempfile
            path = os.path.join(self.config_dir or tempfile.gettempdir(), "serf-rpc-%d.json" % self.rpc_port)
            with open(path, "w") as f:
                json.dump({"rpc_auth": self.auth}, f)
            cmd.append("-config-file=%s" % path)
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        if self.log:
            out.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise AssertionError("serf agent %s exited with %s" % (self.name, self.p.returncode))
            try:
                c = SerfRPC(self.addr, timeout=1.0)
                c.close()
                return
            except (OSError, SerfError):
                time.sleep(0.02)
        raise AssertionError("serf agent %s not ready within %.0f s" % (self.name, timeout))

    def client(self):
        return SerfRPC(self.addr, auth=self.auth)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
