// `rigagent print-config`: the effective configuration as JSON.
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/effective_config.hpp"
#include "core/out.hpp"
#include "daemon.hpp"

namespace rig::cli {

int print_config_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::puts("usage: rigagent print-config [--config FILE] [--board NAME] [--log-level LEVEL]\n\n"
              "Validates the configuration and prints the effective one (defaults filled in) as JSON.\n"
              "Exit codes: 0 valid, 2 bad command line, 3 invalid configuration.");
    return exit_code::ok;
  }
  auto cfg = effective_config(args);
  if (auto f = args.finish(); !f) {
    std::fprintf(stderr, "rigagent print-config: %s\n", f.error().message.c_str());
    return exit_code::usage;
  }
  if (!cfg) {
    std::fprintf(stderr, "rigagent: %s\n", cfg.error().message.c_str());
    return cfg.error().code == exit_code::usage ? exit_code::usage : exit_code::config;
  }
  auto j = config_to_json(*cfg);
  if (j["rpc"]["version"].get<std::string>().empty()) j["rpc"]["version"] = service_options(*cfg).version;
  stdio::out(j.dump(2) + "\n");
  return exit_code::ok;
}

}  // namespace rig::cli
