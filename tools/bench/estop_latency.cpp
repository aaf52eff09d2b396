// rigagent-bench section "estop": how long a simulated e-stop press takes to reach a remote.
//
// An in-process Agent runs on a temporary copy of the sim board whose e-stop has debounce_ms 0
// (so presses can run back to back), its RpcService on tcp://127.0.0.1:*, heartbeats hourly, no
// application link and no control socket. For each press the bench takes t0 (CLOCK_MONOTONIC),
// posts SimGpio::drive(estop, 1) to the io thread and receives on a SUB until the EMERGENCY
// (2001) frame of kind 101 arrives (t1). It also records t1 - edgeMonotonicNs from the body (the
// edge as the io thread stamped it, so without the bench's own post). Then it releases the
// button and waits for the 102 on EMERGENCY (reported separately).
//
// Scenarios, each on its own SUB:
//   (a) idle, SUB subscribed to every topic (the EVENT copies of 101/102 are read and skipped)
//   (b) an event flood (publish_event(201, ...) from another thread), SUB subscribed to
//       EMERGENCY only: the PUB filters the flood out, what is left is the agent's hand-off
//   (c) the same flood, SUB subscribed to every topic: the SUB reads through the flood frames
//       queued ahead of the EMERGENCY frame; flood frames that arrive after a 101 although they
//       were published before its edge show the urgent lane overtaking the Outbox backlog.
// Baseline: the same kind of SUB receiving a raw libzmq PUB send made on another thread
// (t0 just before send, t1 at receive), so every figure is also shown as a ratio to it.
#include "estop_latency.hpp"

#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/json_reader.hpp"
#include "core/log.hpp"
#include "daemon.hpp"
#include "platform/sim/sim_gpio.hpp"
#include "rpc/codec.hpp"

namespace rigbench {
namespace {

using rig::monotonic_ns;

constexpr size_t kWarmup = 200;            // presses before measuring
constexpr uint64_t kWaitNs = 100000000;    // a frame not seen within 100 ms is counted lost
constexpr int64_t kFloodKind = 201;
const std::string kEmergencyTopic = rig::rpc::topic_frame(static_cast<uint32_t>(rig::rpc::Topic::emergency));
const std::string_view kFloodPrefix = R"({"kind":201,)";

// Latencies in microseconds.
struct Series {
  std::vector<double> us;
  void add(uint64_t from_ns, uint64_t to_ns) { us.push_back(to_ns > from_ns ? (to_ns - from_ns) / 1000.0 : 0.0); }
  void sort() { std::sort(us.begin(), us.end()); }
  // Sorted first.
  double pct(double p) const {
    if (us.empty()) return 0;
    return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
  }
  double max() const { return us.empty() ? 0 : us.back(); }
};

struct Hit {
  uint64_t t1;     // received (monotonic ns)
  uint64_t edge;   // context.edgeMonotonicNs of the body
  uint64_t index;  // the body's index: when publish_event() stamped it (0 for the raw baseline)
};

// A SUB that waits for one EMERGENCY frame of a given kind, skipping everything else.
struct Waiter {
  Waiter(zmq::context_t& ctx, const std::string& ep, bool all_topics) : sub(ctx, zmq::socket_type::sub) {
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvtimeo, 50);
    sub.set(zmq::sockopt::subscribe, all_topics ? std::string() : kEmergencyTopic);
    sub.connect(ep);
  }

  // Waits for EMERGENCY `kind` whose edge is at or after `since` (older ones are stale: a
  // late copy of a press already counted lost), until monotonic `deadline`.
  std::optional<Hit> wait(int64_t kind, uint64_t since, uint64_t deadline) {
    zmq::message_t topic, body;
    for (;;) {
      if (monotonic_ns() >= deadline) return std::nullopt;
      if (!sub.recv(topic)) continue;  // rcvtimeo: look at the deadline again
      if (!topic.more()) {
        ++skipped;
        continue;
      }
      (void)sub.recv(body);
      const uint64_t t1 = monotonic_ns();
      while (body.more()) (void)sub.recv(body);  // not a rigagent message; ignore the rest
      if (topic.size() != 4 || std::memcmp(topic.data(), kEmergencyTopic.data(), 4) != 0) {
        ++skipped;
        account_flood(body.to_string_view());
        continue;
      }
      auto j = rig::rpc::json::parse(body.to_string_view(), nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("kind") || j["kind"] != kind) {
        ++skipped;  // probes, the other kind
        continue;
      }
      uint64_t edge = 0;
      if (auto c = j.find("context"); c != j.end() && c->is_object())
        if (auto e = c->find("edgeMonotonicNs"); e != c->end() && e->is_number_unsigned()) edge = e->get<uint64_t>();
      if (edge < since) {
        ++skipped;
        ++stale;
        continue;
      }
      uint64_t index = 0;
      if (auto x = j.find("index"); x != j.end() && x->is_number_unsigned()) index = x->get<uint64_t>();
      if (kind == rig::rpc::event_kind::emergency_stop) last_stop_edge = edge;
      return Hit{t1, edge, index};
    }
  }

