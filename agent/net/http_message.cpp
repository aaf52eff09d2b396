#include "net/http_message.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace rig::net {

namespace {

constexpr int kBad = static_cast<int>(HttpErrc::bad_response);
constexpr int kClosed = static_cast<int>(HttpErrc::connection_closed);
constexpr std::string_view kVersionPrefix = "HTTP/1.";

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// RFC 9110 §5.6.2 tchar.
bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), token_char); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// For error messages: what the server sent, printable, and short enough for a log line.
std::string quoted(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + (s.size() > kMax ? "\"..." : "\"");
}

// Calls f on each trimmed, non-empty element of a comma-separated header value.
template <typename F>
void for_each_element(std::string_view list, F f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

const char* to_string(HttpErrc e) {
  switch (e) {
    case HttpErrc::resolve_failed: return "resolve_failed";
    case HttpErrc::connect_failed: return "connect_failed";
    case HttpErrc::tls_failed: return "tls_failed";
    case HttpErrc::timeout: return "timeout";
    case HttpErrc::connection_closed: return "connection_closed";
    case HttpErrc::bad_response: return "bad_response";
    case HttpErrc::cancelled: return "cancelled";
    case HttpErrc::invalid_request: return "invalid_request";
  }
  return "unknown";
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

std::string host_header(const Url& origin) {
  std::string h = origin.host.find(':') != std::string::npos ? "[" + origin.host + "]" : origin.host;
  if (origin.port != (origin.tls() ? 443 : 80)) h += ":" + std::to_string(origin.port);
  return h;
}

Expected<std::string> serialize_request(const HttpRequest& r, const Url& origin, std::string_view user_agent) {
  auto invalid = [&](const std::string& why) {
    return Error{"invalid request " + quoted(r.method + " " + r.target) + ": " + why, static_cast<int>(HttpErrc::invalid_request)};
  };
  auto unsafe_value = [](std::string_view v) { return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; };
  if (!is_token(r.method)) return invalid("bad method");
  if (r.target.empty() || r.target.front() != '/') return invalid("the target must start with '/'");
  for (char c : r.target)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return invalid("the target has spaces, control characters or non-ASCII bytes (percent-encode them)");
  if (unsafe_value(user_agent)) return invalid("the user agent has CR, LF or NUL in it");
  bool own_agent = !user_agent.empty();
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name)) return invalid("bad header name " + quoted(name));
    // These decide the framing and the connection's reuse: only the client may set them.
    for (const char* own : {"host", "content-length", "transfer-encoding", "connection"})
      if (iequals(name, own)) return invalid("header " + name + " is set by the client");
    if (unsafe_value(value)) return invalid("header " + name + " has CR, LF or NUL in its value");
    if (iequals(name, "user-agent")) own_agent = false;
  }

  std::string out;
  out.reserve(256 + r.body.size());
  out += r.method + " " + r.target + " HTTP/1.1\r\nHost: " + host_header(origin) + "\r\n";
  if (own_agent) out += "User-Agent: " + std::string(user_agent) + "\r\n";
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: keep-alive\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

Error ResponseParser::reject(std::string message, int code) {
  state_ = State::failed;
  error_ = Error{std::move(message), code};
  return error_;
}

