#include "upstream/laneswap/reporter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/log.hpp"

namespace rig::laneswap {

namespace {
constexpr auto kFirstRetry = std::chrono::milliseconds(1000);
constexpr auto kMaxRegisterRetry = std::chrono::milliseconds(60'000);
}  // namespace

std::string stable_service_id(const LaneswapConfig& c) {
  if (!c.service_id.empty()) return c.service_id;
  // The file's first whitespace-separated word (what `std::ifstream(...) >> id` read).
  std::string id;
  if (FILE* f = std::fopen("/etc/machine-id", "re")) {
    int ch;
    while ((ch = std::getc(f)) != EOF && std::isspace(ch)) {
    }
    for (; ch != EOF && !std::isspace(ch); ch = std::getc(f)) id += static_cast<char>(ch);
    if (std::ferror(f)) id.clear();
    std::fclose(f);
  }
  if (id.size() >= 8 && std::all_of(id.begin(), id.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); }))
    return "rig-" + id;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) return std::string("rig-") + host;
  return "rig-unknown";
}

ClientOptions client_options(const LaneswapConfig& c, const std::string& identifier) {
  ClientOptions o;
  o.api_url = c.url;
  o.service_name = c.service_name.empty() ? "rigagent-" + identifier : c.service_name;
  o.service_id = stable_service_id(c);
  o.headers = c.headers;
  o.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms);
  o.request_timeout = std::chrono::milliseconds(c.request_timeout_ms);
  o.register_timeout = std::max(o.request_timeout, std::chrono::milliseconds(30'000));
  o.tls.ca_file = c.ca_file;
  o.tls.verify = c.verify_tls;
  return o;
}

std::optional<Status> fallback_status(Status s, const std::set<Status>& refused) {
  // Nearest first; "unknown" is what every server generation accepts.
  std::vector<Status> chain;
  switch (s) {
    case Status::warning: chain = {Status::degraded, Status::healthy}; break;
    case Status::degraded: chain = {Status::warning, Status::healthy}; break;
    case Status::error: chain = {Status::degraded, Status::warning, Status::unknown}; break;
    case Status::busy: chain = {Status::healthy}; break;
    case Status::idle: chain = {Status::healthy}; break;
    case Status::shutdown: chain = {Status::unknown}; break;
    case Status::stale: chain = {Status::unknown}; break;
    default: chain = {Status::unknown}; break;
  }
  chain.push_back(Status::unknown);
  for (Status c : chain)
    if (c != s && !refused.count(c)) return c;
  return std::nullopt;
}

Expected<std::shared_ptr<Reporter>> Reporter::create(asio::io_context& io, const LaneswapConfig& config,
                                                     const std::string& identifier, SnapshotFn snapshot) {
  auto client = AsyncClient::create(io, client_options(config, identifier));
  if (!client) return Error{"laneswap: " + client.error().message, client.error().code};
  return std::shared_ptr<Reporter>(new Reporter(io, config, std::move(*client), std::move(snapshot)));
}

Reporter::Reporter(asio::io_context& io, const LaneswapConfig& config, std::shared_ptr<AsyncClient> client,
                   SnapshotFn snapshot)
    : io_(io), config_(config), client_(std::move(client)), snapshot_(std::move(snapshot)), timer_(io) {}

void Reporter::start() {
  if (!config_.verify_tls) log::warn("laneswap", "TLS certificate verification is OFF (laneswap.verify_tls false)");
  char every[32];
  std::snprintf(every, sizeof every, "%g", config_.interval);
  log::info("laneswap", "reporting to " + client_->where() + " as service '" + client_->service_id() + "' every " +
                            every + " s");
  auto self = shared_from_this();
  asio::post(io_, [self] { self->do_register(); });
}

std::chrono::milliseconds Reporter::backoff() {
  // 1 s doubling, capped (registration at 60 s, heartbeats at their interval), +-20 % jitter so a
  // fleet that lost its server does not come back in lockstep.
  const auto cap = registered_ ? std::chrono::milliseconds(static_cast<int64_t>(config_.interval * 1000)) : kMaxRegisterRetry;
  auto d = kFirstRetry * (1LL << std::min(failures_in_a_row_ - 1, 16));
  d = std::min<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(d), cap);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d.count()) * jitter(rng_)));
}

void Reporter::failed(const std::string& what, const Error& e) {
  ++failures_in_a_row_;
  ++stats_.failures;
  stats_.last_error = e.message;
  // Once per outage, not once per retry: a dead server must not flood the journal.
  if (!down_logged_) log::warn("laneswap", what + " failed: " + e.message + " (retrying with backoff)");
  else log::debug("laneswap", what + " failed again: " + e.message);
  down_logged_ = true;
}

void Reporter::recovered() {
  if (down_logged_) log::info("laneswap", "reachable again: " + client_->where());
  down_logged_ = false;
  failures_in_a_row_ = 0;
}

void Reporter::schedule(std::chrono::milliseconds delay) {
  if (stopping_) return;
  timer_.expires_after(delay);
  std::weak_ptr<Reporter> weak = shared_from_this();
  timer_.async_wait([weak](const std::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopping_) return;
    if (self->registered_) self->beat();
    else self->do_register();
  });
}

