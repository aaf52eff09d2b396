#!/usr/bin/env python3
"""The rigagent binary as a person uses it: subcommands, help, exit codes, config errors,
a port in use, clean shutdown on signals, and the console against a running agent.
Usage: test_cli.py PATH/TO/rigagent"""
import json
import os
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
TMP = tempfile.mkdtemp(prefix="rigagent-cli-")
procs = []



def run(*args, timeout=10, stdin=None):
    return subprocess.run([RIGAGENT, *args], capture_output=True, text=True, timeout=timeout, input=stdin)


def write_config(name, obj):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def agent_config(heartbeat=60.0):
    pub, cmd = free_port(), free_port()
    path = write_config("agent-%d.json" % cmd, {
        "rpc": {"heartbeat_interval": heartbeat, "pub_endpoints": ["tcp://127.0.0.1:%d" % pub],
                "command_endpoints": ["tcp://127.0.0.1:%d" % cmd]},
        "app_link": {"endpoint": "ipc://%s/app-%d.sock" % (TMP, cmd)},
        "hal": {"control_socket": "%s/hal-%d.sock" % (TMP, cmd)}})
    return path, pub, cmd


def start_agent(path):
    p = subprocess.Popen([RIGAGENT, "run", "--config", path], stderr=subprocess.PIPE, text=True)
    procs.append(p)
    deadline = time.time() + 5
    while time.time() < deadline:  # the agent logs "ready" once both sockets are bound
        line = p.stderr.readline()
        if " ready on board " in line:
            # Keep reading its log so a chatty agent never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p
        if p.poll() is not None:
            raise AssertionError("agent exited early with %s" % p.returncode)
    raise AssertionError("agent not ready within 5 s")


def stop(p, sig=signal.SIGTERM):
    p.send_signal(sig)
    try:
        return p.wait(timeout=3)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False



# ------------------------------------------------------------------------------------------

def test_version_and_help():
    r = run("--version")
    expect(r.returncode == 0 and r.stdout.startswith("rigagent "), r.stdout)
    for sub in (["--help"], ["run", "--help"], ["console", "--help"], ["sim-app", "--help"], ["print-config", "--help"],
                ["hal", "--help"], ["boards", "--help"]):
        r = run(*sub)
        expect(r.returncode == 0 and "usage" in r.stdout.lower(), "help for %s: %r" % (sub, r.stdout[:80]))
    r = run()
    expect(r.returncode == 2 and "usage" in r.stderr, "no arguments: %r" % r.stderr)
    r = run("frobnicate")
    expect(r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr, r.stderr)
    r = run("run", "--bogus")
    expect(r.returncode == 2 and "unknown option '--bogus'" in r.stderr, r.stderr)


def test_print_config_default_is_loopback():
    r = run("print-config")
    expect(r.returncode == 0, r.stderr)
    cfg = json.loads(r.stdout)
    expect(cfg["board"] == "sim", cfg)
    expect(cfg["rpc"]["pub_endpoints"] == ["tcp://127.0.0.1:5556"], cfg)
    expect(cfg["rpc"]["command_endpoints"] == ["tcp://127.0.0.1:5557"], cfg)
    expect(cfg["rpc"]["version"].startswith("rigagent "), cfg)


def test_config_errors_name_the_key():
    bad = write_config("bad.json", {"rpc": {"pub_endpoint": ["tcp://127.0.0.1:1"], "heartbeat_interval": "5"}})
    r = run("print-config", "--config", bad)
    expect(r.returncode == 3, "exit %d" % r.returncode)
    expect("rpc.pub_endpoint: unknown key (did you mean \"pub_endpoints\"?)" in r.stderr, r.stderr)
    expect("rpc.heartbeat_interval: expected a number, got a string" in r.stderr, r.stderr)
    r = run("run", "--config", bad)
    expect(r.returncode == 3 and "rpc.pub_endpoint" in r.stderr, r.stderr)
    r = run("run", "--config", os.path.join(TMP, "missing.json"))
    expect(r.returncode == 3 and "cannot read the configuration file" in r.stderr, r.stderr)
    r = run("print-config", "--config", write_config("trunc.json", "{\"rpc\": {"))
    expect(r.returncode == 3 and "not valid JSON" in r.stderr, r.stderr)
    r = run("print-config", "--board", "rpi9")
    expect(r.returncode == 2 and "unknown board 'rpi9'" in r.stderr, r.stderr)
    r = run("run", "--log-level", "loud")
    expect(r.returncode == 2 and "--log-level: unknown log level 'loud'" in r.stderr, r.stderr)
    r = run("print-config", "--config", write_config("board.json", {"board": "rpi9"}))
    expect(r.returncode == 3 and "board: unknown board 'rpi9'" in r.stderr, r.stderr)


