#include "net/tls.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // the MBEDTLS_ERR_NET_* codes the BIO callbacks return
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

namespace rig::net {

class TlsContext {
 public:
  TlsContext() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&conf);
  }
  ~TlsContext() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_ssl_config conf;
};

namespace {

constexpr int kTlsFailed = static_cast<int>(HttpErrc::tls_failed);
constexpr int kClosed = static_cast<int>(HttpErrc::connection_closed);
constexpr int kWaitFailed = INT_MIN;  // not an Mbed TLS code: the socket wait ended with an error

std::string mbed_error(int ret) {
  char buf[200];
  mbedtls_strerror(ret, buf, sizeof buf);
  return buf;
}

// mbedtls_x509_crt_verify_info's lines, on one line.
std::string verify_info(uint32_t flags) {
  char buf[1024];
  if (mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags) < 0) return "?";
  std::string out;
  for (const char* p = buf; *p;) {
    const char* nl = std::strchr(p, '\n');
    const size_t n = nl ? static_cast<size_t>(nl - p) : std::strlen(p);
    if (n) out += (out.empty() ? "" : "; ") + std::string(p, n);
    p += n + (nl ? 1 : 0);
  }
  return out;
}

class TlsStream final : public Stream, public std::enable_shared_from_this<TlsStream> {
 public:
  TlsStream(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context, std::string server_name)
      : socket_(std::move(socket)), context_(std::move(context)), server_name_(std::move(server_name)) {
    mbedtls_ssl_init(&ssl_);
  }
  ~TlsStream() override { mbedtls_ssl_free(&ssl_); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  Expected<void> setup() {
    int ret = mbedtls_ssl_setup(&ssl_, &context_->conf);
    if (ret == 0) ret = mbedtls_ssl_set_hostname(&ssl_, server_name_.c_str());  // SNI and the name checked
    if (ret != 0) return Error{"TLS setup failed: " + mbed_error(ret), kTlsFailed};
    std::error_code ec;
    socket_.non_blocking(true, ec);  // the BIO callbacks call send()/recv() on the descriptor
    if (ec) return Error{"TLS setup failed: " + ec.message(), kTlsFailed};
    mbedtls_ssl_set_bio(&ssl_, this, &TlsStream::bio_send, &TlsStream::bio_recv, nullptr);
    return {};
  }

  void start(std::function<void(Expected<void>)> done) override {
    drive([this] { return mbedtls_ssl_handshake(&ssl_); },
          [this, done = std::move(done)](int ret) {
            established_ = ret == 0;
            done(ret == 0 ? Expected<void>() : Expected<void>(handshake_error(ret)));
          });
  }

  void write(std::string_view data, IoHandler done) override {
    auto sent = std::make_shared<size_t>(0);
    // After WANT_WRITE, Mbed TLS wants the same call again with the same data: `sent` moves on
    // only over what it accepted.
    drive(
        [this, data, sent] {
          while (*sent < data.size()) {
            const int n = mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(data.data() + *sent), data.size() - *sent);
            if (n < 0) return n;
            *sent += static_cast<size_t>(n);
          }
          return 0;
        },
        [this, sent, done = std::move(done)](int ret) {
          done(ret == 0 ? Expected<size_t>(*sent) : Expected<size_t>(io_failure(ret, "sending the request")));
        });
  }

