/*
 * test_poller.c - the poller's API surface: backends, creation, capabilities,
 * the registration table (add / mod / del / get / interest) and every error
 * code of lp_poller_add / _mod / _del / _get / _wait.
 */
#include "lp_test.h"

static unsigned expected_caps(lp_backend_t b) {
  switch (b) {
    case LP_BACKEND_EPOLL:
    case LP_BACKEND_KQUEUE:
      return LP_CAP_EDGE | LP_CAP_ONESHOT | LP_CAP_FILENO | LP_CAP_ANY_FD;
    case LP_BACKEND_POLL: return LP_CAP_ONESHOT | LP_CAP_ANY_FD;
    case LP_BACKEND_SELECT: return LP_CAP_ONESHOT;
    default: return 0;
  }
}

static void version_and_backends(lp_backend_t unused) {
  lp_poller_t *p = (lp_poller_t *)&p; /* must be reset to NULL on failure */
  const char *def;
  (void)unused;
  CHECK_EQ(lp_version(), (LP_VERSION_MAJOR << 16) | (LP_VERSION_MINOR << 8) | LP_VERSION_PATCH);

  CHECK(strcmp(lp_backend_name(LP_BACKEND_EPOLL), "epoll") == 0);
  CHECK(strcmp(lp_backend_name(LP_BACKEND_KQUEUE), "kqueue") == 0);
  CHECK(strcmp(lp_backend_name(LP_BACKEND_POLL), "poll") == 0);
  CHECK(strcmp(lp_backend_name(LP_BACKEND_SELECT), "select") == 0);
  /* Unknown values (5 and 7 lie within the enum's range in C++ too). */
  CHECK(lp_backend_name((lp_backend_t)5) == NULL);
  CHECK(lp_backend_name((lp_backend_t)7) == NULL);

  CHECK_EQ(lp_backend_available(LP_BACKEND_POLL), 1);
  CHECK_EQ(lp_backend_available(LP_BACKEND_SELECT), 1);
  CHECK_EQ(lp_backend_available(LP_BACKEND_DEFAULT), 1);
  CHECK_EQ(lp_backend_available((lp_backend_t)5), 0);
  CHECK_EQ(lp_backend_available((lp_backend_t)7), 0);
#if defined(__linux__)
  CHECK_EQ(lp_backend_available(LP_BACKEND_EPOLL), 1);
  CHECK_EQ(lp_backend_available(LP_BACKEND_KQUEUE), 0);
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  CHECK_EQ(lp_backend_available(LP_BACKEND_KQUEUE), 1);
  CHECK_EQ(lp_backend_available(LP_BACKEND_EPOLL), 0);
#endif

  /* The default is the best backend: epoll, else kqueue, else poll. */
  def = lp_backend_name(LP_BACKEND_DEFAULT);
  REQUIRE(def != NULL);
  if (lp_backend_available(LP_BACKEND_EPOLL))
    CHECK(strcmp(def, "epoll") == 0);
  else if (lp_backend_available(LP_BACKEND_KQUEUE))
    CHECK(strcmp(def, "kqueue") == 0);
  else
    CHECK(strcmp(def, "poll") == 0);
  REQUIRE_EQ(lp_poller_new(&p, LP_BACKEND_DEFAULT), 0);
  REQUIRE(p != NULL);
  CHECK(strcmp(lp_backend_name(lp_poller_backend(p)), def) == 0);
  CHECK(lp_poller_backend(p) != LP_BACKEND_DEFAULT);
  lp_poller_free(p);

  CHECK_EQ(lp_poller_new(NULL, LP_BACKEND_POLL), -EINVAL);
  p = (lp_poller_t *)&p;
  CHECK_EQ(lp_poller_new(&p, (lp_backend_t)5), -EINVAL);
  CHECK(p == NULL);
  p = (lp_poller_t *)&p;
  CHECK_EQ(lp_poller_new(&p, (lp_backend_t)7), -EINVAL);
  CHECK(p == NULL);
  {
    int j;
    for (j = 0; j < LPT_NBACKENDS; j++) {
      if (lp_backend_available(lpt_all_backends[j])) continue;
      p = (lp_poller_t *)&p;
      CHECK_EQ(lp_poller_new(&p, lpt_all_backends[j]), -ENOSYS);
      CHECK(p == NULL);
    }
  }
  lp_poller_free(NULL);
}

