// NativeTaskPool: looplet/pool's native tasks, run on a core lp_pool_t with
// no isolate: noop, sleep, a wait for readiness on an fd, pread, pwrite and
// a CPU-bound hash (FNV-1a 64 over a buffer, repeated).
//
// Each task has a record per JS token (lib/pool.ts reuses a token only after
// its completion was delivered), allocated once and reused, so a submit
// allocates nothing. A buffer a task reads or writes is held by a reference
// until the task completes.
//
// Completions: the pool's fd sits in a uv_poll on the JS thread's own loop.
// When it is readable, lp_pool_complete runs the done callbacks, which write
// one record per task into the Float64Array given to setBuffer
// ([token, status, result low 32 bits, high 32 bits, wait ns, run ns]), and
// onComplete(count) is called once per buffer-full: one JS call per batch.
//
// Blocking tasks (sleep, waitFd) also poll the pool's stop fd, so closing
// the pool (close(), the environment's cleanup at exit) ends them at once
// with -ECANCELED instead of waiting for them.
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <vector>

#include "looplet.h"
#include "lp_assert.h"
#include "pool.h"
#include "spin_governor.h"

namespace lp_pool_binding {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool CallBack(napi_env env, napi_async_context context, napi_ref recv_ref, napi_ref fn_ref,
              size_t argc, const napi_value *argv) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  napi_value recv = nullptr, fn = nullptr, result;
  napi_status status = napi_get_reference_value(env, fn_ref, &fn);
  if (status == napi_ok) status = napi_get_reference_value(env, recv_ref, &recv);
  if (status == napi_ok && (fn == nullptr || recv == nullptr)) status = napi_generic_failure;
  if (status == napi_ok) status = napi_make_callback(env, context, recv, fn, argc, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_value exception;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exception) == napi_ok &&
        status == napi_pending_exception) {
      napi_status reported = napi_fatal_exception(env, exception);
      LP_ASSERT(reported == napi_ok);
      (void)reported;
    }
  }
  napi_status closed = napi_close_handle_scope(env, scope);
  LP_ASSERT(closed == napi_ok);
  (void)closed;
  return status == napi_ok;
}

}  // namespace lp_pool_binding

