// Greenlets for V8: each greenlet runs JavaScript on the stack of its own OS
// thread, and exactly one of the environment's threads runs JS at a time.
//
// Why threads: V8 keeps per-thread state in C++ thread_locals, so switching
// stacks inside one thread is not possible with V8's public API. A switch
// from A to B instead hands the isolate's v8::Locker from thread A to
// thread B: A wakes B's baton and enters a v8::Unlocker (V8 archives A's
// thread state; its stack stays a GC root), B takes the Locker (V8 restores
// B's state) and continues. The caller's thread sleeps until someone
// switches back to it.
//
// This file only moves control. lib/greenlet.ts owns the semantics (values,
// exceptions, parents, tracing); it passes values through JS variables, so no
// V8 handle ever crosses threads here. Records are identified by integer ids.
//
// Invariants
//   - Every field of GreenletRuntime is touched only by the thread that holds
//     the isolate lock, except a Worker's baton and its exit flag.
//   - A worker thread touches V8 only between taking and dropping the Locker.
//   - Workers are pooled: a finished greenlet gives its thread back, so a
//     spawn costs a baton post instead of a thread creation.
//   - At environment cleanup every suspended greenlet is unwound with
//     TerminateExecution (no JS runs; finally blocks are skipped) and every
//     pooled thread exits, before V8 or Node tear anything down.
#include <errno.h>
#include <napi.h>
#include <pthread.h>
#if defined(__FreeBSD__) || defined(__DragonFly__) || defined(__OpenBSD__)
#include <pthread_np.h>
#endif
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <v8.h>

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#include <condition_variable>
#endif


namespace {

// Spinning (docs/greenlets.md, "Waiting"). A switch wakes the target's thread
// and puts the caller's to sleep; with futexes that is a sleep and a wake per
// switch, ~2 us on one CPU of the VM this was measured on, ~20 us when the
// target wakes on an idle vCPU. When the caller gets control back soon
// (ping-pong, spawn and finish), it is cheaper to wait by spinning on one CPU
// while the target runs on another: tens of ns for the hand-off itself. So a
// waiter spins, for at most g_spin_ns, when
//   - its previous wait ended within g_spin_ns (Baton::quick), so a long
//     wait costs one wasted budget and the next wait sleeps at once,
//   - the thread it woke runs on another CPU (PlaceTarget), and
//   - a spinner slot is free: at most half the CPUs this process may use
//     spin at once, process-wide, and nothing spins on a single CPU.
std::atomic<int64_t> g_spin_ns{0};
std::atomic<int> g_spinners{0};
int g_max_spinners = 0;
#if defined(__linux__)
cpu_set_t g_allowed_cpus;  // the process's affinity mask when the first runtime was made
#endif
constexpr int64_t kDefaultSpinNs = 20000;
constexpr int kFirstSpinFactor = 4;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

bool TakeSpinnerSlot() {
  int n = g_spinners.load(std::memory_order_relaxed);
  while (n < g_max_spinners)
    if (g_spinners.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
  return false;
}

void GiveSpinnerSlot() { g_spinners.fetch_sub(1, std::memory_order_relaxed); }

// Decides the spinning defaults once per process: LOOPLET_GREENLET_SPIN_US
// overrides the budget (0 switches spinning off).
void InitSpinning() {
  static std::once_flag once;
  std::call_once(once, [] {
    int cpus = 1;
#if defined(__linux__)
    CPU_ZERO(&g_allowed_cpus);
    if (sched_getaffinity(0, sizeof g_allowed_cpus, &g_allowed_cpus) == 0)
      cpus = CPU_COUNT(&g_allowed_cpus);
#endif
    g_max_spinners = cpus / 2;
    int64_t ns = kDefaultSpinNs;
    const char *e = getenv("LOOPLET_GREENLET_SPIN_US");
    if (e != nullptr && *e != 0) ns = (int64_t)(atof(e) * 1000);
    g_spin_ns.store(g_max_spinners > 0 && ns > 0 ? ns : 0);
  });
}

// A binary semaphore: post() wakes one wait(); a post before the wait is kept.
class Baton {
 public:
  // Returns whether the waiter was spinning: then it runs on another CPU.
  bool post() {
#if defined(__linux__)
    if (g_spin_ns.load(std::memory_order_relaxed) > 0)
      posted_ns_.store(NowNs(), std::memory_order_relaxed);
    int old = state_.exchange(kPosted, std::memory_order_release);
    // Whoever moves the state out of kSpinning gives the spinner slot back.
    if (old == kSpinning) {
      GiveSpinnerSlot();
      return true;
    }
    if (old == kSleeping) syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    return false;
#else
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
    cv_.notify_one();
    return false;
#endif
  }

  // Waits for a post; spins first, for the budget times `spin`, if `spin` is
  // not 0 and a spinner slot is free.
  void wait(int spin = 0) {
#if defined(__linux__)
    int64_t budget = g_spin_ns.load(std::memory_order_relaxed);
    int64_t start = budget > 0 ? NowNs() : 0;
    int skip = skip_.load(std::memory_order_relaxed);
    if (skip > 0)
      skip_.store(skip - 1, std::memory_order_relaxed);
    else if (spin > 0 && budget > 0)
      Spin(start + budget * spin);
    for (;;) {
      int expected = kPosted;
      if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) break;
      expected = kEmpty;
      if (state_.compare_exchange_strong(expected, kSleeping, std::memory_order_relaxed) ||
          expected == kSleeping) {
        Count(sleeps_);
        syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kSleeping, nullptr, nullptr, 0);
      }
    }
    if (budget > 0)
      last_wait_ns_.store(posted_ns_.load(std::memory_order_relaxed) - start,
                          std::memory_order_relaxed);
#else
    (void)spin;
    std::unique_lock<std::mutex> lock(mu_);
    if (!ready_) Count(sleeps_);
    cv_.wait(lock, [&] { return ready_; });
    ready_ = false;
#endif
  }

