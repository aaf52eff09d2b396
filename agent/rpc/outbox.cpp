#include "rpc/outbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace rig::rpc {

Outbox::Outbox(size_t normal_capacity) : capacity_(normal_capacity == 0 ? 1 : normal_capacity) {
  efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Outbox::~Outbox() {
  if (efd_ >= 0) close(efd_);
}

void Outbox::wake() {
  uint64_t one = 1;
  ssize_t rc = write(efd_, &one, sizeof one);
  (void)rc;  // EAGAIN only when the counter is saturated, which still means "awake"
}

void Outbox::clear_wake() {
  uint64_t v;
  ssize_t rc = read(efd_, &v, sizeof v);
  (void)rc;
}

void Outbox::push_urgent(OutboxItem item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    urgent_.push_back(std::move(item));
    urgent_size_.store(urgent_.size(), std::memory_order_release);
  }
  // Always wake for urgent work, even if the lanes were not empty: the owner may be inside
  // a poll while a normal backlog waits for its next batch.
  wake();
}

void Outbox::push_normal(PublishItem item) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = urgent_.empty() && normal_.empty();
    if (normal_.size() >= capacity_) {
      normal_.pop_front();
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    normal_.push_back(std::move(item));
    normal_size_.store(normal_.size(), std::memory_order_release);
  }
  if (was_empty) wake();
}

bool Outbox::pop_urgent(std::deque<OutboxItem>& into) {
  if (urgent_size_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (urgent_.empty()) return false;
  if (into.empty())
    into.swap(urgent_);
  else
    for (auto& i : urgent_) into.push_back(std::move(i));
  urgent_.clear();
  urgent_size_.store(0, std::memory_order_release);
  return true;
}

size_t Outbox::pop_normal(std::deque<PublishItem>& into, size_t max) {
  if (normal_size_.load(std::memory_order_acquire) == 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  while (n < max && !normal_.empty()) {
    into.push_back(std::move(normal_.front()));
    normal_.pop_front();
    ++n;
  }
  normal_size_.store(normal_.size(), std::memory_order_release);
  return n;
}

}  // namespace rig::rpc
