#include "upstream/serf/client.hpp"

#include <cstdlib>
#include <deque>
#include <map>
#include <random>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "core/log.hpp"
#include "upstream/serf/protocol.hpp"
#include "upstream/serf/session.hpp"

namespace rig::serf {

using asio::ip::tcp;
using std::chrono::milliseconds;

const char* to_string(State s) {
  switch (s) {
    case State::connecting: return "connecting";
    case State::connected: return "connected";
    case State::disconnected: return "disconnected";
    case State::closed: return "closed";
  }
  return "?";
}

Options options_from_environment(Options base) {
  if (const char* a = std::getenv("SERF_RPC_ADDR"); a && *a) base.address = a;
  if (const char* k = std::getenv("SERF_RPC_AUTH"); k && *k) base.auth_key = k;
  return base;
}

namespace {

Error make(Errc c, std::string m) { return Error{std::move(m), static_cast<int>(c)}; }

// "host:port", "[v6]:port"; the port is required (the CLI's default 7373 is the caller's business).
Expected<std::pair<std::string, std::string>> split_address(const std::string& a) {
  std::string host, port;
  if (!a.empty() && a[0] == '[') {
    const auto close = a.find(']');
    if (close == std::string::npos || close + 1 >= a.size() || a[close + 1] != ':')
      return make(Errc::invalid_argument, "bad Serf RPC address '" + a + "': use host:port or [v6]:port");
    host = a.substr(1, close - 1);
    port = a.substr(close + 2);
  } else {
    const auto colon = a.rfind(':');
    if (colon == std::string::npos || a.find(':') != colon)
      return make(Errc::invalid_argument, "bad Serf RPC address '" + a + "': use host:port or [v6]:port");
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) == 0 || std::stoul(port) > 65535)
    return make(Errc::invalid_argument, "bad Serf RPC address '" + a + "': use host:port or [v6]:port");
  return std::make_pair(host, port);
}

}  // namespace

// One request: encoded once; sent when the connection is up (again).
struct Call {
  std::string command;
  std::string body;  // encoded; empty for no body
  Session::Kind kind = Session::Kind::call;
  std::function<void(Expected<std::pair<proto::Header, const msgpack::object*>>)> done;
  std::shared_ptr<asio::steady_timer> timer;
  uint64_t seq = 0;  // 0 until sent on the current connection
};

struct Sub {
  bool monitor = false;
  std::string arg;  // filter or level
  StreamCallbacks stream;
  MonitorCallbacks mon;
  uint64_t seq = 0;
  bool acked_once = false;
};

struct Query {
  QueryParams params;
  std::function<void(const QueryRecord&)> record;
  Handler<QuerySummary> done;
  QuerySummary summary;
  std::shared_ptr<asio::steady_timer> timer;
  uint64_t seq = 0;
};

struct AsyncClient::Impl {
  AsyncClient& self;
  asio::io_context& io;
  std::string host, port;
  tcp::resolver resolver;
  std::unique_ptr<tcp::socket> socket;
  asio::steady_timer connect_timer, retry_timer;
  Session session;
  std::shared_ptr<std::array<char, 65536>> rbuf = std::make_shared<std::array<char, 65536>>();
  std::deque<std::string> wqueue;
  bool writing = false;
  bool ready = false;       // handshake (and auth) done on this connection
  bool wanted = false;      // connect() called and not closed
  bool left = false;        // `leave` succeeded: the EOF is expected, do not come back
  uint64_t generation = 0;  // bumps on every new connection; stale completions check it
  int attempts = 0;         // failed connects in a row
  Handler<void> first_connect;
  std::optional<Error> last_error;
  bool outage_logged = false;
  int logged_code = 0;

  uint64_t next_id = 1;
  std::map<uint64_t, Call> calls;  // id -> call (waiting or sent)
  std::map<uint64_t, Sub> subs;
  std::map<uint64_t, Query> queries;
  std::mt19937 rng{std::random_device{}()};

  Impl(AsyncClient& s, asio::io_context& i, std::string h, std::string p, size_t max_obj)
      : self(s), io(i), host(std::move(h)), port(std::move(p)), resolver(i), connect_timer(i), retry_timer(i),
        session(max_obj) {}

  std::string where() const { return self.opts_.address; }
  void set_state(State s, const Error* e) {
    if (self.state_ == s) return;
    self.state_ = s;
    if (self.state_handler_) self.state_handler_(s, e);
  }

