// JS tasks: queues in process-global native memory, shared by the isolate
// that owns a ThreadPool (JsTaskQueue) and the worker threads that run its
// tasks (JsTaskWorker, one per worker).
//
// The addon is loaded once per isolate and each load has its own instance
// data, so what the isolates share cannot live there: a Shared record per
// pool sits in a process-wide registry, found by pool id, and every side
// holds it by shared_ptr. This is the one process-wide state of the addon
// (CONVENTIONS: none elsewhere); the registry itself is never destroyed, so
// that no static destructor runs while a worker thread may still use it.
//
// Flow. The owner pushes (task id, serialized arguments) under a token it
// chose; if a worker is idle, one is woken (uv_async_send on its own loop).
// A worker takes tasks one at a time (take(): the arguments are copied into
// its buffer), runs each, and completes it with the serialized result, then
// takes the next without going back to its loop; when the queue is empty it
// registers as idle and returns to its event loop, where its timers and I/O
// run. Completions go into the done ring; the first after the owner last
// drained wakes the owner (uv_async_send), and one drain() delivers the
// whole batch into the owner's buffers.
//
// The owner never waits for Shared::mu on its hot paths (push, drain,
// cancel of a queued task, state): with every CPU busy, a worker holding mu
// may be preempted, and an owner that slept on mu would sleep until that
// worker's next time slice (milliseconds of event-loop delay, measured:
// docs/pool.md, "Keeping the loop responsive"). Pushes travel to the
// workers through `incoming`, a single-producer ring (the owner produces;
// whoever holds mu consumes it into the FIFO), and completions back through
// `done`, a ring that workers produce into under mu and the owner consumes.
// A record's state and generation share one atomic word, so that claiming
// a queued task (a worker) and withdrawing it (the owner's cancel) are one
// compare-and-swap each.
//
// Invariants
//   - A record (per token) is FREE, QUEUED, RUNNING (worker names its
//     worker) or DONE (in the done ring). `incoming` and the FIFO hold
//     (token, gen) pairs; a pair whose gen is not the record's current one,
//     or whose record is not QUEUED, is a cancelled task's tombstone.
//   - Only the owner moves a record out of FREE, DONE (drain) or QUEUED by
//     cancel; only a worker under mu moves it QUEUED -> RUNNING -> DONE.
//   - `done` never fills: the owner grows both rings under mu (where it is
//     their only user) to hold every token before it uses a new one.
//     `incoming`, which also holds tombstones, is flushed into the FIFO
//     under mu when full.
//   - A worker is idle exactly when it is on the idle stack (under mu); it
//     is woken by the push that pops it. A worker stores idle_count before
//     its last look at `queued`, and the owner counts a push in `queued`
//     (after it is in the ring) before it reads idle_count, all seq_cst:
//     one of the two sees the other.
//   - The owner is woken only when `notified` goes from false to true;
//     drain() resets it once the done ring is empty, then looks again.
//   - uv_async handles are sent to only while their side has not detached:
//     each side clears its pointer under mu before closing the handle.
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <uv.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lp_assert.h"
#include "pool.h"
#include "spin_governor.h"

namespace {

using namespace lp_pool_binding;

enum RecState : uint8_t { FREE, QUEUED, RUNNING, DONE };

// A record's state and generation in one word: gen << 8 | state.
constexpr uint64_t Word(uint32_t gen, RecState st) { return (uint64_t)gen << 8 | st; }
constexpr RecState StateOf(uint64_t w) { return (RecState)(w & 0xff); }
constexpr uint32_t GenOf(uint64_t w) { return (uint32_t)(w >> 8); }

struct Rec {
  std::atomic<uint64_t> word{Word(0, FREE)};
  uint32_t task = 0;
  // worker and cancel_requested: the owner's while FREE (push resets them),
  // under mu while RUNNING (the claiming worker, cancel, cancelled()).
  int32_t worker = -1;
  bool cancel_requested = false;
  double status = 0;
  std::string args;
  std::string result;
  int64_t submit_ns = 0, start_ns = 0, end_ns = 0;
};

struct WorkerRec {
  uv_async_t *async = nullptr;  // null once detached
  int32_t current = -1;         // the token it runs
  bool idle = false;
  bool retired = false;
};

// A single-producer single-consumer ring of T. Each side may be taken by
// different threads over time as long as they are ordered (by mu). Each side
// keeps its own copy of the other's index, reloaded only when the ring
// looks full (producer) or empty (consumer), and the two sides' fields sit
// on separate cache lines. grow() needs both sides excluded.
template <typename T>
class Ring {
 public:
  explicit Ring(size_t cap) : buf_(cap), mask_(cap - 1) {}
  size_t capacity() const { return buf_.size(); }
  // From any thread: seq_cst loads, for the handshakes in the top comment.
  bool empty() const { return head_.load(std::memory_order_seq_cst) == tail_.load(std::memory_order_seq_cst); }
  // The producer's: false when full. order: of the store that publishes v.
  bool push(const T &v, std::memory_order order = std::memory_order_release) {
    size_t t = tail_.load(std::memory_order_relaxed);
    if (t - head_seen_ == buf_.size()) {
      head_seen_ = head_.load(std::memory_order_acquire);
      if (t - head_seen_ == buf_.size()) return false;
    }
    buf_[t & mask_] = v;
    tail_.store(t + 1, order);
    return true;
  }
  // The consumer's: the oldest element, or null when empty; pop() removes it.
  const T *front() {
    size_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_seen_) {
      tail_seen_ = tail_.load(std::memory_order_acquire);
      if (h == tail_seen_) return nullptr;
    }
    return &buf_[h & mask_];
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  void grow(size_t cap) {
    if (cap <= buf_.size()) return;
    std::vector<T> next(cap);
    size_t n = 0;
    for (const T *v; (v = front()) != nullptr; pop()) next[n++] = *v;
    buf_.swap(next);
    mask_ = cap - 1;
    head_.store(0, std::memory_order_relaxed);
    head_seen_ = 0;
    tail_seen_ = n;
    tail_.store(n, std::memory_order_release);
  }

