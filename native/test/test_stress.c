/*
 * test_stress.c - 2000 socketpairs in one poller (epoll, kqueue, poll; select
 * with as many as fit below FD_SETSIZE): exact ready sets with their data,
 * one-shot delivery of every fd exactly once through a small event array,
 * level-triggered fairness when max is smaller than the ready count, and
 * removal of half of the registrations (closed first) under load.
 */
#include "lp_test.h" /* first: feature macros */

#include <sys/select.h>

enum { PAIRS = 2000, SMALL_MAX = 64 };

typedef struct {
  int sv[2];
  int hits;
  int closed;
} conn_t;

/* Collects one wait's events into conn hit counts; returns -1 on a bad event. */
static int account(conn_t *c, int nconn, const lp_event_t *ev, int n, unsigned want_events) {
  int i, bad = 0;
  for (i = 0; i < n; i++) {
    conn_t *k = (conn_t *)ev[i].data;
    if (k == NULL || k < c || k >= c + nconn || k->sv[0] != ev[i].fd) {
      lpt_failf(__FILE__, __LINE__, "event for fd %d carries wrong data", ev[i].fd);
      bad = 1;
      continue;
    }
    if (ev[i].events != want_events) {
      lpt_failf(__FILE__, __LINE__, "fd %d: events %u, want %u", ev[i].fd, ev[i].events,
                want_events);
      bad = 1;
    }
    k->hits++;
  }
  return bad ? -1 : 0;
}

