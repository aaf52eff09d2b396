#include "upstream/serf/bridge.hpp"

#include <algorithm>
#include <cmath>

#include <asio/post.hpp>

#include "core/log.hpp"
#include "rpc/protocol.hpp"

namespace rig::serf {

using json = nlohmann::ordered_json;

namespace {

constexpr size_t kSeenCapacity = 1024;  // (user event, LTime) pairs remembered for de-duplication

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// At most `max` bytes, cut on a UTF-8 boundary, "..." marking the cut.
std::string cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  if (max < 3) return std::string();
  size_t keep = max - 3;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  return s.substr(0, keep) + "...";
}

// Shortens the string at `key` until `j` fits `budget`; false when even "" does not fit.
bool shrink_text(json& j, const char* key, size_t budget) {
  if (!j.contains(key) || !j[key].is_string()) return dump(j).size() <= budget;
  for (;;) {
    const size_t size = dump(j).size();
    if (size <= budget) return true;
    const std::string s = j[key].get<std::string>();
    if (s.empty()) return false;
    const size_t over = size - budget;
    j[key] = cut(s, s.size() > over + 3 ? s.size() - over - 3 : 0);
    if (j[key].get_ref<const std::string&>().size() >= s.size()) j[key] = "";
  }
}

double millis(double t) { return std::round(t * 1000.0) / 1000.0; }

bool is_one_of(const std::vector<std::string>& v, const char* x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

Errc errc_of(const Error& e) { return static_cast<Errc>(e.code); }

}  // namespace

size_t response_budget(const std::string& node_name) {
  // 41 bytes of envelope at small LTime and ID, 12 more when both are at their widest.
  const size_t name = node_name.empty() ? 128 : node_name.size();
  return 1024 - 56 - std::min<size_t>(name, 900);
}

std::string emergency_payload(const Identity& id, const EmergencyNotice& n, size_t budget) {
  json j;
  j["rig"] = id.rig;
  j["board"] = id.board;
  j["reason"] = n.reason;
  j["source"] = n.source;
  if (n.line) j["line"] = *n.line;
  if (n.edge_monotonic_ns) j["edgeMonotonicNs"] = *n.edge_monotonic_ns;
  j["t"] = millis(n.t);
  // What matters most survives longest: who and whether (the event's name), then the reason
  // (cut), then the extras.
  if (shrink_text(j, "reason", budget)) return dump(j);
  for (const char* optional : {"board", "line", "edgeMonotonicNs", "reason", "source"}) {
    j.erase(optional);
    if (dump(j).size() <= budget) return dump(j);
  }
  shrink_text(j, "rig", budget);
  return dump(j);
}

std::string alarm_payload(const Identity& id, const AlarmNotice& n, size_t budget) {
  json j;
  j["rig"] = id.rig;
  j["alarm"] = n.alarm;
  j["active"] = n.active;
  j["severity"] = n.severity;
  j["activeAlarms"] = n.active_alarms;
  j["t"] = millis(n.t);
  while (dump(j).size() > budget && !j["activeAlarms"].empty()) j["activeAlarms"].erase(j["activeAlarms"].size() - 1);
  if (dump(j).size() <= budget) return dump(j);
  j.erase("activeAlarms");
  j.erase("severity");
  if (shrink_text(j, "alarm", budget)) return dump(j);
  shrink_text(j, "rig", budget);
  return dump(j);
}

std::string reply_payload(const rpc::Reply& reply, size_t budget) {
  std::string s = rpc::encode_reply(reply);
  if (s.size() <= budget) return s;
  json j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) j = json::object();
  j["data"] = json{{"truncated", true}};
  if (!j.contains("errorMessage")) j["errorMessage"] = nullptr;
  shrink_text(j, "errorMessage", budget);
  return dump(j);
}

