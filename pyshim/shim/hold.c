/* Held calls: the supervisor may hold a Syscall event (channel state HELD)
 * and answer it later.  Meanwhile the thread waits as in a blocking
 * syscall: with the program's own signal mask, so a signal can kill it or
 * run the program's handler.  A handler's first trapped syscall (or its
 * rt_sigreturn) settles the held call before the channel is used again:
 * it withdraws it (HELD -> CANCELLED), unless the supervisor's answer won
 * the race.  Either way the outcome goes into the thread's state (never
 * into the waiting frame, which a handler may have longjmp'd out of), and
 * the waiting frame claims it when it resumes.  After a withdrawal, the
 * kernel's restart rule for the call decides: EINTR, or ask again. */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "pyshim_sync.h"
#include "shim.h"

#define SHIM_LIVENESS_NS 200000000L   /* the watchman's period */
#define SHIM_BACKSTOP_NS 10000000000L /* anyone else's, should the watchman stall */

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* Reads what a nested handler may have changed (the compiler cannot see it). */
static inline uint32_t held_seq(const struct shim_thread *t)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return *(volatile const uint32_t *)&t->held_seq;
}

/* One wait, with signals open, for the channel to leave `state` (or the
 * process's watchman to change from `watch`), until `deadline`
 * (CLOCK_MONOTONIC).  futex_waitv (Linux 5.16) is restarted by the kernel
 * after an SA_RESTART handler and fails with EINTR after any other, as the
 * slow calls a held call stands for do.  Where it is missing or refused (an
 * old kernel, a seccomp profile), FUTEX_WAIT on the channel alone, which
 * always fails with EINTR: there a held call is interrupted as if no
 * handler had SA_RESTART, and every thread polls (the timeout is capped at
 * the watchman's period).  Returns the wait's result.
 * Contract: signals are blocked; `h` is the caller's frame. */
static long hold_wait_once(struct shim_thread *t, const uint64_t *program_mask, uint32_t state,
                           uint32_t watch, const struct timespec *deadline,
                           struct shim_hold *h)
{
    static int no_waitv;
    uint32_t *word = &t->channel->state;
    if (!no_waitv) {
        struct futex_waitv w[2] = {
            {.val = state, .uaddr = (uint64_t)(uintptr_t)word,
             .flags = FUTEX_32}, /* shared with the supervisor: not private */
            {.val = watch, .uaddr = (uint64_t)(uintptr_t)&shim_proc.watchman,
             .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG},
        };
        long args[6] = {(long)w, 2, 0, (long)deadline, CLOCK_MONOTONIC, 0};
        long r = pyshim_hold_wait(program_mask, SYS_futex_waitv, args, &h->interrupted_by);
        if (r >= 0 || r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR)
            return r;
        no_waitv = 1;
    }
    struct timespec now, rel = {0, 0};
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
    long ns = (deadline->tv_sec - now.tv_sec) * 1000000000L + (deadline->tv_nsec - now.tv_nsec);
    if (ns > SHIM_LIVENESS_NS)
        ns = SHIM_LIVENESS_NS; /* no watch word here: everyone polls */
    if (ns > 0) {
        rel.tv_sec = ns / 1000000000L;
        rel.tv_nsec = ns % 1000000000L;
    }
    long args[6] = {(long)word, FUTEX_WAIT, state, (long)&rel, 0, 0};
    return pyshim_hold_wait(program_mask, SYS_futex, args, &h->interrupted_by);
}

/* The deadline `ns` from now. */
static void deadline_in(struct timespec *d, long ns)
{
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, d);
    d->tv_sec += ns / 1000000000L;
    d->tv_nsec += ns % 1000000000L;
    if (d->tv_nsec >= 1000000000L) {
        d->tv_sec++;
        d->tv_nsec -= 1000000000L;
    }
}

/* Liveness while calls are held: one held thread per process (the
 * watchman) checks every SHIM_LIVENESS_NS that the supervisor lives; the
 * others sleep until their answer or a change of watchman, so that a
 * thousand held threads do not wake five thousand times a second.  A
 * watchman that leaves hands over: it clears the word and wakes one. */
static int watch(struct shim_thread *t)
{
    uint32_t tid = (uint32_t)t->tid;
    return pyshim_cas(&shim_proc.watchman, 0, tid) == 0 ||
           pyshim_load_seq(&shim_proc.watchman) == tid;
}

