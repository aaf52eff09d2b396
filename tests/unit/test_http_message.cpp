// The HTTP client's pure parts: the response parser (framing by length, chunks or close; bodiless
// responses; limits; malformed input; every split of the input giving the same result), request
// serialisation and parse_url.
#include "support/cmocka.hpp"

#include "net/http_message.hpp"

using namespace rig;
using namespace rig::net;

namespace {

constexpr size_t kMax = 1024;

struct Parsed {
  bool ok = false, done = false, keep_alive = false;
  Error error;
  HttpResponse response;
};

// Feeds `text` in pieces of `step` bytes (0: at once), then finish() if `eof`.
Parsed parse(const std::string& text, size_t step = 0, bool eof = false, bool head = false, size_t max = kMax) {
  ResponseParser p(max, head);
  Parsed out;
  Expected<void> r;
  for (size_t i = 0; i < text.size() && r; i += step ? step : text.size()) r = p.feed(std::string_view(text).substr(i, step ? step : text.size()));
  if (r && eof) r = p.finish();
  out.ok = r.has_value();
  if (!r) out.error = r.error();
  out.done = p.done();
  out.keep_alive = p.keep_alive();
  out.response = p.response();
  return out;
}

Parsed parse_ok(const std::string& text, bool eof = false, bool head = false) {
  Parsed p = parse(text, 0, eof, head);
  if (!p.ok) fail_msg("does not parse: %s\n%s", p.error.message.c_str(), text.c_str());
  if (!p.done) fail_msg("incomplete:\n%s", text.c_str());
  return p;
}

void expect_error(const std::string& text, const std::string& contains, HttpErrc code = HttpErrc::bad_response,
                  bool eof = false, size_t max = kMax) {
  Parsed p = parse(text, 0, eof, false, max);
  if (p.ok) fail_msg("expected an error containing '%s' for:\n%s", contains.c_str(), text.c_str());
  if (p.error.message.find(contains) == std::string::npos)
    fail_msg("error '%s' does not contain '%s'", p.error.message.c_str(), contains.c_str());
  assert_int_equal(p.error.code, static_cast<int>(code));
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    "5;name=value\r\nhello\r\n"
    "7 ; ext\r\n, world\r\n"
    "A\r\n0123456789\r\n"
    "0\r\nX-Checksum: abc\r\nX-More: 1\r\n\r\n";

}  // namespace

static void content_length(void**) {
  Parsed p = parse_ok("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Thing:  spaced value \t\r\n\r\nhello");
  assert_int_equal(p.response.status, 201);
  assert_str(p.response.reason, "Created");
  assert_str(p.response.body, "hello");
  assert_true(p.keep_alive);
  assert_str(*p.response.header("content-length"), "5");
  assert_str(*p.response.header("X-THING"), "spaced value");
  assert_false(p.response.header("missing").has_value());
  // No reason phrase, bare LF line ends, a repeated identical length.
  p = parse_ok("HTTP/1.1 200\nContent-Length: 2, 2\n\nok");
  assert_int_equal(p.response.status, 200);
  assert_str(p.response.reason, "");
  assert_str(p.response.body, "ok");
  p = parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  assert_str(p.response.body, "");
}

static void chunked(void**) {
  Parsed p = parse_ok(kChunked);
  assert_str(p.response.body, "hello, world0123456789");
  assert_true(p.keep_alive);
  assert_str(*p.response.header("content-type"), "text/plain");
  assert_false(p.response.header("x-checksum").has_value());  // trailers are dropped
  // Upper-case hex, leading zeros, no trailers.
  p = parse_ok("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n000B\r\nhello world\r\n0\r\n\r\n");
  assert_str(p.response.body, "hello world");
}

// Every split point, and byte by byte, gives the same response as one feed.
static void split_everywhere(void**) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nA: b\r\n\r\nhello world", false},
      {kChunked, false},
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
      {"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end", true},
  };
  for (const auto& [text, eof] : cases) {
    const Parsed whole = parse(text, 0, eof);
    assert_true(whole.ok && whole.done);
    for (size_t cut = 1; cut < text.size(); ++cut) {
      ResponseParser p(kMax);
      assert_true(p.feed(std::string_view(text).substr(0, cut)).has_value());
      assert_true(p.feed(std::string_view(text).substr(cut)).has_value());
      if (eof) assert_true(p.finish().has_value());
      assert_true(p.done());
      assert_int_equal(p.response().status, whole.response.status);
      assert_str(p.response().body, whole.response.body);
      assert_int_equal(p.response().headers.size(), whole.response.headers.size());
      assert_int_equal(p.keep_alive(), whole.keep_alive);
    }
    const Parsed bytes = parse(text, 1, eof);
    assert_true(bytes.ok && bytes.done);
    assert_str(bytes.response.body, whole.response.body);
  }
}

