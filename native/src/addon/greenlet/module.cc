// The looplet_greenlet addon: the N-API face of the greenlet runtime
// (runtime.h). createGreenletRuntime(trampoline) returns a plain object
// whose functions carry the runtime as their data pointer. It is not an
// ObjectWrap on purpose: unwrapping fails once the environment stops
// accepting calls into JS, and a greenlet being unwound at shutdown may
// still call switchTo(), which must then just answer -ESHUTDOWN. Functions
// return ids, wake reasons or negative errno values; lib/greenlet.ts
// validates input.
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <v8.h>

#include "futex_hash.h"
#include "runtime.h"

namespace looplet_greenlet {
namespace {

// napi_value is a v8::Local<v8::Value> (Node's N-API implementation relies
// on it too).
v8::Local<v8::Value> ToLocal(napi_value v) {
  v8::Local<v8::Value> local;
  static_assert(sizeof local == sizeof v, "napi_value is a v8::Local");
  memcpy(static_cast<void *>(&local), &v, sizeof v);
  return local;
}

napi_value FromLocal(v8::Local<v8::Value> local) {
  napi_value v;
  memcpy(static_cast<void *>(&v), &local, sizeof v);
  return v;
}

// The runtime and up to two arguments of a call.
GreenletRuntime *Args(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc) {
  void *data = nullptr;
  napi_get_cb_info(env, info, argc, argv, nullptr, &data);
  return static_cast<GreenletRuntime *>(data);
}

int32_t Int32Arg(napi_env env, napi_value *argv, size_t argc, size_t i) {
  int32_t v = 0;
  if (i < argc) napi_get_value_int32(env, argv[i], &v);
  return v;
}

napi_value Int(napi_env env, int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

napi_value Double(napi_env env, double v) {
  napi_value out = nullptr;
  napi_create_double(env, v, &out);
  return out;
}

// create(stackSize, context) -> id or -errno: a greenlet with its thread.
// context: an async context from context(), the one it starts in.
napi_value JsCreate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  GreenletRuntime *rt = Args(env, info, argv, &argc);
  v8::Local<v8::Value> context;
  if (argc >= 2) context = ToLocal(argv[1]);
  return Int(env, rt->Create((size_t)(uint32_t)Int32Arg(env, argv, argc, 0), context));
}

// switchTo(id) -> wake reason or -errno.
napi_value JsSwitchTo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  GreenletRuntime *rt = Args(env, info, argv, &argc);
  return Int(env, rt->SwitchTo(Int32Arg(env, argv, argc, 0)));
}

// alive(id) -> whether the greenlet has not finished natively.
napi_value JsAlive(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  GreenletRuntime *rt = Args(env, info, argv, &argc);
  napi_value out;
  napi_get_boolean(env, rt->Alive(Int32Arg(env, argv, argc, 0)), &out);
  return out;
}

// countEnded(int32Array): element 0 counts greenlets ended from outside
// from now on (lib/greenlet.ts calls alive() only when it changed). The
// array is kept referenced by the runtime's api object.
napi_value JsCountEnded(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  GreenletRuntime *rt = Args(env, info, argv, &argc);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || length < 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "countEnded() needs an Int32Array");
    return nullptr;
  }
  rt->set_ended_counter(static_cast<int32_t *>(data));
  return nullptr;
}

// context() -> the current async context (opaque), for create().
napi_value JsContext(napi_env env, napi_callback_info info) {
  return FromLocal(GetAsyncContext(v8::Isolate::GetCurrent()));
}

napi_value JsStats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  GreenletRuntime *rt = Args(env, info, nullptr, &argc);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "threads", Int(env, rt->stats_threads()));
  napi_set_named_property(env, out, "idleThreads", Int(env, rt->stats_idle()));
  napi_set_named_property(env, out, "threadsCreated", Double(env, rt->stats_created()));
  napi_set_named_property(env, out, "switches", Double(env, rt->stats_switches()));
  napi_set_named_property(env, out, "futexHashSlots", Double(env, (double)FutexHash::Slots()));
  struct Counter {
    const char *name;
    uint64_t (Baton::*fn)() const;
  };
  for (const Counter &c : {Counter{"spins", &Baton::spins}, Counter{"spinTimeouts", &Baton::spin_timeouts},
                           Counter{"yields", &Baton::yields}, Counter{"sleeps", &Baton::sleeps}}) {
    napi_set_named_property(env, out, c.name, Double(env, rt->SumCounter(c.fn)));
  }
  return out;
}

