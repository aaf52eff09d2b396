// Real Serf agents for tests (serf-rpc.md §15): each on 127.0.0.1 with free gossip and RPC ports,
// its log in a temporary directory, ready once it answers a raw handshake (never a fixed sleep),
// and killed with the test (PR_SET_PDEATHSIG). A SerfCluster owns its agents and the directory;
// its destructor kills every agent it started and removes the directory.
//
// PR_SET_PDEATHSIG fires when the THREAD that forked ends, so start agents from a thread that
// lives as long as they should (the test's main thread).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rig::test {

using SteadyClock = std::chrono::steady_clock;

// A port free on 127.0.0.1 for TCP and, with `udp`, for UDP too (gossip uses both). Ports already
// handed out by this process are never handed out again, so agents started before their
// predecessors bound theirs cannot collide.
inline uint16_t free_port(bool udp) {
  static std::set<uint16_t> given;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (t < 0) return 0;
    if (bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(t, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(t);
      continue;
    }
    const uint16_t port = ntohs(a.sin_port);
    bool ok = !given.count(port);
    if (ok && udp) {
      const int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ok = u >= 0 && bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      if (u >= 0) close(u);
    }
    close(t);
    if (ok) {
      given.insert(port);
      return port;
    }
  }
  return 0;
}

// Connects to 127.0.0.1:port within the deadline; -1 when refused or too slow.
inline int connect_loopback(uint16_t port, SteadyClock::time_point deadline) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The raw handshake {"Command":"handshake","Seq":1} {"Version":1} (§2), and true when a reply
// with an empty Error came back before the deadline. Independent of the client under test.
inline bool raw_handshake(uint16_t rpc_port, SteadyClock::time_point deadline) {
  const int fd = connect_loopback(rpc_port, deadline);
  if (fd < 0) return false;
  static const unsigned char req[] = {0x82, 0xa7, 'C', 'o', 'm', 'm', 'a', 'n', 'd', 0xa9, 'h', 'a', 'n', 'd', 's', 'h', 'a',
                                      'k',  'e',  0xa3, 'S', 'e', 'q', 0x01, 0x81, 0xa7, 'V', 'e', 'r', 's', 'i', 'o', 'n', 0x01};
  static const unsigned char ok[] = {0x82, 0xa5, 'E', 'r', 'r', 'o', 'r', 0xa0, 0xa3, 'S', 'e', 'q', 0x01};
  bool good = send(fd, req, sizeof req, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof req);
  std::string in;
  while (good && in.size() < sizeof ok) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    pollfd p{fd, POLLIN, 0};
    char buf[64];
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) != 1) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return in.size() >= sizeof ok && std::memcmp(in.data(), ok, sizeof ok) == 0;
}

struct AgentSpec {
  std::string name;
  std::map<std::string, std::string> tags;
  std::string rpc_auth;             // written to a config file: 0.9.4 has no -rpc-auth agent flag
  std::string encrypt;              // base64 key for -encrypt, or empty
  std::vector<std::string> join;    // "127.0.0.1:GOSSIP" of agents to join at start
  std::string log_level = "debug";
};

class SerfAgent {
 public:
  SerfAgent(std::string serf, AgentSpec spec, std::filesystem::path dir)
      : serf_(std::move(serf)), spec_(std::move(spec)), dir_(std::move(dir)) {}
  ~SerfAgent() { kill_now(); }
  SerfAgent(const SerfAgent&) = delete;
  SerfAgent& operator=(const SerfAgent&) = delete;

