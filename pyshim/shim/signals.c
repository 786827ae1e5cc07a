/* Emulation of the signal calls the shim must own: handlers get the shim's
 * restorer, SIGSYS is never blocked, SIGSYS's disposition and the
 * program's alternate stack are virtual. */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "pyshim_sync.h"
#include "shim.h"

struct shim_process shim_proc;


/* A mask argument (rt_sigsuspend, ppoll, epoll_pwait...) without SIGSYS:
 * the copy lives in *copy, the result points at it (or at the original if
 * it cannot be read, so the kernel reports the error). */
const void *shim_mask_without_sigsys(const void *umask, uint64_t *copy)
{
    if (!umask || shim_copy_in(copy, umask, sizeof *copy))
        return umask;
    *copy &= ~SIGBIT(SIGSYS);
    return copy;
}

/* Where the mask argument of a call that waits with a mask of its own
 * lives: its address in the program's memory (0 for none).  *sel receives
 * pselect6's {ss, len}; `*unreadable` is set when that cannot be read.
 * Contract: `nr` is rt_sigsuspend, ppoll, pselect6, epoll_pwait or
 * epoll_pwait2; `a` holds the program's raw arguments. */
static const void *mask_argument(long nr, const long a[6], struct pselect_mask *sel,
                                 int *unreadable)
{
    *unreadable = 0;
    switch (nr) {
    case SYS_rt_sigsuspend:
        return (const void *)a[0];
    case SYS_ppoll:
        return (const void *)a[3];
    case SYS_pselect6:
        if (!a[5] || shim_copy_in(sel, (void *)a[5], sizeof *sel)) {
            *unreadable = 1;
            return 0;
        }
        return sel->ss;
    default: /* epoll_pwait, epoll_pwait2 */
        return (const void *)a[4];
    }
}

static int is_masked_wait(long nr)
{
    return nr == SYS_rt_sigsuspend || nr == SYS_ppoll || nr == SYS_pselect6 ||
           nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2;
}

/* Calls that install a temporary mask while they wait (rt_sigsuspend,
 * ppoll, pselect6, epoll_pwait, epoll_pwait2): a handler that runs
 * meanwhile must still be able to trap, so SIGSYS is taken out of the mask.
 * Contract: `nr` is one of them; `a` holds the program's raw arguments. */
long shim_masked_wait(long nr, const long a[6])
{
    uint64_t copy;
    struct pselect_mask sel;
    int unreadable;
    const void *mask = shim_mask_without_sigsys(mask_argument(nr, a, &sel, &unreadable), &copy);
    if (unreadable) /* let the kernel judge the pointer */
        return pyshim_raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    switch (nr) {
    case SYS_rt_sigsuspend:
        return RAW2(nr, mask, a[1]);
    case SYS_ppoll:
        return RAW6(nr, a[0], a[1], a[2], mask, a[4], 0);
    case SYS_pselect6:
        sel.ss = mask;
        return RAW6(nr, a[0], a[1], a[2], a[3], a[4], &sel);
    default: /* epoll_pwait, epoll_pwait2 */
        return RAW6(nr, a[0], a[1], a[2], a[3], mask, a[5]);
    }
}

int shim_mask_with_sigsys(const struct shim_thread *t, long nr, const long a[6], long args[6],
                          uint64_t *copy, struct pselect_mask *sel)
{
    int unreadable;
    shim_memcpy(args, a, 6 * sizeof *args);
    if (nr == SYS_pselect6 && !a[5]) /* no mask at all (glibc's select) */
        return t->sigsys_blocked != 0;
    const void *mask = mask_argument(nr, a, sel, &unreadable);
    if (unreadable || (mask && shim_copy_in(copy, mask, sizeof *copy)))
        return -1;
    if (!mask)
        return t->sigsys_blocked != 0; /* the thread's mask, made real by the caller */
    int blocks = (*copy & SIGBIT(SIGSYS)) != 0;
    *copy |= SIGBIT(SIGSYS);
    switch (nr) {
    case SYS_ppoll:
        args[3] = (long)copy;
        break;
    case SYS_pselect6:
        sel->ss = copy;
        args[5] = (long)sel;
        break;
    default: /* epoll_pwait, epoll_pwait2 */
        args[4] = (long)copy;
        break;
    }
    return blocks;
}

const uint64_t *shim_wait_mask(long nr, const long a[6], const uint64_t *current,
                               uint64_t *copy)
{
    if (!is_masked_wait(nr))
        return current;
    struct pselect_mask sel;
    int unreadable;
    const void *mask = shim_mask_without_sigsys(mask_argument(nr, a, &sel, &unreadable), copy);
    return mask == copy ? copy : current; /* none, or unreadable: the current mask */
}