  // Whether the last wait was posted within the spin budget: a guess that
  // the next one will be too.
  bool quick() const {
#if defined(__linux__)
    int64_t budget = g_spin_ns.load(std::memory_order_relaxed);
    return budget > 0 && skip_.load(std::memory_order_relaxed) == 0 &&
           last_wait_ns_.load(std::memory_order_relaxed) <= budget;
#else
    return false;
#endif
  }

  // Waits that ended while spinning, spins that ran out of budget, sleeps.
  uint64_t spins() const { return Load(spins_); }
  uint64_t spin_timeouts() const { return Load(spin_timeouts_); }
  uint64_t sleeps() const { return Load(sleeps_); }

  // Whether a thread spins on this baton now (so a post reaches it at once).
  bool spinning() const {
#if defined(__linux__)
    return state_.load(std::memory_order_relaxed) == kSpinning;
#else
    return false;
#endif
  }

 private:
  static void Count(std::atomic<uint64_t> &c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static uint64_t Load(const std::atomic<uint64_t> &c) { return c.load(std::memory_order_relaxed); }

  // Written only by the waiting thread, read by stats().
  std::atomic<uint64_t> spins_{0}, spin_timeouts_{0}, sleeps_{0};
#if defined(__linux__)
  enum { kEmpty = 0, kPosted = 1, kSleeping = 2, kSpinning = 3 };

  // Returns when posted or past the deadline; the state is then kPosted or
  // kSleeping-to-be (kEmpty), never kSpinning.
  void Spin(int64_t deadline) {
    if (state_.load(std::memory_order_relaxed) == kPosted || !TakeSpinnerSlot()) return;
    int expected = kEmpty;
    if (!state_.compare_exchange_strong(expected, kSpinning, std::memory_order_relaxed)) {
      GiveSpinnerSlot();  // posted meanwhile
      return;
    }
    for (unsigned i = 1;; i++) {
      if (state_.load(std::memory_order_acquire) == kPosted) {  // post gave the slot back
        Count(spins_);
        penalty_ /= 2;
        return;
      }
      CpuRelax();
      if ((i & 63) == 0 && NowNs() >= deadline) {
        expected = kSpinning;
        if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_relaxed)) {
          GiveSpinnerSlot();
          Count(spin_timeouts_);
          // Back off: the next 1, 2, 4, ... 256 waits sleep at once (each
          // spin that succeeds halves that again). Spins run out when the
          // CPUs are busy with other work; then spinning only takes CPU
          // time from the thread it waits for.
          penalty_ = penalty_ == 0 ? 1 : penalty_ < kMaxPenalty ? 2 * penalty_ : kMaxPenalty;
          skip_.store(penalty_, std::memory_order_relaxed);
        } else {
          Count(spins_);  // posted at the last moment; the post gave the slot back
        }
        return;
      }
    }
  }

  std::atomic<int> state_{kEmpty};
  std::atomic<int64_t> posted_ns_{0};
  std::atomic<int64_t> last_wait_ns_{INT64_MAX};  // unknown: not quick
  static constexpr int kMaxPenalty = 256;
  int penalty_ = 0;             // waits to skip after the next spin that runs out
  std::atomic<int> skip_{0};    // waits left that must not spin (read by quick())
