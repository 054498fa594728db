// Coroutines: python-greenlet's parent/return semantics on top of the
// context switch of coro_internal.h.
//
// Per-thread state is one lp__cthread, found through an initial-exec TLS
// pointer (a single load on the switch path) and released by a pthread key
// destructor at thread exit, or later by the last lp_coro_free. No C++
// runtime is used (no operator new, no thread_local with a destructor), so
// the static library links into C programs with the C compiler alone.
//
// Sanitizers: under ASan every switch is announced with
// __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, so that
// ASan follows the stack in use (and its fake stacks); a coroutine's last
// switch passes NULL, which tells ASan that stack is gone. The main
// coroutine's stack bounds are learned from the first switch away from it.
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "coro_internal.h"
#include "lp_assert.h"

#if defined(LP__ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__GNUC__) && defined(__ELF__)
#define LP__TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define LP__TLS_MODEL
#endif

static const size_t kDefaultStackCache = 32;

static __thread lp__cthread *tls_thread LP__TLS_MODEL;

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static int thread_key_ok;

static void thread_release(lp__cthread *t) {
  if (--t->refs > 0) return;
  lp__stack_trim(&t->cache, 0);
  free(t);
}

static void reap_slow(lp__cthread *t);

// Coroutines may outlive their thread (they are freed from another one
// later): the thread's stacks that nothing uses are unmapped now.
static void thread_exit(void *arg) {
  lp__cthread *t = (lp__cthread *)arg;
  if (tls_thread == t) tls_thread = nullptr;
  t->exited = true;
  reap_slow(t);
  t->cache.max = 0;
  lp__stack_trim(&t->cache, 0);
  thread_release(t);
}

static void thread_key_create(void) {
  thread_key_ok = pthread_key_create(&thread_key, thread_exit) == 0;
}

static lp__cthread *thread_slow(void) {
  int rc = pthread_once(&thread_key_once, thread_key_create);
  LP_ASSERT(rc == 0);
  lp__cthread *t = (lp__cthread *)calloc(1, sizeof *t);
  if (t == nullptr) return nullptr;
  t->main.thread = t;
  t->main.status = LP_CORO_SUSPENDED;  // started; RUNNING while current
  t->main.is_main = true;
  t->current = &t->main;
  t->refs = 1;
  t->cache.max = kDefaultStackCache;
  // Without the key the record lives until the process ends (and is not
  // reported as a leak: it stays reachable from this thread's TLS).
  if (thread_key_ok && pthread_setspecific(thread_key, t) != 0) {
    free(t);
    return nullptr;
  }
  tls_thread = t;
  return t;
}

static inline lp__cthread *thread_get(void) {
  lp__cthread *t = tls_thread;
  return LP__LIKELY(t != nullptr) ? t : thread_slow();
}

// ---- switching --------------------------------------------------------------

// Gives the stacks of dead coroutines back to the cache. Never called on one
// of those stacks: their last switch has completed by then.
static void reap_slow(lp__cthread *t) {
  while (lp_coro_t *z = t->zombies) {
    t->zombies = z->next_zombie;
    z->next_zombie = nullptr;
    lp__stack_put(&t->cache, &z->stack);
  }
}

static inline void reap(lp__cthread *t) {
  if (LP__UNLIKELY(t->zombies != nullptr)) reap_slow(t);
}

#if defined(LP__ASAN)
static inline void fiber_start(lp__cthread *t, lp_coro_t *from, lp_coro_t *to, bool dying) {
  t->origin = from;
  __sanitizer_start_switch_fiber(dying ? nullptr : &from->asan_fake_stack, to->asan_bottom,
                                 to->asan_size);
}
static inline void fiber_finish(lp__cthread *t, void *fake_stack) {
  const void *bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
  lp_coro_t *origin = t->origin;
  if (origin != nullptr && origin->is_main && origin->asan_bottom == nullptr) {
    origin->asan_bottom = bottom;
    origin->asan_size = size;
  }
}
#else
static inline void fiber_start(lp__cthread *, lp_coro_t *, lp_coro_t *, bool) {}
static inline void fiber_finish(lp__cthread *, void *) {}
#endif

