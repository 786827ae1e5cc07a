/*
 * The seed's do_clone_thread / do_clone_process, free of shim state so the
 * same code serves the preload library and pyshim._core's in-process tests.
 */
#ifndef PYSHIM_CLONE_H
#define PYSHIM_CLONE_H

#include <stddef.h>
#include <stdint.h>

#include "pyshim_ipc.h"
#include "raw.h"
#include "../asm/context.h"

/* ---- clone support (asm/clone.S) ---------------------------------------- */
/* The registers a cloned thread resumes with; layout fixed by asm/context.h.
 * The FPU state comes last and only its first `fpu_size` bytes matter, so
 * a start block copied to a child's stack stops there. */
struct shim_context {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip;
    uint64_t fpu;       /* CTX_FPU_NONE, CTX_FPU_FX or CTX_FPU_XSAVE */
    uint64_t xfeatures; /* CTX_FPU_XSAVE: the components to restore */
    uint64_t fpu_size;  /* bytes of fx in use */
    uint8_t fx[CTX_XSAVE_MAX] __attribute__((aligned(64)));
};
#define SHIM_CTX_CHECK(field, off) \
    _Static_assert(offsetof(struct shim_context, field) == (off), "shim_context." #field)
SHIM_CTX_CHECK(r8, CTX_R8);
SHIM_CTX_CHECK(r9, CTX_R9);
SHIM_CTX_CHECK(r10, CTX_R10);
SHIM_CTX_CHECK(r11, CTX_R11);
SHIM_CTX_CHECK(r12, CTX_R12);
SHIM_CTX_CHECK(r13, CTX_R13);
SHIM_CTX_CHECK(r14, CTX_R14);
SHIM_CTX_CHECK(r15, CTX_R15);
SHIM_CTX_CHECK(rdi, CTX_RDI);
SHIM_CTX_CHECK(rsi, CTX_RSI);
SHIM_CTX_CHECK(rbp, CTX_RBP);
SHIM_CTX_CHECK(rbx, CTX_RBX);
SHIM_CTX_CHECK(rdx, CTX_RDX);
SHIM_CTX_CHECK(rax, CTX_RAX);
SHIM_CTX_CHECK(rcx, CTX_RCX);
SHIM_CTX_CHECK(rsp, CTX_RSP);
SHIM_CTX_CHECK(rip, CTX_RIP);
SHIM_CTX_CHECK(fpu, CTX_FPU);
SHIM_CTX_CHECK(xfeatures, CTX_XFEATURES);
SHIM_CTX_CHECK(fx, CTX_FX);
_Static_assert(sizeof(struct shim_context) == CTX_SIZE, "shim_context size");
#undef SHIM_CTX_CHECK

/* The software-reserved bytes 464..511 of a signal frame's fxsave area
 * (the kernel's struct _fpx_sw_bytes): with magic1 set, the frame holds a
 * standard-format xsave area of xstate_size bytes, followed by magic2. */
struct shim_fpx_sw {
    uint32_t magic1;
    uint32_t extended_size;
    uint64_t xfeatures;
    uint32_t xstate_size;
    uint32_t padding[7];
};
#define SHIM_FP_XSTATE_MAGIC1 0x46505853u
#define SHIM_FP_XSTATE_MAGIC2 0x46505845u
_Static_assert(sizeof(struct shim_fpx_sw) == 48, "fpx_sw_bytes");

SHIM_HIDDEN long pyshim_clone_thread(unsigned long flags, void *child_sp, int *ptid,
                                     int *ctid, unsigned long tls,
                                     void (*child_fn)(void *), void *arg);

/* What a new thread finds below its stack: its block (the seed's
 * ShMemBlockSerialized) and, when the parent mapped it, the block's
 * address; `init` runs first in the child; then the context it resumes.
 * 64-byte aligned, so ctx.fx is 64-byte aligned for xrstor. */
struct shim_child_start {
    struct pyshim_block_desc desc;
    void *channel;
    void *area;       /* for init: memory the parent prepared (vfork) */
    uint64_t sigmask; /* for init: the mask to resume with (vfork) */
    uint64_t sigsys_blocked; /* for init: the program's SIGSYS mask bit */
    uint64_t clone_flags;    /* for init: the clone's flags (vfork) */
    void (*init)(struct shim_child_start *self);
    struct shim_context ctx; /* last: copied up to ctx.fx + ctx.fpu_size */
} __attribute__((aligned(64)));

/* The bytes of a start block in use: up to the end of its FPU state.
 * Contract: s->ctx.fpu_size is set (0 when the block has no FPU state). */
static inline size_t shim_child_start_used(const struct shim_child_start *s)
{
    size_t fpu = s->ctx.fpu_size <= CTX_XSAVE_MAX ? s->ctx.fpu_size : CTX_XSAVE_MAX;
    return offsetof(struct shim_child_start, ctx.fx) + fpu;
}

/* do_clone_thread: copies *start below `stack` and clones with `flags`
 * (which must include CLONE_VM).  The child runs init(its copy) on `stack`,
 * then resumes its copy's context with rax = 0 (and the rsp in the context:
 * usually `stack`, the parent's stack for vfork).  Returns the kernel's
 * result in the parent (-EINVAL without a stack, -EFAULT if the stack cannot
 * be written).
 * Contract: start->ctx is safe for the child to resume (valid rip and rsp);
 * `stack` has room for the start block and for init below it; the pointers
 * are valid for the kernel's use of them (ptid, ctid). */
SHIM_HIDDEN long shim_clone_thread(const struct shim_child_start *start, uint64_t flags,
                                   uint64_t stack, uint64_t ptid, uint64_t ctid,
                                   uint64_t tls);

/* do_clone_process: clones without CLONE_VM (the caller checks); returns 0
 * in the child, which continues as a copy of the caller, and the kernel's
 * result in the parent.  Any stack switch is the caller's job afterwards.
 * Contract: flags lack CLONE_VM; ptid/ctid/tls are valid for the kernel. */
SHIM_HIDDEN long shim_clone_process(uint64_t flags, uint64_t ptid, uint64_t ctid,
                                    uint64_t tls);
SHIM_HIDDEN __attribute__((noreturn)) void pyshim_set_context(const struct shim_context *ctx);
SHIM_HIDDEN __attribute__((noreturn)) void pyshim_exit_thread(void *base, size_t size, int status,
                                                            uintptr_t *spare);
#endif /* PYSHIM_CLONE_H */
