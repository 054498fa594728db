/* Built by native/cmake/install-smoke.cmake against an installed looplet:
 * creates a poller of the default backend and waits once on a socketpair. */
#define _POSIX_C_SOURCE 200809L
#include <looplet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  lp_poller_t *p = NULL;
  int sv[2];
  lp_event_t ev[2];
  unsigned v = lp_version();
  int rc = lp_poller_new(&p, LP_BACKEND_DEFAULT);
  if (rc < 0) {
    fprintf(stderr, "lp_poller_new: %d\n", rc);
    return 1;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  rc = lp_poller_add(p, sv[0], LP_EVENT_WRITE, NULL);
  if (rc == 0) rc = lp_poller_wait(p, ev, 2, 1000);
  if (rc != 1 || ev[0].fd != sv[0] || ev[0].events != LP_EVENT_WRITE) {
    fprintf(stderr, "unexpected wait result %d\n", rc);
    return 1;
  }
  printf("version %u.%u.%u backend %s\n", v >> 16, (v >> 8) & 0xffu, v & 0xffu,
         lp_backend_name(lp_poller_backend(p)));
  lp_poller_free(p);
  close(sv[0]);
  close(sv[1]);
  return 0;
}
