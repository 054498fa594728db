// Per-environment addon state. Nothing here is process-wide: each Node.js
// environment (the main thread, every worker) gets its own instance.
#ifndef LOOPLET_ADDON_H
#define LOOPLET_ADDON_H

#include <napi.h>

class LoopletAddon : public Napi::Addon<LoopletAddon> {
 public:
  LoopletAddon(Napi::Env env, Napi::Object exports);
  Napi::FunctionReference poller_ctor;
};

Napi::Function InitPollerClass(Napi::Env env, LoopletAddon *addon);
Napi::Object InitSys(Napi::Env env);
Napi::Object InitNet(Napi::Env env);

#endif
