// rigagent-bench section "laneswap": what one LaneSwap heartbeat costs the agent, and how many
// per second one keep-alive connection carries compared with a fresh connection each time.
//
// The client is the agent's own: laneswap::AsyncClient (over net::HttpClient) on a rig::IoThread,
// service id set and registered once, heartbeats sent back to back (the next one from the
// completion handler of the previous one), each with metadata shaped like the agent's snapshot
// (daemon.cpp laneswap_snapshot(): version, board, counters, ...), copied into every call as the
// reporter does.
//
// The server is a stand-in written here: a minimal blocking HTTP/1.1 responder (Asio, plain TCP on
// 127.0.0.1:0, optionally Mbed TLS) on its own thread, serving one connection at a time (the
// client never has more than one). It reads headers up to the blank line and a Content-Length
// body, and answers every POST .../heartbeat with one fixed ServiceStatus (laneswap.md §2.2, §4.1)
// and POST /api/services with {"service_id":...}, from strings prepared in advance. Its cost is
// kept out of the client's figures: its thread's CPU clock is read and subtracted, and its
// allocations are counted apart (alloc_count.hpp). The Python stand-in (tests/standins) is not
// used: measured once, it spends about 450 us of CPU per heartbeat (100 events in the record),
// so at most ~2,000 heartbeats/s on one core against the client's ~30 us: it would be the
// bottleneck and the figures would be Python's.
//
// Runs (N heartbeats each after a warm-up of kWarmup, or fewer when the time budget runs out):
//   (a) plain HTTP, keep-alive: one connection for the whole run
//   (b) plain HTTP, a fresh connection each time: the stand-in answers "Connection: close" and
//       closes, so the same client opens a new TCP connection for every heartbeat. This is what
//       the agent does against a server or proxy that does not keep connections alive; the
//       alternative, a new AsyncClient per heartbeat, would add the client's own construction
//       (and, for https, loading the CA bundle) to a connection's cost, which is not the question.
//   (a100) as (a) but the response carries 100 events: the reference server returns the last 100
//       events with every heartbeat, so this is its steady state after 100 heartbeats
//   (c) the same as (a) and (b) over TLS (Mbed TLS on both ends, a self-signed EC P-256
//       certificate made with the openssl CLI in a temp directory; no session resumption: the
//       agent's client does not resume sessions, so a fresh connection is a full handshake).
//       The fresh runs twice: with the ECDHE group the client offers first (an Mbed TLS server
//       takes the client's order, and Mbed TLS 2.28's default order starts with secp521r1), and
//       with the stand-in narrowed to x25519 and secp256r1. Skipped, and said so, without the
//       openssl CLI or with --no-tls.
#include "laneswap_heartbeat.hpp"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "alloc_count.hpp"
#include "core/io_thread.hpp"
#include "core/log.hpp"
#include "upstream/laneswap/client.hpp"

