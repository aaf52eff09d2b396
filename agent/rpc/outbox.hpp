// The hand-off from any thread to the socket-owning thread: two lanes and an eventfd.
//   urgent: EMERGENCY and COMMAND_RESULT publishes, deferred replies, notices to the application.
//           Never dropped, always drained first.
//   normal: every other publish. Bounded; when full the oldest is dropped and counted.
// The owner drains urgent completely before each small batch of normal items, so an e-stop
// never waits behind a backlog.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <variant>

#include "rpc/codec.hpp"

namespace rig::rpc {

struct PublishItem {
  uint32_t topic;
  std::string body;
};
struct ReplyItem {
  uint64_t token;  // which held request this answers
  Reply reply;
};
struct AppNoticeItem {
  json message;
};
using OutboxItem = std::variant<PublishItem, ReplyItem, AppNoticeItem>;

class Outbox {
 public:
  explicit Outbox(size_t normal_capacity);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void push_urgent(OutboxItem item);
  void push_normal(PublishItem item);

  int wake_fd() const { return efd_; }
  void wake();  // rouse the owner with nothing queued (e.g. to see a stop request)
  // Owner thread: clear the wake-up first, then pop, so no push is ever missed.
  void clear_wake();
  bool pop_urgent(std::deque<OutboxItem>& into);
  size_t pop_normal(std::deque<PublishItem>& into, size_t max);
  bool normal_pending() const { return normal_size_.load(std::memory_order_acquire) > 0; }
  bool urgent_pending() const { return urgent_size_.load(std::memory_order_acquire) > 0; }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  int efd_ = -1;
  std::mutex mu_;
  std::deque<OutboxItem> urgent_;
  std::deque<PublishItem> normal_;
  std::atomic<size_t> urgent_size_{0};
  std::atomic<size_t> normal_size_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace rig::rpc