namespace {

using namespace lp_pool_binding;

enum Kind { kNoop = 0, kSleep = 1, kWaitFd = 2, kPread = 3, kPwrite = 4, kHash = 5 };
const int kRecordDoubles = 6;

class NativeTaskPool;

struct NativeTask {
  NativeTaskPool *owner = nullptr;
  uint32_t token = 0;
  int kind = kNoop;
  int fd = -1;
  unsigned events = 0;
  int timeout_ms = 0;
  int64_t position = 0;
  uint8_t *data = nullptr;
  size_t length = 0;
  uint32_t rounds = 0;
  uint64_t result = 0;
  napi_ref buffer = nullptr;
  int64_t submit_ns = 0, start_ns = 0, end_ns = 0;
  uint64_t id = 0;
  bool busy = false;                  // JS thread: submitted, completion not yet delivered
  std::atomic<bool> started{false};  // set by the pool thread that runs it
  lp_pool_t *pool = nullptr;
};

// Waits up to timeout_ms (negative: no limit) for fd's events or the pool's
// stop fd; EINTR resumes with the time left.
int PollWithStop(lp_pool_t *pool, int fd, short events, int timeout_ms, short *revents) {
  struct pollfd fds[2] = {{lp_pool_stop_fd(pool), POLLIN, 0}, {fd, events, 0}};
  nfds_t n = fd >= 0 ? 2 : 1;
  int64_t deadline = timeout_ms > 0 ? NowNs() + (int64_t)timeout_ms * 1000000 : 0;
  for (;;) {
    int rc = poll(fds, n, timeout_ms);
    if (rc > 0) {
      if (fds[0].revents) return -ECANCELED;
      *revents = fds[1].revents;
      return 1;
    }
    if (rc == 0) return 0;
    if (errno != EINTR) return -errno;
    if (timeout_ms > 0) {
      int64_t left = deadline - NowNs();
      if (left <= 0) return 0;
      timeout_ms = (int)((left + 999999) / 1000000);
    }
  }
}

uint64_t Fnv1a64(const uint8_t *p, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

void TaskStarted(NativeTask *t);  // after NativeTaskPool

int Work(void *arg) {
  NativeTask *t = static_cast<NativeTask *>(arg);
  TaskStarted(t);
  t->started.store(true, std::memory_order_relaxed);
  t->start_ns = NowNs();
  int status = 0;
  switch (t->kind) {
    case kNoop:
      break;
    case kSleep: {
      short revents = 0;
      int rc = PollWithStop(t->pool, -1, 0, t->timeout_ms, &revents);
      status = rc < 0 ? rc : 0;
      break;
    }
    case kWaitFd: {
      short want = (short)(((t->events & LP_EVENT_READ) ? POLLIN : 0) |
                           ((t->events & LP_EVENT_WRITE) ? POLLOUT : 0));
      short revents = 0;
      int rc = PollWithStop(t->pool, t->fd, want, t->timeout_ms, &revents);
      if (rc <= 0) {
        status = rc;
      } else if (revents & POLLNVAL) {
        status = -EBADF;
      } else {
        unsigned ready = 0;
        if (revents & (POLLIN | POLLERR | POLLHUP)) ready |= LP_EVENT_READ;
        if (revents & (POLLOUT | POLLERR | POLLHUP)) ready |= LP_EVENT_WRITE;
        status = (int)(ready & t->events);
      }
      break;
    }
    case kPread:
    case kPwrite: {
      size_t len = t->length > (size_t)INT_MAX ? (size_t)INT_MAX : t->length;
      ssize_t n;
      do {
        n = t->kind == kPread ? pread(t->fd, t->data, len, (off_t)t->position)
                              : pwrite(t->fd, t->data, len, (off_t)t->position);
      } while (n < 0 && errno == EINTR);
      status = n < 0 ? -errno : (int)n;
      break;
    }
    case kHash: {
      uint64_t h = 0xcbf29ce484222325ULL;
      for (uint32_t r = 0; r < t->rounds; r++) {
        if (lp_pool_stopping(t->pool)) {
          status = -ECANCELED;
          break;
        }
        h = Fnv1a64(t->data, t->length, h);
      }
      t->result = h;
      break;
    }
    default:
      status = -EINVAL;
  }
  t->end_ns = NowNs();
  return status;
}

class NativeTaskPool : public Napi::ObjectWrap<NativeTaskPool> {
 public:
  NativeTaskPool(const Napi::CallbackInfo &info);
  ~NativeTaskPool() override { Close(); }
  static Napi::Function Define(Napi::Env env);

  Napi::Value SetBuffer(const Napi::CallbackInfo &info);
  Napi::Value Submit(const Napi::CallbackInfo &info);
  Napi::Value SubmitMany(const Napi::CallbackInfo &info);
  Napi::Value Cancel(const Napi::CallbackInfo &info);
  Napi::Value Running(const Napi::CallbackInfo &info);
  Napi::Value Shutdown(const Napi::CallbackInfo &info);
  Napi::Value Stats(const Napi::CallbackInfo &info);
  Napi::Value Ref(const Napi::CallbackInfo &info);
  Napi::Value CloseMethod(const Napi::CallbackInfo &info);

  void Done(NativeTask *t, int status);
  // On a pool thread, as a task starts (it has left the queue).
  void Started() {
    if (room_wanted_.v.load(std::memory_order_seq_cst) && room_wanted_.v.exchange(false)) {
      int rc = uv_async_send(room_async_);
      LP_ASSERT(rc == 0);
      (void)rc;
    }
  }

 private:
  void Close();
  NativeTask *Prepare(napi_env env, uint32_t token, int kind, const double *a, napi_value view);
  void Unprepare(napi_env env, NativeTask *t);
  void WantRoom();
  void OnReadable();
  void OnPrepare();
  void OnCheck();
  // The completion handle keeps the loop alive while tasks are out and JS
  // asked for it (ref(true)): a serial round trip then costs no JS call
  // to ref and unref it.
  void UpdateRef() {
    if (poll_ == nullptr) return;  // closed
    bool want = want_ref_ && outstanding_ > 0;
    if (want == refed_) return;
    refed_ = want;
    if (want)
      uv_ref((uv_handle_t *)poll_);
    else
      uv_unref((uv_handle_t *)poll_);
  }
  void Awake() {
    if (!awake_) {
      awake_ = true;
      lp_pool_set_awake(pool_, 1);
    }
  }
  static void OnEnvCleanup(void *arg) { static_cast<NativeTaskPool *>(arg)->Close(); }

  napi_env env_ = nullptr;
  lp_pool_t *pool_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  uv_prepare_t *prepare_ = nullptr;
  uv_check_t *check_ = nullptr;
  uv_idle_t *idle_ = nullptr;  // started while completions wait past a prepare
  // A submit found maxQueue tasks waiting: the pool thread that next starts
  // a task sends room_async_, whose callback (onComplete(0)) lets JS move
  // the tasks it holds (onQueueFull 'wait') into the room.
  uv_async_t *room_async_ = nullptr;
  // Read by every starting task on a pool thread: a line of its own, away
  // from the fields this thread writes per task.
  struct alignas(64) RoomWanted {
    std::atomic<bool> v{false};
  } room_wanted_;
  bool awake_ = false;  // told the pool this thread is awake (lp_pool_set_awake)
  int64_t spin_ns_ = 0;
  lp_spin_governor governor_ = {};  // the loop thread's spins before it blocks
  size_t outstanding_ = 0;           // submitted, completion not yet delivered
  std::vector<NativeTask *> tasks_;  // by token
  Napi::FunctionReference on_complete_;
  napi_async_context async_context_ = nullptr;
  Napi::Reference<Napi::Float64Array> buffer_ref_;
  double *buffer_ = nullptr;
  int capacity_ = 0;  // records
  Napi::Reference<Napi::Float64Array> args_ref_;
  const double *args_ = nullptr;
  int filled_ = 0;
  bool closing_ = false;
  bool want_ref_ = false;  // ref(): JS wants the loop kept alive while tasks are out
  bool refed_ = false;     // poll_ is ref'ed (UpdateRef)
  int error_ = 0;  // lp_pool_new's or uv_poll's failure, reported by submit
  size_t max_queue_ = 0;            // 0: unbounded
  std::vector<void *> batch_;       // submitMany's tasks, reused
  std::vector<uint64_t> ids_;       // and their ids
};

void TaskStarted(NativeTask *t) { t->owner->Started(); }

void DoneThunk(void *arg, int status) {
  NativeTask *t = static_cast<NativeTask *>(arg);
  t->owner->Done(t, status);
}

// new NativeTaskPool(minThreads, maxThreads, maxQueue, idleTimeoutMs, spinUs, stackSize, onComplete)
NativeTaskPool::NativeTaskPool(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeTaskPool>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  lp_pool_options_t o = {};
  o.min_threads = info[0].As<Napi::Number>().Uint32Value();
  o.max_threads = info[1].As<Napi::Number>().Uint32Value();
  o.max_queue = (size_t)info[2].As<Napi::Number>().Int64Value();
  max_queue_ = o.max_queue;
  o.idle_timeout_ms = info[3].As<Napi::Number>().Int32Value();
  o.spin_us = info[4].As<Napi::Number>().Uint32Value();
  o.stack_size = (size_t)info[5].As<Napi::Number>().Int64Value();
  on_complete_ = Napi::Persistent(info[6].As<Napi::Function>());
  napi_value name = Napi::String::New(env, "looplet.ThreadPool.native");
  napi_status status = napi_async_init(env, nullptr, name, &async_context_);
  LP_ASSERT(status == napi_ok);
  int rc = lp_pool_new(&pool_, &o);
  if (rc < 0) {
    error_ = rc;
    pool_ = nullptr;
    return;
  }
  uv_loop_t *loop = nullptr;
  status = napi_get_uv_event_loop(env, &loop);
  LP_ASSERT(status == napi_ok);
  poll_ = new uv_poll_t;
  rc = uv_poll_init(loop, poll_, lp_pool_fileno(pool_));
  if (rc == 0) {
    poll_->data = this;
    rc = uv_poll_start(poll_, UV_READABLE, [](uv_poll_t *h, int, int) {
      static_cast<NativeTaskPool *>(h->data)->OnReadable();
    });
    if (rc < 0) uv_close((uv_handle_t *)poll_, [](uv_handle_t *h) { delete (uv_poll_t *)h; });
  } else {
    delete poll_;
  }
  if (rc < 0) {
    poll_ = nullptr;
    error_ = rc;
    lp_pool_free(pool_);
    pool_ = nullptr;
    return;
  }
  uv_unref((uv_handle_t *)poll_);
  // While tasks are out and this thread runs (from a submit, or from the
  // end of the loop's poll phase, a uv_check, to its next prepare phase)
  // the pool is told the owner is awake, so completions skip the fd write;
  // the uv_prepare, just before the loop may block, says it no longer is
  // (lp_pool_set_awake: the fd is written then if completions came). With
  // spinUs the prepare also spins briefly for a completion before the loop
  // blocks, sparing the wake-up's latency.
  spin_ns_ = (int64_t)o.spin_us * 1000;
  prepare_ = StartPrepare(loop, this, [](uv_prepare_t *p) { static_cast<NativeTaskPool *>(p->data)->OnPrepare(); });
  check_ = StartCheck(loop, this, [](uv_check_t *c) { static_cast<NativeTaskPool *>(c->data)->OnCheck(); });
  idle_ = NewIdle(loop);
  room_async_ = new uv_async_t;
  rc = uv_async_init(loop, room_async_, [](uv_async_t *a) {
    NativeTaskPool *p = static_cast<NativeTaskPool *>(a->data);
    if (p->pool_ == nullptr) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(p->env_, &scope) != napi_ok) return;
    napi_value argv[1];
    napi_status st = napi_create_int32(p->env_, 0, &argv[0]);
    LP_ASSERT(st == napi_ok);
    (void)st;
    CallBack(p->env_, p->async_context_, p->Napi::ObjectWrap<NativeTaskPool>::operator napi_ref(),
             p->on_complete_.operator napi_ref(), 1, argv);
    napi_close_handle_scope(p->env_, scope);
  });
  LP_ASSERT(rc == 0);  // uv_async_init fails only for an invalid loop
  room_async_->data = this;
  uv_unref((uv_handle_t *)room_async_);
  status = napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
}

// setBuffer(completions: Float64Array, args: Float64Array(5))
Napi::Value NativeTaskPool::SetBuffer(const Napi::CallbackInfo &info) {
  Napi::Float64Array arr = info[0].As<Napi::Float64Array>();
  buffer_ref_ = Napi::Persistent(arr);
  buffer_ = arr.Data();
  capacity_ = (int)(arr.ElementLength() / kRecordDoubles);
  Napi::Float64Array args = info[1].As<Napi::Float64Array>();
  LP_ASSERT(args.ElementLength() >= 5);
  args_ref_ = Napi::Persistent(args);
  args_ = args.Data();
  return info.Env().Undefined();
}

// The first byte of an ArrayBufferView (a TypedArray or a DataView, over
// an ArrayBuffer or a SharedArrayBuffer) and its byte length; null when it
// has none (a detached buffer) or is not a view. napi_get_*_info give the
// address with the view's offset applied, for shared buffers too (where
// node-addon-api's TypedArray::ArrayBuffer().Data() asks for an ArrayBuffer
// and gets nothing).
uint8_t *ViewBytes(napi_env env, napi_value view, size_t *bytes) {
  void *data = nullptr;
  *bytes = 0;
  bool is_dataview = false;
  if (napi_is_dataview(env, view, &is_dataview) != napi_ok) return nullptr;
  if (is_dataview) {
    if (napi_get_dataview_info(env, view, bytes, &data, nullptr, nullptr) != napi_ok) return nullptr;
  } else {
    napi_typedarray_type type;
    size_t elements = 0;
    if (napi_get_typedarray_info(env, view, &type, &elements, &data, nullptr, nullptr) != napi_ok) return nullptr;
    size_t size = 0;
    switch (type) {
      case napi_int8_array:
      case napi_uint8_array:
      case napi_uint8_clamped_array:
        size = 1;
        break;
      case napi_int16_array:
      case napi_uint16_array:
        size = 2;
        break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array:
        size = 4;
        break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array:
        size = 8;
        break;
      default:  // a kind newer than this table (Float16Array): ask the view
        break;
    }
    if (size != 0) {
      *bytes = elements * size;
    } else {
      napi_value length;
      int64_t n = 0;
      if (napi_get_named_property(env, view, "byteLength", &length) != napi_ok ||
          napi_get_value_int64(env, length, &n) != napi_ok || n < 0)
        return nullptr;
      *bytes = (size_t)n;
    }
  }
  if (data == nullptr) *bytes = 0;
  return static_cast<uint8_t *>(data);
}

// Fills token's task from kind and the numbers a ([n0, n1, n2, offset,
// length]; see submit) and view (the buffer of pread/pwrite/hash), ready
// for lp_pool_submit*.
NativeTask *NativeTaskPool::Prepare(napi_env env, uint32_t token, int kind, const double *a,
                                    napi_value view) {
  if (token >= tasks_.size()) tasks_.resize((size_t)token + 1, nullptr);
  NativeTask *t = tasks_[token];
  if (t == nullptr) {
    t = tasks_[token] = new NativeTask;
    t->owner = this;
    t->token = token;
    t->pool = pool_;
  }
  LP_ASSERT(!t->busy);
  t->kind = kind;
  t->data = nullptr;
  t->length = 0;
  t->result = 0;
  t->start_ns = t->end_ns = 0;
  t->started.store(false, std::memory_order_relaxed);
  switch (t->kind) {
    case kSleep:
      t->timeout_ms = (int)a[0];
      break;
    case kWaitFd:
      t->fd = (int)a[0];
      t->events = (unsigned)a[1];
      t->timeout_ms = (int)a[2];
      break;
    case kPread:
    case kPwrite:
      t->fd = (int)a[0];
      t->position = (int64_t)a[1];
      break;
    case kHash:
      t->rounds = (uint32_t)a[0];
      break;
    default:
      break;
  }
  if (t->kind == kPread || t->kind == kPwrite || t->kind == kHash) {
    size_t bytes = 0;
    uint8_t *base = ViewBytes(env, view, &bytes);
    // lib/pool validated [offset, offset + length) against the view's
    // byteLength; a view whose bytes cannot be had (none is known) gets none.
    size_t offset = (size_t)a[3], length = (size_t)a[4];
    if (base != nullptr && offset <= bytes && length <= bytes - offset) {
      t->data = base + offset;
      t->length = length;
    }
    napi_status status = napi_create_reference(env, view, 1, &t->buffer);
    LP_ASSERT(status == napi_ok);
    (void)status;
  }
  t->busy = true;
  return t;
}

// Undoes Prepare for a task the pool did not take.
void NativeTaskPool::Unprepare(napi_env env, NativeTask *t) {
  t->busy = false;
  if (t->buffer != nullptr) {
    napi_delete_reference(env, t->buffer);
    t->buffer = nullptr;
  }
}

// submit(token, kind, view?) -> 0 or -errno. The numbers come from the
// args Float64Array given to setBuffer() ([n0, n1, n2, offset, length]),
// which keeps the call to three arguments:
//   sleep: n0 = ms; waitFd: n0 = fd, n1 = events, n2 = timeout ms (< 0: none)
//   pread/pwrite: n0 = fd, n1 = position, view[offset, offset + length)
//   hash: n0 = rounds, view[offset, offset + length)
Napi::Value NativeTaskPool::Submit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (pool_ == nullptr) return Napi::Number::New(env, error_ < 0 ? error_ : -ESHUTDOWN);
  LP_ASSERT(args_ != nullptr);
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  NativeTask *t = Prepare(env, token, info[1].As<Napi::Number>().Int32Value(), args_, info[2]);
  t->submit_ns = NowNs();
  int rc = lp_pool_submit(pool_, Work, DoneThunk, t, &t->id);
  if (rc == 0) {
    outstanding_++;
    UpdateRef();
    Awake();
  } else {
    Unprepare(env, t);
    if (rc == -EAGAIN) WantRoom();
  }
  return Napi::Number::New(env, rc);
}

