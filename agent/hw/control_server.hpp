// Serves the `rigagent hal` control protocol on a Unix stream socket, on the io thread. Framing,
// limits and connection bookkeeping live here; what a request does is the handler's business.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>

#include "core/expected.hpp"
#include "hw/control_protocol.hpp"

namespace rig::hw {

class ControlServer {
 public:
  // The handler answers once through `reply` (a JSON line without the newline), now or later.
  using Reply = std::function<void(std::string)>;
  using Handler = std::function<void(const ControlRequest&, Reply)>;

  ControlServer(asio::io_context& io, std::string path, Handler handler);
  ~ControlServer();

  // Binds the socket. A live socket at `path` (another agent) is an error; a stale one is replaced.
  Expected<void> open();
  void start();  // on the io thread, or before it runs
  void close();  // on the io thread, or after it stopped; removes the socket file
  const std::string& path() const { return path_; }

  static constexpr size_t kMaxConnections = 16;
  // A client that sends no complete request for this long is disconnected, so idle or
  // half-written connections cannot hold every slot.
  static constexpr std::chrono::seconds kIdleTimeout{10};

 private:
  class Connection;
  void accept();
  void reject(asio::local::stream_protocol::socket socket);

  asio::io_context& io_;
  std::string path_;
  Handler handler_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::shared_ptr<size_t> live_ = std::make_shared<size_t>(0);
  std::vector<std::weak_ptr<Connection>> connections_;
  asio::steady_timer retry_;  // accept() again after an error such as EMFILE
  bool bound_ = false;
  bool warned_ = false;
};

}  // namespace rig::hw
