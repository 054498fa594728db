// How a greenlet thread waits for control to come back (docs/greenlets.md,
// "Waiting"). Internal to the greenlet runtime.
//
// Only one thread of a runtime runs JavaScript at a time, so by default they
// all share one CPU (the runtime keeps a target on its caller's CPU): a
// switch posts the target's baton, and the caller, while its waits have
// been short, *yields* the CPU (sched_yield) so the target runs at once,
// checking for its own post between yields, for at most kYieldNs; then it
// sleeps on a futex. A thread whose previous wait outlasted that sleeps at
// once, so a long-idle greenlet costs one futex wake and no CPU.
//
// Spinning on a second CPU while the target runs (setSwitchSpin(us) > 0) is
// opt-in: it only pays where the two vCPUs hand cache lines over cheaply
// (benchmarks/RESULTS.md), and it burns a second CPU.
#ifndef LOOPLET_GREENLET_BATON_H
#define LOOPLET_GREENLET_BATON_H

#include <stdint.h>
#include <time.h>

#include <atomic>

#if defined(__linux__)
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <condition_variable>
#include <mutex>
#endif

namespace looplet_greenlet {

inline int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Process-wide settings. The spin budget is read on every switch and written
// rarely; the spinner count is written by every spin: separate cache lines.
struct alignas(64) SpinBudget {
  std::atomic<int64_t> ns{0};  // 0: no spinning (the default)
  int max_spinners = 0;        // at most half the CPUs this process may use; 0 on one CPU
};
struct alignas(64) SpinnerCount {
  std::atomic<int> n{0};
};
extern SpinBudget g_spin;
extern SpinnerCount g_spinners;

// How long a waiter yields the CPU before it sleeps.
constexpr int64_t kYieldNs = 50000;
// The first spin after waking a sleeping thread on another CPU gets this many
// budgets: that wake-up alone can take ~20 us on an idle vCPU.
constexpr int kFirstSpinFactor = 4;

inline bool TakeSpinnerSlot() {
  int n = g_spinners.n.load(std::memory_order_relaxed);
  while (n < g_spin.max_spinners)
    if (g_spinners.n.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
  return false;
}

inline void GiveSpinnerSlot() { g_spinners.n.fetch_sub(1, std::memory_order_relaxed); }

// A binary semaphore: post() wakes one wait(); a post before the wait is kept.
// One thread waits on a baton; any thread may post it.
class Baton {
 public:
  // Returns whether the waiter was spinning: then it runs on another CPU.
  bool post() {
#if defined(__linux__)
    if (g_spin.ns.load(std::memory_order_relaxed) > 0) posted_ns_.store(NowNs(), std::memory_order_relaxed);
    int old = state_.exchange(kPosted, std::memory_order_release);
    // Whoever moves the state out of kSpinning gives the spinner slot back.
    if (old == kSpinning) {
      GiveSpinnerSlot();
      return true;
    }
    if (old == kSleeping) syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    return false;
#else
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
    cv_.notify_one();
    return false;
#endif
  }

  // Waits for a post. spin > 0: spin first for spin budgets if spinning is
  // on and a spinner slot is free (the target runs on another CPU);
  // otherwise yield first if the last wait was short.
  void wait(int spin = 0) {
#if defined(__linux__)
    int64_t budget = g_spin.ns.load(std::memory_order_relaxed);
    if (budget > 0) {
      int64_t start = NowNs();
      if (skip_ > 0)
        skip_--;
      else if (spin > 0)
        Spin(start + budget * spin);
      Sleep();
      last_wait_ns_ = posted_ns_.load(std::memory_order_relaxed) - start;
      return;
    }
    // Yielding reads no clock while it works (a clock read cost ~7% of a
    // switch on the VM this was measured on): a wait that ended while
    // yielding is quick; one that slept is judged by how long it slept.
    if (last_wait_ns_ <= kYieldNs && Yield()) {
      last_wait_ns_ = 0;
      return;
    }
    int64_t start = NowNs();
    Sleep();
    last_wait_ns_ = NowNs() - start;
#else
    (void)spin;
    std::unique_lock<std::mutex> lock(mu_);
    if (!ready_) Count(sleeps_);
    cv_.wait(lock, [&] { return ready_; });
    ready_ = false;
#endif
  }

  // Whether the last wait ended within the spin budget (spinning on), a
  // guess that the next one will too. Read only by the thread that waits on
  // this baton or while it is known to be parked.
  bool quick() const {
#if defined(__linux__)
    int64_t budget = g_spin.ns.load(std::memory_order_relaxed);
    return budget > 0 && skip_ == 0 && last_wait_ns_ <= budget;
#else
    return false;
#endif
  }

  // Waits that ended while spinning or yielding, spins that ran out, sleeps.
  uint64_t spins() const { return Load(spins_); }
  uint64_t spin_timeouts() const { return Load(spin_timeouts_); }
  uint64_t yields() const { return Load(yields_); }
  uint64_t sleeps() const { return Load(sleeps_); }

  // Whether a thread spins on this baton now (so a post reaches it at once).
  bool spinning() const {
#if defined(__linux__)
    return state_.load(std::memory_order_relaxed) == kSpinning;
#else
    return false;
#endif
  }

 private:
  static void Count(std::atomic<uint64_t> &c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  static uint64_t Load(const std::atomic<uint64_t> &c) { return c.load(std::memory_order_relaxed); }

  // Written only by the waiting thread, read by stats().
  std::atomic<uint64_t> spins_{0}, spin_timeouts_{0}, yields_{0}, sleeps_{0};
#if defined(__linux__)
  enum { kEmpty = 0, kPosted = 1, kSleeping = 2, kSpinning = 3 };

  // Gives the CPU to whatever else is runnable on it (the target, when it
  // shares this CPU) until posted (true) or kYieldNs have passed (false).
  bool Yield() {
    int64_t deadline = 0;
    for (;;) {
      if (state_.load(std::memory_order_relaxed) == kPosted) {
        // Only the waiter leaves kPosted, and nobody posts again before it
        // has run: taking the post is a plain exchange.
        state_.exchange(kEmpty, std::memory_order_acquire);
        Count(yields_);
        return true;
      }
      sched_yield();
      if (state_.load(std::memory_order_relaxed) == kPosted) continue;
      int64_t now = NowNs();
      if (deadline == 0)
        deadline = now + kYieldNs;
      else if (now >= deadline)
        return false;
    }
  }

  // Takes a post, sleeping on the futex until there is one.
  void Sleep() {
    for (;;) {
      int expected = kPosted;
      if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return;
      expected = kEmpty;
      if (state_.compare_exchange_strong(expected, kSleeping, std::memory_order_relaxed) || expected == kSleeping) {
        Count(sleeps_);
        syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
      }
    }
  }

  // Returns when posted or past the deadline; the state is then kPosted or
  // kSleeping-to-be (kEmpty), never kSpinning.
  void Spin(int64_t deadline) {
    if (state_.load(std::memory_order_relaxed) == kPosted || !TakeSpinnerSlot()) return;
    int expected = kEmpty;
    if (!state_.compare_exchange_strong(expected, kSpinning, std::memory_order_relaxed)) {
      GiveSpinnerSlot();  // posted meanwhile
      return;
    }
    for (unsigned i = 1;; i++) {
      if (state_.load(std::memory_order_acquire) == kPosted) {  // post gave the slot back
        Count(spins_);
        penalty_ /= 2;
        return;
      }
      CpuRelax();
      if ((i & 63) == 0 && NowNs() >= deadline) {
        expected = kSpinning;
        if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_relaxed)) {
          GiveSpinnerSlot();
          Count(spin_timeouts_);
          // Back off: the next 1, 2, 4, ... 256 waits sleep at once (each
          // spin that succeeds halves that again). Spins run out when the
          // CPUs are busy with other work; then spinning only takes CPU
          // time from the thread it waits for.
          penalty_ = penalty_ == 0 ? 1 : penalty_ < kMaxPenalty ? 2 * penalty_ : kMaxPenalty;
          skip_ = penalty_;
        } else {
          Count(spins_);  // posted at the last moment; the post gave the slot back
        }
        return;
      }
    }
  }

  std::atomic<int> state_{kEmpty};
  std::atomic<int64_t> posted_ns_{0};  // spinning only
  static constexpr int kMaxPenalty = 256;
  // The waiting thread's own bookkeeping; quick() reads it only while that
  // thread is parked (the isolate lock orders the accesses).
  int64_t last_wait_ns_ = INT64_MAX;  // unknown: not quick
  int penalty_ = 0;                   // waits to skip after the next spin that runs out
  int skip_ = 0;                      // waits left that must not spin
#else
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
#endif
};

}  // namespace looplet_greenlet

#endif