static void create_and_free(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  int pfd;
  REQUIRE(p != NULL);
  CHECK_EQ(lp_poller_backend(p), b);
  CHECK(strcmp(lp_backend_name(lp_poller_backend(p)), lp_backend_name(b)) == 0);
  CHECK_EQ(lp_poller_caps(p), expected_caps(b));
  CHECK_EQ(lp_poller_count(p), 0);
  pfd = lp_poller_fileno(p);
  if (lp_poller_caps(p) & LP_CAP_FILENO) {
    CHECK_GE(pfd, 0);
    CHECK(lpt_is_open(pfd));
    CHECK(fcntl(pfd, F_GETFD) & FD_CLOEXEC);
  } else {
    CHECK_EQ(pfd, -1);
  }
  lp_poller_free(p);
  if (pfd >= 0) CHECK(!lpt_is_open(pfd)); /* free closed the backend fd */
}

static void add_mod_del_get(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  int sv[2], tag1, tag2;
  unsigned events = 0;
  void *data = NULL;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;

  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag1), 0);
  CHECK_EQ(lp_poller_count(p), 1);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_READ);
  CHECK(data == &tag1);
  CHECK_EQ(lp_poller_get(p, sv[0], NULL, NULL), 0);

  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_EVENT_WRITE, &tag2), 0);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK(data == &tag2);

  /* Same events, new data: only the data changes. */
  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_EVENT_WRITE, NULL), 0);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK(data == NULL);

  CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_WRITE | LP_FLAG_ONESHOT, &tag1), 0);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_WRITE | LP_FLAG_ONESHOT);

  CHECK_EQ(lp_poller_add(p, sv[1], LP_EVENT_WRITE, &tag2), 0);
  CHECK_EQ(lp_poller_count(p), 2);

  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_count(p), 1);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), -ENOENT);
  CHECK_EQ(lp_poller_del(p, sv[0]), -ENOENT);
  /* The other registration is untouched. */
  CHECK_EQ(lp_poller_get(p, sv[1], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_WRITE);
  CHECK(data == &tag2);

  /* A removed fd can be registered again. */
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_WRITE, &tag1), 0);
  CHECK_EQ(lp_poller_count(p), 2);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  CHECK_EQ(lp_poller_del(p, sv[1]), 0);
  CHECK_EQ(lp_poller_count(p), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

static void invalid_events(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  int sv[2], tag;
  unsigned events = 0;
  void *data = NULL;
  unsigned bad[] = {0,
                    LP_FLAG_ONESHOT,
                    LP_FLAG_EDGE,
                    LP_FLAG_EDGE | LP_FLAG_ONESHOT,
                    0x4u,
                    LP_EVENT_READ | 0x4u,
                    LP_EVENT_WRITE | 0x80u,
                    LP_EVENT_READ | 0x400u,
                    LP_EVENT_READ | 0x80000000u};
  size_t i;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_EQ(lp_poller_add(p, sv[0], bad[i], NULL), -EINVAL);
    CHECK_EQ(lp_poller_count(p), 0);
    CHECK_EQ(lp_poller_get(p, sv[0], NULL, NULL), -ENOENT);
  }
  /* Flags the backend lacks. */
  if (!(lp_poller_caps(p) & LP_CAP_EDGE))
    CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_EDGE, NULL), -EINVAL);
  if (!(lp_poller_caps(p) & LP_CAP_ONESHOT))
    CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ | LP_FLAG_ONESHOT, NULL), -EINVAL);
  CHECK_EQ(lp_poller_count(p), 0);

  /* A failed mod leaves the registration as it was. */
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag), 0);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ(lp_poller_mod(p, sv[0], bad[i], NULL), -EINVAL);
  if (!(lp_poller_caps(p) & LP_CAP_EDGE))
    CHECK_EQ(lp_poller_mod(p, sv[0], LP_EVENT_READ | LP_FLAG_EDGE, NULL), -EINVAL);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_READ);
  CHECK(data == &tag);
  /* An invalid mod of an unknown fd reports the invalid events first. */
  CHECK_EQ(lp_poller_mod(p, sv[1], 0, NULL), -EINVAL);
  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

