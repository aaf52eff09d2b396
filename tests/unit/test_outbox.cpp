// The hand-off queue: urgent items are never dropped and come out first; the normal lane
// drops its oldest when full and counts it.
#include "support/cmocka.hpp"

#include <poll.h>

#include <thread>

#include "rpc/outbox.hpp"

using namespace rig::rpc;

static bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

static void drop_oldest_when_full(void**) {
  Outbox box(3);
  for (int i = 0; i < 5; ++i) box.push_normal(PublishItem{4001, std::to_string(i)});
  assert_int_equal(box.dropped(), 2);
  std::deque<PublishItem> out;
  assert_int_equal(box.pop_normal(out, 10), 3);
  assert_str(out[0].body, "2");
  assert_str(out[2].body, "4");
}

static void urgent_never_dropped(void**) {
  Outbox box(1);
  for (int i = 0; i < 1000; ++i) box.push_urgent(PublishItem{2001, std::to_string(i)});
  for (int i = 0; i < 1000; ++i) box.push_normal(PublishItem{4001, "n"});
  std::deque<OutboxItem> urgent;
  assert_true(box.pop_urgent(urgent));
  assert_int_equal(urgent.size(), 1000);
  assert_str(std::get<PublishItem>(urgent[999]).body, "999");
  assert_int_equal(box.dropped(), 999);
}

static void wakeup_is_never_lost(void**) {
  Outbox box(100);
  assert_false(readable(box.wake_fd()));
  box.push_normal(PublishItem{1, "a"});
  assert_true(readable(box.wake_fd()));
  box.clear_wake();
  assert_false(readable(box.wake_fd()));
  std::deque<PublishItem> out;
  box.pop_normal(out, 10);
  // Lanes empty again: the next push must wake the owner.
  box.push_normal(PublishItem{1, "b"});
  assert_true(readable(box.wake_fd()));
  box.clear_wake();
  // Urgent always wakes, even behind a backlog.
  box.push_urgent(PublishItem{2001, "e"});
  assert_true(readable(box.wake_fd()));
}

static void many_producers(void**) {
  Outbox box(1000000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&box] {
      for (int i = 0; i < 10000; ++i) box.push_normal(PublishItem{4001, "x"});
    });
  for (auto& t : threads) t.join();
  std::deque<PublishItem> out;
  size_t n = 0;
  while (size_t k = box.pop_normal(out, 64)) n += k;
  assert_int_equal(n, 40000);
  assert_int_equal(box.dropped(), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(drop_oldest_when_full),
      cmocka_unit_test(urgent_never_dropped),
      cmocka_unit_test(wakeup_is_never_lost),
      cmocka_unit_test(many_producers),
  };
  return cmocka_run_group_tests_name("outbox", tests, nullptr, nullptr);
}