  // --- connection ---

  void reset_session() { session.reset(); }  // its counters live on across connections

  void start_connect() {
    ready = false;
    ++generation;
    reset_session();
    set_state(State::connecting, nullptr);
    const uint64_t gen = generation;
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    connect_timer.expires_after(self.opts_.connect_timeout);
    connect_timer.async_wait([weak, gen](std::error_code ec) {
      auto s = weak.lock();
      if (!s || ec || s->impl_->generation != gen || s->impl_->ready) return;
      s->impl_->fail_connection(make(Errc::connect, "no answer from the Serf agent at " + s->impl_->where() + " within " +
                                                        std::to_string(s->opts_.connect_timeout.count()) + " ms"));
    });
    resolver.async_resolve(host, port, [weak, gen](std::error_code ec, tcp::resolver::results_type results) {
      auto s = weak.lock();
      if (!s || s->impl_->generation != gen) return;
      auto& im = *s->impl_;
      if (ec) return im.fail_connection(make(Errc::connect, "cannot resolve " + im.where() + ": " + ec.message()));
      im.socket = std::make_unique<tcp::socket>(im.io);
      asio::async_connect(*im.socket, results, [weak, gen](std::error_code ec2, const tcp::endpoint&) {
        auto s2 = weak.lock();
        if (!s2 || s2->impl_->generation != gen) return;
        auto& im2 = *s2->impl_;
        if (ec2)
          return im2.fail_connection(make(Errc::connect, "cannot connect to the Serf agent at " + im2.where() + ": " + ec2.message()));
        std::error_code ignored;
        im2.socket->set_option(tcp::no_delay(true), ignored);
        im2.read_loop(gen);
        im2.handshake(gen);
      });
    });
  }

  // handshake, then auth: both answered before anything else is sent (§3.2).
  void handshake(uint64_t gen) {
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    send_raw("handshake", proto::body_handshake(1), Session::Kind::call, [weak, gen](const proto::Header& h, const msgpack::object*) {
      auto s = weak.lock();
      if (!s || s->impl_->generation != gen) return true;
      auto& im = *s->impl_;
      if (!h.error.empty()) {
        im.fail_connection(make(Errc::protocol, "the Serf agent at " + im.where() + " refused the handshake: " + h.error));
        return true;
      }
      if (s->opts_.auth_key.empty()) {
        im.on_ready();
        return true;
      }
      im.send_raw("auth", proto::body_auth(s->opts_.auth_key), Session::Kind::call, [weak, gen](const proto::Header& h2, const msgpack::object*) {
        auto s2 = weak.lock();
        if (!s2 || s2->impl_->generation != gen) return true;
        auto& im2 = *s2->impl_;
        if (!h2.error.empty())
          im2.fail_connection(make(Errc::auth, "the Serf agent at " + im2.where() + " refused the RPC auth key: " + h2.error +
                                                   " (check serf.auth_key / SERF_RPC_AUTH against the agent's rpc_auth)"));
        else
          im2.on_ready();
        return true;
      });
      return true;
    });
  }

  void on_ready() {
    ready = true;
    connect_timer.cancel();
    if (++self.counters_.connects > 1) ++self.counters_.reconnects;
    if (outage_logged && self.opts_.log_outages) log::info("serf", "connected to the Serf agent at " + where() + " again");
    outage_logged = false;
    attempts = 0;
    last_error.reset();
    set_state(State::connected, nullptr);
    if (first_connect) std::exchange(first_connect, {})(Expected<void>{});
    // Streams and the monitor that were open come back; then what waited for the connection.
    for (auto& [id, sub] : subs) open_sub(id);
    for (auto& [id, call] : calls)
      if (call.seq == 0) send_call(id);
    for (auto& [id, q] : queries)
      if (q.seq == 0) send_query(id);
  }

