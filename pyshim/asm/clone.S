/*
 * Clone and thread-exit sequences of the shim.  In `pyshim_text`, so their
 * syscalls run natively (see trampoline.S).
 */
#include "context.h"

    .section pyshim_text, "ax", @progbits

/*
 * long pyshim_clone_thread(unsigned long flags, void *child_sp, int *ptid,
 *                          int *ctid, unsigned long tls,
 *                          void (*child_fn)(void *), void *arg);
 *
 * Issues the raw clone syscall.  The parent gets the kernel's result.  The
 * child starts on child_sp and calls child_fn(arg), which must never return.
 * Contract: flags include CLONE_VM (the child shares this memory), child_sp
 * is 16-byte aligned with at least 16 free bytes below it plus whatever
 * child_fn needs, and nothing at or above child_sp is touched here.
 */
    .globl pyshim_clone_thread
    .hidden pyshim_clone_thread
    .type pyshim_clone_thread, @function
pyshim_clone_thread:
    .cfi_startproc
    subq $16, %rsi
    movq %r9, 0(%rsi)           /* child_fn, popped by the child */
    movq 8(%rsp), %rax
    movq %rax, 8(%rsi)          /* arg */
    movq %rcx, %r10             /* ctid: 4th syscall argument */
    movl $56, %eax              /* __NR_clone */
    syscall
    testq %rax, %rax
    jnz 1f
    /* child: rsp = child_sp - 16 */
    .cfi_undefined rip
    xorl %ebp, %ebp
    popq %rax
    popq %rdi
    call *%rax
    ud2
1:  ret
    .cfi_endproc
    .size pyshim_clone_thread, . - pyshim_clone_thread

/*
 * void pyshim_set_context(const struct shim_context *ctx) __attribute__((noreturn));
 *
 * Restores the FPU state (the xsave area with xrstor, or the fxsave area, if
 * present), every general-purpose register and rsp from ctx, then jumps to
 * ctx->rip.  rcx ends up holding rip and r11 the
 * saved r11, as after a real syscall instruction (which clobbers both).
 * Contract: ctx is 64-byte aligned; an xsave area in it is the kernel's
 * (standard format, features the CPU has enabled); its rip/rsp are a valid place to resume
 * (the instruction after the program's syscall, the program's own stack);
 * ctx may lie below the new rsp, since nothing is pushed after the switch.
 */
    .globl pyshim_set_context
    .hidden pyshim_set_context
    .type pyshim_set_context, @function
pyshim_set_context:
    movq CTX_FPU(%rdi), %rax
    cmpq $CTX_FPU_XSAVE, %rax
    jne 2f
    movl CTX_XFEATURES(%rdi), %eax
    movl CTX_XFEATURES+4(%rdi), %edx
    xrstor64 CTX_FX(%rdi)
    jmp 1f
2:  cmpq $CTX_FPU_FX, %rax
    jne 1f
    fxrstor64 CTX_FX(%rdi)
1:  movq CTX_R8(%rdi), %r8
    movq CTX_R9(%rdi), %r9
    movq CTX_R10(%rdi), %r10
    movq CTX_R12(%rdi), %r12
    movq CTX_R13(%rdi), %r13
    movq CTX_R14(%rdi), %r14
    movq CTX_R15(%rdi), %r15
    movq CTX_RSI(%rdi), %rsi
    movq CTX_RBP(%rdi), %rbp
    movq CTX_RBX(%rdi), %rbx
    movq CTX_RDX(%rdi), %rdx
    movq CTX_RAX(%rdi), %rax
    movq CTX_RIP(%rdi), %rcx
    movq CTX_RSP(%rdi), %r11
    movq %r11, %rsp
    movq CTX_R11(%rdi), %r11
    movq CTX_RDI(%rdi), %rdi
    jmp *%rcx
    .size pyshim_set_context, . - pyshim_set_context

/*
 * void pyshim_exit_thread(void *stack_base, size_t stack_size, int status,
 *                         uintptr_t *spare) __attribute__((noreturn));
 *
 * Gives up the calling thread's shim altstack (the stack it may be running
 * on) and exits the thread, without touching memory in between: if `spare`
 * is not NULL and still 0, the region's address goes there in one atomic
 * compare-and-swap (another thread may take it from that moment on);
 * otherwise the region is unmapped.
 * Contract: every signal is blocked (a signal delivered onto a stack that
 * is gone, or that another thread now uses, would kill the process or
 * corrupt it), and nothing else uses that memory.
 */
    .globl pyshim_exit_thread
    .hidden pyshim_exit_thread
    .type pyshim_exit_thread, @function
pyshim_exit_thread:
    movl %edx, %r12d            /* status survives the munmap syscall */
    testq %rcx, %rcx
    jz 1f
    xorl %eax, %eax
    lock cmpxchgq %rdi, (%rcx)  /* *spare: 0 -> stack_base */
    je 2f                       /* kept: exit without another access */
1:  movl $11, %eax              /* __NR_munmap(rdi, rsi) */
    syscall
2:  movl %r12d, %edi
    movl $60, %eax              /* __NR_exit */
    syscall
    ud2
    .size pyshim_exit_thread, . - pyshim_exit_thread

    .section .note.GNU-stack, "", @progbits
