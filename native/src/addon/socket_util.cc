#include "socket_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lp_assert.h"

namespace lp_sock {

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
const int kSockFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
const int kSockFlags = 0;
#endif

Napi::Value Failure(Napi::Env env, int error, const char *syscall) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("errno", Napi::Number::New(env, error));
  failure.Set("syscall", Napi::String::New(env, syscall));
  return failure;
}

void CloseFd(int fd) {
  int rc = close(fd);
  LP_ASSERT(rc == 0 || errno == EINTR);
}

int SetFlags(int fd) {
  if (kSockFlags != 0) return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) return -errno;
  return 0;
}

int NewSocket(int domain, int type, const char **syscall) {
  int fd = socket(domain, type | kSockFlags, 0);
  if (fd == -1) {
    *syscall = "socket";
    return -errno;
  }
  int rc = SetFlags(fd);
  if (rc < 0) {
    CloseFd(fd);
    *syscall = "fcntl";
    return rc;
  }
  return fd;
}

bool ParseAddr(const std::string &host, int port, sockaddr_storage *sa, socklen_t *len) {
  if (port < 0 || port > 65535) return false;
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  struct addrinfo *res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return false;
  bool ok =
      res->ai_addrlen <= sizeof *sa && (res->ai_family == AF_INET || res->ai_family == AF_INET6);
  if (ok) {
    memset(sa, 0, sizeof *sa);
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    if (sa->ss_family == AF_INET)
      ((sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else
      ((sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
  }
  freeaddrinfo(res);
  return ok;
}

bool UnixAddr(const std::string &path, sockaddr_storage *sa, socklen_t *len) {
  sockaddr_un *un = (sockaddr_un *)sa;
  bool abstract = !path.empty() && path[0] == '\0';
  // A filesystem path needs room for its terminating NUL; an abstract name does not.
  if (path.empty() || path.size() + (abstract ? 0 : 1) > sizeof un->sun_path) return false;
  memset(sa, 0, sizeof *sa);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path.data(), path.size());
  *len = (socklen_t)(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return true;
}

Napi::Value AddressValue(Napi::Env env, const sockaddr_storage *sa, socklen_t len) {
  Napi::Object out = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  if (sa->ss_family == AF_INET) {
    const sockaddr_in *in = (const sockaddr_in *)sa;
    const char *ok = inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    LP_ASSERT(ok != nullptr);
    out.Set("family", "IPv4");
    out.Set("address", text);
    out.Set("port", Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (sa->ss_family == AF_INET6) {
    const sockaddr_in6 *in6 = (const sockaddr_in6 *)sa;
    const char *ok = inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    LP_ASSERT(ok != nullptr);
    std::string address = text;
    if (in6->sin6_scope_id != 0) {
      char name[IF_NAMESIZE];
      address += '%';
      address += if_indextoname(in6->sin6_scope_id, name) ? name : std::to_string(in6->sin6_scope_id);
    }
    out.Set("family", "IPv6");
    out.Set("address", address);
    out.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
  } else if (sa->ss_family == AF_UNIX) {
    const sockaddr_un *un = (const sockaddr_un *)sa;
    size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    // A filesystem path ends at its NUL; an abstract name (leading NUL) has exactly n bytes.
    if (n > 0 && un->sun_path[0] != '\0') n = strnlen(un->sun_path, n);
    out.Set("family", "unix");
    out.Set("path", Napi::String::New(env, un->sun_path, n));
  } else {
    out.Set("family", Napi::Number::New(env, sa->ss_family));
  }
  return out;
}

}  // namespace lp_sock
