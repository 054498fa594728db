/*
 * test_pool.c - the thread pool (lp_pool_*): results and statuses, FIFO
 * order, min/max threads and the idle timeout, the bounded queue,
 * cancellation before and after start, one wake-up per batch of
 * completions, shutdown with and without cancelling, the stop fd for
 * blocking work, re-entrancy rules, and concurrent submitters (the TSan
 * build runs this program too). Every case checks that no thread is left.
 */
#include "lp_test.h"

#include "../src/core/spin_governor.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- helpers -------------------------------------------------------------- */

/* Threads of this process (Linux: /proc/self/status), or -1. */
static int thread_count(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  fclose(f);
  return n;
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* thread_count(), once it reaches `expected` or after limit_ms. */
static int threads_settled_within(int expected, int limit_ms) {
  int n = thread_count(), waited = 0;
  while (n != expected && waited < limit_ms) {
    sleep_ms(5);
    waited += 5;
    n = thread_count();
  }
  return n;
}

/* A joined thread can stay listed for a while: under qemu-user the guest's
 * pthread_join returns when qemu clears the thread id, before the host
 * thread is gone, and on a 2-vCPU VM that took seconds (one case's threads
 * were still listed when the next case counted its own). */
static int threads_settled(int expected) { return threads_settled_within(expected, 10000); }

/* The process's threads between cases (set by main): a case counts from
 * here once the threads of the cases before it are gone. */
static int baseline_threads = -1;
static int threads_at_start(void) { return threads_settled(baseline_threads); }

/* A gate that work functions wait on until it is opened. */
typedef struct gate_s {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  int waiting; /* work functions blocked on it */
} gate_t;

static void gate_init(gate_t *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
  g->waiting = 0;
}

static void gate_destroy(gate_t *g) {
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}

static void gate_open(gate_t *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void gate_pass(gate_t *g) {
  pthread_mutex_lock(&g->mu);
  g->waiting++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  g->waiting--;
  pthread_mutex_unlock(&g->mu);
}

/* Waits (bounded) until n work functions wait at the gate. */
static int gate_await_waiting(gate_t *g, int n) {
  double deadline = lpt_now_ms() + 5000;
  int ok;
  pthread_mutex_lock(&g->mu);
  while (g->waiting < n && lpt_now_ms() < deadline) {
    pthread_mutex_unlock(&g->mu);
    sleep_ms(1);
    pthread_mutex_lock(&g->mu);
  }
  ok = g->waiting >= n;
  pthread_mutex_unlock(&g->mu);
  return ok;
}

/* One task's record: what ran and what done() saw. */
typedef struct job_s {
  int value;
  int result;
  int ran;         /* work() calls */
  int done_calls;  /* done() calls */
  int status;      /* status passed to done() */
  int order;       /* the order in which work() started */
  gate_t *gate;    /* work waits here when set */
  int fail;        /* work returns -EIO */
} job_t;

static atomic_int start_counter;

static int job_work(void *arg) {
  job_t *j = (job_t *)arg;
  j->order = atomic_fetch_add(&start_counter, 1);
  j->ran++;
  if (j->gate != NULL) gate_pass(j->gate);
  j->result = j->value * 2;
  return j->fail ? -EIO : j->value;
}

static void job_done(void *arg, int status) {
  job_t *j = (job_t *)arg;
  j->done_calls++;
  j->status = status;
}

/* Completes until `want` done() calls have been made in total (bounded). */
static int complete_all(lp_pool_t *pool, int want) {
  int got = 0;
  double deadline = lpt_now_ms() + 10000;
  while (got < want && lpt_now_ms() < deadline) {
    int n;
    if (lp_pool_wait(pool, 100) < 0) return got;
    n = lp_pool_complete(pool, 0);
    if (n < 0) return got;
    got += n;
  }
  return got;
}

static lp_pool_t *new_pool(unsigned min, unsigned max, size_t max_queue, int idle_ms) {
  lp_pool_options_t o;
  lp_pool_t *pool = NULL;
  int rc;
  memset(&o, 0, sizeof o);
  o.min_threads = min;
  o.max_threads = max;
  o.max_queue = max_queue;
  o.idle_timeout_ms = idle_ms;
  rc = lp_pool_new(&pool, &o);
  if (rc != 0) lpt_failf(__FILE__, __LINE__, "lp_pool_new = %d", rc);
  return pool;
}

/* ---- cases ---------------------------------------------------------------- */

/* Every task runs once and its done() gets work's status, on the owner. */
static void results_and_statuses(lp_backend_t b) {
  enum { N = 200 };
  static job_t jobs[N];
  int threads_before = threads_at_start();
  lp_pool_t *pool = new_pool(0, 4, 0, -1);
  lp_pool_stats_t st;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < N; i++) {
    jobs[i].value = i;
    jobs[i].fail = i % 10 == 3;
    CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
  }
  CHECK_EQ(complete_all(pool, N), N);
  for (i = 0; i < N; i++) {
    CHECK_EQ(jobs[i].ran, 1);
    CHECK_EQ(jobs[i].done_calls, 1);
    CHECK_EQ(jobs[i].result, i * 2);
    CHECK_EQ(jobs[i].status, jobs[i].fail ? -EIO : i);
  }
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.submitted, N);
  CHECK_EQ(st.completed, N - N / 10);
  CHECK_EQ(st.failed, N / 10);
  CHECK_EQ(st.cancelled, 0);
  CHECK_EQ(st.queued, 0);
  CHECK_EQ(st.running, 0);
  CHECK_EQ(st.pending, 0);
  CHECK_LE(st.threads, 4);
  CHECK_GE(st.threads, 1);
  CHECK_EQ(lp_pool_free(pool), 0);
  CHECK_EQ(threads_settled(threads_before), threads_before);
}

