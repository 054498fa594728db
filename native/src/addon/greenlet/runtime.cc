// The greenlet runtime: threads, switches, the pool, cleanup (runtime.h).
#include "runtime.h"

#include "futex_hash.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>

#if defined(__FreeBSD__) || defined(__DragonFly__) || defined(__OpenBSD__)
#include <pthread_np.h>
#endif

namespace looplet_greenlet {

SpinBudget g_spin;
SpinnerCount g_spinners;

namespace {

#if defined(__linux__)
cpu_set_t g_allowed_cpus;  // the process's affinity mask when the first runtime was made
#endif

constexpr int64_t kMaxSpinNs = 10000000;  // setSwitchSpin's limit: 10 ms
constexpr int64_t kDefaultIdleNs = 10000000000;  // 10 s

// Process-wide defaults, decided once: LOOPLET_GREENLET_SPIN_US turns
// spinning on with that budget (a number of µs, at most 10,000; anything
// else leaves it off). Nothing spins with one CPU.
void InitProcess() {
  static std::once_flag once;
  std::call_once(once, [] {
    int cpus = 1;
#if defined(__linux__)
    CPU_ZERO(&g_allowed_cpus);
    if (sched_getaffinity(0, sizeof g_allowed_cpus, &g_allowed_cpus) == 0) cpus = CPU_COUNT(&g_allowed_cpus);
#endif
    g_spin.max_spinners = cpus / 2;
    int64_t ns = 0;
    const char *e = getenv("LOOPLET_GREENLET_SPIN_US");
    if (e != nullptr && *e != 0) {
      char *end = nullptr;
      double us = strtod(e, &end);
      if (end != e && *end == 0 && us > 0 && us * 1000 <= (double)kMaxSpinNs) ns = (int64_t)(us * 1000);
    }
    g_spin.ns.store(g_spin.max_spinners > 0 ? ns : 0);
  });
}

// The continuation-preserved embedder data: on the isolate from V8 12, on
// the context before.
void SetAsyncContext(v8::Isolate *isolate, v8::Local<v8::Value> value) {
#if V8_MAJOR_VERSION >= 12
  isolate->SetContinuationPreservedEmbedderData(value);
#else
  isolate->GetCurrentContext()->SetContinuationPreservedEmbedderData(value);
#endif
}

// The lowest usable address of the calling thread's stack, or 0 if the
// platform cannot tell (V8 then keeps its default limit for the thread).
uintptr_t CurrentStackLow() {
#if defined(__APPLE__)
  pthread_t self = pthread_self();
  return (uintptr_t)pthread_get_stackaddr_np(self) - pthread_get_stacksize_np(self);
#elif defined(__OpenBSD__)
  stack_t ss;
  if (pthread_stackseg_np(pthread_self(), &ss) != 0) return 0;
  return (uintptr_t)ss.ss_sp - ss.ss_size;
#else
  pthread_attr_t attr;
#if defined(__FreeBSD__) || defined(__DragonFly__)
  if (pthread_attr_init(&attr) != 0) return 0;
  int rc = pthread_attr_get_np(pthread_self(), &attr);
#else  // glibc, musl, NetBSD
  int rc = pthread_getattr_np(pthread_self(), &attr);
#endif
  void *addr = nullptr;
  size_t size = 0;
  if (rc == 0 && pthread_attr_getstack(&attr, &addr, &size) != 0) addr = nullptr;
#if defined(__FreeBSD__) || defined(__DragonFly__)
  pthread_attr_destroy(&attr);
#else
  if (rc == 0) pthread_attr_destroy(&attr);
#endif
  return (uintptr_t)addr;
#endif
}

}  // namespace

v8::Local<v8::Value> GetAsyncContext(v8::Isolate *isolate) {
#if V8_MAJOR_VERSION >= 12
  return isolate->GetContinuationPreservedEmbedderData();
#else
  return isolate->GetCurrentContext()->GetContinuationPreservedEmbedderData();
#endif
}

void *WorkerMain(void *arg) {
  Worker *w = static_cast<Worker *>(arg);
  w->stack_low = CurrentStackLow();
#if defined(__linux__)
  w->tid.store((int)syscall(SYS_gettid), std::memory_order_release);
#endif
  // With spinning on, the pool wait may spin only when this thread did not
  // just wake a sleeping thread, which may then run on this CPU.
  bool handed_to_spinner = false;
  for (;;) {
    w->baton.wait(handed_to_spinner && w->baton.quick() ? 1 : 0);
    if (w->exit) break;
    // Posted after RunOnWorker has dropped the isolate lock.
    handed_to_spinner = w->rt->RunOnWorker(w)->post();
  }
  return nullptr;
}

GreenletRuntime::GreenletRuntime(napi_env env, v8::Local<v8::Function> trampoline)
    : env_(env), isolate_(v8::Isolate::GetCurrent()) {
  v8::HandleScope scope(isolate_);
  context_.Reset(isolate_, isolate_->GetCurrentContext());
  trampoline_.Reset(isolate_, trampoline);
  InitProcess();
  main_.id = 0;
  main_.started = true;
  main_.baton = &main_baton_;
  current_ = &main_;
  records_[0] = &main_;
  idle_timeout_ns_ = kDefaultIdleNs;
  const char *e = getenv("LOOPLET_GREENLET_IDLE_MS");
  if (e != nullptr && *e != 0) {
    char *end = nullptr;
    double ms = strtod(e, &end);
    if (end != e && *end == 0 && ms >= 0 && ms <= 86400000.0) idle_timeout_ns_ = (int64_t)(ms * 1e6);
  }
  // Wasm code GC aborts the process when archived threads exist ("archived
  // threads in combination with wasm not supported"), so it is switched off
  // before the first greenlet can suspend.
  static const char kFlag[] = "--no-wasm-code-gc";
  v8::V8::SetFlagsFromString(kFlag, sizeof kFlag - 1);
  napi_status status = napi_add_env_cleanup_hook(env_, OnCleanup, this);
  assert(status == napi_ok);
  (void)status;
}

GreenletRuntime::~GreenletRuntime() {
  napi_remove_env_cleanup_hook(env_, OnCleanup, this);
  Shutdown();
}

void GreenletRuntime::OnCleanup(void *arg) { static_cast<GreenletRuntime *>(arg)->Shutdown(); }

double GreenletRuntime::SumCounter(uint64_t (Baton::*counter)() const) const {
  uint64_t n = (main_baton_.*counter)();
  for (Worker *w : workers_) n += (w->baton.*counter)();
  return (double)n;
}

void GreenletRuntime::set_idle_timeout_ms(int64_t ms) {
  idle_timeout_ns_ = ms * 1000000;
  if (trim_timer_ != nullptr && trim_pending_) {
    uv_timer_stop(&trim_timer_->timer);
    trim_pending_ = false;
  }
  StartTrimTimer();
}

int GreenletRuntime::Create(size_t stack_size, v8::Local<v8::Value> context) {
  if (shutting_down_) return -ESHUTDOWN;
  int err = 0;
  Worker *w = TakeWorker(stack_size, &err);
  if (w == nullptr) return err;
  Record *r = new Record;
  r->id = next_id_++;
  r->stack_size = stack_size;
  if (!context.IsEmpty()) r->context.Reset(isolate_, context);
  Assign(r, w);
  records_[r->id] = r;
  return r->id;
}

// An idle thread with this stack size (the most recently used), or a new
// one. nullptr with *err = -errno when no thread could be made.
Worker *GreenletRuntime::TakeWorker(size_t stack_size, int *err) {
  for (size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->stack_size == stack_size) {
      Worker *w = idle_[i];
      idle_.erase(idle_.begin() + (long)i);
      return w;
    }
  }
  Worker *w = new Worker;
  w->rt = this;
  w->stack_size = stack_size;
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc == 0) {
    rc = pthread_attr_setstacksize(&attr, stack_size);
    if (rc == 0) rc = pthread_create(&w->thread, &attr, WorkerMain, w);
    pthread_attr_destroy(&attr);
  }
  if (rc != 0) {
    delete w;
    *err = -rc;
    return nullptr;
  }
  created_++;
  workers_.push_back(w);
  FutexHash::ThreadsChanged(+1);
  return w;
}