namespace rigbench {
namespace {

namespace ls = rig::laneswap;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr const char* kIndent = "                    ";
constexpr size_t kWarmup = 200;
constexpr const char* kServiceId = "rig07";
constexpr const char* kServiceName = "rigagent-rig07";

double cpu_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------------------------
// What goes on the wire.

// The agent's snapshot metadata (daemon.cpp), with plausible values.
ls::json agent_metadata() {
  return ls::json{{"version", "0.1.0"},
                  {"board", "sim"},
                  {"identifier", kServiceId},
                  {"uptime_s", 86400},
                  {"emergency_stopped", false},
                  {"emergency_held_by", ls::json::array()},
                  {"alarms", ls::json::array()},
                  {"app_status", 0},
                  {"application_connected", true},
                  {"rpc",
                   {{"requests", 1523},
                    {"malformed", 0},
                    {"replies", 1523},
                    {"published", 884213},
                    {"dropped", 0},
                    {"app_forwarded", 12},
                    {"app_timeouts", 0},
                    {"stalls", 0}}}};
}

// ServiceStatus as the reference server answers a heartbeat (laneswap.md §2.2, §4.1): the merged
// metadata (the client adds "lifecycle") and the last `events` events.
std::string service_status(size_t events) {
  ls::json md = agent_metadata();
  md["lifecycle"] = "running";
  ls::json ev = ls::json::array();
  for (size_t i = 0; i < events; ++i) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2026-11-21T19:%02zu:%02zu.%06zu+00:00", 26 + i / 60 % 30, i % 60, 136512 + i);
    ev.push_back({{"type", "heartbeat"}, {"timestamp", ts}, {"status", "healthy"}, {"message", "Status updated to healthy"}});
  }
  ls::json s = {{"id", kServiceId},
                {"name", kServiceName},
                {"status", "healthy"},
                {"message", nullptr},
                {"metadata", md},
                {"created_at", "2026-11-21T19:26:33.998487+00:00"},
                {"last_heartbeat", "2026-11-21T19:56:34.136512+00:00"},
                {"events", ev}};
  return s.dump();
}

// As uvicorn frames it.
std::string http_response(int status, const char* reason, const std::string& body, bool close) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\ndate: Sat, 21 Nov 2026 19:56:34 GMT\r\nserver: uvicorn\r\ncontent-length: " + std::to_string(body.size()) +
         "\r\ncontent-type: application/json\r\n" + (close ? "connection: close\r\n" : "") + "\r\n" + body;
}

// ---------------------------------------------------------------------------------------------
// The stand-in server.

std::string mbed_error(int ret) {
  char buf[200];
  mbedtls_strerror(ret, buf, sizeof buf);
  return buf;
}

// Mbed TLS server configuration: one certificate and key, no session cache and no tickets.
struct ServerTls {
  ServerTls() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
  }
  ~ServerTls() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&cert);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // The group the stand-in picks for ECDHE, from Mbed TLS's debug output of one handshake
  // ("ECDHE curve: <name>"); debug output goes back off as soon as it has been seen.
  void watch_group() {
    group.clear();
    mbedtls_ssl_conf_dbg(&conf, &ServerTls::on_debug, this);
    mbedtls_debug_set_threshold(2);
  }
  static void on_debug(void* p, int, const char*, int, const char* text) {
    auto* self = static_cast<ServerTls*>(p);
    static constexpr std::string_view kKey = "ECDHE curve: ";
    const std::string_view t(text);
    const size_t at = t.find(kKey);
    if (at == std::string_view::npos) return;
    std::string_view name = t.substr(at + kKey.size());
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.remove_suffix(1);
    self->group = name;
    mbedtls_debug_set_threshold(0);
  }

  std::string load(const std::string& cert_file, const std::string& key_file) {
    int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0);
    if (ret == 0) ret = mbedtls_x509_crt_parse_file(&cert, cert_file.c_str());
    if (ret == 0) ret = mbedtls_pk_parse_keyfile(&key, key_file.c_str(), nullptr);
    if (ret == 0) ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) return mbed_error(ret);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    ret = mbedtls_ssl_conf_own_cert(&conf, &cert, &key);
    return ret == 0 ? std::string() : mbed_error(ret);
  }

  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
  std::string group;  // written on the stand-in's thread during the first handshake of a run
};

