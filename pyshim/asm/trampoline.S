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
