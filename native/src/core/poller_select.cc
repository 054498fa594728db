// select(2) backend: the portable fallback. Only fds below FD_SETSIZE can be
// registered (-ERANGE otherwise). One-shot is emulated by clearing the fd
// from the interest sets after a report; edge-triggered is not available.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>

#include "poller_internal.h"

namespace {

struct select_state {
  fd_set want_read;
  fd_set want_write;
  int maxfd;   // highest registered fd, -1 when none
  int resume;  // fd where the next scan starts (see select_wait_once)
};

void set_interest(select_state *st, int fd, unsigned armed) {
  if (armed & LP_EVENT_READ) FD_SET(fd, &st->want_read);
  else FD_CLR(fd, &st->want_read);
  if (armed & LP_EVENT_WRITE) FD_SET(fd, &st->want_write);
  else FD_CLR(fd, &st->want_write);
}

int select_init(lp_poller_t *p) {
  select_state *st = (select_state *)calloc(1, sizeof *st);
  if (st == nullptr) return -ENOMEM;
  FD_ZERO(&st->want_read);
  FD_ZERO(&st->want_write);
  st->maxfd = -1;
  p->impl = st;
  return 0;
}

void select_destroy(lp_poller_t *p) { free(p->impl); }

int select_add(lp_poller_t *p, int fd, lp__entry *e) {
  if (fd >= FD_SETSIZE) return -ERANGE;
  select_state *st = (select_state *)p->impl;
  set_interest(st, fd, e->armed);
  if (fd > st->maxfd) st->maxfd = fd;
  return 0;
}

int select_mod(lp_poller_t *p, int fd, lp__entry *e, unsigned, unsigned) {
  set_interest((select_state *)p->impl, fd, e->armed);
  return 0;
}

void select_del(lp_poller_t *p, int fd, lp__entry *) {
  select_state *st = (select_state *)p->impl;
  LP_ASSERT(fd <= st->maxfd);
  set_interest(st, fd, 0);
  if (fd == st->maxfd) {
    int m = fd - 1;
    while (m >= 0 && lp__lookup(p, m) == nullptr) m--;
    st->maxfd = m;
  }
}

// Marks the registered fds that are closed in `closed` and reports each as
// ready for its whole interest (as poll does with POLLNVAL), so that the
// caller learns which one to remove. Returns how many were found.
int find_closed(lp_poller_t *p, fd_set *closed, lp_event_t *out, int max, int *n) {
  select_state *st = (select_state *)p->impl;
  int found = 0;
  for (int fd = 0; fd <= st->maxfd; fd++) {
    lp__entry *e = lp__lookup(p, fd);
    if (e == nullptr || e->armed == 0 || FD_ISSET(fd, closed)) continue;
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    FD_SET(fd, closed);
    found++;
    if (*n == max) continue;  // reported by a later wait
    *n = lp__report(p, out, *n, max, fd, e, LP_EVENT_MASK);
    if (e->armed == 0) set_interest(st, fd, 0);
  }
  return found;
}

// select fails with EBADF for the whole set when one registered fd was
// closed. Then the closed fds are reported (find_closed) and the others are
// looked at again without them, without waiting, so that one closed fd
// hides no other.
//
// The scan starts where the previous wait ran out of room in `out` and wraps
// around, so ready fds left unreported come first next time and a
// level-triggered fd is never starved by lower ones.
int select_wait_once(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  select_state *st = (select_state *)p->impl;
  fd_set rd, wr, closed;
  int nfds = st->maxfd + 1;
  // Copy only the words select will look at.
  size_t bytes = ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
  if (bytes > sizeof(fd_set)) bytes = sizeof(fd_set);
  bool any_closed = false;
  int n = 0;
  int got;
  for (;;) {
    memcpy(&rd, &st->want_read, bytes);
    memcpy(&wr, &st->want_write, bytes);
    struct timeval tv, *tvp = nullptr;
    if (any_closed) {
      for (int fd = 0; fd < nfds; fd++) {
        if (!FD_ISSET(fd, &closed)) continue;
        FD_CLR(fd, &rd);
        FD_CLR(fd, &wr);
      }
      tv.tv_sec = 0;
      tv.tv_usec = 0;
      tvp = &tv;
    } else if (timeout_ms >= 0) {
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      tvp = &tv;
    }
    got = select(nfds, &rd, &wr, nullptr, tvp);
    if (got >= 0) break;
    if (errno != EBADF) return n > 0 ? n : -errno;
    if (!any_closed) FD_ZERO(&closed);
    if (find_closed(p, &closed, out, max, &n) == 0) return n > 0 ? n : -EBADF;
    any_closed = true;
  }
  int start = st->resume < nfds ? st->resume : 0;
  st->resume = 0;
  for (int k = 0; k < nfds && got > 0; k++) {
    int fd = start + k < nfds ? start + k : start + k - nfds;
    unsigned ready = 0;
    if (FD_ISSET(fd, &rd)) ready |= LP_EVENT_READ;
    if (FD_ISSET(fd, &wr)) ready |= LP_EVENT_WRITE;
    if (ready == 0) continue;
    if (n == max) {
      st->resume = fd;
      break;
    }
    got -= (ready & LP_EVENT_READ ? 1 : 0) + (ready & LP_EVENT_WRITE ? 1 : 0);
    lp__entry *e = lp__lookup(p, fd);
    LP_ASSERT(e != nullptr && (ready & ~e->armed) == 0);
    n = lp__report(p, out, n, max, fd, e, ready);
    if (e->armed == 0) set_interest(st, fd, 0);
  }
  return n;
}

}  // namespace

const lp__backend lp__backend_select = {
    LP_BACKEND_SELECT, "select", LP_CAP_ONESHOT,
    select_init, select_destroy, select_add, select_mod, select_del, select_wait_once,
};
