// Replacements of the global allocation functions for rigagent-bench (see alloc_count.hpp).
#include "alloc_count.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace rigbench::alloc {
namespace {

struct Totals {
  std::atomic<uint64_t> news{0}, new_bytes{0}, deletes{0}, callocs{0}, calloc_bytes{0};
  Counts get() const {
    return Counts{news.load(), new_bytes.load(), deletes.load(), callocs.load(), calloc_bytes.load()};
  }
  void clear() {
    news = 0, new_bytes = 0, deletes = 0, callocs = 0, calloc_bytes = 0;
  }
};

Totals g_client, g_excluded;
std::atomic<bool> g_on{false};
constinit thread_local bool t_excluded = false;

inline Totals* totals() {
  if (!g_on.load(std::memory_order_relaxed)) return nullptr;
  return t_excluded ? &g_excluded : &g_client;
}

inline void count_new(std::size_t n) {
  if (auto* t = totals()) {
    t->news.fetch_add(1, std::memory_order_relaxed);
    t->new_bytes.fetch_add(n, std::memory_order_relaxed);
  }
}

inline void count_delete(void* p) {
  if (!p) return;
  if (auto* t = totals()) t->deletes.fetch_add(1, std::memory_order_relaxed);
}

void* allocate(std::size_t n) {
  count_new(n);
  for (;;) {
    if (void* p = std::malloc(n ? n : 1)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void* allocate_aligned(std::size_t n, std::align_val_t a) {
  count_new(n);
  const std::size_t align = std::max(static_cast<std::size_t>(a), sizeof(void*));
  for (;;) {
    void* p = nullptr;
    if (posix_memalign(&p, align, n ? n : 1) == 0) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

}  // namespace

void enable(bool on) { g_on.store(on, std::memory_order_seq_cst); }
void reset() {
  g_client.clear();
  g_excluded.clear();
}
void exclude_this_thread() { t_excluded = true; }
Counts client() { return g_client.get(); }
Counts excluded() { return g_excluded.get(); }

}  // namespace rigbench::alloc

using rigbench::alloc::allocate;
using rigbench::alloc::allocate_aligned;
using rigbench::alloc::count_delete;

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a) { return allocate_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate_aligned(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return allocate_aligned(n, a);
  } catch (...) {
    return nullptr;
  }
}

void operator delete(void* p) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p) noexcept { count_delete(p), std::free(p); }
void operator delete(void* p, std::size_t) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { count_delete(p), std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { count_delete(p), std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { count_delete(p), std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { count_delete(p), std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { count_delete(p), std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { count_delete(p), std::free(p); }

// Linked with -Wl,--wrap=calloc (tools/bench/CMakeLists.txt): calloc calls from the statically
// linked objects (Mbed TLS) come here.
extern "C" void* __real_calloc(std::size_t n, std::size_t size);
extern "C" void* __wrap_calloc(std::size_t n, std::size_t size) {
  if (auto* t = rigbench::alloc::totals()) {
    t->callocs.fetch_add(1, std::memory_order_relaxed);
    t->calloc_bytes.fetch_add(n * size, std::memory_order_relaxed);
  }
  return __real_calloc(n, size);
}
