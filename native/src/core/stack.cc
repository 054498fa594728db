// Coroutine stacks: mmap'd, with one PROT_NONE guard page below the usable
// part (stacks grow down on every supported target), and a per-thread cache
// so that creating a coroutine usually costs no syscall.
//
// Under valgrind each mapping is registered as a stack (VALGRIND_STACK_REGISTER)
// for as long as it is mapped, cached or not; under ASan a stack is unpoisoned
// when it is released, since the frames that ran on it left their redzones.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro_internal.h"
#include "lp_assert.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define LP__VALGRIND 1
#endif
#endif

#if defined(LP__ASAN)
#include <sanitizer/asan_interface.h>
#endif

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif
#if !defined(MAP_STACK)
#define MAP_STACK 0
#endif

static size_t page_size(void) {
  static size_t cached;  // idempotent: every thread computes the same value
  size_t p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (p == 0) {
    long v = sysconf(_SC_PAGESIZE);
    p = v > 0 ? (size_t)v : 4096;
    __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
  }
  return p;
}

size_t lp__stack_round(size_t size) {
  size_t page = page_size();
  if (size == 0) size = LP_CORO_STACK_DEFAULT;
  if (size < LP_CORO_STACK_MIN) size = LP_CORO_STACK_MIN;
#if defined(LP__ASAN)
  // ASan frames carry redzones (and fake stacks for use-after-return): give
  // the same code room to run as it has in a plain build.
  if (size > SIZE_MAX / 4) return 0;
  size *= 2;
#endif
  if (size > SIZE_MAX - 2 * page) return 0;
  return (size + page - 1) & ~(page - 1);
}

static int stack_map(size_t usable, lp__stack *out) {
  size_t guard = page_size();
  size_t total = usable + guard;
  void *map = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                   -1, 0);
  if (map == MAP_FAILED) return -ENOMEM;
  if (mprotect(map, guard, PROT_NONE) != 0) {
    int rc = munmap(map, total);
    LP_ASSERT(rc == 0);
    return -ENOMEM;
  }
  out->map = map;
  out->map_size = total;
  out->guard = guard;
  out->vg_id = 0;
#if defined(LP__VALGRIND)
  out->vg_id = VALGRIND_STACK_REGISTER(lp__stack_lo(out), (char *)map + total);
#endif
  return 0;
}

void lp__stack_unmap(lp__stack *s) {
  if (s->map == nullptr) return;
#if defined(LP__VALGRIND)
  VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
#if defined(LP__ASAN)
  ASAN_UNPOISON_MEMORY_REGION(lp__stack_lo(s), lp__stack_usable(s));
#endif
  int rc = munmap(s->map, s->map_size);
  LP_ASSERT(rc == 0);  // a mapping this file made, of its own size
  s->map = nullptr;
}

int lp__stack_get(lp__stack_cache *cache, size_t usable, lp__stack *out) {
  // LIFO: the most recently released stack is the likeliest to be in cache.
  for (size_t i = cache->len; i > 0; i--) {
    lp__stack *s = &cache->items[i - 1];
    if (lp__stack_usable(s) != usable) continue;
    *out = *s;
    *s = cache->items[--cache->len];
    return 0;
  }
  return stack_map(usable, out);
}

void lp__stack_put(lp__stack_cache *cache, lp__stack *s) {
  if (s->map == nullptr) return;
#if defined(LP__ASAN)
  ASAN_UNPOISON_MEMORY_REGION(lp__stack_lo(s), lp__stack_usable(s));
#endif
  if (cache->len >= cache->max) {
    lp__stack_unmap(s);
    return;
  }
  if (cache->len == cache->cap) {
    size_t cap = cache->cap ? cache->cap * 2 : 8;
    if (cap > cache->max) cap = cache->max;
    lp__stack *items = (lp__stack *)realloc(cache->items, cap * sizeof *items);
    if (items == nullptr) {
      lp__stack_unmap(s);
      return;
    }
    cache->items = items;
    cache->cap = cap;
  }
  cache->items[cache->len++] = *s;
  s->map = nullptr;
}

void lp__stack_trim(lp__stack_cache *cache, size_t keep) {
  while (cache->len > keep) lp__stack_unmap(&cache->items[--cache->len]);
  if (cache->len == 0) {
    free(cache->items);
    cache->items = nullptr;
    cache->cap = 0;
  }
}