  void fail_connection(Error e) {
    const bool was_ready = ready;
    ready = false;
    ++generation;  // completions of this connection's operations are ignored from now on
    connect_timer.cancel();
    if (socket) {
      std::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
    }
    wqueue.clear();
    writing = false;
    reset_session();
    if (was_ready) ++self.counters_.disconnects;
    if (e.code == static_cast<int>(Errc::protocol)) ++self.counters_.protocol_errors;

    const bool again = wanted && self.opts_.reconnect && !left;
    // Sent calls and queries in flight cannot be resumed: the agent may or may not have run them.
    Error closed = was_ready ? make(Errc::closed, "connection to the Serf agent at " + where() + " lost: " + e.message) : e;
    std::vector<uint64_t> ids;
    for (auto& [id, c] : calls)
      if (c.seq != 0 || !again) ids.push_back(id);
    for (auto id : ids) complete_call(id, closed);
    std::vector<uint64_t> qids;
    for (auto& [id, q] : queries)
      if (q.seq != 0 || !again) qids.push_back(id);
    for (auto id : qids) finish_query(id, closed);
    for (auto& [id, sub] : subs) sub.seq = 0;
    if (!again) {
      auto subs_now = std::move(subs);
      subs.clear();
      for (auto& [id, sub] : subs_now) end_sub(sub, left ? std::optional<Error>{} : std::optional<Error>{closed});
    }
    if (first_connect) std::exchange(first_connect, {})(e);
    last_error = e;
    if (!again) {
      if (self.state_ != State::closed) set_state(left ? State::closed : State::disconnected, &e);
      if (left) wanted = false;
      return;
    }
    // Once per outage, and again when the reason changes (refused at first, then the agent up
    // but refusing the auth key): the log always says why it is not connected now.
    // (Refused, closed and timed out are one reason: the agent is not there.)
    const int reason = e.code == static_cast<int>(Errc::auth) || e.code == static_cast<int>(Errc::protocol) ? e.code : 0;
    if (self.opts_.log_outages && (!outage_logged || reason != logged_code)) {
      log::warn("serf", e.message + "; retrying in the background");
      outage_logged = true;
      logged_code = reason;
    }
    set_state(State::disconnected, &e);
    // Backoff: min doubling to max, +-20 % jitter.
    const int64_t base = self.opts_.reconnect_min.count() << std::min(attempts, 16);
    const int64_t capped = std::min<int64_t>(base, self.opts_.reconnect_max.count());
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    ++attempts;
    retry_timer.expires_after(milliseconds(static_cast<int64_t>(static_cast<double>(capped) * jitter(rng))));
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    retry_timer.async_wait([weak](std::error_code ec) {
      auto s = weak.lock();
      if (!s || ec || !s->impl_->wanted) return;
      s->impl_->start_connect();
    });
  }

  void read_loop(uint64_t gen) {
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    auto buf = rbuf;
    socket->async_read_some(asio::buffer(*buf), [weak, gen, buf](std::error_code ec, size_t n) {
      auto s = weak.lock();
      if (!s || s->impl_->generation != gen) return;
      auto& im = *s->impl_;
      if (ec) {
        if (im.left)
          return im.fail_connection(make(Errc::closed, "the Serf agent at " + im.where() + " left and closed the connection"));
        return im.fail_connection(make(ec == asio::error::eof ? Errc::closed : Errc::closed,
                                       ec == asio::error::eof ? "the Serf agent at " + im.where() + " closed the connection"
                                                              : "reading from the Serf agent at " + im.where() + ": " + ec.message()));
      }
      if (auto ok = im.session.feed(buf->data(), n); !ok) {
        log::warn("serf", ok.error().message + " (" + im.where() + "); dropping the connection");
        return im.fail_connection(ok.error());
      }
      // A callback may have closed this connection (close(), a protocol error).
      if (im.generation == gen) im.read_loop(gen);
    });
  }

  void write(std::string bytes) {
    wqueue.push_back(std::move(bytes));
    if (!writing) write_next(generation);
  }
  void write_next(uint64_t gen) {
    if (wqueue.empty() || !socket) {
      writing = false;
      return;
    }
    writing = true;
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    asio::async_write(*socket, asio::buffer(wqueue.front()), [weak, gen](std::error_code ec, size_t) {
      auto s = weak.lock();
      if (!s || s->impl_->generation != gen) return;
      auto& im = *s->impl_;
      if (ec) return im.fail_connection(make(Errc::closed, "writing to the Serf agent at " + im.where() + ": " + ec.message()));
      im.wqueue.pop_front();
      im.write_next(gen);
    });
  }

  uint64_t send_raw(const std::string& command, const std::string& body, Session::Kind kind, Session::Deliver deliver) {
    const uint64_t seq = session.next_seq();
    session.expect(seq, kind, std::move(deliver));
    std::string frame = proto::header(command, seq);
    frame += body;  // header and body in one write: nothing can land between them
    ++self.counters_.requests;
    write(std::move(frame));
    return seq;
  }

