/*
 * Adaptive spinning for the idle side of a hand-off (docs/pool.md,
 * "Spinning"). A thread with nothing to do may spin a short budget for the
 * other side's next move before it sleeps: that saves a wake-up (a serial
 * pool round trip of two took 13-22 us with spinning off on a 2-vCPU VM,
 * benchmarks/RESULTS.md) when the answer comes quickly, and wastes the budget when it
 * does not. So spin only while it pays: a spin that runs out makes the next
 * 1, 2, 4, ... 256 idle periods sleep at once; one that catches its event
 * halves that back-off. Sporadic work then costs at most one budget per 257
 * idle periods; back-to-back work spins every time. On a loaded machine,
 * where spinning takes the CPU the other side needs, spins run out and back
 * off by themselves. One governor per spinning thread, zero-initialized; no
 * atomics. C and C++ (test_pool.c tests it).
 */
#ifndef LOOPLET_SPIN_GOVERNOR_H
#define LOOPLET_SPIN_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lp_spin_governor {
  uint16_t skip;    /* idle periods left to sleep through at once */
  uint16_t backoff; /* the next skip after a spin that runs out */
} lp_spin_governor;

#define LP_SPIN_MAX_BACKOFF 256

/* A pool thread (pool.cc) or JS worker (pool_js.cc) that finishes a task while
 * the owner has left a completion wake-up unanswered this long (ns) yields
 * its CPU once: docs/pool.md, "Keeping the loop responsive". */
#define LP_POOL_OWNER_LAG_NS 100000

/* Whether this idle period should spin (counts a back-off down). */
static inline bool lp_spin_should(lp_spin_governor *g) {
  if (g->skip == 0) return true;
  g->skip--;
  return false;
}

/* The outcome of a spin: whether it caught what it waited for. */
static inline void lp_spin_result(lp_spin_governor *g, bool caught) {
  if (caught) {
    g->backoff = (uint16_t)(g->backoff >> 1);
    return;
  }
  g->backoff = g->backoff == 0 ? 1 : (g->backoff >= LP_SPIN_MAX_BACKOFF / 2 ? LP_SPIN_MAX_BACKOFF : (uint16_t)(g->backoff * 2));
  g->skip = g->backoff;
}

#endif
