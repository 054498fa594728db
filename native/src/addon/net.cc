// The syscalls of looplet/net (lib/net/*.ts): non-blocking TCP and Unix
// stream sockets, made and used directly, with no Node stream or libuv
// handle in the path. Readiness comes from the hub's poller (lib/hub/io.ts);
// this file never waits.
//
// recv/send/accept are the hot path: plain N-API callbacks that return a
// count or fd (>= 0) or a negative errno, so that EAGAIN costs no
// allocation. The rest return their result or { errno, syscall }
// (socket_util.h). lib/net validates every argument before calling; what
// arrives here malformed fails with EINVAL and creates nothing.
//
// Every fd this file creates (or adopts) is recorded per environment and
// closed when the environment is torn down (a worker that exits with
// sockets open leaks no fd); close() forgets it. openCount() tells the
// tests how many are open.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <unordered_set>

#include "addon.h"
#include "lp_assert.h"
#include "socket_util.h"

namespace {

using lp_sock::CloseFd;
using lp_sock::Failure;

// The fds of one environment.
struct NetState {
  std::unordered_set<int> fds;
};

void OnEnvCleanup(void *arg) {
  NetState *state = static_cast<NetState *>(arg);
  for (int fd : state->fds) CloseFd(fd);
  delete state;
}

NetState *StateOf(const Napi::CallbackInfo &info) { return static_cast<NetState *>(info.Data()); }

bool ArgInt32(const Napi::CallbackInfo &info, size_t i, int32_t *out) {
  if (!info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

// A string without NUL bytes, or (abstract) one whose only NUL is the first byte.
bool ArgString(const Napi::CallbackInfo &info, size_t i, std::string *out, bool leading_nul) {
  if (!info[i].IsString()) return false;
  *out = info[i].As<Napi::String>().Utf8Value();
  size_t nul = out->find('\0', leading_nul && !out->empty() && (*out)[0] == '\0' ? 1 : 0);
  return nul == std::string::npos;
}

void SetNoDelay(int fd, int family) {
  if (family != AF_INET && family != AF_INET6) return;
  int one = 1;
  // Best effort: a socket that refuses it still works, only with Nagle.
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// --- the hot path: raw N-API, numbers only ---------------------------------

// Reads (fd, typed array, offset, length) from the arguments; false when
// they are not what lib/net passes.
bool IoArgs(napi_env env, napi_callback_info info, int32_t *fd, char **data, size_t *len) {
  size_t argc = 4;
  napi_value argv[4];
  void *self_data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &self_data) != napi_ok || argc < 4) return false;
  int32_t off, n;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok || napi_get_value_int32(env, argv[2], &off) != napi_ok ||
      napi_get_value_int32(env, argv[3], &n) != napi_ok)
    return false;
  napi_typedarray_type type;
  size_t length;
  void *base = nullptr;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &base, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array)
    return false;
  if (off < 0 || n < 0 || (size_t)off > length || (size_t)n > length - (size_t)off) return false;
  *data = static_cast<char *>(base) + off;
  *len = (size_t)n;
  return true;
}

napi_value Int(napi_env env, int64_t v) {
  napi_value out;
  napi_status status = napi_create_int64(env, v, &out);
  LP_ASSERT(status == napi_ok);
  return out;
}

// recv(fd, u8, offset, length) -> bytes read (0 at EOF) or -errno.
napi_value Recv(napi_env env, napi_callback_info info) {
  int32_t fd;
  char *data;
  size_t len;
  if (!IoArgs(env, info, &fd, &data, &len)) return Int(env, -EINVAL);
  ssize_t n;
  do n = recv(fd, data, len, 0);
  while (n == -1 && errno == EINTR);
  return Int(env, n >= 0 ? (int64_t)n : -(int64_t)errno);
}

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

// send(fd, u8, offset, length) -> bytes written or -errno. MSG_NOSIGNAL: a
// peer that is gone gives EPIPE, not SIGPIPE.
napi_value Send(napi_env env, napi_callback_info info) {
  int32_t fd;
  char *data;
  size_t len;
  if (!IoArgs(env, info, &fd, &data, &len)) return Int(env, -EINVAL);
  ssize_t n;
  do n = send(fd, data, len, MSG_NOSIGNAL);
  while (n == -1 && errno == EINTR);
  return Int(env, n >= 0 ? (int64_t)n : -(int64_t)errno);
}