#else
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
#endif
};

enum WakeReason { kResume = 0, kTerminate = 1 };

struct Worker;

struct Record {
  int id = 0;
  size_t stack_size = 0;
  Worker *worker = nullptr;  // set while started and not finished
  bool started = false;
  Baton *baton = nullptr;    // the baton its thread sleeps on
  int wake = kResume;
  // The greenlet's async context: V8's continuation-preserved embedder data,
  // where Node's AsyncContextFrame (AsyncLocalStorage from Node 24, and on 22
  // with --experimental-async-context-frame) keeps the current stores. It is
  // per isolate, not per thread, so each switch saves the caller's and puts
  // back the target's. Empty: leave whatever is current.
  v8::Global<v8::Value> context;
};

// napi_value is a v8::Local<v8::Value> (Node's own addons rely on it too).
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

// The continuation-preserved embedder data: on the isolate from V8 12, on
// the context before.
v8::Local<v8::Value> GetAsyncContext(v8::Isolate *isolate) {
#if V8_MAJOR_VERSION >= 12
  return isolate->GetContinuationPreservedEmbedderData();
#else
  return isolate->GetCurrentContext()->GetContinuationPreservedEmbedderData();
#endif
}

void SetAsyncContext(v8::Isolate *isolate, v8::Local<v8::Value> value) {
#if V8_MAJOR_VERSION >= 12
  isolate->SetContinuationPreservedEmbedderData(value);
#else
  isolate->GetCurrentContext()->SetContinuationPreservedEmbedderData(value);
#endif
}

class GreenletRuntime;

struct Worker {
  GreenletRuntime *rt = nullptr;
  pthread_t thread;
  size_t stack_size = 0;
  uintptr_t stack_low = 0;  // lowest usable address of the thread's stack
  std::atomic<int> tid{0};  // kernel thread id (Linux), for CPU affinity
  int cpu = -1;             // the CPU this thread is pinned to, -1 if none
  Baton baton;
  Record *assigned = nullptr;
  bool exit = false;
};

class GreenletRuntime {
 public:
  GreenletRuntime(Napi::Env env, Napi::Function trampoline);
  ~GreenletRuntime();

  // A record for a greenlet that will start in async context `context`.
  int Create(size_t stack_size, v8::Local<v8::Value> context);
  // Switches from the current greenlet to `id`; returns when switched back.
  // Returns the wake reason, or -errno if the switch was impossible.
  int SwitchTo(int id);
  int stats_threads() const { return (int)threads_; }
  double stats_switches() const { return (double)switches_; }
  int stats_idle() const { return (int)idle_.size(); }
  // Sums a Baton counter over the batons of this runtime's threads.
  double SumCounter(uint64_t (Baton::*counter)() const) const {
    uint64_t n = (main_baton_.*counter)();
    for (Worker *w : workers_) n += (w->baton.*counter)();
    return (double)n;
  }

