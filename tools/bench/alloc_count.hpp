// rigagent-bench: heap allocation counting. alloc_count.cpp replaces the global operator new and
// delete of the bench binary (they still use malloc/free) and, with -Wl,--wrap=calloc on the
// bench target, wraps calloc in the statically linked objects: that is how Mbed TLS allocates
// (MBEDTLS_PLATFORM_MEMORY is off in Debian's build, so mbedtls_calloc is calloc).
//
// Nothing is counted until enable(true). Each thread counts into the "client" totals unless it
// called exclude_this_thread() (the bench's stand-in server does), which go to "excluded".
// Allocations made by glibc itself (getaddrinfo, stdio) and by shared libraries calling malloc
// directly are not seen.
#pragma once

#include <cstdint>

namespace rigbench::alloc {

struct Counts {
  uint64_t news = 0;        // operator new / new[] calls
  uint64_t new_bytes = 0;   // bytes asked for in them
  uint64_t deletes = 0;     // operator delete / delete[] calls with a non-null pointer
  uint64_t callocs = 0;     // calloc calls from statically linked C code (Mbed TLS)
  uint64_t calloc_bytes = 0;
};

void enable(bool on);
void reset();
void exclude_this_thread();
Counts client();    // threads that did not exclude themselves
Counts excluded();  // threads that did

}  // namespace rigbench::alloc
