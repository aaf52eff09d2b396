"""What the Python test scripts share: a free loopback port, an assertion that says what went
wrong, and a runner that calls every test_* function, prints ok/FAIL with the time taken, and
kills every process the tests left running."""
import socket
import time
import traceback


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def run_tests(namespace, procs, only=()):
    """Runs namespace's test_* functions (those whose names contain one of `only`, if given);
    returns the process exit code."""
    tests = [v for k, v in sorted(namespace.items()) if k.startswith("test_")]
    if only:
        tests = [t for t in tests if any(x in t.__name__ for x in only)]
    passed = failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            passed += 1
            print("ok    %s (%.1f s)" % (t.__name__, time.time() - t0))
        except Exception:
            failed += 1
            print("FAIL  %s" % t.__name__)
            traceback.print_exc()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