// submitMany(kind, records: Float64Array, count, views?, all) -> how many
// were queued (from the first), or -errno when none was. Record i is
// records[6i .. 6i + 6) = [token, n0, n1, n2, offset, length] (submit's
// numbers), views[i] its buffer (pread/pwrite/hash). One lock of the pool
// for the whole batch. all: take every one or none (-EAGAIN when maxQueue
// leaves room for fewer).
Napi::Value NativeTaskPool::SubmitMany(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (pool_ == nullptr) return Napi::Number::New(env, error_ < 0 ? error_ : -ESHUTDOWN);
  int kind = info[0].As<Napi::Number>().Int32Value();
  Napi::Float64Array records = info[1].As<Napi::Float64Array>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  LP_ASSERT((size_t)count * kRecordDoubles <= records.ElementLength());
  bool has_views = info[3].IsArray();
  Napi::Array views = has_views ? info[3].As<Napi::Array>() : Napi::Array();
  bool all = info[4].ToBoolean();
  if (count == 0) return Napi::Number::New(env, 0);
  if (all && max_queue_ > 0) {
    lp_pool_stats_t st;
    lp_pool_stats(pool_, &st);
    if (st.queued + count > max_queue_) return Napi::Number::New(env, -EAGAIN);
  }
  const double *r = records.Data();
  batch_.resize(count);
  ids_.resize(count);
  int64_t now = NowNs();
  for (uint32_t i = 0; i < count; i++) {
    const double *rec = r + (size_t)i * kRecordDoubles;
    napi_value view = has_views ? (napi_value)views.Get(i) : nullptr;
    NativeTask *t = Prepare(env, (uint32_t)rec[0], kind, rec + 1, view);
    t->submit_ns = now;
    batch_[i] = t;
  }
  int rc = lp_pool_submit_many(pool_, Work, DoneThunk, batch_.data(), ids_.data(), count);
  uint32_t taken = rc > 0 ? (uint32_t)rc : 0;
  for (uint32_t i = 0; i < count; i++) {
    NativeTask *t = static_cast<NativeTask *>(batch_[i]);
    if (i < taken)
      t->id = ids_[i];
    else
      Unprepare(env, t);
  }
  outstanding_ += taken;
  if (taken > 0) {
    UpdateRef();
    Awake();
  }
  if (taken < count) WantRoom();
  return Napi::Number::New(env, rc);
}