// One connection's byte stream, blocking: plain or TLS.
class Conn {
 public:
  Conn(tcp::socket& s, ServerTls* tls) : s_(s), tls_(tls) {
    std::error_code ignored;
    s_.set_option(tcp::no_delay(true), ignored);
    if (!tls_) return;
    mbedtls_ssl_init(&ssl_);
    fd_ = s_.native_handle();
    ok_ = mbedtls_ssl_setup(&ssl_, &tls_->conf) == 0;
    mbedtls_ssl_set_bio(&ssl_, &fd_, &bio_send, &bio_recv, nullptr);
    int ret = ok_ ? mbedtls_ssl_handshake(&ssl_) : -1;
    ok_ = ret == 0;
    if (ok_) suite_ = mbedtls_ssl_get_ciphersuite(&ssl_);
  }
  ~Conn() {
    if (tls_) mbedtls_ssl_free(&ssl_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return ok_; }
  const char* suite() const { return suite_; }
  // > 0 bytes, or 0 at the end (closed, reset, error).
  size_t read(char* p, size_t n) {
    if (tls_) {
      const int r = mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(p), n);
      return r > 0 ? static_cast<size_t>(r) : 0;
    }
    std::error_code ec;
    const size_t r = s_.read_some(asio::buffer(p, n), ec);
    return ec ? 0 : r;
  }
  bool write(const std::string& data) {
    if (tls_) {
      for (size_t sent = 0; sent < data.size();) {
        const int r = mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(data.data() + sent), data.size() - sent);
        if (r <= 0) return false;
        sent += static_cast<size_t>(r);
      }
      return true;
    }
    std::error_code ec;
    asio::write(s_, asio::buffer(data), ec);
    return !ec;
  }
  void close() {
    if (tls_ && ok_) (void)mbedtls_ssl_close_notify(&ssl_);
    std::error_code ignored;
    s_.shutdown(tcp::socket::shutdown_both, ignored);
    s_.close(ignored);
  }

 private:
  static int bio_send(void* ctx, const unsigned char* buf, size_t len) {
    const ssize_t n = ::send(*static_cast<int*>(ctx), buf, std::min<size_t>(len, INT_MAX), MSG_NOSIGNAL);
    return n >= 0 ? static_cast<int>(n) : MBEDTLS_ERR_NET_SEND_FAILED;
  }
  static int bio_recv(void* ctx, unsigned char* buf, size_t len) {
    const ssize_t n = ::recv(*static_cast<int*>(ctx), buf, std::min<size_t>(len, INT_MAX), 0);
    return n >= 0 ? static_cast<int>(n) : MBEDTLS_ERR_NET_RECV_FAILED;
  }

  tcp::socket& s_;
  ServerTls* tls_;
  mbedtls_ssl_context ssl_{};
  int fd_ = -1;
  bool ok_ = true;
  const char* suite_ = "";
};

// Case-insensitive search for "\r\ncontent-length:" in the headers; the value, or 0.
size_t content_length(std::string_view head) {
  static constexpr std::string_view kName = "\r\ncontent-length:";
  for (size_t i = 0; i + kName.size() <= head.size(); ++i) {
    size_t k = 0;
    while (k < kName.size() && std::tolower(static_cast<unsigned char>(head[i + k])) == kName[k]) ++k;
    if (k != kName.size()) continue;
    size_t j = i + k, v = 0;
    while (j < head.size() && head[j] == ' ') ++j;
    while (j < head.size() && head[j] >= '0' && head[j] <= '9') v = v * 10 + (head[j++] - '0');
    return v;
  }
  return 0;
}

class StandIn {
 public:
  StandIn(bool close_each, ServerTls* tls, size_t events) : close_each_(close_each), tls_(tls), acceptor_(io_) {
    const std::string status = service_status(events);
    heartbeat_ = http_response(200, "OK", status, close_each);
    register_ = http_response(200, "OK", std::string(R"({"service_id":")") + kServiceId + "\"}", close_each);
    not_found_ = http_response(404, "Not Found", R"({"detail":"Not Found"})", close_each);
    body_bytes_ = status.size();
  }
  ~StandIn() { stop(); }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

  std::string start() {
    std::error_code ec;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return "stand-in server: " + ec.message();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
    return {};
  }

