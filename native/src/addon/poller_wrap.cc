// NativePoller: the binding of lp_poller_t. It converts arguments and
// results and reports failures as negative errno values; lib/poller.ts
// validates input, owns the registration keys and builds the JS errors.
//
// wait() stores (fd, events) pairs into an Int32Array the JS side supplies
// with setBuffer(), so the hot path allocates nothing and crosses N-API once.
//
// watch(): delivers readiness through the environment's libuv loop.
//   - epoll / kqueue: a uv_poll handle watches the poller's own fd.
//   - poll / select: a helper thread poll()s a snapshot of the interest set
//     plus a wake pipe and signals a uv_async handle when something is ready;
//     it then sleeps until rearm(). The JS thread harvests with wait(0) and
//     calls rearm(), which also refreshes the snapshot after registrations
//     change. The helper never touches the lp_poller_t itself.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <uv.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "addon.h"
#include "looplet.h"

namespace {

// State shared by the JS thread and the helper thread. Freed by the uv_async
// close callback, after the thread has been joined.
struct Helper {
  uv_async_t async;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<struct pollfd> snapshot;  // guarded by mu
  bool armed = false;                   // guarded by mu
  bool stop = false;                    // guarded by mu
  int wake[2] = {-1, -1};
  void *owner = nullptr;  // NativePoller*, JS thread only; null once stopped

  void Run() {
    std::vector<struct pollfd> fds;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || armed; });
        if (stop) return;
        fds = snapshot;
      }
      fds.push_back({wake[0], POLLIN, 0});
      int rc = poll(fds.data(), (nfds_t)fds.size(), -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        // Unexpected failure: let the JS thread harvest (it sees the error).
      } else if (fds.back().revents) {
        char buf[64];
        while (read(wake[0], buf, sizeof buf) > 0) {
        }
        continue;  // stop, or a new snapshot
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return;
        armed = false;
      }
      uv_async_send(&async);
    }
  }

  void Wake() {
    char c = 1;
    ssize_t rc;
    do rc = write(wake[1], &c, 1);
    while (rc == -1 && errno == EINTR);
  }
};

class NativePoller : public Napi::ObjectWrap<NativePoller> {
 public:
  NativePoller(const Napi::CallbackInfo &info);
  ~NativePoller() override;

  static Napi::Function Define(Napi::Env env);

 public:  // called through Call<> below
  Napi::Value Add(const Napi::CallbackInfo &info);
  Napi::Value Mod(const Napi::CallbackInfo &info);
  Napi::Value Del(const Napi::CallbackInfo &info);
  Napi::Value Wait(const Napi::CallbackInfo &info);
  Napi::Value SetBuffer(const Napi::CallbackInfo &info);
  Napi::Value Fileno(const Napi::CallbackInfo &info);
  Napi::Value Caps(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  Napi::Value Watch(const Napi::CallbackInfo &info);
  Napi::Value Unwatch(const Napi::CallbackInfo &info);
  Napi::Value Rearm(const Napi::CallbackInfo &info);
  Napi::Value Ref(const Napi::CallbackInfo &info);

 private:
  int EnsureScratch(int n);
  void Deliver();
  void StopWatch();
  void Snapshot();
  static void OnEnvCleanup(void *arg);

  lp_poller_t *poller_ = nullptr;
  std::vector<lp_event_t> scratch_;
  Napi::Reference<Napi::Int32Array> buffer_ref_;
  int32_t *buffer_ = nullptr;
  int buffer_pairs_ = 0;

  // watch state (JS thread)
  napi_env env_ = nullptr;
  Napi::FunctionReference on_ready_;
  Napi::AsyncContext *async_context_ = nullptr;
  uv_poll_t *poll_handle_ = nullptr;
  Helper *helper_ = nullptr;
  bool watching_ = false;
  bool refed_ = true;
};

NativePoller::NativePoller(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativePoller>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  int rc = lp_poller_new(&poller_, (lp_backend_t)info[0].As<Napi::Number>().Int32Value());
  if (rc < 0) {
    Napi::Error err = Napi::Error::New(env, "lp_poller_new failed");
    err.Set("errno", Napi::Number::New(env, rc));
    err.ThrowAsJavaScriptException();
  }
}

NativePoller::~NativePoller() {
  StopWatch();
  lp_poller_free(poller_);
}

int NativePoller::EnsureScratch(int n) {
  if ((int)scratch_.size() < n) scratch_.resize((size_t)n);
  return (int)scratch_.size();
}

Napi::Value NativePoller::Add(const Napi::CallbackInfo &info) {
  if (!poller_) return Napi::Number::New(info.Env(), -EBADF);
  int rc = lp_poller_add(poller_, info[0].As<Napi::Number>().Int32Value(),
                         info[1].As<Napi::Number>().Uint32Value(), nullptr);
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value NativePoller::Mod(const Napi::CallbackInfo &info) {
  if (!poller_) return Napi::Number::New(info.Env(), -EBADF);
  int rc = lp_poller_mod(poller_, info[0].As<Napi::Number>().Int32Value(),
                         info[1].As<Napi::Number>().Uint32Value(), nullptr);
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value NativePoller::Del(const Napi::CallbackInfo &info) {
  if (!poller_) return Napi::Number::New(info.Env(), -EBADF);
  return Napi::Number::New(info.Env(), lp_poller_del(poller_, info[0].As<Napi::Number>().Int32Value()));
}

// wait(timeoutMs) -> number of (fd, events) pairs written to the buffer, or
// a negative errno. Blocks the calling thread; timeoutMs < 0 blocks forever.
Napi::Value NativePoller::Wait(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!poller_ || buffer_pairs_ == 0) return Napi::Number::New(env, -EBADF);
  int max = EnsureScratch(buffer_pairs_);
  if (max > buffer_pairs_) max = buffer_pairs_;
  int n = lp_poller_wait(poller_, scratch_.data(), max, info[0].As<Napi::Number>().Int32Value());
  for (int i = 0; i < n; i++) {
    buffer_[2 * i] = scratch_[(size_t)i].fd;
    buffer_[2 * i + 1] = (int32_t)scratch_[(size_t)i].events;
  }
  return Napi::Number::New(env, n);
}

Napi::Value NativePoller::SetBuffer(const Napi::CallbackInfo &info) {
  Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
  buffer_ref_ = Napi::Persistent(arr);
  buffer_ = arr.Data();
  buffer_pairs_ = (int)(arr.ElementLength() / 2);
  return info.Env().Undefined();
}

Napi::Value NativePoller::Fileno(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), poller_ ? lp_poller_fileno(poller_) : -1);
}

