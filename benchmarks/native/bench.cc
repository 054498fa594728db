// Native floors for `looplet bench poller`, built as their own addon
// (looplet_bench: binding.gyp, from native/build.json's "bench" list) and
// loaded by benchmarks/src/native.ts: the figures the JS ones are compared
// with. The library never loads this; nothing here is used by it.
//
//   coreWait(backendId, fds, blocks, callsPerBlock) -> Float64Array
//     lp_poller_wait with a zero timeout looping in C, on a poller of the
//     core with fds registered for LP_EVENT_READ as the JS benchmark
//     registers them on its Poller: what the JS layer costs on top. Element
//     b is the mean ns per call in block b; empty if the poller failed.
//   rawWait(backendId, fds, blocks, callsPerBlock)
//       -> { ns: Float64Array, ready }
//     The bare syscall (epoll_wait / poll / select / kevent) with a zero
//     timeout on a private interest set built from fds (EVENT_READ each):
//     the kernel's cost without the core. ns[b] is the mean per call in
//     block b; ready is what the last call reported (a sanity check).
//   churn(backendId, fds, samples, roundsPerSample)
//       -> Float64Array(3 * samples)
//     lp_poller_add / _mod / _del on a fresh lp_poller_t: register every fd,
//     modify every fd, unregister every fd, roundsPerSample times per sample.
//     Element 3*s+k is the mean ns per op of phase k in sample s.
//   nofileLimit() -> [soft, hard]
//     RLIMIT_NOFILE after raising the soft limit to the hard one (-1 for
//     RLIM_INFINITY).
//   asyncNoop(callback)
//     `looplet bench pool`'s napi_create_async_work peer: an empty execute
//     on libuv's thread pool, then callback() from the complete callback
//     (one async work object per call, as an addon using the API makes).
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "platform.h"

#if LP_HAVE_EPOLL
#include <sys/epoll.h>
#endif
#if LP_HAVE_KQUEUE
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#endif

#include <napi.h>

#include "looplet.h"

