// The hub: coroutines scheduled on a poller and a timer heap, gevent-style.
//
// Invariants
//   - A task (one per spawned coroutine) is in exactly one of these states:
//     queued to run (ready list), waiting (on an fd slot and/or the timer
//     heap), or running (hub->running). Only lp_hub_run_once resumes tasks,
//     always from the driver (the coroutine that called it), and a task that
//     blocks switches back to the driver; a task whose function returned
//     ends there too (its coroutine's parent is set to the driver), and the
//     driver frees it.
//   - Per fd, the hub records which task waits for READ and which for WRITE
//     (one each) and keeps the poller registration equal to those waits.
//     Backends with one-shot registrations (epoll, kqueue) are armed with
//     LP_FLAG_ONESHOT: an event disarms the fd in the kernel, a new wait
//     re-arms it with one modify (which also re-adds an fd number that was
//     closed and reused meanwhile), and a wait that ends without its event
//     (timeout, cancel) removes the registration. poll and select keep their
//     registrations in user space, where adding and removing cost nothing.
//   - When the poller refuses the registration that the waits left on an fd
//     need (the fd was closed meanwhile: -EBADF), those waits end with that
//     error; no wait is left without a registration behind it.
//   - Nothing on the run path allocates: events go into a fixed array, the
//     ready list and the heap index are intrusive, the heap and the fd table
//     only grow when a wait needs more room.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coro_internal.h"
#include "lp_assert.h"

namespace {

const size_t kNotInHeap = (size_t)-1;
const int kMaxEvents = 64;

struct task {
  lp_hub_t *hub;
  lp_coro_t *co;
  lp_hub_fn fn;
  void *arg;
  task *prev, *next;  // every task of the hub
  task *next_ready;
  bool queued;
  bool waiting;
  int fd;            // fd waited on, or -1
  unsigned events;   // what it waits for on fd
  int64_t deadline;  // monotonic ns, when heap_index != kNotInHeap
  size_t heap_index;
  int result;  // what the wait returns when the task resumes
};

struct watch {
  task *reader;
  task *writer;
  unsigned interest;  // events given to the poller at the last add/mod
  bool registered;
  bool armed;  // one-shot backends: armed in the kernel
};

int64_t now_ns(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  LP_ASSERT(rc == 0);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

}  // namespace

struct lp_hub_s {
  lp_poller_t *poller;
  bool oneshot;
  bool stop;
  lp_coro_t *driver;
  task *running;
  task *ready_head;
  task *ready_tail;
  task **heap;
  size_t heap_len;
  size_t heap_cap;
  watch *watches;
  size_t watches_len;
  task *all;
  size_t count;
  lp_event_t events[kMaxEvents];
};

namespace {

// ---- ready list ---------------------------------------------------------------

void enqueue(lp_hub_t *hub, task *t, int result) {
  t->result = result;
  if (t->queued) return;
  t->queued = true;
  t->next_ready = nullptr;
  if (hub->ready_tail)
    hub->ready_tail->next_ready = t;
  else
    hub->ready_head = t;
  hub->ready_tail = t;
}

task *dequeue(lp_hub_t *hub) {
  task *t = hub->ready_head;
  LP_ASSERT(t != nullptr && t->queued);
  hub->ready_head = t->next_ready;
  if (hub->ready_head == nullptr) hub->ready_tail = nullptr;
  t->queued = false;
  return t;
}

// ---- timer heap (binary, min on deadline) ---------------------------------------

void heap_set(lp_hub_t *hub, size_t i, task *t) {
  hub->heap[i] = t;
  t->heap_index = i;
}

void heap_up(lp_hub_t *hub, size_t i) {
  task *t = hub->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (hub->heap[parent]->deadline <= t->deadline) break;
    heap_set(hub, i, hub->heap[parent]);
    i = parent;
  }
  heap_set(hub, i, t);
}

void heap_down(lp_hub_t *hub, size_t i) {
  task *t = hub->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= hub->heap_len) break;
    if (child + 1 < hub->heap_len && hub->heap[child + 1]->deadline < hub->heap[child]->deadline)
      child++;
    if (t->deadline <= hub->heap[child]->deadline) break;
    heap_set(hub, i, hub->heap[child]);
    i = child;
  }
  heap_set(hub, i, t);
}

int heap_push(lp_hub_t *hub, task *t, int64_t deadline) {
  if (hub->heap_len == hub->heap_cap) {
    size_t cap = hub->heap_cap ? hub->heap_cap * 2 : 64;
    task **h = (task **)realloc(hub->heap, cap * sizeof *h);
    if (h == nullptr) return -ENOMEM;
    hub->heap = h;
    hub->heap_cap = cap;
  }
  t->deadline = deadline;
  heap_set(hub, hub->heap_len++, t);
  heap_up(hub, hub->heap_len - 1);
  return 0;
}