void GreenletRuntime::Assign(Record *r, Worker *w) {
  r->started = true;
  r->worker = w;
  r->baton = &w->baton;
  w->assigned = r;
}

// Saves the async context of the greenlet switching away (a global handle
// is made only when it changed).
void GreenletRuntime::SaveContext(Record *r) {
  v8::Local<v8::Value> now = GetAsyncContext(isolate_);
  if (r->context.IsEmpty() || r->context != now) r->context.Reset(isolate_, now);
}

int GreenletRuntime::SwitchTo(int id) {
  auto it = records_.find(id);
  if (it == records_.end()) return -ENOENT;
  Record *target = it->second;
  Record *self = current_;
  if (shutting_down_) return -ESHUTDOWN;
  if (target == self) return kResume;
  assert(target->started);
  current_ = target;
  switches_++;
  SaveContext(self);
  {
    // Wake the target only once the lock is free, or it would wake only to
    // block on the isolate lock (a second sleep and wake per switch).
    LeavingIsolate();
    v8::Unlocker unlocker(isolate_);
    bool elsewhere = PlaceTarget(self, target);
    bool spinning = target->baton->post();
    // With spinning on: a target that slept wakes on another CPU, which may
    // be idle, and that wake-up alone can take ~20 us: the first spin gets
    // a longer budget.
    int spin = 0;
    if (self->baton->quick()) spin = spinning ? 1 : elsewhere ? kFirstSpinFactor : 0;
    self->baton->wait(spin);
  }
  TookIsolate(self == &main_);
  if (self->context != GetAsyncContext(isolate_)) SetAsyncContext(isolate_, self->context.Get(isolate_));
  int wake = self->wake;
  self->wake = kResume;
  if (wake == kTerminate) isolate_->TerminateExecution();
  return wake;
}

