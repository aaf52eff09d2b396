// parse_url: the upstream base URLs from the configuration. Strict on purpose: a typo should be
// reported at start-up, not turn into a request to some other host.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "net/http_client.hpp"

namespace rig::net {

namespace {

Error bad(std::string_view text, const std::string& why) {
  return make_error("bad URL \"" + std::string(text) + "\": " + why);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Letters, digits, '-', '.', '_' and no empty label: enough for DNS names and IPv4 literals.
bool valid_name(std::string_view h) {
  if (h.empty() || h.front() == '.' || h.find("..") != std::string_view::npos) return false;
  for (char c : h)
    if (!name_char(c)) return false;
  return true;
}

// Hex digits, ':' and '.' (an embedded IPv4 tail), at least two ':'; asio checks the rest when it
// connects. Zone ids ("%eth0") are refused: an upstream server is never link-local.
bool valid_ipv6(std::string_view h) {
  size_t colons = 0;
  for (char c : h) {
    if (c == ':') ++colons;
    else if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return colons >= 2;
}

}  // namespace

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<Url> parse_url(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad(text, "contains spaces or control characters");
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad(text, "expected http://host[:port][/path] or https://...");
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https")
    return bad(text, "unsupported scheme \"" + url.scheme + "\" (http or https)");
  url.port = url.tls() ? 443 : 80;

  std::string_view rest = text.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return bad(text, "user names and passwords in URLs are not supported");

  std::string_view host, port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']' after the IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad(text, "unexpected text after ']'");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    if (!valid_ipv6(host)) return bad(text, "bad IPv6 address \"" + std::string(host) + "\"");
  } else {
    if (std::count(authority.begin(), authority.end(), ':') > 1) return bad(text, "IPv6 addresses go in brackets (http://[::1]:8080)");
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    has_port = colon != std::string_view::npos;
    if (has_port) port = authority.substr(colon + 1);
    if (host.empty()) return bad(text, "no host");
    if (!valid_name(host)) return bad(text, "bad host name \"" + std::string(host) + "\" (IPv6 addresses go in brackets)");
  }
  url.host = lower(host);

  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad(text, "bad port \"" + std::string(port) + "\" (1-65535)");
    url.port = static_cast<uint16_t>(value);
  }

  if (!path.empty() && path.front() != '/') return bad(text, "query strings and fragments are not allowed in a base URL");
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad(text, "query strings and fragments are not allowed in a base URL");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path = std::string(path);
  return url;
}

}  // namespace rig::net
