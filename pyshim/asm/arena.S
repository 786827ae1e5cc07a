/*
 * The rewrite arena: room for the stubs shim/rewrite.c writes, inside the
 * section `pyshim_text`, hence inside the region Syscall User Dispatch
 * never traps.  A stub's `syscall` runs natively, as the trampoline's do.
 * Filled with int3 so that a stray jump into an unwritten slot traps
 * instead of running garbage.  Only in the preload library.
 *
 * Contract: written only by shim/rewrite.c, a whole slot before any site
 * jumps to it; never freed (sites stay patched for the image's life).
 */
    .section pyshim_text, "ax", @progbits
    .balign 4096
    .globl pyshim_arena
    .hidden pyshim_arena
pyshim_arena:
    .fill 16384, 1, 0xcc
    .globl pyshim_arena_end
    .hidden pyshim_arena_end
pyshim_arena_end:

    .section .note.GNU-stack, "", @progbits