// Decides where the target's thread runs, before it is posted. By default
// (no spinning) on the caller's CPU: only one of them runs at a time, the
// caller yields that CPU to it, and caches stay warm. With spinning on, the
// caller may spin while it waits only if the target runs on another CPU:
// when the target spins already, or when this puts it there, which it does
// when both sides' last waits were quick. Returns whether the target was
// placed on another CPU.
bool GreenletRuntime::PlaceTarget(Record *self, Record *target) {
  Worker *w = target->worker;
  if (w == nullptr || target->baton->spinning()) return false;
  if (self->baton->quick() && target->baton->quick()) return PinElsewhere(w);
  FollowCpu(w);
  return false;
}

// sched_getcpu is a vDSO call; the affinity syscall happens only when the
// waker has moved to another CPU.
void GreenletRuntime::FollowCpu(Worker *w) {
#if defined(__linux__)
  int tid = w->tid.load(std::memory_order_acquire);
  int cpu = sched_getcpu();
  if (tid == 0 || cpu < 0 || cpu == w->cpu) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(tid, sizeof set, &set) == 0) w->cpu = cpu;
#else
  (void)w;
#endif
}

// Pins w to an allowed CPU other than the caller's: the one it has if it
// has one, else the next allowed CPU after the caller's.
bool GreenletRuntime::PinElsewhere(Worker *w) {
#if defined(__linux__)
  int tid = w->tid.load(std::memory_order_acquire);
  int cpu = sched_getcpu();
  if (tid == 0 || cpu < 0) return false;
  if (w->cpu >= 0 && w->cpu != cpu) return true;
  for (int i = 1; i < CPU_SETSIZE; i++) {
    int c = (cpu + i) % CPU_SETSIZE;
    if (!CPU_ISSET(c, &g_allowed_cpus)) continue;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(c, &set);
    if (sched_setaffinity(tid, sizeof set, &set) != 0) return false;
    w->cpu = c;
    return true;
  }
#else
  (void)w;
#endif
  return false;
}

