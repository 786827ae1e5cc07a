/*
 * pyshim_probe_landing: where a probe clone resumes (pyshim._core tests).
 * Contract: entered by pyshim_set_context with rsp at a writable
 * struct probe_result (probe.h); records every register, MXCSR and xmm0
 * there, then ends the thread (or single-threaded process) with exit(0).
 */
#include "probe.h"

    .text
    .globl pyshim_probe_landing
    .hidden pyshim_probe_landing
    .type pyshim_probe_landing, @function
pyshim_probe_landing:
    movq %rax, PROBE_RAX(%rsp)
    movq %rbx, PROBE_RBX(%rsp)
    movq %rcx, PROBE_RCX(%rsp)
    movq %rdx, PROBE_RDX(%rsp)
    movq %rsi, PROBE_RSI(%rsp)
    movq %rdi, PROBE_RDI(%rsp)
    movq %rbp, PROBE_RBP(%rsp)
    movq %rsp, PROBE_RSP(%rsp)
    movq %r8, PROBE_R8(%rsp)
    movq %r9, PROBE_R9(%rsp)
    movq %r10, PROBE_R10(%rsp)
    movq %r11, PROBE_R11(%rsp)
    movq %r12, PROBE_R12(%rsp)
    movq %r13, PROBE_R13(%rsp)
    movq %r14, PROBE_R14(%rsp)
    movq %r15, PROBE_R15(%rsp)
    stmxcsr PROBE_MXCSR(%rsp)
    movdqu %xmm0, PROBE_XMM0(%rsp)
    movq $1, PROBE_LANDED(%rsp)
    movl $60, %eax              /* __NR_exit */
    xorl %edi, %edi
    syscall
    ud2
    .size pyshim_probe_landing, . - pyshim_probe_landing

    .section .note.GNU-stack, "", @progbits
