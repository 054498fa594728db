/*
 * echo_server: a coroutine-per-connection TCP echo server in C on the
 * looplet hub (the C equivalent of the gevent StreamServer echo server of
 * the seed tutorials). Every connection runs straight-line code in its own
 * coroutine; lp_hub_wait_fd suspends it until its socket is ready.
 *
 *   echo_server [--port N] [--backend epoll|kqueue|poll|select]
 *               [--max-conns N] [--stack BYTES]
 *
 * Listens on 127.0.0.1 only (port 0: any free port) and prints
 * "listening on 127.0.0.1:PORT" once ready. Stops on SIGINT/SIGTERM, or after
 * --max-conns connections have closed, printing what it served.
 *
 * Build: with the core's CMake build (target echo_server), or by hand:
 *   cc -std=c11 -O2 -I native/include examples/c/echo_server.c \
 *      build-c/liblooplet.a -lpthread -o echo_server
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "looplet.h"

struct server {
  int listen_fd;
  int signal_fd; /* read end of the self-pipe the signal handler writes */
  long max_conns;
  long conns_open;
  long conns_done;
  long long bytes;
  size_t stack_size;
};

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  char c = (char)sig;
  int saved = errno;
  if (write(signal_pipe[1], &c, 1) < 0) { /* the pipe is full: a stop is pending */
  }
  errno = saved;
}

static int set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct conn {
  struct server *srv;
  int fd;
};

/* Writes all of buf, waiting whenever the socket buffer is full. */
static int write_all(lp_hub_t *hub, int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w > 0) {
      buf += w;
      len -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (lp_hub_wait_fd(hub, fd, LP_EVENT_WRITE, -1) < 0) return -1;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

/* One connection: read what is there, echo it, wait for more. */
static void serve_connection(lp_hub_t *hub, void *arg) {
  struct conn *c = (struct conn *)arg;
  struct server *srv = c->srv;
  char buf[16384];
  for (;;) {
    ssize_t r = read(c->fd, buf, sizeof buf);
    if (r > 0) {
      srv->bytes += r;
      if (write_all(hub, c->fd, buf, (size_t)r) != 0) break;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (lp_hub_wait_fd(hub, c->fd, LP_EVENT_READ, -1) < 0) break;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break; /* 0: the peer closed; or an error */
    }
  }
  lp_hub_close(hub, c->fd);
  free(c);
  srv->conns_open--;
  srv->conns_done++;
  if (srv->max_conns > 0 && srv->conns_done >= srv->max_conns) {
    lp_hub_forget(hub, srv->signal_fd); /* wakes the watcher, which stops the hub */
  }
}

/* Accepts connections and gives each its own coroutine. */
static void accept_loop(lp_hub_t *hub, void *arg) {
  struct server *srv = (struct server *)arg;
  for (;;) {
    int fd = accept(srv->listen_fd, NULL, NULL);
    if (fd >= 0) {
      struct conn *c = (struct conn *)malloc(sizeof *c);
      int one = 1;
      set_nonblocking(fd);
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (c == NULL) {
        close(fd);
        continue;
      }
      c->srv = srv;
      c->fd = fd;
      if (lp_hub_spawn(hub, serve_connection, c, srv->stack_size, NULL) != 0) {
        close(fd);
        free(c);
        continue;
      }
      srv->conns_open++;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ||
               errno == EINTR) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (lp_hub_wait_fd(hub, srv->listen_fd, LP_EVENT_READ, -1) < 0) return;
      }
    } else {
      perror("accept");
      return;
    }
  }
}

/* Waits for a signal (or for --max-conns), then stops the server. */
static void stop_watcher(lp_hub_t *hub, void *arg) {
  struct server *srv = (struct server *)arg;
  lp_hub_wait_fd(hub, srv->signal_fd, LP_EVENT_READ, -1);
  lp_hub_close(hub, srv->listen_fd); /* ends accept_loop's wait */
  srv->listen_fd = -1;
  lp_hub_stop(hub);
}

static int parse_backend(const char *name, lp_backend_t *out) {
  lp_backend_t all[] = {LP_BACKEND_EPOLL, LP_BACKEND_KQUEUE, LP_BACKEND_POLL, LP_BACKEND_SELECT};
  size_t i;
  for (i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(name, lp_backend_name(all[i])) == 0) {
      *out = all[i];
      return 0;
    }
  }
  return -1;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--port N] [--backend epoll|kqueue|poll|select] [--max-conns N] "
          "[--stack BYTES]\n",
          argv0);
  exit(2);
}

int main(int argc, char **argv) {
  struct server srv;
  struct sockaddr_in addr;
  socklen_t addr_len = sizeof addr;
  lp_backend_t backend = LP_BACKEND_DEFAULT;
  lp_hub_t *hub = NULL;
  struct sigaction sa;
  int port = 0, one = 1, rc, i;

  memset(&srv, 0, sizeof srv);
  srv.stack_size = 64 * 1024;
  for (i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage(argv[0]);
    if (strcmp(argv[i], "--port") == 0) {
      port = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--backend") == 0) {
      if (parse_backend(argv[++i], &backend) != 0) usage(argv[0]);
    } else if (strcmp(argv[i], "--max-conns") == 0) {
      srv.max_conns = atol(argv[++i]);
    } else if (strcmp(argv[i], "--stack") == 0) {
      srv.stack_size = (size_t)atol(argv[++i]);
    } else {
      usage(argv[0]);
    }
  }

  signal(SIGPIPE, SIG_IGN);
  if (pipe(signal_pipe) != 0 || set_nonblocking(signal_pipe[0]) != 0 ||
      set_nonblocking(signal_pipe[1]) != 0) {
    perror("pipe");
    return 1;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  srv.signal_fd = signal_pipe[0];

  srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (srv.listen_fd < 0) {
    perror("socket");
    return 1;
  }
  setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(srv.listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(srv.listen_fd, 1024) != 0 || set_nonblocking(srv.listen_fd) != 0 ||
      getsockname(srv.listen_fd, (struct sockaddr *)&addr, &addr_len) != 0) {
    perror("listen on 127.0.0.1");
    return 1;
  }

  rc = lp_hub_new(&hub, backend);
  if (rc != 0) {
    fprintf(stderr, "lp_hub_new: %s\n", strerror(-rc));
    return 1;
  }
  if (lp_hub_spawn(hub, accept_loop, &srv, 0, NULL) != 0 ||
      lp_hub_spawn(hub, stop_watcher, &srv, 0, NULL) != 0) {
    fprintf(stderr, "lp_hub_spawn failed\n");
    return 1;
  }
  printf("listening on 127.0.0.1:%d (%s, %s switch)\n", ntohs(addr.sin_port),
         lp_backend_name(lp_poller_backend(lp_hub_poller(hub))), lp_coro_switch_impl());
  fflush(stdout);

  rc = lp_hub_run(hub);
  if (rc != 0) fprintf(stderr, "lp_hub_run: %s\n", strerror(-rc));
  printf("served %ld connections, %lld bytes; %ld still open at exit\n", srv.conns_done,
         srv.bytes, srv.conns_open);
  lp_hub_free(hub); /* frees the coroutines of connections still open */
  if (srv.listen_fd >= 0) close(srv.listen_fd);
  close(signal_pipe[0]);
  close(signal_pipe[1]);
  return rc == 0 ? 0 : 1;
}
