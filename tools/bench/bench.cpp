// rigagent-bench: rigagent's RpcService against raw libzmq, in one run on one machine, as ratios.
//   event throughput   PUB -> SUB over loopback TCP, raw PUB vs RpcService::publish (other thread)
//   command round trip REQ -> REP echo vs REQ -> rigagent NONE, p50/p99
//   idle RSS           of a running `rigagent run` process
//   binary size        of the rigagent binary
//   e-stop latency     simulated edge -> EMERGENCY frame at a SUB, idle and under an event flood
//                      (estop_latency.cpp)
//   laneswap heartbeat CPU time and allocations per heartbeat, heartbeats/s on one keep-alive
//                      connection vs a fresh connection each time, plain and TLS (laneswap_heartbeat.cpp)
//   serf events        user events/s through one Serf RPC connection vs the `serf event` CLI, and the
//                      RSS of rigagent with Serf enabled (serf_events.cpp)
// Usage: rigagent-bench [--rigagent PATH] [--events N] [--requests N] [--presses N] [--flood-rate N]
//                       [--flood-idle] [--send-hwm N] [--heartbeats N] [--no-tls]
//                       [--only SECTION[,SECTION]] [--quick]
//                       [--serf-events N] [--serf PATH]
// Sections: throughput, rtt, estop, laneswap, serf, size (binary size and idle RSS); all by default.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon.hpp"
#include "estop_latency.hpp"
#include "laneswap_heartbeat.hpp"
#include "serf_events.hpp"
#include "rpc/codec.hpp"

using namespace rig;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kBody =
    R"({"kind":1501,"when":1795289106.749944,"index":364416653718,"context":{"pelletId":3,"animalId":"ABC-1"}})";
const std::string kRequest = R"({"command":0,"nonce":1})";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Receives `n` two-frame messages (after one "ready" probe has been seen) and returns the seconds taken.
struct Receiver {
  Receiver(zmq::context_t& ctx, const std::string& ep) : sub(ctx, zmq::socket_type::sub) {
    sub.set(zmq::sockopt::rcvhwm, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.set(zmq::sockopt::linger, 0);
    sub.connect(ep);
  }
  size_t count(size_t n, Clock::time_point& first, int timeout_ms) {
    size_t got = 0;
    zmq::message_t m;
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    while (got < n) {
      if (!sub.recv(m, zmq::recv_flags::dontwait)) {
        zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
        if (!(item.revents & ZMQ_POLLIN)) break;
        continue;
      }
      if (!m.more()) {
        if (got == 0) first = Clock::now();
        ++got;
      }
    }
    return got;
  }
  zmq::socket_t sub;
};

template <typename Publish>
void wait_joined(Receiver& r, Publish probe) {
  zmq::pollitem_t item{r.sub.handle(), 0, ZMQ_POLLIN, 0};
  for (int i = 0; i < 500; ++i) {
    probe();
    zmq::poll(&item, 1, std::chrono::milliseconds(10));
    if (item.revents & ZMQ_POLLIN) break;
  }
  zmq::message_t m;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  while (r.sub.recv(m, zmq::recv_flags::dontwait)) {
  }
}

double raw_throughput(size_t n) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, 0);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("tcp://127.0.0.1:*");
  Receiver r(ctx, pub.get(zmq::sockopt::last_endpoint));
  const std::string topic = rpc::topic_frame(4001);
  // The raw baseline also publishes from a thread other than the receiver, like the agent.
  wait_joined(r, [&] {
    pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(std::string("probe")), zmq::send_flags::none);
  });
  auto t0 = Clock::now();
  std::thread producer([&] {
    for (size_t i = 0; i < n; ++i) {
      pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
      pub.send(zmq::buffer(kBody), zmq::send_flags::none);
    }
  });
  Clock::time_point first;
  size_t got = r.count(n, first, 2000);
  double s = seconds_since(t0);
  producer.join();
  return got / s;
}