// spin(ns?): sets the process-wide spin budget when given a number (0: off;
// ignored where nothing may spin, on one CPU) and returns the budget in
// effect, in nanoseconds.
napi_value JsSpin(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  Args(env, info, argv, &argc);
  double ns;
  if (argc >= 1 && napi_get_value_double(env, argv[0], &ns) == napi_ok && g_spin.max_spinners > 0)
    g_spin.ns.store(ns > 0 ? (int64_t)ns : 0, std::memory_order_relaxed);
  return Double(env, (double)g_spin.ns.load(std::memory_order_relaxed));
}

// idleTimeout(ms?): sets how long idle pooled threads beyond the reserve
// live when given a number; returns the timeout in effect, in ms.
napi_value JsIdleTimeout(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  GreenletRuntime *rt = Args(env, info, argv, &argc);
  double ms;
  if (argc >= 1 && napi_get_value_double(env, argv[0], &ms) == napi_ok && ms >= 0) rt->set_idle_timeout_ms((int64_t)ms);
  return Double(env, (double)rt->idle_timeout_ms());
}

napi_value CreateRuntime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "createGreenletRuntime(trampoline) needs a function");
    return nullptr;
  }
  GreenletRuntime *rt = new GreenletRuntime(env, ToLocal(argv[0]).As<v8::Function>());
  napi_value api;
  napi_create_object(env, &api);
  struct Entry {
    const char *name;
    napi_callback fn;
  };
  for (const Entry &e : {Entry{"create", JsCreate}, Entry{"switchTo", JsSwitchTo}, Entry{"alive", JsAlive}, Entry{"context", JsContext}, Entry{"stats", JsStats},
                         Entry{"spin", JsSpin}, Entry{"idleTimeout", JsIdleTimeout}, Entry{"countEnded", JsCountEnded}}) {
    napi_value fn;
    napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, rt, &fn);
    napi_set_named_property(env, api, e.name, fn);
  }
  napi_add_finalizer(
      env, api, rt, [](napi_env, void *data, void *) { delete static_cast<GreenletRuntime *>(data); }, nullptr, nullptr);
  return api;
}

napi_value SetNamed(napi_env env, napi_value obj, const char *name, napi_value v) {
  napi_set_named_property(env, obj, name, v);
  return obj;
}

// The module: createGreenletRuntime, the Node ABI this binary was built
// for (NODE_MODULE_VERSION of the headers, passed in by binding.gyp;
// lib/binding.ts refuses a binary built for another one) and the negative
// errno values switchTo() answers with.
napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "createGreenletRuntime", NAPI_AUTO_LENGTH, CreateRuntime, nullptr, &fn);
  SetNamed(env, exports, "createGreenletRuntime", fn);
  SetNamed(env, exports, "nodeModuleVersion", Int(env, LP_NODE_MODULE_VERSION));
  napi_value errnos;
  napi_create_object(env, &errnos);
  SetNamed(env, errnos, "ENOENT", Int(env, -ENOENT));
  SetNamed(env, errnos, "EAGAIN", Int(env, -EAGAIN));
  SetNamed(env, errnos, "ESHUTDOWN", Int(env, -ESHUTDOWN));
  SetNamed(env, exports, "errno", errnos);
  napi_value wakes;
  napi_create_object(env, &wakes);
  SetNamed(env, wakes, "RESUME", Int(env, kResume));
  SetNamed(env, wakes, "TERMINATE", Int(env, kTerminate));
  SetNamed(env, wakes, "NO_THREAD", Int(env, kNoThread));
  SetNamed(env, exports, "wake", wakes);
  return exports;
}

}  // namespace
}  // namespace looplet_greenlet

NAPI_MODULE(looplet_greenlet, looplet_greenlet::Init)
