// The Serf RPC client (SyncClient, and AsyncClient through it) against real Serf agents on
// loopback (serf-rpc.md §15): auth, members and their filters, events, tags, several streams on
// one connection, the monitor, queries and the three respond errors, join/force-leave/leave, the
// keyring on an encrypted pair, stats and coordinates, 8 threads on one client, reconnect after
// the agent restarts; then a fake agent in a thread for what a real one never sends (garbage,
// malformed headers, silence, late and stray replies, the duplicate "Authentication required",
// the agent's phantom query records, an oversized object).
//
// One cluster for the whole run: a (plain, role=test), b (rpc_auth, joined to a), c (joined to a).
// Tests that need more start their own agents. A failing test prints the agents' log tails.
//
//   test_serf_client /usr/bin/serf
#include "support/cmocka.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <variant>

#include <msgpack.hpp>

#include "support/serf_agents.hpp"
#include "upstream/serf/sync_client.hpp"

using namespace rig;
using namespace rig::serf;
using namespace rig::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kAuth = "s3cret";
std::string g_serf;
std::unique_ptr<SerfCluster> g_cluster;  // a, b, c: for the whole run
std::unique_ptr<SerfCluster> g_local;    // agents of one test
// Everything a test creates lives here, so that a failed assertion (a longjmp past destructors)
// still stops and joins it, in this order, in teardown.
std::vector<std::thread> g_threads;
std::vector<std::unique_ptr<StreamSubscription>> g_streams;
std::vector<std::unique_ptr<MonitorSubscription>> g_monitors;
std::vector<std::unique_ptr<SyncClient>> g_clients;
struct FakeAgent;
std::vector<std::unique_ptr<FakeAgent>> g_fakes;
bool g_passed = false;

long long ms_since(Clock::time_point t0) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

template <typename F>
bool eventually(F f, std::chrono::milliseconds within, std::chrono::milliseconds step = 50ms) {
  const auto end = Clock::now() + within;
  for (;;) {
    if (f()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(step);
  }
}

const char* code_name(const Error& e) { return to_string(static_cast<Errc>(e.code)); }

template <typename T>
T ok(Expected<T> r, const char* what) {
  if (!r) fail_msg("%s: %s (%s)", what, r.error().message.c_str(), code_name(r.error()));
  return std::move(*r);
}
void ok(Expected<void> r, const char* what) {
  if (!r) fail_msg("%s: %s (%s)", what, r.error().message.c_str(), code_name(r.error()));
}

template <typename R>
const Error& expect_error(const R& r, std::initializer_list<Errc> codes, std::initializer_list<std::string> parts,
                          const char* what) {
  if (r.has_value()) fail_msg("%s: expected an error, got a value", what);
  bool match = false;
  for (Errc c : codes) match = match || r.error().code == static_cast<int>(c);
  if (!match) fail_msg("%s: unexpected code %s (%d): %s", what, code_name(r.error()), r.error().code, r.error().message.c_str());
  for (const auto& p : parts)
    if (r.error().message.find(p) == std::string::npos)
      fail_msg("%s: '%s' does not contain '%s'", what, r.error().message.c_str(), p.c_str());
  print_message("  %s -> %s: %s\n", what, code_name(r.error()), r.error().message.c_str());
  return r.error();
}
template <typename R>
const Error& expect_error(const R& r, Errc code, std::initializer_list<std::string> parts, const char* what) {
  return expect_error(r, {code}, parts, what);
}

SerfAgent& agent(const char* name) {
  SerfAgent* a = g_cluster ? g_cluster->find(name) : nullptr;
  if (!a && g_local) a = g_local->find(name);
  if (!a) fail_msg("no agent %s", name);
  return *a;
}

Options options(const std::string& address, const std::string& auth = "") {
  Options o;
  o.address = address;
  o.auth_key = auth;
  o.connect_timeout = 3000ms;
  o.request_timeout = 5000ms;
  o.slow_timeout = 15000ms;
  return o;
}
Options options(const SerfAgent& a, const std::string& auth = "") { return options(a.rpc_addr(), auth); }

SyncClient& keep(std::unique_ptr<SyncClient> c) {
  g_clients.push_back(std::move(c));
  return *g_clients.back();
}
SyncClient& client(const Options& o) { return keep(ok(SyncClient::connect(o), ("connect " + o.address).c_str())); }
SyncClient& client_a() { return client(options(agent("a"))); }
SyncClient& client_b() { return client(options(agent("b"), kAuth)); }

StreamSubscription& keep(std::unique_ptr<StreamSubscription> s) {
  g_streams.push_back(std::move(s));
  return *g_streams.back();
}
MonitorSubscription& keep(std::unique_ptr<MonitorSubscription> s) {
  g_monitors.push_back(std::move(s));
  return *g_monitors.back();
}
StreamSubscription& stream(SyncClient& c, const std::string& filter) {
  return keep(ok(c.stream(filter), ("stream " + filter).c_str()));
}

template <typename F>
void spawn(F f) {
  g_threads.emplace_back(std::move(f));
}

// Records of `s` until `enough(records)` or the deadline; then whatever else arrives within
// `settle` (to catch records that should not be there).
std::vector<StreamRecord> collect(StreamSubscription& s, const std::function<bool(const std::vector<StreamRecord>&)>& enough,
                                  std::chrono::milliseconds within, std::chrono::milliseconds settle = 0ms) {
  std::vector<StreamRecord> out;
  const auto end = Clock::now() + within;
  while (!enough(out) && Clock::now() < end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (auto r = s.next(std::max(left, 1ms))) out.push_back(std::move(*r));
  }
  const auto quiet_end = Clock::now() + settle;
  while (Clock::now() < quiet_end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(quiet_end - Clock::now());
    if (auto r = s.next(std::max(left, 1ms))) out.push_back(std::move(*r));
  }
  return out;
}

size_t count_type(const std::vector<StreamRecord>& rs, const std::string& type) {
  size_t n = 0;
  for (const auto& r : rs) n += type == record_type(r);
  return n;
}
const UserEvent* find_user(const std::vector<StreamRecord>& rs, const std::string& name, const std::string& payload) {
  for (const auto& r : rs)
    if (auto* u = std::get_if<UserEvent>(&r); u && u->name == name && u->payload == payload) return u;
  return nullptr;
}
std::string describe(const std::vector<StreamRecord>& rs) {
  std::string s;
  for (const auto& r : rs) {
    s += std::string(record_type(r));
    if (auto* u = std::get_if<UserEvent>(&r)) s += "(" + u->name + "," + u->payload + ")";
    if (auto* m = std::get_if<MemberEvent>(&r))
      for (const auto& mm : m->members) s += "(" + mm.name + ")";
    s += " ";
  }
  return s;
}

const Member* find_member(const std::vector<Member>& ms, const std::string& name) {
  for (const auto& m : ms)
    if (m.name == name) return &m;
  return nullptr;
}
std::set<std::string> names(const std::vector<Member>& ms) {
  std::set<std::string> s;
  for (const auto& m : ms) s.insert(m.name);
  return s;
}
std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

// --- a fake agent: a TCP server on 127.0.0.1 in a thread, running one script per connection ---

std::string pack_header(uint64_t seq, const std::string& error = "") {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(2);
  pk.pack(std::string("Error"));
  pk.pack(error);
  pk.pack(std::string("Seq"));
  pk.pack(seq);
  return std::string(b.data(), b.size());
}
std::string pack_members(const std::vector<std::string>& member_names) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(1);
  pk.pack(std::string("Members"));
  pk.pack_array(static_cast<uint32_t>(member_names.size()));
  for (const auto& n : member_names) {
    pk.pack_map(11);
    pk.pack(std::string("Addr"));
    const char ip[4] = {127, 0, 0, 1};
    pk.pack_bin(4);
    pk.pack_bin_body(ip, 4);
    pk.pack(std::string("DelegateCur")), pk.pack(5);
    pk.pack(std::string("DelegateMax")), pk.pack(5);
    pk.pack(std::string("DelegateMin")), pk.pack(2);
    pk.pack(std::string("Name")), pk.pack(n);
    pk.pack(std::string("Port")), pk.pack(7946);
    pk.pack(std::string("ProtocolCur")), pk.pack(2);
    pk.pack(std::string("ProtocolMax")), pk.pack(5);
    pk.pack(std::string("ProtocolMin")), pk.pack(1);
    pk.pack(std::string("Status")), pk.pack(std::string("alive"));
    pk.pack(std::string("Tags"));
    pk.pack_map(0);
  }
  return std::string(b.data(), b.size());
}
std::string pack_stats(const std::string& name) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(1);
  pk.pack(std::string("agent"));
  pk.pack_map(1);
  pk.pack(std::string("name"));
  pk.pack(name);
  return std::string(b.data(), b.size());
}

