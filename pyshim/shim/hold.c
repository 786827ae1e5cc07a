/* Held calls: the supervisor may hold a Syscall event (channel state HELD)
 * and answer it later.  Meanwhile the thread waits as in a blocking
 * syscall: with the program's own signal mask, so a signal can kill it or
 * run the program's handler.  A handler's first trapped syscall (or its
 * rt_sigreturn) settles the held call before the channel is used again:
 * it withdraws it (HELD -> CANCELLED), unless the supervisor's answer won
 * the race, in which case that answer is kept for the waiting frame.  When
 * the waiting frame resumes after a withdrawal, the kernel's restart rule
 * for the call decides: EINTR, or ask the supervisor again. */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "pyshim_sync.h"
#include "shim.h"

#define SHIM_LIVENESS_NS 200000000L

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* One wait for the channel's state to leave `state`, with signals open,
 * until `deadline` (CLOCK_MONOTONIC).  futex_waitv (Linux 5.16) is
 * restarted by the kernel after an SA_RESTART handler and fails with EINTR
 * after any other, as the slow calls a held call stands for do.  Older
 * kernels get FUTEX_WAIT, which always fails with EINTR: a held call there
 * is interrupted as if no handler had SA_RESTART. */
static long hold_wait_once(struct shim_thread *t, const uint64_t *program_mask, uint32_t state,
                           const struct timespec *deadline, struct shim_hold *h)
{
    static int no_waitv;
    struct futex_waitv w = {
        .val = state,
        .uaddr = (uint64_t)(uintptr_t)&t->channel->state,
        .flags = FUTEX_32, /* shared with the supervisor: not private */
    };
    if (!no_waitv) {
        long args[6] = {(long)&w, 1, 0, (long)deadline, CLOCK_MONOTONIC, 0};
        long r = pyshim_hold_wait(program_mask, SYS_futex_waitv, args, &h->interrupted_by);
        if (r != -ENOSYS)
            return r;
        no_waitv = 1;
    }
    struct timespec now, rel = {0, 0};
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
    long ns = (deadline->tv_sec - now.tv_sec) * 1000000000L + (deadline->tv_nsec - now.tv_nsec);
    if (ns > 0) {
        rel.tv_sec = ns / 1000000000L;
        rel.tv_nsec = ns % 1000000000L;
    }
    long args[6] = {(long)&t->channel->state, FUTEX_WAIT, state, (long)&rel, 0, 0};
    return pyshim_hold_wait(program_mask, SYS_futex, args, &h->interrupted_by);
}

/* Waits with the program's mask until the held call ends: answered (the
 * reply is in the channel, or in h->reply if a nested entry took it) or
 * withdrawn.  Contract: signals are blocked; the channel is HELD or
 * COMPLETING; `h` is in the caller's frame. */
static void wait_held(struct shim_thread *t, const uint64_t *program_mask, struct shim_hold *h)
{
    struct pyshim_channel *ch = t->channel;
    h->outcome = SHIM_HOLD_WAITING;
    h->interrupted_by = 0;
    t->hold = h;
    t->hold_nr = ch->event.nr;
    pyshim_store_seq(&ch->shim_sleeping, 1);
    for (;;) {
        uint32_t s = pyshim_load_seq(&ch->state);
        if (t->hold != h) /* settled by a handler's trapped syscall */
            break;
        if (s != PYSHIM_CH_HELD && s != PYSHIM_CH_COMPLETING)
            break;
        struct timespec deadline;
        RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += SHIM_LIVENESS_NS;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        long r = hold_wait_once(t, program_mask, s, &deadline, h);
        if (r == -ETIMEDOUT && shim_supervisor_gone())
            shim_die("the supervisor is gone; stopping the program");
    }
    pyshim_store_relaxed(&ch->shim_sleeping, 0);
    if (t->hold == h) {
        t->hold = 0;
        h->outcome = SHIM_HOLD_REPLY;
    }
}

