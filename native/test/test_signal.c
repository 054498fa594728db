/*
 * test_signal.c - lp_poller_wait under signals. A SIGALRM handler installed
 * without SA_RESTART interrupts the backend's wait every 20 ms (EINTR); the
 * core must resume with the remaining time (never return early, never report
 * EINTR), and a blocking wait must keep blocking until an fd is ready.
 */
#include "lp_test.h" /* first: feature macros */

#include <signal.h>
#include <sys/time.h>

enum { TICK_MS = 20, WAKE_AT_TICK = 3, GIVE_UP_TICKS = 500 /* 10 s */ };

static volatile sig_atomic_t ticks;
static volatile sig_atomic_t wake_fd = -1;

/* Counts ticks; writes one byte to wake_fd at tick WAKE_AT_TICK; ends the
 * process if a wait never returns (so a hang is a clear failure). */
static void on_alarm(int sig) {
  (void)sig;
  ticks++;
  if (ticks == WAKE_AT_TICK && wake_fd >= 0) {
    char c = 'x';
    ssize_t r = write(wake_fd, &c, 1);
    (void)r;
  }
  if (ticks >= GIVE_UP_TICKS) {
    static const char msg[] = "test_signal: lp_poller_wait did not return, giving up\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(1);
  }
}

static int start_ticks(struct sigaction *old) {
  struct sigaction sa;
  struct itimerval it;
  sigset_t set;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: the wait fails with EINTR */
  ticks = 0;
  if (sigaction(SIGALRM, &sa, old) != 0) return -1;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  if (sigprocmask(SIG_UNBLOCK, &set, NULL) != 0) return -1;
  memset(&it, 0, sizeof it);
  it.it_value.tv_usec = TICK_MS * 1000;
  it.it_interval.tv_usec = TICK_MS * 1000;
  return setitimer(ITIMER_REAL, &it, NULL);
}

/* A tick may still be pending when the timer stops (valgrind delivers
 * signals late): it is blocked, then discarded by SIG_IGN, before the old
 * (default: fatal) disposition comes back. */
static void stop_ticks(const struct sigaction *old) {
  struct itimerval it;
  struct sigaction ignore;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
  memset(&it, 0, sizeof it);
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  CHECK(sigaction(SIGALRM, &ignore, NULL) == 0);
  CHECK(sigaction(SIGALRM, old, NULL) == 0);
  CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
  wake_fd = -1;
}

/* Nothing ready, timeout 200 ms, interrupted ~10 times: returns 0 after at
 * least 200 ms in total. */
static void eintr_resumes_with_remaining_time(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  struct sigaction old;
  int sv[2], n;
  double t0, dt;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
  if (!CHECK(start_ticks(&old) == 0)) goto pair;
  t0 = lpt_now_ms();
  n = lp_poller_wait(p, ev, 4, 200);
  dt = lpt_now_ms() - t0;
  stop_ticks(&old);
  CHECK_EQ(n, 0);
  if (dt < 200.0) lpt_failf(__FILE__, __LINE__, "timeout 200 ms returned after %.3f ms", dt);
  CHECK_LT(dt, 5000);
  CHECK_GE(ticks, 2); /* the wait really was interrupted */
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
pair:
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* The same with nothing registered at all. */
static void eintr_with_empty_set(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[1];
  struct sigaction old;
  int n;
  double t0, dt;
  REQUIRE(p != NULL);
  if (!CHECK(start_ticks(&old) == 0)) goto out;
  t0 = lpt_now_ms();
  n = lp_poller_wait(p, ev, 1, 100);
  dt = lpt_now_ms() - t0;
  stop_ticks(&old);
  CHECK_EQ(n, 0);
  if (dt < 100.0) lpt_failf(__FILE__, __LINE__, "timeout 100 ms returned after %.3f ms", dt);
  CHECK_GE(ticks, 2);
out:
  lp_poller_free(p);
}

/* A blocking wait (timeout -1) survives interruptions and returns when the
 * handler makes the fd readable. */
static void blocking_wait_until_ready(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  struct sigaction old;
  int sv[2], tag, n;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag), 0);
  wake_fd = sv[1];
  if (!CHECK(start_ticks(&old) == 0)) goto pair;
  n = lp_poller_wait(p, ev, 4, -1);
  stop_ticks(&old);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag);
  CHECK_GE(ticks, WAKE_AT_TICK);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
pair:
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* A long timed wait returns as soon as the handler makes the fd ready. */
static void timed_wait_until_ready(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  struct sigaction old;
  int sv[2], n;
  double t0, dt;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), 0);
  wake_fd = sv[1];
  if (!CHECK(start_ticks(&old) == 0)) goto pair;
  t0 = lpt_now_ms();
  n = lp_poller_wait(p, ev, 4, 5000);
  dt = lpt_now_ms() - t0;
  stop_ticks(&old);
  CHECK_EQ(n, 1);
  CHECK_GE(dt, (WAKE_AT_TICK - 1) * TICK_MS);
  CHECK_LT(dt, 4000);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
pair:
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {
      LPT_CASE(eintr_resumes_with_remaining_time),
      LPT_CASE(eintr_with_empty_set),
      LPT_CASE(blocking_wait_until_ready),
      LPT_CASE(timed_wait_until_ready),
  };
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