struct FakeRequest {
  std::string command;
  uint64_t seq = 0;
};

class FakeConn {
 public:
  FakeConn(int fd, const std::atomic<bool>& stop) : fd_(fd), stop_(stop) {}
  // The next request (header, and its body when the command has one), or nullopt on EOF, error
  // or timeout.
  std::optional<FakeRequest> read_request(std::chrono::milliseconds within = 5000ms) {
    static const std::set<std::string> no_body = {"members", "leave", "list-keys", "stats"};
    auto h = next_object(within);
    if (!h) return std::nullopt;
    FakeRequest r;
    try {
      const msgpack::object& o = h->get();
      if (o.type != msgpack::type::MAP) return std::nullopt;
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        const std::string key = kv.key.as<std::string>();
        if (key == "Command") r.command = kv.val.as<std::string>();
        if (key == "Seq") r.seq = kv.val.as<uint64_t>();
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (!no_body.count(r.command) && !next_object(within)) return std::nullopt;
    return r;
  }
  void send(const std::string& bytes) { (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  void reply(uint64_t seq, const std::string& error = "", const std::string& body = "") { send(pack_header(seq, error) + body); }
  // Answers the handshake; false when the first request is something else.
  bool handshake() {
    auto r = read_request();
    if (!r || r->command != "handshake") return false;
    reply(r->seq);
    return true;
  }
  // Waits until the client closes the connection (or the test ends).
  void wait_eof(std::chrono::milliseconds within = 10000ms) {
    while (next_object(within)) {
    }
  }
 private:
  std::optional<msgpack::object_handle> next_object(std::chrono::milliseconds within) {
    const auto end = Clock::now() + within;
    for (;;) {
      msgpack::object_handle h;
      try {
        if (up_.next(h)) return h;
      } catch (const std::exception&) {
        return std::nullopt;
      }
      if (stop_ || Clock::now() >= end) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      up_.reserve_buffer(4096);
      const ssize_t n = recv(fd_, up_.buffer(), 4096, 0);
      if (n <= 0) return std::nullopt;
      up_.buffer_consumed(static_cast<size_t>(n));
    }
  }
  int fd_;
  const std::atomic<bool>& stop_;
  msgpack::unpacker up_;
};

// Accepts one connection and runs `script` on it, then closes it. `problem` is set by scripts
// that saw something unexpected (the script thread must not call cmocka's assertions).
struct FakeAgent {
  using Script = std::function<void(FakeConn&, FakeAgent&)>;
  explicit FakeAgent(Script script) {
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd < 0 || bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd, 4) != 0 ||
        getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port = ntohs(a.sin_port);
    thread = std::thread([this, script = std::move(script)] {
      int fd = -1;
      while (!stop && fd < 0) {
        pollfd p{listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1) fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      }
      if (fd < 0) return;
      FakeConn c(fd, stop);
      script(c, *this);
      ::close(fd);
    });
  }
  ~FakeAgent() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (listen_fd >= 0) ::close(listen_fd);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  void set_problem(const std::string& p) {
    std::lock_guard<std::mutex> l(mu);
    if (problem.empty()) problem = p;
  }
  std::string get_problem() {
    std::lock_guard<std::mutex> l(mu);
    return problem;
  }

  int listen_fd = -1;
  uint16_t port = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> go{false};  // a step signal from the test to the script
  std::mutex mu;
  std::string problem;
  std::thread thread;
};

FakeAgent& fake(FakeAgent::Script script) {
  g_fakes.push_back(std::make_unique<FakeAgent>(std::move(script)));
  if (g_fakes.back()->port == 0) fail_msg("fake agent: cannot listen");
  return *g_fakes.back();
}
void wait_for(const std::atomic<bool>& flag, std::chrono::milliseconds within, const std::atomic<bool>& stop) {
  const auto end = Clock::now() + within;
  while (!flag && !stop && Clock::now() < end) std::this_thread::sleep_for(5ms);
}

// --- fixtures ---

int start_cluster(void**) {
  g_cluster = std::make_unique<SerfCluster>(g_serf);
  std::string err;
  if (!g_cluster->add({"a", {{"role", "test"}}}, {}, &err) ||
      !g_cluster->add({"b", {{"role", "web"}, {"dc", "x"}}, kAuth}, {"a"}, &err) ||
      !g_cluster->add({"c", {{"role", "db"}}}, {"a"}, &err)) {
    print_error("cannot start the cluster: %s\n%s", err.c_str(), g_cluster->log_tails().c_str());
    g_cluster.reset();
    return -1;
  }
  return 0;
}
int stop_cluster(void**) {
  g_cluster.reset();
  return 0;
}
int begin(void**) {
  g_passed = false;
  g_local = std::make_unique<SerfCluster>(g_serf);
  return 0;
}
int end(void**) {
  for (auto& f : g_fakes) f->stop = true;
  for (auto& t : g_threads)
    if (t.joinable()) t.join();
  g_threads.clear();
  g_streams.clear();
  g_monitors.clear();
  g_clients.clear();
  g_fakes.clear();
  if (!g_passed) {
    if (g_cluster) print_error("%s", g_cluster->log_tails().c_str());
    if (g_local) print_error("%s", g_local->log_tails().c_str());
  }
  g_local.reset();
  return 0;
}

// A member of a's view, once it is alive there (joins and leaves take a gossip round).
void wait_members(SyncClient& c, std::set<std::string> want, const char* status = "alive") {
  std::vector<Member> ms;
  const bool got = eventually(
      [&] {
        auto r = c.members();
        if (!r) return false;
        ms = *r;
        for (const auto& n : want) {
          auto* m = find_member(ms, n);
          if (!m || m->status != status) return false;
        }
        return true;
      },
      5000ms);
  if (!got) fail_msg("members %s not all %s: have %s", joined(want).c_str(), status, joined(names(ms)).c_str());
}

}  // namespace

// §3: handshake; auth with the right key, a wrong key, no key, and a key for an agent without
// rpc_auth; SERF_RPC_ADDR / SERF_RPC_AUTH; nothing listening.
static void connect_and_auth(void**) {
  auto& a = client_a();
  assert_int_equal(static_cast<int>(a.state()), static_cast<int>(State::connected));
  assert_int_equal(a.counters().connects, 1);
  assert_true(ok(a.members(), "members a").size() >= 3);

  auto& b = client_b();
  assert_true(find_member(ok(b.members(), "members b"), "b") != nullptr);

  auto t0 = Clock::now();
  expect_error(SyncClient::connect(options(agent("b"), "wrong")), Errc::auth, {"Invalid authentication token"}, "wrong key");
  expect_error(SyncClient::connect(options(agent("a"), kAuth)), Errc::auth, {"Invalid authentication token"},
               "key for an agent without rpc_auth");
  assert_true(ms_since(t0) < 2000);

  // No key: the handshake passes, every call is refused. `event` has a body the agent does not
  // read before auth, so it answers twice (§3.2); the connection must survive that.
  auto& n = client(options(agent("b")));
  expect_error(n.members(), Errc::auth, {"Authentication required"}, "members without auth");
  expect_error(n.event("deploy", "x", false), Errc::auth, {"Authentication required"}, "event without auth");
  expect_error(n.stats(), Errc::auth, {"Authentication required"}, "stats without auth");
  assert_int_equal(n.counters().duplicate_headers, 1);
  expect_error(n.members(), Errc::auth, {"Authentication required"}, "members without auth, again");
  assert_int_equal(n.counters().duplicate_headers, 1);
  assert_int_equal(static_cast<int>(n.state()), static_cast<int>(State::connected));

  // The environment, as the serf CLI reads it, over the base options.
  setenv("SERF_RPC_ADDR", agent("b").rpc_addr().c_str(), 1);
  setenv("SERF_RPC_AUTH", kAuth, 1);
  Options base;
  base.request_timeout = 1234ms;
  const Options env = options_from_environment(base);
  assert_str(env.address, agent("b").rpc_addr());
  assert_str(env.auth_key, kAuth);
  assert_int_equal(env.request_timeout.count(), 1234);
  auto& e = client(env);
  assert_true(find_member(ok(e.members(), "members via env"), "a") != nullptr);
  unsetenv("SERF_RPC_ADDR");
  unsetenv("SERF_RPC_AUTH");
  base.address = "127.0.0.1:1";
  base.auth_key = "k";
  const Options none = options_from_environment(base);
  assert_str(none.address, "127.0.0.1:1");
  assert_str(none.auth_key, "k");

  // Nothing listening: refused at once.
  t0 = Clock::now();
  expect_error(SyncClient::connect(options("127.0.0.1:" + std::to_string(free_port(false)))), Errc::connect, {},
               "connection refused");
  assert_true(ms_since(t0) < 1000);
  g_passed = true;
}

// §5.1, §5 members-filtered: three members as they are; filters by name, tag and status regex; an
// invalid regex is refused before it can cost the connection.
static void members_and_filters(void**) {
  auto& c = client_a();
  wait_members(c, {"a", "b", "c"});
  const auto ms = ok(c.members(), "members");
  assert_int_equal(ms.size(), 3);
  const std::map<std::string, Tags> tags = {{"a", {{"role", "test"}}}, {"b", {{"role", "web"}, {"dc", "x"}}}, {"c", {{"role", "db"}}}};
  for (const auto& m : ms) {
    assert_str(m.addr, "127.0.0.1");
    assert_int_equal(m.port, agent(m.name.c_str()).gossip_port());
    assert_str(m.status, "alive");
    if (m.tags != tags.at(m.name)) fail_msg("tags of %s differ", m.name.c_str());
    assert_true(m.protocol_min >= 1 && m.protocol_max >= m.protocol_cur && m.protocol_cur >= m.protocol_min);
    assert_true(m.delegate_min >= 1 && m.delegate_max >= m.delegate_cur && m.delegate_cur >= m.delegate_min);
  }

  auto filtered = [&](MemberFilter f, const char* what) { return joined(names(ok(c.members_filtered(f), what))); };
  assert_str(filtered({{}, "", "b|c"}, "name b|c"), "b,c");
  assert_str(filtered({{}, "", "a"}, "name a"), "a");
  assert_str(filtered({{}, "", ""}, "no filter"), "a,b,c");
  assert_str(filtered({{}, "", "b."}, "name b. (anchored)"), "");
  assert_str(filtered({{{"role", "web|db"}}, "", ""}, "tag role"), "b,c");
  assert_str(filtered({{{"role", "web"}, {"dc", "x"}}, "", ""}, "two tags"), "b");
  assert_str(filtered({{{"dc", ".+"}}, "", ""}, "tag present"), "b");
  assert_str(filtered({{{"dc", ".*"}}, "", ""}, "tag absent is empty"), "a,b,c");
  assert_str(filtered({{}, "alive", ""}, "status alive"), "a,b,c");
  assert_str(filtered({{}, "failed|left", ""}, "status failed|left"), "");
  assert_str(filtered({{{"role", "t.*"}}, "alive", "a|b"}, "all three"), "a");

  // What Go's regexp rejects makes the agent drop the connection without a reply (§5); the
  // client refuses it and the SAME connection goes on.
  const auto before = c.counters();
  expect_error(c.members_filtered({{}, "", "a("}), Errc::invalid_argument, {}, "name a(");
  expect_error(c.members_filtered({{{"role", "[x"}}, "", ""}), Errc::invalid_argument, {}, "tag [x");
  expect_error(c.members_filtered({{}, "*alive", ""}), Errc::invalid_argument, {}, "status *alive");
  assert_int_equal(c.counters().requests, before.requests);  // nothing sent
  assert_int_equal(ok(c.members(), "members after bad regex").size(), 3);
  assert_int_equal(c.counters().connects, 1);
  assert_int_equal(c.counters().disconnects, 0);
  g_passed = true;
}

// §6.3: a user event fired on a arrives on a stream of b with its exact bytes; the size limits.
static void user_event(void**) {
  auto& a = client_a();
  auto& b = client_b();
  auto& s = stream(b, "user:deploy");
  const std::string payload("v1\0x\xff", 5);
  ok(a.event("deploy", payload, false), "event");
  ok(a.event("deploy", "", false), "event, empty payload");
  ok(a.event("other", "ignored", false), "event other");
  auto rs = collect(s, [](auto& v) { return v.size() >= 2; }, 5000ms, 300ms);
  if (rs.size() != 2) fail_msg("expected 2 records, got %s", describe(rs).c_str());
  const UserEvent* u = find_user(rs, "deploy", payload);
  if (!u) fail_msg("the NUL payload did not arrive intact: %s", describe(rs).c_str());
  assert_false(u->coalesce);
  assert_true(u->ltime > 0);
  const UserEvent* e = find_user(rs, "deploy", "");
  assert_non_null(e);
  assert_true(e->ltime != u->ltime);

  // Coalesced: delivered after the agent's quiescent period, flagged.
  ok(a.event("deploy", "v2", true), "coalesced event");
  rs = collect(s, [](auto& v) { return !v.empty(); }, 6000ms);
  assert_int_equal(rs.size(), 1);
  assert_true(std::get<UserEvent>(rs[0]).coalesce);
  assert_str(std::get<UserEvent>(rs[0]).payload, "v2");

  // 512 bytes of name + payload (§10): over it before encoding, and just under it but over it
  // once the agent has encoded the message.
  expect_error(a.event("big", std::string(600, 'x'), false), Errc::too_large, {"512"}, "600 B event");
  expect_error(a.event("big", std::string(500, 'x'), false), Errc::too_large, {"512"}, "503 B event");
  ok(a.event("deploy", std::string(300, 'y'), false), "300 B event");
  rs = collect(s, [](auto& v) { return !v.empty(); }, 5000ms, 200ms);
  assert_int_equal(rs.size(), 1);
  assert_int_equal(std::get<UserEvent>(rs[0]).payload.size(), 300);
  g_passed = true;
}

// §5 tags: set and delete give member-update on streams; members() shows them.
static void tags_update(void**) {
  auto& a = client_a();
  auto& b = client_b();
  auto& s = stream(b, "member-update");
  auto update_of_a = [](const std::vector<StreamRecord>& v) -> const Member* {
    for (const auto& r : v)
      if (auto* m = std::get_if<MemberEvent>(&r); m && m->type == "member-update")
        for (const auto& mm : m->members)
          if (mm.name == "a") return &mm;
    return nullptr;
  };
  ok(a.tags({{"zone", "z9"}}, {"role", "nosuch"}), "tags set zone, delete role");
  auto rs = collect(s, [&](auto& v) { return update_of_a(v) != nullptr; }, 6000ms);
  const Member* m = update_of_a(rs);
  if (!m) fail_msg("no member-update for a: %s", describe(rs).c_str());
  if (m->tags != Tags{{"zone", "z9"}}) fail_msg("member-update carries the wrong tags");
  assert_true(find_member(ok(a.members(), "members"), "a")->tags == (Tags{{"zone", "z9"}}));
  assert_str(ok(a.stats(), "stats")["tags"]["zone"], "z9");

  ok(a.tags({{"role", "test"}}, {"zone"}), "tags restore");
  rs = collect(s, [&](auto& v) { return update_of_a(v) != nullptr; }, 6000ms);
  m = update_of_a(rs);
  if (!m) fail_msg("no second member-update for a: %s", describe(rs).c_str());
  assert_true(m->tags == (Tags{{"role", "test"}}));
  if (!eventually([&] { return find_member(ok(b.members(), "members b"), "a")->tags == Tags{{"role", "test"}}; }, 3000ms))
    fail_msg("b does not see a's restored tags");
  g_passed = true;
}

// §6.1, §6.2: three streams on one connection each get exactly what they match; a bad filter;
// stop() with records in flight leaves the connection in step.
static void streams_multiplexed(void**) {
  auto& a = client_a();
  auto& s1 = stream(a, "user:deploy");
  auto& s2 = stream(a, "member-join,member-update");
  auto& s3 = stream(a, "*");
  expect_error(a.stream("member-joinx"), Errc::invalid_argument, {}, "bad filter");
  expect_error(a.stream("user,bogus"), Errc::invalid_argument, {}, "bad filter in a list");

  auto& other = client_a();
  auto& c = client(options(agent("c")));
  ok(other.event("deploy", "d1", false), "event deploy");
  ok(other.event("other", "o1", false), "event other");
  ok(c.tags({{"t5", "x"}}), "tags on c");
  auto all = collect(
      s3, [](auto& v) { return count_type(v, "user") >= 2 && count_type(v, "member-update") >= 1; }, 6000ms, 300ms);
  auto r1 = collect(s1, [](auto&) { return false; }, 0ms, 100ms);
  auto r2 = collect(s2, [](auto&) { return false; }, 0ms, 100ms);
  ok(c.tags({}, {"t5"}), "tags on c, restore");
  if (all.size() != 3 || !find_user(all, "deploy", "d1") || !find_user(all, "other", "o1") || count_type(all, "member-update") != 1)
    fail_msg("'*' got %s", describe(all).c_str());
  if (r1.size() != 1 || !find_user(r1, "deploy", "d1")) fail_msg("'user:deploy' got %s", describe(r1).c_str());
  // The agent coalesces member events (about 1 s): c's update may share a record with a late one
  // of a's from the previous test, but '*' and this stream see the same member records.
  bool has_c = false;
  for (const auto& r : r2)
    for (const auto& m : std::get<MemberEvent>(r).members) has_c = has_c || m.name == "c";
  std::vector<StreamRecord> member_records_of_all;
  for (const auto& r : all)
    if (std::holds_alternative<MemberEvent>(r)) member_records_of_all.push_back(r);
  if (r2.size() != 1 || !has_c || count_type(r2, "member-update") != 1 || describe(r2) != describe(member_records_of_all))
    fail_msg("'member-join,member-update' got %s, '*' got %s", describe(r2).c_str(), describe(all).c_str());

  // stop() with 200 records on their way to this connection: no record once it has ended, the
  // records already on the way are dropped and counted, and the next call is answered.
  // The stop waits until the agent has dispatched every event (the control stream, on another
  // connection, has all 200): Serf 0.9.4's agent closes a stream's channel on `stop` without
  // waiting for an event dispatch already under way, and panics ("send on closed channel",
  // ipc_event_stream.go) when the two meet. Under qemu-user that happened in about one run of
  // ten. The records are still queued in the agent's stream (512 deep), so some arrive late.
  auto& x = client_a();
  auto& flood = stream(x, "user:flood");
  auto& z = client_a();
  auto& control = stream(z, "user:flood");  // the same events, never stopped: counts what was sent
  auto& y = client_a();
  auto fired = std::make_shared<std::atomic<int>>(0);
  y.io().post([&y, fired] {  // pipelined, so that the agent sends records as fast as it can
    for (int i = 0; i < 200; ++i)
      y.async().event("flood", std::to_string(i), false, [fired](Expected<void> r) { *fired += r ? 1 : 0; });
  });
  size_t before_stop = 0;
  while (before_stop < 20)
    if (flood.next(5000ms)) ++before_stop;
    else fail_msg("only %zu flood records", before_stop);
  auto rc = collect(control, [](auto& v) { return v.size() >= 200; }, 10000ms);
  assert_int_equal(rc.size(), 200);
  flood.stop();  // posts `stop` to the io thread
  if (!eventually([&] { return flood.ended(); }, 2000ms, 1ms)) fail_msg("the stopped stream did not end");
  size_t queued = 0;
  while (flood.next(0ms)) ++queued;  // pushed before it ended
  assert_false(flood.end_error().has_value());
  assert_str(joined(names(ok(x.members(), "members after stop"))), "a,b,c");
  if (!eventually([&] { return fired->load() == 200; }, 5000ms)) fail_msg("only %d of 200 events were accepted", fired->load());
  assert_false(flood.next(200ms).has_value());
  // Every record the agent sent on the stopped stream's Seq is delivered or dropped as late.
  const bool all_accounted =
      eventually([&] { return before_stop + queued + x.counters().late_records == 200; }, 5000ms);
  ok(x.stats(), "stats after the flood");
  const Counters k = x.counters();
  print_message("  flood: %zu before stop, %zu queued, late_records %llu, records %llu\n", before_stop, queued,
                static_cast<unsigned long long>(k.late_records), static_cast<unsigned long long>(k.records));
  assert_true(all_accounted);
  assert_int_equal(k.records, before_stop + queued);
  assert_int_equal(k.disconnects, 0);
  assert_int_equal(k.protocol_errors, 0);
  flood.stop();  // idempotent
  g_passed = true;
}

// §6.4: replay then live lines; one monitor per connection; bad level; stop, then a new one.
static void monitor(void**) {
  auto& a = client_a();
  auto& m = keep(ok(a.monitor("debug"), "monitor"));
  size_t replay = 0;
  while (m.next(300ms)) ++replay;
  assert_true(replay > 0);  // the agent's start-up lines at least
  auto& other = client_a();
  ok(other.event("monmark", "m1", false), "event");
  bool seen = false;
  const auto t0 = Clock::now();
  while (!seen && ms_since(t0) < 5000)
    if (auto l = m.next(500ms)) seen = l->find("monmark") != std::string::npos;
  assert_true(seen);

  // The client knows the agent allows one monitor per connection and refuses a second itself
  // (the agent would answer "Monitor already exists"; fake_monitor_refused covers that reply).
  const auto before = a.counters().requests;
  expect_error(a.monitor("info"), Errc::invalid_argument, {"one monitor per connection"}, "second monitor");
  assert_int_equal(a.counters().requests, before);
  expect_error(a.monitor("loud"), Errc::invalid_argument, {}, "bad level");
  assert_false(m.ended());

  m.stop();  // posted to the io thread: ended() once it has run there
  if (!eventually([&] { return m.ended(); }, 2000ms, 1ms)) fail_msg("the stopped monitor did not end");
  while (m.next(0ms)) {
  }
  assert_false(m.end_error().has_value());
  ok(other.event("monmark2", "m2", false), "event after stop");
  assert_false(m.next(300ms).has_value());
  // The agent forgot the monitor: a new one on the same connection is allowed, at another level.
  auto& m2 = keep(ok(a.monitor("INFO"), "monitor after stop"));
  assert_true(m2.next(2000ms).has_value());
  assert_int_equal(ok(a.members(), "members").size(), 3);
  g_passed = true;
}

// §7: a query answered on another agent's connection; acks, the response, done at the deadline;
// FilterNodes; the size limit; the three respond errors.
static void query_and_respond(void**) {
  auto& a = client_a();
  auto& b = client_b();
  auto& rs = stream(b, "query:ping");
  struct Run {
    std::mutex mu;
    std::vector<QueryRecord> records;
    std::optional<Expected<QuerySummary>> result;
    long long took = 0;
  };
  auto start_query = [&](QueryParams p) {
    auto run = std::make_shared<Run>();
    spawn([&a, p, run] {
      const auto t0 = Clock::now();
      auto r = a.query(p, [run](const QueryRecord& q) {
        std::lock_guard<std::mutex> l(run->mu);
        run->records.push_back(q);
      });
      std::lock_guard<std::mutex> l(run->mu);
      run->took = ms_since(t0);
      run->result.emplace(std::move(r));
    });
    return run;
  };
  auto finish = [](std::shared_ptr<Run> run) {
    g_threads.back().join();
    g_threads.pop_back();
    return run;
  };

  QueryParams p;
  p.name = "ping";
  p.payload = "hi";
  p.request_ack = true;
  p.timeout = 500ms;
  auto run = start_query(p);
  auto got = rs.next(3000ms);
  if (!got) fail_msg("the responder got no query");
  const QueryEvent q = std::get<QueryEvent>(*got);
  assert_str(q.name, "ping");
  assert_str(q.payload, "hi");
  assert_true(q.id > 0 && q.ltime > 0);
  ok(b.respond(q.id, "pong:hi"), "respond");
  expect_error(b.respond(q.id, "again"), Errc::response_already_sent, {"response already sent"}, "second respond");
  expect_error(b.respond(q.id + 1000, "x"), Errc::no_pending_query, {"No pending queries matching ID"}, "unknown id");
  run = finish(run);
  const QuerySummary sum = ok(*run->result, "query");
  std::set<std::string> acks;
  std::vector<QueryRecord> responses;
  for (const auto& r : run->records) {
    if (r.type == QueryRecord::Type::ack) acks.insert(r.from);
    else responses.push_back(r);
  }
  assert_str(joined(acks), "a,b,c");
  assert_int_equal(responses.size(), 1);
  assert_str(responses[0].from, "b");
  assert_str(responses[0].payload, "pong:hi");
  assert_int_equal(sum.acks, 3);
  assert_int_equal(sum.responses, 1);
  print_message("  done after %lld ms (timeout 500 ms)\n", run->took);
  assert_true(run->took >= 490 && run->took < 1500);

  // Only c is asked: one ack, no response, the responder on b sees nothing.
  p.filter_nodes = {"c"};
  p.timeout = 300ms;
  run = finish(start_query(p));
  const QuerySummary only_c = ok(*run->result, "query c");
  std::string froms;
  for (const auto& r : run->records) froms += std::string(r.type == QueryRecord::Type::ack ? "ack:" : "response:") + r.from + " ";
  if (only_c.acks != 1 || run->records.size() != 1 || run->records[0].from != "c")
    fail_msg("FilterNodes c: %llu acks, records %s", static_cast<unsigned long long>(only_c.acks), froms.c_str());
  assert_false(rs.next(100ms).has_value());

  // Too big: an error at once, no records, no hang.
  p.filter_nodes.clear();
  p.payload = std::string(1100, 'q');
  auto t0 = Clock::now();
  expect_error(a.query(p), Errc::too_large, {"1024"}, "1100 B query");
  assert_true(ms_since(t0) < 400);

  // A response over 1024 bytes is refused and does not count as sent: a small one still goes.
  p.payload = "big?";
  p.timeout = 1000ms;
  p.request_ack = false;
  run = start_query(p);
  got = rs.next(3000ms);
  if (!got) fail_msg("the responder got no second query");
  const uint64_t id = std::get<QueryEvent>(*got).id;
  assert_true(id != q.id);
  expect_error(b.respond(id, std::string(1100, 'r')), Errc::response_too_large, {"1024"}, "1100 B response");
  ok(b.respond(id, "small"), "respond small");
  run = finish(run);
  assert_int_equal(ok(*run->result, "query 2").responses, 1);
  assert_int_equal(run->records.size(), 1);
  assert_str(run->records[0].payload, "small");
  // The responder's agent forgets the ID when its own deadline timer fires, a moment after the
  // issuer's "done" (until then: response already sent).
  std::optional<Expected<void>> late;
  if (!eventually(
          [&] {
            late.emplace(b.respond(id, "late"));
            return late->has_value() || late->error().code != static_cast<int>(Errc::response_already_sent);
          },
          2000ms, 20ms))
    fail_msg("the query ID is still pending 2 s after done");
  expect_error(*late, Errc::no_pending_query, {"No pending queries matching ID"}, "respond after the deadline");
  g_passed = true;
}

// The agent's query stream (agent/ipc_query_response_stream.go) selects on the query's ack and
// response channels until its own timer fires; the query closes those channels at the same
// deadline, and when that comes first each closed channel yields empty values: "ack" and
// "response" records with From "" (a few, or hundreds) just before "done". No node is named "".
// The client must not hand them on nor count them (QuerySummary would be wrong).
static void query_no_phantom_records(void**) {
  auto& a = client_a();
  size_t phantoms = 0, queries_hit = 0, acked = 0;
  for (int i = 0; i < 40; ++i) {
    QueryParams p;
    p.name = "phantom";
    p.request_ack = true;
    p.timeout = 100ms;  // gossip may not even reach c in time: then no ack, and that is fine
    p.filter_nodes = {"c"};
    auto recs = std::make_shared<std::vector<QueryRecord>>();
    auto mu = std::make_shared<std::mutex>();
    const QuerySummary sum = ok(a.query(p, [recs, mu](const QueryRecord& q) {
      std::lock_guard<std::mutex> l(*mu);
      recs->push_back(q);
    }), "query");
    std::lock_guard<std::mutex> l(*mu);
    size_t empty = 0;
    for (const auto& r : *recs) empty += r.from.empty();
    phantoms += empty;
    queries_hit += empty > 0;
    acked += sum.acks == 1;
    if (empty == 0 && (sum.acks > 1 || sum.responses != 0 || recs->size() != sum.acks || (sum.acks && recs->at(0).from != "c")))
      fail_msg("query %d: %llu acks, %llu responses, %zu records", i, static_cast<unsigned long long>(sum.acks),
               static_cast<unsigned long long>(sum.responses), recs->size());
  }
  print_message("  %zu of 40 queries acked by c\n", acked);
  if (phantoms) fail_msg("%zu records with an empty From in %zu of 40 queries reached the caller", phantoms, queries_hit);
  assert_true(acked >= 3);
  g_passed = true;
}

// §5 join, force-leave, leave: join a lone agent (1), a closed port (the multi-line error, and
// the connection goes on); force-leave of an unknown node; the joined agent leaves over RPC and
// exits; force-leave with prune reaps it.
static void join_leave_force_leave(void**) {
  SerfAgent* d = g_local->add({"d", {{"role", "temp"}}});
  if (!d) fail_msg("cannot start d");
  auto& a = client_a();
  auto& s = stream(a, "member-join,member-leave,member-reap");
  assert_int_equal(ok(a.join({d->gossip_addr()}), "join d"), 1);
  wait_members(a, {"a", "b", "c", "d"});
  auto rs = collect(s, [](auto& v) { return !v.empty(); }, 5000ms);
  if (rs.size() != 1 || std::string(record_type(rs[0])) != "member-join" || std::get<MemberEvent>(rs[0]).members[0].name != "d")
    fail_msg("expected member-join of d: %s", describe(rs).c_str());

  const std::string closed = "127.0.0.1:" + std::to_string(free_port(true));
  auto t0 = Clock::now();
  expect_error(a.join({closed}), Errc::remote, {"1 error occurred:\n\t* Failed to join 127.0.0.1", "connection refused"},
               "join a closed port");
  assert_true(ms_since(t0) < 3000);
  assert_int_equal(ok(a.members(), "members after failed join").size(), 4);

  ok(a.force_leave("nosuch"), "force-leave unknown");
  ok(a.force_leave("nosuch", true), "force-leave unknown, prune");

  // leave: the reply, then EOF, is success; the agent exits by itself with status 0.
  auto& dc = client(options(*d));
  t0 = Clock::now();
  ok(dc.leave(), "leave");
  const auto st = d->wait_exit(10000ms);
  print_message("  leave answered and d exited after %lld ms\n", ms_since(t0));
  if (!st) fail_msg("d did not exit after leave");
  assert_true(WIFEXITED(*st));
  assert_int_equal(WEXITSTATUS(*st), 0);
  expect_error(dc.members(1000ms), {Errc::closed, Errc::not_connected}, {}, "call after leave");
  wait_members(a, {"d"}, "left");
  rs = collect(s, [](auto& v) { return !v.empty(); }, 5000ms);
  if (rs.size() != 1 || std::string(record_type(rs[0])) != "member-leave") fail_msg("expected member-leave: %s", describe(rs).c_str());

  ok(a.force_leave("d", true), "force-leave d, prune");
  if (!eventually([&] { return !find_member(ok(a.members(), "members"), "d"); }, 3000ms)) fail_msg("d was not pruned");
  rs = collect(s, [](auto& v) { return !v.empty(); }, 5000ms);
  if (rs.size() != 1 || std::string(record_type(rs[0])) != "member-reap") fail_msg("expected member-reap: %s", describe(rs).c_str());
  g_passed = true;
}

// §8: the key commands on an unencrypted cluster (the body is there with the error), then the
// whole rotation on an encrypted pair.
static void keys(void**) {
  auto& a = client_a();
  // The key commands' body is there even with an error (§8): the client returns it as a value,
  // with the agent's error in KeyResponse::error (client.cpp key_reply).
  const KeyResponse plain = ok(a.list_keys(), "unencrypted list_keys");
  assert_str(plain.error, "3/3 nodes reported failure");
  assert_int_equal(plain.num_nodes, 3);
  assert_int_equal(plain.num_err, 3);
  assert_int_equal(plain.num_resp, 3);
  assert_true(plain.keys.empty());
  assert_str(joined([&] {
               std::set<std::string> n;
               for (const auto& [node, text] : plain.messages) n.insert(node);
               return n;
             }()),
             "a,b,c");
  for (const auto& [node, text] : plain.messages)
    if (text != "Keyring is empty (encryption not enabled)") fail_msg("%s: %s", node.c_str(), text.c_str());
  const KeyResponse no_ring = ok(a.install_key(kSerfTestKey2), "unencrypted install_key");
  assert_str(no_ring.error, "3/3 nodes reported failure");
  for (const auto& [node, text] : no_ring.messages)
    if (text.find("encryption not enabled") == std::string::npos) fail_msg("%s: %s", node.c_str(), text.c_str());
  expect_error(a.install_key("c2hvcnQ="), Errc::invalid_argument, {}, "a 5-byte key");
  expect_error(a.use_key("not base64!"), Errc::invalid_argument, {}, "not base64");

  SerfAgent* e1 = g_local->add({"e1", {}, "", kSerfTestKey1});
  SerfAgent* e2 = e1 ? g_local->add({"e2", {}, "", kSerfTestKey1}, {"e1"}) : nullptr;
  if (!e2) fail_msg("cannot start the encrypted pair");
  auto& e = client(options(*e1));
  wait_members(e, {"e1", "e2"});
  auto list = [&](const char* what) {
    const KeyResponse k = ok(e.list_keys(), what);
    if (!k.error.empty() || k.num_err != 0) fail_msg("%s: %s", what, k.error.c_str());
    assert_int_equal(k.num_nodes, 2);
    assert_int_equal(k.num_resp, 2);
    std::string s;
    for (const auto& [key, n] : k.keys) s += key + "=" + std::to_string(n) + " ";
    return s;
  };
  const std::string k1 = kSerfTestKey1, k2 = kSerfTestKey2;
  auto t0 = Clock::now();
  assert_str(list("list"), k1 + "=2 ");
  print_message("  list_keys took %lld ms\n", ms_since(t0));
  KeyResponse r = ok(e.install_key(k2), "install");
  assert_int_equal(r.num_err, 0);
  assert_int_equal(r.num_nodes, 2);
  const std::string both = k1 < k2 ? k1 + "=2 " + k2 + "=2 " : k2 + "=2 " + k1 + "=2 ";
  assert_str(list("list after install"), both);
  assert_int_equal(ok(e.use_key(k2), "use").num_err, 0);
  assert_str(list("list after use"), both);
  // k2 is now primary everywhere: removing it fails on both nodes, with the per-node reasons.
  const KeyResponse refused = ok(e.remove_key(k2), "remove the primary key");
  assert_int_equal(refused.num_err, 2);
  assert_str(refused.error, "2/2 nodes reported failure");
  assert_int_equal(refused.messages.size(), 2);
  print_message("  removing the primary key: %s\n", refused.messages.begin()->second.c_str());
  assert_int_equal(ok(e.remove_key(k1), "remove").num_err, 0);
  assert_str(list("list after remove"), k2 + "=2 ");
  assert_str(ok(e.stats(), "stats")["serf"]["encrypted"], "true");

  // SIGINT: a graceful leave; the other node sees e2 as left, not failed.
  if (!e2->interrupt()) fail_msg("e2 did not exit cleanly on SIGINT");
  wait_members(e, {"e2"}, "left");
  g_passed = true;
}

// §9: stats sections; coordinates once gossip has measured them; the RTT on loopback.
static void stats_and_coordinates(void**) {
  auto& a = client_a();
  Stats st = ok(a.stats(), "stats");
  for (const char* s : {"agent", "runtime", "serf", "tags"})
    if (!st.count(s)) fail_msg("no section %s", s);
  assert_str(st["agent"]["name"], "a");
  assert_str(st["tags"]["role"], "test");
  assert_str(st["serf"]["encrypted"], "false");
  assert_str(st["runtime"]["os"], "linux");
  assert_true(std::atoi(st["serf"]["members"].c_str()) >= 3);
  assert_str(ok(client_b().stats(), "stats b")["agent"]["name"], "b");

  assert_false(ok(a.get_coordinate("nosuch"), "coordinate of nosuch").has_value());
  std::optional<Coordinate> ca, cb;
  const auto t0 = Clock::now();
  const bool got = eventually(
      [&] {
        ca = ok(a.get_coordinate("a"), "coordinate a");
        cb = ok(a.get_coordinate("b"), "coordinate b");
        return ca && cb && ca->vec.size() == 8 && cb->vec.size() == 8 && (cb->vec != ca->vec || cb->height != ca->height);
      },
      15000ms, 200ms);
  print_message("  coordinates after %lld ms\n", ms_since(t0));
  if (!got) fail_msg("no coordinates for a and b");
  const double rtt = rtt_seconds(*ca, *cb);
  print_message("  rtt a-b %.6f s\n", rtt);
  assert_true(rtt >= 0 && rtt < 0.1);
  assert_true(rtt_seconds(*ca, *ca) < 0.1);
  g_passed = true;
}

// Many calls in flight on one connection from 8 threads: each gets its own answer; events with
// distinct payloads arrive once each on a stream of the same connection.
static void multiplexing(void**) {
  auto& c = client_a();
  auto& s = stream(c, "user:mux");
  struct Tally {
    std::atomic<int> ok{0}, bad{0};
    std::mutex mu;
    std::string first;
    void failure(const std::string& why) {
      ++bad;
      std::lock_guard<std::mutex> l(mu);
      if (first.empty()) first = why;
    }
  };
  auto t = std::make_shared<Tally>();
  const auto t0 = Clock::now();
  for (int i = 0; i < 8; ++i)
    spawn([&c, t, i] {
      for (int j = 0; j < 100; ++j) {
        switch (j % 4) {
          case 0: {
            auto r = c.members();
            if (r && joined(names(*r)) == "a,b,c") ++t->ok;
            else t->failure("members: " + (r ? joined(names(*r)) : r.error().message));
            break;
          }
          case 1: {
            auto r = c.stats();
            if (r && (*r)["agent"]["name"] == "a") ++t->ok;
            else t->failure("stats: " + (r ? std::string("wrong name") : r.error().message));
            break;
          }
          case 2: {
            const bool known = (i + j) % 2 == 0;
            auto r = c.get_coordinate(known ? "c" : "nosuch-" + std::to_string(i));
            if (r && r->has_value() == known) ++t->ok;
            else t->failure("get_coordinate: " + (r ? std::string("wrong answer") : r.error().message));
            break;
          }
          default: {
            auto r = c.event("mux", std::to_string(i) + ":" + std::to_string(j), false);
            if (r) ++t->ok;
            else t->failure("event: " + r.error().message);
          }
        }
      }
    });
  for (auto& th : g_threads) th.join();
  g_threads.clear();
  const long long took = ms_since(t0);
  if (t->bad) fail_msg("%d of 800 calls failed; first: %s", t->bad.load(), t->first.c_str());
  assert_int_equal(t->ok.load(), 800);
  auto rs = collect(s, [](auto& v) { return v.size() >= 200; }, 10000ms, 200ms);
  std::set<std::string> payloads;
  for (const auto& r : rs) payloads.insert(std::get<UserEvent>(r).payload);
  if (rs.size() != 200 || payloads.size() != 200) fail_msg("%zu records, %zu distinct (dropped %llu)", rs.size(), payloads.size(),
                                                          static_cast<unsigned long long>(s.dropped()));
  for (int i = 0; i < 8; ++i)
    for (int j = 3; j < 100; j += 4) assert_true(payloads.count(std::to_string(i) + ":" + std::to_string(j)));
  const Counters k = c.counters();
  print_message("  800 calls from 8 threads in %lld ms; requests %llu, replies %llu, records %llu\n", took,
                static_cast<unsigned long long>(k.requests), static_cast<unsigned long long>(k.replies),
                static_cast<unsigned long long>(k.records));
  assert_int_equal(k.timeouts, 0);
  assert_int_equal(k.disconnects, 0);
  assert_int_equal(k.late_records, 0);
  g_passed = true;
}

// Options::reconnect: the agent is killed and restarted on the same ports; the client comes back
// by itself and re-opens its stream and monitor. Without reconnect, subscriptions end with an
// error and calls fail.
static void reconnect(void**) {
  SerfAgent* r = g_local->add({"r", {{"role", "phoenix"}}});
  if (!r) fail_msg("cannot start r");

  // Without reconnect first.
  auto& plain = client(options(*r));
  auto& ps = stream(plain, "user");
  r->kill_now();
  if (!eventually([&] { return ps.ended(); }, 3000ms)) fail_msg("the stream did not end when the agent died");
  assert_true(ps.end_error().has_value());
  print_message("  end_error: %s (%s)\n", ps.end_error()->message.c_str(), code_name(*ps.end_error()));
  assert_int_equal(ps.end_error()->code, static_cast<int>(Errc::closed));
  auto t0 = Clock::now();
  expect_error(plain.members(1000ms), {Errc::closed, Errc::not_connected}, {}, "call on a dead connection");
  assert_true(ms_since(t0) < 500);
  if (!r->start()) fail_msg("cannot restart r: %s", r->log_tail().c_str());
  expect_error(plain.members(1000ms), {Errc::closed, Errc::not_connected}, {}, "no reconnect without the option");

  Options o = options(*r);
  o.reconnect = true;
  o.reconnect_min = 50ms;
  o.reconnect_max = 300ms;
  auto& c = client(o);
  auto& s = stream(c, "user");
  auto& m = keep(ok(c.monitor("info"), "monitor"));
  ok(c.event("before", "1", false), "event before");
  auto rs = collect(s, [](auto& v) { return !v.empty(); }, 3000ms);
  assert_non_null(find_user(rs, "before", "1"));

  r->kill_now();
  if (!eventually([&] { return c.counters().disconnects >= 1; }, 3000ms)) fail_msg("the client did not notice the agent died");
  assert_false(s.ended());
  assert_false(m.ended());
  // A call while the agent is down waits for the reconnect, within its deadline.
  auto call = std::make_shared<std::optional<Expected<std::vector<Member>>>>();
  auto took = std::make_shared<long long>(0);
  spawn([&c, call, took] {
    const auto start = Clock::now();
    call->emplace(c.members(8000ms));
    *took = ms_since(start);
  });
  std::this_thread::sleep_for(300ms);  // the call must be waiting while nothing listens
  t0 = Clock::now();
  if (!r->start()) fail_msg("cannot restart r: %s", r->log_tail().c_str());
  g_threads.back().join();
  g_threads.pop_back();
  print_message("  members during the outage: %s after %lld ms\n",
                call->value() ? "ok" : call->value().error().message.c_str(), *took);
  // client.hpp: calls made while the connection is down wait for it, within their deadline.
  assert_true(find_member(ok(std::move(call->value()), "members during the outage"), "r") != nullptr);
  assert_true(*took >= 250);

  if (!eventually([&] { return s.resumed() >= 1 && m.resumed() >= 1; }, 5000ms))
    fail_msg("not resumed: stream %llu, monitor %llu", static_cast<unsigned long long>(s.resumed()),
             static_cast<unsigned long long>(m.resumed()));
  print_message("  back %lld ms after the restart\n", ms_since(t0));
  const Counters k = c.counters();
  assert_true(k.reconnects >= 1);
  assert_true(k.gaps >= 2);
  assert_int_equal(static_cast<int>(c.state()), static_cast<int>(State::connected));
  ok(c.event("after", "2", false), "event after");
  rs = collect(s, [](auto& v) { return find_user(v, "after", "2") != nullptr; }, 3000ms);
  assert_non_null(find_user(rs, "after", "2"));
  // The monitor is live again too: the new agent's lines (its start-up replay at least).
  assert_true(m.next(2000ms).has_value());
  assert_int_equal(ok(c.members(), "members after reconnect").size(), 1);
  g_passed = true;
}

// --- the fake agent ---

// (a) garbage after the handshake: 0xc1 is never valid msgpack.
static void fake_garbage(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent&) {
    if (!c.handshake()) return;
    if (c.read_request()) c.send(std::string("\xc1\xc1\xc1", 3));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  const auto t0 = Clock::now();
  expect_error(cl.members(3000ms), {Errc::protocol, Errc::closed}, {}, "garbage");
  assert_true(ms_since(t0) < 1000);
  assert_int_equal(cl.counters().protocol_errors, 1);
  expect_error(cl.stats(1000ms), {Errc::closed, Errc::not_connected}, {}, "call after the protocol error");
  g_passed = true;
}

// (b) malformed replies, each then the connection closes: a clean error, nothing waits forever.
static void fake_malformed(void**) {
  struct Case {
    const char* what;
    std::string bytes;
  };
  msgpack::sbuffer b1;
  {
    msgpack::packer<msgpack::sbuffer> pk(b1);
    pk.pack_map(2), pk.pack(std::string("Error")), pk.pack(std::string("")), pk.pack(std::string("Seq")), pk.pack(std::string("2"));
  }
  msgpack::sbuffer b2;
  {
    msgpack::packer<msgpack::sbuffer> pk(b2);
    pk.pack_map(3), pk.pack(std::string("Error")), pk.pack(std::string("")), pk.pack(std::string("Seq")), pk.pack(2),
        pk.pack(std::string("Extra")), pk.pack(1);
  }
  const std::vector<Case> cases = {
      {"Seq as a string", std::string(b1.data(), b1.size())},
      {"a 3-key map", std::string(b2.data(), b2.size())},
      {"a truncated header", pack_header(2).substr(0, 5)},
      {"a header then a truncated body", pack_header(2) + pack_members({"x"}).substr(0, 20)},
      {"a map32 claiming 2^32-1 entries", std::string("\xdf\xff\xff\xff\xff", 5)},
      {"a str32 of 4 GiB", pack_header(2).substr(0, 8) + std::string("\xdb\xff\xff\xff\xff", 5)},
  };
  for (const auto& cs : cases) {
    auto& f = fake([bytes = cs.bytes](FakeConn& c, FakeAgent&) {
      if (!c.handshake()) return;
      if (c.read_request()) c.send(bytes);
      std::this_thread::sleep_for(100ms);  // then close
    });
    auto& cl = client(options(f.address()));
    const auto t0 = Clock::now();
    auto r = cl.members(3000ms);
    const auto& e = expect_error(r, {Errc::protocol, Errc::closed}, {}, cs.what);
    (void)e;
    if (ms_since(t0) > 1500) fail_msg("%s: took %lld ms", cs.what, ms_since(t0));
    assert_true(cl.counters().timeouts == 0);
  }
  g_passed = true;
}

// (c) a call never answered: Errc::timeout at its deadline, the connection stays; the late reply
// is dropped and the next call gets its own answer.
static void fake_timeout_and_late_reply(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent& self) {
    if (!c.handshake()) return;
    auto first = c.read_request();
    if (!first || first->command != "members") return self.set_problem("expected members first");
    wait_for(self.go, 5000ms, self.stop);
    c.reply(first->seq, "", pack_members({"late"}));  // after the client gave up
    auto second = c.read_request();
    if (!second || second->command != "members") return self.set_problem("expected members second");
    c.reply(second->seq, "", pack_members({"fresh"}));
    auto third = c.read_request();
    if (third) c.reply(third->seq, "", pack_stats("fake"));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  auto t0 = Clock::now();
  expect_error(cl.members(300ms), Errc::timeout, {}, "unanswered members");
  const long long took = ms_since(t0);
  print_message("  timed out after %lld ms (deadline 300 ms)\n", took);
  assert_true(took >= 290 && took < 800);
  assert_int_equal(cl.counters().timeouts, 1);
  assert_int_equal(static_cast<int>(cl.state()), static_cast<int>(State::connected));
  f.go = true;
  const auto ms = ok(cl.members(2000ms), "members after the timeout");
  assert_int_equal(ms.size(), 1);
  assert_str(ms[0].name, "fresh");
  assert_str(ok(cl.stats(2000ms), "stats")["agent"]["name"], "fake");
  assert_int_equal(cl.counters().late_records, 1);
  assert_int_equal(cl.counters().timeouts, 1);
  assert_int_equal(cl.counters().protocol_errors, 0);
  assert_str(f.get_problem(), "");
  g_passed = true;
}

// (d) TCP accepted, the handshake never answered: connect fails within connect_timeout.
static void fake_silent_handshake(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent&) { c.wait_eof(5000ms); });
  Options o = options(f.address());
  o.connect_timeout = 400ms;
  const auto t0 = Clock::now();
  auto r = SyncClient::connect(o);
  const long long took = ms_since(t0);
  expect_error(r, {Errc::connect, Errc::timeout}, {}, "silent handshake");
  print_message("  connect gave up after %lld ms (connect_timeout 400 ms)\n", took);
  assert_true(took >= 390 && took < 1200);
  g_passed = true;
}