void heap_remove(lp_hub_t *hub, task *t) {
  size_t i = t->heap_index;
  if (i == kNotInHeap) return;
  LP_ASSERT(i < hub->heap_len && hub->heap[i] == t);
  t->heap_index = kNotInHeap;
  task *last = hub->heap[--hub->heap_len];
  if (last == t) return;
  heap_set(hub, i, last);
  if (i > 0 && hub->heap[(i - 1) / 2]->deadline > last->deadline)
    heap_up(hub, i);
  else
    heap_down(hub, i);
}

// ---- fd waits --------------------------------------------------------------------

watch *watch_for(lp_hub_t *hub, int fd, bool grow) {
  if ((size_t)fd < hub->watches_len) return &hub->watches[fd];
  if (!grow) return nullptr;
  size_t len = hub->watches_len ? hub->watches_len : 64;
  while (len <= (size_t)fd) len *= 2;
  watch *w = (watch *)realloc(hub->watches, len * sizeof *w);
  if (w == nullptr) return nullptr;
  memset(w + hub->watches_len, 0, (len - hub->watches_len) * sizeof *w);
  hub->watches = w;
  hub->watches_len = len;
  return &w[fd];
}

unsigned wanted(const watch *w) {
  return (w->reader ? LP_EVENT_READ : 0u) | (w->writer ? LP_EVENT_WRITE : 0u);
}

// Brings the poller registration of fd in line with its waits (see the
// invariants at the top). Returns 0 or the poller's -errno.
int sync_watch(lp_hub_t *hub, int fd, watch *w) {
  unsigned want = wanted(w);
  int rc = 0;
  if (want == 0) {
    if (w->registered && (!hub->oneshot || w->armed)) {
      rc = lp_poller_del(hub->poller, fd);
      LP_ASSERT(rc == 0);  // only the hub registers fds on its poller
      w->registered = false;
      w->armed = false;
    }
    return 0;
  }
  unsigned flags = hub->oneshot ? LP_FLAG_ONESHOT : 0u;
  if (!w->registered) {
    rc = lp_poller_add(hub->poller, fd, want | flags, nullptr);
    if (rc == -EEXIST) rc = lp_poller_mod(hub->poller, fd, want | flags, nullptr);
    if (rc == 0) w->registered = true;
  } else if (!w->armed || w->interest != want) {
    rc = lp_poller_mod(hub->poller, fd, want | flags, nullptr);
    if (rc == -ENOENT) rc = lp_poller_add(hub->poller, fd, want | flags, nullptr);
  }
  if (rc == 0) {
    w->interest = want;
    w->armed = true;
  }
  return rc;
}

void wake(lp_hub_t *hub, task *t, int result);

// sync_watch; when the poller refuses what the remaining waits on fd need,
// those waits end with its error.
void sync_or_fail(lp_hub_t *hub, int fd, watch *w) {
  int rc = sync_watch(hub, fd, w);
  if (rc == 0) return;
  if (w->reader) wake(hub, w->reader, rc);
  if (w->writer) wake(hub, w->writer, rc);
  LP_ASSERT(wanted(w) == 0);
}

// Ends whatever t waits for (fd slots, timer) without waking it.
void detach(lp_hub_t *hub, task *t) {
  heap_remove(hub, t);
  if (t->fd >= 0) {
    int fd = t->fd;
    watch *w = watch_for(hub, fd, false);
    t->fd = -1;
    t->events = 0;
    if (w != nullptr) {
      if (w->reader == t) w->reader = nullptr;
      if (w->writer == t) w->writer = nullptr;
      sync_or_fail(hub, fd, w);
    }
  }
}

void wake(lp_hub_t *hub, task *t, int result) {
  detach(hub, t);
  enqueue(hub, t, result);
}

// Dispatches one poller event: wakes the waiters it concerns and re-arms
// (or drops) the registration for the waits that remain.
void dispatch(lp_hub_t *hub, const lp_event_t *ev) {
  watch *w = watch_for(hub, ev->fd, false);
  if (w == nullptr) return;
  if (hub->oneshot) w->armed = false;
  task *woken[2] = {(ev->events & LP_EVENT_READ) ? w->reader : nullptr,
                    (ev->events & LP_EVENT_WRITE) ? w->writer : nullptr};
  if (woken[1] == woken[0]) woken[1] = nullptr;
  for (task *t : woken) {
    if (t == nullptr) continue;
    if (w->reader == t) w->reader = nullptr;
    if (w->writer == t) w->writer = nullptr;
    heap_remove(hub, t);
    t->fd = -1;
    enqueue(hub, t, (int)(ev->events & t->events));
  }
  sync_or_fail(hub, ev->fd, w);
}

