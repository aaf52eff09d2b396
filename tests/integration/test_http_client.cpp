// The HTTP client against a real server (http_echo_server.py, started and stopped by each test):
// keep-alive, servers that close, chunked bodies, deadlines, refused connections, TLS with the
// right CA, the wrong CA and the wrong name, and close() with requests queued.
//
//   test_http_client PYTHON3 http_echo_server.py make_test_certs.sh
#include "support/cmocka.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "net/http_client.hpp"

extern char** environ;

using namespace rig;
using namespace rig::net;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string g_python, g_server, g_make_certs, g_certs;

// Runs argv to completion; its exit status.
int run_and_wait(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The echo server, for the lifetime of the object. Its stdin is a pipe from us: if this test
// dies, the pipe closes and the server exits (--parent-watch).
class Server {
 public:
  explicit Server(std::vector<std::string> options = {}) {
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) fail_msg("pipe failed");
    std::vector<std::string> args = {g_python, g_server, "--parent-watch"};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(in[0]);
    stdin_ = in[1];
    if (rc != 0) fail_msg("cannot start %s: %s", g_python.c_str(), strerror(rc));
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    char c;
    while (line.find('\n') == std::string::npos && poll(&p, 1, 10000) == 1 && read(out[0], &c, 1) == 1) line += c;
    close(out[0]);
    port_ = static_cast<uint16_t>(std::atoi(line.c_str()));
    if (port_ == 0) fail_msg("the echo server did not print its port");
  }
  ~Server() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    close(stdin_);
  }
  uint16_t port() const { return port_; }
  std::string url(const std::string& scheme = "http", const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(port_);
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  uint16_t port_ = 0;
};

std::vector<std::string> tls_server_options(const std::string& cert = "server") {
  return {"--cert", g_certs + "/" + cert + ".pem", "--key", g_certs + "/" + cert + ".key"};
}

std::shared_ptr<HttpClient> make_client(asio::io_context& io, const std::string& url, HttpOptions options = {}) {
  auto origin = parse_url(url);
  if (!origin) fail_msg("%s", origin.error().message.c_str());
  auto client = HttpClient::create(io, *origin, options);
  if (!client) fail_msg("create: %s", client.error().message.c_str());
  return *client;
}

// Runs the io_context until `done` or 20 s.
template <typename Pred>
void run_until(asio::io_context& io, Pred done) {
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!done() && std::chrono::steady_clock::now() < end) {
    if (io.stopped()) io.restart();
    io.run_one_for(50ms);
  }
  if (!done()) fail_msg("no callback within 20 s");
}

Expected<HttpResponse> call(asio::io_context& io, HttpClient& client, HttpRequest request,
                            std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
  std::optional<Expected<HttpResponse>> result;
  client.request(std::move(request), [&](Expected<HttpResponse> r) { result.emplace(std::move(r)); }, timeout);
  run_until(io, [&] { return result.has_value(); });
  return std::move(*result);
}

json echo(asio::io_context& io, HttpClient& client, HttpRequest request) {
  auto r = call(io, client, std::move(request));
  if (!r) fail_msg("%s", r.error().message.c_str());
  if (r->status != 200) fail_msg("HTTP %d", r->status);
  return json::parse(r->body);
}

HttpRequest get(const std::string& target = "/") { return HttpRequest{"GET", target, {}, ""}; }

void expect_error(const Expected<HttpResponse>& r, HttpErrc code, const std::string& contains) {
  if (r) fail_msg("expected %s, got HTTP %d", to_string(code), r->status);
  if (r.error().code != static_cast<int>(code))
    fail_msg("expected %s, got %s: %s", to_string(code), to_string(static_cast<HttpErrc>(r.error().code)), r.error().message.c_str());
  if (r.error().message.find(contains) == std::string::npos)
    fail_msg("'%s' does not contain '%s'", r.error().message.c_str(), contains.c_str());
  print_message("  %s: %s\n", to_string(code), r.error().message.c_str());  // the messages are part of the interface
}

// A port nothing listens on: bound, never listening, closed.
uint16_t closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

