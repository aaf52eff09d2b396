// zmq::poll that treats a signal (EINTR) as "nothing ready", so Ctrl-C reaches the loop's own
// stop flag instead of escaping as an exception.
#pragma once

#include <zmq.hpp>

#include <chrono>

namespace rig::cli {

inline void poll_items(zmq::pollitem_t* items, size_t n, std::chrono::milliseconds timeout) {
  try {
    zmq::poll(items, n, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (size_t i = 0; i < n; ++i) items[i].revents = 0;
  }
}

}  // namespace rig::cli
