/*
 * Context switch for aarch64, AAPCS64 (Linux, the BSDs, macOS).
 *
 * Same contract as switch_x86_64_sysv.S (see there and coro_internal.h):
 *   int lp__ctx_jump(void **save_sp, void *to_sp, void *value)
 *     resumes with w0 = 0 and x2 = value
 *   void *lp__ctx_make(void *stack_top, void *coro)
 *   lp__ctx_trampoline: calls lp__coro_main(coro, value), never returns.
 *
 * Saved state: exactly the AAPCS64 callee-saved set: x19-x28, the frame
 * pointer x29, the link register x30 (the resume address), the low 64 bits
 * of v8-v15 (d8-d15), the stack pointer, and FPCR (rounding mode, flush-to-
 * zero and the other control bits; FPSR holds only status flags). x18 is the
 * platform register and is left alone.
 *
 * Frame, from the saved stack pointer up (176 bytes, a multiple of 16):
 *   0x00 d8 d9  0x10 d10 d11  0x20 d12 d13  0x30 d14 d15
 *   0x40 x19 x20  0x50 x21 x22  0x60 x23 x24  0x70 x25 x26  0x80 x27 x28
 *   0x90 x29 x30  0xa0 fpcr  0xa8 padding
 *
 * The resume address is jumped to with `br`, not `ret`: after a stack
 * switch the return-address predictor is always wrong, while the indirect
 * branch predictor learns the targets. These objects carry no BTI property
 * note, so the targets need no landing pads.
 */
#if defined(__aarch64__) && !defined(LP_CORO_UCONTEXT)

#if defined(__APPLE__)
#define LP_SYM(name) _##name
#define LP_FUNC_BEGIN(name) \
  .private_extern LP_SYM(name) %% \
  .globl LP_SYM(name) %% \
  .p2align 4 %% \
  LP_SYM(name):
#define LP_FUNC_END(name)
#define LP_PAGE(name) LP_SYM(name)@PAGE
#define LP_PAGEOFF(name) LP_SYM(name)@PAGEOFF
#else
#define LP_SYM(name) name
#define LP_FUNC_BEGIN(name) \
  .globl name ; \
  .hidden name ; \
  .type name, %function ; \
  .p2align 4 ; \
  name:
#define LP_FUNC_END(name) .size name, .-name
#define LP_PAGE(name) name
#define LP_PAGEOFF(name) :lo12:name
#endif

  .text

/* x0 = save_sp, x1 = to_sp, x2 = value (left in x2 for the trampoline). */
LP_FUNC_BEGIN(lp__ctx_jump)
  .cfi_startproc
  hint #34 /* bti c */
  sub sp, sp, #0xb0
  stp d8, d9, [sp, #0x00]
  stp d10, d11, [sp, #0x10]
  stp d12, d13, [sp, #0x20]
  stp d14, d15, [sp, #0x30]
  stp x19, x20, [sp, #0x40]
  stp x21, x22, [sp, #0x50]
  stp x23, x24, [sp, #0x60]
  stp x25, x26, [sp, #0x70]
  stp x27, x28, [sp, #0x80]
  stp x29, x30, [sp, #0x90]
  mrs x9, fpcr
  str x9, [sp, #0xa0]

  mov x9, sp
  str x9, [x0]
  mov sp, x1

  ldr x9, [sp, #0xa0]
  msr fpcr, x9
  ldp d8, d9, [sp, #0x00]
  ldp d10, d11, [sp, #0x10]
  ldp d12, d13, [sp, #0x20]
  ldp d14, d15, [sp, #0x30]
  ldp x19, x20, [sp, #0x40]
  ldp x21, x22, [sp, #0x50]
  ldp x23, x24, [sp, #0x60]
  ldp x25, x26, [sp, #0x70]
  ldp x27, x28, [sp, #0x80]
  ldp x29, x30, [sp, #0x90]
  add sp, sp, #0xb0
  mov w0, wzr
  br x30
  .cfi_endproc
LP_FUNC_END(lp__ctx_jump)

LP_FUNC_BEGIN(lp__ctx_make)
  .cfi_startproc
  hint #34 /* bti c */
  and x0, x0, #~15
  sub x0, x0, #0xb0
  stp xzr, xzr, [x0, #0x00]
  stp xzr, xzr, [x0, #0x10]
  stp xzr, xzr, [x0, #0x20]
  stp xzr, xzr, [x0, #0x30]
  stp x1, xzr, [x0, #0x40]
  stp xzr, xzr, [x0, #0x50]
  stp xzr, xzr, [x0, #0x60]
  stp xzr, xzr, [x0, #0x70]
  stp xzr, xzr, [x0, #0x80]
  adrp x9, LP_PAGE(lp__ctx_trampoline)
  add x9, x9, LP_PAGEOFF(lp__ctx_trampoline)
  stp xzr, x9, [x0, #0x90]
  mrs x9, fpcr
  stp x9, xzr, [x0, #0xa0]
  ret
  .cfi_endproc
LP_FUNC_END(lp__ctx_make)

/* Entered by the first jump into a new stack: x19 holds the coroutine and
 * x2 the value; x29 is 0, which ends frame-pointer walks here. */
LP_FUNC_BEGIN(lp__ctx_trampoline)
  .cfi_startproc
  .cfi_undefined x30
  mov x1, x2
  mov x0, x19
  bl LP_SYM(lp__coro_main)
  brk #0
  .cfi_endproc
LP_FUNC_END(lp__ctx_trampoline)

#endif

#if defined(__linux__) && defined(__ELF__)
  .section .note.GNU-stack, "", %progbits
#endif