// (e) the structural rule (§2): an unexpected body after a header-only reply, and a record for a
// Seq nobody asked for, are consumed and dropped; the next reply is still matched.
static void fake_stray_frames(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent& self) {
    if (!c.handshake()) return;
    auto t = c.read_request();
    if (!t || t->command != "tags") return self.set_problem("expected tags");
    c.reply(t->seq);                                                    // header-only, as the agent does
    c.send(pack_header(999, "") + pack_members({"stray"}));             // an unknown Seq with a body
    c.send(pack_header(1000, ""));                                      // an unknown Seq without one
    auto m = c.read_request();
    if (!m || m->command != "members") return self.set_problem("expected members");
    c.reply(m->seq, "", pack_members({"mine"}));
    auto s = c.read_request();
    if (!s || s->command != "stats") return self.set_problem("expected stats");
    c.reply(s->seq, "", pack_stats("fake"));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  ok(cl.tags({{"k", "v"}}), "tags");
  const auto ms = ok(cl.members(2000ms), "members");
  assert_int_equal(ms.size(), 1);
  assert_str(ms[0].name, "mine");
  assert_str(ok(cl.stats(2000ms), "stats")["agent"]["name"], "fake");
  assert_int_equal(cl.counters().late_records, 2);
  assert_int_equal(cl.counters().protocol_errors, 0);
  assert_str(f.get_problem(), "");
  g_passed = true;
}