Napi::Value NativePoller::Caps(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), poller_ ? lp_poller_caps(poller_) : 0);
}

Napi::Value NativePoller::Close(const Napi::CallbackInfo &info) {
  StopWatch();
  lp_poller_free(poller_);
  poller_ = nullptr;
  return info.Env().Undefined();
}

// Calls the JS onReady through MakeCallback (so nextTicks and microtasks run
// after it). Uses the raw N-API call: node-addon-api's wrapper turns any
// failure into a fatal error, and while a worker is being torn down a
// pending uv callback can still fire when JS can no longer run. Then the
// delivery is dropped; a real exception from the callback becomes an
// uncaught exception, as for any other event-loop callback.
void NativePoller::Deliver() {
  if (!watching_) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  napi_value recv, fn, result;
  napi_status status = napi_get_reference_value(env_, on_ready_.operator napi_ref(), &fn);
  if (status == napi_ok) status = napi_get_reference_value(env_, Napi::ObjectWrap<NativePoller>::operator napi_ref(), &recv);
  if (status == napi_ok && fn != nullptr && recv != nullptr)
    status = napi_make_callback(env_, *async_context_, recv, fn, 0, nullptr, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env_, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env_, &error) == napi_ok && status == napi_pending_exception)
      napi_fatal_exception(env_, error);
  }
  napi_close_handle_scope(env_, scope);
}

void NativePoller::Snapshot() {
  int count = (int)lp_poller_count(poller_);
  int max = EnsureScratch(count > 0 ? count : 1);
  int n = lp_poller_interest(poller_, scratch_.data(), max);
  std::lock_guard<std::mutex> lock(helper_->mu);
  helper_->snapshot.clear();
  for (int i = 0; i < n; i++) {
    short ev = 0;
    if (scratch_[(size_t)i].events & LP_EVENT_READ) ev |= POLLIN;
    if (scratch_[(size_t)i].events & LP_EVENT_WRITE) ev |= POLLOUT;
    helper_->snapshot.push_back({scratch_[(size_t)i].fd, ev, 0});
  }
  bool was_armed = helper_->armed;
  helper_->armed = true;
  if (was_armed) helper_->Wake();  // the helper is (about to be) in poll()
  else helper_->cv.notify_one();
}

// watch(onReady) -> 0 or a negative errno. onReady is called with no
// arguments, from the event loop, whenever the poller may have events.
Napi::Value NativePoller::Watch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!poller_) return Napi::Number::New(env, -EBADF);
  if (watching_) return Napi::Number::New(env, -EALREADY);
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return Napi::Number::New(env, -ENOTSUP);

  int fd = lp_poller_fileno(poller_);
  if (fd >= 0) {
    poll_handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_handle_, fd);
    if (rc < 0) {
      delete poll_handle_;
      poll_handle_ = nullptr;
      return Napi::Number::New(env, rc);
    }
    poll_handle_->data = this;
    uv_poll_start(poll_handle_, UV_READABLE, [](uv_poll_t *h, int, int) {
      static_cast<NativePoller *>(h->data)->Deliver();
    });
  } else {
    Helper *h = new Helper;
    if (pipe(h->wake) == -1) {
      int err = -errno;
      delete h;
      return Napi::Number::New(env, err);
    }
    for (int wfd : h->wake) {
      fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
      fcntl(wfd, F_SETFD, FD_CLOEXEC);
    }
    uv_async_init(loop, &h->async, [](uv_async_t *a) {
      Helper *helper = static_cast<Helper *>(a->data);
      if (helper->owner) static_cast<NativePoller *>(helper->owner)->Deliver();
    });
    h->async.data = h;
    h->owner = this;
    helper_ = h;
    h->thread = std::thread([h] { h->Run(); });
    Snapshot();
  }
  on_ready_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_context_ = new Napi::AsyncContext(env, "looplet.Poller.watch");
  watching_ = true;
  if (!refed_) {
    if (poll_handle_) uv_unref((uv_handle_t *)poll_handle_);
    if (helper_) uv_unref((uv_handle_t *)&helper_->async);
  }
  napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  return Napi::Number::New(env, 0);
}