static void bad_status_line(void**) {
  expect_error("HTP/1.1 200 OK\r\n\r\n", "not an HTTP/1.x response (it starts \"HTP\")");
  expect_error("HTTP/2 200\r\n\r\n", "not an HTTP/1.x response (it starts \"HTTP/2\")");
  expect_error("HTTP/1.1 20 OK\r\n\r\n", "bad status line \"HTTP/1.1 20 OK\"");
  expect_error("HTTP/1.1 200OK\r\n\r\n", "bad status line");
  expect_error("HTTP/1.1 099 Low\r\n\r\n", "bad status code");
  expect_error("HTTP/1.1 600 High\r\n\r\n", "bad status code");
  expect_error("\r\nHTTP/1.1 200 OK\r\n\r\n", "(it starts \"\\x0d\")");
  expect_error("HTTP/1.1 200 O\rK\r\n\r\n", "bad status line \"HTTP/1.1 200 O\\x0dK\"");
  // A TLS alert is recognised at its first byte, without waiting for a line end.
  expect_error(std::string("\x15\x03\x03\x00\x02\x02\x28", 7), "not an HTTP/1.x response (it starts \"\\x15\")");
}

static void bad_headers(void**) {
  expect_error("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "bad header line \"No colon here\"");
  expect_error("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "bad header line");
  expect_error("HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n", "folding");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", "bad Content-Length \"5x\"");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "bad Content-Length");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "bad Content-Length");
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", "bad Content-Length");
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding \"gzip, chunked\"");
  expect_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "101");
}

static void bad_chunks(void**) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_error(head + "zz\r\n", "bad chunk size line \"zz\"");
  expect_error(head + "5 x\r\nhello\r\n", "bad chunk size line \"5 x\"");
  expect_error(head + "\r\n", "bad chunk size line \"\"");
  expect_error(head + "fffffffffffffffffff\r\n", "chunk size too large");
  expect_error(head + "3\r\nhello\r\n", "chunk data longer than its chunk size");
  expect_error(head + "5;" + std::string(kMaxChunkLine, 'x'), "chunk size line longer than 4096 bytes");
}

static void limits(void**) {
  const std::string big(kMaxHeaderBytes, 'a');
  expect_error("HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\n\r\n", "response headers larger than 16384 bytes");
  // Many small headers count together; so do trailers.
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  expect_error(many, "response headers larger than");
  std::string trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 2000; ++i) trailers += "T-" + std::to_string(i) + ": v\r\n";
  expect_error(trailers, "response headers larger than");
  // Just under the limit passes.
  const std::string line = "HTTP/1.1 200 OK\r\n", tail = "\r\nContent-Length: 0\r\n\r\n";
  Parsed p = parse_ok(line + "X: " + std::string(kMaxHeaderBytes - line.size() - tail.size() - 3, 'a') + tail);
  assert_int_equal(p.response.status, 200);

  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n", "Content-Length 1025 exceeds the limit of 1024 bytes");
  parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + std::string(1024, 'x'));
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'x') + "\r\n1\r\nx\r\n",
               "chunked response body exceeds the limit of 1024 bytes");
  expect_error("HTTP/1.1 200 OK\r\n\r\n" + std::string(1025, 'x'), "response body exceeds the limit of 1024 bytes");
}

