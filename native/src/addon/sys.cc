// Small fd helpers Node.js core lacks: socketpair and non-blocking TCP
// sockets (IPv4 and IPv6) as plain fds, for the poller's users, tests,
// benchmarks and examples. Every function returns its result (>= 0) or, on
// failure, { errno, syscall } naming the call that failed; lib/sys.ts
// validates the arguments before calling and turns failures into system
// errors. Arguments of the wrong type fail with EINVAL before anything is
// created. Every fd is made non-blocking and close-on-exec when it is
// created, so no failure can leave one behind.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "addon.h"
#include "lp_assert.h"
#include "socket_util.h"

namespace {

using lp_sock::CloseFd;
using lp_sock::Failure;
using lp_sock::NewSocket;
using lp_sock::ParseAddr;
using lp_sock::SetFlags;

bool ArgInt32(const Napi::CallbackInfo &info, size_t i, int32_t *out) {
  if (!info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

// A host without NUL bytes: a C string must mean what the JS string says.
bool ArgHost(const Napi::CallbackInfo &info, size_t i, std::string *out) {
  if (!info[i].IsString()) return false;
  *out = info[i].As<Napi::String>().Utf8Value();
  return out->find('\0') == std::string::npos;
}

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
const int kSockFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
const int kSockFlags = 0;
#endif

Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | kSockFlags, 0, sv) == -1)
    return Failure(env, -errno, "socketpair");
  for (int fd : sv) {
    int rc = SetFlags(fd);
    if (rc < 0) {
      CloseFd(sv[0]);
      CloseFd(sv[1]);
      return Failure(env, rc, "fcntl");
    }
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

// listen(host, port, backlog) -> fd
Napi::Value Listen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string host;
  int32_t port, backlog;
  sockaddr_storage sa;
  socklen_t len;
  if (!ArgHost(info, 0, &host) || !ArgInt32(info, 1, &port) || !ArgInt32(info, 2, &backlog) ||
      backlog < 0)
    return Failure(env, -EINVAL, "listen");
  if (!ParseAddr(host, port, &sa, &len)) return Failure(env, -EINVAL, "getaddrinfo");
  const char *syscall = nullptr;
  int fd = NewSocket(sa.ss_family, SOCK_STREAM, &syscall);
  if (fd < 0) return Failure(env, fd, syscall);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
    syscall = "setsockopt";
  else if (bind(fd, (sockaddr *)&sa, len) == -1)
    syscall = "bind";
  else if (listen(fd, backlog) == -1)
    syscall = "listen";
  else
    return Napi::Number::New(env, fd);
  int err = -errno;
  CloseFd(fd);
  return Failure(env, err, syscall);
}

// connect(host, port) -> fd; the connection completes when fd is writable.
Napi::Value Connect(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string host;
  int32_t port;
  sockaddr_storage sa;
  socklen_t len;
  if (!ArgHost(info, 0, &host) || !ArgInt32(info, 1, &port))
    return Failure(env, -EINVAL, "connect");
  if (!ParseAddr(host, port, &sa, &len)) return Failure(env, -EINVAL, "getaddrinfo");
  const char *syscall = nullptr;
  int fd = NewSocket(sa.ss_family, SOCK_STREAM, &syscall);
  if (fd < 0) return Failure(env, fd, syscall);
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
    syscall = "setsockopt";
  else if (connect(fd, (sockaddr *)&sa, len) == -1 && errno != EINPROGRESS)
    syscall = "connect";
  else
    return Napi::Number::New(env, fd);
  int err = -errno;
  CloseFd(fd);
  return Failure(env, err, syscall);
}

// accept(fd) -> fd; EAGAIN when no connection is pending.
Napi::Value Accept(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t listener;
  if (!ArgInt32(info, 0, &listener)) return Failure(env, -EINVAL, "accept");
  int fd;
#if defined(__linux__)
  const char *syscall = "accept4";
  do fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd == -1 && errno == EINTR);
#else
  const char *syscall = "accept";
  do fd = accept(listener, nullptr, nullptr);
  while (fd == -1 && errno == EINTR);
#endif
  if (fd == -1) return Failure(env, -errno, syscall);
  int rc = 0;
#if !defined(__linux__)
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
    rc = -errno;
    syscall = "fcntl";
  }
#endif
  int one = 1;
  if (rc == 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1) {
    rc = -errno;
    syscall = "setsockopt";
  }
  if (rc < 0) {
    CloseFd(fd);
    return Failure(env, rc, syscall);
  }
  return Napi::Number::New(env, fd);
}

// localPort(fd) -> the port of a bound IPv4 or IPv6 socket; EAFNOSUPPORT
// for sockets of other families (AF_UNIX has no port).
Napi::Value LocalPort(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return Failure(env, -EINVAL, "getsockname");
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(fd, (sockaddr *)&sa, &len) == -1) return Failure(env, -errno, "getsockname");
  if (sa.ss_family == AF_INET) return Napi::Number::New(env, ntohs(((sockaddr_in *)&sa)->sin_port));
  if (sa.ss_family == AF_INET6)
    return Napi::Number::New(env, ntohs(((sockaddr_in6 *)&sa)->sin6_port));
  return Failure(env, -EAFNOSUPPORT, "getsockname");
}

// dup2(old, new) -> new fd
Napi::Value Dup2(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t from, to;
  if (!ArgInt32(info, 0, &from) || !ArgInt32(info, 1, &to)) return Failure(env, -EINVAL, "dup2");
  int rc;
  do rc = dup2(from, to);
  while (rc == -1 && errno == EINTR);
  return rc == -1 ? Failure(env, -errno, "dup2") : Napi::Number::New(env, rc);
}

// close(fd) -> 0. Unlike fs.closeSync, this does not trip the worker-thread
// warning about closing fds that fs did not open. EINTR means the fd is
// gone on Linux, so it is not retried.
Napi::Value Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return Failure(env, -EINVAL, "close");
  if (close(fd) == -1 && errno != EINTR) return Failure(env, -errno, "close");
  return Napi::Number::New(env, 0);
}

}  // namespace

Napi::Object InitSys(Napi::Env env) {
  Napi::Object sys = Napi::Object::New(env);
  sys.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  sys.Set("listen", Napi::Function::New(env, Listen, "listen"));
  sys.Set("connect", Napi::Function::New(env, Connect, "connect"));
  sys.Set("accept", Napi::Function::New(env, Accept, "accept"));
  sys.Set("localPort", Napi::Function::New(env, LocalPort, "localPort"));
  sys.Set("dup2", Napi::Function::New(env, Dup2, "dup2"));
  sys.Set("close", Napi::Function::New(env, Close, "close"));
  return sys;
}