  void read_some(char* data, size_t size, IoHandler done) override {
    drive([this, data, size] { return mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(data), size); },
          [this, done = std::move(done)](int ret) {
            // A close without close_notify counts as a close too: servers often skip it, and every
            // body this client accepts is delimited by its length or its chunks, except a body
            // that ends with the connection, which Python's and many other servers end that way.
            if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) return done(size_t{0});
            done(ret > 0 ? Expected<size_t>(static_cast<size_t>(ret)) : Expected<size_t>(io_failure(ret, "reading the response")));
          });
  }

  bool idle_usable() override {
    return socket_.is_open() && established_ && mbedtls_ssl_check_pending(&ssl_) == 0 &&
           detail::peer_silent(socket_.native_handle());
  }

  void close() override {
    // A close_notify is polite but optional; only when no record is half written.
    if (established_ && busy_ == 0 && socket_.is_open()) (void)mbedtls_ssl_close_notify(&ssl_);
    established_ = false;
    std::error_code ignored;
    socket_.close(ignored);
  }

 private:
  // Calls `attempt` until it returns something other than WANT_READ / WANT_WRITE, waiting for the
  // socket in between; then `finished` gets its result (kWaitFailed: see wait_error_).
  void drive(std::function<int()> attempt, std::function<void(int)> finished) {
    const int ret = attempt();
    if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) return finished(ret);
    ++busy_;
    const auto what = ret == MBEDTLS_ERR_SSL_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write;
    socket_.async_wait(what, [self = shared_from_this(), attempt = std::move(attempt), finished = std::move(finished)](
                                 const std::error_code& ec) mutable {
      --self->busy_;
      if (ec) {
        self->wait_error_ = ec;
        return finished(kWaitFailed);
      }
      self->drive(std::move(attempt), std::move(finished));
    });
  }

  static int bio_send(void* p, const unsigned char* buf, size_t len) {
    auto* self = static_cast<TlsStream*>(p);
    const ssize_t n = ::send(self->socket_.native_handle(), buf, std::min<size_t>(len, INT_MAX), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    self->errno_ = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
  }

  static int bio_recv(void* p, unsigned char* buf, size_t len) {
    auto* self = static_cast<TlsStream*>(p);
    const ssize_t n = ::recv(self->socket_.native_handle(), buf, std::min<size_t>(len, INT_MAX), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    self->errno_ = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
  }

  Error io_failure(int ret, const char* doing) {
    if (ret == kWaitFailed) return detail::io_error(wait_error_, doing);
    if (ret == MBEDTLS_ERR_NET_CONN_RESET) return Error{std::string("the server reset the connection while ") + doing, kClosed};
    std::string detail = mbed_error(ret);
    if (ret == MBEDTLS_ERR_NET_SEND_FAILED || ret == MBEDTLS_ERR_NET_RECV_FAILED) detail += ": " + std::string(std::strerror(errno_));
    return Error{std::string("TLS error while ") + doing + ": " + detail, kClosed};
  }

  Error handshake_error(int ret) {
    if (ret == kWaitFailed) return detail::io_error(wait_error_, "in the TLS handshake");
    std::string m = "TLS handshake failed: ";
    const uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != UINT32_MAX) {
      if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) m += "certificate not trusted";
      else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) m += "certificate is not for \"" + server_name_ + "\"";
      else if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) m += "certificate expired or not yet valid";
      else m += "certificate rejected";
      m += " (" + mbed_error(ret) + "; flags: " + verify_info(flags) + ")";
    } else if (ret == MBEDTLS_ERR_NET_CONN_RESET || ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == MBEDTLS_ERR_SSL_INVALID_RECORD) {
      m += mbed_error(ret) + " (is it a TLS server, with TLS 1.2 or newer?)";
    } else {
      m += mbed_error(ret);
    }
    return Error{m, kTlsFailed};
  }

  asio::ip::tcp::socket socket_;
  std::shared_ptr<TlsContext> context_;  // the configuration ssl_ points into
  std::string server_name_;
  mbedtls_ssl_context ssl_;
  bool established_ = false;
  int busy_ = 0;  // socket waits in flight
  int errno_ = 0;
  std::error_code wait_error_;
};

}  // namespace

Expected<std::shared_ptr<TlsContext>> load_tls_context(const TlsOptions& options) {
  auto ctx = std::make_shared<TlsContext>();
  auto fail = [](std::string m) { return Error{std::move(m), kTlsFailed}; };
  static const char kPersonalisation[] = "rigagent-http";
  int ret = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy,
                                  reinterpret_cast<const unsigned char*>(kPersonalisation), sizeof kPersonalisation - 1);
  if (ret != 0) return fail("cannot seed the TLS random generator: " + mbed_error(ret));
  if (options.verify) {
    const std::string file = options.ca_file.empty() ? kDefaultCaFile : options.ca_file;
    if (::access(file.c_str(), R_OK) != 0) return fail("cannot read the CA bundle " + file + ": " + std::strerror(errno));
    // A positive result is the number of entries that did not parse: the others still count.
    ret = mbedtls_x509_crt_parse_file(&ctx->ca, file.c_str());
    if (ret < 0) return fail("cannot load the CA bundle " + file + ": " + mbed_error(ret));
    if (ctx->ca.version == 0) return fail("no usable CA certificate in " + file);
  }
  ret = mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return fail("TLS configuration failed: " + mbed_error(ret));
  mbedtls_ssl_conf_authmode(&ctx->conf, options.verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
  mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, nullptr);
  mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);
  mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);  // TLS 1.2
  // Mbed TLS 2.28 offers secp521r1 first; a server that follows the client's order then costs a
  // board ~10 ms of CPU per handshake (measured in rigagent-bench) instead of ~5 ms with P-256.
  static const mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                                 MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
                                                 MBEDTLS_ECP_DP_NONE};
  mbedtls_ssl_conf_curves(&ctx->conf, kCurves);
  return ctx;
}

Expected<std::shared_ptr<Stream>> make_tls_stream(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context,
                                                  const std::string& server_name) {
  auto stream = std::make_shared<TlsStream>(std::move(socket), std::move(context), server_name);
  if (auto ok = stream->setup(); !ok) return ok.error();
  return std::shared_ptr<Stream>(std::move(stream));
}

}  // namespace rig::net
