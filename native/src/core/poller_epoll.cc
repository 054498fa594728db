// epoll backend (Linux). Level-triggered by default; EPOLLET and
// EPOLLONESHOT for LP_FLAG_EDGE / LP_FLAG_ONESHOT.
//
// Two epoll instances: `set` holds the registrations, and p->fd (what
// lp_poller_fileno gives out) holds only `set`. p->fd is readable exactly
// when `set` has an event pending, and it stays the same open file for the
// poller's whole life, while `set` may be replaced.
//
// Why replace it: the kernel keys a registration by (fd number, open file)
// and drops it only when the file is closed. An fd closed while a dup (or a
// child process) keeps its file open leaves its entry in `set`, where
// EPOLL_CTL_DEL can no longer reach it: the number is gone, or names another
// file. Such a left-over keeps reporting the old file's readiness. Each
// registration stores (generation << 32 | fd) as its epoll data and every
// ADD/MOD carries a new generation (see lp__entry), so a report whose
// generation is not the fd's current one comes from a left-over. The first
// wait that sees one rebuilds `set` from the table and swaps it in under
// p->fd; closing the old instance drops every left-over at once. Otherwise
// left-overs that stay ready would fill epoll_wait's batch, hiding ready
// fds, and keep p->fd readable, so that a loop watching it would spin.
// (libuv and libevent share the exposure and leave it to the caller:
// unregister before close.)
//
// Invariants
//   - p->fd holds exactly one entry, `set`, with EPOLLIN.
//   - e->slot is 1 iff `set` holds an entry carrying e->gen; that entry is
//     for e's fd number. Every other entry of `set` is a left-over.
//   - A registration not in `set` (slot 0) is a fired one-shot, or one whose
//     number was closed (or became unwatchable) when `set` was rebuilt; the
//     lp_poller_mod that changes or re-arms it adds it again.
#include "platform.h"
#if LP_HAVE_EPOLL
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller_internal.h"

