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

/* Creates a poller. *out is set on success. -ENOSYS: backend not built here. */
LP_EXTERN int lp_poller_new(lp_poller_t **out, lp_backend_t backend);
/* Closes the backend fd and frees the poller. NULL is ignored. */
LP_EXTERN void lp_poller_free(lp_poller_t *p);

LP_EXTERN lp_backend_t lp_poller_backend(const lp_poller_t *p);
LP_EXTERN unsigned lp_poller_caps(const lp_poller_t *p);
/* The backend's own fd (epoll, kqueue), readable when an event is pending,
 * or -1 for backends that have none (poll, select). */
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
 * Re-arms a one-shot registration. */
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
 * at most once per call. With poll and select, a closed fd that is still
 * registered is reported ready for its whole interest, so that the caller
 * notices and removes it; epoll and kqueue drop closed files by themselves
 * and report nothing for them.
 */
LP_EXTERN int lp_poller_wait(lp_poller_t *p, lp_event_t *out, int max, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* LOOPLET_H */
