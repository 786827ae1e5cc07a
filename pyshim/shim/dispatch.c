/* The SIGSYS handler and the one syscall path behind it. */
#include <errno.h>
#include <linux/audit.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "shim.h"

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2 /* si_code of a dispatched syscall */
#endif

/* Calls that create threads or processes always go to the supervisor: it
 * must know about every thread. */
static inline int is_clone_family(long nr)
{
    return nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork;
}

/* Announces the end of the thread (exit) or process (exit_group) and
 * performs it.  Signals are blocked first and never unblocked: once the
 * supervisor has the Exit, the channel is no longer this thread's. */
static __attribute__((noreturn)) void leave(struct shim_thread *t, long nr, const long a[6])
{
    uint64_t old;
    shim_block_signals(&old);
    if (t->sfd_depth) { /* exits from a handler that interrupted such a wait */
        uint64_t all = ~0ull;
        RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
        shim_sigsys_fd_abandon(t);
    }
    shim_unwatch(t);
    shim_event_fill(t, PYSHIM_EV_EXIT, nr, a, 0, 0);
    shim_post(t);
    if (nr == SYS_exit)
        shim_thread_exit(t, (int)a[0]);
    for (;;)
        RAW1(SYS_exit_group, a[0]);
}

/* ppoll, pselect6, epoll_pwait, epoll_pwait2: SIGSYS out of their mask,
 * or, in the SIGSYS signalfd mode with SIGSYS in it, with the program's
 * SIGSYS in the kernel (sigsysfd.c).  Contract: as execute(). */
static long masked_wait(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc)
{
    uint64_t mask;
    if (nr == SYS_rt_sigsuspend && a[1] == 8 && shim_sigsys_suspends(t) &&
        !shim_copy_in(&mask, (const void *)a[0], sizeof mask) && !(mask & SIGBIT(SIGSYS)))
        return shim_sigsys_suspend(t, mask, uc);
    if (nr != SYS_rt_sigsuspend && __builtin_expect(shim_proc.sigsys_fd, 0)) {
        long args[6];
        uint64_t copy;
        struct pselect_mask sel;
        if (shim_mask_with_sigsys(t, nr, a, args, &copy, &sel) == 1)
            return shim_sigsys_fd_wait(t, nr, args, uc);
    }
    return shim_masked_wait(nr, a);
}

/* Milliseconds left before `deadline_ns` (CLOCK_MONOTONIC), at least 0. */
static long ms_left(uint64_t deadline_ns)
{
    uint64_t t = shim_now_ns();
    return t >= deadline_ns ? 0 : (long)((deadline_ns - t + 999999) / 1000000);
}

/* The index of a call's timeout in milliseconds (poll, epoll_wait,
 * epoll_pwait), or -1. */
static int ms_timeout(long nr)
{
    return nr == SYS_poll ? 2 : nr == SYS_epoll_wait || nr == SYS_epoll_pwait ? 3 : -1;
}

/* A relative timeout the kernel does not write back: issued again, such a
 * call would wait its whole time anew (poll and the epoll waits in
 * milliseconds are issued again with what is left by the callers that know
 * when they began). */
static int relative_timeout(long nr, const long a[6])
{
    switch (nr) {
    case SYS_epoll_pwait2:
    case SYS_semtimedop:
        return a[3] != 0;
    case SYS_io_getevents:
    case SYS_recvmmsg:
        return a[4] != 0;
    case SYS_rt_sigtimedwait:
        return a[2] != 0;
    case SYS_futex: /* FUTEX_WAIT's timeout is relative; the others' absolute */
        return (a[1] & 127) == 0 /* FUTEX_WAIT */ && a[3] != 0;
    }
    return 0;
}

int shim_resumable(long nr, long args[6], uint64_t deadline_ns)
{
    int ms = ms_timeout(nr);
    if (ms >= 0 && (int)args[ms] >= 0) {
        if (!deadline_ns)
            return 0;
        args[ms] = ms_left(deadline_ns);
        return 1;
    }
    switch (nr) {
    case SYS_close:
        return 0;
    case SYS_nanosleep: /* (req, rem) */
        if (!args[1])
            return 0;
        args[0] = args[1];
        return 1;
    case SYS_clock_nanosleep: /* (clock, flags, req, rem) */
        if (args[1] & TIMER_ABSTIME)
            return 1;
        if (!args[3])
            return 0;
        args[2] = args[3];
        return 1;
    }
    return !relative_timeout(nr, args);
}

