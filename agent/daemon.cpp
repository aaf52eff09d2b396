#include "daemon.hpp"

#include <future>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "rigagent_version.hpp"

namespace rig {

using rpc::json;
namespace cmd = rpc::command;
namespace res = rpc::result;

const char* version_string() { return RIGAGENT_VERSION; }

rpc::ServiceOptions service_options(const Config& c) {
  rpc::ServiceOptions o;
  o.identifier = c.rpc.identifier;
  o.version = c.rpc.version.empty() ? std::string("rigagent ") + RIGAGENT_VERSION : c.rpc.version;
  o.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(c.rpc.heartbeat_interval * 1000.0 + 0.5));
  o.pub_endpoints = c.rpc.pub_endpoints;
  o.command_endpoints = c.rpc.command_endpoints;
  if (c.app_link.enable) o.app_endpoint = c.app_link.endpoint;
  o.app_timeout = std::chrono::milliseconds(c.app_link.command_timeout_ms);
  o.limits.max_bytes = static_cast<size_t>(c.rpc.max_request_bytes);
  o.queue_capacity = static_cast<size_t>(c.rpc.queue_capacity);
  o.send_hwm = static_cast<int>(c.rpc.send_hwm);
  o.stall_timeout = std::chrono::milliseconds(c.rpc.stall_timeout_ms);
  o.linger_ms = static_cast<int>(c.rpc.linger_ms);
  return o;
}

Agent::Agent(Config config)
    : config_(std::move(config)), service_(std::make_unique<rpc::RpcService>(service_options(config_))) {
  install_handlers();
}

Agent::~Agent() { stop(); }

Expected<void> Agent::start() {
  auto board = hal::load_board(config_.board);
  if (!board) return board.error();
  state_.set_board(board->name);
  hardware_ = std::make_unique<hw::Hardware>(io_, std::move(*board), config_.hal.control_socket);
  if (auto ok = hardware_->open(); !ok) {
    hardware_.reset();
    return ok.error();
  }
  if (config_.laneswap.enable) {
    auto r = laneswap::Reporter::create(io_.context(), config_.laneswap, config_.rpc.identifier,
                                        [this] { return laneswap_snapshot(); });
    if (!r) {
      hardware_.reset();
      return r.error();
    }
    laneswap_ = std::move(*r);
  }
  if (config_.serf.enable) {
    if (auto ok = create_serf_bridge(); !ok) {
      hardware_.reset();
      laneswap_.reset();
      return ok;
    }
  }
  if (auto ok = service_->start(); !ok) {
    hardware_.reset();
    laneswap_.reset();
    serf_.reset();
    return ok;
  }
  if (laneswap_) laneswap_->start();
  if (serf_) serf_->start();
  hardware_->start({[this](const hal::InputSpec& in, const hal::Edge& e, bool s) { on_estop_line(in, e, s); },
                    [this](const hal::InputSpec& in, const hal::Edge& e, bool s) { on_alarm_line(in, e, s); },
                    [this](const hal::InputSpec& in, const std::string& m) { on_line_fault(in, m); }});
  io_.start();
  started_ = true;
  return {};
}

void Agent::stop() {
  if (started_) {
    // Lines first, so no edge publishes into a stopped service.
    io_.call([this] { hardware_->stop(); });
    // The upstreams say goodbye side by side, each bounded: a dead monitor or Serf agent must
    // not hold up the shutdown.
    const auto now = std::chrono::steady_clock::now();
    std::future<void> serf_done, laneswap_done;
    if (serf_) {
      // Queued events out, the emergency tag to "unknown" (docs/serf.md).
      auto done = std::make_shared<std::promise<void>>();
      serf_done = done->get_future();
      io_.post([this, done] { serf_->stop(std::chrono::milliseconds(900), [done] { done->set_value(); }); });
    }
    if (laneswap_) {
      // A last SHUTDOWN heartbeat.
      auto done = std::make_shared<std::promise<void>>();
      laneswap_done = done->get_future();
      io_.post([this, done] { laneswap_->stop(std::chrono::milliseconds(2000), [done] { done->set_value(); }); });
    }
    if (serf_done.valid()) serf_done.wait_until(now + std::chrono::milliseconds(1000));
    if (laneswap_done.valid()) laneswap_done.wait_until(now + std::chrono::milliseconds(2500));
    io_.stop();
    started_ = false;
  }
  service_->stop();
}

namespace {

std::string reason_from(const rpc::Request& req, const char* fallback) {
  if (const json* r = rpc::find_arg(req.data, "reason"); r && r->is_string()) return r->get<std::string>();
  return fallback;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s;
}

}  // namespace

