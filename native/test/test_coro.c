/*
 * Coroutines (lp_coro_*): values both ways, python-greenlet's parent and
 * return semantics, status queries, destroy rules, the registers and the
 * floating-point control state a switch must preserve, deep recursion, many
 * coroutines alive, threads, and stack overflow into the guard page (in a
 * child process).
 */
#include "lp_test.h"

#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define NOINLINE __attribute__((noinline))

static void *as_ptr(intptr_t v) { return (void *)v; }
static intptr_t as_int(void *p) { return (intptr_t)p; }

/* ---- values and semantics ------------------------------------------------ */

static void *echo_plus_one(lp_coro_t *self, void *value) {
  void *got = NULL;
  CHECK_EQ(lp_coro_current(), self);
  CHECK_EQ(lp_coro_status(self), LP_CORO_RUNNING);
  CHECK_EQ(as_int(value), 1);
  CHECK_EQ(lp_coro_switch(lp_coro_parent(self), as_ptr(2), &got), 0);
  CHECK_EQ(as_int(got), 3);
  CHECK_EQ(lp_coro_switch(lp_coro_parent(self), as_ptr(4), &got), 0);
  return as_ptr(as_int(got) + 1);
}

static void coro_values_both_ways(lp_backend_t b) {
  lp_coro_t *main_co = lp_coro_current(), *c = NULL;
  void *got = NULL;
  (void)b;
  REQUIRE(main_co != NULL);
  CHECK_EQ(lp_coro_main(), main_co);
  CHECK_EQ(lp_coro_is_main(main_co), 1);
  CHECK(lp_coro_parent(main_co) == NULL);
  CHECK_EQ(lp_coro_status(main_co), LP_CORO_RUNNING);
  REQUIRE_EQ(lp_coro_new(&c, echo_plus_one, &got, 0), 0);
  CHECK_EQ(lp_coro_is_main(c), 0);
  CHECK_EQ(lp_coro_userdata(c), &got);
  CHECK_EQ(lp_coro_parent(c), main_co);
  CHECK_EQ(lp_coro_status(c), LP_CORO_INIT);
  CHECK_EQ(lp_coro_switch(c, as_ptr(1), &got), 0);
  CHECK_EQ(as_int(got), 2);
  CHECK_EQ(lp_coro_status(c), LP_CORO_SUSPENDED);
  CHECK_EQ(lp_coro_status(main_co), LP_CORO_RUNNING);
  CHECK_EQ(lp_coro_switch(c, as_ptr(3), &got), 0);
  CHECK_EQ(as_int(got), 4);
  CHECK_EQ(lp_coro_switch(c, as_ptr(41), NULL), 0); /* received may be NULL */
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_EQ(lp_coro_current(), main_co);
  CHECK_EQ(lp_coro_free(c), 0);
}

static void *return_value(lp_coro_t *self, void *value) {
  (void)self;
  return as_ptr(as_int(value) * 10);
}

static void coro_return_goes_to_parent(lp_backend_t b) {
  lp_coro_t *c = NULL;
  void *got = NULL;
  (void)b;
  REQUIRE_EQ(lp_coro_new(&c, return_value, NULL, 0), 0);
  CHECK_EQ(lp_coro_switch(c, as_ptr(7), &got), 0);
  CHECK_EQ(as_int(got), 70);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  /* A dead coroutine forwards to its parent: here that is us, so the value
   * comes straight back. */
  CHECK_EQ(lp_coro_switch(c, as_ptr(5), &got), 0);
  CHECK_EQ(as_int(got), 5);
  CHECK_EQ(lp_coro_free(c), 0);
}

/* parent <- mid (suspended) ; child's parent is mid. */
static lp_coro_t *chain_mid;
static lp_coro_t *chain_child;

static void *chain_child_fn(lp_coro_t *self, void *value) {
  (void)self;
  return as_ptr(as_int(value) + 100);
}

