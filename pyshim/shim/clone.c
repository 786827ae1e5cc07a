/* The seed's do_clone_thread and do_clone_process (see clone.h), on top of
 * asm/clone.S.  Free of shim state: linked into the preload library and
 * into pyshim._core, whose tests drive these functions in-process. */
#include <errno.h>
#include <sys/syscall.h>

#include "clone.h"

/* Entry of a new thread, on its own stack just below its start block.
 * Contract: called only by pyshim_clone_thread's child with the start block
 * that shim_clone_thread copied; runs before any program code. */
static __attribute__((noreturn)) void thread_entry(void *arg)
{
    struct shim_child_start *s = arg;
    if (s->init)
        s->init(s);
    pyshim_set_context(&s->ctx);
}

long shim_clone_thread(const struct shim_child_start *start, uint64_t flags, uint64_t stack,
                       uint64_t ptid, uint64_t ctid, uint64_t tls)
{
    if (!stack)
        return -EINVAL; /* sharing the parent's stack cannot be resumed safely */
    struct shim_child_start copy;
    size_t size = shim_child_start_used(start);
    shim_memcpy(&copy, start, size);
    copy.ctx.rax = 0; /* the child's view of clone */
    /* Below the program's stack pointer, never above: the program may keep
     * data there (glibc's clone() keeps fn and arg at the top).  Only the
     * FPU state in use is copied: the rest would lie past `stack`. */
    uintptr_t at = (stack - size) & ~(uintptr_t)63;
    if (shim_copy_out((void *)at, &copy, size))
        return -EFAULT; /* a stack we cannot write */
    return pyshim_clone_thread(flags, (void *)at, (int *)ptid, (int *)ctid, tls,
                               thread_entry, (void *)at);
}

long shim_clone_process(uint64_t flags, uint64_t ptid, uint64_t ctid, uint64_t tls)
{
    /* No new stack: without CLONE_VM the child has its own copy of this one. */
    return RAW6(SYS_clone, flags, 0, ptid, ctid, tls, 0);
}