/* One thread starts tasks in submission order. */
static void fifo_order(lp_backend_t b) {
  enum { N = 50 };
  static job_t jobs[N];
  lp_pool_t *pool = new_pool(0, 1, 0, -1);
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  gate_init(&gate);
  memset(jobs, 0, sizeof jobs);
  atomic_store(&start_counter, 0);
  jobs[0].gate = &gate; /* holds the thread while the rest queue up */
  for (i = 0; i < N; i++) CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
  CHECK(gate_await_waiting(&gate, 1));
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, N), N);
  for (i = 0; i < N; i++) CHECK_EQ(jobs[i].order, i);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

/* min_threads start with the pool; at most max_threads run at once; extra
 * threads leave after the idle timeout, min_threads stay. */
static void min_max_and_idle_timeout(lp_backend_t b) {
  enum { N = 6 };
  static job_t jobs[N];
  int threads_before = threads_at_start();
  lp_pool_t *pool = new_pool(1, 3, 0, 50);
  lp_pool_stats_t st;
  gate_t gate;
  double deadline;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  gate_init(&gate);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.threads, 1);
  CHECK_EQ(threads_settled(threads_before + 1), threads_before + 1);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < N; i++) {
    jobs[i].gate = &gate;
    CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
  }
  CHECK(gate_await_waiting(&gate, 3));
  sleep_ms(20);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.threads, 3);
  CHECK_EQ(st.running, 3);
  CHECK_EQ(st.queued, N - 3);
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, N), N);
  deadline = lpt_now_ms() + 5000;
  do {
    sleep_ms(10);
    lp_pool_stats(pool, &st);
  } while (st.threads > 1 && lpt_now_ms() < deadline);
  CHECK_EQ(st.threads, 1);
  /* The retired threads are joined by the next call that reaps. */
  CHECK_EQ(lp_pool_complete(pool, 0), 0);
  CHECK_EQ(threads_settled(threads_before + 1), threads_before + 1);
  CHECK_EQ(lp_pool_free(pool), 0);
  CHECK_EQ(threads_settled(threads_before), threads_before);
  gate_destroy(&gate);
}

/* max_queue bounds the tasks waiting to start; running ones do not count. */
static void bounded_queue(lp_backend_t b) {
  static job_t jobs[4];
  lp_pool_t *pool = new_pool(0, 1, 2, -1);
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  gate_init(&gate);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < 4; i++) jobs[i].gate = &gate;
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[0], NULL), 0);
  CHECK(gate_await_waiting(&gate, 1));
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[1], NULL), 0);
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[2], NULL), 0);
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[3], NULL), -EAGAIN);
  CHECK_EQ(jobs[3].done_calls, 0);
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, 3), 3);
  /* Room again. */
  jobs[3].gate = NULL;
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[3], NULL), 0);
  CHECK_EQ(complete_all(pool, 1), 1);
  CHECK_EQ(jobs[3].status, 0);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

