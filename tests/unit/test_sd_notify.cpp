// sd_notify without libsystemd, against a real AF_UNIX datagram socket the test binds (a path and
// an abstract name): the environment as sd_watchdog_enabled reads it, the datagrams, and the
// watchdog that pings only while its probe comes back.
#include "support/cmocka.hpp"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>

#include "core/sd_notify.hpp"

using namespace rig;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// The service manager's end: a bound datagram socket.
struct Listener {
  int fd = -1;
  std::string address;  // as NOTIFY_SOCKET spells it
  std::string path;     // filesystem path to unlink, if any

  explicit Listener(bool abstract) {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    socklen_t len;
    static int n = 0;
    std::string name = "rigagent-test-notify-" + std::to_string(getpid()) + "-" + std::to_string(n++);
    if (abstract) {
      address = "@" + name;
      std::memcpy(sa.sun_path + 1, name.data(), name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    } else {
      const char* tmp = getenv("TMPDIR");
      path = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + name + ".sock";
      address = path;
      unlink(path.c_str());
      std::memcpy(sa.sun_path, path.data(), path.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    }
    assert_int_equal(bind(fd, reinterpret_cast<sockaddr*>(&sa), len), 0);
  }
  ~Listener() {
    close(fd);
    if (!path.empty()) unlink(path.c_str());
  }
  // The next datagram, or nullopt after `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 2000ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }
  // Datagrams received within `window`.
  std::vector<std::string> collect(std::chrono::milliseconds window) {
    std::vector<std::string> out;
    auto end = clock_type::now() + window;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now());
      if (left.count() <= 0) break;
      auto d = next(left);
      if (!d) break;
      out.push_back(*d);
    }
    return out;
  }
};

size_t count(const std::vector<std::string>& v, const std::string& what) {
  size_t n = 0;
  for (const auto& s : v) n += s == what;
  return n;
}

void clear_env() {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

}  // namespace

static void path_socket(void**) {
  Listener l(false);
  auto n = sd::Notifier::open(l.address);
  assert_true(n.has_value());
  assert_true(n->enabled());
  assert_true(n->notify("READY=1\nSTATUS=serving").has_value());
  assert_str(l.next().value_or("<none>"), "READY=1\nSTATUS=serving");
}

static void abstract_socket(void**) {
  Listener l(true);
  auto n = sd::Notifier::open(l.address);
  assert_true(n.has_value());
  assert_true(n->notify("WATCHDOG=1").has_value());
  assert_str(l.next().value_or("<none>"), "WATCHDOG=1");
}

static void bad_addresses(void**) {
  for (const char* a : {"", "relative/path", "@", "vsock:2:1234"}) {
    auto n = sd::Notifier::open(a);
    assert_false(n.has_value());
    assert_non_null(std::strstr(n.error().message.c_str(), "NOTIFY_SOCKET"));
  }
  std::string long_path = "/" + std::string(200, 'x');
  assert_false(sd::Notifier::open(long_path).has_value());
  // Nobody listening: the send fails with the reason, and does not block or raise SIGPIPE.
  auto n = sd::Notifier::open("/nonexistent/rigagent-notify.sock");
  assert_true(n.has_value());
  auto r = n->notify("READY=1");
  assert_false(r.has_value());
  assert_non_null(std::strstr(r.error().message.c_str(), "/nonexistent/rigagent-notify.sock"));
}

