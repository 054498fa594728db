/*
 * The floor of a greenlet switch in looplet's design (a thread per
 * greenlet, one runs at a time): two plain threads pinned to one CPU hand
 * control back and forth, with no V8 and no looplet code. Two ways:
 *   yield  the waiter calls sched_yield() until it is posted (looplet's
 *          default while waits are short, baton.h)
 *   futex  the waiter sleeps on a futex and is woken (what a greenlet that
 *          waited long, e.g. one of many hub waiters, costs)
 * Prints microseconds per switch (one hand-over) and context switches per
 * switch for each. Build and run:
 *   cc -O2 -pthread -o /tmp/handoff_floor benchmarks/native/handoff_floor.c && /tmp/handoff_floor
 * Linux only. docs/greenlets.md, "Where a switch's time goes".
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 500000 };

static atomic_int baton_a, baton_b;
static int use_futex;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void post(atomic_int *b) {
  atomic_store(b, 1);
  if (use_futex) syscall(SYS_futex, b, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void wait_for(atomic_int *b) {
  while (atomic_load(b) == 0) {
    if (use_futex)
      syscall(SYS_futex, b, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    else
      sched_yield();
  }
  atomic_store(b, 0);
}

static void *other(void *arg) {
  (void)arg;
  pin(0);
  for (int i = 0; i < ROUNDS; i++) {
    wait_for(&baton_b);
    post(&baton_a);
  }
  return NULL;
}

static long context_switches(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void run(const char *name) {
  pthread_t t;
  struct timespec a, b;
  atomic_store(&baton_a, 0);
  atomic_store(&baton_b, 0);
  pthread_create(&t, NULL, other, NULL);
  usleep(1000);
  long cs0 = context_switches();
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < ROUNDS; i++) {
    post(&baton_b);
    wait_for(&baton_a);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  pthread_join(t, NULL);
  long cs = context_switches() - cs0;
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("%-6s %.3f us per switch, %.2f context switches per switch\n", name, ns / (2.0 * ROUNDS) / 1000.0,
         (double)cs / (2.0 * ROUNDS));
}

int main(void) {
  pin(0);
  for (int round = 0; round < 3; round++) {
    use_futex = 0;
    run("yield");
    use_futex = 1;
    run("futex");
  }
  return 0;
}