// (f) §3.2: two "Authentication required" headers for one Seq; the second is counted and dropped.
static void fake_duplicate_auth_header(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent& self) {
    if (!c.handshake()) return;
    auto e = c.read_request();
    if (!e || e->command != "event") return self.set_problem("expected event");
    c.reply(e->seq, "Authentication required");
    c.reply(e->seq, "Authentication required");
    auto s = c.read_request();
    if (!s || s->command != "stats") return self.set_problem("expected stats");
    c.reply(s->seq, "", pack_stats("fake"));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  expect_error(cl.event("x", "y", false, 2000ms), Errc::auth, {"Authentication required"}, "event");
  assert_str(ok(cl.stats(2000ms), "stats")["agent"]["name"], "fake");
  assert_int_equal(cl.counters().duplicate_headers, 1);
  assert_int_equal(cl.counters().protocol_errors, 0);
  assert_str(f.get_problem(), "");
  g_passed = true;
}

// The agent's own "Monitor already exists" (which the client's check normally pre-empts) is an
// Errc::remote error on monitor() and the connection goes on.
static void fake_monitor_refused(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent& self) {
    if (!c.handshake()) return;
    auto m = c.read_request();
    if (!m || m->command != "monitor") return self.set_problem("expected monitor");
    c.reply(m->seq, "Monitor already exists");
    auto s = c.read_request();
    if (!s || s->command != "stats") return self.set_problem("expected stats");
    c.reply(s->seq, "", pack_stats("fake"));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  expect_error(cl.monitor("debug", 16, 2000ms), Errc::remote, {"Monitor already exists"}, "monitor refused by the agent");
  assert_str(ok(cl.stats(2000ms), "stats")["agent"]["name"], "fake");
  assert_int_equal(cl.counters().protocol_errors, 0);
  assert_str(f.get_problem(), "");
  g_passed = true;
}

