#include "upstream/laneswap/client.hpp"

#include <future>

namespace rig::laneswap {

Expected<std::shared_ptr<AsyncClient>> AsyncClient::create(asio::io_context& io, ClientOptions o) {
  if (o.service_name.empty() && o.service_id.empty())
    return make_laneswap_error(Errc::invalid_argument, "either a service name or a service id must be given");
  auto url = net::parse_url(o.api_url);
  if (!url) return make_laneswap_error(Errc::invalid_argument, "api_url: " + url.error().message);
  net::HttpOptions h;
  h.connect_timeout = o.connect_timeout;
  h.request_timeout = o.request_timeout;
  h.tls = o.tls;
  h.user_agent = "rigagent-laneswap";
  auto http = net::HttpClient::create(io, *url, h);
  if (!http) return make_laneswap_error(Errc::invalid_argument, http.error().message);
  return std::shared_ptr<AsyncClient>(new AsyncClient(std::move(o), *url, std::move(*http)));
}

AsyncClient::AsyncClient(ClientOptions options, net::Url url, std::shared_ptr<net::HttpClient> http)
    : opts_(std::move(options)), url_(std::move(url)), base_(api_base(url_)), where_(url_.origin()),
      http_(std::move(http)), service_id_(opts_.service_id) {}

void AsyncClient::call(Call c, const char* method, const std::string& path, const json* body, Timeout timeout,
                       Handler<json> done) {
  net::HttpRequest req;
  req.method = method;
  req.target = base_ + path;
  req.headers.emplace_back("Accept", "application/json");
  if (body) req.headers.emplace_back("Content-Type", "application/json");
  for (const auto& h : opts_.headers) req.headers.push_back(h);  // on every request (§1)
  if (body) req.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  const std::string where = where_;
  http_->request(
      std::move(req),
      [c, where, done = std::move(done)](Expected<net::HttpResponse> r) {
        if (!r) return done(transport_error(r.error()));
        done(check_response(c, *r, where));
      },
      timeout);
}

void AsyncClient::connect(json metadata, Handler<std::string> done, Timeout timeout) {
  progress_unsupported_until_.reset();  // §8: remembered until a reconnect (or the re-check interval)
  register_service(opts_.service_name.empty() ? opts_.service_id : opts_.service_name, std::move(metadata), std::move(done),
                   timeout);
}

void AsyncClient::register_service(std::string service_name, json metadata, Handler<std::string> done, Timeout timeout) {
  if (!metadata.is_object() && !metadata.is_null())
    return done(make_laneswap_error(Errc::invalid_argument, "metadata must be an object"));
  registration_metadata_ = metadata.is_object() ? metadata : json::object();
  opts_.service_name = service_name;
  const json body = register_body(service_name, service_id_, registration_metadata_);
  auto self = shared_from_this();
  call(Call::register_service, "POST", "/services", &body, timeout ? timeout : Timeout(opts_.register_timeout),
       [self, done = std::move(done)](Expected<json> r) {
         if (!r) return done(r.error());
         auto id = parse_register(*r);
         if (id) self->service_id_ = *id;
         done(std::move(id));
       });
}

void AsyncClient::send_heartbeat(Status status, std::optional<std::string> message, json metadata,
                                 Handler<ServiceInfo> done, Timeout timeout) {
  if (service_id_.empty())
    return done(make_laneswap_error(Errc::not_connected, "no service id yet: connect() or register first"));
  if (!metadata.is_object() && !metadata.is_null())
    return done(make_laneswap_error(Errc::invalid_argument, "metadata must be an object"));
  auto wire = to_wire(status, opts_.strict_status);
  if (!wire) return done(wire.error());
  heartbeat_once(*wire, message, metadata, timeout, true, std::move(done));
}

void AsyncClient::heartbeat_once(const WireStatus& wire, const std::optional<std::string>& message, const json& metadata,
                                 Timeout timeout, bool may_reregister, Handler<ServiceInfo> done) {
  const json body = heartbeat_body(wire, message, metadata);
  auto self = shared_from_this();
  call(Call::heartbeat, "POST", "/services/" + path_segment(service_id_) + "/heartbeat", &body, timeout,
       [self, wire, message, metadata, timeout, may_reregister, done = std::move(done)](Expected<json> r) mutable {
         if (r) return done(parse_service(*r));
         if (!may_reregister || errc(r.error()) != Errc::service_not_found) return done(r.error());
         // The server forgot us (it restarted): register again under the same id, with the full
         // metadata (re-registration resets the record), then send this heartbeat once more.
         json md = self->registration_metadata_;
         if (metadata.is_object()) md.update(metadata);
         self->register_service(
             self->opts_.service_name, md,
             [self, wire, message, metadata, timeout, done = std::move(done)](Expected<std::string> id) mutable {
               if (!id) return done(id.error());
               self->heartbeat_once(wire, message, metadata, timeout, false, std::move(done));
             },
             timeout);
       });
}

void AsyncClient::get_service(std::string service_id, Handler<ServiceInfo> done, Timeout timeout) {
  if (service_id.empty()) service_id = service_id_;
  if (service_id.empty()) return done(make_laneswap_error(Errc::invalid_argument, "no service id given"));
  call(Call::get_service, "GET", "/services/" + path_segment(service_id), nullptr, timeout,
       [done = std::move(done)](Expected<json> r) { done(r ? parse_service(*r) : Expected<ServiceInfo>(r.error())); });
}

void AsyncClient::get_all_services(Handler<ServiceList> done, Timeout timeout) {
  call(Call::get_all, "GET", "/services", nullptr, timeout,
       [done = std::move(done)](Expected<json> r) { done(r ? parse_service_list(*r) : Expected<ServiceList>(r.error())); });
}

void AsyncClient::health(Handler<json> done, Timeout timeout) { call(Call::health, "GET", "/health", nullptr, timeout, std::move(done)); }

Expected<void> AsyncClient::progress_allowed() const {
  if (service_id_.empty()) return make_laneswap_error(Errc::not_connected, "no service id yet: connect() or register first");
  if (progress_unsupported_until_ && std::chrono::steady_clock::now() < *progress_unsupported_until_)
    return make_laneswap_error(Errc::progress_not_supported,
                               "server " + where_ + " has no /api/progress endpoints (HTTP 404, remembered)");
  return {};
}

void AsyncClient::note_progress_result(const Error& e) {
  if (errc(e) == Errc::progress_not_supported)
    progress_unsupported_until_ = std::chrono::steady_clock::now() + opts_.progress_recheck;
}

void AsyncClient::start_progress(std::string task_name, int64_t total_steps, std::optional<std::string> description,
                                 json metadata, Handler<std::string> done, Timeout timeout) {
  if (auto ok = progress_allowed(); !ok) return done(ok.error());
  if (task_name.empty() || total_steps < 0)
    return done(make_laneswap_error(Errc::invalid_argument, "a task needs a name and total_steps >= 0"));
  const json body = start_progress_body(service_id_, task_name, total_steps, description, metadata);
  auto self = shared_from_this();
  call(Call::start_progress, "POST", "/progress", &body, timeout, [self, done = std::move(done)](Expected<json> r) {
    if (!r) {
      self->note_progress_result(r.error());
      return done(r.error());
    }
    done(parse_task_id(*r));
  });
}

void AsyncClient::update_progress(std::string task_id, int64_t current_step, std::string status,
                                  std::optional<std::string> message, json metadata, Handler<json> done, Timeout timeout) {
  if (auto ok = progress_allowed(); !ok) return done(ok.error());
  if (task_id.empty() || status.empty() || current_step < 0)
    return done(make_laneswap_error(Errc::invalid_argument, "update_progress needs a task id, a status and current_step >= 0"));
  const json body = update_progress_body(service_id_, task_id, current_step, status, message, metadata);
  auto self = shared_from_this();
  call(Call::update_progress, "PUT", "/progress/" + path_segment(task_id), &body, timeout,
       [self, done = std::move(done)](Expected<json> r) {
         if (!r) self->note_progress_result(r.error());
         done(std::move(r));
       });
}

void AsyncClient::complete_progress(std::string task_id, std::string status, std::optional<std::string> message,
                                    json metadata, Handler<json> done, Timeout timeout) {
  if (auto ok = progress_allowed(); !ok) return done(ok.error());
  if (task_id.empty() || status.empty())
    return done(make_laneswap_error(Errc::invalid_argument, "complete_progress needs a task id and a status"));
  const json body = complete_progress_body(service_id_, task_id, status, message, metadata);
  auto self = shared_from_this();
  call(Call::complete_progress, "PUT", "/progress/" + path_segment(task_id) + "/complete", &body, timeout,
       [self, done = std::move(done)](Expected<json> r) {
         if (!r) self->note_progress_result(r.error());
         done(std::move(r));
       });
}

void AsyncClient::close() { http_->close(); }

// ---------------------------------------------------------------------------------------------

Expected<std::unique_ptr<SyncClient>> SyncClient::create(ClientOptions options) {
  std::unique_ptr<SyncClient> s(new SyncClient());
  s->io_ = std::make_unique<IoThread>();
  auto c = AsyncClient::create(s->io_->context(), std::move(options));
  if (!c) return c.error();
  s->client_ = std::move(*c);
  s->io_->start();
  return s;
}

SyncClient::~SyncClient() { close(); }

void SyncClient::close() {
  if (!io_) return;
  io_->call([this] { client_->close(); });
  io_->stop();
  // The client's sockets and timers belong to the io_context: they go first.
  client_.reset();
  io_.reset();
}

template <typename T, typename Start>
Expected<T> SyncClient::wait(Start start, ms timeout) {
  if (!io_) return make_laneswap_error(Errc::not_connected, "the client is closed");
  auto promise = std::make_shared<std::promise<Expected<T>>>();
  auto future = promise->get_future();
  io_->post([this, start, promise, timeout]() mutable {
    start(*client_, [promise](Expected<T> r) { promise->set_value(std::move(r)); }, Timeout(timeout));
  });
  // The request carries the same deadline; the margin only covers a stuck resolver.
  if (future.wait_for(timeout + ms(1000)) != std::future_status::ready)
    return make_laneswap_error(Errc::timeout, "no answer from " + client_->where() + " within " + std::to_string(timeout.count()) + " ms");
  return future.get();
}

Expected<std::string> SyncClient::connect(json metadata, ms timeout) {
  return wait<std::string>([metadata](AsyncClient& c, Handler<std::string> h, Timeout t) { c.connect(metadata, std::move(h), t); },
                           timeout);
}

Expected<std::string> SyncClient::register_service(std::string name, json metadata, ms timeout) {
  return wait<std::string>(
      [name, metadata](AsyncClient& c, Handler<std::string> h, Timeout t) { c.register_service(name, metadata, std::move(h), t); },
      timeout);
}

Expected<ServiceInfo> SyncClient::send_heartbeat(Status status, std::optional<std::string> message, json metadata, ms timeout) {
  return wait<ServiceInfo>(
      [status, message, metadata](AsyncClient& c, Handler<ServiceInfo> h, Timeout t) {
        c.send_heartbeat(status, message, metadata, std::move(h), t);
      },
      timeout);
}

Expected<ServiceInfo> SyncClient::get_service(std::string id, ms timeout) {
  return wait<ServiceInfo>([id](AsyncClient& c, Handler<ServiceInfo> h, Timeout t) { c.get_service(id, std::move(h), t); },
                           timeout);
}

Expected<ServiceList> SyncClient::get_all_services(ms timeout) {
  return wait<ServiceList>([](AsyncClient& c, Handler<ServiceList> h, Timeout t) { c.get_all_services(std::move(h), t); },
                           timeout);
}

Expected<json> SyncClient::health(ms timeout) {
  return wait<json>([](AsyncClient& c, Handler<json> h, Timeout t) { c.health(std::move(h), t); }, timeout);
}

Expected<std::string> SyncClient::start_progress(std::string task_name, int64_t total_steps,
                                                 std::optional<std::string> description, json metadata, ms timeout) {
  return wait<std::string>(
      [=](AsyncClient& c, Handler<std::string> h, Timeout t) {
        c.start_progress(task_name, total_steps, description, metadata, std::move(h), t);
      },
      timeout);
}

Expected<json> SyncClient::update_progress(std::string task_id, int64_t current_step, std::string status,
                                           std::optional<std::string> message, json metadata, ms timeout) {
  return wait<json>(
      [=](AsyncClient& c, Handler<json> h, Timeout t) {
        c.update_progress(task_id, current_step, status, message, metadata, std::move(h), t);
      },
      timeout);
}

Expected<json> SyncClient::complete_progress(std::string task_id, std::string status, std::optional<std::string> message,
                                             json metadata, ms timeout) {
  return wait<json>(
      [=](AsyncClient& c, Handler<json> h, Timeout t) { c.complete_progress(task_id, status, message, metadata, std::move(h), t); },
      timeout);
}

}  // namespace rig::laneswap