// A submit was refused (-EAGAIN): JS may hold tasks for room in the queue
// (onQueueFull 'wait'), so the next task to start says when there is some.
void NativeTaskPool::WantRoom() {
  if (pool_ == nullptr || room_async_ == nullptr || max_queue_ == 0) return;
  room_wanted_.v.store(true, std::memory_order_seq_cst);
  // A task that left the queue before that store did not see it: look
  // again (lp_pool_stats takes the pool's mutex, under which tasks leave
  // the queue). With no thread at all, the refusal was a thread that could
  // not start, not a full queue: nothing to wake for.
  lp_pool_stats_t st;
  lp_pool_stats(pool_, &st);
  if (st.threads > 0 && st.queued < max_queue_ && room_wanted_.v.exchange(false)) {
    int rc = uv_async_send(room_async_);
    LP_ASSERT(rc == 0);
    (void)rc;
  }
}

// cancel(token) -> 0 (its completion reports -ECANCELED), -EBUSY (running) or -ENOENT
Napi::Value NativeTaskPool::Cancel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  if (pool_ == nullptr || token >= tasks_.size() || tasks_[token] == nullptr || !tasks_[token]->busy)
    return Napi::Number::New(env, -ENOENT);
  return Napi::Number::New(env, lp_pool_cancel(pool_, tasks_[token]->id));
}