  static void OnCleanup(void *arg);

 private:
  friend void *WorkerMain(void *arg);
  Worker *TakeWorker(size_t stack_size);
  Baton *RunOnWorker(Worker *w);
  bool PlaceTarget(Record *self, Record *target);
  void FollowCpu(Worker *w);
  bool PinElsewhere(Worker *w);
  void Shutdown();

  napi_env env_;
  v8::Isolate *isolate_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> trampoline_;
  std::unordered_map<int, Record *> records_;
  Record main_;
  Baton main_baton_;
  Record *current_;
  std::vector<Worker *> idle_;
  std::vector<Worker *> workers_;  // every thread made, joined at shutdown
  size_t threads_ = 0;
  uint64_t switches_ = 0;  // hand-offs of the isolate lock to another greenlet
  int next_id_ = 1;
  bool shutting_down_ = false;
  Record *terminator_ = nullptr;  // the greenlet unwinding others at cleanup
};

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

void *WorkerMain(void *arg) {
  Worker *w = static_cast<Worker *>(arg);
  w->stack_low = CurrentStackLow();
#if defined(__linux__)
  w->tid.store((int)syscall(SYS_gettid), std::memory_order_release);
#endif
  // The pool wait may spin only when this thread did not just wake a
  // sleeping thread, which may then run on this CPU.
  bool handed_to_spinner = false;
  for (;;) {
    w->baton.wait(handed_to_spinner && w->baton.quick() ? 1 : 0);
    if (w->exit) break;
    // Posted after RunOnWorker has dropped the isolate lock.
    handed_to_spinner = w->rt->RunOnWorker(w)->post();
  }
  return nullptr;
}

GreenletRuntime::GreenletRuntime(Napi::Env env, Napi::Function trampoline)
    : env_(env), isolate_(v8::Isolate::GetCurrent()) {
  v8::HandleScope scope(isolate_);
  context_.Reset(isolate_, isolate_->GetCurrentContext());
  trampoline_.Reset(isolate_, ToLocal(trampoline).As<v8::Function>());
  InitSpinning();
  main_.id = 0;
  main_.started = true;
  main_.baton = &main_baton_;
  current_ = &main_;
  records_[0] = &main_;
  // Wasm code GC aborts the process when archived threads exist ("archived
  // threads in combination with wasm not supported"), so it is switched off
  // before the first greenlet can suspend.
  static const char kFlag[] = "--no-wasm-code-gc";
  v8::V8::SetFlagsFromString(kFlag, sizeof kFlag - 1);
  napi_add_env_cleanup_hook(env_, OnCleanup, this);
}

GreenletRuntime::~GreenletRuntime() {
  napi_remove_env_cleanup_hook(env_, OnCleanup, this);
  Shutdown();
}

void GreenletRuntime::OnCleanup(void *arg) { static_cast<GreenletRuntime *>(arg)->Shutdown(); }

int GreenletRuntime::Create(size_t stack_size, v8::Local<v8::Value> context) {
  Record *r = new Record;
  r->id = next_id_++;
  r->stack_size = stack_size;
  if (!context.IsEmpty()) r->context.Reset(isolate_, context);
  records_[r->id] = r;
  return r->id;
}

Worker *GreenletRuntime::TakeWorker(size_t stack_size) {
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
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_size);
  int rc = pthread_create(&w->thread, &attr, WorkerMain, w);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete w;
    return nullptr;
  }
  threads_++;
  workers_.push_back(w);
  return w;
}