void Reporter::do_register() {
  if (stopping_ || in_flight_) return;
  in_flight_ = true;
  Snapshot s = snapshot_();
  auto self = shared_from_this();
  client_->connect(s.metadata, [self](Expected<std::string> id) {
    self->in_flight_ = false;
    if (self->stopping_) return;
    if (!id) {
      self->failed("registration with " + self->client_->where(), id.error());
      return self->schedule(self->backoff());
    }
    ++self->stats_.registrations;
    self->registered_ = self->stats_.registered = true;
    self->recovered();
    log::info("laneswap", "registered as '" + *id + "'");
    self->beat();  // at once: a service that never beats stays "unknown" forever (§6)
  });
}

void Reporter::beat() {
  if (stopping_) return;
  if (in_flight_) {
    again_ = true;  // a state change during a heartbeat: send another right after it
    return;
  }
  in_flight_ = true;
  again_ = false;
  Snapshot s = snapshot_();
  Status status = s.status;
  while (refused_.count(status))
    if (auto f = fallback_status(status, refused_)) status = *f;
    else break;
  auto self = shared_from_this();
  client_->send_heartbeat(status, s.message, s.metadata, [self, status](Expected<ServiceInfo> r) {
    self->in_flight_ = false;
    if (self->stopping_) return;
    if (!r && errc(r.error()) == Errc::invalid_status && !self->refused_.count(status)) {
      // This server does not know the status: remember it, say so once, and send the closest
      // one it accepts right away, never an endless error loop.
      self->refused_.insert(status);
      const auto f = fallback_status(status, self->refused_);
      log::warn("laneswap", std::string("the server refuses status ") + wire_name(status) + "; sending " +
                                (f ? wire_name(*f) : "nothing") + " instead from now on (" + r.error().message + ")");
      if (f) return self->beat();
    }
    if (!r) {
      self->failed("heartbeat to " + self->client_->where(), r.error());
      return self->schedule(self->backoff());
    }
    ++self->stats_.heartbeats;
    self->recovered();
    if (self->again_) return self->beat();
    self->schedule(std::chrono::milliseconds(static_cast<int64_t>(self->config_.interval * 1000)));
  });
}

void Reporter::state_changed() {
  std::weak_ptr<Reporter> weak = shared_from_this();
  asio::post(io_, [weak] {
    if (auto self = weak.lock(); self && self->registered_ && !self->stopping_) self->beat();
  });
}

void Reporter::command_pending(int64_t command, int64_t nonce, const std::string& name) {
  if (!config_.report_progress) return;
  std::weak_ptr<Reporter> weak = shared_from_this();
  asio::post(io_, [weak, command, nonce, name] {
    auto self = weak.lock();
    if (!self || self->stopping_ || !self->registered_) return;
    self->client_->start_progress(
        name, 1, "nonce " + std::to_string(nonce), json{{"command", command}, {"nonce", nonce}},
        [weak, command, nonce](Expected<std::string> task) {
          auto s = weak.lock();
          if (!s) return;
          if (task) {
            s->tasks_[{command, nonce}] = *task;
          } else if (errc(task.error()) == Errc::progress_not_supported) {
            if (!s->progress_logged_) log::info("laneswap", task.error().message + "; long commands are not reported as tasks");
            s->progress_logged_ = true;
          } else {
            log::warn("laneswap", "start_progress: " + task.error().message);
          }
        });
  });
}

void Reporter::command_finished(int64_t command, int64_t nonce, bool ok, const std::string& message) {
  std::weak_ptr<Reporter> weak = shared_from_this();
  asio::post(io_, [weak, command, nonce, ok, message] {
    auto self = weak.lock();
    if (!self) return;
    auto it = self->tasks_.find({command, nonce});
    if (it == self->tasks_.end()) return;
    const std::string task = it->second;
    self->tasks_.erase(it);
    self->client_->update_progress(task, 1, ok ? "running" : "failed", message, json::object(),
                                   [](Expected<json>) {});
    self->client_->complete_progress(task, ok ? "completed" : "failed", message, json::object(), [task](Expected<json> r) {
      if (!r) log::warn("laneswap", "complete_progress " + task + ": " + r.error().message);
    });
  });
}

void Reporter::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  stopping_ = true;
  timer_.cancel();
  if (!registered_) {
    client_->close();
    return done();
  }
  // SHUTDOWN goes on the wire as "unknown", message "shutting down" (§3): the server has no
  // unregister route.
  Snapshot s = snapshot_();
  auto self = shared_from_this();
  auto finished = std::make_shared<bool>(false);
  client_->send_heartbeat(
      Status::shutdown, std::string("shutting down"), s.metadata,
      [self, finished, done](Expected<ServiceInfo> r) {
        if (*finished) return;
        *finished = true;
        if (!r) log::warn("laneswap", "final SHUTDOWN heartbeat: " + r.error().message);
        self->client_->close();
        done();
      },
      grace);
}

}  // namespace rig::laneswap
