/* A signalfd whose mask holds SIGSYS, read or polled by a program that
 * blocks SIGSYS (the "SIGSYS signalfd mode"); and the other waits for
 * SIGSYS (sigtimedwait, sigsuspend, pause), which need the same mode.
 *
 * The shim keeps the program's blocked SIGSYS pending itself (sigsys.c),
 * since the real SIGSYS must stay unblocked for Syscall User Dispatch: the
 * kernel never holds it, so a signalfd would never report it.  Once the
 * program makes such a signalfd, every read, readv, preadv2, poll, ppoll,
 * select, pselect6, epoll_wait and epoll_pwait(2) of a thread that blocks
 * SIGSYS runs in a bracket (shim_sigsys_fd_wait): with every signal
 * blocked, the shim queues the thread a *token* (a SIGSYS of its own, with
 * the code SHIM_TOKEN_CODE) if a SIGSYS is pending for it, then makes the
 * call with the program's mask plus the real SIGSYS (asm/sigsysfd.S), so
 * that the kernel's signalfd semantics hold: the token makes the signalfd
 * readable for poll, select and epoll, and a read that returns a token is
 * given the pending SIGSYS it stands for instead.  A SIGSYS sent to the
 * thread meanwhile stays in the kernel and is read as natively.
 *
 * What makes that safe and exact:
 * - A program handler may interrupt the wait, with SIGSYS blocked: its
 *   first trapped call would kill the process.  In the mode every program
 *   handler is entered through pyshim_handler_entry, which unblocks SIGSYS
 *   when the interrupted context had it blocked; shim_sigreturn keeps it
 *   blocked in a frame that returns into the wait (shim_sigsys_fd_resume),
 *   queueing a token again if a SIGSYS is pending.
 * - A SIGSYS sent to the whole process goes to a thread that does not
 *   block it for real, not to the one waiting: the thread that keeps it
 *   pokes every waiting thread with a token (shim_sigsys_fd_poke).  The
 *   kernel keeps one SIGSYS pending per thread, so a token must never
 *   meet a trap's own SIGSYS: only threads in the wait itself, where
 *   nothing traps, are poked (see the table of waiters).
 * - Rewritten call sites would skip the bracket: the mode rewrites no more
 *   of those calls and sends the ones already rewritten back to their trap
 *   (shim_rewrite_undo).
 * Tokens left in the kernel arrive at the SIGSYS handler when the bracket
 * unblocks SIGSYS, and are dropped there (shim_sigsys_own).
 *
 * Programs that never make such a signalfd pay nothing: no bracket, no
 * wrapped handlers, rewriting as before.  The mode lasts for the process
 * and its fork children, and passes to new images (PYSHIM_SIGSYSFD) since
 * a signalfd can be inherited across exec.
 *
 * sigwaitinfo and sigtimedwait for SIGSYS, and sigsuspend and pause that
 * leave SIGSYS open, have the same problem: a SIGSYS sent to the process
 * may reach another thread, which keeps it while this one sleeps on.
 * They turn the mode on (wrapped handlers, brackets, pokes; not the
 * signalfd's part, so reads and polls keep their fast path) and run in a
 * bracket: rt_sigtimedwait with SIGSYS in the kernel's set, so that a
 * token, or a SIGSYS sent to the thread, ends it as a signal it returns;
 * rt_sigsuspend (pause becomes one) with SIGSYS open only in the kernel's
 * wait, so that either ends it, the SIGSYS being kept and its program
 * handler run afterwards with the wait's mask.  A sigsuspend or pause goes
 * there only once a thread of the process has blocked SIGSYS (no other
 * can keep one it should get), or when it is the thread's own wait for
 * SIGSYS (it blocks SIGSYS outside the wait).
 *
 * Limits: a token for the process's SIGSYS sits in the waiting thread's
 * own set, so a SIGSYS sent to that thread meanwhile merges with it
 * (natively both would be pending); each wait queues a new token, so an
 * edge-triggered epoll reports the signalfd again at each wait while the
 * SIGSYS stays pending; more than WAITERS threads waiting at once are not
 * all poked; a call already under way when the mode turns on, or a
 * sigsuspend when a thread first blocks SIGSYS (or in a vfork child,
 * which cannot turn it on) does not see SIGSYS; a thread that merely runs
 * with SIGSYS open is not poked (only waits are), so a SIGSYS another
 * thread keeps for the process waits there until one waits or unblocks. */
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "shim.h"