void shim_unwatch(struct shim_thread *t)
{
    if (pyshim_cas(&shim_proc.watchman, (uint32_t)t->tid, 0) == (uint32_t)t->tid)
        RAW6(SYS_futex, &shim_proc.watchman, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

/* The settled record of held call `seq`, or NULL. */
static struct shim_settled *settled_of(struct shim_thread *t, uint32_t seq)
{
    for (int i = 0; i < SHIM_SETTLED_SLOTS; i++)
        if (t->settled[i].seq == seq)
            return &t->settled[i];
    return 0;
}

static void free_settled(struct shim_thread *t, struct shim_settled *s)
{
    s->seq = 0;
    t->nsettled--;
}

/* Waits with the program's mask until the held call ends.  Returns
 * SHIM_HOLD_REPLY (the answer is in the channel), or what a handler's
 * settlement says: SHIM_HOLD_ANSWERED (copied to h->reply) or
 * SHIM_HOLD_WITHDRAWN.  Contract: signals are blocked; the channel is HELD
 * or COMPLETING for conversation t->seq; `h` is in the caller's frame. */
static uint32_t wait_held(struct shim_thread *t, const uint64_t *program_mask, struct shim_hold *h)
{
    uint32_t seq = t->seq;
    h->interrupted_by = 0;
    t->held_nr = t->channel->event.nr;
    t->held_seq = seq;
    pyshim_store_seq(&t->channel->shim_sleeping, 1);
    for (;;) {
        uint32_t s = pyshim_load_seq(&t->channel->state);
        if (held_seq(t) != seq) /* settled by a handler's trapped syscall */
            break;
        if (s != PYSHIM_CH_HELD && s != PYSHIM_CH_COMPLETING)
            break;
        int watching = watch(t);
        uint32_t watchman = pyshim_load_seq(&shim_proc.watchman);
        struct timespec deadline;
        deadline_in(&deadline, watching ? SHIM_LIVENESS_NS : SHIM_BACKSTOP_NS);
        long r = hold_wait_once(t, program_mask, s, watchman, &deadline, h);
        if (r == -ETIMEDOUT && shim_supervisor_gone())
            shim_die("the supervisor is gone; stopping the program");
    }
    shim_unwatch(t);
    /* t->channel, not a copy: a handler may have forked, and this is the child. */
    pyshim_store_relaxed(&t->channel->shim_sleeping, 0);
    if (held_seq(t) == seq) {
        t->held_seq = 0;
        return SHIM_HOLD_REPLY;
    }
    struct shim_settled *settled = settled_of(t, seq);
    if (!settled) /* dropped (a handler on another stack looked like a longjmp) */
        return SHIM_HOLD_WITHDRAWN;
    uint32_t outcome = settled->outcome;
    if (outcome == SHIM_HOLD_ANSWERED)
        shim_memcpy(&h->reply, &settled->reply, sizeof h->reply);
    free_settled(t, settled);
    return outcome;
}

const struct pyshim_reply *shim_ask_held(struct shim_thread *t, long nr, const long a[6],
                                         uint64_t ip, const uint64_t *program_mask,
                                         struct shim_hold *h)
{
    uint32_t flags = 0;
    for (;;) {
        /* Filled each time: a handler's own calls may have used the slot. */
        shim_event_fill(t, PYSHIM_EV_SYSCALL, nr, a, 0, ip);
        t->channel->event.flags |= flags;
        shim_post(t);
        uint32_t s = shim_wait_while(t, PYSHIM_CH_EVENT);
        if (s == PYSHIM_CH_HELD || s == PYSHIM_CH_COMPLETING) {
            uint32_t outcome = wait_held(t, program_mask, h);
            if (outcome == SHIM_HOLD_ANSWERED)
                return &h->reply;
            if (outcome == SHIM_HOLD_WITHDRAWN) {
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

/* An answer no frame will claim: closes what it opened on the supervisor's
 * side, as if the call had been interrupted right after it.  Contract:
 * signals are blocked; no call is held. */
static void drop_answer(struct shim_thread *t, long nr, const struct pyshim_reply *re)
{
    uint32_t tag;
    if (re->tag == PYSHIM_RE_ADD_THREAD)
        tag = PYSHIM_EV_ADD_THREAD_RESULT; /* nothing was cloned */
    else if (re->tag == PYSHIM_RE_NATIVE && (re->flags & PYSHIM_RF_REPORT))
        tag = PYSHIM_EV_SYSCALL_DONE; /* nothing ran */
    else
        return;
    shim_event_fill(t, tag, nr, 0, -EINTR, 0);
    if (tag == PYSHIM_EV_ADD_THREAD_RESULT && !(re->flags & PYSHIM_RF_REPORT))
        shim_post(t); /* one-way, as create() sends it (dispatch.c) */
    else
        shim_converse(t);
}

/* Keeps a settlement for the waiting frame; a full table drops its oldest
 * entry (held calls nested deeper than the table in signal handlers). */
static struct shim_settled *keep(struct shim_thread *t, uint32_t seq, uint32_t outcome)
{
    struct shim_settled *slot = settled_of(t, 0);
    if (!slot) {
        slot = &t->settled[0];
        for (int i = 1; i < SHIM_SETTLED_SLOTS; i++)
            if (t->settled[i].seq < slot->seq)
                slot = &t->settled[i];
        if (slot->outcome == SHIM_HOLD_ANSWERED)
            drop_answer(t, slot->nr, &slot->reply);
        free_settled(t, slot);
    }
    slot->seq = seq;
    slot->outcome = outcome;
    slot->nr = t->held_nr;
    t->nsettled++;
    return slot;
}

/* Settles the call held now.  Contract: signals are blocked. */
static void settle(struct shim_thread *t)
{
    uint32_t seq = t->held_seq;
    t->held_seq = 0;
    uint32_t s = pyshim_cas(&t->channel->state, PYSHIM_CH_HELD, PYSHIM_CH_CANCELLED);
    if (s == PYSHIM_CH_HELD) {
        shim_ring(t); /* the supervisor learns it now */
        keep(t, seq, SHIM_HOLD_WITHDRAWN);
        return;
    }
    /* The supervisor's answer won (or is being written: COMPLETING). */
    if (s == PYSHIM_CH_COMPLETING)
        s = shim_wait_while(t, PYSHIM_CH_COMPLETING);
    if (s != PYSHIM_CH_REPLY)
        shim_die("the supervisor took this thread's channel away; stopping the program");
    struct pyshim_reply answer; /* keep() may converse, reusing the reply slot */
    shim_memcpy(&answer, shim_take_reply(t), sizeof answer);
    struct shim_settled *kept = keep(t, seq, SHIM_HOLD_ANSWERED);
    shim_memcpy(&kept->reply, &answer, sizeof kept->reply);
}

void shim_drop_settled(struct shim_thread *t)
{
    for (int i = 0; i < SHIM_SETTLED_SLOTS && t->nsettled; i++) {
        struct shim_settled *s = &t->settled[i];
        if (!s->seq)
            continue;
        if (s->outcome == SHIM_HOLD_ANSWERED)
            drop_answer(t, s->nr, &s->reply);
        free_settled(t, s);
    }
}

void shim_settle_holds(struct shim_thread *t, int nested)
{
    if (t->held_seq)
        settle(t);
    if (!nested)
        shim_drop_settled(t);
}

void shim_settled_after_fork(struct shim_thread *t)
{
    shim_proc.watchman = 0; /* the parent's threads are not this process's */
    for (int i = 0; i < SHIM_SETTLED_SLOTS; i++)
        if (t->settled[i].seq)
            t->settled[i].outcome = SHIM_HOLD_WITHDRAWN;
}

/* Records in the waiting frame (rbx of the resumed context, checked to lie
 * on this thread's altstack) what the kernel decided for its wait. */
static void note(struct shim_thread *t, uint64_t rip, uint64_t rax, uint64_t rbx)
{
    uint64_t how;
    if (rip == (uint64_t)(uintptr_t)pyshim_hold_syscall)
        how = SHIM_HOLD_SIGNALLED | SHIM_HOLD_SA_RESTART; /* the kernel restarts the wait */
    else if (rip == (uint64_t)(uintptr_t)pyshim_hold_resumed && (int64_t)rax == -EINTR)
        how = SHIM_HOLD_SIGNALLED; /* the wait failed with EINTR */
    else
        return; /* not a return into a held wait */
    if (!shim_on_altstack(t, rbx) || !shim_on_altstack(t, rbx + 7) || (rbx & 7))
        return;
    uint64_t *by = (uint64_t *)(uintptr_t)rbx;
    if (!*by) /* the first handler delivered decides, as in the kernel */
        *by = how;
}

void shim_hold_note_signal(struct shim_thread *t, const char *frame_uc)
{
    const char *gregs = frame_uc + offsetof(ucontext_t, uc_mcontext.gregs);
    uint64_t rip, rax, rbx;
    if (shim_copy_in(&rip, gregs + REG_RIP * sizeof(greg_t), sizeof rip) ||
        shim_copy_in(&rax, gregs + REG_RAX * sizeof(greg_t), sizeof rax) ||
        shim_copy_in(&rbx, gregs + REG_RBX * sizeof(greg_t), sizeof rbx))
        return;
    note(t, rip, rax, rbx);
}

void shim_hold_note_foreign(struct shim_thread *t, const ucontext_t *uc, int restart)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    /* The shim's own handler has no SA_RESTART: the wait failed with EINTR,
     * and the program's SIGSYS disposition says what the program expects. */
    if ((uint64_t)g[REG_RIP] == (uint64_t)(uintptr_t)pyshim_hold_resumed &&
        g[REG_RAX] == -EINTR)
        note(t, restart ? (uint64_t)(uintptr_t)pyshim_hold_syscall : (uint64_t)g[REG_RIP],
             (uint64_t)g[REG_RAX], (uint64_t)g[REG_RBX]);
}