static void many_socketpairs(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t *ev = NULL;
  conn_t *c = NULL;
  long limit = lpt_raise_nofile();
  int npairs = PAIRS, made = 0, i, n, total, rounds;
  double t0;
  REQUIRE(p != NULL);
  if (!(lp_poller_caps(p) & LP_CAP_ANY_FD)) {
    /* select: as many pairs as fit below FD_SETSIZE. */
    int room = FD_SETSIZE - lpt_count_fds() - 16;
    npairs = room / 2 < npairs ? room / 2 : npairs;
  }
  if (limit - lpt_count_fds() - 64 < 2L * npairs) {
    npairs = (int)((limit - lpt_count_fds() - 64) / 2);
    printf("# RLIMIT_NOFILE %ld: only %d socketpairs\n", limit, npairs);
  }
  if (npairs < 16) {
    lpt_skip("too few fds available");
    goto out;
  }
  printf("# %s: %d socketpairs\n", lp_backend_name(b), npairs);
  c = (conn_t *)calloc((size_t)npairs, sizeof *c);
  ev = (lp_event_t *)calloc((size_t)npairs + 1, sizeof *ev);
  if (!CHECK(c != NULL && ev != NULL)) goto out;

  for (made = 0; made < npairs; made++) {
    if (lpt_pair(c[made].sv) != 0) goto close;
    if (lp_poller_add(p, c[made].sv[0], LP_EVENT_READ, &c[made]) != 0) {
      lpt_failf(__FILE__, __LINE__, "add #%d (fd %d) failed", made, c[made].sv[0]);
      lpt_close_pair(c[made].sv);
      goto close;
    }
  }
  CHECK_EQ(lp_poller_count(p), npairs);
  CHECK_EQ(lp_poller_wait(p, ev, npairs + 1, 0), 0);

  /* Every 7th connection readable: exactly those, once each. */
  for (i = 0; i < npairs; i += 7) CHECK(lpt_send(c[i].sv[1], 1));
  t0 = lpt_now_ms();
  n = lp_poller_wait(p, ev, npairs + 1, 1000);
  printf("# wait with %d of %d ready: %.3f ms\n", n, npairs, lpt_now_ms() - t0);
  CHECK_EQ(n, (npairs + 6) / 7);
  if (account(c, npairs, ev, n, LP_EVENT_READ) < 0) goto close;
  for (i = 0; i < npairs; i++) {
    if (c[i].hits != (i % 7 == 0)) {
      lpt_failf(__FILE__, __LINE__, "conn #%d reported %d times", i, c[i].hits);
      goto close;
    }
    c[i].hits = 0;
  }
  for (i = 0; i < npairs; i += 7) CHECK_EQ(lpt_drain(c[i].sv[0]), 1);
  CHECK_EQ(lp_poller_wait(p, ev, npairs + 1, 0), 0);

  /* All readable, one-shot, through SMALL_MAX events per call: every fd
   * exactly once, then silence although all are still readable. */
  for (i = 0; i < npairs; i++) {
    CHECK(lpt_send(c[i].sv[1], 1));
    if (lp_poller_mod(p, c[i].sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, &c[i]) != 0) {
      lpt_failf(__FILE__, __LINE__, "mod #%d failed", i);
      goto close;
    }
  }
  total = 0;
  for (rounds = 0; rounds <= npairs; rounds++) {
    n = lp_poller_wait(p, ev, SMALL_MAX, total == 0 ? 1000 : 0);
    if (n <= 0) break;
    CHECK_LE(n, SMALL_MAX);
    if (account(c, npairs, ev, n, LP_EVENT_READ) < 0) goto close;
    total += n;
  }
  CHECK_EQ(n, 0);
  CHECK_EQ(total, npairs);
  CHECK_EQ(rounds, (npairs + SMALL_MAX - 1) / SMALL_MAX);
  for (i = 0; i < npairs; i++) {
    if (c[i].hits != 1) {
      lpt_failf(__FILE__, __LINE__, "one-shot conn #%d reported %d times", i, c[i].hits);
      goto close;
    }
    c[i].hits = 0;
  }

  /* Level-triggered, all readable, SMALL_MAX per call: within
   * ceil(npairs / SMALL_MAX) calls every fd has been reported (no fd is
   * starved by the ones in front of it). */
  for (i = 0; i < npairs; i++) CHECK_EQ(lp_poller_mod(p, c[i].sv[0], LP_EVENT_READ, &c[i]), 0);
  for (rounds = 0; rounds < (npairs + SMALL_MAX - 1) / SMALL_MAX; rounds++) {
    n = lp_poller_wait(p, ev, SMALL_MAX, 1000);
    CHECK_EQ(n, npairs < SMALL_MAX ? npairs : SMALL_MAX);
    if (account(c, npairs, ev, n, LP_EVENT_READ) < 0) goto close;
  }
  for (i = 0; i < npairs; i++) {
    if (c[i].hits == 0) {
      lpt_failf(__FILE__, __LINE__, "level-triggered conn #%d (fd %d) starved", i, c[i].sv[0]);
      goto close;
    }
    c[i].hits = 0;
  }

  /* Remove the even half, closing those fds first; the odd half (still
   * readable) is reported, the removed ones never. */
  for (i = 0; i < npairs; i += 2) {
    lpt_close_pair(c[i].sv);
    c[i].closed = 1;
    CHECK_EQ(lp_poller_del(p, c[i].sv[0]), 0);
  }
  CHECK_EQ(lp_poller_count(p), npairs / 2);
  n = lp_poller_wait(p, ev, npairs + 1, 1000);
  CHECK_EQ(n, npairs / 2);
  if (account(c, npairs, ev, n, LP_EVENT_READ) < 0) goto close;
  for (i = 0; i < npairs; i++) {
    if (c[i].hits != (i % 2)) {
      lpt_failf(__FILE__, __LINE__, "after removal conn #%d reported %d times", i, c[i].hits);
      break;
    }
  }

close:
  for (i = 0; i < made; i++) {
    if (c[i].closed) continue;
    lp_poller_del(p, c[i].sv[0]);
    lpt_close_pair(c[i].sv);
  }
  CHECK_EQ(lp_poller_count(p), 0);
out:
  free(ev);
  free(c);
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {LPT_CASE(many_socketpairs)};
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