static void environment(void**) {
  Listener l(false);
  const std::string pid = std::to_string(getpid());

  // Not under systemd: disabled, and notify() is a harmless no-op.
  clear_env();
  {
    auto n = sd::Notifier::from_environment();
    assert_false(n.enabled());
    assert_true(n.notify("READY=1").has_value());
    assert_int_equal(n.watchdog_period().count(), 0);
  }
  // NOTIFY_SOCKET only: notifications, no watchdog. The variables are consumed.
  setenv("NOTIFY_SOCKET", l.address.c_str(), 1);
  {
    auto n = sd::Notifier::from_environment();
    assert_true(n.enabled());
    assert_str(n.address(), l.address);
    assert_int_equal(n.watchdog_period().count(), 0);
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_true(n.notify("READY=1").has_value());
    assert_str(l.next().value_or("<none>"), "READY=1");
  }
  // The watchdog: WATCHDOG_USEC, with WATCHDOG_PID absent or this process.
  struct Case {
    const char* usec;
    const char* pid;  // "self" for this process
    long long expect;
  };
  const Case cases[] = {
      {"2000000", nullptr, 2000000}, {"2000000", "self", 2000000}, {"2000000", "1", 0},  // another process's
      {"0", nullptr, 0},           {"abc", nullptr, 0},        {"-5", nullptr, 0},
      {"", nullptr, 0},            {"12x", nullptr, 0},        {"2000000", "x", 0},
      {"99999999999999999999999", nullptr, 0},  // overflows
  };
  for (const Case& c : cases) {
    clear_env();
    setenv("NOTIFY_SOCKET", l.address.c_str(), 1);
    setenv("WATCHDOG_USEC", c.usec, 1);
    if (c.pid) setenv("WATCHDOG_PID", std::strcmp(c.pid, "self") == 0 ? pid.c_str() : c.pid, 1);
    auto n = sd::Notifier::from_environment();
    if (n.watchdog_period().count() != c.expect) fail_msg("WATCHDOG_USEC=%s WATCHDOG_PID=%s: got %lld", c.usec, c.pid ? c.pid : "-", (long long)n.watchdog_period().count());
    assert_true(n.enabled());
    assert_null(getenv("WATCHDOG_USEC"));
    assert_null(getenv("WATCHDOG_PID"));
  }
  // Kept when asked to.
  clear_env();
  setenv("NOTIFY_SOCKET", l.address.c_str(), 1);
  setenv("WATCHDOG_USEC", "1000", 1);
  {
    auto n = sd::Notifier::from_environment(false);
    assert_int_equal(n.watchdog_period().count(), 1000);
    assert_non_null(getenv("NOTIFY_SOCKET"));
    assert_non_null(getenv("WATCHDOG_USEC"));
  }
  // A bad address: disabled, not fatal.
  setenv("NOTIFY_SOCKET", "not-absolute", 1);
  assert_false(sd::Notifier::from_environment().enabled());
  clear_env();
}

static void status_is_one_line(void**) {
  assert_str(sd::status_assignment("a\nb\r\nc"), "STATUS=a b  c");
  assert_str(sd::status_assignment(""), "STATUS=");
}

// A probe that answers at once: WATCHDOG=1 about every interval, and nothing after stop().
static void pings_while_the_probe_answers(void**) {
  Listener l(false);
  auto n = sd::Notifier::open(l.address, 100ms);
  std::atomic<int> probes{0};
  sd::Watchdog::Options o;
  o.ping_interval = 50ms;
  sd::Watchdog w(*n, [&](const sd::Watchdog::Reply& r) {
    probes++;
    std::thread([r] { r.hop(); r.done(); }).detach();  // from another thread, like the agent's
  }, nullptr, o);
  auto t0 = clock_type::now();
  w.start();
  auto first = l.next(1000ms);
  assert_str(first.value_or("<none>"), "WATCHDOG=1");
  assert_true(clock_type::now() - t0 < 40ms);  // the first ping does not wait an interval
  auto got = l.collect(520ms);
  w.stop();
  // About 10 in 520 ms; generous bounds for a loaded CI machine.
  assert_true(count(got, "WATCHDOG=1") == got.size());
  if (got.size() < 6 || got.size() > 12) fail_msg("%zu pings in 520 ms at a 50 ms interval", got.size());
  assert_true(w.pings() >= 7);
  assert_int_equal(w.stalls(), 0);
  // Stopped: no more.
  assert_false(l.next(150ms).has_value());
}

// A probe that does not come back (a wedged thread): no ping, a warning in STATUS naming the hop
// that did not answer; once it answers, pinging resumes at once.
static void wedged_probe_withholds_pings(void**) {
  Listener l(true);
  auto n = sd::Notifier::open(l.address, 200ms);
  std::mutex mu;
  std::vector<sd::Watchdog::Reply> held;
  std::atomic<bool> wedged{false};
  sd::Watchdog::Options o;
  o.ping_interval = 100ms;
  o.status_poll = 20ms;
  o.hop_names = {"the RpcService thread", "the io thread (HAL)"};
  sd::Watchdog w(*n, [&](const sd::Watchdog::Reply& r) {
    r.hop();  // the first thread answers
    if (wedged) {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(r);  // the second does not
    } else {
      r.done();
    }
  }, [] { return std::string("all well"); }, o);
  w.start();
  auto start = l.collect(250ms);
  assert_true(count(start, "WATCHDOG=1") >= 2);
  assert_int_equal(count(start, "STATUS=all well"), 1);  // once: unchanged text is not resent

  wedged = true;
  auto during = l.collect(600ms);
  // At most the ping of a probe issued before the wedge; then none.
  size_t pings_during = count(during, "WATCHDOG=1");
  assert_true(pings_during <= 1);
  bool warned = false;
  for (const auto& d : during)
    if (d.rfind("STATUS=unresponsive: the io thread (HAL) has not answered", 0) == 0) warned = true;
  if (!warned) fail_msg("no 'unresponsive' STATUS naming the io thread among %zu datagrams", during.size());
  assert_int_equal(w.stalls(), 1);  // once per stall, not per interval
  {
    std::lock_guard<std::mutex> lock(mu);
    assert_int_equal(held.size(), 1);  // no new probes pile up while one is outstanding
  }

  // The thread comes back: the ping goes out at once, the status is restored, pings continue.
  wedged = false;
  auto t0 = clock_type::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    held.front().done();
    held.front().done();  // a second call is ignored
  }
  assert_str(l.next(500ms).value_or("<none>"), "WATCHDOG=1");
  assert_true(clock_type::now() - t0 < 50ms);
  auto after = l.collect(350ms);
  assert_int_equal(count(after, "STATUS=all well"), 1);
  assert_true(count(after, "WATCHDOG=1") >= 2);
  w.stop();
}