// ---- tasks -----------------------------------------------------------------------

void *task_entry(lp_coro_t *self, void *) {
  task *t = (task *)lp_coro_userdata(self);
  t->fn(t->hub, t->arg);
  return nullptr;
}

void task_free(lp_hub_t *hub, task *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    hub->all = t->next;
  if (t->next) t->next->prev = t->prev;
  hub->count--;
  int rc = lp_coro_free(t->co);
  LP_ASSERT(rc == 0);  // never the running coroutine: the driver frees tasks
  free(t);
}

// The task of this hub that is running on the calling stack, or NULL.
task *current_task(lp_hub_t *hub) {
  task *t = hub->running;
  if (t == nullptr || t->co != lp_coro_current()) return nullptr;
  return t;
}

// Switches from the running task back to the driver; returns its wait result.
int suspend(lp_hub_t *hub, task *t) {
  t->waiting = true;
  int rc = lp_coro_switch(hub->driver, nullptr, nullptr);
  LP_ASSERT(rc == 0);  // the driver lives on this thread
  t->waiting = false;
  return t->result;
}

void resume(lp_hub_t *hub, task *t) {
  lp_coro_t *co = t->co;
  int rc = co->parent != hub->driver ? lp_coro_set_parent(co, hub->driver) : 0;
  LP_ASSERT(rc == 0);  // the driver runs this loop, so it is no descendant of co
  hub->running = t;
  rc = lp_coro_switch(co, nullptr, nullptr);
  LP_ASSERT(rc == 0);
  hub->running = nullptr;
  if (co->status == LP_CORO_DEAD) task_free(hub, t);
}

int64_t deadline_after(int timeout_ms) { return now_ns() + (int64_t)timeout_ms * 1000000; }

