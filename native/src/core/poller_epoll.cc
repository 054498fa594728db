// epoll backend (Linux). Level-triggered by default; EPOLLET and
// EPOLLONESHOT for LP_FLAG_EDGE / LP_FLAG_ONESHOT.
//
// Each registration stores (generation << 32 | fd) as its epoll data, so an
// event still queued for a removed registration - the fd was closed while a
// dup of it stayed open, or the number was reused - is recognised and dropped.
#include "platform.h"
#if LP_HAVE_EPOLL
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller_internal.h"

namespace {

struct epoll_state {
  struct epoll_event *events;
  int capacity;
};

uint32_t to_epoll(const lp__entry *e) {
  uint32_t ev = 0;
  if (e->armed & LP_EVENT_READ) ev |= EPOLLIN;
  if (e->armed & LP_EVENT_WRITE) ev |= EPOLLOUT;
  if (e->events & LP_FLAG_EDGE) ev |= EPOLLET;
  if (e->events & LP_FLAG_ONESHOT) ev |= EPOLLONESHOT;
  return ev;
}

int ctl(lp_poller_t *p, int op, int fd, const lp__entry *e) {
  struct epoll_event ev;
  ev.events = to_epoll(e);
  ev.data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd;
  return epoll_ctl(p->fd, op, fd, &ev) == 0 ? 0 : -errno;
}

int epoll_init(lp_poller_t *p) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return -errno;
  epoll_state *st = (epoll_state *)calloc(1, sizeof *st);
  if (st == nullptr) {
    close(fd);
    return -ENOMEM;
  }
  p->fd = fd;
  p->impl = st;
  return 0;
}

void epoll_destroy(lp_poller_t *p) {
  epoll_state *st = (epoll_state *)p->impl;
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  if (st) free(st->events);
  free(st);
}

// EEXIST on ADD: the kernel still holds this (fd, file) pair from a
// registration we forgot (libevent's recovery): take it over with MOD.
int epoll_add(lp_poller_t *p, int fd, lp__entry *e) {
  int rc = ctl(p, EPOLL_CTL_ADD, fd, e);
  if (rc == -EEXIST) rc = ctl(p, EPOLL_CTL_MOD, fd, e);
  return rc;
}

// ENOENT on MOD: the fd was closed and its number reused since it was
// registered, so the kernel dropped it: register the new file with ADD.
int epoll_mod(lp_poller_t *p, int fd, lp__entry *e, unsigned, unsigned) {
  int rc = ctl(p, EPOLL_CTL_MOD, fd, e);
  if (rc == -ENOENT) rc = ctl(p, EPOLL_CTL_ADD, fd, e);
  return rc;
}

// EBADF (closed), ENOENT (closed and reused), EPERM: nothing to remove. The
// generation check in wait covers a stale file left in the set by a dup.
void epoll_del(lp_poller_t *p, int fd, lp__entry *) {
  struct epoll_event ev = {};
  epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &ev);
}

int epoll_wait_once(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  epoll_state *st = (epoll_state *)p->impl;
  if (st->capacity < max) {
    int cap = st->capacity ? st->capacity : 64;
    while (cap < max) cap *= 2;
    struct epoll_event *evs =
        (struct epoll_event *)realloc(st->events, (size_t)cap * sizeof *evs);
    if (evs == nullptr) return -ENOMEM;
    st->events = evs;
    st->capacity = cap;
  }
  int got = epoll_wait(p->fd, st->events, max, timeout_ms);
  if (got < 0) return -errno;
  int n = 0;
  for (int i = 0; i < got; i++) {
    const struct epoll_event *ev = &st->events[i];
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    lp__entry *e = lp__lookup(p, fd);
    if (e == nullptr || e->gen != gen) continue;
    unsigned ready = 0;
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ready |= LP_EVENT_READ;
    if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ready |= LP_EVENT_WRITE;
    n = lp__report(p, out, n, fd, e, ready);
  }
  return (n == 0 && got > 0) ? -EAGAIN : n;
}

}  // namespace

const lp__backend lp__backend_epoll = {
    LP_BACKEND_EPOLL, "epoll", LP_CAP_EDGE | LP_CAP_ONESHOT | LP_CAP_FILENO | LP_CAP_ANY_FD,
    epoll_init, epoll_destroy, epoll_add, epoll_mod, epoll_del, epoll_wait_once,
};
#endif