// The switch on the C path: from is the running coroutine, to is not dead.
// Used for a coroutine's last switch, and for every switch in sanitized and
// ucontext builds.
static inline void *transfer(lp__cthread *t, lp_coro_t *from, lp_coro_t *to, void *value,
                             bool dying) {
  void *got = nullptr;
  from->received = &got;
  if (to->received) *to->received = value;
  t->current = to;
  fiber_start(t, from, to, dying);
  lp__ctx_switch(&from->ctx, &to->ctx, value);
#if defined(LP__ASAN)
  fiber_finish(t, from->asan_fake_stack);
#endif
  return got;
}

static inline lp_coro_t *live_ancestor(lp_coro_t *c) {
  while (c->status == LP_CORO_DEAD) c = c->parent;  // a main coroutine never dies
  return c;
}

extern "C" void lp__coro_main(lp_coro_t *self, void *value) {
  lp__cthread *t = self->thread;
  fiber_finish(t, nullptr);
  self->status = LP_CORO_SUSPENDED;  // started; RUNNING while current
  void *result = self->fn(self, value);
  self->status = LP_CORO_DEAD;
  lp_coro_t *to = live_ancestor(self->parent);
  self->next_zombie = t->zombies;
  t->zombies = self;
  transfer(t, self, to, result, true);
  abort();  // nothing switches to a dead coroutine
}

// ---- children -------------------------------------------------------------------

static void link_child(lp_coro_t *parent, lp_coro_t *c) {
  c->parent = parent;
  c->prev_sibling = nullptr;
  c->next_sibling = parent->first_child;
  if (parent->first_child) parent->first_child->prev_sibling = c;
  parent->first_child = c;
}

static void unlink_child(lp_coro_t *c) {
  lp_coro_t *parent = c->parent;
  if (c->prev_sibling)
    c->prev_sibling->next_sibling = c->next_sibling;
  else
    parent->first_child = c->next_sibling;
  if (c->next_sibling) c->next_sibling->prev_sibling = c->prev_sibling;
  c->prev_sibling = c->next_sibling = nullptr;
}

// ---- C ABI ----------------------------------------------------------------------

#if defined(LP_CORO_UCONTEXT)
#include <stdint.h>

static void uctx_entry(unsigned hi, unsigned lo) {
  uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
  lp_coro_t *co = (lp_coro_t *)p;
  lp__coro_main(co, co->ctx.entry_value);
}

void lp__ctx_init(lp__ctx *ctx, void *stack_lo, size_t size, lp_coro_t *co) {
  int rc = getcontext(&ctx->uc);
  LP_ASSERT(rc == 0);
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = nullptr;
  uintptr_t p = (uintptr_t)co;
  makecontext(&ctx->uc, (void (*)(void))uctx_entry, 2, (unsigned)(p >> 16 >> 16),
              (unsigned)(p & 0xffffffffu));
}

void lp__ctx_switch(lp__ctx *from, lp__ctx *to, void *value) {
  to->entry_value = value;
  int rc = swapcontext(&from->uc, &to->uc);
  LP_ASSERT(rc == 0);
}
#endif