 private:
  std::vector<T> buf_;
  size_t mask_;
  alignas(64) std::atomic<size_t> tail_{0};  // the producer's
  size_t head_seen_ = 0;                     // the producer's copy of head_
  alignas(64) std::atomic<size_t> head_{0};  // the consumer's
  size_t tail_seen_ = 0;                     // the consumer's copy of tail_
};

struct TaskDef {
  int kind;
  std::string a, b;
};

using Entry = std::pair<uint32_t, uint32_t>;  // (token, gen)

struct Shared {
  // Read on the owner's hot paths, rarely written (kept off the lines the
  // workers write all the time).
  uint32_t id = 0;
  size_t max_queue = 0;
  std::vector<std::unique_ptr<Rec>> recs;  // by token; grown by the owner under mu
  std::atomic<bool> shutdown{false};
  std::atomic<uint32_t> idle_count{0};  // idle.size()
  // A push found maxQueue tasks waiting: the worker that next takes one
  // wakes the owner, whose callback moves held tasks in (onQueueFull 'wait').
  // Read by every take, written only then.
  std::atomic<bool> room_wanted{false};

  alignas(64) std::mutex mu;
  std::deque<Entry> fifo;               // under mu
  uv_async_t *owner_async = nullptr;    // under mu
  std::unordered_map<uint32_t, WorkerRec> workers;
  std::vector<uint32_t> idle;
  std::unordered_map<uint32_t, TaskDef> tasks;

  Ring<Entry> incoming{256};  // owner -> FIFO (consumed under mu)
  Ring<uint32_t> done{256};   // workers (under mu) -> owner

  alignas(64) std::atomic<uint32_t> queued{0};  // QUEUED records
  std::atomic<uint32_t> running{0};             // RUNNING records

  alignas(64) std::atomic<bool> notified{false};
  std::atomic<int64_t> notified_ns{0};  // when notified turned true (NowNs)
  std::atomic<uint64_t> wakeups{0};

  // Under mu: moves what the owner pushed into the FIFO.
  void Flush() {
    for (const Entry *e; (e = incoming.front()) != nullptr; incoming.pop()) fifo.push_back(*e);
  }

  // under mu
  void WakeIdle() {
    while (!idle.empty()) {
      uint32_t w = idle.back();
      idle.pop_back();
      idle_count.store((uint32_t)idle.size(), std::memory_order_seq_cst);
      auto it = workers.find(w);
      if (it == workers.end() || !it->second.idle) continue;
      it->second.idle = false;
      if (it->second.async != nullptr) {
        int rc = uv_async_send(it->second.async);
        LP_ASSERT(rc == 0);
        (void)rc;
        return;
      }
    }
  }
  void WakeAllIdle() {
    while (!idle.empty()) WakeIdle();
  }
  void RemoveIdle(uint32_t w) {
    for (size_t i = 0; i < idle.size(); i++)
      if (idle[i] == w) {
        idle.erase(idle.begin() + (long)i);
        idle_count.store((uint32_t)idle.size(), std::memory_order_seq_cst);
        return;
      }
  }
  size_t LiveWorkers() const {
    size_t n = 0;
    for (auto &kv : workers)
      if (!kv.second.retired && kv.second.async != nullptr) n++;
    return n;
  }
};

struct Registry {
  std::mutex mu;
  uint32_t next_id = 1;
  std::unordered_map<uint32_t, std::shared_ptr<Shared>> pools;
};

Registry &registry() {
  static Registry *r = new Registry;  // never destroyed: see the top of the file
  return *r;
}

std::shared_ptr<Shared> FindShared(uint32_t id) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.pools.find(id);
  return it == r.pools.end() ? nullptr : it->second;
}

// Copies view v (undefined: empty; its first `length` bytes when length is
// a number) into s.
void CopyBytes(const Napi::Value &v, std::string &s, const Napi::Value &length = Napi::Value()) {
  if (!v.IsTypedArray()) {
    s.clear();
    return;
  }
  Napi::TypedArray view = v.As<Napi::TypedArray>();
  const char *p = static_cast<const char *>(view.ArrayBuffer().Data()) + view.ByteOffset();
  size_t n = view.ByteLength();
  if (!length.IsEmpty() && length.IsNumber()) {
    int64_t want = length.As<Napi::Number>().Int64Value();
    if (want >= 0 && (size_t)want < n) n = (size_t)want;
  }
  s.assign(p, n);
}

// Moves a record's bytes (field: its args or result) out into a Buffer:
// what did not fit the shared data buffer. Empty for an unknown token.
Napi::Value TakeBytes(Napi::Env env, Shared *shared, uint32_t token, std::string Rec::*field) {
  std::string bytes;
  if (shared != nullptr) {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (token < shared->recs.size() && shared->recs[token]) bytes.swap((*shared->recs[token]).*field);
  }
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
}

