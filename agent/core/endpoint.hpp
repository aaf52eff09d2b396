// ZeroMQ endpoint syntax checks, so a typo in a config file is an error naming the key at load
// time rather than a bind failure later.
#pragma once

#include <string>
#include <string_view>

#include "core/expected.hpp"

namespace rig {

// tcp://HOST:PORT (HOST: *, IPv4, [IPv6], name; PORT: 1-65535 or * for any) or ipc://PATH.
Expected<void> validate_bind_endpoint(std::string_view endpoint);
// Same syntax, but a connect needs a concrete host and port.
Expected<void> validate_connect_endpoint(std::string_view endpoint);

}  // namespace rig