/* A queued task can be cancelled (its done gets -ECANCELED, work never
 * runs); a running one cannot (-EBUSY); a finished or unknown id: -ENOENT. */
static void cancel_before_and_after_start(lp_backend_t b) {
  static job_t jobs[3];
  lp_pool_t *pool = new_pool(0, 1, 0, -1);
  lp_pool_stats_t st;
  uint64_t id[3];
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  gate_init(&gate);
  memset(jobs, 0, sizeof jobs);
  jobs[0].gate = &gate;
  for (i = 0; i < 3; i++) {
    jobs[i].value = i + 1;
    CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], &id[i]), 0);
  }
  CHECK(gate_await_waiting(&gate, 1));
  CHECK_EQ(lp_pool_cancel(pool, id[0]), -EBUSY);
  CHECK_EQ(lp_pool_cancel(pool, id[1]), 0);
  CHECK_EQ(lp_pool_cancel(pool, id[1]), -ENOENT);
  CHECK_EQ(lp_pool_cancel(pool, id[1] ^ ((uint64_t)1 << 40)), -ENOENT); /* wrong generation */
  CHECK_EQ(lp_pool_cancel(pool, (uint64_t)1 << 31), -ENOENT);           /* no such slot */
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, 3), 3);
  CHECK_EQ(jobs[0].status, 1);
  CHECK_EQ(jobs[1].status, -ECANCELED);
  CHECK_EQ(jobs[1].ran, 0);
  CHECK_EQ(jobs[1].done_calls, 1);
  CHECK_EQ(jobs[2].status, 3);
  CHECK_EQ(lp_pool_cancel(pool, id[2]), -ENOENT);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.cancelled, 1);
  CHECK_EQ(st.completed, 2);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

/* Completions that arrive before the owner collects them share one wake-up:
 * the fd is written once per batch, and drained by lp_pool_complete. */
static void one_wakeup_per_batch(lp_backend_t b) {
  enum { N = 100 };
  static job_t jobs[N];
  lp_pool_t *pool = new_pool(0, 2, 0, -1);
  lp_pool_stats_t st;
  struct pollfd pfd;
  double deadline;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  memset(jobs, 0, sizeof jobs);
  pfd.fd = lp_pool_fileno(pool);
  pfd.events = POLLIN;
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  for (i = 0; i < N; i++) CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
  deadline = lpt_now_ms() + 5000;
  do {
    sleep_ms(1);
    lp_pool_stats(pool, &st);
  } while (st.pending < N && lpt_now_ms() < deadline);
  CHECK_EQ(st.pending, N);
  CHECK_EQ(lp_pool_ready(pool), N);
  CHECK_EQ(st.wakeups, 1);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  /* A partial collection leaves the fd readable. */
  CHECK_EQ(lp_pool_complete(pool, 30), 30);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_EQ(lp_pool_ready(pool), N - 30);
  CHECK_EQ(lp_pool_complete(pool, 0), N - 30);
  CHECK_EQ(lp_pool_ready(pool), 0);
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  CHECK_EQ(lp_pool_wait(pool, 20), 0);
  CHECK_EQ(lp_pool_complete(pool, 0), 0);
  for (i = 0; i < N; i++) CHECK_EQ(jobs[i].done_calls, 1);
  /* The next completion wakes again. */
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[0], NULL), 0);
  CHECK_EQ(lp_pool_wait(pool, 5000), 1);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.wakeups, 2);
  CHECK_EQ(lp_pool_free(pool), 0);
}

/* shutdown refuses new tasks; with cancel_pending the queued ones are
 * cancelled and the running one finishes; without, the queue is finished. */