struct Buffers {
  Napi::Reference<Napi::Float64Array> header_ref;
  Napi::Reference<Napi::Uint8Array> data_ref;
  double *header = nullptr;
  size_t header_len = 0;
  uint8_t *data = nullptr;
  size_t data_len = 0;

  void Set(const Napi::CallbackInfo &info) {
    Napi::Float64Array h = info[0].As<Napi::Float64Array>();
    Napi::Uint8Array d = info[1].As<Napi::Uint8Array>();
    header_ref = Napi::Persistent(h);
    data_ref = Napi::Persistent(d);
    header = h.Data();
    header_len = h.ElementLength();
    data = d.Data();
    data_len = d.ElementLength();
  }
};

// ---- the owner's side ------------------------------------------------------

class JsTaskQueue : public Napi::ObjectWrap<JsTaskQueue> {
 public:
  JsTaskQueue(const Napi::CallbackInfo &info);
  ~JsTaskQueue() override { Close(); }
  static Napi::Function Define(Napi::Env env);

  Napi::Value Id(const Napi::CallbackInfo &info);
  Napi::Value SetBuffers(const Napi::CallbackInfo &info);
  Napi::Value DefineTask(const Napi::CallbackInfo &info);
  Napi::Value Push(const Napi::CallbackInfo &info);
  Napi::Value Cancel(const Napi::CallbackInfo &info);
  Napi::Value State(const Napi::CallbackInfo &info);
  Napi::Value Drain(const Napi::CallbackInfo &info);
  Napi::Value Result(const Napi::CallbackInfo &info);
  Napi::Value WorkerGone(const Napi::CallbackInfo &info);
  Napi::Value Stop(const Napi::CallbackInfo &info);
  Napi::Value Stats(const Napi::CallbackInfo &info);
  Napi::Value Ref(const Napi::CallbackInfo &info);
  Napi::Value CloseMethod(const Napi::CallbackInfo &info);

 private:
  void Close();
  static void OnEnvCleanup(void *arg) { static_cast<JsTaskQueue *>(arg)->Close(); }

  void OnPrepare();

  napi_env env_ = nullptr;
  std::shared_ptr<Shared> shared_;
  uv_async_t *async_ = nullptr;
  uv_prepare_t *prepare_ = nullptr;  // spin_ns_ > 0 only
  int64_t spin_ns_ = 0;
  lp_spin_governor governor_ = {};  // this thread's spins (spin_governor.h)
  Napi::FunctionReference on_complete_;
  napi_async_context async_context_ = nullptr;
  Buffers buf_;
  bool refed_ = false;
};

// new JsTaskQueue(maxQueue, onComplete, spinUs). spinUs > 0: before the
// loop blocks while tasks are out, a uv_prepare spins that long for a
// completion (then delivers it at once, without the wake-up's latency).
JsTaskQueue::JsTaskQueue(const Napi::CallbackInfo &info) : Napi::ObjectWrap<JsTaskQueue>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  shared_ = std::make_shared<Shared>();
  shared_->max_queue = (size_t)info[0].As<Napi::Number>().Int64Value();
  on_complete_ = Napi::Persistent(info[1].As<Napi::Function>());
  spin_ns_ = (int64_t)info[2].As<Napi::Number>().Uint32Value() * 1000;
  napi_value name = Napi::String::New(env, "looplet.ThreadPool");
  napi_status status = napi_async_init(env, nullptr, name, &async_context_);
  LP_ASSERT(status == napi_ok);
  uv_loop_t *loop = nullptr;
  status = napi_get_uv_event_loop(env, &loop);
  LP_ASSERT(status == napi_ok);
  async_ = new uv_async_t;
  int rc = uv_async_init(loop, async_, [](uv_async_t *a) {
    JsTaskQueue *q = static_cast<JsTaskQueue *>(a->data);
    CallBack(q->env_, q->async_context_, q->Napi::ObjectWrap<JsTaskQueue>::operator napi_ref(),
             q->on_complete_.operator napi_ref(), 0, nullptr);
  });
  LP_ASSERT(rc == 0);  // uv_async_init fails only for an invalid loop
  (void)rc;
  async_->data = this;
  uv_unref((uv_handle_t *)async_);
  if (spin_ns_ > 0)
    prepare_ = StartPrepare(loop, this, [](uv_prepare_t *p) { static_cast<JsTaskQueue *>(p->data)->OnPrepare(); });
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    shared_->id = r.next_id++;
    r.pools[shared_->id] = shared_;
  }
  shared_->owner_async = async_;
  status = napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
}

// The loop is about to block: with tasks out and none finished, spin a
// little for one before it sleeps.
void JsTaskQueue::OnPrepare() {
  if (!shared_) return;
  Shared &s = *shared_;
  if (s.done.empty()) {
    if (s.queued.load(std::memory_order_relaxed) + s.running.load(std::memory_order_relaxed) == 0) return;
    if (!lp_spin_should(&governor_)) return;
    bool caught = SpinUntil(spin_ns_, [&] { return !s.done.empty(); });
    lp_spin_result(&governor_, caught);
    if (!caught) return;
  }
  CallBack(env_, async_context_, Napi::ObjectWrap<JsTaskQueue>::operator napi_ref(), on_complete_.operator napi_ref(), 0,
           nullptr);
}

