/*
 * test_wait.c - readiness as lp_poller_wait reports it: level-triggered
 * read/write, data pointers, one event per fd, hang-up, max smaller than the
 * ready count, one-shot, edge-triggered, and timeouts.
 */
#include "lp_test.h"

/* An idle connected socket is writable, not readable; after the peer writes
 * it is both, in one event carrying the registration's data. */
static void level_read_write(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], tag, n;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_EVENT_WRITE, &tag), 0);

  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_WRITE);
  CHECK(ev[0].data == &tag);

  CHECK(lpt_send(sv[1], 10));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK(ev[0].data == &tag);

  /* Level-triggered: still readable until drained. */
  n = lp_poller_wait(p, ev, 4, 0);
  CHECK_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK_EQ(lpt_drain(sv[0]), 10);
  n = lp_poller_wait(p, ev, 4, 0);
  CHECK_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_WRITE);

  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* Reports are masked by the interest; mod changes it and the data. */
static void interest_masks_readiness(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], tag1, tag2, n;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag1), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0); /* writable, but only READ is watched */

  CHECK(lpt_send(sv[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag1);

  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_WRITE, &tag2), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_WRITE);
  CHECK(ev[0].data == &tag2);

  /* A data-only mod takes effect too. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_WRITE, &tag1), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK(ev[0].data == &tag1);

  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* Several registrations: each ready fd once, with its own data. */
static void several_fds(lp_backend_t b) {
  enum { N = 6 };
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[2 * N];
  int sv[N][2], made = 0, i, n;
  REQUIRE(p != NULL);
  for (made = 0; made < N; made++) {
    if (lpt_pair(sv[made]) != 0) goto close;
    CHECK_EQ(lp_poller_add(p, sv[made][0], LP_EVENT_READ, &sv[made][0]), 0);
  }
  CHECK_EQ(lp_poller_wait(p, ev, 2 * N, 0), 0);
  for (i = 1; i < N; i += 2) CHECK(lpt_send(sv[i][1], 1)); /* odd ones readable */
  n = lp_poller_wait(p, ev, 2 * N, 1000);
  CHECK_EQ(n, N / 2);
  for (i = 0; i < N; i++) {
    int k = lpt_find(ev, n, sv[i][0]);
    if (i % 2) {
      if (CHECK(k >= 0)) {
        CHECK_EQ(ev[k].events, LP_EVENT_READ);
        CHECK(ev[k].data == &sv[i][0]);
        CHECK_EQ(lpt_find(ev + k + 1, n - k - 1, sv[i][0]), -1); /* once */
      }
    } else {
      CHECK_EQ(k, -1);
    }
  }
close:
  for (i = 0; i < made; i++) {
    CHECK_EQ(lp_poller_del(p, sv[i][0]), 0);
    lpt_close_pair(sv[i]);
  }
  lp_poller_free(p);
}

/* The peer closing makes the fd readable (EOF). */
static void peer_hangup(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], n;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  close(sv[1]);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK(ev[0].events & LP_EVENT_READ);
  CHECK_EQ(ev[0].events & ~LP_EVENT_READ, 0); /* masked by the interest */
  CHECK_EQ(read(sv[0], &n, 1), 0);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  close(sv[0]);
out:
  lp_poller_free(p);
}

/* max smaller than the ready count: max events now, the others first on the
 * next call (level-triggered), so that no ready fd is starved. */
