/*
 * Context switch for x86_64, System V ABI (Linux, the BSDs, macOS).
 *
 * The internal contract (coro_internal.h) is three symbols:
 *
 *   int lp__ctx_jump(void **save_sp, void *to_sp, void *value)
 *     Pushes the callee-saved state of the caller on its own stack, stores
 *     the stack pointer in *save_sp, loads to_sp, pops the state that another
 *     lp__ctx_jump (or lp__ctx_make) left there and jumps to the resume
 *     address found there, with 0 in eax and `value` in rdx. The switch
 *     carries no value back: the C side hands values over in memory before
 *     it jumps, so that lp_coro_switch can tail-call this and the resumed
 *     side returns straight into the code that called its lp_coro_switch.
 *     A ping-pong then runs no `ret` at all: a `ret` after a stack switch
 *     never matches the call the return-address predictor saw, and costs a
 *     misprediction every time.
 *   void *lp__ctx_make(void *stack_top, void *coro)
 *     Builds the frame that the first lp__ctx_jump into a new stack pops,
 *     and returns the stack pointer to save. That jump enters
 *     lp__ctx_trampoline, which calls lp__coro_main(coro, value) and never
 *     returns.
 *
 * Saved state: exactly what the ABI makes callee-saved: rbx, rbp, r12-r15,
 * the stack pointer, and the floating-point control state (the MXCSR control
 * bits and the x87 control word, "preserved across calls" in the psABI).
 * xmm registers, flags and the x87 status are caller-saved or scratch.
 *
 * Frame, from the saved stack pointer up (64 bytes; the resume address is
 * the return address of the call that entered lp__ctx_jump):
 *   0: mxcsr (4)  4: x87 control word (2)  6: padding (2)
 *   8: r15  16: r14  24: r13  32: r12  40: rbx  48: rbp  56: resume address
 *
 * The resume address is popped and jumped to (not `ret`), as boost.context
 * does: the indirect jump is predicted from its own history. A new stack's
 * saved pointer is 16-byte aligned, so that the trampoline starts with
 * rsp % 16 == 0 and its `call` gives the callee the alignment the ABI
 * promises.
 *
 * Built only where it applies: other targets (and builds that select the
 * ucontext fallback with LP_CORO_UCONTEXT) assemble an empty object, and
 * coro_internal.h stops the build with #error where no switch exists.
 */
#if defined(__x86_64__) && !defined(_WIN32) && !defined(LP_CORO_UCONTEXT)

#if defined(__APPLE__)
#define LP_SYM(name) _##name
#define LP_FUNC_BEGIN(name) \
  .private_extern LP_SYM(name) ; \
  .globl LP_SYM(name) ; \
  .p2align 4 ; \
  LP_SYM(name):
#define LP_FUNC_END(name)
#define LP_CALL(name) call LP_SYM(name)
#else
#define LP_SYM(name) name
#define LP_FUNC_BEGIN(name) \
  .globl name ; \
  .hidden name ; \
  .type name, @function ; \
  .p2align 4 ; \
  name:
#define LP_FUNC_END(name) .size name, .-name
#define LP_CALL(name) call name@PLT
#endif

#if defined(__CET__) && (__CET__ & 1)
#define LP_LANDING_PAD endbr64
#else
#define LP_LANDING_PAD
#endif

  .text

/* rdi = save_sp, rsi = to_sp, rdx = value (left in rdx for the trampoline). */
LP_FUNC_BEGIN(lp__ctx_jump)
  .cfi_startproc
  LP_LANDING_PAD
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  pushq %r12
  .cfi_adjust_cfa_offset 8
  pushq %r13
  .cfi_adjust_cfa_offset 8
  pushq %r14
  .cfi_adjust_cfa_offset 8
  pushq %r15
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  stmxcsr (%rsp)
  fnstcw 4(%rsp)

  movq %rsp, (%rdi)
  movq %rsi, %rsp

  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  popq %r8
  xorl %eax, %eax
  jmpq *%r8
  .cfi_endproc
LP_FUNC_END(lp__ctx_jump)

LP_FUNC_BEGIN(lp__ctx_make)
  .cfi_startproc
  LP_LANDING_PAD
  leaq -80(%rdi), %rax
  andq $-16, %rax
  stmxcsr (%rax)
  fnstcw 4(%rax)
  movw $0, 6(%rax)
  xorl %ecx, %ecx
  movq %rcx, 8(%rax)
  movq %rcx, 16(%rax)
  movq %rcx, 24(%rax)
  movq %rcx, 32(%rax)
  movq %rsi, 40(%rax)
  movq %rcx, 48(%rax)
  leaq LP_SYM(lp__ctx_trampoline)(%rip), %rdx
  movq %rdx, 56(%rax)
  movq %rcx, 64(%rax)
  movq %rcx, 72(%rax)
  ret
  .cfi_endproc
LP_FUNC_END(lp__ctx_make)

/* Entered by the first jump into a new stack: rbx holds the coroutine and
 * rdx the value. The CFI marks the end of the call chain for unwinders and
 * debuggers; lp__coro_main never returns. */
LP_FUNC_BEGIN(lp__ctx_trampoline)
  .cfi_startproc
  .cfi_undefined rip
  LP_LANDING_PAD
  movq %rbx, %rdi
  movq %rdx, %rsi
  LP_CALL(lp__coro_main)
  ud2
  .cfi_endproc
LP_FUNC_END(lp__ctx_trampoline)

#endif

#if defined(__linux__) && defined(__ELF__)
  .section .note.GNU-stack, "", %progbits
#endif
