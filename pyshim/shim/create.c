/* Threads and processes created from a trapped clone, fork or vfork: the
 * supervisor has allocated the child's channel; the generic clone.c does
 * the clone, this file makes the child join the run. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>

#include "shim.h"

/* The trapped registers and FPU state, to resume the program after its
 * syscall.  Contract: `uc` is the context the SIGSYS handler received. */
static void capture(struct shim_context *ctx, const ucontext_t *uc)
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
    ctx->rsp = g[REG_RSP];
    ctx->rip = g[REG_RIP];
    ctx->has_fx = uc->uc_mcontext.fpregs != 0;
    if (ctx->has_fx)
        shim_memcpy(ctx->fx, uc->uc_mcontext.fpregs, sizeof ctx->fx);
}

/* A new thread's first steps, before it resumes the program.
 * Contract: `s` is the thread's start block, `s->channel` its mapped channel. */
static void join_run(struct shim_child_start *s)
{
    long status;
    struct shim_thread *t = shim_thread_init(s->channel, &status);
    if (!t)
        shim_die("no memory for a new thread's shim stack");
    shim_start(t, status);
}

/* A new process, continuing as a copy of its parent inside this handler.
 * Contract: `t` is the calling thread's state, copied into the child. */
static void join_run_as_process(struct shim_thread *t, ucontext_t *uc,
                                const struct shim_clone_req *req)
{
    t->pid = (int32_t)RAW0(SYS_getpid);
    t->tid = (int32_t)RAW0(SYS_gettid);
    t->channel = req->channel;
    shim_start(t, shim_arm()); /* the kernel did not copy dispatch */
    if (req->stack)
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)req->stack;
}

long shim_do_clone(struct shim_thread *t, ucontext_t *uc, const struct shim_clone_req *req,
                   int *in_child)
{
    *in_child = 0;
    if (req->flags & CLONE_VM) {
        struct shim_child_start start;
        shim_memset(&start, 0, sizeof start);
        capture(&start.ctx, uc);
        start.channel = req->channel;
        start.init = join_run;
        return shim_clone_thread(&start, req->flags, req->stack, req->ptid, req->ctid, req->tls);
    }
    long r = shim_clone_process(req->flags, req->ptid, req->ctid, req->tls);
    if (r == 0) {
        join_run_as_process(t, uc, req);
        *in_child = 1;
    }
    return r;
}
