/*
 * Register context a cloned thread restores (struct shim_context in
 * shim/clone.h).  The offsets are used by asm/clone.S; shim/clone.h checks
 * each of them against the C struct with _Static_assert.
 */
#ifndef PYSHIM_ASM_CONTEXT_H
#define PYSHIM_ASM_CONTEXT_H

#define CTX_R8 0
#define CTX_R9 8
#define CTX_R10 16
#define CTX_R11 24
#define CTX_R12 32
#define CTX_R13 40
#define CTX_R14 48
#define CTX_R15 56
#define CTX_RDI 64
#define CTX_RSI 72
#define CTX_RBP 80
#define CTX_RBX 88
#define CTX_RDX 96
#define CTX_RAX 104
#define CTX_RCX 112
#define CTX_RSP 120
#define CTX_RIP 128
#define CTX_FPU 136       /* which of the forms below CTX_FX holds */
#define CTX_XFEATURES 144 /* xrstor's feature mask (edx:eax) for CTX_FPU_XSAVE */
#define CTX_FX 192        /* FPU state, 64-byte aligned: an fxsave area or a */
#define CTX_XSAVE_MAX 4096 /* standard-format xsave area of up to this size */
#define CTX_SIZE 4288     /* CTX_FX + CTX_XSAVE_MAX */

#define CTX_FPU_NONE 0
#define CTX_FPU_FX 1    /* the first 512 bytes: fxrstor */
#define CTX_FPU_XSAVE 2 /* the whole area, as the kernel's signal frame had it: xrstor */

#endif
