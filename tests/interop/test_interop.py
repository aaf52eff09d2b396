#!/usr/bin/env python3
"""Interop test: rigagent's RpcService against a stand-in remote written from the protocol spec
(rpcservice.md §12.1), with `rigagent sim-app` as the acquisition application.

usage: test_interop.py PATH/TO/rigagent

It starts `rigagent run` (free loopback TCP ports, application link on an ipc path in a temp dir) and
`rigagent sim-app`, runs the checks in order, always stops every process it started, and prints a
final line "N passed, M failed". Exit status 0 only if nothing failed.
"""

import os
import sys

# Debian's python3-zmq is installed for /usr/bin/python3; a python3 found first on PATH (pyenv, venv)
# may not have it. Run again under the system interpreter rather than fail on the import.
try:
    import zmq  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and not os.environ.get("RIGAGENT_INTEROP_REEXEC"):
        os.environ["RIGAGENT_INTEROP_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.stderr.write("test_interop.py: the zmq module is missing (apt-get install python3-zmq)\n")
    sys.exit(2)

import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from remote_peer import (  # noqa: E402
    CMD_EMERGENCY_RESUME, CMD_EMERGENCY_STOP, CMD_GET_CONFIGURATION, CMD_GET_STATUS, CMD_NONE,
    CMD_START_ACQUISITION, CMD_STOP_ACQUISITION, CMD_USER_DEFINED, ERRKIND_COMMAND, ERRKIND_NONE,
    ERRKIND_SYSTEM, KNOWN_TOPICS, OMIT, REPLY_KEYS, RES_FAILED, RES_PENDING_WITH_NOTIFICATION, RES_SUCCESS,
    RES_UNAVAILABLE, RES_UNRECOGNIZED, TOPIC_COMMAND_RESULT, TOPIC_EMERGENCY, TOPIC_EVENT, TOPIC_HEARTBEAT,
    OrderedPairs, RemotePeer, parse_ordered, to_plain, topic_bytes)

HEARTBEAT_INTERVAL = 0.5   # seconds, in the agent's configuration
APP_TIMEOUT_MS = 1000      # app_link.command_timeout_ms
ACQUISITION_MS = 150       # sim-app --acquisition-ms
IDENTIFIER = "interop-rig_01 A-B"  # spaces, underscore, hyphen: must come back unchanged

# The ConfigurationResponse of the spec's example (§6.2), which sim-app answers with.
EXPECTED_CONFIGURATION = {
    "deviceId": "000000",
    "configurationLocation": "/home/ubuntu/Autotrainer",
    "dataLocation": "/home/ubuntu/Documents/Raw_Data-Local",
    "animalLocation": "/home/ubuntu/Autotrainer/animals",
    "logLocation": "/home/ubuntu/Documents/Raw_Data-Local/logs",
    "inferenceModel": "/home/ubuntu/Autotrainer/inference_model",
}
# StatusResponse's three keys first (§9.5), then rigagent's additions (docs/hal.md).
STATUS_KEYS = ["appStatus", "trainingMode", "animalId", "emergencyStopped", "emergencySource",
               "emergencyReason", "emergencyHeldBy", "estopAsserted", "alarms", "board", "applicationConnected"]


# ----------------------------------------------------------------------------------------------- helpers

class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def same(a, b):
    """Deep equality that also compares JSON types: 1 != 1.0, True != 1, -3 != 3."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def camelize_keys(value):
    """Keys only, recursively (rpcservice.md §8): `_x` becomes `X`, a leading `_` stays, values untouched.
    The application's reply data reaches the remote with camelCase keys, like every key on the wire."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            lead = len(k) - len(k.lstrip("_"))
            rest, key, i = k[lead:], k[:lead], 0
            while i < len(rest):
                if rest[i] == "_" and i + 1 < len(rest) and rest[i + 1] != "_":
                    key += rest[i + 1].upper()
                    i += 2
                else:
                    key += rest[i]
                    i += 1
            out[key] = camelize_keys(v)
        return out
    if isinstance(value, list):
        return [camelize_keys(v) for v in value]
    return value


def check_same(got, want, what):
    check(same(got, want), "%s: got %s, want %s" % (what, json.dumps(got, ensure_ascii=False),
                                                    json.dumps(want, ensure_ascii=False)))


def check_reply(reply, what, nonce=None, command=None, result=None, data=OMIT, error_kind=None,
                error_code=None, error_message=OMIT):
    """The reply shape of §6.2 (one frame, exactly the 7 keys in order) plus the given values."""
    check(reply is not None, "%s: no reply in time" % what)
    check(len(reply.frames) == 1, "%s: reply has %d frames, want 1" % (what, len(reply.frames)))
    check(isinstance(reply.pairs, OrderedPairs), "%s: reply is not a JSON object: %r" % (what, reply.raw))
    check(reply.keys() == REPLY_KEYS, "%s: reply keys %s, want %s" % (what, reply.keys(), REPLY_KEYS))
    r = reply.obj
    for key in ("nonce", "command", "result", "errorKind", "errorCode"):
        check(type(r[key]) is int, "%s: %s is not an integer: %r" % (what, key, r[key]))
    check(r["errorMessage"] is None or isinstance(r["errorMessage"], str),
          "%s: errorMessage is neither a string nor null: %r" % (what, r["errorMessage"]))
    for key, want in (("nonce", nonce), ("command", command), ("result", result), ("errorKind", error_kind),
                      ("errorCode", error_code)):
        if want is not None:
            check(r[key] == want, "%s: %s = %r, want %r (reply %s)" % (what, key, r[key], want, reply.raw))
    if data is not OMIT:
        check_same(r["data"], data, what + ": data")
    if error_message is not OMIT:
        check(r["errorMessage"] == error_message,
              "%s: errorMessage = %r, want %r" % (what, r["errorMessage"], error_message))
    return r


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_bindable(port):
    """Whether a new listener can bind 127.0.0.1:port (SO_REUSEADDR, as libzmq sets, so connections of
    the old process left in TIME_WAIT do not count)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------------------------- processes

class Processes:
    """Every process the test starts, so that all of them are stopped whatever happens."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []   # (name, Popen, log path)

    def start(self, name, argv):
        log = os.path.join(self.tmp, "%s-%d.log" % (name, len(self.procs)))
        with open(log, "wb") as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append((name, p, log))
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, timeout=2.0):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return p.returncode

    def stop_all(self):
        for _, p, _ in reversed(self.procs):
            try:
                self.stop(p)
            except Exception:
                pass

    def logs(self, tail=40):
        out = []
        for name, p, log in self.procs:
            try:
                with open(log, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-tail:]
            except OSError:
                lines = []
            out.append("---- %s (pid %d, exit %s) ----" % (name, p.pid, p.returncode))
            out.extend(lines)
        return "\n".join(out)


