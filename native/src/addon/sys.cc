// Small fd helpers Node.js core lacks: socketpair and non-blocking TCP
// sockets as plain fds, for the poller's users, tests, benchmarks and
// examples. Every function returns a value >= 0 or a negative errno; the
// TypeScript layer turns negative values into system errors.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "addon.h"

namespace {

int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) return -errno;
  return 0;
}

Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  Napi::Array out = Napi::Array::New(env, 2);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) return Napi::Number::New(env, -errno);
  for (int fd : sv) {
    int rc = set_flags(fd);
    if (rc < 0) {
      close(sv[0]);
      close(sv[1]);
      return Napi::Number::New(env, rc);
    }
  }
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

bool parse_addr(const std::string &host, int port, sockaddr_in *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host.c_str(), &sa->sin_addr) == 1;
}

int tcp_socket() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd == -1) return -errno;
  int rc = set_flags(fd);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  return fd;
}

// listen(host, port, backlog) -> fd
Napi::Value Listen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  sockaddr_in sa;
  if (!parse_addr(info[0].As<Napi::String>(), info[1].As<Napi::Number>().Int32Value(), &sa))
    return Napi::Number::New(env, -EINVAL);
  int fd = tcp_socket();
  if (fd < 0) return Napi::Number::New(env, fd);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (sockaddr *)&sa, sizeof sa) == -1 ||
      listen(fd, info[2].As<Napi::Number>().Int32Value()) == -1) {
    int err = -errno;
    close(fd);
    return Napi::Number::New(env, err);
  }
  return Napi::Number::New(env, fd);
}

// connect(host, port) -> fd; the connection completes when fd is writable.
Napi::Value Connect(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  sockaddr_in sa;
  if (!parse_addr(info[0].As<Napi::String>(), info[1].As<Napi::Number>().Int32Value(), &sa))
    return Napi::Number::New(env, -EINVAL);
  int fd = tcp_socket();
  if (fd < 0) return Napi::Number::New(env, fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (sockaddr *)&sa, sizeof sa) == -1 && errno != EINPROGRESS) {
    int err = -errno;
    close(fd);
    return Napi::Number::New(env, err);
  }
  return Napi::Number::New(env, fd);
}

// accept(fd) -> fd, or -EAGAIN when no connection is pending.
Napi::Value Accept(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  do fd = accept(info[0].As<Napi::Number>().Int32Value(), nullptr, nullptr);
  while (fd == -1 && errno == EINTR);
  if (fd == -1) return Napi::Number::New(env, -errno);
  int rc = set_flags(fd);
  if (rc < 0) {
    close(fd);
    return Napi::Number::New(env, rc);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Napi::Number::New(env, fd);
}

// localPort(fd) -> port of a bound socket
Napi::Value LocalPort(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(info[0].As<Napi::Number>().Int32Value(), (sockaddr *)&sa, &len) == -1)
    return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, ntohs(sa.sin_port));
}

// dup2(old, new) -> new fd
Napi::Value Dup2(const Napi::CallbackInfo &info) {
  int rc = dup2(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), rc == -1 ? -errno : rc);
}

// close(fd) -> 0. Unlike fs.closeSync, this does not trip the worker-thread
// warning about closing fds that fs did not open. EINTR means the fd is
// gone on Linux, so it is not retried.
Napi::Value Close(const Napi::CallbackInfo &info) {
  int rc = close(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), rc == -1 && errno != EINTR ? -errno : 0);
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