json Agent::edge_details(const hal::InputSpec& in, const hal::Edge& e) const {
  // The edge's own time (the kernel's stamp on a board) on the wall clock, for people; and the
  // monotonic stamp, for measuring latency on the rig itself.
  const uint64_t now = monotonic_ns();
  const double age = now > e.timestamp_ns ? static_cast<double>(now - e.timestamp_ns) / 1e9 : 0.0;
  const double edge_time = static_cast<double>(static_cast<int64_t>((wall_seconds() - age) * 1e6)) / 1e6;
  return json{{"line", in.name}, {"board", hardware_->board().name},
              {"edgeTime", edge_time}, {"edgeMonotonicNs", e.timestamp_ns}};
}

laneswap::Snapshot Agent::laneswap_snapshot() const {
  // ERROR while stopped, WARNING while an alarm is active, BUSY while acquiring, else HEALTHY.
  laneswap::Snapshot s;
  const auto e = state_.emergency();
  const auto alarms = state_.active_alarms();
  const auto app = state_.app();
  json alarm_names = json::array();
  for (const auto& a : alarms) alarm_names.push_back(a.name + " (" + a.severity + ")");
  if (e.latched) {
    s.status = laneswap::Status::error;
    s.message = "emergency stop: " + e.reason;
  } else if (!alarms.empty()) {
    s.status = laneswap::Status::warning;
    s.message = "alarm: " + alarm_names[0].get<std::string>();
  } else if (app.app_status != 0) {
    s.status = laneswap::Status::busy;
    s.message = app.app_status == 100 ? "acquiring" : "calibrating";
  } else {
    s.status = laneswap::Status::healthy;
  }
  const auto& c = service_->counters();
  s.metadata = json{{"version", version_string()},
                    {"board", hardware_ ? hardware_->board().name : config_.board},
                    {"identifier", config_.rpc.identifier},
                    {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_at_).count()},
                    {"emergency_stopped", e.latched},
                    {"emergency_held_by", e.holders},
                    {"alarms", alarm_names},
                    {"app_status", app.app_status},
                    {"application_connected", app.connected},
                    {"rpc", {{"requests", c.requests.load()},
                             {"malformed", c.malformed.load()},
                             {"replies", c.replies.load()},
                             {"published", c.published.load()},
                             {"dropped", service_->dropped()},
                             {"app_forwarded", c.app_forwarded.load()},
                             {"app_timeouts", c.app_timeouts.load()},
                             {"stalls", c.stalls.load()}}}};
  return s;
}

Expected<void> Agent::create_serf_bridge() {
  serf::BridgeHooks hooks;
  hooks.execute = [this](rpc::Request request, std::function<void(const rpc::Reply&)> done) {
    service_->execute(std::move(request), std::move(done));
  };
  hooks.emergency_stop = [this](const std::string& reason) { emergency_stop("serf", reason); };
  hooks.emergency_resume = [this](const std::string& reason) { return emergency_resume("serf", reason); };
  hooks.stopped = [this] { return state_.emergency().latched; };
  auto bridge = serf::Bridge::create(io_.context(), config_.serf,
                                     serf::Identity{config_.rpc.identifier, hardware_->board().name, version_string()},
                                     std::move(hooks));
  if (!bridge) return bridge.error();
  serf_ = std::move(*bridge);
  return {};
}

void Agent::upstream_state_changed() {
  if (laneswap_) laneswap_->state_changed();
}

void Agent::announce(EmergencyLatch::Change change, const std::string& source, const std::string& reason,
                     const json& details) {
  const bool stopped = change == EmergencyLatch::Change::stopped;
  const int64_t kind = stopped ? rpc::event_kind::emergency_stop : rpc::event_kind::emergency_resume;
  json context = {{"reason", reason}, {"source", source}};
  if (details.is_object()) context.update(details);
  service_->publish_event(kind, context);
  service_->notify_app(json{{"type", "emergency"}, {"kind", kind}, {"context", context}});
  if (hardware_) hardware_->show_emergency(stopped);
  upstream_state_changed();
  if (serf_) {
    serf::EmergencyNotice n;
    n.stopped = stopped;
    n.source = source;
    n.reason = reason;
    if (details.is_object()) {
      if (auto l = details.find("line"); l != details.end() && l->is_string()) n.line = l->get<std::string>();
      if (auto t = details.find("edgeMonotonicNs"); t != details.end() && t->is_number_unsigned())
        n.edge_monotonic_ns = t->get<uint64_t>();
    }
    n.t = wall_seconds();
    serf_->emergency_changed(std::move(n));
  }
  log::warn("rig", std::string(stopped ? "EMERGENCY STOP" : "emergency resume") + " from " + source + ": " + reason);
}