Expected<void> ResponseParser::feed(std::string_view data) {
  if (state_ == State::failed) return error_;
  if (!data.empty()) started_ = true;
  size_t i = 0;
  while (i < data.size()) {
    switch (state_) {
      case State::done:
        excess_ += data.size() - i;
        return {};
      case State::failed:
        return error_;
      case State::body_length:
      case State::chunk_data: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
        response_.body.append(data.substr(i, take));
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = state_ == State::body_length ? State::done : State::chunk_end;
        break;
      }
      case State::body_close:
        if (data.size() - i > max_body_ - response_.body.size())
          return reject("response body exceeds the limit of " + std::to_string(max_body_) + " bytes", kBad);
        response_.body.append(data.substr(i));
        i = data.size();
        break;
      default: {  // the states that read lines
        const size_t nl = data.find('\n', i);
        const size_t end = nl == std::string_view::npos ? data.size() : nl + 1;
        // Not HTTP at all (a TLS server spoken to in plain text, say): say so at the first wrong
        // byte rather than wait for a line end that may never come.
        if (state_ == State::status_line && line_.size() < kVersionPrefix.size()) {
          const std::string start = line_ + std::string(data.substr(i, std::min(end - i, kVersionPrefix.size())));
          const size_t n = std::min(start.size(), kVersionPrefix.size());
          const size_t bad = static_cast<size_t>(std::mismatch(start.begin(), start.begin() + static_cast<ptrdiff_t>(n), kVersionPrefix.begin()).first - start.begin());
          if (bad < n) return reject("not an HTTP/1.x response (it starts " + quoted(start.substr(0, bad + 1)) + ")", kBad);
        }
        const bool head = state_ == State::status_line || state_ == State::headers || state_ == State::trailers;
        const size_t limit = head ? kMaxHeaderBytes - header_bytes_ : kMaxChunkLine;
        if (line_.size() + (end - i) > limit)
          return reject(head ? "response headers larger than " + std::to_string(kMaxHeaderBytes) + " bytes"
                           : "chunk size line longer than " + std::to_string(kMaxChunkLine) + " bytes",
                      kBad);
        line_.append(data.substr(i, end - i));
        i = end;
        if (nl == std::string_view::npos) break;
        if (head) header_bytes_ += line_.size();
        std::string_view line(line_);
        line.remove_suffix(1);  // bare LF is accepted as a line end (RFC 9112 §2.2)
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto r = on_line(line);
        line_.clear();
        if (!r) return r;
      }
    }
  }
  return {};
}

Expected<void> ResponseParser::finish() {
  switch (state_) {
    case State::failed: return error_;
    case State::done: return {};
    case State::body_close: state_ = State::done; return {};
    case State::status_line:
      if (!started_) return reject("the server closed the connection without responding", kClosed);
      [[fallthrough]];
    case State::headers:
      return reject("the server closed the connection in the middle of the response headers", kClosed);
    case State::body_length:
      return reject("the server closed the connection after " + std::to_string(response_.body.size()) + " of " +
                      std::to_string(response_.body.size() + remaining_) + " body bytes", kClosed);
    default:
      return reject("the server closed the connection in the middle of the chunked body (after " +
                      std::to_string(response_.body.size()) + " bytes)", kClosed);
  }
}

Expected<void> ResponseParser::on_line(std::string_view line) {
  switch (state_) {
    case State::status_line: return on_status_line(line);
    case State::headers: return line.empty() ? on_headers_end() : on_header_line(line, false);
    case State::trailers:
      if (line.empty()) state_ = State::done;
      return line.empty() ? Expected<void>() : on_header_line(line, true);
    case State::chunk_size: return on_chunk_size(line);
    case State::chunk_end:
      if (!line.empty()) return reject("chunk data longer than its chunk size", kBad);
      state_ = State::chunk_size;
      return {};
    default: return {};
  }
}

Expected<void> ResponseParser::on_status_line(std::string_view line) {
  // "HTTP/1.1 200 OK"; the reason phrase may be empty, and so may the space before it.
  auto digit = [&](size_t i) { return std::isdigit(static_cast<unsigned char>(line[i])) != 0; };
  if (line.size() < 12 || !digit(7) || line[8] != ' ' || !digit(9) || !digit(10) || !digit(11) ||
      (line.size() > 12 && line[12] != ' ') || line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos)
    return reject("bad status line " + quoted(line), kBad);
  const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100 || status > 599) return reject("bad status code in " + quoted(line), kBad);
  response_ = HttpResponse{};
  response_.status = status;
  response_.reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
  minor_version_ = line[7] - '0';
  state_ = State::headers;
  return {};
}