static void *chain_mid_fn(lp_coro_t *self, void *value) {
  void *got = NULL;
  /* Created here, so its parent is this coroutine. */
  CHECK_EQ(lp_coro_new(&chain_child, chain_child_fn, NULL, 0), 0);
  CHECK_EQ(lp_coro_parent(chain_child), self);
  /* The child's return value comes back to us, its parent. */
  CHECK_EQ(lp_coro_switch(chain_child, value, &got), 0);
  CHECK_EQ(as_int(got), as_int(value) + 100);
  CHECK_EQ(lp_coro_status(chain_child), LP_CORO_DEAD);
  /* Suspend; the next resume comes through the dead child. */
  CHECK_EQ(lp_coro_switch(lp_coro_main(), as_ptr(1), &got), 0);
  return as_ptr(as_int(got) + 1000);
}

static void coro_switch_to_dead_goes_to_parent(lp_backend_t b) {
  void *got = NULL;
  (void)b;
  chain_child = NULL;
  REQUIRE_EQ(lp_coro_new(&chain_mid, chain_mid_fn, NULL, 0), 0);
  CHECK_EQ(lp_coro_switch(chain_mid, as_ptr(5), &got), 0);
  CHECK_EQ(as_int(got), 1);
  REQUIRE(chain_child != NULL);
  /* Switching to the dead child resumes its parent (chain_mid) with the
   * value; chain_mid then returns to us. */
  CHECK_EQ(lp_coro_switch(chain_child, as_ptr(2), &got), 0);
  CHECK_EQ(as_int(got), 1002);
  CHECK_EQ(lp_coro_status(chain_mid), LP_CORO_DEAD);
  /* Both dead: the chain ends at main, i.e. here. */
  CHECK_EQ(lp_coro_switch(chain_child, as_ptr(9), &got), 0);
  CHECK_EQ(as_int(got), 9);
  CHECK_EQ(lp_coro_free(chain_child), 0);
  CHECK_EQ(lp_coro_free(chain_mid), 0);
}

static void *noop_fn(lp_coro_t *self, void *value) {
  (void)self;
  return value;
}

static void coro_switch_to_self(lp_backend_t b) {
  void *got = NULL;
  (void)b;
  CHECK_EQ(lp_coro_switch(lp_coro_current(), as_ptr(11), &got), 0);
  CHECK_EQ(as_int(got), 11);
  CHECK_EQ(lp_coro_switch(NULL, NULL, NULL), -EINVAL);
}

static intptr_t recorded_start;

static void *start_recorder(lp_coro_t *self, void *value) {
  recorded_start = as_int(value);
  lp_coro_switch(lp_coro_parent(self), as_ptr(2), NULL);
  return NULL;
}

static void coro_set_parent(lp_backend_t b) {
  lp_coro_t *a = NULL, *c = NULL, *main_co = lp_coro_main();
  void *got = NULL;
  (void)b;
  recorded_start = 0;
  REQUIRE_EQ(lp_coro_new(&a, start_recorder, NULL, 0), 0);
  REQUIRE_EQ(lp_coro_new(&c, return_value, NULL, 0), 0);
  CHECK_EQ(lp_coro_set_parent(c, a), 0);
  CHECK_EQ(lp_coro_parent(c), a);
  CHECK_EQ(lp_coro_set_parent(a, c), -EINVAL); /* cycle */
  CHECK_EQ(lp_coro_set_parent(a, a), -EINVAL);
  CHECK_EQ(lp_coro_set_parent(main_co, a), -EINVAL);
  CHECK_EQ(lp_coro_set_parent(a, NULL), -EINVAL);
  CHECK_EQ(lp_coro_parent(a), main_co);
  /* c returns 30 to its new parent a, which has not started: the return
   * value starts it (as in greenlet), and a switches on to its parent. */
  CHECK_EQ(lp_coro_switch(c, as_ptr(3), &got), 0);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_EQ(lp_coro_status(a), LP_CORO_SUSPENDED);
  CHECK_EQ(recorded_start, 30);
  CHECK_EQ(as_int(got), 2);
  /* Freeing a parent re-parents its children to the grandparent. */
  CHECK_EQ(lp_coro_free(a), 0);
  CHECK_EQ(lp_coro_parent(c), main_co);
  CHECK_EQ(lp_coro_free(c), 0);
}

