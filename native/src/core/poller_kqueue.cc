// kqueue backend (macOS, the BSDs). Compiled only where <sys/event.h> exists
// (LP_HAVE_KQUEUE); not exercised by the Linux CI.
//
// READ and WRITE are separate filters; a wait merges the two reports of one
// fd into one event. EV_CLEAR gives LP_FLAG_EDGE and EV_DISPATCH (disable
// after delivery, re-enabled by EV_ADD) gives LP_FLAG_ONESHOT, which matches
// epoll's EPOLLONESHOT. udata carries the registration's generation so that
// reports for a removed registration are dropped. The kernel forgets the
// filters of a closed fd by itself, so such an fd is simply never reported.
#include "platform.h"
#if LP_HAVE_KQUEUE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "poller_internal.h"

namespace {

struct kqueue_state {
  struct kevent *events;
  int capacity;
};

void *gen_udata(const lp__entry *e) { return (void *)(uintptr_t)e->gen; }

unsigned short add_flags(const lp__entry *e) {
  unsigned short f = EV_ADD | EV_ENABLE;
  if (e->events & LP_FLAG_EDGE) f |= EV_CLEAR;
  if (e->events & LP_FLAG_ONESHOT) f |= EV_DISPATCH;
  return f;
}

int change(lp_poller_t *p, int fd, short filter, unsigned short flags, const lp__entry *e) {
  struct kevent kev;
  EV_SET(&kev, (uintptr_t)fd, filter, flags, 0, 0, gen_udata(e));
  return kevent(p->fd, &kev, 1, nullptr, 0, nullptr) == 0 ? 0 : -errno;
}

// Deleting a filter that is already gone (fd closed: close() drops its
// filters) is not an error.
void remove_filter(lp_poller_t *p, int fd, short filter, const lp__entry *e) {
  int rc = change(p, fd, filter, EV_DELETE, e);
  LP_ASSERT(rc == 0 || rc == -ENOENT || rc == -EBADF);
}

void close_fd(int fd) {
  int rc = close(fd);
  LP_ASSERT(rc == 0 || errno == EINTR);
}

int kqueue_init(lp_poller_t *p) {
  int fd = kqueue();
  if (fd < 0) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
    int err = -errno;
    close_fd(fd);
    return err;
  }
  kqueue_state *st = (kqueue_state *)calloc(1, sizeof *st);
  if (st == nullptr) {
    close_fd(fd);
    return -ENOMEM;
  }
  p->fd = fd;
  p->impl = st;
  return 0;
}

void kqueue_destroy(lp_poller_t *p) {
  kqueue_state *st = (kqueue_state *)p->impl;
  if (p->fd >= 0) close_fd(p->fd);
  p->fd = -1;
  if (st) free(st->events);
  free(st);
}

int apply(lp_poller_t *p, int fd, lp__entry *e, unsigned old_armed) {
  static const struct { unsigned bit; short filter; } filters[] = {
      {LP_EVENT_READ, EVFILT_READ}, {LP_EVENT_WRITE, EVFILT_WRITE}};
  for (const auto &f : filters) {
    if (e->armed & f.bit) {
      int rc = change(p, fd, f.filter, add_flags(e), e);
      if (rc < 0) {
        // Roll back what this call added so the kernel state is unchanged.
        for (const auto &g : filters) {
          if (g.filter == f.filter) break;
          if ((e->armed & g.bit) && !(old_armed & g.bit)) remove_filter(p, fd, g.filter, e);
        }
        return rc;
      }
    } else if (old_armed & f.bit) {
      remove_filter(p, fd, f.filter, e);
    }
  }
  return 0;
}

int kqueue_add(lp_poller_t *p, int fd, lp__entry *e) { return apply(p, fd, e, 0); }

int kqueue_mod(lp_poller_t *p, int fd, lp__entry *e, unsigned old_armed, unsigned old_events) {
  // A fired one-shot registration still has its filters in the kernel
  // (disabled), so treat its previous interest as the whole old interest.
  unsigned previous = old_armed | (old_events & LP_EVENT_MASK);
  return apply(p, fd, e, previous);
}

void kqueue_del(lp_poller_t *p, int fd, lp__entry *e) {
  if (e->events & LP_EVENT_READ) remove_filter(p, fd, EVFILT_READ, e);
  if (e->events & LP_EVENT_WRITE) remove_filter(p, fd, EVFILT_WRITE, e);
}

int kqueue_wait_once(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  kqueue_state *st = (kqueue_state *)p->impl;
  // At most `max` kevents: then at most `max` fds, so no report is ever
  // dropped for lack of room (a dropped EV_DISPATCH or EV_CLEAR report would
  // be lost for good). Two filters of one fd merge into one event.
  int want = max;
  if (st->capacity < want) {
    int cap = st->capacity ? st->capacity : 64;
    while (cap < want) cap *= 2;
    struct kevent *evs = (struct kevent *)realloc(st->events, (size_t)cap * sizeof *evs);
    if (evs == nullptr) return -ENOMEM;
    st->events = evs;
    st->capacity = cap;
  }
  struct timespec ts, *tsp = nullptr;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
    tsp = &ts;
  }
  int got = kevent(p->fd, nullptr, 0, st->events, want, tsp);
  if (got < 0) return -errno;
  int n = 0;
  for (int i = 0; i < got; i++) {
    const struct kevent *kev = &st->events[i];
    if (kev->flags & EV_ERROR) continue;
    int fd = (int)kev->ident;
    lp__entry *e = lp__lookup(p, fd);
    if (e == nullptr || e->gen != (uint32_t)(uintptr_t)kev->udata) continue;
    unsigned ready = kev->filter == EVFILT_READ ? LP_EVENT_READ : LP_EVENT_WRITE;
    if (kev->flags & EV_EOF) ready = LP_EVENT_MASK;
    n = lp__report(p, out, n, max, fd, e, ready);
  }
  return (n == 0 && got > 0) ? -EAGAIN : n;
}

}  // namespace

const lp__backend lp__backend_kqueue = {
    LP_BACKEND_KQUEUE, "kqueue", LP_CAP_EDGE | LP_CAP_ONESHOT | LP_CAP_FILENO | LP_CAP_ANY_FD,
    kqueue_init, kqueue_destroy, kqueue_add, kqueue_mod, kqueue_del, kqueue_wait_once,
};
#endif
