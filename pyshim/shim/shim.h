/*
 * Internal interface of the preload library.  Nothing here may allocate,
 * take locks, or call async-signal-unsafe libc: these functions run inside
 * the SIGSYS handler.  The only libc the shim uses is getenv() in its
 * constructor, before dispatch is armed.
 */
#ifndef PYSHIM_SHIM_H
#define PYSHIM_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>

#include "pyshim_ipc.h"
#include "pyshim_wait.h"
#include "clone.h"
#include "raw.h"


#define SIGBIT(s) (1ull << ((s) - 1))

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1u << 31)
#endif

/* The kernel's struct sigaction for rt_sigaction on x86-64. */
struct shim_kaction {
    uintptr_t handler;
    unsigned long flags;
    uintptr_t restorer;
    uint64_t mask;
};

/* ---- per-thread state --------------------------------------------------
 * Lives at the base of the thread's alternate signal stack, which is
 * SHIM_ALTSTACK_SIZE-aligned: the SIGSYS handler always runs on that stack
 * (SA_ONSTACK), so it finds its state by masking its own stack pointer, with
 * no syscall and without relying on the fs register (threads made with raw
 * clone and no new TLS share it). */
#define SHIM_ALTSTACK_SIZE (128u * 1024u)
/* Ended threads' altstacks a process keeps for its next threads. */
#define SHIM_SPARE_ALTSTACKS 16
#define SHIM_STACK_START 8192u /* page 0: struct shim_thread; page 1: guard */
#define SHIM_THREAD_MAGIC 0x5448524450534853ull

/* ---- held calls (hold.c) ----------------------------------------------- */
enum { SHIM_HOLD_REPLY = 1, SHIM_HOLD_ANSWERED, SHIM_HOLD_WITHDRAWN };
#define SHIM_HOLD_SIGNALLED 1ull  /* a program handler interrupted the wait    */
#define SHIM_HOLD_SA_RESTART 2ull /* ... and the kernel restarts it (SA_RESTART) */
#define SHIM_SETTLED_SLOTS 8      /* held calls settled and not yet claimed */

/* A held call settled by a program handler's trapped syscall, kept in the
 * thread's state until the frame that waits for it claims it (or, if a
 * handler longjmp'd out of that frame, until it is dropped). */
struct shim_settled {
    uint32_t seq;     /* the held call's conversation number; 0: free slot */
    uint32_t outcome; /* SHIM_HOLD_ANSWERED or SHIM_HOLD_WITHDRAWN */
    long nr;
    struct pyshim_reply reply; /* ANSWERED: the supervisor's answer */
};

/* What the frame that waits for a held call keeps, in that frame. */
struct shim_hold {
    uint64_t interrupted_by;   /* written by shim_hold_note_signal */
    struct pyshim_reply reply; /* ANSWERED: the answer, claimed from the thread's state */
};

struct shim_thread {
    uint64_t magic;
    struct pyshim_channel *channel;
    struct pyshim_block_desc desc; /* the channel's block, for a new image's environment */
    int32_t pid;
    int32_t tid;
    stack_t program_altstack; /* what the program believes its altstack is */
    int32_t vfork_child;      /* its altstack is the parent's to unmap */
    uint32_t index;           /* the channel's bit in the run's ready set */
    uint32_t seq;             /* number of the current conversation */
    /* The call the supervisor holds while this thread waits with signals
     * open (0: none), and the held calls handlers settled (hold.c).  Only
     * this thread writes them, from nested signal handlers too. */
    uint32_t held_seq;
    uint32_t nsettled;
    long held_nr;
    struct shim_settled settled[SHIM_SETTLED_SLOTS];
    pyshim_waiter waiter;     /* how busy its waits found the machine */
    /* The program's own SIGSYS (sigsys.c): its mask bit, a SIGSYS sent to
     * this thread while blocked, and how many SIGSYS were kept pending. */
    uint32_t sigsys_blocked;
    uint32_t sigsys_pending;
    uint32_t sigsys_kept;
    siginfo_t sigsys_info;
    /* How many of the shim's own parent-death SIGSYS reached this thread
     * (signals.c), and how many of the program's handlers returned on it
     * (shim_sigreturn): all of them, and those that returned to a syscall
     * they made fail with EINTR.  A syscall one of the former cut short,
     * when none of the latter ran meanwhile, goes on (dispatch.c). */
    uint32_t own_signals;
    uint32_t handlers_run;
    uint32_t handler_returns;
    /* Waits on a signalfd that may report SIGSYS (sigsysfd.c): how many
     * of this thread's are under way (nested in handlers), its slot in the
     * process's table of waiters (-1: none), and whether it queued itself
     * a token since its wait last looked. */
    uint32_t sfd_depth;
    int32_t sfd_slot;
    uint32_t sfd_token;
    /* How many program handlers interrupted those waits (a sigsuspend's
     * ends only with one). */
    uint32_t sfd_handlers;
    /* A vfork child's own PYSHIM_EF_OTHER_PIDNS and PYSHIM_EF_PIDNS_MOVED
     * (shim_proc is its suspended parent's, whose namespace may differ
     * from the child's, and whose children's namespace may have moved). */
    int32_t other_pidns;
    int32_t pidns_moved;
};