  // --- one-shot calls ---

  void start_call(std::string command, std::string body, Session::Kind kind, milliseconds timeout,
                  std::function<void(Expected<std::pair<proto::Header, const msgpack::object*>>)> done) {
    if (!wanted || self.state_ == State::closed) {
      done(make(Errc::not_connected, command + ": not connected to a Serf agent (call connect() first)"));
      return;
    }
    if (!ready && !self.opts_.reconnect && self.state_ != State::connecting) {
      done(make(Errc::not_connected, command + ": the connection to the Serf agent at " + where() + " is down" +
                                         (last_error ? " (" + last_error->message + ")" : std::string())));
      return;
    }
    const uint64_t id = next_id++;
    Call c{std::move(command), std::move(body), kind, std::move(done), std::make_shared<asio::steady_timer>(io), 0};
    c.timer->expires_after(timeout);
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    c.timer->async_wait([weak, id, timeout](std::error_code ec) {
      auto s = weak.lock();
      if (!s || ec) return;
      auto& im = *s->impl_;
      auto it = im.calls.find(id);
      if (it == im.calls.end()) return;
      ++s->counters_.timeouts;
      if (it->second.seq != 0) im.session.forget(it->second.seq);  // a late reply is dropped quietly
      const std::string what = it->second.seq != 0 ? "no reply from the Serf agent at " + im.where()
                                                   : "not connected to the Serf agent at " + im.where();
      im.complete_call(id, make(Errc::timeout, it->second.command + ": " + what + " within " + std::to_string(timeout.count()) + " ms"));
    });
    calls.emplace(id, std::move(c));
    if (ready) send_call(id);
  }

  void send_call(uint64_t id) {
    auto& c = calls.at(id);
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    c.seq = send_raw(c.command, c.body, c.kind, [weak, id](const proto::Header& h, const msgpack::object* body) {
      auto s = weak.lock();
      if (!s) return true;
      ++s->counters_.replies;
      s->impl_->complete_call(id, std::make_pair(h, body));
      return true;
    });
  }

