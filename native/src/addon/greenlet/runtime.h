// The greenlet runtime of one Node environment (main thread or worker):
// greenlet threads, switching, the thread pool, unwinding at cleanup.
// Internal; module.cc is its N-API face and lib/greenlet.ts owns the
// semantics (docs/greenlets.md).
//
// Each greenlet runs JavaScript on the stack of its own OS thread, and
// exactly one of the environment's threads runs JS at a time. V8 keeps
// per-thread state in C++ thread_locals, so switching stacks inside one
// thread is not possible with V8's public API. A switch from A to B instead
// hands the isolate's v8::Locker from thread A to thread B: A enters a
// v8::Unlocker (V8 archives A's thread state; its stack stays a GC root),
// posts B's baton, and waits on its own (baton.h); B takes the Locker (V8
// restores B's state) and continues.
//
// Invariants
//   - Every field of GreenletRuntime is touched only by the thread that
//     holds the isolate lock, except a Worker's baton and its exit flag.
//   - A worker thread touches V8 only between taking and dropping the Locker.
//   - Workers are pooled: a finished greenlet gives its thread back, so a
//     spawn costs a baton post instead of a thread creation. Idle threads
//     beyond kReserve exit after the idle timeout.
//   - At environment cleanup every suspended greenlet is unwound with
//     TerminateExecution (no JS runs; finally blocks are skipped) and every
//     pooled thread exits, before V8 or Node tear anything down.
//   - No V8 handle crosses threads: values travel through JS variables
//     (lib/greenlet.ts); records are identified by integer ids.
#ifndef LOOPLET_GREENLET_RUNTIME_H
#define LOOPLET_GREENLET_RUNTIME_H

#include <node_api.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <v8.h>
#if V8_MAJOR_VERSION < 12
#include <cppgc/testing.h>
#include <v8-cppgc.h>
#endif

#include <atomic>
#include <unordered_map>
#include <vector>

#include "baton.h"

namespace looplet_greenlet {

// What a thread that gets control back is to do: go on; unwind (cleanup,
// or a termination raised in another greenlet); or report that a greenlet
// control was passing to could get no thread.
enum WakeReason { kResume = 0, kTerminate = 1, kNoThread = 2 };

// V8's continuation-preserved embedder data (Node's async context frame).
v8::Local<v8::Value> GetAsyncContext(v8::Isolate *isolate);

struct Worker;

struct Record {
  int id = 0;
  size_t stack_size = 0;
  Worker *worker = nullptr;  // its thread, until it finishes
  bool started = false;      // has a thread (main: always)
  Baton *baton = nullptr;  // the baton its thread waits on
  int wake = kResume;
  // The greenlet's async context: V8's continuation-preserved embedder data,
  // where Node's AsyncContextFrame (AsyncLocalStorage from Node 24, and on 22
  // with --experimental-async-context-frame) keeps the current stores. It is
  // per isolate, not per thread, so each switch saves the caller's and puts
  // back the target's. A new greenlet starts with its creator's.
  v8::Global<v8::Value> context;
};

class GreenletRuntime;

// The timer that ends idle pooled threads. Its handle outlives the runtime
// when need be: it is closed by an async cleanup hook, so that Node keeps
// the addon loaded until libuv has run the close callback (Node 26 unloads
// a worker's addons before it runs the closing handles of its loop).
struct TrimTimer {
  uv_timer_t timer;
  GreenletRuntime *rt = nullptr;  // null once the runtime has shut down
  napi_async_cleanup_hook_handle hook = nullptr;
};

struct Worker {
  GreenletRuntime *rt = nullptr;
  pthread_t thread;
  size_t stack_size = 0;
  uintptr_t stack_low = 0;  // lowest usable address of the thread's stack
  std::atomic<int> tid{0};  // kernel thread id (Linux), for CPU affinity
  int cpu = -1;             // the CPU this thread is pinned to, -1 if none
  Baton baton;
  Record *assigned = nullptr;
  int64_t idle_since_ns = 0;
  bool exit = false;
};

class GreenletRuntime {
 public:
  GreenletRuntime(napi_env env, v8::Local<v8::Function> trampoline);
  ~GreenletRuntime();

