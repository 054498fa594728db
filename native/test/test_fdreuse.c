/*
 * test_fdreuse.c - registrations whose fd was closed, kept alive by a dup, or
 * whose number was reused: lp_poller_del still succeeds, no event of a removed
 * registration is reported (epoll's generation check), closed fds are
 * reported by poll/select, and epoll's EEXIST / ENOENT recovery paths.
 */
#include "lp_test.h"

#include <poll.h>

static void del_closed_fd(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2];
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_add(p, sv[1], LP_EVENT_WRITE | LP_FLAG_ONESHOT, NULL), 0);
  lpt_close_pair(sv);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_del(p, sv[1]), 0);
  CHECK_EQ(lp_poller_count(p), 0);
  CHECK_EQ(lp_poller_del(p, sv[0]), -ENOENT);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
out:
  lp_poller_free(p);
}

/* A closed fd still registered: poll reports POLLNVAL and select recovers
 * from EBADF, both as ready for the whole interest; epoll's kernel set
 * forgets a closed file, so epoll reports nothing. */
static void closed_while_registered(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int sv[2], other[2], tag, n;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  if (lpt_pair(other) != 0) goto pair;
  CHECK_EQ(lp_poller_add(p, other[0], LP_EVENT_READ, NULL), 0); /* idle */
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag), 0);
  close(sv[0]);
  n = lp_poller_wait(p, ev, 4, 50);
  if (b == LP_BACKEND_POLL || b == LP_BACKEND_SELECT) {
    REQUIRE_EQ(n, 1);
    CHECK_EQ(ev[0].fd, sv[0]);
    CHECK_EQ(ev[0].events, LP_EVENT_READ);
    CHECK(ev[0].data == &tag);
    CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 1); /* until removed */
    /* One-shot: reported once, then silent. */
    CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_EVENT_WRITE | LP_FLAG_ONESHOT, &tag), 0);
    n = lp_poller_wait(p, ev, 4, 0);
    REQUIRE_EQ(n, 1);
    CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
    CHECK_SILENT(p, 20);
  } else {
    CHECK_EQ(n, 0);
  }
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  /* The other registration still works. */
  CHECK(lpt_send(other[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK_EQ(n, 1);
  CHECK_EQ(ev[0].fd, other[0]);
  CHECK_EQ(lp_poller_del(p, other[0]), 0);
  lpt_close_pair(other);
  close(sv[1]);
  goto out;
pair:
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* A closed fd and a ready fd: poll and select report both in one wait (select
 * fails with EBADF for the whole set and looks again without the closed fd);
 * epoll and kqueue only the ready one. The wait never fails with EBADF. */
static void closed_and_ready(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int a[2], c[2], n;
  REQUIRE(p != NULL);
  if (lpt_pair(a) != 0) goto out;
  if (lpt_pair(c) != 0) goto pair;
  CHECK_EQ(lp_poller_add(p, a[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_add(p, c[0], LP_EVENT_WRITE, NULL), 0);
  close(a[0]);
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK(lpt_find(ev, n, c[0]) >= 0); /* one closed fd hides no other */
  if (b == LP_BACKEND_EPOLL || b == LP_BACKEND_KQUEUE) {
    CHECK_EQ(n, 1);
    CHECK_EQ(lpt_find(ev, n, a[0]), -1);
  } else {
    CHECK_EQ(n, 2);
    CHECK(lpt_find(ev, n, a[0]) >= 0);
  }
  CHECK_EQ(lp_poller_del(p, a[0]), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, c[0]);
  CHECK_EQ(ev[0].events, LP_EVENT_WRITE);
  CHECK_EQ(lp_poller_del(p, c[0]), 0);
  lpt_close_pair(c);
  close(a[1]);
  goto out;
pair:
  lpt_close_pair(a);
out:
  lp_poller_free(p);
}

/*
 * The number of a registered fd is reused for another file, while a dup keeps
 * the first file open: del succeeds, and readiness of the first file is never
 * reported for the removed registration (on epoll, the kernel still holds the
 * first file under this number; the generation check drops its events).
 * Then the number is registered again: only the new file's readiness counts.
 */
static void del_after_reuse(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int first[2], second[2], keep = -1, a, tag1, tag2, n;
  REQUIRE(p != NULL);
  if (lpt_pair(first) != 0) goto out;
  if (lpt_pair(second) != 0) goto pair1;
  a = first[0];
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ, &tag1), 0);
  keep = dup(a); /* keeps the first file open */
  if (!CHECK(keep >= 0)) goto pair2;
  close(a);
  REQUIRE_EQ(dup2(second[0], a), a); /* number a now names the second file */
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_EQ(lp_poller_count(p), 0);

  CHECK(lpt_send(first[1], 1)); /* the first file becomes readable */
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK_SILENT(p, 50);

  /* Register the number again (second file, idle): still nothing. */
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ, &tag2), 0);
  CHECK_SILENT(p, 50);
  CHECK(lpt_send(first[1], 1));
  CHECK_SILENT(p, 20);
  /* The second file's readiness is reported, with the new data. */
  CHECK(lpt_send(second[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, a);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag2);
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_SILENT(p, 20);
  close(a);
  close(keep);
  close(first[1]);
  lpt_close_pair(second);
  goto out;
pair2:
  lpt_close_pair(second);
pair1:
  lpt_close_pair(first);
out:
  lp_poller_free(p);
}

/* Same as above with a one-shot and a write interest (always ready): the
 * stale kernel entry must not leak through with the new registration. */
static void reuse_write_interest(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int first[2], second[2], keep, a, tag, n;
  REQUIRE(p != NULL);
  if (lpt_pair(first) != 0) goto out;
  if (lpt_pair(second) != 0) {
    lpt_close_pair(first);
    goto out;
  }
  a = first[0];
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_WRITE, NULL), 0);
  keep = dup(a);
  close(a);
  CHECK_EQ(dup2(second[0], a), a);
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK_SILENT(p, 20);
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ | LP_FLAG_ONESHOT, &tag), 0);
  CHECK_SILENT(p, 20);
  CHECK(lpt_send(second[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK_EQ(n, 1);
  if (n == 1) {
    CHECK_EQ(ev[0].events, LP_EVENT_READ);
    CHECK(ev[0].data == &tag);
  }
  CHECK_SILENT(p, 20);
  CHECK_EQ(lp_poller_del(p, a), 0);
  close(a);
  close(keep);
  close(first[1]);
  lpt_close_pair(second);
out:
  lp_poller_free(p);
}

/*
 * epoll EEXIST recovery: register a, dup it, close a and del it (the kernel
 * keeps (a, file) because the dup holds the file), then make a name the same
 * file again and add it: EPOLL_CTL_ADD fails with EEXIST, the core takes the
 * old kernel entry over with MOD, and events carry the new registration.
 */
static void epoll_eexist_recovery(lp_backend_t unused) {
  const lp_backend_t b = LP_BACKEND_EPOLL;
  lp_poller_t *p;
  lp_event_t ev[4];
  int sv[2], keep, a, tag1, tag2, n;
  (void)unused;
  if (!lp_backend_available(b)) {
    lpt_skip("no epoll here");
    return;
  }
  p = lpt_new(b);
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  a = sv[0];
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ, &tag1), 0);
  keep = dup(a);
  close(a);
  CHECK_EQ(lp_poller_del(p, a), 0); /* EPOLL_CTL_DEL fails (EBADF); ignored */
  CHECK_EQ(dup2(keep, a), a);
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ | LP_EVENT_WRITE, &tag2), 0);
  CHECK_EQ(lp_poller_count(p), 1);
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, a);
  CHECK_EQ(ev[0].events, LP_EVENT_WRITE); /* the new interest */
  CHECK(ev[0].data == &tag2);
  CHECK(lpt_send(sv[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  /* del now removes the kernel entry for real: nothing afterwards. */
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_SILENT(p, 20);
  close(a);
  close(keep);
  close(sv[1]);
out:
  lp_poller_free(p);
}

/*
 * epoll ENOENT recovery: register a, close it (no dup: the kernel drops the
 * entry), make a name a new file, then lp_poller_mod(a) with a changed
 * interest: EPOLL_CTL_MOD fails with ENOENT, the core re-ADDs, and the new
 * file's readiness is reported.
 */
static void epoll_enoent_recovery(lp_backend_t unused) {
  const lp_backend_t b = LP_BACKEND_EPOLL;
  lp_poller_t *p;
  lp_event_t ev[4];
  int first[2], second[2], a, tag, n;
  (void)unused;
  if (!lp_backend_available(b)) {
    lpt_skip("no epoll here");
    return;
  }
  p = lpt_new(b);
  REQUIRE(p != NULL);
  if (lpt_pair(first) != 0) goto out;
  if (lpt_pair(second) != 0) {
    lpt_close_pair(first);
    goto out;
  }
  a = first[0];
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_WRITE, NULL), 0);
  close(a);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0); /* epoll forgot the closed file */
  CHECK_EQ(dup2(second[0], a), a);
  CHECK_EQ(lp_poller_mod(p, a, LP_EVENT_READ, &tag), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  CHECK(lpt_send(second[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, a);
  CHECK_EQ(ev[0].events, LP_EVENT_READ);
  CHECK(ev[0].data == &tag);
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_SILENT(p, 20);
  close(a);
  close(first[1]);
  lpt_close_pair(second);
out:
  lp_poller_free(p);
}

/* mod of a closed fd (number not reused) fails on epoll and leaves the
 * registration in place; del still succeeds everywhere. */
static void mod_closed_fd(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  unsigned events = 0;
  void *data = NULL;
  int sv[2], tag, rc;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag), 0);
  close(sv[0]);
  rc = lp_poller_mod(p, sv[0], LP_EVENT_WRITE, NULL);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  if (b == LP_BACKEND_EPOLL) {
    CHECK_EQ(rc, -EBADF);
    CHECK_EQ(events, LP_EVENT_READ); /* unchanged */
    CHECK(data == &tag);
  } else if (rc == 0) {
    CHECK_EQ(events, LP_EVENT_WRITE);
  }
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_count(p), 0);
  close(sv[1]);