// running(token) -> whether its task has started on a pool thread
Napi::Value NativeTaskPool::Running(const Napi::CallbackInfo &info) {
  uint32_t token = info[0].As<Napi::Number>().Uint32Value();
  bool running = token < tasks_.size() && tasks_[token] != nullptr && tasks_[token]->busy &&
                 tasks_[token]->started.load(std::memory_order_relaxed);
  return Napi::Boolean::New(info.Env(), running);
}

// Runs on the JS thread, from lp_pool_complete (or lp_pool_free in Close).
void NativeTaskPool::Done(NativeTask *t, int status) {
  t->busy = false;
  outstanding_--;
  if (t->buffer != nullptr) {
    napi_status deleted = napi_delete_reference(env_, t->buffer);
    LP_ASSERT(deleted == napi_ok);
    (void)deleted;
    t->buffer = nullptr;
  }
  if (closing_ || filled_ >= capacity_) return;
  double *rec = buffer_ + (size_t)filled_ * kRecordDoubles;
  bool started = t->started.load(std::memory_order_relaxed);
  rec[0] = t->token;
  rec[1] = status;
  rec[2] = (double)(uint32_t)t->result;
  rec[3] = (double)(uint32_t)(t->result >> 32);
  rec[4] = (double)((started ? t->start_ns : NowNs()) - t->submit_ns);
  rec[5] = (double)(started ? t->end_ns - t->start_ns : 0);
  filled_++;
}

