// The LaneSwap SyncClient against the stand-in server (tests/standins/laneswap_server.py) over real
// sockets: registration, headers on every request, heartbeats and their parsed records (both
// timestamp spellings), reads, re-registration after a server restart, the status mapping, the
// typed errors of every fault (500, garbage, hang, refused), progress on a server without and with
// the progress API, and close(). Each test starts its own stand-in in setup and kills it in
// teardown (cmocka's failures longjmp past destructors); the stand-in also dies with this process
// (PR_SET_PDEATHSIG).
//
//   test_laneswap_client PYTHON3 laneswap_server.py
#include "support/cmocka.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "upstream/laneswap/client.hpp"

using namespace rig;
using namespace rig::laneswap;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string g_python, g_standin_py;

// The stand-in, for the lifetime of the object: "--timestamps mixed" always, so that a heartbeat
// answer carries both the Z and the +00:00 spelling.
class Standin {
 public:
  explicit Standin(std::vector<std::string> options = {}) {
    std::vector<std::string> args = {g_python, g_standin_py, "--timestamps", "mixed"};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // if this test dies, so does the stand-in
      if (getppid() != parent) _exit(1);
      dup2(out[1], 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    char c;
    while (pid_ > 0 && line.find('\n') == std::string::npos && poll(&p, 1, 10000) == 1 && read(out[0], &c, 1) == 1) line += c;
    close(out[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = static_cast<uint16_t>(std::atoi(line.c_str() + 5));
  }
  ~Standin() { stop(); }
  Standin(const Standin&) = delete;
  Standin& operator=(const Standin&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::unique_ptr<Standin> g_standin;
std::unique_ptr<SyncClient> g_client;

int start_standin(void**) {
  g_standin = std::make_unique<Standin>();
  if (g_standin->port() == 0) {
    print_error("the stand-in did not print its port\n");
    g_standin.reset();
    return -1;
  }
  return 0;
}

int stop_all(void**) {
  g_client.reset();
  g_standin.reset();
  return 0;
}

// The stand-in's /_test/ control API, over a plain blocking socket (not the code under test).
struct Reply {
  int status = 0;
  json body;
};

Reply control(const std::string& method, const std::string& path, const json& body = json()) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(g_standin->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    fail_msg("control %s %s: cannot connect: %s", method.c_str(), path.c_str(), strerror(errno));
  }
  const std::string payload = body.is_null() ? "" : body.dump();
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                          "Content-Type: application/json\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n\r\n" +
                          payload;
  bool sent = send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  std::string in;
  char buf[65536];
  ssize_t n;
  while (sent && (n = recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t end = in.find("\r\n\r\n");
  if (!sent || in.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    fail_msg("control %s %s: no answer (%s)", method.c_str(), path.c_str(), in.substr(0, 200).c_str());
  Reply r;
  r.status = std::atoi(in.c_str() + 9);
  r.body = json::parse(in.substr(end + 4), nullptr, false);
  if (r.body.is_discarded()) fail_msg("control %s %s: not JSON: %s", method.c_str(), path.c_str(), in.c_str());
  if (r.status != 200) fail_msg("control %s %s: HTTP %d %s", method.c_str(), path.c_str(), r.status, r.body.dump().c_str());
  return r;
}

json requests(const std::string& prefix = "") {
  return control("GET", "/_test/requests" + (prefix.empty() ? "" : "?path=" + prefix)).body;
}
void clear_log() { control("POST", "/_test/reset", json::object()); }
void fault(const json& f) { control("POST", "/_test/fault", f); }
void configure(const json& c) { control("POST", "/_test/config", c); }

const net::Headers kHeaders = {{"Authorization", "Bearer t0k3n"}, {"X-Device-Id", "dev-07"}};

ClientOptions options() {
  ClientOptions o;
  o.api_url = g_standin->url();
  o.service_name = "rigagent-rig07";
  o.service_id = "rig07";
  o.headers = kHeaders;
  o.connect_timeout = 3000ms;
  o.request_timeout = 5000ms;
  return o;
}

SyncClient& make_client(ClientOptions o = options()) {
  g_client.reset();
  auto c = SyncClient::create(std::move(o));
  if (!c) fail_msg("SyncClient::create: %s", c.error().message.c_str());
  g_client = std::move(*c);
  return *g_client;
}

template <typename T>
T ok(Expected<T> r, const char* what) {
  if (!r) fail_msg("%s: %s", what, r.error().message.c_str());
  return std::move(*r);
}

template <typename T>
void expect_error(const Expected<T>& r, Errc code, std::initializer_list<std::string> parts) {
  if (r.has_value()) fail_msg("expected %s, got a value", to_string(code));
  if (r.error().code != static_cast<int>(code))
    fail_msg("expected %s, got %s (%d): %s", to_string(code), to_string(errc(r.error())), r.error().code,
             r.error().message.c_str());
  for (const auto& p : parts)
    if (r.error().message.find(p) == std::string::npos)
      fail_msg("'%s' does not contain '%s'", r.error().message.c_str(), p.c_str());
  print_message("  %s\n", r.error().message.c_str());  // the messages are part of the interface
}

std::string str(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) fail_msg("no string %s in %s", key, j.dump().c_str());
  return j[key].get<std::string>();
}

std::string where() { return g_standin->url(); }

long long ms_since(Clock::time_point t0) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

}  // namespace

// §6.1 and §1: connect registers with the configured id, name and metadata; the configured headers
// go out on every request of every kind, with the exact paths and bodies.
static void connect_sends_id_metadata_and_headers(void**) {
  auto& c = make_client();
  assert_str(ok(c.connect(json{{"version", "1.4.0"}}), "connect"), "rig07");
  assert_str(c.async().service_id(), "rig07");
  ok(c.send_heartbeat(Status::busy, std::string("acquiring"), json{{"session", "s-42"}}), "heartbeat");
  ok(c.get_service(""), "get_service");
  ok(c.get_all_services(), "get_all_services");
  assert_str(str(ok(c.health(), "health"), "service"), "LaneSwap API");

  const json log = requests();
  assert_int_equal(log.size(), 5);
  const std::pair<const char*, const char*> expected[] = {
      {"POST", "/api/services"},
      {"POST", "/api/services/rig07/heartbeat"},
      {"GET", "/api/services/rig07"},
      {"GET", "/api/services"},
      {"GET", "/api/health"},
  };
  for (size_t i = 0; i < log.size(); ++i) {
    const json& r = log[i];
    assert_str(str(r, "method"), expected[i].first);
    assert_str(str(r, "target"), expected[i].second);
    const json& h = r["headers"];
    if (str(h, "Authorization") != "Bearer t0k3n" || str(h, "X-Device-Id") != "dev-07")
      fail_msg("request %zu lacks the configured headers: %s", i, h.dump().c_str());
    assert_str(str(h, "User-Agent"), "rigagent-laneswap");
    assert_str(str(h, "Accept"), "application/json");
    if (r["method"] == "POST") assert_str(str(h, "Content-Type"), "application/json");
    else assert_false(h.contains("Content-Type"));
    assert_int_equal(r["status"].get<int>(), 200);
  }
  assert_str(str(log[0], "body"), R"({"service_id":"rig07","service_name":"rigagent-rig07","metadata":{"version":"1.4.0"}})");
  assert_str(str(log[1], "body"),
             R"({"status":"busy","message":"acquiring","metadata":{"session":"s-42","lifecycle":"running"}})");
  assert_str(str(log[2], "body"), "");
  // One keep-alive connection for all of them.
  for (const auto& r : log) assert_int_equal(r["conn"].get<int>(), log[0]["conn"].get<int>());

  // The server's record: the name and metadata registered, then merged.
  const json state = control("GET", "/_test/state").body;
  assert_str(state["services"]["rig07"]["name"].get<std::string>(), "rigagent-rig07");
  assert_str(state["services"]["rig07"]["metadata"].dump(), R"({"version":"1.4.0","session":"s-42","lifecycle":"running"})");
}

// §1: a base URL that already ends in /api (with a trailing slash) gets no second /api; no
// service_id configured: the server's UUID is taken and used.
static void base_url_and_generated_id(void**) {
  ClientOptions o = options();
  o.api_url = g_standin->url() + "/api/";
  o.service_id.clear();
  auto& c = make_client(o);
  const std::string id = ok(c.connect(), "connect");
  assert_int_equal(id.size(), 36);  // a UUIDv4
  assert_str(c.async().service_id(), id);
  ok(c.send_heartbeat(), "heartbeat");
  const json log = requests();
  assert_int_equal(log.size(), 2);
  assert_str(str(log[0], "target"), "/api/services");
  assert_str(str(log[0], "body"), R"({"service_name":"rigagent-rig07","metadata":{}})");
  assert_str(str(log[1], "target"), "/api/services/" + id + "/heartbeat");
}

// §2.2, §4.1, §4.3: the heartbeat's answer as a ServiceInfo; last_heartbeat ("...Z") and the
// event's timestamp ("...+00:00") are the same instant.
static void heartbeat_returns_service_info(void**) {
  auto& c = make_client();
  ok(c.connect(json{{"version", "1.4.0"}}), "connect");
  const auto before = std::chrono::system_clock::now();
  const ServiceInfo s = ok(c.send_heartbeat(Status::busy, std::string("acquiring"), json{{"session", "s-42"}}), "heartbeat");
  const auto after = std::chrono::system_clock::now();
  assert_str(s.id, "rig07");
  assert_str(s.name, "rigagent-rig07");
  assert_str(s.status, "busy");
  assert_true(s.message.has_value());
  assert_str(*s.message, "acquiring");
  assert_str(s.metadata.dump(), R"({"version":"1.4.0","session":"s-42","lifecycle":"running"})");
  assert_true(s.created_at.has_value());
  assert_true(s.last_heartbeat.has_value());
  assert_true(*s.last_heartbeat >= before - 1s && *s.last_heartbeat <= after + 1s);
  assert_true(*s.created_at <= *s.last_heartbeat);
  assert_int_equal(s.events.size(), 1);
  assert_str(s.events[0].type, "heartbeat");
  assert_str(s.events[0].status, "busy");
  assert_str(s.events[0].message, "acquiring");
  // Both spellings on the wire, one instant once parsed.
  const std::string lh = s.raw["last_heartbeat"].get<std::string>(), ev = s.raw["events"][0]["timestamp"].get<std::string>();
  if (lh.back() != 'Z' || ev.size() < 6 || ev.substr(ev.size() - 6) != "+00:00")
    fail_msg("expected Z and +00:00 forms: %s, %s", lh.c_str(), ev.c_str());
  assert_true(s.events[0].timestamp.has_value());
  assert_true(*s.events[0].timestamp == *s.last_heartbeat);
  assert_false(s.status_message.has_value());  // list view only

  // A second one: no message this time, so the server stores null and says "Status updated to".
  const ServiceInfo t = ok(c.send_heartbeat(Status::warning), "heartbeat 2");
  assert_str(t.status, "warning");
  assert_false(t.message.has_value());
  assert_int_equal(t.events.size(), 2);
  assert_str(t.events[1].message, "Status updated to warning");
  assert_true(*t.last_heartbeat >= *s.last_heartbeat);
}

// §2.3, §2.4: one service, all services with the summary, and 404 for an unknown id.
static void reads_and_summary(void**) {
  auto& c = make_client();
  ok(c.connect(json{{"version", "1.4.0"}}), "connect");
  const ServiceInfo beat = ok(c.send_heartbeat(Status::busy, std::string("acquiring")), "heartbeat");
  ClientOptions o8 = options();
  o8.service_id = "rig08";
  o8.service_name = "rigagent-rig08";
  auto other = ok(SyncClient::create(o8), "create rig08");
  assert_str(ok(other->connect(), "connect rig08"), "rig08");
  other.reset();

  const ServiceInfo one = ok(c.get_service("rig08"), "get_service rig08");
  assert_str(one.id, "rig08");
  assert_str(one.name, "rigagent-rig08");
  assert_str(one.status, "unknown");
  assert_false(one.message.has_value());
  assert_false(one.last_heartbeat.has_value());
  assert_true(one.created_at.has_value());
  assert_true(one.events.empty());
  const ServiceInfo mine = ok(c.get_service(""), "get_service own");
  assert_str(mine.id, "rig07");
  assert_true(*mine.last_heartbeat == *beat.last_heartbeat);

  const ServiceList l = ok(c.get_all_services(), "get_all_services");
  assert_int_equal(l.services.size(), 2);
  assert_int_equal(l.total, 2);
  assert_int_equal(l.status_counts.size(), 7);
  for (const char* s : {"healthy", "warning", "degraded", "error", "stale"}) assert_int_equal(l.status_counts.at(s), 0);
  assert_int_equal(l.status_counts.at("busy"), 1);
  assert_int_equal(l.status_counts.at("unknown"), 1);
  const ServiceInfo& a = l.services.at("rig07");
  assert_str(a.status, "busy");
  assert_str(*a.status_message, "acquiring");
  assert_true(a.raw.contains("updated_at") && a.raw.contains("last_message"));  // raw records
  const std::string raw_lh = a.raw["last_heartbeat"].get<std::string>();
  assert_str(raw_lh.substr(raw_lh.size() - 6), "+00:00");  // the other spelling than the heartbeat's
  assert_true(*a.last_heartbeat == *beat.last_heartbeat);
  const ServiceInfo& b = l.services.at("rig08");
  assert_str(b.status, "unknown");
  assert_str(*b.status_message, "Service registered");
  assert_false(b.last_heartbeat.has_value());

  expect_error(c.get_service("nope"), Errc::service_not_found, {where(), "Service not found: nope"});
  expect_error(c.get_service("a b"), Errc::service_not_found, {"Service not found: a b"});
  const json log = requests("/api/services/");
  assert_str(str(log.back(), "target"), "/api/services/a%20b");
  assert_int_equal(log.back()["status"].get<int>(), 404);
}

// §6.4: after a server restart a heartbeat gets 404, re-registers under the same id with the full
// metadata, and is sent once more: the caller sees one successful heartbeat.
static void reregisters_after_restart(void**) {
  auto& c = make_client();
  ok(c.connect(json{{"version", "1.4.0"}}), "connect");
  ok(c.send_heartbeat(), "heartbeat");
  control("POST", "/_test/reset", json{{"state", true}});
  const ServiceInfo s = ok(c.send_heartbeat(Status::busy, std::string("acquiring"), json{{"session", "s-42"}}), "heartbeat after restart");
  assert_str(s.id, "rig07");
  assert_str(s.status, "busy");
  assert_str(s.metadata.dump(), R"({"version":"1.4.0","session":"s-42","lifecycle":"running"})");
  assert_int_equal(s.events.size(), 1);  // a new record
  const json log = requests();
  assert_int_equal(log.size(), 3);
  assert_str(str(log[0], "target"), "/api/services/rig07/heartbeat");
  assert_int_equal(log[0]["status"].get<int>(), 404);
  assert_str(str(log[1], "target"), "/api/services");
  assert_str(str(log[1], "body"), R"({"service_id":"rig07","service_name":"rigagent-rig07","metadata":{"version":"1.4.0","session":"s-42"}})");
  assert_int_equal(log[1]["status"].get<int>(), 200);
  assert_str(str(log[2], "target"), "/api/services/rig07/heartbeat");
  assert_int_equal(log[2]["status"].get<int>(), 200);
  for (const auto& r : log) assert_str(str(r["headers"], "Authorization"), "Bearer t0k3n");

  // Re-registration is tried once: a server that keeps forgetting gives ServiceNotFound.
  fault(json{{"mode", "status"}, {"status", 404}, {"body", {{"detail", "Service not found: rig07"}}}, {"match", "/heartbeat"}, {"count", 2}});
  clear_log();
  expect_error(c.send_heartbeat(), Errc::service_not_found, {"Service not found: rig07"});
  assert_int_equal(requests().size(), 3);
}

// §3: strict mapping refuses IDLE and SHUTDOWN locally, sending nothing.
static void strict_status_sends_nothing(void**) {
  ClientOptions o = options();
  o.strict_status = true;
  auto& c = make_client(o);
  ok(c.connect(), "connect");
  clear_log();
  expect_error(c.send_heartbeat(Status::idle), Errc::unsupported_status, {"IDLE"});
  expect_error(c.send_heartbeat(Status::shutdown, std::string("bye")), Errc::unsupported_status, {"SHUTDOWN"});
  assert_int_equal(requests().size(), 0);
  assert_str(ok(c.send_heartbeat(Status::degraded), "degraded").status, "degraded");
  assert_int_equal(requests().size(), 1);
}

// §3: IDLE goes out as healthy "idle" with lifecycle idle; SHUTDOWN as unknown "shutting down";
// anything else resets the lifecycle to running.
static void idle_and_shutdown_mapping(void**) {
  auto& c = make_client();
  ok(c.connect(json{{"version", "1.4.0"}}), "connect");
  clear_log();
  const ServiceInfo idle = ok(c.send_heartbeat(Status::idle), "idle");
  assert_str(idle.status, "healthy");
  assert_str(*idle.message, "idle");
  assert_str(idle.metadata.dump(), R"({"version":"1.4.0","lifecycle":"idle"})");
  const ServiceInfo down = ok(c.send_heartbeat(Status::shutdown), "shutdown");
  assert_str(down.status, "unknown");
  assert_str(*down.message, "shutting down");
  assert_str(down.metadata["lifecycle"].get<std::string>(), "shutdown");
  const ServiceInfo back = ok(c.send_heartbeat(Status::healthy), "healthy");
  assert_str(back.status, "healthy");
  assert_false(back.message.has_value());
  assert_str(back.metadata.dump(), R"({"version":"1.4.0","lifecycle":"running"})");
  const json log = requests();
  assert_int_equal(log.size(), 3);
  assert_str(str(log[0], "body"), R"({"status":"healthy","message":"idle","metadata":{"lifecycle":"idle"}})");
  assert_str(str(log[1], "body"), R"({"status":"unknown","message":"shutting down","metadata":{"lifecycle":"shutdown"}})");
  assert_str(str(log[2], "body"), R"({"status":"healthy","metadata":{"lifecycle":"running"}})");
}

// §3: a server that refuses a status: InvalidStatus naming what it accepts, sent once, no retry.
static void refused_status(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  configure(json{{"refuse_status", {"busy"}}});
  clear_log();
  auto r = c.send_heartbeat(Status::busy);
  expect_error(r, Errc::invalid_status, {where(), "body.status", "(the server accepts: healthy, warning, degraded, error, stale, unknown)"});
  assert_true(r.error().message.find("accepts: healthy, warning, degraded, error, busy") == std::string::npos);
  assert_int_equal(requests().size(), 1);
  assert_str(ok(c.send_heartbeat(Status::healthy), "healthy").status, "healthy");
}

// §5: 5xx is ServerError with the detail; the next call works.
static void server_errors(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  fault(json{{"mode", "500"}});
  expect_error(c.send_heartbeat(), Errc::server_error, {where(), "HTTP 500: Internal server error"});
  fault(json{{"mode", "status"}, {"status", 503}, {"body", {{"detail", "maintenance"}}}});
  expect_error(c.get_all_services(), Errc::server_error, {where(), "HTTP 503: maintenance"});
  fault(json{{"mode", "500"}, {"match", "/api/services"}, {"method", "POST"}});
  expect_error(c.connect(), Errc::server_error, {"HTTP 500"});
  assert_str(ok(c.send_heartbeat(), "heartbeat").status, "healthy");
}

// A reply that is not HTTP: whatever the HTTP layer calls it, named with the server; then the
// client reconnects and works.
static void garbage_reply(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  fault(json{{"mode", "garbage"}});
  auto r = c.send_heartbeat();
  if (r) fail_msg("a garbage reply was accepted");
  const Errc e = errc(r.error());
  if (e != Errc::bad_response && e != Errc::unreachable)
    fail_msg("expected BadResponse or Unreachable, got %s", r.error().message.c_str());
  if (r.error().message.find(where()) == std::string::npos)
    fail_msg("'%s' does not name %s", r.error().message.c_str(), where().c_str());
  print_message("  %s\n", r.error().message.c_str());
  assert_str(ok(c.send_heartbeat(), "heartbeat").status, "healthy");
  // A connection closed with no answer at all (FIN, then RST) is the same kind of failure, also
  // when the HTTP layer sends the request once more on a new connection.
  for (const char* mode : {"close", "reset"}) {
    fault(json{{"mode", mode}, {"count", -1}});
    expect_error(c.send_heartbeat(), Errc::unreachable, {where()});
  }
  fault(json{{"mode", "none"}});
  assert_str(ok(c.send_heartbeat(), "heartbeat").status, "healthy");
}

// A server that never answers: Timeout after the per-call timeout, not later; then it works.
static void hang_times_out(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  fault(json{{"mode", "hang"}});
  const auto t0 = Clock::now();
  expect_error(c.send_heartbeat(Status::healthy, {}, json::object(), 300ms), Errc::timeout, {where(), "300 ms"});
  const long long took = ms_since(t0);
  print_message("  timed out after %lld ms\n", took);
  if (took < 250 || took >= 2000) fail_msg("the 300 ms timeout took %lld ms", took);
  assert_str(ok(c.send_heartbeat(), "heartbeat after the hang").status, "healthy");
  assert_true(requests().back()["fault"].is_null());
}

// Nothing listening: Unreachable, at once.
static void connection_refused(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  g_standin->stop();
  const auto t0 = Clock::now();
  expect_error(c.send_heartbeat(), Errc::unreachable, {where()});
  expect_error(c.connect(), Errc::unreachable, {where()});
  if (ms_since(t0) >= 2000) fail_msg("refused connections took %lld ms", ms_since(t0));
}

// §8 on the reference server: ProgressNotSupported with the exact text, remembered (no second
// request) until a reconnect; heartbeats are not affected.
static void progress_not_supported(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  clear_log();
  auto r = c.start_progress("post-acq", 5, std::string("session s-42"), json{{"a", 1}});
  expect_error(r, Errc::progress_not_supported, {});
  assert_str(r.error().message, "ProgressNotSupported: server " + where() + " has no /api/progress endpoints (HTTP 404)");
  json log = requests();
  assert_int_equal(log.size(), 1);
  assert_str(str(log[0], "target"), "/api/progress");
  assert_str(str(log[0], "body"),
             R"({"service_id":"rig07","task_name":"post-acq","total_steps":5,"description":"session s-42","metadata":{"a":1}})");
  assert_int_equal(log[0]["status"].get<int>(), 404);

  const auto t0 = Clock::now();
  expect_error(c.start_progress("post-acq", 5), Errc::progress_not_supported, {where(), "remembered"});
  expect_error(c.update_progress("task-1", 1), Errc::progress_not_supported, {"remembered"});
  expect_error(c.complete_progress("task-1"), Errc::progress_not_supported, {"remembered"});
  assert_true(ms_since(t0) < 500);
  assert_int_equal(requests().size(), 1);
  ok(c.send_heartbeat(), "heartbeat");
  assert_int_equal(requests().size(), 2);

  // The server gains the API: still remembered until a reconnect, then used.
  configure(json{{"progress", true}});
  expect_error(c.start_progress("post-acq", 5), Errc::progress_not_supported, {"remembered"});
  assert_int_equal(requests().size(), 2);
  ok(c.connect(), "reconnect");
  assert_false(ok(c.start_progress("post-acq", 5), "start after reconnect").empty());
}

// §8: the re-check interval ends the memory too.
static void progress_recheck(void**) {
  ClientOptions o = options();
  o.progress_recheck = 300ms;
  auto& c = make_client(o);
  ok(c.connect(), "connect");
  clear_log();
  expect_error(c.start_progress("t", 1), Errc::progress_not_supported, {"(HTTP 404)"});
  expect_error(c.start_progress("t", 1), Errc::progress_not_supported, {"remembered"});
  assert_int_equal(requests("/api/progress").size(), 1);
  std::this_thread::sleep_for(400ms);
  auto again = c.start_progress("t", 1);
  expect_error(again, Errc::progress_not_supported, {});
  assert_true(again.error().message.find("remembered") == std::string::npos);
  assert_int_equal(requests("/api/progress").size(), 2);
}

// §8 on a server with the progress API: 201 and a task id, update, complete, unknown tasks.
static void progress_mode(void**) {
  configure(json{{"progress", true}});
  auto& c = make_client();
  ok(c.connect(), "connect");
  clear_log();
  const std::string task = ok(c.start_progress("post-acq", 5, std::string("session s-42"), json{{"a", 1}}), "start");
  assert_false(task.empty());
  const json up = ok(c.update_progress(task, 2, "running", std::string("half")), "update");
  assert_int_equal(up["current_step"].get<int>(), 2);
  assert_str(str(up, "status"), "running");
  const json done = ok(c.complete_progress(task), "complete");
  assert_str(str(done, "status"), "completed");

  const json log = requests();
  assert_int_equal(log.size(), 3);
  assert_int_equal(log[0]["status"].get<int>(), 201);
  assert_str(str(log[0], "body"),
             R"({"service_id":"rig07","task_name":"post-acq","total_steps":5,"description":"session s-42","metadata":{"a":1}})");
  assert_str(str(log[1], "method"), "PUT");
  assert_str(str(log[1], "target"), "/api/progress/" + task);
  assert_str(str(log[1], "body"), R"({"service_id":"rig07","task_id":")" + task +
                                      R"(","current_step":2,"status":"running","message":"half","metadata":{}})");
  assert_str(str(log[2], "target"), "/api/progress/" + task + "/complete");
  assert_str(str(log[2], "body"),
             R"({"service_id":"rig07","task_id":")" + task + R"(","status":"completed","message":null,"metadata":{}})");
  for (const auto& r : log) assert_str(str(r["headers"], "X-Device-Id"), "dev-07");

  const json tasks = control("GET", "/_test/progress").body;
  assert_int_equal(tasks.size(), 1);
  assert_str(str(tasks[0], "status"), "completed");
  assert_int_equal(tasks[0]["current_step"].get<int>(), 2);
  assert_int_equal(tasks[0]["history"].size(), 3);

  expect_error(c.update_progress("no-such-task", 1), Errc::progress_task_not_found, {where(), "Task not found: no-such-task"});
  expect_error(c.complete_progress("no-such-task", "failed"), Errc::progress_task_not_found, {"Task not found: no-such-task"});
  // Not mistaken for a server without the API.
  assert_false(ok(c.start_progress("second", 1), "start after a missing task").empty());
  // Refused locally: nothing sent.
  const size_t n = requests().size();
  expect_error(c.start_progress("", 1), Errc::invalid_argument, {});
  expect_error(c.update_progress(task, -1), Errc::invalid_argument, {});
  expect_error(c.complete_progress(task, ""), Errc::invalid_argument, {});
  assert_int_equal(requests().size(), n);
}

// close(): later calls fail at once; a call in flight (on a hanging server) fails at once too.
static void close_then_call(void**) {
  auto& c = make_client();
  ok(c.connect(), "connect");
  c.close();
  auto t0 = Clock::now();
  expect_error(c.send_heartbeat(), Errc::not_connected, {"closed"});
  expect_error(c.get_service(""), Errc::not_connected, {"closed"});
  c.close();  // again: harmless
  assert_true(ms_since(t0) < 500);

  auto& d = make_client();
  ok(d.connect(), "connect");
  fault(json{{"mode", "hang"}});
  clear_log();
  std::optional<Expected<ServiceInfo>> result;
  std::thread caller([&] { result.emplace(d.send_heartbeat(Status::healthy, {}, json::object(), 10000ms)); });
  const auto deadline = Clock::now() + 5s;
  while (requests().empty() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  t0 = Clock::now();
  d.close();
  caller.join();
  const long long took = ms_since(t0);
  if (took >= 2000) fail_msg("close() with a call in flight took %lld ms", took);
  assert_true(result.has_value());
  expect_error(*result, Errc::unreachable, {where(), "cancelled"});
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PYTHON3 laneswap_server.py\n", argv[0]);
    return 2;
  }
  g_python = argv[1];
  g_standin_py = argv[2];
  signal(SIGPIPE, SIG_IGN);
#define T(name) cmocka_unit_test_setup_teardown(name, start_standin, stop_all)
  const struct CMUnitTest tests[] = {
      T(connect_sends_id_metadata_and_headers), T(base_url_and_generated_id), T(heartbeat_returns_service_info),
      T(reads_and_summary),                     T(reregisters_after_restart), T(strict_status_sends_nothing),
      T(idle_and_shutdown_mapping),             T(refused_status),            T(server_errors),
      T(garbage_reply),                         T(hang_times_out),            T(connection_refused),
      T(progress_not_supported),                T(progress_recheck),          T(progress_mode),
      T(close_then_call),
  };
#undef T
  return cmocka_run_group_tests_name("laneswap_client", tests, nullptr, nullptr);
}
