// The two clocks the wire protocol carries: wall time as float epoch seconds (µs resolution)
// and CLOCK_MONOTONIC nanoseconds for event `index`.
#pragma once

#include <cstdint>
#include <ctime>

namespace rig {

inline double wall_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  // Round to microseconds as the reference does, so bodies carry no false precision.
  const int64_t us = static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  return static_cast<double>(us) / 1e6;
}

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline int64_t monotonic_ms() { return static_cast<int64_t>(monotonic_ns() / 1000000ull); }

}  // namespace rig