/* Whether `addr` lies on the stack part of thread `t`'s shim altstack
 * (where the SIGSYS handler, and handlers nested in it, run). */
static inline int shim_on_altstack(const struct shim_thread *t, uintptr_t addr)
{
    return addr >= (uintptr_t)t + SHIM_STACK_START && addr < (uintptr_t)t + SHIM_ALTSTACK_SIZE;
}

/* Contract: call only on the stack the SIGSYS handler runs on. */
static inline struct shim_thread *shim_thread_self(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return (struct shim_thread *)(sp & ~(uintptr_t)(SHIM_ALTSTACK_SIZE - 1));
}

/* ---- per-process state ------------------------------------------------- */
struct shim_process {
    struct pyshim_control *control;
    struct pyshim_block_desc control_desc; /* its segment, for the liveness lock */
    uint8_t subscribed[PYSHIM_SUBSCRIBED_BYTES];
    int32_t supervisor_pid;
    /* The program's view of the handlers the shim rewrites. */
    struct shim_kaction sigsys_action; /* SIGSYS disposition is virtual */
    uintptr_t restorer[65];   /* program's sa_restorer per signal */
    char preload[512];        /* this library's path, as LD_PRELOAD named it */
    int32_t parent;           /* getppid() when the process joined, for PDEATHSIG */
    /* The tid of the one held thread that polls the supervisor's liveness
     * for the whole process (0: none); a futex word for the others. */
    uint32_t watchman;
    /* The program made rdtsc fault (prctl PR_SET_TSC): shim_ticks reads
     * the clock with a syscall instead. */
    int32_t tsc_faults;
    /* The program's parent-death signal (prctl PR_SET_PDEATHSIG): the
     * kernel's holds the shim's own tie to the supervisor (signals.c). */
    int32_t pdeathsig;
    int32_t shim_pdeathsig; /* the shim's: SIGKILL or SIGSYS */
    /* The process is in another pid namespace than the supervisor: its
     * events say so (PYSHIM_EF_OTHER_PIDNS), their pids being that one's. */
    int32_t other_pidns;
    /* The process called unshare(CLONE_NEWPID) or setns: its next children
     * may start in another pid namespace than its own (create.c checks). */
    int32_t pidns_moved;
    /* The process made a signalfd whose mask holds SIGSYS (sigsysfd.c):
     * the program's handlers are entered through pyshim_handler_entry
     * (wrap_handlers, set first), and its waits that may read or poll
     * such a signalfd see SIGSYS as natively (sigsys_fd). */
    int32_t wrap_handlers;
    int32_t sigsys_fd;
    /* A thread of the process blocked SIGSYS (sigprocmask, a signal
     * frame's mask, across exec): a SIGSYS sent to the process may then be
     * kept by such a thread, and a sigsuspend or pause that leaves it open
     * must be woken by a poke (shim_sigsys_suspends). */
    int32_t sigsys_blocks;
    /* Altstack regions of threads that ended (0: empty slot), kept for the
     * next threads: a new thread then makes no mmap, munmap or mprotect
     * and takes no page fault for its shim state (shim_map_altstack). */
    uintptr_t spare_altstacks[SHIM_SPARE_ALTSTACKS];
};
extern struct shim_process shim_proc SHIM_HIDDEN;

