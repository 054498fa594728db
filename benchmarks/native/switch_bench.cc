// switch_bench: the cost of a coroutine switch, side by side in one process.
//
//   lp_coro        lp_coro_switch ping-pong between the main coroutine and one
//                  coroutine (each call is one switch)
//   boost_fcontext boost.context's jump_fcontext ping-pong (when built with
//                  libboost-context-dev), the reference for the target
//   swapcontext    POSIX ucontext ping-pong (saves the signal mask: a syscall)
//   create_free    lp_coro_new + lp_coro_free (stack from the per-thread cache)
//   spawn_finish   lp_coro_new + first switch, entry returns + lp_coro_free
//   handoff_futex  (Linux) two OS threads passing a turn back and forth
//                  through futexes: the floor under a JS greenlet switch that
//                  sleeps (each call is one hand-off)
//   handoff_spin   the same, each side spinning up to 20 us before it sleeps:
//                  the floor under a JS greenlet switch that spins
//   memory         RSS and address space per suspended coroutine, with
//                  10,000 of them alive (default stack size)
//
// Method: calls are timed in blocks of K (K calibrated so that a block lasts
// about --block-us), one sample per block = mean ns per switch (or per op);
// the methods take turns in rounds so that drift hits them alike. Prints one
// JSON object on stdout; progress goes to stderr.
//
//   switch_bench [--quick] [--blocks N] [--rounds N] [--block-us N]
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#endif

#include <atomic>
#include <algorithm>
#include <string>
#include <vector>

#include "looplet.h"

#if defined(LP_BENCH_HAVE_BOOST_CONTEXT)
#include <boost/context/detail/fcontext.hpp>
namespace bctx = boost::context::detail;
#endif

namespace {

double now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct Summary {
  double median = 0, p99 = 0, min = 0, mean = 0;
  size_t blocks = 0;
  long k = 0;
};

Summary summarize(std::vector<double> v, long k) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  size_t rank = (size_t)std::max<double>(1.0, __builtin_ceil(0.99 * (double)n));
  s.p99 = v[rank - 1];
  s.min = v[0];
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / (double)n;
  s.blocks = n;
  s.k = k;
  return s;
}

std::string json(const Summary &s) {
  char buf[256];
  snprintf(buf, sizeof buf,
           "{\"median\": %.3f, \"p99\": %.3f, \"min\": %.3f, \"mean\": %.3f, \"blocks\": %zu, "
           "\"k\": %ld}",
           s.median, s.p99, s.min, s.mean, s.blocks, s.k);
  return buf;
}

// One benchmarked method: run(k) performs k iterations; `per` is how many
// switches (or ops) one iteration counts.
struct Method {
  const char *name;
  void (*run)(long k);
  int per;
  long k = 1;
  std::vector<double> samples;
};

double time_block(const Method &m, long k) {
  double t0 = now_ns();
  m.run(k);
  return now_ns() - t0;
}

long calibrate(const Method &m, double block_ns) {
  long k = 16;
  for (;;) {
    double t = time_block(m, k);
    if (t >= block_ns / 4 || k >= (1L << 30)) {
      double per_iter = t / (double)k;
      long want = (long)(block_ns / per_iter);
      return want < 1 ? 1 : want;
    }
    k *= 4;
  }
}

// ---- lp_coro ping-pong -------------------------------------------------------------

lp_coro_t *lp_main_co;
lp_coro_t *lp_peer;

void *lp_peer_fn(lp_coro_t *, void *) {
  for (;;) lp_coro_switch(lp_main_co, nullptr, nullptr);
  return nullptr;
}

void lp_run(long k) {
  for (long i = 0; i < k; i++) lp_coro_switch(lp_peer, nullptr, nullptr);
}

// ---- OS-thread hand-off ------------------------------------------------------------

