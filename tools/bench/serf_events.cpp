#include "serf_events.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "upstream/serf/sync_client.hpp"

namespace rigbench {

namespace {

using Clock = std::chrono::steady_clock;
const char* kIndent = "                    ";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

pid_t spawn(const std::vector<std::string>& args, bool quiet) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (quiet) {
      FILE* devnull = std::fopen("/dev/null", "w");
      if (devnull) {
        dup2(fileno(devnull), 1);
        dup2(fileno(devnull), 2);
      }
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
}

double rss_mib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

// Events through one AsyncClient with up to `window` in flight; returns events/s (0 on error).
double pipelined(rig::serf::SyncClient& c, size_t n, size_t window, std::string& error) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  struct State {
    size_t sent = 0, acked = 0;
    std::string error;
  };
  auto st = std::make_shared<State>();
  auto& client = c.async();
  const auto t0 = Clock::now();
  auto pump_ptr = std::make_shared<std::function<void()>>();
  *pump_ptr = [&client, st, n, window, done, pump_ptr] {
    while (st->sent < n && st->sent - st->acked < window) {
      const size_t i = st->sent++;
      client.event("bench", "event " + std::to_string(i), false, [st, n, done, pump_ptr](rig::Expected<void> r) {
        if (!r && st->error.empty()) st->error = r.error().message;
        if (++st->acked == n) {
          done->set_value();
          *pump_ptr = nullptr;  // break the cycle
        } else if (*pump_ptr) {
          (*pump_ptr)();
        }
      });
    }
  };
  c.io().post([pump_ptr] { (*pump_ptr)(); });
  if (finished.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    error = "timed out";
    return 0;
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  c.io().call([st] { return 0; });
  error = st->error;
  return static_cast<double>(n) / s;
}

}  // namespace

bool run_serf_events(const SerfOptions& o) {
  const auto prev = rig::log::level();
  rig::log::set_level(rig::log::Level::error);
  const int gossip = free_port(), rpc = free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(rpc);
  pid_t agent = spawn({o.serf, "agent", "-node=bench", "-bind=127.0.0.1:" + std::to_string(gossip), "-rpc-addr=" + addr,
                       "-log-level=warn"},
                      true);
  std::unique_ptr<rig::serf::SyncClient> client;
  for (int i = 0; i < 100 && !client; ++i) {
    rig::serf::Options opts;
    opts.address = addr;
    opts.connect_timeout = std::chrono::milliseconds(500);
    auto c = rig::serf::SyncClient::connect(opts);
    if (c) client = std::move(*c);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!client) {
    std::printf("serf events         skipped: no Serf agent came up (%s)\n", o.serf.c_str());
    stop(agent);
    return false;
  }
  std::printf("serf events         user events (coalesce off, ~10-byte payloads) to a real Serf agent (%s agent,"
              " one node) on 127.0.0.1\n", o.serf.c_str());
  // Everything the agent accepted also reaches a stream: counted on a second connection.
  auto watcher_c = rig::serf::SyncClient::connect([&] {
    rig::serf::Options w;
    w.address = addr;
    return w;
  }());
  std::unique_ptr<rig::serf::StreamSubscription> stream;
  if (watcher_c) {
    auto s = (*watcher_c)->stream("user:bench", 1 << 20);
    if (s) stream = std::move(*s);
  }
  bool ok = true;
  std::string error;
  // Warm-up.
  pipelined(*client, 500, o.window, error);
  if (stream)
    while (stream->next(std::chrono::milliseconds(300))) {
    }

  const double a = pipelined(*client, o.events, o.window, error);
  if (!error.empty()) ok = false;
  size_t seen = 0;
  if (stream)
    while (stream->next(std::chrono::milliseconds(500))) ++seen;
  std::printf("%s(a) rigagent serf::AsyncClient, one connection, %zu in flight: %9.0f events/s (%zu events%s%s)\n", kIndent,
              o.window, a, o.events, error.empty() ? "" : ", error: ", error.c_str());
  if (stream)
    std::printf("%s    delivered to a stream on another connection: %zu of %zu\n", kIndent, seen, o.events);

  const size_t n1 = std::max<size_t>(o.events / 10, 1);
  const double b = pipelined(*client, n1, 1, error);
  if (!error.empty()) ok = false;
  if (stream)
    while (stream->next(std::chrono::milliseconds(300))) {
    }
  std::printf("%s(b) rigagent serf::AsyncClient, one at a time:            %9.0f events/s (%zu events)\n", kIndent, b, n1);

  // The command-line tool: a process, a connection and a handshake per event.
  const auto t0 = Clock::now();
  size_t cli_ok = 0;
  for (size_t i = 0; i < o.cli_events; ++i) {
    pid_t p = spawn({o.serf, "event", "-rpc-addr=" + addr, "-coalesce=false", "bench", "cli " + std::to_string(i)}, true);
    int st = 0;
    waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) ++cli_ok;
  }
  const double c = static_cast<double>(o.cli_events) / std::chrono::duration<double>(Clock::now() - t0).count();
  if (cli_ok != o.cli_events) ok = false;
  std::printf("%s(c) `serf event` command-line tool, one per event:        %9.0f events/s (%zu events, %zu ok)\n", kIndent,
              c, o.cli_events, cli_ok);
  std::printf("%sratio (a)/(c) %.0fx, (b)/(c) %.0fx\n", kIndent, a / c, b / c);
  stream.reset();
  watcher_c = rig::Expected<std::unique_ptr<rig::serf::SyncClient>>(rig::Error{"closed", 0});
  client.reset();

  if (!o.rigagent.empty()) {
    char dir[] = "/tmp/rigagent-bench-XXXXXX";
    if (mkdtemp(dir)) {
      auto rss_of = [&](bool serf) {
        const std::string cfg = std::string(dir) + (serf ? "/serf.json" : "/plain.json");
        std::ofstream(cfg) << R"({"rpc":{"pub_endpoints":["tcp://127.0.0.1:*"],"command_endpoints":["tcp://127.0.0.1:*"]},)"
                           << R"("app_link":{"endpoint":"ipc://)" << dir << (serf ? "/a1" : "/a2") << R"("},)"
                           << R"("hal":{"control_socket":")" << dir << (serf ? "/h1" : "/h2") << R"("},"log_level":"warn")"
                           << (serf ? R"(,"serf":{"enable":true,"rpc_addr":")" + addr + "\"}" : std::string()) << "}";
        pid_t p = spawn({o.rigagent, "run", "--config", cfg}, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(2000));
        const double r = rss_mib(p);
        stop(p);
        return r;
      };
      const double with = rss_of(true), without = rss_of(false);
      std::printf("%sRSS of `rigagent run` after 2 s: with Serf enabled (connected, tags set, query stream open) %.2f MiB,"
                  " without %.2f MiB\n", kIndent, with, without);
      for (const char* f : {"/serf.json", "/plain.json", "/a1", "/a2", "/h1", "/h2"}) unlink((std::string(dir) + f).c_str());
      rmdir(dir);
    }
  }
  stop(agent);
  rig::log::set_level(prev);
  return ok;
}

}  // namespace rigbench
