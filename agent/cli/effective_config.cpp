#include "cli/effective_config.hpp"

#include "core/log.hpp"
#include "hal/board.hpp"

namespace rig::cli {

Expected<Config> effective_config(Args& args) {
  auto path = args.value("--config");
  auto board = args.value("--board");
  auto level = args.value("--log-level");
  // Command-line mistakes first: they are usage errors (exit 2), not configuration errors.
  if (level && !log::parse_level(*level))
    return make_error("--log-level: " + log::parse_level(*level).error().message, exit_code::usage);
  if (board && !hal::looks_like_board_path(*board))
    if (auto b = hal::load_board(*board); !b) return make_error("--board: " + b.error().message, exit_code::usage);
  Expected<Config> cfg = path ? load_config_file(*path) : parse_config("{}", "built-in default");
  if (!cfg) return cfg;
  if (level) cfg->log_level = *level;
  if (board) cfg->board = *board;
  // The board is part of the configuration: a bad board file is a configuration error (exit 3).
  if (auto b = hal::load_board(cfg->board); !b)
    return make_error(board ? b.error().message : (path ? *path : std::string("configuration")) + ": board: " + b.error().message);
  return cfg;
}

}  // namespace rig::cli