extern const char pyshim_sigsys_open[] SHIM_HIDDEN;
extern const char pyshim_sigsys_shut[] SHIM_HIDDEN;
SHIM_HIDDEN long pyshim_sigsys_wait(const uint64_t *open_mask, long nr, const long args[6]);

_Static_assert(offsetof(ucontext_t, uc_sigmask) == 296, "UC_SIGMASK in asm/sigsysfd.S");
_Static_assert(sizeof(struct signalfd_siginfo) == 128, "a signalfd entry");

/* A token: a SIGSYS with a code nobody else uses (negative, so the kernel
 * lets a thread queue it to another) and a value naming the shim. */
#define SHIM_TOKEN_CODE (-0x5053)
#define SHIM_TOKEN_VALUE 0x4653736d69687370ull /* "pshimsSF" */

#define WAITERS 256           /* threads registered at once */
#define WAITER_BUSY (1u << 31) /* a poker is queueing a token to it */
#define WAITER_POKED (1u << 30) /* it was sent a token since it last looked */
#define WAITER_TID 0x3fffffffu

#define RETRY (-4096L) /* a read returned only stale tokens: wait again */

enum { OFF, TURNING_ON, ON };

static struct {
    uint32_t state;    /* the mode: handlers wrapped, brackets and pokes */
    uint32_t fd_state; /* a signalfd holds SIGSYS: reads and polls too */
    /* The tids of the threads in a bracket (0: free slot), with the bits
     * above; a thread frees its slot only while no poker is busy with it,
     * so no token reaches it after its bracket. */
    uint32_t waiter[WAITERS];
} sfd;

/* ---- turning the mode on ------------------------------------------------ */

/* Whether the caller is the one to turn `*state` on (it then stores ON
 * when done); if another thread is doing it, waits until it is done.
 * Contract: every signal is blocked (a handler on this thread must not
 * wait for this thread). */