static void shutdown_modes(lp_backend_t b) {
  static job_t jobs[4];
  int mode;
  (void)b;
  for (mode = 0; mode < 2; mode++) {
    lp_pool_t *pool = new_pool(0, 1, 0, -1);
    gate_t gate;
    struct pollfd pfd;
    int i;
    REQUIRE(pool != NULL);
    gate_init(&gate);
    memset(jobs, 0, sizeof jobs);
    jobs[0].gate = &gate;
    for (i = 0; i < 3; i++) CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
    CHECK(gate_await_waiting(&gate, 1));
    pfd.fd = lp_pool_stop_fd(pool);
    pfd.events = POLLIN;
    CHECK_EQ(lp_pool_stopping(pool), 0);
    CHECK_EQ(lp_pool_shutdown(pool, mode), mode ? 2 : 0);
    CHECK_EQ(lp_pool_stopping(pool), mode);
    CHECK_EQ(poll(&pfd, 1, 0), mode);
    CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[3], NULL), -ESHUTDOWN);
    gate_open(&gate);
    CHECK_EQ(complete_all(pool, 3), 3);
    CHECK_EQ(jobs[0].status, 0);
    CHECK_EQ(jobs[1].status, mode ? -ECANCELED : 0);
    CHECK_EQ(jobs[2].status, mode ? -ECANCELED : 0);
    CHECK_EQ(jobs[3].done_calls, 0);
    CHECK_EQ(lp_pool_free(pool), 0);
    gate_destroy(&gate);
  }
}

/* A blocking work function that polls the stop fd ends when the pool is
 * freed; lp_pool_free calls every done() still owed. */
typedef struct blocker_s {
  lp_pool_t *pool;
  atomic_int started;
  int status;
  int done_calls;
} blocker_t;

static int block_until_stop(void *arg) {
  blocker_t *bl = (blocker_t *)arg;
  struct pollfd pfd;
  int rc;
  pfd.fd = lp_pool_stop_fd(bl->pool);
  pfd.events = POLLIN;
  atomic_store(&bl->started, 1);
  rc = poll(&pfd, 1, 30000);
  return rc == 1 ? -ECANCELED : -ETIMEDOUT;
}

static void blocker_done(void *arg, int status) {
  blocker_t *bl = (blocker_t *)arg;
  bl->status = status;
  bl->done_calls++;
}

static void free_stops_blocking_work(lp_backend_t b) {
  static blocker_t bl[3];
  int threads_before = threads_at_start();
  lp_pool_t *pool = new_pool(0, 2, 0, -1);
  double t0, deadline;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  memset(bl, 0, sizeof bl);
  for (i = 0; i < 3; i++) {
    bl[i].pool = pool;
    CHECK_EQ(lp_pool_submit(pool, block_until_stop, blocker_done, &bl[i], NULL), 0);
  }
  deadline = lpt_now_ms() + 5000;
  while ((!atomic_load(&bl[0].started) || !atomic_load(&bl[1].started)) && lpt_now_ms() < deadline)
    sleep_ms(1);
  t0 = lpt_now_ms();
  CHECK_EQ(lp_pool_free(pool), 0);
  CHECK_LT(lpt_now_ms() - t0, 5000);
  for (i = 0; i < 3; i++) CHECK_EQ(bl[i].done_calls, 1);
  CHECK_EQ(bl[0].status, -ECANCELED);
  CHECK_EQ(bl[1].status, -ECANCELED);
  CHECK_EQ(atomic_load(&bl[2].started), 0);
  CHECK_EQ(bl[2].status, -ECANCELED); /* never started: cancelled by free */
  CHECK_EQ(threads_settled(threads_before), threads_before);
}

/* done() may submit more work; it may not free the pool or complete again. */
typedef struct chain_s {
  lp_pool_t *pool;
  int remaining;
  int done_calls;
  int nested_complete;
  int nested_free;
} chain_t;

static int noop_work(void *arg) {
  (void)arg;
  return 0;
}

static void chain_done(void *arg, int status) {
  chain_t *c = (chain_t *)arg;
  (void)status;
  c->done_calls++;
  c->nested_complete = lp_pool_complete(c->pool, 0);
  c->nested_free = lp_pool_free(c->pool);
  if (--c->remaining > 0) {
    int rc = lp_pool_submit(c->pool, noop_work, chain_done, c, NULL);
    if (rc != 0) c->remaining = -1000;
  }
}

