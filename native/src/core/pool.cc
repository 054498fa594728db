// The thread pool: C work functions on pool threads, completions handed to
// the owner in batches through one pollable fd.
//
// Invariants (all under pool->mu)
//   - A task slot is in one state: FREE (on the free list), QUEUED (on the
//     FIFO), RUNNING (a thread is in work()) or DONE (on the done list, or
//     taken off it by lp_pool_complete, its done() about to run).
//   - notified is true from the write to the completion fd that announced the
//     done list until lp_pool_complete empties that list (and drains the fd
//     in the same critical section): each batch costs one write, and a task
//     that finishes after the owner took the list sees notified false and
//     writes again, so no completion waits without the fd readable.
//   - idle counts threads blocked on the condition variable, signalled those
//     of them already signalled and not yet awake, spinning those checking
//     the queue without the lock before they sleep, starting those created
//     and not yet in their loop. A submit signals or starts a thread only
//     when the queue holds more tasks than threads about to look at it
//     (spinning + signalled + starting).
//   - owner_awake is true while the owner has said it will look at ready
//     before it next blocks (lp_pool_set_awake, lp_pool_spin_wait): a
//     completion then skips the fd write and only notes when it came
//     (unannounced_ns). Clearing owner_awake restores the fd's contract: if
//     completions wait unannounced, the owner writes the fd itself. Dekker's
//     pattern keeps that safe: push_done stores ready, then loads
//     owner_awake; the owner stores owner_awake false, then loads ready (all
//     seq_cst), so at least one of them sees the other.
//   - Slots live in chunks that never move, so a task pointer stays valid
//     while a thread runs it without the lock; ids carry a generation so a
//     stale id never names a reused slot.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "looplet.h"
#include "lp_assert.h"
#include "spin_governor.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

namespace {

enum task_state : uint8_t { FREE, QUEUED, RUNNING, DONE };

struct task {
  lp_pool_work_fn work;
  lp_pool_done_fn done;
  void *arg;
  task *prev, *next;  // FIFO links (QUEUED); next: free list, done list
  uint32_t index;
  uint32_t gen;
  int status;
  task_state state;
};

struct thread_rec {
  pthread_t tid;
  thread_rec *next;
};

const uint32_t kChunk = 256;

thread_local lp_pool_t *tl_pool = nullptr;  // the pool whose thread this is
thread_local lp_pool_t *tl_completing = nullptr;  // the pool whose done() runs here

int64_t mono_ns(void) {
  struct timespec ts;
  int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
  LP_ASSERT(rc == 0);
  (void)rc;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lock(pthread_mutex_t *mu) {
  int rc = pthread_mutex_lock(mu);
  LP_ASSERT(rc == 0);
  (void)rc;
}

void unlock(pthread_mutex_t *mu) {
  int rc = pthread_mutex_unlock(mu);
  LP_ASSERT(rc == 0);
  (void)rc;
}

void close_fd(int fd) {
  if (fd < 0) return;
  int rc = close(fd);
  LP_ASSERT(rc == 0 || errno == EINTR);
  (void)rc;
}

// A wake-up channel: fds[0] is polled, fds[1] written (one eventfd on Linux).
int open_channel(int fds[2]) {
#if defined(__linux__)
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd == -1) return -errno;
  fds[0] = fds[1] = fd;
#else
  if (pipe(fds) == -1) return -errno;
  for (int i = 0; i < 2; i++) {
    int fl = fcntl(fds[i], F_GETFL);
    if (fl == -1 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) == -1 ||
        fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1) {
      int err = -errno;
      close_fd(fds[0]);
      close_fd(fds[1]);
      fds[0] = fds[1] = -1;
      return err;
    }
  }
#endif
  return 0;
}

void close_channel(int fds[2]) {
  close_fd(fds[0]);
  if (fds[1] != fds[0]) close_fd(fds[1]);
  fds[0] = fds[1] = -1;
}

