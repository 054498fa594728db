// fuzz_core.cc - libFuzzer target for the C core (looplet.h): each input is
// a sequence of operations over real fds (socketpairs, pipes, /dev/null),
// closed, dup'ed and dup2'ed at will, driving two pollers and a hub. Built
// with -fsanitize=fuzzer,address,undefined and the core's assertions on
// (native/CMakeLists.txt, LOOPLET_FUZZ); scripts/test-c.mjs runs it for a
// bounded time from the seed corpus in native/fuzz/corpus when CI is set.
//
// Checked against a model of the registrations (a failed check aborts, so
// libFuzzer keeps the input):
//   - add / mod / del / get answer as the model says (EEXIST, ENOENT, the
//     data), and a failed add or mod changes nothing;
//   - a wait reports only registered fds, each once, with events inside the
//     interest and the data of the current registration; a fired one-shot
//     registration is not reported again until mod re-arms it;
//   - what it reports for an fd of the input's own whose number still names
//     the file it was registered with (not closed or dup2'ed over since) is
//     true of that file at that moment, as poll() on the number tells: no
//     event of another file (a left-over kernel entry) is reported under it
//     (not checked for numbers the input does not own: closed ones, which
//     the closed-fd contract reports as ready, and the core's own fds);
//   - lp_poller_count and lp_poller_interest agree with the model;
//   - hub waits end with one of their documented results, and every task
//     ends;
//   - no fd is left open once an input is done.
// Bounded: at most kMaxFds fds of its own, dup2 only onto fds it owns, and
// no wait that blocks (every timeout is 0).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "looplet.h"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "fuzz_core: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

