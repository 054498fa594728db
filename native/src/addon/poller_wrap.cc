// NativePoller: the binding of lp_poller_t. It converts arguments and
// results and reports failures as negative errno values, or as
// { errno, syscall } where more than one call can fail; lib/poller.ts
// validates input, owns the registration keys and builds the JS errors.
//
// wait() stores (fd, events) pairs into an Int32Array the JS side supplies
// with setBuffer(), so the hot path allocates nothing and crosses N-API once.
//
// watch(): delivers readiness through the environment's libuv loop.
//   - epoll / kqueue: a uv_poll handle watches the poller's own fd.
//   - poll / select: a WatchHelper thread (watch_helper.h) polls a snapshot
//     of the interest set and signals the loop. The JS thread harvests with
//     wait(0) and calls rearm(), which also refreshes the snapshot after
//     registrations change.
//   onReady() is called with no arguments when events may be pending, or
//   with (errno, syscall) when waiting failed; the JS side then stops.
//
// Teardown: a watch's libuv handle is closed asynchronously, and its close
// callback is code of this addon, which Node unloads when the last
// environment that loaded it (a worker) ends. So every watch holds a
// Node-API async cleanup hook (WatchClose) from watch() until that close
// callback has run: Node keeps the environment, and the addon, until then.
// At teardown the hook stops a watch still running.
#include <errno.h>
#include <poll.h>
#include <uv.h>

#include <vector>

#include "addon.h"
#include "looplet.h"
#include "lp_assert.h"
#include "watch_helper.h"

namespace {

// { errno, syscall }: a failure of one of several calls.
Napi::Value Failure(Napi::Env env, int error, const char *syscall) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("errno", Napi::Number::New(env, error));
  failure.Set("syscall", Napi::String::New(env, syscall));
  return failure;
}

class NativePoller;

// Lives from watch() until the watch's libuv handle is closed (see the top).
struct WatchClose {
  napi_async_cleanup_hook_handle hook = nullptr;
  NativePoller *owner = nullptr;  // null once the watch is stopped
};

// A watch's uv_poll_t and what its close callback must release.
struct PollHandle {
  uv_poll_t handle;
  WatchClose *close = nullptr;
};

// The handle is closed: let Node finish the teardown (and unload us).
void WatchClosed(void *arg) {
  WatchClose *wc = static_cast<WatchClose *>(arg);
  napi_status status = napi_remove_async_cleanup_hook(wc->hook);
  LP_ASSERT(status == napi_ok);
  delete wc;
}

void ClosePollHandle(uv_poll_t *poll, WatchClose *wc) {
  PollHandle *ph = reinterpret_cast<PollHandle *>(poll);
  ph->close = wc;
  uv_close((uv_handle_t *)poll, [](uv_handle_t *h) {
    PollHandle *closed = reinterpret_cast<PollHandle *>(h);
    if (closed->close != nullptr) WatchClosed(closed->close);
    delete closed;
  });
}

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
  void Deliver(int error, const char *syscall);
  void StopWatch();
  void Snapshot();
  static void OnHelper(void *owner, int error);

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
  WatchHelper *helper_ = nullptr;
  struct WatchClose *close_ = nullptr;
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
// after it), with (error, syscall) when error is not 0. Uses the raw N-API
// call: node-addon-api's wrapper turns any failure into a fatal error, and
// while a worker is being torn down a pending uv callback can still fire
// when JS can no longer run. Then the delivery is dropped; a real exception
// from the callback becomes an uncaught exception, as for any other
// event-loop callback.
void NativePoller::Deliver(int error, const char *syscall) {
  if (!watching_) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
  napi_value recv, fn, result, argv[2];
  size_t argc = 0;
  napi_status status = napi_get_reference_value(env_, on_ready_.operator napi_ref(), &fn);
  if (status == napi_ok) status = napi_get_reference_value(env_, Napi::ObjectWrap<NativePoller>::operator napi_ref(), &recv);
  if (status == napi_ok && error != 0) {
    status = napi_create_int32(env_, error, &argv[0]);
    if (status == napi_ok) status = napi_create_string_utf8(env_, syscall, NAPI_AUTO_LENGTH, &argv[1]);
    argc = 2;
  }
  if (status == napi_ok && fn != nullptr && recv != nullptr)
    status = napi_make_callback(env_, *async_context_, recv, fn, argc, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_value exception;
    if (napi_is_exception_pending(env_, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env_, &exception) == napi_ok && status == napi_pending_exception) {
      napi_status reported = napi_fatal_exception(env_, exception);
      LP_ASSERT(reported == napi_ok);
    }
  }
  status = napi_close_handle_scope(env_, scope);
  LP_ASSERT(status == napi_ok);
}

