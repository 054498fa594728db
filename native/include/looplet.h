/*
 * looplet.h - the C ABI of the looplet core.
 *
 * Conventions
 *   - Every function that can fail returns a negative errno value (-EBADF,
 *     -ENOENT, ...) on failure and a value >= 0 on success. Nothing sets errno
 *     for the caller and nothing throws across this boundary.
 *   - Handles are opaque. A handle is used from one thread at a time; the
 *     core keeps no process-wide mutable state.
 *   - Timeouts are milliseconds: a negative value blocks, 0 polls.
 */
#ifndef LOOPLET_H
#define LOOPLET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LP_STATIC)
#define LP_EXTERN
#elif defined(LP_BUILDING_SHARED)
#define LP_EXTERN __attribute__((visibility("default")))
#else
#define LP_EXTERN
#endif

#define LP_VERSION_MAJOR 0
#define LP_VERSION_MINOR 1
#define LP_VERSION_PATCH 0

/* Interest and readiness bits. */
#define LP_EVENT_READ 0x1u
#define LP_EVENT_WRITE 0x2u
/* Registration flags, OR-ed into the events of lp_poller_add/_mod. */
#define LP_FLAG_EDGE 0x100u    /* edge-triggered (LP_CAP_EDGE) */
#define LP_FLAG_ONESHOT 0x200u /* disarm after one report; lp_poller_mod re-arms */

#define LP_EVENT_MASK (LP_EVENT_READ | LP_EVENT_WRITE)
#define LP_FLAG_MASK (LP_FLAG_EDGE | LP_FLAG_ONESHOT)

/* Capability bits returned by lp_poller_caps. */
#define LP_CAP_EDGE 0x1u     /* LP_FLAG_EDGE is honoured */
#define LP_CAP_ONESHOT 0x2u  /* LP_FLAG_ONESHOT is honoured */
#define LP_CAP_FILENO 0x4u   /* lp_poller_fileno returns a pollable fd */
#define LP_CAP_ANY_FD 0x8u   /* no FD_SETSIZE limit on registered fds */

typedef enum lp_backend_e {
  LP_BACKEND_DEFAULT = 0, /* the best backend this platform has */
  LP_BACKEND_EPOLL = 1,
  LP_BACKEND_KQUEUE = 2,
  LP_BACKEND_POLL = 3,
  LP_BACKEND_SELECT = 4
} lp_backend_t;

typedef struct lp_poller_s lp_poller_t;

typedef struct lp_event_s {
  int fd;
  unsigned events; /* LP_EVENT_READ | LP_EVENT_WRITE, masked by the interest */
  void *data;      /* the pointer given at registration */
} lp_event_t;

/* Version as (major << 16) | (minor << 8) | patch. */
LP_EXTERN unsigned lp_version(void);

/* Name of a backend ("epoll", ...) or NULL for an unknown value. */
LP_EXTERN const char *lp_backend_name(lp_backend_t backend);
/* 1 if this build and platform provide the backend, else 0. */
LP_EXTERN int lp_backend_available(lp_backend_t backend);

/* Creates a poller. *out is set on success. -ENOSYS: backend not built here;
 * -EMFILE / -ENFILE: no fd for it (epoll takes two, kqueue one, poll and
 * select none). */
LP_EXTERN int lp_poller_new(lp_poller_t **out, lp_backend_t backend);
/* Closes the backend fd and frees the poller. NULL is ignored. */
LP_EXTERN void lp_poller_free(lp_poller_t *p);

LP_EXTERN lp_backend_t lp_poller_backend(const lp_poller_t *p);
LP_EXTERN unsigned lp_poller_caps(const lp_poller_t *p);
/* The backend's own fd (epoll, kqueue), readable when an event is pending,
 * or -1 for backends that have none (poll, select). It names the same open
 * file for the poller's whole life. */
LP_EXTERN int lp_poller_fileno(const lp_poller_t *p);
/* Number of registered fds. */
LP_EXTERN size_t lp_poller_count(const lp_poller_t *p);

/*
 * Registers fd for events (LP_EVENT_* | LP_FLAG_*).
 *   -EINVAL  no event bit, unknown bits, or a flag the backend lacks
 *   -EBADF   fd is negative or not open
 *   -EEXIST  fd is already registered
 *   -ERANGE  select backend and fd >= FD_SETSIZE
 *   other    the backend syscall's error (-EPERM for regular files on epoll)
 */