std::optional<int64_t> query_command(const std::string& name) {
  namespace cmd = rpc::command;
  static const std::pair<const char*, int64_t> table[] = {
      {"status", cmd::get_status},
      {"ping", cmd::none},
      {"emergency-stop", cmd::emergency_stop},
      {"emergency-resume", cmd::emergency_resume},
      {"start-acquisition", cmd::start_acquisition},
      {"stop-acquisition", cmd::stop_acquisition},
      {"get-configuration", cmd::get_configuration},
  };
  for (const auto& [n, c] : table)
    if (name == n) return c;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

Expected<std::shared_ptr<Bridge>> Bridge::create(asio::io_context& io, const SerfConfig& config, Identity identity,
                                                 BridgeHooks hooks) {
  Options o;
  o.address = config.rpc_addr;
  o.auth_key = config.auth_key;
  o.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
  o.request_timeout = std::chrono::milliseconds(config.request_timeout_ms);
  o.reconnect = true;
  o.reconnect_max = std::chrono::milliseconds(config.reconnect_max_ms);
  o.reconnect_min = std::min(o.reconnect_min, o.reconnect_max);
  auto client = AsyncClient::create(io, o);
  if (!client) return Error{"serf: " + client.error().message, client.error().code};
  return std::shared_ptr<Bridge>(new Bridge(io, config, std::move(identity), std::move(hooks), std::move(*client)));
}

Bridge::Bridge(asio::io_context& io, const SerfConfig& config, Identity identity, BridgeHooks hooks,
               std::shared_ptr<AsyncClient> client)
    : io_(io), config_(config), id_(std::move(identity)), hooks_(std::move(hooks)), client_(std::move(client)),
      retry_timer_(io), tags_timer_(io), stop_timer_(io) {
  stats_.address = config_.rpc_addr;
}

template <typename F>
void Bridge::update_stats(F f) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  f(stats_);
}

BridgeStats Bridge::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

json Bridge::status_json() const {
  const BridgeStats s = stats();
  return json{{"connected", s.connected},
              {"rpcAddr", s.address},
              {"node", s.node.empty() ? json() : json(s.node)},
              {"eventsSent", s.events_sent},
              {"eventsQueued", s.events_queued},
              {"eventsDropped", s.events_dropped},
              {"queriesAnswered", s.queries_answered}};
}

std::string Bridge::stream_filter() const {
  std::vector<std::string> parts;
  for (const auto& q : config_.queries) parts.push_back("query:" + config_.event_prefix + q);
  for (const auto& [name, action] : config_.on_event) parts.push_back("user:" + name);
  return join(parts, ",");
}

void Bridge::start() {
  std::weak_ptr<Bridge> weak = shared_from_this();
  asio::post(io_, [weak] {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    if (self->hooks_.stopped) self->stopped_latch_ = self->hooks_.stopped();
    self->client_->on_state([weak](State s, const Error* e) {
      if (auto me = weak.lock()) me->on_state(s, e);
    });
    // The client logs an unreachable agent itself (once per outage) and keeps retrying.
    self->client_->connect([](Expected<void>) {});
    if (const std::string filter = self->stream_filter(); !filter.empty()) {
      StreamCallbacks cb;
      cb.ready = [filter](Expected<void> ok) {
        if (!ok) log::error("serf", "cannot subscribe to '" + filter + "': " + ok.error().message);
      };
      cb.record = [weak](const StreamRecord& r) {
        if (auto me = weak.lock()) me->on_record(r);
      };
      cb.resumed = [] { log::debug("serf", "queries and events re-subscribed (any sent meanwhile were missed)"); };
      self->client_->stream(filter, std::move(cb));
    }
  });
}

void Bridge::on_state(State s, const Error*) {
  const bool was = connected_;
  connected_ = s == State::connected;
  update_stats([&](BridgeStats& st) { st.connected = connected_; });
  if (connected_ && !was && !stopping_) on_connected();
}