  // After the client has closed its connection: wakes accept() with a connection of its own.
  void stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    tcp::socket s(io_);
    std::error_code ignored;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
    thread_.join();
    s.close(ignored);
    acceptor_.close(ignored);
  }

  uint16_t port() const { return port_; }
  double cpu() const { return cpu_seconds(cpu_clock_); }
  size_t body_bytes() const { return body_bytes_; }
  size_t response_bytes() const { return heartbeat_.size(); }
  const std::string& suite() const { return suite_; }
  uint64_t failed_handshakes() const { return failed_handshakes_; }

 private:
  void run() {
    rigbench::alloc::exclude_this_thread();
    std::string buf;
    buf.reserve(64 * 1024);
    std::vector<char> chunk(16 * 1024);
    for (;;) {
      tcp::socket s(io_);
      std::error_code ec;
      acceptor_.accept(s, ec);
      if (stopping_) return;
      if (ec) continue;
      Conn c(s, tls_);
      if (!c.ok()) {
        ++failed_handshakes_;
        c.close();
        continue;
      }
      if (suite_.empty()) suite_ = c.suite();
      buf.clear();
      serve(c, buf, chunk);
      c.close();
    }
  }

  void serve(Conn& c, std::string& buf, std::vector<char>& chunk) {
    size_t start = 0;
    for (;;) {
      const size_t end = buf.find("\r\n\r\n", start);
      if (end != std::string::npos) {
        const std::string_view head(buf.data() + start, end - start);
        const size_t total = end + 4 + content_length(head);
        if (buf.size() >= total) {
          const std::string_view line = head.substr(0, head.find("\r\n"));
          const std::string_view target = line.substr(0, line.rfind(' '));
          const std::string* reply = &not_found_;
          if (line.starts_with("POST ") && target.ends_with("/heartbeat")) reply = &heartbeat_;
          else if (line.starts_with("POST ") && target == "POST /api/services") reply = &register_;
          if (!c.write(*reply) || close_each_) return;
          start = total;
          if (start == buf.size()) buf.clear(), start = 0;
          continue;
        }
      }
      const size_t n = c.read(chunk.data(), chunk.size());
      if (n == 0) return;
      buf.append(chunk.data(), n);
    }
  }

  const bool close_each_;
  ServerTls* const tls_;
  asio::io_context io_;  // for the sockets only: every call is a blocking one
  tcp::acceptor acceptor_;
  std::thread thread_;
  clockid_t cpu_clock_{};
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  std::string heartbeat_, register_, not_found_;
  size_t body_bytes_ = 0;
  std::string suite_;
  std::atomic<uint64_t> failed_handshakes_{0};
};

// ---------------------------------------------------------------------------------------------
// The client side.

struct Series {
  std::vector<double> us;
  double pct(double p) const {
    if (us.empty()) return 0;
    return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  }
};

// Heartbeats back to back on the io thread: the next one from the previous one's completion.
struct Driver {
  ls::AsyncClient* client = nullptr;
  const ls::json* metadata = nullptr;
  size_t target = 0, done = 0, failed = 0;
  std::string first_error;
  Clock::time_point deadline, sent_at;
  bool record = false, budget_hit = false;
  Series latency;
  std::function<void()> finished;

  void next() {
    sent_at = Clock::now();
    client->send_heartbeat(ls::Status::healthy, std::nullopt, *metadata,
                           [this](rig::Expected<ls::ServiceInfo> r) { completed(r); });
  }
  void completed(const rig::Expected<ls::ServiceInfo>& r) {
    const auto now = Clock::now();
    if (!r) {
      if (failed++ == 0) first_error = r.error().message;
    } else if (record) {
      latency.us.push_back(std::chrono::duration<double, std::micro>(now - sent_at).count());
    }
    if (++done < target && now < deadline) return next();
    budget_hit = done < target;
    finished();
  }
};

struct Run {
  std::string label;
  bool tls = false, close_each = false;
  size_t events = 1;
  std::string error;  // set up failed
  size_t done = 0, failed = 0;
  std::string first_error;
  bool budget_hit = false;
  double seconds = 0, process_cpu = 0, server_cpu = 0, io_cpu = 0;
  rigbench::alloc::Counts client, server;
  rig::net::HttpClient::Stats during, total;
  Series latency;
  size_t response_bytes = 0;
  uint64_t failed_handshakes = 0;
  std::string suite, group;
  size_t warmup = 0;

  size_t ok() const { return done - failed; }
  double rate() const { return seconds > 0 ? ok() / seconds : 0; }
  double per(double x) const { return done ? x / done : 0; }
  double client_cpu() const { return process_cpu - server_cpu; }
};

struct TlsSetup {
  ServerTls server;
  std::string cert;
};

