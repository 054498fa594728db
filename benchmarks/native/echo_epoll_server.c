/*
 * echo_epoll_server: the floor of `looplet bench echo`. A single-threaded
 * TCP echo server on a bare epoll loop: one edge-triggered registration per
 * connection, read until EAGAIN, write back what was read; if the socket
 * does not take it all, keep the rest and stop reading until EPOLLOUT says
 * it drained. No framework, no allocation per message.
 *
 *   echo_epoll_server [--host 127.0.0.1] [--port 0] [--backlog 4096]
 *
 * Prints "listening PORT" once ready; stops on SIGTERM or SIGINT, and when
 * its parent (the harness) dies.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

struct conn {
  int fd;
  size_t pending; /* bytes of buf not written back yet */
  size_t offset;
  unsigned char *buf;
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void drop(int epfd, struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->buf);
  free(c);
}

/* Writes back what is pending; 1 when all is written, 0 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
  while (c->pending > 0) {
    ssize_t w = send(c->fd, c->buf + c->offset, c->pending, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 0 : errno == EINTR ? flush(c) : -1;
    c->offset += (size_t)w;
    c->pending -= (size_t)w;
  }
  c->offset = 0;
  return 1;
}

/* Echoes until EAGAIN; 0 to keep the connection, -1 to drop it. */
static int serve(struct conn *c) {
  int rc = flush(c);
  if (rc <= 0) return rc;
  for (;;) {
    ssize_t r = recv(c->fd, c->buf, BUF, 0);
    if (r == 0) return -1;
    if (r < 0) return errno == EAGAIN ? 0 : errno == EINTR ? serve(c) : -1;
    c->pending = (size_t)r;
    c->offset = 0;
    rc = flush(c);
    if (rc <= 0) return rc; /* full: EPOLLOUT comes back here */
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, backlog = 4096, one = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--backlog") == 0) backlog = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: echo_epoll_server [--host ADDR] [--port N] [--backlog N]\n");
      return 2;
    }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  socklen_t len = sizeof addr;
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || lfd < 0 ||
      setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, backlog) != 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
    perror("echo_epoll_server: listen");
    return 1;
  }
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {EPOLLIN, {.ptr = NULL}};
  if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) {
    perror("echo_epoll_server: epoll");
    return 1;
  }
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  struct epoll_event events[1024];
  while (!stopping) {
    int n = epoll_wait(epfd, events, 1024, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("echo_epoll_server: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = calloc(1, sizeof *nc);
          if (nc != NULL) nc->buf = malloc(BUF);
          struct epoll_event cev = {EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, {.ptr = nc}};
          if (nc == NULL || nc->buf == NULL || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev) != 0) {
            close(fd);
            if (nc) free(nc->buf);
            free(nc);
            continue;
          }
          nc->fd = fd;
        }
        continue;
      }
      if (serve(c) < 0) drop(epfd, c);
    }
  }
  return 0;
}