# ----------------------------------------------------------------------------------------------- the run

class Run:
    def __init__(self, rigagent):
        self.rigagent = rigagent
        self.tmp = tempfile.mkdtemp(prefix="rigagent-interop-")
        self.procs = Processes(self.tmp)
        self.app_ep = "ipc://%s/app.sock" % self.tmp
        self.config_path = os.path.join(self.tmp, "rigagent.json")
        self.configure()
        self.agent = None
        self.agent_started = None  # time.time() just before the agent was started
        self.sim = None
        self.peer = None
        self.peers = []
        self.passed = 0
        self.failed = 0

    def configure(self):
        """Pick free loopback ports and write the agent's configuration."""
        self.pub_port = free_port()
        self.cmd_port = free_port()
        while self.cmd_port == self.pub_port:
            self.cmd_port = free_port()
        self.pub_ep = "tcp://127.0.0.1:%d" % self.pub_port
        self.cmd_ep = "tcp://127.0.0.1:%d" % self.cmd_port
        with open(self.config_path, "w") as f:
            json.dump({"rpc": {"identifier": IDENTIFIER, "heartbeat_interval": HEARTBEAT_INTERVAL,
                               "pub_endpoints": [self.pub_ep], "command_endpoints": [self.cmd_ep]},
                       "app_link": {"endpoint": self.app_ep, "command_timeout_ms": APP_TIMEOUT_MS},
                       "hal": {"control_socket": os.path.join(self.tmp, "hal.sock")}}, f)

    def new_peer(self, events=True, commands=True, subscriptions=(b"",), timeout_s=10.0):
        p = RemotePeer(self.pub_ep if events else None, self.cmd_ep if commands else None,
                       subscriptions=subscriptions, timeout_s=timeout_s)
        self.peers.append(p)
        return p

    def start_sim(self, *extra):
        self.sim = self.procs.start("sim-app", [self.rigagent, "sim-app", "--endpoint", self.app_ep,
                                                "--acquisition-ms", str(ACQUISITION_MS)] + list(extra))
        return self.sim

    def status(self, peer=None):
        r = check_reply((peer or self.peer).request(CMD_GET_STATUS), "GET_STATUS", command=CMD_GET_STATUS,
                        result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)
        check(isinstance(r["data"], dict), "GET_STATUS data is not an object: %r" % r["data"])
        return r["data"]

    def wait_app_connected(self, want, timeout_s=5.0):
        deadline = time.monotonic() + timeout_s
        while True:
            data = self.status()
            if data.get("applicationConnected") is want:
                return data
            check(time.monotonic() < deadline,
                  "applicationConnected is still %r after %.1f s" % (data.get("applicationConnected"), timeout_s))
            time.sleep(0.05)

    def ping(self, what, peer=None):
        """A valid request right after `what`: it must still be served."""
        peer = peer or self.peer
        n = peer.take_nonce()
        check_reply(peer.request(CMD_NONE, nonce=n), "ping after " + what, nonce=n, command=CMD_NONE,
                    result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)

    def test(self, name, fn):
        t = time.monotonic()
        try:
            fn()
        except Failure as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            return False
        except Exception:
            self.failed += 1
            print("FAIL %s: unexpected exception\n%s" % (name, traceback.format_exc()), flush=True)
            return False
        self.passed += 1
        print("ok   %s (%.2f s)" % (name, time.monotonic() - t), flush=True)
        return True

    # ------------------------------------------------------------------------------------------- tests

    def t_agent_starts(self):
        for attempt in range(3):
            # Subscribe before the agent binds (slow joiner, §1), so that the first heartbeat can be timed.
            self.peer = self.new_peer()
            self.agent_started = time.time()
            self.agent = self.procs.start("rigagent", [self.rigagent, "run", "--config", self.config_path])
            deadline = time.monotonic() + HEARTBEAT_INTERVAL + 5
            hb = None
            while hb is None and self.agent.poll() is None and time.monotonic() < deadline:
                hb = self.peer.wait_topic(TOPIC_HEARTBEAT, timeout_s=0.1)
            if hb is None and self.agent.poll() == 4 and attempt < 2:
                # Exit code 4: a port was taken meanwhile by someone else; try other ports.
                self.peer.close()
                self.peers.remove(self.peer)
                self.configure()
                continue
            break
        check(self.agent.poll() is None, "rigagent exited with %s" % self.agent.returncode)
        check(hb is not None, "no heartbeat within %.1f s of start" % (HEARTBEAT_INTERVAL + 5))

    def t_first_heartbeat_one_interval_after_start(self):
        hb = self.peer.wait_topic(TOPIC_HEARTBEAT, timeout_s=0)
        delay = hb.received - self.agent_started
        sent = hb.json()["timestamp"] - self.agent_started
        # Not immediately: at start + interval (the process start-up time comes on top).
        check(delay >= HEARTBEAT_INTERVAL - 0.02 and sent >= HEARTBEAT_INTERVAL - 0.02,
              "first heartbeat %.3f s after start (sent at +%.3f s), want one interval (%.2f s)"
              % (delay, sent, HEARTBEAT_INTERVAL))
        check(delay < HEARTBEAT_INTERVAL + 1.0,
              "first heartbeat %.3f s after start, want about %.2f s" % (delay, HEARTBEAT_INTERVAL))

    def t_heartbeat_shape(self):
        hb = self.peer.wait_topic(TOPIC_HEARTBEAT, timeout_s=0)
        check(hb.topic_raw == b"\xe9\x03\x00\x00", "heartbeat topic frame %r" % hb.topic_raw)
        pairs = parse_ordered(hb.body)
        check(isinstance(pairs, OrderedPairs), "heartbeat body is not an object: %r" % hb.body)
        check(sorted(pairs.keys()) == ["identifier", "timestamp", "version"],
              "heartbeat keys %s, want exactly identifier/version/timestamp" % pairs.keys())
        body = to_plain(pairs)
        check(body["identifier"] == IDENTIFIER, "identifier %r, want %r" % (body["identifier"], IDENTIFIER))
        check(isinstance(body["version"], str) and body["version"], "version %r" % body["version"])
        check(isinstance(body["timestamp"], (int, float)) and not isinstance(body["timestamp"], bool),
              "timestamp %r is not a number" % body["timestamp"])
        check(abs(body["timestamp"] - hb.received) < 1.0,
              "timestamp %.6f is not the send time (received %.6f)" % (body["timestamp"], hb.received))

    def t_ping_console_style(self):
        reply = self.peer.request_text('{"command": 0, "nonce": 1}')
        check_reply(reply, "NONE", nonce=1, command=CMD_NONE, result=RES_SUCCESS, data=None,
                    error_kind=ERRKIND_NONE, error_code=0)
        self.peer.next_nonce = 2

    def t_status_without_app(self):
        data = self.status()
        check(list(data.keys()) == STATUS_KEYS, "StatusResponse keys %s, want %s" % (list(data.keys()), STATUS_KEYS))
        check(data["applicationConnected"] is False, "applicationConnected %r before sim-app runs"
              % data["applicationConnected"])
        check(data["emergencyStopped"] is False, "emergencyStopped %r at start" % data["emergencyStopped"])
        for k in ("appStatus", "trainingMode"):
            check(type(data[k]) is int, "%s is not an integer: %r" % (k, data[k]))
        check(isinstance(data["animalId"], str), "animalId is not a string: %r" % data["animalId"])

    def t_forwarded_without_app_unavailable(self):
        for command, style, want_command in ((CMD_START_ACQUISITION, "console", CMD_START_ACQUISITION),
                                             (CMD_STOP_ACQUISITION, "console", CMD_STOP_ACQUISITION),
                                             (CMD_GET_CONFIGURATION, "csharp", CMD_GET_CONFIGURATION),
                                             (CMD_USER_DEFINED, "csharp", CMD_USER_DEFINED),
                                             (123, "console", CMD_USER_DEFINED)):
            n = self.peer.take_nonce()
            r = check_reply(self.peer.request(command, nonce=n, style=style), "command %d without app" % command,
                            nonce=n, command=want_command, result=RES_UNAVAILABLE, data=None)
            check(isinstance(r["errorMessage"], str) and r["errorMessage"],
                  "command %d without app: errorMessage %r, want a text" % (command, r["errorMessage"]))

    def t_sim_app_connects(self):
        self.start_sim()
        data = self.wait_app_connected(True)
        check(self.sim.poll() is None, "sim-app exited with %s" % self.sim.returncode)
        check(list(data.keys()) == STATUS_KEYS, "StatusResponse keys %s" % list(data.keys()))

    def t_get_configuration_csharp_exact(self):
        text = '{"command":300,"customCommand":-1,"nonce":5,"data":null}'
        check_reply(self.peer.request_text(text), "GET_CONFIGURATION (C# style)", nonce=5,
                    command=CMD_GET_CONFIGURATION, result=RES_SUCCESS, data=EXPECTED_CONFIGURATION,
                    error_kind=ERRKIND_NONE, error_code=0, error_message=None)
        reply = self.peer.replies[-1]
        check(list(reply.obj["data"].keys()) == list(EXPECTED_CONFIGURATION.keys()),
              "ConfigurationResponse key order %s" % list(reply.obj["data"].keys()))
        for s in ("Raw_Data-Local", "inference_model"):
            check(s.encode() in reply.raw, "%r is not in the reply text %r" % (s, reply.raw))

    def t_get_configuration_console_style(self):
        check_reply(self.peer.request_text('{"command": 300, "nonce": 6}'), "GET_CONFIGURATION (console)",
                    nonce=6, command=CMD_GET_CONFIGURATION, result=RES_SUCCESS, data=EXPECTED_CONFIGURATION,
                    error_kind=ERRKIND_NONE, error_code=0)
        # A number with a zero fraction counts as that integer (§6.1).
        check_reply(self.peer.request_text('{"command": 300.0, "nonce": 7}'), "GET_CONFIGURATION as 300.0",
                    nonce=7, command=CMD_GET_CONFIGURATION, result=RES_SUCCESS, data=EXPECTED_CONFIGURATION)
        self.peer.next_nonce = 8

    def t_user_defined_echo_exact(self):
        data = {"name": "Bob Smith", "path": "/a/B_c", "n": -3, "e": 1e-07, "k_1": 1,
                "ABC-Def": "ABC-Def", "snake_key": {"inner_key": [1, -2.5, {"c-d": None}]},
                "neg_exp": -2.5e-300, "big": 18446744073709551615, "min": -9223372036854775808, "f": 0.1,
                "unicode": "Zo\u00eb \u2713 \U0001F42D tab\tnl\n \"q\" \\", "t": True, "empty": {}, "list": []}
        n = self.peer.take_nonce()
        r = check_reply(self.peer.request(CMD_USER_DEFINED, nonce=n, custom_command=42, data=data),
                        "USER_DEFINED echo", nonce=n, command=CMD_USER_DEFINED, result=RES_SUCCESS,
                        error_kind=ERRKIND_NONE, error_code=0)
        check_same(r["data"], {"customCommand": 42, "echo": camelize_keys(data)}, "USER_DEFINED echo")
        raw = self.peer.replies[-1].raw
        # Values exact (the reference would send "BobSmith", "/a/BC", 3); keys camelCase.
        for s in (b'"Bob Smith"', b'"/a/B_c"', b'-3', b'"k1"', b'"innerKey"', b'"c-d"', b'"ABC-Def"'):
            check(s in raw, "%r is not in the reply text %r" % (s, raw[:400]))

    def t_user_defined_dialects(self):
        cases = [
            # (request text, expected customCommand seen by the application, expected echo)
            ('{"command": 99999, "nonce": %d, "customCommand": 7, "data": {"a b": "c d"}}', 7, {"a b": "c d"}),
            ('{"command":99999,"customCommand":-1,"nonce":%d,"data":null}', -1, None),
            ('{"command":99999,"custom_command":8,"nonce":%d,"data":[1,"x_y"]}', 8, [1, "x_y"]),
            ('{"command":99999,"custom_command":10,"customCommand":9,"nonce":%d}', 9, None),
            ('{"command":99999,"customCommand":9,"custom_command":10,"nonce":%d}', 9, None),
            ('{"command": 99999, "nonce": %d}', -1, None),
            ('{"command":99999,"nonce":%d,"customCommand":-7,"unknownKey":"x","Command":1}', -7, None),
        ]
        for text, custom, echo in cases:
            n = self.peer.take_nonce()
            text = text % n
            r = check_reply(self.peer.request_text(text), text, nonce=n, command=CMD_USER_DEFINED,
                            result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)
            check_same(r["data"], {"customCommand": custom, "echo": echo}, text)
        # The peer's own encoder, snake_case key.
        n = self.peer.take_nonce()
        r = check_reply(self.peer.request(CMD_USER_DEFINED, nonce=n, custom_command=11, data={"x": -1},
                                          style="csharp", custom_key="custom_command"),
                        "custom_command (C# style)", nonce=n, command=CMD_USER_DEFINED, result=RES_SUCCESS)
        check_same(r["data"], {"customCommand": 11, "echo": {"x": -1}}, "custom_command (C# style)")

    def t_unknown_command_is_user_defined(self):
        for value in ("123", '"300"', "null", "-5", "1e300", "true", "99999.0", "{}"):
            n = self.peer.take_nonce()
            text = '{"command": %s, "nonce": %d, "customCommand": 3, "data": "v"}' % (value, n)
            r = check_reply(self.peer.request_text(text), text, nonce=n, command=CMD_USER_DEFINED,
                            result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)
            check_same(r["data"], {"customCommand": 3, "echo": "v"}, text)

    def t_missing_nonce_is_zero(self):
        check_reply(self.peer.request_text('{"command": 0}'), "NONE without nonce", nonce=0, command=CMD_NONE,
                    result=RES_SUCCESS)
        r = check_reply(self.peer.request_text('{"command":300,"customCommand":-1,"data":null}'),
                        "GET_CONFIGURATION without nonce", nonce=0, command=CMD_GET_CONFIGURATION,
                        result=RES_SUCCESS)
        check_same(r["data"], EXPECTED_CONFIGURATION, "GET_CONFIGURATION without nonce")

    def _acquisition(self, command, name):
        n = self.peer.take_nonce()
        start = self.peer.mark()
        check_reply(self.peer.request(command, nonce=n), name, nonce=n, command=command,
                    result=RES_PENDING_WITH_NOTIFICATION, error_kind=ERRKIND_NONE, error_code=0)
        t = time.monotonic()
        m = self.peer.wait_topic(TOPIC_COMMAND_RESULT, timeout_s=5, start=start)
        check(m is not None, "%s: no COMMAND_RESULT within 5 s" % name)
        check(m.topic_raw == b"\x71\x17\x00\x00", "COMMAND_RESULT topic frame %r" % m.topic_raw)
        elapsed = time.monotonic() - t
        pairs = parse_ordered(m.body)
        keys = pairs.keys()
        check(keys[:6] == ["result", "data", "errorCode", "errorMessage", "command", "nonce"]
              and keys[6:] in ([], ["errorKind"]), "%s: COMMAND_RESULT keys %s" % (name, keys))
        body = to_plain(pairs)
        check(body["command"] == command and body["nonce"] == n,
              "%s: COMMAND_RESULT command/nonce %r/%r, want %d/%d" % (name, body["command"], body["nonce"], command, n))
        check(body["result"] == RES_SUCCESS and body["errorCode"] == 0 and body.get("errorKind", 0) == 0,
              "%s: COMMAND_RESULT %s, want SUCCESS" % (name, m.body))
        check(elapsed > ACQUISITION_MS / 1000.0 * 0.5,
              "%s: COMMAND_RESULT %.3f s after the reply, before the acquisition can have finished" % (name, elapsed))
        return start

    def t_start_acquisition(self):
        start = self._acquisition(CMD_START_ACQUISITION, "START_ACQUISITION")
        ev = self.peer.wait_topic(TOPIC_EVENT, timeout_s=2, start=start, kind=301)
        check(ev is not None, "no acquisitionStarted (301) event on EVENT")
        body = ev.json()
        check(type(body["index"]) is int and body["index"] >= 0, "event index %r" % body["index"])
        check(isinstance(body["when"], float) and abs(body["when"] - ev.received) < 2.0, "event when %r" % body["when"])

    def t_stop_acquisition(self):
        self._acquisition(CMD_STOP_ACQUISITION, "STOP_ACQUISITION")

    def t_malformed_requests(self):
        # (frames, errorCode, nonce, command) -- §6.4
        cases = [
            ([b'{"command": '], 1, 0, 0),
            ([b'not json'], 1, 0, 0),
            ([b''], 1, 0, 0),
            ([b'\xff\xfe{"command":0}'], 1, 0, 0),
            ([b'{"command":0,"nonce":1,"data":"\xc3\x28"}'], 1, 0, 0),   # invalid UTF-8 inside a string
            ([b'{"command":0,"nonce":1} trailing'], 1, 0, 0),
            ([b'[1, 2]'], 2, 0, 0),
            ([b'42'], 2, 0, 0),
            ([b'"text"'], 2, 0, 0),
            ([b'null'], 2, 0, 0),
            ([b'{"nonce": 77}'], 3, 77, 0),
            ([b'{"Command": 300, "nonce": 78}'], 3, 78, 0),
            ([b'{"COMMAND":300,"nonce":79}'], 3, 79, 0),
            ([b'{"nonce": "80"}'], 3, 0, 0),
            ([b'{}'], 3, 0, 0),
            ([b'{"command": 400, "nonce": "81"}'], 4, 0, 400),
            ([b'{"command": 400, "nonce": 8.5}'], 4, 0, 400),
            ([b'{"command": 0, "nonce": 99999999999999999999999}'], 4, 0, 0),
            ([b'{"command": 99999, "nonce": 82, "customCommand": "1"}'], 4, 82, 99999),
            ([b'{"command": 99999, "nonce": 83, "custom_command": 1.5}'], 4, 83, 99999),
            ([b'{"command": 123, "nonce": 84, "customCommand": null}'], 4, 84, 99999),
            ([b'{"command": 0, "nonce": 85}', b''], 5, 0, 0),
            ([b'{"command": 0, "nonce": 86}', b'{"command": 0, "nonce": 86}', b'x'], 5, 0, 0),
            ([b'{"command":99999,"nonce":87,"data":"' + b"x" * (300 * 1024) + b'"}'], 6, None, None),
        ]
        for frames, code, nonce, command in cases:
            what = "malformed %r (%d frames)" % (frames[0][:60], len(frames))
            r = check_reply(self.peer.request_frames(frames), what, nonce=nonce, command=command,
                            result=RES_UNRECOGNIZED, data=None, error_kind=ERRKIND_SYSTEM, error_code=code)
            check(isinstance(r["errorMessage"], str) and r["errorMessage"],
                  "%s: errorMessage %r, want a text" % (what, r["errorMessage"]))
            if code == 5:
                check("got %d" % len(frames) in r["errorMessage"], "%s: errorMessage %r" % (what, r["errorMessage"]))
            self.ping(what)

    def t_large_request_below_limit(self):
        blob = "a_B-c d" * (200 * 1024 // 7)
        n = self.peer.take_nonce()
        r = check_reply(self.peer.request(CMD_USER_DEFINED, nonce=n, custom_command=1, data=blob, style="csharp"),
                        "200 KiB USER_DEFINED", nonce=n, command=CMD_USER_DEFINED, result=RES_SUCCESS)
        check(r["data"] == {"customCommand": 1, "echo": blob}, "200 KiB USER_DEFINED: echo differs")

    def t_emergency_stop_after_malformed(self):
        # A listen-only remote subscribed to the 4-byte EMERGENCY topic only.
        only_emergency = self.new_peer(commands=False, subscriptions=(topic_bytes(TOPIC_EMERGENCY),))
        time.sleep(0.2)  # let the subscription reach the PUB socket (slow joiner)
        # Right after a malformed request: events must still be published (§10 #3).
        check_reply(self.peer.request_text(b'{"command": '), "malformed before EMERGENCY_STOP",
                    result=RES_UNRECOGNIZED, error_code=1)
        start = self.peer.mark()
        reason = "Stop: Bob Smith /a/B_c -3 1e-07 \u2713"
        n = self.peer.take_nonce()
        check_reply(self.peer.request(CMD_EMERGENCY_STOP, nonce=n, data={"reason": reason}), "EMERGENCY_STOP",
                    nonce=n, command=CMD_EMERGENCY_STOP, result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)
        e1 = self.peer.wait_topic(TOPIC_EMERGENCY, timeout_s=3, start=start, kind=101)
        e2 = self.peer.wait_topic(TOPIC_EVENT, timeout_s=3, start=start, kind=101)
        check(e1 is not None, "no emergencyStop (101) on EMERGENCY 2001")
        check(e2 is not None, "no emergencyStop (101) on EVENT 4001")
        evs = self.peer.since(start)
        check(evs.index(e1) < evs.index(e2), "EVENT 4001 arrived before EMERGENCY 2001")
        check(e1.topic_raw == b"\xd1\x07\x00\x00" and e2.topic_raw == b"\xa1\x0f\x00\x00",
              "topic frames %r %r" % (e1.topic_raw, e2.topic_raw))
        check(e1.body == e2.body, "bodies differ:\n  %r\n  %r" % (e1.body, e2.body))
        pairs = parse_ordered(e1.body)
        check(pairs.keys()[:4] == ["kind", "when", "index", "context"] and pairs.keys()[4:] in ([], ["repeat"]),
              "event keys %s" % pairs.keys())
        body = to_plain(pairs)
        check_same(body["context"], {"reason": reason, "source": "command"}, "emergencyStop context")
        check(type(body["index"]) is int, "index %r" % body["index"])
        # Only the one 101 body on each topic.
        dups = [m for m in evs if m.topic in (TOPIC_EMERGENCY, TOPIC_EVENT) and m.json().get("kind") == 101]
        check(len(dups) == 2, "%d emergencyStop messages, want 2" % len(dups))
        # The EMERGENCY-only subscriber gets it, and nothing but EMERGENCY.
        m = only_emergency.wait_topic(TOPIC_EMERGENCY, timeout_s=3, kind=101)
        check(m is not None and m.body == e1.body, "the EMERGENCY-only subscriber did not get the same body")
        time.sleep(HEARTBEAT_INTERVAL * 1.5)
        other = [x for x in only_emergency.since(0) if x.topic_raw != topic_bytes(TOPIC_EMERGENCY)]
        check(not other, "the EMERGENCY-only subscriber got other topics: %r" % other[:3])

    def t_status_after_emergency_stop(self):
        data = self.status()
        check(data["emergencyStopped"] is True, "emergencyStopped %r after EMERGENCY_STOP" % data["emergencyStopped"])
        check(data["emergencySource"] == "command", "emergencySource %r" % data["emergencySource"])

    def t_emergency_resume(self):
        start = self.peer.mark()
        n = self.peer.take_nonce()
        check_reply(self.peer.request(CMD_EMERGENCY_RESUME, nonce=n, style="csharp"), "EMERGENCY_RESUME",
                    nonce=n, command=CMD_EMERGENCY_RESUME, result=RES_SUCCESS, error_kind=ERRKIND_NONE, error_code=0)
        e1 = self.peer.wait_topic(TOPIC_EMERGENCY, timeout_s=3, start=start, kind=102)
        e2 = self.peer.wait_topic(TOPIC_EVENT, timeout_s=3, start=start, kind=102)
        check(e1 is not None and e2 is not None, "emergencyResume (102) missing on 2001 or 4001")
        evs = self.peer.since(start)
        check(evs.index(e1) < evs.index(e2), "EVENT 4001 arrived before EMERGENCY 2001")
        check(e1.body == e2.body, "bodies differ:\n  %r\n  %r" % (e1.body, e2.body))
        ctx = e1.json()["context"]
        check(isinstance(ctx, dict) and isinstance(ctx.get("reason"), str) and ctx.get("source") == "command",
              "emergencyResume context %r" % ctx)
        data = self.status()
        check(data["emergencyStopped"] is False, "emergencyStopped %r after EMERGENCY_RESUME" % data["emergencyStopped"])
        # Acquisition works again after the resume.
        self._acquisition(CMD_START_ACQUISITION, "START_ACQUISITION after resume")
        self._acquisition(CMD_STOP_ACQUISITION, "STOP_ACQUISITION after resume")

    def t_two_remotes(self):
        other = self.new_peer(events=False)
        other.next_nonce = 1000
        for i in range(5):
            a, b = self.peer.take_nonce(), other.take_nonce()
            check_reply(self.peer.request(CMD_GET_STATUS, nonce=a), "remote A", nonce=a, command=CMD_GET_STATUS,
                        result=RES_SUCCESS)
            check_reply(other.request(CMD_USER_DEFINED, nonce=b, custom_command=i, data=i, style="csharp"),
                        "remote B", nonce=b, command=CMD_USER_DEFINED, result=RES_SUCCESS,
                        data={"customCommand": i, "echo": i})

    def t_app_killed_unavailable(self):
        self.sim.kill()
        self.sim.wait(5)
        time.sleep(0.3)  # let libzmq notice the closed ipc connection
        n = self.peer.take_nonce()
        r = check_reply(self.peer.request(CMD_GET_CONFIGURATION, nonce=n, style="csharp"),
                        "GET_CONFIGURATION after sim-app was killed", nonce=n, command=CMD_GET_CONFIGURATION,
                        result=RES_UNAVAILABLE, data=None, error_kind=ERRKIND_NONE, error_code=0)
        check(isinstance(r["errorMessage"], str) and r["errorMessage"], "errorMessage %r" % r["errorMessage"])
        n = self.peer.take_nonce()
        check_reply(self.peer.request(CMD_START_ACQUISITION, nonce=n), "START_ACQUISITION after sim-app was killed",
                    nonce=n, command=CMD_START_ACQUISITION, result=RES_UNAVAILABLE)
        data = self.status()
        check(data["applicationConnected"] is False, "applicationConnected %r after sim-app was killed"
              % data["applicationConnected"])

    def t_app_no_reply_timeout(self):
        self.start_sim("--no-reply")
        self.wait_app_connected(True)
        n = self.peer.take_nonce()
        t = time.monotonic()
        r = check_reply(self.peer.request(CMD_GET_CONFIGURATION, nonce=n, style="csharp"),
                        "GET_CONFIGURATION to a silent application", nonce=n, command=CMD_GET_CONFIGURATION,
                        result=RES_FAILED, data=None, error_kind=ERRKIND_COMMAND, error_code=1001)
        elapsed = time.monotonic() - t
        check(APP_TIMEOUT_MS / 1000.0 * 0.9 <= elapsed < APP_TIMEOUT_MS / 1000.0 + 1.5,
              "the timeout reply came after %.3f s, want about %.1f s" % (elapsed, APP_TIMEOUT_MS / 1000.0))
        check(isinstance(r["errorMessage"], str) and r["errorMessage"], "errorMessage %r" % r["errorMessage"])

    def t_remote_timeout_recreates_req(self):
        # The remote gives up before the agent does (silent application), recreates its REQ socket, and is
        # served at once; the late reply to the abandoned request must not reach the new socket.
        n = self.peer.take_nonce()
        t = time.monotonic()
        check(self.peer.request(CMD_USER_DEFINED, nonce=n, style="csharp", timeout_s=0.3) is None,
              "a reply came from the silent application")
        check(self.peer.recreated >= 1, "the REQ socket was not recreated")
        self.ping("a remote timeout")
        remaining = APP_TIMEOUT_MS / 1000.0 + 0.3 - (time.monotonic() - t)
        if remaining > 0:
            time.sleep(remaining)
        for _ in range(3):
            self.ping("the abandoned request's timeout")
        self.sim.kill()
        self.sim.wait(5)

    def t_published_messages_well_formed(self):
        evs = self.peer.since(0)
        check(self.peer.receiver_error is None, "SUB receiver failed: %r" % self.peer.receiver_error)
        check(len(evs) > 0, "nothing was published")
        for p in self.peers:
            for m in p.since(0):
                check(len(m.frames) == 2, "a published message has %d frames: %r" % (len(m.frames), m.frames[:3]))
                check(len(m.topic_raw) == 4 and m.topic in KNOWN_TOPICS,
                      "unexpected topic frame %r" % m.topic_raw)
                body = m.json()  # valid UTF-8 JSON, no NaN/Infinity
                check(isinstance(body, dict), "body is not a JSON object: %r" % m.body[:200])
        topics = {m.topic for m in evs}
        for t in (TOPIC_HEARTBEAT, TOPIC_EMERGENCY, TOPIC_EVENT, TOPIC_COMMAND_RESULT):
            check(t in topics, "nothing was received on topic %d" % t)

    def t_heartbeats_every_interval(self):
        hbs = [m for m in self.peer.since(0) if m.topic == TOPIC_HEARTBEAT]
        check(len(hbs) >= 6, "only %d heartbeats" % len(hbs))
        span = hbs[-1].received - hbs[0].received
        for m in hbs:
            pairs = parse_ordered(m.body)
            check(sorted(pairs.keys()) == ["identifier", "timestamp", "version"], "heartbeat keys %s" % pairs.keys())
            check(to_plain(pairs)["identifier"] == IDENTIFIER, "heartbeat identifier %r" % m.body)
        stamps = [m.json()["timestamp"] for m in hbs]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        recv_gaps = [b.received - a.received for a, b in zip(hbs, hbs[1:])]
        shown = " ".join("%.3f" % g for g in gaps)
        check(all(0.3 * HEARTBEAT_INTERVAL <= g <= 1.9 * HEARTBEAT_INTERVAL for g in gaps),
              "heartbeat timestamp gaps out of range: %s" % shown)
        check(all(g <= 1.9 * HEARTBEAT_INTERVAL for g in recv_gaps),
              "heartbeat arrival gaps out of range: %s" % " ".join("%.3f" % g for g in recv_gaps))
        mean = span / (len(hbs) - 1)
        check(0.9 * HEARTBEAT_INTERVAL <= mean <= 1.15 * HEARTBEAT_INTERVAL,
              "mean heartbeat period %.3f s, want %.2f s" % (mean, HEARTBEAT_INTERVAL))

    def t_all_replies_well_formed(self):
        count = 0
        for p in self.peers:
            for r in p.replies:
                check_reply(r, "reply to %r" % (r.request[0][:60],))
                count += 1
        check(count >= 50, "only %d replies were checked" % count)

    def t_second_agent_on_same_ports(self):
        # Same configuration: the ports are taken, so it must fail at once with exit code 4 (§1.1).
        for name, pub, cmd in (("same configuration", self.pub_ep, self.cmd_ep),
                               ("only the commands port taken", "tcp://127.0.0.1:%d" % free_port(), self.cmd_ep)):
            config = os.path.join(self.tmp, "second.json")
            app_ep = self.app_ep if name == "same configuration" else "ipc://%s/second.sock" % self.tmp
            with open(config, "w") as f:
                json.dump({"rpc": {"pub_endpoints": [pub], "command_endpoints": [cmd]},
                           "app_link": {"endpoint": app_ep},
                           "hal": {"control_socket": "%s/second-hal.sock" % self.tmp}}, f)
            p = self.procs.start("rigagent-second", [self.rigagent, "run", "--config", config])
            try:
                rc = p.wait(5)
            except subprocess.TimeoutExpired:
                raise Failure("%s: a second rigagent on the same ports is still running after 5 s" % name)
            check(rc == 4, "%s: a second rigagent on the same ports exited with %d, want 4" % (name, rc))
            if pub != self.pub_ep:
                check(port_bindable(int(pub.rsplit(":", 1)[1])), "%s: the events port was not released" % name)
        self.ping("a second rigagent failed to start")
        check(self.agent.poll() is None, "the first rigagent exited")

    def t_sigterm_exits_and_frees_ports(self):
        for p in self.peers:
            p.close()
        t = time.monotonic()
        self.agent.send_signal(signal.SIGTERM)
        try:
            rc = self.agent.wait(2.0)
        except subprocess.TimeoutExpired:
            raise Failure("rigagent did not exit within 2 s of SIGTERM")
        elapsed = time.monotonic() - t
        check(rc == 0, "rigagent exited with %d after SIGTERM, want 0" % rc)
        for port in (self.pub_port, self.cmd_port):
            check(port_bindable(port), "port %d is still in use after rigagent exited (%.3f s)" % (port, elapsed))
        # And a new rigagent can take them over at once.
        self.agent = self.procs.start("rigagent-restarted", [self.rigagent, "run", "--config", self.config_path])
        self.peer = self.new_peer(events=False, timeout_s=5.0)
        self.ping("a restart on the same ports")
        check(self.agent.poll() is None, "the restarted rigagent exited with %s" % self.agent.returncode)

    def t_number_overflow_gets_reply(self):
        # 1e400 is valid JSON syntax but no double holds it. Whatever the agent makes of it, it must reply
        # and keep serving (§6.4, §10 #3). Runs on the restarted agent, after everything else.
        for text in (b'{"command": 0, "nonce": 5, "data": 1e400}', b'{"command": 1e400, "nonce": 6}',
                     b'{"command": 0, "nonce": -1e400}', b'[1e400]'):
            reply = self.peer.request_frames([text], timeout_s=3.0)
            check(reply is not None, "no reply to %r (rigagent %s)" % (
                text, "exited with %s" % self.agent.poll() if self.agent.poll() is not None else "is running"))
            check_reply(reply, "reply to %r" % text)
            self.ping(repr(text))

    def t_restarted_agent_stops_cleanly(self):
        self.peer.close()
        self.agent.send_signal(signal.SIGTERM)
        try:
            rc = self.agent.wait(2.0)
        except subprocess.TimeoutExpired:
            raise Failure("the restarted rigagent did not exit within 2 s of SIGTERM")
        check(rc == 0, "the restarted rigagent exited with %d after SIGTERM, want 0" % rc)
        for port in (self.pub_port, self.cmd_port):
            check(port_bindable(port), "port %d is still in use after rigagent exited" % port)

    def run(self):
        tests = [
            ("agent starts and publishes", self.t_agent_starts),
            ("first heartbeat one interval after start", self.t_first_heartbeat_one_interval_after_start),
            ("heartbeat shape", self.t_heartbeat_shape),
            ("NONE, console style", self.t_ping_console_style),
            ("GET_STATUS without application", self.t_status_without_app),
            ("forwarded commands without application: 9999", self.t_forwarded_without_app_unavailable),
            ("a second rigagent on the same ports exits 4", self.t_second_agent_on_same_ports),
            ("sim-app connects", self.t_sim_app_connects),
            ("GET_CONFIGURATION, C# style, exact values", self.t_get_configuration_csharp_exact),
            ("GET_CONFIGURATION, console style and 300.0", self.t_get_configuration_console_style),
            ("USER_DEFINED echoes data exactly", self.t_user_defined_echo_exact),
            ("customCommand / custom_command dialects", self.t_user_defined_dialects),
            ("unknown command values become 99999", self.t_unknown_command_is_user_defined),
            ("request without nonce gets nonce 0", self.t_missing_nonce_is_zero),
            ("START_ACQUISITION: 201 then COMMAND_RESULT", self.t_start_acquisition),
            ("STOP_ACQUISITION: 201 then COMMAND_RESULT", self.t_stop_acquisition),
            ("malformed requests always get a reply (§6.4)", self.t_malformed_requests),
            ("a 200 KiB request is served", self.t_large_request_below_limit),
            ("EMERGENCY_STOP after a malformed request: 2001 then 4001", self.t_emergency_stop_after_malformed),
            ("GET_STATUS after EMERGENCY_STOP", self.t_status_after_emergency_stop),
            ("EMERGENCY_RESUME", self.t_emergency_resume),
            ("two remotes", self.t_two_remotes),
            ("application killed: 9999", self.t_app_killed_unavailable),
            ("silent application: FAILED 1001 after the timeout", self.t_app_no_reply_timeout),
            ("remote timeout recreates its REQ socket", self.t_remote_timeout_recreates_req),
            ("every published message is well formed", self.t_published_messages_well_formed),
            ("heartbeats every interval", self.t_heartbeats_every_interval),
            ("every reply has the 7 keys in order", self.t_all_replies_well_formed),
            ("SIGTERM: exit 0 within 2 s, ports free, restart works", self.t_sigterm_exits_and_frees_ports),
            ("a number overflowing a double gets a reply", self.t_number_overflow_gets_reply),
            ("restarted rigagent: SIGTERM exits 0", self.t_restarted_agent_stops_cleanly),
        ]
        for i, (name, fn) in enumerate(tests):
            if not self.test(name, fn) and i == 0:
                # Without a running agent nothing else can pass; count the rest as failed.
                for rest, _ in tests[1:]:
                    self.failed += 1
                    print("FAIL %s: not run, the agent did not start" % rest)
                break
        if self.failed:
            print(self.procs.logs())


def main(argv):
    if len(argv) != 2 or not os.access(argv[1], os.X_OK):
        sys.stderr.write("usage: test_interop.py PATH/TO/rigagent\n")
        return 2

    def on_signal(signum, frame):
        raise SystemExit("interrupted by signal %d" % signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    started = time.monotonic()
    run = Run(os.path.abspath(argv[1]))
    try:
        run.run()
    finally:
        for p in run.peers:
            try:
                p.close()
            except Exception:
                pass
        run.procs.stop_all()
        shutil.rmtree(run.tmp, ignore_errors=True)
    print("runtime %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (run.passed, run.failed))
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
