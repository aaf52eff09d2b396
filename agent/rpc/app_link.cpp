#include "rpc/app_link.hpp"
#include "rpc/app_message.hpp"

#include <zmq_addon.hpp>

#include <cstring>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "rpc/protocol.hpp"
#include "rpc/service_core.hpp"

namespace rig::rpc {
namespace {

constexpr int kMaxMessagesPerWake = 64;

std::string command_label(int64_t c) {
  const char* n = command_name(c);
  return n ? n : std::to_string(c);
}

}  // namespace

AppLink::AppLink(ServiceCore& core, zmq::context_t& ctx, zmq::socket_t socket)
    : core_(core), socket_(std::move(socket)), monitor_(ctx, zmq::socket_type::pair) {
  const std::string ep = "inproc://rigagent-app-monitor-" + std::to_string(reinterpret_cast<uintptr_t>(this));
  if (zmq_socket_monitor(socket_.handle(), ep.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) throw zmq::error_t();
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(ep);
}

AppLink::~AppLink() {
  zmq_socket_monitor(socket_.handle(), nullptr, 0);  // stop the monitor before its peer goes
}

void AppLink::on_monitor_event() {
  for (;;) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(monitor_, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    // Frame 0: uint16 event id, uint32 value (the file descriptor for DISCONNECTED).
    if (frames.empty() || frames[0].size() < 6) continue;
    uint16_t event;
    uint32_t value;
    std::memcpy(&event, frames[0].data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(frames[0].data()) + 2, sizeof value);
    if (event == ZMQ_EVENT_DISCONNECTED && !peer_.empty() && static_cast<int>(value) == peer_fd_)
      drop_peer("disconnected");
  }
}

void AppLink::on_readable() {
  for (int i = 0; i < kMaxMessagesPerWake; ++i) {
    std::vector<zmq::message_t> frames;
    try {
      if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& e) {
      log::warn("app-link", std::string("receive failed: ") + e.what());
      return;
    }
    core_.counters.app_messages++;
    if (frames.size() != 2) {
      // A REQ socket adds an empty delimiter; the link wants a DEALER. Say so rather than guess.
      core_.counters.app_errors++;
      if (!frames.empty())
        send_to(frames[0].to_string(),
                json{{"type", "error"},
                     {"message", "expected exactly one frame per message (connect a DEALER socket, not REQ), got " +
                                     std::to_string(frames.size() - 1)}});
      continue;
    }
    handle(frames[0].to_string(), frames[1].get(ZMQ_SRCFD), frames[1].to_string_view());
  }
}

void AppLink::handle(const std::string& peer, int fd, std::string_view frame) {
  auto decoded = decode_app_message(frame, core_.opts.limits);
  if (!decoded) {
    core_.counters.app_errors++;
    log::warn("app-link", decoded.error().message);
    send_to(peer, json{{"type", "error"}, {"message", decoded.error().message}});
    return;
  }
  AppMessage& m = *decoded;
  if (m.type == AppMessage::Type::bye) {
    if (peer == peer_) drop_peer("said bye");
    return;
  }
  if (peer != peer_) {
    std::string name = "application";
    if (auto n = m.body.find("name"); n != m.body.end() && n->is_string()) name = n->get<std::string>();
    set_peer(peer, fd, name);
  }
  switch (m.type) {
    case AppMessage::Type::hello:
      send_to(peer, json{{"type", "welcome"},
                         {"identifier", core_.opts.identifier},
                         {"version", core_.opts.version}});
      break;
    case AppMessage::Type::ping:
      send_to(peer, json{{"type", "pong"}});
      break;
    case AppMessage::Type::publish: {
      const auto topic = static_cast<uint32_t>(m.body["topic"].get<int64_t>());
      const json& body = m.body["body"];
      if (body.is_string()) {
        core_.publish_now(topic, body.get<std::string>());
        break;
      }
      int64_t kind = -1;
      if (body.is_object())
        if (auto k = app_int_field(body, "kind")) kind = *k;
      std::string text = dump_lenient(camelize_keys(body));
      if (topic != static_cast<uint32_t>(Topic::event)) {
        core_.publish_now(topic, text);
        break;
      }
      publish_app_event(kind, body.value("context", json()), std::move(text));
      break;
    }
    case AppMessage::Type::event: {
      const int64_t kind = m.body["kind"].get<int64_t>();
      json context = m.body.value("context", json());
      double when = wall_seconds();
      if (auto w = m.body.find("when"); w != m.body.end() && w->is_number()) when = w->get<double>();
      uint64_t index = monotonic_ns();
      if (auto x = m.body.find("index"); x != m.body.end() && x->is_number_unsigned()) index = x->get<uint64_t>();
      publish_app_event(kind, context, encode_event(kind, when, index, context));
      break;
    }
    case AppMessage::Type::reply: {
      const auto id = static_cast<uint64_t>(m.body["id"].get<int64_t>());
      auto it = pending_.find(id);
      if (it == pending_.end()) {
        log::warn("app-link", "reply for command id " + std::to_string(id) +
                                  " arrived after its deadline or was never asked for; ignored");
        break;
      }
      auto resp = response_from_app_reply(m.body);
      if (resp && resp->result == result::pending_with_notification && core_.hooks.on_command_pending)
        core_.hooks.on_command_pending(it->second.responder.request().command, it->second.responder.request().nonce);
      if (resp)
        it->second.responder(*resp);
      else
        it->second.responder(Response{result::failed, nullptr, error_code::app_protocol, resp.error().message});
      pending_.erase(it);
      break;
    }
    case AppMessage::Type::command_result: {
      // command, nonce and result are valid (decode_app_message checked them): a remote is
      // waiting for this, so a bad optional field still publishes, as a FAILED result.
      auto resp = response_from_app_reply(m.body);
      if (!resp) {
        send_to(peer, json{{"type", "error"}, {"message", resp.error().message}});
        resp = Response{result::failed, nullptr, error_code::app_protocol,
                        "the application sent a malformed commandResult: " + resp.error().message};
      }
      const int64_t command = m.body["command"].get<int64_t>(), nonce = m.body["nonce"].get<int64_t>();
      core_.publish_now(static_cast<uint32_t>(Topic::command_result), encode_command_result(command, nonce, *resp));
      if (core_.hooks.on_command_result) core_.hooks.on_command_result(command, nonce, *resp);
      break;
    }
    case AppMessage::Type::status:
      if (core_.hooks.on_status) core_.hooks.on_status(m.body);
      break;
    default:
      break;
  }
}

void AppLink::publish_app_event(int64_t kind, const json& context, std::string body) {
  if (is_emergency_kind(kind) && core_.hooks.on_emergency_event) {
    core_.hooks.on_emergency_event(kind, context, std::move(body));
    return;
  }
  core_.publish_event_now(body, kind);
  if (kind >= 0 && core_.hooks.on_event) core_.hooks.on_event(kind, context);
}

bool AppLink::send_to(const std::string& peer, const json& message) {
  try {
    std::string body = dump_lenient(message);
    if (!socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    return socket_.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH && peer == peer_) drop_peer("is gone");
    return false;
  }
}

void AppLink::set_peer(const std::string& peer, int fd, const std::string& name) {
  if (!peer_.empty()) log::warn("app-link", "application '" + name_ + "' replaced by a new connection");
  peer_ = peer;
  peer_fd_ = fd;
  name_ = name;
  core_.app_connected = true;
  log::info("app-link", "application '" + name + "' connected");
  if (core_.hooks.on_connection) core_.hooks.on_connection(true, name);
}

void AppLink::drop_peer(const char* why) {
  log::info("app-link", "application '" + name_ + "' " + why);
  peer_.clear();
  peer_fd_ = -1;
  core_.app_connected = false;
  fail_all("the acquisition application disconnected before answering");
  if (core_.hooks.on_connection) core_.hooks.on_connection(false, name_);
}

void AppLink::forward(const Request& request, const Responder& responder) {
  if (peer_.empty()) {
    responder(Response{result::unavailable, nullptr, 0,
                       "no acquisition application is connected (it connects to " + core_.opts.app_endpoint + ")"});
    return;
  }
  const uint64_t id = next_id_++;
  json msg = {{"type", "command"},
              {"id", id},
              {"command", request.command},
              {"nonce", request.nonce},
              {"customCommand", request.custom_command},
              {"data", request.data}};
  if (!send_to(peer_, msg)) {
    responder(Response{result::unavailable, nullptr, 0,
                       "the acquisition application is not reachable (it connects to " + core_.opts.app_endpoint + ")"});
    return;
  }
  core_.counters.app_forwarded++;
  pending_.emplace(id, Pending{responder, monotonic_ms() + core_.opts.app_timeout.count(), request.command});
}

void AppLink::notify(const json& message) {
  if (!peer_.empty()) send_to(peer_, message);
}

void AppLink::expire(int64_t now_ms) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_ms > now_ms) {
      ++it;
      continue;
    }
    core_.counters.app_timeouts++;
    std::string msg = "the acquisition application did not answer " + command_label(it->second.command) + " within " +
                      std::to_string(core_.opts.app_timeout.count()) + " ms";
    log::warn("app-link", msg);
    it->second.responder(Response{result::failed, nullptr, error_code::app_timeout, msg});
    it = pending_.erase(it);
  }
}

int64_t AppLink::next_deadline_ms() const {
  int64_t d = -1;
  for (const auto& [id, p] : pending_)
    if (d < 0 || p.deadline_ms < d) d = p.deadline_ms;
  return d;
}

void AppLink::fail_all(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.responder(Response{result::unavailable, nullptr, 0, why});
}

}  // namespace rig::rpc