namespace {

using Clock = std::chrono::steady_clock;

double NsSince(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

// One backend's private interest set and its zero-timeout wait. Setup and
// teardown stay outside the timed loop; Wait() is the only timed call.
class RawSet {
 public:
  RawSet(int backend, const int32_t *fds, size_t n) : backend_(backend), fds_(fds, fds + n) {}
  ~RawSet() {
    if (kernel_fd_ >= 0) close(kernel_fd_);
  }

  // 0 or -errno.
  int Open() {
    switch (backend_) {
      case LP_BACKEND_POLL:
        for (int fd : fds_) pollfds_.push_back({fd, POLLIN, 0});
        return 0;
      case LP_BACKEND_SELECT:
        FD_ZERO(&want_);
        for (int fd : fds_) {
          if (fd >= FD_SETSIZE) return -ERANGE;
          FD_SET(fd, &want_);
          if (fd > maxfd_) maxfd_ = fd;
        }
        return 0;
#if LP_HAVE_EPOLL
      case LP_BACKEND_EPOLL: {
        kernel_fd_ = epoll_create1(EPOLL_CLOEXEC);
        if (kernel_fd_ < 0) return -errno;
        for (int fd : fds_) {
          struct epoll_event ev = {};
          ev.events = EPOLLIN;
          ev.data.fd = fd;
          if (epoll_ctl(kernel_fd_, EPOLL_CTL_ADD, fd, &ev) == -1) return -errno;
        }
        epoll_events_.resize(fds_.size() + 1);
        return 0;
      }
#endif
#if LP_HAVE_KQUEUE
      case LP_BACKEND_KQUEUE: {
        kernel_fd_ = kqueue();
        if (kernel_fd_ < 0) return -errno;
        std::vector<struct kevent> changes(fds_.size());
        for (size_t i = 0; i < fds_.size(); i++) EV_SET(&changes[i], fds_[i], EVFILT_READ, EV_ADD, 0, 0, nullptr);
        if (!changes.empty() && kevent(kernel_fd_, changes.data(), (int)changes.size(), nullptr, 0, nullptr) == -1)
          return -errno;
        kevents_.resize(fds_.size() + 1);
        return 0;
      }
#endif
      default:
        return -ENOSYS;
    }
  }

  // Number of ready fds or -errno.
  int Wait() {
    switch (backend_) {
      case LP_BACKEND_POLL: {
        int rc = poll(pollfds_.data(), (nfds_t)pollfds_.size(), 0);
        return rc < 0 ? -errno : rc;
      }
      case LP_BACKEND_SELECT: {
        fd_set rd;
        int nfds = maxfd_ + 1;
        size_t bytes = ((size_t)nfds + 8 * sizeof(long) - 1) / (8 * sizeof(long)) * sizeof(long);
        if (bytes > sizeof(fd_set)) bytes = sizeof(fd_set);
        memcpy(&rd, &want_, bytes);
        struct timeval tv = {0, 0};
        int rc = select(nfds, &rd, nullptr, nullptr, &tv);
        return rc < 0 ? -errno : rc;
      }
#if LP_HAVE_EPOLL
      case LP_BACKEND_EPOLL: {
        int rc = epoll_wait(kernel_fd_, epoll_events_.data(), (int)epoll_events_.size(), 0);
        return rc < 0 ? -errno : rc;
      }
#endif
#if LP_HAVE_KQUEUE
      case LP_BACKEND_KQUEUE: {
        struct timespec zero = {0, 0};
        int rc = kevent(kernel_fd_, nullptr, 0, kevents_.data(), (int)kevents_.size(), &zero);
        return rc < 0 ? -errno : rc;
      }
#endif
      default:
        return -ENOSYS;
    }
  }

 private:
  int backend_;
  std::vector<int> fds_;
  int kernel_fd_ = -1;
  std::vector<struct pollfd> pollfds_;
  fd_set want_;
  int maxfd_ = -1;
#if LP_HAVE_EPOLL
  std::vector<struct epoll_event> epoll_events_;
#endif
#if LP_HAVE_KQUEUE
  std::vector<struct kevent> kevents_;
#endif
};

Napi::Value RawWait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int backend = info[0].As<Napi::Number>().Int32Value();
  Napi::Int32Array fds = info[1].As<Napi::Int32Array>();
  int blocks = info[2].As<Napi::Number>().Int32Value();
  int per = info[3].As<Napi::Number>().Int32Value();
  Napi::Float64Array ns = Napi::Float64Array::New(env, (size_t)blocks);
  Napi::Object out = Napi::Object::New(env);
  RawSet set(backend, fds.Data(), fds.ElementLength());
  int ready = set.Open();
  for (int b = 0; b < blocks && ready >= 0; b++) {
    auto t0 = Clock::now();
    for (int i = 0; i < per; i++) ready = set.Wait();
    ns[(size_t)b] = NsSince(t0) / per;
  }
  out.Set("ns", ns);
  out.Set("ready", Napi::Number::New(env, ready));
  return out;
}

Napi::Value CoreWait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int backend = info[0].As<Napi::Number>().Int32Value();
  Napi::Int32Array fds = info[1].As<Napi::Int32Array>();
  int blocks = info[2].As<Napi::Number>().Int32Value();
  int per = info[3].As<Napi::Number>().Int32Value();
  size_t n = fds.ElementLength();
  lp_poller_t *p = nullptr;
  if (lp_poller_new(&p, (lp_backend_t)backend) < 0) return Napi::Float64Array::New(env, 0);
  for (size_t i = 0; i < n; i++) {
    if (lp_poller_add(p, fds[i], LP_EVENT_READ, nullptr) < 0) {
      lp_poller_free(p);
      return Napi::Float64Array::New(env, 0);
    }
  }
  std::vector<lp_event_t> events(n + 1);
  Napi::Float64Array out = Napi::Float64Array::New(env, (size_t)blocks);
  for (int b = 0; b < blocks; b++) {
    auto t0 = Clock::now();
    for (int i = 0; i < per; i++) lp_poller_wait(p, events.data(), (int)events.size(), 0);
    out[(size_t)b] = NsSince(t0) / per;
  }
  lp_poller_free(p);
  return out;
}