static void done_may_submit(lp_backend_t b) {
  lp_pool_t *pool = new_pool(0, 1, 0, -1);
  chain_t c;
  (void)b;
  REQUIRE(pool != NULL);
  memset(&c, 0, sizeof c);
  c.pool = pool;
  c.remaining = 20;
  CHECK_EQ(lp_pool_submit(pool, noop_work, chain_done, &c, NULL), 0);
  CHECK_EQ(complete_all(pool, 20), 20);
  CHECK_EQ(c.done_calls, 20);
  CHECK_EQ(c.remaining, 0);
  CHECK_EQ(c.nested_complete, -EBUSY);
  CHECK_EQ(c.nested_free, -EBUSY);
  CHECK_EQ(lp_pool_free(pool), 0);
}

/* A work function cannot free its own pool. */
typedef struct self_free_s {
  lp_pool_t *pool;
  int rc;
} self_free_t;

static int free_from_work(void *arg) {
  self_free_t *s = (self_free_t *)arg;
  s->rc = lp_pool_free(s->pool);
  return 0;
}

static void free_from_pool_thread(lp_backend_t b) {
  lp_pool_t *pool = new_pool(0, 1, 0, -1);
  self_free_t s;
  (void)b;
  REQUIRE(pool != NULL);
  s.pool = pool;
  s.rc = 1;
  CHECK_EQ(lp_pool_submit(pool, free_from_work, NULL, &s, NULL), 0);
  CHECK_EQ(lp_pool_wait(pool, 5000), 1);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  CHECK_EQ(s.rc, -EBUSY);
  CHECK_EQ(lp_pool_free(pool), 0);
}

static void bad_arguments(lp_backend_t b) {
  lp_pool_options_t o;
  lp_pool_t *pool = NULL;
  (void)b;
  memset(&o, 0, sizeof o);
  o.min_threads = 5;
  o.max_threads = 2;
  CHECK_EQ(lp_pool_new(&pool, &o), -EINVAL);
  CHECK(pool == NULL);
  CHECK_EQ(lp_pool_new(NULL, NULL), -EINVAL);
  CHECK_EQ(lp_pool_new(&pool, NULL), 0);
  REQUIRE(pool != NULL);
  CHECK_EQ(lp_pool_submit(pool, NULL, NULL, NULL, NULL), -EINVAL);
  CHECK_EQ(lp_pool_free(pool), 0);
  CHECK_EQ(lp_pool_free(NULL), 0);
}

/* Spinning threads take work without being signalled; nothing is lost. */
static void spinning_threads(lp_backend_t b) {
  enum { N = 2000 };
  static job_t jobs[N];
  lp_pool_options_t o;
  lp_pool_t *pool = NULL;
  int i, got = 0;
  (void)b;
  memset(&o, 0, sizeof o);
  o.max_threads = 2;
  o.spin_us = 50;
  REQUIRE_EQ(lp_pool_new(&pool, &o), 0);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < N; i++) {
    jobs[i].value = i;
    CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &jobs[i], NULL), 0);
    if (i % 7 == 0) got += lp_pool_complete(pool, 0);
  }
  got += complete_all(pool, N - got);
  CHECK_EQ(got, N);
  for (i = 0; i < N; i++) CHECK_EQ(jobs[i].status, i);
  CHECK_EQ(lp_pool_free(pool), 0);
}

/* The spin governor: spins while they catch; a miss sleeps through the next
 * 1, 2, 4, ... 256 idle periods; a catch halves the back-off. */
static void spin_governor_backoff(lp_backend_t b) {
  lp_spin_governor g = {0, 0};
  int round, i, expect = 1;
  (void)b;
  for (i = 0; i < 5; i++) {
    CHECK(lp_spin_should(&g));
    lp_spin_result(&g, true);
  }
  CHECK_EQ(g.backoff, 0);
  for (round = 0; round < 12; round++) {
    CHECK(lp_spin_should(&g));
    lp_spin_result(&g, false);
    CHECK_EQ(g.backoff, expect);
    for (i = 0; i < expect; i++) CHECK(!lp_spin_should(&g));
    if (expect < LP_SPIN_MAX_BACKOFF) expect *= 2;
  }
  CHECK_EQ(g.backoff, LP_SPIN_MAX_BACKOFF);
  /* A catch halves the back-off: the next miss doubles from there. */
  CHECK(lp_spin_should(&g));
  lp_spin_result(&g, true);
  CHECK_EQ(g.backoff, LP_SPIN_MAX_BACKOFF / 2);
  CHECK(lp_spin_should(&g));
  lp_spin_result(&g, false);
  CHECK_EQ(g.backoff, LP_SPIN_MAX_BACKOFF);
  CHECK_EQ(g.skip, LP_SPIN_MAX_BACKOFF);
}

