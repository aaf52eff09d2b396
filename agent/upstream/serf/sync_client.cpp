#include "upstream/serf/sync_client.hpp"

#include <atomic>
#include <future>

namespace rig::serf {

namespace {
Error make(Errc c, std::string m) { return Error{std::move(m), static_cast<int>(c)}; }
// How much longer than a call's own deadline the caller waits: the client's timer always fires
// first, so this only matters if the io thread is wedged.
constexpr std::chrono::milliseconds kMargin{2000};
}  // namespace

// --- Subscription ---

template <typename T>
void Subscription<T>::Shared::push(T value) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (queue.size() >= capacity) {
      queue.pop_front();  // the oldest goes: a reader that fell behind wants the newest
      ++dropped;
    }
    queue.push_back(std::move(value));
  }
  cv.notify_one();
}

template <typename T>
void Subscription<T>::Shared::end(std::optional<Error> e) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (ended) return;
    ended = true;
    error = std::move(e);
  }
  cv.notify_all();
}

template <typename T>
std::optional<T> Subscription<T>::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->cv.wait_for(lock, timeout, [&] { return !shared_->queue.empty() || shared_->ended; });
  if (shared_->queue.empty()) return std::nullopt;
  T v = std::move(shared_->queue.front());
  shared_->queue.pop_front();
  return v;
}

template <typename T>
bool Subscription<T>::ended() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->ended;
}

template <typename T>
std::optional<Error> Subscription<T>::end_error() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->error;
}

template <typename T>
uint64_t Subscription<T>::dropped() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->dropped;
}

template <typename T>
uint64_t Subscription<T>::resumed() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->resumed;
}

template <typename T>
void Subscription<T>::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (stop_) stop_();
}

template <typename T>
Subscription<T>::~Subscription() {
  stop();
}

template class Subscription<StreamRecord>;
template class Subscription<std::string>;

// --- SyncClient ---

// What a Subscription needs to reach its client after the SyncClient may be gone.
struct Link {
  std::mutex mu;
  IoThread* io = nullptr;
  std::weak_ptr<AsyncClient> client;
};

Expected<std::unique_ptr<SyncClient>> SyncClient::connect(Options options) {
  std::unique_ptr<SyncClient> s(new SyncClient());
  s->io_ = std::make_unique<IoThread>();
  auto c = AsyncClient::create(s->io_->context(), options);
  if (!c) {
    s->io_.reset();  // never started: close() must not wait on it
    return c.error();
  }
  s->client_ = std::move(*c);
  s->link_ = std::make_shared<Link>();
  s->link_->io = s->io_.get();
  s->link_->client = s->client_;
  s->io_->start();
  auto ok = s->wait<void>([&](Handler<void> h) { s->client_->connect(std::move(h)); }, options.connect_timeout);
  if (!ok) {
    s->close();
    return ok.error();
  }
  return s;
}

SyncClient::~SyncClient() { close(); }

void SyncClient::close() {
  if (!io_) return;
  if (link_) {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->io = nullptr;
  }
  io_->call([this] { client_->close(); });
  io_->stop();
  client_.reset();
  io_.reset();
}

template <typename T, typename Start>
Expected<T> SyncClient::wait(Start start, ms limit) {
  if (!io_) return make(Errc::not_connected, "the Serf client is closed");
  auto promise = std::make_shared<std::promise<Expected<T>>>();
  auto future = promise->get_future();
  io_->post([start, promise]() mutable {
    start([promise](Expected<T> r) { promise->set_value(std::move(r)); });
  });
  if (future.wait_for(limit + kMargin) != std::future_status::ready)
    return make(Errc::timeout, "the Serf client did not answer within " + std::to_string((limit + kMargin).count()) + " ms");
  return future.get();
}

#define RIG_LIMIT(t) ((t) ? *(t) : client_->options().request_timeout)
#define RIG_SLOW(t) ((t) ? *(t) : client_->options().slow_timeout)