LP_EXTERN int lp_poller_add(lp_poller_t *p, int fd, unsigned events, void *data);
/* Changes the events and data of a registered fd (-ENOENT if not registered).
 * Re-arms a one-shot registration. A call that changes the events (or
 * re-arms) watches the file the fd number names now, also if it was closed
 * and reused since it was registered; one that changes only data makes no
 * syscall. */
LP_EXTERN int lp_poller_mod(lp_poller_t *p, int fd, unsigned events, void *data);
/* Removes fd. Succeeds when fd was registered, even if it has been closed or
 * its number reused since; -ENOENT if it was not registered. No event for a
 * removed fd is reported afterwards. */
LP_EXTERN int lp_poller_del(lp_poller_t *p, int fd);
/* Events and data of a registered fd; -ENOENT if not registered. */
LP_EXTERN int lp_poller_get(const lp_poller_t *p, int fd, unsigned *events, void **data);

/* Lists the armed registrations (fd, the events currently watched, data) in
 * fd order, at most max; returns how many were stored. A helper thread can
 * wait on a copy of this set while the owner keeps using the poller. */
LP_EXTERN int lp_poller_interest(const lp_poller_t *p, lp_event_t *out, int max);

/*
 * Waits up to timeout_ms for readiness and stores at most max events in out.
 * Returns the number stored (0 on timeout). Interrupted waits (EINTR) resume
 * with the remaining time, rounded up to whole milliseconds. Each fd appears
 * at most once per call. A registered fd closed without lp_poller_del: poll
 * and select report it ready for its whole interest, so that the caller
 * notices and removes it; kqueue reports nothing for it; epoll reports
 * nothing once its file is closed, but while another fd (a dup, a child
 * process) keeps the file open it reports that file's readiness under the
 * number. Nothing of a removed registration is ever reported, and what such
 * fds leave in the kernel never hides a ready fd (docs/poller.md).
 */
LP_EXTERN int lp_poller_wait(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms);

/* ---- Coroutines ----------------------------------------------------------
 *
 * Stackful coroutines with python-greenlet's semantics, switched by a few
 * instructions of assembly (x86_64 System V, aarch64 AAPCS64; a ucontext
 * fallback when the core is built with LP_CORO_UCONTEXT).
 *
 *   - Every thread has a main coroutine: the thread's own stack, created on
 *     first use (lp_coro_current). A coroutine belongs to the thread that
 *     created it and is switched to only from that thread (-EXDEV).
 *   - lp_coro_new gives a coroutine its own stack (mmap'd, with a PROT_NONE
 *     guard page below it, taken from a per-thread cache) and an entry
 *     function. Its parent is the coroutine that created it.
 *   - lp_coro_switch(to, value, &received) suspends the running coroutine and
 *     resumes `to`. The first switch calls to's entry as fn(to, value); later
 *     ones make the lp_coro_switch that suspended `to` return with
 *     *received = value. Switching to the running coroutine returns value
 *     at once.
 *   - When the entry returns, the coroutine is dead and its return value is
 *     switched to its parent (to the nearest ancestor that is not dead). A
 *     switch to a dead coroutine goes to its parent the same way. A dead
 *     coroutine's stack goes back to the cache with the thread's next
 *     lp_coro_switch, lp_coro_new or lp_coro_free; the record stays until
 *     lp_coro_free.
 *   - The switch preserves the callee-saved registers and the floating-point
 *     control state (MXCSR and the x87 control word; FPCR on aarch64) of each
 *     side: each coroutine keeps its own rounding mode. A new coroutine
 *     starts with the control state of the code that created it.
 *   - Nothing unwinds a coroutine's stack: freeing a suspended coroutine
 *     discards it without running anything on it. No C++ exception may leave
 *     an entry function (it ends the process), and no coroutine may switch
 *     away inside a catch block (the C++ runtime tracks handled exceptions
 *     per thread). Other per-thread state (errno, an interpreter's frame
 *     stack) is shared by a thread's coroutines: see docs/embedding.md.
 *   - Stack overflow hits the guard page (SIGSEGV). A frame larger than a page
 *     can jump over it; give deep or large-framed code a larger stack.
 */
typedef struct lp_coro_s lp_coro_t;

/* Entry of a coroutine: self, and the value of the first switch to it. Its
 * return value goes to its parent. */