static lp_coro_t *free_self_target;

static void *free_self_fn(lp_coro_t *self, void *value) {
  (void)value;
  CHECK_EQ(lp_coro_free(self), -EBUSY);
  CHECK_EQ(lp_coro_free(lp_coro_main()), -EINVAL);
  free_self_target = self;
  lp_coro_switch(lp_coro_main(), NULL, NULL);
  lpt_failf(__FILE__, __LINE__, "a freed coroutine was resumed");
  return NULL;
}

static void coro_free_rules(lp_backend_t b) {
  lp_coro_t *c = NULL, *d = NULL;
  (void)b;
  CHECK_EQ(lp_coro_free(NULL), 0);
  CHECK_EQ(lp_coro_free(lp_coro_main()), -EINVAL);
  /* Never started. */
  REQUIRE_EQ(lp_coro_new(&c, noop_fn, NULL, 0), 0);
  CHECK_EQ(lp_coro_free(c), 0);
  /* Suspended: discarded as it is. */
  REQUIRE_EQ(lp_coro_new(&d, free_self_fn, NULL, 0), 0);
  CHECK_EQ(lp_coro_switch(d, NULL, NULL), 0);
  CHECK_EQ(free_self_target, d);
  CHECK_EQ(lp_coro_status(d), LP_CORO_SUSPENDED);
  CHECK_EQ(lp_coro_free(d), 0);
  CHECK_EQ(lp_coro_new(NULL, noop_fn, NULL, 0), -EINVAL);
  CHECK_EQ(lp_coro_new(&c, NULL, NULL, 0), -EINVAL);
  CHECK(c == NULL);
  CHECK_EQ(lp_coro_new(&c, noop_fn, NULL, (size_t)-1), -ENOMEM);
}

static void coro_stack_sizes(lp_backend_t b) {
  lp_coro_t *c = NULL;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t sizes[] = {0, 1, LP_CORO_STACK_MIN, 100000, 1u << 20};
  size_t i;
  (void)b;
  CHECK_EQ(lp_coro_stack_size(lp_coro_main()), 0);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t want = sizes[i] == 0 ? LP_CORO_STACK_DEFAULT : sizes[i];
    size_t got;
    if (want < LP_CORO_STACK_MIN) want = LP_CORO_STACK_MIN;
    REQUIRE_EQ(lp_coro_new(&c, noop_fn, NULL, sizes[i]), 0);
    got = lp_coro_stack_size(c);
    CHECK_GE(got, want);
    CHECK_EQ(got % page, 0);
    CHECK_LE(got, 2 * want + page); /* sanitized builds double it */
    CHECK_EQ(lp_coro_switch(c, as_ptr(3), NULL), 0);
    CHECK_EQ(lp_coro_free(c), 0);
  }
}

static void coro_stack_cache(lp_backend_t b) {
  lp_coro_t *c = NULL;
  int i;
  size_t old;
  (void)b;
  old = lp_coro_set_stack_cache(4);
  CHECK_EQ(old, 32);
  for (i = 0; i < 200; i++) {
    void *got = NULL;
    REQUIRE_EQ(lp_coro_new(&c, return_value, NULL, LP_CORO_STACK_MIN), 0);
    CHECK_EQ(lp_coro_switch(c, as_ptr(i), &got), 0);
    CHECK_EQ(as_int(got), i * 10);
    CHECK_EQ(lp_coro_free(c), 0);
  }
  CHECK_EQ(lp_coro_set_stack_cache(0), 4);
  CHECK_EQ(lp_coro_set_stack_cache(old), 0);
  CHECK(strlen(lp_coro_switch_impl()) > 0);
#if defined(__x86_64__)
  CHECK(strcmp(lp_coro_switch_impl(), "x86_64-sysv") == 0 ||
        strcmp(lp_coro_switch_impl(), "ucontext") == 0);
#elif defined(__aarch64__)
  CHECK(strcmp(lp_coro_switch_impl(), "aarch64-aapcs64") == 0 ||
        strcmp(lp_coro_switch_impl(), "ucontext") == 0);
#endif
}

