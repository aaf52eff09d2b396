"""A stand-in remote for the auto-trainer-api RpcService (spec: rpcservice.md §12.1).

It does what the real remotes do, written from the protocol description only:

* a SUB socket that connects to the events endpoint and subscribes to "" or to 4-byte topics;
* a REQ socket that connects to the commands endpoint, sends one request, waits for the reply with a
  timeout (about 10 s, like the C# command worker) and, when the reply does not come, closes the socket
  with linger 0 and creates a new one (a REQ socket that got no reply cannot send again);
* requests in both dialects: the Python console's `{"command": 100, "nonce": 1}` (with spaces) and the
  C# worker's `{"command":300,"customCommand":-1,"nonce":5,"data":null}`, plus snake_case
  `custom_command`.

Only the standard library and Debian's python3-zmq are used.
"""

import json
import struct
import threading
import time

import zmq

# ApiTopic (§2.1)
TOPIC_ANY = 0
TOPIC_HEARTBEAT = 1001
TOPIC_EMERGENCY = 2001
TOPIC_EVENT = 4001
TOPIC_PROPERTY_CHANGE = 5001
TOPIC_COMMAND_RESULT = 6001
KNOWN_TOPICS = (TOPIC_ANY, TOPIC_HEARTBEAT, TOPIC_EMERGENCY, TOPIC_EVENT, TOPIC_PROPERTY_CHANGE,
                TOPIC_COMMAND_RESULT)

# ApiCommand (§9.1)
CMD_NONE = 0
CMD_START_ACQUISITION = 100
CMD_STOP_ACQUISITION = 110
CMD_EMERGENCY_STOP = 200
CMD_EMERGENCY_RESUME = 210
CMD_GET_CONFIGURATION = 300
CMD_GET_STATUS = 400
CMD_USER_DEFINED = 99999

# ApiCommandRequestResult (§9.2)
RES_UNRECOGNIZED = 0
RES_SUCCESS = 100
RES_PENDING = 200
RES_PENDING_WITH_NOTIFICATION = 201
RES_FAILED = 400
RES_EXCEPTION = 500
RES_UNAVAILABLE = 9999

# ApiCommandRequestErrorKind (§9.3)
ERRKIND_NONE = 0
ERRKIND_SYSTEM = 1
ERRKIND_COMMAND = 2

# The order of the keys of a reply (§6.2)
REPLY_KEYS = ["nonce", "command", "result", "data", "errorKind", "errorCode", "errorMessage"]

OMIT = object()  # a request field given as OMIT is left out of the request
_MISSING = object()


def topic_bytes(topic):
    """Frame 0 of a published message: the ApiTopic as a 4-byte little-endian unsigned integer."""
    return struct.pack("<I", topic)


def parse_ordered(text):
    """Parse JSON text (bytes or str) keeping the key order: objects become lists of (key, value) pairs
    wrapped in OrderedPairs, so the order can be checked; to_plain() turns the result into dicts."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # strict: a reply must be valid UTF-8
    return json.loads(text, object_pairs_hook=OrderedPairs)


class OrderedPairs(list):
    """A JSON object as a list of (key, value) pairs, duplicates kept."""

    def keys(self):
        return [k for k, _ in self]


def to_plain(value):
    if isinstance(value, OrderedPairs):
        return {k: to_plain(v) for k, v in value}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def parse_plain(text):
    """Parse JSON text into plain dicts, rejecting NaN/Infinity (not JSON, §2.2)."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")

    def bad_constant(name):
        raise ValueError("non-JSON constant %s" % name)

    return json.loads(text, parse_constant=bad_constant)


class Published:
    """One message received on the SUB socket."""

    def __init__(self, frames, received):
        self.frames = frames
        self.received = received  # time.time() when received
        self.topic_raw = frames[0] if frames else b""
        self.topic = struct.unpack("<I", frames[0])[0] if frames and len(frames[0]) == 4 else None
        self.body = frames[1] if len(frames) > 1 else None
        self._json = _MISSING

    def json(self):
        if self._json is _MISSING:
            self._json = parse_plain(self.body)
        return self._json

    def __repr__(self):
        return "Published(topic=%r, frames=%d, body=%r)" % (self.topic, len(self.frames), self.body)