static void bad_fds(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  int sv[2], closed_fd, tag1, tag2;
  unsigned events = 0;
  void *data = NULL;
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;

  /* Negative fds. */
  CHECK_EQ(lp_poller_add(p, -1, LP_EVENT_READ, NULL), -EBADF);
  CHECK_EQ(lp_poller_add(p, -12345, LP_EVENT_READ, NULL), -EBADF);
  CHECK_EQ(lp_poller_mod(p, -1, LP_EVENT_READ, NULL), -EBADF);
  CHECK_EQ(lp_poller_del(p, -1), -EBADF);
  CHECK_EQ(lp_poller_get(p, -1, NULL, NULL), -EBADF);

  /* A closed fd. */
  closed_fd = dup(sv[0]);
  REQUIRE_GE(closed_fd, 0);
  close(closed_fd);
  CHECK_EQ(lp_poller_add(p, closed_fd, LP_EVENT_READ, NULL), -EBADF);
  CHECK_EQ(lp_poller_count(p), 0);
  CHECK_EQ(lp_poller_get(p, closed_fd, NULL, NULL), -ENOENT);

  /* Double add: -EEXIST, the first registration stays. */
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_READ, &tag1), 0);
  CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_WRITE, &tag2), -EEXIST);
  CHECK_EQ(lp_poller_count(p), 1);
  CHECK_EQ(lp_poller_get(p, sv[0], &events, &data), 0);
  CHECK_EQ(events, LP_EVENT_READ);
  CHECK(data == &tag1);

  /* Unknown fds, inside and far beyond the table. */
  CHECK_EQ(lp_poller_mod(p, sv[1], LP_EVENT_READ, NULL), -ENOENT);
  CHECK_EQ(lp_poller_del(p, sv[1]), -ENOENT);
  CHECK_EQ(lp_poller_get(p, sv[1], &events, &data), -ENOENT);
  CHECK_EQ(lp_poller_mod(p, 1 << 20, LP_EVENT_READ, NULL), -ENOENT);
  CHECK_EQ(lp_poller_del(p, 1 << 20), -ENOENT);
  CHECK_EQ(lp_poller_get(p, 1 << 20, NULL, NULL), -ENOENT);
  CHECK_EQ(lp_poller_count(p), 1);

  CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* select: -ERANGE for fd >= FD_SETSIZE; the others take any fd. */
static void high_fd(lp_backend_t b) {
  enum { HIGH_FD = 1500 };
  lp_poller_t *p;
  lp_event_t ev[4];
  int sv[2], tag, n;
  void *data = NULL;
  if (lpt_raise_nofile() <= HIGH_FD) {
    lpt_skip("RLIMIT_NOFILE hard limit <= 1500");
    return;
  }
  REQUIRE(!lpt_is_open(HIGH_FD));
  p = lpt_new(b);
  REQUIRE(p != NULL);
  if (lpt_pair(sv) != 0) goto out;
  if (!CHECK(dup2(sv[0], HIGH_FD) == HIGH_FD)) goto pair;

  if (b == LP_BACKEND_SELECT) {
    CHECK_EQ(lp_poller_add(p, HIGH_FD, LP_EVENT_READ, &tag), -ERANGE);
    CHECK_EQ(lp_poller_count(p), 0);
    CHECK_EQ(lp_poller_get(p, HIGH_FD, NULL, &data), -ENOENT);
    /* The failed add left nothing behind: lower fds still work. */
    CHECK_EQ(lp_poller_add(p, sv[0], LP_EVENT_WRITE, &tag), 0);
    n = lp_poller_wait(p, ev, 4, 1000);
    CHECK_EQ(n, 1);
    CHECK_EQ(ev[0].fd, sv[0]);
    CHECK_EQ(lp_poller_del(p, sv[0]), 0);
  } else {
    CHECK_EQ(lp_poller_add(p, HIGH_FD, LP_EVENT_READ | LP_EVENT_WRITE, &tag), 0);
    CHECK(lpt_send(sv[1], 1));
    n = lp_poller_wait(p, ev, 4, 1000);
    REQUIRE_EQ(n, 1);
    CHECK_EQ(ev[0].fd, HIGH_FD);
    CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
    CHECK(ev[0].data == &tag);
    CHECK_EQ(lp_poller_del(p, HIGH_FD), 0);
  }
  close(HIGH_FD);
pair:
  lpt_close_pair(sv);
out:
  lp_poller_free(p);
}

/* epoll refuses regular files (-EPERM, as the header says); poll and select
 * take them and report them always ready. */