std::string pack_query_record(const std::string& type, const std::string& from, const std::string& payload = "") {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(3);
  pk.pack(std::string("From")), pk.pack(from);
  pk.pack(std::string("Payload"));
  if (payload.empty()) pk.pack_nil();
  else pk.pack_bin(static_cast<uint32_t>(payload.size())), pk.pack_bin_body(payload.data(), static_cast<uint32_t>(payload.size()));
  pk.pack(std::string("Type")), pk.pack(type);
  return std::string(b.data(), b.size());
}

// The same phantom records as query_no_phantom_records, deterministically: one real ack and one
// real response, then empty-From acks and responses, then done.
static void fake_query_phantom_records(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent& self) {
    if (!c.handshake()) return;
    auto q = c.read_request();
    if (!q || q->command != "query") return self.set_problem("expected query");
    c.reply(q->seq);
    c.send(pack_header(q->seq) + pack_query_record("ack", "c"));
    c.send(pack_header(q->seq) + pack_query_record("response", "c", "pong"));
    for (int i = 0; i < 5; ++i)
      c.send(pack_header(q->seq) + pack_query_record("ack", "") + pack_header(q->seq) + pack_query_record("response", ""));
    c.send(pack_header(q->seq) + pack_query_record("done", ""));
    auto s = c.read_request();
    if (!s || s->command != "stats") return self.set_problem("expected stats");
    c.reply(s->seq, "", pack_stats("fake"));
    c.wait_eof(3000ms);
  });
  auto& cl = client(options(f.address()));
  QueryParams p;
  p.name = "ping";
  p.request_ack = true;
  p.timeout = 200ms;
  auto recs = std::make_shared<std::vector<QueryRecord>>();
  const QuerySummary sum = ok(cl.query(p, [recs](const QueryRecord& q) { recs->push_back(q); }), "query");
  assert_str(ok(cl.stats(2000ms), "stats")["agent"]["name"], "fake");
  assert_str(f.get_problem(), "");
  const size_t n = recs->size();
  const bool pong = n == 2 && recs->at(1).payload == "pong" && recs->at(1).from == "c";
  recs.reset();  // before a failed assertion jumps past it
  if (sum.acks != 1 || sum.responses != 1 || n != 2)
    fail_msg("phantom records counted: %llu acks, %llu responses, %zu records (want 1, 1, 2)",
             static_cast<unsigned long long>(sum.acks), static_cast<unsigned long long>(sum.responses), n);
  assert_true(pong);
  g_passed = true;
}

