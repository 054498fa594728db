// LP_ASSERT(cond): checks an invariant the code relies on, as libuv's assert()
// does. Active where LP_ASSERTS is 1 and in builds without NDEBUG unless
// LP_ASSERTS is 0 (the CMake Debug, sanitizer and fuzz builds have them; the
// CMake Release build and the addons built by node-gyp set them off). A
// failure prints the condition and its place to stderr and aborts. When off,
// cond is not evaluated (it must have no side effects) but still compiled, so
// values used only by assertions count as used.
#ifndef LOOPLET_ASSERT_H
#define LOOPLET_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#if !defined(LP_ASSERTS)
#if defined(NDEBUG)
#define LP_ASSERTS 0
#else
#define LP_ASSERTS 1
#endif
#endif

#if LP_ASSERTS
__attribute__((noreturn, cold)) static inline void lp__assert_fail(const char *cond,
                                                                   const char *file, int line) {
  fprintf(stderr, "looplet: %s:%d: assertion failed: %s\n", file, line, cond);
  abort();
}
#define LP_ASSERT(cond) ((cond) ? (void)0 : lp__assert_fail(#cond, __FILE__, __LINE__))
#else
#define LP_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