Napi::Value JsTaskQueue::Id(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), shared_ ? shared_->id : 0);
}

// setBuffers(header: Float64Array, data: Uint8Array): where drain() writes
Napi::Value JsTaskQueue::SetBuffers(const Napi::CallbackInfo &info) {
  buf_.Set(info);
  return info.Env().Undefined();
}

// defineTask(taskId, kind, a, b): how workers find a task id's function
Napi::Value JsTaskQueue::DefineTask(const Napi::CallbackInfo &info) {
  if (shared_) {
    TaskDef def{info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::String>().Utf8Value(),
                info[3].As<Napi::String>().Utf8Value()};
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->tasks[info[0].As<Napi::Number>().Uint32Value()] = std::move(def);
  }
  return info.Env().Undefined();
}

// push(token, taskId, args?, length?) -> 2 * queued + (1 if an idle worker was woken),
// or -EAGAIN (maxQueue tasks wait already) / -ESHUTDOWN. Takes mu only for
// a token beyond any before, a full `incoming`, or an idle worker to wake.
Napi::Value JsTaskQueue::Push(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Number::New(env, -ESHUTDOWN);
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  Shared &s = *shared_;
  if (s.shutdown.load(std::memory_order_relaxed)) return Napi::Number::New(env, -ESHUTDOWN);
  if (s.max_queue > 0 && s.queued.load(std::memory_order_relaxed) >= s.max_queue) {
    s.room_wanted.store(true, std::memory_order_seq_cst);
    // A worker that took a task before that store did not see it: the
    // owner wakes itself to look again.
    if (s.queued.load(std::memory_order_seq_cst) < s.max_queue && s.room_wanted.exchange(false)) {
      int rc = uv_async_send(async_);
      LP_ASSERT(rc == 0);
      (void)rc;
    }
    return Napi::Number::New(env, -EAGAIN);
  }
  if (token >= s.recs.size()) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.recs.resize((size_t)token + 1);
    // Every token fits the done ring (each is in it at most once).
    size_t cap = s.done.capacity();
    while (cap < s.recs.size()) cap *= 2;
    s.done.grow(cap);
    s.incoming.grow(cap);
  }
  if (!s.recs[token]) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.recs[token].reset(new Rec);
  }
  Rec &r = *s.recs[token];
  uint64_t w = r.word.load(std::memory_order_relaxed);
  LP_ASSERT(StateOf(w) == FREE);
  uint32_t gen = GenOf(w) + 1;
  r.task = info[1].As<Napi::Number>().Uint32Value();
  r.worker = -1;
  r.cancel_requested = false;
  r.status = 0;
  r.result.clear();
  CopyBytes(info[2], r.args, info[3]);
  r.submit_ns = NowNs();
  r.start_ns = r.end_ns = 0;
  r.word.store(Word(gen, QUEUED), std::memory_order_release);
  if (!s.incoming.push(Entry(token, gen))) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.Flush();
    s.fifo.emplace_back(token, gen);
  }
  // Counted after it is in the ring or the FIFO: a worker that reads
  // queued != 0 finds it. Then idle_count, read after that seq_cst update:
  // a worker going idle stores idle_count before it reads queued, so one of
  // the two sees the other (TakeLocked). (A worker may claim the task before
  // this count: queued then wraps below 0 until the fetch_add, seen only
  // by workers, as a reason to look at the queue once more.)
  uint32_t queued = s.queued.fetch_add(1, std::memory_order_seq_cst) + 1;
  bool woke = false;
  if (s.idle_count.load(std::memory_order_seq_cst) != 0) {
    std::lock_guard<std::mutex> lock(s.mu);
    woke = !s.idle.empty();
    s.WakeIdle();
  }
  return Napi::Number::New(env, (double)queued * 2 + (woke ? 1 : 0));
}

// cancel(token, queuedOnly?) -> 0 (withdrawn before it started: the token is
// free again), -EBUSY (running: its worker is told, for
// currentTask().signal, unless queuedOnly), -ENOENT
Napi::Value JsTaskQueue::Cancel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Number::New(env, -ENOENT);
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  Shared &s = *shared_;
  if (token >= s.recs.size() || !s.recs[token]) return Napi::Number::New(env, -ENOENT);
  Rec &r = *s.recs[token];
  uint64_t w = r.word.load(std::memory_order_acquire);
  if (StateOf(w) == QUEUED &&
      r.word.compare_exchange_strong(w, Word(GenOf(w), FREE), std::memory_order_acq_rel, std::memory_order_acquire)) {
    r.args.clear();  // its queue entry is now a tombstone
    s.queued.fetch_sub(1, std::memory_order_relaxed);
    return Napi::Number::New(env, 0);
  }
  bool queued_only = info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  std::lock_guard<std::mutex> lock(s.mu);
  if (StateOf(r.word.load(std::memory_order_relaxed)) == RUNNING) {
    if (!r.cancel_requested && !queued_only) {
      r.cancel_requested = true;
      auto it = s.workers.find((uint32_t)r.worker);
      if (it != s.workers.end() && it->second.async != nullptr) {
        int rc = uv_async_send(it->second.async);
        LP_ASSERT(rc == 0);
        (void)rc;
      }
    }
    return Napi::Number::New(env, -EBUSY);
  }
  return Napi::Number::New(env, -ENOENT);
}

