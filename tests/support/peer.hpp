// A remote, as the tests drive it: real ZeroMQ SUB and REQ sockets on loopback, with deadlines
// so that a broken agent fails a test instead of hanging it.
#pragma once

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rpc/codec.hpp"

namespace rig::test {

using rpc::json;

struct Frames {
  std::vector<std::string> parts;
  size_t size() const { return parts.size(); }
  const std::string& operator[](size_t i) const { return parts[i]; }
};

inline std::optional<Frames> recv_frames(zmq::socket_t& s, int timeout_ms) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms));
  if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
  std::vector<zmq::message_t> msgs;
  (void)zmq::recv_multipart(s, std::back_inserter(msgs));
  Frames f;
  for (auto& m : msgs) f.parts.push_back(m.to_string());
  return f;
}

inline zmq::socket_t make_sub(zmq::context_t& ctx, const std::string& ep, const std::string& prefix = "") {
  zmq::socket_t s(ctx, zmq::socket_type::sub);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.set(zmq::sockopt::subscribe, prefix);
  s.connect(ep);
  return s;
}

inline zmq::socket_t make_req(zmq::context_t& ctx, const std::string& ep) {
  zmq::socket_t s(ctx, zmq::socket_type::req);
  s.set(zmq::sockopt::linger, 0);
  s.connect(ep);
  return s;
}

// Sends one request frame and waits for the reply (empty optional on timeout).
inline std::optional<std::string> ask(zmq::socket_t& req, const std::string& body, int timeout_ms = 3000) {
  req.send(zmq::buffer(body), zmq::send_flags::none);
  auto f = recv_frames(req, timeout_ms);
  if (!f || f->size() != 1) return std::nullopt;
  return (*f)[0];
}

inline json ask_json(zmq::socket_t& req, const std::string& body, int timeout_ms = 3000) {
  auto r = ask(req, body, timeout_ms);
  if (!r) return json();
  return json::parse(*r, nullptr, false);
}

// Waits until a SUB is really subscribed: PUB drops everything before that (slow joiner).
// Publishes probes through `publish` until one arrives.
template <typename PublishProbe>
inline bool wait_subscribed(zmq::socket_t& sub, PublishProbe publish, int timeout_ms = 3000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    publish();
    if (recv_frames(sub, 50)) {
      while (recv_frames(sub, 20)) {
      }  // drain further probes
      return true;
    }
  }
  return false;
}

}  // namespace rig::test