static int turning_on(uint32_t *state)
{
    uint32_t off = OFF;
    if (__atomic_compare_exchange_n(state, &off, TURNING_ON, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
        return 1;
    while (__atomic_load_n(state, __ATOMIC_ACQUIRE) != ON)
        RAW0(SYS_sched_yield);
    return 0;
}

/* The mode, which a sigtimedwait or sigsuspend for SIGSYS needs; and,
 * for a signalfd holding SIGSYS, its reads and polls: another thread's
 * signalfd, and ours, must not be read before that is done.
 * Contract: every signal is blocked. */
static void turn_on(int signalfd)
{
    if (turning_on(&sfd.state)) {
        /* Handlers first: a bracket must never meet an unwrapped one. */
        shim_wrap_handlers();
        __atomic_store_n(&sfd.state, ON, __ATOMIC_RELEASE);
    }
    if (signalfd && turning_on(&sfd.fd_state)) {
        __atomic_store_n(&shim_proc.sigsys_fd, 1, __ATOMIC_SEQ_CST);
        shim_rewrite_undo();
        __atomic_store_n(&sfd.fd_state, ON, __ATOMIC_RELEASE);
    }
}

long shim_signalfd(struct shim_thread *t, long nr, const long a[6])
{
    uint64_t mask;
    /* A vfork child's handlers are its own but shim_proc is its parent's:
     * it stays out (its signalfd does not report SIGSYS). */
    if (!shim_proc.sigsys_fd && !t->vfork_child && a[2] == 8 &&
        !shim_copy_in(&mask, (const void *)a[1], sizeof mask) && (mask & SIGBIT(SIGSYS))) {
        uint64_t all = ~0ull, old;
        RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
        turn_on(1);
        RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    }
    return pyshim_raw_syscall(nr, a[0], a[1], a[2], a[3], 0, 0);
}

void shim_sigsys_fd_inherit(void)
{
    shim_proc.wrap_handlers = 1;
    shim_proc.sigsys_fd = 1;
    sfd.state = ON;
    sfd.fd_state = ON;
}

/* ---- tokens ------------------------------------------------------------- */

int shim_sigsys_fd_token(const siginfo_t *info)
{
    return info->si_code == SHIM_TOKEN_CODE &&
           (uint64_t)(uintptr_t)info->si_value.sival_ptr == SHIM_TOKEN_VALUE;
}

static int token_entry(const struct signalfd_siginfo *e)
{
    return e->ssi_signo == SIGSYS && e->ssi_code == SHIM_TOKEN_CODE &&
           e->ssi_ptr == SHIM_TOKEN_VALUE;
}

/* Queues a token to thread `tid` of this process. */
static void send_token(const struct shim_thread *t, uint32_t tid)
{
    siginfo_t info;
    shim_memset(&info, 0, sizeof info);
    info.si_signo = SIGSYS;
    info.si_code = SHIM_TOKEN_CODE;
    info.si_pid = t->pid;
    info.si_value.sival_ptr = (void *)(uintptr_t)SHIM_TOKEN_VALUE;
    RAW4(SYS_rt_tgsigqueueinfo, t->pid, tid, SIGSYS, &info);
}

/* Contract: the real SIGSYS is blocked (the token must stay pending). */
static void token_if_pending(struct shim_thread *t)
{
    if (!shim_sigsys_pending(t))
        return;
    send_token(t, (uint32_t)t->tid);
    t->sfd_token = 1;
}

/* ---- the table of waiters -----------------------------------------------
 * A thread holds a slot while it waits with the real SIGSYS blocked: in a
 * bracket, but not while a program handler runs inside its wait.  SIGSYS
 * is open then, and a token arriving just as the handler's call traps
 * would take the place of the trap's own SIGSYS (the kernel keeps one
 * SIGSYS pending per thread): the handler's entry gives the slot up
 * (shim_sigsys_fd_away), the return into the wait takes one again.
 * Contract (all below): every signal is blocked; `t` is the calling
 * thread's state. */

static void claim(struct shim_thread *t)
{
    for (int i = 0; i < WAITERS && t->sfd_slot < 0; i++) {
        uint32_t free = 0;
        if (__atomic_compare_exchange_n(&sfd.waiter[i], &free, (uint32_t)t->tid, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            t->sfd_slot = i;
    }
    /* Pairs with the fence in shim_sigsys_fd_poke: either the poker sees
     * this slot, or this thread sees the SIGSYS it kept. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Whether a poker sent this thread a token since it last looked; the slot
 * then holds `then` (0 frees it).  Waits out a poker busy with the slot,
 * so no token of its reaches the thread after it is freed. */
static int poked(struct shim_thread *t, uint32_t then)
{
    if (t->sfd_slot < 0)
        return 0;
    uint32_t *w = &sfd.waiter[t->sfd_slot];
    for (;;) {
        uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if (!(v & WAITER_BUSY) &&
            __atomic_compare_exchange_n(w, &v, then, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            if (!then)
                t->sfd_slot = -1;
            return (v & WAITER_POKED) != 0;
        }
        RAW0(SYS_sched_yield);
    }
}

static void enter(struct shim_thread *t)
{
    t->sfd_depth++;
    claim(t);
}

static void leave(struct shim_thread *t)
{
    /* Nested waits are a handler's, whose slot was given up: so again. */
    poked(t, 0);
    if (!--t->sfd_depth)
        t->sfd_token = 0;
}

void shim_sigsys_fd_abandon(struct shim_thread *t)
{
    poked(t, 0);
    t->sfd_depth = 0;
    t->sfd_token = 0;
}

/* Called by pyshim_handler_entry before a program handler that interrupts
 * a wait of this file: gives the slot up and opens SIGSYS (tokens still
 * queued arrive and are dropped before the handler starts).  Contract:
 * on the shim altstack (the wait's), inside a signal handler. */
SHIM_HIDDEN void shim_sigsys_fd_away(void);
void shim_sigsys_fd_away(void)
{
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    struct shim_thread *t = shim_thread_self();
    if (t->magic == SHIM_THREAD_MAGIC) {
        poked(t, 0);
        t->sfd_handlers++; /* a sigsuspend's wait is over */
    }
    old &= ~SIGBIT(SIGSYS);
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
}

/* Contract: as declared; the slots are held busy with every signal
 * blocked, so no handler can make a waiter wait for an interrupted poker. */
void shim_sigsys_fd_poke(struct shim_thread *t)
{
    /* Seq_cst, after the SIGSYS kept (shim_sigsys_keep): either this
     * sees the mode on, or the waiter turning it on sees that SIGSYS. */
    if (!__atomic_load_n(&shim_proc.wrap_handlers, __ATOMIC_SEQ_CST))
        return;
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the SIGSYS kept, before the slots */
    for (int i = 0; i < WAITERS; i++) {
        uint32_t *w = &sfd.waiter[i];
        for (;;) {
            uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
            if (!v || (v & WAITER_TID) == (uint32_t)t->tid)
                break; /* free; or ours: our return into the wait sees it */
            if (v & WAITER_BUSY) {
                RAW0(SYS_sched_yield); /* its token may predate our SIGSYS */
                continue;
            }
            uint32_t busy = v | WAITER_BUSY | WAITER_POKED;
            if (!__atomic_compare_exchange_n(w, &v, busy, 0, __ATOMIC_SEQ_CST,
                                             __ATOMIC_RELAXED))
                continue;
            /* Not if a waiter took it meanwhile: this one may be waiting
             * anew, and a stale token would swallow a SIGSYS sent to it
             * (the kernel keeps one SIGSYS per thread). */
            if (shim_sigsys_process_pending())
                send_token(t, v & WAITER_TID);
            __atomic_store_n(w, (v | WAITER_POKED), __ATOMIC_RELEASE);
            break;
        }
    }
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
}

void shim_sigsys_fd_after_fork(struct shim_thread *t)
{
    /* Slots are taken only in the mode: without it the table is not even
     * read (its page, never touched, would cost a fault in every child). */
    if (sfd.state != OFF || sfd.fd_state != OFF)
        for (int i = 0; i < WAITERS; i++)
            if (sfd.waiter[i]) /* no copy-on-write for nothing */
                sfd.waiter[i] = 0;
    t->sfd_slot = -1;
    t->sfd_token = 0;
    /* The thread turning either on is not here: do it again. */
    int fd = sfd.fd_state == TURNING_ON;
    if (fd || sfd.state == TURNING_ON) {
        uint64_t all = ~0ull, old;
        RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
        if (sfd.state == TURNING_ON)
            sfd.state = OFF;
        if (fd)
            sfd.fd_state = OFF;
        turn_on(fd);
        RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    }
}

/* ---- what a read returned ----------------------------------------------- */

/* The signalfd entry the kernel would make of `info` (signalfd_copyinfo:
 * which fields are copied depends on the code). */
static void to_entry(struct signalfd_siginfo *e, const siginfo_t *info)
{
    shim_memset(e, 0, sizeof *e);
    e->ssi_signo = (uint32_t)info->si_signo;
    e->ssi_errno = info->si_errno;
    e->ssi_code = info->si_code;
    int code = info->si_code;
    int kernel = code > SI_USER && code < SI_KERNEL;
    if (kernel && code <= 2) { /* SYS_SECCOMP, SYS_USER_DISPATCH */
        e->ssi_call_addr = (uint64_t)(uintptr_t)info->si_call_addr;
        e->ssi_syscall = info->si_syscall;
        e->ssi_arch = info->si_arch;
    } else if ((kernel && code <= 6 /* NSIGPOLL */) || code == SI_SIGIO) {
        e->ssi_band = (uint32_t)info->si_band;
        e->ssi_fd = info->si_fd;
    } else if (code == SI_TIMER) {
        e->ssi_tid = (uint32_t)info->si_timerid;
        e->ssi_overrun = (uint32_t)info->si_overrun;
        e->ssi_ptr = (uint64_t)(uintptr_t)info->si_value.sival_ptr;
        e->ssi_int = info->si_value.sival_int;
    } else {
        e->ssi_pid = (uint32_t)info->si_pid;
        e->ssi_uid = (uint32_t)info->si_uid;
        if (code < 0) { /* sigqueue, tgkill... */
            e->ssi_ptr = (uint64_t)(uintptr_t)info->si_value.sival_ptr;
            e->ssi_int = info->si_value.sival_int;
        }
    }
}

/* Where a read put its data: a buffer (read) or an iovec array (readv,
 * preadv2). */
struct dest {
    int vector;
    uintptr_t base; /* the buffer, or the iovec array */
    long count;     /* its size, or the number of iovecs */
};

/* Copies `n` bytes at byte `off` of the data between the program's
 * destination and `mine` (to the program when `out`).  0 or -EFAULT.
 * Contract: `d` describes the program's arguments; `mine` holds n bytes. */
static long dest_copy(const struct dest *d, size_t off, void *mine, size_t n, int out)
{
    char *p = mine;
    if (!d->vector)
        return out ? shim_copy_out((void *)(d->base + off), p, n)
                   : shim_copy_in(p, (const void *)(d->base + off), n);
    for (long i = 0; i < d->count && n; i++) {
        struct iovec v;
        if (shim_copy_in(&v, (const void *)(d->base + (uintptr_t)i * sizeof v), sizeof v))
            return -EFAULT;
        if (off >= v.iov_len) {
            off -= v.iov_len;
            continue;
        }
        size_t k = v.iov_len - off < n ? v.iov_len - off : n;
        char *at = (char *)v.iov_base + off;
        if (out ? shim_copy_out(at, p, k) : shim_copy_in(p, at, k))
            return -EFAULT;
        p += k;
        n -= k;
        off = 0;
    }
    return n ? -EFAULT : 0;
}

/* How many entries the destination holds. */
static long dest_entries(const struct dest *d)
{
    if (!d->vector)
        return d->count / (long)sizeof(struct signalfd_siginfo);
    size_t bytes = 0;
    for (long i = 0; i < d->count; i++) {
        struct iovec v;
        if (shim_copy_in(&v, (const void *)(d->base + (uintptr_t)i * sizeof v), sizeof v))
            break;
        bytes += v.iov_len;
    }
    return (long)(bytes / sizeof(struct signalfd_siginfo));
}

/* A read that may have taken tokens returned `r` bytes: if they are
 * signalfd entries with tokens among them, each token becomes the pending
 * SIGSYS it stands for (the thread's first, then the process's) or goes,
 * and further pending SIGSYS fill the room left, as the kernel returns
 * every pending signal a read has room for.  Returns the new byte count,
 * RETRY if nothing is left, or `r` if no token was there.
 * Contract: `t` is the calling thread's state; every signal is blocked. */
static long give_tokens(struct shim_thread *t, const struct dest *d, long r)
{
    const long size = (long)sizeof(struct signalfd_siginfo);
    if (r < size || r % size)
        return r; /* not a signalfd's read */
    long n = r / size, kept = 0, found = 0;
    struct signalfd_siginfo e;
    siginfo_t info;
    for (long i = 0; i < n; i++) {
        if (dest_copy(d, (size_t)(i * size), &e, sizeof e, 0))
            return r;
        if (token_entry(&e)) {
            found = 1;
            if (!shim_sigsys_take(t, &info))
                continue; /* stale: another thread took it */
            to_entry(&e, &info);
        } else if (i == kept) {
            kept++; /* in place */
            continue;
        }
        dest_copy(d, (size_t)(kept++ * size), &e, sizeof e, 1);
    }
    if (!found)
        return r;
    for (long room = dest_entries(d); kept < room && shim_sigsys_take(t, &info); kept++) {
        to_entry(&e, &info);
        dest_copy(d, (size_t)(kept * size), &e, sizeof e, 1);
    }
    return kept ? kept * size : RETRY;
}

/* The destination of a read-like call, or 0 for the waits that read nothing. */
static int read_dest(long nr, const long a[6], struct dest *d)
{
    d->base = (uintptr_t)a[1];
    d->count = a[2];
    d->vector = nr != SYS_read;
    return nr == SYS_read || nr == SYS_readv || nr == SYS_preadv2;
}

/* ---- the bracket -------------------------------------------------------- */

long shim_sigsys_fd_wait(struct shim_thread *t, long nr, const long a[6], ucontext_t *uc)
{
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    /* The wait blocks SIGSYS (the thread's mask, or the wait's own): so
     * does the virtual bit meanwhile, for SIGSYS that handlers meet. */
    uint32_t program_blocked = t->sigsys_blocked;
    t->sigsys_blocked = 1;
    enter(t);
    uint64_t open = old | SIGBIT(SIGSYS);
    struct dest d;
    int reads = read_dest(nr, a, &d);
    int tokens = 0; /* whether a token may have been queued to this thread */
    long r;
    do {
        token_if_pending(t);
        r = pyshim_sigsys_wait(&open, nr, a);
        /* A handler may have changed the virtual bit; its return restored
         * the mask of the wait, as natively. */
        t->sigsys_blocked = 1;
        tokens |= t->sfd_token | poked(t, (uint32_t)t->tid);
        t->sfd_token = 0;
        if (reads && r > 0 && tokens)
            r = give_tokens(t, &d, r);
    } while (r == RETRY);
    leave(t);
    t->sigsys_blocked = program_blocked;
    /* Tokens still queued arrive now and are dropped; the program's own
     * SIGSYS sent meanwhile are kept, or delivered (below) when only the
     * wait's mask blocked SIGSYS. */
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    shim_sigsys_unblocked(t, uc);
    return r;
}

int shim_sigsys_fd_resume(struct shim_thread *t, const char *frame_uc)
{
    if (!t->sfd_depth)
        return 0;
    const char *gregs = frame_uc + offsetof(ucontext_t, uc_mcontext.gregs);
    uint64_t rip;
    if (shim_copy_in(&rip, gregs + REG_RIP * sizeof(greg_t), sizeof rip))
        return 0;
    if (rip < (uintptr_t)pyshim_sigsys_open || rip >= (uintptr_t)pyshim_sigsys_shut)
        return 0;
    /* SIGSYS was open while the handler ran, so a token queued before was
     * dropped; the frame's mask blocks SIGSYS again, and the wait goes on
     * (or returns EINTR) with its slot and a token for what is pending.
     * Every signal is blocked until the frame's mask is restored. */
    uint64_t all = ~0ull;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
    claim(t);
    token_if_pending(t);
    return 1;
}

/* ---- sigtimedwait and sigsuspend for SIGSYS ------------------------------
 * Both run in a bracket too, with the mode on (it is turned on by the
 * first such wait): that is how a SIGSYS sent to the whole process, and
 * kept by another thread, reaches them (a poke), and the only way to poke
 * a thread safely (see the table of waiters). */

/* Opens a bracket: every signal blocked (the mask before in *old), the
 * mode on, a slot, and the virtual bit set for the handlers that run in
 * the wait (and so that a SIGSYS arriving there is kept for the loop).
 * Returns the program's virtual bit.  Contract: not a vfork child. */
static uint32_t open_bracket(struct shim_thread *t, uint64_t *old)
{
    uint64_t all = ~0ull;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, 8);
    if (!__atomic_load_n(&shim_proc.wrap_handlers, __ATOMIC_SEQ_CST))
        turn_on(0);
    uint32_t program = t->sigsys_blocked;
    t->sigsys_blocked = 1;
    enter(t);
    return program;
}

/* After a wait of the bracket: the handlers that ran in it may have
 * changed the virtual bit (their return restored the wait's), and a poke
 * has been seen.  Contract: every signal is blocked. */
static void after_wait(struct shim_thread *t)
{
    t->sigsys_blocked = 1;
    poked(t, (uint32_t)t->tid);
    t->sfd_token = 0;
}

/* What is left of a timeout that ends at `end` (ns), in *ts; 0 if none. */
static int time_left(int64_t end, struct timespec *ts)
{
    int64_t left = end - (int64_t)shim_now_ns();
    if (left <= 0)
        return 0;
    ts->tv_sec = left / 1000000000;
    ts->tv_nsec = left % 1000000000;
    return 1;
}

long shim_sigsys_sigwait(struct shim_thread *t, uint64_t set, const long a[6], ucontext_t *uc)
{
    struct timespec ts;
    int timed = a[2] != 0;
    /* As the kernel, before it takes anything. */
    if (timed && shim_copy_in(&ts, (const void *)a[2], sizeof ts))
        return -EFAULT;
    if (timed && (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000))
        return -EINVAL;
    int64_t end = !timed ? 0 : ts.tv_sec > (1L << 32) ? INT64_MAX /* never, nearly */
                                 : (int64_t)shim_now_ns() + ts.tv_sec * 1000000000 + ts.tv_nsec;
    siginfo_t info;
    /* SIGSYS is in the set: unblocked while the kernel's wait sleeps, so
     * that a token or a SIGSYS sent to the thread ends it, and blocked
     * for real again when it returns. */
    long args[6] = {(long)&set, (long)&info, timed ? (long)&ts : 0, 8, 0, 0};
    uint64_t old;
    uint32_t program = open_bracket(t, &old);
    uint64_t open = old | SIGBIT(SIGSYS);
    long r;
    for (;;) {
        /* Before the wait: SIGSYS comes first (the kernel takes the
         * synchronous signals first), and a poke from now on comes in. */
        if (shim_sigsys_take(t, &info)) {
            r = SIGSYS;
            break;
        }
        r = pyshim_sigsys_wait(&open, SYS_rt_sigtimedwait, args);
        after_wait(t);
        if (r != SIGSYS || !shim_sigsys_fd_token(&info))
            break;
        /* A token: its SIGSYS is taken above, or was taken by another
         * thread meanwhile; then wait on for what is left of the time. */
        if (!shim_sigsys_pending(t) && timed && !time_left(end, &ts)) {
            r = -EAGAIN;
            break;
        }
    }
    leave(t);
    t->sigsys_blocked = program;
    /* Tokens still queued arrive now and are dropped. */
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    shim_sigsys_unblocked(t, uc);
    if (r > 0 && a[1] && shim_copy_out((void *)a[1], &info, sizeof info))
        return -EFAULT;
    return r;
}

/* Whether a SIGSYS is pending that would end a sigsuspend: one the
 * program ignores would not, natively (the kernel drops it).
 * Contract: every signal is blocked. */
static int sigsys_for_handler(struct shim_thread *t)
{
    siginfo_t info;
    while (__atomic_load_n(&shim_proc.sigsys_action.handler, __ATOMIC_RELAXED) ==
               (uintptr_t)SIG_IGN &&
           shim_sigsys_take(t, &info))
        ;
    return shim_sigsys_pending(t);
}

long shim_sigsys_suspend(struct shim_thread *t, uint64_t mask, ucontext_t *uc)
{
    /* The kernel's wait has SIGSYS open, so that a token or a SIGSYS ends
     * it: the virtual bit is set meanwhile, so that such a SIGSYS is kept
     * (sigsys.c), and delivered below, outside the table (a program
     * handler that interrupts the wait sees that bit too, and a SIGSYS
     * sent while it runs is delivered when the wait ends). */
    uint64_t wait = mask & ~SIGBIT(SIGSYS), old;
    long args[6] = {(long)&wait, 8, 0, 0, 0, 0};
    uint32_t program = open_bracket(t, &old);
    uint64_t open = old | SIGBIT(SIGSYS);
    long r;
    for (;;) {
        uint32_t handlers = t->sfd_handlers;
        if (sigsys_for_handler(t)) {
            r = -EINTR;
            break;
        }
        r = pyshim_sigsys_wait(&open, SYS_rt_sigsuspend, args);
        after_wait(t);
        /* Natively the wait ends with a handler only: not with a stale
         * token, nor with a SIGSYS of the shim's own. */
        if (r != -EINTR || handlers != t->sfd_handlers || sigsys_for_handler(t))
            break;
    }
    leave(t);
    /* The program's SIGSYS handler runs with the wait's mask, as
     * natively; tokens still queued arrive now and are dropped. */
    t->sigsys_blocked = 0;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &wait, 0, 8);
    shim_sigsys_unblocked(t, uc);
    t->sigsys_blocked = program;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    return r;
}
