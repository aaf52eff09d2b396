#include "upstream/laneswap/protocol.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace rig::laneswap {

namespace {

struct StatusName {
  Status status;
  const char* api;
  const char* wire;
};
constexpr StatusName kStatuses[] = {
    {Status::healthy, "HEALTHY", "healthy"}, {Status::warning, "WARNING", "warning"},
    {Status::degraded, "DEGRADED", "degraded"}, {Status::error, "ERROR", "error"},
    {Status::busy, "BUSY", "busy"},          {Status::stale, "STALE", "stale"},
    {Status::unknown, "UNKNOWN", "unknown"}, {Status::idle, "IDLE", "idle"},
    {Status::shutdown, "SHUTDOWN", "shutdown"},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A body that is not JSON arrives here as a string of whatever bytes the server sent (cut at 200):
// dumped with replacement characters, never an exception on bytes that are not UTF-8.
std::string dump_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string detail_text(const json& body) {
  if (body.is_object())
    if (auto d = body.find("detail"); d != body.end()) return d->is_string() ? d->get<std::string>() : dump_text(*d);
  return body.is_null() ? std::string() : dump_text(body);
}

// A 422's first item: its loc (joined) and msg; the enum values when the server lists them.
struct Unprocessable {
  std::string loc, msg;
  std::vector<std::string> permitted;
  bool on_status = false;
};
Unprocessable read_422(const json& body) {
  Unprocessable u;
  const json* detail = body.is_object() && body.contains("detail") ? &body["detail"] : nullptr;
  if (!detail || !detail->is_array() || detail->empty() || !(*detail)[0].is_object()) {
    u.msg = detail_text(body);
    return u;
  }
  const json& item = (*detail)[0];
  if (auto l = item.find("loc"); l != item.end() && l->is_array()) {
    for (const auto& part : *l) {
      const std::string p = part.is_string() ? part.get<std::string>() : dump_text(part);
      u.loc += (u.loc.empty() ? "" : ".") + p;
    }
    u.on_status = !l->empty() && l->back().is_string() && l->back().get<std::string>() == "status";
  }
  if (auto m = item.find("msg"); m != item.end() && m->is_string()) u.msg = m->get<std::string>();
  if (auto c = item.find("ctx"); c != item.end() && c->is_object())
    if (auto e = c->find("enum_values"); e != c->end() && e->is_array())
      for (const auto& v : *e)
        if (v.is_string()) u.permitted.push_back(v.get<std::string>());
  return u;
}

bool is_progress(Call c) {
  return c == Call::start_progress || c == Call::update_progress || c == Call::complete_progress;
}

std::optional<std::string> opt_string(const json& o, const char* key) {
  if (auto it = o.find(key); it != o.end() && it->is_string()) return it->get<std::string>();
  return std::nullopt;
}

std::optional<TimePoint> opt_time(const json& o, const char* key) {
  if (auto s = opt_string(o, key))
    if (auto t = parse_timestamp(*s)) return *t;
  return std::nullopt;
}

int digits(std::string_view s, size_t pos, size_t n, bool& ok) {
  int v = 0;
  if (pos + n > s.size()) {
    ok = false;
    return 0;
  }
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) ok = false;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

const char* api_name(Status s) {
  for (const auto& n : kStatuses)
    if (n.status == s) return n.api;
  return "UNKNOWN";
}

const char* wire_name(Status s) {
  for (const auto& n : kStatuses)
    if (n.status == s) return n.wire;
  return "unknown";
}

std::optional<Status> parse_status(std::string_view text) {
  for (const auto& n : kStatuses)
    if (iequals(text, n.wire)) return n.status;
  return std::nullopt;
}

const char* to_string(Errc e) {
  switch (e) {
    case Errc::unreachable: return "Unreachable";
    case Errc::timeout: return "Timeout";
    case Errc::service_not_found: return "ServiceNotFound";
    case Errc::invalid_argument: return "InvalidArgument";
    case Errc::invalid_status: return "InvalidStatus";
    case Errc::unsupported_status: return "UnsupportedStatus";
    case Errc::invalid_request: return "InvalidRequest";
    case Errc::server_error: return "ServerError";
    case Errc::bad_response: return "BadResponse";
    case Errc::progress_not_supported: return "ProgressNotSupported";
    case Errc::progress_task_not_found: return "ProgressTaskNotFound";
    case Errc::not_connected: return "NotConnected";
  }
  return "Error";
}

Error make_laneswap_error(Errc e, std::string message) {
  return Error{std::string(to_string(e)) + ": " + message, static_cast<int>(e)};
}

Expected<WireStatus> to_wire(Status s, bool strict) {
  if (s == Status::idle || s == Status::shutdown) {
    if (strict)
      return make_laneswap_error(Errc::unsupported_status,
                                 std::string(api_name(s)) + " has no wire value on LaneSwap servers (strict status mapping)");
    if (s == Status::idle) return WireStatus{"healthy", "idle", "idle"};
    return WireStatus{"unknown", "shutting down", "shutdown"};
  }
  return WireStatus{wire_name(s), std::nullopt, "running"};
}

std::string api_base(const net::Url& url) {
  const std::string& p = url.path;
  if (p.size() >= 4 && p.compare(p.size() - 4, 4, "/api") == 0) return p;
  return p + "/api";
}

std::string path_segment(std::string_view id) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : id) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

json register_body(const std::string& service_name, const std::string& service_id, const json& metadata) {
  json b;
  if (!service_id.empty()) b["service_id"] = service_id;  // omitted, never null (§2.1)
  b["service_name"] = service_name;
  b["metadata"] = metadata.is_object() ? metadata : json::object();
  return b;
}

json heartbeat_body(const WireStatus& wire, const std::optional<std::string>& message, const json& metadata) {
  json b;
  b["status"] = wire.status;
  if (message) b["message"] = *message;
  else if (wire.default_message) b["message"] = *wire.default_message;
  json md = metadata.is_object() ? metadata : json::object();
  md["lifecycle"] = wire.lifecycle;  // reset every time: the server merges metadata
  b["metadata"] = std::move(md);
  return b;
}

json start_progress_body(const std::string& service_id, const std::string& task_name, int64_t total_steps,
                         const std::optional<std::string>& description, const json& metadata) {
  return json{{"service_id", service_id},
              {"task_name", task_name},
              {"total_steps", total_steps},
              {"description", description ? json(*description) : json()},
              {"metadata", metadata.is_object() ? metadata : json::object()}};
}

json update_progress_body(const std::string& service_id, const std::string& task_id, int64_t current_step,
                          const std::string& status, const std::optional<std::string>& message, const json& metadata) {
  return json{{"service_id", service_id},
              {"task_id", task_id},
              {"current_step", current_step},
              {"status", status},
              {"message", message ? json(*message) : json()},
              {"metadata", metadata.is_object() ? metadata : json::object()}};
}

json complete_progress_body(const std::string& service_id, const std::string& task_id, const std::string& status,
                            const std::optional<std::string>& message, const json& metadata) {
  return json{{"service_id", service_id},
              {"task_id", task_id},
              {"status", status},
              {"message", message ? json(*message) : json()},
              {"metadata", metadata.is_object() ? metadata : json::object()}};
}

Expected<TimePoint> parse_timestamp(std::string_view s) {
  auto bad = [&] { return make_laneswap_error(Errc::bad_response, "not an ISO-8601 timestamp: '" + std::string(s.substr(0, 64)) + "'"); };
  bool ok = true;
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return bad();
  const int year = digits(s, 0, 4, ok), mon = digits(s, 5, 2, ok), mday = digits(s, 8, 2, ok);
  const int hour = digits(s, 11, 2, ok), min = digits(s, 14, 2, ok), sec = digits(s, 17, 2, ok);
  if (!ok || hour > 23 || min > 59 || sec > 60) return bad();
  // The calendar arithmetic is std::chrono's, not timegm(): a 32-bit time_t (armhf) would wrap.
  namespace chr = std::chrono;
  const chr::year_month_day date{chr::year{year}, chr::month{static_cast<unsigned>(mon)}, chr::day{static_cast<unsigned>(mday)}};
  if (!date.ok()) return bad();
  // A time_point counts nanoseconds in 64 bits (1677-09-21 to 2262-04-11): keep a day clear of both ends.
  constexpr chr::sys_days kFirst{chr::year{1677} / chr::September / 23}, kLast{chr::year{2262} / chr::April / 9};
  const chr::sys_days days{date};
  if (days < kFirst || days > kLast) return bad();
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    const size_t n = pos - start;
    if (n < 1 || n > 9) return bad();
    for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < n ? s[start + i] - '0' : 0);
  }
  int offset_s = 0;
  if (pos < s.size()) {
    const char c = s[pos];
    if ((c == 'Z' || c == 'z') && pos + 1 == s.size()) {
      ++pos;
    } else if (c == '+' || c == '-') {
      std::string_view off = s.substr(pos + 1);
      int h = 0, m = 0;
      if (off.size() == 5 && off[2] == ':') {
        h = digits(off, 0, 2, ok);
        m = digits(off, 3, 2, ok);
      } else if (off.size() == 4) {
        h = digits(off, 0, 2, ok);
        m = digits(off, 2, 2, ok);
      } else {
        return bad();
      }
      if (!ok || h > 23 || m > 59) return bad();
      offset_s = (h * 3600 + m * 60) * (c == '-' ? -1 : 1);
      pos = s.size();
    } else {
      return bad();
    }
  }
  if (pos != s.size()) return bad();
  return chr::time_point_cast<TimePoint::duration>(days) + chr::hours(hour) + chr::minutes(min) + chr::seconds(sec) -
         chr::seconds(offset_s) + chr::duration_cast<TimePoint::duration>(chr::nanoseconds(nanos));
}