bool Agent::emergency_stop(const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(emergency_mu_);
  auto c = state_.update_emergency([&](EmergencyLatch& l) { return l.hold(source); }, source, reason);
  if (c == EmergencyLatch::Change::none) return false;
  announce(c, source, reason, json());
  return true;
}

Expected<bool> Agent::emergency_resume(const std::string& source, const std::string& reason,
                                       std::vector<std::string>* blocking_out) {
  std::lock_guard<std::mutex> lock(emergency_mu_);
  std::vector<std::string> blocking;
  auto c = state_.update_emergency([&](EmergencyLatch& l) { return l.resume(&blocking); }, source, reason);
  if (blocking_out) *blocking_out = blocking;
  if (!blocking.empty())
    return make_error("resume refused: hardware e-stop " + join(blocking) + " is still asserted; release it first",
                      static_cast<int>(rpc::error_code::emergency_asserted));
  if (c == EmergencyLatch::Change::none) return false;
  announce(c, source, reason, json());
  return true;
}

void Agent::on_estop_line(const hal::InputSpec& in, const hal::Edge& e, bool at_startup) {
  const bool manual = in.release == hal::ReleasePolicy::manual;
  const std::string reason = "e-stop '" + in.name + "' " +
                             (at_startup ? "asserted at startup" : e.active ? "pressed" : e.resync ? "found released" : "released");
  std::lock_guard<std::mutex> lock(emergency_mu_);
  auto c = state_.update_emergency(
      [&](EmergencyLatch& l) { return e.active ? l.line_asserted(in.name) : l.line_released(in.name, manual); }, "gpio",
      reason);
  if (c != EmergencyLatch::Change::none) return announce(c, "gpio", reason, edge_details(in, e));
  if (e.active)
    log::warn("rig", reason + " (the rig was already stopped)");
  else if (state_.emergency().latched)
    log::warn("rig", reason + "; the rig stays stopped (held by " + join(state_.emergency().holders) +
                         (manual ? ", release policy manual: send EMERGENCY_RESUME)" : ")"));
}

void Agent::on_alarm_line(const hal::InputSpec& in, const hal::Edge& e, bool at_startup) {
  json details = edge_details(in, e);
  AlarmState a{in.name, hal::to_string(in.severity), in.description, details["edgeTime"].get<double>()};
  if (!state_.set_alarm(a, e.active)) return;
  json active = json::array();
  for (const auto& x : state_.active_alarms()) active.push_back(x.name);
  json context = {{"alarm", in.name},
                  {"active", e.active},
                  {"severity", a.severity},
                  {"description", in.description},
                  {"atStartup", at_startup},
                  {"activeAlarms", std::move(active)}};
  context.update(details);
  const int64_t kind = e.active ? rpc::event_kind::alarm_raised : rpc::event_kind::alarm_cleared;
  service_->publish_event(kind, context, rpc::Topic::emergency);
  service_->notify_app(json{{"type", "alarm"}, {"kind", kind}, {"context", context}});
  upstream_state_changed();
  if (serf_) {
    serf::AlarmNotice n;
    n.alarm = in.name;
    n.severity = a.severity;
    n.active = e.active;
    for (const auto& x : context["activeAlarms"]) n.active_alarms.push_back(x.get<std::string>());
    n.t = wall_seconds();
    serf_->alarm_changed(std::move(n));
  }
  const std::string text = "alarm '" + in.name + "' (" + a.severity + ") " + (e.active ? "raised" : "cleared");
  if (in.severity == hal::Severity::info || !e.active)
    log::info("rig", text);
  else
    log::warn("rig", text);
}

void Agent::on_line_fault(const hal::InputSpec& in, const std::string& message) {
  log::error("hal", message);
  if (in.role == hal::InputRole::alarm) {
    // An alarm input nobody can read any more is itself an alarm.
    on_alarm_line(in, hal::Edge{*hardware_->board().input_index(in.name), true, monotonic_ns(), true}, false);
    return;
  }
  // A lost e-stop line fails safe: it holds the latch as a pressed button would, until restart.
  const std::string reason = "e-stop '" + in.name + "' lost: " + message;
  std::lock_guard<std::mutex> lock(emergency_mu_);
  auto c = state_.update_emergency([&](EmergencyLatch& l) { return l.line_asserted(in.name); }, "gpio", reason);
  if (c != EmergencyLatch::Change::none) announce(c, "gpio", reason, json{{"line", in.name}, {"board", hardware_->board().name}});
}

