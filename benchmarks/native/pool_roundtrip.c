/*
 * The C core's serial round trip, with no Node: the owner submits a no-op
 * task to a one-thread lp_pool, spins for its completion
 * (lp_pool_spin_wait, as the addon's uv_prepare does) and collects it
 * (lp_pool_complete); the pool thread spins for the next task. What is left
 * is the hand-off itself: the pool's lock and the cache lines that move
 * between the two CPUs. The addon's native serial round trip (bench pool)
 * is this plus N-API, the completion callback and the await. Prints p50 and
 * p99 in microseconds for each of `trials` runs of `rounds` round trips.
 *
 *   cmake -S benchmarks/native -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target pool_roundtrip
 *   build-bench/pool_roundtrip [rounds=200000] [trials=3]
 *
 * docs/pool.md, "The serial round trip".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "looplet.h"

static int work(void *arg) {
  (void)arg;
  return 0;
}

static void done(void *arg, int status) {
  (void)status;
  ++*(long *)arg;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 200000;
  int trials = argc > 2 ? atoi(argv[2]) : 3;
  if (rounds < 100 || trials < 1) {
    fprintf(stderr, "usage: %s [rounds >= 100] [trials >= 1]\n", argv[0]);
    return 2;
  }
  int64_t *t = malloc(sizeof *t * (size_t)rounds);
  if (t == NULL) return 1;
  for (int trial = 0; trial < trials; trial++) {
    lp_pool_t *pool;
    lp_pool_options_t o = {0};
    o.min_threads = 1;
    o.max_threads = 1;
    o.spin_us = 20;  /* looplet/pool's default */
    o.idle_timeout_ms = -1;
    int rc = lp_pool_new(&pool, &o);
    if (rc < 0) {
      fprintf(stderr, "lp_pool_new: %d\n", rc);
      return 1;
    }
    long completed = 0;
    lp_pool_set_awake(pool, 1);
    for (long i = -rounds / 10; i < rounds; i++) {  /* a tenth to warm up */
      int64_t t0 = now_ns();
      uint64_t id;
      rc = lp_pool_submit(pool, work, done, &completed, &id);
      if (rc < 0) {
        fprintf(stderr, "lp_pool_submit: %d\n", rc);
        return 1;
      }
      while (!lp_pool_spin_wait(pool, 20000)) {
      }
      lp_pool_complete(pool, 0);
      if (i >= 0) t[i] = now_ns() - t0;
    }
    lp_pool_set_awake(pool, 0);
    lp_pool_free(pool);
    if (completed != rounds + rounds / 10) {
      fprintf(stderr, "completed %ld of %ld\n", completed, rounds + rounds / 10);
      return 1;
    }
    qsort(t, (size_t)rounds, sizeof *t, by_value);
    printf("serial round trip, %ld rounds: p50 %.3f us, p99 %.3f us\n", rounds, t[rounds / 2] / 1000.0,
           t[rounds * 99 / 100] / 1000.0);
  }
  free(t);
  return 0;
}