Run run_one(std::string label, bool close_each, size_t events, TlsSetup* tls, size_t n, double budget_s,
            size_t warmup = kWarmup) {
  Run out;
  out.label = std::move(label);
  out.tls = tls != nullptr;
  out.close_each = close_each;
  out.events = events;

  StandIn server(close_each, tls ? &tls->server : nullptr, events);
  if (auto e = server.start(); !e.empty()) {
    out.error = e;
    return out;
  }
  out.response_bytes = server.response_bytes();

  rig::IoThread io;
  ls::ClientOptions o;
  o.api_url = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(server.port());
  o.service_name = kServiceName;
  o.service_id = kServiceId;
  if (tls) {
    o.tls.ca_file = tls->cert;
    o.tls.server_name = "localhost";
  }
  if (tls) tls->server.watch_group();
  auto created = ls::AsyncClient::create(io.context(), o);
  if (!created) {
    out.error = created.error().message;
    return out;
  }
  std::shared_ptr<ls::AsyncClient> client = *created;
  io.start();

  // Register once, as the reporter does.
  std::promise<rig::Expected<std::string>> reg;
  io.post([&] { client->connect(agent_metadata(), [&](rig::Expected<std::string> id) { reg.set_value(std::move(id)); }); });
  if (auto id = reg.get_future().get(); !id) {
    out.error = "registration: " + id.error().message;
  } else {
    clockid_t io_clock{};
    io.call([&] { pthread_getcpuclockid(pthread_self(), &io_clock); });
    const ls::json metadata = agent_metadata();
    Driver d;
    d.client = client.get();
    d.metadata = &metadata;

    // Warm-up.
    std::promise<void> warm;
    io.post([&] {
      d.target = warmup;
      d.deadline = Clock::now() + std::chrono::seconds(10);
      d.finished = [&] { warm.set_value(); };
      d.next();
    });
    warm.get_future().get();

    // The measured run: the counters are read on the io thread around it.
    d.latency.us.reserve(n);
    std::promise<void> measured;
    double p0 = 0, s0 = 0, i0 = 0;
    Clock::time_point t0;
    rig::net::HttpClient::Stats before;
    io.post([&] {
      d.target = n;
      d.done = d.failed = 0;
      d.first_error.clear();
      d.record = true;
      d.finished = [&] {
        const auto t1 = Clock::now();
        rigbench::alloc::enable(false);
        out.process_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - p0;
        out.server_cpu = server.cpu() - s0;
        out.io_cpu = cpu_seconds(io_clock) - i0;
        out.seconds = seconds(t1 - t0);
        const auto after = client->http_stats();
        out.during = {after.connections - before.connections, after.requests - before.requests, after.reused - before.reused};
        measured.set_value();
      };
      before = client->http_stats();
      rigbench::alloc::reset();
      p0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
      s0 = server.cpu();
      i0 = cpu_seconds(io_clock);
      t0 = Clock::now();
      d.deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_s));
      rigbench::alloc::enable(true);
      d.next();
    });
    measured.get_future().get();
    out.client = rigbench::alloc::client();
    out.server = rigbench::alloc::excluded();
    out.done = d.done;
    out.failed = d.failed;
    out.first_error = d.first_error;
    out.budget_hit = d.budget_hit;
    out.latency = std::move(d.latency);
    std::sort(out.latency.us.begin(), out.latency.us.end());
    out.total = client->http_stats();
  }
  io.call([&] { client->close(); });
  io.stop();
  client.reset();
  server.stop();
  out.failed_handshakes = server.failed_handshakes();
  out.suite = server.suite();
  out.warmup = warmup;
  if (tls) out.group = tls->server.group;
  return out;
}