static void regular_file(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[2];
  FILE *f;
  int fd, n;
  REQUIRE(p != NULL);
  f = tmpfile();
  if (!CHECK(f != NULL)) goto out;
  fd = fileno(f);
  if (b == LP_BACKEND_EPOLL) {
    CHECK_EQ(lp_poller_add(p, fd, LP_EVENT_READ, NULL), -EPERM);
    CHECK_EQ(lp_poller_count(p), 0);
    CHECK_EQ(lp_poller_get(p, fd, NULL, NULL), -ENOENT);
  } else {
    CHECK_EQ(lp_poller_add(p, fd, LP_EVENT_READ | LP_EVENT_WRITE, NULL), 0);
    n = lp_poller_wait(p, ev, 2, 1000);
    CHECK_EQ(n, 1);
    if (n == 1) CHECK_EQ(ev[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
    CHECK_EQ(lp_poller_del(p, fd), 0);
  }
  fclose(f);
out:
  lp_poller_free(p);
}

/* lp_poller_interest: armed registrations in fd order, truncated at max. */
static void interest(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t out[8], ev[4];
  int a[2], c[2], tags[3], n;
  REQUIRE(p != NULL);
  CHECK_EQ(lp_poller_interest(p, out, 8), 0);
  CHECK_EQ(lp_poller_interest(p, NULL, 0), 0);
  CHECK_EQ(lp_poller_interest(p, out, 0), 0);
  CHECK_EQ(lp_poller_interest(p, out, -1), -EINVAL);
  CHECK_EQ(lp_poller_interest(p, NULL, 1), -EINVAL);
  if (lpt_pair(a) != 0) goto out;
  if (lpt_pair(c) != 0) goto pair_a;

  /* Register in descending fd order; the listing comes back ascending. */
  CHECK_EQ(lp_poller_add(p, c[1], LP_EVENT_READ, &tags[2]), 0);
  CHECK_EQ(lp_poller_add(p, c[0], LP_EVENT_WRITE | LP_FLAG_ONESHOT, &tags[1]), 0);
  CHECK_EQ(lp_poller_add(p, a[0], LP_EVENT_READ | LP_EVENT_WRITE, &tags[0]), 0);
  n = lp_poller_interest(p, out, 8);
  REQUIRE_EQ(n, 3);
  CHECK_EQ(out[0].fd, a[0]);
  CHECK_EQ(out[0].events, LP_EVENT_READ | LP_EVENT_WRITE);
  CHECK(out[0].data == &tags[0]);
  CHECK_EQ(out[1].fd, c[0]);
  CHECK_EQ(out[1].events, LP_EVENT_WRITE); /* flags are not listed */
  CHECK(out[1].data == &tags[1]);
  CHECK_EQ(out[2].fd, c[1]);
  CHECK_EQ(out[2].events, LP_EVENT_READ);
  CHECK(out[2].data == &tags[2]);

  n = lp_poller_interest(p, out, 2);
  CHECK_EQ(n, 2);
  CHECK_EQ(out[1].fd, c[0]);

  /* A fired one-shot registration is not armed, until mod re-arms it. */
  n = lp_poller_wait(p, ev, 4, 1000);
  CHECK_EQ(n, 2); /* a[0] (write) and c[0] (write) */
  CHECK(lpt_find(ev, n, c[0]) >= 0);
  n = lp_poller_interest(p, out, 8);
  CHECK_EQ(n, 2);
  CHECK_EQ(lpt_find(out, n, c[0]), -1);
  CHECK_EQ(lp_poller_count(p), 3);
  CHECK_EQ(lp_poller_mod(p, c[0], LP_EVENT_WRITE | LP_FLAG_ONESHOT, &tags[1]), 0);
  n = lp_poller_interest(p, out, 8);
  CHECK_EQ(n, 3);
  CHECK(lpt_find(out, n, c[0]) >= 0);

  CHECK_EQ(lp_poller_del(p, a[0]), 0);
  n = lp_poller_interest(p, out, 8);
  CHECK_EQ(n, 2);
  CHECK_EQ(lpt_find(out, n, a[0]), -1);
  CHECK_EQ(lp_poller_del(p, c[0]), 0);
  CHECK_EQ(lp_poller_del(p, c[1]), 0);
  CHECK_EQ(lp_poller_interest(p, out, 8), 0);
  lpt_close_pair(c);
pair_a:
  lpt_close_pair(a);
out:
  lp_poller_free(p);
}

static void wait_arguments(lp_backend_t b) {
  lp_poller_t *p = lpt_new(b);
  lp_event_t ev[1];
  REQUIRE(p != NULL);
  CHECK_EQ(lp_poller_wait(p, ev, 0, 0), -EINVAL);
  CHECK_EQ(lp_poller_wait(p, ev, -1, 0), -EINVAL);
  CHECK_EQ(lp_poller_wait(p, NULL, 1, 0), -EINVAL);
  /* Nothing registered: a zero timeout returns 0 at once. */
  CHECK_EQ(lp_poller_wait(p, ev, 1, 0), 0);
  lp_poller_free(p);
}

int main(int argc, char **argv) {
  static const lpt_case cases[] = {
      LPT_ONCE(version_and_backends), LPT_CASE(create_and_free), LPT_CASE(add_mod_del_get),
      LPT_CASE(invalid_events),       LPT_CASE(bad_fds),         LPT_CASE(high_fd),
      LPT_CASE(regular_file),         LPT_CASE(interest),        LPT_CASE(wait_arguments),
  };
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
