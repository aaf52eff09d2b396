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
      : socket_(std::move(socket)), idle_(socket_.get_executor()), handler_(handler), live_(std::move(live)) {
    ++*live_;
  }
  ~Connection() { --*live_; }

  void read() {
    auto self = shared_from_this();
    idle_.expires_after(kIdleTimeout);
    idle_.async_wait([self](const std::error_code& ec) {
      if (!ec) self->close();  // nothing complete for kIdleTimeout
    });
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, kMaxControlLine + 1), '\n',
                           [self](const std::error_code& ec, size_t n) { self->on_line(ec, n); });
  }
  void close() {
    std::error_code ignored;
    idle_.cancel();
    socket_.close(ignored);
  }

 private:
  void on_line(const std::error_code& ec, size_t n) {
    idle_.cancel();  // a request may take a while (a pulse): not idle
    if (ec == asio::error::not_found) return write(control_error("request longer than " + std::to_string(kMaxControlLine) + " bytes"), false);
    if (ec) return close();  // closed by the client, or the server is closing
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    auto request = parse_control_request(line);
    if (!request) return write(control_error("bad request: " + request.error().message), true);
    auto self = shared_from_this();
    handler_(*request, [self](std::string reply) { self->write(std::move(reply) + "\n", true); });
  }

  void write(std::string text, bool more) {
    if (!socket_.is_open()) return;
    auto self = shared_from_this();
    out_ = std::move(text);
    asio::async_write(socket_, asio::buffer(out_), [self, more](const std::error_code& ec, size_t) {
      if (!ec && more) return self->read();
      self->close();
    });
  }

  stream_protocol::socket socket_;
  asio::steady_timer idle_;
  Handler& handler_;
  std::shared_ptr<size_t> live_;
  std::string buffer_, out_;
};

ControlServer::ControlServer(asio::io_context& io, std::string path, Handler handler)
    : io_(io), path_(std::move(path)), handler_(std::move(handler)), acceptor_(io), retry_(io) {}

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
    if (ec) {
      // Out of descriptors (EMFILE) and the like: back off instead of spinning on the error.
      if (!warned_) log::warn("hal", "control socket " + path_ + ": accept failed: " + ec.message() + "; retrying");
      warned_ = true;
      retry_.expires_after(std::chrono::milliseconds(200));
      retry_.async_wait([this](const std::error_code& e) {
        if (!e) accept();
      });
      return;
    }
    warned_ = false;
    if (*live_ >= kMaxConnections) {
      reject(std::move(socket));
    } else {
      std::erase_if(connections_, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
      auto c = std::make_shared<Connection>(std::move(socket), handler_, live_);
      connections_.push_back(c);
      c->read();
    }
    accept();
  });
}

void ControlServer::reject(stream_protocol::socket socket) {
  // Say why, then let the client read it before the connection goes (closing at once could
  // turn the reason into a reset).
  struct Rejected {
    explicit Rejected(stream_protocol::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    stream_protocol::socket socket;
    asio::steady_timer timer;  // a client that never closes is closed for it
    std::string text = control_error("too many control connections (" + std::to_string(kMaxConnections) + "); try again");
    char sink[64];
  };
  auto r = std::make_shared<Rejected>(std::move(socket));
  r->timer.expires_after(std::chrono::seconds(2));
  r->timer.async_wait([r](const std::error_code&) {
    std::error_code ignored;
    r->socket.close(ignored);
  });
  asio::async_write(r->socket, asio::buffer(r->text), [r](const std::error_code& ec, size_t) {
    if (ec) return;
    std::error_code ignored;
    r->socket.shutdown(stream_protocol::socket::shutdown_send, ignored);
    r->socket.async_read_some(asio::buffer(r->sink), [r](const std::error_code&, size_t) { r->timer.cancel(); });
  });
}

void ControlServer::close() {
  std::error_code ec;
  retry_.cancel();
  if (acceptor_.is_open()) acceptor_.close(ec);
  for (auto& w : connections_)
    if (auto c = w.lock()) c->close();
  connections_.clear();
  if (bound_) ::unlink(path_.c_str());
  bound_ = false;
}

}  // namespace rig::hw