  // A flood body: counted, and checked for having been overtaken by the last e-stop.
  void account_flood(std::string_view b) {
    if (b.substr(0, kFloodPrefix.size()) != kFloodPrefix) return;
    ++flood_seen;
    auto at = b.find(R"("index":)");
    if (at == std::string_view::npos) return;
    const char* p = b.data() + at + 8;
    uint64_t index = 0;
    std::from_chars(p, b.data() + b.size(), index);
    if (index < last_stop_edge) ++overtaken;
  }

  // Publishes probes until one arrives (slow joiner), then drains what followed.
  template <typename Probe>
  bool join(Probe probe) {
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    bool joined = false;
    for (int i = 0; i < 500 && !joined; ++i) {
      probe();
      zmq::poll(&item, 1, std::chrono::milliseconds(10));
      joined = item.revents & ZMQ_POLLIN;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    zmq::message_t m;
    while (sub.recv(m, zmq::recv_flags::dontwait)) {
    }
    return joined;
  }

  zmq::socket_t sub;
  uint64_t skipped = 0;         // frames read and skipped while waiting
  uint64_t flood_seen = 0;      // flood frames among them
  uint64_t overtaken = 0;       // flood frames received after a 101 but published before its edge
  uint64_t stale = 0;           // 101/102 frames that came after their wait had given up (late, not lost)
  uint64_t last_stop_edge = 0;  // edge of the last 101 received
};

// ---------------------------------------------------------------------------------------------
// Baseline: raw libzmq PUB (send on its own thread) -> SUB, same Waiter.

struct Raw {
  Series send_to_recv, trigger_to_recv;
  size_t lost = 0;
  size_t sends() const { return send_to_recv.us.size(); }
};

// Adds n measured sends to `r` (unsorted). Run in chunks between the scenarios, so the ratios do
// not hinge on the state the machine was in at one moment.
void raw_baseline(size_t n, Raw& r) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("tcp://127.0.0.1:*");
  Waiter w(ctx, pub.get(zmq::sockopt::last_endpoint), true);
  auto send = [&](const std::string& body) {
    pub.send(zmq::buffer(kEmergencyTopic), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(body), zmq::send_flags::none);
  };
  w.join([&] { send("probe"); });
  // The socket moves to the sender thread here (thread creation is the barrier libzmq asks for).
  std::atomic<uint64_t> go{0};
  std::atomic<bool> quit{false};
  std::thread sender([&] {
    uint64_t seen = 0;
    for (;;) {
      go.wait(seen);
      seen = go.load();
      if (quit) return;
      const uint64_t t0 = monotonic_ns();
      send(R"({"kind":101,"context":{"edgeMonotonicNs":)" + std::to_string(t0) + "}}");
    }
  });
  for (size_t i = 0; i < kWarmup + n; ++i) {
    const uint64_t t = monotonic_ns();
    go.fetch_add(1);
    go.notify_one();
    auto hit = w.wait(rig::rpc::event_kind::emergency_stop, t, t + kWaitNs);
    if (!hit) {
      ++r.lost;
      continue;
    }
    if (i < kWarmup) continue;
    r.send_to_recv.add(hit->edge, hit->t1);
    r.trigger_to_recv.add(t, hit->t1);
  }
  quit = true;
  go.fetch_add(1);
  go.notify_one();
  sender.join();
}

// ---------------------------------------------------------------------------------------------
// The agent.

struct Scenario {
  const char* name;
  bool all_topics;
  bool flood;
};

const Scenario kScenarios[] = {
    {"(a) idle, SUB subscribed to all topics (EVENT copies read and skipped)", true, false},
    {"(b) flood, SUB subscribed to EMERGENCY only (the PUB filters the flood out)", false, true},
    {"(c) flood, SUB subscribed to all topics (reads through the flood)", true, true}};

struct Result {
  Series press, edge, release;  // t0 -> 101 at the SUB; edge -> 101; release t0 -> 102
  Series edge_to_index, index_to_sub;  // the io thread up to publish_event(); from there to the SUB
  size_t done = 0, lost = 0, lost_release = 0;  // lost: over all presses, warm-up included
  uint64_t stale = 0;
  bool budget_hit = false;
  double seconds = 0;
  uint64_t flood_calls = 0;
  double flood_seconds = 0;
  uint64_t dropped = 0, skipped = 0, flood_seen = 0, overtaken = 0;
  double sent = 0;  // frames the owner thread sent during the flood (counters().published)
  Series ahead;  // flood frames read before each 101 (as "us" = a count)
};

Result run_scenario(rig::Agent& agent, rig::hal::SimGpio* sim, size_t estop, zmq::context_t& ctx, const Scenario& sc,
                    const EstopOptions& o) {
  Result r;
  auto& svc = agent.service();
  Waiter w(ctx, svc.bound_pub_endpoints().at(0), sc.all_topics);
  if (!w.join([&] { svc.publish(rig::rpc::Topic::emergency, "probe"); }))
    std::fprintf(stderr, "warning: the SUB never saw a probe\n");

  const uint64_t dropped0 = svc.dropped(), published0 = svc.counters().published.load();
  std::atomic<bool> stop_flood{false};
  std::atomic<uint64_t> flood_calls{0};
  uint64_t flood_t0 = 0, flood_t1 = 0;
  std::thread flood;
  if (sc.flood) {
    flood_t0 = monotonic_ns();
    flood = std::thread([&] {
      if (o.flood_idle) {
        sched_param sp{};
        pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
      }
      const rig::rpc::json context = {{"pellet_id", 3}, {"animal_id", "ABC-1"}};
      const uint64_t start = monotonic_ns();
      uint64_t n = 0;
      while (!stop_flood.load(std::memory_order_relaxed)) {
        if (o.flood_rate > 0) {
          // Paced: catch up to rate * elapsed, then nap 100 us.
          const double due = o.flood_rate * (monotonic_ns() - start) / 1e9;
          while (n < due && !stop_flood.load(std::memory_order_relaxed)) {
            svc.publish_event(kFloodKind, context);
            flood_calls.store(++n, std::memory_order_relaxed);
          }
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        } else {
          svc.publish_event(kFloodKind, context);
          flood_calls.store(++n, std::memory_order_relaxed);
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let a backlog build up
  }

  auto drive = [&](int level) { agent.io().post([sim, estop, level] { (void)sim->drive(estop, level); }); };
  const uint64_t start = monotonic_ns();
  for (size_t i = 0; i < kWarmup + o.presses; ++i) {
    if ((monotonic_ns() - start) / 1e9 > o.budget_s) {
      r.budget_hit = true;
      break;
    }
    const bool measured = i >= kWarmup;
    const uint64_t flood_before = w.flood_seen;
    const uint64_t t0 = monotonic_ns();
    drive(1);
    auto hit = w.wait(rig::rpc::event_kind::emergency_stop, t0, t0 + kWaitNs);
    if (!hit) {
      ++r.lost;
    } else if (measured) {
      r.press.add(t0, hit->t1);
      r.edge.add(hit->edge, hit->t1);
      r.edge_to_index.add(hit->edge, hit->index);
      r.index_to_sub.add(hit->index, hit->t1);
      r.ahead.us.push_back(static_cast<double>(w.flood_seen - flood_before));
    }
    const uint64_t tr = monotonic_ns();
    drive(0);
    auto rel = w.wait(rig::rpc::event_kind::emergency_resume, tr, tr + kWaitNs);
    if (!rel) {
      ++r.lost_release;
    } else if (measured) {
      r.release.add(tr, rel->t1);
    }
    if (measured) ++r.done;
  }
  r.seconds = (monotonic_ns() - start) / 1e9;
  if (sc.flood) {
    stop_flood = true;
    flood.join();
    flood_t1 = monotonic_ns();
    r.flood_calls = flood_calls.load();
    r.flood_seconds = (flood_t1 - flood_t0) / 1e9;
  }
  r.dropped = svc.dropped() - dropped0;
  r.sent = static_cast<double>(svc.counters().published.load() - published0);
  r.skipped = w.skipped;
  r.flood_seen = w.flood_seen;
  r.overtaken = w.overtaken;
  r.stale = w.stale;
  r.edge_to_index.sort();
  r.index_to_sub.sort();
  r.press.sort();
  r.edge.sort();
  r.release.sort();
  r.ahead.sort();
  if (sc.flood) std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the backlog drains
  return r;
}

// A temporary copy of the built-in sim board with the e-stop's debounce at 0 ms.
std::string write_board(const std::string& dir) {
  for (const auto& b : rig::hal::builtin_boards()) {
    if (std::string(b.name) != "sim") continue;
    auto doc = rig::parse_json_document(b.text, "built-in sim board");
    if (!doc) return {};
    for (auto& in : (*doc)["inputs"])
      if (in.value("role", "") == "estop") in["debounce_ms"] = 0;
    const std::string path = dir + "/board.json";
    std::ofstream(path) << doc->dump(2) << "\n";
    return path;
  }
  return {};
}

constexpr const char* kIndent = "                    ";

void print_row(const char* label, const Series& s, const Raw& raw) {
  std::printf("%s  %-24s p50 %7.1f p90 %7.1f p99 %7.1f max %8.1f us | ratio to raw p50 %5.2f p99 %5.2f\n", kIndent,
              label, s.pct(0.50), s.pct(0.90), s.pct(0.99), s.max(), s.pct(0.50) / raw.send_to_recv.pct(0.50),
              s.pct(0.99) / raw.send_to_recv.pct(0.99));
}

void print_result(const Scenario& sc, const Result& r, const Raw& raw) {
  std::printf("%s%s: %zu presses in %.1f s%s\n", kIndent, sc.name, r.done, r.seconds,
              r.budget_hit ? " (time budget hit, stopped early)" : "");
  print_row("press t0 -> 101 at SUB", r.press, raw);
  print_row("edge -> 101 at SUB", r.edge, raw);
  std::printf("%s  of which edge -> publish_event() (io thread) p50 %.1f p99 %.1f us;"
              " publish_event() -> SUB p50 %.1f p99 %.1f max %.1f us\n",
              kIndent, r.edge_to_index.pct(0.5), r.edge_to_index.pct(0.99), r.index_to_sub.pct(0.5),
              r.index_to_sub.pct(0.99), r.index_to_sub.max());
  std::printf("%s  release t0 -> 102 at SUB p50 %.1f p99 %.1f max %.1f us\n", kIndent, r.release.pct(0.5),
              r.release.pct(0.99), r.release.max());
  if (r.lost || r.lost_release)
    std::printf("%s  LOST: %zu of the 101 and %zu of the 102 frames never arrived within 100 ms (warm-up included);"
                " %llu arrived later\n",
                kIndent, r.lost, r.lost_release, (unsigned long long)r.stale);
  if (!sc.flood) return;
  std::printf("%s  flood %.0f publish_event()/s (%llu calls); owner thread sent %.0f frames/s (incl. e-stop);"
              " outbox dropped %llu\n",
              kIndent, r.flood_calls / r.flood_seconds, (unsigned long long)r.flood_calls,
              r.sent / r.flood_seconds, (unsigned long long)r.dropped);
  if (!sc.all_topics) return;
  std::printf("%s  the SUB read %llu flood frames (%.0f/s); flood frames read before each 101"
              " p50 %.0f p99 %.0f max %.0f;\n"
              "%s  %llu flood frames published before an e-stop edge arrived after its 101 (overtaken)\n",
              kIndent, (unsigned long long)r.flood_seen, r.flood_seen / r.seconds, r.ahead.pct(0.5), r.ahead.pct(0.99),
              r.ahead.max(), kIndent, (unsigned long long)r.overtaken);
}

}  // namespace

bool run_estop_latency(const EstopOptions& o) {
  const auto prev_level = rig::log::level();
  rig::log::set_level(rig::log::Level::error);  // each press logs a warning otherwise
  char dir[] = "/tmp/rigagent-bench-XXXXXX";
  if (!mkdtemp(dir)) return false;
  const std::string board = write_board(dir);

  std::printf("e-stop latency      sim e-stop edge -> EMERGENCY (2001) frame of kind 101 at a SUB on loopback TCP;"
              " %zu presses per scenario\n%s(+%zu warm-up), each released and its 102 awaited before the next press;"
              " temp sim board with e-stop debounce_ms 0\n%s(so presses can run back to back); target p99 < 1 ms\n",
              o.presses, kIndent, kWarmup, kIndent);
  const std::string rate = o.flood_rate > 0 ? "paced at " + std::to_string(static_cast<long>(o.flood_rate)) + "/s"
                                            : std::string("as fast as it can");
  std::printf("%sflood: one thread calling publish_event(201, small context) %s%s\n", kIndent, rate.c_str(),
              o.flood_idle ? ", SCHED_IDLE (--flood-idle)" : "");
  std::fflush(stdout);

  Raw raw;
  const size_t chunk = (o.presses + 2) / 3;
  raw_baseline(chunk, raw);
  std::vector<std::pair<const Scenario*, Result>> results;

  bool ok = !board.empty();
  if (ok) {
    rig::Config c;
    c.board = board;
    c.log_level = "error";
    c.rpc.pub_endpoints = {"tcp://127.0.0.1:*"};
    c.rpc.command_endpoints = {"tcp://127.0.0.1:*"};
    c.rpc.heartbeat_interval = 3600;
    if (o.send_hwm >= 0) c.rpc.send_hwm = o.send_hwm;
    c.app_link.enable = false;
    c.hal.control_socket = "";
    rig::Agent agent(c);
    auto started = agent.start();
    rig::hal::SimGpio* sim = nullptr;
    size_t estop = 0;
    if (started) {
      sim = dynamic_cast<rig::hal::SimGpio*>(agent.hardware()->gpio());
      const auto& inputs = agent.hardware()->board().inputs;
      for (estop = 0; estop < inputs.size() && inputs[estop].role != rig::hal::InputRole::estop; ++estop) {
      }
      ok = sim && estop < inputs.size();
    } else {
      std::fprintf(stderr, "cannot start the agent: %s\n", started.error().message.c_str());
      ok = false;
    }
    if (ok) {
      std::printf("%sagent: queue_capacity %lld, send_hwm %lld (%s); SUB rcvhwm libzmq default (1000)\n", kIndent,
                  (long long)c.rpc.queue_capacity, (long long)c.rpc.send_hwm,
                  o.send_hwm >= 0 ? "--send-hwm" : "configuration defaults");
      zmq::context_t ctx(1);
      for (const auto& sc : kScenarios) {
        if (&sc != &kScenarios[0]) raw_baseline(chunk, raw);
        results.emplace_back(&sc, run_scenario(agent, sim, estop, ctx, sc, o));
      }
    }
  }

  raw.send_to_recv.sort();
  raw.trigger_to_recv.sort();
  std::printf("%sraw libzmq PUB -> SUB (send on another thread, same SUB code), %zu sends in 3 chunks"
              " between the scenarios:\n", kIndent, raw.sends());
  std::printf("%s  %-24s p50 %7.1f p90 %7.1f p99 %7.1f max %8.1f us (the ratios' base)\n", kIndent,
              "send -> SUB", raw.send_to_recv.pct(0.5), raw.send_to_recv.pct(0.9), raw.send_to_recv.pct(0.99),
              raw.send_to_recv.max());
  std::printf("%s  %-24s p50 %7.1f p99 %7.1f us%s\n", kIndent, "wake sender -> SUB", raw.trigger_to_recv.pct(0.5),
              raw.trigger_to_recv.pct(0.99), raw.lost ? (" | LOST " + std::to_string(raw.lost)).c_str() : "");

  std::string over;
  for (const auto& [sc, r] : results) {
    print_result(*sc, r, raw);
    if (r.press.pct(0.99) >= 1000 || r.lost)
      over += std::string(over.empty() ? "" : ", ") + std::string(sc->name, 3);
  }
  if (!results.empty())
    std::printf("%starget p99 < 1 ms (press t0 -> 101, nothing lost): %s\n", kIndent,
                over.empty() ? "met in every scenario" : ("NOT met in " + over).c_str());
  unlink(board.c_str());
  rmdir(dir);
  rig::log::set_level(prev_level);
  return ok;
}

}  // namespace rigbench