  // A greenlet, with its thread, that will start in async context
  // `context` when first switched to. Its id, or -errno (-EAGAIN: no thread
  // could be made; nothing is created then).
  int Create(size_t stack_size, v8::Local<v8::Value> context);
  // Switches from the current greenlet to `id`; returns when switched back.
  // Returns the wake reason, or -errno if the switch was impossible
  // (-ENOENT: no such greenlet, it was ended from outside; -EAGAIN: no
  // thread; -ESHUTDOWN: the environment is shutting down).
  int SwitchTo(int id);
  // Whether `id` names a greenlet that has not finished (a greenlet ended
  // by TerminateExecution from outside is gone).
  bool Alive(int id) const { return records_.count(id) != 0; }
  // Where to count greenlets ended from outside (an Int32Array's data that
  // lib/greenlet.ts reads before it asks Alive()); null: nowhere.
  void set_ended_counter(int32_t *counter) {
    ended_counter_ = counter;
    if (counter != nullptr) *counter = ended_outside_;
  }

  int stats_threads() const { return (int)workers_.size(); }
  int stats_idle() const { return (int)idle_.size(); }
  double stats_created() const { return (double)created_; }
  double stats_switches() const { return (double)switches_; }
  // Sums a Baton counter over the batons of this runtime's threads.
  double SumCounter(uint64_t (Baton::*counter)() const) const;

  // Idle pooled threads beyond kReserve exit after this long without work.
  void set_idle_timeout_ms(int64_t ms);
  int64_t idle_timeout_ms() const { return idle_timeout_ns_ / 1000000; }

  static void OnCleanup(void *arg);
  static constexpr size_t kReserve = 8;

 private:
  friend void *WorkerMain(void *arg);
  Worker *TakeWorker(size_t stack_size, int *err);
  void Assign(Record *r, Worker *w);
  Baton *RunOnWorker(Worker *w);
  void GiveBack(Worker *w);
  void SaveContext(Record *r);
  bool PlaceTarget(Record *self, Record *target);
  void FollowCpu(Worker *w);
  bool PinElsewhere(Worker *w);
  void TookIsolate(bool main_thread);
  void LeavingIsolate();
  void StartTrimTimer();
  void TrimIdle(bool all);
  void Shutdown();

  napi_env env_;
  v8::Isolate *isolate_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> trampoline_;
  std::unordered_map<int, Record *> records_;
  Record main_;
  Baton main_baton_;
  Record *current_;
  std::vector<Worker *> idle_;     // most recently idle last
  std::vector<Worker *> workers_;  // every live thread, joined at shutdown
  uint64_t created_ = 0;
  uint64_t switches_ = 0;  // hand-offs of the isolate lock to another greenlet
  int32_t ended_outside_ = 0;
  int32_t *ended_counter_ = nullptr;
  int next_id_ = 1;
  bool shutting_down_ = false;
  Record *terminator_ = nullptr;  // the greenlet unwinding others at cleanup
  TrimTimer *trim_timer_ = nullptr;
#if V8_MAJOR_VERSION < 12
  // Held while a greenlet thread (not the environment's own) has the
  // isolate: V8 11's C++ heap scans the stack only up to the environment
  // thread's stack start (see TookIsolate).
  alignas(cppgc::testing::OverrideEmbedderStackStateScope) unsigned char no_stack_scan_[sizeof(cppgc::testing::OverrideEmbedderStackStateScope)];
  bool no_stack_scan_held_ = false;
#endif
  bool trim_pending_ = false;
  int64_t idle_timeout_ns_ = 0;
};

}  // namespace looplet_greenlet

#endif