/* Several threads submit and cancel at once while the owner collects:
 * every task ends exactly once, as completed or as cancelled. */
enum { SUBMITTERS = 3, PER_SUBMITTER = 3000 };
typedef struct stress_job_s {
  atomic_int ran;
  int done_calls;
  int status;
} stress_job_t;
static stress_job_t stress_jobs[SUBMITTERS][PER_SUBMITTER];

typedef struct submitter_s {
  lp_pool_t *pool;
  int index;
  int submitted;
  int cancelled;
  int errors;
} submitter_t;

static int stress_work(void *arg) {
  stress_job_t *j = (stress_job_t *)arg;
  atomic_fetch_add(&j->ran, 1);
  return 1;
}

static void stress_done(void *arg, int status) {
  stress_job_t *j = (stress_job_t *)arg;
  j->done_calls++;
  j->status = status;
}

static void *submitter_main(void *arg) {
  submitter_t *s = (submitter_t *)arg;
  int i;
  for (i = 0; i < PER_SUBMITTER; i++) {
    uint64_t id;
    int rc = lp_pool_submit(s->pool, stress_work, stress_done, &stress_jobs[s->index][i], &id);
    if (rc != 0) {
      s->errors++;
      continue;
    }
    s->submitted++;
    if (i % 3 == 0) {
      rc = lp_pool_cancel(s->pool, id);
      if (rc == 0)
        s->cancelled++;
      else if (rc != -EBUSY && rc != -ENOENT)
        s->errors++;
    }
  }
  return NULL;
}

static void concurrent_submitters(lp_backend_t b) {
  submitter_t subs[SUBMITTERS];
  pthread_t tids[SUBMITTERS];
  lp_pool_t *pool = new_pool(0, 3, 0, 20);
  lp_pool_stats_t st;
  int i, j, total = 0, cancelled = 0, got = 0;
  (void)b;
  REQUIRE(pool != NULL);
  memset(stress_jobs, 0, sizeof stress_jobs);
  for (i = 0; i < SUBMITTERS; i++) {
    memset(&subs[i], 0, sizeof subs[i]);
    subs[i].pool = pool;
    subs[i].index = i;
    REQUIRE_EQ(pthread_create(&tids[i], NULL, submitter_main, &subs[i]), 0);
  }
  /* The owner collects while the submitters run. */
  for (i = 0; i < SUBMITTERS; i++) {
    int n = lp_pool_complete(pool, 0);
    CHECK_GE(n, 0);
    got += n;
    pthread_join(tids[i], NULL);
  }
  for (i = 0; i < SUBMITTERS; i++) {
    CHECK_EQ(subs[i].errors, 0);
    total += subs[i].submitted;
    cancelled += subs[i].cancelled;
  }
  got += complete_all(pool, total - got);
  CHECK_EQ(got, total);
  for (i = 0; i < SUBMITTERS; i++) {
    for (j = 0; j < PER_SUBMITTER; j++) {
      stress_job_t *sj = &stress_jobs[i][j];
      CHECK_EQ(sj->done_calls, 1);
      if (sj->status == -ECANCELED)
        CHECK_EQ(atomic_load(&sj->ran), 0);
      else
        CHECK(sj->status == 1 && atomic_load(&sj->ran) == 1);
      if (lpt_case_failures > 5) return;
    }
  }
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.submitted, total);
  CHECK_EQ(st.cancelled, cancelled);
  CHECK_EQ(st.completed + st.cancelled, total);
  CHECK_EQ(lp_pool_free(pool), 0);
}

/* Jobs 0..N-1 with value i and args[i] = &jobs[i], for lp_pool_submit_many. */
enum { MANY = 300 };
static job_t many_jobs[MANY];
static void *many_args[MANY];

