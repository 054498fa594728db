#include "addon.h"

#include "looplet.h"
#include "pool.h"

LoopletAddon::LoopletAddon(Napi::Env env, Napi::Object exports) {
  Napi::Function poller = InitPollerClass(env, this);
  poller_ctor = Napi::Persistent(poller);

  Napi::Object backends = Napi::Object::New(env);
  for (lp_backend_t b : {LP_BACKEND_EPOLL, LP_BACKEND_KQUEUE, LP_BACKEND_POLL, LP_BACKEND_SELECT}) {
    if (lp_backend_available(b)) backends.Set(lp_backend_name(b), Napi::Number::New(env, b));
  }
  DefineAddon(exports, {
                           InstanceValue("NativePoller", poller, napi_enumerable),
                           InstanceValue("backends", backends, napi_enumerable),
                           InstanceValue("defaultBackend",
                                         Napi::String::New(env, lp_backend_name(LP_BACKEND_DEFAULT)),
                                         napi_enumerable),
                           InstanceValue("sys", InitSys(env), napi_enumerable),
                           InstanceValue("net", InitNet(env), napi_enumerable),
                           InstanceValue("pool", InitPool(env), napi_enumerable),
                           InstanceValue("version", Napi::Number::New(env, lp_version()), napi_enumerable),
                       });
}

NODE_API_ADDON(LoopletAddon)
