#include "core/json_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/endpoint.hpp"

namespace rig {
namespace {

using json = nlohmann::ordered_json;

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// What `std::ostream << d` prints: %g, precision 6.
std::string fmt(double d) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", d);
  return b;
}

}  // namespace

const char* json_type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a number with a fraction";
    default: return "a number";
  }
}

Expected<json> parse_json_document(std::string_view text, std::string_view source) {
  try {
    return json::parse(text.begin(), text.end(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("parse error");
    return make_error(std::string(source) + ": not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  } catch (const json::exception& e) {
    return make_error(std::string(source) + ": not valid JSON: " + (e.id == 406 ? "a number is out of range" : e.what()));
  }
}

Expected<std::string> read_text_file(const std::string& path, size_t max_bytes, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(path + ": cannot read the " + std::string(what) + ": " + std::strerror(errno));
  // Reads at most max_bytes + 1 bytes: enough to tell that the file is too large. A read error
  // (a directory: EISDIR) is reported as such, not as an empty document.
  std::string text;
  const size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;
  char buf[16384];
  while (text.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return make_error(path + ": cannot read the " + std::string(what) + ": " + std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > max_bytes)
    return make_error(path + ": " + std::string(what) + " is larger than " + std::to_string(max_bytes / 1024) + " KiB");
  return text;
}

void JsonReader::string(const char* key, std::string& out, bool allow_empty) {
  const json* v = take(key);
  if (!v) return;
  if (!v->is_string()) return fail(key, std::string("expected a string, got ") + json_type_name(*v));
  if (!allow_empty && v->get_ref<const std::string&>().empty()) return fail(key, "must not be empty");
  out = v->get<std::string>();
}

void JsonReader::boolean(const char* key, bool& out) {
  const json* v = take(key);
  if (!v) return;
  if (!v->is_boolean()) return fail(key, std::string("expected true or false, got ") + json_type_name(*v));
  out = v->get<bool>();
}

void JsonReader::number(const char* key, double& out, double min, double max) {
  const json* v = take(key);
  if (!v) return;
  if (!v->is_number()) return fail(key, std::string("expected a number, got ") + json_type_name(*v));
  double d = v->get<double>();
  if (!(d >= min && d <= max)) return fail(key, "must be between " + fmt(min) + " and " + fmt(max));
  out = d;
}

void JsonReader::integer(const char* key, int64_t& out, int64_t min, int64_t max) {
  const json* v = take(key);
  if (!v) return;
  if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)))
    return fail(key, std::string("expected an integer, got ") + json_type_name(*v));
  int64_t i = v->get<int64_t>();
  if (i < min || i > max) return fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  out = i;
}

void JsonReader::choice(const char* key, std::string& out, std::initializer_list<const char*> allowed) {
  const json* v = take(key);
  if (!v) return;
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  if (!v->is_string()) return fail(key, "expected one of " + list + ", got " + json_type_name(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return s == a; }))
    return fail(key, "\"" + s + "\" is not one of " + list);
  out = s;
}

void JsonReader::endpoint(const char* key, std::string& out) {
  std::string s = out;
  string(key, s, false);
  if (s == out) return;
  if (auto r = validate_bind_endpoint(s); !r) return fail(key, r.error().message);
  out = s;
}

void JsonReader::endpoints(const char* key, std::vector<std::string>& out) {
  const json* v = take(key);
  if (!v) return;
  if (!v->is_array() || v->empty()) return fail(key, "expected a non-empty array of endpoint strings");
  std::vector<std::string> eps;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    const std::string k = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.is_string()) return fail(k, std::string("expected an endpoint string, got ") + json_type_name(e));
    if (auto r = validate_bind_endpoint(e.get<std::string>()); !r) return fail(k, r.error().message);
    eps.push_back(e.get<std::string>());
  }
  out = std::move(eps);
}

const json* JsonReader::raw(const char* key) { return take(key); }

JsonReader JsonReader::section(const char* key) {
  const json* v = take(key);
  if (v && !v->is_object()) {
    fail(key, std::string("expected an object, got ") + json_type_name(*v));
    v = nullptr;
  }
  return JsonReader(v, join(key), errors_);
}

void JsonReader::finish() {
  if (!obj_) return;
  for (auto it = obj_->begin(); it != obj_->end(); ++it) {
    if (seen_.count(it.key())) continue;
    std::string msg = "unknown key";
    std::string best;
    size_t best_d = 3;
    for (const auto& k : known_) {
      size_t d = edit_distance(it.key(), k);
      if (d < best_d) best_d = d, best = k;
    }
    if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
    errors_.push_back(join(it.key()) + ": " + msg);
  }
}

const json* JsonReader::take(const char* key) {
  known_.push_back(key);
  if (!obj_) return nullptr;
  auto it = obj_->find(key);
  if (it == obj_->end()) return nullptr;
  seen_.insert(key);
  return &*it;
}

Expected<void> collected_errors(const std::vector<std::string>& errors, std::string_view source, std::string_view what) {
  if (errors.empty()) return {};
  std::string msg = std::string(source) + ": invalid " + std::string(what);
  for (const auto& e : errors) msg += "\n  " + e;
  return make_error(msg);
}

}  // namespace rig
