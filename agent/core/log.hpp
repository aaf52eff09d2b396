// Leveled logging to stderr. One line per record, written with a single write(2) so lines from
// different threads never interleave. Each line starts with a UTC timestamp, except when stderr is
// the journal (a systemd service: $JOURNAL_STREAM names it), where journald stamps the line and
// a "<N>" syslog priority prefix replaces the timestamp.
#pragma once

#include <string>
#include <string_view>

#include "core/expected.hpp"

namespace rig::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
Expected<Level> parse_level(std::string_view text);
const char* level_name(Level level);

void write(Level level, std::string_view component, std::string_view message);

inline bool enabled(Level l) { return l >= level(); }
inline void debug(std::string_view c, std::string_view m) { if (enabled(Level::debug)) write(Level::debug, c, m); }
inline void info(std::string_view c, std::string_view m) { if (enabled(Level::info)) write(Level::info, c, m); }
inline void warn(std::string_view c, std::string_view m) { if (enabled(Level::warn)) write(Level::warn, c, m); }
inline void error(std::string_view c, std::string_view m) { if (enabled(Level::error)) write(Level::error, c, m); }

}  // namespace rig::log