void Bridge::on_connected() {
  std::weak_ptr<Bridge> weak = shared_from_this();
  const bool first = !ever_connected_;
  ever_connected_ = true;
  drop_logged_ = false;
  pump();
  open_tags_connection();
  client_->stats([weak, first](Expected<Stats> st) {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    if (st)
      if (auto a = st->find("agent"); a != st->end())
        if (auto n = a->second.find("name"); n != a->second.end()) self->node_ = n->second;
    self->update_stats([&](BridgeStats& s) { s.node = self->node_; });
    if (!first) return;
    const auto& c = self->config_;
    std::vector<std::string> queries, actions;
    for (const auto& q : c.queries) queries.push_back(c.event_prefix + q);
    for (const auto& [name, action] : c.on_event) actions.push_back(name + " -> " + action);
    log::info("serf", "connected to the Serf agent at " + c.rpc_addr +
                          (self->node_.empty() ? std::string() : " (node '" + self->node_ + "')") + ": role '" + c.role +
                          "'; forwarding " + (c.forward.empty() ? std::string("nothing") : join(c.forward, ", ")) +
                          "; answering " + (queries.empty() ? std::string("no queries") : join(queries, ", ")) +
                          (actions.empty() ? std::string() : "; on events " + join(actions, ", ")));
  });
}

void Bridge::open_tags_connection() {
  // Tags get a connection of their own: a tags call holds its connection until the change is
  // gossiped (memberlist's UpdateNode waits for that: 0.2-0.4 s on a small LAN cluster, more on
  // a big one), and the agent serves one connection's requests in order, so on the main
  // connection every tag update would hold up the next e-stop event and query answer. This one
  // does not reconnect (or log) by itself: it follows the main connection, which does both.
  tags_timer_.cancel();
  if (tags_client_) {
    tags_client_->on_state({});
    tags_client_->close();
  }
  tags_client_.reset();
  tags_connected_ = tags_in_flight_ = false;
  tags_dirty_ = true;
  if (stopping_ || !connected_) return;
  Options o = client_->options();
  o.reconnect = false;
  auto c = AsyncClient::create(io_, o);
  if (!c) return;  // the main client took the same options
  tags_client_ = std::move(*c);
  const uint64_t gen = ++tags_gen_;
  std::weak_ptr<Bridge> weak = shared_from_this();
  tags_client_->on_state([weak, gen](State s, const Error*) {
    auto self = weak.lock();
    if (!self || self->tags_gen_ != gen || self->stopping_) return;
    self->tags_connected_ = s == State::connected;
    if (self->tags_connected_) return self->flush_tags();
    if (s == State::connecting) return;
    // Lost or refused while the main connection is up: try again shortly (when the main one is
    // down, its reconnect opens this one again).
    self->tags_in_flight_ = false;
    self->tags_timer_.expires_after(std::chrono::seconds(1));
    self->tags_timer_.async_wait([weak](const std::error_code& ec) {
      if (auto me = weak.lock(); me && !ec && me->connected_ && !me->stopping_) me->open_tags_connection();
    });
  });
  tags_client_->connect([](Expected<void>) {});
}

Tags Bridge::node_tags() const {
  Tags t(config_.tags.begin(), config_.tags.end());
  t["role"] = config_.role;
  t["board"] = id_.board;
  t["version"] = id_.version;
  t["rig"] = id_.rig;
  t["emergency"] = stopped_latch_ ? "stopped" : "running";
  return t;
}