Napi::Value Churn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int backend = info[0].As<Napi::Number>().Int32Value();
  Napi::Int32Array fds = info[1].As<Napi::Int32Array>();
  int samples = info[2].As<Napi::Number>().Int32Value();
  int rounds = info[3].As<Napi::Number>().Int32Value();
  size_t n = fds.ElementLength();
  const int32_t *fd = fds.Data();
  Napi::Float64Array out = Napi::Float64Array::New(env, 3 * (size_t)samples);
  lp_poller_t *p = nullptr;
  if (lp_poller_new(&p, (lp_backend_t)backend) < 0 || n == 0) {
    lp_poller_free(p);
    return out;
  }
  for (int s = 0; s < samples; s++) {
    double phase[3] = {0, 0, 0};
    for (int r = 0; r < rounds; r++) {
      auto t0 = Clock::now();
      for (size_t i = 0; i < n; i++) lp_poller_add(p, fd[i], LP_EVENT_READ, nullptr);
      phase[0] += NsSince(t0);
      t0 = Clock::now();
      for (size_t i = 0; i < n; i++) lp_poller_mod(p, fd[i], LP_EVENT_READ | LP_EVENT_WRITE, nullptr);
      phase[1] += NsSince(t0);
      t0 = Clock::now();
      for (size_t i = 0; i < n; i++) lp_poller_del(p, fd[i]);
      phase[2] += NsSince(t0);
    }
    for (int k = 0; k < 3; k++) out[3 * (size_t)s + (size_t)k] = phase[k] / ((double)rounds * (double)n);
  }
  lp_poller_free(p);
  return out;
}

double LimitValue(rlim_t v) { return v == RLIM_INFINITY ? -1.0 : (double)v; }

Napi::Value NofileLimit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct rlimit rl;
  Napi::Array out = Napi::Array::New(env, 2);
  if (getrlimit(RLIMIT_NOFILE, &rl) == -1) return Napi::Number::New(env, -errno);
  if (rl.rlim_cur != rl.rlim_max) {
    struct rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  out.Set(0u, LimitValue(rl.rlim_cur));
  out.Set(1u, LimitValue(rl.rlim_max));
  return out;
}

struct AsyncNoop {
  napi_async_work work = nullptr;
  napi_ref callback = nullptr;
};

Napi::Value AsyncNoopStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  AsyncNoop *op = new AsyncNoop;
  napi_status st = napi_create_reference(env, info[0], 1, &op->callback);
  napi_value name = Napi::String::New(env, "looplet.bench.asyncNoop");
  if (st == napi_ok)
    st = napi_create_async_work(
        env, nullptr, name, [](napi_env, void *) {},
        [](napi_env env, napi_status, void *data) {
          AsyncNoop *op = static_cast<AsyncNoop *>(data);
          napi_value cb, global, result;
          napi_get_reference_value(env, op->callback, &cb);
          napi_get_global(env, &global);
          napi_call_function(env, global, cb, 0, nullptr, &result);
          napi_delete_reference(env, op->callback);
          napi_delete_async_work(env, op->work);
          delete op;
        },
        op, &op->work);
  if (st == napi_ok) st = napi_queue_async_work(env, op->work);
  if (st != napi_ok) Napi::Error::New(env, "asyncNoop: napi_queue_async_work failed").ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("asyncNoop", Napi::Function::New(env, AsyncNoopStart, "asyncNoop"));
  exports.Set("coreWait", Napi::Function::New(env, CoreWait, "coreWait"));
  exports.Set("rawWait", Napi::Function::New(env, RawWait, "rawWait"));
  exports.Set("churn", Napi::Function::New(env, Churn, "churn"));
  exports.Set("nofileLimit", Napi::Function::New(env, NofileLimit, "nofileLimit"));
  return exports;
}

}  // namespace

NODE_API_MODULE(looplet_bench, Init)
