// TLS for the HTTP client with Mbed TLS 2.28: a per-client context (CA bundle, random generator,
// configuration: TLS 1.2 or newer, certificate and host name verified) and a Stream that runs a
// session over a non-blocking socket, waiting with asio for WANT_READ / WANT_WRITE.
//
// Host names: Mbed TLS 2.28 matches the name given to mbedtls_ssl_set_hostname against the
// certificate's DNS subjectAltNames (or its CN when it has no subjectAltName) only; iPAddress
// subjectAltNames are ignored. A server reached by IP address therefore needs a certificate with
// that address as a DNS subjectAltName (e.g. "DNS:192.0.2.7", next to "IP:192.0.2.7" for other
// clients), or TlsOptions::server_name set to a name the certificate carries.
#pragma once

#include <memory>
#include <string>

#include <asio/ip/tcp.hpp>

#include "core/expected.hpp"
#include "net/http_client.hpp"
#include "net/stream.hpp"

namespace rig::net {

constexpr const char* kDefaultCaFile = "/etc/ssl/certs/ca-certificates.crt";

class TlsContext;  // opaque: keeps Mbed TLS out of the headers

// Loads the CA bundle (options.ca_file, or kDefaultCaFile) and seeds the random generator. Errors
// name the file. With verify == false no bundle is loaded and no certificate is checked.
Expected<std::shared_ptr<TlsContext>> load_tls_context(const TlsOptions& options);

// A TLS client session over a connected socket; start() runs the handshake, which fails (code
// HttpErrc::tls_failed) unless the certificate chains to the bundle and is for `server_name`.
Expected<std::shared_ptr<Stream>> make_tls_stream(asio::ip::tcp::socket socket, std::shared_ptr<TlsContext> context,
                                                  const std::string& server_name);

}  // namespace rig::net
