/* The shim's side of a channel: post an event, ring the supervisor's
 * doorbell, poll (yielding the CPU now and then) and then sleep on the
 * futex until the reply arrives: the rule of ipc/pyshim_wait.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "pyshim_ready.h"
#include "pyshim_sync.h"
#include "pyshim_wait.h"
#include "shim.h"

/* While asleep, check this often that the supervisor is still alive. */
#define SHIM_LIVENESS_NS 200000000L

void shim_event_fill(struct shim_thread *t, uint32_t tag, long nr,
                     const long args[6], long result, uint64_t ip)
{
    struct pyshim_event *ev = &t->channel->event;
    /* A one-way AddThreadResult may still be in the slot: the supervisor
     * gives the channel back (IDLE) once it has read it, or, giving up on
     * the process, answers it with Kill, obeyed here.  Any other reply
     * found here answers an event the program forged in its own channel:
     * overwritten, as the program's own doing. */
    uint32_t state = pyshim_load_acquire(&t->channel->state);
    if (state == PYSHIM_CH_EVENT)
        state = shim_wait_while(t, PYSHIM_CH_EVENT);
    if (state == PYSHIM_CH_REPLY && t->channel->reply.tag == PYSHIM_RE_KILL)
        shim_die(NULL); /* the supervisor tells the user why */
    ev->tag = tag;
    ev->version = PYSHIM_PROTOCOL_VERSION;
    ev->pid = t->pid;
    ev->tid = t->tid;
    ev->nr = nr;
    for (int i = 0; i < 6; i++)
        ev->args[i] = args ? (uint64_t)args[i] : 0;
    ev->result = result;
    ev->ip = ip;
    uint32_t flags = (t->vfork_child ? t->other_pidns : shim_proc.other_pidns)
                         ? PYSHIM_EF_OTHER_PIDNS : 0;
    /* Exact, not "maybe": a new image trusts it, and a process that
     * believes it moved looks in /proc at every fork, which a program may
     * have hidden (a tmpfs over /proc in its own namespaces). */
    if (t->vfork_child ? t->pidns_moved : shim_proc.pidns_moved)
        flags |= PYSHIM_EF_PIDNS_MOVED;
    ev->flags = flags;
}

/* Marks the thread's channel ready; rings the run's doorbell only if the
 * dispatcher sleeps on it (awake, it polls the ready set).  The mark and
 * the load of `sleepers` pair with the dispatcher's store of `sleepers` and
 * its last look at the ready set: one of the two sees the other.
 * Contract: the run's control block is mapped (shim_proc.control). */
void shim_ring(struct shim_thread *t)
{
    struct pyshim_control *ctl = shim_proc.control;
    pyshim_ready_mark(ctl, t->index);
    if (pyshim_load_seq(&ctl->sleepers)) {
        pyshim_fetch_add_seq(&ctl->doorbell_seq, 1);
        RAW6(SYS_futex, &ctl->doorbell_seq, FUTEX_WAKE, 1, 0, 0, 0);
    }
}

/* A plain store is enough even from CANCELLED: the supervisor leaves
 * CANCELLED only by compare-and-swap, so whichever comes second loses. */
void shim_post(struct shim_thread *t)
{
    if (++t->seq == 0) /* 0 means "no call" to the held-call bookkeeping */
        t->seq = 1;
    t->channel->event.seq = t->seq;
    pyshim_store_seq(&t->channel->state, PYSHIM_CH_EVENT);
    shim_ring(t);
}

void shim_block_signals(uint64_t *old)
{
    uint64_t all = ~SIGBIT(SIGSYS);
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, 8);
}

void shim_unblock(const uint64_t *old)
{
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, old, 0, 8);
}

uint32_t shim_wait_while(struct shim_thread *t, uint32_t state)
{
    struct pyshim_channel *ch = t->channel;
    for (;;) {
        uint64_t start = shim_ticks();
        while (!pyshim_wait_should_sleep(start, shim_ticks(), PYSHIM_SHIM_POLL_TICKS)) {
            for (unsigned i = pyshim_wait_stride(&t->waiter); i; i--) {
                uint32_t now = pyshim_load_acquire(&ch->state);
                if (now != state) {
                    pyshim_wait_ended(&t->waiter);
                    return now;
                }
                pyshim_cpu_relax();
            }
            uint64_t before = shim_ticks();
            RAW0(SYS_sched_yield);
            pyshim_wait_yielded(&t->waiter, before, shim_ticks());
        }
        pyshim_store_seq(&ch->shim_sleeping, 1);
        if (pyshim_load_seq(&ch->state) == state) {
            struct timespec ts = {0, SHIM_LIVENESS_NS};
            long r = RAW6(SYS_futex, &ch->state, FUTEX_WAIT, state, &ts, 0, 0);
            if (r == -ETIMEDOUT && shim_supervisor_gone())
                shim_die("the supervisor is gone; stopping the program");
        }
        pyshim_store_relaxed(&ch->shim_sleeping, 0);
    }
}

