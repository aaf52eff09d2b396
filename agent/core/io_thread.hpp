// The agent's one Asio thread: the HAL's file descriptors and timers, the `rigagent hal` control
// socket and, later, the upstream clients. Other threads hand it work with post().
#pragma once

#include <exception>
#include <future>
#include <string>
#include <thread>
#include <type_traits>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "core/log.hpp"

namespace rig {

class IoThread {
 public:
  IoThread() : guard_(asio::make_work_guard(io_)) {}
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  asio::io_context& context() { return io_; }
  void start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  // Stops the loop (handlers still queued are dropped) and joins. Idempotent.
  void stop() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  bool in_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  template <typename F>
  void post(F&& f) {
    asio::post(io_, std::forward<F>(f));
  }
  // Runs f on the io thread and waits for its result (never call from the io thread itself).
  template <typename F>
  auto call(F&& f) -> std::invoke_result_t<F> {
    std::packaged_task<std::invoke_result_t<F>()> task(std::forward<F>(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

 private:
  // A handler that throws is a bug; log it and keep the HAL running rather than lose the e-stop.
  void run() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        log::error("io", std::string("unexpected exception on the io thread (continuing): ") + e.what());
      }
    }
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace rig