typedef void *(*lp_coro_fn)(lp_coro_t *self, void *value);

typedef enum lp_coro_status_e {
  LP_CORO_INIT = 0,      /* created, never switched to */
  LP_CORO_RUNNING = 1,   /* the current coroutine of its thread */
  LP_CORO_SUSPENDED = 2, /* started, switched away from */
  LP_CORO_DEAD = 3       /* its entry returned */
} lp_coro_status_t;

/* Usable stack bytes when 0 is asked for, and the least given. */
#define LP_CORO_STACK_DEFAULT (256u * 1024u)
#define LP_CORO_STACK_MIN (16u * 1024u)

/*
 * Creates a coroutine (status LP_CORO_INIT) whose parent is the current
 * coroutine. stack_size: usable bytes, rounded up to whole pages and to at
 * least LP_CORO_STACK_MIN; 0 gives LP_CORO_STACK_DEFAULT (ASan builds double
 * it). One guard page is added below. -EINVAL: out or fn is NULL; -ENOMEM:
 * no memory for it (or an impossible size).
 */
LP_EXTERN int lp_coro_new(lp_coro_t **out, lp_coro_fn fn, void *userdata, size_t stack_size);
/*
 * Frees a coroutine that is not running: not started, dead, or suspended (its
 * stack is discarded as it is). Its children get its parent as their parent.
 * NULL is ignored. -EBUSY: it is the running coroutine; -EINVAL: it is a
 * main coroutine; -EXDEV: it belongs to another thread that is still alive.
 */
LP_EXTERN int lp_coro_free(lp_coro_t *c);
/*
 * Switches to `to` (or to its nearest live ancestor if it is dead) passing
 * value; returns 0 once something switches back, with the value it passed
 * in *received (received may be NULL). -EINVAL: to is NULL; -EXDEV: to
 * belongs to another thread.
 */
LP_EXTERN int lp_coro_switch(lp_coro_t *to, void *value, void **received);
/* The running coroutine of the calling thread (its main coroutine outside
 * any other); NULL only if the thread's record could not be allocated. */
LP_EXTERN lp_coro_t *lp_coro_current(void);
/* The calling thread's main coroutine; NULL as lp_coro_current. */
LP_EXTERN lp_coro_t *lp_coro_main(void);
LP_EXTERN lp_coro_status_t lp_coro_status(const lp_coro_t *c);
/* 1 for a thread's main coroutine, else 0. */
LP_EXTERN int lp_coro_is_main(const lp_coro_t *c);
/* The parent (NULL for a main coroutine). */
LP_EXTERN lp_coro_t *lp_coro_parent(const lp_coro_t *c);
/* -EINVAL: parent is NULL, c is a main coroutine, or the parent chain would
 * become a cycle; -EXDEV: they belong to different threads. */
LP_EXTERN int lp_coro_set_parent(lp_coro_t *c, lp_coro_t *parent);
LP_EXTERN void *lp_coro_userdata(const lp_coro_t *c);
/* Usable stack bytes after rounding (0 for a main coroutine). */
LP_EXTERN size_t lp_coro_stack_size(const lp_coro_t *c);
/* Sets how many released stacks the calling thread keeps for reuse (default
 * 32); returns the previous limit, or 0 if the thread's record could not be
 * allocated. 0 unmaps every stack as soon as it is released. */
LP_EXTERN size_t lp_coro_set_stack_cache(size_t max_stacks);
/* The context switch this build uses: "x86_64-sysv", "aarch64-aapcs64" or
 * "ucontext". */
LP_EXTERN const char *lp_coro_switch_impl(void);

/* ---- Hub ------------------------------------------------------------------
 *
 * Runs coroutines on a poller, gevent-style: a coroutine spawned on the hub
 * that waits for an fd or sleeps is suspended, and the hub resumes it when
 * the fd is ready or the time has come (a timer heap keeps the deadlines).
 * A coroutine-per-connection server is a loop of lp_hub_wait_fd around
 * non-blocking reads and writes.
 *
 * The hub's loop runs on the stack of whoever calls lp_hub_run or
 * lp_hub_run_once (the driver). lp_hub_run_once does one iteration and
 * returns, so a foreign event loop can drive the hub: watch
 * lp_poller_fileno(lp_hub_poller(hub)) for readability (epoll and kqueue
 * have that fd; poll and select do not) and wake after lp_hub_timeout(hub)
 * ms, then call lp_hub_run_once(hub, 0). See docs/embedding.md.
 *
 * The hub waits with one-shot registrations where the backend has them, so
 * an fd may be closed and its number reused between waits. An fd closed
 * while a coroutine waits on it is not reported by epoll or kqueue; use
 * lp_hub_close (or lp_hub_forget, then close) for fds others may wait on.
 */
