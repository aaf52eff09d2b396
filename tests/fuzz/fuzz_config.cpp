// parse_config() on arbitrary text (docs/configuration.md): never throws, never crashes; an
// accepted configuration survives config_to_json() -> text -> parse_config() unchanged; every
// endpoint it accepted passes the bind-endpoint check on its own.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config.hpp"
#include "core/endpoint.hpp"
#include "core/log.hpp"
#include "fuzz_check.hpp"

namespace {

using rig::Config;

void check_equal(const Config& a, const Config& b) {
  FUZZ_CHECK(a.board == b.board);
  FUZZ_CHECK(a.log_level == b.log_level);
  FUZZ_CHECK(a.rpc.enable == b.rpc.enable);
  FUZZ_CHECK(a.rpc.identifier == b.rpc.identifier);
  FUZZ_CHECK(a.rpc.version == b.rpc.version);
  FUZZ_CHECK(a.rpc.heartbeat_interval == b.rpc.heartbeat_interval);
  FUZZ_CHECK(a.rpc.pub_endpoints == b.rpc.pub_endpoints);
  FUZZ_CHECK(a.rpc.command_endpoints == b.rpc.command_endpoints);
  FUZZ_CHECK(a.rpc.max_request_bytes == b.rpc.max_request_bytes);
  FUZZ_CHECK(a.rpc.queue_capacity == b.rpc.queue_capacity);
  FUZZ_CHECK(a.rpc.send_hwm == b.rpc.send_hwm);
  FUZZ_CHECK(a.rpc.linger_ms == b.rpc.linger_ms);
  FUZZ_CHECK(a.app_link.enable == b.app_link.enable);
  FUZZ_CHECK(a.app_link.endpoint == b.app_link.endpoint);
  FUZZ_CHECK(a.app_link.command_timeout_ms == b.app_link.command_timeout_ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto parsed = rig::parse_config(text, "fuzz.json");
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().message.empty());
    FUZZ_CHECK(parsed.error().message.rfind("fuzz.json: ", 0) == 0);
    return 0;
  }
  const Config& c = *parsed;

  // What was accepted is within the documented ranges.
  FUZZ_CHECK(!c.board.empty() && !c.log_level.empty() && !c.rpc.identifier.empty());
  FUZZ_CHECK(static_cast<bool>(rig::log::parse_level(c.log_level)));
  FUZZ_CHECK(c.rpc.heartbeat_interval >= 0.01 && c.rpc.heartbeat_interval <= 86400);
  FUZZ_CHECK(!c.rpc.pub_endpoints.empty() && !c.rpc.command_endpoints.empty());
  for (const auto& e : c.rpc.pub_endpoints) FUZZ_CHECK(static_cast<bool>(rig::validate_bind_endpoint(e)));
  for (const auto& e : c.rpc.command_endpoints) FUZZ_CHECK(static_cast<bool>(rig::validate_bind_endpoint(e)));
  FUZZ_CHECK(static_cast<bool>(rig::validate_bind_endpoint(c.app_link.endpoint)));
  FUZZ_CHECK(c.rpc.max_request_bytes >= 64 && c.rpc.max_request_bytes <= 4 * 1024 * 1024);
  FUZZ_CHECK(c.rpc.queue_capacity >= 1 && c.rpc.queue_capacity <= 10'000'000);
  FUZZ_CHECK(c.rpc.send_hwm >= 0 && c.rpc.send_hwm <= 10'000'000);
  FUZZ_CHECK(c.rpc.linger_ms >= 0 && c.rpc.linger_ms <= 60'000);
  FUZZ_CHECK(c.app_link.command_timeout_ms >= 1 && c.app_link.command_timeout_ms <= 600'000);

  // Round trip: the effective configuration printed as JSON reads back as the same configuration.
  const nlohmann::ordered_json j = rig::config_to_json(c);
  std::string dumped;
  try {
    dumped = j.dump(2);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "config_to_json() output does not serialise: %s\n", e.what());
    std::abort();
  }
  auto again = rig::parse_config(dumped, "round-trip");
  if (!again) {
    std::fprintf(stderr, "round trip rejected:\n%s\n%s\n", dumped.c_str(), again.error().message.c_str());
    std::abort();
  }
  check_equal(c, *again);
  FUZZ_CHECK(rig::config_to_json(*again) == j);
  return 0;
}