Error transport_error(const Error& e) {
  const auto code = static_cast<net::HttpErrc>(e.code);
  return make_laneswap_error(code == net::HttpErrc::timeout ? Errc::timeout : Errc::unreachable, e.message);
}

Expected<json> check_response(Call call, const net::HttpResponse& r, const std::string& where) {
  // Arrays and objects nested deeper than kMaxJsonDepth are dropped while parsing (iteratively).
  bool too_deep = false;
  auto limit = [&too_deep](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth >= kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  json body = r.body.empty() ? json() : json::parse(r.body, limit, false);
  const bool json_ok = r.body.empty() || !body.is_discarded();
  const std::string status_text = "HTTP " + std::to_string(r.status);
  if (r.status >= 200 && r.status < 300) {
    if (!json_ok || !body.is_object())
      return make_laneswap_error(Errc::bad_response, where + ": " + status_text + " without a JSON object body");
    if (too_deep)
      return make_laneswap_error(Errc::bad_response, where + ": " + status_text + ": the JSON body is nested deeper than " +
                                                         std::to_string(kMaxJsonDepth) + " levels");
    // §8: start answers exactly 201; a 200 is not the contract.
    if (call == Call::start_progress && r.status != 201)
      return make_laneswap_error(Errc::bad_response, where + ": start_progress expects HTTP 201, got " + status_text);
    return body;
  }
  if (!json_ok) body = json(r.body.substr(0, 200));
  const std::string detail = detail_text(body);
  if (r.status == 404) {
    if (is_progress(call) && body.is_object() && body.size() == 1 && detail == "Not Found")
      return make_laneswap_error(Errc::progress_not_supported,
                                 "server " + where + " has no /api/progress endpoints (HTTP 404)");
    // §8: only update and complete name a task; start has none to miss.
    if (call == Call::update_progress || call == Call::complete_progress)
      return make_laneswap_error(Errc::progress_task_not_found, where + ": " + detail);
    if (is_progress(call)) return make_laneswap_error(Errc::bad_response, where + ": HTTP 404: " + detail);
    if (detail.rfind("Service not found", 0) == 0) return make_laneswap_error(Errc::service_not_found, where + ": " + detail);
    return make_laneswap_error(Errc::bad_response, where + ": HTTP 404: " + detail);
  }
  if (r.status == 422) {
    const auto u = read_422(body);
    std::string msg = where + ": " + (u.loc.empty() ? "" : u.loc + ": ") + u.msg;
    if (u.on_status) {
      if (!u.permitted.empty()) {
        std::string list;
        for (const auto& p : u.permitted) list += (list.empty() ? "" : ", ") + p;
        msg += " (the server accepts: " + list + ")";
      }
      return make_laneswap_error(Errc::invalid_status, msg);
    }
    return make_laneswap_error(Errc::invalid_request, msg);
  }
  if (r.status >= 500) return make_laneswap_error(Errc::server_error, where + ": " + status_text + ": " + detail);
  return make_laneswap_error(Errc::bad_response, where + ": unexpected " + status_text + ": " + detail);
}

Expected<std::string> parse_register(const json& body) {
  if (auto id = opt_string(body, "service_id"); id && !id->empty()) return *id;
  return make_laneswap_error(Errc::bad_response, "the registration answer has no service_id: " + dump_text(body).substr(0, 200));
}

Expected<ServiceInfo> parse_service(const json& b) {
  if (!b.is_object()) return make_laneswap_error(Errc::bad_response, "a service record is not an object");
  ServiceInfo s;
  auto id = opt_string(b, "id");
  auto status = opt_string(b, "status");
  if (!id || !status)
    return make_laneswap_error(Errc::bad_response, "a service record without id or status: " + dump_text(b).substr(0, 200));
  s.id = *id;
  s.status = *status;
  s.name = opt_string(b, "name").value_or("");
  s.message = opt_string(b, "message");
  if (auto m = b.find("metadata"); m != b.end() && m->is_object()) s.metadata = *m;
  s.created_at = opt_time(b, "created_at");
  s.last_heartbeat = opt_time(b, "last_heartbeat");
  s.status_message = opt_string(b, "status_message");
  if (auto ev = b.find("events"); ev != b.end() && ev->is_array())
    for (const auto& e : *ev)
      if (e.is_object())
        s.events.push_back(Event{opt_string(e, "type").value_or(""), opt_string(e, "status").value_or(""),
                                 opt_string(e, "message").value_or(""), opt_time(e, "timestamp")});
  s.raw = b;
  return s;
}

Expected<ServiceList> parse_service_list(const json& b) {
  if (!b.is_object() || !b.contains("services") || !b["services"].is_object())
    return make_laneswap_error(Errc::bad_response, "the service list has no \"services\" object");
  ServiceList l;
  for (auto it = b["services"].begin(); it != b["services"].end(); ++it) {
    json rec = it.value();
    if (rec.is_object() && !rec.contains("id")) rec["id"] = it.key();
    auto s = parse_service(rec);
    if (!s) return s.error();
    l.services.emplace(it.key(), std::move(*s));
  }
  if (auto sum = b.find("summary"); sum != b.end() && sum->is_object()) {
    if (auto t = sum->find("total"); t != sum->end() && t->is_number_integer()) l.total = t->get<int64_t>();
    if (auto c = sum->find("status_counts"); c != sum->end() && c->is_object())
      for (auto it = c->begin(); it != c->end(); ++it)
        if (it->is_number_integer()) l.status_counts[it.key()] = it->get<int64_t>();
  }
  return l;
}

Expected<std::string> parse_task_id(const json& body) {
  if (auto id = opt_string(body, "task_id"); id && !id->empty()) return *id;
  return make_laneswap_error(Errc::bad_response, "the start_progress answer has no task_id: " + dump_text(body).substr(0, 200));
}

}  // namespace rig::laneswap