typedef struct lp_hub_s lp_hub_t;

/* Body of a hub coroutine. When it returns, the hub frees the coroutine. */
typedef void (*lp_hub_fn)(lp_hub_t *hub, void *arg);

/* Creates a hub with its own poller. -ENOSYS: backend not built here. */
LP_EXTERN int lp_hub_new(lp_hub_t **out, lp_backend_t backend);
/* Frees the hub, its poller and every coroutine it still holds (their stacks
 * are discarded as they are). NULL is ignored. -EBUSY: called from inside
 * lp_hub_run / lp_hub_run_once of this hub. */
LP_EXTERN int lp_hub_free(lp_hub_t *hub);
/* The hub's poller (for lp_poller_fileno; do not register fds on it). */
LP_EXTERN lp_poller_t *lp_hub_poller(const lp_hub_t *hub);
/* Number of coroutines the hub holds (ready, waiting or running). */
LP_EXTERN size_t lp_hub_count(const lp_hub_t *hub);
/*
 * Creates a coroutine that will run fn(hub, arg) with stack_size bytes of
 * stack (as lp_coro_new) and queues it to run. Callable from anywhere on
 * the hub's thread, including hub coroutines. If out is not NULL it gets the
 * coroutine, valid until fn returns. -EINVAL: fn is NULL; -ENOMEM.
 */
LP_EXTERN int lp_hub_spawn(lp_hub_t *hub, lp_hub_fn fn, void *arg, size_t stack_size,
                           lp_coro_t **out);
/*
 * From a hub coroutine: waits until fd is ready for any of events
 * (LP_EVENT_READ | LP_EVENT_WRITE) or timeout_ms passes (negative: no
 * limit). Returns the ready events (> 0), 0 on timeout, -ECANCELED if
 * lp_hub_forget / lp_hub_close / lp_hub_cancel ended the wait, -EBUSY if
 * another coroutine already waits for the same event on fd, -EPERM if the
 * caller is not a coroutine of this hub, or the poller's error (-EBADF, ...).
 */
LP_EXTERN int lp_hub_wait_fd(lp_hub_t *hub, int fd, unsigned events, int timeout_ms);
/* From a hub coroutine: sleeps timeout_ms (0 lets the other ready coroutines
 * run first). Returns 0, -ECANCELED (lp_hub_cancel), or -EPERM. */
LP_EXTERN int lp_hub_sleep(lp_hub_t *hub, int timeout_ms);
/* Wakes a coroutine of this hub that waits or sleeps: its wait returns
 * -ECANCELED. -ENOENT: it does not belong to this hub (or is not waiting);
 * the caller may be any code on the hub's thread. */
LP_EXTERN int lp_hub_cancel(lp_hub_t *hub, lp_coro_t *co);
/* Removes fd from the hub's poller; coroutines waiting on it get
 * -ECANCELED. Returns 0 (also when fd was not registered). */
LP_EXTERN int lp_hub_forget(lp_hub_t *hub, int fd);
/* lp_hub_forget, then close(fd). Returns 0 or close's -errno. */
LP_EXTERN int lp_hub_close(lp_hub_t *hub, int fd);
/*
 * One iteration: waits for readiness at most timeout_ms (negative: until an
 * fd or a timer is due; 0 when a coroutine is ready to run), wakes the
 * coroutines whose fds or timers are due and runs every ready coroutine
 * until it waits or finishes. Returns the number of coroutines the hub still
 * holds, or -EDEADLK when called from a coroutine of this hub, or the
 * poller's -errno.
 */
LP_EXTERN int lp_hub_run_once(lp_hub_t *hub, int timeout_ms);
/* Runs iterations until no coroutine is left or lp_hub_stop is called.
 * Returns 0, or an error as lp_hub_run_once. */