static void keep_alive(void**) {
  Server server;
  asio::io_context io;
  auto client = make_client(io, server.url() + "/base/");
  for (int i = 0; i < 20; ++i) {
    const bool post = i % 2;
    HttpRequest r = post ? HttpRequest{"POST", "/api/items", {{"Content-Type", "application/json"}}, "{\"n\": " + std::to_string(i) + "}"}
                         : get("/api/items?n=" + std::to_string(i));
    json e = echo(io, *client, r);
    assert_str(e["method"].get<std::string>(), post ? "POST" : "GET");
    assert_str(e["path"].get<std::string>(), r.target);
    assert_str(e["body"].get<std::string>(), r.body);
    assert_str(e["headers"]["host"].get<std::string>(), "127.0.0.1:" + std::to_string(server.port()));
    assert_str(e["headers"]["connection"].get<std::string>(), "keep-alive");
    assert_str(e["headers"]["user-agent"].get<std::string>(), "rigagent");
    if (post) assert_str(e["headers"]["content-length"].get<std::string>(), std::to_string(r.body.size()));
    else assert_false(e["headers"].contains("content-length"));
    assert_int_equal(e["connection"].get<int>(), 1);
    assert_int_equal(e["request"].get<int>(), i + 1);
  }
  const auto s = client->stats();
  assert_int_equal(s.connections, 1);
  assert_int_equal(s.requests, 20);
  assert_int_equal(s.reused, 19);
}

// Requests made together go one at a time, in order, on the one connection.
static void queued_in_order(void**) {
  Server server({"--delay-ms", "20"});
  asio::io_context io;
  auto client = make_client(io, server.url());
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    client->request(get("/" + std::to_string(i)), [&order, i](Expected<HttpResponse> r) {
      if (!r) fail_msg("%s", r.error().message.c_str());
      assert_str(json::parse(r->body)["path"].get<std::string>(), "/" + std::to_string(i));
      order.push_back(i);
    });
  run_until(io, [&] { return order.size() == 5; });
  assert_true((order == std::vector<int>{0, 1, 2, 3, 4}));
  assert_int_equal(client->stats().connections, 1);
}

// The server closes after every response, without saying so: each request gets a new connection,
// whether the client notices the close before sending (the pause) or only after (no pause).
static void server_closes_between_requests(void**) {
  Server server({"--close-after-response"});
  asio::io_context io;
  auto client = make_client(io, server.url());
  for (int i = 0; i < 3; ++i) {
    assert_int_equal(echo(io, *client, get())["request"].get<int>(), 1);
    std::this_thread::sleep_for(200ms);
  }
  assert_int_equal(client->stats().reused, 0);  // the close was seen while idle: nothing resent
  for (int i = 0; i < 5; ++i) assert_int_equal(echo(io, *client, get())["request"].get<int>(), 1);
  assert_int_equal(client->stats().connections, 8);
  assert_int_equal(client->stats().requests, 8);
}

// A reused connection closed on the request, with no byte of answer: sent again, once.
static void resend_once(void**) {
  Server server({"--drop-reused"});
  asio::io_context io;
  auto client = make_client(io, server.url());
  assert_int_equal(echo(io, *client, get())["connection"].get<int>(), 1);
  json e = echo(io, *client, get());  // dropped on connection 1, answered on 2
  assert_int_equal(e["connection"].get<int>(), 2);
  assert_int_equal(e["request"].get<int>(), 1);
  assert_int_equal(client->stats().connections, 2);
  // /drop is never answered: on a reused connection it goes out twice, then fails.
  expect_error(call(io, *client, get("/drop")), HttpErrc::connection_closed, "GET /drop: the server closed the connection without responding");
  assert_int_equal(client->stats().connections, 3);
  // On a new connection, once.
  expect_error(call(io, *client, get("/drop")), HttpErrc::connection_closed, "without responding");
  assert_int_equal(client->stats().connections, 4);
  assert_int_equal(client->stats().requests, 2);
}

static void connection_close(void**) {
  Server server;
  asio::io_context io;
  auto client = make_client(io, server.url());
  auto r = call(io, *client, get("/?close=1"));
  assert_true(r.has_value());
  assert_str(*r->header("Connection"), "close");
  assert_int_equal(echo(io, *client, get())["connection"].get<int>(), 2);
  assert_int_equal(echo(io, *client, get())["connection"].get<int>(), 2);
  assert_int_equal(client->stats().connections, 2);
}

static void chunked(void**) {
  Server server({"--chunked"});
  asio::io_context io;
  auto client = make_client(io, server.url());
  for (int i = 0; i < 3; ++i) {
    const std::string body(100 + i, 'x');  // several chunks of 16 bytes in the echo
    json e = echo(io, *client, HttpRequest{"PUT", "/chunks", {}, body});
    assert_str(e["body"].get<std::string>(), body);
  }
  assert_int_equal(client->stats().connections, 1);
  auto head = call(io, *client, HttpRequest{"HEAD", "/", {}, ""});
  assert_true(head.has_value());
  assert_str(head->body, "");
}

