/*
 * echo_load: the load generator of `looplet bench echo`. Holds C TCP
 * connections to an echo server, each doing ping-pong with messages of S
 * bytes (send one, wait for all of it to come back, check every byte, send
 * the next) for a warm-up and then a timed window, from one thread with
 * epoll (so it costs far less CPU per round trip than any server measured).
 *
 *   echo_load --port N [--host 127.0.0.1] --conns C --size S
 *             [--seconds T] [--warmup W] [--connect-batch B]
 *             [--watch-pid PID]... [--notify-pid PID]...
 *
 * Every message is a different window of a random pool (shifted per
 * connection and message), so a lost, duplicated, reordered or crossed
 * byte shows up as a mismatch. Prints one JSON object on stdout: round trips in the
 * window, their rate, latency percentiles (a round trip: from the first
 * byte sent to the last byte back), errors, and for each --watch-pid the
 * CPU time (utime + stime, all threads) it used in the window and its
 * VmRSS at the end. Each --notify-pid gets SIGUSR2 when the window opens
 * and when it closes (a server can count its own work in between).
 * Exit status 0 when every connection was made and stayed intact.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 64

enum phase { CONNECTING, SENDING, RECEIVING, FAILED };

struct conn {
  int fd;
  enum phase phase;
  uint32_t id;
  uint32_t message;
  size_t sent;
  size_t received;
  uint64_t started_ns;
};

static struct {
  const char *host;
  int port;
  int conns;
  size_t size;
  double seconds;
  double warmup;
  int connect_batch;
  pid_t watch[MAX_PIDS];
  int nwatch;
  pid_t notify[MAX_PIDS];
  int nnotify;
} opt = {"127.0.0.1", 0, 50, 64, 5.0, 1.0, 256, {0}, 0, {0}, 0};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Messages are windows of one random pool, shifted per connection and
 * message: sending needs no per-byte work and checking is a memcmp, yet a
 * lost, duplicated, reordered or crossed byte still shows up. */
#define SHIFTS 4093
static unsigned char *pool;

static inline const unsigned char *message_bytes(uint32_t id, uint32_t message) {
  return pool + (id * 2654435761u + message * 40503u) % SHIFTS;
}

static void usage(void) {
  fprintf(stderr,
          "usage: echo_load --port N [--host ADDR] --conns C --size S [--seconds T] [--warmup W]\n"
          "                 [--connect-batch B] [--watch-pid PID]... [--notify-pid PID]...\n");
  exit(2);
}

