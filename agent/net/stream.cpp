#include "net/stream.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <asio/write.hpp>

#include "net/http_client.hpp"

namespace rig::net {

namespace detail {

Error io_error(const std::error_code& ec, const char* doing) {
  if (ec == asio::error::operation_aborted) return Error{std::string("cancelled while ") + doing, static_cast<int>(HttpErrc::cancelled)};
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
    return Error{std::string("the server reset the connection while ") + doing, static_cast<int>(HttpErrc::connection_closed)};
  return Error{std::string("socket error while ") + doing + ": " + ec.message(), static_cast<int>(HttpErrc::connection_closed)};
}

bool peer_silent(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace detail

namespace {

class PlainStream final : public Stream, public std::enable_shared_from_this<PlainStream> {
 public:
  explicit PlainStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  void start(std::function<void(Expected<void>)> done) override { done({}); }

  void write(std::string_view data, IoHandler done) override {
    asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                      [self = shared_from_this(), done = std::move(done)](const std::error_code& ec, size_t n) {
                        done(ec ? Expected<size_t>(detail::io_error(ec, "sending the request")) : Expected<size_t>(n));
                      });
  }

  void read_some(char* data, size_t size, IoHandler done) override {
    socket_.async_read_some(asio::buffer(data, size),
                            [self = shared_from_this(), done = std::move(done)](const std::error_code& ec, size_t n) {
                              if (ec == asio::error::eof) return done(size_t{0});
                              done(ec ? Expected<size_t>(detail::io_error(ec, "reading the response")) : Expected<size_t>(n));
                            });
  }

  bool idle_usable() override { return socket_.is_open() && detail::peer_silent(socket_.native_handle()); }

  void close() override {
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::ip::tcp::socket socket_;
};

}  // namespace

std::shared_ptr<Stream> make_plain_stream(asio::ip::tcp::socket socket) {
  return std::make_shared<PlainStream>(std::move(socket));
}

}  // namespace rig::net