/* Contract: the channel is in REPLY (read with acquire); signals are blocked. */
const struct pyshim_reply *shim_take_reply(struct shim_thread *t)
{
    struct pyshim_channel *ch = t->channel;
    pyshim_store_relaxed(&ch->state, PYSHIM_CH_IDLE);
    if (ch->reply.tag == PYSHIM_RE_KILL)
        shim_die(NULL); /* the supervisor tells the user why */
    if (ch->reply.seq != t->seq)
        shim_die("the supervisor answered another call than this thread's; stopping the program");
    return &ch->reply;
}

/* Contract: the event slot is filled in and signals that could re-enter the
 * shim are blocked (the caller's conversation). */
const struct pyshim_reply *shim_converse(struct shim_thread *t)
{
    shim_post(t);
    if (shim_wait_while(t, PYSHIM_CH_EVENT) != PYSHIM_CH_REPLY)
        shim_die("the supervisor took this thread's channel away; stopping the program");
    return shim_take_reply(t);
}

void shim_start(struct shim_thread *t, long status)
{
    uint64_t old;
    shim_block_signals(&old);
    t->index = t->channel->index;
    shim_event_fill(t, PYSHIM_EV_START, 0, 0, status, 0);
    const struct pyshim_reply *re = shim_converse(t);
    if (re->tag != PYSHIM_RE_START)
        shim_die("the supervisor did not answer Start");
    shim_memcpy(shim_proc.subscribed, re->subscribed, sizeof shim_proc.subscribed);
    shim_unblock(&old);
}

/* By the supervisor's pid, when the liveness lock cannot be asked (pids
 * of the supervisor's namespace only).  kill(pid, 0) succeeds on a zombie:
 * ask a pidfd, which polls readable as soon as the process has exited. */
static int gone_by_pid(void)
{
    long fd = RAW2(SYS_pidfd_open, shim_proc.supervisor_pid, 0);
    if (fd == -ESRCH)
        return 1;
    if (fd < 0) /* no pidfds (old kernel, seccomp): fall back */
        return RAW2(SYS_kill, shim_proc.supervisor_pid, 0) == -ESRCH;
    struct pollfd p = {(int)fd, POLLIN, 0};
    struct timespec zero = {0, 0};
    long ready = RAW4(SYS_ppoll, &p, 1, &zero, 0);
    RAW1(SYS_close, fd);
    return ready > 0;
}

/* Whether the liveness lock (PYSHIM_LIVENESS_BYTE) of the segment `name`
 * has no owner: 1 free, 0 held, -1 if the segment cannot be asked. */
static int liveness_free(const char *name)
{
    int own;
    long fd = shim_maps_open(name, &own);
    if (fd < 0)
        return -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                       .l_start = PYSHIM_LIVENESS_BYTE, .l_len = 1};
    long r = RAW3(SYS_fcntl, fd, F_OFD_GETLK, &fl);
    if (own)
        RAW1(SYS_close, fd);
    return r == 0 ? fl.l_type == F_UNLCK : -1;
}

int shim_supervisor_gone(void)
{
    /* The supervisor holds an OFD write lock on the control segment
     * while it lives: no pid involved. */
    int free = liveness_free(shim_proc.control_desc.segment);
    return free >= 0 ? free : gone_by_pid();
}

int shim_await_channel(struct pyshim_channel *ch, const struct pyshim_block_desc *desc)
{
    /* Only the run's first channel (slab 0's first block, in segment 0)
     * is named before it is set up.  The supervisor takes segment 0's
     * liveness lock before it spawns the program, and writes that channel,
     * then the control block (offset 0 of the segment), whose magic goes
     * last: a channel unset in a run already set up is a freed one, named
     * by a stale environment.  (The channel's magic alone says nothing:
     * it is set before the control block is.) */
    if (desc->offset == PYSHIM_FIRST_SLAB_OFFSET) {
        struct pyshim_block_desc cd;
        shim_memcpy(&cd, desc, sizeof cd);
        cd.offset = 0;
        cd.size = sizeof(struct pyshim_control);
        struct pyshim_control *ctl = shim_map_block(&cd); /* NULL: not a segment 0 */
        if (ctl && pyshim_load_acquire(&ctl->magic) == 0) {
            /* The run's first program, just spawned (it has no
             * parent-death signal of its own yet): it dies with its
             * supervisor at once, not at the next look at the lock. */
            long parent = RAW0(SYS_getppid);
            RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
            if (RAW0(SYS_getppid) != parent)
                return -1;
        }
        while (ctl && pyshim_load_acquire(&ctl->magic) == 0) {
            if (liveness_free(desc->segment) != 0)
                return -1;
            struct timespec ts = {0, SHIM_LIVENESS_NS};
            RAW6(SYS_futex, &ctl->magic, FUTEX_WAIT, 0, &ts, 0, 0);
        }
    }
    return pyshim_load_acquire(&ch->magic) ? 1 : 0;
}