void Agent::on_app_emergency(int64_t kind, const json& context, std::string body) {
  // The application's own 101/102: the latch follows it, and its event goes out from here, under
  // the same lock as every other latch change, so the last event on the wire is the true state.
  std::string reason = "application event";
  if (const json* r = rpc::find_arg(context, "reason"); r && r->is_string()) reason = r->get<std::string>();
  std::lock_guard<std::mutex> lock(emergency_mu_);
  std::vector<std::string> blocking;
  EmergencyLatch::Change c = EmergencyLatch::Change::none;
  if (kind == rpc::event_kind::emergency_stop)
    c = state_.update_emergency([](EmergencyLatch& l) { return l.hold("application"); }, "application", reason);
  else
    c = state_.update_emergency([&](EmergencyLatch& l) { return l.resume(&blocking); }, "application", reason);
  if (!blocking.empty()) {
    // Its resume does not apply while a button is pressed: not published, and the application
    // is told the rig is still stopped.
    const std::string why = "the application's emergencyResume was refused: hardware e-stop " + join(blocking) +
                            " is still asserted";
    log::warn("rig", why);
    service_->notify_app(json{{"type", "emergency"},
                              {"kind", rpc::event_kind::emergency_stop},
                              {"context", {{"reason", why}, {"source", "gpio"}, {"current", true}}}});
    return;
  }
  service_->publish_event_body(std::move(body), kind);
  if (c != EmergencyLatch::Change::none && hardware_) hardware_->show_emergency(c == EmergencyLatch::Change::stopped);
  if (c != EmergencyLatch::Change::none) upstream_state_changed();
  if (c != EmergencyLatch::Change::none && serf_) {
    serf::EmergencyNotice n;
    n.stopped = c == EmergencyLatch::Change::stopped;
    n.source = "application";
    n.reason = reason;
    n.t = wall_seconds();
    serf_->emergency_changed(std::move(n));
  }
}

void Agent::install_handlers() {
  auto& s = *service_;
  s.set_handler(cmd::none, [](const rpc::Request&, const rpc::Responder& r) { r(rpc::Response{res::success}); });

  s.set_handler(cmd::get_status, [this](const rpc::Request&, const rpc::Responder& r) {
    json status = state_.status_json();
    if (serf_) status["serf"] = serf_->status_json();  // only when enabled: the key set stays StatusResponse's
    r(rpc::Response{res::success, std::move(status)});
  });

  s.set_handler(cmd::emergency_stop, [this](const rpc::Request& req, const rpc::Responder& r) {
    const bool changed = emergency_stop("command", reason_from(req, "EMERGENCY_STOP command"));
    r(rpc::Response{res::success, json{{"emergencyStopped", true}, {"alreadyStopped", !changed}}});
  });

  s.set_handler(cmd::emergency_resume, [this](const rpc::Request& req, const rpc::Responder& r) {
    std::vector<std::string> blocking;
    auto resumed = emergency_resume("command", reason_from(req, "EMERGENCY_RESUME command"), &blocking);
    if (!resumed)
      return r(rpc::Response{res::failed, json{{"emergencyStopped", true}, {"estopAsserted", blocking}},
                             rpc::error_code::emergency_asserted, resumed.error().message});
    r(rpc::Response{res::success, json{{"emergencyStopped", false}, {"wasStopped", *resumed}}});
  });

  // The application's business: acquisition, its configuration, and its own commands.
  for (int64_t c : {cmd::start_acquisition, cmd::stop_acquisition, cmd::get_configuration, cmd::user_defined})
    s.set_handler(c, s.forward_to_app());

  rpc::AppHooks hooks;
  hooks.on_status = [this](const json& status) {
    state_.update_app_status(status);
    upstream_state_changed();
  };
  hooks.on_command_pending = [this](int64_t command, int64_t nonce) {
    if (laneswap_) laneswap_->command_pending(command, nonce, std::string("command ") + rpc::command_name(command));
  };
  hooks.on_command_result = [this](int64_t command, int64_t nonce, const rpc::Response& r) {
    if (laneswap_) laneswap_->command_finished(command, nonce, r.result == res::success, r.error_message.value_or(""));
  };
  hooks.on_connection = [this](bool connected, const std::string& name) {
    state_.set_app_connected(connected, name);
    upstream_state_changed();
    // An application that connects while the rig is stopped learns it at once.
    if (const auto e = state_.emergency(); connected && e.latched)
      service_->notify_app(json{{"type", "emergency"},
                                {"kind", rpc::event_kind::emergency_stop},
                                {"context", {{"reason", e.reason}, {"source", e.source}, {"current", true}}}});
  };
  hooks.on_emergency_event = [this](int64_t kind, const json& context, std::string body) {
    on_app_emergency(kind, context, std::move(body));
  };
  s.set_app_hooks(std::move(hooks));
}

}  // namespace rig