namespace {

struct epoll_state {
  int set;
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

int ctl(int epfd, int op, int fd, const lp__entry *e) {
  struct epoll_event ev;
  ev.events = to_epoll(e);
  ev.data.u64 = ((uint64_t)e->gen << 32) | (uint32_t)fd;
  return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

// Registers fd in the set epfd. EEXIST: the set still holds this (fd, file)
// pair from a registration that is gone (a left-over, or libevent's case of
// a forgotten one): take it over with MOD.
int add_to(int epfd, int fd, const lp__entry *e) {
  int rc = ctl(epfd, EPOLL_CTL_ADD, fd, e);
  if (rc == -EEXIST) rc = ctl(epfd, EPOLL_CTL_MOD, fd, e);
  return rc;
}

void close_fd(int fd) {
  int rc = close(fd);
  LP_ASSERT(rc == 0 || errno == EINTR);
}

int reserve(epoll_state *st, int n) {
  if (st->capacity >= n) return 0;
  int cap = st->capacity ? st->capacity : 64;
  while (cap < n) cap = cap > (1 << 29) ? n : cap * 2;
  struct epoll_event *evs = (struct epoll_event *)realloc(st->events, (size_t)cap * sizeof *evs);
  if (evs == nullptr) return -ENOMEM;
  st->events = evs;
  st->capacity = cap;
  return 0;
}

int epoll_init(lp_poller_t *p) {
  epoll_state *st = (epoll_state *)calloc(1, sizeof *st);
  if (st == nullptr) return -ENOMEM;
  int outer = epoll_create1(EPOLL_CLOEXEC);
  if (outer < 0) {
    int err = -errno;
    free(st);
    return err;
  }
  st->set = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  if (st->set < 0 || epoll_ctl(outer, EPOLL_CTL_ADD, st->set, &ev) != 0) {
    int err = -errno;
    if (st->set >= 0) close_fd(st->set);
    close_fd(outer);
    free(st);
    return err;
  }
  p->fd = outer;
  p->impl = st;
  return 0;
}

void epoll_destroy(lp_poller_t *p) {
  epoll_state *st = (epoll_state *)p->impl;
  close_fd(st->set);
  close_fd(p->fd);
  p->fd = -1;
  free(st->events);
  free(st);
}

// `set` is this poller's own: its number can only reach here as a number the
// caller closed while it was registered (a rebuild may reuse it), so it
// counts as closed.
int epoll_add(lp_poller_t *p, int fd, lp__entry *e) {
  int set = ((epoll_state *)p->impl)->set;
  int rc = fd == set ? -EBADF : add_to(set, fd, e);
  e->slot = rc == 0;
  return rc;
}

// MOD failing with ENOENT: the number was closed and reused since it was
// registered (the kernel dropped the entry, or keeps it for the old file as
// a left-over): register the file the number names now. Either way the entry
// that now carries e->gen is the one for the current file. `set` as in
// epoll_add.
int epoll_mod(lp_poller_t *p, int fd, lp__entry *e, unsigned, unsigned) {
  int set = ((epoll_state *)p->impl)->set;
  if (fd == set) return -EBADF;
  int rc = e->slot ? ctl(set, EPOLL_CTL_MOD, fd, e) : -ENOENT;
  if (rc == -ENOENT) rc = add_to(set, fd, e);
  if (rc == 0) e->slot = 1;
  return rc;
}

// EBADF (closed), ENOENT (closed and reused), EPERM (reused by a regular
// file): nothing of this registration is reachable any more. Its entry, if a
// dup keeps the file open, is a left-over for the next wait to clear.
void epoll_del(lp_poller_t *p, int fd, lp__entry *e) {
  if (!e->slot) return;
  struct epoll_event ev = {};
  int rc = epoll_ctl(((epoll_state *)p->impl)->set, EPOLL_CTL_DEL, fd, &ev);
  LP_ASSERT(rc == 0 || errno == EBADF || errno == ENOENT || errno == EPERM);
  e->slot = 0;
}

// A fresh `set` with every armed registration, swapped in under p->fd. A
// registration whose number is closed (or taken by the old `set`, see
// epoll_add), or names a file epoll cannot watch, stays registered but out
// of the set. On failure (no fd or memory for the
// new set) nothing changes. The new slot values are staged in bit 1 of
// e->slot until the swap.
int rebuild(lp_poller_t *p, epoll_state *st) {
  int fresh = epoll_create1(EPOLL_CLOEXEC);
  if (fresh < 0) return -errno;
  int rc = 0;
  for (size_t fd = 0; fd < p->table_len && rc == 0; fd++) {
    lp__entry *e = &p->table[fd];
    if (e->events == 0 || e->armed == 0 || (int)fd == st->set) continue;
    rc = add_to(fresh, (int)fd, e);
    if (rc == 0) {
      e->slot |= 2;
    } else if (rc == -EBADF || rc == -EPERM || rc == -EINVAL || rc == -ELOOP) {
      rc = 0;  // not watchable: stays out of the set
    }
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  if (rc == 0 && epoll_ctl(p->fd, EPOLL_CTL_ADD, fresh, &ev) != 0) rc = -errno;
  if (rc != 0) {
    for (size_t fd = 0; fd < p->table_len; fd++) p->table[fd].slot &= 1;
    close_fd(fresh);
    return rc;
  }
  int del = epoll_ctl(p->fd, EPOLL_CTL_DEL, st->set, &ev);
  LP_ASSERT(del == 0);
  close_fd(st->set);
  st->set = fresh;
  for (size_t fd = 0; fd < p->table_len; fd++) {
    lp__entry *e = &p->table[fd];
    if (e->events != 0) e->slot >>= 1;
  }
  return 0;
}

// Reports the events of one batch; returns how many came from left-overs.
int harvest(lp_poller_t *p, const struct epoll_event *evs, int got, lp_event_t *out, int max,
            int *n) {
  int stale = 0;
  for (int i = 0; i < got; i++) {
    int fd = (int)(uint32_t)evs[i].data.u64;
    uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
    lp__entry *e = lp__lookup(p, fd);
    if (e == nullptr || e->gen != gen) {
      stale++;
      continue;
    }
    LP_ASSERT(e->slot == 1);
    unsigned ready = 0;
    if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ready |= LP_EVENT_READ;
    if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ready |= LP_EVENT_WRITE;
    *n = lp__report(p, out, *n, max, fd, e, ready);
  }
  return stale;
}

// One wait. When the batch held left-overs, `set` is rebuilt and looked at
// again without waiting, so that what they crowded out is reported by this
// same call. A second batch may repeat fds of the first (merged by
// lp__report); it is as large as `max` only while every registration fits in
// `out`, so that no event is taken from the kernel without room to report it
// (a one-shot or edge-triggered event would be lost).
int epoll_wait_once(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  epoll_state *st = (epoll_state *)p->impl;
  int rc = reserve(st, max);
  if (rc < 0) return rc;
  int got = epoll_wait(st->set, st->events, max, timeout_ms);
  if (got < 0) return -errno;
  int n = 0;
  if (harvest(p, st->events, got, out, max, &n) == 0) return (n == 0 && got > 0) ? -EAGAIN : n;
  bool fits = p->count <= (size_t)max;
  if (rebuild(p, st) == 0) {
    int want = fits ? max : max - n;
    if (want > 0) {
      got = epoll_wait(st->set, st->events, want, 0);
      if (got < 0) return n > 0 ? n : -errno;
      int stale = harvest(p, st->events, got, out, max, &n);
      LP_ASSERT(stale == 0);
    }
  } else if (fits) {
    // No fd or memory for a new set: take whole batches of the old one,
    // left-overs included, doubling until one is not full (the kernel
    // rotates level-triggered entries to the back, so a full batch may hide
    // more).
    int cap = got;
    while (got == cap && cap <= (1 << 28) && reserve(st, cap * 2) == 0) {
      cap *= 2;
      got = epoll_wait(st->set, st->events, cap, 0);
      if (got < 0) break;
      harvest(p, st->events, got, out, max, &n);
    }
  }
  return n == 0 ? -EAGAIN : n;
}

}  // namespace

const lp__backend lp__backend_epoll = {
    LP_BACKEND_EPOLL, "epoll", LP_CAP_EDGE | LP_CAP_ONESHOT | LP_CAP_FILENO | LP_CAP_ANY_FD,
    epoll_init, epoll_destroy, epoll_add, epoll_mod, epoll_del, epoll_wait_once,
};
#endif