/* When a call with a timeout in milliseconds must end (0: none or not such
 * a call), for shim_resumable. */
static uint64_t deadline_of(long nr, const long a[6])
{
    int ms = ms_timeout(nr);
    if (ms < 0 || (int)a[ms] < 0)
        return 0;
    if ((int)a[ms] == 0)
        return 1; /* due at once (busy loops poll so): no clock to read */
    return shim_now_ns() + (uint64_t)(int)a[ms] * 1000000u;
}

/* Whether a call that returned `r` goes again: the shim's own signal cut
 * it short (own_signals moved from `own`), no program handler made it fail
 * (handler_returns still `returns`), and shim_resumable agrees (it may
 * change `args`).  Contract: `t` is the calling thread's state. */
static int again(const struct shim_thread *t, long r, uint32_t own, uint32_t returns, long nr,
                 long args[6], uint64_t deadline_ns)
{
    return r == -EINTR && t->own_signals != own && t->handler_returns == returns &&
           shim_resumable(nr, args, deadline_ns);
}

/* Issues the call, natively or through masked_wait, and again
 * (shim_resumable, which may change `args`) when the shim's own
 * parent-death signal is what cut it short: natively nothing would have.
 * Contract: as execute(). */
static long issue(struct shim_thread *t, long nr, long args[6], ucontext_t *uc, int masked)
{
    uint64_t deadline = deadline_of(nr, args);
    for (;;) {
        uint32_t own = t->own_signals, returns = t->handler_returns;
        long r = masked ? masked_wait(t, nr, args, uc)
                        : pyshim_raw_syscall(nr, args[0], args[1], args[2], args[3], args[4],
                                             args[5]);
        if (!again(t, r, own, returns, nr, args, deadline))
            return r;
    }
}

/* Issues the program's syscall natively (issue()).  A relative sleep
 * without `rem` gets one of ours, to go on with the time it has left.
 * Contract: as execute(). */