// Runs one greenlet to completion on worker w, gives the thread back to the
// pool, makes the greenlet the trampoline names current and returns its
// baton, which the caller posts once the isolate lock is released.
Baton *GreenletRuntime::RunOnWorker(Worker *w) {
  Record *r = w->assigned;
  v8::Locker locker(isolate_);
  v8::Isolate::Scope isolate_scope(isolate_);
  TookIsolate(false);
  // Leave room below V8's limit for native frames (Node, addons, the
  // runtime functions V8 calls): 1/8 of the stack, within [32 KiB, 256 KiB].
  size_t margin = w->stack_size / 8;
  if (margin < 32 * 1024) margin = 32 * 1024;
  if (margin > 256 * 1024) margin = 256 * 1024;
  if (w->stack_low) isolate_->SetStackLimit(w->stack_low + margin);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = context_.Get(isolate_);
  v8::Context::Scope context_scope(context);

  int next = 0;
  if (r->wake == kTerminate) {
    r->wake = kResume;
    next = current_->id;  // never started: nothing to unwind
  } else {
    v8::TryCatch try_catch(isolate_);
    if (!r->context.IsEmpty()) SetAsyncContext(isolate_, r->context.Get(isolate_));
    v8::Local<v8::Value> arg = v8::Integer::New(isolate_, r->id);
    v8::MaybeLocal<v8::Value> result = trampoline_.Get(isolate_)->Call(context, v8::Undefined(isolate_), 1, &arg);
    v8::Local<v8::Value> value;
    if (result.ToLocal(&value) && value->IsInt32()) {
      next = value.As<v8::Int32>()->Value();
    } else if (terminator_ != nullptr) {
      // Unwound by Shutdown: hand control back to it.
      isolate_->CancelTerminateExecution();
      next = terminator_->id;
    } else {
      // Terminated from outside (worker.terminate(), a vm timeout) or a bug
      // in the trampoline. The termination is for the whole stack of
      // switches, not only this greenlet: re-raise it in the main greenlet.
      ended_outside_++;
      if (ended_counter_ != nullptr) *ended_counter_ = ended_outside_;
      if (isolate_->IsExecutionTerminating()) {
        isolate_->CancelTerminateExecution();
        main_.wake = kTerminate;
      }
      next = 0;
    }
  }
  // The record is not needed once its greenlet has finished.
  records_.erase(r->id);
  delete r;
  w->assigned = nullptr;
  auto it = records_.find(next);
  Record *target = it != records_.end() ? it->second : &main_;
  GiveBack(w);
  if (!target->started) {
    // lib/greenlet.ts names only greenlets that have a thread (create()
    // takes one); this is for a trampoline that broke that rule.
    target = &main_;
    main_.wake = kNoThread;
  }
  current_ = target;
  switches_++;
  LeavingIsolate();
  return target->baton;
}

// Garbage collection scans the native stack of the thread it runs on, from
// its stack pointer up to the stack start the heap has recorded, so a
// thread that takes the isolate records its own: Isolate::Enter() does (a
// v8::Isolate::Scope in RunOnWorker; an Enter/Exit pair after an Unlocker).
// Without it a collection on a greenlet thread scanned up to another
// thread's stack start, through unmapped memory: SIGSEGV (seen on Node 20
// with 10,000 greenlets) or, the other way round, no stack at all. V8 11's
// C++ heap (cppgc) keeps its own stack start, that of the thread that
// attached it, and offers no way to move it: there, while a greenlet thread
// holds the isolate, cppgc is told the stack holds no pointers of its heap
// (nothing of Node 20 lives in cppgc).
void GreenletRuntime::TookIsolate(bool main_thread) {
  isolate_->Enter();
  isolate_->Exit();
#if V8_MAJOR_VERSION < 12
  if (!main_thread && !no_stack_scan_held_ && isolate_->GetCppHeap() != nullptr) {
    ::new (static_cast<void *>(no_stack_scan_)) cppgc::testing::OverrideEmbedderStackStateScope(
        isolate_->GetCppHeap()->GetHeapHandle(), cppgc::EmbedderStackState::kNoHeapPointers);
    no_stack_scan_held_ = true;
  }
#else
  (void)main_thread;
#endif
}

// Before this thread hands the isolate to another.
void GreenletRuntime::LeavingIsolate() {
#if V8_MAJOR_VERSION < 12
  if (no_stack_scan_held_) {
    reinterpret_cast<cppgc::testing::OverrideEmbedderStackStateScope *>(no_stack_scan_)->~OverrideEmbedderStackStateScope();
    no_stack_scan_held_ = false;
  }
#endif
}

// A finished greenlet's thread goes back to the pool.
void GreenletRuntime::GiveBack(Worker *w) {
  w->idle_since_ns = NowNs();
  idle_.push_back(w);
  if (idle_.size() > kReserve) StartTrimTimer();
}

