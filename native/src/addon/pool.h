// looplet/pool's binding: native tasks on the core's lp_pool_t
// (pool_native.cc) and JS tasks fed to worker threads through queues in
// process-global memory (pool_js.cc). lib/pool.ts validates, owns the
// futures and turns statuses into errors; everything here converts, queues
// and wakes.
#ifndef LOOPLET_ADDON_POOL_H
#define LOOPLET_ADDON_POOL_H

#include <napi.h>
#include <stdint.h>
#include <uv.h>

#include "lp_assert.h"

// { NativeTaskPool, JsTaskQueue, JsTaskWorker, kinds }
Napi::Object InitPool(Napi::Env env);

namespace lp_pool_binding {

Napi::Function DefineNativeTaskPool(Napi::Env env);
Napi::Function DefineJsTaskQueue(Napi::Env env);
Napi::Function DefineJsTaskWorker(Napi::Env env);

// Calls fn with recv as `this` through napi_make_callback (nextTicks and
// microtasks run after it). Returns false when it could not be called (an
// environment being torn down) or threw; a thrown exception is reported as
// uncaught, as from any other event-loop callback.
bool CallBack(napi_env env, napi_async_context context, napi_ref recv, napi_ref fn, size_t argc,
              const napi_value *argv);

// Unwraps `this` for a method; on failure (an environment being torn down)
// clears any pending exception and returns null. As in poller_wrap.cc:
// node-addon-api's InstanceMethod would make that a fatal error.
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo &)>
napi_value Call(napi_env env, napi_callback_info info) {
  napi_value self;
  size_t argc = 0;
  void *wrapped = nullptr;
  if (napi_get_cb_info(env, info, &argc, nullptr, &self, nullptr) != napi_ok ||
      napi_unwrap(env, self, &wrapped) != napi_ok || wrapped == nullptr) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      (void)napi_get_and_clear_last_exception(env, &ignored);
    return nullptr;
  }
  Napi::CallbackInfo callback_info(env, info);
  return (static_cast<T *>(wrapped)->*M)(callback_info);
}

template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo &)>
Napi::ClassPropertyDescriptor<T> Method(const char *name) {
  napi_property_descriptor desc = {name, nullptr, Call<T, M>, nullptr, nullptr, nullptr, napi_default, nullptr};
  return Napi::ClassPropertyDescriptor<T>(desc);
}

int64_t NowNs();

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until cond() holds or budget_ns passes; whether it held.
template <typename Cond>
bool SpinUntil(int64_t budget_ns, Cond cond) {
  int64_t deadline = NowNs() + budget_ns;
  for (unsigned i = 0;; i++) {
    if (cond()) return true;
    CpuRelax();
    if ((i & 31) == 31 && NowNs() >= deadline) return cond();
  }
}

// A loop hook (uv_prepare_t or uv_check_t) started on loop with cb and
// data, unref'd: it runs every loop iteration without keeping the loop alive.
template <typename H, int (*Init)(uv_loop_t *, H *), int (*Start)(H *, void (*)(H *))>
H *StartHook(uv_loop_t *loop, void *data, void (*cb)(H *)) {
  H *h = new H;
  int rc = Init(loop, h);
  LP_ASSERT(rc == 0);  // fails only for an invalid loop
  h->data = data;
  rc = Start(h, cb);
  LP_ASSERT(rc == 0);
  (void)rc;
  uv_unref((uv_handle_t *)h);
  return h;
}

// Stops and closes a hook from StartHook (if any) and clears the pointer.
template <typename H, int (*Stop)(H *)>
void CloseHook(H *&h) {
  if (h == nullptr) return;
  Stop(h);
  uv_close((uv_handle_t *)h, [](uv_handle_t *u) { delete (H *)u; });
  h = nullptr;
}

inline uv_prepare_t *StartPrepare(uv_loop_t *loop, void *data, uv_prepare_cb cb) {
  return StartHook<uv_prepare_t, uv_prepare_init, uv_prepare_start>(loop, data, cb);
}
inline uv_check_t *StartCheck(uv_loop_t *loop, void *data, uv_check_cb cb) {
  return StartHook<uv_check_t, uv_check_init, uv_check_start>(loop, data, cb);
}
// An idle handle, unref'd and not started: while started, the loop polls
// for I/O without blocking (SetIdle).
inline uv_idle_t *NewIdle(uv_loop_t *loop) {
  uv_idle_t *h = new uv_idle_t;
  int rc = uv_idle_init(loop, h);
  LP_ASSERT(rc == 0);  // fails only for an invalid loop
  (void)rc;
  uv_unref((uv_handle_t *)h);
  return h;
}
inline void SetIdle(uv_idle_t *h, bool on) {
  if (h == nullptr || on == (uv_is_active((uv_handle_t *)h) != 0)) return;
  if (on)
    uv_idle_start(h, [](uv_idle_t *) {});
  else
    uv_idle_stop(h);
}
inline void ClosePrepare(uv_prepare_t *&h) { CloseHook<uv_prepare_t, uv_prepare_stop>(h); }
inline void CloseIdle(uv_idle_t *&h) { CloseHook<uv_idle_t, uv_idle_stop>(h); }
inline void CloseCheck(uv_check_t *&h) { CloseHook<uv_check_t, uv_check_stop>(h); }

}  // namespace lp_pool_binding

#endif
