/* The frame asm/direct.S pushes on the program's stack for the direct
 * entry, lowest address first.  Plain defines only: included from
 * assembly; shim/direct.c checks each against struct shim_direct_frame. */
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

#endif /* SHIM_DIRECT_H */
