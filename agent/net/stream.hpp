// The byte stream under the HTTP client: a connected TCP socket, plain or TLS (tls.hpp), behind
// one interface so that the client's request logic is the same for both. Handlers run on the
// socket's io_context; errors are values with an HttpErrc code and a message without the origin
// (the client adds it).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include <asio/ip/tcp.hpp>

#include "core/expected.hpp"

namespace rig::net {

// Bytes transferred; a read of 0 bytes is the peer's orderly close.
using IoHandler = std::function<void(Expected<size_t>)>;

class Stream {
 public:
  virtual ~Stream() = default;
  // The TLS handshake; a plain stream is ready at once.
  virtual void start(std::function<void(Expected<void>)> done) = 0;
  // All of `data`, which must stay valid until `done` runs.
  virtual void write(std::string_view data, IoHandler done) = 0;
  virtual void read_some(char* data, size_t size, IoHandler done) = 0;
  // An idle keep-alive connection is still fit to carry a request: the peer has neither closed
  // it nor sent anything (a close_notify, an unsolicited 408) since the last response.
  virtual bool idle_usable() = 0;
  // Pending operations complete with HttpErrc::cancelled.
  virtual void close() = 0;
};

std::shared_ptr<Stream> make_plain_stream(asio::ip::tcp::socket socket);

// Shared by both kinds of stream.
namespace detail {
Error io_error(const std::error_code& ec, const char* doing);  // doing: "sending the request"
bool peer_silent(int fd);  // nothing to read and no FIN/RST pending on a socket
}  // namespace detail

}  // namespace rig::net