void signal_channel(const int fds[2]) {
#if defined(__linux__)
  uint64_t one = 1;
  ssize_t rc;
  do rc = write(fds[1], &one, sizeof one);
  while (rc == -1 && errno == EINTR);
  // EAGAIN only when the counter would overflow: it is readable then anyway.
  LP_ASSERT(rc == (ssize_t)sizeof one || (rc == -1 && errno == EAGAIN));
#else
  char one = 1;
  ssize_t rc;
  do rc = write(fds[1], &one, 1);
  while (rc == -1 && errno == EINTR);
  LP_ASSERT(rc == 1 || (rc == -1 && errno == EAGAIN));  // a full pipe is readable
#endif
  (void)rc;
}

void drain_channel(const int fds[2]) {
#if defined(__linux__)
  // One read of an eventfd takes its whole counter.
  uint64_t count;
  ssize_t rc;
  do rc = read(fds[0], &count, sizeof count);
  while (rc == -1 && errno == EINTR);
  LP_ASSERT(rc == (ssize_t)sizeof count || (rc == -1 && errno == EAGAIN));
#else
  char buf[64];
  ssize_t rc;
  while ((rc = read(fds[0], buf, sizeof buf)) > 0) {
  }
  LP_ASSERT(rc == -1 && (errno == EAGAIN || errno == EINTR));
#endif
  (void)rc;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

}  // namespace

struct lp_pool_s {
  // Laid out for the hand-off between the owner and a pool thread (a serial
  // round trip of the C core took 1.6-2.1 us with these fields spread over
  // the struct, 0.8-1.2 us like this on a 2-vCPU VM, docs/pool.md): what
  // both sides write under mu is packed into two lines beside the mutex;
  // queued (the pool threads' spin) has a line of its own; ready and
  // owner_awake share one, since push_done writes the first and then reads
  // the second, and the owner's spin reads the first. Cold fields last.
  pthread_mutex_t mu;
  unsigned running;
  unsigned pending;  // DONE
  unsigned spinning;
  unsigned signalled;
  unsigned starting;
  unsigned idle;
  alignas(64) task *queue_head;  // the FIFO of QUEUED tasks
  task *queue_tail;
  task *done_head, *done_tail;  // DONE, in finishing order
  task *free_head;
  int64_t notified_ns;  // when notified turned true (mono_ns)
  int64_t unannounced_ns;  // the first completion not announced on the fd (owner awake), or 0
  bool notified;
  bool shutdown;
  uint64_t submitted, completed, failed, cancelled, wakeups;

  alignas(64) std::atomic<unsigned> queued;  // written under mu, read by spinners without it
  std::atomic<bool> stopping;
  alignas(64) std::atomic<unsigned> ready;  // DONE: written under mu, read by lp_pool_ready without it
  std::atomic<bool> owner_awake;  // lp_pool_set_awake

  // Cold: options, slots, threads, fds.
  alignas(64) pthread_cond_t cv;  // idle threads wait here
  unsigned min_threads;
  unsigned max_threads;
  size_t max_queue;
  int idle_timeout_ms;
  size_t stack_size;
  int64_t spin_ns;
  task **chunks;
  uint32_t nchunks;
  uint32_t cap_chunks;
  unsigned threads;  // alive (started, not yet exited)
  thread_rec *live;    // threads running (or about to return)
  thread_rec *exited;  // threads that returned and await a join
  std::atomic<bool> reap_due;  // exited is not empty: a hint read without mu
  bool freeing;  // lp_pool_free holds the list of live threads
  int done_fd[2];
  int stop_fd[2];
};

namespace {

void *thread_main(void *arg);

// Creates one more thread; under mu. 0 or -errno.
int start_thread(lp_pool_t *pool) {
  thread_rec *rec = (thread_rec *)calloc(1, sizeof *rec);
  if (rec == nullptr) return -ENOMEM;
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc != 0) {
    free(rec);
    return -rc;
  }
  if (pool->stack_size > 0) {
    size_t size = pool->stack_size < (size_t)PTHREAD_STACK_MIN ? (size_t)PTHREAD_STACK_MIN
                                                                : pool->stack_size;
    rc = pthread_attr_setstacksize(&attr, size);
    if (rc != 0) {
      pthread_attr_destroy(&attr);
      free(rec);
      return -rc;
    }
  }
  // Pool threads block every signal: process-directed signals go to the
  // owner's threads, which have handlers (Node's, an embedder's).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&rec->tid, &attr, thread_main, pool);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    free(rec);
    return -rc;
  }
  rec->next = pool->live;
  pool->live = rec;
  pool->threads++;
  pool->starting++;
  return 0;
}

