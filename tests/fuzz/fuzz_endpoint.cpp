// The endpoint checks (core/endpoint.hpp) on arbitrary strings: never throw (std::stoi is in
// there), never crash, and what a connect accepts a bind accepts too (a connect is stricter: no
// `*` host or port). Accepted endpoints have the documented shape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/endpoint.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view ep = fuzz::as_text(data, size);
  const auto bind = rig::validate_bind_endpoint(ep);
  const auto connect = rig::validate_connect_endpoint(ep);
  if (!bind) FUZZ_CHECK(!bind.error().message.empty());
  if (!connect) FUZZ_CHECK(!connect.error().message.empty());
  if (connect) FUZZ_CHECK(static_cast<bool>(bind));
  if (bind) {
    const bool ipc = ep.rfind("ipc://", 0) == 0, tcp = ep.rfind("tcp://", 0) == 0;
    FUZZ_CHECK(ipc || tcp);
    if (ipc) FUZZ_CHECK(ep.size() > 6 && ep.size() - 6 <= 107);
    if (tcp) {
      const std::string_view rest = ep.substr(6);
      const size_t colon = rest.rfind(':');
      FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
      const std::string_view port = rest.substr(colon + 1);
      if (port != "*") {
        FUZZ_CHECK(!port.empty() && port.size() <= 5);
        int p = 0;
        for (char c : port) {
          FUZZ_CHECK(c >= '0' && c <= '9');
          p = p * 10 + (c - '0');
        }
        FUZZ_CHECK(p >= 1 && p <= 65535);
      } else {
        FUZZ_CHECK(!connect);
      }
    }
  }
  return 0;
}
