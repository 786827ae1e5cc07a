/* Threads and processes created from a trapped clone, fork or vfork: the
 * supervisor has allocated the child's channel; the generic clone.c does
 * the clone, this file makes the child join the run. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
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
    const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
    ctx->fpu = CTX_FPU_NONE;
    ctx->fpu_size = 0;
    if (!fp)
        return;
    /* The whole xsave area when the frame has one (AVX upper halves,
     * AVX-512, PKRU...), as the kernel copies it into a clone's child. */
    struct shim_fpx_sw sw;
    uint32_t magic2 = 0;
    shim_memcpy(&sw, fp + 464, sizeof sw);
    if (sw.magic1 == SHIM_FP_XSTATE_MAGIC1 && sw.xstate_size >= 576 &&
        sw.xstate_size <= CTX_XSAVE_MAX && sw.extended_size >= sw.xstate_size + 4)
        shim_memcpy(&magic2, fp + sw.xstate_size, sizeof magic2);
    if (magic2 == SHIM_FP_XSTATE_MAGIC2) {
        ctx->fpu = CTX_FPU_XSAVE;
        ctx->xfeatures = sw.xfeatures;
        ctx->fpu_size = sw.xstate_size;
    } else { /* no xsave, or more state than fits (AMX tiles): the legacy part */
        ctx->fpu = CTX_FPU_FX;
        ctx->fpu_size = 512;
    }
    shim_memcpy(ctx->fx, fp, ctx->fpu_size);
}

/* A new thread's first steps, before it resumes the program.
 * Contract: `s` is the thread's start block, `s->channel` its mapped channel. */
static void join_run(struct shim_child_start *s)
{
    long status;
    struct shim_thread *t = shim_thread_init(s->channel, &s->desc, &status);
    if (!t)
        shim_die("no memory for a new thread's shim stack");
    t->sigsys_blocked = (uint32_t)s->sigsys_blocked;
    shim_start(t, status);
}

/* Whether a new process made by a clone with `flags` is in another pid
 * namespace than the supervisor: its parent's answer, unless the clone made
 * it a namespace of its own (not the supervisor's) or the parent moved its
 * children's (then /proc tells, ~10 us).  Contract: shim_proc is the
 * parent's, as copied (fork) or shared (vfork). */
static int child_other_pidns(uint64_t flags)
{
    if (flags & CLONE_NEWPID)
        return 1;
    return shim_proc.pidns_moved ? shim_pidns_other() : shim_proc.other_pidns;
}

/* A new process, continuing as a copy of its parent inside this handler,
 * with every signal blocked until it has its own channel and dispatch.
 * Contract: `t` is the calling thread's state, copied into the child. */
static void join_run_as_process(struct shim_thread *t, ucontext_t *uc,
                                const struct shim_clone_req *req)
{
    shim_maps_after_fork();
    shim_rewrite_after_fork();
    shim_handlers_after_fork();
    shim_settled_after_fork(t);
    shim_sigsys_after_fork(t);
    shim_sigsys_fd_after_fork(t);
    shim_proc.pdeathsig = 0; /* a child has none of its own */
    shim_proc.other_pidns = child_other_pidns(req->flags);
    /* A new process's children start in its own namespace, whatever its
     * parent moved (with CLONE_NEWPID too: the kernel starts it in the
     * namespace it makes for its children). */
    shim_proc.pidns_moved = 0;
    shim_follow_supervisor();
    t->pid = (int32_t)RAW0(SYS_getpid);
    t->tid = t->pid; /* a new process's only thread leads it */
    t->channel = req->channel;
    shim_memcpy(&t->desc, &req->desc, sizeof t->desc);
    shim_start(t, shim_arm()); /* the kernel did not copy dispatch */
    if (req->stack)
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)req->stack;
}

/* A vfork child's first steps: its altstack is the region its parent
 * mapped (the child runs on it now, as a scratch stack), and signals stay
 * blocked until that altstack is installed, so nothing is ever delivered
 * onto the suspended parent's. */
static void join_run_vfork(struct shim_child_start *s)
{
    long status;
    struct shim_thread *t = shim_thread_init_at(s->area, s->channel, &s->desc, &status);
    t->vfork_child = 1;
    t->sigsys_blocked = (uint32_t)s->sigsys_blocked;
    t->other_pidns = child_other_pidns(s->clone_flags);
    t->pidns_moved = 0; /* its children start in its own namespace (join_run_as_process) */
    /* The parent's tie, without shim_follow_supervisor: shim_proc is the
     * suspended parent's memory, and its `parent` must stay its own. */
    RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGSYS);
    shim_start(t, status); /* notices a supervisor gone (shim_follow_supervisor) */
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &s->sigmask, 0, 8);
}

/* CLONE_VM|CLONE_VFORK (vfork, posix_spawn): the child shares memory and,
 * without a stack of its own, the parent's stack, while the kernel keeps
 * the parent suspended until the child execs or exits.  The child must not
 * run on the parent's handler frames or altstack: it starts on a region the
 * parent maps and gives back once it is resumed. */
static long clone_vfork(ucontext_t *uc, const struct shim_clone_req *req,
                        const struct shim_child_start *base)
{
    struct shim_thread *area = shim_map_altstack();
    if (!area)
        return -ENOMEM;
    struct shim_child_start start;
    shim_memcpy(&start, base, shim_child_start_used(base));
    if (req->stack)
        start.ctx.rsp = req->stack;
    start.area = area;
    start.clone_flags = req->flags;
    shim_memcpy(&start.sigmask, &uc->uc_sigmask, sizeof start.sigmask);
    start.init = join_run_vfork;
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    long r = shim_clone_thread(&start, req->flags, (uint64_t)area + SHIM_ALTSTACK_SIZE,
                               req->ptid, req->ctid, req->tls);
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    shim_free_altstack(area); /* the child has exec'd or exited */
    return r;
}

/* CLONE_VM: a thread, or a vfork child, started from a copy of the trapped
 * context.  Not inlined: its start block (~9 KiB with the FPU state) would
 * otherwise sit in every fork's frame too, and the fork child's first calls
 * would run on pages below it that neither process touched before the
 * fork: a page fault each, in each process.  Contract: as shim_do_clone. */
static __attribute__((noinline)) long clone_vm(struct shim_thread *t, ucontext_t *uc,
                                               const struct shim_clone_req *req)
{
    struct shim_child_start start;
    /* Up to the FPU state: capture() fills in what of it is used. */
    shim_memset(&start, 0, offsetof(struct shim_child_start, ctx.fx));
    capture(&start.ctx, uc);
    start.channel = req->channel;
    start.sigsys_blocked = t->sigsys_blocked;
    shim_memcpy(&start.desc, &req->desc, sizeof start.desc);
    if (req->flags & CLONE_VFORK)
        return clone_vfork(uc, req, &start);
    start.ctx.rsp = req->stack;
    start.init = join_run;
    return shim_clone_thread(&start, req->flags, req->stack, req->ptid, req->ctid, req->tls);
}

long shim_do_clone(struct shim_thread *t, ucontext_t *uc, const struct shim_clone_req *req,
                   int *in_child)
{
    *in_child = 0;
    if (req->flags & CLONE_VM)
        return clone_vm(t, uc, req);
    uint64_t old;
    shim_block_signals(&old);
    long r = shim_clone_process(req->flags, req->ptid, req->ctid, req->tls);
    if (r == 0) {
        join_run_as_process(t, uc, req);
        *in_child = 1;
    }
    shim_unblock(&old);
    return r;
}
