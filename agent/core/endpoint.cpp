#include "core/endpoint.hpp"

#include <cctype>

namespace rig {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool valid_host(std::string_view h) {
  if (h.empty()) return false;
  if (h == "*") return true;
  if (h.front() == '[') {
    if (h.back() != ']' || h.size() < 3) return false;
    for (char c : h.substr(1, h.size() - 2))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    return true;
  }
  for (char c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

Expected<void> validate(std::string_view ep, bool for_bind) {
  const std::string quoted = "'" + std::string(ep) + "'";
  auto sep = ep.find("://");
  if (sep == std::string_view::npos)
    return make_error(quoted + " is not an endpoint (expected tcp://HOST:PORT or ipc://PATH)");
  const std::string_view scheme = ep.substr(0, sep), rest = ep.substr(sep + 3);
  if (scheme == "ipc") {
    if (rest.empty()) return make_error(quoted + ": ipc:// needs a path");
    if (rest.size() > 107) return make_error(quoted + ": ipc path is longer than the 107 bytes a socket path may have");
    return {};
  }
  if (scheme != "tcp")
    return make_error(quoted + ": transport '" + std::string(scheme) + "' is not supported (use tcp:// or ipc://)");
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return make_error(quoted + ": tcp:// needs HOST:PORT");
  const std::string_view host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (!valid_host(host)) return make_error(quoted + ": '" + std::string(host) + "' is not a host or address");
  if (!for_bind && host == "*") return make_error(quoted + ": a connect needs a concrete host, not *");
  if (port == "*") {
    if (!for_bind) return make_error(quoted + ": a connect needs a concrete port, not *");
    return {};
  }
  if (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
    return make_error(quoted + ": port '" + std::string(port) + "' is not 1-65535");
  return {};
}

}  // namespace

Expected<void> validate_bind_endpoint(std::string_view ep) { return validate(ep, true); }
Expected<void> validate_connect_endpoint(std::string_view ep) { return validate(ep, false); }

}  // namespace rig