static void connection_close(void**) {
  assert_false(parse_ok("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  assert_false(parse_ok("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n").keep_alive);
  assert_true(parse_ok("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
  // HTTP/1.0 closes unless asked otherwise.
  assert_false(parse_ok("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  assert_true(parse_ok("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
  // A body that ends with the connection; Transfer-Encoding with Content-Length; bytes past the end.
  Parsed p = parse_ok("HTTP/1.1 200 OK\r\n\r\nall of it", true);
  assert_str(p.response.body, "all of it");
  assert_false(p.keep_alive);
  p = parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
  assert_str(p.response.body, "ok");
  assert_false(p.keep_alive);
  ResponseParser extra(kMax);
  assert_true(extra.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n").has_value());
  assert_true(extra.done());
  assert_int_equal(extra.excess(), 17);
  assert_false(extra.keep_alive());
}

static void no_body(void**) {
  Parsed p = parse_ok("HTTP/1.1 204 No Content\r\n\r\n");
  assert_int_equal(p.response.status, 204);
  assert_true(p.keep_alive);
  p = parse_ok("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
  assert_str(p.response.body, "");
  p = parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, true);  // HEAD
  assert_str(p.response.body, "");
  p = parse_ok("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
  assert_int_equal(p.response.status, 200);
  assert_int_equal(p.response.headers.size(), 1);
}

static void early_close(void**) {
  expect_error("", "without responding", HttpErrc::connection_closed, true);
  expect_error("HTTP/1.1 200 OK\r\nContent-", "in the middle of the response headers", HttpErrc::connection_closed, true);
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "after 3 of 10 body bytes", HttpErrc::connection_closed, true);
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "in the middle of the chunked body",
               HttpErrc::connection_closed, true);
  // Errors are final.
  ResponseParser p(kMax);
  assert_false(p.feed("nonsense\r\n").has_value());
  assert_false(p.feed("HTTP/1.1 200 OK\r\n").has_value());
  assert_false(p.finish().has_value());
}

static void serialize(void**) {
  Url url = *parse_url("http://example.org:8080/base");
  HttpRequest r{"POST", "/api/x?y=1", {{"Content-Type", "application/json"}, {"X-Id", "7"}}, "{}"};
  auto wire = serialize_request(r, url, "rigagent/1");
  assert_true(wire.has_value());
  assert_str(*wire,
             "POST /api/x?y=1 HTTP/1.1\r\nHost: example.org:8080\r\nUser-Agent: rigagent/1\r\nContent-Length: 2\r\n"
             "Connection: keep-alive\r\nContent-Type: application/json\r\nX-Id: 7\r\n\r\n{}");
  // GET without a body: no Content-Length; default port: no port in Host; the caller's User-Agent wins.
  wire = serialize_request(HttpRequest{"GET", "/", {{"user-agent", "me"}}, ""}, *parse_url("https://[::1]/"), "rigagent");
  assert_str(*wire, "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: keep-alive\r\nuser-agent: me\r\n\r\n");
  wire = serialize_request(HttpRequest{"PUT", "/p", {}, ""}, url, "");
  assert_str(*wire, "PUT /p HTTP/1.1\r\nHost: example.org:8080\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");

  auto refused = [&](HttpRequest bad, const char* contains) {
    auto w = serialize_request(bad, url, "rigagent");
    if (w) fail_msg("accepted a bad request (%s)", contains);
    if (w.error().message.find(contains) == std::string::npos) fail_msg("'%s' lacks '%s'", w.error().message.c_str(), contains);
    assert_int_equal(w.error().code, static_cast<int>(HttpErrc::invalid_request));
  };
  refused({"GET", "/x", {{"X-A", "1\r\nInjected: yes"}}, ""}, "header X-A has CR, LF or NUL");
  refused({"GET", "/x", {{"Content-Length", "3"}}, ""}, "header Content-Length is set by the client");
  refused({"GET", "/x", {{"connection", "close"}}, ""}, "is set by the client");
  refused({"GET", "/x", {{"Bad Name", "v"}}, ""}, "bad header name");
  refused({"GET", "x", {}, ""}, "must start with '/'");
  refused({"GET", "/a b", {}, ""}, "spaces");
  refused({"GE T", "/", {}, ""}, "bad method");
}

static void urls(void**) {
  Url u = *parse_url("http://Example.ORG");
  assert_str(u.scheme, "http");
  assert_str(u.host, "example.org");
  assert_int_equal(u.port, 80);
  assert_str(u.path, "");
  assert_false(u.tls());
  assert_str(u.origin(), "http://example.org:80");
  u = *parse_url("HTTPS://10.0.0.2:8443/lane/swap//");
  assert_str(u.scheme, "https");
  assert_true(u.tls());
  assert_int_equal(u.port, 8443);
  assert_str(u.path, "/lane/swap");
  assert_str(u.origin(), "https://10.0.0.2:8443");
  u = *parse_url("https://[fe80::1:2]/");
  assert_str(u.host, "fe80::1:2");
  assert_int_equal(u.port, 443);
  assert_str(u.path, "");
  assert_str(u.origin(), "https://[fe80::1:2]:443");
  u = *parse_url("http://[::ffff:127.0.0.1]:9000/api");
  assert_str(u.host, "::ffff:127.0.0.1");
  assert_int_equal(u.port, 9000);
  assert_str(u.path, "/api");

  const std::vector<std::pair<const char*, const char*>> bad = {
      {"ftp://host/", "unsupported scheme \"ftp\""},
      {"host:80", "expected http://host"},
      {"http://", "no host"},
      {"http://:80/", "no host"},
      {"http://host:0/", "bad port \"0\""},
      {"http://host:65536/", "bad port"},
      {"http://host:/", "bad port \"\""},
      {"http://host:8x/", "bad port"},
      {"http://[::1/", "missing ']'"},
      {"http://[::1]x/", "unexpected text after ']'"},
      {"http://[zz::1]/", "bad IPv6 address"},
      {"http://[::1%eth0]/", "bad IPv6 address"},
      {"http://::1/", "IPv6 addresses go in brackets"},
      {"http://a b/", "spaces or control characters"},
      {"http://user:pw@host/", "user names and passwords"},
      {"http://host/path?q=1", "query strings"},
      {"http://host?q", "query strings"},
      {"http://ho$t/", "bad host name"},
      {"http://a..b/", "bad host name"},
  };
  for (const auto& [text, contains] : bad) {
    auto r = parse_url(text);
    if (r) fail_msg("accepted %s", text);
    if (r.error().message.find(contains) == std::string::npos) fail_msg("%s: '%s' lacks '%s'", text, r.error().message.c_str(), contains);
  }
}

static void errc_names(void**) {
  assert_str(to_string(HttpErrc::timeout), "timeout");
  assert_str(to_string(HttpErrc::tls_failed), "tls_failed");
  assert_str(to_string(HttpErrc::invalid_request), "invalid_request");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(content_length),   cmocka_unit_test(chunked),    cmocka_unit_test(split_everywhere),
      cmocka_unit_test(bad_status_line),  cmocka_unit_test(bad_headers), cmocka_unit_test(bad_chunks),
      cmocka_unit_test(limits),           cmocka_unit_test(connection_close), cmocka_unit_test(no_body),
      cmocka_unit_test(early_close),      cmocka_unit_test(serialize),  cmocka_unit_test(urls),
      cmocka_unit_test(errc_names),
  };
  return cmocka_run_group_tests_name("http_message", tests, nullptr, nullptr);
}
