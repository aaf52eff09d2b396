#include "core/sd_notify.hpp"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/log.hpp"

namespace rig::sd {

namespace {

// A decimal number with nothing else around it (sd_watchdog_enabled accepts no sign, no spaces).
bool parse_u64(const char* text, uint64_t& out) {
  if (!text || !*text) return false;
  uint64_t v = 0;
  for (const char* p = text; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    uint64_t d = static_cast<uint64_t>(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string seconds(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Notifier

Notifier::~Notifier() {
  if (fd_ >= 0) ::close(fd_);
}

Notifier::Notifier(Notifier&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      address_(std::move(o.address_)),
      sockaddr_(std::move(o.sockaddr_)),
      watchdog_(o.watchdog_) {}

Notifier& Notifier::operator=(Notifier&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    address_ = std::move(o.address_);
    sockaddr_ = std::move(o.sockaddr_);
    watchdog_ = o.watchdog_;
  }
  return *this;
}

Expected<Notifier> Notifier::open(std::string_view address, std::chrono::microseconds watchdog) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  socklen_t len = 0;
  if (address.size() >= 2 && address[0] == '@') {
    // Abstract namespace: a leading NUL, the name, no terminator; the length counts exactly that.
    if (address.size() > sizeof sa.sun_path) return make_error("NOTIFY_SOCKET '" + std::string(address) + "' is too long");
    sa.sun_path[0] = '\0';
    std::memcpy(sa.sun_path + 1, address.data() + 1, address.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  } else if (!address.empty() && address[0] == '/') {
    if (address.size() >= sizeof sa.sun_path) return make_error("NOTIFY_SOCKET '" + std::string(address) + "' is too long");
    std::memcpy(sa.sun_path, address.data(), address.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + 1);
  } else {
    return make_error("NOTIFY_SOCKET '" + std::string(address) +
                      "' is neither an absolute path nor an abstract socket ('@name')");
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(std::string("notify socket: ") + std::strerror(errno));
  Notifier n;
  n.fd_ = fd;
  n.address_ = std::string(address);
  n.sockaddr_.assign(reinterpret_cast<const char*>(&sa), len);
  n.watchdog_ = watchdog;
  return n;
}

Notifier Notifier::from_environment(bool unset_environment) {
  const char* socket_env = std::getenv("NOTIFY_SOCKET");
  const char* usec_env = std::getenv("WATCHDOG_USEC");
  const char* pid_env = std::getenv("WATCHDOG_PID");
  std::string address = socket_env ? socket_env : "";

  // sd_watchdog_enabled(): WATCHDOG_USEC must be a positive number; WATCHDOG_PID, when set, must
  // be this process (otherwise the watchdog is meant for another process, e.g. a parent shell).
  std::chrono::microseconds watchdog{0};
  if (usec_env) {
    uint64_t usec = 0;
    if (!parse_u64(usec_env, usec) || usec == 0) {
      log::warn("systemd", std::string("ignoring WATCHDOG_USEC='") + usec_env + "': not a positive number of microseconds");
    } else if (pid_env) {
      uint64_t pid = 0;
      if (!parse_u64(pid_env, pid) || pid == 0)
        log::warn("systemd", std::string("ignoring the watchdog: WATCHDOG_PID='") + pid_env + "' is not a pid");
      else if (pid != static_cast<uint64_t>(::getpid()))
        log::debug("systemd", std::string("the watchdog is for pid ") + pid_env + ", not this process: not pinging");
      else
        watchdog = std::chrono::microseconds(usec);
    } else {
      watchdog = std::chrono::microseconds(usec);
    }
  }
  if (unset_environment) {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  if (address.empty()) {
    if (watchdog.count() > 0) log::warn("systemd", "WATCHDOG_USEC is set but NOTIFY_SOCKET is not: no watchdog pings");
    return Notifier{};
  }
  auto n = open(address, watchdog);
  if (!n) {
    log::warn("systemd", n.error().message + ": not notifying the service manager");
    return Notifier{};
  }
  return std::move(*n);
}

Expected<void> Notifier::notify(std::string_view state) const {
  if (fd_ < 0) return {};
  ssize_t n = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                       reinterpret_cast<const sockaddr*>(sockaddr_.data()), static_cast<socklen_t>(sockaddr_.size()));
  if (n < 0) return make_error("notify socket " + address_ + ": " + std::strerror(errno));
  if (static_cast<size_t>(n) != state.size()) return make_error("notify socket " + address_ + ": short send");
  return {};
}

std::string status_assignment(std::string_view text) {
  std::string s = "STATUS=";
  s.reserve(s.size() + text.size());
  for (char c : text) s += (c == '\n' || c == '\r') ? ' ' : c;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Watchdog

struct Watchdog::Reply::Shared {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t issued = 0;    // the probe in flight (or the last one)
  uint64_t answered = 0;  // the last probe that called done()
  size_t hops = 0;        // hops answered by probe `issued`
  bool stop = false;
  uint64_t pings = 0;
  uint64_t stalls = 0;
};

void Watchdog::Reply::hop() const {
  if (!shared_) return;
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (seq_ == shared_->issued) shared_->hops++;
}

void Watchdog::Reply::done() const {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (seq_ != shared_->issued || shared_->answered == seq_) return;
    shared_->answered = seq_;
  }
  shared_->cv.notify_all();
}

Watchdog::Watchdog(const Notifier& notifier, Probe probe, StatusText status, Options options)
    : notifier_(notifier),
      probe_(std::move(probe)),
      status_(std::move(status)),
      options_(std::move(options)),
      shared_(std::make_shared<Reply::Shared>()) {}

Watchdog::~Watchdog() { stop(); }

void Watchdog::start() {
  if (thread_.joinable() || !notifier_.enabled()) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Watchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t Watchdog::pings() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->pings;
}

uint64_t Watchdog::stalls() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->stalls;
}

void Watchdog::run() {
  using clock = std::chrono::steady_clock;
  Reply::Shared& s = *shared_;
  const auto interval = std::chrono::duration_cast<clock::duration>(options_.ping_interval);
  const bool pinging = interval.count() > 0 && probe_;
  const auto poll = std::chrono::duration_cast<clock::duration>(std::max(options_.status_poll, std::chrono::milliseconds(1)));

  std::string last_status = options_.sent_status;
  bool notify_failing = false;
  auto send = [&](const std::string& state) {
    auto r = notifier_.notify(state);
    if (!r && !notify_failing) log::warn("systemd", r.error().message);
    if (r && notify_failing) log::info("systemd", "the notify socket works again");
    notify_failing = !r;
    return bool(r);
  };

  auto now = clock::now();
  auto next_probe = now;  // the first probe at once: the first ping follows READY=1 closely
  auto next_status = now;
  bool outstanding = false;
  bool stalled = false;
  clock::time_point issued_at;

  std::unique_lock<std::mutex> lock(s.mu);
  while (!s.stop) {
    now = clock::now();
    if (status_ && !stalled && now >= next_status) {
      lock.unlock();
      std::string text = status_();
      if (text != last_status && send(status_assignment(text))) last_status = text;
      lock.lock();
      next_status = now + poll;
      continue;  // re-check stop and the clock
    }
    if (pinging && outstanding && s.answered == s.issued) {
      outstanding = false;
      s.pings++;
      lock.unlock();
      send("WATCHDOG=1");
      if (stalled) {
        log::info("systemd", "watchdog: the agent answers again after " + seconds(now - issued_at) + ": pinging again");
        last_status.clear();  // replace the "not answering" status at once
        next_status = now;
      }
      lock.lock();
      stalled = false;
      next_probe = issued_at + interval;
      if (next_probe <= now) next_probe = now + interval;
      continue;
    }
    if (pinging && !outstanding && now >= next_probe) {
      outstanding = true;
      issued_at = now;
      Reply reply;
      reply.shared_ = shared_;
      reply.seq_ = ++s.issued;
      s.hops = 0;
      lock.unlock();
      probe_(reply);  // may answer at once, on this thread
      lock.lock();
      continue;
    }
    if (pinging && outstanding && !stalled && now >= issued_at + interval) {
      stalled = true;
      s.stalls++;
      size_t hops = s.hops;
      lock.unlock();
      std::string who = hops < options_.hop_names.size() ? options_.hop_names[hops] : std::string("the agent");
      std::string what = who + " has not answered the watchdog probe for " + seconds(now - issued_at) +
                         ": withholding the ping (systemd restarts the service after " +
                         seconds(notifier_.watchdog_period()) + " without one)";
      log::warn("systemd", "watchdog: " + what);
      send(status_assignment("unresponsive: " + what));
      lock.lock();
      continue;
    }
    // Sleep until the next thing to do, or until a probe answers or stop() is called.
    clock::time_point wake = status_ && !stalled ? next_status : clock::time_point::max();
    if (pinging) wake = std::min(wake, outstanding ? (stalled ? clock::time_point::max() : issued_at + interval) : next_probe);
    auto ready = [&] { return s.stop || (pinging && outstanding && s.answered == s.issued); };
    if (wake == clock::time_point::max())
      s.cv.wait(lock, ready);
    else
      s.cv.wait_until(lock, wake, ready);
  }
}

}  // namespace rig::sd