out:
  lp_poller_free(p);
}

/*
 * Leaves `count` entries in an epoll set that lp_poller_del cannot remove:
 * each fd is registered, made readable if `ready`, kept open under another
 * number (keep[2i] is the dup, keep[2i+1] its peer), closed and removed.
 * poll, select and kqueue keep nothing. Returns 0, or -1 after recording a
 * failure.
 */
static int leave_stale_entries(lp_poller_t *p, int count, int ready, int *keep) {
  int i;
  for (i = 0; i < count; i++) {
    int sv[2];
    if (lpt_pair(sv) != 0) return -1;
    CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
    if (ready) CHECK(lpt_send(sv[1], 1));
    keep[2 * i] = dup(sv[0]);
    keep[2 * i + 1] = sv[1];
    close(sv[0]);
    CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  }
  return 0;
}

static void close_all(const int *fds, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Is fd readable right now? */
static int readable_now(int fd) {
  struct pollfd pfd;
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/*
 * 100 left-over kernel entries, all ready, and one registered ready fd: every
 * wait reports the registered fd, even with room for only a few events
 * (the entries used to fill epoll_wait's batch, so that a wait(0) returned
 * nothing while the fd was ready). Afterwards the poller's own fd is not
 * readable while nothing registered is ready, and a wait does not return
 * early.
 */
static void stale_entries_never_hide(lp_backend_t b) {
  enum { kStale = 100 };
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int keep[2 * kStale], live[2], tag, i, n;
  REQUIRE(p != NULL);
  for (i = 0; i < 2 * kStale; i++) keep[i] = -1;
  if (lpt_pair(live) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, live[0], LP_EVENT_READ, &tag), 0);
  CHECK(lpt_send(live[1], 1));
  if (leave_stale_entries(p, kStale, 1, keep) != 0) goto pair;
  for (i = 0; i < 6; i++) {
    n = lp_poller_wait(p, ev, 4, 0);
    REQUIRE_EQ(n, 1);
    CHECK_EQ(ev[0].fd, live[0]);
    CHECK_EQ(ev[0].events, LP_EVENT_READ);
    CHECK(ev[0].data == &tag);
  }
  n = lp_poller_wait(p, ev, 1, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, live[0]);
  CHECK_EQ(lpt_drain(live[0]), 1);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  if (lp_poller_fileno(p) >= 0) CHECK(!readable_now(lp_poller_fileno(p)));
  CHECK_SILENT(p, 30);
  CHECK(lpt_send(live[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK_EQ(n, 1);
  if (lp_poller_fileno(p) >= 0) CHECK(readable_now(lp_poller_fileno(p)));
  CHECK_EQ(lp_poller_del(p, live[0]), 0);
pair:
  lpt_close_pair(live);
out:
  close_all(keep, 2 * kStale);
  lp_poller_free(p);
}

/*
 * A left-over entry that becomes ready only later (its file gets data after
 * the removal) is dropped then, with the same guarantees; registrations made
 * after it keep working, and a one-shot one stays disarmed.
 */
static void stale_entry_ready_later(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int keep[2] = {-1, -1}, x[2], y[2], n;
  REQUIRE(p != NULL);
  if (lpt_pair(x) != 0) goto out;
  if (lpt_pair(y) != 0) goto pair1;
  if (leave_stale_entries(p, 1, 0, keep) != 0) goto pair2;
  CHECK_EQ(lp_poller_add(p, x[0], LP_EVENT_READ, NULL), 0);
  CHECK_EQ(lp_poller_add(p, y[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), 0);
  CHECK(lpt_send(y[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, y[0]);
  CHECK(lpt_send(keep[1], 1)); /* the left-over entry becomes ready */
  CHECK_SILENT(p, 30);
  CHECK(lpt_send(x[1], 1));
  n = lp_poller_wait(p, ev, 4, 1000);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].fd, x[0]);
  CHECK_EQ(lp_poller_mod(p, y[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), 0);
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK_EQ(n, 2);
  CHECK(lpt_find(ev, n, y[0]) >= 0);
  CHECK_EQ(lp_poller_del(p, x[0]), 0);
  CHECK_EQ(lp_poller_del(p, y[0]), 0);
pair2:
  lpt_close_pair(y);
pair1:
  lpt_close_pair(x);
out:
  close_all(keep, 2);
  lp_poller_free(p);
}

/*
 * lp_poller_mod after the number of a registered fd was reused (dup2 over it
 * while a dup keeps the first file open) watches the file the number names
 * now, and only that one: the first file's readiness is never merged in.
 */
static void mod_after_reuse_no_merge(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[4];
  int first[2], second[2], keep = -1, a, tag, n, i;
  REQUIRE(p != NULL);
  if (lpt_pair(first) != 0) goto out;
  if (lpt_pair(second) != 0) {
    lpt_close_pair(first);
    goto out;
  }
  a = first[0];
  CHECK_EQ(lp_poller_add(p, a, LP_EVENT_READ, NULL), 0);
  keep = dup(a);
  CHECK(lpt_send(first[1], 1)); /* the first file is readable */
  REQUIRE_EQ(dup2(second[0], a), a);
  CHECK_EQ(lp_poller_mod(p, a, LP_EVENT_READ | LP_EVENT_WRITE, &tag), 0);
  for (i = 0; i < 3; i++) {
    n = lp_poller_wait(p, ev, 4, 0);
    REQUIRE_EQ(n, 1);
    CHECK_EQ(ev[0].fd, a);
    CHECK_EQ(ev[0].events, LP_EVENT_WRITE);
    CHECK(ev[0].data == &tag);
  }
  CHECK(lpt_send(second[1], 1));
  n = lp_poller_wait(p, ev, 4, 0);
  REQUIRE_EQ(n, 1);
  CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK_EQ(lp_poller_del(p, a), 0);
  CHECK_EQ(lp_poller_wait(p, ev, 4, 0), 0);
  close(a);
  close(keep);
  close(first[1]);
  lpt_close_pair(second);
out:
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {
      LPT_CASE(del_closed_fd),        LPT_CASE(closed_while_registered),
      LPT_CASE(closed_and_ready),     LPT_CASE(del_after_reuse),
      LPT_CASE(reuse_write_interest), LPT_ONCE(epoll_eexist_recovery),
      LPT_ONCE(epoll_enoent_recovery), LPT_CASE(mod_closed_fd),
      LPT_CASE(stale_entries_never_hide), LPT_CASE(stale_entry_ready_later),
      LPT_CASE(mod_after_reuse_no_merge),
  };
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