/* CLOCK_MONOTONIC in nanoseconds (a syscall: the vDSO is the program's). */
static inline uint64_t shim_now_ns(void)
{
    struct timespec ts;
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock of the waiting rule (ipc/pyshim_wait.h): the time-stamp
 * counter, or CLOCK_MONOTONIC in ns when the program made rdtsc fault. */
static inline uint64_t shim_ticks(void)
{
    if (__builtin_expect(shim_proc.tsc_faults, 0))
        return shim_now_ns();
    return pyshim_ticks();
}

/* Whether the supervisor is gone: its liveness lock has no owner. */
SHIM_HIDDEN int shim_supervisor_gone(void);
/* The run's first program may map its channel before the supervisor has
 * set the run up (ipc/PROTOCOL.md, "Late set-up"): waits until the
 * control block's magic is set.  Returns 1 when the channel is set up, 0
 * when it is not and will not be (the run is set up: a freed channel), -1
 * when no supervisor will set the run up (the segment's liveness lock has
 * no owner).  Contract: `ch` lies in the mapping of the segment `desc`
 * names; called from the constructor, before dispatch is armed (it
 * sleeps). */
SHIM_HIDDEN int shim_await_channel(struct pyshim_channel *ch,
                                   const struct pyshim_block_desc *desc);

/* ---- maps.c ------------------------------------------------------------ */
/* Maps the block named by `desc` (cached per process); NULL on failure. */
SHIM_HIDDEN void *shim_map_block(const struct pyshim_block_desc *desc);
/* In a new process: the lock guarding the cache may have been copied while
 * another thread of the parent held it. */
SHIM_HIDDEN void shim_maps_after_fork(void);
SHIM_HIDDEN int shim_parse_desc(const char *text, struct pyshim_block_desc *out);
/* The process is leaving its mount namespace (unshare, setns, a clone with
 * CLONE_NEWNS): the segments it mapped are opened and kept open across
 * exec, for its new images to map when /dev/shm no longer shows them. */
SHIM_HIDDEN void shim_maps_keep(void);
/* A descriptor of the segment `name` (NUL-terminated): opened by name
 * (*own = 1: the caller closes it) or kept (*own = 0); -1 if neither. */
SHIM_HIDDEN long shim_maps_open(const char *name, int *own);
/* "name=fd,name=fd" of the kept segments, for PYSHIM_FDS; its length. */
SHIM_HIDDEN size_t shim_maps_kept_text(char *out, size_t cap);
/* A new image: takes the kept segments named in PYSHIM_FDS.  Contract:
 * runs in the constructor, before any mapping. */
SHIM_HIDDEN void shim_maps_adopt(const char *text);

/* ---- thread.c ---------------------------------------------------------- */
/* Sets up the calling thread: alternate stack with its state, the channel,
 * dispatch armed.  Returns the thread's state (NULL if no memory) and puts 0
 * or -errno of arming in *status. */
SHIM_HIDDEN struct shim_thread *shim_thread_init(struct pyshim_channel *channel,
                                                const struct pyshim_block_desc *desc,
                                                long *status);
/* The same on an altstack region already mapped by shim_map_altstack. */
SHIM_HIDDEN struct shim_thread *shim_thread_init_at(struct shim_thread *area,
                                                   struct pyshim_channel *channel,
                                                   const struct pyshim_block_desc *desc,
                                                   long *status);
/* A SHIM_ALTSTACK_SIZE-aligned altstack region, page 0 zeroed: a spare
 * one, or a new mapping; NULL on failure. */
SHIM_HIDDEN struct shim_thread *shim_map_altstack(void);
/* Gives back a region from shim_map_altstack: kept as a spare, or unmapped.
 * Contract: no thread runs on it or uses its page 0 any more. */
SHIM_HIDDEN void shim_free_altstack(struct shim_thread *area);
/* Arms Syscall User Dispatch for the calling thread: 0 or -errno. */
SHIM_HIDDEN long shim_arm(void);
/* Ends the calling thread: frees its shim state and exits with `status`. */
SHIM_HIDDEN __attribute__((noreturn)) void shim_thread_exit(struct shim_thread *t, int status);
SHIM_HIDDEN long shim_install_sigsys_handler(void);

/* ---- channel.c --------------------------------------------------------- */
/* Posts the thread's event (already filled in) and waits for the reply,
 * which it takes (the channel is IDLE again; the reply slot stays valid
 * until the next conversation).  A conversation the supervisor may not hold
 * (Start, SyscallDone, AddThreadResult). */
SHIM_HIDDEN const struct pyshim_reply *shim_converse(struct shim_thread *t);
/* Publishes the filled event slot (state EVENT, a new `seq`) and rings.
 * Used alone for the one-way events: Exit, with signals blocked until the
 * thread is gone (after it the supervisor may free the channel), and an
 * AddThreadResult the supervisor did not ask to see answered (the next
 * shim_event_fill waits until the supervisor has read it). */
SHIM_HIDDEN void shim_post(struct shim_thread *t);
/* Marks the thread's channel in the ready set and rings the doorbell. */
SHIM_HIDDEN void shim_ring(struct shim_thread *t);
/* Waits, signals blocked, while the channel is in `state`; returns the new one. */
SHIM_HIDDEN uint32_t shim_wait_while(struct shim_thread *t, uint32_t state);
/* Takes the reply in the channel (REPLY -> IDLE): checks it answers the
 * current conversation; dies on Kill. */
SHIM_HIDDEN const struct pyshim_reply *shim_take_reply(struct shim_thread *t);
/* A conversation runs with every signal but SIGSYS blocked, so a signal
 * handler's syscalls cannot interleave with it.  `old` receives the mask to
 * hand back to shim_unblock. */
SHIM_HIDDEN void shim_block_signals(uint64_t *old);
SHIM_HIDDEN void shim_unblock(const uint64_t *old);
/* Sends Start (with the arming status) and installs the subscribed set. */
SHIM_HIDDEN void shim_start(struct shim_thread *t, long status);
/* Fills the calling thread's event slot, once the supervisor has read a
 * one-way event still there (dies if it answered with Kill).
 * Contract: signals are blocked (inside a conversation), so no handler on
 * this thread writes it too. */
SHIM_HIDDEN void shim_event_fill(struct shim_thread *t, uint32_t tag, long nr,
                                 const long args[6], long result, uint64_t ip);

/* ---- hold.c ------------------------------------------------------------ */
/* Asks the supervisor about syscall `nr` (a Syscall event from `ip`):
 * posts it and, if the supervisor holds it, waits with `program_mask`.
 * Returns the answer, or NULL when a program handler interrupted the hold
 * and the kernel's rule for `nr` says EINTR (a call the rule restarts is
 * asked again, flagged RESTARTED).  Contract: signals are blocked; `h` is
 * in the caller's frame on the shim altstack. */
SHIM_HIDDEN const struct pyshim_reply *shim_ask_held(struct shim_thread *t, long nr,
                                                     const long a[6], uint64_t ip,
                                                     const uint64_t *program_mask,
                                                     struct shim_hold *h);
/* At a trapped syscall, before anything uses the channel: settles the call
 * held now (withdraws it, or keeps the answer that won the race, for the
 * waiting frame to claim); when `nested` is 0 (the trap came from outside
 * the shim altstack, so no shim frame is alive), also drops what no frame
 * will claim.  Contract: signals are blocked; `t` is the calling thread's. */
SHIM_HIDDEN void shim_settle_holds(struct shim_thread *t, int nested);
/* Closes, on the supervisor's side, every settled answer no frame claimed
 * (before an exec: the frames die with the image).  Contract: as above. */
SHIM_HIDDEN void shim_drop_settled(struct shim_thread *t);
/* Hands the process's liveness watch over, if this thread has it (a
 * thread that leaves a held wait, or exits from a handler meanwhile). */
SHIM_HIDDEN void shim_unwatch(struct shim_thread *t);
/* In a new process: answers settled in the parent were the parent's; its
 * waiting frames, copied here, ask again on this process's channel. */
SHIM_HIDDEN void shim_settled_after_fork(struct shim_thread *t);
/* A program handler is returning into the context `frame_uc` restores: if
 * that context is a held wait's interrupted syscall, tells the waiting
 * frame whether the kernel restarts it (the handler had SA_RESTART) or
 * fails it with EINTR.  Contract: `frame_uc` is a signal frame's ucontext
 * (see shim_sigreturn); `t` the calling thread's state. */
SHIM_HIDDEN void shim_hold_note_signal(struct shim_thread *t, const char *frame_uc);
/* The same for the program's (virtual) SIGSYS handler, which the shim
 * calls itself: `uc` is the context the shim's handler interrupted, and
 * `restart` the program's SA_RESTART for SIGSYS. */
SHIM_HIDDEN void shim_hold_note_foreign(struct shim_thread *t, const ucontext_t *uc,
                                        int restart);
/* restart.c: whether a held call of `nr` interrupted by a handler is asked
 * again (1) or fails with EINTR (0), by the kernel's rule for that call
 * (signal(7)); `interrupted_by` as in struct shim_hold. */
SHIM_HIDDEN int shim_restarts(long nr, const long a[6], uint64_t interrupted_by);
/* restart.c: what an interrupted call leaves behind natively besides EINTR
 * (nanosleep's remaining time); `since` is when the call was first asked. */
SHIM_HIDDEN void shim_interrupted(long nr, const long a[6], const struct timespec *since);
/* signals.c: the mask a held call of `nr` waits with: the mask argument of
 * rt_sigsuspend, ppoll, pselect6, epoll_pwait(2) (without SIGSYS), else
 * `current`.  `copy` holds the copy made. */
SHIM_HIDDEN const uint64_t *shim_wait_mask(long nr, const long a[6], const uint64_t *current,
                                           uint64_t *copy);

/* ---- dispatch.c -------------------------------------------------------- */
/* The one syscall path, shared by every entry (SIGSYS today, exported libc
 * wrappers later): returns the syscall's result. */
SHIM_HIDDEN long shim_syscall(struct shim_thread *t, long nr, const long args[6],
                              ucontext_t *uc, uint64_t ip);
SHIM_HIDDEN void shim_on_sigsys(int sig, siginfo_t *info, void *ctx);

/* ---- create.c ---------------------------------------------------------- */
struct shim_clone_req {
    struct pyshim_channel *channel; /* the child's, already mapped */
    struct pyshim_block_desc desc;  /* and its descriptor */
    uint64_t flags, stack, ptid, ctid, tls;
};
/* Performs the clone the supervisor asked for.  Returns the kernel's result
 * in the parent; in a new process returns 0 with *in_child set, after the
 * child has joined the run; a new thread never returns (it resumes the
 * program at the trapped context). */
SHIM_HIDDEN long shim_do_clone(struct shim_thread *t, ucontext_t *uc,
                               const struct shim_clone_req *req, int *in_child);

/* ---- exec.c ------------------------------------------------------------ */
/* Runs execve/execveat with the environment a new image needs to join the
 * run (this thread's channel, the preload), whatever envp the program gave.
 * Returns only on failure, with the kernel's -errno. */
SHIM_HIDDEN long shim_execve(struct shim_thread *t, long nr, const long a[6]);

/* ---- signals.c --------------------------------------------------------- */
SHIM_HIDDEN long shim_rt_sigaction(const long a[6]);
SHIM_HIDDEN long shim_rt_sigprocmask(struct shim_thread *t, const long a[6], ucontext_t *uc);
SHIM_HIDDEN long shim_sigaltstack(struct shim_thread *t, const long a[6], const ucontext_t *uc);
SHIM_HIDDEN void shim_foreign_sigsys(siginfo_t *info, ucontext_t *uc);
/* What to do with a SIGSYS that is not a dispatched syscall: 1 if it was
 * the shim's own (a token of sigsysfd.c, or the parent-death signal, acted
 * on here: a rewritten site's call it cut short is rewound in `uc`, to be
 * issued again), 0 if it is the program's.  Contract: `info` and `uc` are
 * the signal's, in its handler. */
SHIM_HIDDEN int shim_sigsys_own(const siginfo_t *info, ucontext_t *uc);
/* Sets shim_proc.other_pidns and shim_proc.pidns_moved in a new image:
 * from `exec_flags`, the flags of its process's exec event, when `owner`
 * (the pid that posted that event) is set, else (the run's first program)
 * from /proc.  Contract: the control block is mapped; single-threaded. */
SHIM_HIDDEN void shim_check_pidns(int32_t owner, uint32_t exec_flags);
/* Whether the calling process is in another pid namespace than the
 * supervisor (reads /proc; writes nothing).  Contract: the control block is
 * mapped. */
SHIM_HIDDEN int shim_pidns_other(void);
/* Makes the calling process die with the supervisor even when its parent
 * is not the supervisor (see shim_foreign_sigsys).  Contract: the caller
 * notices a supervisor already gone (a Start follows, or it asks
 * shim_supervisor_gone). */
SHIM_HIDDEN void shim_follow_supervisor(void);
/* rt_sigreturn that trapped (the program's restorer): performs it. */
SHIM_HIDDEN __attribute__((noreturn)) void shim_sigreturn(struct shim_thread *t, ucontext_t *uc);
SHIM_HIDDEN const void *shim_mask_without_sigsys(const void *umask, uint64_t *copy);
SHIM_HIDDEN long shim_masked_wait(long nr, const long a[6]);
/* pselect6's sixth argument points at {const sigset_t *ss; size_t ss_len}. */
struct pselect_mask {
    const void *ss;
    size_t len;
};
/* For a wait with a mask of its own (ppoll, pselect6, epoll_pwait,
 * epoll_pwait2) that must run with SIGSYS blocked: `args` receives the
 * program's arguments with SIGSYS added to that mask (copied into *copy,
 * and *sel for pselect6).  Returns whether the program's own mask for the
 * wait blocks SIGSYS (the argument's bit, or the thread's virtual one when
 * there is none), or -1 when the mask cannot be read (the kernel judges).
 * Contract: `a` holds the program's raw arguments; `t` is the caller's. */
SHIM_HIDDEN int shim_mask_with_sigsys(const struct shim_thread *t, long nr, const long a[6],
                                      long args[6], uint64_t *copy, struct pselect_mask *sel);
/* The program's handlers go through pyshim_handler_entry from now on
 * (those installed already are re-installed so).  Contract: runs once per
 * image, with every signal blocked. */
SHIM_HIDDEN void shim_wrap_handlers(void);
/* In a new process: the lock guarding the handler table may have been
 * copied held. */
SHIM_HIDDEN void shim_handlers_after_fork(void);
/* The program's handlers, by signal, while they are wrapped; read by
 * pyshim_handler_entry. */
extern uintptr_t pyshim_handlers[65] SHIM_HIDDEN;

/* ---- sigsys.c ---------------------------------------------------------- */
/* A SIGSYS from outside arrived: if the program blocks SIGSYS (virtually),
 * it is kept pending and 1 returned.  Contract: `t` is the calling
 * thread's state; called from the SIGSYS handler. */
SHIM_HIDDEN int shim_sigsys_keep(struct shim_thread *t, const siginfo_t *info);
/* Whether a SIGSYS is pending for the thread or its process; for its
 * process. */
SHIM_HIDDEN int shim_sigsys_pending(const struct shim_thread *t);
SHIM_HIDDEN int shim_sigsys_process_pending(void);
/* Takes the pending SIGSYS (the thread's first) into *info: 1, or 0 if
 * none.  Contract: `t` is the calling thread's state. */
SHIM_HIDDEN int shim_sigsys_take(struct shim_thread *t, siginfo_t *info);
/* Acts on the program's disposition of SIGSYS for `info` (its handler runs
 * here, on the shim's stack, with SIGSYS virtually blocked).  Contract: as
 * shim_sigsys_keep; `uc` is the trapped context. */
SHIM_HIDDEN void shim_sigsys_deliver(struct shim_thread *t, siginfo_t *info, ucontext_t *uc);
/* The program may just have unblocked SIGSYS: delivers what is pending. */
SHIM_HIDDEN void shim_sigsys_unblocked(struct shim_thread *t, ucontext_t *uc);
SHIM_HIDDEN long shim_rt_sigpending(struct shim_thread *t, const long a[6]);
SHIM_HIDDEN long shim_rt_sigtimedwait(struct shim_thread *t, const long a[6], ucontext_t *uc);
/* In a new process: nothing is pending. */
SHIM_HIDDEN void shim_sigsys_after_fork(struct shim_thread *t);
/* Hands the program's SIGSYS mask bit and pending SIGSYS to the kernel for
 * an exec; takes them back if it failed.  Contract: signals are not
 * trapped until the exec (raw syscalls only in between). */
SHIM_HIDDEN void shim_sigsys_before_exec(struct shim_thread *t);
SHIM_HIDDEN void shim_sigsys_after_failed_exec(struct shim_thread *t);
/* A new image: SIGSYS blocked in the kernel's mask means the program
 * blocked it (before an exec); takes it and a pending one into the
 * virtual state and unblocks it.  Contract: before any call can trap. */
SHIM_HIDDEN void shim_sigsys_adopt(struct shim_thread *t);

/* ---- sigsysfd.c -------------------------------------------------------- */
/* signalfd and signalfd4, run natively; a mask holding SIGSYS turns the
 * process's SIGSYS signalfd mode on first (once).  Contract: `t` is the
 * calling thread's state; `a` the program's raw arguments. */
SHIM_HIDDEN long shim_signalfd(struct shim_thread *t, long nr, const long a[6]);
/* Whether a read, readv, preadv2, poll, select or epoll_wait must go
 * through shim_sigsys_fd_wait: the mode is on and the thread blocks SIGSYS. */
static inline int shim_sigsys_fd_waits(const struct shim_thread *t)
{
    return __builtin_expect(shim_proc.sigsys_fd, 0) && t->sigsys_blocked;
}
/* Runs one of those calls (or a masked wait whose own mask blocks SIGSYS,
 * `a` holding that mask with SIGSYS) with the real SIGSYS blocked and the
 * program's pending SIGSYS standing in the kernel, so that a signalfd
 * reads and polls it as natively.  Contract: called from execute() in the
 * SIGSYS handler; `uc` is the trapped context, `a` the arguments of `nr`. */
SHIM_HIDDEN long shim_sigsys_fd_wait(struct shim_thread *t, long nr, const long a[6],
                                     ucontext_t *uc);
/* A process-wide SIGSYS was kept pending: wakes the threads whose waits
 * might report it.  Contract: `t` is the calling thread's state. */
SHIM_HIDDEN void shim_sigsys_fd_poke(struct shim_thread *t);
/* Whether `info` is one of the shim's tokens (dropped wherever it arrives). */
SHIM_HIDDEN int shim_sigsys_fd_token(const siginfo_t *info);
/* A program handler returns into the frame `frame_uc`: if that frame is a
 * wait of shim_sigsys_fd_wait, keeps SIGSYS blocked in the kernel (the
 * frame's mask has it) with a token for a pending SIGSYS, and returns 1.
 * Contract: as shim_hold_note_signal. */
SHIM_HIDDEN int shim_sigsys_fd_resume(struct shim_thread *t, const char *frame_uc);
/* The thread left its waits without finishing them (a handler longjmp'd
 * out, or the thread exits from one): takes it out of the table.
 * Contract: every signal is blocked; `t` is the calling thread's. */
SHIM_HIDDEN void shim_sigsys_fd_abandon(struct shim_thread *t);
/* In a new process (fork): only the calling thread is left. */
SHIM_HIDDEN void shim_sigsys_fd_after_fork(struct shim_thread *t);
/* A new image whose predecessor was in the mode (PYSHIM_SIGSYSFD): its
 * inherited signalfds may hold SIGSYS.  Contract: runs in the constructor. */
SHIM_HIDDEN void shim_sigsys_fd_inherit(void);

/* rt_sigtimedwait for a `set` that holds SIGSYS, with the program's
 * arguments `a`: in a bracket with SIGSYS in the kernel's set, the mode
 * on, so that a SIGSYS another thread keeps for the process pokes it.
 * Contract: called from execute() in the SIGSYS handler, not in a vfork
 * child; `uc` is the trapped context. */
SHIM_HIDDEN long shim_sigsys_sigwait(struct shim_thread *t, uint64_t set, const long a[6],
                                     ucontext_t *uc);
/* rt_sigsuspend (pause: the current mask) with `mask`, which leaves
 * SIGSYS open, in a bracket: a SIGSYS sent to the thread, or to the
 * process and kept by another thread, ends it after the program's SIGSYS
 * handler ran with `mask`, as natively.  Contract: as shim_sigsys_sigwait. */
SHIM_HIDDEN long shim_sigsys_suspend(struct shim_thread *t, uint64_t mask, ucontext_t *uc);
/* Whether a sigsuspend or pause whose wait leaves SIGSYS open must go
 * through shim_sigsys_suspend: once a thread of the process blocked
 * SIGSYS (this one included), since that one may keep a SIGSYS sent to
 * the process that natively would end this wait. */
static inline int shim_sigsys_suspends(const struct shim_thread *t)
{
    return !t->vfork_child &&
           (t->sigsys_blocked || __atomic_load_n(&shim_proc.sigsys_blocks, __ATOMIC_RELAXED));
}
/* The calling thread's program mask now blocks SIGSYS. */
static inline void shim_sigsys_note_blocked(struct shim_thread *t)
{
    t->sigsys_blocked = 1;
    if (!__atomic_load_n(&shim_proc.sigsys_blocks, __ATOMIC_RELAXED))
        __atomic_store_n(&shim_proc.sigsys_blocks, 1, __ATOMIC_RELAXED);
}

/* Whether syscall `nr`, cut short (EINTR) by the shim's own signal where
 * nothing would have interrupted it natively, may be issued again with
 * `args`: a relative sleep's request becomes the time it has left, which
 * the kernel wrote to its `rem`; poll's and the epoll waits' milliseconds
 * what is left before `deadline_ns` (CLOCK_MONOTONIC; 0: unknown, then
 * not again); not close (its descriptor is gone either way), nor a call
 * whose relative timeout the kernel does not write back (it would wait
 * anew).  Contract: `args` are the call's, as it was issued. */
SHIM_HIDDEN int shim_resumable(long nr, long args[6], uint64_t deadline_ns);

/* ---- direct.c ---------------------------------------------------------- */
/* In uc_flags of the context the direct entry makes (no kernel frame, no
 * fpregs): a program handler must never be given it (sigsys.c). */
#define SHIM_UC_DIRECT (1ul << 63)

/* From now on rewritten sites send their calls to the site's syscall, and
 * no direct stub is written: a thread stopped trapping (PTRACE_TRACEME),
 * or the process installs a seccomp filter, which may forbid a call the
 * direct entry makes (sigaltstack) and the program never does.  Sticky,
 * across fork and exec (init.c looks for a filter). */
extern int32_t pyshim_direct_off SHIM_HIDDEN; /* read by asm/direct.S */
static inline void shim_direct_off(void)
{
    __atomic_store_n(&pyshim_direct_off, 1, __ATOMIC_RELEASE);
}

/* Whether someone subscribed `nr` (the Start reply's set). */
static inline int shim_subscribed(long nr)
{
    return nr >= 0 && nr < (long)PYSHIM_NR_MAX &&
           ((shim_proc.subscribed[nr >> 3] >> (nr & 7)) & 1);
}

/* ---- rewrite.c --------------------------------------------------------- */
/* Finds libc's code, unless $PYSHIM_NO_REWRITE says no.  Contract: runs in
 * the constructor, before dispatch is armed (it calls libc). */
SHIM_HIDDEN void shim_rewrite_init(void);
/* After a call ran (natively, emulated, or as the supervisor said):
 * rewrites the libc site that made it (`ip`: the address after its
 * syscall) to skip the trap from now on, when the call and the site allow
 * it (see rewrite.c): to run natively if nobody subscribed it, else to
 * enter the shim directly (direct.c). */
SHIM_HIDDEN void shim_rewrite(long nr, uint64_t ip);
/* In a forked child, before it runs program code. */
SHIM_HIDDEN void shim_rewrite_after_fork(void);
/* The SIGSYS signalfd mode turned on: sites already rewritten for calls
 * that must trap again from now on trap again. */
SHIM_HIDDEN void shim_rewrite_undo(void);
/* A thread of this process stopped trapping: no two-store rewrite from now
 * on (after the one in progress, if any), since it could run a site's
 * intermediate state natively.  Contract: signals may be open; waits for
 * the rewriters' lock with every signal blocked. */
SHIM_HIDDEN void shim_rewrite_untrapped(void);
/* The shim's own signal interrupted `uc` (signals.c): if that was a
 * rewritten site's stub cut short in its syscall (EINTR), the context goes
 * back to the stub's start, to issue the call again when
 * shim_resumable allows.  Contract: called from the SIGSYS handler with
 * its context. */
SHIM_HIDDEN void shim_rewrite_resume(ucontext_t *uc);
/* Sites rewritten with two stores (rewrite.c's table); 0 in most processes. */
extern uint32_t shim_straddles SHIM_HIDDEN;
/* The number a trap at `ip` with number `nr` stands for: the site's own
 * number when the trap comes from the intermediate state of a two-store
 * rewrite, `nr` otherwise.  Contract: async-signal-safe, no allocation. */
SHIM_HIDDEN long shim_straddle_nr(long nr, uint64_t ip);
static inline long shim_trapped_nr(long nr, uint64_t ip)
{
    if (__builtin_expect(!__atomic_load_n(&shim_straddles, __ATOMIC_ACQUIRE), 1))
        return nr;
    return shim_straddle_nr(nr, ip);
}

/* ---- thread.c ---------------------------------------------------------- */
/* prctl, run natively; notes whether the process can still read the
 * time-stamp counter (PR_SET_TSC), for shim_ticks. */
SHIM_HIDDEN long shim_prctl(const long a[6]);
/* ptrace, run natively; after PTRACE_TRACEME the thread stops trapping. */
SHIM_HIDDEN long shim_ptrace(const struct shim_thread *t, const long a[6]);
/* Reads, at start-up, whether rdtsc faults in this image (PR_GET_TSC). */
SHIM_HIDDEN void shim_check_tsc(void);

#endif /* PYSHIM_SHIM_H */
