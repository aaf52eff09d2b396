#include "cli/effective_config.hpp"

#include "core/log.hpp"

namespace rig::cli {
namespace {
// Boards this build knows. The HAL issue turns these into data files under boards/.
const char* const kBoards[] = {"sim"};
}  // namespace

Expected<Config> effective_config(Args& args) {
  auto path = args.value("--config");
  auto board = args.value("--board");
  auto level = args.value("--log-level");
  Expected<Config> cfg = path ? load_config_file(*path) : parse_config("{}", "built-in default");
  if (!cfg) return cfg;
  if (board) cfg->board = *board;
  if (level) cfg->log_level = *level;
  if (auto l = log::parse_level(cfg->log_level); !l) return make_error("log level: " + l.error().message);
  bool known = false;
  std::string list;
  for (const char* b : kBoards) {
    known = known || cfg->board == b;
    list += (list.empty() ? "" : ", ") + std::string(b);
  }
  if (!known) return make_error("unknown board '" + cfg->board + "' (this build knows: " + list + ")");
  return cfg;
}

}  // namespace rig::cli
