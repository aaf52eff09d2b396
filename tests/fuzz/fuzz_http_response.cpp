// The HTTP client's response parser (net/http_message.hpp) on arbitrary bytes. Input: byte 0 picks
// the options (bit 0: a response to HEAD; bits 1-2: the body limit), byte 1 the size of the pieces
// the rest is fed in, the rest is what the server sent, followed by the server closing.
// Invariants: never a crash or an exception; fed at once or in pieces, the outcome is the same;
// a complete response has a final status (200-599), headers that could be sent again verbatim
// (token names, no CR/LF/NUL in values), a body within the limit and empty where the status or
// HEAD forbids one; after the close the parser is complete or has failed, with a message and
// the code bad_response or connection_closed.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "net/http_message.hpp"

namespace {

using rig::net::HttpErrc;
using rig::net::ResponseParser;

struct Outcome {
  bool ok = true;
  std::string error;
  int code = 0;
  bool done = false, keep_alive = false;
  size_t excess = 0;
  rig::net::HttpResponse response;
};

Outcome run(std::string_view bytes, size_t step, size_t max_body, bool head) {
  ResponseParser p(max_body, head);
  rig::Expected<void> r;
  for (size_t i = 0; i < bytes.size() && r; i += step) r = p.feed(bytes.substr(i, step));
  const bool done_before_close = p.done();
  if (r) r = p.finish();
  Outcome o;
  o.ok = r.has_value();
  if (!r) {
    o.error = r.error().message;
    o.code = r.error().code;
  }
  o.done = p.done();
  FUZZ_CHECK(!done_before_close || o.done);
  o.keep_alive = p.keep_alive();
  o.excess = p.excess();
  o.response = p.response();
  return o;
}

bool token(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr size_t kLimits[] = {0, 16, 1024, 1 << 20};
  const bool head = data[0] & 1;
  const size_t max_body = kLimits[(data[0] >> 1) & 3];
  const size_t step = data[1] == 0 ? 1 : data[1];
  const std::string_view bytes = fuzz::as_text(data + 2, size - 2);

  const Outcome whole = run(bytes, bytes.size() + 1, max_body, head);
  const Outcome pieces = run(bytes, step, max_body, head);
  FUZZ_CHECK(whole.ok == pieces.ok && whole.error == pieces.error && whole.code == pieces.code);
  FUZZ_CHECK(whole.done == pieces.done && whole.keep_alive == pieces.keep_alive && whole.excess == pieces.excess);
  if (whole.done) {
    FUZZ_CHECK(whole.response.status == pieces.response.status && whole.response.reason == pieces.response.reason);
    FUZZ_CHECK(whole.response.headers == pieces.response.headers && whole.response.body == pieces.response.body);
  }

  if (!whole.ok) {
    FUZZ_CHECK(!whole.done && !whole.error.empty());
    FUZZ_CHECK(whole.code == static_cast<int>(HttpErrc::bad_response) || whole.code == static_cast<int>(HttpErrc::connection_closed));
    return 0;
  }
  FUZZ_CHECK(whole.done);
  const auto& r = whole.response;
  FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  FUZZ_CHECK(r.body.size() <= max_body);
  if (head || r.status == 204 || r.status == 304) FUZZ_CHECK(r.body.empty());
  FUZZ_CHECK(r.reason.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(token(name));
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
    FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.back() != ' '));
    FUZZ_CHECK(r.header(name).has_value());
  }
  if (whole.keep_alive) FUZZ_CHECK(whole.excess == 0);
  return 0;
}