extern "C" {

const char *lp_coro_switch_impl(void) { return LP__SWITCH_IMPL; }

lp_coro_t *lp_coro_current(void) {
  lp__cthread *t = thread_get();
  return t ? t->current : nullptr;
}

lp_coro_t *lp_coro_main(void) {
  lp__cthread *t = thread_get();
  return t ? &t->main : nullptr;
}

int lp_coro_new(lp_coro_t **out, lp_coro_fn fn, void *userdata, size_t stack_size) {
  if (out == nullptr) return -EINVAL;
  *out = nullptr;
  if (fn == nullptr) return -EINVAL;
  lp__cthread *t = thread_get();
  if (t == nullptr) return -ENOMEM;
  reap(t);
  size_t usable = lp__stack_round(stack_size);
  if (usable == 0) return -ENOMEM;
  lp_coro_t *c = (lp_coro_t *)calloc(1, sizeof *c);
  if (c == nullptr) return -ENOMEM;
  int rc = lp__stack_get(&t->cache, usable, &c->stack);
  if (rc != 0) {
    free(c);
    return rc;
  }
  c->thread = t;
  c->status = LP_CORO_INIT;
  c->fn = fn;
  c->userdata = userdata;
  c->stack_size = usable;
#if defined(LP__ASAN)
  c->asan_bottom = lp__stack_lo(&c->stack);
  c->asan_size = usable;
#endif
  lp__ctx_init(&c->ctx, lp__stack_lo(&c->stack), usable, c);
  link_child(t->current, c);
  t->refs++;
  *out = c;
  return 0;
}

// Everything but the common case of lp_coro_switch: errors, a dead target,
// a switch to self, stacks to recycle; and every switch on the C path.
static __attribute__((noinline)) int switch_slow(lp_coro_t *to, void *value, void **received) {
  if (to == nullptr) return -EINVAL;
  lp__cthread *t = to->thread;
  if (t != tls_thread) return -EXDEV;
  lp_coro_t *from = t->current;
  if (to->status == LP_CORO_DEAD) to = live_ancestor(to);
  if (to == from) {
    if (received) *received = value;
    return 0;
  }
  reap(t);
  void *got = transfer(t, from, to, value, false);
  if (received) *received = got;
  return 0;
}

// The common case has no stack frame: it hands the value over and
// tail-calls the assembly, so the resumed side returns straight to the
// caller of its own lp_coro_switch.
int lp_coro_switch(lp_coro_t *to, void *value, void **received) {
#if defined(LP__CTX_TAIL)
  if (LP__LIKELY(to != nullptr)) {
    lp__cthread *t = to->thread;
    lp_coro_t *from = t->current;
    if (LP__LIKELY(t == tls_thread && to->status != LP_CORO_DEAD && to != from &&
                   t->zombies == nullptr)) {
      from->received = received;
      if (to->received) *to->received = value;
      t->current = to;
      return lp__ctx_jump(&from->ctx.sp, to->ctx.sp, value);
    }
  }
#endif
  return switch_slow(to, value, received);
}

int lp_coro_free(lp_coro_t *c) {
  if (c == nullptr) return 0;
  if (c->is_main) return -EINVAL;
  lp__cthread *t = c->thread;
  if (t != tls_thread && !t->exited) return -EXDEV;
  if (t->current == c) return -EBUSY;
  if (t == tls_thread) reap(t);  // c's stack too, if it is a zombie
  while (c->first_child) {
    lp_coro_t *child = c->first_child;
    unlink_child(child);
    link_child(c->parent, child);
  }
  unlink_child(c);
  if (t == tls_thread)
    lp__stack_put(&t->cache, &c->stack);
  else
    lp__stack_unmap(&c->stack);
  free(c);
  thread_release(t);
  return 0;
}

lp_coro_status_t lp_coro_status(const lp_coro_t *c) {
  return c->thread->current == c ? LP_CORO_RUNNING : c->status;
}

int lp_coro_is_main(const lp_coro_t *c) { return c->is_main ? 1 : 0; }

lp_coro_t *lp_coro_parent(const lp_coro_t *c) { return c->parent; }

int lp_coro_set_parent(lp_coro_t *c, lp_coro_t *parent) {
  if (c == nullptr || parent == nullptr || c->is_main) return -EINVAL;
  if (c->thread != parent->thread) return -EXDEV;
  for (lp_coro_t *p = parent; p != nullptr; p = p->parent)
    if (p == c) return -EINVAL;
  if (c->parent != parent) {
    unlink_child(c);
    link_child(parent, c);
  }
  return 0;
}

void *lp_coro_userdata(const lp_coro_t *c) { return c->userdata; }

size_t lp_coro_stack_size(const lp_coro_t *c) { return c->is_main ? 0 : c->stack_size; }

size_t lp_coro_set_stack_cache(size_t max_stacks) {
  lp__cthread *t = thread_get();
  if (t == nullptr) return 0;
  size_t old = t->cache.max;
  reap(t);
  t->cache.max = max_stacks;
  lp__stack_trim(&t->cache, max_stacks);
  return old;
}

}  // extern "C"
