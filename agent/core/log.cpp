#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace rig::log {
namespace {
std::atomic<Level> g_level{Level::info};
}

void set_level(Level l) { g_level.store(l, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "?";
}

Expected<Level> parse_level(std::string_view t) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off})
    if (t == level_name(l)) return l;
  return make_error("unknown log level '" + std::string(t) + "' (expected debug, info, warn, error or off)");
}

void write(Level l, std::string_view component, std::string_view message) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ts.tv_nsec / 1000000);
  std::string line;
  line.reserve(64 + message.size());
  line += stamp;
  line += ' ';
  line += level_name(l);
  line += " [";
  line += component;
  line += "] ";
  line += message;
  line += '\n';
  // One write so concurrent lines stay whole; stderr is unbuffered anyway.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace rig::log