// accept(fd) -> a new non-blocking, close-on-exec fd (TCP_NODELAY for TCP)
// or -errno (EAGAIN: none pending). ECONNABORTED and the like are returned
// as they are: the caller goes on accepting.
Napi::Value Accept(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t listener;
  if (!ArgInt32(info, 0, &listener)) return Napi::Number::New(env, -EINVAL);
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  int fd;
#if defined(__linux__)
  do fd = accept4(listener, (sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd == -1 && errno == EINTR);
  if (fd == -1) return Napi::Number::New(env, -errno);
#else
  do fd = accept(listener, (sockaddr *)&sa, &len);
  while (fd == -1 && errno == EINTR);
  if (fd == -1) return Napi::Number::New(env, -errno);
  int rc = lp_sock::SetFlags(fd);
  if (rc < 0) {
    CloseFd(fd);
    return Napi::Number::New(env, rc);
  }
#endif
  SetNoDelay(fd, sa.ss_family);
  StateOf(info)->fds.insert(fd);
  return Napi::Number::New(env, fd);
}

// --- making sockets -------------------------------------------------------

// The fd made, recorded; or the failure of `syscall` after closing it.
Napi::Value Made(const Napi::CallbackInfo &info, int fd, const char *syscall) {
  if (syscall == nullptr) {
    StateOf(info)->fds.insert(fd);
    return Napi::Number::New(info.Env(), fd);
  }
  int err = -errno;
  CloseFd(fd);
  return Failure(info.Env(), err, syscall);
}

// listenTcp(host, port, backlog, reusePort) -> fd. SO_REUSEADDR always (as
// Node and gevent do); SO_REUSEPORT on request, so that several processes
// can share the port and the kernel spreads the connections.
Napi::Value ListenTcp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string host;
  int32_t port, backlog;
  if (!ArgString(info, 0, &host, false) || !ArgInt32(info, 1, &port) || !ArgInt32(info, 2, &backlog) ||
      backlog < 0 || !info[3].IsBoolean())
    return Failure(env, -EINVAL, "listen");
  bool reuse_port = info[3].As<Napi::Boolean>().Value();
  sockaddr_storage sa;
  socklen_t len;
  if (!lp_sock::ParseAddr(host, port, &sa, &len)) return Failure(env, -EINVAL, "getaddrinfo");
  const char *syscall = nullptr;
  int fd = lp_sock::NewSocket(sa.ss_family, SOCK_STREAM, &syscall);
  if (fd < 0) return Failure(env, fd, syscall);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1) {
    syscall = "setsockopt";
  } else if (reuse_port) {
#if defined(SO_REUSEPORT)
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1) syscall = "setsockopt";
#else
    errno = ENOTSUP;
    syscall = "setsockopt";
#endif
  }
  if (syscall == nullptr && bind(fd, (sockaddr *)&sa, len) == -1) syscall = "bind";
  if (syscall == nullptr && listen(fd, backlog) == -1) syscall = "listen";
  return Made(info, fd, syscall);
}

// listenUnix(path, backlog) -> fd.
Napi::Value ListenUnix(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path;
  int32_t backlog;
  if (!ArgString(info, 0, &path, true) || !ArgInt32(info, 1, &backlog) || backlog < 0)
    return Failure(env, -EINVAL, "listen");
  sockaddr_storage sa;
  socklen_t len;
  if (!lp_sock::UnixAddr(path, &sa, &len)) return Failure(env, -ENAMETOOLONG, "bind");
  const char *syscall = nullptr;
  int fd = lp_sock::NewSocket(AF_UNIX, SOCK_STREAM, &syscall);
  if (fd < 0) return Failure(env, fd, syscall);
  if (bind(fd, (sockaddr *)&sa, len) == -1)
    syscall = "bind";
  else if (listen(fd, backlog) == -1)
    syscall = "listen";
  return Made(info, fd, syscall);
}

// Starts a non-blocking connect to sa. Returns [fd, pending]: pending is
// true while the connection is in progress (wait until fd is writable, then
// ask connectError); or the failure.
Napi::Value StartConnect(const Napi::CallbackInfo &info, const sockaddr_storage &sa, socklen_t len) {
  Napi::Env env = info.Env();
  const char *syscall = nullptr;
  int fd = lp_sock::NewSocket(sa.ss_family, SOCK_STREAM, &syscall);
  if (fd < 0) return Failure(env, fd, syscall);
  SetNoDelay(fd, sa.ss_family);
  int rc;
  do rc = connect(fd, (const sockaddr *)&sa, len);
  while (rc == -1 && errno == EINTR && sa.ss_family == AF_UNIX);
  // TCP: EINTR means the connection goes on in the background, like EINPROGRESS.
  bool pending = rc == -1 && (errno == EINPROGRESS || errno == EINTR);
  if (rc == -1 && !pending) return Made(info, fd, "connect");
  Napi::Value made = Made(info, fd, nullptr);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, made);
  out.Set(1u, Napi::Boolean::New(env, pending));
  return out;
}

// connectTcp(host, port) -> [fd, pending].
Napi::Value ConnectTcp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string host;
  int32_t port;
  if (!ArgString(info, 0, &host, false) || !ArgInt32(info, 1, &port)) return Failure(env, -EINVAL, "connect");
  sockaddr_storage sa;
  socklen_t len;
  if (!lp_sock::ParseAddr(host, port, &sa, &len)) return Failure(env, -EINVAL, "getaddrinfo");
  return StartConnect(info, sa, len);
}

