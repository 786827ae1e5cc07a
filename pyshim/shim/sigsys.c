/* The program's own SIGSYS (sent with kill, tgkill, sigqueue, or a
 * seccomp filter of its own).  The shim needs SIGSYS unblocked for itself,
 * so the program's mask bit for SIGSYS, and a SIGSYS that waits while that
 * bit is set, are kept here: a blocked SIGSYS stays pending (per thread
 * when sent to a thread, per process otherwise), shows in sigpending, is
 * taken by sigtimedwait, and is delivered when the program unblocks it. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#include "shim.h"

/* A SIGSYS sent to the whole process while the receiving thread blocks it. */
static struct {
    uint32_t pending; /* published (release) after `info` */
    siginfo_t info;
} process;

int shim_sigsys_keep(struct shim_thread *t, const siginfo_t *info)
{
    if (!t->sigsys_blocked)
        return 0;
    if (info->si_code == SI_TKILL) {
        shim_memcpy(&t->sigsys_info, info, sizeof *info);
        t->sigsys_pending = 1;
    } else if (!__atomic_load_n(&process.pending, __ATOMIC_ACQUIRE)) {
        shim_memcpy(&process.info, info, sizeof *info); /* one instance, as natively */
        /* Seq_cst: before the poke looks whether anyone waits. */
        __atomic_store_n(&process.pending, 1, __ATOMIC_SEQ_CST);
        /* Another thread may wait on a signalfd for it. */
        shim_sigsys_fd_poke(t);
    }
    t->sigsys_kept++;
    return 1;
}

int shim_sigsys_pending(const struct shim_thread *t)
{
    return t->sigsys_pending || shim_sigsys_process_pending();
}

int shim_sigsys_process_pending(void)
{
    return __atomic_load_n(&process.pending, __ATOMIC_SEQ_CST);
}

int shim_sigsys_take(struct shim_thread *t, siginfo_t *info)
{
    if (t->sigsys_pending) {
        shim_memcpy(info, &t->sigsys_info, sizeof *info);
        t->sigsys_pending = 0;
        return 1;
    }
    if (!__atomic_load_n(&process.pending, __ATOMIC_ACQUIRE))
        return 0;
    shim_memcpy(info, &process.info, sizeof *info);
    /* Another thread may take it at the same time: one of us wins. */
    return __atomic_exchange_n(&process.pending, 0, __ATOMIC_ACQ_REL);
}

void shim_sigsys_deliver(struct shim_thread *t, siginfo_t *info, ucontext_t *uc)
{
    struct shim_kaction act = shim_proc.sigsys_action;
    if (act.handler == (uintptr_t)SIG_IGN)
        return;
    if (act.handler == (uintptr_t)SIG_DFL) {
        struct shim_kaction dfl = {(uintptr_t)SIG_DFL, SA_RESTORER, (uintptr_t)pyshim_restorer, 0};
        RAW4(SYS_rt_sigaction, SIGSYS, &dfl, 0, 8);
        RAW3(SYS_tgkill, RAW0(SYS_getpid), RAW0(SYS_gettid), SIGSYS);
        return;
    }
    if (uc->uc_flags & SHIM_UC_DIRECT) {
        /* No kernel frame to give the handler (direct.c): the kernel
         * delivers it again at once, SIGSYS being open, with one. */
        RAW4(SYS_rt_tgsigqueueinfo, RAW0(SYS_getpid), RAW0(SYS_gettid), SIGSYS, info);
        return;
    }
    /* As the kernel would: SIGSYS blocked while its handler runs, unless
     * SA_NODEFER, and the mask as it was afterwards. */
    uint32_t blocked = t->sigsys_blocked;
    if (!(act.flags & SA_NODEFER) || (act.mask & SIGBIT(SIGSYS)))
        t->sigsys_blocked = 1;
    if (act.flags & SA_RESETHAND)
        shim_proc.sigsys_action.handler = (uintptr_t)SIG_DFL;
    ((void (*)(int, siginfo_t *, void *))act.handler)(SIGSYS, info, uc);
    t->sigsys_blocked = blocked;
    shim_hold_note_foreign(t, uc, (act.flags & SA_RESTART) != 0);
    shim_sigsys_unblocked(t, uc);
}

