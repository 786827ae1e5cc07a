/* In-process drivers of the clone helpers, for tests (clone_probe.c). */
#ifndef PYSHIM_CLONE_PROBE_H
#define PYSHIM_CLONE_PROBE_H

#include <stdint.h>

#include "pyshim_ipc.h"

struct probe_result {
    uint64_t regs[16];  /* at the landing: rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
    uint32_t mxcsr;
    uint32_t pad0;
    uint64_t clone_rax; /* process without a stack switch: what clone returned */
    uint8_t xmm0[16];
    uint64_t landed;    /* 1: the probe ran; 2: the child returned without switching */
    struct pyshim_block_desc desc; /* the block the child found */
    uint64_t init_frame; /* frame address of the child's first C function */
    int32_t tid;
    int32_t pid;
};

/* Creates a thread through shim_clone_thread that resumes `regs` at the
 * probe; waits for it and fills `out`.  Returns the kernel's clone result.
 * Contract: `out` is writable; the caller holds no lock the child needs
 * (the child runs no libc). */
long pyshim_probe_clone_thread(const uint64_t regs[16], uint32_t mxcsr, const uint8_t xmm0[16],
                               const struct pyshim_block_desc *desc, struct probe_result *out);

/* Creates a process through shim_clone_process; with switch_stack it resumes
 * `regs` at the probe on a new stack, as do_clone_process does when given
 * one.  Waits for it, fills `out` and *status.  Same contract. */
long pyshim_probe_clone_process(const uint64_t regs[16], uint32_t mxcsr, const uint8_t xmm0[16],
                                const struct pyshim_block_desc *desc, int switch_stack,
                                struct probe_result *out, int *status);

#endif