// state(token) -> 0 queued, 1 running, 2 neither
Napi::Value JsTaskQueue::State(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Number::New(env, 2);
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  if (token >= shared_->recs.size() || !shared_->recs[token]) return Napi::Number::New(env, 2);
  RecState st = StateOf(shared_->recs[token]->word.load(std::memory_order_acquire));
  return Napi::Number::New(env, st == QUEUED ? 0 : st == RUNNING ? 1 : 2);
}

// drain() -> n: completions written to the header buffer as
// [token, status, offset, length, wait ns, run ns] with each result's bytes
// at offset in the data buffer (offset -1: too large, read it with
// result(token) before anything else). Their tokens are free again.
Napi::Value JsTaskQueue::Drain(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_ || buf_.header == nullptr) return Napi::Number::New(env, 0);
  Shared &s = *shared_;
  size_t max = buf_.header_len / 6, n = 0, used = 0;
  for (const uint32_t *next; n < max && (next = s.done.front()) != nullptr;) {
    uint32_t token = *next;
    Rec &r = *s.recs[token];
    uint64_t w = r.word.load(std::memory_order_acquire);
    LP_ASSERT(StateOf(w) == DONE);
    size_t len = r.result.size();
    double offset;
    if (used + len <= buf_.data_len) {
      memcpy(buf_.data + used, r.result.data(), len);
      offset = (double)used;
      used += len;
    } else if (len > buf_.data_len / 4) {
      offset = -1;  // kept in the record for result(token)
    } else {
      break;  // the next drain() has room for it
    }
    double *h = buf_.header + n * 6;
    h[0] = token;
    h[1] = r.status;
    h[2] = offset;
    h[3] = (double)len;
    h[4] = (double)(r.start_ns - r.submit_ns);
    h[5] = (double)(r.end_ns - r.start_ns);
    if (offset >= 0) r.result.clear();
    r.word.store(Word(GenOf(w), FREE), std::memory_order_relaxed);
    s.done.pop();
    n++;
  }
  if (s.done.empty()) {
    // Completions from now on wake the owner again; one that came between
    // the look above and this store would have found notified still true.
    s.notified.store(false, std::memory_order_seq_cst);
    if (!s.done.empty()) {
      s.notified_ns.store(NowNs(), std::memory_order_relaxed);  // for the workers' lag check
      if (!s.notified.exchange(true, std::memory_order_seq_cst)) {
        int rc = uv_async_send(async_);
        LP_ASSERT(rc == 0);
        (void)rc;
      }
    }
  } else if (n < max) {
    // The data buffer is full: the rest comes with the next callback (the
    // caller stops at a short drain, and notified stays set meanwhile).
    int rc = uv_async_send(async_);
    LP_ASSERT(rc == 0);
    (void)rc;
  }
  return Napi::Number::New(env, (double)n);
}

// result(token) -> Buffer: a result drain() left in its record
Napi::Value JsTaskQueue::Result(const Napi::CallbackInfo &info) {
  return TakeBytes(info.Env(), shared_.get(), info[0].As<Napi::Number>().Uint32Value(), &Rec::result);
}

// workerGone(workerId) -> the token it was running (its task failed), -1
// none, -2 when it had retired (a planned exit), -3 when it never attached.
// Forgets the worker.
Napi::Value JsTaskQueue::WorkerGone(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Number::New(env, -1);
  uint32_t w = info[0].As<Napi::Number>().Uint32Value();
  Shared &s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.workers.find(w);
  if (it == s.workers.end()) return Napi::Number::New(env, -3);
  int32_t token = it->second.current;
  bool retired = it->second.retired;
  s.RemoveIdle(w);
  s.workers.erase(it);
  if (token >= 0) {
    Rec &r = *s.recs[(size_t)token];
    uint64_t w = r.word.load(std::memory_order_relaxed);
    LP_ASSERT(StateOf(w) == RUNNING);
    r.word.store(Word(GenOf(w), FREE), std::memory_order_relaxed);
    r.args.clear();
    s.running.fetch_sub(1, std::memory_order_relaxed);
    return Napi::Number::New(env, token);
  }
  return Napi::Number::New(env, retired ? -2 : -1);
}

// stop(): no more pushes; idle workers are woken and, finding the queue
// empty, leave (take() returns -1). The queue is still served.
Napi::Value JsTaskQueue::Stop(const Napi::CallbackInfo &info) {
  if (shared_) {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->shutdown.store(true);
    shared_->WakeAllIdle();
  }
  return info.Env().Undefined();
}

Napi::Value JsTaskQueue::Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  size_t queued = 0, running = 0, workers = 0, idle = 0;
  uint64_t wakeups = 0;
  if (shared_) {
    std::lock_guard<std::mutex> lock(shared_->mu);
    queued = shared_->queued.load();
    running = shared_->running.load();
    workers = shared_->LiveWorkers();
    idle = shared_->idle.size();
    wakeups = shared_->wakeups.load();
  }
  o.Set("queued", Napi::Number::New(env, (double)queued));
  o.Set("running", Napi::Number::New(env, (double)running));
  o.Set("workers", Napi::Number::New(env, (double)workers));
  o.Set("idle", Napi::Number::New(env, (double)idle));
  o.Set("wakeups", Napi::Number::New(env, (double)wakeups));
  return o;
}

Napi::Value JsTaskQueue::Ref(const Napi::CallbackInfo &info) {
  bool ref = info[0].As<Napi::Boolean>().Value();
  if (async_ != nullptr && ref != refed_) {
    if (ref)
      uv_ref((uv_handle_t *)async_);
    else
      uv_unref((uv_handle_t *)async_);
  }
  refed_ = ref;
  return info.Env().Undefined();
}