/* utime + stime of pid in seconds (all its threads), or -1. */
static double cpu_seconds(pid_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (p == NULL) return -1;
  unsigned long utime = 0, stime = 0;
  /* Fields after ')': state(3) ... utime(14) stime(15). */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kib(pid_t pid) {
  char path[64], line[256];
  long kib = -1;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

static void notify_all(void) {
  for (int i = 0; i < opt.nnotify; i++) kill(opt.notify[i], SIGUSR2);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static struct conn *conns;
static unsigned char *recvbuf;
static int epfd;
static long errors, mismatches, connect_failures;
static const char *first_error;
static uint64_t window_start, window_end;
static int in_window;
static uint32_t *samples;
static size_t nsamples, cap_samples;
static long long window_round_trips;

static void fail(struct conn *c, const char *why) {
  if (c->phase == FAILED) return;
  if (first_error == NULL) first_error = why;
  errors++;
  c->phase = FAILED;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
}

static void record(uint64_t ns) {
  if (!in_window) return;
  window_round_trips++;
  if (nsamples == cap_samples) {
    size_t cap = cap_samples ? cap_samples * 2 : 1 << 20;
    uint32_t *grown = realloc(samples, cap * sizeof *samples);
    if (grown == NULL) return; /* keep counting; the percentiles lose some samples */
    samples = grown;
    cap_samples = cap;
  }
  /* In units of 10 ns: a uint32 holds 42.9 s (in ns it capped at 4.29 s, which a
   * round trip at 10,000 connections can exceed). */
  uint64_t tens = ns / 10;
  samples[nsamples++] = tens > UINT32_MAX ? UINT32_MAX : (uint32_t)tens;
}

/* Sends what the socket takes of the current message. */
static void pump_send(struct conn *c) {
  while (c->phase == SENDING) {
    size_t left = opt.size - c->sent;
    ssize_t w = send(c->fd, message_bytes(c->id, c->message) + c->sent, left, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail(c, "send");
      return;
    }
    c->sent += (size_t)w;
    if (c->sent == opt.size) {
      c->phase = RECEIVING;
      c->received = 0;
    }
  }
}

static void start_message(struct conn *c) {
  c->phase = SENDING;
  c->sent = 0;
  c->started_ns = now_ns();
  pump_send(c);
}

/* Reads and checks what came back; on a whole echo, starts the next message. */
static void pump_recv(struct conn *c) {
  while (c->phase == RECEIVING) {
    size_t want = opt.size - c->received;
    ssize_t r = recv(c->fd, recvbuf, want, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail(c, "recv");
      return;
    }
    if (r == 0) {
      fail(c, "the server closed the connection");
      return;
    }
    if (memcmp(recvbuf, message_bytes(c->id, c->message) + c->received, (size_t)r) != 0) {
      mismatches++;
      fail(c, "echo differs");
      return;
    }
    c->received += (size_t)r;
    if (c->received == opt.size) {
      record(now_ns() - c->started_ns);
      c->message++;
      start_message(c);
    }
  }
}

static int open_conn(struct conn *c, const struct sockaddr_in *addr) {
  int one = 1;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  c->phase = CONNECTING;
  struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLET, {.ptr = c}};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static void on_event(struct conn *c, uint32_t events, int *connected) {
  if (c->phase == FAILED) return;
  if (c->phase == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      connect_failures++;
      fail(c, "connect");
      return;
    }
    (*connected)++;
    c->phase = RECEIVING; /* idle until every connection is made */
    c->received = opt.size;
    return;
  }
  if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
    fail(c, "connection error");
    return;
  }
  if (c->phase == SENDING && (events & EPOLLOUT)) pump_send(c);
  if (c->phase == RECEIVING && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) pump_recv(c);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *a = argv[i], *v = argv[++i];
    if (strcmp(a, "--port") == 0) opt.port = atoi(v);
    else if (strcmp(a, "--host") == 0) opt.host = v;
    else if (strcmp(a, "--conns") == 0) opt.conns = atoi(v);
    else if (strcmp(a, "--size") == 0) opt.size = (size_t)atol(v);
    else if (strcmp(a, "--seconds") == 0) opt.seconds = atof(v);
    else if (strcmp(a, "--warmup") == 0) opt.warmup = atof(v);
    else if (strcmp(a, "--connect-batch") == 0) opt.connect_batch = atoi(v);
    else if (strcmp(a, "--watch-pid") == 0 && opt.nwatch < MAX_PIDS) opt.watch[opt.nwatch++] = atoi(v);
    else if (strcmp(a, "--notify-pid") == 0 && opt.nnotify < MAX_PIDS) opt.notify[opt.nnotify++] = atoi(v);
    else usage();
  }
  if (opt.port <= 0 || opt.conns <= 0 || opt.size == 0 || opt.seconds <= 0 || opt.connect_batch <= 0) usage();
  signal(SIGPIPE, SIG_IGN);
  /* Ends with the harness: a killed parent leaves no load generator behind. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)opt.port);
  if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) usage();

  conns = calloc((size_t)opt.conns, sizeof *conns);
  pool = malloc(opt.size + SHIFTS);
  recvbuf = malloc(opt.size);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (conns == NULL || pool == NULL || recvbuf == NULL || epfd < 0) {
    fprintf(stderr, "echo_load: out of memory or fds\n");
    return 1;
  }
  struct epoll_event *events = calloc(4096, sizeof *events);
  uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  for (size_t i = 0; i < opt.size + SHIFTS; i++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    pool[i] = (unsigned char)seed;
  }

  /* Connect in batches, so that the server's backlog never overflows. */
  int opened = 0, connected = 0;
  uint64_t connect_start = now_ns();
  while (connected + (int)connect_failures < opt.conns) {
    while (opened < opt.conns && opened - connected - (int)connect_failures < opt.connect_batch) {
      struct conn *c = &conns[opened];
      c->id = (uint32_t)opened;
      opened++;
      if (open_conn(c, &addr) != 0) {
        connect_failures++;
        errors++;
        c->phase = FAILED;
        if (first_error == NULL) first_error = "socket/connect";
      }
    }
    int n = epoll_wait(epfd, events, 4096, 100);
    for (int i = 0; i < n; i++) on_event((struct conn *)events[i].data.ptr, events[i].events, &connected);
    if (now_ns() - connect_start > 60ull * 1000000000u) {
      if (first_error == NULL) first_error = "connecting took over 60 s";
      break;
    }
  }
  double connect_seconds = (double)(now_ns() - connect_start) / 1e9;

  /* Every connection starts its first message; then ping-pong. */
  for (int i = 0; i < opt.conns; i++)
    if (conns[i].phase == RECEIVING) start_message(&conns[i]);
  uint64_t t0 = now_ns();
  uint64_t warm_end = t0 + (uint64_t)(opt.warmup * 1e9);
  uint64_t end = warm_end + (uint64_t)(opt.seconds * 1e9);
  double cpu0[MAX_PIDS] = {0};
  for (;;) {
    uint64_t t = now_ns();
    if (!in_window && t >= warm_end) {
      in_window = 1;
      window_start = t;
      notify_all();
      for (int i = 0; i < opt.nwatch; i++) cpu0[i] = cpu_seconds(opt.watch[i]);
    }
    if (t >= end) break;
    int n = epoll_wait(epfd, events, 4096, 5);
    if (n < 0 && errno != EINTR) {
      if (first_error == NULL) first_error = "epoll_wait";
      errors++;
      break;
    }
    for (int i = 0; i < n; i++) on_event((struct conn *)events[i].data.ptr, events[i].events, &connected);
  }
  window_end = now_ns();
  in_window = 0;
  double cpu1[MAX_PIDS];
  long rss[MAX_PIDS];
  for (int i = 0; i < opt.nwatch; i++) {
    cpu1[i] = cpu_seconds(opt.watch[i]);
    rss[i] = rss_kib(opt.watch[i]);
  }
  notify_all();

  /* Reset rather than close: no TIME_WAIT left behind (a full run opens
   * hundreds of thousands of connections to one port). */
  int alive = 0;
  struct linger reset = {1, 0};
  for (int i = 0; i < opt.conns; i++) {
    if (conns[i].fd >= 0) {
      alive++;
      setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close(conns[i].fd);
    }
  }

  double window = (double)(window_end - window_start) / 1e9;
  double p50 = 0, p99 = 0, pmax = 0;
  if (nsamples > 0) {
    qsort(samples, nsamples, sizeof *samples, cmp_u32);
    p50 = samples[(nsamples - 1) / 2] / 1e2;
    size_t r99 = (size_t)((double)nsamples * 0.99 + 0.999999);
    p99 = samples[(r99 > 0 ? r99 : 1) - 1] / 1e2;
    pmax = samples[nsamples - 1] / 1e2;
  }
  printf("{\"conns\":%d,\"connected\":%d,\"alive\":%d,\"size\":%zu,\"window\":%.6f,\"connectSeconds\":%.3f,"
         "\"roundTrips\":%lld,\"rate\":%.1f,\"p50us\":%.2f,\"p99us\":%.2f,\"maxUs\":%.2f,"
         "\"errors\":%ld,\"mismatches\":%ld,\"connectFailures\":%ld,\"firstError\":",
         opt.conns, connected, alive, opt.size, window, connect_seconds, window_round_trips,
         window > 0 ? (double)window_round_trips / window : 0.0, p50, p99, pmax, errors, mismatches,
         connect_failures);
  if (first_error) printf("\"%s\"", first_error);
  else printf("null");
  printf(",\"servers\":[");
  for (int i = 0; i < opt.nwatch; i++)
    printf("%s{\"pid\":%d,\"cpuSeconds\":%.4f,\"rssKiB\":%ld}", i ? "," : "", (int)opt.watch[i],
           cpu0[i] >= 0 && cpu1[i] >= 0 ? cpu1[i] - cpu0[i] : -1.0, rss[i]);
  printf("]}\n");
  return errors == 0 && connected == opt.conns && alive == opt.conns ? 0 : 1;
}