void NativePoller::StopWatch() {
  if (!watching_) return;
  watching_ = false;
  napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  if (poll_handle_) {
    uv_poll_stop(poll_handle_);  // removes the fd from libuv before we close it
    uv_close((uv_handle_t *)poll_handle_, [](uv_handle_t *h) { delete (uv_poll_t *)h; });
    poll_handle_ = nullptr;
  }
  if (helper_) {
    Helper *h = helper_;
    helper_ = nullptr;
    {
      std::lock_guard<std::mutex> lock(h->mu);
      h->stop = true;
    }
    h->cv.notify_one();
    h->Wake();
    h->thread.join();
    h->owner = nullptr;
    close(h->wake[0]);
    close(h->wake[1]);
    uv_close((uv_handle_t *)&h->async, [](uv_handle_t *a) { delete static_cast<Helper *>(a->data); });
  }
  on_ready_.Reset();
  delete async_context_;
  async_context_ = nullptr;
}

void NativePoller::OnEnvCleanup(void *arg) { static_cast<NativePoller *>(arg)->StopWatch(); }

Napi::Value NativePoller::Unwatch(const Napi::CallbackInfo &info) {
  StopWatch();
  return info.Env().Undefined();
}

// rearm(): the JS side has harvested; let the helper wait again on a fresh
// snapshot (also used after registrations change). No-op for uv_poll.
Napi::Value NativePoller::Rearm(const Napi::CallbackInfo &info) {
  if (watching_ && helper_ && poller_) Snapshot();
  return info.Env().Undefined();
}

// ref(bool): whether an active watch keeps the event loop alive.
Napi::Value NativePoller::Ref(const Napi::CallbackInfo &info) {
  refed_ = info[0].As<Napi::Boolean>().Value();
  uv_handle_t *h = poll_handle_ ? (uv_handle_t *)poll_handle_ : helper_ ? (uv_handle_t *)&helper_->async : nullptr;
  if (h) {
    if (refed_) uv_ref(h);
    else uv_unref(h);
  }
  return info.Env().Undefined();
}

// Methods are plain N-API callbacks rather than node-addon-api's
// InstanceMethod: that wrapper turns a failed unwrap into a fatal error, and
// unwrapping fails while a worker environment is being torn down, which is
// when a pending watch callback or a greenlet being unwound may still call
// in. Here such a call just returns undefined.
template <Napi::Value (NativePoller::*M)(const Napi::CallbackInfo &)>
napi_value Call(napi_env env, napi_callback_info info) {
  napi_value self;
  size_t argc = 0;
  void *wrapped = nullptr;
  if (napi_get_cb_info(env, info, &argc, nullptr, &self, nullptr) != napi_ok ||
      napi_unwrap(env, self, &wrapped) != napi_ok || wrapped == nullptr) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      napi_get_and_clear_last_exception(env, &ignored);
    return nullptr;
  }
  Napi::CallbackInfo callback_info(env, info);
  return (static_cast<NativePoller *>(wrapped)->*M)(callback_info);
}

template <Napi::Value (NativePoller::*M)(const Napi::CallbackInfo &)>
Napi::ClassPropertyDescriptor<NativePoller> Method(const char *name) {
  napi_property_descriptor desc = {name, nullptr, Call<M>, nullptr, nullptr, nullptr, napi_default, nullptr};
  return Napi::ClassPropertyDescriptor<NativePoller>(desc);
}

Napi::Function NativePoller::Define(Napi::Env env) {
  return DefineClass(env, "NativePoller",
                     {
                         Method<&NativePoller::Add>("add"),
                         Method<&NativePoller::Mod>("mod"),
                         Method<&NativePoller::Del>("del"),
                         Method<&NativePoller::Wait>("wait"),
                         Method<&NativePoller::SetBuffer>("setBuffer"),
                         Method<&NativePoller::Fileno>("fileno"),
                         Method<&NativePoller::Caps>("caps"),
                         Method<&NativePoller::Close>("close"),
                         Method<&NativePoller::Watch>("watch"),
                         Method<&NativePoller::Unwatch>("unwatch"),
                         Method<&NativePoller::Rearm>("rearm"),
                         Method<&NativePoller::Ref>("ref"),
                     });
}

}  // namespace

Napi::Function InitPollerClass(Napi::Env env, LoopletAddon *) { return NativePoller::Define(env); }
