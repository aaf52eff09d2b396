// A check of RE2 (Go regexp) syntax before a pattern goes to the agent: members-filtered and a
// query's tag filter with a pattern Go cannot compile make the agent drop the connection without
// a reply (serf-rpc.md §5). What this accepts, Go's regexp.Compile accepts; it may refuse a few
// exotic patterns Go would take (the error says which construct), never the other way round.
#pragma once

#include <string_view>

#include "core/expected.hpp"

namespace rig::serf {

Expected<void> check_regex(std::string_view pattern);

}  // namespace rig::serf
