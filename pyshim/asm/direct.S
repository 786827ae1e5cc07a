/*
 * pyshim_direct: the direct entry of a rewritten site of a call the shim
 * must see (shim/direct.c), jumped to by its arena stub (asm/arena.S):
 *
 *    0: b8 imm32       mov $nr, %eax
 *    5: e9 rel32       jmp pyshim_direct
 *
 * so rsp points at the return address the site's `call` pushed: the
 * site's own 2-byte syscall.  The program's registers are saved on its
 * stack below that (libc's syscall functions keep nothing below rsp, as
 * for every stub), the thread's shim altstack is found with sigaltstack
 * (the kernel's rule: below the current rsp when already on it, else from
 * its top), and shim_direct runs there, with the program's signal mask in
 * force as the SIGSYS handler does (SA_NODEFER, empty sa_mask).  Taken,
 * the call returns past the site's syscall with rax the result, rcx and
 * r11 as a syscall leaves them and every other register, the flags (DF
 * too) and, since the shim is built -mgeneral-regs-only, the vector state
 * as they were.  Not taken (shim_direct left the frame alone, or no shim
 * altstack here), every register is restored, eax holds the number again,
 * and the return goes to the site's syscall, which traps: the trap stays
 * the catch-all.
 *
 * Contract: entered only from an arena stub written by shim/rewrite.c for
 * a site of libc (the frame layout is shim/direct.h's).
 */
#include <asm/unistd.h>
#include "../shim/direct.h"

    .section pyshim_text, "ax", @progbits
    .globl pyshim_direct
    .hidden pyshim_direct
    .type pyshim_direct, @function
pyshim_direct:
    .cfi_startproc
    /* The frame of shim/direct.h: the flags first, right below the return
     * address, then the rest at their offsets. */
    pushfq
    .cfi_adjust_cfa_offset 8
    subq $DIRECT_RFLAGS, %rsp
    .cfi_adjust_cfa_offset DIRECT_RFLAGS
    movq %rax, DIRECT_RAX(%rsp)
    movq %rdi, DIRECT_RDI(%rsp)
    movq %rsi, DIRECT_RSI(%rsp)
    movq %rdx, DIRECT_RDX(%rsp)
    movq %r10, DIRECT_R10(%rsp)
    movq %r8, DIRECT_R8(%rsp)
    movq %r9, DIRECT_R9(%rsp)
    movq %rbx, DIRECT_RBX(%rsp)
    .cfi_rel_offset rbx, DIRECT_RBX
    movq %rsp, %rbx
    .cfi_def_cfa rbx, DIRECT_SIZE
    cld
    /* Off (shim_direct_off): not even the sigaltstack below, which a
     * seccomp filter of the program's may forbid. */
    cmpl $0, pyshim_direct_off(%rip)
    jne .Lbail
    /* sigaltstack(NULL, &ss), ss below the frame */
    subq $DIRECT_SS_ROOM, %rsp
    movl $__NR_sigaltstack, %eax
    xorl %edi, %edi
    movq %rsp, %rsi
    syscall
    testq %rax, %rax
    jnz .Lbail
    testl $DIRECT_SS_DISABLE, DIRECT_SS_FLAGS(%rsp)
    jnz .Lbail
    /* Only the shim's own altstack: its geometry (shim_thread_init_at). */
    movq DIRECT_SS_SP(%rsp), %rdi
    cmpq $(DIRECT_ALTSTACK_SIZE - DIRECT_STACK_START), DIRECT_SS_SIZE(%rsp)
    jne .Lbail
    leaq -DIRECT_STACK_START(%rdi), %rsi
    testq $(DIRECT_ALTSTACK_SIZE - 1), %rsi
    jnz .Lbail
    /* The program on it already (a handler of its own there): go on below;
     * judged by the program's rsp, as the kernel judges. */
    leaq (DIRECT_SIZE - 1)(%rbx), %rcx  /* on_sig_stack: ss_sp < rsp <= ss_sp + size */
    subq %rdi, %rcx
    cmpq $(DIRECT_ALTSTACK_SIZE - DIRECT_STACK_START), %rcx
    jb 1f
    leaq (DIRECT_ALTSTACK_SIZE - DIRECT_STACK_START)(%rdi), %rsp
1:  andq $-16, %rsp
    movq %rbx, %rdi
    call shim_direct
.Lbail:
    /* Everything as shim_direct left the frame: taken, rax the result and
     * the return address past the site's syscall; not taken, both as
     * they were, the number in rax and the return to the site's syscall,
     * which traps.  rcx and r11 as a syscall leaves them: the address after
     * it, and the flags. */
    movq %rbx, %rsp
    movq DIRECT_RBX(%rsp), %rbx
    .cfi_def_cfa rsp, DIRECT_SIZE
    .cfi_restore rbx
    movq DIRECT_R9(%rsp), %r9
    movq DIRECT_R8(%rsp), %r8
    movq DIRECT_R10(%rsp), %r10
    movq DIRECT_RDX(%rsp), %rdx
    movq DIRECT_RSI(%rsp), %rsi
    movq DIRECT_RDI(%rsp), %rdi
    movq DIRECT_RAX(%rsp), %rax
    addq $DIRECT_RFLAGS, %rsp
    .cfi_adjust_cfa_offset -DIRECT_RFLAGS
    movq (%rsp), %r11
    popfq
    .cfi_adjust_cfa_offset -8
    movq (%rsp), %rcx
    ret
    .cfi_endproc
    .size pyshim_direct, . - pyshim_direct

    .section .note.GNU-stack, "", @progbits