int ms_until(int64_t deadline, int64_t now) {
  if (deadline <= now) return 0;
  int64_t ms = (deadline - now + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

}  // namespace

extern "C" {

int lp_hub_new(lp_hub_t **out, lp_backend_t backend) {
  if (out == nullptr) return -EINVAL;
  *out = nullptr;
  lp_hub_t *hub = (lp_hub_t *)calloc(1, sizeof *hub);
  if (hub == nullptr) return -ENOMEM;
  int rc = lp_poller_new(&hub->poller, backend);
  if (rc < 0) {
    free(hub);
    return rc;
  }
  hub->oneshot = (lp_poller_caps(hub->poller) & LP_CAP_ONESHOT) != 0 &&
                 lp_poller_fileno(hub->poller) >= 0;
  *out = hub;
  return 0;
}

int lp_hub_free(lp_hub_t *hub) {
  if (hub == nullptr) return 0;
  if (hub->running != nullptr) return -EBUSY;
  while (hub->all) task_free(hub, hub->all);
  lp_poller_free(hub->poller);
  free(hub->heap);
  free(hub->watches);
  free(hub);
  return 0;
}

lp_poller_t *lp_hub_poller(const lp_hub_t *hub) { return hub->poller; }

size_t lp_hub_count(const lp_hub_t *hub) { return hub->count; }

int lp_hub_spawn(lp_hub_t *hub, lp_hub_fn fn, void *arg, size_t stack_size, lp_coro_t **out) {
  if (out) *out = nullptr;
  if (hub == nullptr || fn == nullptr) return -EINVAL;
  task *t = (task *)calloc(1, sizeof *t);
  if (t == nullptr) return -ENOMEM;
  int rc = lp_coro_new(&t->co, task_entry, t, stack_size);
  if (rc < 0) {
    free(t);
    return rc;
  }
  t->hub = hub;
  t->fn = fn;
  t->arg = arg;
  t->fd = -1;
  t->heap_index = kNotInHeap;
  t->next = hub->all;
  if (hub->all) hub->all->prev = t;
  hub->all = t;
  hub->count++;
  enqueue(hub, t, 0);
  if (out) *out = t->co;
  return 0;
}

int lp_hub_wait_fd(lp_hub_t *hub, int fd, unsigned events, int timeout_ms) {
  task *t = current_task(hub);
  if (t == nullptr) return -EPERM;
  if ((events & ~LP_EVENT_MASK) != 0 || (events & LP_EVENT_MASK) == 0) return -EINVAL;
  if (fd < 0) return -EBADF;
  watch *w = watch_for(hub, fd, true);
  if (w == nullptr) return -ENOMEM;
  if (((events & LP_EVENT_READ) && w->reader) || ((events & LP_EVENT_WRITE) && w->writer))
    return -EBUSY;
  if (events & LP_EVENT_READ) w->reader = t;
  if (events & LP_EVENT_WRITE) w->writer = t;
  int rc = sync_watch(hub, fd, w);
  if (rc < 0) {
    if (w->reader == t) w->reader = nullptr;
    if (w->writer == t) w->writer = nullptr;
    sync_or_fail(hub, fd, w);
    return rc;
  }
  t->fd = fd;
  t->events = events;
  if (timeout_ms >= 0) {
    rc = heap_push(hub, t, deadline_after(timeout_ms));
    if (rc < 0) {
      detach(hub, t);
      return rc;
    }
  }
  return suspend(hub, t);
}

int lp_hub_sleep(lp_hub_t *hub, int timeout_ms) {
  task *t = current_task(hub);
  if (t == nullptr) return -EPERM;
  if (timeout_ms < 0) return -EINVAL;
  if (timeout_ms == 0) {
    enqueue(hub, t, 0);
  } else {
    int rc = heap_push(hub, t, deadline_after(timeout_ms));
    if (rc < 0) return rc;
  }
  return suspend(hub, t);
}

int lp_hub_cancel(lp_hub_t *hub, lp_coro_t *co) {
  if (hub == nullptr || co == nullptr || co->is_main || co->fn != task_entry) return -ENOENT;
  task *t = (task *)co->userdata;
  if (t->hub != hub || !t->waiting || t->queued) return -ENOENT;
  wake(hub, t, -ECANCELED);
  return 0;
}

int lp_hub_forget(lp_hub_t *hub, int fd) {
  watch *w = fd >= 0 ? watch_for(hub, fd, false) : nullptr;
  if (w == nullptr) return 0;
  task *r = w->reader, *wr = w->writer;
  if (r) wake(hub, r, -ECANCELED);
  if (wr && wr != r) wake(hub, wr, -ECANCELED);
  if (w->registered) {
    int rc = lp_poller_del(hub->poller, fd);
    LP_ASSERT(rc == 0);
  }
  memset(w, 0, sizeof *w);
  return 0;
}

int lp_hub_close(lp_hub_t *hub, int fd) {
  lp_hub_forget(hub, fd);
  return close(fd) == 0 ? 0 : -errno;
}

int lp_hub_timeout(const lp_hub_t *hub) {
  if (hub->ready_head) return 0;
  if (hub->heap_len == 0) return -1;
  return ms_until(hub->heap[0]->deadline, now_ns());
}

int lp_hub_run_once(lp_hub_t *hub, int timeout_ms) {
  if (hub->running != nullptr) return -EDEADLK;
  lp_coro_t *self = lp_coro_current();
  if (self == nullptr) return -ENOMEM;
  int wait_ms = lp_hub_timeout(hub);
  if (wait_ms != 0 && timeout_ms >= 0 && (wait_ms < 0 || timeout_ms < wait_ms))
    wait_ms = timeout_ms;
  if (wait_ms < 0 && hub->count == 0) return 0;  // nothing could ever wake it
  int n = lp_poller_wait(hub->poller, hub->events, kMaxEvents, wait_ms);
  if (n < 0) return n;
  for (int i = 0; i < n; i++) dispatch(hub, &hub->events[i]);
  if (hub->heap_len > 0) {
    int64_t now = now_ns();
    while (hub->heap_len > 0 && hub->heap[0]->deadline <= now) wake(hub, hub->heap[0], 0);
  }
  // Run what is ready now; what becomes ready meanwhile (a sleep(0), a new
  // spawn) waits for the next iteration, after a poll for fds.
  hub->driver = self;
  task *last = hub->ready_tail;
  while (hub->ready_head) {
    task *t = dequeue(hub);
    bool was_last = t == last;
    resume(hub, t);
    if (was_last) break;
  }
  return (int)(hub->count > INT_MAX ? INT_MAX : hub->count);
}

int lp_hub_run(lp_hub_t *hub) {
  if (hub->running != nullptr) return -EDEADLK;
  hub->stop = false;
  while (hub->count > 0 && !hub->stop) {
    int rc = lp_hub_run_once(hub, -1);
    if (rc < 0) return rc;
  }
  return 0;
}

void lp_hub_stop(lp_hub_t *hub) { hub->stop = true; }

}  // extern "C"