void Bridge::flush_tags() {
  // One call at a time, always the whole, latest set.
  if (!tags_dirty_ || tags_in_flight_ || !tags_connected_ || stopping_) return;
  tags_dirty_ = false;
  tags_in_flight_ = true;
  std::weak_ptr<Bridge> weak = shared_from_this();
  const uint64_t gen = tags_gen_;
  tags_client_->tags(node_tags(), {}, [weak, gen](Expected<void> r) {
    auto self = weak.lock();
    if (!self || self->stopping_ || self->tags_gen_ != gen) return;
    self->tags_in_flight_ = false;
    if (r) {
      self->tags_error_.clear();
      return self->flush_tags();  // a change that came meanwhile
    }
    const Errc c = errc_of(r.error());
    if (c == Errc::closed || c == Errc::cancelled || c == Errc::timeout || c == Errc::not_connected || c == Errc::connect) {
      // Sent again on the next connection (open_tags_connection), not now: a connection that is
      // down fails the call at once, and retrying here would spin.
      self->tags_dirty_ = true;
      if (c == Errc::timeout) self->open_tags_connection();
      return;
    }
    if (r.error().message != self->tags_error_) {
      // The agent's own tags count against Serf's 512-byte limit too (docs/serf.md).
      self->tags_error_ = r.error().message;
      log::warn("serf", "setting the node tags failed: " + r.error().message);
    }
  });
}

void Bridge::emergency_changed(EmergencyNotice n) {
  std::weak_ptr<Bridge> weak = shared_from_this();
  asio::post(io_, [weak, n = std::move(n)] {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    if (is_one_of(self->config_.forward, "emergency")) {
      const std::string name = self->config_.event_prefix + (n.stopped ? "emergency-stop" : "emergency-resume");
      // Never coalesced: Serf would keep only the newest of a name, and every stop counts.
      self->enqueue(Outgoing{name, emergency_payload(self->id_, n, kEventBudget - name.size()), false, true});
    }
    self->stopped_latch_ = n.stopped;
    self->tags_dirty_ = true;
    self->flush_tags();
  });
}

void Bridge::alarm_changed(AlarmNotice n) {
  std::weak_ptr<Bridge> weak = shared_from_this();
  asio::post(io_, [weak, n = std::move(n)] {
    auto self = weak.lock();
    if (!self || self->stopping_ || !is_one_of(self->config_.forward, "alarm")) return;
    const std::string name = self->config_.event_prefix + "alarm";
    self->enqueue(Outgoing{name, alarm_payload(self->id_, n, kEventBudget - name.size()), self->config_.coalesce_alarms, false});
  });
}

void Bridge::enqueue(Outgoing o) {
  if (queue_.size() >= kQueueCapacity) {
    // The head may be on the wire: never drop that one. Alarms go first, oldest first; an
    // emergency only when nothing else is left.
    const size_t from = sending_ ? 1 : 0;
    size_t victim = from;
    for (size_t i = from; i < queue_.size(); ++i)
      if (!queue_[i].emergency) {
        victim = i;
        break;
      }
    if (victim < queue_.size()) {
      const bool was_emergency = queue_[victim].emergency;
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(victim));
      uint64_t dropped = 0;
      update_stats([&](BridgeStats& s) { dropped = ++s.events_dropped; });
      if (!drop_logged_ || was_emergency)
        log::warn("serf", std::to_string(kQueueCapacity) + " events wait for the Serf agent: dropped the oldest " +
                              (was_emergency ? "emergency" : "alarm") + " event (" + std::to_string(dropped) + " so far)");
      drop_logged_ = true;  // once per outage
    }
  }
  queue_.push_back(std::move(o));
  update_stats([&](BridgeStats& s) { s.events_queued = queue_.size(); });
  pump();
}

void Bridge::pump() {
  if (sending_ || stopping_ || !connected_ || queue_.empty()) return;
  sending_ = true;
  const Outgoing& o = queue_.front();
  std::weak_ptr<Bridge> weak = shared_from_this();
  client_->event(o.name, o.payload, o.coalesce, [weak](Expected<void> r) {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    self->sending_ = false;
    if (self->queue_.empty()) return;
    if (!r) {
      switch (errc_of(r.error())) {
        case Errc::closed:
        case Errc::not_connected:
        case Errc::connect:
        case Errc::cancelled:
          return;  // sent again once connected (on_connected pumps): at least once, in order
        case Errc::timeout:
          self->retry_timer_.expires_after(std::chrono::milliseconds(500));
          self->retry_timer_.async_wait([weak](const std::error_code& ec) {
            if (auto me = weak.lock(); me && !ec) me->pump();
          });
          return;
        default:
          // The agent refused this one (a size limit, say): sending it again would not help.
          log::warn("serf", "user event '" + self->queue_.front().name + "' not sent: " + r.error().message);
          self->update_stats([](BridgeStats& s) { ++s.events_failed; });
          break;
      }
    } else {
      self->update_stats([](BridgeStats& s) { ++s.events_sent; });
    }
    self->queue_.pop_front();
    self->update_stats([&](BridgeStats& s) { s.events_queued = self->queue_.size(); });
    self->pump();
  });
}

