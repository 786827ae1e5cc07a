/*
 * The two pieces of the SIGSYS signalfd mode (shim/sigsysfd.c) that must
 * be assembly: the wait that runs with the real SIGSYS blocked, and the
 * entry the program's signal handlers go through in that mode.  Both live
 * in `pyshim_text`, so their syscalls are never dispatched.  Only in the
 * preload library.
 */
#define UC_SIGMASK 296 /* offsetof(ucontext_t, uc_sigmask): checked in shim/sigsysfd.c */

    .section pyshim_text, "ax", @progbits

/*
 * long pyshim_sigsys_wait(const uint64_t *open_mask, long nr, const long args[6]);
 *
 * rt_sigprocmask(SIG_SETMASK, open_mask, 0, 8), syscall `nr` with `args`,
 * rt_sigprocmask(SIG_SETMASK, every signal, 0, 8); returns the call's
 * result.  open_mask is the program's mask plus SIGSYS: from
 * pyshim_sigsys_open to pyshim_sigsys_shut the program's handlers can run,
 * with the real SIGSYS blocked (pyshim_handler_entry unblocks it for them;
 * shim_sigreturn leaves it blocked in a frame that returns here).  A call
 * the kernel restarts after a handler (SA_RESTART) is issued again with the
 * registers loaded below, which the signal frame preserved.
 * Contract: every signal is blocked on entry; open_mask and args point at
 * memory that outlives the call.
 */
    .globl pyshim_sigsys_wait
    .hidden pyshim_sigsys_wait
    .globl pyshim_sigsys_open
    .hidden pyshim_sigsys_open
    .globl pyshim_sigsys_shut
    .hidden pyshim_sigsys_shut
    .type pyshim_sigsys_wait, @function
pyshim_sigsys_wait:
    .cfi_startproc
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    movq %rsi, %r12             /* nr */
    movq %rdx, %r13             /* args */
    movq %rdi, %rsi             /* rt_sigprocmask(SIG_SETMASK, open_mask, 0, 8) */
    movl $2, %edi
    xorl %edx, %edx
    movl $8, %r10d
    movl $14, %eax
    syscall
pyshim_sigsys_open:
    movq 0(%r13), %rdi          /* the wait */
    movq 8(%r13), %rsi
    movq 16(%r13), %rdx
    movq 24(%r13), %r10
    movq 32(%r13), %r8
    movq 40(%r13), %r9
    movq %r12, %rax
    syscall
    movq %rax, %r12             /* its result */
    movl $2, %edi               /* rt_sigprocmask(SIG_SETMASK, &every_signal, 0, 8) */
    leaq pyshim_every_signal(%rip), %rsi
    xorl %edx, %edx
    movl $8, %r10d
    movl $14, %eax
    syscall
pyshim_sigsys_shut:
    movq %r12, %rax
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    ret
    .cfi_endproc
    .size pyshim_sigsys_wait, . - pyshim_sigsys_wait

/*
 * pyshim_handler_entry: the sa_handler the kernel calls for every program
 * handler while the process is in the SIGSYS signalfd mode; it jumps to
 * the program's own handler (pyshim_handlers[sig]) with the kernel's
 * arguments and stack untouched, so the program's handler returns straight
 * into the restorer and no unwinder sees this entry.  If the interrupted
 * context had the real SIGSYS blocked (only pyshim_sigsys_wait does), it
 * unblocks SIGSYS first (shim_sigsys_fd_away): a trapped syscall with
 * SIGSYS blocked would kill the process.  A handler already replaced by SIG_DFL or SIG_IGN (a race
 * with rt_sigaction) is skipped.
 * Contract: entered only by the kernel's signal delivery on x86-64, which
 * passes rdi = signal, rsi = siginfo, rdx = ucontext whatever SA_SIGINFO
 * says, and rax = 0.
 */
    .globl pyshim_handler_entry
    .hidden pyshim_handler_entry
    .type pyshim_handler_entry, @function
pyshim_handler_entry:
    testb $0x40, UC_SIGMASK+3(%rdx) /* bit 30: SIGSYS */
    jz 1f
    pushq %rdi                  /* rsp was 8 mod 16, as after a call: */
    pushq %rsi
    pushq %rdx                  /* now 16-aligned for the call */
    call shim_sigsys_fd_away
    popq %rdx
    popq %rsi
    popq %rdi
1:  movslq %edi, %rax
    leaq pyshim_handlers(%rip), %r11
    movq (%r11,%rax,8), %r11
    cmpq $1, %r11               /* SIG_DFL or SIG_IGN */
    jbe 2f
    xorl %eax, %eax
    jmp *%r11
2:  ret
    .size pyshim_handler_entry, . - pyshim_handler_entry

    .section .rodata
    .balign 8
pyshim_every_signal:
    .quad -1

    .section .note.GNU-stack, "", @progbits