static void request_timeout(void**) {
  Server server;
  asio::io_context io;
  HttpOptions options;
  options.request_timeout = 300ms;
  auto client = make_client(io, server.url(), options);
  const auto start = std::chrono::steady_clock::now();
  expect_error(call(io, *client, get("/?delay_ms=2000")), HttpErrc::timeout,
               server.url() + ": GET /?delay_ms=2000: no complete response within 300 ms");
  assert_true(std::chrono::steady_clock::now() - start < 1500ms);
  // A per-request timeout, then the client goes on with a new connection.
  expect_error(call(io, *client, get("/?delay_ms=2000"), 100ms), HttpErrc::timeout, "within 100 ms");
  assert_int_equal(echo(io, *client, get("/?delay_ms=50"))["request"].get<int>(), 1);
  assert_int_equal(client->stats().connections, 3);
  assert_int_equal(client->stats().requests, 1);
}

static void connection_refused(void**) {
  asio::io_context io;
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  auto client = make_client(io, url);
  expect_error(call(io, *client, get()), HttpErrc::connect_failed, url + ": cannot connect: Connection refused");
  expect_error(call(io, *client, get()), HttpErrc::connect_failed, "refused");  // and again, not stuck
  assert_int_equal(client->stats().connections, 0);
}

// A name that cannot resolve (RFC 6761 .invalid); a resolver that does not answer at all counts
// against connect_timeout instead.
static void resolve_failure(void**) {
  asio::io_context io;
  HttpOptions options;
  options.connect_timeout = 3000ms;
  auto client = make_client(io, "http://nonexistent.invalid:8080", options);
  auto r = call(io, *client, get());
  assert_false(r.has_value());
  if (r.error().code == static_cast<int>(HttpErrc::timeout)) return expect_error(r, HttpErrc::timeout, "(resolving nonexistent.invalid)");
  expect_error(r, HttpErrc::resolve_failed, "http://nonexistent.invalid:8080: cannot resolve nonexistent.invalid: ");
}

static void tls_trusted(void**) {
  Server server(tls_server_options());
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/ca.pem";
  auto client = make_client(io, server.url("https"), options);
  for (int i = 0; i < 5; ++i) {
    json e = echo(io, *client, HttpRequest{"POST", "/secure", {}, "secret " + std::to_string(i)});
    assert_str(e["body"].get<std::string>(), "secret " + std::to_string(i));
  }
  assert_int_equal(client->stats().connections, 1);
  assert_int_equal(client->stats().reused, 4);
  // By name; "localhost" may resolve to ::1 first, where nothing listens: the next address is tried.
  auto by_name = make_client(io, server.url("https", "localhost"), options);
  assert_int_equal(echo(io, *by_name, get())["request"].get<int>(), 1);
}

// Over TLS too: a server that closes (close=1), and one that drops a request on a reused
// connection, which the client then resends on a new one.
static void tls_reconnects(void**) {
  Server server([] {
    auto o = tls_server_options();
    o.push_back("--drop-reused");
    return o;
  }());
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/ca.pem";
  auto client = make_client(io, server.url("https"), options);
  assert_int_equal(echo(io, *client, get("/?close=1"))["connection"].get<int>(), 1);
  assert_int_equal(echo(io, *client, get())["connection"].get<int>(), 2);
  assert_int_equal(echo(io, *client, get())["connection"].get<int>(), 3);  // dropped on 2, resent
  assert_int_equal(client->stats().connections, 3);
  assert_int_equal(client->stats().reused, 1);
}

static void tls_wrong_ca(void**) {
  Server server(tls_server_options());
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/other-ca.pem";
  auto client = make_client(io, server.url("https"), options);
  expect_error(call(io, *client, get()), HttpErrc::tls_failed,
               server.url("https") + ": TLS handshake failed: certificate not trusted (X509 - Certificate verification failed");
  auto r = call(io, *client, get());
  expect_error(r, HttpErrc::tls_failed, "flags: The certificate is not correctly signed by the trusted CA");
  assert_int_equal(client->stats().connections, 0);
}

static void tls_wrong_name(void**) {
  Server server(tls_server_options());
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/ca.pem";
  options.tls.server_name = "wrong.example";
  auto client = make_client(io, server.url("https"), options);
  expect_error(call(io, *client, get()), HttpErrc::tls_failed, "TLS handshake failed: certificate is not for \"wrong.example\"");
}

// Mbed TLS 2.28 does not match iPAddress subjectAltNames (tls.hpp): a certificate naming
// 127.0.0.1 only as an IP is refused for https://127.0.0.1, and accepted by a DNS name it has.
static void tls_ip_san_not_matched(void**) {
  Server server(tls_server_options("ip-only"));
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/ca.pem";
  auto client = make_client(io, server.url("https"), options);
  expect_error(call(io, *client, get()), HttpErrc::tls_failed, "certificate is not for \"127.0.0.1\"");
  options.tls.server_name = "localhost";
  auto named = make_client(io, server.url("https"), options);
  assert_int_equal(echo(io, *named, get())["request"].get<int>(), 1);
}

