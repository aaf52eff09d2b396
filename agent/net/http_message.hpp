// HTTP/1.1 messages without I/O: request serialisation and an incremental response parser (RFC
// 9112 framing). Kept apart from the client so that the unit tests and the fuzz target drive it on
// plain bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/expected.hpp"
#include "net/http_client.hpp"

namespace rig::net {

constexpr size_t kMaxHeaderBytes = 16 * 1024;  // status line, headers and trailers together
constexpr size_t kMaxChunkLine = 4096;         // one chunk-size line, extensions included

// "host" or "host:port" when the port is not the scheme's default; IPv6 in brackets.
std::string host_header(const Url& origin);

// The request as sent: request line, Host, User-Agent (unless the caller sets one), Content-Length
// (a body, or POST/PUT/PATCH), Connection: keep-alive, the caller's headers, the body. Refuses
// (code HttpErrc::invalid_request) what would break the framing or inject headers: CR/LF in a
// value, a target that is not "/...", Host/Content-Length/Transfer-Encoding/Connection headers.
Expected<std::string> serialize_request(const HttpRequest& request, const Url& origin, std::string_view user_agent);

// Feed it the bytes of one response as they arrive; done() once the response is complete. Errors
// are final and carry code HttpErrc::bad_response (framing, limits) or connection_closed (finish()
// before the end). Interim 1xx responses are skipped.
class ResponseParser {
 public:
  explicit ResponseParser(size_t max_body_bytes, bool head_request = false)
      : max_body_(max_body_bytes), head_(head_request) {}

  // Consumes `data`. Bytes after a complete response are counted in excess(), not parsed.
  Expected<void> feed(std::string_view data);
  // The peer closed the connection: completes a body delimited by the close, else an error.
  Expected<void> finish();

  bool done() const { return state_ == State::done; }
  bool started() const { return started_; }  // any byte received
  // The connection may carry another request: HTTP/1.1 without "Connection: close" (or 1.0 with
  // "keep-alive"), framed by length or chunks, and nothing received past the end.
  bool keep_alive() const { return done() && keep_alive_ && excess_ == 0; }
  size_t excess() const { return excess_; }
  HttpResponse& response() { return response_; }

 private:
  enum class State { status_line, headers, body_length, body_close, chunk_size, chunk_data, chunk_end, trailers, done, failed };

  Expected<void> on_line(std::string_view line);
  Expected<void> on_status_line(std::string_view line);
  Expected<void> on_header_line(std::string_view line, bool trailer);
  Expected<void> on_headers_end();
  Expected<void> on_chunk_size(std::string_view line);
  Error reject(std::string message, int code);

  size_t max_body_;
  bool head_;
  State state_ = State::status_line;
  bool started_ = false, keep_alive_ = false;
  int minor_version_ = 1;
  std::string line_;          // a line not complete yet
  size_t header_bytes_ = 0;   // counted against kMaxHeaderBytes
  uint64_t remaining_ = 0;    // of the Content-Length body or the current chunk
  size_t excess_ = 0;
  HttpResponse response_;
  Error error_;
};

}  // namespace rig::net