Napi::Value JsTaskQueue::CloseMethod(const Napi::CallbackInfo &info) {
  Close();
  return info.Env().Undefined();
}

// Detaches the owner: the pool leaves the registry, queued tasks are
// dropped, idle workers are woken to leave; workers still running finish
// into the void and leave at their next take().
void JsTaskQueue::Close() {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->owner_async = nullptr;
    shared_->shutdown.store(true);
    shared_->Flush();
    for (auto &e : shared_->fifo) {
      uint64_t queued = Word(e.second, QUEUED);
      shared_->recs[e.first]->word.compare_exchange_strong(queued, Word(e.second, FREE));
    }
    shared_->fifo.clear();
    shared_->queued.store(0);
    shared_->WakeAllIdle();
  }
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.pools.erase(shared_->id);
  }
  shared_.reset();
  napi_status status = napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
  (void)status;
  uv_close((uv_handle_t *)async_, [](uv_handle_t *h) { delete (uv_async_t *)h; });
  async_ = nullptr;
  ClosePrepare(prepare_);
  napi_async_destroy(env_, async_context_);
  async_context_ = nullptr;
}

// ---- a worker's side -------------------------------------------------------

class JsTaskWorker : public Napi::ObjectWrap<JsTaskWorker> {
 public:
  JsTaskWorker(const Napi::CallbackInfo &info);
  ~JsTaskWorker() override { Detach(); }
  static Napi::Function Define(Napi::Env env);

  Napi::Value Attached(const Napi::CallbackInfo &info);
  Napi::Value SetBuffers(const Napi::CallbackInfo &info);
  Napi::Value Take(const Napi::CallbackInfo &info);
  Napi::Value Args(const Napi::CallbackInfo &info);
  Napi::Value Complete(const Napi::CallbackInfo &info);
  Napi::Value Cancelled(const Napi::CallbackInfo &info);
  Napi::Value Task(const Napi::CallbackInfo &info);
  Napi::Value Retire(const Napi::CallbackInfo &info);
  Napi::Value DetachMethod(const Napi::CallbackInfo &info);

 private:
  int TryTakeLocked();
  int TakeLocked(std::unique_lock<std::mutex> &lock);
  void Detach();
  static void OnEnvCleanup(void *arg) { static_cast<JsTaskWorker *>(arg)->Detach(); }

  napi_env env_ = nullptr;
  std::shared_ptr<Shared> shared_;
  uint32_t worker_ = 0;
  int64_t spin_ns_ = 0;
  lp_spin_governor governor_ = {};  // this thread's spins (spin_governor.h)
  uv_async_t *async_ = nullptr;
  Napi::FunctionReference on_wake_;
  napi_async_context async_context_ = nullptr;
  Buffers buf_;
};

// new JsTaskWorker(poolId, workerId, onWake, spinUs): attaches this thread
// to the pool (attached() is false when the pool is gone). The uv_async
// keeps the worker's loop alive until detach(). spinUs: how long take()
// waits for a push before the worker goes idle.
JsTaskWorker::JsTaskWorker(const Napi::CallbackInfo &info) : Napi::ObjectWrap<JsTaskWorker>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  shared_ = FindShared(info[0].As<Napi::Number>().Uint32Value());
  worker_ = info[1].As<Napi::Number>().Uint32Value();
  spin_ns_ = (int64_t)info[3].As<Napi::Number>().Uint32Value() * 1000;
  if (!shared_) return;
  on_wake_ = Napi::Persistent(info[2].As<Napi::Function>());
  napi_value name = Napi::String::New(env, "looplet.ThreadPool.worker");
  napi_status status = napi_async_init(env, nullptr, name, &async_context_);
  LP_ASSERT(status == napi_ok);
  uv_loop_t *loop = nullptr;
  status = napi_get_uv_event_loop(env, &loop);
  LP_ASSERT(status == napi_ok);
  async_ = new uv_async_t;
  int rc = uv_async_init(loop, async_, [](uv_async_t *a) {
    JsTaskWorker *w = static_cast<JsTaskWorker *>(a->data);
    CallBack(w->env_, w->async_context_, w->Napi::ObjectWrap<JsTaskWorker>::operator napi_ref(),
             w->on_wake_.operator napi_ref(), 0, nullptr);
  });
  LP_ASSERT(rc == 0);
  (void)rc;
  async_->data = this;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    WorkerRec &rec = shared_->workers[worker_];
    rec.async = async_;
  }
  status = napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
}

Napi::Value JsTaskWorker::Attached(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), (bool)shared_);
}

// setBuffers(header: Float64Array(4), data: Uint8Array): where take() writes
Napi::Value JsTaskWorker::SetBuffers(const Napi::CallbackInfo &info) {
  buf_.Set(info);
  return info.Env().Undefined();
}

