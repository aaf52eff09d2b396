#include "rpc/service.hpp"

#include <zmq_addon.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "rpc/service_core.hpp"

namespace rig::rpc {
namespace {

constexpr size_t kNormalBatch = 64;     // normal publishes between two looks at the urgent lane
constexpr int kMaxRequestsPerWake = 32; // then publishes and the app link get their turn

std::string last_endpoint(zmq::socket_t& s) { return s.get(zmq::sockopt::last_endpoint); }

// libzmq removes an existing socket file before an ipc bind, so a second agent would silently
// take over the first one's path. A path that accepts a connection is in use: refuse it.
bool ipc_path_in_use(const std::string& endpoint) {
  const std::string prefix = "ipc://";
  if (endpoint.rfind(prefix, 0) != 0) return false;
  const std::string path = endpoint.substr(prefix.size());
  sockaddr_un addr{};
  if (path.empty() || path[0] == '@' || path.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return live;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Responder

Responder::Responder(std::shared_ptr<ServiceCore> core, uint64_t token, Request request)
    : core_(std::move(core)),
      token_(token),
      request_(std::make_shared<Request>(std::move(request))),
      done_(std::make_shared<std::atomic<bool>>(false)) {}

void Responder::operator()(const Response& response) const { reply(make_reply(*request_, response)); }

void Responder::reply(const Reply& r) const {
  if (!core_ || done_->exchange(true)) return;
  if (core_->on_owner_thread())
    core_->send_reply(token_, r);
  else
    core_->outbox.push_urgent(ReplyItem{token_, r});
}

// ---------------------------------------------------------------------------------------------
// ServiceCore: start and stop

Expected<void> ServiceCore::start() {
  if (running.load()) return make_error("the RpcService is already running");
  if (thread_.joinable()) thread_.join();  // a loop that ended on its own (poll failure)
  stop_requested = false;
  try {
    ctx_.emplace(1);
    // XPUB, not PUB: the same on the wire to SUB peers, but with ZMQ_XPUB_NODROP it can refuse a
    // send (EAGAIN) instead of silently dropping it for a subscriber whose queue is full, which
    // is what keeps EMERGENCY frames from being lost (see publish_now).
    pub_.emplace(*ctx_, zmq::socket_type::xpub);
    pub_->set(zmq::sockopt::xpub_nodrop, 1);
    cmd_.emplace(*ctx_, zmq::socket_type::router);
    pub_->set(zmq::sockopt::linger, opts.linger_ms);
    pub_->set(zmq::sockopt::sndhwm, opts.send_hwm);
    cmd_->set(zmq::sockopt::linger, opts.linger_ms);
    cmd_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opts.hard_max_message_bytes));
  } catch (const zmq::error_t& e) {
    close_sockets();
    return make_error(std::string("cannot create ZeroMQ sockets: ") + e.what());
  }

  std::vector<std::string> pubs, cmds;
  auto bind_all = [&](zmq::socket_t& s, const std::vector<std::string>& eps, const char* what,
                      std::vector<std::string>& bound) -> Expected<void> {
    for (const auto& ep : eps) {
      if (ipc_path_in_use(ep)) return make_error(std::string("cannot bind the ") + what + " socket to " + ep +
                                                 ": another process is serving on that path");
      try {
        s.bind(ep);
        bound.push_back(last_endpoint(s));
      } catch (const zmq::error_t& e) {
        return make_error(std::string("cannot bind the ") + what + " socket to " + ep + ": " + e.what() +
                          (e.num() == EADDRINUSE ? " (another rigagent or autotrainer service may be running)" : ""));
      }
    }
    return {};
  };
  if (auto r = bind_all(*pub_, opts.pub_endpoints, "events (PUB)", pubs); !r) {
    close_sockets();
    return r;
  }
  if (auto r = bind_all(*cmd_, opts.command_endpoints, "commands (REP)", cmds); !r) {
    close_sockets();
    return r;
  }
  if (!opts.app_endpoint.empty()) {
    if (ipc_path_in_use(opts.app_endpoint)) {
      close_sockets();
      return make_error("cannot bind the application link to " + opts.app_endpoint +
                        ": another process (another rigagent?) is serving on that path");
    }
    try {
      zmq::socket_t s(*ctx_, zmq::socket_type::router);
      s.set(zmq::sockopt::linger, opts.linger_ms);
      s.set(zmq::sockopt::router_mandatory, 1);
      s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(opts.hard_max_message_bytes));
      s.bind(opts.app_endpoint);
      app_.emplace(*this, *ctx_, std::move(s));
    } catch (const zmq::error_t& e) {
      close_sockets();
      return make_error("cannot bind the application link to " + opts.app_endpoint + ": " + e.what());
    }
  }
  {
    std::lock_guard<std::mutex> lock(bound_mu);
    bound_pub = pubs;
    bound_cmd = cmds;
  }
  running = true;
  {
    std::lock_guard<std::mutex> lock(local_mu_);
    local_open_ = true;
  }
  // The sockets were made here and move to the owner thread now; thread creation is the
  // full memory barrier libzmq asks for when a socket changes threads.
  thread_ = std::thread([self = shared_from_this()] { self->run(); });
  return {};
}

void ServiceCore::stop() {
  if (!thread_.joinable()) return;
  stop_requested = true;
  outbox.wake();
  thread_.join();
}

void ServiceCore::close_sockets() {
  app_.reset();
  pub_.reset();
  cmd_.reset();
  if (ctx_) {
    ctx_->close();
    ctx_.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// ServiceCore: the owner thread

void ServiceCore::run() {
  owner.store(std::this_thread::get_id());
  next_heartbeat_ms_ = monotonic_ms() + opts.heartbeat_interval.count();
  std::vector<zmq::pollitem_t> items;
  items.push_back({nullptr, outbox.wake_fd(), ZMQ_POLLIN, 0});
  items.push_back({cmd_->handle(), 0, ZMQ_POLLIN, 0});
  const size_t pub_item = items.size();
  items.push_back({pub_->handle(), 0, ZMQ_POLLIN, 0});  // subscriptions, read and discarded
  const size_t app_item = items.size();
  if (app_) {
    items.push_back({app_->socket().handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({app_->monitor().handle(), 0, ZMQ_POLLIN, 0});
  }

  while (!stop_requested.load(std::memory_order_relaxed)) {
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(poll_timeout_ms()));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      log::error("rpc", std::string("poll failed, stopping the service: ") + e.what());
      break;
    }
    if (items[0].revents & ZMQ_POLLIN) outbox.clear_wake();
    drain_urgent();
    if (items[1].revents & ZMQ_POLLIN) handle_commands();
    drain_local();
    if (items[pub_item].revents & ZMQ_POLLIN) drain_subscriptions();
    // Disconnects first: a new connection may reuse a closed one's descriptor number.
    if (app_ && (items[app_item + 1].revents & ZMQ_POLLIN)) app_->on_monitor_event();
    if (app_ && (items[app_item].revents & ZMQ_POLLIN)) app_->on_readable();
    const int64_t now = monotonic_ms();
    if (now >= next_heartbeat_ms_) fire_heartbeat();
    if (app_) app_->expire(now);
    drain_urgent();
    drain_normal_batch();
  }

  // Publishes still queued go out, then every held request gets an answer, not silence.
  stopping_ = true;  // no more waiting for slow subscribers
  drain_urgent();
  while (outbox.normal_pending() || !normal_batch_.empty() || !held_urgent_.empty()) drain_normal_batch();
  close_local();
  if (app_) app_->fail_all("rigagent is shutting down");
  drain_urgent();
  // send_reply erases what it answers: walk a copy of the tokens, not held_ itself.
  std::vector<uint64_t> tokens;
  for (const auto& [token, held] : held_) tokens.push_back(token);
  for (uint64_t token : tokens) {
    auto it = held_.find(token);
    if (it == held_.end()) continue;
    Reply r;
    r.nonce = it->second.nonce;
    r.command = it->second.command;
    r.result = result::unavailable;
    r.error_message = "rigagent is shutting down";
    send_reply(token, r);
  }
  held_.clear();
  close_sockets();
  if (app_connected.exchange(false) && hooks.on_connection) hooks.on_connection(false, "");
  owner.store(std::thread::id());
  running = false;
}

long ServiceCore::poll_timeout_ms() const {
  if (blocked_since_ms_ >= 0) return 1;  // retry soon: a subscriber behind is reading
  if (outbox.normal_pending() || outbox.urgent_pending() || !normal_batch_.empty()) return 0;
  int64_t now = monotonic_ms();
  int64_t until = next_heartbeat_ms_;
  if (app_) {
    int64_t d = app_->next_deadline_ms();
    if (d >= 0) until = std::min(until, d);
  }
  return static_cast<long>(std::clamp<int64_t>(until - now, 0, 1000));
}

void ServiceCore::fire_heartbeat() {
  publish_now(static_cast<uint32_t>(Topic::heartbeat), encode_heartbeat(opts.identifier, opts.version, wall_seconds()));
  counters.heartbeats++;
  const int64_t now = monotonic_ms();
  next_heartbeat_ms_ += opts.heartbeat_interval.count();
  // After a stall (a suspended board), resume the cadence rather than bursting to catch up.
  if (next_heartbeat_ms_ <= now) next_heartbeat_ms_ = now + opts.heartbeat_interval.count();
}

bool ServiceCore::try_send(const PublishItem& p) {
  try {
    std::string tf = topic_frame(p.topic);
    // NODROP refuses the first frame when a matching subscriber's queue is full; once it is
    // accepted the second always is (libzmq counts whole messages against the HWM).
    if (!pub_->send(zmq::buffer(tf), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    pub_->send(zmq::buffer(p.body), zmq::send_flags::none);
    counters.published++;
  } catch (const zmq::error_t& e) {
    log::error("rpc", std::string("publish failed: ") + e.what());
  }
  return true;
}

bool ServiceCore::send_or_wait(const PublishItem& p) {
  if (try_send(p)) {
    blocked_since_ms_ = -1;
    return true;
  }
  const int64_t now = monotonic_ms();
  if (blocked_since_ms_ < 0) {
    blocked_since_ms_ = now;
    counters.publish_waits++;
  }
  const int64_t waited = now - blocked_since_ms_;
  if (!stopping_ && waited < opts.stall_timeout.count()) return false;
  // A subscriber that has read nothing for this long is stalled. One lossy send drops the
  // message for it alone and makes libzmq set its queue aside until it drains, so from here on
  // the others are served without waiting for it.
  pub_->set(zmq::sockopt::xpub_nodrop, 0);
  try_send(p);
  pub_->set(zmq::sockopt::xpub_nodrop, 1);
  blocked_since_ms_ = -1;
  if (stopping_) return true;
  counters.stalls++;
  log::warn("rpc", "a subscriber has read nothing for " + std::to_string(waited) +
                       " ms: publishing without it until it catches up (it missed one " + topic_name(p.topic) + " message)");
  return true;
}

void ServiceCore::publish_now(uint32_t topic, const std::string& body) {
  PublishItem p{topic, body};
  const bool urgent =
      topic == static_cast<uint32_t>(Topic::emergency) || topic == static_cast<uint32_t>(Topic::command_result);
  if (urgent) {
    if (held_urgent_.empty() && send_or_wait(p)) return;
    if (held_urgent_.empty()) counters.urgent_waits++;
    held_urgent_.push_back(std::move(p));
    return;
  }
  if (held_urgent_.empty() && normal_batch_.empty() && send_or_wait(p)) return;
  normal_batch_.push_back(std::move(p));  // waits its turn behind what is blocked
}

bool ServiceCore::flush_held() {
  while (!held_urgent_.empty()) {
    if (!send_or_wait(held_urgent_.front())) return false;
    held_urgent_.pop_front();
  }
  return true;
}

void ServiceCore::drain_subscriptions() {
  zmq::message_t m;
  try {
    for (int i = 0; i < 1000 && pub_->recv(m, zmq::recv_flags::dontwait); ++i) {
    }
  } catch (const zmq::error_t&) {
  }
}

void ServiceCore::publish_event_now(const std::string& body, int64_t kind) {
  if (is_emergency_kind(kind)) publish_now(static_cast<uint32_t>(Topic::emergency), body);
  publish_now(static_cast<uint32_t>(Topic::event), body);
}

void ServiceCore::drain_urgent() {
  flush_held();
  while (outbox.pop_urgent(urgent_batch_)) {
    for (auto& item : urgent_batch_) {
      if (auto* p = std::get_if<PublishItem>(&item))
        publish_now(p->topic, p->body);
      else if (auto* r = std::get_if<ReplyItem>(&item))
        send_reply(r->token, r->reply);
      else if (auto* n = std::get_if<AppNoticeItem>(&item); n && app_)
        app_->notify(n->message);
    }
    urgent_batch_.clear();
  }
}

void ServiceCore::drain_normal_batch() {
  // Ordinary events wait behind a held urgent message, and behind each other: a subscriber that
  // is behind slows the stream down (up to rpc.stall_timeout_ms) instead of losing messages.
  if (!flush_held()) return;
  if (normal_batch_.empty() && !outbox.pop_normal(normal_batch_, kNormalBatch)) return;
  while (!normal_batch_.empty()) {
    if (!send_or_wait(normal_batch_.front())) return;
    normal_batch_.pop_front();
    // An e-stop queued meanwhile goes next, not after the rest of the batch.
    if (outbox.urgent_pending()) {
      drain_urgent();
      if (!held_urgent_.empty()) return;
    }
  }
}

void ServiceCore::handle_commands() {
  for (int i = 0; i < kMaxRequestsPerWake; ++i) {
    std::vector<zmq::message_t> frames;
    try {
      if (!zmq::recv_multipart(*cmd_, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& e) {
      log::warn("rpc", std::string("receive failed: ") + e.what());
      return;
    }
    // ROUTER speaks the REP side on the wire: routing id, empty delimiter, then the body.
    size_t delim = 0;
    while (delim < frames.size() && frames[delim].size() != 0) ++delim;
    if (delim == frames.size()) {
      counters.malformed++;
      log::warn("rpc", "dropped a command message with no REQ envelope (a REP socket drops these too)");
      continue;
    }
    std::vector<std::string> envelope;
    for (size_t k = 0; k <= delim; ++k) envelope.push_back(frames[k].to_string());
    const uint64_t token = next_token_++;
    held_.emplace(token, Held{std::move(envelope)});
    counters.requests++;

    const size_t body_frames = frames.size() - delim - 1;
    if (body_frames != 1) {
      counters.malformed++;
      send_reply(token, body_frames == 0 ? decode_request("", opts.limits).malformed : multi_frame_reply(body_frames));
      continue;
    }
    Decoded d = decode_request(frames[delim + 1].to_string_view(), opts.limits);
    if (!d.request) {
      counters.malformed++;
      log::debug("rpc", "malformed request answered: " + d.malformed.error_message.value_or(""));
      send_reply(token, d.malformed);
      continue;
    }
    held_[token].nonce = d.request->nonce;
    held_[token].command = d.request->command;
    dispatch(std::move(*d.request), token);
  }
}

bool ServiceCore::submit_local(Request& request, LocalDone& done) {
  {
    std::lock_guard<std::mutex> lock(local_mu_);
    if (!local_open_) return false;
    local_.push_back(LocalRequest{std::move(request), std::move(done)});
  }
  outbox.wake();
  return true;
}

void ServiceCore::drain_local() {
  std::deque<LocalRequest> batch;
  {
    std::lock_guard<std::mutex> lock(local_mu_);
    batch.swap(local_);
  }
  for (auto& l : batch) {
    const uint64_t token = next_token_++;
    held_.emplace(token, Held{{}, l.request.nonce, l.request.command, std::move(l.done)});
    counters.requests++;
    dispatch(std::move(l.request), token);
  }
}

void ServiceCore::close_local() {
  // Requests handed over while the loop was ending are dispatched too; after this none comes in,
  // and the held ones get the shutdown reply below with the remotes' ones.
  {
    std::lock_guard<std::mutex> lock(local_mu_);
    local_open_ = false;
  }
  drain_local();
}

void ServiceCore::dispatch(Request req, uint64_t token) {
  Responder responder(shared_from_this(), token, req);
  auto it = handlers.find(req.command);
  if (it == handlers.end() || !it->second) {
    responder.reply(unavailable_reply(req));
    return;
  }
  try {
    it->second(responder.request(), responder);
  } catch (const std::exception& e) {
    counters.handler_exceptions++;
    responder.reply(exception_reply(req, e.what()));
  } catch (...) {
    counters.handler_exceptions++;
    responder.reply(exception_reply(req, "unknown exception"));
  }
}

void ServiceCore::send_reply(uint64_t token, const Reply& reply) {
  auto it = held_.find(token);
  if (it == held_.end()) return;  // answered already, or the service restarted
  if (it->second.local) {
    LocalDone done = std::move(it->second.local);
    held_.erase(it);
    counters.replies++;
    done(reply);
    return;
  }
  try {
    for (const auto& f : it->second.envelope) cmd_->send(zmq::buffer(f), zmq::send_flags::sndmore);
    std::string body = encode_reply(reply);
    cmd_->send(zmq::buffer(body), zmq::send_flags::none);
    counters.replies++;
  } catch (const zmq::error_t& e) {
    log::warn("rpc", std::string("reply failed: ") + e.what());
  }
  held_.erase(it);
}

void ServiceCore::forward_to_app(const Request& request, const Responder& responder) {
  if (!app_) {
    responder(Response{result::unavailable, nullptr, 0, "no application link is configured"});
    return;
  }
  app_->forward(request, responder);
}

void ServiceCore::enqueue_event_body(uint32_t topic, std::string body, int64_t kind) {
  if (topic == static_cast<uint32_t>(Topic::event) && is_emergency_kind(kind)) {
    // Both on the urgent lane, EMERGENCY pushed first: the lane is FIFO, so it goes out first.
    outbox.push_urgent(PublishItem{static_cast<uint32_t>(Topic::emergency), body});
    outbox.push_urgent(PublishItem{topic, std::move(body)});
    return;
  }
  const bool urgent = topic == static_cast<uint32_t>(Topic::emergency) ||
                      topic == static_cast<uint32_t>(Topic::command_result);
  if (urgent)
    outbox.push_urgent(PublishItem{topic, std::move(body)});
  else
    outbox.push_normal(PublishItem{topic, std::move(body)});
}

// ---------------------------------------------------------------------------------------------
// RpcService: the public face

RpcService::RpcService(ServiceOptions options) : core_(std::make_shared<ServiceCore>(std::move(options))) {}

RpcService::~RpcService() { stop(); }

void RpcService::set_handler(int64_t command, Handler handler) { core_->handlers[command] = std::move(handler); }

Handler RpcService::forward_to_app() const {
  std::weak_ptr<ServiceCore> weak = core_;
  return [weak](const Request& req, const Responder& responder) {
    if (auto core = weak.lock()) core->forward_to_app(req, responder);
  };
}

void RpcService::set_app_hooks(AppHooks hooks) { core_->hooks = std::move(hooks); }

Expected<void> RpcService::start() { return core_->start(); }
void RpcService::stop() { core_->stop(); }
bool RpcService::running() const { return core_->running.load(); }

void RpcService::publish(Topic topic, std::string body) {
  core_->enqueue_event_body(static_cast<uint32_t>(topic), std::move(body), -1);
}

void RpcService::publish_json(Topic topic, const json& object) {
  int64_t kind = -1;
  if (object.is_object())
    if (auto k = object.find("kind"); k != object.end() && k->is_number_integer()) kind = k->get<int64_t>();
  core_->enqueue_event_body(static_cast<uint32_t>(topic), dump_lenient(camelize_keys(object)), kind);
}

void RpcService::publish_event(int64_t kind, const json& context, Topic topic) {
  core_->enqueue_event_body(static_cast<uint32_t>(topic), encode_event(kind, wall_seconds(), monotonic_ns(), context), kind);
}

void RpcService::publish_event_body(std::string body, int64_t kind) {
  core_->enqueue_event_body(static_cast<uint32_t>(Topic::event), std::move(body), kind);
}

void RpcService::publish_command_result(int64_t command, int64_t nonce, const Response& response) {
  core_->enqueue_event_body(static_cast<uint32_t>(Topic::command_result),
                            encode_command_result(command, nonce, response), -1);
}

void RpcService::execute(Request request, std::function<void(const Reply&)> done) {
  if (!core_->submit_local(request, done)) done(unavailable_reply(request, std::string("the RpcService is not running")));
}

void RpcService::notify_app(json message) { core_->outbox.push_urgent(AppNoticeItem{std::move(message)}); }

std::vector<std::string> RpcService::bound_pub_endpoints() const {
  std::lock_guard<std::mutex> lock(core_->bound_mu);
  return core_->bound_pub;
}

std::vector<std::string> RpcService::bound_command_endpoints() const {
  std::lock_guard<std::mutex> lock(core_->bound_mu);
  return core_->bound_cmd;
}

bool RpcService::app_connected() const { return core_->app_connected.load(); }
const Counters& RpcService::counters() const { return core_->counters; }
uint64_t RpcService::dropped() const { return core_->outbox.dropped(); }

}  // namespace rig::rpc
