/*
 * echo_client: many concurrent echo clients, one coroutine each, on the
 * looplet hub; checks every byte that comes back.
 *
 *   echo_client (--port N | --server PATH [--exec-prefix "CMD ARGS"])
 *               [--clients N] [--messages N] [--size BYTES]
 *               [--timeout SECONDS] [--backend NAME]
 *
 * Connects to 127.0.0.1 only. With --server it starts that echo_server
 * itself (on a free port, stopping after --clients connections) and checks
 * that it exits cleanly. Each client sends --messages messages of --size
 * bytes, one at a time, and reads each echo back in full. The whole run is
 * bounded by --timeout (alarm), every wait by 5 s. Exit status 0 when every
 * message came back intact. --exec-prefix runs the server through another
 * program (words split on spaces), e.g. an emulator in a cross build.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "looplet.h"

#define WAIT_MS 5000

struct run {
  int port;
  int messages;
  size_t size;
  long ok_clients;
  long failed_clients;
  long long round_trips;
  const char *first_error;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_alarm(int sig) {
  static const char msg[] = "echo_client: timed out\n";
  (void)sig;
  if (write(2, msg, sizeof msg - 1) < 0) _exit(3);
  _exit(3);
}

/* Connects without blocking the other coroutines. Returns the fd or -1. */
static int connect_local(lp_hub_t *hub, int port, const char **why) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0, one = 1;
  socklen_t len = sizeof err;
  if (fd < 0) {
    *why = "socket";
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  if (errno != EINPROGRESS) {
    *why = "connect";
    close(fd);
    return -1;
  }
  if (lp_hub_wait_fd(hub, fd, LP_EVENT_WRITE, WAIT_MS) <= 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    *why = "connect (in progress)";
    lp_hub_close(hub, fd);
    return -1;
  }
  return fd;
}

