// Internal contract of the coroutine core: the context switch (one assembly
// file per architecture, or ucontext), guarded stacks and their per-thread
// cache, and the coroutine and thread records. Not part of the C ABI.
#ifndef LOOPLET_CORO_INTERNAL_H
#define LOOPLET_CORO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "looplet.h"

#if defined(LP_CORO_UCONTEXT)
#if defined(__APPLE__) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700
#endif
#include <ucontext.h>
#elif defined(_WIN32) || !(defined(__x86_64__) || defined(__aarch64__))
// x86_64 System V and aarch64 only; LP_CORO_UCONTEXT selects the fallback.
#error "looplet: no assembly context switch for this target; build with LP_CORO_UCONTEXT"
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LP__ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(LP__ASAN)
#define LP__ASAN 1
#endif

#if defined(__GNUC__)
#define LP__LIKELY(x) __builtin_expect(!!(x), 1)
#define LP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LP__HIDDEN __attribute__((visibility("hidden")))
#else
#define LP__LIKELY(x) (x)
#define LP__UNLIKELY(x) (x)
#define LP__HIDDEN
#endif

// ---- context switch ---------------------------------------------------------

// Values do not travel through the switch: the switching side stores the
// value where the resumed side's pending lp_coro_switch wants it
// (lp_coro_s::received) before it jumps, and a new coroutine gets it as the
// argument of lp__coro_main. So lp_coro_switch can tail-call the assembly
// and the resumed side returns to its caller with no C code in between.
#if defined(LP_CORO_UCONTEXT)
// ucontext fallback: swapcontext saves more than it must (the signal mask,
// with a syscall), so it is an order of magnitude slower; it exists for Unix
// targets that have no assembly switch here.
struct lp__ctx {
  ucontext_t uc;
  void *entry_value;  // the value a new coroutine starts with
};
void lp__ctx_init(lp__ctx *ctx, void *stack_lo, size_t size, lp_coro_t *co);
void lp__ctx_switch(lp__ctx *from, lp__ctx *to, void *value);
#define LP__SWITCH_IMPL "ucontext"
#else
struct lp__ctx {
  void *sp;  // saved stack pointer; the rest of the state is on that stack
};
extern "C" {
// Saves the caller's callee-saved state on its stack and the stack pointer
// in *save_sp, then resumes to_sp. Returns 0 when something switches back.
// `value` reaches lp__coro_main when to_sp is a new stack.
LP__HIDDEN int lp__ctx_jump(void **save_sp, void *to_sp, void *value);
// Builds a new stack's first frame below stack_top; returns its stack pointer.
LP__HIDDEN void *lp__ctx_make(void *stack_top, void *coro);
}
static inline void lp__ctx_init(lp__ctx *ctx, void *stack_lo, size_t size, lp_coro_t *co) {
  ctx->sp = lp__ctx_make((char *)stack_lo + size, co);
}
static inline void lp__ctx_switch(lp__ctx *from, lp__ctx *to, void *value) {
  lp__ctx_jump(&from->sp, to->sp, value);
}
// ASan must hear about every switch, before and after it, so sanitized
// builds take the C path (transfer() in coro.cc) for every switch.
#if !defined(LP__ASAN)
#define LP__CTX_TAIL 1
#endif
#if defined(__x86_64__)
#define LP__SWITCH_IMPL "x86_64-sysv"
#else
#define LP__SWITCH_IMPL "aarch64-aapcs64"
#endif
#endif

// Called on a new stack by the first switch into it; never returns.
extern "C" LP__HIDDEN __attribute__((noreturn)) void lp__coro_main(lp_coro_t *co, void *value);

// ---- stacks -------------------------------------------------------------------

// One mmap'd stack: [map, map + guard) is PROT_NONE, the usable part is
// [map + guard, map + map_size), growing down towards the guard.
struct lp__stack {
  void *map;
  size_t map_size;
  size_t guard;
  unsigned vg_id;  // valgrind stack id (0 outside valgrind builds)
};

static inline void *lp__stack_lo(const lp__stack *s) { return (char *)s->map + s->guard; }
static inline size_t lp__stack_usable(const lp__stack *s) { return s->map_size - s->guard; }

// A per-thread LIFO of released stacks, reused for the same usable size.
struct lp__stack_cache {
  lp__stack *items;
  size_t len;
  size_t cap;
  size_t max;  // at most this many are kept; the rest are unmapped
};

// Rounds a requested usable size to whole pages, at least LP_CORO_STACK_MIN;
// 0 selects LP_CORO_STACK_DEFAULT. Returns 0 on overflow.
size_t lp__stack_round(size_t size);
// Takes a stack of the (rounded) usable size from the cache or maps one.
// Returns 0 or -ENOMEM.
int lp__stack_get(lp__stack_cache *cache, size_t usable, lp__stack *out);
// Gives a stack back: cached if there is room, else unmapped.
void lp__stack_put(lp__stack_cache *cache, lp__stack *s);
// Unmaps every cached stack beyond `keep`.
void lp__stack_trim(lp__stack_cache *cache, size_t keep);
void lp__stack_unmap(lp__stack *s);

// ---- coroutines ---------------------------------------------------------------

struct lp__cthread;

struct lp_coro_s {
  lp__ctx ctx;  // first: the hot path stores the stack pointer here
  lp__cthread *thread;
  // Where the value of the switch that resumes this coroutine goes (the
  // `received` of its pending lp_coro_switch; NULL: nowhere).
  void **received;
  // LP_CORO_INIT, LP_CORO_SUSPENDED once started (RUNNING is derived:
  // thread->current == this), or LP_CORO_DEAD.
  lp_coro_status_t status;
  bool is_main;
  lp_coro_t *parent;  // NULL only for a thread's main coroutine
  // Children, so that freeing a coroutine can re-parent them (to its parent,
  // the coroutine a switch to the dead one would have reached).
  lp_coro_t *first_child;
  lp_coro_t *next_sibling;
  lp_coro_t *prev_sibling;
  lp_coro_fn fn;
  void *userdata;
  lp__stack stack;  // map == NULL for main, and once a dead coroutine's stack was recycled
  lp_coro_t *next_zombie;
  size_t stack_size;  // usable bytes requested (rounded)
#if defined(LP__ASAN)
  void *asan_fake_stack;
  const void *asan_bottom;  // the stack ASan is told about; learned for main
  size_t asan_size;
#endif
};

// Per-thread state: the thread's main coroutine, the running coroutine and
// the stack cache. It lives while the thread lives or any of its coroutines
// does (refs counts both), so a coroutine can be freed after its thread
// exited. Only its own thread touches it, except that lp_coro_free may run
// on another thread once `exited` is set.
struct lp__cthread {
  lp_coro_t main;
  lp_coro_t *current;
  // Dead coroutines whose stacks are still mapped: a coroutine's last switch
  // runs on its own stack, so the stack is recycled later, by the next
  // lp_coro_switch, lp_coro_new or lp_coro_free of the thread.
  lp_coro_t *zombies;
  size_t refs;
  bool exited;
  lp__stack_cache cache;
#if defined(LP__ASAN)
  lp_coro_t *origin;  // the coroutine that made the switch in progress
#endif
};

#endif  // LOOPLET_CORO_INTERNAL_H
