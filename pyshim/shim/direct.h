/* The frame asm/direct.S builds on the program's stack for the direct
 * entry, lowest address first, and what else the assembly knows.  Plain
 * defines only: included from assembly; shim/direct.c checks each against
 * the C types (struct shim_direct_frame, shim.h, stack_t). */
#ifndef SHIM_DIRECT_H
#define SHIM_DIRECT_H

#define DIRECT_RBX 0
#define DIRECT_R9 8
#define DIRECT_R8 16
#define DIRECT_R10 24
#define DIRECT_RDX 32
#define DIRECT_RSI 40
#define DIRECT_RDI 48
#define DIRECT_RAX 56    /* the stub's number; the result when taken */
#define DIRECT_RFLAGS 64
#define DIRECT_RET 72    /* the site's own syscall instruction; past it when taken */
#define DIRECT_SIZE 80   /* the program's rsp at the site is frame + DIRECT_SIZE */

/* The shim's altstack as shim.h lays it out, and sigaltstack's stack_t
 * (in DIRECT_SS_ROOM bytes below the frame). */
#define DIRECT_STACK_START 8192
#define DIRECT_ALTSTACK_SIZE (128 * 1024)
#define DIRECT_SS_DISABLE 2
#define DIRECT_SS_SP 0
#define DIRECT_SS_FLAGS 8
#define DIRECT_SS_SIZE 16
#define DIRECT_SS_ROOM 32

#endif /* SHIM_DIRECT_H */