static void max_smaller_than_ready(lp_backend_t b) {
  enum { N = 5, MAX = 2 };
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[MAX + 1];
  int sv[N][2], made, i, call, n;
  int seen[N] = {0};
  REQUIRE(p != NULL);
  for (made = 0; made < N; made++) {
    if (lpt_pair(sv[made]) != 0) goto close;
    CHECK_EQ(lp_poller_add(p, sv[made][0], LP_EVENT_WRITE, &sv[made][0]), 0);
  }
  /* ceil(N / MAX) calls see every ready fd. */
  for (call = 0; call < (N + MAX - 1) / MAX; call++) {
    ev[MAX].fd = -2; /* canary: nothing is written past max */
    n = lp_poller_wait(p, ev, MAX, 1000);
    CHECK_EQ(n, MAX);
    CHECK_EQ(ev[MAX].fd, -2);
    if (n == MAX) CHECK_NE(ev[0].fd, ev[1].fd);
    for (i = 0; i < n && i < MAX; i++) {
      int k;
      for (k = 0; k < N; k++)
        if (sv[k][0] == ev[i].fd) {
          seen[k]++;
          CHECK(ev[i].data == &sv[k][0]);
          CHECK_EQ(ev[i].events, LP_EVENT_WRITE);
        }
    }
  }
  for (i = 0; i < N; i++)
    if (!seen[i]) lpt_failf(__FILE__, __LINE__, "ready fd %d (#%d) was not reported", sv[i][0], i);
close:
  for (i = 0; i < made; i++) {
    CHECK_EQ(lp_poller_del(p, sv[i][0]), 0);
    lpt_close_pair(sv[i]);
  }
  lp_poller_free(p);
}

/* The same with one-shot registrations: each fd exactly once, in
 * ceil(N / MAX) calls, then silence. */
static void max_smaller_than_ready_oneshot(lp_backend_t b) {
  enum { N = 5, MAX = 2 };
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[MAX];
  int sv[N][2], made, i, n = 0, total = 0, calls;
  int seen[N] = {0};
  REQUIRE(p != NULL);
  for (made = 0; made < N; made++) {
    if (lpt_pair(sv[made]) != 0) goto close;
    CHECK_EQ(lp_poller_add(p, sv[made][0], LP_EVENT_WRITE | LP_FLAG_ONESHOT, NULL), 0);
  }
  for (calls = 0;; calls++) {
    int j, k;
    n = lp_poller_wait(p, ev, MAX, calls == 0 ? 1000 : 0);
    if (n <= 0) break;
    CHECK_LE(n, MAX);
    total += n;
    for (j = 0; j < n && j < MAX; j++)
      for (k = 0; k < N; k++)
        if (sv[k][0] == ev[j].fd) seen[k]++;
  }
  CHECK_EQ(n, 0);
  CHECK_EQ(calls, (N + MAX - 1) / MAX);
  CHECK_EQ(total, N);
  for (i = 0; i < N; i++) CHECK_EQ(seen[i], 1);
close:
  for (i = 0; i < made; i++) {
    CHECK_EQ(lp_poller_del(p, sv[i][0]), 0);
    lpt_close_pair(sv[i]);
  }
  lp_poller_free(p);
}

/* One-shot: reported once, then silent while still ready, until mod re-arms. */
static void oneshot(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  unsigned events = 0;
  int sv[2], tag, n;
  REQUIRE(p != NULL);
  if (!(lp_poller_caps(p) & LP_CAP_ONESHOT)) {
    lpt_skip("no LP_CAP_ONESHOT");
    goto out;
  }
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, &tag), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK(lpt_send(sv[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag);

  /* Still readable (not drained), but disarmed. */
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK_SILENT(p, 20);
  CHECK(lpt_send(sv[1], 1));
  CHECK_SILENT(p, 20);
  /* Still registered. */
  CHECK_EQ(lp_poller_count(p), 1);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, NULL), 0);
  CHECK_EQ(events, LP_EVENT_READ | LP_FLAG_ONESHOT);
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), -EEXIST);

  /* Re-arm with the same events: reported once more. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, &tag), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);

  /* Re-arm with other events: the new interest is what fires. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_EVENT_WRITE | LP_FLAG_ONESHOT, NULL), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK(ev[0].data == NULL);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);

  /* Back to level-triggered: reported on every wait. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);

  /* A disarmed fd can be removed and registered again. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* One-shot of a disarmed fd whose peer hangs up: still silent (poll and
 * select must not report POLLHUP / EOF of a disarmed fd). */
static void oneshot_silent_on_hangup(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2];
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_WRITE | LP_FLAG_ONESHOT, NULL), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  close(sv[1]);
  CHECK_SILENT(p, 20);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  close(sv[0]);
