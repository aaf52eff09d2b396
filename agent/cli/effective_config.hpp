// The configuration a subcommand runs with: the built-in default or --config FILE, then
// command-line overrides (--board, --log-level).
#pragma once

#include "cli/args.hpp"
#include "core/config.hpp"

namespace rig::cli {

Expected<Config> effective_config(Args& args);

}  // namespace rig::cli