/* ---- registers ------------------------------------------------------------
 *
 * lpt_regs_switch(to, value, seed) loads seed + k into every callee-saved
 * register k, calls lp_coro_switch(to, value, NULL) and returns a bit mask of
 * the registers that no longer hold their value once it is resumed. The
 * coroutine on the other side loads its own values before switching back,
 * so a switch that saved or restored one register less would show here.
 */
#if defined(__x86_64__) && !defined(_WIN32)
#define LPT_HAVE_REGS_SWITCH 1
#if defined(__APPLE__)
#define LPT_SYM "_lpt_regs_switch"
#define LPT_CALL "call _lp_coro_switch\n"
#define LPT_HEAD ".globl _lpt_regs_switch\n.private_extern _lpt_regs_switch\n"
#else
#define LPT_SYM "lpt_regs_switch"
#define LPT_CALL "call lp_coro_switch@PLT\n"
#define LPT_HEAD \
  ".globl lpt_regs_switch\n.hidden lpt_regs_switch\n.type lpt_regs_switch, @function\n"
#endif
#define LPT_CHECK(reg, k) \
  "leaq " #k "(%rcx), %rdx\n cmpq %rdx, " reg "\n je 1f\n orl $(1 << " #k "), %eax\n1:\n"
__asm__(".text\n" LPT_HEAD ".p2align 4\n" LPT_SYM ":\n"
        "pushq %rbp\n pushq %rbx\n pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
        "subq $24, %rsp\n"
        "movq %rdx, (%rsp)\n"
        "movq %rdx, %rbx\n leaq 1(%rdx), %rbp\n leaq 2(%rdx), %r12\n"
        "leaq 3(%rdx), %r13\n leaq 4(%rdx), %r14\n leaq 5(%rdx), %r15\n"
        "xorl %edx, %edx\n" LPT_CALL
        "movq (%rsp), %rcx\n xorl %eax, %eax\n"
        LPT_CHECK("%rbx", 0) LPT_CHECK("%rbp", 1) LPT_CHECK("%r12", 2)
        LPT_CHECK("%r13", 3) LPT_CHECK("%r14", 4) LPT_CHECK("%r15", 5)
        "addq $24, %rsp\n"
        "popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %rbx\n popq %rbp\n"
        "ret\n");
#define LPT_NREGS 6
#elif defined(__aarch64__)
#define LPT_HAVE_REGS_SWITCH 1
#if defined(__APPLE__)
#define LPT_SYM "_lpt_regs_switch"
#define LPT_CALL "bl _lp_coro_switch\n"
#define LPT_HEAD ".globl _lpt_regs_switch\n.private_extern _lpt_regs_switch\n"
#else
#define LPT_SYM "lpt_regs_switch"
#define LPT_CALL "bl lp_coro_switch\n"
#define LPT_HEAD \
  ".globl lpt_regs_switch\n.hidden lpt_regs_switch\n.type lpt_regs_switch, %function\n"
#endif
#define LPT_CHECKX(reg, k) \
  "add x10, x9, #" #k "\n cmp " reg ", x10\n b.eq 1f\n orr x0, x0, #(1 << " #k ")\n1:\n"
#define LPT_CHECKD(reg, k)                                                           \
  "add x10, x9, #" #k "\n fmov x11, " reg "\n cmp x11, x10\n b.eq 1f\n orr x0, x0, #(1 << " #k \
  ")\n1:\n"