void Bridge::on_record(const StreamRecord& r) {
  if (stopping_) return;
  if (const auto* q = std::get_if<QueryEvent>(&r)) return on_query(*q);
  if (const auto* e = std::get_if<UserEvent>(&r)) return on_user_event(*e);
}

void Bridge::on_query(const QueryEvent& q) {
  const std::string& prefix = config_.event_prefix;
  if (q.name.compare(0, prefix.size(), prefix) != 0) return;
  const std::string short_name = q.name.substr(prefix.size());
  // The stream's filter already keeps everything else out; this is the second lock.
  if (std::find(config_.queries.begin(), config_.queries.end(), short_name) == config_.queries.end()) return;
  const auto command = query_command(short_name);
  if (!command) return;

  rpc::Request req;
  req.command = *command;
  req.nonce = static_cast<int64_t>(q.ltime & 0x7fffffffffffffffULL);  // echoed: ties the answer to the query
  if (!q.payload.empty()) {
    auto data = rpc::parse_limited(q.payload, rpc::DecodeLimits{});
    if (!data) {
      // What a ZeroMQ remote gets for a body that is not JSON (rpcservice.md §6.4).
      rpc::Reply bad;
      bad.nonce = req.nonce;
      bad.command = req.command;
      bad.result = rpc::result::unrecognized;
      bad.error_kind = rpc::error_kind::system_error;
      bad.error_code = data.error().code;
      bad.error_message = "malformed request: the query payload is not JSON: " + data.error().message;
      return answer(q.id, q.name, bad);
    }
    req.data = std::move(*data);
  }
  if (req.command == rpc::command::emergency_stop || req.command == rpc::command::emergency_resume) {
    // The latch records who asked: source "command" (the handler's), the reason naming Serf.
    std::string reason = "serf query '" + q.name + "'";
    if (req.data.is_null()) req.data = json::object();
    if (req.data.is_object()) {
      if (auto it = req.data.find("reason"); it != req.data.end() && it->is_string())
        reason += ": " + it->get<std::string>();
      req.data["reason"] = reason;
    }
  }
  std::weak_ptr<Bridge> weak = shared_from_this();
  asio::io_context& io = io_;
  hooks_.execute(std::move(req), [weak, &io, id = q.id, name = q.name](const rpc::Reply& reply) {
    // On the RpcService's thread: back to the io thread, where the client lives.
    asio::post(io, [weak, id, name, reply] {
      if (auto self = weak.lock()) self->answer(id, name, reply);
    });
  });
}

void Bridge::answer(uint64_t id, const std::string& name, const rpc::Reply& reply) {
  if (stopping_) return;
  std::weak_ptr<Bridge> weak = shared_from_this();
  client_->respond(id, reply_payload(reply, response_budget(node_)), [weak, name](Expected<void> r) {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    if (r) return self->update_stats([](BridgeStats& s) { ++s.queries_answered; });
    const Errc c = errc_of(r.error());
    if (c == Errc::response_past_deadline || c == Errc::no_pending_query) {
      // The asker's timeout was shorter than the command took (or the connection was renewed
      // since): not ours to fix, said once per query name.
      if (self->late_logged_.insert(name).second)
        log::warn("serf", "the answer to query '" + name + "' came after the query's deadline (" + r.error().message +
                              "); give such queries a longer timeout (logged once per query name)");
      return;
    }
    log::warn("serf", "answering query '" + name + "' failed: " + r.error().message);
  });
}