static void many_reset(void) {
  int i;
  memset(many_jobs, 0, sizeof many_jobs);
  for (i = 0; i < MANY; i++) {
    many_jobs[i].value = i;
    many_args[i] = &many_jobs[i];
  }
}

/* lp_pool_submit_many queues a batch in order under one lock, with ids that
 * cancel like lp_pool_submit's; bad arguments queue nothing. */
static void submit_many_order_and_ids(lp_backend_t b) {
  static uint64_t ids[MANY];
  lp_pool_t *pool = new_pool(0, 1, 0, -1);
  lp_pool_stats_t st;
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  many_reset();
  CHECK_EQ(lp_pool_submit_many(pool, NULL, job_done, many_args, NULL, 1), -EINVAL);
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, NULL, NULL, 1), -EINVAL);
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, NULL, NULL, 0), 0);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.submitted, 0);
  CHECK_EQ(st.threads, 0);

  gate_init(&gate);
  atomic_store(&start_counter, 0);
  many_jobs[0].gate = &gate;
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args, ids, MANY), MANY);
  CHECK(gate_await_waiting(&gate, 1));
  CHECK_EQ(lp_pool_cancel(pool, ids[0]), -EBUSY);
  CHECK_EQ(lp_pool_cancel(pool, ids[MANY - 1]), 0);
  CHECK_EQ(lp_pool_cancel(pool, ids[MANY - 1]), -ENOENT);
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, MANY), MANY);
  for (i = 0; i < MANY - 1; i++) {
    CHECK_EQ(many_jobs[i].order, i);
    CHECK_EQ(many_jobs[i].ran, 1);
    CHECK_EQ(many_jobs[i].done_calls, 1);
    CHECK_EQ(many_jobs[i].status, i);
  }
  CHECK_EQ(many_jobs[MANY - 1].ran, 0);
  CHECK_EQ(many_jobs[MANY - 1].status, -ECANCELED);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.submitted, MANY);
  CHECK_EQ(st.completed, MANY - 1);
  CHECK_EQ(st.cancelled, 1);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

/* max_queue cuts a batch to the room left; none left is -EAGAIN; after
 * shutdown, -ESHUTDOWN. */
static void submit_many_max_queue(lp_backend_t b) {
  lp_pool_t *pool = new_pool(0, 1, 5, -1);
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  many_reset();
  gate_init(&gate);
  many_jobs[0].gate = &gate;
  CHECK_EQ(lp_pool_submit(pool, job_work, job_done, &many_jobs[0], NULL), 0);
  CHECK(gate_await_waiting(&gate, 1));
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args + 1, NULL, 3), 3);
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args + 4, NULL, 10), 2);
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args + 6, NULL, 1), -EAGAIN);
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, 6), 6);
  for (i = 0; i < 6; i++) CHECK_EQ(many_jobs[i].done_calls, 1);
  CHECK_EQ(many_jobs[6].ran, 0);
  CHECK_EQ(lp_pool_shutdown(pool, 0), 0);
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args, NULL, 2), -ESHUTDOWN);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

/* One batch starts, or wakes, as many threads as it needs, up to max_threads
 * (the gate holds each task's thread until that many run at once). */
static void submit_many_wakes_threads(lp_backend_t b) {
  lp_pool_t *pool = new_pool(0, 4, 0, -1);
  lp_pool_stats_t st;
  gate_t gate;
  int i;
  (void)b;
  REQUIRE(pool != NULL);
  many_reset();
  gate_init(&gate);
  for (i = 0; i < 8; i++) many_jobs[i].gate = &gate;
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args, NULL, 8), 8);
  CHECK(gate_await_waiting(&gate, 4));
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.threads, 4);
  CHECK_EQ(st.running, 4);
  CHECK_EQ(st.queued, 4);
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, 8), 8);
  gate_destroy(&gate);
  /* The 4 threads are idle (or about to be): a batch of 3 must signal 3. */
  gate_init(&gate);
  for (i = 8; i < 11; i++) many_jobs[i].gate = &gate;
  CHECK_EQ(lp_pool_submit_many(pool, job_work, job_done, many_args + 8, NULL, 3), 3);
  CHECK(gate_await_waiting(&gate, 3));
  gate_open(&gate);
  CHECK_EQ(complete_all(pool, 3), 3);
  lp_pool_stats(pool, &st);
  CHECK_EQ(st.threads, 4);
  CHECK_EQ(st.submitted, 11);
  CHECK_EQ(lp_pool_free(pool), 0);
  gate_destroy(&gate);
}

