/*
 * test_limits.c - the core out of fds (EMFILE): creating a poller or a hub
 * fails cleanly with -EMFILE and leaves no fd behind, and an epoll poller
 * that cannot rebuild its kernel set (which takes an fd) still reports every
 * ready fd.
 */
#include "lp_test.h"

enum { kMaxFillers = 512 };

/* The fd table, filled: fill_fds lowers the soft RLIMIT_NOFILE to 64 above
 * the highest fd in use (so that filling takes few fds) and takes every free
 * number below it with a dup of /dev/null; release_fds gives `count` of them
 * back; restore_fds closes the rest and restores the limit. */
typedef struct filler_s {
  int fds[kMaxFillers];
  int n;
  struct rlimit saved;
} filler;

static int fill_fds(filler *f) {
  struct rlimit low;
  int fd, devnull, highest;
  f->n = 0;
  if (getrlimit(RLIMIT_NOFILE, &f->saved) != 0) return -1;
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return -1;
  f->fds[f->n++] = devnull;
  highest = devnull;
  for (fd = devnull + 1; fd < 4096; fd++)
    if (lpt_is_open(fd)) highest = fd;
  low = f->saved;
  if (low.rlim_cur == RLIM_INFINITY || low.rlim_cur > (rlim_t)highest + 64)
    low.rlim_cur = (rlim_t)highest + 64;
  if (setrlimit(RLIMIT_NOFILE, &low) != 0) return -1;
  while (f->n < kMaxFillers) {
    fd = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return errno == EMFILE ? 0 : -1;
    f->fds[f->n++] = fd;
  }
  return -1; /* the limit was not reached */
}

static void release_fds(filler *f, int count) {
  while (count-- > 0 && f->n > 0) close(f->fds[--f->n]);
}

static void restore_fds(filler *f) {
  release_fds(f, f->n);
  setrlimit(RLIMIT_NOFILE, &f->saved);
}

/* lp_poller_new with 0..3 free fds: -EMFILE while fewer than the backend
 * needs (epoll: its set and the fd lp_poller_fileno gives), then success;
 * never an fd left behind. */
static void poller_new_out_of_fds(lp_backend_t b) {
  int needs = b == LP_BACKEND_EPOLL ? 2 : b == LP_BACKEND_KQUEUE ? 1 : 0;
  int k;
  for (k = 0; k <= 3; k++) {
    filler f;
    lp_poller_t *p = NULL;
    int rc, before = lpt_count_fds();
    if (fill_fds(&f) != 0) {
      restore_fds(&f);
      lpt_failf(__FILE__, __LINE__, "could not fill the fd table");
      return;
    }
    release_fds(&f, k);
    rc = lp_poller_new(&p, b);
    restore_fds(&f);
    if (k < needs) {
      CHECK_EQ(rc, -EMFILE);
      CHECK(p == NULL);
    } else {
      CHECK_EQ(rc, 0);
    }
    lp_poller_free(p);
    CHECK_EQ(lpt_count_fds(), before);
  }
}

static void hub_new_out_of_fds(lp_backend_t b) {
  int needs = b == LP_BACKEND_EPOLL ? 2 : b == LP_BACKEND_KQUEUE ? 1 : 0;
  int k;
  for (k = 0; k <= 3; k++) {
    filler f;
    lp_hub_t *hub = NULL;
    int rc, before = lpt_count_fds();
    if (fill_fds(&f) != 0) {
      restore_fds(&f);
      lpt_failf(__FILE__, __LINE__, "could not fill the fd table");
      return;
    }
    release_fds(&f, k);
    rc = lp_hub_new(&hub, b);
    restore_fds(&f);
    CHECK_EQ(rc, k < needs ? -EMFILE : 0);
    CHECK_EQ(lp_hub_free(hub), 0);
    CHECK_EQ(lpt_count_fds(), before);
  }
}

/*
 * epoll: a wait that finds left-over kernel entries (fds closed while a dup
 * kept their file open) rebuilds the kernel set, which takes an fd. With
 * none free, the wait still reports the ready fd among 100 ready left-overs,
 * with room for 2 events; once an fd is free again, the rebuild happens and
 * the poller's fd stops being readable for nothing.
 */
static void rebuild_out_of_fds(lp_backend_t b) {
  enum { kStale = 100 };
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[2];
  int keep[2 * kStale], live[2], i, n;
  filler f;
  REQUIRE(p != NULL);
  for (i = 0; i < 2 * kStale; i++) keep[i] = -1;
  if (lpt_pair(live) != 0) goto out;
  CHECK_EQ(lp_poller_add(p, live[0], LP_EVENT_READ, NULL), 0);
  CHECK(lpt_send(live[1], 1));
  for (i = 0; i < kStale; i++) {
    int sv[2];
    if (lpt_pair(sv) != 0) goto pair;
    CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, NULL), 0);
    CHECK(lpt_send(sv[1], 1));
    keep[2 * i] = dup(sv[0]);
    keep[2 * i + 1] = sv[1];
    close(sv[0]);
    CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  }
  if (fill_fds(&f) != 0) {
    restore_fds(&f);
    lpt_failf(__FILE__, __LINE__, "could not fill the fd table");
    goto pair;
  }
  for (i = 0; i < 4; i++) {
    n = lp_poller_wait(p, ev, 2, 0);
    CHECK_EQ(n, 1);
    if (n == 1) CHECK_EQ(ev[0].fd, live[0]);
  }
  restore_fds(&f);
  CHECK_EQ(lpt_drain(live[0]), 1);
  CHECK_SILENT(p, 30);
  CHECK(lpt_send(live[1], 1));
  n = lp_poller_wait(p, ev, 2, 1000);
  CHECK_EQ(n, 1);
  CHECK_EQ(lp_poller_del(p, live[0]), 0);
pair:
  lpt_close_pair(live);
out:
  for (i = 0; i < 2 * kStale; i++)
    if (keep[i] >= 0) close(keep[i]);
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {
      LPT_CASE(poller_new_out_of_fds),
      LPT_CASE(hub_new_out_of_fds),
      LPT_CASE(rebuild_out_of_fds),
  };
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