#define LPT_SETD(reg, k) "add x10, x2, #" #k "\n fmov " reg ", x10\n"
__asm__(".text\n" LPT_HEAD ".p2align 4\n" LPT_SYM ":\n"
        "stp x29, x30, [sp, #-176]!\n"
        "stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n"
        "stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
        "stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n stp d12, d13, [sp, #128]\n"
        "stp d14, d15, [sp, #144]\n str x2, [sp, #160]\n"
        "add x19, x2, #0\n add x20, x2, #1\n add x21, x2, #2\n add x22, x2, #3\n"
        "add x23, x2, #4\n add x24, x2, #5\n add x25, x2, #6\n add x26, x2, #7\n"
        "add x27, x2, #8\n add x28, x2, #9\n add x29, x2, #10\n"
        LPT_SETD("d8", 11) LPT_SETD("d9", 12) LPT_SETD("d10", 13) LPT_SETD("d11", 14)
        LPT_SETD("d12", 15) LPT_SETD("d13", 16) LPT_SETD("d14", 17) LPT_SETD("d15", 18)
        "mov x2, #0\n" LPT_CALL
        "ldr x9, [sp, #160]\n mov x0, #0\n"
        LPT_CHECKX("x19", 0) LPT_CHECKX("x20", 1) LPT_CHECKX("x21", 2) LPT_CHECKX("x22", 3)
        LPT_CHECKX("x23", 4) LPT_CHECKX("x24", 5) LPT_CHECKX("x25", 6) LPT_CHECKX("x26", 7)
        LPT_CHECKX("x27", 8) LPT_CHECKX("x28", 9) LPT_CHECKX("x29", 10)
        LPT_CHECKD("d8", 11) LPT_CHECKD("d9", 12) LPT_CHECKD("d10", 13) LPT_CHECKD("d11", 14)
        LPT_CHECKD("d12", 15) LPT_CHECKD("d13", 16) LPT_CHECKD("d14", 17) LPT_CHECKD("d15", 18)
        "ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n ldp d12, d13, [sp, #128]\n"
        "ldp d14, d15, [sp, #144]\n"
        "ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
        "ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
        "ldp x29, x30, [sp], #176\n"
        "ret\n");
#define LPT_NREGS 19
#endif

#if defined(LPT_HAVE_REGS_SWITCH)
long lpt_regs_switch(lp_coro_t *to, void *value, long seed);

static long regs_mask_b1, regs_mask_b2;

static void *regs_entry(lp_coro_t *self, void *value) {
  (void)value;
  /* Switch back with other values in every register, twice. */
  regs_mask_b1 = lpt_regs_switch(lp_coro_parent(self), NULL, 0x5a5a0000);
  regs_mask_b2 = lpt_regs_switch(lp_coro_parent(self), NULL, 0x3c3c0000);
  return NULL;
}
#endif

static void coro_registers_preserved(lp_backend_t b) {
#if defined(LPT_HAVE_REGS_SWITCH)
  lp_coro_t *c = NULL;
  long m1, m2, m3;
  (void)b;
  regs_mask_b1 = regs_mask_b2 = -1;
  REQUIRE_EQ(lp_coro_new(&c, regs_entry, NULL, 0), 0);
  m1 = lpt_regs_switch(c, NULL, 0x11110000); /* starts it */
  m2 = lpt_regs_switch(c, NULL, 0x22220000); /* resumes it */
  m3 = lpt_regs_switch(c, NULL, 0x33330000); /* it returns to us */
  CHECK_EQ(m1, 0);
  CHECK_EQ(m2, 0);
  CHECK_EQ(m3, 0);
  CHECK_EQ(regs_mask_b1, 0);
  CHECK_EQ(regs_mask_b2, 0);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_EQ(lp_coro_free(c), 0);
  printf("# %d callee-saved registers checked on both sides\n", LPT_NREGS);
#else
  (void)b;
  lpt_skip("no register test for this architecture");
#endif
}

/* ---- floating-point control state ----------------------------------------- */

#if defined(__x86_64__)
static unsigned mxcsr_rounding(void) {
  unsigned v;
  __asm__ volatile("stmxcsr %0" : "=m"(v));
  return (v >> 13) & 3u; /* 0 nearest, 1 down, 2 up, 3 toward zero */
}
static unsigned x87_rounding(void) {
  unsigned short v;
  __asm__ volatile("fnstcw %0" : "=m"(v));
  return (v >> 10) & 3u;
}
static unsigned sse_code(int mode) {
  switch (mode) {
    case FE_DOWNWARD: return 1;
    case FE_UPWARD: return 2;
    case FE_TOWARDZERO: return 3;
    default: return 0;
  }
}
#define CHECK_HW_ROUNDING(mode)                 \
  do {                                          \
    CHECK_EQ(mxcsr_rounding(), sse_code(mode)); \
    CHECK_EQ(x87_rounding(), sse_code(mode));   \
  } while (0)