// Replies that outlive their probe or the Watchdog do nothing.
static void stale_replies_are_harmless(void**) {
  Listener l(false);
  auto n = sd::Notifier::open(l.address, 100ms);
  std::vector<sd::Watchdog::Reply> all;
  std::mutex mu;
  {
    sd::Watchdog::Options o;
    o.ping_interval = 30ms;
    sd::Watchdog w(*n, [&](const sd::Watchdog::Reply& r) {
      std::lock_guard<std::mutex> lock(mu);
      all.push_back(r);
      if (all.size() == 1) return;  // the first probe never answers...
      r.done();
    }, nullptr, o);
    w.start();
    // ...so no ping (only the "unresponsive" STATUS), and no second probe, until it does.
    auto waiting = l.collect(150ms);
    assert_int_equal(count(waiting, "WATCHDOG=1"), 0);
    assert_int_equal(waiting.size(), 1);
    assert_int_equal(waiting[0].rfind("STATUS=unresponsive: the agent has not answered", 0), 0);
    {
      std::lock_guard<std::mutex> lock(mu);
      assert_int_equal(all.size(), 1);
      all[0].done();
    }
    assert_str(l.next(500ms).value_or("<none>"), "WATCHDOG=1");
    auto got = l.collect(100ms);
    assert_true(count(got, "WATCHDOG=1") >= 1);
    // An old probe's late answer does not count for the current one.
    size_t pings = w.pings();
    {
      std::lock_guard<std::mutex> lock(mu);
      all[0].done();
      all[0].hop();
    }
    assert_true(w.pings() - pings <= 1);
    w.stop();
  }
  // The Watchdog is gone: calling its replies is still safe.
  for (auto& r : all) {
    r.hop();
    r.done();
  }
  sd::Watchdog::Reply empty;
  empty.hop();
  empty.done();
}

// The status callback is polled and only a changed text is sent; without a watchdog no probe runs.
static void status_only(void**) {
  Listener l(false);
  auto n = sd::Notifier::open(l.address);  // no watchdog
  std::mutex mu;
  std::string text = "one";
  std::atomic<int> probes{0};
  sd::Watchdog::Options o;
  o.status_poll = 20ms;
  sd::Watchdog w(*n, [&](const sd::Watchdog::Reply& r) { probes++; r.done(); }, [&] {
    std::lock_guard<std::mutex> lock(mu);
    return text;
  }, o);
  w.start();
  assert_str(l.next().value_or("<none>"), "STATUS=one");
  assert_false(l.next(100ms).has_value());
  {
    std::lock_guard<std::mutex> lock(mu);
    text = "two\nlines";
  }
  assert_str(l.next().value_or("<none>"), "STATUS=two lines");
  w.stop();
  assert_int_equal(probes.load(), 0);
  assert_int_equal(w.pings(), 0);
}

// A disabled notifier starts nothing.
static void disabled_does_nothing(void**) {
  sd::Notifier off;
  std::atomic<int> calls{0};
  sd::Watchdog::Options o;
  o.ping_interval = 10ms;
  sd::Watchdog w(off, [&](const sd::Watchdog::Reply& r) { calls++; r.done(); }, [&] { calls++; return std::string(); }, o);
  w.start();
  std::this_thread::sleep_for(50ms);
  w.stop();
  assert_int_equal(calls.load(), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(path_socket),
      cmocka_unit_test(abstract_socket),
      cmocka_unit_test(bad_addresses),
      cmocka_unit_test(environment),
      cmocka_unit_test(status_is_one_line),
      cmocka_unit_test(pings_while_the_probe_answers),
      cmocka_unit_test(wedged_probe_withholds_pings),
      cmocka_unit_test(stale_replies_are_harmless),
      cmocka_unit_test(status_only),
      cmocka_unit_test(disabled_does_nothing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
