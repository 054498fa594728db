/*
 * embed_loop: a program with an event loop of its own (here, a poll() loop
 * with its own timer and its own fd) hosts the looplet hub, the way a
 * language runtime or a GUI toolkit would. docs/embedding.md walks through
 * it.
 *
 * The host loop watches one more fd, lp_poller_fileno(lp_hub_poller(hub)),
 * which is readable whenever an fd a hub coroutine waits on is ready, and
 * never sleeps past lp_hub_timeout(hub), the hub's next timer. Whenever it
 * wakes, it calls lp_hub_run_once(hub, 0): that runs every hub coroutine
 * that can run, and returns without blocking.
 *
 * The hub runs two coroutines: an echo service on one end of a socketpair
 * (straight-line code around lp_hub_wait_fd) and a ticker (lp_hub_sleep).
 * The host loop sends 20 requests on the other end, one every 5 ms from its
 * own timer, and reads the replies. Exit status 0 when every reply came back.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "looplet.h"

#define REQUESTS 20
#define REQUEST_SIZE 8
#define TICKS 5

static int hub_end = -1, host_end = -1;
static int ticks;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Hub coroutine: echoes what arrives on hub_end until the host shuts its end. */
static void echo_service(lp_hub_t *hub, void *arg) {
  char buf[256];
  (void)arg;
  for (;;) {
    ssize_t n = read(hub_end, buf, sizeof buf);
    if (n > 0) {
      if (write(hub_end, buf, (size_t)n) != n) break; /* small replies: the buffer has room */
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (lp_hub_wait_fd(hub, hub_end, LP_EVENT_READ, -1) < 0) break;
    } else {
      break; /* end of stream, or an error */
    }
  }
  lp_hub_close(hub, hub_end);
}

/* Hub coroutine: counts ticks on the hub's timer heap. */
static void ticker(lp_hub_t *hub, void *arg) {
  int i;
  (void)arg;
  for (i = 0; i < TICKS; i++) {
    lp_hub_sleep(hub, 10);
    ticks++;
  }
}

int main(void) {
  lp_hub_t *hub = NULL;
  int sv[2], hub_fd, sent = 0, rc;
  size_t received = 0;
  double next_send, t0;
  int shut = 0;

  alarm(10);
  rc = lp_hub_new(&hub, LP_BACKEND_DEFAULT);
  if (rc != 0) {
    fprintf(stderr, "lp_hub_new: %s\n", strerror(-rc));
    return 1;
  }
  hub_fd = lp_poller_fileno(lp_hub_poller(hub));
  if (hub_fd < 0) {
    fprintf(stderr, "this backend has no pollable fd (use epoll or kqueue)\n");
    return 1;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("socketpair");
    return 1;
  }
  hub_end = sv[0];
  host_end = sv[1];
  fcntl(hub_end, F_SETFL, fcntl(hub_end, F_GETFL) | O_NONBLOCK);
  fcntl(host_end, F_SETFL, fcntl(host_end, F_GETFL) | O_NONBLOCK);
  lp_hub_spawn(hub, echo_service, NULL, 0, NULL);
  lp_hub_spawn(hub, ticker, NULL, 0, NULL);

  t0 = now_ms();
  next_send = t0;
  /* The host's loop: its own timer (next_send), its own fd (host_end), and
   * the hub's fd and next deadline. */
  while (lp_hub_count(hub) > 0) {
    struct pollfd fds[2];
    int timeout = lp_hub_timeout(hub); /* -1: no hub timer */
    if (sent < REQUESTS) {
      double wait = next_send - now_ms();
      int host_timeout = wait <= 0 ? 0 : (int)wait + 1;
      if (timeout < 0 || host_timeout < timeout) timeout = host_timeout;
    }
    fds[0].fd = hub_fd;
    fds[0].events = POLLIN;
    fds[1].fd = host_end;
    fds[1].events = POLLIN;
    fds[0].revents = fds[1].revents = 0;
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      char buf[256];
      ssize_t n;
      while ((n = read(host_end, buf, sizeof buf)) > 0) received += (size_t)n;
    }
    if (sent < REQUESTS && now_ms() >= next_send) {
      char req[32];
      snprintf(req, sizeof req, "ping%04d", sent % 10000); /* REQUEST_SIZE bytes */
      if (write(host_end, req, REQUEST_SIZE) == REQUEST_SIZE) sent++;
      next_send += 5;
    }
    if (!shut && received == (size_t)REQUESTS * REQUEST_SIZE && ticks == TICKS) {
      shutdown(host_end, SHUT_WR); /* the echo service sees the end and returns */
      shut = 1;
    }
    rc = lp_hub_run_once(hub, 0); /* never blocks: the host loop did the waiting */
    if (rc < 0) {
      fprintf(stderr, "lp_hub_run_once: %s\n", strerror(-rc));
      return 1;
    }
  }
  printf("host loop: %d requests, %zu bytes echoed by a hub coroutine, %d hub timer ticks, "
         "%.0f ms\n",
         sent, received, ticks, now_ms() - t0);
  lp_hub_free(hub);
  close(host_end);
  return sent == REQUESTS && received == (size_t)REQUESTS * REQUEST_SIZE && ticks == TICKS ? 0
                                                                                           : 1;
}