// The pool's fd is readable: deliver completions, a buffer-full per JS call.
void NativeTaskPool::OnReadable() {
  while (pool_ != nullptr && capacity_ > 0) {
    filled_ = 0;
    int n = lp_pool_complete(pool_, capacity_);
    LP_ASSERT(n >= 0);
    if (filled_ > 0) {
      napi_value argv[1];
      napi_handle_scope scope;
      if (napi_open_handle_scope(env_, &scope) != napi_ok) return;
      napi_status status = napi_create_int32(env_, filled_, &argv[0]);
      LP_ASSERT(status == napi_ok);
      (void)status;
      CallBack(env_, async_context_, Napi::ObjectWrap<NativeTaskPool>::operator napi_ref(),
               on_complete_.operator napi_ref(), 1, argv);
      napi_close_handle_scope(env_, scope);
    }
    if (n < capacity_) break;
  }
  UpdateRef();
}

// The loop may block next: deliver what has come, then stop counting as
// awake, which makes the pool's fd readable for anything that came
// unannounced. With spinUs this goes on for up to spinUs in all: spinning
// for a completion, delivering it, and again for the tasks its callbacks
// submitted (a serial round trip then stays here, with no fd write, no
// read and no epoll_wait per task); timers and I/O wait at most that long.
void NativeTaskPool::OnPrepare() {
  if (pool_ == nullptr) return;
  bool waiting = false;
  if (outstanding_ > 0) {
    int64_t start = spin_ns_ > 0 ? NowNs() : 0;
    for (;;) {
      bool ready = lp_pool_ready(pool_) != 0;
      if (!ready && spin_ns_ > 0 && lp_spin_should(&governor_)) {
        int64_t left = spin_ns_ - (NowNs() - start);
        if (left > 0) {
          ready = lp_pool_spin_wait(pool_, (uint32_t)left) != 0;
          lp_spin_result(&governor_, ready);
        }
      }
      if (!ready) break;
      OnReadable();
      if (pool_ == nullptr || outstanding_ == 0 || spin_ns_ == 0 || NowNs() - start >= spin_ns_) break;
    }
    // Completions wait still (the pool outpaces the deliveries): the loop
    // polls without blocking and the next prepare delivers them. Staying
    // awake spares a write of the pool's fd, an epoll wake-up and a read per
    // loop iteration (docs/pool.md, "Batched completions").
    waiting = pool_ != nullptr && outstanding_ > 0 && lp_pool_ready(pool_) != 0;
  }
  SetIdle(idle_, waiting);
  if (!waiting && awake_ && pool_ != nullptr) {
    awake_ = false;
    lp_pool_set_awake(pool_, 0);
  }
}