double rig_throughput(size_t n, bool encode) {
  rpc::ServiceOptions o;
  o.pub_endpoints = {"tcp://127.0.0.1:*"};
  o.command_endpoints = {"tcp://127.0.0.1:*"};
  o.queue_capacity = n + 16;
  o.send_hwm = 0;
  o.heartbeat_interval = std::chrono::hours(1);
  rpc::RpcService svc(o);
  if (!svc.start()) return 0;
  zmq::context_t ctx(1);
  Receiver r(ctx, svc.bound_pub_endpoints()[0]);
  wait_joined(r, [&] { svc.publish(rpc::Topic::any, "probe"); });
  const rpc::json context = {{"pellet_id", 3}, {"animal_id", "ABC-1"}};
  auto t0 = Clock::now();
  std::thread producer([&] {
    for (size_t i = 0; i < n; ++i) {
      if (encode)
        svc.publish_event(1501, context);
      else
        svc.publish(rpc::Topic::event, kBody);
    }
  });
  Clock::time_point first;
  size_t got = r.count(n, first, 2000);
  double s = seconds_since(t0);
  producer.join();
  if (svc.dropped()) std::fprintf(stderr, "warning: %llu events dropped\n", (unsigned long long)svc.dropped());
  return got / s;
}

struct Latency {
  double p50_us, p99_us;
};