// Arms the (unref'd) timer that ends idle threads beyond the reserve.
void GreenletRuntime::StartTrimTimer() {
  if (trim_pending_ || shutting_down_ || idle_.size() <= kReserve) return;
  if (trim_timer_ == nullptr) {
    uv_loop_t *loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok || loop == nullptr) return;
    TrimTimer *t = new TrimTimer;
    if (uv_timer_init(loop, &t->timer) != 0) {
      delete t;
      return;
    }
    t->rt = this;
    t->timer.data = t;
    uv_unref(reinterpret_cast<uv_handle_t *>(&t->timer));
    napi_status status = napi_add_async_cleanup_hook(
        env_,
        [](napi_async_cleanup_hook_handle, void *arg) {
          TrimTimer *tt = static_cast<TrimTimer *>(arg);
          uv_close(reinterpret_cast<uv_handle_t *>(&tt->timer), [](uv_handle_t *h) {
            TrimTimer *closed = static_cast<TrimTimer *>(h->data);
            napi_remove_async_cleanup_hook(closed->hook);
            delete closed;
          });
        },
        t, &t->hook);
    assert(status == napi_ok);
    (void)status;
    trim_timer_ = t;
  }
  int64_t oldest = idle_.front()->idle_since_ns;
  for (Worker *w : idle_) oldest = w->idle_since_ns < oldest ? w->idle_since_ns : oldest;
  int64_t due_ns = oldest + idle_timeout_ns_ - NowNs();
  uint64_t due_ms = due_ns <= 0 ? 0 : (uint64_t)(due_ns / 1000000) + 1;
  trim_pending_ = true;
  uv_timer_start(
      &trim_timer_->timer,
      [](uv_timer_t *t) {
        GreenletRuntime *rt = static_cast<TrimTimer *>(t->data)->rt;
        if (rt == nullptr) return;
        rt->trim_pending_ = false;
        rt->TrimIdle(false);
        rt->StartTrimTimer();
      },
      due_ms, 0);
}

// Ends idle threads: those idle past the timeout beyond the kReserve most
// recently used, or (all) every one. Runs on the environment's thread with
// no greenlet running; joining an idle thread takes a baton post.
void GreenletRuntime::TrimIdle(bool all) {
  int64_t now = NowNs();
  std::vector<Worker *> leaving;
  size_t keep = all ? 0 : kReserve;
  while (idle_.size() > keep) {
    // idle_ is ordered most recently idle last; the front is the oldest.
    Worker *w = idle_.front();
    if (!all && now - w->idle_since_ns < idle_timeout_ns_) break;
    idle_.erase(idle_.begin());
    leaving.push_back(w);
  }
  for (Worker *w : leaving) {
    w->exit = true;
    w->baton.post();
  }
  for (Worker *w : leaving) {
    pthread_join(w->thread, nullptr);
    FutexHash::ThreadsChanged(-1);
    for (size_t i = 0; i < workers_.size(); i++) {
      if (workers_[i] == w) {
        workers_.erase(workers_.begin() + (long)i);
        break;
      }
    }
    delete w;
  }
}

void GreenletRuntime::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (trim_timer_ != nullptr) {
    // Its async cleanup hook closes it; from now on it must not call in.
    uv_timer_stop(&trim_timer_->timer);
    trim_timer_->rt = nullptr;
    trim_timer_ = nullptr;
  }
  // Node runs cleanup hooks inside a SealHandleScope, and since V8 13 (Node
  // 24) restoring an archived thread (~Unlocker below) makes a handle: the
  // debugger's stack walk keeps the active wasm continuation in one.
  v8::HandleScope handle_scope(isolate_);
  // Unwind every suspended greenlet from this (the environment's) thread.
  std::vector<int> suspended;
  for (auto &kv : records_) {
    Record *r = kv.second;
    if (r != &main_ && r->started && r != current_) suspended.push_back(r->id);
  }
  for (int id : suspended) {
    auto it = records_.find(id);
    if (it == records_.end()) continue;  // ended while another was unwound
    Record *r = it->second;
    Record *self = current_;
    terminator_ = self;
    r->wake = kTerminate;
    current_ = r;
    {
      LeavingIsolate();
      v8::Unlocker unlocker(isolate_);
      r->baton->post();
      self->baton->wait();
    }
    TookIsolate(self == &main_);
    self->wake = kResume;
  }
  terminator_ = nullptr;
  // Join the threads: when a worker environment ends, Node may unload this
  // addon right after, and no thread may still run its code then. A thread
  // that is not idle (its greenlet could not be unwound) is left alone.
  TrimIdle(true);
  workers_.clear();
  for (auto &kv : records_)
    if (kv.second != &main_) delete kv.second;
  records_.clear();
}

}  // namespace looplet_greenlet