void print_run(const Run& r) {
  if (!r.error.empty()) {
    std::printf("%s%s: could not run: %s\n", kIndent, r.label.c_str(), r.error.c_str());
    return;
  }
  std::printf("%s%s\n", kIndent, r.label.c_str());
  if (r.tls)
    std::printf("%s  TLS 1.2 %s, ECDHE group %s\n", kIndent, r.suite.c_str(), r.group.empty() ? "?" : r.group.c_str());
  std::printf("%s  %zu heartbeats (after %zu warm-up) in %.2f s%s: %.0f heartbeats/s | latency p50 %.1f p99 %.1f us\n",
              kIndent, r.done, r.warmup, r.seconds, r.budget_hit ? " (time budget hit, stopped early)" : "", r.rate(), r.latency.pct(0.5),
              r.latency.pct(0.99));
  std::printf("%s  CPU per heartbeat: client %.1f us (its io thread %.1f us), stand-in server %.1f us,"
              " whole process %.1f us\n",
              kIndent, r.per(r.client_cpu()) * 1e6, r.per(r.io_cpu) * 1e6, r.per(r.server_cpu) * 1e6,
              r.per(r.process_cpu) * 1e6);
  std::printf("%s  heap per heartbeat, client threads: %.1f operator new (%.0f bytes), %.1f calloc (%.0f bytes)"
              " | stand-in: %.1f new, %.1f calloc\n",
              kIndent, r.per(r.client.news), r.per(r.client.new_bytes), r.per(r.client.callocs),
              r.per(r.client.calloc_bytes), r.per(r.server.news), r.per(r.server.callocs));
  std::printf("%s  HttpClient::stats(): %llu connections opened for %llu heartbeats (%llu sent on a reused connection);"
              " all told %llu connections, %llu requests\n",
              kIndent, (unsigned long long)r.during.connections, (unsigned long long)r.during.requests,
              (unsigned long long)r.during.reused, (unsigned long long)r.total.connections,
              (unsigned long long)r.total.requests);
  if (r.failed)
    std::printf("%s  FAILED: %zu heartbeats, the first: %s\n", kIndent, r.failed, r.first_error.c_str());
  if (r.failed_handshakes)
    std::printf("%s  the stand-in saw %llu failed TLS handshakes\n", kIndent, (unsigned long long)r.failed_handshakes);
}

void print_ratio(const char* what, const Run& a, const Run& b) {
  if (!a.error.empty() || !b.error.empty() || !a.done || !b.done) return;
  std::printf("%s%s: heartbeats/s %.3g | client CPU per heartbeat %.3g | client allocations per heartbeat %.3g\n",
              kIndent, what, a.rate() / b.rate(), a.per(a.client_cpu()) / b.per(b.client_cpu()),
              a.per(a.client.news + a.client.callocs) / b.per(b.client.news + b.client.callocs));
}

// A self-signed EC P-256 certificate for "localhost" in a temp directory; "" if openssl is absent.
std::string make_certificate(const std::string& dir, std::string& why) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    why = "no openssl CLI to make a certificate";
    return {};
  }
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout '" + dir +
                          "/key.pem' -out '" + dir + "/cert.pem' -days 2 -subj /CN=localhost"
                          " -addext subjectAltName=DNS:localhost >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    why = "openssl could not make a certificate";
    return {};
  }
  return dir + "/cert.pem";
}

}  // namespace