static int send_all(lp_hub_t *hub, int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w > 0) {
      buf += w;
      len -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (lp_hub_wait_fd(hub, fd, LP_EVENT_WRITE, WAIT_MS) <= 0) return -1;
    } else if (!(w < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return 0;
}

static int recv_all(lp_hub_t *hub, int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t r = read(fd, buf, len);
    if (r > 0) {
      buf += r;
      len -= (size_t)r;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (lp_hub_wait_fd(hub, fd, LP_EVENT_READ, WAIT_MS) <= 0) return -1;
    } else if (!(r < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return 0;
}

static struct run run;

static void client(lp_hub_t *hub, void *arg) {
  long id = (long)(size_t)arg;
  const char *why = NULL;
  char *out = (char *)malloc(run.size), *back = (char *)malloc(run.size);
  int fd = -1, m;
  size_t i;
  if (out == NULL || back == NULL) {
    why = "out of memory";
    goto done;
  }
  fd = connect_local(hub, run.port, &why);
  if (fd < 0) goto done;
  for (m = 0; m < run.messages; m++) {
    for (i = 0; i < run.size; i++) out[i] = (char)('a' + (id + m + (long)i) % 26);
    if (send_all(hub, fd, out, run.size) != 0) {
      why = "send";
      break;
    }
    if (recv_all(hub, fd, back, run.size) != 0) {
      why = "receive";
      break;
    }
    if (memcmp(out, back, run.size) != 0) {
      why = "echo differs";
      break;
    }
    run.round_trips++;
  }
done:
  if (fd >= 0) lp_hub_close(hub, fd);
  free(out);
  free(back);
  if (why) {
    run.failed_clients++;
    if (run.first_error == NULL) run.first_error = why;
  } else {
    run.ok_clients++;
  }
}

/* Starts the server on a free port; returns its pid and sets run.port. */
static pid_t start_server(const char *path, const char *prefix, int clients, FILE **out) {
  int fds[2];
  char max[32], line[256];
  pid_t pid;
  if (pipe(fds) != 0) return -1;
  snprintf(max, sizeof max, "%d", clients);
  pid = fork();
  if (pid == 0) {
    char *argv[32], *words = prefix ? strdup(prefix) : NULL, *w;
    int n = 0;
    for (w = words ? strtok(words, " ") : NULL; w != NULL && n < 26; w = strtok(NULL, " "))
      argv[n++] = w;
    argv[n++] = (char *)path;
    argv[n++] = (char *)"--port";
    argv[n++] = (char *)"0";
    argv[n++] = (char *)"--max-conns";
    argv[n++] = max;
    argv[n] = NULL;
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    perror(argv[0]);
    _exit(127);
  }
  close(fds[1]);
  *out = fdopen(fds[0], "r");
  if (pid < 0 || *out == NULL || fgets(line, sizeof line, *out) == NULL ||
      sscanf(line, "listening on 127.0.0.1:%d", &run.port) != 1) {
    fprintf(stderr, "echo_client: the server did not start\n");
    return -1;
  }
  printf("server: %s", line);
  return pid;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s (--port N | --server PATH [--exec-prefix \"CMD ARGS\"]) [--clients N] "
          "[--messages N] [--size BYTES] [--timeout SECONDS] [--backend NAME]\n",
          argv0);
  exit(2);
}

int main(int argc, char **argv) {
  const char *server = NULL, *prefix = NULL, *backend_name = NULL;
  int clients = 50, timeout = 60, i, rc;
  lp_backend_t backend = LP_BACKEND_DEFAULT;
  lp_hub_t *hub = NULL;
  FILE *server_out = NULL;
  pid_t server_pid = -1;
  double t0, ms;
  long c;

  run.messages = 100;
  run.size = 64;
  for (i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage(argv[0]);
    if (strcmp(argv[i], "--port") == 0) run.port = atoi(argv[++i]);
    else if (strcmp(argv[i], "--server") == 0) server = argv[++i];
    else if (strcmp(argv[i], "--exec-prefix") == 0) prefix = argv[++i];
    else if (strcmp(argv[i], "--clients") == 0) clients = atoi(argv[++i]);
    else if (strcmp(argv[i], "--messages") == 0) run.messages = atoi(argv[++i]);
    else if (strcmp(argv[i], "--size") == 0) run.size = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--timeout") == 0) timeout = atoi(argv[++i]);
    else if (strcmp(argv[i], "--backend") == 0) backend_name = argv[++i];
    else usage(argv[0]);
  }
  if ((run.port <= 0) == (server == NULL) || clients <= 0 || run.size == 0) usage(argv[0]);
  if (backend_name) {
    lp_backend_t all[] = {LP_BACKEND_EPOLL, LP_BACKEND_KQUEUE, LP_BACKEND_POLL,
                          LP_BACKEND_SELECT};
    size_t k;
    for (k = 0; k < sizeof all / sizeof all[0]; k++)
      if (strcmp(backend_name, lp_backend_name(all[k])) == 0) backend = all[k];
    if (backend == LP_BACKEND_DEFAULT) usage(argv[0]);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)timeout);

  if (server) {
    server_pid = start_server(server, prefix, clients, &server_out);
    if (server_pid < 0) return 1;
  }
  rc = lp_hub_new(&hub, backend);
  if (rc != 0) {
    fprintf(stderr, "lp_hub_new: %s\n", strerror(-rc));
    return 1;
  }
  for (c = 0; c < clients; c++) {
    if (lp_hub_spawn(hub, client, (void *)(size_t)c, 64 * 1024, NULL) != 0) {
      fprintf(stderr, "lp_hub_spawn failed\n");
      return 1;
    }
  }
  t0 = now_ms();
  rc = lp_hub_run(hub);
  ms = now_ms() - t0;
  lp_hub_free(hub);
  if (rc != 0) fprintf(stderr, "lp_hub_run: %s\n", strerror(-rc));

  printf("%ld clients x %d messages of %zu bytes echoed in %.1f ms (%.0f round trips/s)\n",
         run.ok_clients, run.messages, run.size, ms,
         ms > 0 ? (double)run.round_trips * 1000.0 / ms : 0.0);
  if (run.failed_clients) {
    fprintf(stderr, "echo_client: %ld clients failed (first: %s)\n", run.failed_clients,
            run.first_error);
  }
  if (server_pid > 0) {
    char line[256];
    int status = 0;
    while (fgets(line, sizeof line, server_out) != NULL) printf("server: %s", line);
    fclose(server_out);
    if (waitpid(server_pid, &status, 0) != server_pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      fprintf(stderr, "echo_client: the server did not exit cleanly (status %d)\n", status);
      return 1;
    }
  }
  return rc == 0 && run.failed_clients == 0 && run.ok_clients == clients ? 0 : 1;
}