  void complete_call(uint64_t id, Expected<std::pair<proto::Header, const msgpack::object*>> result) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    Call c = std::move(it->second);
    calls.erase(it);
    c.timer->cancel();
    c.done(std::move(result));
  }

  // --- subscriptions ---

  void open_sub(uint64_t id) {
    auto& sub = subs.at(id);
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    const std::string request = sub.monitor ? proto::body_monitor(sub.arg) : proto::body_stream(sub.arg);
    sub.seq = send_raw(sub.monitor ? "monitor" : "stream", request, Session::Kind::subscription,
                       [weak, id, acked = false](const proto::Header& h, const msgpack::object* body) mutable {
                         auto s = weak.lock();
                         if (!s) return true;
                         auto& im = *s->impl_;
                         auto it = im.subs.find(id);
                         if (it == im.subs.end()) return true;
                         if (!acked) {
                           acked = true;
                           return im.on_sub_ack(id, h);
                         }
                         im.on_sub_record(it->second, body);
                         return false;
                       });
  }

  bool on_sub_ack(uint64_t id, const proto::Header& h) {
    auto& sub = subs.at(id);
    const bool first = !sub.acked_once;
    if (!h.error.empty()) {
      Error e = proto::agent_error(sub.monitor ? "monitor" : "stream", h.error);
      Sub dead = std::move(sub);
      subs.erase(id);
      if (first) {
        auto& ready_cb = dead.monitor ? dead.mon.ready : dead.stream.ready;
        if (ready_cb) ready_cb(e);
      }
      end_sub(dead, e);
      return true;
    }
    sub.acked_once = true;
    if (first) {
      auto& ready_cb = sub.monitor ? sub.mon.ready : sub.stream.ready;
      if (ready_cb) ready_cb(Expected<void>{});
    } else {
      ++self.counters_.gaps;
      auto& resumed = sub.monitor ? sub.mon.resumed : sub.stream.resumed;
      if (resumed) resumed();
    }
    return false;
  }

  void on_sub_record(Sub& sub, const msgpack::object* body) {
    if (!body) {
      ++self.counters_.protocol_errors;
      return;
    }
    ++self.counters_.records;
    if (sub.monitor) {
      auto line = proto::decode_log_record(*body);
      if (!line) {
        ++self.counters_.protocol_errors;
        log::warn("serf", line.error().message + " (record dropped)");
        return;
      }
      if (sub.mon.line) sub.mon.line(*line);
      return;
    }
    auto rec = proto::decode_stream_record(*body);
    if (!rec) {
      ++self.counters_.protocol_errors;
      log::warn("serf", rec.error().message + " (record dropped)");
      return;
    }
    if (sub.stream.record) sub.stream.record(*rec);
  }

  void end_sub(Sub& sub, std::optional<Error> e) {
    auto& end = sub.monitor ? sub.mon.end : sub.stream.end;
    if (end) std::exchange(end, {})(std::move(e));
  }

  // --- queries ---

  void send_query(uint64_t id) {
    auto& q = queries.at(id);
    std::weak_ptr<AsyncClient> weak = self.shared_from_this();
    q.seq = send_raw("query", proto::body_query(q.params), Session::Kind::query,
                     [weak, id, acked = false](const proto::Header& h, const msgpack::object* body) mutable {
                       auto s = weak.lock();
                       if (!s) return true;
                       auto& im = *s->impl_;
                       auto it = im.queries.find(id);
                       if (it == im.queries.end()) return true;
                       if (!acked) {
                         acked = true;
                         if (h.error.empty()) return false;
                         im.finish_query(id, proto::agent_error("query", h.error));
                         return true;
                       }
                       if (!body) {
                         ++s->counters_.protocol_errors;
                         return false;
                       }
                       ++s->counters_.records;
                       auto f = proto::decode_query_record(*body);
                       if (!f) {
                         ++s->counters_.protocol_errors;
                         log::warn("serf", f.error().message + " (record dropped)");
                         return false;
                       }
                       if (f->done) {
                         im.finish_query(id, it->second.summary);
                         return true;
                       }
                       // The 0.9.4 agent's query stream can emit empty acks and responses (From
                       // "") in the instant between its channels closing at the deadline and its
                       // own "done": not answers from anyone, so they are dropped and counted.
                       if (f->record.from.empty()) {
                         ++s->counters_.phantom_records;
                         return false;
                       }
                       auto& q2 = it->second;
                       (f->record.type == QueryRecord::Type::ack ? q2.summary.acks : q2.summary.responses)++;
                       if (q2.record) q2.record(f->record);
                       return false;
                     });
  }

  void finish_query(uint64_t id, Expected<QuerySummary> result) {
    auto it = queries.find(id);
    if (it == queries.end()) return;
    Query q = std::move(it->second);
    queries.erase(it);
    q.timer->cancel();
    if (q.seq != 0) session.forget(q.seq);
    if (q.done) q.done(std::move(result));
  }

  void close_all() {
    wanted = false;
    ++generation;
    connect_timer.cancel();
    retry_timer.cancel();
    resolver.cancel();
    if (socket) {
      std::error_code ignored;
      socket->close(ignored);
    }
    ready = false;
    reset_session();
    Error e = make(Errc::cancelled, "the Serf client was closed");
    std::vector<uint64_t> ids;
    for (auto& [id, c] : calls) ids.push_back(id);
    for (auto id : ids) complete_call(id, e);
    ids.clear();
    for (auto& [id, q] : queries) ids.push_back(id);
    for (auto id : ids) finish_query(id, e);
    auto subs_now = std::move(subs);
    subs.clear();
    for (auto& [id, sub] : subs_now) end_sub(sub, e);
    if (first_connect) std::exchange(first_connect, {})(e);
    set_state(State::closed, &e);
  }
};

// --- AsyncClient ---

Expected<std::shared_ptr<AsyncClient>> AsyncClient::create(asio::io_context& io, Options options) {
  auto hp = split_address(options.address);
  if (!hp) return hp.error();
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0 || options.reconnect_min.count() <= 0 ||
      options.reconnect_max < options.reconnect_min)
    return make(Errc::invalid_argument, "Serf client: timeouts must be positive and reconnect_max >= reconnect_min");
  std::shared_ptr<AsyncClient> c(new AsyncClient(io, std::move(options)));
  c->impl_ = std::make_unique<Impl>(*c, io, hp->first, hp->second, c->opts_.max_object_bytes);
  return c;
}

AsyncClient::AsyncClient(asio::io_context&, Options options) : opts_(std::move(options)) {}