// Under mu. 1: a task is in the header [token, task id, args length, args
// in data (1) or to fetch with args(token) (0)]; 0: the queue is empty; -1:
// this worker leaves (the pool shuts down, or it retired or detached).
int JsTaskWorker::TryTakeLocked() {
  Shared &s = *shared_;
  WorkerRec &w = s.workers[worker_];
  s.Flush();
  while (!s.fifo.empty()) {
    Entry e = s.fifo.front();
    s.fifo.pop_front();
    Rec &r = *s.recs[e.first];
    uint64_t queued = Word(e.second, QUEUED);
    if (!r.word.compare_exchange_strong(queued, Word(e.second, RUNNING), std::memory_order_acq_rel)) continue;
    r.worker = (int32_t)worker_;
    r.start_ns = NowNs();
    s.queued.fetch_sub(1, std::memory_order_seq_cst);
    if (s.room_wanted.load(std::memory_order_seq_cst) && s.room_wanted.exchange(false) && s.owner_async != nullptr) {
      int rc = uv_async_send(s.owner_async);  // room for a held task (Push)
      LP_ASSERT(rc == 0);
      (void)rc;
    }
    s.running.fetch_add(1, std::memory_order_relaxed);
    w.current = (int32_t)e.first;
    bool inline_args = r.args.size() <= buf_.data_len;
    if (inline_args) memcpy(buf_.data, r.args.data(), r.args.size());
    buf_.header[0] = e.first;
    buf_.header[1] = r.task;
    buf_.header[2] = (double)r.args.size();
    buf_.header[3] = inline_args ? 1 : 0;
    if (inline_args) r.args.clear();
    return 1;
  }
  if (s.shutdown.load() || w.retired || w.async == nullptr) return -1;
  return 0;
}

// take() with the lock held by `lock`: a task (1), leave (-1), or, after
// spinning spin_ns_ for a push (without the lock), idle (0): registered on
// the idle stack, so that the next push wakes this worker's loop.
int JsTaskWorker::TakeLocked(std::unique_lock<std::mutex> &lock) {
  int r = TryTakeLocked();
  if (r != 0) return r;
  if (spin_ns_ > 0 && lp_spin_should(&governor_)) {
    Shared &s = *shared_;
    lock.unlock();
    lp_spin_result(&governor_, SpinUntil(spin_ns_, [&] {
      return !s.incoming.empty() || s.queued.load(std::memory_order_relaxed) != 0 ||
             s.shutdown.load(std::memory_order_relaxed);
    }));
    lock.lock();
    r = TryTakeLocked();
    if (r != 0) return r;
  }
  Shared &s = *shared_;
  WorkerRec &w = s.workers[worker_];
  if (!w.idle) {
    w.idle = true;
    s.idle.push_back(worker_);
    s.idle_count.store((uint32_t)s.idle.size(), std::memory_order_seq_cst);
  }
  // A push the owner counted before it read idle_count: take it now.
  if (s.queued.load(std::memory_order_seq_cst) != 0) {
    r = TryTakeLocked();
    if (r != 0) {
      w.idle = false;
      s.RemoveIdle(worker_);
      return r;
    }
  }
  return 0;
}

Napi::Value JsTaskWorker::Take(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_ || buf_.header == nullptr) return Napi::Number::New(env, -1);
  std::unique_lock<std::mutex> lock(shared_->mu);
  return Napi::Number::New(env, TakeLocked(lock));
}

// args(token) -> Buffer: arguments too large for the data buffer
Napi::Value JsTaskWorker::Args(const Napi::CallbackInfo &info) {
  return TakeBytes(info.Env(), shared_.get(), info[0].As<Napi::Number>().Uint32Value(), &Rec::args);
}

// complete(token, status, result?, retire?, length?) -> take()'s code for the
// next task (length: how many bytes of result to take; all when absent).
// status: 0 a value, 1 a thrown error (the bytes describe it).
Napi::Value JsTaskWorker::Complete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Number::New(env, -1);
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  Shared &s = *shared_;
  std::unique_lock<std::mutex> lock(s.mu);
  WorkerRec &w = s.workers[worker_];
  if (w.current == (int32_t)token) {
    Rec &r = *s.recs[token];
    uint64_t word = r.word.load(std::memory_order_relaxed);
    LP_ASSERT(StateOf(word) == RUNNING);
    r.status = info[1].As<Napi::Number>().DoubleValue();
    CopyBytes(info[2], r.result, info[4]);
    r.end_ns = NowNs();
    r.worker = -1;
    w.current = -1;
    s.running.fetch_sub(1, std::memory_order_relaxed);
    r.word.store(Word(GenOf(word), DONE), std::memory_order_release);
    bool pushed = s.done.push(token, std::memory_order_seq_cst);  // then notified: see Drain
    LP_ASSERT(pushed);  // the ring holds every token (Push)
    (void)pushed;
    if (s.owner_async != nullptr && !s.notified.exchange(true, std::memory_order_seq_cst)) {
      s.notified_ns.store(r.end_ns, std::memory_order_relaxed);
      s.wakeups.fetch_add(1, std::memory_order_relaxed);
      int rc = uv_async_send(s.owner_async);
      LP_ASSERT(rc == 0);
      (void)rc;
    }
  }
  if (buf_.header == nullptr) return Napi::Number::New(env, -1);
  if (info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value()) {
    // the worker leaves after this task (recycleAfterTasks)
    w.retired = true;
    s.RemoveIdle(worker_);
    return Napi::Number::New(env, -1);
  }
  // As a core pool thread does (pool.cc, yield_to_lagging_owner): with the
  // owner's wake-up unanswered for LP_POOL_OWNER_LAG_NS, give the CPU up once, so
  // that a loop thread waiting for one gets it before this worker's slice ends.
  if (s.notified.load(std::memory_order_relaxed) &&
      NowNs() - s.notified_ns.load(std::memory_order_relaxed) >= LP_POOL_OWNER_LAG_NS) {
    lock.unlock();
    sched_yield();
    lock.lock();
  }
  return Napi::Number::New(env, TakeLocked(lock));
}