// connectUnix(path) -> [fd, pending]. Linux connects AF_UNIX sockets at
// once or fails; EAGAIN means the listener's backlog is full (try again).
Napi::Value ConnectUnix(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, &path, true)) return Failure(env, -EINVAL, "connect");
  sockaddr_storage sa;
  socklen_t len;
  if (!lp_sock::UnixAddr(path, &sa, &len)) return Failure(env, -ENAMETOOLONG, "connect");
  return StartConnect(info, sa, len);
}

// connectError(fd) -> 0 once connected, or -errno of the failed connect (SO_ERROR).
Napi::Value ConnectError(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return Napi::Number::New(env, -EINVAL);
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, -err);
}

// socketpair() -> [a, b]: connected AF_UNIX stream sockets, non-blocking.
Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  const int flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
  const int flags = 0;
#endif
  if (socketpair(AF_UNIX, SOCK_STREAM | flags, 0, sv) == -1) return Failure(env, -errno, "socketpair");
  for (int fd : sv) {
    int rc = lp_sock::SetFlags(fd);
    if (rc < 0) {
      CloseFd(sv[0]);
      CloseFd(sv[1]);
      return Failure(env, rc, "fcntl");
    }
  }
  StateOf(info)->fds.insert(sv[0]);
  StateOf(info)->fds.insert(sv[1]);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, sv[0]);
  out.Set(1u, sv[1]);
  return out;
}

// adopt(fd) -> 0: takes over a stream socket made elsewhere (made
// non-blocking and close-on-exec, closed with the environment unless
// close()d first). ENOTSOCK for other fds, EPROTOTYPE for datagram sockets.
Napi::Value Adopt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return Failure(env, -EINVAL, "adopt");
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) return Failure(env, -errno, "getsockopt");
  if (type != SOCK_STREAM) return Failure(env, -EPROTOTYPE, "getsockopt");
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
    return Failure(env, -errno, "fcntl");
  StateOf(info)->fds.insert(fd);
  return Napi::Number::New(env, 0);
}

// --- using and closing ----------------------------------------------------

// shutdown(fd, how) -> 0 or -errno; how is SHUT_RD, SHUT_WR or SHUT_RDWR
// as numbered by shutdownModes.
Napi::Value Shutdown(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd, how;
  if (!ArgInt32(info, 0, &fd) || !ArgInt32(info, 1, &how) ||
      (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR))
    return Napi::Number::New(env, -EINVAL);
  return Napi::Number::New(env, shutdown(fd, how) == 0 ? 0 : -errno);
}

// close(fd) -> 0 or -errno. The fd is forgotten either way: EINTR and EIO
// still release the number on Linux. EINTR is reported as success.
Napi::Value Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return Napi::Number::New(env, -EINVAL);
  StateOf(info)->fds.erase(fd);
  if (close(fd) == -1 && errno != EINTR) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, 0);
}

// address(fd, peer) -> the local (getsockname) or remote (getpeername)
// address, see lp_sock::AddressValue.
Napi::Value Address(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd) || !info[1].IsBoolean()) return Failure(env, -EINVAL, "getsockname");
  bool peer = info[1].As<Napi::Boolean>().Value();
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  int rc = peer ? getpeername(fd, (sockaddr *)&sa, &len) : getsockname(fd, (sockaddr *)&sa, &len);
  if (rc == -1) return Failure(env, -errno, peer ? "getpeername" : "getsockname");
  return lp_sock::AddressValue(env, &sa, len);
}

// openCount() -> fds made by this file in this environment and not closed yet.
Napi::Value OpenCount(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), (double)StateOf(info)->fds.size());
}

}  // namespace

Napi::Object InitNet(Napi::Env env) {
  NetState *state = new NetState;
  napi_status status = napi_add_env_cleanup_hook(env, OnEnvCleanup, state);
  LP_ASSERT(status == napi_ok);
  Napi::Object net = Napi::Object::New(env);
  auto set = [&](const char *name, Napi::Function::Callback fn) {
    net.Set(name, Napi::Function::New(env, fn, name, state));
  };
  auto setRaw = [&](const char *name, napi_callback fn) {
    napi_value f;
    napi_status made = napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, state, &f);
    LP_ASSERT(made == napi_ok);
    net.Set(name, f);
  };
  setRaw("recv", Recv);
  setRaw("send", Send);
  set("accept", Accept);
  set("listenTcp", ListenTcp);
  set("listenUnix", ListenUnix);
  set("connectTcp", ConnectTcp);
  set("connectUnix", ConnectUnix);
  set("connectError", ConnectError);
  set("socketpair", Socketpair);
  set("adopt", Adopt);
  set("shutdown", Shutdown);
  set("close", Close);
  set("address", Address);
  set("openCount", OpenCount);
  Napi::Object modes = Napi::Object::New(env);
  modes.Set("read", Napi::Number::New(env, SHUT_RD));
  modes.Set("write", Napi::Number::New(env, SHUT_WR));
  modes.Set("both", Napi::Number::New(env, SHUT_RDWR));
  net.Set("shutdownModes", modes);
  return net;
}