AsyncClient::~AsyncClient() {
  if (impl_) {
    impl_->wanted = false;
    std::error_code ignored;
    if (impl_->socket) impl_->socket->close(ignored);
  }
}

Counters AsyncClient::counters() const {
  Counters c = counters_;
  const auto& s = impl_->session.counters();
  c.late_records += s.late;
  c.duplicate_headers += s.duplicates;
  return c;
}

void AsyncClient::connect(Handler<void> done) {
  if (impl_->wanted) {
    if (done) done(state_ == State::connected ? Expected<void>{} : Expected<void>(make(Errc::invalid_argument, "already connecting")));
    return;
  }
  impl_->wanted = true;
  impl_->left = false;
  impl_->first_connect = std::move(done);
  impl_->start_connect();
}

void AsyncClient::close() {
  if (state_ == State::closed && !impl_->wanted) return;
  impl_->close_all();
}

namespace {

using Raw = Expected<std::pair<proto::Header, const msgpack::object*>>;

// The reply of a header-only command.
std::function<void(Raw)> no_body(std::string command, Handler<void> done) {
  return [command = std::move(command), done = std::move(done)](Raw r) {
    if (!done) return;
    if (!r) return done(r.error());
    if (!r->first.error.empty()) return done(proto::agent_error(command, r->first.error));
    done(Expected<void>{});
  };
}

// The reply of a command with a body, decoded by `decode`.
template <typename T, typename Decode>
std::function<void(Raw)> with_body(std::string command, Handler<T> done, Decode decode) {
  return [command = std::move(command), done = std::move(done), decode](Raw r) {
    if (!done) return;
    if (!r) return done(r.error());
    if (!r->first.error.empty()) return done(proto::agent_error(command, r->first.error));
    if (!r->second) return done(make(Errc::protocol, command + ": the agent's reply has no body"));
    auto v = decode(*r->second);
    if (!v) return done(v.error());
    done(std::move(*v));
  };
}

}  // namespace

#define RIG_SERF_TIMEOUT(t) ((t) ? *(t) : opts_.request_timeout)

void AsyncClient::event(std::string name, Bytes payload, bool coalesce, Handler<void> done, Timeout t) {
  if (auto ok = proto::check_event_size(name, payload); !ok) {
    if (done) done(ok.error());
    return;
  }
  impl_->start_call("event", proto::body_event(name, payload, coalesce), Session::Kind::call, RIG_SERF_TIMEOUT(t),
                    no_body("event", std::move(done)));
}

void AsyncClient::force_leave(std::string node, bool prune, Handler<void> done, Timeout t) {
  impl_->start_call("force-leave", proto::body_force_leave(node, prune), Session::Kind::call, RIG_SERF_TIMEOUT(t),
                    no_body("force-leave", std::move(done)));
}

void AsyncClient::join(std::vector<std::string> addresses, bool replay, Handler<int64_t> done, Timeout t) {
  if (addresses.empty()) {
    if (done) done(make(Errc::invalid_argument, "join: no address given"));
    return;
  }
  impl_->start_call("join", proto::body_join(addresses, replay), Session::Kind::call_with_body, t ? *t : opts_.slow_timeout,
                    with_body<int64_t>("join", std::move(done), proto::decode_join));
}

void AsyncClient::members(Handler<std::vector<Member>> done, Timeout t) {
  impl_->start_call("members", std::string(), Session::Kind::call_with_body, RIG_SERF_TIMEOUT(t),
                    with_body<std::vector<Member>>("members", std::move(done), proto::decode_members));
}

void AsyncClient::members_filtered(MemberFilter filter, Handler<std::vector<Member>> done, Timeout t) {
  // Whole-value matches (types.hpp); the wrapped form is what the agent compiles, so it is what is
  // checked: an invalid regex would make the agent drop the connection without a reply.
  auto whole = [](std::string& p) {
    if (!p.empty()) p = "(?:" + p + ")";
  };
  whole(filter.name);
  whole(filter.status);
  for (auto& [k, v] : filter.tags) whole(v);
  if (auto ok = proto::check_member_filter(filter); !ok) {
    if (done) done(ok.error());
    return;
  }
  impl_->start_call("members-filtered", proto::body_members_filtered(filter), Session::Kind::call_with_body, RIG_SERF_TIMEOUT(t),
                    with_body<std::vector<Member>>("members-filtered", std::move(done), proto::decode_members));
}