/* ---- the program's handlers in the SIGSYS signalfd mode ---------------
 * The kernel then calls pyshim_handler_entry (asm/sigsysfd.S) for each of
 * them, which finds the program's own in pyshim_handlers.  A lock, held
 * with every signal blocked (never across a trap), keeps a table entry and
 * the kernel's action in step against another thread's rt_sigaction. */
uintptr_t pyshim_handlers[65];
static int handlers_lock;
SHIM_HIDDEN void pyshim_handler_entry(int sig, siginfo_t *info, void *ctx);

static int is_function(uintptr_t handler)
{
    return handler != (uintptr_t)SIG_DFL && handler != (uintptr_t)SIG_IGN;
}

static void lock_handlers(uint64_t *old)
{
    uint64_t all = ~0ull;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, 8);
    while (__atomic_exchange_n(&handlers_lock, 1, __ATOMIC_ACQUIRE))
        RAW0(SYS_sched_yield);
}

static void unlock_handlers(const uint64_t *old)
{
    __atomic_store_n(&handlers_lock, 0, __ATOMIC_RELEASE);
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, old, 0, 8);
}

/* rt_sigaction for `sig` with the program's handler in `k` (if any) put
 * behind pyshim_handler_entry; *old (if asked) with the program's handler
 * in place of the entry.  Contract: `k` is the shim's memory; `old` may be
 * the program's (shim_rt_sigaction), so an EFAULT is the old action's
 * write, after the change, and `old` is read only when that write went
 * through. */
static long install_wrapped(int sig, const struct shim_kaction *k, struct shim_kaction *old)
{
    uint64_t mask;
    lock_handlers(&mask);
    struct shim_kaction w;
    uintptr_t previous = pyshim_handlers[sig];
    if (k) {
        w = *k;
        if (is_function(k->handler)) {
            /* The table first: a delivery of the new action finds its handler. */
            pyshim_handlers[sig] = k->handler;
            w.handler = (uintptr_t)pyshim_handler_entry;
        }
    }
    long r = RAW4(SYS_rt_sigaction, sig, k ? &w : 0, old, 8);
    if (r < 0 && r != -EFAULT)
        pyshim_handlers[sig] = previous;
    else if (r == 0 && old && old->handler == (uintptr_t)pyshim_handler_entry)
        old->handler = previous;
    unlock_handlers(&mask);
    return r;
}

/* rt_sigaction, wrapped in the mode.  Returns the kernel's result; *old
 * as install_wrapped.  Contract: as install_wrapped (an EFAULT writing
 * `old` comes after the change). */
static long install(int sig, const struct shim_kaction *k, struct shim_kaction *old)
{
    if (__atomic_load_n(&shim_proc.wrap_handlers, __ATOMIC_SEQ_CST))
        return install_wrapped(sig, k, old);
    long r = RAW4(SYS_rt_sigaction, sig, k, old, 8);
    if (r == 0 && old && old->handler == (uintptr_t)pyshim_handler_entry)
        old->handler = pyshim_handlers[sig]; /* wrapped just before */
    if (r < 0 || !k || !__atomic_load_n(&shim_proc.wrap_handlers, __ATOMIC_SEQ_CST))
        return r;
    /* Another thread turned the mode on meanwhile, maybe after it read
     * this signal's action: install it again, wrapped. */
    return install_wrapped(sig, k, 0);
}

void shim_wrap_handlers(void)
{
    __atomic_store_n(&shim_proc.wrap_handlers, 1, __ATOMIC_SEQ_CST);
    for (int sig = 1; sig <= 64; sig++) {
        if (sig == SIGSYS || sig == SIGKILL || sig == SIGSTOP)
            continue;
        uint64_t mask;
        struct shim_kaction k;
        lock_handlers(&mask);
        if (RAW4(SYS_rt_sigaction, sig, 0, &k, 8) == 0 && is_function(k.handler) &&
            k.handler != (uintptr_t)pyshim_handler_entry) {
            pyshim_handlers[sig] = k.handler;
            k.handler = (uintptr_t)pyshim_handler_entry;
            RAW4(SYS_rt_sigaction, sig, &k, 0, 8);
        }
        unlock_handlers(&mask);
    }
}