class Reply:
    """One reply received on the REQ socket."""

    def __init__(self, raw, request):
        self.raw = raw
        self.request = request
        self.frames = None
        self.pairs = parse_ordered(raw)
        self.obj = to_plain(self.pairs)

    def keys(self):
        return self.pairs.keys() if isinstance(self.pairs, OrderedPairs) else None

    def __getitem__(self, key):
        return self.obj[key]

    def __repr__(self):
        return "Reply(%s)" % self.raw.decode("utf-8", "replace")


class RemotePeer:
    """SUB + REQ stand-in remote.

    The SUB socket lives in a receiver thread of its own (a ZeroMQ socket belongs to one thread), which
    stamps each message with its arrival time; self.events is the list of everything received, in order.
    The REQ socket is used from the thread that created the peer.
    Pass events_endpoint=None for a command-only peer, command_endpoint=None for a listen-only peer.
    """

    def __init__(self, events_endpoint, command_endpoint, subscriptions=(b"",), timeout_s=10.0,
                 context=None):
        self.ctx = context or zmq.Context.instance()
        self.events_endpoint = events_endpoint
        self.command_endpoint = command_endpoint
        self.subscriptions = list(subscriptions)
        self.timeout_s = timeout_s
        self.events = []        # every Published received, in order (append-only)
        self.replies = []       # every Reply received, in order
        self.timeouts = 0       # how many requests got no reply in time
        self.recreated = 0      # how many times the REQ socket was recreated
        self.next_nonce = 1     # the console starts at 1 (§6.1)
        self._cond = threading.Condition()
        self._stop = False
        self._thread = None
        self.receiver_error = None
        if events_endpoint is not None:
            ready = threading.Event()
            self._thread = threading.Thread(target=self._receive_loop, args=(ready,), daemon=True)
            self._thread.start()
            if not ready.wait(5):
                raise RuntimeError("the SUB receiver thread did not start")
        self.req = None
        if command_endpoint is not None:
            self._new_req()

    # ----------------------------------------------------------------------------------------- SUB side

    def _receive_loop(self, ready):
        sub = self.ctx.socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.LINGER, 0)
            # Connect again quickly if the device is not up yet (the default is 100 ms).
            sub.setsockopt(zmq.RECONNECT_IVL, 10)
            for s in self.subscriptions:
                sub.setsockopt(zmq.SUBSCRIBE, s)
            sub.connect(self.events_endpoint)
            ready.set()
            while not self._stop:
                if not sub.poll(20, zmq.POLLIN):
                    continue
                while True:
                    try:
                        frames = sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    msg = Published(frames, time.time())
                    with self._cond:
                        self.events.append(msg)
                        self._cond.notify_all()
        except Exception as e:  # reported by the tests through receiver_error
            self.receiver_error = e
            ready.set()
        finally:
            sub.close(linger=0)

    def wait_for(self, predicate, timeout_s=5.0, start=0):
        """Return the first received message at index >= start that satisfies predicate, waiting up to
        timeout_s for it; None if none came."""
        deadline = time.monotonic() + timeout_s
        i = start
        with self._cond:
            while True:
                while i < len(self.events):
                    if predicate(self.events[i]):
                        return self.events[i]
                    i += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def wait_topic(self, topic, timeout_s=5.0, start=0, kind=None):
        """The first message on `topic` (and, if given, with body kind == kind) from index start."""
        def match(m):
            if m.topic != topic:
                return False
            if kind is None:
                return True
            try:
                body = m.json()
            except ValueError:
                return False
            return isinstance(body, dict) and body.get("kind") == kind
        return self.wait_for(match, timeout_s, start)

    def mark(self):
        """The index to pass as start= to look only at messages received from now on."""
        with self._cond:
            return len(self.events)

    def since(self, start):
        with self._cond:
            return list(self.events[start:])

    def collect(self, seconds):
        """Listen for `seconds` and return what arrived meanwhile."""
        start = self.mark()
        time.sleep(seconds)
        return self.since(start)

    # ----------------------------------------------------------------------------------------- REQ side

    def _new_req(self):
        if self.req is not None:
            self.req.close(linger=0)
            self.recreated += 1
        self.req = self.ctx.socket(zmq.REQ)
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.setsockopt(zmq.RECONNECT_IVL, 10)
        self.req.connect(self.command_endpoint)

    def request_raw(self, frames, timeout_s=None):
        """Send one request (bytes, or a list of frames for a multi-frame request) and wait for the reply.
        Returns the reply's frames (a list of bytes), or None on timeout; on timeout the REQ socket is
        closed with linger 0 and recreated, as the C# worker does (§6.3)."""
        if isinstance(frames, (bytes, bytearray)):
            frames = [bytes(frames)]
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        self.req.send_multipart(frames)
        if self.req.poll(int(timeout_s * 1000), zmq.POLLIN):
            return self.req.recv_multipart()
        self.timeouts += 1
        self._new_req()
        return None

    def request_frames(self, frames, timeout_s=None):
        """Send frames and parse the reply into a Reply (None on timeout)."""
        got = self.request_raw(frames, timeout_s)
        if got is None:
            return None
        reply = Reply(got[0], frames)
        reply.frames = got
        self.replies.append(reply)
        return reply

    def request_text(self, text, timeout_s=None):
        """Send a one-frame request given as text (str, sent as UTF-8) or bytes; returns a Reply."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return self.request_frames([raw], timeout_s)

    def take_nonce(self):
        n = self.next_nonce
        self.next_nonce += 1
        return n

    @staticmethod
    def encode_request(command, nonce=OMIT, custom_command=OMIT, data=OMIT, style="console",
                       custom_key=None):
        """Build the text of a request. A field given as OMIT is left out.

        style "console": json.dumps' default separators (", " and ": "), keys command, nonce, then
                         customCommand and data only if given -- like the Python remote console:
                         {"command": 100, "nonce": 1}
        style "csharp":  compact, keys command, customCommand (default -1), nonce, data (default null) --
                         like the C# worker: {"command":300,"customCommand":-1,"nonce":5,"data":null}
        custom_key: the key used for custom_command: "customCommand" (default) or "custom_command".
        Text is written with ensure_ascii=False, so non-ASCII characters go out as UTF-8.
        """
        key = "customCommand" if custom_key is None else custom_key
        obj = {"command": command}
        if style == "csharp":
            obj[key] = -1 if custom_command is OMIT else custom_command
            if nonce is not OMIT:
                obj["nonce"] = nonce
            obj["data"] = None if data is OMIT else data
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        if style != "console":
            raise ValueError("unknown style %r" % style)
        if nonce is not OMIT:
            obj["nonce"] = nonce
        if custom_command is not OMIT:
            obj[key] = custom_command
        if data is not OMIT:
            obj["data"] = data
        return json.dumps(obj, ensure_ascii=False)

    def request(self, command, nonce=None, custom_command=OMIT, data=OMIT, style="console", custom_key=None,
                timeout_s=None):
        """Send a request built by encode_request and return the Reply (None on timeout). nonce defaults
        to the peer's next nonce (1, 2, ...); nonce=OMIT sends none."""
        if nonce is None:
            nonce = self.take_nonce()
        text = self.encode_request(command, nonce, custom_command, data, style, custom_key)
        return self.request_text(text, timeout_s)

    # -------------------------------------------------------------------------------------------------

    def close(self):
        self._stop = True
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.req is not None:
            self.req.close(linger=0)
            self.req = None
