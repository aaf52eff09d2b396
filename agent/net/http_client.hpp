// A small HTTP/1.1 client for the upstream reporters (LaneSwap now, others later): one keep-alive
// connection per origin, plain TCP or TLS (Mbed TLS, certificates verified against a configured CA
// bundle), requests queued and sent one at a time, every request with a deadline. It lives on an
// asio::io_context and calls back on that context's thread; errors are values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>

#include "core/expected.hpp"

namespace rig::net {

// http://host[:port][/base] or https://...; host may be a name, an IPv4 address or [IPv6].
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  uint16_t port = 0;   // defaulted from the scheme
  std::string path;    // "" or "/something", no trailing '/'
  bool tls() const { return scheme == "https"; }
  std::string origin() const;  // "https://host:port" (brackets for IPv6)
};
Expected<Url> parse_url(std::string_view text);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", "PUT"
  std::string target;  // "/api/services"
  Headers headers;     // sent as given, after Host / Content-Length / Connection
  std::string body;    // sent with Content-Length when not empty (or when method is POST/PUT)
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive
};

// Error::code of a failed request.
enum class HttpErrc {
  resolve_failed = 1,  // the name did not resolve
  connect_failed,      // refused, unreachable
  tls_failed,          // handshake failed; certificate not trusted or not for this host
  timeout,             // connect or request deadline passed
  connection_closed,   // the server closed the connection before a complete response
  bad_response,        // not HTTP/1.x, malformed framing, over max_response_bytes
  cancelled,           // close() was called
  invalid_request,     // the request could not be sent as given (CR/LF in a header, bad target)
};
const char* to_string(HttpErrc e);

struct TlsOptions {
  std::string ca_file;      // PEM bundle; empty: /etc/ssl/certs/ca-certificates.crt
  bool verify = true;       // false only for lab debugging (logged loudly by the caller)
  std::string server_name;  // SNI and name checked in the certificate; empty: the URL's host
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{5000};   // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{10000};  // one request, from send to full response
  size_t max_response_bytes = 4 * 1024 * 1024;
  TlsOptions tls;
  std::string user_agent = "rigagent";
};

class HttpClient {
 public:
  using Callback = std::function<void(Expected<HttpResponse>)>;
  struct Stats {
    uint64_t connections = 0;  // connections opened (TCP connect + TLS handshake)
    uint64_t requests = 0;     // requests completed with a response
    uint64_t reused = 0;       // requests sent on a connection already open
  };

  // Loads the CA bundle for https (the error names the file). Call on the io thread or before it runs.
  static Expected<std::shared_ptr<HttpClient>> create(asio::io_context& io, Url origin, HttpOptions options);
  virtual ~HttpClient() = default;

  // Queues a request; the callback runs once, on the io thread. A keep-alive connection the server
  // closed while idle is reopened and the request sent once more (only when nothing of it was sent
  // on the closed connection's reuse can be known to have reached the server: see the .cpp).
  // `timeout` overrides options.request_timeout for this request. Safe from any thread (it posts
  // to the io_context); the client stays alive until the callbacks of requests in flight have run.
  virtual void request(HttpRequest request, Callback callback,
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt) = 0;
  // Fails everything queued with `cancelled` and closes the connection. On the io thread. Final:
  // later requests fail with `cancelled` too.
  virtual void close() = 0;
  virtual Stats stats() const = 0;
  virtual const Url& origin() const = 0;
};

}  // namespace rig::net
