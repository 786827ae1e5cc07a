/* The rewrite arena's geometry, shared by asm/arena.S (which lays out the
 * slots and their unwind entries) and shim/rewrite.c (which writes stubs
 * into them).  Plain defines only: included from assembly. */
#ifndef SHIM_ARENA_H
#define SHIM_ARENA_H

#define PYSHIM_ARENA_SLOT 16    /* bytes per stub; a stub is 14, or 10 (direct) */
#define PYSHIM_ARENA_SLOTS 1024 /* stubs per image */
#define PYSHIM_ARENA_POPPED 8   /* offset after `pop %rcx`: the unwind rule changes there */

#endif /* SHIM_ARENA_H */
