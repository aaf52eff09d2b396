#include "cli/effective_config.hpp"

#include <algorithm>
#include <iterator>

#include "core/log.hpp"

namespace rig::cli {
namespace {

// Boards this build knows. The HAL issue turns these into data files under boards/.
const char* const kBoards[] = {"sim"};

bool known_board(const std::string& name) {
  return std::any_of(std::begin(kBoards), std::end(kBoards), [&](const char* b) { return name == b; });
}

std::string board_list() {
  std::string list;
  for (const char* b : kBoards) list += (list.empty() ? "" : ", ") + std::string(b);
  return list;
}

}  // namespace

Expected<Config> effective_config(Args& args) {
  auto path = args.value("--config");
  auto board = args.value("--board");
  auto level = args.value("--log-level");
  // Command-line mistakes first: they are usage errors (exit 2), not configuration errors.
  if (level && !log::parse_level(*level))
    return make_error("--log-level: " + log::parse_level(*level).error().message, exit_code::usage);
  if (board && !known_board(*board))
    return make_error("--board: unknown board '" + *board + "' (this build knows: " + board_list() + ")",
                      exit_code::usage);
  Expected<Config> cfg = path ? load_config_file(*path) : parse_config("{}", "built-in default");
  if (!cfg) return cfg;
  if (level) cfg->log_level = *level;
  if (board) cfg->board = *board;
  if (!known_board(cfg->board))
    return make_error((path ? *path : std::string("configuration")) + ": board: unknown board '" + cfg->board +
                      "' (this build knows: " + board_list() + ")");
  return cfg;
}

}  // namespace rig::cli