#elif defined(__aarch64__)
static unsigned long fpcr_rounding(void) {
  unsigned long v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return (v >> 22) & 3u; /* 0 nearest, 1 up, 2 down, 3 toward zero */
}
static unsigned long fpcr_code(int mode) {
  switch (mode) {
    case FE_UPWARD: return 1;
    case FE_DOWNWARD: return 2;
    case FE_TOWARDZERO: return 3;
    default: return 0;
  }
}
#define CHECK_HW_ROUNDING(mode) CHECK_EQ(fpcr_rounding(), fpcr_code(mode))
#else
#define CHECK_HW_ROUNDING(mode) ((void)0)
#endif

static int fp_inherited;

static void *fp_entry(lp_coro_t *self, void *value) {
  (void)value;
  fp_inherited = fegetround();
  CHECK_EQ(fesetround(FE_TOWARDZERO), 0);
  CHECK_HW_ROUNDING(FE_TOWARDZERO);
  lp_coro_switch(lp_coro_parent(self), NULL, NULL);
  /* The parent set FE_DOWNWARD meanwhile; ours is still toward zero. */
  CHECK_EQ(fegetround(), FE_TOWARDZERO);
  CHECK_HW_ROUNDING(FE_TOWARDZERO);
  return NULL;
}

static void coro_fp_control_preserved(lp_backend_t b) {
  lp_coro_t *c = NULL;
  int saved = fegetround();
  (void)b;
  fp_inherited = -1;
  CHECK_EQ(fesetround(FE_UPWARD), 0);
  REQUIRE_EQ(lp_coro_new(&c, fp_entry, NULL, 0), 0);
  /* Created under FE_UPWARD: that is what it starts with, whatever the
   * mode at its first switch. */
  CHECK_EQ(fesetround(FE_TONEAREST), 0);
  CHECK_EQ(lp_coro_switch(c, NULL, NULL), 0);
  CHECK_EQ(fp_inherited, FE_UPWARD);
  CHECK_EQ(fegetround(), FE_TONEAREST);
  CHECK_HW_ROUNDING(FE_TONEAREST);
  CHECK_EQ(fesetround(FE_DOWNWARD), 0);
  CHECK_EQ(lp_coro_switch(c, NULL, NULL), 0);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_EQ(fegetround(), FE_DOWNWARD);
  CHECK_HW_ROUNDING(FE_DOWNWARD);
  fesetround(saved);
  CHECK_EQ(lp_coro_free(c), 0);
}

/* ---- deep recursion -------------------------------------------------------- */

static uintptr_t deepest_frame;

static NOINLINE long recurse(long depth) {
  volatile char buf[200];
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  buf[0] = (char)depth;
  buf[sizeof buf - 1] = (char)(depth >> 8);
  if (here < deepest_frame) deepest_frame = here;
  if (depth == 0) return buf[0];
  return recurse(depth - 1) + 1 + (buf[0] - (char)depth) +
         (buf[sizeof buf - 1] - (char)(depth >> 8));
}

static NOINLINE uintptr_t frame_of_callee(void) { return (uintptr_t)__builtin_frame_address(0); }
static NOINLINE uintptr_t frame_two_deep(void) {
  volatile char pad[200];
  pad[0] = 1;
  return frame_of_callee() + (uintptr_t)(pad[0] - 1);
}