void Bridge::on_user_event(const UserEvent& e) {
  const auto action = config_.on_event.find(e.name);
  if (action == config_.on_event.end()) return;
  if (!seen_.insert({e.name, e.ltime}).second) return;  // the same event again (same Lamport time)
  seen_order_.emplace_back(e.name, e.ltime);
  if (seen_order_.size() > kSeenCapacity) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  std::string detail;
  if (!e.payload.empty()) {
    const json j = json::parse(e.payload, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      if (auto rig = j.find("rig"); rig != j.end() && rig->is_string() && rig->get<std::string>() == id_.rig) {
        log::debug("serf", "event '" + e.name + "' came from this rig: ignored");
        return;
      }
      if (auto reason = j.find("reason"); reason != j.end() && reason->is_string()) detail = reason->get<std::string>();
    } else if (j.is_discarded() || !j.is_string()) {
      detail = e.payload;
    } else {
      detail = j.get<std::string>();
    }
    // Text for a log line and an event's reason: printable and short.
    for (char& ch : detail)
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
    detail = cut(detail, 200);
  }
  const std::string reason = "serf event '" + e.name + "'" + (detail.empty() ? "" : ": " + detail);
  update_stats([](BridgeStats& s) { ++s.actions; });
  if (action->second == "emergency-stop") {
    if (hooks_.emergency_stop) hooks_.emergency_stop(reason);
  } else if (action->second == "emergency-resume" && hooks_.emergency_resume) {
    if (auto r = hooks_.emergency_resume(reason); !r)
      log::warn("serf", "event '" + e.name + "' asked to resume: " + r.error().message);
  }
}

void Bridge::stop(std::chrono::milliseconds grace, std::function<void()> done) {
  if (stopping_) return done();
  stopping_ = true;
  retry_timer_.cancel();
  tags_timer_.cancel();
  // Weak: a call that never completes (the io thread stopped first) must not keep the bridge
  // and its clients alive in a cycle.
  std::weak_ptr<Bridge> weak = shared_from_this();
  auto finished = std::make_shared<bool>(false);
  auto pending = std::make_shared<int>(0);
  auto finish = [weak, finished, done] {
    auto self = weak.lock();
    if (*finished || !self) return;
    *finished = true;
    self->stop_timer_.cancel();
    self->update_stats([](BridgeStats& s) { s.connected = false; });
    if (self->tags_client_) self->tags_client_->close();
    self->client_->close();
    done();
  };
  auto one_done = [pending, finish] {
    if (--*pending == 0) finish();
  };
  if (connected_) {
    // What is still queued goes out now, pipelined (the one on the wire finishes by itself).
    for (size_t i = sending_ ? 1 : 0; i < queue_.size(); ++i) {
      ++*pending;
      client_->event(queue_[i].name, queue_[i].payload, queue_[i].coalesce, [one_done](Expected<void>) { one_done(); }, grace);
    }
    // "unknown", not the last state: nobody watches the e-stop once rigagent is gone.
    AsyncClient& via = tags_connected_ ? *tags_client_ : *client_;
    ++*pending;
    via.tags({{"emergency", "unknown"}}, {}, [one_done](Expected<void> r) {
      if (!r) log::warn("serf", "setting the emergency tag to 'unknown' at shutdown: " + r.error().message);
      one_done();
    }, grace);
  } else if (!queue_.empty()) {
    log::warn("serf", std::to_string(queue_.size()) + " events for the Serf agent were not sent (it is unreachable)");
  }
  if (*pending == 0) return finish();
  stop_timer_.expires_after(grace + std::chrono::milliseconds(50));
  stop_timer_.async_wait([finish](const std::error_code& ec) {
    if (!ec) finish();
  });
}

}  // namespace rig::serf