static long native(struct shim_thread *t, long nr, const long a[6])
{
    long args[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
    struct timespec left;
    if (nr == SYS_nanosleep && !args[1])
        args[1] = (long)&left;
    else if (nr == SYS_clock_nanosleep && !(args[1] & TIMER_ABSTIME) && !args[3])
        args[3] = (long)&left;
    return issue(t, nr, args, 0, 0);
}

/* Runs a syscall the way the program would see it natively; the calls the
 * shim must emulate are emulated here.  Contract: `t` is the calling
 * thread's state, `uc` the trapped context (emulations write into it). */
static long execute(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc)
{
    switch (nr) {
    case SYS_read:
    case SYS_readv:
    case SYS_preadv2:
    case SYS_poll:
    case SYS_select:
    case SYS_epoll_wait:
        if (shim_sigsys_fd_waits(t))
            return shim_sigsys_fd_wait(t, nr, a, uc);
        break;
    case SYS_signalfd:
    case SYS_signalfd4:
        return shim_signalfd(t, nr, a);
    case SYS_rt_sigaction:
        return shim_rt_sigaction(a);
    case SYS_rt_sigprocmask:
        return shim_rt_sigprocmask(t, a, uc);
    case SYS_rt_sigpending:
        return shim_rt_sigpending(t, a);
    case SYS_rt_sigtimedwait:
        return shim_rt_sigtimedwait(t, a, uc);
    case SYS_pause:
        if (!t->sigsys_blocked && shim_sigsys_suspends(t)) {
            uint64_t now = 0;
            RAW4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
            return shim_sigsys_suspend(t, now, uc);
        }
        break;
    case SYS_sigaltstack:
        return shim_sigaltstack(t, a, uc);
    case SYS_prctl:
    case SYS_seccomp:
        /* A filter may forbid what the direct entry calls (sigaltstack):
         * off, even from a vfork child, whose memory is its parent's (its
         * own direct sites would call sigaltstack before finding it is one). */
        if (nr == SYS_seccomp || a[0] == PR_SET_SECCOMP)
            shim_direct_off();
        if (nr == SYS_prctl)
            return shim_prctl(a);
        break;
    case SYS_ptrace:
        return shim_ptrace(t, a);
    case SYS_unshare:
    case SYS_setns:
        if (nr == SYS_setns || (a[0] & CLONE_NEWPID)) { /* its children may start in another */
            if (t->vfork_child)
                t->pidns_moved = 1; /* its own: its parent's did not move */
            else
                shim_proc.pidns_moved = 1;
        }
        if (nr == SYS_setns || (a[0] & CLONE_NEWNS)) {
            uint64_t old;
            shim_block_signals(&old);
            shim_maps_keep(); /* before its /dev/shm may change */
            shim_unblock(&old);
        }
        break;
    case SYS_execve:
    case SYS_execveat:
        return shim_execve(t, nr, a);
    case SYS_exit:
    case SYS_exit_group:
        leave(t, nr, a);
    case SYS_rt_sigsuspend:
    case SYS_ppoll:
    case SYS_pselect6:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
        {
            /* Again after the shim's own signal, as native(): ppoll and
             * pselect6 have the time left written back by the kernel. */
            long args[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
            return issue(t, nr, args, uc, 1);
        }
    }
    return native(t, nr, a);
}

/* Sends one event the supervisor answers at once (SyscallDone,
 * AddThreadResult) and returns the reply's (tag, flags, retval). */
static uint32_t ask(struct shim_thread *t, uint32_t tag, long nr, const long a[6],
                    long result, uint64_t ip, uint32_t *flags, long *retval)
{
    uint64_t old;
    shim_block_signals(&old);
    shim_event_fill(t, tag, nr, a, result, ip);
    const struct pyshim_reply *re = shim_converse(t);
    uint32_t rtag = re->tag;
    *flags = re->flags;
    *retval = re->retval;
    shim_unblock(&old);
    return rtag;
}

/* Sends a Syscall event, which the supervisor may hold: returns the reply's
 * tag and (flags, retval), or COMPLETE with -EINTR when a program handler
 * interrupted the hold and the call's rule says so.  Contract: signals are
 * not blocked (the program's mask is in force). */
static uint32_t ask_syscall(struct shim_thread *t, long nr, const long a[6], uint64_t ip,
                            uint32_t *flags, long *retval)
{
    uint64_t old, copy;
    struct shim_hold h;
    struct timespec since;
    if (nr == SYS_nanosleep || nr == SYS_clock_nanosleep)
        RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &since);
    shim_block_signals(&old);
    const struct pyshim_reply *re =
        shim_ask_held(t, nr, a, ip, shim_wait_mask(nr, a, &old, &copy), &h);
    uint32_t rtag = re ? re->tag : PYSHIM_RE_COMPLETE;
    *flags = re ? re->flags : 0;
    *retval = re ? re->retval : -EINTR;
    shim_unblock(&old);
    if (!re)
        shim_interrupted(nr, a, &since);
    return rtag;
}

/* clone, fork, vfork: the supervisor allocates the child's channel and says
 * which clone to perform (or answers the call itself).  Contract: as
 * execute(); `ip` is the address after the trapped syscall. */
static long create(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc, uint64_t ip)
{
    uint64_t old;
    struct shim_hold h;
    shim_block_signals(&old);
    const struct pyshim_reply *re = shim_ask_held(t, nr, a, ip, &old, &h);
    if (!re) { /* cannot happen: after a handler, clone and fork are asked again */
        shim_unblock(&old);
        return -EINTR;
    }
    uint32_t tag = re->tag;
    long retval = re->retval;
    uint32_t report = re->flags & PYSHIM_RF_REPORT;
    struct shim_clone_req req = {0};
    if (tag == PYSHIM_RE_ADD_THREAD) {
        /* Mapped here, with signals blocked: the map cache is not reentrant. */
        shim_memcpy(&req.desc, &re->child_block, sizeof req.desc);
        req.channel = shim_map_block(&req.desc);
        req.flags = re->clone_flags;
        req.stack = re->child_stack;
        req.ptid = re->ptid;
        req.ctid = re->ctid;
        req.tls = re->newtls;
        if (req.flags & CLONE_NEWNS)
            shim_maps_keep(); /* the child's /dev/shm may change */
    }
    shim_unblock(&old);
    if (tag == PYSHIM_RE_COMPLETE)
        return retval;
    if (tag != PYSHIM_RE_ADD_THREAD)
        shim_die("the supervisor answered a clone with a reply this shim does not understand");

    int in_child;
    long result = req.channel ? shim_do_clone(t, uc, &req, &in_child) : -ENOMEM;
    if (req.channel && in_child)
        return 0;
    if (!report) { /* the supervisor did not ask to answer it: told, not asked */
        shim_block_signals(&old);
        shim_event_fill(t, PYSHIM_EV_ADD_THREAD_RESULT, nr, a, result, ip);
        shim_post(t);
        shim_unblock(&old);
        return result;
    }
    uint32_t flags;
    tag = ask(t, PYSHIM_EV_ADD_THREAD_RESULT, nr, a, result, ip, &flags, &retval);
    return tag == PYSHIM_RE_COMPLETE ? retval : result;
}

/* A subscribed call: the supervisor answers it, or says to run it (and
 * perhaps to report the result).  Contract: as execute(); `ip` is the
 * address after the trapped syscall. */
static long supervised(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc,
                       uint64_t ip)
{
    uint32_t flags;
    long retval;
    uint32_t tag = ask_syscall(t, nr, a, ip, &flags, &retval);
    if (tag == PYSHIM_RE_COMPLETE)
        return retval;
    if (tag != PYSHIM_RE_NATIVE)
        shim_die("the supervisor sent a reply this shim does not understand");

    long result = execute(t, nr, a, uc);
    if (!(flags & PYSHIM_RF_REPORT))
        return result;
    tag = ask(t, PYSHIM_EV_SYSCALL_DONE, nr, a, result, ip, &flags, &retval);
    return tag == PYSHIM_RE_COMPLETE ? retval : result;
}

long shim_syscall(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc, uint64_t ip)
{
    if (nr == SYS_rt_sigreturn)
        shim_sigreturn(t, uc); /* the program's restorer: never a conversation */
    if (nr == SYS_clone3)
        return -ENOSYS; /* libc falls back to clone, whose arguments fit a register */
    if (is_clone_family(nr))
        return create(t, nr, a, uc, ip);
    long result = shim_subscribed(nr) ? supervised(t, nr, a, uc, ip) : execute(t, nr, a, uc);
    /* A trap: its site may be rewritten, to run natively or to enter the
     * shim directly from now on.  A direct entry's site already is. */
    if (!(uc->uc_flags & SHIM_UC_DIRECT))
        shim_rewrite(nr, ip);
    return result;
}

/* Contract: installed by shim_install_sigsys_handler with SA_ONSTACK on the
 * thread's shim altstack, so shim_thread_self() is valid here. */
void shim_on_sigsys(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    ucontext_t *uc = ctx;
    if (info->si_code != SYS_USER_DISPATCH) {
        shim_foreign_sigsys(info, uc);
        return;
    }
    if (info->si_arch != AUDIT_ARCH_X86_64)
        shim_die("a 32-bit syscall (int 0x80) cannot be supervised; stopping the program");
    struct shim_thread *t = shim_thread_self();
    if (t->magic != SHIM_THREAD_MAGIC)
        shim_die("a syscall was trapped outside a thread the shim set up");
    greg_t *g = uc->uc_mcontext.gregs;
    if (t->held_seq || t->nsettled || t->sfd_depth) {
        /* A program handler runs while this thread's call is held (or its
         * wait on a signalfd goes on), or ran and longjmp'd: from outside
         * the altstack, no shim frame is alive. */
        uintptr_t rsp = (uintptr_t)g[REG_RSP];
        int nested = shim_on_altstack(t, rsp);
        if (t->held_seq || (t->nsettled && !nested)) {
            uint64_t old;
            shim_block_signals(&old);
            shim_settle_holds(t, nested);
            shim_unblock(&old);
        }
        if (t->sfd_depth && !nested) {
            uint64_t all = ~0ull, old;
            RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
            shim_sigsys_fd_abandon(t);
            RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
        }
    }
    long args[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
    uint64_t ip = (uint64_t)g[REG_RIP];
    /* The call's number, corrected first when the trap comes from a site
     * halfway rewritten (rewrite.c): everything below sees the right one.
     * The shim never re-executes the trapped instruction (rax becomes the
     * result), so nothing else needs the correction. */
    long nr = shim_trapped_nr(info->si_syscall, ip);
    g[REG_RAX] = shim_syscall(t, nr, args, uc, ip);
}
