// The configuration a subcommand runs with: the built-in default or --config FILE, then
// command-line overrides (--board, --log-level).
#pragma once

#include "cli/args.hpp"
#include "core/config.hpp"

namespace rig::cli {

// Error.code is exit_code::usage for a bad override on the command line, else 0 (a bad file).
Expected<Config> effective_config(Args& args);

}  // namespace rig::cli