// cancelled(token) -> whether the owner asked to cancel this running task
Napi::Value JsTaskWorker::Cancelled(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool cancelled = false;
  if (shared_) {
    uint32_t token = info[0].As<Napi::Number>().Uint32Value();
    std::lock_guard<std::mutex> lock(shared_->mu);
    WorkerRec &w = shared_->workers[worker_];
    cancelled = w.current == (int32_t)token && shared_->recs[token]->cancel_requested;
  }
  return Napi::Boolean::New(env, cancelled);
}

// task(taskId) -> [kind, a, b] or undefined
Napi::Value JsTaskWorker::Task(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return env.Undefined();
  TaskDef def;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto it = shared_->tasks.find(info[0].As<Napi::Number>().Uint32Value());
    if (it == shared_->tasks.end()) return env.Undefined();
    def = it->second;
  }
  Napi::Array a = Napi::Array::New(env, 3);
  a.Set(0u, Napi::Number::New(env, def.kind));
  a.Set(1u, Napi::String::New(env, def.a));
  a.Set(2u, Napi::String::New(env, def.b));
  return a;
}

// retire(minWorkers) -> true when this idle worker may leave: more than
// minWorkers are attached and it is still idle (not woken meanwhile). It is
// then no longer offered tasks.
Napi::Value JsTaskWorker::Retire(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!shared_) return Napi::Boolean::New(env, true);
  size_t min = (size_t)info[0].As<Napi::Number>().Int64Value();
  std::lock_guard<std::mutex> lock(shared_->mu);
  WorkerRec &w = shared_->workers[worker_];
  if (!w.idle || w.current >= 0 || shared_->LiveWorkers() <= min) return Napi::Boolean::New(env, false);
  // A push counted (or still in the ring) whose owner has not yet looked
  // for an idle worker to wake: stay for it.
  if (shared_->queued.load() != 0 || !shared_->incoming.empty()) return Napi::Boolean::New(env, false);
  w.idle = false;
  w.retired = true;
  shared_->RemoveIdle(worker_);
  return Napi::Boolean::New(env, true);
}

Napi::Value JsTaskWorker::DetachMethod(const Napi::CallbackInfo &info) {
  Detach();
  return info.Env().Undefined();
}

// Leaves the pool: no wake-up reaches this worker afterwards; its record
// stays (with the task it runs, if any) until the owner's workerGone().
void JsTaskWorker::Detach() {
  if (!shared_) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    WorkerRec &w = shared_->workers[worker_];
    w.async = nullptr;
    w.idle = false;
    shared_->RemoveIdle(worker_);
  }
  shared_.reset();
  napi_status status = napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
  (void)status;
  uv_close((uv_handle_t *)async_, [](uv_handle_t *h) { delete (uv_async_t *)h; });
  async_ = nullptr;
  napi_async_destroy(env_, async_context_);
  async_context_ = nullptr;
}

}  // namespace

namespace lp_pool_binding {

Napi::Function DefineJsTaskQueue(Napi::Env env) {
  using T = JsTaskQueue;
  return T::DefineClass(env, "JsTaskQueue",
                        {
                            Method<T, &T::Id>("id"),
                            Method<T, &T::SetBuffers>("setBuffers"),
                            Method<T, &T::DefineTask>("defineTask"),
                            Method<T, &T::Push>("push"),
                            Method<T, &T::Cancel>("cancel"),
                            Method<T, &T::State>("state"),
                            Method<T, &T::Drain>("drain"),
                            Method<T, &T::Result>("result"),
                            Method<T, &T::WorkerGone>("workerGone"),
                            Method<T, &T::Stop>("stop"),
                            Method<T, &T::Stats>("stats"),
                            Method<T, &T::Ref>("ref"),
                            Method<T, &T::CloseMethod>("close"),
                        });
}

Napi::Function DefineJsTaskWorker(Napi::Env env) {
  using T = JsTaskWorker;
  return T::DefineClass(env, "JsTaskWorker",
                        {
                            Method<T, &T::Attached>("attached"),
                            Method<T, &T::SetBuffers>("setBuffers"),
                            Method<T, &T::Take>("take"),
                            Method<T, &T::Args>("args"),
                            Method<T, &T::Complete>("complete"),
                            Method<T, &T::Cancelled>("cancelled"),
                            Method<T, &T::Task>("task"),
                            Method<T, &T::Retire>("retire"),
                            Method<T, &T::DetachMethod>("detach"),
                        });
}

}  // namespace lp_pool_binding

Napi::Object InitPool(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("NativeTaskPool", lp_pool_binding::DefineNativeTaskPool(env));
  o.Set("JsTaskQueue", lp_pool_binding::DefineJsTaskQueue(env));
  o.Set("JsTaskWorker", lp_pool_binding::DefineJsTaskWorker(env));
  Napi::Object kinds = Napi::Object::New(env);
  kinds.Set("noop", 0);
  kinds.Set("sleep", 1);
  kinds.Set("waitFd", 2);
  kinds.Set("pread", 3);
  kinds.Set("pwrite", 4);
  kinds.Set("hash", 5);
  o.Set("kinds", kinds);
  return o;
}