int GreenletRuntime::SwitchTo(int id) {
  auto it = records_.find(id);
  if (it == records_.end()) return -ENOENT;
  Record *target = it->second;
  Record *self = current_;
  if (shutting_down_) return -ESHUTDOWN;
  if (target == self) return kResume;
  if (!target->started) {
    Worker *w = TakeWorker(target->stack_size);
    if (w == nullptr) return -EAGAIN;
    target->started = true;
    target->worker = w;
    target->baton = &w->baton;
    w->assigned = target;
  }
  current_ = target;
  switches_++;
  self->context.Reset(isolate_, GetAsyncContext(isolate_));
  {
    // Wake the target only once the lock is free, or it would wake only to
    // block on the isolate lock (a second sleep and wake per switch).
    v8::Unlocker unlocker(isolate_);
    bool elsewhere = PlaceTarget(self, target);
    bool spinning = target->baton->post();
    // A target that slept wakes on another CPU, which may be idle: that
    // wake-up alone took ~20 us on the VM this was measured on, so the
    // first spin gets a longer budget.
    int spin = 0;
    if (self->baton->quick()) spin = spinning ? 1 : elsewhere ? kFirstSpinFactor : 0;
    self->baton->wait(spin);
  }
  SetAsyncContext(isolate_, self->context.Get(isolate_));
  int wake = self->wake;
  self->wake = kResume;
  if (wake == kTerminate) isolate_->TerminateExecution();
  return wake;
}

// Decides where the target's thread runs, before it is posted. The caller
// may spin while it waits only if the target runs on another CPU: when the
// target spins already, or when this puts it on another CPU, which it does
// when both sides' last waits were quick. Otherwise the target's thread is
// moved to the caller's CPU and the caller sleeps: only one of them runs at
// a time, and waking a thread on an idle vCPU costs ~20 us on the VM this
// was measured on, ~2.5 us on the same CPU. Returns whether the target was
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
    v8::MaybeLocal<v8::Value> result =
        trampoline_.Get(isolate_)->Call(context, v8::Undefined(isolate_), 1, &arg);
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
  idle_.push_back(w);
  if (!target->started) {
    // The parent was never started: it starts with what the trampoline left.
    Worker *tw = TakeWorker(target->stack_size);
    target->started = true;
    target->worker = tw;
    target->baton = &tw->baton;
    tw->assigned = target;
  }
  current_ = target;
  switches_++;
  return target->baton;
}

void GreenletRuntime::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  // Node runs cleanup hooks with no HandleScope open, and since V8 13 (Node
  // 24) restoring an archived thread (~Unlocker below) makes a handle: the
  // debugger's stack walk takes one for the active wasm continuation.
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
      v8::Unlocker unlocker(isolate_);
      r->baton->post();
      self->baton->wait();
    }
    self->wake = kResume;
  }
  terminator_ = nullptr;
  // Join the threads: when a worker environment ends, Node may unload this
  // addon right after, and no thread may still run its code then. A thread
  // that is not idle (its greenlet could not be unwound) is left alone.
  for (Worker *w : idle_) {
    w->exit = true;
    w->baton.post();
  }
  for (Worker *w : idle_) {
    pthread_join(w->thread, nullptr);
    delete w;
  }
  idle_.clear();
  workers_.clear();
  for (auto &kv : records_)
    if (kv.second != &main_) delete kv.second;
  records_.clear();
}

// The binding. createGreenletRuntime(trampoline) returns a plain object whose
// functions carry the runtime as their data pointer. It is not an ObjectWrap
// on purpose: unwrapping fails once the environment stops accepting calls
// into JS, and a greenlet being unwound at shutdown may still call
// switchTo(), which must then just answer -ESHUTDOWN. Functions return ids,
// wake reasons or negative errno values; lib/greenlet.ts validates input.
GreenletRuntime *RuntimeOf(napi_env env, napi_callback_info info, int32_t *arg) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  if (arg) {
    *arg = 0;
    if (argc >= 1) napi_get_value_int32(env, argv[0], arg);
  }
  return static_cast<GreenletRuntime *>(data);
}

napi_value Int(napi_env env, int32_t v) {
  napi_value out = nullptr;
  napi_create_int32(env, v, &out);
  return out;
}