void NativePoller::OnHelper(void *owner, int error) {
  static_cast<NativePoller *>(owner)->Deliver(error, "poll");
}

void NativePoller::Snapshot() {
  int count = (int)lp_poller_count(poller_);
  int max = EnsureScratch(count > 0 ? count : 1);
  int n = lp_poller_interest(poller_, scratch_.data(), max);
  LP_ASSERT(n >= 0 && n <= count);
  std::vector<struct pollfd> fds;
  fds.reserve((size_t)n + 1);  // the helper adds its wake-up fd
  for (int i = 0; i < n; i++) {
    short ev = 0;
    if (scratch_[(size_t)i].events & LP_EVENT_READ) ev |= POLLIN;
    if (scratch_[(size_t)i].events & LP_EVENT_WRITE) ev |= POLLOUT;
    fds.push_back({scratch_[(size_t)i].fd, ev, 0});
  }
  helper_->Arm(std::move(fds));
}

// watch(onReady) -> 0, or { errno, syscall } of the call that failed (then
// nothing is left behind). onReady is called from the event loop, see above.
Napi::Value NativePoller::Watch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!poller_) return Failure(env, -EBADF, "watch");
  if (watching_) return Failure(env, -EALREADY, "watch");
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return Failure(env, -ENOTSUP, "napi_get_uv_event_loop");

  WatchClose *wc = new WatchClose;
  wc->owner = this;
  napi_status status = napi_add_async_cleanup_hook(
      env,
      [](napi_async_cleanup_hook_handle, void *arg) {
        // Teardown: stop a watch still running; its close callback removes the hook.
        WatchClose *c = static_cast<WatchClose *>(arg);
        if (c->owner != nullptr) c->owner->StopWatch();
      },
      wc, &wc->hook);
  LP_ASSERT(status == napi_ok);

  int fd = lp_poller_fileno(poller_);
  if (fd >= 0) {
    PollHandle *ph = new PollHandle;
    poll_handle_ = &ph->handle;
    int rc = uv_poll_init(loop, poll_handle_, fd);
    if (rc < 0) {
      delete ph;
      poll_handle_ = nullptr;
      WatchClosed(wc);
      return Failure(env, rc, "uv_poll_init");
    }
    poll_handle_->data = this;
    rc = uv_poll_start(poll_handle_, UV_READABLE, [](uv_poll_t *h, int status, int) {
      static_cast<NativePoller *>(h->data)->Deliver(status < 0 ? status : 0, "uv_poll");
    });
    if (rc < 0) {
      ClosePollHandle(poll_handle_, wc);
      poll_handle_ = nullptr;
      return Failure(env, rc, "uv_poll_start");
    }
  } else {
    int error = 0;
    const char *syscall = nullptr;
    helper_ = WatchHelper::Start(loop, OnHelper, this, &error, &syscall);
    if (helper_ == nullptr) {
      WatchClosed(wc);
      return Failure(env, error, syscall);
    }
    Snapshot();
  }
  close_ = wc;
  on_ready_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_context_ = new Napi::AsyncContext(env, "looplet.Poller.watch");
  watching_ = true;
  if (!refed_) uv_unref(poll_handle_ ? (uv_handle_t *)poll_handle_ : helper_->handle());
  return Napi::Number::New(env, 0);
}

void NativePoller::StopWatch() {
  if (!watching_) return;
  watching_ = false;
  WatchClose *wc = close_;
  close_ = nullptr;
  wc->owner = nullptr;
  if (poll_handle_) {
    int rc = uv_poll_stop(poll_handle_);  // removes the fd from libuv before we close it
    LP_ASSERT(rc == 0);
    ClosePollHandle(poll_handle_, wc);
    poll_handle_ = nullptr;
  }
  if (helper_) {
    helper_->Stop(WatchClosed, wc);
    helper_ = nullptr;
  }
  on_ready_.Reset();
  delete async_context_;
  async_context_ = nullptr;
}

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
  uv_handle_t *h = poll_handle_ ? (uv_handle_t *)poll_handle_ : helper_ ? helper_->handle() : nullptr;
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
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_status cleared = napi_get_and_clear_last_exception(env, &ignored);
      LP_ASSERT(cleared == napi_ok);
    }
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