void shim_sigsys_unblocked(struct shim_thread *t, ucontext_t *uc)
{
    siginfo_t info;
    while (!t->sigsys_blocked && shim_sigsys_take(t, &info))
        shim_sigsys_deliver(t, &info, uc);
}

long shim_rt_sigpending(struct shim_thread *t, const long a[6])
{
    uint64_t set;
    if ((size_t)a[1] > 8)
        return -EINVAL;
    long r = RAW2(SYS_rt_sigpending, &set, a[1]);
    if (r < 0)
        return r;
    if (shim_sigsys_pending(t))
        set |= SIGBIT(SIGSYS);
    return shim_copy_out((void *)a[0], &set, (size_t)a[1]) ? -EFAULT : 0;
}

long shim_rt_sigtimedwait(struct shim_thread *t, const long a[6], ucontext_t *uc)
{
    uint64_t set;
    if ((size_t)a[3] != 8)
        return -EINVAL;
    if (shim_copy_in(&set, (const void *)a[0], sizeof set))
        return -EFAULT;
    if (!(set & SIGBIT(SIGSYS)))
        return pyshim_raw_syscall(SYS_rt_sigtimedwait, a[0], a[1], a[2], a[3], 0, 0);
    if (!t->vfork_child) /* a SIGSYS another thread keeps must wake it */
        return shim_sigsys_sigwait(t, set, a, uc);
    /* A vfork child (whose shim_proc is its parent's) waits for the
     * SIGSYS sent to it only. */
    set &= ~SIGBIT(SIGSYS);
    for (;;) {
        siginfo_t info;
        if (shim_sigsys_take(t, &info)) {
            if (a[1] && shim_copy_out((void *)a[1], &info, sizeof info))
                return -EFAULT;
            return SIGSYS;
        }
        uint32_t kept = t->sigsys_kept;
        long r = RAW4(SYS_rt_sigtimedwait, &set, a[1], a[2], 8);
        if (r != -EINTR || t->sigsys_kept == kept)
            return r;
        /* The interruption was a SIGSYS, kept pending: it is what we wait for. */
    }
}

void shim_sigsys_after_fork(struct shim_thread *t)
{
    /* A child's pending signals are empty; its mask is its parent's. */
    t->sigsys_pending = 0;
    if (__atomic_load_n(&process.pending, __ATOMIC_RELAXED)) /* no copy-on-write for nothing */
        __atomic_store_n(&process.pending, 0, __ATOMIC_RELEASE);
}

/* Across exec the kernel keeps the mask and pending signals, and so do we:
 * the program's SIGSYS bit goes into the kernel's mask for the instant of
 * the exec (the exec itself is issued from the shim's section, and a new
 * image starts with dispatch disarmed, so nothing traps meanwhile), with
 * a pending SIGSYS queued for real; the new image's shim takes both back
 * (shim_sigsys_adopt). */
void shim_sigsys_before_exec(struct shim_thread *t)
{
    if (!t->sigsys_blocked)
        return;
    uint64_t sys = SIGBIT(SIGSYS);
    RAW4(SYS_rt_sigprocmask, SIG_BLOCK, &sys, 0, 8);
    siginfo_t info;
    if (shim_sigsys_take(t, &info))
        RAW4(SYS_rt_tgsigqueueinfo, RAW0(SYS_getpid), RAW0(SYS_gettid), SIGSYS, &info);
}

void shim_sigsys_after_failed_exec(struct shim_thread *t)
{
    if (!t->sigsys_blocked)
        return;
    shim_sigsys_adopt(t);
}

void shim_sigsys_adopt(struct shim_thread *t)
{
    uint64_t now = 0, sys = SIGBIT(SIGSYS);
    RAW4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
    if (!(now & sys))
        return;
    shim_sigsys_note_blocked(t);
    siginfo_t info;
    struct timespec zero = {0, 0};
    if (RAW4(SYS_rt_sigtimedwait, &sys, &info, &zero, 8) == SIGSYS) {
        shim_memcpy(&t->sigsys_info, &info, sizeof info);
        t->sigsys_pending = 1;
    }
    RAW4(SYS_rt_sigprocmask, SIG_UNBLOCK, &sys, 0, 8);
}
