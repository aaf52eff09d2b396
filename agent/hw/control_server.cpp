#include "hw/control_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include "core/log.hpp"

namespace rig::hw {

using asio::local::stream_protocol;

// One client: reads request lines in order, answers each before reading the next.
class ControlServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(stream_protocol::socket socket, Handler& handler, std::shared_ptr<size_t> live)
      : socket_(std::move(socket)), handler_(handler), live_(std::move(live)) {
    ++*live_;
  }
  ~Connection() { --*live_; }

  void read() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, kMaxControlLine + 1), '\n',
                           [self](const std::error_code& ec, size_t n) { self->on_line(ec, n); });
  }

 private:
  void on_line(const std::error_code& ec, size_t n) {
    if (ec == asio::error::not_found) return write(control_error("request longer than " + std::to_string(kMaxControlLine) + " bytes"), false);
    if (ec) return;  // closed by the client, or the server is closing
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    auto request = parse_control_request(line);
    if (!request) return write(control_error("bad request: " + request.error().message), true);
    auto self = shared_from_this();
    handler_(*request, [self](std::string reply) { self->write(std::move(reply) + "\n", true); });
  }

  void write(std::string text, bool more) {
    auto self = shared_from_this();
    out_ = std::move(text);
    asio::async_write(socket_, asio::buffer(out_), [self, more](const std::error_code& ec, size_t) {
      if (!ec && more) self->read();
    });
  }

  stream_protocol::socket socket_;
  Handler& handler_;
  std::shared_ptr<size_t> live_;
  std::string buffer_, out_;
};

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : io_(io), path_(std::move(path)), handler_(std::move(handler)), acceptor_(io) {}

ControlServer::~ControlServer() { close(); }

Expected<void> ControlServer::open() {
  if (path_.size() >= sizeof(sockaddr_un::sun_path))
    return make_error("hal.control_socket: path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes: " + path_);
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error(path_ + " exists and is not a socket: remove it or set hal.control_socket");
    stream_protocol::socket probe(io_);
    std::error_code ec;
    probe.connect(stream_protocol::endpoint(path_), ec);
    if (!ec) return make_error("another rigagent is serving the HAL control socket " + path_ + " (stop it, or set hal.control_socket)");
    ::unlink(path_.c_str());  // stale: left by an agent that did not stop cleanly
  }
  std::error_code ec;
  acceptor_.open(stream_protocol(), ec);
  if (!ec) acceptor_.bind(stream_protocol::endpoint(path_), ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("cannot serve the HAL control socket " + path_ + ": " + ec.message());
  bound_ = true;
  return {};
}

void ControlServer::start() { accept(); }

void ControlServer::accept() {
  acceptor_.async_accept([this](const std::error_code& ec, stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (*live_ >= kMaxConnections) {
        auto s = std::make_shared<stream_protocol::socket>(std::move(socket));
        auto text = std::make_shared<std::string>(control_error("too many control connections; try again"));
        asio::async_write(*s, asio::buffer(*text), [s, text](const std::error_code&, size_t) {});
      } else {
        std::make_shared<Connection>(std::move(socket), handler_, live_)->read();
      }
    }
    accept();
  });
}

void ControlServer::close() {
  std::error_code ec;
  if (acceptor_.is_open()) acceptor_.close(ec);
  if (bound_) ::unlink(path_.c_str());
  bound_ = false;
}

}  // namespace rig::hw
