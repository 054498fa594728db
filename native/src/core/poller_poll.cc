// poll(2) backend: portable, O(n) per wait. One-shot is emulated by clearing
// the pollfd's events after a report; edge-triggered is not available.
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "poller_internal.h"

namespace {

// Dense array of the registered fds; entry->slot is the index of its pollfd.
// A disarmed (one-shot, fired) fd is stored as ~fd: poll(2) skips negative
// fds, which keeps POLLHUP/POLLERR of a disarmed fd from waking the wait.
struct poll_state {
  struct pollfd *fds;
  int len;
  int capacity;
  int resume;  // index where the next scan starts (see poll_wait_once)
};

int real_fd(const struct pollfd *pfd) { return pfd->fd < 0 ? ~pfd->fd : pfd->fd; }

void set_interest(struct pollfd *pfd, int fd, unsigned armed) {
  pfd->fd = armed ? fd : ~fd;
  pfd->events = 0;
  if (armed & LP_EVENT_READ) pfd->events |= POLLIN;
  if (armed & LP_EVENT_WRITE) pfd->events |= POLLOUT;
}

int poll_init(lp_poller_t *p) {
  poll_state *st = (poll_state *)calloc(1, sizeof *st);
  if (st == nullptr) return -ENOMEM;
  p->impl = st;
  return 0;
}

void poll_destroy(lp_poller_t *p) {
  poll_state *st = (poll_state *)p->impl;
  if (st) free(st->fds);
  free(st);
}

int poll_add(lp_poller_t *p, int fd, lp__entry *e) {
  poll_state *st = (poll_state *)p->impl;
  if (st->len == st->capacity) {
    int cap = st->capacity ? st->capacity * 2 : 64;
    struct pollfd *fds = (struct pollfd *)realloc(st->fds, (size_t)cap * sizeof *fds);
    if (fds == nullptr) return -ENOMEM;
    st->fds = fds;
    st->capacity = cap;
  }
  e->slot = st->len++;
  set_interest(&st->fds[e->slot], fd, e->armed);
  st->fds[e->slot].revents = 0;
  return 0;
}

int poll_mod(lp_poller_t *p, int fd, lp__entry *e, unsigned, unsigned) {
  poll_state *st = (poll_state *)p->impl;
  LP_ASSERT(e->slot >= 0 && e->slot < st->len && real_fd(&st->fds[e->slot]) == fd);
  set_interest(&st->fds[e->slot], fd, e->armed);
  return 0;
}

void poll_del(lp_poller_t *p, int fd, lp__entry *e) {
  poll_state *st = (poll_state *)p->impl;
  LP_ASSERT(e->slot >= 0 && e->slot < st->len && real_fd(&st->fds[e->slot]) == fd);
  int last = --st->len;
  if (e->slot != last) {
    st->fds[e->slot] = st->fds[last];
    p->table[real_fd(&st->fds[e->slot])].slot = e->slot;
  }
}

// The scan starts where the previous wait ran out of room in `out` and wraps
// around, so ready fds left unreported come first next time and a
// level-triggered fd is never starved by those in front of it (epoll's ready
// list rotates the same way).
int poll_wait_once(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  poll_state *st = (poll_state *)p->impl;
  int got = poll(st->fds, (nfds_t)st->len, timeout_ms);
  if (got < 0) return -errno;
  int start = st->resume < st->len ? st->resume : 0;
  st->resume = 0;
  int n = 0;
  for (int k = 0; k < st->len && got > 0; k++) {
    int i = start + k < st->len ? start + k : start + k - st->len;
    struct pollfd *pfd = &st->fds[i];
    if (pfd->revents == 0) continue;
    if (n == max) {
      st->resume = i;
      break;
    }
    got--;
    unsigned ready = 0;
    // POLLNVAL: closed while registered; report it so the caller removes it.
    if (pfd->revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) ready |= LP_EVENT_READ;
    if (pfd->revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) ready |= LP_EVENT_WRITE;
    lp__entry *e = lp__lookup(p, pfd->fd);
    LP_ASSERT(e != nullptr && e->slot == i);
    n = lp__report(p, out, n, max, pfd->fd, e, ready);
    if (e->armed == 0) set_interest(pfd, pfd->fd, 0);
  }
  return n;
}

}  // namespace

const lp__backend lp__backend_poll = {
    LP_BACKEND_POLL, "poll", LP_CAP_ONESHOT | LP_CAP_ANY_FD,
    poll_init, poll_destroy, poll_add, poll_mod, poll_del, poll_wait_once,
};