void shim_handlers_after_fork(void)
{
    if (__atomic_load_n(&handlers_lock, __ATOMIC_RELAXED)) /* no copy-on-write for nothing */
        __atomic_store_n(&handlers_lock, 0, __ATOMIC_RELEASE);
}

/* rt_sigaction(sig, act, oact, sigsetsize).  Contract: `a` holds the
 * program's raw arguments; every pointer in it is untrusted. */
long shim_rt_sigaction(const long a[6])
{
    int sig = (int)a[0];
    const void *uact = (const void *)a[1];
    void *uoact = (void *)a[2];
    if ((size_t)a[3] != 8)
        return -EINVAL;
    if (sig < 1 || sig > 64)
        return -EINVAL;

    struct shim_kaction k, old;
    if (uact && shim_copy_in(&k, uact, sizeof k))
        return -EFAULT;

    if (sig == SIGSYS) {
        old = shim_proc.sigsys_action;
        if (uoact && shim_copy_out(uoact, &old, sizeof old))
            return -EFAULT;
        if (uact)
            shim_proc.sigsys_action = k;
        return 0;
    }

    uintptr_t program_restorer = 0;
    if (uact) {
        program_restorer = k.restorer;
        k.flags |= SA_RESTORER;
        k.restorer = (uintptr_t)pyshim_program_restorer;
        k.mask &= ~SIGBIT(SIGSYS);
    }
    /* The old action goes straight to the program's memory, written by the
     * kernel (a copy out with process_vm_writev costs ~0.9 us), its EFAULT
     * after the change as natively; then it is put right in place: memory
     * the kernel just wrote is mapped and writable. */
    struct shim_kaction *out = uoact;
    long r = install(sig, uact ? &k : 0, out);
    if (r < 0 && r != -EFAULT)
        return r;
    uintptr_t previous = shim_proc.restorer[sig];
    if (uact)
        shim_proc.restorer[sig] = program_restorer;
    if (r < 0)
        return r;
    if (out && out->restorer == (uintptr_t)pyshim_program_restorer)
        out->restorer = previous;
    return 0;
}

/* rt_sigprocmask(how, set, oset, sigsetsize).  The mask in force after the
 * handler returns is the one in the trapped context, so the new mask is
 * written there (without SIGSYS, whose bit is the thread's virtual one).
 * The native call, given the set without SIGSYS, does the validation: the
 * real mask never holds SIGSYS, or a signal delivered meanwhile would run
 * its handler with SIGSYS blocked, and that handler's first trap would
 * kill the process.  While the virtual bit is clear, the real old mask is
 * the program's, so the kernel writes it to oset itself (a copy out with
 * process_vm_writev costs ~1 us): its EFAULT then comes after the change,
 * as natively.  Contract: `uc` is the trapped context; `a` holds untrusted
 * pointers. */
long shim_rt_sigprocmask(struct shim_thread *t, const long a[6], ucontext_t *uc)
{
    uint64_t set = 0, old = 0;
    int how = (int)a[0];
    if ((size_t)a[3] != 8)
        return -EINVAL;
    if (a[1] && shim_copy_in(&set, (const void *)a[1], sizeof set))
        return -EFAULT;
    uint64_t real = set & ~SIGBIT(SIGSYS);
    int direct = a[2] && !t->sigsys_blocked;
    long r = RAW4(SYS_rt_sigprocmask, how, a[1] ? &real : 0, direct ? (uint64_t *)a[2] : &old, 8);
    if (r < 0 && !(r == -EFAULT && direct && a[1]))
        return r; /* (EFAULT writing oset: the mask changed all the same) */
    old &= ~SIGBIT(SIGSYS);
    if (t->sigsys_blocked)
        old |= SIGBIT(SIGSYS);
    if (a[1]) {
        int sys = (set & SIGBIT(SIGSYS)) != 0;
        if (how == SIG_SETMASK || sys)
            t->sigsys_blocked = how == SIG_UNBLOCK ? 0 : sys;
        if (t->sigsys_blocked)
            shim_sigsys_note_blocked(t);
        uint64_t now = 0;
        RAW4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
        now &= ~SIGBIT(SIGSYS);
        shim_memcpy(&uc->uc_sigmask, &now, sizeof now);
    }
    if (r < 0)
        return r;
    if (a[2] && !direct && shim_copy_out((void *)a[2], &old, sizeof old))
        return -EFAULT;
    shim_sigsys_unblocked(t, uc);
    return 0;
}

