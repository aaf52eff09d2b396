// The HttpClient: one connection, one request at a time, the rest queued in order.
//
// Reusing a keep-alive connection races with the server closing it while idle. Two defences:
//  1. Before reuse, the idle socket is peeked (Stream::idle_usable): a FIN, a reset or anything
//     unsolicited means the server is done with it, and a new connection is opened at once.
//  2. If the server closes it anyway between that check and our request (EOF or reset before any
//     response byte, on a connection that had already carried a request), the request is sent
//     once more on a new connection. A server that closes an idle connection has not processed
//     a request it never read, which is the case this covers; the price is that a server which
//     did read the request and then died without a byte of answer sees it twice. RFC 9112 §9.3.1
//     allows this retry for idempotent requests; the reporters' POSTs carry state ("this is my
//     status now"), so a duplicate is harmless for them. A fresh connection is never retried.
#include "net/http_client.hpp"

#include <atomic>
#include <deque>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "net/http_message.hpp"
#include "net/stream.hpp"
#include "net/tls.hpp"

namespace rig::net {

namespace {

using asio::ip::tcp;
using std::chrono::milliseconds;

constexpr size_t kReadChunk = 16 * 1024;

struct Exchange {
  std::string what;  // "GET /api/x", for messages
  std::string wire;  // the serialised request
  bool head = false;
  milliseconds timeout{0};
  HttpClient::Callback callback;
  bool resent = false;
};

// A connection, from connect to close: the socket until the stream takes it over.
struct Connection {
  explicit Connection(asio::io_context& io) : socket(io) {}
  void close() {
    std::error_code ignored;
    if (stream) stream->close();
    socket.close(ignored);
  }
  tcp::socket socket;
  std::shared_ptr<Stream> stream;
  std::vector<char> buffer = std::vector<char>(kReadChunk);
  uint64_t sent = 0;  // requests sent on it
};

class Client final : public HttpClient, public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, Url origin, HttpOptions options, std::shared_ptr<TlsContext> tls)
      : io_(io), origin_(std::move(origin)), options_(std::move(options)), tls_(std::move(tls)), resolver_(io), timer_(io),
        name_(origin_.origin()), server_name_(options_.tls.server_name.empty() ? origin_.host : options_.tls.server_name) {}
  ~Client() override {
    if (conn_) conn_->close();
  }

  void request(HttpRequest request, Callback callback, std::optional<milliseconds> timeout) override {
    Exchange ex;
    ex.what = request.method + " " + (request.target.size() <= 100 ? request.target : request.target.substr(0, 100) + "...");
    ex.head = request.method == "HEAD";
    ex.timeout = timeout.value_or(options_.request_timeout);
    ex.callback = std::move(callback);
    std::optional<Error> invalid;
    if (auto wire = serialize_request(request, origin_, options_.user_agent)) ex.wire = std::move(*wire);
    else invalid = Error{name_ + ": " + wire.error().message, wire.error().code};
    // Always through the io_context: the callback never runs inside request(), and request() is
    // safe from another thread.
    asio::post(io_, [self = shared_from_this(), ex = std::move(ex), invalid = std::move(invalid)]() mutable {
      if (invalid) return ex.callback(std::move(*invalid));
      if (self->closed_) return ex.callback(self->cancelled(ex));
      self->queue_.push_back(std::move(ex));
      self->next();
    });
  }

  void close() override {
    closed_ = true;
    end_step();
    drop_connection();
    std::deque<Exchange> all;
    if (current_) all.push_back(std::move(*current_));
    current_.reset();
    for (auto& ex : queue_) all.push_back(std::move(ex));
    queue_.clear();
    for (auto& ex : all) ex.callback(cancelled(ex));
  }

  Stats stats() const override { return Stats{connections_.load(), requests_.load(), reused_.load()}; }
  const Url& origin() const override { return origin_; }

 private:
  Error cancelled(const Exchange& ex) const {
    return Error{name_ + ": " + ex.what + ": cancelled: the client was closed", static_cast<int>(HttpErrc::cancelled)};
  }