void AsyncClient::tags(Tags set, std::vector<std::string> remove, Handler<void> done, Timeout t) {
  for (const auto& [k, v] : set)
    if (k.empty()) {
      if (done) done(make(Errc::invalid_argument, "tags: a tag name cannot be empty"));
      return;
    }
  impl_->start_call("tags", proto::body_tags(set, remove), Session::Kind::call, RIG_SERF_TIMEOUT(t), no_body("tags", std::move(done)));
}

SubscriptionId AsyncClient::stream(std::string filter, StreamCallbacks callbacks) {
  if (auto ok = proto::check_event_filter(filter); !ok) {
    if (callbacks.ready) callbacks.ready(ok.error());
    if (callbacks.end) callbacks.end(ok.error());
    return 0;
  }
  if (!impl_->wanted) {
    Error e = make(Errc::not_connected, "stream: not connected to a Serf agent");
    if (callbacks.ready) callbacks.ready(e);
    if (callbacks.end) callbacks.end(e);
    return 0;
  }
  const uint64_t id = impl_->next_id++;
  Sub s;
  s.arg = filter.empty() ? "*" : filter;
  s.stream = std::move(callbacks);
  impl_->subs.emplace(id, std::move(s));
  if (impl_->ready) impl_->open_sub(id);
  return id;
}

SubscriptionId AsyncClient::monitor(std::string level, MonitorCallbacks callbacks) {
  auto lvl = proto::check_log_level(level);
  Error e = lvl ? make(Errc::not_connected, "monitor: not connected to a Serf agent") : lvl.error();
  if (lvl) {
    for (const auto& [id, s] : impl_->subs)
      if (s.monitor) {
        lvl = Expected<std::string>(make(Errc::invalid_argument, "monitor: one monitor per connection, and one is open"));
        e = lvl.error();
        break;
      }
  }
  if (!lvl || !impl_->wanted) {
    if (callbacks.ready) callbacks.ready(e);
    if (callbacks.end) callbacks.end(e);
    return 0;
  }
  const uint64_t id = impl_->next_id++;
  Sub s;
  s.monitor = true;
  s.arg = *lvl;
  s.mon = std::move(callbacks);
  impl_->subs.emplace(id, std::move(s));
  if (impl_->ready) impl_->open_sub(id);
  return id;
}

void AsyncClient::stop(SubscriptionId id, Handler<void> done) {
  auto it = impl_->subs.find(id);
  if (it == impl_->subs.end()) {
    if (done) done(Expected<void>{});
    return;
  }
  Sub sub = std::move(it->second);
  impl_->subs.erase(it);
  const uint64_t seq = sub.seq;
  if (seq != 0) impl_->session.forget(seq);  // records already on the way are dropped quietly
  impl_->end_sub(sub, std::nullopt);
  if (seq != 0 && impl_->ready)
    impl_->start_call("stop", proto::body_stop(seq), Session::Kind::call, opts_.request_timeout, no_body("stop", std::move(done)));
  else if (done)
    done(Expected<void>{});
}

void AsyncClient::leave(Handler<void> done, Timeout t) {
  std::weak_ptr<AsyncClient> weak = shared_from_this();
  impl_->start_call("leave", std::string(), Session::Kind::call, t ? *t : opts_.slow_timeout,
                    [weak, done = std::move(done)](Raw r) {
                      auto s = weak.lock();
                      // The agent replies, shuts down and closes the socket: that EOF is expected.
                      if (s && r && r->first.error.empty()) s->impl_->left = true;
                      if (!done) return;
                      if (!r) return done(r.error());
                      if (!r->first.error.empty()) return done(proto::agent_error("leave", r->first.error));
                      done(Expected<void>{});
                    });
}

