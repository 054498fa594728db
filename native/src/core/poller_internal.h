// Internal contract between the poller front end (poller.cc) and the
// backends (poller_<name>.cc). Not part of the C ABI.
#ifndef LOOPLET_POLLER_INTERNAL_H
#define LOOPLET_POLLER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "looplet.h"
#include "lp_assert.h"
#include "platform.h"

// One slot per fd number, indexed by fd. `events == 0` means unregistered.
// `armed` is the subset of the interest the backend currently watches: equal
// to `events & LP_EVENT_MASK` except for a one-shot registration after it
// fired (0 until lp_poller_mod re-arms it). `gen` tells kernel registrations
// of the same fd number apart: lp_poller_add and every lp_poller_mod that
// reaches the backend give the entry a new one, so an event carrying another
// generation comes from a registration that no longer exists and is never
// reported.
struct lp__entry {
  unsigned events;
  unsigned armed;
  uint32_t gen;
  int slot;          // backend-private (poll: index into the pollfd array;
                     // epoll: 1 while the kernel set holds this registration)
  void *data;
  uint32_t seen;     // wait sequence that last reported this fd (merging)
  int out_index;     // index in the caller's array for that report
};

struct lp__backend {
  lp_backend_t id;
  const char *name;
  unsigned caps;
  // Creates backend state; sets p->fd (or -1). Returns 0 or -errno.
  int (*init)(lp_poller_t *p);
  void (*destroy)(lp_poller_t *p);
  // The entry already holds the new events/armed/gen/data. add/mod return 0
  // or -errno and leave the kernel state unchanged on failure.
  int (*add)(lp_poller_t *p, int fd, lp__entry *e);
  int (*mod)(lp_poller_t *p, int fd, lp__entry *e, unsigned old_armed,
             unsigned old_events);
  // Never fails for a registered fd, even if it was closed meanwhile.
  void (*del)(lp_poller_t *p, int fd, lp__entry *e);
  // One wait of at most timeout_ms (negative blocks). Returns the number of
  // events stored, -EINTR, -EAGAIN when woken only by events it dropped
  // (the front end then waits again for the remaining time), or -errno.
  int (*wait)(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms);
};

struct lp_poller_s {
  const lp__backend *ops;
  int fd;               // epoll / kqueue fd, -1 otherwise
  lp__entry *table;     // indexed by fd
  size_t table_len;
  size_t count;         // registered fds
  uint32_t next_gen;
  uint32_t wait_seq;
  void *impl;           // backend-private state
};

// Entry for fd if registered, else NULL.
static inline lp__entry *lp__lookup(const lp_poller_t *p, int fd) {
  if (fd < 0 || (size_t)fd >= p->table_len) return nullptr;
  lp__entry *e = &p->table[fd];
  return e->events ? e : nullptr;
}

// Stores one report in out[n] (or merges it into an earlier report of the
// same fd in this wait) and applies one-shot disarming. Returns the new n.
// The caller guarantees room: n < max unless the fd was already reported in
// this wait.
int lp__report(lp_poller_t *p, lp_event_t *out, int n, int max, int fd, lp__entry *e,
               unsigned ready);

extern const lp__backend lp__backend_epoll;
extern const lp__backend lp__backend_kqueue;
extern const lp__backend lp__backend_poll;
extern const lp__backend lp__backend_select;

#endif