const struct pyshim_reply *shim_ask_held(struct shim_thread *t, long nr, const long a[6],
                                         uint64_t ip, const uint64_t *program_mask,
                                         struct shim_hold *h)
{
    uint32_t flags = 0;
    for (;;) {
        /* Filled each time: a handler's own calls may have used the slot. */
        shim_event_fill(t, PYSHIM_EV_SYSCALL, nr, a, 0, ip);
        t->channel->event.flags = flags;
        shim_post(t);
        uint32_t s = shim_wait_while(t, PYSHIM_CH_EVENT);
        if (s == PYSHIM_CH_HELD || s == PYSHIM_CH_COMPLETING) {
            wait_held(t, program_mask, h);
            if (h->outcome == SHIM_HOLD_ANSWERED)
                return &h->reply;
            if (h->outcome == SHIM_HOLD_WITHDRAWN) {
                if (!shim_restarts(nr, a, h->interrupted_by))
                    return 0;
                flags = PYSHIM_EF_RESTARTED;
                continue;
            }
            s = shim_wait_while(t, PYSHIM_CH_COMPLETING);
        }
        if (s != PYSHIM_CH_REPLY)
            shim_die("the supervisor took this thread's channel away; stopping the program");
        return shim_take_reply(t);
    }
}

/* An answer whose waiting frame is gone (a handler longjmp'd out of it):
 * close what it opened on the supervisor's side, as if the call had been
 * interrupted right after it. */
static void drop_answer(struct shim_thread *t, const struct pyshim_reply *re)
{
    uint32_t tag;
    if (re->tag == PYSHIM_RE_ADD_THREAD)
        tag = PYSHIM_EV_ADD_THREAD_RESULT; /* nothing was cloned */
    else if (re->tag == PYSHIM_RE_NATIVE && (re->flags & PYSHIM_RF_REPORT))
        tag = PYSHIM_EV_SYSCALL_DONE; /* nothing ran */
    else
        return;
    shim_event_fill(t, tag, t->hold_nr, 0, -EINTR, 0);
    shim_converse(t);
}

void shim_settle_hold(struct shim_thread *t, uintptr_t rsp)
{
    struct shim_hold *h = t->hold;
    if (!h)
        return;
    t->hold = 0;
    int alive = rsp >= (uintptr_t)t && rsp < (uintptr_t)h;
    uint32_t s = pyshim_cas(&t->channel->state, PYSHIM_CH_HELD, PYSHIM_CH_CANCELLED);
    if (s == PYSHIM_CH_HELD) {
        shim_ring(t); /* the supervisor learns it now */
        if (alive)
            h->outcome = SHIM_HOLD_WITHDRAWN;
        return;
    }
    /* The supervisor's answer won (or is being written: COMPLETING). */
    if (s == PYSHIM_CH_COMPLETING)
        s = shim_wait_while(t, PYSHIM_CH_COMPLETING);
    if (s != PYSHIM_CH_REPLY)
        shim_die("the supervisor took this thread's channel away; stopping the program");
    const struct pyshim_reply *re = shim_take_reply(t);
    if (!alive) {
        drop_answer(t, re);
        return;
    }
    shim_memcpy(&h->reply, re, sizeof h->reply);
    h->outcome = SHIM_HOLD_ANSWERED;
}

void shim_hold_note_signal(struct shim_thread *t, const char *frame_uc)
{
    const char *gregs = frame_uc + offsetof(ucontext_t, uc_mcontext.gregs);
    uint64_t rip, rax, rbx;
    if (shim_copy_in(&rip, gregs + REG_RIP * sizeof(greg_t), sizeof rip) ||
        shim_copy_in(&rax, gregs + REG_RAX * sizeof(greg_t), sizeof rax) ||
        shim_copy_in(&rbx, gregs + REG_RBX * sizeof(greg_t), sizeof rbx))
        return;
    uint64_t how;
    if (rip == (uint64_t)(uintptr_t)pyshim_hold_syscall)
        how = SHIM_HOLD_SIGNALLED | SHIM_HOLD_SA_RESTART; /* the kernel restarts the wait */
    else if (rip == (uint64_t)(uintptr_t)pyshim_hold_resumed && (int64_t)rax == -EINTR)
        how = SHIM_HOLD_SIGNALLED; /* the wait failed with EINTR */
    else
        return; /* not a return into a held wait */
    /* rbx is the waiting frame's interrupted_by: on this thread's altstack. */
    if (rbx < (uintptr_t)t + 8192 || rbx + 8 > (uintptr_t)t + SHIM_ALTSTACK_SIZE || (rbx & 7))
        return;
    uint64_t *by = (uint64_t *)(uintptr_t)rbx;
    if (!*by) /* the first handler delivered decides, as in the kernel */
        *by = how;
}
