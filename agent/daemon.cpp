#include "daemon.hpp"

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
  o.linger_ms = static_cast<int>(c.rpc.linger_ms);
  return o;
}

Agent::Agent(Config config)
    : config_(std::move(config)), service_(std::make_unique<rpc::RpcService>(service_options(config_))) {
  install_handlers();
}

Expected<void> Agent::start() { return service_->start(); }
void Agent::stop() { service_->stop(); }

namespace {

std::string reason_from(const rpc::Request& req, const char* fallback) {
  if (const json* r = rpc::find_arg(req.data, "reason"); r && r->is_string()) return r->get<std::string>();
  return fallback;
}

}  // namespace

void Agent::announce(int64_t kind, const std::string& source, const std::string& reason) {
  json context = {{"reason", reason}, {"source", source}};
  service_->publish_event(kind, context);
  service_->notify_app(json{{"type", "emergency"}, {"kind", kind}, {"context", context}});
  log::warn("rig", std::string(kind == rpc::event_kind::emergency_stop ? "EMERGENCY STOP" : "emergency resume") +
                       " from " + source + ": " + reason);
}

bool Agent::emergency_stop(const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(emergency_mu_);
  if (!state_.latch_emergency(source, reason)) return false;
  announce(rpc::event_kind::emergency_stop, source, reason);
  return true;
}

bool Agent::emergency_resume(const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(emergency_mu_);
  if (!state_.clear_emergency(source, reason)) return false;
  announce(rpc::event_kind::emergency_resume, source, reason);
  return true;
}

void Agent::install_handlers() {
  auto& s = *service_;
  s.set_handler(cmd::none, [](const rpc::Request&, const rpc::Responder& r) { r(rpc::Response{res::success}); });

  s.set_handler(cmd::get_status, [this](const rpc::Request&, const rpc::Responder& r) {
    r(rpc::Response{res::success, state_.status_json()});
  });

  s.set_handler(cmd::emergency_stop, [this](const rpc::Request& req, const rpc::Responder& r) {
    const bool changed = emergency_stop("command", reason_from(req, "EMERGENCY_STOP command"));
    r(rpc::Response{res::success, json{{"emergencyStopped", true}, {"alreadyStopped", !changed}}});
  });

  s.set_handler(cmd::emergency_resume, [this](const rpc::Request& req, const rpc::Responder& r) {
    const bool changed = emergency_resume("command", reason_from(req, "EMERGENCY_RESUME command"));
    r(rpc::Response{res::success, json{{"emergencyStopped", false}, {"wasStopped", changed}}});
  });

  // The application's business: acquisition, its configuration, and its own commands.
  for (int64_t c : {cmd::start_acquisition, cmd::stop_acquisition, cmd::get_configuration, cmd::user_defined})
    s.set_handler(c, s.forward_to_app());

  rpc::AppHooks hooks;
  hooks.on_status = [this](const json& status) { state_.update_app_status(status); };
  hooks.on_connection = [this](bool connected, const std::string& name) { state_.set_app_connected(connected, name); };
  hooks.on_event = [this](int64_t kind, const json& context) {
    // The application raised or cleared an emergency itself: it already published the event,
    // so only the latch follows.
    std::string reason = "application event";
    if (const json* r = rpc::find_arg(context, "reason"); r && r->is_string()) reason = r->get<std::string>();
    std::lock_guard<std::mutex> lock(emergency_mu_);
    if (kind == rpc::event_kind::emergency_stop) state_.latch_emergency("application", reason);
    if (kind == rpc::event_kind::emergency_resume) state_.clear_emergency("application", reason);
  };
  s.set_app_hooks(std::move(hooks));
}

}  // namespace rig