static int nap_work(void *arg) {
  sleep_ms(((job_t *)arg)->value);
  return 7;
}

/* lp_pool_spin_wait: 0 when nothing comes within the budget; 1 for a task
 * that finishes while the owner spins, whose completion then leaves the fd
 * unwritten (the owner was looking); without a spin the fd is written.
 * lp_pool_set_awake: the same for an owner busy elsewhere. */
static void spin_wait(lp_backend_t b) {
  static job_t job;
  lp_pool_t *pool = new_pool(1, 1, 0, -1);
  struct pollfd pfd;
  (void)b;
  REQUIRE(pool != NULL);
  memset(&job, 0, sizeof job);
  job.value = 200; /* ms */
  CHECK_EQ(lp_pool_spin_wait(pool, 0), 0);
  CHECK_EQ(lp_pool_spin_wait(pool, 2000000), 0);
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  CHECK_EQ(lp_pool_spin_wait(pool, 4000000000u), 1);
  pfd.fd = lp_pool_fileno(pool);
  pfd.events = POLLIN;
  pfd.revents = 0;
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  /* Returns 1 at once while completions wait (and the fd is written when
   * nobody spun). */
  job.value = 0;
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  CHECK_EQ(lp_pool_wait(pool, 5000), 1);
  CHECK_EQ(lp_pool_spin_wait(pool, 0), 1);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  /* An awake owner: completions leave the fd alone until it says it is
   * about to block (set_awake(0)), which makes the fd readable. */
  lp_pool_set_awake(pool, 1);
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  {
    double deadline = lpt_now_ms() + 5000;
    while (lp_pool_ready(pool) < 2 && lpt_now_ms() < deadline) sleep_ms(1);
  }
  CHECK_EQ(lp_pool_ready(pool), 2);
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  /* Completing part of the list while awake leaves the rest unannounced. */
  CHECK_EQ(lp_pool_complete(pool, 1), 1);
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  lp_pool_set_awake(pool, 0);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  /* Not awake: complete(max) that leaves some announces them. */
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  CHECK_EQ(lp_pool_submit(pool, nap_work, job_done, &job, NULL), 0);
  {
    double deadline = lpt_now_ms() + 5000;
    while (lp_pool_ready(pool) < 2 && lpt_now_ms() < deadline) sleep_ms(1);
  }
  CHECK_EQ(lp_pool_complete(pool, 1), 1);
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK_EQ(lp_pool_complete(pool, 0), 1);
  CHECK_EQ(poll(&pfd, 1, 0), 0);
  CHECK_EQ(job.done_calls, 6);
  CHECK_EQ(job.status, 7);
  CHECK_EQ(lp_pool_free(pool), 0);
}

static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv) {
  pthread_t warm;
  static const lpt_case cases[] = {
      LPT_ONCE(results_and_statuses),
      LPT_ONCE(fifo_order),
      LPT_ONCE(min_max_and_idle_timeout),
      LPT_ONCE(bounded_queue),
      LPT_ONCE(cancel_before_and_after_start),
      LPT_ONCE(one_wakeup_per_batch),
      LPT_ONCE(shutdown_modes),
      LPT_ONCE(free_stops_blocking_work),
      LPT_ONCE(done_may_submit),
      LPT_ONCE(free_from_pool_thread),
      LPT_ONCE(bad_arguments),
      LPT_ONCE(spinning_threads),
      LPT_ONCE(spin_governor_backoff),
      LPT_ONCE(concurrent_submitters),
      LPT_ONCE(submit_many_order_and_ids),
      LPT_ONCE(submit_many_max_queue),
      LPT_ONCE(submit_many_wakes_threads),
      LPT_ONCE(spin_wait),
  };
  /* Sanitizer runtimes start a thread of their own with the first thread
   * created: start it now, so the cases' thread counts compare like with
   * like. */
  int before_warm = thread_count();
  if (pthread_create(&warm, NULL, nothing, NULL) == 0) pthread_join(warm, NULL);
  baseline_threads = threads_settled_within(before_warm, 2000);
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