static void tls_setup_errors(void**) {
  asio::io_context io;
  HttpOptions options;
  options.tls.ca_file = g_certs + "/missing.pem";
  auto c = HttpClient::create(io, *parse_url("https://127.0.0.1:1"), options);
  assert_false(c.has_value());
  assert_int_equal(c.error().code, static_cast<int>(HttpErrc::tls_failed));
  assert_str(c.error().message, "https://127.0.0.1:1: cannot read the CA bundle " + options.tls.ca_file + ": No such file or directory");
  // TLS spoken to a plain HTTP server, and plain HTTP to a TLS server: errors, not hangs.
  Server plain;
  options.tls.ca_file = g_certs + "/ca.pem";
  auto tls_client = make_client(io, plain.url("https"), options);
  expect_error(call(io, *tls_client, get()), HttpErrc::tls_failed, "TLS handshake failed");
  Server tls(tls_server_options());
  auto plain_client = make_client(io, tls.url());
  auto r = call(io, *plain_client, get());
  assert_false(r.has_value());
  if (r.error().code == static_cast<int>(HttpErrc::bad_response)) expect_error(r, HttpErrc::bad_response, "not an HTTP/1.x response");
  else expect_error(r, HttpErrc::connection_closed, "GET /: the server ");  // closed or reset
}

static void close_cancels(void**) {
  Server server({"--delay-ms", "1000"});
  asio::io_context io;
  auto client = make_client(io, server.url());
  std::vector<std::string> errors;
  for (int i = 0; i < 3; ++i)
    client->request(get("/" + std::to_string(i)), [&errors](Expected<HttpResponse> r) {
      assert_false(r.has_value());
      assert_int_equal(r.error().code, static_cast<int>(HttpErrc::cancelled));
      errors.push_back(r.error().message);
    });
  asio::steady_timer timer(io, 200ms);  // the first request is in flight by then
  timer.async_wait([&](const std::error_code&) { client->close(); });
  run_until(io, [&] { return errors.size() == 3; });
  for (int i = 0; i < 3; ++i) assert_str(errors[static_cast<size_t>(i)], server.url() + ": GET /" + std::to_string(i) + ": cancelled: the client was closed");
  assert_int_equal(client->stats().requests, 0);
  // Closed for good.
  expect_error(call(io, *client, get()), HttpErrc::cancelled, "cancelled");
}

static void bad_requests_and_limits(void**) {
  Server server;
  asio::io_context io;
  HttpOptions options;
  options.max_response_bytes = 100;
  auto client = make_client(io, server.url(), options);
  expect_error(call(io, *client, HttpRequest{"GET", "/", {{"X", "a\r\nb"}}, ""}), HttpErrc::invalid_request, "CR, LF or NUL");
  expect_error(call(io, *client, get("/" + std::string(200, 'x'))), HttpErrc::bad_response, "bad response: Content-Length");
  expect_error(call(io, *client, get("/" + std::string(200, 'x') + "?chunked=1")), HttpErrc::bad_response,
               "chunked response body exceeds the limit of 100 bytes");
  assert_int_equal(client->stats().connections, 2);
  auto r = call(io, *make_client(io, server.url()), get("/?status=404"));
  if (!r) fail_msg("%s", r.error().message.c_str());
  assert_int_equal(r->status, 404);  // an HTTP error status is a response, not an error
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PYTHON3 http_echo_server.py make_test_certs.sh\n", argv[0]);
    return 2;
  }
  g_python = argv[1];
  g_server = argv[2];
  g_make_certs = argv[3];
  char dir[] = "/tmp/rigagent-http-test-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  g_certs = dir;
  if (run_and_wait({"/bin/sh", g_make_certs, g_certs}) != 0) {
    std::fprintf(stderr, "%s failed (is openssl installed? tools/setup-host.sh)\n", g_make_certs.c_str());
    std::filesystem::remove_all(g_certs);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(keep_alive),          cmocka_unit_test(queued_in_order),   cmocka_unit_test(server_closes_between_requests),
      cmocka_unit_test(resend_once),         cmocka_unit_test(connection_close),  cmocka_unit_test(chunked),
      cmocka_unit_test(request_timeout),     cmocka_unit_test(connection_refused), cmocka_unit_test(resolve_failure),
      cmocka_unit_test(tls_trusted),         cmocka_unit_test(tls_reconnects),
      cmocka_unit_test(tls_wrong_ca),        cmocka_unit_test(tls_wrong_name),    cmocka_unit_test(tls_ip_san_not_matched),
      cmocka_unit_test(tls_setup_errors),    cmocka_unit_test(close_cancels),     cmocka_unit_test(bad_requests_and_limits),
  };
  const int failed = cmocka_run_group_tests_name("http_client", tests, nullptr, nullptr);
  std::filesystem::remove_all(g_certs);
  return failed;
}