// The loop's poll phase is over: until the next prepare this thread runs.
void NativeTaskPool::OnCheck() {
  if (pool_ != nullptr && outstanding_ > 0) Awake();
}

// shutdown(cancelPending) -> how many were cancelled: no new tasks; the
// running and (unless cancelled) queued ones still complete.
Napi::Value NativeTaskPool::Shutdown(const Napi::CallbackInfo &info) {
  if (pool_ == nullptr) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), lp_pool_shutdown(pool_, info[0].As<Napi::Boolean>().Value()));
}

Napi::Value NativeTaskPool::Stats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  lp_pool_stats_t st = {};
  if (pool_ != nullptr) lp_pool_stats(pool_, &st);
  o.Set("submitted", Napi::Number::New(env, (double)st.submitted));
  o.Set("completed", Napi::Number::New(env, (double)st.completed));
  o.Set("failed", Napi::Number::New(env, (double)st.failed));
  o.Set("cancelled", Napi::Number::New(env, (double)st.cancelled));
  o.Set("wakeups", Napi::Number::New(env, (double)st.wakeups));
  o.Set("queued", Napi::Number::New(env, st.queued));
  o.Set("running", Napi::Number::New(env, st.running));
  o.Set("threads", Napi::Number::New(env, st.threads));
  o.Set("idleThreads", Napi::Number::New(env, st.idle_threads));
  return o;
}