// Moves the calling thread's record from live to exited (under mu), so that
// someone joins it.
void retire_self(lp_pool_t *pool) {
  pthread_t self = pthread_self();
  for (thread_rec **p = &pool->live; *p != nullptr; p = &(*p)->next) {
    if (pthread_equal((*p)->tid, self)) {
      thread_rec *rec = *p;
      *p = rec->next;
      rec->next = pool->exited;
      pool->exited = rec;
      pool->reap_due.store(true, std::memory_order_relaxed);
      return;
    }
  }
  // lp_pool_free took the list and joins every thread on it.
  LP_ASSERT(pool->freeing);
}

// Joins the threads that have exited; any thread but a pool thread.
void reap(lp_pool_t *pool) {
  lock(&pool->mu);
  thread_rec *list = pool->exited;
  pool->exited = nullptr;
  pool->reap_due.store(false, std::memory_order_relaxed);
  unlock(&pool->mu);
  while (list != nullptr) {
    thread_rec *next = list->next;
    int rc = pthread_join(list->tid, nullptr);
    LP_ASSERT(rc == 0);
    (void)rc;
    free(list);
    list = next;
  }
}

// Makes the completion fd readable for the done list; under mu.
void announce(lp_pool_t *pool) {
  pool->notified = true;
  pool->notified_ns = pool->unannounced_ns != 0 ? pool->unannounced_ns : mono_ns();
  pool->unannounced_ns = 0;
  pool->wakeups++;
  signal_channel(pool->done_fd);
}

