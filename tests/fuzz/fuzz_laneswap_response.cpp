// The LaneSwap protocol's response handling (upstream/laneswap/protocol.hpp) on arbitrary server
// answers. Input: bytes 0-1 are the HTTP status (big-endian, modulo 1000), the rest the body.
// check_response runs for every Call; then parse_register, parse_service, parse_service_list and
// parse_task_id run on the body if it parses as JSON, and parse_timestamp / parse_status on the
// whole body and on every string in it.
// Invariants: never a crash or an exception; every error carries an Errc in range, a message that
// starts with that Errc's name, and only the codes laneswap.md §5/§8 allow for that status and
// call; check_response succeeds exactly for a 2xx with a JSON object body nested at most
// kMaxJsonDepth deep (201 for start_progress) and returns that body; a parsed record or list
// matches the JSON it came from. (The harness itself never copies a document deeper than that:
// copies recurse.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "upstream/laneswap/protocol.hpp"

namespace {

using namespace rig::laneswap;

const std::string kWhere = "http://monitor.lab:8000";

template <typename T>
Errc checked_error(const rig::Expected<T>& r) {
  FUZZ_CHECK(!r.has_value());
  const int code = r.error().code;
  FUZZ_CHECK(code >= static_cast<int>(Errc::unreachable) && code <= static_cast<int>(Errc::not_connected));
  const std::string prefix = std::string(to_string(static_cast<Errc>(code))) + ": ";
  FUZZ_CHECK(r.error().message.size() > prefix.size());
  FUZZ_CHECK(r.error().message.rfind(prefix, 0) == 0);
  return static_cast<Errc>(code);
}

// Levels of nested arrays and objects, counted without recursion.
int depth_of(const json& j) {
  int deepest = 0;
  std::vector<std::pair<const json*, int>> todo{{&j, 1}};
  while (!todo.empty()) {
    auto [v, level] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, level);
    for (const auto& child : *v) todo.emplace_back(&child, level + 1);
  }
  return deepest;
}

// parsed: the body as JSON, or nullptr when it is not JSON.
void check_call(Call call, int status, const std::string& body, const json* parsed, bool shallow) {
  rig::net::HttpResponse resp;
  resp.status = status;
  resp.body = body;
  const auto r = check_response(call, resp, kWhere);
  const bool progress = call == Call::start_progress || call == Call::update_progress || call == Call::complete_progress;
  const bool should_succeed =
      status >= 200 && status < 300 && parsed && parsed->is_object() && shallow && (call != Call::start_progress || status == 201);
  FUZZ_CHECK(r.has_value() == should_succeed);
  if (r) {
    FUZZ_CHECK(*r == *parsed);
    return;
  }
  const Errc e = checked_error(r);
  FUZZ_CHECK(r.error().message.find(kWhere) != std::string::npos);
  if (status >= 200 && status < 300) {
    FUZZ_CHECK(e == Errc::bad_response);
  } else if (status == 404) {
    if (e == Errc::progress_not_supported) FUZZ_CHECK(progress);
    else if (e == Errc::progress_task_not_found) FUZZ_CHECK(call == Call::update_progress || call == Call::complete_progress);
    else if (e == Errc::service_not_found) FUZZ_CHECK(!progress);
    else FUZZ_CHECK(e == Errc::bad_response);
    // The framework's "no such route" on a progress route is always ProgressNotSupported.
    if (progress && parsed && *parsed == json{{"detail", "Not Found"}}) FUZZ_CHECK(e == Errc::progress_not_supported);
  } else if (status == 422) {
    FUZZ_CHECK(e == Errc::invalid_status || e == Errc::invalid_request);
  } else if (status >= 500) {
    FUZZ_CHECK(e == Errc::server_error);
  } else {
    FUZZ_CHECK(e == Errc::bad_response);
  }
}