def test_port_in_use_fails_startup():
    path, pub, cmd = agent_config()
    with socket.socket() as s:
        s.bind(("127.0.0.1", cmd))
        s.listen()
        t0 = time.time()
        r = run("run", "--config", path, timeout=5)
    expect(r.returncode == 4, "exit %d: %s" % (r.returncode, r.stderr))
    expect("cannot bind the commands (REP) socket to tcp://127.0.0.1:%d" % cmd in r.stderr, r.stderr)
    expect(time.time() - t0 < 3, "startup failure took too long")
    expect(port_is_free(pub), "events port still held after a failed start")


def test_signals_stop_cleanly_and_free_ports():
    for sig in (signal.SIGTERM, signal.SIGINT):
        path, pub, cmd = agent_config()
        p = start_agent(path)
        t0 = time.time()
        rc = stop(p, sig)
        expect(rc == 0, "exit %s after %s" % (rc, sig))
        expect(time.time() - t0 < 2, "stop took %.1f s" % (time.time() - t0))
        expect(port_is_free(pub) and port_is_free(cmd), "ports not free right after exit")


def test_console_against_agent():
    path, pub, cmd = agent_config(heartbeat=0.2)
    p = start_agent(path)
    try:
        ep = "tcp://127.0.0.1:%d" % cmd
        r = run("console", "--endpoint", ep, "GET_STATUS")
        expect(r.returncode == 0 and "SUCCESS (100)" in r.stdout and "GET_STATUS (400)" in r.stdout, r.stdout + r.stderr)
        r = run("console", "--endpoint", ep, "--json", "--nonce", "42", "get-status")
        reply = json.loads(r.stdout)
        expect(list(reply) == ["nonce", "command", "result", "data", "errorKind", "errorCode", "errorMessage"], reply)
        expect(reply["nonce"] == 42, reply)
        # No application connected: the device answers UNAVAILABLE, the console exits 1.
        r = run("console", "--endpoint", ep, "START_ACQUISITION")
        expect(r.returncode == 1 and "UNAVAILABLE (9999)" in r.stdout, r.stdout)
        r = run("console", "--endpoint", ep, "EMERGENCY_STOP", "not json")
        expect(r.returncode == 2 and "not valid JSON" in r.stderr, r.stderr)
        r = run("console", "--endpoint", ep, "NO_SUCH_COMMAND")
        expect(r.returncode == 2, r.stderr)
        r = run("console", "--host", "rig 07", "GET_STATUS")
        expect(r.returncode == 2 and "is not a host" in r.stderr, r.stderr)
        r = run("console", "watch", "--wait")
        expect(r.returncode == 2 and "not `watch`" in r.stderr, r.stderr)
        r = run("sim-app", "--endpoint", "foo")
        expect(r.returncode == 2 and "is not an endpoint" in r.stderr, r.stderr)
        # Interactive: one command per line, the nonce counts up.
        r = run("console", "--endpoint", ep, "--json", stdin="GET_STATUS\nNONE\n\nbogus\nquit\n")
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        expect([l["nonce"] for l in lines] == [1, 2, 3], r.stdout)  # the empty line repeated NONE
        expect([l["command"] for l in lines] == [400, 0, 0], r.stdout)
        expect("unknown command 'bogus'" in r.stdout, r.stdout)
        # watch: topic names decoded.
        r = run("console", "watch", "--endpoint", "tcp://127.0.0.1:%d" % pub, "--topic", "HEARTBEAT", "--count", "2",
                "--duration", "5")
        expect(r.returncode == 0 and r.stdout.count("HEARTBEAT") == 2, r.stdout + r.stderr)
    finally:
        expect(stop(p) == 0, "agent exit code")