bool run_laneswap_heartbeat(const LaneswapOptions& o) {
  const auto prev_level = rig::log::level();
  rig::log::set_level(rig::log::Level::error);
  const size_t n = o.heartbeats;
  std::printf("laneswap heartbeat  laneswap::AsyncClient on an IoThread -> in-process stand-in server on 127.0.0.1,"
              " heartbeats back to back\n%s(next from the previous completion), %zu per run after %zu warm-up,"
              " each with the agent's snapshot metadata; time budget %.0f s per run\n",
              kIndent, n, kWarmup, o.budget_s);
  std::printf("%sstand-in: a minimal blocking HTTP/1.1 responder written in the bench (Asio, own thread, fixed"
              " ServiceStatus bodies),\n%sits CPU (thread clock) and allocations excluded from the client figures;"
              " not the Python stand-in, which would be\n%sthe bottleneck (~450 us of CPU per heartbeat, ~2,000/s"
              " at most) and make the figures Python's. Client CPU = process CPU - stand-in thread\n%s(the io thread, Asio's resolver"
              " thread, the waiting main thread); allocations counted on all but the stand-in's thread.\n",
              kIndent, kIndent, kIndent, kIndent);
  std::fflush(stdout);

  bool ok = true;
  Run a = run_one("(a) plain HTTP, keep-alive: one connection", false, 1, nullptr, n, o.budget_s);
  std::printf("%sresponse: ServiceStatus with 1 event, %zu bytes with headers\n", kIndent, a.response_bytes);
  print_run(a);
  std::fflush(stdout);
  Run b = run_one("(b) plain HTTP, fresh connection each time: the stand-in answers \"Connection: close\" and closes,"
                  " the same client reconnects",
                  true, 1, nullptr, n, o.budget_s);
  print_run(b);
  print_ratio("ratio (a)/(b)", a, b);
  std::fflush(stdout);
  Run a100 = run_one("(a100) as (a), the reference server's steady-state response: the last 100 events", false, 100,
                     nullptr, std::max<size_t>(n / 4, 1), o.budget_s);
  std::printf("%sresponse: ServiceStatus with 100 events, %zu bytes with headers; %zu heartbeats\n", kIndent,
              a100.response_bytes, std::max<size_t>(n / 4, 1));
  print_run(a100);
  ok = a.error.empty() && b.error.empty() && a100.error.empty();
  std::fflush(stdout);

  if (o.tls) {
    char dir[] = "/tmp/rigagent-bench-XXXXXX";
    std::string why;
    std::string cert = mkdtemp(dir) ? make_certificate(dir, why) : (why = "no temp dir", std::string());
    if (cert.empty()) {
      std::printf("%s(c) TLS: skipped: %s\n", kIndent, why.c_str());
    } else {
      TlsSetup tls;
      tls.cert = cert;
      if (auto e = tls.server.load(cert, std::string(dir) + "/key.pem"); !e.empty()) {
        std::printf("%s(c) TLS: skipped: the stand-in cannot load its certificate: %s\n", kIndent, e.c_str());
      } else {
        std::printf("%sTLS: Mbed TLS on both ends, self-signed EC P-256 certificate for \"localhost\" (verified), no"
                    " session resumption (the agent's client\n%sdoes not resume sessions, so every new connection is a"
                    " full handshake)\n",
                    kIndent, kIndent);
        Run ca = run_one("(c-a) TLS, keep-alive: one connection", false, 1, &tls, n, o.budget_s);
        print_run(ca);
        std::fflush(stdout);
        // A full handshake costs milliseconds: fewer heartbeats and a shorter budget.
        const size_t nf = std::max<size_t>(n / 20, 1), wf = std::max<size_t>(kWarmup / 10, 1);
        const double bf = std::min(o.budget_s, 4.0);
        Run cb = run_one("(c-b) TLS, fresh connection each time (\"Connection: close\"); the stand-in takes the client's"
                         " first ECDHE group",
                         true, 1, &tls, nf, bf, wf);
        print_run(cb);
        print_ratio("ratio (c-a)/(c-b)", ca, cb);
        std::fflush(stdout);
        // The client offers Mbed TLS 2.28's default order, largest curve first; a server that
        // applies its own preference picks something cheaper. The stand-in cannot prefer (an
        // Mbed TLS server takes the client's order), so it narrows its list instead. x25519
        // alone is not possible: the certificate's curve must be on it.
        static const mbedtls_ecp_group_id kSmall[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                                      MBEDTLS_ECP_DP_NONE};
        mbedtls_ssl_conf_curves(&tls.server.conf, kSmall);
        Run cx = run_one("(c-b small) as (c-b), the stand-in allows only x25519 and secp256r1 (its certificate's curve),"
                         " as a server with its own preference might",
                         true, 1, &tls, nf, bf, wf);
        print_run(cx);
        print_ratio("ratio (c-a)/(c-b small)", ca, cx);
        print_ratio("ratio (c-a)/(a), TLS keep-alive vs plain keep-alive", ca, a);
        ok = ok && cx.error.empty();
        ok = ok && ca.error.empty() && cb.error.empty();
      }
      unlink((std::string(dir) + "/key.pem").c_str());
      unlink(cert.c_str());
    }
    rmdir(dir);
  } else {
    std::printf("%s(c) TLS: skipped (--no-tls)\n", kIndent);
  }
  rig::log::set_level(prev_level);
  return ok;
}

}  // namespace rigbench
