/*
 * lp_test.h - the small test harness of the C tests of the looplet core.
 *
 * A test program lists its cases (LPT_CASE: run once per available backend;
 * LPT_ONCE: run once) and calls lpt_main. Output is TAP; the exit status is 1
 * when a case failed, 77 (ctest's skip code) when every case skipped.
 * CHECK* record a failure and continue; REQUIRE* record it and return from
 * the case. After every case the harness checks that no fd leaked, which also
 * checks that lp_poller_free closes the backend fd.
 *
 * Include this header first: it selects the POSIX/GNU feature set that the
 * tests need on top of strict C11.
 */
#ifndef LOOPLET_TEST_H
#define LOOPLET_TEST_H

#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#if defined(__APPLE__) && !defined(_DARWIN_C_SOURCE)
#define _DARWIN_C_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "looplet.h"

typedef void (*lpt_fn)(lp_backend_t backend);

typedef struct lpt_case_s {
  const char *name;
  lpt_fn fn;
  int per_backend;
} lpt_case;

#define LPT_CASE(fn) {#fn, fn, 1}
#define LPT_ONCE(fn) {#fn, fn, 0}

static int lpt_case_failures;
static const char *lpt_skip_reason;

static const lp_backend_t lpt_all_backends[] = {LP_BACKEND_EPOLL, LP_BACKEND_KQUEUE,
                                                LP_BACKEND_POLL, LP_BACKEND_SELECT};
#define LPT_NBACKENDS ((int)(sizeof lpt_all_backends / sizeof lpt_all_backends[0]))

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void lpt_failf(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  lpt_case_failures++;
  fprintf(stdout, "#   FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static inline void lpt_skip(const char *reason) { lpt_skip_reason = reason; }

#define CHECK(cond) ((cond) ? 1 : (lpt_failf(__FILE__, __LINE__, "%s", #cond), 0))
#define REQUIRE(cond)          \
  do {                         \
    if (!CHECK(cond)) return;  \
  } while (0)

/* Integer comparison that prints both sides (error codes as -EXXX numbers). */
#define LPT_CMP(a, op, b, on_fail)                                                      \
  do {                                                                                  \
    long long lpt_a_ = (long long)(a), lpt_b_ = (long long)(b);                         \
    if (!(lpt_a_ op lpt_b_)) {                                                          \
      lpt_failf(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, lpt_a_,     \
                lpt_b_);                                                                \
      on_fail;                                                                          \
    }                                                                                   \
  } while (0)
#define CHECK_EQ(a, b) LPT_CMP(a, ==, b, (void)0)
#define CHECK_NE(a, b) LPT_CMP(a, !=, b, (void)0)
#define CHECK_GE(a, b) LPT_CMP(a, >=, b, (void)0)
#define CHECK_LE(a, b) LPT_CMP(a, <=, b, (void)0)
#define CHECK_LT(a, b) LPT_CMP(a, <, b, (void)0)
#define REQUIRE_EQ(a, b) LPT_CMP(a, ==, b, return)
#define REQUIRE_GE(a, b) LPT_CMP(a, >=, b, return)

/* ---- helpers -------------------------------------------------------------- */

static inline double lpt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int lpt_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

/* A connected AF_UNIX stream pair, both ends non-blocking and close-on-exec.
 * Returns 0, or -1 after recording a failure. */
static inline int lpt_pair(int sv[2]) {
  int i;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    lpt_failf(__FILE__, __LINE__, "socketpair: %s", strerror(errno));
    return -1;
  }
  for (i = 0; i < 2; i++) {
    int fl = fcntl(sv[i], F_GETFL);
    if (fl == -1 || fcntl(sv[i], F_SETFL, fl | O_NONBLOCK) == -1 ||
        fcntl(sv[i], F_SETFD, FD_CLOEXEC) == -1) {
      lpt_failf(__FILE__, __LINE__, "fcntl: %s", strerror(errno));
      close(sv[0]);
      close(sv[1]);
      return -1;
    }
  }
  return 0;
}

static inline void lpt_close_pair(const int sv[2]) {
  close(sv[0]);
  close(sv[1]);
}

/* Writes n bytes; returns 1 when all were written. */
static inline int lpt_send(int fd, size_t n) {
  char buf[256];
  memset(buf, 'x', sizeof buf);
  while (n > 0) {
    size_t chunk = n < sizeof buf ? n : sizeof buf;
    ssize_t w = write(fd, buf, chunk);
    if (w <= 0) return 0;
    n -= (size_t)w;
  }
  return 1;
}

/* Reads everything available on a non-blocking fd; returns the byte count. */
static inline size_t lpt_drain(int fd) {
  char buf[4096];
  size_t total = 0;
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) total += (size_t)r;
  return total;
}

/* Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit. */
static inline long lpt_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur != rl.rlim_max) {
    struct rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1L << 20) return 1L << 20;
  return (long)rl.rlim_cur;
}

/* Index of fd in ev[0..n), or -1. */
static inline int lpt_find(const lp_event_t *ev, int n, int fd) {
  int i;
  for (i = 0; i < n; i++)
    if (ev[i].fd == fd) return i;
  return -1;
}

/* Waits timeout_ms (> 0) and checks that nothing was reported and that the
 * wait did not return early (a wake-up by dropped events must not end it). */
#define CHECK_SILENT(p, timeout_ms) lpt_check_silent(__FILE__, __LINE__, p, timeout_ms)
static inline void lpt_check_silent(const char *file, int line, lp_poller_t *p, int timeout_ms) {
  lp_event_t ev[8];
  double t0 = lpt_now_ms(), dt;
  int n = lp_poller_wait(p, ev, 8, timeout_ms);
  dt = lpt_now_ms() - t0;
  if (n != 0)
    lpt_failf(file, line, "wait(%d ms) = %d, want 0 (first fd %d events %u)", timeout_ms, n,
              n > 0 ? ev[0].fd : -1, n > 0 ? ev[0].events : 0u);
  else if (dt < (double)timeout_ms)
    lpt_failf(file, line, "wait(%d ms) returned 0 after %.3f ms", timeout_ms, dt);
}

static inline lp_poller_t *lpt_new(lp_backend_t b) {
  lp_poller_t *p = NULL;
  int rc = lp_poller_new(&p, b);
  if (rc != 0 || p == NULL) {
    lpt_failf(__FILE__, __LINE__, "lp_poller_new(%s) = %d", lp_backend_name(b), rc);
    return NULL;
  }
  return p;
}

/* Number of open fds of this process (for the per-case leak check). */
static inline int lpt_count_fds(void) {
  int n = 0;
#if defined(__linux__)
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
      if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
  }
#endif
  {
    long limit = sysconf(_SC_OPEN_MAX);
    int fd;
    if (limit < 0 || limit > 65536) limit = 65536;
    for (fd = 0; fd < limit; fd++) n += lpt_is_open(fd);
  }
  return n;
}

/* ---- runner --------------------------------------------------------------- */

static inline int lpt_main(int argc, char **argv, const lpt_case *cases, int ncases) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  int total = 0, failed = 0, skipped = 0;
  int i, j;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("# looplet %u.%u.%u, backends:", lp_version() >> 16, (lp_version() >> 8) & 0xffu,
         lp_version() & 0xffu);
  for (j = 0; j < LPT_NBACKENDS; j++)
    if (lp_backend_available(lpt_all_backends[j]))
      printf(" %s", lp_backend_name(lpt_all_backends[j]));
  printf("\n");
  for (i = 0; i < ncases; i++) {
    int nb = cases[i].per_backend ? LPT_NBACKENDS : 1;
    for (j = 0; j < nb; j++) {
      lp_backend_t b = cases[i].per_backend ? lpt_all_backends[j] : LP_BACKEND_DEFAULT;
      char label[128];
      int fds_before, fds_after;
      if (cases[i].per_backend && !lp_backend_available(b)) continue;
      if (cases[i].per_backend)
        snprintf(label, sizeof label, "%s [%s]", cases[i].name, lp_backend_name(b));
      else
        snprintf(label, sizeof label, "%s", cases[i].name);
      if (filter && strstr(label, filter) == NULL) continue;
      lpt_case_failures = 0;
      lpt_skip_reason = NULL;
      fds_before = lpt_count_fds();
      cases[i].fn(b);
      fds_after = lpt_count_fds();
      if (fds_after != fds_before)
        lpt_failf(__FILE__, __LINE__, "fd leak: %d open before the case, %d after", fds_before,
                  fds_after);
      total++;
      if (lpt_case_failures) {
        failed++;
        printf("not ok %d - %s\n", total, label);
      } else if (lpt_skip_reason) {
        skipped++;
        printf("ok %d - %s # SKIP %s\n", total, label, lpt_skip_reason);
      } else {
        printf("ok %d - %s\n", total, label);
      }
    }
  }
  printf("1..%d\n# %d passed, %d failed, %d skipped\n", total, total - failed - skipped, failed,
         skipped);
  if (failed) return 1;
  if (total > 0 && skipped == total) return 77;
  return total > 0 ? 0 : 1;
}

#endif /* LOOPLET_TEST_H */