def test_console_times_out_instead_of_hanging():
    port = free_port()  # nothing listens here
    t0 = time.time()
    r = run("console", "--endpoint", "tcp://127.0.0.1:%d" % port, "--timeout", "0.5", "NONE")
    expect(r.returncode == 5, "exit %d" % r.returncode)
    expect("no reply from" in r.stderr, r.stderr)
    expect(time.time() - t0 < 3, "timeout took %.1f s" % (time.time() - t0))


def test_boards_list_show_and_check():
    r = run("boards")
    expect(r.returncode == 0, r.stderr)
    for name in ("sim", "rpi4", "rpi5", "jetson-orin-nano", "qemu-virt"):
        expect("\n" + name + " " in r.stdout, "boards does not list %s:\n%s" % (name, r.stdout))
    r = run("boards", "show", "rpi4")
    expect(r.returncode == 0 and "'GPIO17'" in r.stdout and "pinctrl-bcm2711" in r.stdout, r.stdout)
    r = run("boards", "show", "qemu-virt", "--source")
    expect(r.returncode == 0 and json.loads("\n".join(l for l in r.stdout.splitlines() if not l.startswith("//")))["name"] == "qemu-virt", r.stdout)
    r = run("boards", "show", "rpi3")
    expect(r.returncode == 2 and "unknown board 'rpi3'" in r.stderr and "rpi4" in r.stderr, r.stderr)
    good = write_config("good-board.json", {"name": "mine", "gpio": "linux", "chip": "gpiochip0",
                                            "inputs": [{"name": "estop", "role": "estop", "line": 4}]})
    r = run("boards", "check", good)
    expect(r.returncode == 0 and "ok (board mine, 1 inputs, 0 outputs)" in r.stdout, r.stdout + r.stderr)
    bad = write_config("bad-board.json", {"name": "mine", "gpio": "linux", "chip": "gpiochip0",
                                          "inputs": [{"name": "estop", "role": "estop", "line": 4, "debounse_ms": 5},
                                                     {"name": "door", "role": "alarm", "severity": "loud", "line": 4}]})
    r = run("boards", "check", good, bad)
    expect(r.returncode == 3, "exit %d" % r.returncode)
    for want in ('inputs[0].debounse_ms: unknown key (did you mean "debounce_ms"?)',
                 'inputs[1].severity: "loud" is not one of', "inputs[1].line: gpiochip0 line 4 is used twice"):
        expect(want in r.stderr, "missing %r in:\n%s" % (want, r.stderr))
    # The same file given to `run` is a configuration error (exit 3); an unknown name is a usage error.
    expect(run("run", "--board", bad).returncode == 3, "run --board BADFILE")
    r = run("run", "--board", "nope")
    expect(r.returncode == 2 and "--board: unknown board 'nope'" in r.stderr, r.stderr)


def test_real_board_without_gpio_fails_clearly():
    # The build host has no GPIO chips: a Linux board must fail at startup, naming what is missing.
    path, pub, cmd = agent_config()
    r = run("run", "--config", path, "--board", "rpi4", timeout=5)
    expect(r.returncode == 4, "exit %d: %s" % (r.returncode, r.stderr))
    expect("input 'estop'" in r.stderr and "pinctrl-bcm2711" in r.stderr, r.stderr)
    expect(port_is_free(pub) and port_is_free(cmd), "ports held after a failed start")