out:
  lp_poller_free(p);
}

/* Edge-triggered: one report per new arrival of data, not per wait. */
static void edge(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], tag, n;
  REQUIRE(p != NULL);
  if (!(lp_poller_caps(p) & LP_CAP_EDGE)) {
    CHECK_EQ(lp_poller_add(p, 0, LP_EVENT_READ | LP_FLAG_EDGE, NULL), -EINVAL);
    lpt_skip("no LP_CAP_EDGE");
    goto out;
  }
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_EDGE, &tag), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);

  CHECK(lpt_send(sv[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, sv[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag);
  /* Not drained, but no new data: silent. */
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK_SILENT(p, 20);

  /* New data: one more report, then silence again. */
  CHECK(lpt_send(sv[1], 1));
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK(lpt_send(sv[1], 1));
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK_EQ(lpt_drain(sv[0]), 3);

  /* Edge + one-shot: one report, silent on new data until re-armed. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_FLAG_EDGE | LP_FLAG_ONESHOT, &tag), 0);
  CHECK(lpt_send(sv[1], 1));
  CHECK_EQ(lp_poller_wait(p, ev, 4, 1000), 1);
  CHECK(lpt_send(sv[1], 1));
  CHECK_SILENT(p, 20);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

static void timeouts(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2];
  double t0, dt;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);

  t0 = lpt_now_ms();
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  dt = lpt_now_ms() - t0;
  CHECK_LT(dt, 250); /* "immediately", with room for a loaded machine */

  t0 = lpt_now_ms();
  CHECK_SILENT(p, 50);
  dt = lpt_now_ms() - t0;
  if (dt < 50.0) lpt_failf(__FILE__, __LINE__, "timeout 50 ms returned after %.3f ms", dt);
  CHECK_LT(dt, 2000);

  /* Readiness ends a long wait early. */
  CHECK(lpt_send(sv[1], 1));
  t0 = lpt_now_ms();
  CHECK_EQ(lp_poller_wait(p, ev, 4, 10000), 1);
  CHECK_LT(lpt_now_ms() - t0, 2000);
  /* ... and so does it for a blocking wait. */
  CHECK_EQ(lp_poller_wait(p, ev, 4, -1), 1);

  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* The epoll fd is itself readable while an event is pending (an outer loop
 * can watch it), and stays so until the event is consumed. */
static void backend_fd_readable(lp_backend_t b) {
  lp_poller_t *outer, *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], pfd;
  REQUIRE(p != NULL);
  if (!(lp_poller_caps(p) & LP_CAP_FILENO)) {
    lpt_skip("no LP_CAP_FILENO");
    lp_poller_free(p);
    return;
  }
  pfd = lp_poller_fileno(p);
  outer = lpt_new(LP_BACKEND_POLL);
  if (outer == NULL) goto out;
  if (lpt_pair(sv) != 0) goto outer;
  CHECK_EQ(lp_poller_add(outer, pfd, LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_wait(outer, ev, 4, 0), 0);
  CHECK(lpt_send(sv[1], 1));
  CHECK_EQ(lp_poller_wait(outer, ev, 4, 1000), 1);
  CHECK_EQ(ev[0].fd, pfd);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 1);
  CHECK_EQ(lpt_drain(sv[0]), 1);
  CHECK_EQ(lp_poller_wait(outer, ev, 4, 0), 0);
  CHECK_EQ(lp_poller_del(outer, pfd), 0);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
outer:
  lp_poller_free(outer);
out:
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {
      LPT_CASE(level_read_write),
      LPT_CASE(interest_masks_readiness),
      LPT_CASE(several_fds),
      LPT_CASE(peer_hangup),
      LPT_CASE(max_smaller_than_ready),
      LPT_CASE(max_smaller_than_ready_oneshot),
      LPT_CASE(oneshot),
      LPT_CASE(oneshot_silent_on_hangup),
      LPT_CASE(edge),
      LPT_CASE(timeouts),
      LPT_CASE(backend_fd_readable),
  };
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