LP_EXTERN int lp_hub_run(lp_hub_t *hub);
/* Makes lp_hub_run return after the current iteration. */
LP_EXTERN void lp_hub_stop(lp_hub_t *hub);
/* Milliseconds until lp_hub_run_once has work: 0 when a coroutine is ready,
 * the time to the earliest deadline (rounded up), or -1 when only fds can
 * wake the hub. */
LP_EXTERN int lp_hub_timeout(const lp_hub_t *hub);


/* ---- Thread pool -----------------------------------------------------------
 *
 * Runs C work functions on a set of threads, away from the thread that owns
 * the pool (its event loop), and hands their completions back to the owner
 * in batches through one pollable fd.
 *
 *   - lp_pool_submit queues a task (work, done, arg) in a bounded FIFO. A
 *     pool thread runs work(arg); its return value is the task's status
 *     (>= 0 success, < 0 failure, counted as such). Threads are started as
 *     tasks need them, up to max_threads; those beyond min_threads exit after
 *     idle_timeout_ms without work.
 *   - A finished task's done(arg, status) is called by lp_pool_complete, on
 *     the thread that calls it (the owner: one thread at a time), never on a
 *     pool thread. lp_pool_fileno is readable while completions wait: a loop
 *     (epoll, libuv's uv_poll, poll()) watches it and calls lp_pool_complete.
 *     One wake-up covers every completion that arrives until the owner
 *     collects them.
 *   - lp_pool_cancel withdraws a task that has not started: its done gets
 *     -ECANCELED (also through lp_pool_complete). A running task is not
 *     interrupted.
 *   - Work functions that block (sleeps, waits on fds) can end early when the
 *     pool stops: lp_pool_stop_fd becomes readable once lp_pool_free (or
 *     lp_pool_shutdown with cancel) has begun.
 *   - Work and done functions must not let a C++ exception escape (it ends
 *     the process). Every function here is thread-safe except
 *     lp_pool_complete and lp_pool_free, which belong to the owner.
 */
typedef struct lp_pool_s lp_pool_t;

/* Runs on a pool thread; the return value is the task's status. */
typedef int (*lp_pool_work_fn)(void *arg);
/* Runs on the owner's thread: work's status, or -ECANCELED. */
typedef void (*lp_pool_done_fn)(void *arg, int status);

typedef struct lp_pool_options_s {
  unsigned min_threads;  /* kept alive once started; started by lp_pool_new (default 0) */
  unsigned max_threads;  /* 0: LP_POOL_DEFAULT_THREADS */
  size_t max_queue;      /* tasks waiting to start; 0: no limit */
  int idle_timeout_ms;   /* threads beyond min_threads exit after this long idle;
                            0: LP_POOL_DEFAULT_IDLE_MS; negative: never */
  size_t stack_size;     /* 0: the system's default */
  unsigned spin_us;      /* an idle thread checks for work this long before it sleeps
                            (0: sleep at once) */
} lp_pool_options_t;

#define LP_POOL_DEFAULT_THREADS 4u
#define LP_POOL_DEFAULT_IDLE_MS 10000

typedef struct lp_pool_stats_s {
  uint64_t submitted;  /* accepted by lp_pool_submit */
  uint64_t completed;  /* work returned >= 0 */
  uint64_t failed;     /* work returned < 0 */
  uint64_t cancelled;  /* withdrawn before they started */
  uint64_t wakeups;    /* writes to lp_pool_fileno (each covers a batch) */
  unsigned queued;     /* waiting to start */
  unsigned running;    /* in work() now */
  unsigned pending;    /* finished or cancelled, done() not yet called */
  unsigned threads;    /* pool threads alive */
  unsigned idle_threads;
} lp_pool_stats_t;

/*
 * Creates a pool (options may be NULL for the defaults) and starts
 * min_threads threads. -EINVAL: min_threads > max_threads; -EMFILE /
 * -ENFILE: no fd for the wake-ups (it takes two on Linux, four elsewhere);
 * -EAGAIN: a thread could not be started; -ENOMEM.
 */
LP_EXTERN int lp_pool_new(lp_pool_t **out, const lp_pool_options_t *options);
/*
 * Stops the pool and frees it: tasks not started are cancelled, the stop fd
 * becomes readable, running tasks are waited for, the threads are joined,
 * and every done() still owed is called (cancelled ones with -ECANCELED), so
 * that callers can release their args. NULL is ignored. -EBUSY: called from
 * a pool thread or from a done() of this pool (nothing is freed).
 */