#if defined(__linux__)
// A binary semaphore as in the greenlet runtime: 0 empty, 1 posted, 2 a
// waiter sleeps; a waiter may spin first (then the post needs no syscall).
struct HandoffBaton {
  std::atomic<int> state{0};
  void post() {
    if (state.exchange(1, std::memory_order_release) == 2)
      syscall(SYS_futex, &state, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  void wait(double spin_ns) {
    if (spin_ns > 0) {
      double deadline = now_ns() + spin_ns;
      for (unsigned i = 1; state.load(std::memory_order_acquire) != 1; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield" ::: "memory");
#endif
        if ((i & 63) == 0 && now_ns() >= deadline) break;
      }
    }
    for (;;) {
      int expected = 1;
      if (state.compare_exchange_strong(expected, 0, std::memory_order_acquire)) return;
      expected = 0;
      if (state.compare_exchange_strong(expected, 2, std::memory_order_relaxed) || expected == 2)
        syscall(SYS_futex, &state, FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
    }
  }
};

struct Handoff {
  HandoffBaton to_peer, to_main;
  double spin_ns;
};
Handoff handoff_futex{{}, {}, 0};
Handoff handoff_spin{{}, {}, 20000};

void *handoff_peer(void *arg) {
  Handoff *h = static_cast<Handoff *>(arg);
  for (;;) {
    h->to_peer.wait(h->spin_ns);
    h->to_main.post();
  }
  return nullptr;
}

void handoff_run(Handoff *h, long k) {
  for (long i = 0; i < k; i++) {
    h->to_peer.post();
    h->to_main.wait(h->spin_ns);
  }
}
void handoff_futex_run(long k) { handoff_run(&handoff_futex, k); }
void handoff_spin_run(long k) { handoff_run(&handoff_spin, k); }

bool start_handoff_peer(Handoff *h) {
  pthread_t t;
  if (pthread_create(&t, nullptr, handoff_peer, h) != 0) return false;
  pthread_detach(t);  // parked on its baton until the process exits
  return true;
}
#endif

// ---- boost.context ping-pong ----------------------------------------------------

#if defined(LP_BENCH_HAVE_BOOST_CONTEXT)
bctx::fcontext_t boost_peer;

void boost_peer_fn(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void boost_run(long k) {
  bctx::fcontext_t peer = boost_peer;
  for (long i = 0; i < k; i++) peer = bctx::jump_fcontext(peer, nullptr).fctx;
  boost_peer = peer;
}
#endif

// ---- swapcontext ping-pong --------------------------------------------------------

ucontext_t uc_main, uc_peer;

void uc_peer_fn(void) {
  for (;;) swapcontext(&uc_peer, &uc_main);
}

void uc_run(long k) {
  for (long i = 0; i < k; i++) swapcontext(&uc_main, &uc_peer);
}

// ---- create / destroy ------------------------------------------------------------

void *return_fn(lp_coro_t *, void *v) { return v; }

void create_free_run(long k) {
  for (long i = 0; i < k; i++) {
    lp_coro_t *c = nullptr;
    if (lp_coro_new(&c, return_fn, nullptr, 0) != 0) abort();
    lp_coro_free(c);
  }
}

void spawn_finish_run(long k) {
  for (long i = 0; i < k; i++) {
    lp_coro_t *c = nullptr;
    if (lp_coro_new(&c, return_fn, nullptr, 0) != 0) abort();
    lp_coro_switch(c, nullptr, nullptr);
    lp_coro_free(c);
  }
}

// ---- memory ------------------------------------------------------------------------

long statm_pages(int field) {
  FILE *f = fopen("/proc/self/statm", "r");
  long v[3] = {0, 0, 0};
  if (f == nullptr) return -1;
  if (fscanf(f, "%ld %ld %ld", &v[0], &v[1], &v[2]) != 3) v[field] = -1;
  fclose(f);
  return v[field];
}

void *park_fn(lp_coro_t *self, void *) {
  volatile char frame[256];
  frame[0] = 1;
  lp_coro_switch(lp_coro_parent(self), nullptr, nullptr);
  return (void *)(intptr_t)frame[0];
}

struct Memory {
  long count = 0;
  size_t stack_size = 0;
  double rss_per = -1, vsz_per = -1;
};

Memory measure_memory(long count) {
  Memory m;
  long page = sysconf(_SC_PAGESIZE);
  std::vector<lp_coro_t *> all((size_t)count, nullptr);
  size_t old_cache = lp_coro_set_stack_cache(0);  // fresh stacks, as a new program gets
  long rss0 = statm_pages(1), vsz0 = statm_pages(0);
  long i;
  for (i = 0; i < count; i++) {
    if (lp_coro_new(&all[(size_t)i], park_fn, nullptr, 0) != 0) break;
    lp_coro_switch(all[(size_t)i], nullptr, nullptr);
  }
  long rss1 = statm_pages(1), vsz1 = statm_pages(0);
  m.count = i;
  m.stack_size = i > 0 ? lp_coro_stack_size(all[0]) : 0;
  if (i > 0 && rss0 >= 0 && rss1 >= 0) {
    m.rss_per = (double)(rss1 - rss0) * (double)page / (double)i;
    m.vsz_per = (double)(vsz1 - vsz0) * (double)page / (double)i;
  }
  for (long j = 0; j < i; j++) {
    lp_coro_switch(all[(size_t)j], nullptr, nullptr);
    lp_coro_free(all[(size_t)j]);
  }
  lp_coro_set_stack_cache(old_cache);
  return m;
}

}  // namespace

int main(int argc, char **argv) {
  bool quick = false;
  long blocks = 0, rounds = 0, block_us = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if ((a == "--blocks" || a == "--rounds" || a == "--block-us") && i + 1 < argc) {
      long v = strtol(argv[++i], nullptr, 10);
      (a == "--blocks" ? blocks : a == "--rounds" ? rounds : block_us) = v;
    } else {
      fprintf(stderr, "usage: %s [--quick] [--blocks N] [--rounds N] [--block-us N]\n", argv[0]);
      return 2;
    }
  }
  if (blocks <= 0) blocks = quick ? 200 : 1000;
  if (rounds <= 0) rounds = quick ? 4 : 10;
  if (block_us <= 0) block_us = quick ? 100 : 200;
  if (rounds > blocks) rounds = blocks;
  double block_ns = (double)block_us * 1000.0;

  lp_main_co = lp_coro_current();
  if (lp_coro_new(&lp_peer, lp_peer_fn, nullptr, 64 * 1024) != 0) {
    fprintf(stderr, "lp_coro_new failed\n");
    return 1;
  }
  lp_coro_switch(lp_peer, nullptr, nullptr);  // started, parked in its loop

  std::vector<Method> methods;
  methods.push_back({"lp_coro", lp_run, 2});
  std::string boost_note;
#if defined(LP_BENCH_HAVE_BOOST_CONTEXT)
  const size_t boost_stack = 64 * 1024;
  void *boost_mem = mmap(nullptr, boost_stack, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  boost_peer = bctx::make_fcontext((char *)boost_mem + boost_stack, boost_stack, boost_peer_fn);
  boost_peer = bctx::jump_fcontext(boost_peer, nullptr).fctx;  // started, parked
  methods.push_back({"boost_fcontext", boost_run, 2});
#else
  boost_note = "boost.context not found at build time (install libboost-context-dev)";
#endif
  static char uc_stack[64 * 1024];
  getcontext(&uc_peer);
  uc_peer.uc_stack.ss_sp = uc_stack;
  uc_peer.uc_stack.ss_size = sizeof uc_stack;
  uc_peer.uc_link = nullptr;
  makecontext(&uc_peer, uc_peer_fn, 0);
  methods.push_back({"swapcontext", uc_run, 2});
#if defined(__linux__)
  if (start_handoff_peer(&handoff_futex)) methods.push_back({"handoff_futex", handoff_futex_run, 2});
  if (start_handoff_peer(&handoff_spin)) methods.push_back({"handoff_spin", handoff_spin_run, 2});
#endif
  methods.push_back({"create_free", create_free_run, 1});
  methods.push_back({"spawn_finish", spawn_finish_run, 1});

  // Warm up (caches, the stack cache, branch predictors), then calibrate.
  for (Method &m : methods) {
    double until = now_ns() + (quick ? 20e6 : 100e6);
    while (now_ns() < until) m.run(1000);
    m.k = calibrate(m, block_ns);
  }
  long per_round = (blocks + rounds - 1) / rounds;
  for (long r = 0; r < rounds; r++) {
    for (size_t j = 0; j < methods.size(); j++) {
      Method &m = methods[(j + (size_t)r) % methods.size()];  // rotate who goes first
      for (long b = 0; b < per_round && (long)m.samples.size() < blocks; b++)
        m.samples.push_back(time_block(m, m.k) / (double)(m.k * m.per));
    }
    fprintf(stderr, "switch_bench: round %ld/%ld\n", r + 1, rounds);
  }

  Memory mem = measure_memory(10000);

  printf("{\n  \"program\": \"switch_bench\",\n  \"impl\": \"%s\",\n  \"quick\": %s,\n",
         lp_coro_switch_impl(), quick ? "true" : "false");
  printf("  \"settings\": {\"blocks\": %ld, \"rounds\": %ld, \"blockUs\": %ld},\n", blocks, rounds,
         block_us);
  printf("  \"unit\": \"ns\",\n  \"results\": {\n");
  for (size_t j = 0; j < methods.size(); j++)
    printf("    \"%s\": %s%s\n", methods[j].name,
           json(summarize(methods[j].samples, methods[j].k)).c_str(),
           j + 1 < methods.size() ? "," : "");
  printf("  },\n");
  printf("  \"boost\": {\"available\": %s, \"note\": \"%s\"},\n",
#if defined(LP_BENCH_HAVE_BOOST_CONTEXT)
         "true",
#else
         "false",
#endif
         boost_note.c_str());
  printf("  \"memory\": {\"coroutines\": %ld, \"stackSize\": %zu, \"rssBytesPerCoroutine\": %.1f, "
         "\"addressSpaceBytesPerCoroutine\": %.1f}\n}\n",
         mem.count, mem.stack_size, mem.rss_per, mem.vsz_per);
  return 0;
}