  // Starts the queue's head when nothing is in flight.
  void next() {
    if (closed_ || current_ || queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (conn_ && conn_->stream && conn_->stream->idle_usable()) return send();
    drop_connection();  // none yet, or closed by the server while idle
    open();
  }

  // Resolve, connect, handshake, all within connect_timeout.
  void open() {
    conn_ = std::make_shared<Connection>(io_);
    phase_ = "resolving " + origin_.host;
    arm(options_.connect_timeout, true);
    auto self = shared_from_this();
    resolver_.async_resolve(origin_.host, std::to_string(origin_.port), [self, g = gen_, conn = conn_](const std::error_code& ec, tcp::resolver::results_type results) {
      if (g != self->gen_) return;
      if (ec) return self->fail("cannot resolve " + self->origin_.host + ": " + ec.message(), HttpErrc::resolve_failed, true);
      self->phase_ = "connecting";
      asio::async_connect(conn->socket, results, [self, g, conn](const std::error_code& e, const tcp::endpoint&) {
        if (g != self->gen_) return;
        if (e) return self->fail("cannot connect: " + e.message(), HttpErrc::connect_failed, true);
        self->on_connected(conn);
      });
    });
  }

  void on_connected(const std::shared_ptr<Connection>& conn) {
    std::error_code ignored;
    conn->socket.set_option(tcp::no_delay(true), ignored);  // a request is one write; do not hold its tail back
    if (tls_) {
      auto stream = make_tls_stream(std::move(conn->socket), tls_, server_name_);
      if (!stream) return fail(stream.error().message, HttpErrc::tls_failed, true);
      conn->stream = std::move(*stream);
      phase_ = "TLS handshake";
    } else {
      conn->stream = make_plain_stream(std::move(conn->socket));
    }
    conn->stream->start([self = shared_from_this(), g = gen_](Expected<void> r) {
      if (g != self->gen_) return;
      if (!r) return self->fail(r.error().message, static_cast<HttpErrc>(r.error().code), true);
      ++self->connections_;
      self->send();
    });
  }

  void send() {
    reused_send_ = conn_->sent++ > 0;
    if (reused_send_) ++reused_;
    parser_.emplace(options_.max_response_bytes, current_->head);
    arm(current_->timeout, false);
    conn_->stream->write(current_->wire, [self = shared_from_this(), g = gen_](Expected<size_t> r) {
      if (g != self->gen_) return;
      if (!r) return self->io_failed(r.error());
      self->read();
    });
  }

  void read() {
    auto conn = conn_;
    conn->stream->read_some(conn->buffer.data(), conn->buffer.size(), [self = shared_from_this(), g = gen_, conn](Expected<size_t> r) {
      if (g != self->gen_) return;
      if (!r) return self->io_failed(r.error());
      if (*r == 0) {
        if (!self->parser_->started())
          return self->io_failed(Error{"the server closed the connection without responding", static_cast<int>(HttpErrc::connection_closed)});
        auto end = self->parser_->finish();
        if (!end) return self->fail(end.error().message, static_cast<HttpErrc>(end.error().code), false);
        return self->complete();
      }
      auto fed = self->parser_->feed(std::string_view(conn->buffer.data(), *r));
      if (!fed) return self->fail("bad response: " + fed.error().message, static_cast<HttpErrc>(fed.error().code), false);
      if (self->parser_->done()) return self->complete();
      self->read();
    });
  }

  // Sending or reading failed: see the top of this file for when the request goes out again.
  void io_failed(const Error& e) {
    if (reused_send_ && !parser_->started() && e.code == static_cast<int>(HttpErrc::connection_closed) && !current_->resent) {
      current_->resent = true;
      drop_connection();
      return open();
    }
    fail(e.message, static_cast<HttpErrc>(e.code), false);
  }

  void complete() {
    HttpResponse response = std::move(parser_->response());
    const bool keep = parser_->keep_alive();
    end_step();
    if (!keep) drop_connection();
    ++requests_;
    finish(std::move(response));
  }

  // connection_level: the message names the origin only ("https://h:443: TLS handshake failed: ..."),
  // else the request too ("http://h:80: GET /x: bad response: ...").
  void fail(const std::string& detail, HttpErrc code, bool connection_level) {
    Error e{name_ + ": " + (connection_level ? "" : current_->what + ": ") + detail, static_cast<int>(code)};
    end_step();
    drop_connection();
    finish(std::move(e));
  }

  void finish(Expected<HttpResponse> result) {
    Exchange ex = std::move(*current_);
    current_.reset();
    ex.callback(std::move(result));
    next();
  }

  // The deadline of the current step: connect (resolve + connect + handshake) or request.
  void arm(milliseconds d, bool connecting) {
    const uint64_t tg = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), tg, d, connecting](const std::error_code& ec) {
      if (ec || tg != self->timer_gen_) return;  // cancelled, or re-armed after this one expired
      const std::string ms = std::to_string(d.count()) + " ms";
      if (connecting) self->fail("connect timed out after " + ms + " (" + self->phase_ + ")", HttpErrc::timeout, true);
      else self->fail("no complete response within " + ms, HttpErrc::timeout, false);
    });
  }

  // Handlers of the step that ends here see a newer generation and do nothing.
  void end_step() {
    ++gen_;
    ++timer_gen_;
    timer_.cancel();
  }

  void drop_connection() {
    ++gen_;
    resolver_.cancel();
    if (conn_) conn_->close();
    conn_.reset();
  }

  asio::io_context& io_;
  const Url origin_;
  const HttpOptions options_;
  const std::shared_ptr<TlsContext> tls_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  const std::string name_;         // "https://host:port", the prefix of every error message
  const std::string server_name_;  // SNI and the name the certificate must carry

  std::deque<Exchange> queue_;
  std::optional<Exchange> current_;
  std::shared_ptr<Connection> conn_;
  std::optional<ResponseParser> parser_;
  std::string phase_;  // of the connect step, for its timeout message
  bool reused_send_ = false;
  bool closed_ = false;
  uint64_t gen_ = 0, timer_gen_ = 0;
  std::atomic<uint64_t> connections_{0}, requests_{0}, reused_{0};
};

}  // namespace

Expected<std::shared_ptr<HttpClient>> HttpClient::create(asio::io_context& io, Url origin, HttpOptions options) {
  if ((origin.scheme != "http" && origin.scheme != "https") || origin.host.empty() || origin.port == 0)
    return Error{"bad origin \"" + origin.origin() + "\" (make it with parse_url)", static_cast<int>(HttpErrc::invalid_request)};
  std::shared_ptr<TlsContext> tls;
  if (origin.tls()) {
    auto loaded = load_tls_context(options.tls);
    if (!loaded) return Error{origin.origin() + ": " + loaded.error().message, loaded.error().code};
    tls = std::move(*loaded);
  }
  return std::shared_ptr<HttpClient>(std::make_shared<Client>(io, std::move(origin), std::move(options), std::move(tls)));
}

}  // namespace rig::net