Expected<void> SyncClient::event(const std::string& name, const Bytes& payload, bool coalesce, Timeout t) {
  return wait<void>([=, c = client_](Handler<void> h) { c->event(name, payload, coalesce, std::move(h), t); }, RIG_LIMIT(t));
}
Expected<void> SyncClient::force_leave(const std::string& node, bool prune, Timeout t) {
  return wait<void>([=, c = client_](Handler<void> h) { c->force_leave(node, prune, std::move(h), t); }, RIG_LIMIT(t));
}
Expected<int64_t> SyncClient::join(const std::vector<std::string>& addresses, bool replay, Timeout t) {
  return wait<int64_t>([=, c = client_](Handler<int64_t> h) { c->join(addresses, replay, std::move(h), t); }, RIG_SLOW(t));
}
Expected<std::vector<Member>> SyncClient::members(Timeout t) {
  return wait<std::vector<Member>>([=, c = client_](Handler<std::vector<Member>> h) { c->members(std::move(h), t); }, RIG_LIMIT(t));
}
Expected<std::vector<Member>> SyncClient::members_filtered(const MemberFilter& filter, Timeout t) {
  return wait<std::vector<Member>>([=, c = client_](Handler<std::vector<Member>> h) { c->members_filtered(filter, std::move(h), t); },
                                   RIG_LIMIT(t));
}
Expected<void> SyncClient::tags(const Tags& set, const std::vector<std::string>& remove, Timeout t) {
  return wait<void>([=, c = client_](Handler<void> h) { c->tags(set, remove, std::move(h), t); }, RIG_LIMIT(t));
}
Expected<void> SyncClient::leave(Timeout t) {
  return wait<void>([=, c = client_](Handler<void> h) { c->leave(std::move(h), t); }, RIG_SLOW(t));
}
Expected<void> SyncClient::respond(uint64_t id, const Bytes& payload, Timeout t) {
  return wait<void>([=, c = client_](Handler<void> h) { c->respond(id, payload, std::move(h), t); }, RIG_LIMIT(t));
}
Expected<KeyResponse> SyncClient::install_key(const std::string& key, Timeout t) {
  return wait<KeyResponse>([=, c = client_](Handler<KeyResponse> h) { c->install_key(key, std::move(h), t); }, RIG_SLOW(t));
}
Expected<KeyResponse> SyncClient::use_key(const std::string& key, Timeout t) {
  return wait<KeyResponse>([=, c = client_](Handler<KeyResponse> h) { c->use_key(key, std::move(h), t); }, RIG_SLOW(t));
}
Expected<KeyResponse> SyncClient::remove_key(const std::string& key, Timeout t) {
  return wait<KeyResponse>([=, c = client_](Handler<KeyResponse> h) { c->remove_key(key, std::move(h), t); }, RIG_SLOW(t));
}
Expected<KeyResponse> SyncClient::list_keys(Timeout t) {
  return wait<KeyResponse>([=, c = client_](Handler<KeyResponse> h) { c->list_keys(std::move(h), t); }, RIG_SLOW(t));
}
Expected<Stats> SyncClient::stats(Timeout t) {
  return wait<Stats>([=, c = client_](Handler<Stats> h) { c->stats(std::move(h), t); }, RIG_LIMIT(t));
}
Expected<std::optional<Coordinate>> SyncClient::get_coordinate(const std::string& node, Timeout t) {
  return wait<std::optional<Coordinate>>(
      [=, c = client_](Handler<std::optional<Coordinate>> h) { c->get_coordinate(node, std::move(h), t); }, RIG_LIMIT(t));
}

Expected<QuerySummary> SyncClient::query(const QueryParams& params, std::function<void(const QueryRecord&)> record) {
  const auto limit = params.timeout.count() > 0
                         ? std::chrono::duration_cast<ms>(params.timeout) + client_->options().request_timeout
                         : client_->options().slow_timeout;
  return wait<QuerySummary>(
      [=, c = client_](Handler<QuerySummary> h) { c->query(params, record, std::move(h)); }, limit);
}

namespace {
template <typename T>
std::function<void()> make_stop(std::shared_ptr<Link> link, SubscriptionId id) {
  // Synchronous from any other thread: once stop() returns nothing more is queued and ended()
  // is true. From the client's own io thread (a callback) it cannot wait, so it only posts.
  return [link, id] {
    std::lock_guard<std::mutex> lock(link->mu);
    if (!link->io) return;
    auto weak = link->client;
    auto stop = [weak, id] {
      if (auto c = weak.lock()) c->stop(id);
    };
    if (link->io->in_thread()) link->io->post(stop);
    else link->io->call(stop);
  };
}
}  // namespace

Expected<std::unique_ptr<StreamSubscription>> SyncClient::stream(const std::string& filter, size_t capacity, Timeout t) {
  std::unique_ptr<StreamSubscription> sub(new StreamSubscription());
  auto shared = sub->shared_;
  shared->capacity = capacity == 0 ? 1 : capacity;
  auto id = std::make_shared<std::atomic<SubscriptionId>>(0);
  auto ok = wait<void>(
      [=, c = client_](Handler<void> h) {
        StreamCallbacks cb;
        cb.ready = std::move(h);
        cb.record = [shared](const StreamRecord& r) { shared->push(r); };
        cb.end = [shared](std::optional<Error> e) { shared->end(std::move(e)); };
        cb.resumed = [shared] {
          std::lock_guard<std::mutex> lock(shared->mu);
          ++shared->resumed;
        };
        id->store(c->stream(filter, std::move(cb)));
      },
      RIG_LIMIT(t));
  if (!ok) {
    const auto sid = id->load();
    if (sid != 0) make_stop<StreamRecord>(link_, sid)();
    return ok.error();
  }
  sub->stop_ = make_stop<StreamRecord>(link_, id->load());
  return sub;
}

Expected<std::unique_ptr<MonitorSubscription>> SyncClient::monitor(const std::string& level, size_t capacity, Timeout t) {
  std::unique_ptr<MonitorSubscription> sub(new MonitorSubscription());
  auto shared = sub->shared_;
  shared->capacity = capacity == 0 ? 1 : capacity;
  auto id = std::make_shared<std::atomic<SubscriptionId>>(0);
  auto ok = wait<void>(
      [=, c = client_](Handler<void> h) {
        MonitorCallbacks cb;
        cb.ready = std::move(h);
        cb.line = [shared](const std::string& l) { shared->push(l); };
        cb.end = [shared](std::optional<Error> e) { shared->end(std::move(e)); };
        cb.resumed = [shared] {
          std::lock_guard<std::mutex> lock(shared->mu);
          ++shared->resumed;
        };
        id->store(c->monitor(level, std::move(cb)));
      },
      RIG_LIMIT(t));
  if (!ok) {
    const auto sid = id->load();
    if (sid != 0) make_stop<std::string>(link_, sid)();
    return ok.error();
  }
  sub->stop_ = make_stop<std::string>(link_, id->load());
  return sub;
}

#undef RIG_LIMIT
#undef RIG_SLOW

Counters SyncClient::counters() {
  if (!io_) return {};
  return io_->call([this] { return client_->counters(); });
}

State SyncClient::state() {
  if (!io_) return State::closed;
  return io_->call([this] { return client_->state(); });
}

}  // namespace rig::serf
