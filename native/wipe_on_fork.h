// Memory that fork(2) does not share with the child: MADV_WIPEONFORK, the
// child gets zero-filled pages of its own. fork(2) write-protects every
// page the two processes share, and after each fork the parent's first
// write to each such page costs it a page fault (here ~1.7 us; ~4.5 us, a
// copy, while the child still runs). The scratch state sockfd's fork()
// writes at every call (listings, the census's questions and answers)
// lives here instead: its pages stay the parent's, and are written without
// a fault. A child finds it all zero: whatever is kept here must read zero
// as its state before the first use. Both addons include this file (each
// keeps its own storage).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <type_traits>

namespace sockfd {

// One T for the process's life, zero-filled. Memory the kernel keeps from
// the child if it can (mmap + MADV_WIPEONFORK); if it cannot, a static T,
// which works the same, with the faults. Main thread only for the first
// call; afterwards the pointer may be read from any thread (a signal
// handler too: a lock-free atomic load).
template <typename T>
class WipeOnFork {
  static_assert(std::is_trivially_destructible<T>::value, "never destroyed: it lives until _exit");
  // Its state is the zero bytes the kernel gives: no member initializer may
  // set anything else. C++20 gives std::atomic a constructor that stores
  // zero (the addon built for Node 24 is C++20), so the check is made where
  // the language lets it: the C++17 builds of the same source.
#if __cplusplus < 202002L
  static_assert(std::is_trivially_default_constructible<T>::value, "its state is the zero bytes the kernel gives");
#endif

 public:
  T* Get() noexcept {
    T* storage = storage_.load(std::memory_order_acquire);
    if (storage != nullptr) return storage;
    storage = &fallback_;
    long page = ::sysconf(_SC_PAGESIZE);
    size_t size = page > 0 ? (sizeof(T) + static_cast<size_t>(page) - 1) / static_cast<size_t>(page) * static_cast<size_t>(page) : 0;
    void* memory = size > 0 ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (memory != MAP_FAILED) {
      // No value-initialization: the kernel's pages are zero already, and
      // zeroing them would make every page resident (most stay untouched).
      if (::madvise(memory, size, MADV_WIPEONFORK) == 0) storage = new (memory) T;
      else ::munmap(memory, size);
    }
    storage_.store(storage, std::memory_order_release);
    return storage;
  }
  // Null until Get() ran (for a signal handler, which must not map memory).
  T* Peek() const noexcept { return storage_.load(std::memory_order_acquire); }

 private:
  std::atomic<T*> storage_{nullptr};
  T fallback_{};
  static_assert(std::atomic<T*>::is_always_lock_free, "read from signal handlers");
};

}  // namespace sockfd