void push_done(lp_pool_t *pool, task *t) {
  t->state = DONE;
  t->next = nullptr;
  if (pool->done_tail != nullptr)
    pool->done_tail->next = t;
  else
    pool->done_head = t;
  pool->done_tail = t;
  pool->pending++;
  pool->ready.store(pool->ready.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
  if (pool->notified) return;
  if (!pool->owner_awake.load(std::memory_order_seq_cst))
    announce(pool);
  else if (pool->unannounced_ns == 0)
    pool->unannounced_ns = mono_ns();
}

// A pool thread that finishes a task while the owner has left a wake-up
// unanswered for LP_POOL_OWNER_LAG_NS yields its CPU once (mu not held): with every
// CPU busy with pool threads, the owner's loop thread, woken but waiting for
// a CPU, would otherwise wait for a pool thread's time slice to end
// (milliseconds: the event loop's delay). If the owner is not queued on this
// CPU the yield returns at once. docs/pool.md, "Keeping the loop responsive".
void yield_to_lagging_owner(lp_pool_t *pool) {
  int64_t since = pool->notified ? pool->notified_ns : pool->unannounced_ns;
  if (since == 0 || mono_ns() - since < LP_POOL_OWNER_LAG_NS) return;
  unlock(&pool->mu);
  sched_yield();
  lock(&pool->mu);
}

void unlink_queued(lp_pool_t *pool, task *t) {
  if (t->prev != nullptr)
    t->prev->next = t->next;
  else
    pool->queue_head = t->next;
  if (t->next != nullptr)
    t->next->prev = t->prev;
  else
    pool->queue_tail = t->prev;
  t->prev = t->next = nullptr;
  pool->queued.store(pool->queued.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

// Cancels every queued task; under mu. Returns how many.
int cancel_queued(lp_pool_t *pool) {
  int n = 0;
  while (pool->queue_head != nullptr) {
    task *t = pool->queue_head;
    unlink_queued(pool, t);
    t->status = -ECANCELED;
    pool->cancelled++;
    push_done(pool, t);
    n++;
  }
  return n;
}

void begin_stop(lp_pool_t *pool) {
  if (!pool->stopping.exchange(true)) signal_channel(pool->stop_fd);
}

// Spins (without mu) until a task is queued, the pool shuts down or the
// budget is spent; whether something came. Returns with mu held.
bool spin(lp_pool_t *pool) {
  pool->spinning++;
  unlock(&pool->mu);
  int64_t deadline = mono_ns() + pool->spin_ns;
  bool came = false;
  for (unsigned i = 0;; i++) {
    if (pool->queued.load(std::memory_order_relaxed) != 0 ||
        pool->stopping.load(std::memory_order_relaxed)) {
      came = true;
      break;
    }
    cpu_relax();
    if ((i & 63) == 63 && mono_ns() >= deadline) break;
  }
  lock(&pool->mu);
  pool->spinning--;
  return came;
}

// A pool thread: takes tasks in FIFO order; when none is queued, spins,
// then sleeps on cv; beyond min_threads, exits after idle_timeout_ms idle.
void *thread_main(void *arg) {
  lp_pool_t *pool = (lp_pool_t *)arg;
  tl_pool = pool;
  lock(&pool->mu);
  pool->starting--;
  lp_spin_governor governor = {};
  for (;;) {
    task *t = pool->queue_head;
    if (t == nullptr) {
      if (pool->shutdown) break;
      if (pool->spin_ns > 0 && lp_spin_should(&governor)) {
        lp_spin_result(&governor, spin(pool));
        if (pool->queue_head != nullptr) continue;
        if (pool->shutdown) break;
      }
      bool timed = pool->threads > pool->min_threads && pool->idle_timeout_ms >= 0;
      int rc;
      pool->idle++;
      if (timed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)(pool->idle_timeout_ms % 1000) * 1000000;
        ts.tv_sec += pool->idle_timeout_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        rc = pthread_cond_timedwait(&pool->cv, &pool->mu, &ts);
      } else {
        rc = pthread_cond_wait(&pool->cv, &pool->mu);
      }
      LP_ASSERT(rc == 0 || rc == ETIMEDOUT);
      pool->idle--;
      if (pool->signalled > 0) pool->signalled--;
      if (rc == ETIMEDOUT && pool->queue_head == nullptr && !pool->shutdown &&
          pool->threads > pool->min_threads)
        break;
      continue;
    }
    unlink_queued(pool, t);
    t->state = RUNNING;
    pool->running++;
    unlock(&pool->mu);
    int status = t->work(t->arg);
    lock(&pool->mu);
    pool->running--;
    if (status >= 0)
      pool->completed++;
    else
      pool->failed++;
    t->status = status;
    push_done(pool, t);
    yield_to_lagging_owner(pool);
  }
  pool->threads--;
  retire_self(pool);
  unlock(&pool->mu);
  return nullptr;
}

task *alloc_task(lp_pool_t *pool) {
  if (pool->free_head == nullptr) {
    if (pool->nchunks == UINT32_MAX / kChunk) return nullptr;
    if (pool->nchunks == pool->cap_chunks) {
      uint32_t cap = pool->cap_chunks ? pool->cap_chunks * 2 : 4;
      task **chunks = (task **)realloc(pool->chunks, cap * sizeof *chunks);
      if (chunks == nullptr) return nullptr;
      pool->chunks = chunks;
      pool->cap_chunks = cap;
    }
    task *chunk = (task *)calloc(kChunk, sizeof *chunk);
    if (chunk == nullptr) return nullptr;
    uint32_t base = pool->nchunks * kChunk;
    pool->chunks[pool->nchunks++] = chunk;
    for (uint32_t i = kChunk; i-- > 0;) {
      chunk[i].index = base + i;
      chunk[i].state = FREE;
      chunk[i].next = pool->free_head;
      pool->free_head = &chunk[i];
    }
  }
  task *t = pool->free_head;
  pool->free_head = t->next;
  t->gen++;
  if (t->gen == 0) t->gen = 1;
  return t;
}

void release_task(lp_pool_t *pool, task *t) {
  t->state = FREE;
  t->work = nullptr;
  t->done = nullptr;
  t->arg = nullptr;
  t->prev = nullptr;
  t->next = pool->free_head;
  pool->free_head = t;
}

task *find_task(lp_pool_t *pool, uint64_t id) {
  uint32_t index = (uint32_t)id, gen = (uint32_t)(id >> 32);
  if (index / kChunk >= pool->nchunks) return nullptr;
  task *t = &pool->chunks[index / kChunk][index % kChunk];
  return t->gen == gen && t->state != FREE ? t : nullptr;
}

}  // namespace

extern "C" {

int lp_pool_new(lp_pool_t **out, const lp_pool_options_t *options) {
  if (out == nullptr) return -EINVAL;
  *out = nullptr;
  lp_pool_options_t o;
  memset(&o, 0, sizeof o);
  if (options != nullptr) o = *options;
  if (o.max_threads == 0) o.max_threads = LP_POOL_DEFAULT_THREADS;
  if (o.idle_timeout_ms == 0) o.idle_timeout_ms = LP_POOL_DEFAULT_IDLE_MS;
  if (o.min_threads > o.max_threads) return -EINVAL;

  void *mem = nullptr;
  if (posix_memalign(&mem, alignof(lp_pool_t), sizeof(lp_pool_t)) != 0) return -ENOMEM;
  memset(mem, 0, sizeof(lp_pool_t));
  lp_pool_t *pool = (lp_pool_t *)mem;
  new (&pool->queued) std::atomic<unsigned>(0);
  new (&pool->stopping) std::atomic<bool>(false);
  new (&pool->reap_due) std::atomic<bool>(false);
  new (&pool->ready) std::atomic<unsigned>(0);
  new (&pool->owner_awake) std::atomic<bool>(false);
  pool->min_threads = o.min_threads;
  pool->max_threads = o.max_threads;
  pool->max_queue = o.max_queue;
  pool->idle_timeout_ms = o.idle_timeout_ms;
  pool->stack_size = o.stack_size;
  pool->spin_ns = (int64_t)o.spin_us * 1000;
  pool->done_fd[0] = pool->done_fd[1] = pool->stop_fd[0] = pool->stop_fd[1] = -1;

  // The lock is held for a few dozen instructions at a time by the owner
  // and every pool thread: where glibc has it, an adaptive mutex spins
  // briefly before it sleeps, which spares a futex round trip per contended
  // acquisition.
  pthread_mutexattr_t ma;
  int rc = pthread_mutexattr_init(&ma);
  if (rc != 0) {
    free(pool);
    return -rc;
  }
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
  rc = pthread_mutex_init(&pool->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (rc != 0) {
    free(pool);
    return -rc;
  }
  pthread_condattr_t ca;
  rc = pthread_condattr_init(&ca);
  if (rc == 0) {
#if !defined(__APPLE__)
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
#endif
    if (rc == 0) rc = pthread_cond_init(&pool->cv, &ca);
    pthread_condattr_destroy(&ca);
  }
  if (rc != 0) {
    pthread_mutex_destroy(&pool->mu);
    free(pool);
    return -rc;
  }
  rc = open_channel(pool->done_fd);
  if (rc == 0) rc = open_channel(pool->stop_fd);
  if (rc < 0) {
    close_channel(pool->done_fd);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
    return rc;
  }
  lock(&pool->mu);
  for (unsigned i = 0; i < o.min_threads && rc == 0; i++) rc = start_thread(pool);
  unlock(&pool->mu);
  if (rc < 0) {
    int freed = lp_pool_free(pool);
    LP_ASSERT(freed == 0);
    (void)freed;
    return rc;
  }
  *out = pool;
  return 0;
}

int lp_pool_free(lp_pool_t *pool) {
  if (pool == nullptr) return 0;
  if (tl_pool == pool || tl_completing == pool) return -EBUSY;
  lock(&pool->mu);
  pool->shutdown = true;
  pool->freeing = true;
  cancel_queued(pool);
  begin_stop(pool);
  int rc = pthread_cond_broadcast(&pool->cv);
  LP_ASSERT(rc == 0);
  thread_rec *live = pool->live;
  pool->live = nullptr;
  unlock(&pool->mu);
  // No thread starts after shutdown: join those still running, then those
  // that had exited already.
  while (live != nullptr) {
    thread_rec *next = live->next;
    rc = pthread_join(live->tid, nullptr);
    LP_ASSERT(rc == 0);
    free(live);
    live = next;
  }
  reap(pool);
  LP_ASSERT(pool->threads == 0 && pool->running == 0 && pool->queue_head == nullptr);
  int delivered = lp_pool_complete(pool, 0);
  LP_ASSERT(delivered >= 0 && pool->pending == 0);
  (void)delivered;
  (void)rc;
  close_channel(pool->done_fd);
  close_channel(pool->stop_fd);
  for (uint32_t i = 0; i < pool->nchunks; i++) free(pool->chunks[i]);
  free(pool->chunks);
  pthread_cond_destroy(&pool->cv);
  pthread_mutex_destroy(&pool->mu);
  pool->queued.~atomic();
  pool->stopping.~atomic();
  pool->reap_due.~atomic();
  pool->ready.~atomic();
  pool->owner_awake.~atomic();
  free(pool);
  return 0;
}

int lp_pool_submit(lp_pool_t *pool, lp_pool_work_fn work, lp_pool_done_fn done, void *arg,
                   uint64_t *id) {
  int rc = lp_pool_submit_many(pool, work, done, &arg, id, 1);
  return rc == 1 ? 0 : rc;
}

int lp_pool_submit_many(lp_pool_t *pool, lp_pool_work_fn work, lp_pool_done_fn done,
                        void *const *args, uint64_t *ids, unsigned n) {
  if (work == nullptr || (n > 0 && args == nullptr)) return -EINVAL;
  if (n == 0) return 0;
  if (pool->reap_due.load(std::memory_order_relaxed) && tl_pool != pool) reap(pool);
  lock(&pool->mu);
  if (pool->shutdown) {
    unlock(&pool->mu);
    return -ESHUTDOWN;
  }
  unsigned queued = pool->queued.load(std::memory_order_relaxed);
  unsigned k = n > (unsigned)INT_MAX ? (unsigned)INT_MAX : n;  // the count is returned as an int
  if (pool->max_queue > 0) {
    if (queued >= pool->max_queue) {
      unlock(&pool->mu);
      return -EAGAIN;
    }
    if (k > pool->max_queue - queued) k = pool->max_queue - queued;
  }
  // Slots first, so that a failure leaves nothing half done.
  task *first = nullptr, *last = nullptr;
  unsigned got = 0;
  for (; got < k; got++) {
    task *t = alloc_task(pool);
    if (t == nullptr) break;
    t->next = nullptr;
    if (last != nullptr)
      last->next = t;
    else
      first = t;
    last = t;
  }
  if (got == 0) {
    unlock(&pool->mu);
    return -ENOMEM;
  }
  k = got;
  // Someone must come for each: a spinning, signalled or starting thread, an
  // idle one (signal it), or a new one.
  unsigned coming = pool->spinning + pool->signalled + pool->starting;
  for (unsigned need = queued + k > coming ? queued + k - coming : 0; need > 0; need--) {
    if (pool->idle > pool->signalled) {
      pool->signalled++;
      int rc = pthread_cond_signal(&pool->cv);
      LP_ASSERT(rc == 0);
      (void)rc;
    } else if (pool->threads < pool->max_threads) {
      int rc = start_thread(pool);
      if (rc < 0) {
        if (pool->threads == 0) {
          for (task *t = first; t != nullptr;) {
            task *next = t->next;
            release_task(pool, t);
            t = next;
          }
          unlock(&pool->mu);
          return rc == -ENOMEM ? -ENOMEM : -EAGAIN;
        }
        break;  // a running thread will take them later
      }
    } else {
      break;  // every thread exists and is busy: they come when done
    }
  }
  unsigned i = 0;
  for (task *t = first; t != nullptr; i++) {
    task *next = t->next;
    t->work = work;
    t->done = done;
    t->arg = args[i];
    t->status = 0;
    t->state = QUEUED;
    t->next = nullptr;
    t->prev = pool->queue_tail;
    if (pool->queue_tail != nullptr)
      pool->queue_tail->next = t;
    else
      pool->queue_head = t;
    pool->queue_tail = t;
    if (ids != nullptr) ids[i] = ((uint64_t)t->gen << 32) | t->index;
    t = next;
  }
  pool->queued.store(queued + k, std::memory_order_relaxed);
  pool->submitted += k;
  unlock(&pool->mu);
  return (int)k;
}

int lp_pool_cancel(lp_pool_t *pool, uint64_t id) {
  lock(&pool->mu);
  task *t = find_task(pool, id);
  int rc = -ENOENT;
  if (t != nullptr && t->state == QUEUED) {
    unlink_queued(pool, t);
    t->status = -ECANCELED;
    pool->cancelled++;
    push_done(pool, t);
    rc = 0;
  } else if (t != nullptr && t->state == RUNNING) {
    rc = -EBUSY;
  }
  unlock(&pool->mu);
  return rc;
}

int lp_pool_complete(lp_pool_t *pool, int max) {
  if (tl_completing == pool) return -EBUSY;
  // The lock is held for O(1) work where the whole done list fits in max:
  // pool threads take it once per task, and a walk over slots they just
  // wrote (a cache miss each) made them sleep on it (docs/pool.md).
  lock(&pool->mu);
  task *head = pool->done_head, *tail = head;
  int n = 0;
  if (head != nullptr) {
    unsigned ready = pool->ready.load(std::memory_order_relaxed);
    if (max <= 0 || ready <= (unsigned)max) {
      n = (int)ready;
      tail = pool->done_tail;
    } else {
      n = 1;
      while (n < max) {
        tail = tail->next;
        n++;
      }
    }
    pool->done_head = tail->next;
    if (pool->done_head == nullptr) pool->done_tail = nullptr;
    tail->next = nullptr;
  }
  if (pool->done_head == nullptr) {
    if (pool->notified) {
      pool->notified = false;
      drain_channel(pool->done_fd);
    }
    pool->unannounced_ns = 0;
  } else if (!pool->notified && !pool->owner_awake.load(std::memory_order_seq_cst)) {
    announce(pool);  // left for the next call (max), and the owner may block next
  } else {
    // The owner came by: what is left waits from now (yield_to_lagging_owner
    // measures the owner's lag, not the list's age).
    int64_t now = mono_ns();
    if (pool->notified)
      pool->notified_ns = now;
    else
      pool->unannounced_ns = now;
  }
  pool->ready.store(pool->ready.load(std::memory_order_relaxed) - (unsigned)n, std::memory_order_relaxed);
  unlock(&pool->mu);
  if (head == nullptr) return 0;

  // Taken off the done list, the slots are the owner's until released: only
  // their state and gen are read by others (under mu, find_task).
  lp_pool_t *outer = tl_completing;
  tl_completing = pool;
  for (task *t = head; t != nullptr; t = t->next) {
    // Slots finish in the order they were taken from the free list, which
    // is mostly their order in the chunk: fetching a few ahead is meant to
    // turn a miss per slot (the list is walked one dependent load at a time,
    // each line last written by a pool thread) into a stream; its share of
    // the batched gain was not measured apart (docs/pool.md). A wrong guess
    // costs a prefetch, which never faults (the address is an integer).
    __builtin_prefetch((const void *)((uintptr_t)t + 4 * sizeof(task)));
    lp_pool_done_fn done = t->done;
    void *arg = t->arg;
    t->work = nullptr;  // as release_task leaves a slot; state and the free list follow under mu
    t->done = nullptr;
    t->arg = nullptr;
    t->prev = nullptr;
    if (done != nullptr) done(arg, t->status);
  }
  tl_completing = outer;

  lock(&pool->mu);
  for (task *t = head; t != nullptr; t = t->next) t->state = FREE;
  tail->next = pool->free_head;
  pool->free_head = head;
  pool->pending -= (unsigned)n;
  unlock(&pool->mu);
  if (pool->reap_due.load(std::memory_order_relaxed)) reap(pool);
  return n;
}

void lp_pool_set_awake(lp_pool_t *pool, int awake) {
  if (awake) {
    pool->owner_awake.store(true, std::memory_order_seq_cst);
    return;
  }
  pool->owner_awake.store(false, std::memory_order_seq_cst);
  if (pool->ready.load(std::memory_order_seq_cst) == 0) return;
  // Completions that came while the owner was awake wrote nothing.
  lock(&pool->mu);
  if (pool->done_head != nullptr && !pool->notified) announce(pool);
  unlock(&pool->mu);
}

int lp_pool_spin_wait(lp_pool_t *pool, uint32_t spin_ns) {
  if (pool->ready.load(std::memory_order_acquire) != 0) return 1;
  if (spin_ns == 0) return 0;
  bool was_awake = pool->owner_awake.load(std::memory_order_relaxed);
  if (!was_awake) lp_pool_set_awake(pool, 1);
  int64_t deadline = mono_ns() + spin_ns;
  int came = 0;
  for (unsigned i = 0;; i++) {
    if (pool->ready.load(std::memory_order_acquire) != 0) {
      came = 1;
      break;
    }
    cpu_relax();
    if ((i & 31) == 31 && mono_ns() >= deadline) break;
  }
  if (was_awake) return came;
  if (came) {
    // The caller completes now; lp_pool_complete announces what it leaves.
    // Taken under mu: the thread whose push_done made ready non-zero still
    // holds mu until it has read owner_awake, and must read it true (else it
    // writes the fd for a completion the owner already saw).
    lock(&pool->mu);
    pool->owner_awake.store(false, std::memory_order_seq_cst);
    unlock(&pool->mu);
    return 1;
  }
  lp_pool_set_awake(pool, 0);
  return pool->ready.load(std::memory_order_acquire) != 0 ? 1 : 0;
}

int lp_pool_fileno(const lp_pool_t *pool) { return pool->done_fd[0]; }

unsigned lp_pool_ready(const lp_pool_t *pool) { return pool->ready.load(std::memory_order_acquire); }

int lp_pool_stop_fd(const lp_pool_t *pool) { return pool->stop_fd[0]; }

int lp_pool_stopping(const lp_pool_t *pool) { return pool->stopping.load() ? 1 : 0; }

int lp_pool_wait(lp_pool_t *pool, int timeout_ms) {
  struct pollfd pfd = {pool->done_fd[0], POLLIN, 0};
  int64_t deadline = timeout_ms > 0 ? mono_ns() + (int64_t)timeout_ms * 1000000 : 0;
  for (;;) {
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc > 0) return 1;
    if (rc == 0) return 0;
    if (errno != EINTR) return -errno;
    if (timeout_ms > 0) {
      int64_t left = deadline - mono_ns();
      if (left <= 0) return 0;
      timeout_ms = (int)((left + 999999) / 1000000);
    }
  }
}

int lp_pool_shutdown(lp_pool_t *pool, int cancel_pending) {
  lock(&pool->mu);
  pool->shutdown = true;
  int n = 0;
  if (cancel_pending) {
    n = cancel_queued(pool);
    begin_stop(pool);
  }
  int rc = pthread_cond_broadcast(&pool->cv);
  LP_ASSERT(rc == 0);
  (void)rc;
  unlock(&pool->mu);
  return n;
}

void lp_pool_stats(lp_pool_t *pool, lp_pool_stats_t *out) {
  lock(&pool->mu);
  out->submitted = pool->submitted;
  out->completed = pool->completed;
  out->failed = pool->failed;
  out->cancelled = pool->cancelled;
  out->wakeups = pool->wakeups;
  out->queued = pool->queued.load(std::memory_order_relaxed);
  out->running = pool->running;
  out->pending = pool->pending;
  out->threads = pool->threads;
  out->idle_threads = pool->idle + pool->spinning;
  unlock(&pool->mu);
}

}  // extern "C"
