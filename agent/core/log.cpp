#include "core/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace rig::log {
namespace {
std::atomic<Level> g_level{Level::info};

// systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connects a service's stderr to. When
// stderr still is that stream, journald timestamps every line itself and takes the priority from a
// "<N>" prefix (sd-daemon(3)): `journalctl -p warning` then works, and no second timestamp clutters
// `journalctl -u rigagent`.
bool stderr_is_journal() {
  static const bool journal = [] {
    const char* e = std::getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st {};
    return e && std::sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
  }();
  return journal;
}

const char* syslog_prefix(Level l) {
  switch (l) {
    case Level::debug: return "<7>";
    case Level::info: return "<6>";
    case Level::warn: return "<4>";
    default: return "<3>";
  }
}
}  // namespace

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
  std::string line;
  line.reserve(64 + message.size());
  if (stderr_is_journal()) {
    line += syslog_prefix(l);
  } else {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    gmtime_r(&ts.tv_sec, &utc);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ts.tv_nsec / 1000000);
    line += stamp;
    line += ' ';
  }
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
