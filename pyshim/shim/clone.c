/* Threads and processes created from a trapped clone: the seed's
 * do_clone_thread and do_clone_process, in C and asm/clone.S. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include "shim.h"

/* What a new thread finds on its stack: the context to resume and its
 * channel.  64-byte aligned, so ctx.fx is 16-byte aligned for fxrstor. */
struct shim_child_start {
    struct shim_context ctx;
    struct pyshim_channel *channel;
} __attribute__((aligned(64)));

/* The trapped registers, to resume at the instruction after the syscall
 * with rax = 0 (the child's view of clone) and rsp = `stack`. */
static void capture(struct shim_context *ctx, const ucontext_t *uc, uint64_t stack)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    ctx->r8 = g[REG_R8];
    ctx->r9 = g[REG_R9];
    ctx->r10 = g[REG_R10];
    ctx->r11 = g[REG_R11];
    ctx->r12 = g[REG_R12];
    ctx->r13 = g[REG_R13];
    ctx->r14 = g[REG_R14];
    ctx->r15 = g[REG_R15];
    ctx->rdi = g[REG_RDI];
    ctx->rsi = g[REG_RSI];
    ctx->rbp = g[REG_RBP];
    ctx->rbx = g[REG_RBX];
    ctx->rdx = g[REG_RDX];
    ctx->rcx = g[REG_RCX];
    ctx->rax = 0;
    ctx->rsp = stack;
    ctx->rip = g[REG_RIP];
    ctx->has_fx = uc->uc_mcontext.fpregs != 0;
    if (ctx->has_fx)
        shim_memcpy(ctx->fx, uc->uc_mcontext.fpregs, sizeof ctx->fx);
}

/* Entry of a new thread, on its own stack (below the start block).
 * Contract: called only by pyshim_clone_thread's child, with `arg` the
 * start block it was given; runs before any program code in the thread. */
static __attribute__((noreturn)) void thread_child(void *arg)
{
    struct shim_child_start *s = arg;
    long status;
    struct shim_thread *t = shim_thread_init(s->channel, &status);
    if (!t)
        shim_die("no memory for a new thread's shim stack");
    shim_start(t, status);
    pyshim_set_context(&s->ctx);
}

/* CLONE_VM: a thread (or a raw clone sharing memory).  Contract: `uc` is
 * the trapped context; req->stack is the program's child stack. */
static long clone_thread(const ucontext_t *uc, const struct shim_clone_req *req)
{
    if (!req->stack)
        return -EINVAL; /* sharing the parent's stack cannot be resumed safely */
    struct shim_child_start local;
    shim_memset(&local, 0, sizeof local);
    capture(&local.ctx, uc, req->stack);
    local.channel = req->channel;
    uintptr_t at = (req->stack - sizeof local) & ~(uintptr_t)63;
    if (shim_copy_out((void *)at, &local, sizeof local))
        return -EFAULT; /* the program gave a stack we cannot write */
    return pyshim_clone_thread(req->flags, (void *)at, (int *)req->ptid, (int *)req->ctid,
                               req->tls, thread_child, (void *)at);
}

/* No CLONE_VM: a new process, which starts as a copy of this one inside
 * this very handler.  Contract: `t` is the calling thread's state. */
static long clone_process(struct shim_thread *t, ucontext_t *uc,
                          const struct shim_clone_req *req, int *in_child)
{
    /* The stack switch, if any, is done on return from the handler. */
    long r = RAW6(SYS_clone, req->flags, 0, req->ptid, req->ctid, req->tls, 0);
    if (r != 0)
        return r;
    /* Child: a copy of this thread, with dispatch disarmed by the kernel. */
    t->pid = (int32_t)RAW0(SYS_getpid);
    t->tid = (int32_t)RAW0(SYS_gettid);
    t->channel = req->channel;
    shim_start(t, shim_arm());
    if (req->stack)
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)req->stack;
    *in_child = 1;
    return 0;
}

long shim_do_clone(struct shim_thread *t, ucontext_t *uc, const struct shim_clone_req *req,
                   int *in_child)
{
    *in_child = 0;
    if (req->flags & CLONE_VM)
        return clone_thread(uc, req);
    return clone_process(t, uc, req, in_child);
}