namespace {

const int kMaxFds = 24;
const int kModelFds = 4096;  // fds the model tracks; the pool's are far below
const int kMaxTasks = 8;
const int kMaxOps = 400;
const lp_backend_t kBackends[] = {LP_BACKEND_DEFAULT, LP_BACKEND_POLL, LP_BACKEND_SELECT};

struct Input {
  const uint8_t *data;
  size_t size;
  size_t pos;
  uint8_t next() { return pos < size ? data[pos++] : 0; }
  bool done() const { return pos >= size; }
};

// The fds this input owns, open.
int pool[kMaxFds];
int npool;
int last_closed = -1;

struct Reg {
  bool on;
  bool disarmed;  // a one-shot registration that fired
  bool moved;     // the number was closed or dup2'ed over since add / mod
  unsigned events;
  uintptr_t tag;  // the data pointer given at registration
};

struct Model {
  lp_poller_t *p;
  Reg regs[kModelFds];
  size_t count;
};

Model models[2];
uintptr_t next_tag;

struct TaskScript {
  bool used;
  bool alive;  // spawned and its function has not returned
  lp_coro_t *co;
  int fd;
  unsigned events;
  int waits;
};

lp_hub_t *hub;
TaskScript tasks[kMaxTasks];

int count_open_fds() {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (struct dirent *de = readdir(d))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n - 1;  // the directory's own fd
}

void pool_add(int fd) {
  FUZZ_CHECK(fd >= 0);
  if (npool == kMaxFds) {
    close(fd);
    return;
  }
  pool[npool++] = fd;
}

// The number fd was closed or now names another file.
void number_changed(int fd) {
  if (fd < 0 || fd >= kModelFds) return;
  for (Model &m : models)
    if (m.regs[fd].on) m.regs[fd].moved = true;
}

// Forgets fd (closed by the caller, or by lp_hub_close).
void pool_forget(int index) {
  number_changed(pool[index]);
  last_closed = pool[index];
  pool[index] = pool[--npool];
}

int pool_index(uint8_t b) { return npool ? b % npool : -1; }

bool owned(int fd) {
  for (int i = 0; i < npool; i++)
    if (pool[i] == fd) return true;
  return false;
}

// Numbers this input does not own (a closed number, a poller's or the hub's
// own fd) may be closed or reopened by the core whenever a poller or the hub
// is made or freed: treat every registration of one as moved then.
void unowned_changed() {
  for (Model &m : models)
    for (int fd = 0; fd < kModelFds; fd++)
      if (m.regs[fd].on && !owned(fd)) m.regs[fd].moved = true;
}

// An fd number to give the poller: mostly an owned fd, sometimes one that is
// not open, a closed number, or a poller's own fd.
int pick_fd(Input &in, int self) {
  uint8_t b = in.next();
  if (b == 0xf0) return -1;
  if (b == 0xf1) return 5000;
  if (b == 0xf2 && models[1 - self].p) return lp_poller_fileno(models[1 - self].p);
  if (b == 0xf3) return last_closed;
  if (b == 0xf4 && models[self].p) return lp_poller_fileno(models[self].p);
  int i = pool_index(b);
  return i < 0 ? -1 : pool[i];
}

bool valid_events(const lp_poller_t *p, unsigned events) {
  if ((events & LP_EVENT_MASK) == 0 || (events & ~(LP_EVENT_MASK | LP_FLAG_MASK))) return false;
  unsigned caps = lp_poller_caps(p);
  if ((events & LP_FLAG_EDGE) && !(caps & LP_CAP_EDGE)) return false;
  if ((events & LP_FLAG_ONESHOT) && !(caps & LP_CAP_ONESHOT)) return false;
  return true;
}

unsigned pick_events(Input &in) {
  uint8_t b = in.next();
  if (b & 0x80) return 0;
  unsigned ev = b & LP_EVENT_MASK;
  if (b & 0x04) ev |= LP_FLAG_ONESHOT;
  if (b & 0x08) ev |= LP_FLAG_EDGE;
  if (b & 0x40) ev |= 0x40;  // not a valid bit
  return ev;
}

Reg *reg_of(Model &m, int fd) { return fd >= 0 && fd < kModelFds ? &m.regs[fd] : nullptr; }

// The poller's view of fd agrees with the model.
void check_reg(Model &m, int fd) {
  Reg *r = reg_of(m, fd);
  unsigned events = 0;
  void *data = nullptr;
  int rc = lp_poller_get(m.p, fd, &events, &data);
  if (r == nullptr || !r->on) {
    FUZZ_CHECK(rc == (fd < 0 ? -EBADF : -ENOENT));
  } else {
    FUZZ_CHECK(rc == 0 && events == r->events && (uintptr_t)data == r->tag);
  }
}

void check_all(Model &m) {
  FUZZ_CHECK(lp_poller_count(m.p) == m.count);
  lp_event_t interest[kMaxFds + 8];
  int n = lp_poller_interest(m.p, interest, kMaxFds + 8);
  FUZZ_CHECK(n >= 0);
  int armed = 0;
  int last = -1;
  for (int fd = 0; fd < kModelFds; fd++) {
    const Reg &r = m.regs[fd];
    if (!r.on || r.disarmed) continue;
    if (armed < n) {
      FUZZ_CHECK(interest[armed].fd == fd);
      FUZZ_CHECK(interest[armed].events == (r.events & LP_EVENT_MASK));
      FUZZ_CHECK((uintptr_t)interest[armed].data == r.tag);
    }
    armed++;
  }
  FUZZ_CHECK(n == (armed < kMaxFds + 8 ? armed : kMaxFds + 8));
  for (int i = 0; i < n; i++) {
    FUZZ_CHECK(interest[i].fd > last);
    last = interest[i].fd;
  }
  for (int i = 0; i < npool; i++) check_reg(m, pool[i]);
}

void op_add(Model &m, int self, Input &in) {
  int fd = pick_fd(in, self);
  unsigned events = pick_events(in);
  uintptr_t tag = ++next_tag;
  Reg *r = reg_of(m, fd);
  int rc = lp_poller_add(m.p, fd, events, (void *)tag);
  if (!valid_events(m.p, events)) {
    FUZZ_CHECK(rc == -EINVAL);
  } else if (fd < 0) {
    FUZZ_CHECK(rc == -EBADF);
  } else if (r && r->on) {
    FUZZ_CHECK(rc == -EEXIST);
  } else {
    FUZZ_CHECK(rc == 0 || rc == -EBADF || rc == -EPERM || rc == -ERANGE || rc == -EINVAL ||
               rc == -ELOOP || rc == -ENOMEM);
  }
  if (rc == 0) {
    FUZZ_CHECK(r != nullptr);
    // Moved from the start when the number is not the input's: it may name
    // no file (a closed number, which the poll backend takes and reports
    // with the registered events, the closed-fd contract, while poll() on it
    // says POLLNVAL) or the core's own.
    *r = Reg{true, false, !owned(fd), events, tag};
    m.count++;
  }
  check_reg(m, fd);
}

void op_mod(Model &m, int self, Input &in) {
  int fd = pick_fd(in, self);
  unsigned events = pick_events(in);
  uintptr_t tag = ++next_tag;
  Reg *r = reg_of(m, fd);
  int rc = lp_poller_mod(m.p, fd, events, (void *)tag);
  if (!valid_events(m.p, events)) {
    FUZZ_CHECK(rc == -EINVAL);
  } else if (r == nullptr || !r->on) {
    FUZZ_CHECK(rc == (fd < 0 ? -EBADF : -ENOENT));
  } else {
    FUZZ_CHECK(rc == 0 || rc == -EBADF || rc == -EPERM || rc == -EINVAL || rc == -ELOOP ||
               rc == -ENOMEM);
  }
  if (rc == 0) {
    // A change that reaches the backend watches the file the number names now.
    if (events != r->events || r->disarmed) r->moved = !owned(fd);  // as in op_add
    r->events = events;
    r->tag = tag;
    r->disarmed = false;
  }
  check_reg(m, fd);
}

void op_del(Model &m, int self, Input &in) {
  int fd = pick_fd(in, self);
  Reg *r = reg_of(m, fd);
  int rc = lp_poller_del(m.p, fd);
  if (r && r->on) {
    FUZZ_CHECK(rc == 0);
    r->on = false;
    m.count--;
  } else {
    FUZZ_CHECK(rc == (fd < 0 ? -EBADF : -ENOENT));
  }
  check_reg(m, fd);
}

void op_wait(Model &m, Input &in) {
  lp_event_t out[8];
  int max = 1 + in.next() % 8;
  int n = lp_poller_wait(m.p, out, max, 0);
  FUZZ_CHECK(n >= 0 && n <= max);
  for (int i = 0; i < n; i++) {
    Reg *r = reg_of(m, out[i].fd);
    FUZZ_CHECK(r != nullptr && r->on && !r->disarmed);
    FUZZ_CHECK(out[i].events != 0 && (out[i].events & ~(r->events & LP_EVENT_MASK)) == 0);
    FUZZ_CHECK((uintptr_t)out[i].data == r->tag);
    for (int j = 0; j < i; j++) FUZZ_CHECK(out[j].fd != out[i].fd);
    if (r->events & LP_FLAG_ONESHOT) r->disarmed = true;
    if (!r->moved) {
      struct pollfd pfd = {out[i].fd, POLLIN | POLLOUT, 0};
      FUZZ_CHECK(poll(&pfd, 1, 0) == 1);
      if (out[i].events & LP_EVENT_READ) FUZZ_CHECK(pfd.revents & (POLLIN | POLLHUP | POLLERR));
      if (out[i].events & LP_EVENT_WRITE) FUZZ_CHECK(pfd.revents & (POLLOUT | POLLHUP | POLLERR));
    }
  }
}

void free_poller(Model &m) {
  if (m.p) number_changed(lp_poller_fileno(m.p));
  lp_poller_free(m.p);
  m.p = nullptr;
  memset(m.regs, 0, sizeof m.regs);
  m.count = 0;
}

void new_poller(Model &m, uint8_t b) {
  free_poller(m);
  int rc = lp_poller_new(&m.p, kBackends[b % 3]);
  unowned_changed();
  FUZZ_CHECK(rc == 0 || rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM);
}

// ---- hub --------------------------------------------------------------------

void task_main(lp_hub_t *h, void *arg) {
  TaskScript *t = (TaskScript *)arg;
  for (int k = 0; k < t->waits; k++) {
    int rc = lp_hub_wait_fd(h, t->fd, t->events, 0);
    if (rc > 0) {
      FUZZ_CHECK(((unsigned)rc & ~t->events) == 0);
      char buf[16];
      if (rc & LP_EVENT_READ) (void)!read(t->fd, buf, sizeof buf);
    } else {
      FUZZ_CHECK(rc == 0 || rc == -ECANCELED || rc == -EBUSY || rc == -EBADF || rc == -EPERM ||
                 rc == -ERANGE || rc == -ENOMEM || rc == -EINVAL || rc == -ELOOP);
    }
    rc = lp_hub_sleep(h, 0);
    FUZZ_CHECK(rc == 0 || rc == -ECANCELED);
  }
  t->alive = false;
}

void op_hub(Input &in) {
  uint8_t b = in.next();
  if (hub == nullptr || b % 8 == 0) {
    if (hub) FUZZ_CHECK(lp_hub_free(hub) == 0);
    hub = nullptr;
    memset(tasks, 0, sizeof tasks);
    int rc = lp_hub_new(&hub, kBackends[in.next() % 3]);
    unowned_changed();
    FUZZ_CHECK(rc == 0 || rc == -EMFILE || rc == -ENOMEM);
    return;
  }
  switch (b % 8) {
    case 1:
    case 2: {  // spawn
      TaskScript *t = &tasks[in.next() % kMaxTasks];
      if (t->alive || npool == 0) return;
      *t = TaskScript{true,
                      true,
                      nullptr,
                      pool[pool_index(in.next())],
                      (unsigned)(1 + in.next() % 3),
                      1 + in.next() % 3};
      int rc = lp_hub_spawn(hub, task_main, t, 0, &t->co);
      FUZZ_CHECK(rc == 0 || rc == -ENOMEM);
      if (rc != 0) t->alive = false;
      return;
    }
    case 3:
    case 4: {
      int rc = lp_hub_run_once(hub, 0);
      FUZZ_CHECK(rc >= 0 && (size_t)rc == lp_hub_count(hub));
      return;
    }
    case 5: {
      int i = pool_index(in.next());
      if (i >= 0) FUZZ_CHECK(lp_hub_forget(hub, pool[i]) == 0);
      return;
    }
    case 6: {
      int i = pool_index(in.next());
      if (i < 0) return;
      FUZZ_CHECK(lp_hub_close(hub, pool[i]) == 0);
      pool_forget(i);
      return;
    }
    case 7: {
      TaskScript *t = &tasks[in.next() % kMaxTasks];
      if (!t->alive) return;
      int rc = lp_hub_cancel(hub, t->co);
      FUZZ_CHECK(rc == 0 || rc == -ENOENT);
      return;
    }
  }
}

void finish_hub() {
  if (hub == nullptr) return;
  for (int i = 0; i < 64 && lp_hub_count(hub) > 0; i++) FUZZ_CHECK(lp_hub_run_once(hub, 0) >= 0);
  FUZZ_CHECK(lp_hub_count(hub) == 0);  // every wait and sleep has timeout 0
  for (const TaskScript &t : tasks) FUZZ_CHECK(!t.alive);
  FUZZ_CHECK(lp_hub_free(hub) == 0);
  hub = nullptr;
}

// ---- fds --------------------------------------------------------------------

void op_fds(uint8_t op, Input &in) {
  switch (op) {
    case 0: {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
        pool_add(sv[0]);
        pool_add(sv[1]);
      }
      return;
    }
    case 1: {
      int p[2];
      if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
        pool_add(p[0]);
        pool_add(p[1]);
      }
      return;
    }
    case 2: {
      int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (fd >= 0) pool_add(fd);
      return;
    }
    case 3: {
      int i = pool_index(in.next());
      if (i < 0) return;
      close(pool[i]);
      pool_forget(i);
      return;
    }
    case 4: {
      int i = pool_index(in.next());
      if (i < 0) return;
      int fd = fcntl(pool[i], F_DUPFD_CLOEXEC, 0);
      if (fd >= 0) pool_add(fd);
      return;
    }
    case 5: {
      int i = pool_index(in.next()), j = pool_index(in.next());
      if (i < 0 || j < 0) return;
      FUZZ_CHECK(dup2(pool[i], pool[j]) == pool[j]);
      if (i != j) number_changed(pool[j]);
      return;
    }
    case 6: {
      int i = pool_index(in.next());
      if (i < 0) return;
      char buf[64];
      memset(buf, 'x', sizeof buf);
      size_t n = 1 + in.next() % sizeof buf;
      if (send(pool[i], buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno == ENOTSOCK)
        (void)!write(pool[i], buf, n);
      return;
    }
    case 7: {
      int i = pool_index(in.next());
      if (i < 0) return;
      char buf[64];
      (void)!read(pool[i], buf, 1 + in.next() % sizeof buf);
      return;
    }
    case 8: {
      int i = pool_index(in.next());
      if (i >= 0) shutdown(pool[i], in.next() % 3);
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Input in{data, size, 0};
  int fds_before = count_open_fds();
  npool = 0;
  last_closed = -1;
  for (int k = 0; k < 2; k++) new_poller(models[k], (uint8_t)k);
  for (int ops = 0; ops < kMaxOps && !in.done(); ops++) {
    uint8_t op = in.next();
    int k = (op >> 7) & 1;
    Model &m = models[k];
    switch (op % 16) {
      case 9:
        if (m.p) op_add(m, k, in);
        break;
      case 10:
        if (m.p) op_mod(m, k, in);
        break;
      case 11:
        if (m.p) op_del(m, k, in);
        break;
      case 12:
        if (m.p) op_wait(m, in);
        break;
      case 13:
        if (m.p) check_all(m);
        break;
      case 14:
        new_poller(m, in.next());
        break;
      case 15:
        op_hub(in);
        break;
      default:
        op_fds((uint8_t)(op % 16), in);
    }
  }
  for (Model &m : models) {
    if (m.p) check_all(m);
    free_poller(m);
  }
  finish_hub();
  while (npool > 0) {
    close(pool[npool - 1]);
    npool--;
  }
  FUZZ_CHECK(count_open_fds() == fds_before);
  return 0;
}
