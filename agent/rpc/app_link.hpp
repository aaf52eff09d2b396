// The local application link (docs/app-link.md): a ROUTER on a local endpoint that the
// acquisition application connects a DEALER to. JSON messages, one frame each. Runs on the
// RpcService's owner thread.
#pragma once

#include <zmq.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/expected.hpp"
#include "rpc/app_message.hpp"
#include "rpc/codec.hpp"
#include "rpc/service.hpp"

namespace rig::rpc {

class ServiceCore;

class AppLink {
 public:
  AppLink(ServiceCore& core, zmq::context_t& ctx, zmq::socket_t socket);
  ~AppLink();

  zmq::socket_t& socket() { return socket_; }
  // libzmq's socket monitor: tells us at once when the application's connection closes, so
  // GET_STATUS does not report a dead application as connected.
  zmq::socket_t& monitor() { return monitor_; }
  void on_readable();                   // handle what the application sent
  void on_monitor_event();
  void forward(const Request& request, const Responder& responder);
  void notify(const json& message);     // best effort; no application, no notice
  void expire(int64_t now_ms);          // time out forwarded commands
  int64_t next_deadline_ms() const;     // -1 when nothing is pending
  void fail_all(const std::string& why);
  bool connected() const { return !peer_.empty(); }
  const std::string& name() const { return name_; }

 private:
  void publish_app_event(int64_t kind, const json& context, std::string body);
  void handle(const std::string& peer, int fd, std::string_view frame);
  bool send_to(const std::string& peer, const json& message);
  void set_peer(const std::string& peer, int fd, const std::string& name);
  void drop_peer(const char* why);

  struct Pending {
    Responder responder;
    int64_t deadline_ms;
    int64_t command;
  };

  ServiceCore& core_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  std::string peer_;
  int peer_fd_ = -1;  // the application's connection, from ZMQ_SRCFD  // routing id of the connected application; empty when none
  std::string name_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
};

}  // namespace rig::rpc
