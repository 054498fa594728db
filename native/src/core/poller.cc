// Poller front end: argument checks, the per-fd table, generation numbers,
// and the EINTR / spurious-wakeup loop shared by every backend.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poller_internal.h"

static const lp__backend *backend_for(lp_backend_t b) {
  switch (b) {
#if LP_HAVE_EPOLL
    case LP_BACKEND_EPOLL: return &lp__backend_epoll;
#endif
#if LP_HAVE_KQUEUE
    case LP_BACKEND_KQUEUE: return &lp__backend_kqueue;
#endif
    case LP_BACKEND_POLL: return &lp__backend_poll;
    case LP_BACKEND_SELECT: return &lp__backend_select;
    case LP_BACKEND_DEFAULT:
#if LP_HAVE_EPOLL
      return &lp__backend_epoll;
#elif LP_HAVE_KQUEUE
      return &lp__backend_kqueue;
#else
      return &lp__backend_poll;
#endif
    default: return nullptr;
  }
}

extern "C" {

unsigned lp_version(void) {
  return (LP_VERSION_MAJOR << 16) | (LP_VERSION_MINOR << 8) | LP_VERSION_PATCH;
}

const char *lp_backend_name(lp_backend_t b) {
  switch (b) {
    case LP_BACKEND_EPOLL: return "epoll";
    case LP_BACKEND_KQUEUE: return "kqueue";
    case LP_BACKEND_POLL: return "poll";
    case LP_BACKEND_SELECT: return "select";
    case LP_BACKEND_DEFAULT: {
      const lp__backend *ops = backend_for(b);
      return ops ? ops->name : nullptr;
    }
    default: return nullptr;
  }
}

int lp_backend_available(lp_backend_t b) { return backend_for(b) != nullptr; }

int lp_poller_new(lp_poller_t **out, lp_backend_t backend) {
  if (out == nullptr) return -EINVAL;
  *out = nullptr;
  if ((unsigned)backend > LP_BACKEND_SELECT) return -EINVAL;
  const lp__backend *ops = backend_for(backend);
  if (ops == nullptr) return -ENOSYS;
  lp_poller_t *p = (lp_poller_t *)calloc(1, sizeof *p);
  if (p == nullptr) return -ENOMEM;
  p->ops = ops;
  p->fd = -1;
  int rc = ops->init(p);
  if (rc < 0) {
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void lp_poller_free(lp_poller_t *p) {
  if (p == nullptr) return;
  LP_ASSERT(p->table_len == 0 || p->table != nullptr);
  p->ops->destroy(p);
  free(p->table);
  free(p);
}

lp_backend_t lp_poller_backend(const lp_poller_t *p) { return p->ops->id; }
unsigned lp_poller_caps(const lp_poller_t *p) { return p->ops->caps; }
int lp_poller_fileno(const lp_poller_t *p) { return p->fd; }
size_t lp_poller_count(const lp_poller_t *p) { return p->count; }

static int check_events(const lp_poller_t *p, unsigned events) {
  if ((events & LP_EVENT_MASK) == 0) return -EINVAL;
  if (events & ~(LP_EVENT_MASK | LP_FLAG_MASK)) return -EINVAL;
  if ((events & LP_FLAG_EDGE) && !(p->ops->caps & LP_CAP_EDGE)) return -EINVAL;
  if ((events & LP_FLAG_ONESHOT) && !(p->ops->caps & LP_CAP_ONESHOT)) return -EINVAL;
  return 0;
}

static int grow_table(lp_poller_t *p, int fd) {
  if ((size_t)fd < p->table_len) return 0;
  size_t len = p->table_len ? p->table_len : 64;
  while (len <= (size_t)fd) len *= 2;
  lp__entry *t = (lp__entry *)realloc(p->table, len * sizeof *t);
  if (t == nullptr) return -ENOMEM;
  memset(t + p->table_len, 0, (len - p->table_len) * sizeof *t);
  p->table = t;
  p->table_len = len;
  return 0;
}

int lp_poller_add(lp_poller_t *p, int fd, unsigned events, void *data) {
  int rc = check_events(p, events);
  if (rc < 0) return rc;
  if (fd < 0) return -EBADF;
  if (lp__lookup(p, fd)) return -EEXIST;
  if (fcntl(fd, F_GETFD) == -1) return -EBADF;
  rc = grow_table(p, fd);
  if (rc < 0) return rc;
  lp__entry *e = &p->table[fd];
  LP_ASSERT(e->events == 0 && e->armed == 0);
  lp__entry saved = *e;
  e->events = events;
  e->armed = events & LP_EVENT_MASK;
  e->gen = ++p->next_gen;
  e->data = data;
  e->seen = 0;
  rc = p->ops->add(p, fd, e);
  if (rc < 0) {
    *e = saved;
    return rc;
  }
  p->count++;
  LP_ASSERT(p->count <= p->table_len);
  return 0;
}

int lp_poller_mod(lp_poller_t *p, int fd, unsigned events, void *data) {
  int rc = check_events(p, events);
  if (rc < 0) return rc;
  lp__entry *e = lp__lookup(p, fd);
  if (e == nullptr) return fd < 0 ? -EBADF : -ENOENT;
  lp__entry saved = *e;
  e->events = events;
  e->armed = events & LP_EVENT_MASK;
  e->data = data;
  if (saved.events == events && saved.armed == e->armed) return 0;
  e->gen = ++p->next_gen;
  rc = p->ops->mod(p, fd, e, saved.armed, saved.events);
  if (rc < 0) *e = saved;
  return rc;
}

int lp_poller_del(lp_poller_t *p, int fd) {
  lp__entry *e = lp__lookup(p, fd);
  if (e == nullptr) return fd < 0 ? -EBADF : -ENOENT;
  LP_ASSERT(p->count > 0);
  p->ops->del(p, fd, e);
  e->events = 0;
  e->armed = 0;
  e->data = nullptr;
  p->count--;
  return 0;
}

int lp_poller_get(const lp_poller_t *p, int fd, unsigned *events, void **data) {
  const lp__entry *e = lp__lookup(p, fd);
  if (e == nullptr) return fd < 0 ? -EBADF : -ENOENT;
  if (events) *events = e->events;
  if (data) *data = e->data;
  return 0;
}

int lp_poller_interest(const lp_poller_t *p, lp_event_t *out, int max) {
  if (max < 0 || (max > 0 && out == nullptr)) return -EINVAL;
  int n = 0;
  for (size_t fd = 0; fd < p->table_len && n < max; fd++) {
    const lp__entry *e = &p->table[fd];
    if (e->armed == 0) continue;
    out[n].fd = (int)fd;
    out[n].events = e->armed;
    out[n].data = e->data;
    n++;
  }
  return n;
}

static int64_t now_ns(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  LP_ASSERT(rc == 0);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lp_poller_wait(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms) {
  if (max <= 0 || out == nullptr) return -EINVAL;
  int64_t deadline = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : 0;
  int wait_ms = timeout_ms < 0 ? -1 : timeout_ms;
  for (;;) {
    p->wait_seq++;
    if (p->wait_seq == 0) p->wait_seq = 1;  // 0 marks "never reported"
    int n = p->ops->wait(p, out, max, wait_ms);
    LP_ASSERT(n <= max);
    if (n >= 0) return n;
    if (n != -EINTR && n != -EAGAIN) return n;
    if (wait_ms > 0) {
      int64_t left = deadline - now_ns();
      if (left <= 0) return 0;
      int64_t ms = (left + 999999) / 1000000;  // round up: never wake early
      wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    } else if (wait_ms == 0 && n == -EAGAIN) {
      return 0;
    }
  }
}

}  // extern "C"

int lp__report(lp_poller_t *p, lp_event_t *out, int n, int max, int fd, lp__entry *e,
               unsigned ready) {
  LP_ASSERT(e->events != 0 && e == &p->table[fd]);
  LP_ASSERT(n >= 0 && n <= max);
  if (e->seen == p->wait_seq) {
    LP_ASSERT(e->out_index < n && out[e->out_index].fd == fd);
    // Second report of this fd in one wait (kqueue: one per filter). The
    // first may have disarmed a one-shot registration; merge it anyway.
    out[e->out_index].events |= ready & e->events & LP_EVENT_MASK;
    return n;
  }
  ready &= e->armed;
  if (ready == 0) return n;
  LP_ASSERT(n < max);
  if (e->events & LP_FLAG_ONESHOT) e->armed = 0;
  e->seen = p->wait_seq;
  e->out_index = n;
  out[n].fd = fd;
  out[n].events = ready;
  out[n].data = e->data;
  return n + 1;
}