// ref(bool): whether the completion handle keeps the loop alive while tasks
// are out (the pool's ref()/unref()).
Napi::Value NativeTaskPool::Ref(const Napi::CallbackInfo &info) {
  want_ref_ = info[0].As<Napi::Boolean>().Value();
  UpdateRef();
  return info.Env().Undefined();
}

Napi::Value NativeTaskPool::CloseMethod(const Napi::CallbackInfo &info) {
  Close();
  return info.Env().Undefined();
}

// Stops the uv_poll, frees the pool (queued tasks are cancelled, blocking
// ones end through the stop fd, the others are waited for) and releases
// every buffer. No completion is delivered to JS after this.
void NativeTaskPool::Close() {
  if (pool_ == nullptr && poll_ == nullptr) {
    for (NativeTask *t : tasks_) delete t;
    tasks_.clear();
    return;
  }
  closing_ = true;
  napi_status status = napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  LP_ASSERT(status == napi_ok);
  (void)status;
  if (poll_ != nullptr) {
    int rc = uv_poll_stop(poll_);
    LP_ASSERT(rc == 0);
    (void)rc;
    uv_close((uv_handle_t *)poll_, [](uv_handle_t *h) { delete (uv_poll_t *)h; });
    poll_ = nullptr;
  }
  ClosePrepare(prepare_);
  CloseCheck(check_);
  CloseIdle(idle_);
  if (pool_ != nullptr) {
    int rc = lp_pool_free(pool_);  // joins the pool threads: none sends room_async_ after
    LP_ASSERT(rc == 0);
    (void)rc;
    pool_ = nullptr;
  }
  if (room_async_ != nullptr) {
    uv_close((uv_handle_t *)room_async_, [](uv_handle_t *h) { delete (uv_async_t *)h; });
    room_async_ = nullptr;
  }
  if (async_context_ != nullptr) {
    napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }
  for (NativeTask *t : tasks_) delete t;
  tasks_.clear();
}

}  // namespace

namespace lp_pool_binding {

Napi::Function DefineNativeTaskPool(Napi::Env env) {
  using T = NativeTaskPool;
  return T::DefineClass(env, "NativeTaskPool",
                        {
                            Method<T, &T::SetBuffer>("setBuffer"),
                            Method<T, &T::Submit>("submit"),
                            Method<T, &T::SubmitMany>("submitMany"),
                            Method<T, &T::Cancel>("cancel"),
                            Method<T, &T::Running>("running"),
                            Method<T, &T::Shutdown>("shutdown"),
                            Method<T, &T::Stats>("stats"),
                            Method<T, &T::Ref>("ref"),
                            Method<T, &T::CloseMethod>("close"),
                        });
}

}  // namespace lp_pool_binding