LP_EXTERN int lp_pool_free(lp_pool_t *pool);
/*
 * Queues work(arg) and, once it has run or been cancelled, done(arg, status)
 * (done may be NULL). *id (may be NULL) gets the task's id for
 * lp_pool_cancel; ids are not reused for 2^32 submissions of one slot.
 * -EINVAL: work is NULL; -EAGAIN: max_queue tasks are waiting already, or no
 * thread exists and none could be started; -ESHUTDOWN: after
 * lp_pool_shutdown; -ENOMEM.
 */
LP_EXTERN int lp_pool_submit(lp_pool_t *pool, lp_pool_work_fn work, lp_pool_done_fn done,
                             void *arg, uint64_t *id);
/*
 * Queues n tasks that share work and done, with args[i] each, under one lock
 * (one wake-up of the pool per idle thread needed, where n lp_pool_submit
 * calls contend with the pool threads n times). ids (may be NULL) gets n ids.
 * Returns how many were queued, from the first: n, or fewer when max_queue
 * leaves room for fewer (or memory runs out); 0 when n is 0. Nothing is
 * queued on error: -EINVAL (work NULL, or args NULL with n > 0), -EAGAIN,
 * -ESHUTDOWN, -ENOMEM as for lp_pool_submit.
 */
LP_EXTERN int lp_pool_submit_many(lp_pool_t *pool, lp_pool_work_fn work, lp_pool_done_fn done,
                                  void *const *args, uint64_t *ids, unsigned n);
/* Withdraws a task that has not started: 0 (its done gets -ECANCELED);
 * -EBUSY: it is running; -ENOENT: no such task, or it has finished. */
LP_EXTERN int lp_pool_cancel(lp_pool_t *pool, uint64_t id);
/* Calls done() of at most max (<= 0: all) finished or cancelled tasks, in the
 * order they finished; returns how many. Owner thread only; -EBUSY when
 * called from inside a done() of this pool. */
LP_EXTERN int lp_pool_complete(lp_pool_t *pool, int max);
/* An fd that is readable while completions wait for lp_pool_complete (it
 * names the same open file for the pool's whole life). */
LP_EXTERN int lp_pool_fileno(const lp_pool_t *pool);
/* How many completions wait for lp_pool_complete, read without a lock: a
 * hint for an owner that spins briefly before it blocks on the fd. */
LP_EXTERN unsigned lp_pool_ready(const lp_pool_t *pool);
/* Says whether the owner is awake: running, and sure to check lp_pool_ready
 * (or lp_pool_spin_wait) before it next blocks on lp_pool_fileno. While it
 * is, finishing tasks do not write the fd, which spares a busy owner two
 * system calls per batch (the write, and the read that drains it). Setting
 * it back to 0 makes the fd readable if completions came meanwhile, so call
 * it before blocking. Owner thread only; default 0 (every batch is
 * announced on the fd). */
LP_EXTERN void lp_pool_set_awake(lp_pool_t *pool, int awake);
/* Spins up to spin_ns for completions, without blocking: 1 when some wait
 * (call lp_pool_complete), else 0. The owner counts as awake meanwhile (see
 * lp_pool_set_awake; the state it had is restored). Owner thread only. */
LP_EXTERN int lp_pool_spin_wait(lp_pool_t *pool, uint32_t spin_ns);
/* Waits up to timeout_ms for completions to collect: 1 when some wait, 0 on
 * timeout. For owners without a loop. */
LP_EXTERN int lp_pool_wait(lp_pool_t *pool, int timeout_ms);
/* An fd that becomes readable (and stays so) when the pool stops; blocking
 * work functions poll it to end early. */
LP_EXTERN int lp_pool_stop_fd(const lp_pool_t *pool);
/* 1 once the pool is stopping (see lp_pool_stop_fd), else 0. */
LP_EXTERN int lp_pool_stopping(const lp_pool_t *pool);
/* Refuses new tasks from now on (-ESHUTDOWN). With cancel_pending, the tasks
 * not started are cancelled and the stop fd becomes readable. Returns how
 * many were cancelled. Threads finish the queue (if any is left) and exit
 * when it is empty. */
LP_EXTERN int lp_pool_shutdown(lp_pool_t *pool, int cancel_pending);
/* A consistent snapshot of the counters. */
LP_EXTERN void lp_pool_stats(lp_pool_t *pool, lp_pool_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* LOOPLET_H */