Latency measure_rtt(const std::string& ep, size_t n) {
  zmq::context_t ctx(1);
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(ep);
  std::vector<double> us;
  us.reserve(n);
  zmq::message_t reply;
  for (size_t i = 0; i < n + 200; ++i) {  // the first 200 warm up
    auto t0 = Clock::now();
    req.send(zmq::buffer(kRequest), zmq::send_flags::none);
    (void)req.recv(reply);
    if (i >= 200) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

Latency raw_rtt(size_t n) {
  zmq::context_t ctx(1);
  zmq::socket_t rep(ctx, zmq::socket_type::rep);
  rep.set(zmq::sockopt::linger, 0);
  rep.bind("tcp://127.0.0.1:*");
  const std::string ep = rep.get(zmq::sockopt::last_endpoint);
  std::thread echo([&] {
    zmq::message_t m;
    for (size_t i = 0; i < n + 200; ++i) {
      (void)rep.recv(m);
      rep.send(m, zmq::send_flags::none);
    }
  });
  Latency l = measure_rtt(ep, n);
  echo.join();
  return l;
}

Latency rig_rtt(size_t n) {
  Config c;
  c.rpc.pub_endpoints = {"tcp://127.0.0.1:*"};
  c.rpc.command_endpoints = {"tcp://127.0.0.1:*"};
  c.rpc.heartbeat_interval = 3600;
  c.app_link.enable = false;
  c.hal.control_socket = "";
  Agent agent(c);
  if (!agent.start()) return {0, 0};
  return measure_rtt(agent.service().bound_command_endpoints()[0], n);
}

double idle_rss_mib(const std::string& binary) {
  char dir[] = "/tmp/rigagent-bench-XXXXXX";
  if (!mkdtemp(dir)) return -1;
  const std::string cfg = std::string(dir) + "/c.json";
  std::ofstream(cfg) << R"({"rpc":{"pub_endpoints":["tcp://127.0.0.1:*"],"command_endpoints":["tcp://127.0.0.1:*"]},)"
                     << R"("app_link":{"endpoint":"ipc://)" << dir << R"(/app.sock"},"hal":{"control_socket":")" << dir
                     << R"(/hal.sock"},"log_level":"warn"})";
  pid_t pid = fork();
  if (pid == 0) {
    execl(binary.c_str(), binary.c_str(), "run", "--config", cfg.c_str(), (char*)nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  double rss = -1;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024.0;
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  unlink(cfg.c_str());
  // A killed agent leaves its sockets behind.
  unlink((std::string(dir) + "/app.sock").c_str());
  unlink((std::string(dir) + "/hal.sock").c_str());
  rmdir(dir);
  return rss;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary;
  size_t events = 200000, requests = 10000;
  int rounds = 3;
  rigbench::EstopOptions estop;
  rigbench::LaneswapOptions laneswap;
  rigbench::SerfOptions serf;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rigagent" && i + 1 < argc) binary = argv[++i];
    else if (a == "--events" && i + 1 < argc) events = std::stoul(argv[++i]);
    else if (a == "--requests" && i + 1 < argc) requests = std::stoul(argv[++i]);
    else if (a == "--presses" && i + 1 < argc) estop.presses = std::stoul(argv[++i]);
    else if (a == "--flood-rate" && i + 1 < argc) estop.flood_rate = std::stod(argv[++i]);
    else if (a == "--flood-idle") estop.flood_idle = true;
    else if (a == "--send-hwm" && i + 1 < argc) estop.send_hwm = std::stoi(argv[++i]);
    else if (a == "--heartbeats" && i + 1 < argc) laneswap.heartbeats = std::stoul(argv[++i]);
    else if (a == "--no-tls") laneswap.tls = false;
    else if (a == "--serf-events" && i + 1 < argc) serf.events = std::stoul(argv[++i]);
    else if (a == "--serf" && i + 1 < argc) serf.serf = argv[++i];
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--quick") events = 20000, requests = 1000, rounds = 1, estop.presses = 2000, laneswap.heartbeats = 2000,
             serf.events = 5000, serf.cli_events = 50;
    else {
      std::fprintf(stderr,
                   "usage: rigagent-bench [--rigagent PATH] [--events N] [--requests N] [--presses N]\n"
                   "                      [--flood-rate N] [--flood-idle] [--send-hwm N] [--heartbeats N] [--no-tls]\n"
                   "                      [--serf-events N] [--serf PATH]\n"
                   "                      [--only throughput|rtt|estop|laneswap|serf|size[,...]] [--quick]\n");
      return 2;
    }
  }
  auto section = [&](const char* name) {
    if (only.empty()) return true;
    const std::string list = "," + only + ",";
    return list.find(std::string(",") + name + ",") != std::string::npos;
  };
  for (size_t b = 0, e; b <= only.size() && !only.empty(); b = e + 1) {
    e = only.find(',', b);
    if (e == std::string::npos) e = only.size();
    const std::string s = only.substr(b, e - b);
    if (s != "throughput" && s != "rtt" && s != "estop" && s != "laneswap" && s != "serf" && s != "size") {
      std::fprintf(stderr, "unknown section '%s' (throughput, rtt, estop, laneswap, serf, size)\n", s.c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  std::printf("rigagent-bench: %zu events, %zu requests, median of %d rounds, %u cores\n", events, requests, rounds,
              std::thread::hardware_concurrency());

  if (section("throughput")) {
    std::vector<double> raw, rig, rig_enc;
    for (int r = 0; r < rounds; ++r) {
      raw.push_back(raw_throughput(events));
      rig.push_back(rig_throughput(events, false));
      rig_enc.push_back(rig_throughput(events, true));
    }
    const double t_raw = median(raw), t_rig = median(rig), t_enc = median(rig_enc);
    std::printf(
        "event throughput    raw libzmq PUB %9.0f msg/s | rigagent publish() %9.0f msg/s | ratio %.2f (target >= 0.80)\n",
        t_raw, t_rig, t_rig / t_raw);
    std::printf("                    rigagent publish_event() incl. JSON encoding %9.0f msg/s | ratio %.2f\n", t_enc,
                t_enc / t_raw);
  }

  if (section("rtt")) {
    std::vector<double> raw50, raw99, rig50, rig99;
    for (int r = 0; r < rounds; ++r) {
      Latency a = raw_rtt(requests), b = rig_rtt(requests);
      raw50.push_back(a.p50_us), raw99.push_back(a.p99_us), rig50.push_back(b.p50_us), rig99.push_back(b.p99_us);
    }
    std::printf("command round trip  raw REQ/REP echo p50 %6.1f us p99 %6.1f us | rigagent NONE p50 %6.1f us p99 %6.1f us"
                " | ratio p50 %.2f p99 %.2f (target <= 1.50)\n",
                median(raw50), median(raw99), median(rig50), median(rig99), median(rig50) / median(raw50),
                median(rig99) / median(raw99));
  }

  if (section("estop") && !rigbench::run_estop_latency(estop)) {
    std::fprintf(stderr, "e-stop latency: could not run\n");
    return 1;
  }

  if (section("laneswap") && !rigbench::run_laneswap_heartbeat(laneswap)) {
    std::fprintf(stderr, "laneswap heartbeat: could not run\n");
    return 1;
  }

  serf.rigagent = binary;
  if (section("serf") && !rigbench::run_serf_events(serf)) {
    std::fprintf(stderr, "serf events: could not run\n");
    return 1;
  }

  if (section("size") && !binary.empty()) {
    struct stat st{};
    if (stat(binary.c_str(), &st) == 0)
      std::printf("binary size         %s: %.2f MiB (%lld bytes)\n", binary.c_str(), st.st_size / 1048576.0,
                  (long long)st.st_size);
    std::printf("idle RSS            rigagent run: %.2f MiB (target < 8 MiB)\n", idle_rss_mib(binary));
  } else if (section("size")) {
    std::printf("(pass --rigagent PATH for idle RSS and binary size)\n");
  }
  return 0;
}