def test_hal_drives_the_simulated_board():
    import zmq
    path, pub, cmd = agent_config()
    hal_sock = json.load(open(path))["hal"]["control_socket"]
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, (2001).to_bytes(4, "little"))  # EMERGENCY only
    sub.connect("tcp://127.0.0.1:%d" % pub)
    p = start_agent(path)
    try:
        time.sleep(0.3)  # let the SUB's subscription reach the agent (slow joiner)
        r = run("hal", "--socket", hal_sock, "get")
        expect(r.returncode == 0 and "board sim (sim backend)" in r.stdout and "estop_relay" in r.stdout, r.stdout + r.stderr)
        r = run("hal", "--socket", hal_sock, "pulse", "estop", "50")
        expect(r.returncode == 0 and "pulsed estop for 50 ms" in r.stdout, r.stdout + r.stderr)
        kinds = []
        while sub.poll(2000) and len(kinds) < 2:
            topic, body = sub.recv_multipart()
            event = json.loads(body)
            kinds.append(event["kind"])
            expect(event["context"]["line"] == "estop" and event["context"]["board"] == "sim", body)
        expect(kinds == [101, 102], "EMERGENCY kinds %s after a pulse" % kinds)

        # A held press shows in `get`, and the relay output follows the latch.
        r = run("hal", "--socket", hal_sock, "set", "estop", "1")
        expect(r.returncode == 0, r.stderr)
        got = json.loads(run("hal", "--socket", hal_sock, "get", "--json").stdout)
        lines = {l["name"]: l for l in got["inputs"] + got["outputs"]}
        expect(lines["estop"]["active"] and lines["estop"]["level"] == 1, lines["estop"])
        expect(lines["estop_relay"]["active"], lines["estop_relay"])
        r = run("console", "--endpoint", "tcp://127.0.0.1:%d" % cmd, "EMERGENCY_RESUME")
        expect(r.returncode == 1 and "still asserted" in r.stdout, r.stdout)
        time.sleep(0.01)  # past the e-stop's 5 ms lockout
        expect(run("hal", "--socket", hal_sock, "set", "estop", "0").returncode == 0, "release")

        # An active-low alarm: the door opens when its line goes low.
        expect(run("hal", "--socket", hal_sock, "set", "door", "0").returncode == 0, "door")
        seen = None
        while sub.poll(2000):
            event = json.loads(sub.recv_multipart()[1])
            if event["kind"] == 9101:
                seen = event
                break
        expect(seen and seen["context"]["alarm"] == "door" and seen["context"]["severity"] == "warning", seen)

        # Refusals: exit 1 with a reason; bad command lines exit 2.
        r = run("hal", "--socket", hal_sock, "set", "estop_relay", "1")
        expect(r.returncode == 1 and "is an output" in r.stderr, r.stderr)
        r = run("hal", "--socket", hal_sock, "set", "nope", "1")
        expect(r.returncode == 1 and "has no line 'nope'" in r.stderr, r.stderr)
        expect(run("hal", "--socket", hal_sock, "set", "estop", "2").returncode == 2, "level 2")
        expect(run("hal", "--socket", hal_sock, "pulse", "estop", "0").returncode == 2, "pulse 0")
        expect(run("hal", "--socket", hal_sock, "wiggle").returncode == 2, "unknown action")

        # Garbage on the control socket gets an error line, and the agent keeps serving.
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(2)
            c.connect(hal_sock)
            c.sendall(b'{"op": "set", "line": "estop", "level": 7}\n')
            expect(b'"ok":false' in c.recv(4096), "no error reply for a bad level")
            c.sendall(b"x" * 5000 + b"\n")
            expect(b"longer than" in c.recv(4096), "no error reply for an overlong line")
        expect(run("hal", "--socket", hal_sock, "get", "estop").returncode == 0, "agent stopped serving")

        # A second agent cannot take over a live control socket.
        path2, _, _ = agent_config()
        cfg2 = json.load(open(path2))
        cfg2["hal"]["control_socket"] = hal_sock
        with open(path2, "w") as f:
            json.dump(cfg2, f)
        r = run("run", "--config", path2, timeout=5)
        expect(r.returncode == 4 and "another rigagent is serving the HAL control socket" in r.stderr, r.stderr)
    finally:
        expect(stop(p) == 0, "agent did not stop cleanly")
        sub.close()
    expect(not os.path.exists(hal_sock), "control socket left behind after a clean stop")
    r = run("hal", "--socket", hal_sock, "get")
    expect(r.returncode == 1 and "cannot reach the agent's HAL control socket" in r.stderr, r.stderr)


def main():
    return run_tests(globals(), procs, sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