// create(stackSize, context) -> id. context: an async context from
// context(), the one the greenlet starts in.
napi_value JsCreate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  int32_t stack_size = 0;
  if (argc >= 1) napi_get_value_int32(env, argv[0], &stack_size);
  v8::Local<v8::Value> context;
  if (argc >= 2) context = ToLocal(argv[1]);
  return Int(env, static_cast<GreenletRuntime *>(data)->Create((size_t)(uint32_t)stack_size, context));
}

// context() -> the current async context (opaque), for create().
napi_value JsContext(napi_env env, napi_callback_info info) {
  return FromLocal(GetAsyncContext(v8::Isolate::GetCurrent()));
}

napi_value JsSwitchTo(napi_env env, napi_callback_info info) {
  int32_t id;
  GreenletRuntime *rt = RuntimeOf(env, info, &id);
  return Int(env, rt->SwitchTo(id));
}

napi_value JsStats(napi_env env, napi_callback_info info) {
  GreenletRuntime *rt = RuntimeOf(env, info, nullptr);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "threads", Int(env, rt->stats_threads()));
  napi_set_named_property(env, out, "idleThreads", Int(env, rt->stats_idle()));
  napi_value switches;
  napi_create_double(env, rt->stats_switches(), &switches);
  napi_set_named_property(env, out, "switches", switches);
  struct Counter {
    const char *name;
    uint64_t (Baton::*fn)() const;
  };
  for (const Counter &c : {Counter{"spins", &Baton::spins}, Counter{"spinTimeouts", &Baton::spin_timeouts},
                           Counter{"sleeps", &Baton::sleeps}}) {
    napi_value v;
    napi_create_double(env, rt->SumCounter(c.fn), &v);
    napi_set_named_property(env, out, c.name, v);
  }
  return out;
}

// spin(ns?): sets the process-wide spin budget when given a number (0: off;
// ignored where nothing may spin, on one CPU) and returns the budget in
// effect, in nanoseconds.
napi_value JsSpin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  double ns;
  if (argc >= 1 && napi_get_value_double(env, argv[0], &ns) == napi_ok && g_max_spinners > 0)
    g_spin_ns.store(ns > 0 ? (int64_t)ns : 0, std::memory_order_relaxed);
  napi_value out;
  napi_create_double(env, (double)g_spin_ns.load(std::memory_order_relaxed), &out);
  return out;
}

Napi::Value CreateRuntime(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  GreenletRuntime *rt = new GreenletRuntime(env, info[0].As<Napi::Function>());
  Napi::Object api = Napi::Object::New(env);
  struct Entry {
    const char *name;
    napi_callback fn;
  };
  for (const Entry &e : {Entry{"create", JsCreate}, Entry{"switchTo", JsSwitchTo}, Entry{"context", JsContext},
                         Entry{"stats", JsStats}, Entry{"spin", JsSpin}}) {
    napi_value fn;
    napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, rt, &fn);
    api.Set(e.name, Napi::Value(env, fn));
  }
  api.AddFinalizer([](Napi::Env, GreenletRuntime *runtime) { delete runtime; }, rt);
  return api;
}

// The module: createGreenletRuntime, the Node ABI this binary was built
// for (NODE_MODULE_VERSION of the headers, passed in by binding.gyp;
// lib/binding.ts refuses a binary built for another one) and the
// negative errno values switchTo() answers with.
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("createGreenletRuntime", Napi::Function::New(env, CreateRuntime, "createGreenletRuntime"));
  exports.Set("nodeModuleVersion", Napi::Number::New(env, LP_NODE_MODULE_VERSION));
  Napi::Object errnos = Napi::Object::New(env);
  errnos.Set("ENOENT", Napi::Number::New(env, -ENOENT));
  errnos.Set("EAGAIN", Napi::Number::New(env, -EAGAIN));
  errnos.Set("ESHUTDOWN", Napi::Number::New(env, -ESHUTDOWN));
  exports.Set("errno", errnos);
  return exports;
}

}  // namespace

NODE_API_MODULE(looplet_greenlet, Init)
