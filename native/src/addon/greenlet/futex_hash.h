// Keeps the process's private futex hash large enough for its greenlet
// threads. Internal to the greenlet runtime.
//
// Since Linux 6.17 a process that starts a thread gets a private futex hash
// sized by its CPUs, not by its threads: 16 slots on a 2-CPU machine. Every
// greenlet thread that waits long sleeps on a futex (baton.h), so with
// thousands of greenlets every FUTEX_WAKE walks a chain of threads / 16
// waiters, each a cache miss (15% of a 10,000-sleeper run's time was in
// futex_wake, 2026-12-01). PR_FUTEX_HASH_SET_SLOTS resizes that hash, but a
// resize takes the caller 15-44 ms (an RCU grace period, measured on the same
// VM), so this resizes rarely and in big steps: once the process has more
// than 4 live greenlet threads per slot, to 16 slots per thread (a power of
// two, at most kMaxSlots): at 64 threads to 1,024 slots, at 4,096 to 32,768.
// It never shrinks the hash, and does nothing on kernels without the call
// (EINVAL), when the process uses the global hash (0 slots: someone chose
// it), or once the kernel refused (an immutable hash).
#ifndef LOOPLET_GREENLET_FUTEX_HASH_H
#define LOOPLET_GREENLET_FUTEX_HASH_H

#include <stddef.h>

#include <atomic>
#include <mutex>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace looplet_greenlet {

class FutexHash {
 public:
  static constexpr long kMinSlots = 16;
  static constexpr long kMaxSlots = 1L << 15;

  // A greenlet thread was created (+1) or joined (-1), in any runtime of the
  // process. Called on a JS thread: a resize blocks it (see above).
  static void ThreadsChanged(int delta) {
    long live = live_.fetch_add(delta, std::memory_order_relaxed) + delta;
    if (delta > 0 && live > 4 * known_slots_.load(std::memory_order_relaxed)) Grow(live);
  }

  // The slots this process's private futex hash has: 0 for the global hash,
  // -1 where the kernel has no PR_FUTEX_HASH.
  static long Slots() {
#if defined(__linux__)
    int rc = prctl(kPrFutexHash, kGetSlots, 0, 0, 0);
    return rc < 0 ? -1 : rc;
#else
    return -1;
#endif
  }

 private:
  static constexpr int kPrFutexHash = 78;  // PR_FUTEX_HASH (linux/prctl.h, 6.17+)
  static constexpr int kSetSlots = 1;      // PR_FUTEX_HASH_SET_SLOTS
  static constexpr int kGetSlots = 2;      // PR_FUTEX_HASH_GET_SLOTS

  static void Grow(long live) {
    std::lock_guard<std::mutex> lock(mu_);
    if (unsupported_ || live <= 4 * known_slots_.load(std::memory_order_relaxed)) return;
    long now = Slots();
    // -1: no such call; 0: the global hash is in use (left as chosen).
    if (now <= 0) {
      unsupported_ = true;
      known_slots_.store(kMaxSlots, std::memory_order_relaxed);  // never ask again
      return;
    }
    long want = kMinSlots;
    while (want < live * 16 && want < kMaxSlots) want *= 2;
    if (now < want) {
#if defined(__linux__)
      if (prctl(kPrFutexHash, kSetSlots, (unsigned long)want, 0, 0) != 0) {
        unsupported_ = true;  // immutable, or refused: stop asking
        known_slots_.store(kMaxSlots, std::memory_order_relaxed);
        return;
      }
#endif
      now = want;
    }
    known_slots_.store(now, std::memory_order_relaxed);
  }

  static inline std::atomic<long> live_{0};
  static inline std::atomic<long> known_slots_{kMinSlots};  // what the kernel gives a process at first
  static inline std::mutex mu_;
  static inline bool unsupported_ = false;
};

}  // namespace looplet_greenlet

#endif