static void *deep_entry(lp_coro_t *self, void *value) {
  uintptr_t top = (uintptr_t)__builtin_frame_address(0);
  size_t usable = lp_coro_stack_size(self);
  /* One recursion level costs about what frame_two_deep's frame does. */
  uintptr_t inner = frame_two_deep();
  size_t frame = top > inner ? (size_t)(top - inner) : 256;
  long depth;
  (void)value;
  if (frame < 64) frame = 64;
  depth = (long)(usable * 3 / 4 / (frame + 32));
  deepest_frame = top;
  CHECK_EQ(recurse(depth), depth);
  /* It really went down most of the coroutine's stack. */
  CHECK_GE((long long)(top - deepest_frame), (long long)(usable / 2));
  CHECK_LT((long long)(top - deepest_frame), (long long)usable);
  return as_ptr(depth);
}

static void coro_deep_recursion(lp_backend_t b) {
  lp_coro_t *c = NULL;
  void *got = NULL;
  (void)b;
  REQUIRE_EQ(lp_coro_new(&c, deep_entry, NULL, 1u << 20), 0);
  CHECK_EQ(lp_coro_switch(c, NULL, &got), 0);
  CHECK_EQ(lp_coro_status(c), LP_CORO_DEAD);
  CHECK_GE(as_int(got), 1000);
  printf("# recursion depth %ld on a %zu-byte stack\n", (long)as_int(got), lp_coro_stack_size(c));
  CHECK_EQ(lp_coro_free(c), 0);
}

/* ---- many coroutines ---------------------------------------------------- */

#define MANY 10000
static long many_started;

static void *many_entry(lp_coro_t *self, void *value) {
  void *got = NULL;
  volatile char touch[512];
  touch[0] = 1;
  many_started += touch[0];
  lp_coro_switch(lp_coro_parent(self), NULL, &got);
  return as_ptr(as_int(value) + as_int(got));
}

static void coro_many_alive(lp_backend_t b) {
  lp_coro_t **all = (lp_coro_t **)calloc(MANY, sizeof *all);
  long i, sum = 0, alive = 0;
  (void)b;
  REQUIRE(all != NULL);
  many_started = 0;
  for (i = 0; i < MANY; i++) {
    if (lp_coro_new(&all[i], many_entry, NULL, LP_CORO_STACK_MIN) != 0) break;
    if (lp_coro_switch(all[i], as_ptr(i), NULL) != 0) break;
  }
  CHECK_EQ(i, MANY);
  CHECK_EQ(many_started, i);
  for (i = 0; i < MANY && all[i]; i++) alive += lp_coro_status(all[i]) == LP_CORO_SUSPENDED;
  CHECK_EQ(alive, MANY);
  printf("# %ld coroutines suspended at once\n", alive);
  for (i = MANY - 1; i >= 0; i--) {
    void *got = NULL;
    if (all[i] == NULL) continue;
    CHECK_EQ(lp_coro_switch(all[i], as_ptr(1), &got), 0);
    sum += as_int(got);
    CHECK_EQ(lp_coro_free(all[i]), 0);
  }
  CHECK_EQ(sum, (long)MANY * (MANY - 1) / 2 + MANY);
  free(all);
}

/* ---- threads ---------------------------------------------------------------- */

static lp_coro_t *thread_foreign;
static lp_coro_t *thread_left_behind;
static int thread_rc_switch, thread_rc_free;

static void *park_entry(lp_coro_t *self, void *value) {
  lp_coro_switch(lp_coro_parent(self), value, NULL);
  return NULL;
}

static void *thread_body(void *arg) {
  (void)arg;
  /* A coroutine of another thread cannot be switched to or freed here. */
  thread_rc_switch = lp_coro_switch(thread_foreign, NULL, NULL);
  thread_rc_free = lp_coro_free(thread_foreign);
  /* This thread's own coroutine stays suspended when the thread ends. */
  if (lp_coro_new(&thread_left_behind, park_entry, NULL, 0) == 0)
    lp_coro_switch(thread_left_behind, NULL, NULL);
  return NULL;
}

