/*
 * x86-64 syscall trampolines of the shim.  Everything here lives in the
 * section `pyshim_text`; the linker defines __start_pyshim_text and
 * __stop_pyshim_text around it, and the shim arms Syscall User Dispatch
 * with exactly that range as the allowed region.  A `syscall` issued from
 * this section therefore always runs natively and is never dispatched.
 *
 * One copy, linked into both the preload library and pyshim._core.
 */
#include "context.h"

    .section pyshim_text, "ax", @progbits

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
 * pyshim_restorer: the sa_restorer of every handler the shim installs or
 * rewrites.  Contract: entered only by the kernel's return from a signal
 * handler, with rsp pointing at the rt_sigframe's ucontext as the kernel
 * laid it out.  It clears SIGSYS from the mask the frame restores (a
 * handler may have added it), then issues rt_sigreturn inside the allowed
 * region, so it is not dispatched (libc's own restorer would be, and would
 * kill the program).
 */
    .globl pyshim_restorer
    .hidden pyshim_restorer
    .type pyshim_restorer, @function
pyshim_restorer:
    btrq $SIGSYS_BIT, UC_SIGMASK(%rsp)
    movl $15, %eax          /* __NR_rt_sigreturn */
    syscall
    ud2
    .size pyshim_restorer, . - pyshim_restorer

    .section .note.GNU-stack, "", @progbits
