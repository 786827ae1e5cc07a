/*
 * Register context a cloned thread restores (struct shim_context in
 * shim/clone.h).  The offsets are used by asm/clone.S; shim/clone.h checks
 * each of them against the C struct with _Static_assert.
 */
#ifndef PYSHIM_ASM_CONTEXT_H
#define PYSHIM_ASM_CONTEXT_H

#define CTX_FX 0      /* 512-byte fxsave area, 16-byte aligned */
#define CTX_R8 512
#define CTX_R9 520
#define CTX_R10 528
#define CTX_R11 536
#define CTX_R12 544
#define CTX_R13 552
#define CTX_R14 560
#define CTX_R15 568
#define CTX_RDI 576
#define CTX_RSI 584
#define CTX_RBP 592
#define CTX_RBX 600
#define CTX_RDX 608
#define CTX_RAX 616
#define CTX_RCX 624
#define CTX_RSP 632
#define CTX_RIP 640
#define CTX_HAS_FX 648
#define CTX_SIZE 656

#endif