static void coro_threads(lp_backend_t b) {
  pthread_t th;
  (void)b;
  thread_left_behind = NULL;
  REQUIRE_EQ(lp_coro_new(&thread_foreign, park_entry, NULL, 0), 0);
  REQUIRE_EQ(pthread_create(&th, NULL, thread_body, NULL), 0);
  pthread_join(th, NULL);
  CHECK_EQ(thread_rc_switch, -EXDEV);
  CHECK_EQ(thread_rc_free, -EXDEV);
  REQUIRE(thread_left_behind != NULL);
  CHECK_EQ(lp_coro_status(thread_left_behind), LP_CORO_SUSPENDED);
  /* Its thread is gone: another thread may free it now. */
  CHECK_EQ(lp_coro_switch(thread_left_behind, NULL, NULL), -EXDEV);
  CHECK_EQ(lp_coro_free(thread_left_behind), 0);
  CHECK_EQ(lp_coro_free(thread_foreign), 0);
}

/* ---- guard page --------------------------------------------------------------- */

static volatile uintptr_t guard_lo, guard_hi;
static int guard_pipe = -1;
static volatile long overflow_limit = 1L << 40;

static void on_segv(int sig, siginfo_t *si, void *uctx) {
  uintptr_t addr = (uintptr_t)si->si_addr;
  char verdict = addr >= guard_lo && addr < guard_hi ? 'G' : 'X';
  struct sigaction dfl;
  (void)uctx;
  if (write(guard_pipe, &verdict, 1) < 0) _exit(3);
  /* Returning re-runs the faulting access, now with the default action. */
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
}

static NOINLINE long overflow(long n) {
  volatile char buf[256];
  buf[0] = (char)n;
  if (n >= overflow_limit) return buf[0];
  return overflow(n + 1) + buf[0];
}

static void *overflow_entry(lp_coro_t *self, void *value) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t top = ((uintptr_t)__builtin_frame_address(0) + page - 1) & ~(uintptr_t)(page - 1);
  (void)value;
  guard_hi = top - lp_coro_stack_size(self);
  guard_lo = guard_hi - page;
  return as_ptr(overflow(0));
}

static void guard_child(int fd) {
  static char altstack[1 << 16];
  stack_t ss;
  struct sigaction sa;
  lp_coro_t *c = NULL;
  int devnull = open("/dev/null", O_WRONLY);
  guard_pipe = fd;
  alarm(20);
  /* qemu-user reports the uncaught SIGSEGV on stderr: expected here. */
  if (devnull >= 0) dup2(devnull, 2);
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  if (sigaltstack(&ss, NULL) != 0) _exit(4);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  if (lp_coro_new(&c, overflow_entry, NULL, 64 * 1024) != 0) _exit(5);
  lp_coro_switch(c, NULL, NULL);
  _exit(6); /* the overflow must not return */
}

static void coro_guard_page_overflow(lp_backend_t b) {
  int fds[2], status = 0;
  char verdict = 0;
  pid_t pid;
  (void)b;
  REQUIRE_EQ(pipe(fds), 0);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    guard_child(fds[1]);
  }
  close(fds[1]);
  REQUIRE(pid > 0);
  if (read(fds[0], &verdict, 1) != 1) verdict = 0;
  close(fds[0]);
  REQUIRE_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status))
    CHECK(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
  else
    lpt_failf(__FILE__, __LINE__, "child exited with %d", WEXITSTATUS(status));
  /* The faulting address was in the guard page below the stack. */
  CHECK_EQ(verdict, 'G');
}

static const lpt_case cases[] = {
    LPT_ONCE(coro_values_both_ways),
    LPT_ONCE(coro_return_goes_to_parent),
    LPT_ONCE(coro_switch_to_dead_goes_to_parent),
    LPT_ONCE(coro_switch_to_self),
    LPT_ONCE(coro_set_parent),
    LPT_ONCE(coro_free_rules),
    LPT_ONCE(coro_stack_sizes),
    LPT_ONCE(coro_stack_cache),
    LPT_ONCE(coro_registers_preserved),
    LPT_ONCE(coro_fp_control_preserved),
    LPT_ONCE(coro_deep_recursion),
    LPT_ONCE(coro_many_alive),
    LPT_ONCE(coro_threads),
    LPT_ONCE(coro_guard_page_overflow),
};

int main(int argc, char **argv) {
  printf("# context switch: %s\n", lp_coro_switch_impl());
  return lpt_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