// Options::max_object_bytes: an object larger than allowed is a protocol error, not a buffer
// that grows with whatever the peer sends.
static void fake_oversized_object(void**) {
  auto& f = fake([](FakeConn& c, FakeAgent&) {
    if (!c.handshake()) return;
    if (!c.read_request()) return;
    std::string big = pack_header(2) + "\x81\xa7Members\xc6";  // bin32 of 200000 bytes
    const uint32_t n = 200000;
    for (int shift = 24; shift >= 0; shift -= 8) big += static_cast<char>((n >> shift) & 0xff);
    big += std::string(n, 'x');
    c.send(big);
    c.wait_eof(3000ms);
  });
  Options o = options(f.address());
  o.max_object_bytes = 65536;
  auto& cl = client(o);
  expect_error(cl.members(3000ms), Errc::closed, {"65536"}, "200 kB object, limit 64 KiB");
  assert_int_equal(cl.counters().protocol_errors, 1);
  g_passed = true;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s /usr/bin/serf\n", argv[0]);
    return 2;
  }
  g_serf = argv[1];
  signal(SIGPIPE, SIG_IGN);
  unsetenv("SERF_RPC_ADDR");
  unsetenv("SERF_RPC_AUTH");
  // SERF_TEST_FILTER=name (a cmocka pattern with * and ?) runs only the matching tests.
  if (const char* f = std::getenv("SERF_TEST_FILTER")) cmocka_set_test_filter(f);
  const auto t0 = Clock::now();
#define T(name) cmocka_unit_test_setup_teardown(name, begin, end)
  const struct CMUnitTest tests[] = {
      T(connect_and_auth),
      T(members_and_filters),
      T(user_event),
      T(tags_update),
      T(streams_multiplexed),
      T(monitor),
      T(query_and_respond),
      T(query_no_phantom_records),
      T(join_leave_force_leave),
      T(keys),
      T(stats_and_coordinates),
      T(multiplexing),
      T(reconnect),
      T(fake_garbage),
      T(fake_malformed),
      T(fake_timeout_and_late_reply),
      T(fake_silent_handshake),
      T(fake_stray_frames),
      T(fake_duplicate_auth_header),
      T(fake_monitor_refused),
      T(fake_query_phantom_records),
      T(fake_oversized_object),
  };
#undef T
  const int failed = cmocka_run_group_tests_name("serf_client", tests, start_cluster, stop_cluster);
  std::fprintf(stderr, "serf_client: %lld ms\n", ms_since(t0));
  return failed;
}
