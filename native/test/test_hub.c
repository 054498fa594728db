/*
 * The hub (lp_hub_*): coroutines on a poller and a timer heap, run on every
 * backend: completion, sleep order and duration, readiness waits and their
 * timeouts, two waiters on one fd, fd reuse, cancel/forget, yield order,
 * the embedding loop (run_once driven by an outside poll()), and the
 * misuse errors.
 */
#include "lp_test.h"

#include <poll.h>
#include <stdint.h>

static lp_hub_t *new_hub(lp_backend_t b) {
  lp_hub_t *hub = NULL;
  int rc = lp_hub_new(&hub, b);
  if (rc != 0 || hub == NULL) {
    lpt_failf(__FILE__, __LINE__, "lp_hub_new(%s) = %d", lp_backend_name(b), rc);
    return NULL;
  }
  return hub;
}

/* An append-only log of small integers written by the coroutines. */
static int log_buf[64];
static int log_len;
static void log_put(int v) {
  if (log_len < (int)(sizeof log_buf / sizeof log_buf[0])) log_buf[log_len++] = v;
}
static void log_reset(void) { log_len = 0; }

static void append_id(lp_hub_t *hub, void *arg) {
  (void)hub;
  log_put((int)(intptr_t)arg);
}

static void hub_runs_spawned(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  lp_coro_t *co = NULL;
  REQUIRE(hub != NULL);
  log_reset();
  CHECK_EQ(lp_hub_count(hub), 0);
  CHECK_EQ(lp_hub_timeout(hub), -1);
  CHECK_EQ(lp_hub_spawn(hub, append_id, (void *)1, 0, &co), 0);
  CHECK(co != NULL);
  CHECK_EQ(lp_coro_status(co), LP_CORO_INIT);
  CHECK_EQ(lp_hub_spawn(hub, append_id, (void *)2, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, append_id, (void *)3, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, NULL, NULL, 0, NULL), -EINVAL);
  CHECK_EQ(lp_hub_count(hub), 3);
  CHECK_EQ(lp_hub_timeout(hub), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(lp_hub_count(hub), 0);
  CHECK_EQ(log_len, 3);
  CHECK(log_buf[0] == 1 && log_buf[1] == 2 && log_buf[2] == 3);
  CHECK(lp_hub_poller(hub) != NULL);
  CHECK_EQ(lp_poller_backend(lp_hub_poller(hub)), b);
  CHECK_EQ(lp_hub_free(hub), 0);
  CHECK_EQ(lp_hub_free(NULL), 0);
}

/* ---- timers ------------------------------------------------------------------ */

static double sleep_t0;
static double sleep_late[4];

static void sleeper(lp_hub_t *hub, void *arg) {
  int ms = (int)(intptr_t)arg;
  double t0 = lpt_now_ms();
  CHECK_EQ(lp_hub_sleep(hub, ms), 0);
  log_put(ms);
  sleep_late[ms / 10] = lpt_now_ms() - t0 - ms;
}

static void hub_sleep_order(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int i;
  REQUIRE(hub != NULL);
  log_reset();
  sleep_t0 = lpt_now_ms();
  CHECK_EQ(lp_hub_spawn(hub, sleeper, (void *)30, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, sleeper, (void *)10, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, sleeper, (void *)20, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  REQUIRE_EQ(log_len, 3);
  CHECK(log_buf[0] == 10 && log_buf[1] == 20 && log_buf[2] == 30);
  for (i = 1; i <= 3; i++) {
    CHECK(sleep_late[i] >= 0);     /* never early */
    CHECK(sleep_late[i] < 1000.0); /* and not lost */
  }
  CHECK(lpt_now_ms() - sleep_t0 >= 30);
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void yielder(lp_hub_t *hub, void *arg) {
  int i;
  for (i = 0; i < 3; i++) {
    log_put((int)(intptr_t)arg);
    CHECK_EQ(lp_hub_sleep(hub, 0), 0);
  }
}

static void hub_yield_round_robin(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  log_reset();
  CHECK_EQ(lp_hub_spawn(hub, yielder, (void *)1, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, yielder, (void *)2, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  REQUIRE_EQ(log_len, 6);
  CHECK(log_buf[0] == 1 && log_buf[1] == 2 && log_buf[2] == 1 && log_buf[3] == 2 &&
        log_buf[4] == 1 && log_buf[5] == 2);
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void timeout_probe(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_sleep(hub, 200), 0);
}

static void hub_timeout_value(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int t;
  REQUIRE(hub != NULL);
  CHECK_EQ(lp_hub_spawn(hub, timeout_probe, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_timeout(hub), 0); /* ready to run */
  CHECK_EQ(lp_hub_run_once(hub, 0), 1);
  t = lp_hub_timeout(hub);
  CHECK(t > 100 && t <= 200);
  /* A bounded iteration returns on time with the sleeper still there. */
  CHECK_EQ(lp_hub_run_once(hub, 10), 1);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(lp_hub_timeout(hub), -1);
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* ---- fd readiness --------------------------------------------------------------- */

static int pair_fds[2];
static int wait_result;
static double wait_ms;

static void wait_read(lp_hub_t *hub, void *arg) {
  double t0 = lpt_now_ms();
  wait_result = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, (int)(intptr_t)arg);
  wait_ms = lpt_now_ms() - t0;
}

static void write_later(lp_hub_t *hub, void *arg) {
  CHECK_EQ(lp_hub_sleep(hub, (int)(intptr_t)arg), 0);
  CHECK(lpt_send(pair_fds[1], 1));
}

static void hub_wait_readable(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  wait_result = -1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)5000, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, write_later, (void *)20, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(wait_result, LP_EVENT_READ);
  CHECK(wait_ms >= 15 && wait_ms < 4000);
  /* Data already there: the wait returns at the next iteration. */
  wait_result = -1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)-1, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(wait_result, LP_EVENT_READ);
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void hub_wait_timeout(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  wait_result = -1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)30, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(wait_result, 0);
  CHECK(wait_ms >= 30);
  /* The timed-out wait left nothing registered: data arriving now wakes
   * nobody and the next waiter still sees it. */
  CHECK(lpt_send(pair_fds[1], 1));
  CHECK_EQ(lp_hub_run_once(hub, 0), 0);
  wait_result = -1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)1000, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(wait_result, LP_EVENT_READ);
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

static int rw_results[3];

static void wait_write(lp_hub_t *hub, void *arg) {
  (void)arg;
  rw_results[1] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_WRITE, 1000);
}

static void second_reader(lp_hub_t *hub, void *arg) {
  (void)arg;
  rw_results[2] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, 1000);
}

static void first_reader(lp_hub_t *hub, void *arg) {
  (void)arg;
  rw_results[0] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ | LP_EVENT_WRITE, -1);
}

static void hub_two_waiters_one_fd(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  /* A reader (that fd never becomes readable) and a writer on the same fd. */
  rw_results[0] = rw_results[1] = rw_results[2] = -1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)50, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, wait_write, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, second_reader, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(rw_results[1], LP_EVENT_WRITE);
  CHECK_EQ(rw_results[2], -EBUSY); /* a second reader on the same fd */
  CHECK_EQ(wait_result, 0);         /* the first reader timed out */
  /* One coroutine waiting for both gets what is ready. */
  CHECK_EQ(lp_hub_spawn(hub, first_reader, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(rw_results[0], LP_EVENT_WRITE);
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* Fills fd's send buffer, so that it is not writable. */
static void fill_send_buffer(int fd) {
  int small = 4096;
  char buf[4096];
  memset(buf, 'f', sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  while (write(fd, buf, sizeof buf) > 0) {
  }
}

static int rearm_results[2];

static void rearm_reader(lp_hub_t *hub, void *arg) {
  (void)arg;
  rearm_results[0] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, 5000);
}

static void rearm_writer(lp_hub_t *hub, void *arg) {
  (void)arg;
  rearm_results[1] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_WRITE, 5000);
}

/*
 * A reader and a writer wait on one fd, which is closed while a dup keeps
 * its file open. Its readability still arrives (epoll keeps the file's entry)
 * and wakes the reader; on the one-shot backends the registration the writer
 * still needs cannot be re-armed (the number is closed): the writer's wait
 * ends with -EBADF at once instead of waiting without a registration until
 * its timeout. poll and select report the closed number ready for both.
 */
static void hub_rearm_failure_ends_waits(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int keep = -1, fd;
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  fd = pair_fds[0];
  fill_send_buffer(fd);
  rearm_results[0] = rearm_results[1] = 1000;
  CHECK_EQ(lp_hub_spawn(hub, rearm_reader, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, rearm_writer, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run_once(hub, 0), 2); /* both wait */
  keep = dup(fd);
  CHECK(lpt_send(pair_fds[1], 1));
  close(fd);
  CHECK_EQ(lp_hub_run(hub), 0);
  if (b == LP_BACKEND_POLL || b == LP_BACKEND_SELECT) {
    CHECK_EQ(rearm_results[0], LP_EVENT_READ);
    CHECK_EQ(rearm_results[1], LP_EVENT_WRITE);
  } else {
    CHECK_EQ(rearm_results[0], LP_EVENT_READ);
    CHECK_EQ(rearm_results[1], -EBADF);
  }
  close(keep);
  close(pair_fds[1]);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

static int reuse_results[2];
static int reuse_fd;

/* Waits on an fd, closes it with plain close() (no lp_hub_close), opens a
 * new pair that gets the same number, and waits on that. */
static void reuse_waiter(lp_hub_t *hub, void *arg) {
  int sv[2];
  (void)arg;
  reuse_results[0] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, 2000);
  reuse_fd = pair_fds[0];
  lpt_close_pair(pair_fds);
  if (lpt_pair(sv) != 0) return;
  pair_fds[0] = sv[0];
  pair_fds[1] = sv[1];
  if (sv[0] != reuse_fd && sv[1] == reuse_fd) {
    pair_fds[0] = sv[1];
    pair_fds[1] = sv[0];
  }
  CHECK_EQ(pair_fds[0], reuse_fd);
  reuse_results[1] = lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, 2000);
}

static void reuse_writer(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_sleep(hub, 10), 0);
  CHECK(lpt_send(pair_fds[1], 1));
  CHECK_EQ(lp_hub_sleep(hub, 30), 0);
  CHECK(lpt_send(pair_fds[1], 1));
}

static void hub_fd_reuse(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  reuse_results[0] = reuse_results[1] = -1;
  CHECK_EQ(lp_hub_spawn(hub, reuse_waiter, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, reuse_writer, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(reuse_results[0], LP_EVENT_READ);
  CHECK_EQ(reuse_results[1], LP_EVENT_READ);
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* ---- cancel, forget, close ----------------------------------------------------- */

static lp_coro_t *long_sleeper;
static int cancel_result;
static double cancel_ms;

static void sleep_long(lp_hub_t *hub, void *arg) {
  double t0 = lpt_now_ms();
  (void)arg;
  cancel_result = lp_hub_sleep(hub, 10000);
  cancel_ms = lpt_now_ms() - t0;
}

static void canceller(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_sleep(hub, 10), 0);
  CHECK_EQ(lp_hub_cancel(hub, long_sleeper), 0);
  CHECK_EQ(lp_hub_cancel(hub, long_sleeper), -ENOENT); /* already woken */
  CHECK_EQ(lp_hub_cancel(hub, lp_coro_current()), -ENOENT); /* not waiting */
  CHECK_EQ(lp_hub_cancel(hub, lp_coro_main()), -ENOENT);
}

static void hub_cancel(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  cancel_result = 1;
  CHECK_EQ(lp_hub_spawn(hub, sleep_long, NULL, 0, &long_sleeper), 0);
  CHECK_EQ(lp_hub_spawn(hub, canceller, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(cancel_result, -ECANCELED);
  CHECK(cancel_ms < 5000);
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void closer(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_sleep(hub, 10), 0);
  CHECK_EQ(lp_hub_close(hub, pair_fds[0]), 0);
  CHECK_EQ(lp_hub_forget(hub, pair_fds[0]), 0); /* nothing left: still 0 */
}

static void hub_close_wakes_waiter(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  wait_result = 1;
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)-1, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, closer, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(wait_result, -ECANCELED);
  close(pair_fds[1]);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* ---- misuse ---------------------------------------------------------------------- */

static lp_hub_t *misuse_hub;

static void misuse(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_run_once(hub, 0), -EDEADLK);
  CHECK_EQ(lp_hub_run(hub), -EDEADLK);
  CHECK_EQ(lp_hub_free(hub), -EBUSY);
  CHECK_EQ(lp_hub_wait_fd(hub, 0, 0, 0), -EINVAL);
  CHECK_EQ(lp_hub_wait_fd(hub, 0, 0x100, 0), -EINVAL);
  CHECK_EQ(lp_hub_wait_fd(hub, -1, LP_EVENT_READ, 0), -EBADF);
  CHECK_EQ(lp_hub_sleep(hub, -1), -EINVAL);
  /* A coroutine of another hub cannot wait on this one. */
  CHECK_EQ(lp_hub_sleep(misuse_hub, 1), -EPERM);
}

static int closed_fd;

static void wait_closed(lp_hub_t *hub, void *arg) {
  (void)arg;
  wait_result = lp_hub_wait_fd(hub, closed_fd, LP_EVENT_READ, 1000);
}

static void hub_misuse(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int sv[2];
  REQUIRE(hub != NULL);
  misuse_hub = new_hub(b);
  CHECK_EQ(lp_hub_wait_fd(hub, 0, LP_EVENT_READ, 0), -EPERM); /* not from a hub coroutine */
  CHECK_EQ(lp_hub_sleep(hub, 0), -EPERM);
  CHECK_EQ(lp_hub_spawn(hub, misuse, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  /* A wait the poller refuses reports the poller's error. */
  if (lpt_pair(sv) == 0) {
    closed_fd = sv[0];
    lpt_close_pair(sv);
    wait_result = 1;
    CHECK_EQ(lp_hub_spawn(hub, wait_closed, NULL, 0, NULL), 0);
    CHECK_EQ(lp_hub_run(hub), 0);
    CHECK_EQ(wait_result, -EBADF);
  }
  CHECK_EQ(lp_hub_free(misuse_hub), 0);
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void wait_forever(lp_hub_t *hub, void *arg) {
  (void)arg;
  CHECK_EQ(lp_hub_wait_fd(hub, pair_fds[0], LP_EVENT_READ, -1), 0);
  lpt_failf(__FILE__, __LINE__, "a wait on a silent fd returned");
}

static void hub_free_with_waiters(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int i;
  REQUIRE(hub != NULL);
  if (lpt_pair(pair_fds) != 0) goto out;
  CHECK_EQ(lp_hub_spawn(hub, wait_forever, NULL, 0, NULL), 0);
  for (i = 0; i < 5; i++) CHECK_EQ(lp_hub_spawn(hub, sleep_long, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run_once(hub, 0), 6);
  CHECK_EQ(lp_hub_run_once(hub, 5), 6);
  CHECK_EQ(lp_hub_count(hub), 6);
  /* Freed with every coroutine suspended: their stacks are discarded. */
  CHECK_EQ(lp_hub_free(hub), 0);
  hub = NULL;
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* ---- many connections ------------------------------------------------------------- */

#define CONNS 40
#define ROUNDS 25
static int conn_fds[CONNS][2];
static long conn_echoed;

static int read_some(lp_hub_t *hub, int fd, char *buf, size_t len) {
  for (;;) {
    ssize_t r = read(fd, buf, len);
    if (r >= 0) return (int)r;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    if (lp_hub_wait_fd(hub, fd, LP_EVENT_READ, 5000) <= 0) return -ETIMEDOUT;
  }
}

static void echo_side(lp_hub_t *hub, void *arg) {
  int fd = conn_fds[(intptr_t)arg][0];
  char buf[64];
  int n;
  while ((n = read_some(hub, fd, buf, sizeof buf)) > 0) {
    if (write(fd, buf, (size_t)n) != n) break;
  }
  lp_hub_close(hub, fd);
}

static void client_side(lp_hub_t *hub, void *arg) {
  int fd = conn_fds[(intptr_t)arg][1];
  int i;
  for (i = 0; i < ROUNDS; i++) {
    char msg[16], back[16];
    int n = snprintf(msg, sizeof msg, "%ld:%d", (long)(intptr_t)arg, i), got = 0;
    if (write(fd, msg, (size_t)n) != n) break;
    while (got < n) {
      int r = read_some(hub, fd, back + got, (size_t)(n - got));
      if (r <= 0) break;
      got += r;
    }
    if (got != n || memcmp(msg, back, (size_t)n) != 0) break;
    conn_echoed++;
  }
  lp_hub_close(hub, fd);
}

static void hub_many_connections(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  intptr_t i;
  REQUIRE(hub != NULL);
  conn_echoed = 0;
  for (i = 0; i < CONNS; i++) {
    if (lpt_pair(conn_fds[i]) != 0) break;
    CHECK_EQ(lp_hub_spawn(hub, echo_side, (void *)i, 32 * 1024, NULL), 0);
    CHECK_EQ(lp_hub_spawn(hub, client_side, (void *)i, 32 * 1024, NULL), 0);
  }
  REQUIRE_EQ(i, CONNS);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(conn_echoed, (long)CONNS * ROUNDS);
  CHECK_EQ(lp_poller_count(lp_hub_poller(hub)), 0);
  CHECK_EQ(lp_hub_free(hub), 0);
}

/* ---- embedding: a foreign loop drives the hub ---------------------------------- */

static void hub_driven_by_foreign_loop(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  int fd, iterations = 0, sent = 0;
  double t0;
  REQUIRE(hub != NULL);
  fd = lp_poller_fileno(lp_hub_poller(hub));
  if (fd < 0) {
    lpt_skip("no pollable backend fd (poll/select)");
    goto out;
  }
  if (lpt_pair(pair_fds) != 0) goto out;
  wait_result = -1;
  log_reset();
  CHECK_EQ(lp_hub_spawn(hub, wait_read, (void *)5000, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, sleeper, (void *)20, 0, NULL), 0);
  t0 = lpt_now_ms();
  /* The foreign loop: poll() the hub's fd with the hub's timeout. This
   * thread writes the byte itself after 40 ms, while the hub is idle. */
  while (lp_hub_count(hub) > 0 && lpt_now_ms() - t0 < 5000) {
    struct pollfd pfd;
    int timeout = lp_hub_timeout(hub);
    if (!sent && (timeout < 0 || timeout > 10)) timeout = 10;
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    poll(&pfd, 1, timeout);
    if (!sent && lpt_now_ms() - t0 >= 40) sent = lpt_send(pair_fds[1], 1);
    CHECK_GE(lp_hub_run_once(hub, 0), 0);
    iterations++;
  }
  CHECK_EQ(lp_hub_count(hub), 0);
  CHECK_EQ(wait_result, LP_EVENT_READ);
  CHECK(wait_ms >= 35);
  CHECK_EQ(log_len, 1);
  CHECK(iterations < 1000);
  lpt_close_pair(pair_fds);
out:
  CHECK_EQ(lp_hub_free(hub), 0);
}

static void stopper(lp_hub_t *hub, void *arg) {
  (void)arg;
  lp_hub_stop(hub);
}

static void hub_stop(lp_backend_t b) {
  lp_hub_t *hub = new_hub(b);
  REQUIRE(hub != NULL);
  CHECK_EQ(lp_hub_spawn(hub, stopper, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_spawn(hub, timeout_probe, NULL, 0, NULL), 0);
  CHECK_EQ(lp_hub_run(hub), 0);
  CHECK_EQ(lp_hub_count(hub), 1); /* stopped with the sleeper still there */
  CHECK_EQ(lp_hub_free(hub), 0);
}

static const lpt_case cases[] = {
    LPT_CASE(hub_runs_spawned),
    LPT_CASE(hub_sleep_order),
    LPT_CASE(hub_yield_round_robin),
    LPT_CASE(hub_timeout_value),
    LPT_CASE(hub_wait_readable),
    LPT_CASE(hub_wait_timeout),
    LPT_CASE(hub_two_waiters_one_fd),
    LPT_CASE(hub_rearm_failure_ends_waits),
    LPT_CASE(hub_fd_reuse),
    LPT_CASE(hub_cancel),
    LPT_CASE(hub_close_wakes_waiter),
    LPT_CASE(hub_misuse),
    LPT_CASE(hub_free_with_waiters),
    LPT_CASE(hub_many_connections),
    LPT_CASE(hub_driven_by_foreign_loop),
    LPT_CASE(hub_stop),
};

int main(int argc, char **argv) {
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
