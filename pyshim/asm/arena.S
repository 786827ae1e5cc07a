/*
 * The rewrite arena: room for the stubs shim/rewrite.c writes, inside the
 * section `pyshim_text`, hence inside the region Syscall User Dispatch
 * never traps: a stub's `syscall` runs natively, as the trampoline's do.
 * Only in the preload library.
 *
 * A rewritten site `call`s its stub, so the stub runs as a function called
 * from the site (the return address is the site's own `syscall`):
 *
 *    0: b8 imm32       mov $nr, %eax
 *    5: 0f 05          syscall
 *    7: 59             pop %rcx          (the original syscall's address)
 *    8: 48 8d 49 02    lea 2(%rcx), %rcx (after it, where rcx points natively)
 *   12: ff e1          jmp *%rcx
 *
 * A stub whose call must trap again (shim_rewrite_undo) has `ret` (c3) at
 * offset 5: it returns to the site's own `syscall` with eax set, which
 * traps.  A stub of the direct kind (a call the shim must see) is
 *
 *    0: b8 imm32       mov $nr, %eax
 *    5: e9 rel32       jmp pyshim_direct  (asm/direct.S)
 *
 * whose two instructions leave rsp as the slot's unwind entry says.
 *
 * Each slot has its own unwind entry describing exactly that, so an
 * unwinder that starts in a stub (a signal handler's backtrace, the forced
 * unwind of a cancelled thread) continues in the function of the site.
 * Unwritten slots hold int3.
 *
 * Contract: written only by shim/rewrite.c, a whole slot before any site
 * calls it, in the layout above (geometry in shim/arena.h); never freed.
 */
#include "arena.h"

    .section pyshim_text, "ax", @progbits
    .balign 4096
    .globl pyshim_arena
    .hidden pyshim_arena
pyshim_arena:
    .rept PYSHIM_ARENA_SLOTS
    .cfi_startproc              /* at entry: CFA = rsp + 8, return address at [rsp] */
    .fill PYSHIM_ARENA_POPPED, 1, 0xcc  /* mov, syscall, pop */
    .cfi_def_cfa_offset 0       /* popped: the caller's rsp is rsp ... */
    .cfi_register rip, rcx      /* ... and its pc is in rcx */
    .fill PYSHIM_ARENA_SLOT - PYSHIM_ARENA_POPPED, 1, 0xcc
    .cfi_endproc
    .endr
    .globl pyshim_arena_end
    .hidden pyshim_arena_end
pyshim_arena_end:

    .section .note.GNU-stack, "", @progbits