  // Starts the agent (on the same ports as before when restarted) and waits until it answers a
  // handshake. On failure `error` says why and the log tail is in log_tail().
  bool start(std::string* error = nullptr, std::chrono::milliseconds ready_within = std::chrono::milliseconds(10000)) {
    if (pid_ > 0) return true;
    if (gossip_port_ == 0) {
      gossip_port_ = free_port(true);
      rpc_port_ = free_port(false);
    }
    if (gossip_port_ == 0 || rpc_port_ == 0) return give_up(error, "no free port");
    std::vector<std::string> args = {serf_, "agent", "-node=" + spec_.name, "-bind=" + gossip_addr(),
                                      "-rpc-addr=" + rpc_addr(), "-log-level=" + spec_.log_level};
    for (const auto& j : spec_.join) args.push_back("-join=" + j);
    for (const auto& [k, v] : spec_.tags) args.push_back("-tag=" + k + "=" + v);
    if (!spec_.encrypt.empty()) args.push_back("-encrypt=" + spec_.encrypt);
    if (!spec_.rpc_auth.empty()) {
      const auto cfg = dir_ / (spec_.name + ".json");
      std::ofstream(cfg) << "{\"rpc_auth\": \"" << spec_.rpc_auth << "\"}\n";
      args.push_back("-config-file=" + cfg.string());
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = log_path().string();
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return give_up(error, "cannot open " + log);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {  // only async-signal-safe calls from here to exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      dup2(out, 1);
      dup2(out, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out);
    if (pid < 0) return give_up(error, std::string("fork: ") + std::strerror(errno));
    pid_ = pid;
    ++starts_;
    const auto deadline = SteadyClock::now() + ready_within;
    while (SteadyClock::now() < deadline) {
      if (raw_handshake(rpc_port_, std::min(deadline, SteadyClock::now() + std::chrono::milliseconds(500)))) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return give_up(error, spec_.name + " exited during start-up (status " + std::to_string(status) + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_now();
    return give_up(error, spec_.name + " did not answer a handshake within " + std::to_string(ready_within.count()) + " ms");
  }

  // SIGKILL + waitpid: peers see it fail (about 8 s later), nothing is left behind.
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGINT: a graceful leave (1-3 s); SIGKILL when it takes longer than `within`. True when the
  // agent exited by itself with status 0.
  bool interrupt(std::chrono::milliseconds within = std::chrono::milliseconds(8000)) {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGINT);
    const auto st = wait_exit(within);
    if (!st) kill_now();
    return st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0;
  }
  // Waits for the agent to exit by itself (after an RPC `leave`): its wait status, or nullopt
  // when it is still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds within) {
    if (pid_ <= 0) return last_status_;
    const auto deadline = SteadyClock::now() + within;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        last_status_ = status;
        return status;
      }
      if (SteadyClock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int starts() const { return starts_; }
  const std::string& name() const { return spec_.name; }
  const AgentSpec& spec() const { return spec_; }
  uint16_t gossip_port() const { return gossip_port_; }
  uint16_t rpc_port() const { return rpc_port_; }
  std::string gossip_addr() const { return "127.0.0.1:" + std::to_string(gossip_port_); }
  std::string rpc_addr() const { return "127.0.0.1:" + std::to_string(rpc_port_); }
  std::filesystem::path log_path() const { return dir_ / (spec_.name + ".log"); }
  std::string log() const {
    std::ifstream f(log_path());
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  // The last lines of the log, each cut to `width` characters (payloads are logged in full).
  std::string log_tail(size_t lines = 20, size_t width = 200) const {
    const std::string all = log();
    size_t pos = all.size();
    for (size_t n = 0; n <= lines && pos > 0; ++n) {
      const size_t nl = all.rfind('\n', pos - 1);
      if (nl == std::string::npos) {
        pos = 0;
        break;
      }
      pos = nl;
    }
    std::string out;
    std::istringstream in(all.substr(pos));
    for (std::string line; std::getline(in, line);) {
      if (line.size() > width) line = line.substr(0, width) + "...";
      out += line + "\n";
    }
    return out;
  }

 private:
  bool give_up(std::string* error, const std::string& why) {
    if (error) *error = why;
    return false;
  }

  std::string serf_;
  AgentSpec spec_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t gossip_port_ = 0, rpc_port_ = 0;
  int starts_ = 0;
  std::optional<int> last_status_;
};

// Agents sharing a temporary directory. add() starts one (joined to the agents named in
// `join_names`); the destructor kills them all and removes the directory.
class SerfCluster {
 public:
  explicit SerfCluster(std::string serf) : serf_(std::move(serf)) {
    char tmpl[] = "/tmp/serf-test-XXXXXX";
    if (mkdtemp(tmpl)) dir_ = tmpl;
  }
  ~SerfCluster() {
    agents_.clear();  // kills first, then the directory goes
    if (!dir_.empty() && std::getenv("SERF_TEST_KEEP_LOGS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  SerfCluster(const SerfCluster&) = delete;
  SerfCluster& operator=(const SerfCluster&) = delete;

  // nullptr when the agent did not come up; `error` says why.
  SerfAgent* add(AgentSpec spec, const std::vector<std::string>& join_names = {}, std::string* error = nullptr) {
    for (const auto& n : join_names)
      if (auto* j = find(n)) spec.join.push_back(j->gossip_addr());
    auto agent = std::make_unique<SerfAgent>(serf_, std::move(spec), dir_);
    if (dir_.empty() || !agent->start(error)) return nullptr;
    agents_.push_back(std::move(agent));
    return agents_.back().get();
  }
  SerfAgent* find(const std::string& name) const {
    for (const auto& a : agents_)
      if (a->name() == name) return a.get();
    return nullptr;
  }
  SerfAgent& operator[](const std::string& name) const { return *find(name); }
  const std::vector<std::unique_ptr<SerfAgent>>& agents() const { return agents_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Every agent's log tail, for a failing test's output.
  std::string log_tails(size_t lines = 15) const {
    std::string s;
    for (const auto& a : agents_) s += "---- " + a->name() + " (" + a->log_path().string() + ")\n" + a->log_tail(lines) + "\n";
    return s;
  }

 private:
  std::string serf_;
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SerfAgent>> agents_;
};

// A fixed 16-byte key (base64) for -encrypt, so tests need not run `serf keygen`.
inline const char* kSerfTestKey1 = "ZWxpaml1bmtleTEyMzQ1Ng==";  // "elijiunkey123456"
inline const char* kSerfTestKey2 = "c2Vjb25ka2V5YWJjZGVmZw==";  // "secondkeyabcdefg"

}  // namespace rig::test