/* sigaltstack(ss, old_ss): the shim keeps its own stack installed and
 * records what the program asked for.  The program's handlers that ask for
 * SA_ONSTACK run on the shim's stack, which is at least as large: a caller
 * there counts as on its alternate stack (SS_ONSTACK, and EPERM for a
 * change), as on the program's own region, by the kernel's rules
 * (do_sigaltstack).  Contract: `t` is the calling thread's state, `uc` the
 * trapped context; `a` holds untrusted pointers. */
long shim_sigaltstack(struct shim_thread *t, const long a[6], const ucontext_t *uc)
{
    const stack_t *uss = (const stack_t *)a[0];
    stack_t *uold = (stack_t *)a[1];
    stack_t n, old = t->program_altstack;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t lo = (uintptr_t)old.ss_sp;
    int onstack = old.ss_size && !(old.ss_flags & SS_AUTODISARM) &&
                  (sp - lo < old.ss_size || shim_on_altstack(t, sp));
    old.ss_flags = (!old.ss_size ? SS_DISABLE : onstack ? SS_ONSTACK : 0) |
                   (old.ss_flags & SS_AUTODISARM);
    if (uss) {
        if (shim_copy_in(&n, uss, sizeof n))
            return -EFAULT;
        if (onstack)
            return -EPERM;
        int mode = n.ss_flags & ~SS_AUTODISARM;
        if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE)
            return -EINVAL;
        if (mode == SS_DISABLE) {
            n.ss_sp = 0;
            n.ss_size = 0;
        } else if (n.ss_size < 2048 /* the kernel's MINSIGSTKSZ on x86-64 */) {
            return -ENOMEM;
        }
    }
    if (uss) {
        t->program_altstack.ss_sp = n.ss_sp;
        t->program_altstack.ss_size = n.ss_size;
        t->program_altstack.ss_flags = n.ss_flags;
    }
    if (uold && shim_copy_out(uold, &old, sizeof *uold))
        return -EFAULT;
    return 0;
}

int shim_sigsys_own(const siginfo_t *info, ucontext_t *uc)
{
    if (shim_sigsys_fd_token(info))
        return 1; /* it stood for a pending SIGSYS in a wait that is over */
    /* Our parent-death signal: the parent (or a subreaper that adopted us)
     * died.  If the supervisor is gone too, so is the run; otherwise we are
     * an ordinary orphan and the program need not know: a syscall the
     * signal cut short goes on, as natively, where nothing interrupts it
     * (a stub's is rewound here; one this thread's SIGSYS handler issued
     * sees own_signals move: dispatch.c). */
    if (info->si_code == SI_USER &&
        (info->si_pid == shim_proc.parent || info->si_pid == shim_proc.supervisor_pid)) {
        if (shim_supervisor_gone())
            shim_die("the supervisor is gone; stopping the program");
        shim_proc.parent = (int32_t)RAW0(SYS_getppid);
        struct shim_thread *t = shim_thread_self();
        int ours = t->magic == SHIM_THREAD_MAGIC;
        uint32_t run = ours ? t->handlers_run : 0;
        if (shim_proc.pdeathsig) /* the program asked for one too */
            RAW2(SYS_kill, RAW0(SYS_getpid), shim_proc.pdeathsig);
        /* Natively that signal alone, if its handler ran here (during the
         * kill), cut the syscall short. */
        if (ours && t->handlers_run == run) {
            t->own_signals++;
            shim_rewrite_resume(uc);
        }
        return 1;
    }
    return 0;
}

/* A SIGSYS that is not a dispatched syscall (kill, tgkill, seccomp): kept
 * pending while the program blocks SIGSYS, else acted on by the program's
 * virtual disposition.  Contract: called from the SIGSYS handler with its
 * own arguments. */
void shim_foreign_sigsys(siginfo_t *info, ucontext_t *uc)
{
    if (shim_sigsys_own(info, uc))
        return;
    struct shim_thread *t = shim_thread_self();
    if (t->magic != SHIM_THREAD_MAGIC || shim_sigsys_keep(t, info))
        return;
    shim_sigsys_deliver(t, info, uc);
}

/* The program's handler returned into its restorer, whose rt_sigreturn
 * trapped: the frame's ucontext is at the trapped rsp.  SIGSYS is taken out
 * of the mask it restores, a held call's wait learns which handler
 * interrupted it, then the sigreturn is issued from the allowed region;
 * this handler's own frame is abandoned.
 * Contract: `uc` is the trapped context of an rt_sigreturn; `t` the
 * calling thread's state. */