Expected<void> ResponseParser::on_header_line(std::string_view line, bool trailer) {
  if (line.front() == ' ' || line.front() == '\t')
    return reject("obsolete header line folding is not supported: " + quoted(line), kBad);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return reject("bad header line " + quoted(line), kBad);
  const std::string_view value = trim(line.substr(colon + 1));
  if (value.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos)
    return reject("bad header value in " + quoted(line), kBad);
  if (!trailer) response_.headers.emplace_back(line.substr(0, colon), value);  // trailers: checked, dropped
  return {};
}

Expected<void> ResponseParser::on_headers_end() {
  const int status = response_.status;
  if (status < 200) {
    if (status == 101) return reject("unexpected 101 Switching Protocols (no upgrade was asked for)", kBad);
    state_ = State::status_line;  // 100 Continue, 103 Early Hints: the final response follows
    return {};
  }
  bool close = false, keep = false, has_length = false;
  std::string te;
  std::optional<uint64_t> length;
  for (const auto& [name, value] : response_.headers) {
    if (iequals(name, "connection")) {
      for_each_element(value, [&](std::string_view t) {
        close |= iequals(t, "close");
        keep |= iequals(t, "keep-alive");
      });
    } else if (iequals(name, "transfer-encoding")) {
      te += (te.empty() ? "" : ", ") + value;
    } else if (iequals(name, "content-length")) {
      has_length = true;
      bool ok = !trim(value).empty();
      // "Content-Length: 5, 5" (a list of one repeated value) is allowed; anything else is not.
      for_each_element(value, [&](std::string_view v) {
        uint64_t n = 0;
        for (char c : v) {
          if (!std::isdigit(static_cast<unsigned char>(c)) || n > (UINT64_MAX - 9) / 10) {
            ok = false;
            return;
          }
          n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        if (length && *length != n) ok = false;
        length = n;
      });
      if (!ok || !length) return reject("bad Content-Length " + quoted(value), kBad);
    }
  }
  keep_alive_ = minor_version_ >= 1 ? !close : keep && !close;
  if (head_ || status == 204 || status == 304) {
    state_ = State::done;
    return {};
  }
  if (!te.empty()) {
    int chunked = 0, other = 0;
    for_each_element(te, [&](std::string_view t) { (iequals(t, "chunked") ? chunked : other) += 1; });
    // No Accept-Encoding is sent, so a coding other than chunked is a server fault.
    if (chunked != 1 || other != 0) return reject("unsupported Transfer-Encoding " + quoted(te) + " (only chunked)", kBad);
    if (has_length) keep_alive_ = false;  // both: a smuggling pattern; do not reuse (RFC 9112 §6.3)
    state_ = State::chunk_size;
    return {};
  }
  if (length) {
    if (*length > max_body_)
      return reject("Content-Length " + std::to_string(*length) + " exceeds the limit of " + std::to_string(max_body_) + " bytes", kBad);
    remaining_ = *length;
    response_.body.reserve(static_cast<size_t>(*length));
    state_ = remaining_ == 0 ? State::done : State::body_length;
    return {};
  }
  keep_alive_ = false;  // neither: the body ends when the server closes (RFC 9112 §6.3 rule 8)
  state_ = State::body_close;
  return {};
}

Expected<void> ResponseParser::on_chunk_size(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i])); ++i) {
    if (size > (UINT64_MAX >> 4)) return reject("chunk size too large in " + quoted(line), kBad);
    const char c = lower(line[i]);
    size = size * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  const std::string_view rest = trim(line.substr(i));
  if (i == 0 || (!rest.empty() && rest.front() != ';')) return reject("bad chunk size line " + quoted(line), kBad);
  // Chunk extensions (";name=value") carry nothing this client uses.
  if (size == 0) {
    state_ = State::trailers;
    return {};
  }
  if (size > max_body_ - response_.body.size())
    return reject("chunked response body exceeds the limit of " + std::to_string(max_body_) + " bytes", kBad);
  remaining_ = size;
  state_ = State::chunk_data;
  return {};
}

}  // namespace rig::net