void check_timestamp(std::string_view text) {
  const auto t = parse_timestamp(text);
  if (!t) {
    FUZZ_CHECK(checked_error(t) == Errc::bad_response);
    return;
  }
  // YYYY-MM-DDTHH:MM:SS, a fraction of at most 9 digits, an offset of at most 6 characters.
  FUZZ_CHECK(text.size() >= 19 && text.size() <= 19 + 10 + 6);
  FUZZ_CHECK(text[4] == '-' && text[7] == '-' && text[13] == ':' && text[16] == ':');
  const auto again = parse_timestamp(text);
  FUZZ_CHECK(again.has_value() && *again == *t);
}

void check_status_name(std::string_view text) {
  if (auto s = parse_status(text)) {
    FUZZ_CHECK(text.size() == std::string_view(wire_name(*s)).size());
  }
}

const json* member(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

void check_service(const json& j) {
  const auto s = parse_service(j);
  if (!s) {
    FUZZ_CHECK(checked_error(s) == Errc::bad_response);
    return;
  }
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(s->id == j["id"].get<std::string>() && s->status == j["status"].get<std::string>());
  FUZZ_CHECK(s->raw == j);
  FUZZ_CHECK(s->metadata.is_object());
  const json* ev = member(j, "events");
  FUZZ_CHECK(s->events.size() <= (ev && ev->is_array() ? ev->size() : 0));
  if (const json* c = member(j, "created_at"); c && c->is_string()) {
    const auto t = parse_timestamp(c->get<std::string>());
    FUZZ_CHECK(t.has_value() == s->created_at.has_value());
    if (t) FUZZ_CHECK(*t == *s->created_at);
  } else {
    FUZZ_CHECK(!s->created_at.has_value());
  }
}

void check_strings(const json& j) {
  // Every string in the document (iteratively, and not forever) as a timestamp and a status.
  std::vector<const json*> todo{&j};
  size_t strings = 0;
  while (!todo.empty() && strings < 256) {
    const json* v = todo.back();
    todo.pop_back();
    if (v->is_string()) {
      ++strings;
      check_timestamp(v->get_ref<const std::string&>());
      check_status_name(v->get_ref<const std::string&>());
    } else if (v->is_structured()) {
      for (const auto& child : *v) todo.push_back(&child);
    }
  }
}

// Only for documents check_response lets through (at most kMaxJsonDepth deep).
void check_records(const json& j) {
  if (auto id = parse_register(j)) {
    FUZZ_CHECK(!id->empty() && *id == j["service_id"].get<std::string>());
  } else {
    FUZZ_CHECK(checked_error(id) == Errc::bad_response);
  }
  if (auto task = parse_task_id(j)) {
    FUZZ_CHECK(!task->empty() && *task == j["task_id"].get<std::string>());
  } else {
    FUZZ_CHECK(checked_error(task) == Errc::bad_response);
  }
  check_service(j);
  if (auto l = parse_service_list(j)) {
    const json& services = j["services"];
    FUZZ_CHECK(l->services.size() == services.size());
    for (const auto& [key, info] : l->services) {
      FUZZ_CHECK(services.contains(key));
      const json& rec = services[key];
      FUZZ_CHECK(info.id == (rec.contains("id") ? rec["id"].get<std::string>() : key));
    }
    if (const json* sum = member(j, "summary"); !sum || !sum->is_object())
      FUZZ_CHECK(l->total == 0 && l->status_counts.empty());
  } else {
    FUZZ_CHECK(checked_error(l) == Errc::bad_response);
  }
  if (const json* services = member(j, "services"); services && services->is_object())
    for (const auto& rec : *services) check_service(rec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int status = ((data[0] << 8) | data[1]) % 1000;
  const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  const json parsed = body.empty() ? json() : json::parse(body, nullptr, false);  // parsing and freeing are iterative
  const json* doc = body.empty() || parsed.is_discarded() ? nullptr : &parsed;
  const bool shallow = !doc || depth_of(*doc) <= kMaxJsonDepth;

  for (Call c : {Call::register_service, Call::heartbeat, Call::get_service, Call::get_all, Call::health, Call::start_progress,
                 Call::update_progress, Call::complete_progress})
    check_call(c, status, body, doc, shallow);

  check_timestamp(body);
  check_status_name(body);
  if (doc) {
    check_strings(*doc);
    if (shallow) check_records(*doc);
  }
  return 0;
}