void shim_sigreturn(struct shim_thread *t, ucontext_t *uc)
{
    char *frame_uc = (char *)uc->uc_mcontext.gregs[REG_RSP];
    t->handlers_run++;
    shim_hold_note_signal(t, frame_uc);
    if (shim_sigsys_fd_resume(t, frame_uc))
        pyshim_sigreturn_at(frame_uc); /* into a wait that blocks SIGSYS for real */
    /* The frame (the kernel's layout) from its rax to its mask, in one copy. */
    enum {
        RAX = offsetof(ucontext_t, uc_mcontext.gregs) + REG_RAX * sizeof(greg_t),
        MASK = offsetof(ucontext_t, uc_sigmask),
    };
    _Static_assert(RAX < MASK, "rax comes before the mask in a signal frame");
    char part[MASK + sizeof(uint64_t) - RAX];
    if (shim_copy_in(part, frame_uc + RAX, sizeof part) == 0) {
        greg_t rax;
        uint64_t mask;
        shim_memcpy(&rax, part, sizeof rax);
        shim_memcpy(&mask, part + (MASK - RAX), sizeof mask);
        /* The handler made the syscall it interrupted fail (no restart):
         * not a call to issue again after the shim's own signal. */
        if (rax == -EINTR)
            t->handler_returns++;
        /* The frame says so (its handler put it there: the kernel's frame
         * holds the real mask, which never does): the program blocks it.
         * The frame is written only then, a copy out costing two calls. */
        if (mask & SIGBIT(SIGSYS)) {
            shim_sigsys_note_blocked(t);
            mask &= ~SIGBIT(SIGSYS);
            shim_copy_out(frame_uc + MASK, &mask, sizeof mask);
        }
    }
    pyshim_sigreturn_at(frame_uc);
}

/* The inode of the namespace a /proc/self/ns link names ("pid:[4026531836]"),
 * or 0 without /proc. */
static uint64_t ns_inode(const char *link_path)
{
    char link[64];
    long n = RAW3(SYS_readlink, link_path, link, sizeof link - 1);
    uint64_t ino = 0;
    for (long i = 0; i < n && link[i] != ']'; i++)
        if (link[i] >= '0' && link[i] <= '9')
            ino = ino * 10 + (uint64_t)(link[i] - '0');
    return n > 0 ? ino : 0;
}

/* Whether namespace `ino` is another than the supervisor's, whose inode the
 * supervisor wrote into the control block.  Without /proc: the same. */
static int other_than_supervisor(uint64_t ino)
{
    uint64_t theirs = shim_proc.control->supervisor_pidns;
    return ino && theirs && ino != theirs;
}

int shim_pidns_other(void)
{
    return other_than_supervisor(ns_inode("/proc/self/ns/pid"));
}

void shim_check_pidns(int32_t owner, uint32_t exec_flags)
{
    if (owner) {
        /* A new image of a process of the run: the event of its exec, the
         * last one its process posted, says what its old image knew.  An
         * exec changes no namespace, and the kernel remembers a move of
         * the children's namespace (unshare(CLONE_NEWPID) or setns) that
         * the new image would otherwise forget.  /proc costs ~20 us in a
         * new process. */
        shim_proc.other_pidns = (exec_flags & PYSHIM_EF_OTHER_PIDNS) != 0;
        shim_proc.pidns_moved = (exec_flags & PYSHIM_EF_PIDNS_MOVED) != 0;
        return;
    }
    /* The run's first program, which the supervisor just spawned in the
     * namespace the control block names: its children's is its own. */
    uint64_t mine = pyshim_load64(&shim_proc.control->program_pidns);
    shim_proc.other_pidns = mine ? other_than_supervisor(mine) : shim_pidns_other();
    shim_proc.pidns_moved = 0;
}

void shim_follow_supervisor(void)
{
    shim_proc.parent = (int32_t)RAW0(SYS_getppid);
    shim_proc.shim_pdeathsig =
        shim_proc.parent == shim_proc.supervisor_pid ? SIGKILL : SIGSYS;
    RAW2(SYS_prctl, PR_SET_PDEATHSIG, shim_proc.shim_pdeathsig);
    /* A parent gone before the prctl sends nothing.  The supervisor's own
     * child sees it at once: it was adopted by someone else.  Any other
     * process's Start waits for a reply and looks at the liveness lock
     * when none comes (shim_wait_while), and a failed exec looks itself:
     * looking here too cost every new process and image an open, a fcntl
     * and a close. */
    if (shim_proc.shim_pdeathsig == SIGKILL && RAW0(SYS_getppid) != shim_proc.parent)
        shim_die("the supervisor is gone; stopping the program");
}