void AsyncClient::query(QueryParams params, std::function<void(const QueryRecord&)> record, Handler<QuerySummary> done) {
  if (auto ok = proto::check_query(params); !ok) {
    if (done) done(ok.error());
    return;
  }
  if (!impl_->wanted || (!impl_->ready && !opts_.reconnect && state_ != State::connecting)) {
    if (done) done(make(Errc::not_connected, "query: not connected to the Serf agent at " + opts_.address));
    return;
  }
  const uint64_t id = impl_->next_id++;
  Query q{std::move(params), std::move(record), std::move(done), {}, std::make_shared<asio::steady_timer>(impl_->io), 0};
  // The agent always ends a query with "done" at its deadline; this only guards against an
  // agent that never does (its own default timeout depends on the cluster size).
  const auto q_timeout = q.params.timeout.count() > 0
                             ? std::chrono::duration_cast<milliseconds>(q.params.timeout) + opts_.request_timeout
                             : opts_.slow_timeout;
  q.timer->expires_after(q_timeout);
  std::weak_ptr<AsyncClient> weak = shared_from_this();
  q.timer->async_wait([weak, id, q_timeout](std::error_code ec) {
    auto s = weak.lock();
    if (!s || ec) return;
    if (!s->impl_->queries.count(id)) return;
    ++s->counters_.timeouts;
    s->impl_->finish_query(id, make(Errc::timeout, "query: no \"done\" from the Serf agent within " +
                                                       std::to_string(q_timeout.count()) + " ms"));
  });
  impl_->queries.emplace(id, std::move(q));
  if (impl_->ready) impl_->send_query(id);
}

void AsyncClient::respond(uint64_t id, Bytes payload, Handler<void> done, Timeout t) {
  if (payload.size() > proto::kResponseLimit) {
    if (done)
      done(make(Errc::response_too_large, "respond: the response is " + std::to_string(payload.size()) +
                                              " bytes; Serf's limit is " + std::to_string(proto::kResponseLimit)));
    return;
  }
  impl_->start_call("respond", proto::body_respond(id, payload), Session::Kind::call, RIG_SERF_TIMEOUT(t),
                    no_body("respond", std::move(done)));
}

namespace {
// Key commands carry their body even when the agent reports a failure: the per-node messages are
// the useful part, so the body wins and the agent's error lands in KeyResponse::error.
std::function<void(Raw)> key_reply(std::string command, Handler<KeyResponse> done) {
  return [command = std::move(command), done = std::move(done)](Raw r) {
    if (!done) return;
    if (!r) return done(r.error());
    if (!r->second) {
      if (!r->first.error.empty()) return done(proto::agent_error(command, r->first.error));
      return done(make(Errc::protocol, command + ": the agent's reply has no body"));
    }
    auto k = proto::decode_key_response(*r->second);
    if (!k) return done(k.error());
    k->error = r->first.error;
    done(std::move(*k));
  };
}
}  // namespace

void AsyncClient::install_key(std::string key, Handler<KeyResponse> done, Timeout t) {
  if (auto ok = proto::check_key(key); !ok) {
    if (done) done(ok.error());
    return;
  }
  impl_->start_call("install-key", proto::body_key(key), Session::Kind::call_with_body, t ? *t : opts_.slow_timeout,
                    key_reply("install-key", std::move(done)));
}

void AsyncClient::use_key(std::string key, Handler<KeyResponse> done, Timeout t) {
  if (auto ok = proto::check_key(key); !ok) {
    if (done) done(ok.error());
    return;
  }
  impl_->start_call("use-key", proto::body_key(key), Session::Kind::call_with_body, t ? *t : opts_.slow_timeout,
                    key_reply("use-key", std::move(done)));
}

void AsyncClient::remove_key(std::string key, Handler<KeyResponse> done, Timeout t) {
  if (auto ok = proto::check_key(key); !ok) {
    if (done) done(ok.error());
    return;
  }
  impl_->start_call("remove-key", proto::body_key(key), Session::Kind::call_with_body, t ? *t : opts_.slow_timeout,
                    key_reply("remove-key", std::move(done)));
}

void AsyncClient::list_keys(Handler<KeyResponse> done, Timeout t) {
  impl_->start_call("list-keys", std::string(), Session::Kind::call_with_body, t ? *t : opts_.slow_timeout,
                    key_reply("list-keys", std::move(done)));
}

void AsyncClient::stats(Handler<Stats> done, Timeout t) {
  impl_->start_call("stats", std::string(), Session::Kind::call_with_body, RIG_SERF_TIMEOUT(t),
                    with_body<Stats>("stats", std::move(done), proto::decode_stats));
}

void AsyncClient::get_coordinate(std::string node, Handler<std::optional<Coordinate>> done, Timeout t) {
  impl_->start_call("get-coordinate", proto::body_node(node), Session::Kind::call_with_body, RIG_SERF_TIMEOUT(t),
                    with_body<std::optional<Coordinate>>("get-coordinate", std::move(done), proto::decode_coordinate));
}

#undef RIG_SERF_TIMEOUT

}  // namespace rig::serf
