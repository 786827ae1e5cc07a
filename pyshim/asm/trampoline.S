/*
 * x86-64 syscall trampolines of the shim.  Everything here lives in the
 * section `pyshim_text`; the linker defines __start_pyshim_text and
 * __stop_pyshim_text around it, and the shim arms Syscall User Dispatch
 * with exactly that range as the allowed region.  A `syscall` issued from
 * this section therefore always runs natively and is never dispatched.
 *
 * One copy, linked into both the preload library and pyshim._core.
 */
    .section pyshim_text, "ax", @progbits

/*
 * pyshim_restorer: the sa_restorer of the shim's own SIGSYS handler, first
 * in the section.  Byte for byte glibc's __restore_rt, with the nop before
 * it and no unwind table entry covering either, so an unwinder that walks
 * out of a program handler nested in the shim's (backtrace()) recognizes
 * this signal frame too.  Its rt_sigreturn is inside the allowed region, so
 * it is not dispatched.  The mask it restores never holds SIGSYS: a thread
 * traps only with SIGSYS unblocked, and the shim's emulations keep it out.
 * Contract: entered only by the kernel's return from a signal handler.
 */
    nop
    .globl pyshim_restorer
    .hidden pyshim_restorer
    .type pyshim_restorer, @function
pyshim_restorer:
    movq $15, %rax          /* 48 c7 c0 0f 00 00 00: __NR_rt_sigreturn */
    syscall
    ud2
    .size pyshim_restorer, . - pyshim_restorer


/*
 * long pyshim_raw_syscall(long nr, long a1, long a2, long a3, long a4,
 *                         long a5, long a6);
 *
 * Issues syscall `nr` with up to six arguments and returns the kernel's raw
 * result (-4095..-1 is -errno).  Contract: the caller must guarantee that
 * the arguments are valid for the syscall in the same way the kernel ABI
 * requires; this function adds no checks.  It must not be used for clone,
 * vfork or rt_sigreturn, which need the dedicated sequences below or in the
 * clone trampoline.  Restartable syscalls interrupted by a signal are
 * restarted here by the kernel (it rewinds rip to the `syscall`), so the
 * program's SA_RESTART semantics hold.
 */
    .globl pyshim_raw_syscall
    .hidden pyshim_raw_syscall
    .type pyshim_raw_syscall, @function
pyshim_raw_syscall:
    .cfi_startproc
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    movq %r8, %r10
    movq %r9, %r8
    movq 8(%rsp), %r9
    syscall
    ret
    .cfi_endproc
    .size pyshim_raw_syscall, . - pyshim_raw_syscall


/*
 * long pyshim_hold_wait(const uint64_t *program_mask, long nr,
 *                       const long args[6], uint64_t *interrupted_by);
 *
 * The only place a thread waits with its signals open while the supervisor
 * holds its call: rt_sigprocmask(SIG_SETMASK, program_mask), then syscall
 * `nr` with `args` (a futex wait), then rt_sigprocmask(SIG_SETMASK, every
 * signal but SIGSYS); returns the wait's result.  A program handler that
 * interrupts the wait returns through the shim's rt_sigreturn into the
 * context the kernel left: rip at pyshim_hold_syscall with rax = nr if the
 * kernel restarts the wait (futex_waitv restarts under SA_RESTART, like the
 * slow calls a held call stands for), rip at pyshim_hold_resumed with
 * rax = -EINTR if not.  rbx holds interrupted_by throughout, so that
 * sigreturn can tell the waiting frame which (shim_hold_note_signal).
 * Contract: signals are blocked on entry; args hold what syscall nr needs
 * and point at memory that outlives the call; interrupted_by is 8-byte
 * aligned and lies on the stack part of the thread's shim altstack
 * (shim_on_altstack; shim_hold_note_signal writes there only then).
 */
    .globl pyshim_hold_wait
    .hidden pyshim_hold_wait
    .globl pyshim_hold_syscall
    .hidden pyshim_hold_syscall
    .globl pyshim_hold_resumed
    .hidden pyshim_hold_resumed
    .type pyshim_hold_wait, @function
pyshim_hold_wait:
    .cfi_startproc
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    movq %rcx, %rbx             /* interrupted_by, for shim_hold_note_signal */
    movq %rsi, %r12             /* nr */
    movq %rdx, %r13             /* args */
    movq %rdi, %rsi             /* rt_sigprocmask(SIG_SETMASK, program_mask, 0, 8) */
    movl $2, %edi
    xorl %edx, %edx
    movl $8, %r10d
    movl $14, %eax
    syscall
    movq 0(%r13), %rdi          /* the wait */
    movq 8(%r13), %rsi
    movq 16(%r13), %rdx
    movq 24(%r13), %r10
    movq 32(%r13), %r8
    movq 40(%r13), %r9
    movq %r12, %rax
pyshim_hold_syscall:
    syscall
pyshim_hold_resumed:
    movq %rax, %r12             /* the wait's result */
    movl $2, %edi               /* rt_sigprocmask(SIG_SETMASK, &all_but_sigsys, 0, 8) */
    leaq pyshim_all_but_sigsys(%rip), %rsi
    xorl %edx, %edx
    movl $8, %r10d
    movl $14, %eax
    syscall
    movq %r12, %rax
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    ret
    .cfi_endproc
    .size pyshim_hold_wait, . - pyshim_hold_wait

    .section .rodata
    .balign 8
pyshim_all_but_sigsys:
    .quad ~(1 << 30)            /* SIGSYS is 31: bit 30 */
    .section pyshim_text, "ax", @progbits


/*
 * void pyshim_sigreturn_at(void *frame_uc) __attribute__((noreturn));
 *
 * Issues rt_sigreturn for the signal frame whose ucontext is at frame_uc.
 * Contract: frame_uc is where a restorer's rsp would be (the kernel's
 * rt_sigframe just past its return address); the caller's own frames are
 * abandoned.  Used when the program's restorer trapped (see
 * pyshim_program_restorer).
 */
    .globl pyshim_sigreturn_at
    .hidden pyshim_sigreturn_at
    .type pyshim_sigreturn_at, @function
pyshim_sigreturn_at:
    movq %rdi, %rsp
    movl $15, %eax          /* __NR_rt_sigreturn */
    syscall
    ud2
    .size pyshim_sigreturn_at, . - pyshim_sigreturn_at

/*
 * pyshim_program_restorer: the sa_restorer the shim gives the program's own
 * handlers.  It is byte for byte glibc's __restore_rt (with the same nop
 * before it and no unwind table entry), so unwinders (backtrace(), gdb)
 * recognize the signal frame.  It lies outside the allowed region: its
 * rt_sigreturn traps, and the shim performs it with pyshim_sigreturn_at
 * after clearing SIGSYS from the mask the frame restores.
 * Contract: entered only by the kernel's return from a signal handler.
 */
    .text
    nop
    .globl pyshim_program_restorer
    .hidden pyshim_program_restorer
    .type pyshim_program_restorer, @function
pyshim_program_restorer:
    movq $15, %rax          /* 48 c7 c0 0f 00 00 00: __NR_rt_sigreturn */
    syscall
    .size pyshim_program_restorer, . - pyshim_program_restorer

    .section .note.GNU-stack, "", @progbits
